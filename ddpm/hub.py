"""A model folder is config.json + model.safetensors (+ README.md, the model card).
Load it from a local folder or a Hugging Face Hub repo id; push it with huggingface_hub."""
from __future__ import annotations

import os
import shlex
import sys
import threading
from pathlib import Path

import torch
from safetensors import SafetensorError

from .config import ModelConfig
from .data import dataset_name
from .safeio import load_tensors, read_json_object, read_meta, save_tensors
from .unet import UNet

CONFIG_NAME, WEIGHTS_NAME, CARD_NAME = "config.json", "model.safetensors", "README.md"
TRAINING_NAME = "training.json"  # how the weights were made: their facts and the recipe (card.write_model_card)
EVAL_NAME, GRID_NAME, LOSS_NAME = "eval.json", "samples.png", "loss.csv"  # scores, the card's grid, the loss log
HUB_TIMEOUT_ENV, HUB_TIMEOUT_S = "DDPM_HUB_TIMEOUT", 30.0  # seconds to wait for the Hub before the cache
GUIDE_SUBFOLDER = "guide"  # an optional second, smaller model for autoguidance (ddpm/autoguidance.py)
# what a model folder publishes: the model, its card, how it was trained and how good it is, and its guide
FOLDER_FILES = [CONFIG_NAME, WEIGHTS_NAME, CARD_NAME, TRAINING_NAME, EVAL_NAME, GRID_NAME, LOSS_NAME]
FOLDER_FILES += [f"{GUIDE_SUBFOLDER}/{name}" for name in FOLDER_FILES]
SET_ASIDE = (EVAL_NAME, GRID_NAME)  # what a folder says of its weights' quality: a new run sets them aside


def set_aside_path(path: Path) -> Path:
    """Where a run keeps a SET_ASIDE file of the weights it replaces: NAME.previous.EXT."""
    return path.with_name(f"{path.stem}.previous{path.suffix}")
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


class ModelLoadError(RuntimeError):
    """A model folder or repo could not be read; the message says why."""


def save_pretrained(model: UNet, folder: str | Path, meta: dict | None = None) -> Path:
    """config.json + model.safetensors (with `meta`, the training facts, in its header): the folder
    load_pretrained rebuilds the model from."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.config.save(folder / CONFIG_NAME)
    save_tensors(folder / WEIGHTS_NAME, model.state_dict(), meta)
    return folder


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


def resolve_folder(name_or_path: str | Path) -> Path:
    """A local model folder as is; a Hub repo id downloaded (or found in the cache) to a folder."""
    p = Path(name_or_path)
    if p.is_dir():
        return p
    name = str(name_or_path)
    if not is_repo_id(name):
        raise ModelLoadError(f"{name!r} is not a model folder (expected {CONFIG_NAME} and {WEIGHTS_NAME}) nor a Hub repo id")
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


def load_pretrained(name_or_path: str | Path = DEFAULT_WEIGHTS, device: str | torch.device = "cpu") -> UNet:
    """Rebuild the U-Net from config.json and load model.safetensors; returns it in eval mode."""
    folder = resolve_folder(name_or_path)
    for name in (CONFIG_NAME, WEIGHTS_NAME):  # a run killed between the two writes leaves only the first
        if not (folder / name).is_file():
            raise ModelLoadError(f"{folder} is missing {name}")
    try:
        config = ModelConfig.load(folder / CONFIG_NAME)
        state, _ = load_tensors(folder / WEIGHTS_NAME)
        model = UNet(config)
        if why := _mismatch(model.state_dict(), state):
            raise ValueError(why)
        model.load_state_dict(state)
    except (OSError, ValueError, RuntimeError, TypeError, KeyError, SafetensorError) as e:
        # JSONDecodeError and the config's own checks (ConfigError) are ValueErrors
        why = _lfs_pointer(folder / WEIGHTS_NAME) or str(e)
        raise ModelLoadError(f"{folder} does not hold a valid model: {why}") from None
    # channels_last (NHWC) conv weights: oneDNN's convolutions ran a few percent faster here with so few channels
    # (python -m ddpm.benchmark times both, side by side); the weights are the same, only the layout differs.
    return model.to(device, memory_format=torch.channels_last).eval()


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
    return f"{CONFIG_NAME} describes another network than {WEIGHTS_NAME} holds: {'; '.join(parts)}"


def load_guide(name_or_path: str | Path = DEFAULT_WEIGHTS, device: str | torch.device = "cpu",
               guide: str | Path | None = None) -> UNet:
    """The autoguidance guide shipped in the model folder's guide/ subfolder, or the model folder `guide`."""
    main = resolve_folder(name_or_path)
    folder = resolve_folder(guide) if guide else main / GUIDE_SUBFOLDER
    if not guide and not (folder / CONFIG_NAME).is_file():
        raise ModelLoadError(f"{main} has no {GUIDE_SUBFOLDER}/ model for autoguidance; train a small one "
                             f"with: {_guide_command(main)} --out {folder}")
    ours, its = trained_on(main), trained_on(folder)
    if ours != its:  # config.json cannot tell (the same shapes, T and schedule): the training record can
        raise ModelLoadError(f"the guide {folder} was trained on {dataset_name(its)}, the model on "
                             f"{dataset_name(ours)}: a guide must model the same data")
    # NCHW, not channels_last: with 8 channels at 28x28 the plain layout runs this guide ~13% faster here
    # (11.7 against 13.5 ms per forward pass of 16), the opposite of the main model
    return load_pretrained(folder, device).to(memory_format=torch.contiguous_format)


