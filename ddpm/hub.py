"""A model folder is config.json + model.safetensors (+ README.md, the model card).
Load it from a local folder or a Hugging Face Hub repo id; push it with huggingface_hub."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError

from .config import ModelConfig
from .data import dataset_name
from .safeio import load_tensors, read_meta, save_tensors
from .unet import UNet

CONFIG_NAME, WEIGHTS_NAME, CARD_NAME = "config.json", "model.safetensors", "README.md"
TRAINING_NAME = "training.json"  # how the weights were made: their facts and the recipe (card.write_model_card)
GUIDE_SUBFOLDER = "guide"  # an optional second, smaller model for autoguidance (ddpm/autoguidance.py)
# what a model folder publishes: the model, its card, how it was trained and how good it is, and its guide
FOLDER_FILES = [CONFIG_NAME, WEIGHTS_NAME, CARD_NAME, TRAINING_NAME, "eval.json", "samples.png", "loss.csv"]
FOLDER_FILES += [f"{GUIDE_SUBFOLDER}/{name}" for name in FOLDER_FILES]
SET_ASIDE = ("eval.json", "samples.png")  # what a folder says of its weights' quality: a new run sets them aside


def set_aside_path(path: Path) -> Path:
    """Where a run keeps a SET_ASIDE file of the weights it replaces: NAME.previous.EXT."""
    return path.with_name(f"{path.stem}.previous{path.suffix}")
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


class ModelLoadError(RuntimeError):
    """A model folder or repo could not be read; the message says why."""


def save_pretrained(model: UNet, folder: str | Path, meta: dict | None = None) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.config.save(folder / CONFIG_NAME)
    save_tensors(folder / WEIGHTS_NAME, model.state_dict(), meta)
    return folder


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
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, allow_patterns=FOLDER_FILES))
    except Exception as e:
        raise ModelLoadError(f"{name!r} is no folder here, and as a Hub repo id it could not be downloaded "
                             f"from the Hugging Face Hub: {e}") from None


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
        model.load_state_dict(state)
    except (OSError, ValueError, RuntimeError, TypeError, KeyError, SafetensorError) as e:
        # JSONDecodeError and the config's own checks (ConfigError) are ValueErrors
        why = _lfs_pointer(folder / WEIGHTS_NAME) or str(e)
        raise ModelLoadError(f"{folder} does not hold a valid model: {why}") from None
    # channels_last (NHWC) conv weights: oneDNN's convolutions ran a few percent faster here with so few channels
    # (python -m ddpm.benchmark times both, side by side); the weights are the same, only the layout differs.
    return model.to(device, memory_format=torch.channels_last).eval()


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
    try:
        saved = json.loads((Path(folder) / TRAINING_NAME).read_text())
    except (OSError, ValueError):
        saved = {}
    return (saved if isinstance(saved, dict) else {}) | read_weights_meta(folder)


def trained_on(folder: str | Path | None) -> str:
    """The dataset a model folder was trained on, as its training record says ("mnist" if it does not)."""
    return str(recorded_facts(folder).get("dataset") or "mnist")


def push_to_hub(folder: str | Path, repo_id: str, private: bool = False, log=print) -> bool:
    """Upload the model folder's FOLDER_FILES. The scores a new run set aside (its eval.json or samples.png
    renamed *.previous.*, see training.py) are deleted from the repo too, so it never shows old scores beside
    new weights; nothing else is deleted. Without a token or network, say so and keep every local file."""
    folder = Path(folder)
    missing = [name for name in (CONFIG_NAME, WEIGHTS_NAME) if not (folder / name).is_file()]
    if missing:
        log(f"could not push {folder}: it has no {' or '.join(missing)}, so it is not a model folder")
        return False
    retry = f"python -m ddpm.push {folder} {repo_id}{' --private' if private else ''}"
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
    removed = f" (and removed the old weights' {', '.join(set_aside)} from it)" if set_aside else ""
    log(f"pushed {folder} to https://huggingface.co/{repo_id}{removed}")
    return True
