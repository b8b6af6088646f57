"""A model folder is config.json + model.safetensors (+ README.md, the model card, and the files FOLDER_FILES
names). Save one, and load it from a local folder or a Hugging Face Hub repo id. What the folder records about its
weights is read by ddpm.facts; ddpm.push publishes it; autoguidance.load_guide loads its guide/."""
from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
import warnings
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from .checkpoint import CKPT_NAME
from .config import RUN_CONFIG_NAME, ModelConfig, TrainConfig
from .safeio import atomic_write_bytes, encode_tensors, load_tensors, read_meta
from .unet import UNet

CONFIG_NAME, WEIGHTS_NAME, CARD_NAME = "config.json", "model.safetensors", "README.md"
TRAINING_NAME = "training.json"  # how the weights were made: their facts and the recipe (card.write_model_card)
EVAL_NAME, GRID_NAME, LOSS_NAME = "eval.json", "samples.png", "loss.csv"  # scores, the card's grid, the loss log
HUB_TIMEOUT_ENV, HUB_TIMEOUT_S = "DDPM_HUB_TIMEOUT", 30.0  # seconds to wait for the Hub before the cache
GUIDE_SUBFOLDER = "guide"  # an optional second, smaller model for autoguidance (ddpm/autoguidance.py)
# what a model folder publishes: the model, its card, how it was trained and how good it is, and its guide
FOLDER_FILES = [CONFIG_NAME, WEIGHTS_NAME, CARD_NAME, TRAINING_NAME, EVAL_NAME, GRID_NAME, LOSS_NAME]
FOLDER_FILES += [f"{GUIDE_SUBFOLDER}/{name}" for name in FOLDER_FILES]
SIZE_KEY = "image_size"  # the image size the weights were saved at, in model.safetensors' meta
SET_ASIDE = (EVAL_NAME, GRID_NAME)  # what a folder says of its weights' quality: a new run sets them aside
# all that a run writes about its weights, beside them: save_pretrained sets them aside for other weights
RECORDS = (CARD_NAME, TRAINING_NAME, EVAL_NAME, GRID_NAME, LOSS_NAME, RUN_CONFIG_NAME, CKPT_NAME)


def set_aside_path(path: Path) -> Path:
    """Where to keep a file of the weights being replaced: NAME.previous.EXT, or NAME.previous.2.EXT, .3, ... where
    that is taken (an older generation is never overwritten)."""
    n, kept = 1, path.with_name(f"{path.stem}.previous{path.suffix}")
    while kept.exists():
        n += 1
        kept = path.with_name(f"{path.stem}.previous.{n}{path.suffix}")
    return kept


DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


class ModelLoadError(RuntimeError):
    """A model folder or repo could not be read; the message says why."""


def save_pretrained(model: UNet, folder: str | Path, meta: dict | None = None, same_run: bool = False) -> Path:
    """config.json + model.safetensors (with `meta`, the training facts, in its header): the folder
    load_pretrained rebuilds the model from. Into a folder that holds other weights (or none) beside the RECORDS
    of a run (its card, recipe, scores, grid, loss log, config and checkpoint), those are renamed NAME.previous.EXT,
    and said: they describe weights no longer there, which the app, the card and a push would show for these.
    same_run: the caller is the run that wrote them (train(), saving its own weights)."""
    folder = Path(folder)
    model = unwrapped(model)
    # first: a meta JSON cannot hold (a numpy float) is refused
    weights = encode_tensors(model.state_dict(), {**(meta or {}), SIZE_KEY: model.config.image_size})
    folder.mkdir(parents=True, exist_ok=True)  # before either file is replaced, not between the two
    stale = [] if same_run else _stale_records(folder, model)  # asked before the old weights go
    model.config.save(folder / CONFIG_NAME)
    atomic_write_bytes(folder / WEIGHTS_NAME, weights)
    for path in stale:  # once the new weights are there (a failed write leaves the records beside their own)
        path.replace(kept := set_aside_path(path))
        warnings.warn(f"{path.name} described the weights these replace in {folder}: kept as {kept.name}",
                      stacklevel=2)
    return folder


def _stale_records(folder: Path, model: torch.nn.Module) -> list[Path]:
    """The RECORDS in `folder`, unless its model.safetensors holds `model`'s tensors already (or cannot be read)."""
    records = [folder / name for name in RECORDS if (folder / name).is_file()]
    if not records:  # a folder of weights alone (or a new one): nothing to compare
        return []
    try:
        if file_digest(folder / WEIGHTS_NAME) == weights_digest(model):
            return []
    except FileNotFoundError:  # no weights there: the records describe none of these
        pass
    except (OSError, SafetensorError):  # cut short (a full disk): they may be these, so the records stay
        return []
    return records


