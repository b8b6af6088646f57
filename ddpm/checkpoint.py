"""The training state as one pickle-free file (safetensors): model, EMA, optimizer and random generators, so a
`--resume` continues exactly where a run stopped."""
from __future__ import annotations

from pathlib import Path

import torch

from .safeio import load_tensors, save_tensors

CKPT_NAME = "checkpoint.safetensors"


def _flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors = {f"optim.{i}.{k}": v for i, s in sd["state"].items() for k, v in s.items()}
    return tensors, {"param_groups": sd["param_groups"]}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for name, v in tensors.items():
        if name.startswith("optim."):
            _, i, k = name.split(".", 2)
            state.setdefault(int(i), {})[k] = v
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(path: Path, model, ema, opt, gen: torch.Generator, progress: dict, scaler=None) -> None:
    """Everything a run needs to continue exactly (weights, EMA, AdamW's state, the generators, and float16's loss
    scale on a GPU without bfloat16), as safetensors, written atomically: a kill mid-write leaves the last checkpoint
    whole."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors |= {f"ema.{k}": v for k, v in ema.model.state_dict().items()}
    opt_tensors, opt_meta = _flatten_optimizer(opt)
    tensors |= opt_tensors
    tensors["rng.train"] = gen.get_state()
    tensors["rng.torch"] = torch.get_rng_state()  # weight init and dropout on the CPU
    device = next(model.parameters()).device
    if device.type == "cuda":  # dropout on a GPU draws from that GPU's generator (cuda:1's, not the current one's)
        tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
    elif device.type == "mps":  # and on a Mac's GPU from its own
        tensors["rng.mps"] = torch.mps.get_rng_state()
    # the loss scale and its growth count (a fresh scaler would start again at 2^16 and skip other steps); a disabled
    # scaler (CPU, bfloat16) has none
    scaling = {"grad_scaler": scaler.state_dict()} if scaler is not None and scaler.is_enabled() else {}
    save_tensors(path, tensors, {"progress": progress, **opt_meta, **scaling})


def load_checkpoint(path: Path, model, ema, opt, gen: torch.Generator, scaler=None) -> dict:
    """Put a save_checkpoint file back into model, ema, opt, gen and an enabled scaler (and torch's global random
    state); returns the run's progress record (step, seconds trained)."""
    tensors, meta = load_tensors(path)
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    ema.model.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    opt.load_state_dict(_unflatten_optimizer(tensors, meta))
    gen.set_state(tensors["rng.train"])
    torch.set_rng_state(tensors["rng.torch"])
    device = next(model.parameters()).device
    if "rng.cuda" in tensors and device.type == "cuda":  # (a run moved to the CPU draws its dropout there)
        torch.cuda.set_rng_state(tensors["rng.cuda"], device)
    elif "rng.mps" in tensors and device.type == "mps":
        torch.mps.set_rng_state(tensors["rng.mps"])
    if "grad_scaler" in meta and scaler is not None and scaler.is_enabled():  # (a run begun on bfloat16 has none)
        scaler.load_state_dict(meta["grad_scaler"])
    return meta["progress"]
