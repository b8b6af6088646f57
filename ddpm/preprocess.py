"""Turn any picture of a digit into an MNIST digit (or of a garment into a Fashion-MNIST image).

MNIST (LeCun et al. 1998) was made by fitting each digit in a 20x20 box, keeping its aspect ratio,
with anti-aliasing (so grey levels appear), then centring its centre of mass in a 28x28 field.
Ink is light (255) on a dark (0) background. preprocess() does the same to an upload, a scan, a
photo or a sketch: open and check it, find the ink whatever the polarity, crop, fit, centre.
Fashion-MNIST (Xiao et al. 2017) trimmed each product photo to the item, fitted its longer side to 28 pixels,
centred it and negated it (light item on dark): preprocess(..., dataset="fashion-mnist") does that instead.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from .data import noun
from .demo.limits import MAX_UPLOAD_BYTES, MAX_UPLOAD_SIDE, MIN_UPLOAD_SIDE, DigitError, MissingInput
from .paper import without_lines
from .shade import border, unshaded
from .sheet import sheet_corners, upright, without_desk_strips
from .strays import without_strays

BOX, FIELD = 20, 28  # MNIST: fit in 20x20, centre in 28x28
MAX_WORK_SIDE = 1024  # big uploads are shrunk (area average) to this before anything else
WORK = 80  # intermediate size of the digit's longer side, where stroke width is measured
MNIST_STROKE = 2.2  # typical MNIST stroke width in pixels at the 20-pixel box size
# USE's, and some phones' AVIF (JPEG: a phone's MPO too) and netpbm's PGM (Pillow's "PPM"), which MNIST tutorials
# write: a plain header and raw pixels
READ_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "AVIF", "PPM")
USE = "use PNG, JPEG, BMP, GIF, TIFF or WebP"
HEIC_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx")  # an iPhone's photos, unless set to JPEG
EMPTY_IMAGE = "No {} found: nothing stands out from the background (the image is blank, faint or only shaded)."


def empty_sketch(dataset: str = "mnist") -> str:
    return f"The drawing is empty: draw {noun(dataset, 'item', article=True)} on the sketchpad first."


# ---------------------------------------------------------------- opening and checking

def open_image(src, dataset: str = "mnist") -> Image.Image:
    """A path, bytes, PIL image or array -> a loaded PIL image, or DigitError saying why not."""
    img = peek_image(src, dataset)
    try:
        img.load()
    except (OSError, SyntaxError, ValueError) as e:
        raise DigitError(f"The image could not be decoded (corrupt or truncated file): {e}") from None
    # (exif_transpose's copy is a single frame: noted in its info); a phone's MPO is one photo to its owner, its other
    # frames the camera's own (a preview, a second lens), which no one saves as a picture of its own
    several = getattr(img, "is_animated", False) and img.format != "MPO"
    img = ImageOps.exif_transpose(img)  # phone photos store their rotation in EXIF
    img.info["several frames"] = several
    return img


def peek_image(src, dataset: str = "mnist") -> Image.Image:
    """open_image's checks that need only the file's header (type, size): the image, not yet decoded."""
    if src is None:
        raise MissingInput(f"No image: upload a picture of {noun(dataset, 'item', article=True)} first.")
    if isinstance(src, Image.Image):
        img = src
    elif isinstance(src, np.ndarray):
        img = _from_array(src)
    else:
        data = _read_bytes(src)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img = Image.open(io.BytesIO(data), formats=READ_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise DigitError(f"The image is too large: at most {MAX_UPLOAD_SIDE} pixels a side.") from None
        except UnidentifiedImageError:
            raise DigitError(_not_read(data)) from None
        except (OSError, SyntaxError, ValueError) as e:  # a known format with a broken header
            raise DigitError(f"The image could not be read (corrupt file): {e}") from None
    _check_size(img, dataset)
    return img


def _not_read(data: bytes) -> str:
    """Why a file is not opened, in words. Only READ_FORMATS are: Pillow's other formats are little used and some are
    not for an upload of anyone's (EPS is decoded by running Ghostscript on it, which said it was 'corrupt' when
    Ghostscript was not installed)."""
    brand = data[8:12] if data[4:8] == b"ftyp" else b""
    if brand in HEIC_BRANDS or (brand in (b"mif1", b"msf1") and b"heic" in data[:64]):
        return (f"That is a HEIC photo (an iPhone's own format), which the app does not read: {USE} (export it as "
                "JPEG, or upload a screenshot of it).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:  # its header alone: nothing decoded, nothing run
                kind = img.format
    except Exception:  # noqa: BLE001 (not an image of any format Pillow knows, or a broken one)
        return f"That file is not an image ({USE})."
    return f"The app does not read {kind} files: {USE}."


def _read_bytes(src) -> bytes:
    if isinstance(src, (bytes, bytearray)):
        data = bytes(src)
    else:
        path = Path(os.fspath(src))
        if not path.is_file():
            raise DigitError(f"No such file: {path.name}")
        if path.stat().st_size > MAX_UPLOAD_BYTES:
            raise DigitError(f"The file is too large: at most {MAX_UPLOAD_BYTES // 2**20} MB.")
        data = path.read_bytes()
    if len(data) > MAX_UPLOAD_BYTES:
        raise DigitError(f"The file is too large: at most {MAX_UPLOAD_BYTES // 2**20} MB.")
    if not data:
        raise DigitError("The file is empty.")
    return data


def _from_array(a: np.ndarray) -> Image.Image:
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)) or a.size == 0:
        raise DigitError(f"Expected a greyscale, RGB or RGBA image array, got shape {a.shape}.")
    if a.dtype != np.uint8:  # floats in [0, 1] or [0, 255]
        a = np.nan_to_num(a.astype(np.float64))
        a = a * 255 if a.max(initial=0) <= 1 else a
        a = a.clip(0, 255).astype(np.uint8)
    return Image.fromarray(a[..., 0] if a.ndim == 3 and a.shape[2] == 1 else a)


def _check_size(img: Image.Image, dataset: str = "mnist") -> None:
    if max(img.size) > MAX_UPLOAD_SIDE:
        raise DigitError(f"The image is too large ({img.width}x{img.height}): at most {MAX_UPLOAD_SIDE} pixels a side.")
    if min(img.size) < 1:
        raise DigitError("The image has no pixels.")
    if max(img.size) < MIN_UPLOAD_SIDE:  # a 3x3 "+" would be blown up to a blurry blob and read as a digit
        raise DigitError(f"The image is too small ({img.width}x{img.height}) to hold {noun(dataset, 'item', True)}: at "
                         f"least {MIN_UPLOAD_SIDE} pixels on its longer side (the model's images are 28x28).")


def sketch_image(value, dataset: str = "mnist"):
    """The picture inside a gr.Sketchpad value ({'background', 'layers', 'composite'}), or MissingInput if empty."""
    if isinstance(value, dict):
        value = value.get("composite")
    if value is None:
        raise MissingInput(empty_sketch(dataset))
    return value


# ---------------------------------------------------------------- finding the ink

def ink_map(img: Image.Image, empty: DigitError | None = None, strokes: bool = True) -> np.ndarray:
    """-> float (H, W) in [0, 1], 1 = full ink, whatever the polarity, colour, lighting or transparency.

    Raises `empty` (default: DigitError(EMPTY_IMAGE)) when there is no ink. `strokes`: the ink is a pen's (a digit's),
    so a wide dark patch at the border is a shadow (ddpm.shade), not ink (a Fashion-MNIST item may be that patch)."""
    return _shrunk_ink_map(_shrink(img), img, empty, strokes)


def _shrunk_ink_map(work: Image.Image, img: Image.Image, empty: DigitError | None = None,
                    strokes: bool = True) -> np.ndarray:
    """ink_map(img), `img` already shrunk to `work` (_shrink's): preprocess shrinks an upload once, a sheet's too."""
    empty = empty or DigitError(EMPTY_IMAGE.format("digit"))
    colour = img if img.mode in ("RGB", "P", "CMYK", "YCbCr") else None  # (_shrink made `work` greyscale)
    grey = np.asarray(_flatten_alpha(work).convert("L"), dtype=np.float64) / 255
    paper = np.median(border(grey))
    plane = _paper_plane(grey)
    g = grey - plane  # uneven lighting of a photo, or a shaded background: subtract a plane fitted to the border
    k = min(max(4, g.size // 5000), g.size)  # the ink level: the k-th most extreme pixel (robust to a few hot pixels)
    flat = np.partition(g.ravel(), [k - 1, g.size - k])
    lo, hi = flat[k - 1], flat[-k]  # the k-th darkest and k-th brightest
    # dark ink (pen on paper) is inverted, so that ink is light as in MNIST. Light paper or a dark board says which
    # (a flash's hotspot can outshine pencil on light paper); on a mid-grey border (a shaded or colour background)
    # the ink is dark unless the light side stands out clearly more (a white label may outshine a pen a little)
    if dark := paper > 0.65 or (paper >= 0.35 and hi < 1.5 * -lo):
        g, hi = -g, -lo
    floor = _floor(g)
    gain = 1.0
    if strokes and dark and (shaded := unshaded(grey, plane, colour)) is not None:  # a shadow, not a plane: ddpm.shade
        g, gain = shaded
        floor, hi = _floor(g), np.partition(g.ravel(), g.size - k)[g.size - k]
    if hi - floor < 0.1:
        raise empty
    return np.clip((g - floor) / (hi - floor) * gain, 0, 1)


def _floor(g: np.ndarray) -> float:
    """The ink threshold: the border's median + 4 robust std of its paper texture and sensor noise."""
    b = border(g)
    noise = 1.4826 * np.median(np.abs(b - np.median(b)))
    return np.median(b) + 4 * noise


def _paper_plane(g: np.ndarray) -> np.ndarray:
    """Least-squares plane a + b y + c x through the border pixels that look like paper (not ink)."""
    h, w = g.shape
    ys = np.broadcast_to(np.arange(h, dtype=float)[:, None], (h, w))
    xs = np.broadcast_to(np.arange(w, dtype=float)[None, :], (h, w))
    vals, y, x = border(g), border(ys), border(xs)
    med = np.median(vals)
    keep = np.abs(vals - med) <= 3 * 1.4826 * np.median(np.abs(vals - med)) + 1e-6  # not ink, light or dark
    step = max(1, keep.sum() // 20000)  # a subsample is plenty for three numbers
    A = np.stack([np.ones(keep.sum()), y[keep], x[keep]], axis=1)[::step]
    coef, *_ = np.linalg.lstsq(A, vals[keep][::step], rcond=None)
    return coef[0] + coef[1] * np.arange(h)[:, None] + coef[2] * np.arange(w)[None, :]


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info


def _shrink(img: Image.Image) -> Image.Image:
    """Big uploads -> at most MAX_WORK_SIDE a side (area average), before any per-pixel work: a 20x20 digit
    needs no more, and it keeps big photos and big transparent PNGs fast. Greyscale, or RGBA if transparent
    (Pillow averages RGBA with premultiplied alpha, so compositing afterwards gives the same picture)."""
    if img.mode == "LAB":  # a CIELAB TIFF (some scanners): Pillow converts LAB to nothing, and its L is the greyscale
        img = img.getchannel("L")
    try:
        img = _eight_bit(img).convert("RGBA" if _has_alpha(img) else "L")
    except ValueError:  # a mode Pillow opens but cannot convert: said, not a traceback
        raise DigitError(f"The image's colour mode ({img.mode}) cannot be read: save it as an ordinary RGB or "
                         "greyscale PNG or JPEG.") from None
    if max(img.size) <= MAX_WORK_SIDE:
        return img
    scale = MAX_WORK_SIDE / max(img.size)
    return img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BOX)


def _eight_bit(img: Image.Image) -> Image.Image:
    """16- and 32-bit greyscale (scans, TIFFs) -> 8-bit, stretched from 0 (or a lower value) to the highest (a 12-bit
    scan in a 16-bit file uses a sixteenth of the range; ink_map measures the contrast that is there): Pillow's
    convert("L") clips them to 0..255 instead, and a 16-bit scan's paper and ink both become 255."""
    if not (img.mode.startswith("I") or img.mode == "F"):
        return img
    a = np.asarray(img)  # its own ints or float32; float64 a band of rows at a time (a whole 4096^2 copy: 134 MB)
    bands = [slice(r, r + 256) for r in range(0, a.shape[0], 256)]
    lo = hi = 0.0
    for b in bands:  # the ends, one band at a time (NaN counts as 0, inf as the largest float, as nan_to_num has it)
        band = np.nan_to_num(a[b].astype(np.float64))
        lo, hi = min(lo, float(band.min(initial=0))), max(hi, float(band.max(initial=0)))
    out = np.empty(a.shape, np.uint8)
    for b in bands:
        out[b] = ((np.nan_to_num(a[b].astype(np.float64)) - lo) / max(hi - lo, 1e-12) * 255).round()
    return Image.fromarray(out)


def _flatten_alpha(img: Image.Image) -> Image.Image:
    """Composite a transparent image onto a background that contrasts with its opaque pixels."""
    if not _has_alpha(img):
        return img
    rgba = np.asarray(img.convert("RGBA"), dtype=np.float64) / 255
    alpha = rgba[..., 3:]
    if alpha.min() > 0.99:
        return img.convert("RGB")
    grey = rgba[..., :3].mean(axis=2)
    opaque = grey[alpha[..., 0] > 0.5]
    paper = 1.0 if opaque.size == 0 or np.median(opaque) < 0.5 else 0.0  # black strokes -> white paper
    out = rgba[..., :3] * alpha + paper * (1 - alpha)
    return Image.fromarray((out * 255).round().astype(np.uint8))


# ---------------------------------------------------------------- fitting MNIST's frame

def _crop(ink: np.ndarray) -> np.ndarray:
    """The ink map cut to the ink's box (stray specks left out: _bounds); DigitError if there is no ink."""
    if ink.sum() == 0:
        raise DigitError(EMPTY_IMAGE.format("digit"))
    (r0, r1), (c0, c1) = _bounds(ink.sum(axis=1)), _bounds(ink.sum(axis=0))
    return ink[r0: r1 + 1, c0: c1 + 1]


def fit_mnist(ink: np.ndarray) -> np.ndarray:
    """Ink map (H, W) in [0, 1] -> uint8 (28, 28): crop, thicken thin strokes, fit in 20x20, centre by mass."""
    crop = _crop(ink)
    work = _thicken(_resize(crop, WORK / max(crop.shape)))
    patch = _resize(work, BOX / max(work.shape))
    patch = patch / max(patch.max(), 1e-6)
    return _centre_by_mass(patch)


def fit_fashion(ink: np.ndarray) -> np.ndarray:
    """Ink map (H, W) in [0, 1] -> uint8 (28, 28) as Fashion-MNIST's images were made: crop to the item, fit its
    longer side to 28 (area average), centre the box; no thickening (an item is no pen stroke)."""
    crop = _crop(ink)
    patch = _resize(crop, FIELD / max(crop.shape))
    patch = patch / max(patch.max(), 1e-6)
    h, w = patch.shape
    out = np.zeros((FIELD, FIELD))
    top, left = (FIELD - h + 1) // 2, (FIELD - w + 1) // 2  # an odd margin: its extra pixel above and left
    out[top: top + h, left: left + w] = patch
    return (out * 255).round().astype(np.uint8)


def _bounds(profile: np.ndarray, tail: float = 5e-4) -> tuple[int, int]:
    """First and last row (or column) inside the ink mass, ignoring a `tail` share at each end (stray specks)."""
    c = np.cumsum(profile) / profile.sum()
    return int(np.searchsorted(c, tail, side="right")), int(np.searchsorted(c, 1 - tail, side="left"))


def _resize(a: np.ndarray, scale: float) -> np.ndarray:
    h, w = a.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    method = Image.BOX if scale < 1 else Image.BILINEAR  # BOX = area average, the anti-aliasing of MNIST
    return np.asarray(Image.fromarray(a.astype(np.float32)).resize(size, method)).clip(0, 1)


def _thicken(work: np.ndarray) -> np.ndarray:
    """Dilate strokes much thinner than MNIST's (a fine pen on a big photo would fade to grey at 20x20)."""
    mask = work > 0.5
    area = mask.sum()
    inner = mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    edge = max(area - inner.sum(), 1)
    width = 2 * area / edge  # a stroke of width w and length L has area wL and about 2L edge pixels
    target = MNIST_STROKE * WORK / BOX
    if width >= 0.6 * target:
        return work
    size = min(2 * int(round((target - width) / 2)) + 1, 9)  # odd MaxFilter size
    img = Image.fromarray((work * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(size))
    return np.asarray(img, dtype=np.float64) / 255


def _centre_by_mass(patch: np.ndarray) -> np.ndarray:
    h, w = patch.shape
    ys, xs = np.mgrid[0:h, 0:w]
    mass = patch.sum()
    cy, cx = (ys * patch).sum() / mass, (xs * patch).sum() / mass
    # MNIST's centres of mass sit at (14, 14) on average (measured on the bundled sample)
    top, left = int(round(FIELD / 2 - cy)), int(round(FIELD / 2 - cx))
    out = np.zeros((FIELD, FIELD))
    # paste with clipping: a lopsided digit may push part of its box past the edge
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + h, FIELD), min(left + w, FIELD)
    out[y0:y1, x0:x1] = patch[y0 - top: y1 - top, x0 - left: x1 - left]
    return (out * 255).round().astype(np.uint8)


# ---------------------------------------------------------------- the whole pipeline

def preprocess(src, empty: DigitError | None = None, dataset: str = "mnist") -> np.ndarray:
    """Any image (path, bytes, PIL, array) -> uint8 (28, 28), MNIST-style (or as Fashion-MNIST's images for
    dataset="fashion-mnist"); DigitError (an InputError) for bad input."""
    fits = {"mnist": fit_mnist, "fashion-mnist": fit_fashion}
    if dataset not in fits:  # "MNIST" or "fashion" would take another's fit unsaid
        raise ValueError(f"dataset must be one of {tuple(fits)}, not {dataset!r}")
    empty = empty or DigitError(EMPTY_IMAGE.format(noun(dataset, "item")))
    img = open_image(src, dataset)
    try:
        work = _shrink(img)  # once: a sheet found in it is looked into on these pixels (_on_the_sheet)
        ink = _shrunk_ink_map(work, img, empty, strokes=dataset == "mnist")
    except DigitError as e:  # an animation or a multi-page scan: only its first frame is read, perhaps a blank one
        if not img.info.get("several frames"):
            raise
        raise type(e)(f"{e} The file holds several frames or pages, and only the first is read: save the one with "
                      f"the {noun(dataset, 'item')} as a picture of its own.") from None
    if dataset == "mnist":  # only a digit's ink is strokes (a Fashion-MNIST item may be solid, a bag, or striped)
        if (corners := sheet_corners(ink)) is not None:  # light paper on a darker desk, taken for the ink
            ink = _on_the_sheet(work, ink, corners)
        ink = without_desk_strips(ink)  # nor is the desk along an edge of a sheet that all but fills the photo
        ink = without_lines(ink)  # a ruled, squared or dotted page's printed lines are no digit's (ddpm.paper)
        ink = without_strays(ink)  # nor is a dot or a tick beside it, which would shrink it (ddpm.strays)
    return fits[dataset](ink)


def _on_the_sheet(work: Image.Image, ink: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """The ink on a sheet that ink_map took for the digit (ddpm.sheet): the inside of its `corners` looked at again,
    turned upright (its own border is the paper now). A blank sheet, or a sheet again, is the solid shape itself, as
    it was: a filled square uploaded to see what the bound makes of it (the README's) looks just like a blank sheet.
    `work`: the upload as ink_map saw it (_shrink's), so the corners are in its pixels."""
    try:
        inner = ink_map(upright(work, corners))
    except DigitError:
        return ink
    return ink if sheet_corners(inner) is not None else inner


def preprocess_sketch(value, dataset: str = "mnist") -> np.ndarray:
    """A gr.Sketchpad value -> uint8 (28, 28); MissingInput if nothing was drawn."""
    return preprocess(sketch_image(value, dataset), MissingInput(empty_sketch(dataset)), dataset)
