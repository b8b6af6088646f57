"""What a sampling request may ask, checked before any step runs: the seed and the samples' indices, the counts,
the sampler and its settings, a label for the model's classes, a chain begun part-way. Each refusal is a ValueError
in words, so the Python API refuses what the command lines and the app refuse (they check first, in their own
words: ddpm.cli_args, ddpm.demo.limits); ddpm.samplers keeps the maths."""
from __future__ import annotations

import torch

from .config import MAX_GUIDANCE, is_real

# the seeds a grid takes, in the app and on the command line alike: up to the largest whole number a browser's number
# box holds exactly (a double), so that every seed the app shows can be typed into ddpm.sample
MAX_SEED = 2**53 - 1

SAMPLERS = ("ddpm", "ddim")
VARIANCES = ("beta", "beta_tilde")
RANDOM = "random"  # label="random": each sample's digit drawn uniformly from (seed, k)


def check_seed(seed, first, n: int) -> tuple[int, int]:
    """(seed, first) as ints, once per call: ValueError unless seed is a whole number from 0 to MAX_SEED and the
    indices first .. first + n - 1 are whole numbers that fit samplers.seed_words' two 32-bit words."""
    if not whole_up_to(seed, MAX_SEED):
        raise ValueError(f"seed must be a whole number from 0 to 2^53 - 1, not {seed!r}")
    for k in (first, first + n - 1) if n > 0 else ():
        if not whole_up_to(k, 2**64 - 1):
            raise ValueError(f"a sample's index (first + k) must be a whole number from 0 to 2^64 - 1, not {k!r}")
    return int(seed), int(first)


def whole_up_to(x, top: int) -> bool:
    """x is a whole number from 0 to top: an int, numpy int or a float such as 7.0 (not 7.5, a string or None);
    looser than the config's _whole, which takes ints alone (a config.json is written by train.py)."""
    try:
        return not isinstance(x, bool) and x == int(x) and 0 <= x <= top
    except (TypeError, ValueError, OverflowError):  # a string, None, inf or nan
        return False


def check_count(name: str, x) -> None:
    if not (whole_up_to(x, 2**31) and x >= 1):
        raise ValueError(f"{name} must be a whole number, at least 1, not {x!r}")


def steps_problem(sampler: str, steps: int | None, T: int) -> str | None:
    """Why a command line's --steps cannot run on a T-step model (None if it can): DDIM visits each timestep at
    most once, and DDPM runs all T (--steps T is taken, as the issue's `--sampler {ddpm,ddim} --steps K` writes it).
    (A chain from part-way, as the app's noise-and-denoise runs, takes min(steps, t): steps_run.)"""
    if sampler == "ddim" and steps is not None and steps > T:
        return f"--steps {steps} is more than this model's T = {T}: DDIM takes at most one step per timestep"
    if sampler == "ddpm" and steps is not None and steps != T:
        return (f"--steps {steps} is a DDIM setting (add --sampler ddim); DDPM always runs all T = {T} steps of this "
                f"model: leave --steps out, or give {T}")
    return None


def check_sampling(model, sampler: str, variance: str = "beta") -> None:
    """Refuse what would sample wrongly: an unknown sampler or variance, a variance with DDIM (which it would not
    read), a model that is not a U-Net of this package, weights other than float32, or dropout left in training
    mode."""
    if not hasattr(model, "config"):  # met "'AveragedModel' object has no attribute 'config'" further on
        raise TypeError(f"model is a ddpm U-Net, whose .config says how to sample it, not a model of type "
                        f"{type(model).__name__} "
                        "(an AveragedModel's or DataParallel's U-Net is its .module)")
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, not {sampler!r}")
    if variance not in VARIANCES:
        raise ValueError(f"variance must be one of {VARIANCES}, not {variance!r}")
    if sampler == "ddim" and variance != "beta":  # as ddpm.sample's --variance: DDIM's sigma_t comes from eta
        raise ValueError(f"variance={variance!r} is a DDPM setting (sampler='ddpm'); DDIM's noise is set by eta "
                         "(Song et al. Eq. 16)")
    weight = next(model.parameters(), None)  # x_T is drawn in float32, and the schedule's buffers are float32
    if weight is not None and weight.dtype != torch.float32:
        raise TypeError(f"the model's weights are {weight.dtype}, and the samplers run in float32 (x_T and the "
                        "schedule's buffers): sample from model.float(), under torch.autocast for half precision")
    if any(isinstance(m, torch.nn.Dropout) and m.p > 0 and m.training for m in model.modules()):
        raise ValueError("the model is in training mode, where its dropout draws from torch's global random "
                         "state, not from (seed, k): call model.eval() before sampling")


