"""Where tensors run: the device a --device flag names, checked against this machine."""
from __future__ import annotations

import torch


def _available() -> dict[str, bool]:
    """Which device types this machine has, in the order "auto" prefers them."""
    mps = getattr(torch.backends, "mps", None)
    return {"cuda": torch.cuda.is_available(), "mps": bool(mps and mps.is_available()), "cpu": True}


def pick_device(name: str = "auto") -> torch.device:
    """auto = cuda, then mps, then cpu. A device this machine lacks is a ValueError that says so."""
    available = _available()
    if name == "auto":
        return torch.device(next(kind for kind, ok in available.items() if ok))
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}: use auto, cpu, cuda or mps") from None
    if not available.get(device.type, False):
        raise ValueError(f"device {name!r} is not available on this machine: use auto or cpu")
    return device