def _guide_command(folder: Path) -> str:
    """train.py's command for a small guide that models what the model in `folder` models (data, T, schedule)."""
    command = "python train.py --base-channels 8 --epochs 3"
    try:
        cfg = ModelConfig.load(folder / CONFIG_NAME)
    except (OSError, ValueError):
        return command + " --label-dropout 0.5"
    dataset = trained_on(folder)
    return (command + (" --label-dropout 0.5" if cfg.num_classes else " --unconditional")
            + (f" --dataset {dataset}" if dataset != "mnist" else "")
            + (f" --timesteps {cfg.timesteps}" if cfg.timesteps != 1000 else "")
            + (f" --schedule {cfg.schedule}" if cfg.schedule != "linear" else ""))


def read_weights_meta(folder: str | Path) -> dict:
    """The training facts recorded in model.safetensors' own metadata (empty if none or unreadable)."""
    try:
        return read_meta(Path(folder) / WEIGHTS_NAME)
    except (OSError, ValueError, SafetensorError):
        return {}


def recorded_facts(folder: str | Path | None) -> dict:
    """How a model folder was trained: the facts in model.safetensors' metadata (they travel with the weights, so
    they win), over training.json (written with the model card), which adds the recipe (`command`) and stands in
    for weights that record nothing. {} for no folder; either part left out where it is missing or unreadable."""
    if folder is None:
        return {}
    return read_training_record(folder) | read_weights_meta(folder)


def read_training_record(folder: str | Path) -> dict:
    """The folder's training.json, or {} before the first card is written (or if a hand edit broke it: the card
    is then rewritten from the weights' own metadata rather than lost at the end of a run)."""
    try:
        return read_json_object(Path(folder) / TRAINING_NAME)
    except ValueError:
        return {}


def read_scores(folder: str | Path | None) -> dict:
    """A model folder's eval.json ({} for no folder or no file; also for one that is no JSON object, a hand edit
    gone wrong, which is said on stderr rather than stop a card or the app)."""
    if folder is None:
        return {}
    try:
        return read_json_object(Path(folder) / EVAL_NAME)
    except ValueError as e:
        print(f"note: {e}: its scores are left out", file=sys.stderr)
        return {}


def trained_on(folder: str | Path | None) -> str:
    """The dataset a model folder was trained on, as its training record says ("mnist" if it does not)."""
    return dataset_in(recorded_facts(folder))


def dataset_in(facts: dict) -> str:
    """The dataset that recorded facts (recorded_facts) name, "mnist" where they name none."""
    return str(facts.get("dataset") or "mnist")


def push_command(folder: str | Path, repo_id: str, private: bool = False) -> str:
    """The command line that pushes `folder` to `repo_id` again."""
    return f"python -m ddpm.push {shlex.quote(str(folder))} {repo_id}{' --private' if private else ''}"


def push_to_hub(folder: str | Path, repo_id: str, private: bool = False, log=print) -> bool:
    """Upload the model folder's FOLDER_FILES. The scores a new run set aside (its eval.json or samples.png
    renamed *.previous.*, see training.py) are deleted from the repo too, so it never shows old scores beside
    new weights; nothing else is deleted. Without a token or network, say so and keep every local file."""
    folder = Path(folder)
    missing = [name for name in (CONFIG_NAME, WEIGHTS_NAME) if not (folder / name).is_file()]
    if missing:
        log(f"could not push {folder}: it has no {' or '.join(missing)}, so it is not a model folder")
        return False
    retry = push_command(folder, repo_id, private)
    set_aside = [name for name in SET_ASIDE if not (folder / name).exists() and set_aside_path(folder / name).exists()]
    try:
        from huggingface_hub import HfApi

        api = HfApi()
        api.create_repo(repo_id, private=private, exist_ok=True)
        if private and api.repo_info(repo_id).private is False:  # exist_ok leaves a public repo public
            log(f"did not push: {repo_id} already exists and is public, and a private repo was asked for. Make it "
                f"private on the Hub, then retry with: {retry}")
            return False
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, allow_patterns=FOLDER_FILES,
                          delete_patterns=set_aside or None)
    except Exception as e:  # no token (401), no network, unknown repo ...
        log(f"could not push to the Hub ({type(e).__name__}: {e}).\n"
            f"Nothing was lost: the model is in {folder}. Check the network and your token (`hf auth login`, or "
            f"HF_TOKEN), then retry with: {retry}")
        return False
    removed = f" (and deleted the old weights' {', '.join(set_aside)} from it, if it had them)" if set_aside else ""
    log(f"pushed {folder} to https://huggingface.co/{repo_id}{removed}")
    return True


def push_status(folder: str | Path, repo_id: str, private: bool = False, kept: str = "") -> int:
    """push_to_hub for a command line (train.py --push-to-hub, python -m ddpm.push): its exit status, 0 pushed,
    1 not (push_to_hub said why), 130 stopped by Ctrl-C, said here with `kept` (what is kept locally) and the
    command that pushes again."""
    try:
        return 0 if push_to_hub(folder, repo_id, private=private) else 1
    except KeyboardInterrupt:
        print(f"\nthe push was stopped (Ctrl-C); {kept or f'{folder} is as it was'} (the Hub repo may have been made "
              f"or partly updated): `{push_command(folder, repo_id, private)}` pushes it again", file=sys.stderr)
        return 130