def check_schedule(cfg, sched) -> None:
    """The schedule must be the model's own (config.json's T and kind): no weight shows them, so a model run on
    another (NoiseSchedule() for a T = 20 or cosine model) would take every t for another noise level, unsaid."""
    if (sched.T, sched.kind) != (cfg.timesteps, cfg.schedule):
        raise ValueError(f"the schedule is {sched.kind} with T = {sched.T}, but the model was trained on "
                         f"{cfg.schedule} with T = {cfg.timesteps}: use NoiseSchedule({cfg.timesteps}, "
                         f"{cfg.schedule!r})")


def check_start(x_start, t_start, n: int, shape: tuple[int, ...], T: int) -> None:
    """Refuse a chain begun part-way that cannot run as asked: x_start must be n images of the model's shape, and
    t_start (a code index, 0 to T - 1) needs the x_start it says the timestep of (without one, pure noise would be
    taken for x_t)."""
    if x_start is not None and not (torch.is_tensor(x_start) and tuple(x_start.shape) == (n, *shape)):
        got = tuple(x_start.shape) if torch.is_tensor(x_start) else type(x_start).__name__
        raise ValueError(f"x_start must be a tensor of {n} images, shape {(n, *shape)}, not {got}")
    if x_start is not None and not x_start.is_floating_point():  # uint8 digits would start the chain at 0..255
        raise TypeError(f"x_start is a float tensor in [-1, 1] (ddpm.data.to_model_range makes one of uint8 digits, "
                        f"sched.q_sample noises it to t_start), not {x_start.dtype}")
    if x_start is not None and not bool(x_start.isfinite().all()):  # nan ran the whole chain to nan samples
        raise ValueError("x_start holds nan or inf: give finite images (sched.q_sample of digits in [-1, 1])")
    if t_start is None:
        return
    if x_start is None:
        raise ValueError("t_start is the timestep x_start sits at: give x_start (the noised images) too")
    if not whole_up_to(t_start, T - 1):
        raise ValueError(f"t_start must be a code index from 0 to {T - 1} (the paper's t - 1), not {t_start!r}")


def check_timesteps(timesteps, sampler: str, steps, t_top: int, from_noise: bool) -> list[int]:
    """DDIM's own subsequence of code indices, run in the order given: whole numbers from t_top down, each below the
    one before (Song et al. Sec. 4.2 take any increasing tau of 1..T). From pure noise the first may lie below
    T - 1 (x_T stands for x at it, as their spacings do); from x_start, it is t_start. Refused with DDPM, whose
    posterior steps one t at a time, and beside `steps`, which would say it twice."""
    if sampler != "ddim":
        raise ValueError("timesteps is DDIM's subsequence (sampler='ddim'); DDPM visits every t")
    if steps is not None:
        raise ValueError("give steps (evenly spaced) or timesteps (your own), not both")
    ts = timesteps.tolist() if hasattr(timesteps, "tolist") else list(timesteps)
    if not ts or not all(whole_up_to(t, t_top) for t in ts) or any(a <= b for a, b in zip(ts, ts[1:])) or \
            not from_noise and ts[0] != t_top:
        start = f"from {t_top} or below" if from_noise else f"from t_start = {t_top}"
        raise ValueError(f"timesteps are code indices (the paper's t - 1) {start} down to 0 or above, each below the "
                         f"one before, such as [{t_top}, {t_top // 2}, 0]; not {ts[:8]}{'...' * (len(ts) > 8)}")
    return [int(t) for t in ts]


def one_label(label):
    """A 0-d tensor label (torch.tensor(7)) as the number it holds: one class for every sample, as the int 7 is
    (the network's t takes a 0-d tensor so too); any other label as given."""
    return label.item() if torch.is_tensor(label) and label.dim() == 0 else label