def unwrapped(model):
    """The U-Net inside torch.compile's wrapper (._orig_mod) or an AveragedModel / DataParallel (.module), whose
    own state_dict's keys carry the wrapper's prefix, which load_pretrained would not find."""
    inner = getattr(model, "_orig_mod", getattr(model, "module", None))
    return unwrapped(inner) if isinstance(inner, torch.nn.Module) and not isinstance(model, UNet) else model


def repo_id_problem(repo_id: str) -> str | None:
    """Why `repo_id` cannot be pushed to and loaded back as owner/name (None if it can): the model card and
    load_pretrained name it so, though the Hub alone would take a bare name as the pusher's own."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        return f"{repo_id!r} is not owner/name: give your Hub user (or organisation) and a name, such as you/ddpm-mnist"
    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        return f"{repo_id!r} is not a Hub repo id: {e}"
    return None


def is_repo_id(name_or_path: str | Path) -> bool:
    """Whether a --weights value names a Hub repo ("owner/name") rather than a local path."""
    name = str(name_or_path)
    return not Path(name).exists() and not name.startswith((".", "/")) and name.count("/") == 1


def folder_problem(folder: str | Path) -> str | None:
    """Why a local path is not a model folder (None if it holds both files), in words for a command line."""
    folder = Path(folder)
    if not folder.exists():
        return f"{folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is a file, not a model folder"
    missing = [name for name in (CONFIG_NAME, WEIGHTS_NAME) if not (folder / name).is_file()]
    return f"{folder} is not a model folder (no {' or '.join(missing)})" if missing else None


def resolve_folder(name_or_path: str | Path) -> Path:
    """A local model folder as is; a Hub repo id downloaded (or found in the cache) to a folder."""
    if not str(name_or_path).strip():  # Path("") is ".", the working directory: not what was asked
        raise ModelLoadError("no model named: give a model folder or a Hub repo id, not an empty name")
    p = Path(name_or_path)
    if p.is_dir():
        return p
    name = str(name_or_path)
    if not is_repo_id(name):
        why = "it is a file" if p.exists() else "it does not exist"  # (a bare name, a/b/c, ./x)
        raise ModelLoadError(f"{name!r} is not a model folder ({why}) nor a Hub repo id: give a folder holding "
                             f"{CONFIG_NAME} and {WEIGHTS_NAME}, or owner/name such as you/ddpm-mnist")
    if why := repo_id_problem(name):
        reason = why.removeprefix(f"{name!r} ").split(": ", 1)[-1]  # after "is not ...: ", not a ": " in the id
        raise ModelLoadError(f"{name!r} is no folder here, nor a valid Hub repo id ({reason})")
    parent = Path(name).parent
    if parent.is_dir():  # runs/mnsit: a mistyped folder in runs/, not a repo of a Hub user called "runs"
        held = sorted(f.name for f in parent.iterdir() if f.is_dir() and not f.name.startswith("."))
        raise ModelLoadError(f"there is no folder {name} ({parent}/ holds {', '.join(held[:12]) or 'no folders'}"
                             f"{', ...' if len(held) > 12 else ''}); to load the Hub repo {name}, run from a folder "
                             f"that has no {parent}/")
    if name not in _DOWNLOADED:  # one look-up a process: a command may load a repo, then its guide and card
        try:
            _DOWNLOADED[name] = _download(name)
        except ModelLoadError:
            raise
        except Exception as e:
            raise ModelLoadError(f"{name!r} is no folder here, and as a Hub repo id it could not be downloaded "
                                 f"from the Hugging Face Hub: {_hub_problem(e)}") from None
    return _DOWNLOADED[name]


def _hub_problem(e: Exception) -> str:
    """huggingface_hub's error in one line, in the words of what to do about it."""
    kind = type(e).__name__
    if kind == "LocalEntryNotFoundError":  # what it raises offline (or with HF_HUB_OFFLINE=1) and nothing cached
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):  # either keeps huggingface_hub offline
            if os.environ.get(name, "").upper() in ("1", "ON", "YES", "TRUE"):  # its words for true
                return f"{name} is set, so the Hub is not asked, and no copy is in the cache"
        return "the Hub cannot be reached from here (no network?), and no copy is in the cache"
    if kind in ("RepositoryNotFoundError", "GatedRepoError"):
        return "there is no such repo, or it is private or gated: check the id, or log in (`hf auth login`)"
    return " ".join(str(e).split())


