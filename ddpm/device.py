"""Where tensors run: the device a --device flag names, checked against this machine."""
from __future__ import annotations

import math
from pathlib import Path

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


def cpu_quota(cgroup: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The CPUs this container may use, rounded up, when its cgroup caps them (cgroup v2's cpu.max, else v1's
    cfs quota/period); None when uncapped or unreadable. A Space's container sees all of its host's cores, so torch
    would start one thread per host core on a 2-CPU quota and lose time to throttling."""
    try:
        if (cgroup / "cpu.max").is_file():  # v2: "200000 100000", or "max 100000" when uncapped
            quota, period = (cgroup / "cpu.max").read_text().split()[:2]
        else:  # v1: a quota of -1 is uncapped
            quota = (cgroup / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (cgroup / "cpu" / "cpu.cfs_period_us").read_text().strip()
        if quota == "max" or int(quota) <= 0 or int(period) <= 0:
            return None
        return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        return None


def fit_threads_to_quota(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """Lower torch's thread count to the cgroup's CPU quota when it is above it; returns the count in use."""
    quota = cpu_quota(cgroup)
    if quota is not None and torch.get_num_threads() > quota:
        torch.set_num_threads(quota)
    return torch.get_num_threads()