def check_label_tensor(label: torch.Tensor, n: int, classes: int, values: bool = True) -> None:
    """A label tensor holds one whole-number class per sample, 0 to classes - 1 or the null class (classes), on a
    model with classes; values=False leaves the values unread (guided_eps on a GPU, every step: no device sync)."""
    if tuple(label.shape) != (n,):
        raise ValueError(f"a label tensor holds one class per sample, shape ({n},), not {tuple(label.shape)}")
    if not classes:
        raise ValueError("a label tensor: this model has no classes (unconditional); sample with label=None")
    if label.is_floating_point() or label.is_complex() or label.dtype == torch.bool or \
            values and not bool(((label >= 0) & (label <= classes)).all()):
        raise ValueError(f"a label tensor holds whole numbers from 0 to {classes - 1} ({classes}: the null "
                         f"class), not {label.dtype} values such as {label.flatten()[:4].tolist()}")


def check_guided_call(label, guidance, b: int, null: int | None) -> float:
    """samplers.guided_eps's label and guidance w, checked as sample_loop checks them (guided_eps is also called on
    its own, as autoguidance does): -> w as a float. null is the model's null class (None: no classes)."""
    if torch.is_tensor(guidance) and guidance.dim() == 0:  # a 0-d tensor w, as a float
        guidance = float(guidance)
    if not is_real(guidance):  # None met "unsupported operand type(s) for *" at the end
        raise TypeError(f"guidance is a number w (1 = plain conditional, 0 = unconditional), not {guidance!r}")
    if torch.is_tensor(label):  # its values read where that costs no device sync (sample_loop read them once)
        check_label_tensor(label, b, null or 0, values=label.device.type == "cpu")
    elif label is not None:  # 3.7 would be cut to 3 unsaid, 12 fail in the embedding
        if null is None:
            raise ValueError(f"label={label!r}: this model has no classes (unconditional); use label=None")
        if not whole_up_to(label, null):  # (7.0 is 7, as sample_loop takes it)
            raise ValueError(f"label must be a class from 0 to {null - 1}, or {null} (the null class), not {label!r}")
    return guidance


def check_request(cfg, T: int, n, sampler: str, steps, label, guidance, eta, from_noise: bool) -> None:
    """Refuse, in words, what the command line and the app refuse before they get here: a count that is not a
    whole number >= 1, a label the model has no class for (any label, "random" too, on a model without classes), a
    guidance w outside [0, 10], a DDIM eta outside [0, 1] or any eta with DDPM (whose noise its variance sets),
    more DDIM steps than timesteps from pure noise (from x_t part-way, min(steps, t) run: steps_run), DDPM steps
    other than its T (it runs every t: steps=50 would run 1000 unsaid), a label tensor that is not one whole-number
    class (or the null class) per sample. A guidance w without a label is not refused: the null class is sampled."""
    check_count("n", n)
    classes = cfg.num_classes or 0
    if torch.is_tensor(label):
        check_label_tensor(label, int(n), classes)
    if label is not None and not torch.is_tensor(label):
        if not classes:
            raise ValueError(f"label={label!r}: this model has no classes (unconditional); sample with label=None")
        if not (isinstance(label, str) and label == RANDOM or whole_up_to(label, classes - 1)):
            raise ValueError(f"label must be None (any digit), {RANDOM!r}, a class from 0 to {classes - 1} or a "
                             f"tensor of one class per sample (torch.tensor([7, 3])), not {label!r}")
    if not (is_real(guidance) and 0 <= guidance <= MAX_GUIDANCE):
        raise ValueError(f"guidance must be between 0 and {MAX_GUIDANCE:g} (1 = plain conditional), not {guidance!r}")
    if not (is_real(eta) and 0 <= eta <= 1):
        raise ValueError(f"eta must be between 0 (deterministic DDIM) and 1, not {eta!r}")
    if sampler == "ddpm" and eta != 0:
        raise ValueError(f"eta={eta!r} is a DDIM setting (sampler='ddim'); DDPM's variance, not eta, sets its noise")
    if sampler == "ddpm" and steps is not None and steps != T:  # the app and the CLI pass T for DDPM
        raise ValueError(f"steps={steps!r} is a DDIM setting (sampler='ddim'); DDPM runs every t from its start (all "
                         f"T = {T} from noise): leave steps out")
    top = T if from_noise else 2**31
    if sampler == "ddim" and steps is not None and not (whole_up_to(steps, top) and steps >= 1):
        most = f" to {T}, one per timestep" if from_noise else ", at least 1"
        raise ValueError(f"DDIM's steps must be a whole number from 1{most}, not {steps!r}")