def _hub_timeout() -> float:
    value = os.environ.get(HUB_TIMEOUT_ENV) or str(HUB_TIMEOUT_S)
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise ModelLoadError(f"{HUB_TIMEOUT_ENV} must be a number of seconds above 0, not {value!r}")
    return seconds


_DOWNLOADED: dict[str, Path] = {}  # repo id -> its snapshot folder, as found by this process


def _download(repo_id: str) -> Path:
    """The repo's folder files, downloaded or found in huggingface_hub's cache. huggingface_hub waits without a limit
    on a Hub that takes the connection but never answers (a cached copy is used only after an error), so the
    download runs in a thread given HUB_TIMEOUT_S ($DDPM_HUB_TIMEOUT), after which the cached copy serves, if any;
    with none, it waits ten times as long (a slow first download) before it gives up."""
    from huggingface_hub import snapshot_download

    timeout = _hub_timeout()
    result = {}

    def fetch():
        try:
            result["path"] = snapshot_download(repo_id, allow_patterns=FOLDER_FILES)
        except Exception as e:
            result["error"] = e

    def outcome() -> Path:  # once fetch has ended
        if "error" in result:
            raise result["error"]
        return Path(result["path"])

    worker = threading.Thread(target=fetch, daemon=True)  # a daemon: a stalled one does not hold the process at exit
    worker.start()
    worker.join(timeout)
    if not worker.is_alive():
        return outcome()
    try:
        cached = Path(snapshot_download(repo_id, allow_patterns=FOLDER_FILES, local_files_only=True))
    except Exception:
        print(f"note: {repo_id} is not downloaded in {timeout:g} s and has no copy in the cache: waiting up to "
              f"{10 * timeout:g} s for the Hugging Face Hub", file=sys.stderr)
        worker.join(9 * timeout)
        if not worker.is_alive():
            return outcome()
        raise ModelLoadError(f"the Hugging Face Hub did not answer about {repo_id!r} in {10 * timeout:g} s and "
                             f"there is no copy in the cache (set {HUB_TIMEOUT_ENV} to wait longer)") from None
    print(f"note: the Hugging Face Hub did not answer in {timeout:g} s: {repo_id} is loaded from the cache, "
          f"as last downloaded ({cached})", file=sys.stderr)
    return cached


def _lfs_pointer(path: Path) -> str:
    """What to do when `path` is a Git LFS pointer (a repo cloned or pushed without LFS), else ""."""
    try:
        with open(path, "rb") as f:
            is_pointer = f.read(40).startswith(b"version https://git-lfs")
    except OSError:
        return ""
    return (f"{path.name} is a Git LFS pointer, not the weights: fetch them with `git lfs pull` (or clone with "
            "Git LFS installed)") if is_pointer else ""


def weights_digest(model: torch.nn.Module) -> str:
    """sha256 of a model's tensors by name (not of its file, whose metadata a card or a push may rewrite):
    what --null-teacher and a samples .npz record of the model they came from."""
    return _digest(model.state_dict().items())


def file_digest(path: str | Path) -> str:
    """weights_digest of the model a model.safetensors holds, read without building it: its float tensors as float32,
    as loading makes them (a half-precision file's weights are the model's once loaded). OSError or SafetensorError
    for a missing or broken file."""
    return _digest((name, t.float() if t.is_floating_point() else t) for name, t in load_tensors(path)[0].items())


