"""MNIST-style preprocessing of uploads and drawings (ddpm.preprocess)."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from ddpm.classifier import load_classifier, predict
from ddpm.data import load_sample
from ddpm.demo.limits import MAX_UPLOAD_BYTES, MAX_UPLOAD_SIDE, InputError, MissingInput
from ddpm.preprocess import peek_image, preprocess, preprocess_sketch

YS, XS = np.mgrid[0:28, 0:28]


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    a = a.astype(float)
    return (a * YS).sum() / a.sum(), (a * XS).sum() / a.sum()


def seven(size=(600, 800), ink=20, paper=235, width=24, mode="L") -> Image.Image:
    """A hand-drawn-looking 7, dark ink on light paper, off-centre."""
    img = Image.new(mode, size, paper if mode == "L" else (paper,) * 3)
    d = ImageDraw.Draw(img)
    fill = ink if mode == "L" else (ink, ink, ink + 40)
    d.line([(150, 200), (400, 200), (230, 650)], fill=fill, width=width)
    return img


def png_bytes(img: Image.Image, fmt="PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def test_real_mnist_digits_come_back_almost_unchanged():
    images, _ = load_sample()
    corr = [np.corrcoef(im.ravel().astype(float), preprocess(im).ravel().astype(float))[0, 1] for im in images[:100]]
    assert np.mean(corr) > 0.95


def test_for_fashion_mnist_an_item_fills_the_frame_as_its_images_do():
    """dataset="fashion-mnist" (Xiao et al.'s recipe): the item's longer side fitted to 28, its box centred, light on
    dark, no thickening; its own test images come back almost unchanged (MNIST's 20x20 box by mass would not)."""
    images, _ = load_sample("fashion-mnist")
    corr = [np.corrcoef(im.ravel().astype(float), preprocess(im, dataset="fashion-mnist").ravel().astype(float))[0, 1]
            for im in images[:100]]
    assert np.median(corr) > 0.99 and np.mean(corr) > 0.95
    photo = np.full((400, 600), 240, np.uint8)
    photo[150:250, 150:450] = 40  # a dark item three times as wide as tall on white: a product photo
    out = preprocess(Image.fromarray(photo), dataset="fashion-mnist")
    rows, cols = np.nonzero(out > 128)
    assert (cols.min(), cols.max()) == (0, 27) and (rows.min(), rows.max()) == (10, 18) and out[0, 0] == 0
    assert np.ptp(np.nonzero(preprocess(Image.fromarray(photo)) > 128)[1]) + 1 <= 21  # as a digit: the 20x20 box
    with pytest.raises(ValueError, match=r"dataset must be one of \('mnist', 'fashion-mnist'\), not 'MNIST'"):
        preprocess(Image.fromarray(photo), dataset="MNIST")  # not Fashion-MNIST's fit, unsaid


def test_output_is_mnist_shaped_centred_and_fitted():
    out = preprocess(seven())
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert out.max() == 255 and out[0].max() == 0 and out[:, 0].max() == 0  # light ink, dark border
    cy, cx = centre_of_mass(out)
    assert abs(cy - 14) < 1 and abs(cx - 14) < 1
    rows, cols = np.nonzero(out > 25)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 <= 21  # the 20x20 box (+1 for anti-aliased edges)


def test_polarity_colour_and_jpeg_do_not_matter():
    dark_on_light = preprocess(seven())
    light_on_dark = preprocess(seven(ink=235, paper=20))
    colour_jpeg = preprocess(png_bytes(seven(mode="RGB"), "JPEG"))
    for other in (light_on_dark, colour_jpeg):
        assert np.corrcoef(dark_on_light.ravel(), other.ravel())[0, 1] > 0.9


def test_ink_on_a_shaded_colour_background_either_way():
    """A background shading from light to dark (a mid-grey border median) leaves the ink's polarity to which side
    stands out from the paper: a pen stroke on a colour gradient is found, dark or light; the bare gradient is not."""
    ys, xs = np.mgrid[0:600, 0:800] / 600
    gradient = np.stack([xs / xs.max() * 255, ys * 255, (1 - xs / xs.max()) * 255], -1).astype(np.uint8)
    digits = []
    for ink in ((0, 0, 0), (255, 255, 255)):
        img = Image.fromarray(gradient)
        ImageDraw.Draw(img).line([(150, 200), (400, 200), (230, 650)], fill=ink, width=24)  # seven()'s strokes
        digits.append(preprocess(img))
    x = torch.tensor(np.stack(digits))[:, None].float() / 127.5 - 1  # (2, 1, 28, 28) in [-1, 1]
    assert predict(load_classifier(), x).argmax(1).tolist() == [7, 7]  # fading where the paper nears the ink
    with pytest.raises(InputError, match="No digit found: nothing stands out"):
        preprocess(Image.fromarray(gradient))


def test_a_bright_spot_does_not_flip_dark_ink():
    """Pencil under a flash (paper 150 at the edge, 240 in the middle) and a pen on grey paper beside a white label:
    the bright spot stands out from the paper more than the ink does, yet the ink is read, not the spot."""
    ys, xs = np.mgrid[0:800, 0:600]  # seven()'s 600x800 picture
    flash = 240 - 90 * np.clip(np.hypot((ys - 400) / 800, (xs - 300) / 600) / 0.7071, 0, 1)
    label = np.full((800, 600), 140.0)
    label[20:160, 440:580] = 250
    ink = np.asarray(seven(ink=255, paper=0), dtype=np.float64) / 255  # seven()'s strokes as a mask
    pictures = [flash * (1 - 0.45 * ink), label * (1 - ink) + 60 * ink]
    x = torch.tensor(np.stack([preprocess(Image.fromarray(p.astype(np.uint8))) for p in pictures]))
    assert predict(load_classifier(), x[:, None].float() / 127.5 - 1).argmax(1).tolist() == [7, 7]


def test_16_and_32_bit_scans_read_as_their_8_bit_picture():
    """Pillow's convert("L") clips 16-bit values to 255, which made a 16-bit scan's paper and ink both white."""
    grey = np.asarray(seven(), dtype=np.float64) / 255  # paper 235, ink 20
    ref = preprocess(seven())
    for img in (Image.fromarray((grey * 65535).round().astype(np.uint16)),  # a 16-bit PNG scan (mode I;16)
                Image.fromarray((grey * 4095).round().astype(np.uint16)),  # 12 bits in a 16-bit file
                Image.fromarray((grey * 255000).round().astype(np.int32)),  # 32-bit integers (mode I)
                Image.fromarray(grey.astype(np.float32))):  # floats in [0, 1] (mode F, a TIFF)
        out = preprocess(png_bytes(img, "PNG" if img.mode == "I;16" else "TIFF"))
        assert np.abs(out.astype(int) - ref.astype(int)).max() <= 2, img.mode
    digit = load_sample()[0][0]  # anti-aliased: every grey level between ink and paper
    signed = Image.fromarray((digit / 127.5 - 1).astype(np.float32))  # the model's [-1, 1]: from the lowest value
    assert np.abs(preprocess(png_bytes(signed, "TIFF")).astype(int) - preprocess(digit)).max() <= 2
    with pytest.raises(InputError, match="No digit found"):  # a blank 16-bit scan is still blank
        preprocess(png_bytes(Image.fromarray(np.full((60, 60), 30000, np.uint16))))


def test_a_lab_scan_reads_as_its_lightness_and_a_mode_pillow_cannot_convert_is_said():
    """A CIELAB TIFF (some scanners write one) raised Pillow's ValueError, a traceback: LAB converts to nothing."""
    lab = png_bytes(seven(mode="RGB").convert("LAB"), "TIFF")
    assert np.abs(preprocess(lab).astype(int) - preprocess(seven()).astype(int)).max() <= 8
    with pytest.raises(InputError, match=r"colour mode \(La\) cannot be read"):
        preprocess(Image.new("La", (60, 60)))


def test_a_big_16_bit_scan_is_stretched_a_band_at_a_time():
    """A 4096 x 4096 16-bit upload (within the limits) was made float64 whole, over 300 MB at its peak for one
    request; a band of rows at a time gives the same 8 bits at a fifth of that."""
    import tracemalloc

    from ddpm.preprocess import _eight_bit

    a = np.random.default_rng(0).integers(0, 4096, (4096, 4096), dtype=np.uint16)
    a[0, 0], a[-1, -1] = 4095, 0  # the ends of the stretch, in the first band and the last: 0..4095 -> 0..255
    tracemalloc.start()
    got = np.asarray(_eight_bit(Image.fromarray(a)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100 * 2 ** 20 and np.array_equal(got, (a / 4095 * 255).round().astype(np.uint8))


def test_noisy_photo_background_is_cleaned():
    rng = np.random.default_rng(0)
    photo = np.asarray(seven(), dtype=float) + rng.normal(0, 10, (800, 600))
    photo += np.linspace(-20, 20, 600)[None]  # uneven light
    out = preprocess(photo.clip(0, 255).astype(np.uint8))
    assert np.corrcoef(out.ravel(), preprocess(seven()).ravel())[0, 1] > 0.9


def test_thin_strokes_are_thickened_to_mnist_weight():
    thin = preprocess(seven(size=(1200, 1600), width=2))
    assert thin.max() == 255
    assert (thin > 128).sum() > 30  # a visible stroke, not a faint grey hairline
    for width in (16, 24):  # a pen about half MNIST's stroke: thickened too (unthickened, about 30 pixels)
        assert (preprocess(seven(width=width)) > 128).sum() > 50, width  # the sample's sevens: 86 on average


def test_phone_photos_come_out_upright():
    """A phone stores a photo as its sensor saw it and says in EXIF how to turn it (Orientation 6: 90 degrees
    clockwise): read sideways, a 7 is no 7."""
    upright = seven()
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as the sensor saw it
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    buf = io.BytesIO()
    stored.save(buf, format="JPEG", exif=exif.tobytes())
    ref = preprocess(upright)
    corr = lambda out: np.corrcoef(out.ravel().astype(float), ref.ravel().astype(float))[0, 1]  # noqa: E731
    assert corr(preprocess(buf.getvalue())) > 0.95 and corr(preprocess(stored)) < 0.5


def test_a_16_bit_scan_is_stretched_by_its_ends_in_every_band_and_keeps_its_last_row():
    """The stretch's ends come from all the bands (here the highest is in the first band of 256 rows) and every row
    is written, the last band's one row too."""
    from ddpm.preprocess import _eight_bit

    a = np.full((257, 40), 2000, np.uint16)
    a[10, 5], a[256] = 4000, 1000  # the top end in band 1; band 2 is the last row alone
    assert np.array_equal(np.asarray(_eight_bit(Image.fromarray(a))), (a / 4000 * 255).round().astype(np.uint8))


def test_big_pictures_are_shrunk_by_area_average():
    """Each output pixel is the mean of the pixels it covers (BOX), as MNIST's anti-aliasing; a bilinear
    filter weighs them unevenly."""
    import ddpm.preprocess as pp

    a = np.random.default_rng(0).random((8, 12))
    assert np.abs(pp._resize(a, 0.25) - a.reshape(2, 4, 3, 4).mean(axis=(1, 3))).max() < 1e-6


def test_big_uploads_are_shrunk_by_area_average_too():
    """Past MAX_WORK_SIDE an upload is shrunk before anything else, also by area average: each pixel the mean of the
    block it covers (a nearest-pixel shrink would keep one pixel in four and break thin strokes)."""
    import ddpm.preprocess as pp

    a = np.random.default_rng(0).integers(0, 256, (2 * pp.MAX_WORK_SIDE,) * 2).astype(np.uint8)
    small = np.asarray(pp._shrink(Image.fromarray(a)), dtype=float)
    blocks = a.reshape(pp.MAX_WORK_SIDE, 2, pp.MAX_WORK_SIDE, 2).mean(axis=(1, 3))
    assert small.shape == blocks.shape and np.abs(small - blocks).max() <= 1


@pytest.mark.parametrize("ink", [(0, 0, 0, 255), (255, 255, 255, 255)], ids=["black", "white"])
def test_sketch_with_transparent_background(ink):
    """Strokes on a transparent canvas, black or white (a dark-theme sketchpad): the paper put behind them contrasts."""
    sk = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(sk).ellipse([80, 60, 200, 220], outline=ink, width=18)
    out = preprocess_sketch({"background": None, "layers": [], "composite": np.asarray(sk)})
    assert out.shape == (28, 28) and out.max() == 255
    assert out[14, 14] < 60  # a zero: hollow in the middle


def test_a_few_specks_on_blank_paper_are_no_digit():
    """The ink level is the k-th most extreme pixel, not the most extreme: three dust specks are no digit."""
    img = Image.new("L", (280, 280), 200)
    for xy in ((40, 50), (150, 160), (230, 90)):
        img.putpixel(xy, 0)
    with pytest.raises(InputError, match="No digit found"):
        preprocess(img)


def test_a_float_array_with_a_nan_reads_as_if_that_pixel_were_0():
    a = np.asarray(seven(size=(280, 280), width=16), dtype=np.float64) / 255  # floats in [0, 1]
    a[5, 5] = 0.0
    with_nan = a.copy()
    with_nan[5, 5] = np.nan
    assert np.array_equal(preprocess(with_nan), preprocess(a))


def test_big_transparent_upload_is_shrunk_before_per_pixel_work(monkeypatch):
    """A 4096 px transparent PNG of a few KB once took 10 s and 2.5 GB per slider move: the alpha was composited
    in float64 at full size. It is shrunk first now, and gives the digit the same picture on white paper gives."""
    import ddpm.preprocess as pp
    sizes = []
    flatten = pp._flatten_alpha
    monkeypatch.setattr(pp, "_flatten_alpha", lambda img: sizes.append(img.size) or flatten(img))
    big = Image.new("RGBA", (2048, 1600), (0, 0, 0, 0))
    ImageDraw.Draw(big).line([(600, 400), (1300, 400), (800, 1300)], fill=(0, 0, 0, 255), width=60)
    out = preprocess(png_bytes(big))
    assert max(max(s) for s in sizes) <= pp.MAX_WORK_SIDE
    on_paper = Image.new("L", big.size, 255)
    on_paper.paste(big.convert("L"), mask=big.getchannel("A"))
    assert np.abs(out.astype(int) - preprocess(png_bytes(on_paper))).max() <= 2


def test_sketch_on_white_canvas_and_path_input(tmp_path):
    p = tmp_path / "sketch.png"
    seven(size=(280, 280), width=16).save(p)
    assert preprocess_sketch({"composite": str(p)}).max() == 255
    assert preprocess(p).max() == 255


@pytest.mark.parametrize("value", [None, {"background": None, "layers": [], "composite": None},
                                   {"composite": np.full((280, 280, 4), 255, np.uint8)}])
def test_empty_sketch_is_missing_input(value):
    with pytest.raises(MissingInput, match="empty"):
        preprocess_sketch(value)


def test_blank_image_is_rejected():
    with pytest.raises(InputError, match="No digit found"):
        preprocess(Image.new("L", (100, 100), 200))
    with pytest.raises(InputError, match="No digit found"):  # 3 grey levels of contrast: a smudge, not ink
        preprocess(seven(ink=232, paper=235))


def test_not_an_image(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("this is a text file with a .png name")
    with pytest.raises(InputError, match="not an image"):
        preprocess(str(p))


def test_only_the_named_formats_are_opened_and_an_iphones_heic_photo_is_said_as_such(monkeypatch):
    """EPS was decoded by running Ghostscript on the upload (without it: 'corrupt'); a HEIC photo was 'not an image'."""
    from PIL import EpsImagePlugin

    def no_ghostscript(*args, **kwargs):
        raise AssertionError("Ghostscript was run on an upload")
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", no_ghostscript)
    with pytest.raises(InputError, match="The app does not read EPS files: use PNG, JPEG"):
        preprocess(png_bytes(seven(), "EPS"))
    with pytest.raises(InputError, match="does not read PCX files"):
        preprocess(png_bytes(seven(), "PCX"))
    assert np.array_equal(preprocess(png_bytes(seven(), "PPM")), preprocess(seven()))  # a PGM: netpbm's, read
    heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(100)  # an iPhone photo's first bytes
    with pytest.raises(InputError, match="HEIC photo .*export it as JPEG"):
        preprocess(heic)
    phone = io.BytesIO()  # a phone camera's JPEG with a second picture (MPO) is a JPEG still
    seven(mode="RGB").save(phone, "MPO", save_all=True, append_images=[Image.new("RGB", (60, 80))])
    assert np.abs(preprocess(phone.getvalue()).astype(int) - preprocess(seven())).max() <= 40


def test_an_animation_or_a_multi_page_scan_whose_first_frame_is_blank_says_only_that_one_is_read():
    several = "several frames or pages, and only the first is read"  # a phone's MPO is one photo to its owner: not said
    for fmt, said in (("GIF", several), ("TIFF", several), ("MPO", r"only shaded\)\.$")):
        frames = io.BytesIO()
        Image.new("L", (60, 80), 235).save(frames, fmt, save_all=True, append_images=[seven().resize((60, 80))])
        with pytest.raises(InputError, match=f"No digit found.*{said}"):
            preprocess(frames.getvalue())


def test_corrupt_image(tmp_path):
    data = png_bytes(seven())
    p = tmp_path / "cut.png"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="corrupt"):
        preprocess(p)


def test_known_format_with_a_broken_header():
    with pytest.raises(InputError, match="corrupt"):  # PIL raises a plain OSError for this one
        preprocess(b"BM" + bytes(100))


@pytest.mark.parametrize("size", [(1, 1), (3, 1), (3, 3), (7, 7)])
def test_images_too_small_to_hold_a_digit(size):
    a = np.zeros(size[::-1], np.uint8)
    a[size[1] // 2, :] = a[:, size[0] // 2] = 255  # a "+": ink enough, pixels too few to draw a digit's strokes
    with pytest.raises(InputError, match=f"too small \\({size[0]}x{size[1]}\\) to hold a digit: at least 8 pixels"):
        preprocess(Image.fromarray(a))
    if size == (3, 3):  # the same "+" in 8 pixels a side is read as a digit
        assert preprocess(Image.fromarray(np.kron(a, np.ones((3, 3), np.uint8))[:8, :8])).shape == (28, 28)


@pytest.mark.parametrize("dataset, noun", [("mnist", "a digit"), ("fashion-mnist", "an item")])
def test_a_missing_or_tiny_image_is_asked_for_as_the_datasets_own(dataset, noun):
    with pytest.raises(MissingInput, match=f"^No image: upload a picture of {noun} first"):
        preprocess(None, dataset=dataset)
    with pytest.raises(InputError, match=f"too small \\(5x5\\) to hold {noun}: at least 8 pixels"):
        preprocess(np.full((5, 5), 255, np.uint8), dataset=dataset)


def test_a_narrow_crop_of_a_one_is_a_digit():
    """Only the longer side must reach 8 pixels: a "1" cropped to its ink is often 4 to 7 pixels wide."""
    one = np.zeros((28, 6), np.uint8)
    one[4:24, 2:4] = 255
    assert preprocess(Image.fromarray(one)).max() > 0


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        preprocess(tmp_path / "empty.png")
    with pytest.raises(InputError, match="No such file"):
        preprocess(tmp_path / "nope.png")
    with pytest.raises(MissingInput):
        preprocess(None)


def test_huge_file_and_huge_image(tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(png_bytes(seven(size=(200, 200))) + b"\0" * MAX_UPLOAD_BYTES)
    with pytest.raises(InputError, match="too large"):
        preprocess(big)
    wide = tmp_path / "wide.png"
    Image.new("L", (5000, 40), 255).save(wide)  # small file, too many pixels
    with pytest.raises(InputError, match="too large"):
        preprocess(wide)
    assert peek_image(png_bytes(Image.new("L", (MAX_UPLOAD_SIDE, 8)))).size == (MAX_UPLOAD_SIDE, 8)  # the limit itself
    with pytest.raises(InputError, match=f"too large \\({MAX_UPLOAD_SIDE + 1}x8\\)"):
        peek_image(png_bytes(Image.new("L", (MAX_UPLOAD_SIDE + 1, 8))))


def test_decompression_bomb_is_refused():
    bomb = png_bytes(Image.new("1", (20000, 20000)))  # 400 M pixels in a few kB
    with pytest.raises(InputError, match="too large"):
        preprocess(bomb)


def test_bad_arrays():
    with pytest.raises(InputError, match="shape"):
        preprocess(np.zeros((4, 4, 7), np.uint8))
    float_digit = load_sample()[0][0].astype(np.float32) / 255  # floats in [0, 1] are fine
    assert preprocess(float_digit).max() == 255
