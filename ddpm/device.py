"""Where tensors run: the device a --device flag names, checked against this machine, on a CPU how many threads
torch may use where a container's cgroup caps its CPUs, and the precision training autocasts to there."""
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
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        count = torch.cuda.device_count()  # (torch's "invalid device ordinal" came later, as a traceback)
        raise ValueError(f"device {name!r}: this machine has {count} GPU{'s' * (count != 1)}, cuda:0"
                         f"{f' to cuda:{count - 1}' if count > 1 else ''}: use cuda or auto")
    return device


def cpu_quota(cgroup: Path = Path("/sys/fs/cgroup"), own: Path = Path("/proc/self/cgroup")) -> int | None:
    """The CPUs this container may use, rounded up, when a cgroup caps them: the smallest cgroup v2 cpu.max from
    this process's own cgroup (`own` names it) up to the root, else v1's cfs quota / period; None when uncapped or
    unreadable. A Space's container sees all of its host's cores, so torch would start one thread per host core
    on a 2-CPU quota and lose time to throttling."""
    caps = [_cap(*_read(d / "cpu.max").split()[:2]) for d in _own_and_parents(cgroup, own)]
    caps += [_cap(_read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us"))  # v1: a quota of -1 is uncapped
             for d in (cgroup / "cpu", cgroup / "cpu,cpuacct")]
    caps = [c for c in caps if c is not None]
    return max(1, math.ceil(min(caps))) if caps else None


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _own_and_parents(cgroup: Path, own: Path) -> list[Path]:
    """cgroup v2's folders from this process's cgroup ("0::/a/b" in /proc/self/cgroup) up to the root."""
    line = next((ln for ln in _read(own).splitlines() if ln.startswith("0::")), "0::/")
    folder = cgroup / line[3:].strip().lstrip("/")
    return [folder, *[p for p in folder.parents if p.is_relative_to(cgroup)]]


def _cap(quota: str = "", period: str = "") -> float | None:
    """quota / period in CPUs ("max" or -1: none)."""
    try:
        q, p = int(quota), int(period)
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


def fit_threads_to_quota(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """Lower torch's thread count to the cgroup's CPU quota when it is above it; returns the count in use."""
    quota = cpu_quota(cgroup)
    if quota is not None and torch.get_num_threads() > quota:
        torch.set_num_threads(quota)
    return torch.get_num_threads()


def mixed_precision(device: torch.device, choice: str = "auto"):
    """(autocast dtype, grad scaler) for TrainConfig.mixed_precision: "auto" is bfloat16 on a CUDA GPU that has it
    (compute capability 8.0 on, Ampere), float16 with loss scaling on one that does not (a T4, a V100), float32
    elsewhere (None, a disabled scaler); "bf16" is bfloat16 on any device with its units, a CPU's included; "no" is
    float32. (torch.cuda.is_bf16_supported() says yes on older GPUs too: it counts bfloat16 emulated, slowly.)"""
    units = bf16_units(device)
    if choice == "bf16" and not units:
        why = {"cuda": "this GPU has no bfloat16 units (CUDA's from Ampere on): bfloat16 would be emulated, slower "
                       "than float32 (auto trains in float16 with a loss scale there)",
               "cpu": "this CPU has no bfloat16 units torch uses (AVX512-BF16 or AMX, on x86): bfloat16 would be "
                      "emulated, slower than float32"}.get(device.type, f"it is for CUDA and x86 CPUs; {device.type} "
                                                                         "trains in float32")
        raise ValueError(f"--mixed-precision bf16: {why}; give --mixed-precision auto")
    if choice == "bf16":
        amp_dtype = torch.bfloat16
    elif choice == "auto" and device.type == "cuda":
        amp_dtype = torch.bfloat16 if units else torch.float16
    else:  # "no", or "auto" off CUDA
        amp_dtype = None
    return amp_dtype, torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)


def bf16_units(device: torch.device) -> bool:
    """Whether the device computes in bfloat16 natively: a CUDA GPU from Ampere on, a CPU with AVX512-BF16 or AMX."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device)[0] >= 8
    return device.type == "cpu" and (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