def _digest(tensors) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(tensors):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def load_pretrained(name_or_path: str | Path = DEFAULT_WEIGHTS, device: str | torch.device = "cpu") -> UNet:
    """Rebuild the U-Net from config.json and load model.safetensors; returns it in eval mode."""
    folder = resolve_folder(name_or_path)
    for name in (CONFIG_NAME, WEIGHTS_NAME):  # a run killed between the two writes leaves only the first
        if not (folder / name).is_file():
            raise ModelLoadError(f"{folder} is missing {name}")
    try:
        config = ModelConfig.load(folder / CONFIG_NAME)
        if why := _unlike_its_run(folder, config) or _other_size(folder, config):
            raise ValueError(why)
        # the tensors alone (the facts in the metadata are no concern here), mapped rather than read like a
        # checkpoint (safeio.load_tensors): load_state_dict copies them and the map goes, and a hostile file of
        # 100 GB costs no memory before the shapes below refuse it
        state = load_file(str(folder / WEIGHTS_NAME))
        with torch.device("meta"):  # the network's shapes without its memory: a config.json asking for a network
            expected = UNet(config).state_dict()  # of 32 billion weights is refused, not killed out of memory
        if why := _mismatch(expected, state):
            raise ValueError(why)
        if bad := [k for k, v in state.items() if v.is_floating_point() and not v.isfinite().all()]:
            raise ValueError(f"{WEIGHTS_NAME} holds nan or inf in {len(bad)} tensor(s), {bad[0]} first: such a "
                             "network draws blank images (train.py stops a run whose weights turn nan or inf)")
        model = UNet(config).float()  # float32 as saved, also under torch.set_default_dtype(torch.float64)
        model.load_state_dict(state)
    except (OSError, ValueError, RuntimeError, TypeError, KeyError, SafetensorError) as e:
        # JSONDecodeError and the config's own checks (ConfigError) are ValueErrors
        why = _lfs_pointer(folder / WEIGHTS_NAME) or (
            f"{WEIGHTS_NAME} is no safetensors file ({e})" if isinstance(e, SafetensorError) else str(e))
        raise ModelLoadError(f"{folder} does not hold a valid model: {why}") from None
    # channels_last (NHWC) conv weights: oneDNN's convolutions ran a few percent faster here with so few channels
    # (python -m ddpm.benchmark times both, side by side); the weights are the same, only the layout differs.
    return model.to(device, memory_format=torch.channels_last).eval()


def _unlike_its_run(folder: Path, config: ModelConfig) -> str | None:
    """Where config.json's T or schedule differs from the train_config.json train.py left beside it (a hand edit):
    no weight's shape shows them, so the model would load and sample noise. A missing or unreadable record is no
    objection (it is --resume's, and the Hub's folders have none)."""
    try:
        trained = TrainConfig.read_saved(folder).get("model", {})
    except (OSError, ValueError):
        return None
    keys = [k for k in ("timesteps", "schedule") if k in trained and trained[k] != getattr(config, k)]
    if not keys:
        return None
    said = " and ".join(f"{k} {getattr(config, k)!r}" for k in keys)
    trained_said = " and ".join(f"{k} {trained[k]!r}" for k in keys)
    return (f"{CONFIG_NAME} says {said}, but {RUN_CONFIG_NAME}, the run that trained these weights, says "
            f"{trained_said}: no weight shows T or the schedule, so the model would sample noise; put the trained "
            "values back")


def _other_size(folder: Path, config: ModelConfig) -> str | None:
    """Where config.json's image_size is not the one its weights were trained at (a hand edit): the convolutions
    run at any size, so the model would load and draw pictures of a size it never learnt. The size is read from
    model.safetensors' meta (save_pretrained's), else from the run's train_config.json; neither: no objection."""
    try:
        trained = read_meta(folder / WEIGHTS_NAME).get(SIZE_KEY)
    except (OSError, SafetensorError, ValueError, AttributeError):  # the load below says what is wrong
        return None
    if trained is None:  # weights saved before their size was recorded
        with contextlib.suppress(OSError, ValueError):
            trained = TrainConfig.read_saved(folder).get("model", {}).get("image_size")
    if not str(trained).isdecimal() or int(trained) == config.image_size:
        return None
    return (f"{CONFIG_NAME} says image_size {config.image_size}, but {WEIGHTS_NAME} was trained on {trained} x "
            f"{trained} images: they would draw {config.image_size} x {config.image_size} pictures they never learnt; "
            f"put image_size {trained} back")

def _mismatch(expected: dict, state: dict) -> str | None:
    """What differs between the network config.json builds and the tensors model.safetensors holds, in one line
    (torch lists every tensor, a hundred lines and more), or None."""
    shapes = [k for k in expected if k in state and expected[k].shape != state[k].shape]
    missing, extra = [k for k in expected if k not in state], [k for k in state if k not in expected]
    if not (shapes or missing or extra):
        return None
    parts = [f"{len(shapes)} tensors of other shapes (first {shapes[0]}: {list(state[shapes[0]].shape)} in the "
             f"weights, {list(expected[shapes[0]].shape)} for the config)"] if shapes else []
    parts += [f"{len(missing)} missing (first {missing[0]})"] if missing else []
    parts += [f"{len(extra)} the config has no place for (first {extra[0]})"] if extra else []
    if missing and not (shapes or extra) and all(k.startswith("up_attn.") for k in missing):  # unet before c8472ed
        parts[-1] += (": weights trained with --patch-size before 2026-12-02, when the decoder gained its attention "
                      "at 7 px; this version cannot load them (git checkout fc4d424 can), so train them again")
    return f"{CONFIG_NAME} describes another network than {WEIGHTS_NAME} holds: {'; '.join(parts)}"
