"""The config dataclasses: ModelConfig, saved as config.json next to model.safetensors, so a checkpoint rebuilds
its model from those two files alone (no pickle); TrainConfig, a run's settings, saved as its train_config.json."""
from __future__ import annotations

import dataclasses
import json
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path


# what two models must share for their eps predictions to be comparable: the same data and schedule
COMPARABLE_EPS = ("image_size", "in_channels", "num_classes", "timesteps", "schedule")
MAX_AUTOGUIDANCE = 10.0  # the largest autoguidance weight any command takes
SCHEDULES = ("linear", "cosine")  # Ho et al. 2020; Nichol & Dhariwal 2021
RUN_CONFIG_NAME = "train_config.json"  # a run's TrainConfig, beside its weights
DATASETS = ("mnist", "fashion-mnist")  # the ids train.py's --dataset takes
MIXED_PRECISION = ("auto", "no", "bf16")  # train.py's --mixed-precision: TrainConfig.mixed_precision
MAX_GUIDANCE = 10.0  # the largest classifier-free guidance scale any command (and the app) takes
# a training seed: each epoch's data order is seeded by seed * 100,003 + epoch, which must stay a 64-bit int
MAX_TRAIN_SEED = 2**32 - 1
MAX_TIMESTEPS = 10_000  # T: ten times the paper's; a 64-digit DDPM grid of more would run for hours on a CPU
MAX_BATCH = 4096  # images per step: the recipe uses 128; a batch's activations must fit in memory
# blocks a level and levels: the recipe uses 1 and 3; a million blocks took minutes to build before any size check
MAX_RES_BLOCKS, MAX_LEVELS = 16, 8
MAX_IMAGE_SIZE = 512  # pixels a side: far past MNIST's 28 (a hand-edited 10**9 asked 4e18 bytes for x_T)
MAX_SETTINGS_BYTES = 2**20  # 1 MiB: a config.json holds a few hundred bytes, a train_config.json a few kB


class ConfigError(ValueError):
    """A bad config value; `field` names it, so a CLI can name its flag instead."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field} {problem}")
        self.field, self.problem = field, problem


def read_settings(path: str | Path) -> bytes:
    """A settings file's bytes: one past MAX_SETTINGS_BYTES is refused (ValueError naming it) unread, not read
    whole (another file saved under its name, or an endless one, was a MemoryError or a hang)."""
    with open(path, "rb") as f:
        data = f.read(MAX_SETTINGS_BYTES + 1)
    if len(data) > MAX_SETTINGS_BYTES:
        raise ValueError(f"{Path(path).name} is larger than 1 MiB, far more than any settings: it is not read "
                         "(another file saved under its name?)")
    return data

def _whole(v, lo: int = 0) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo


def is_real(v) -> bool:
    """v is a finite number, numpy's too (not a string, None, a bool, inf or nan, nor an int past a float's range,
    such as a 400-digit one in a hand-edited JSON file)."""
    try:
        return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
    except OverflowError:
        return False


def _reject(obj, checks) -> None:
    for name, ok, want in checks:
        if not ok:
            raise ConfigError(name, f"must be {want}, not {getattr(obj, name)!r}")


@dataclass
class ModelConfig:
    """The network and its diffusion: everything config.json holds, enough to rebuild the model from it."""
    # data
    image_size: int = 28
    in_channels: int = 1
    num_classes: int = 10  # 0 = unconditional; otherwise index num_classes is the "null" class
    # U-Net: one entry of channel_mult per resolution (28, 14, 7)
    base_channels: int = 16
    channel_mult: tuple[int, ...] = (1, 2, 4)
    num_res_blocks: int = 1
    attention_resolutions: tuple[int, ...] = (7,)  # feature-map sizes that get self-attention
    dropout: float = 0.0  # short CPU runs of a 0.5M model do not overfit MNIST
    groups: int = 8  # GroupNorm groups
    patch_size: int = 1  # 2: pixel-unshuffle 28x28x1 to 14x14x4 first (lossless), so no level runs at 28x28
    # diffusion
    timesteps: int = 1000
    schedule: str = "linear"  # "linear" (Ho et al. 2020) or "cosine" (Nichol & Dhariwal 2021)

    def __post_init__(self):
        """Reject what would build no network, or another one than the config says (also for a config.json read
        from a folder, so a bad one is a clear error and not a traceback from deep in the U-Net)."""
        groups = self.groups if _whole(self.groups, 1) else 1  # a bad one is named first
        _reject(self, [
            ("image_size", _whole(self.image_size, 1) and self.image_size <= MAX_IMAGE_SIZE,
             f"a whole number from 1 to {MAX_IMAGE_SIZE}"),
            ("in_channels", _whole(self.in_channels, 1), "a positive whole number"),
            ("num_classes", _whole(self.num_classes), "0 (unconditional) or a positive whole number"),
            ("groups", _whole(self.groups, 1), "a positive whole number"),
            ("base_channels", _whole(self.base_channels, 1) and self.base_channels % groups == 0,
             f"a whole number, a positive multiple of the {groups} GroupNorm groups"),
            ("channel_mult", 1 <= len(self.channel_mult) <= MAX_LEVELS and all(_whole(c, 1) for c in self.channel_mult),
             f"1 to {MAX_LEVELS} positive whole numbers (one a level)"),
            ("attention_resolutions", all(_whole(r, 1) for r in self.attention_resolutions),
             "a list of positive whole numbers (feature-map sizes), or empty"),
            ("num_res_blocks", _whole(self.num_res_blocks, 1) and self.num_res_blocks <= MAX_RES_BLOCKS,
             f"a whole number from 1 to {MAX_RES_BLOCKS}"),
            ("dropout", isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1, "in [0, 1)"),
            ("timesteps", _whole(self.timesteps, 2) and self.timesteps <= MAX_TIMESTEPS,
             f"a whole number from 2 to {MAX_TIMESTEPS}"),
            ("schedule", self.schedule in SCHEDULES, " or ".join(map(repr, SCHEDULES))),
            ("patch_size", _whole(self.patch_size, 1) and _whole(self.image_size, 1)
             and self.image_size % self.patch_size == 0, f"a divisor of image_size {self.image_size!r}"),
        ])

    def level_sizes(self) -> list[int]:
        """Feature-map size of each U-Net level, e.g. [28, 14, 7], or [14, 7, 4] with 2x2 patches."""
        sizes = [self.image_size // self.patch_size]
        for _ in self.channel_mult[1:]:
            sizes.append((sizes[-1] + 1) // 2)
        return sizes

    @property
    def null_label(self) -> int | None:
        """The "null" class's label: one past the digits (the class embedding's extra row); None without classes."""
        return self.num_classes if self.num_classes else None

    def describe(self) -> str:
        """One line on the U-Net's shape, for the model card and the app's About tab."""
        patches = (f" ({self.patch_size}x{self.patch_size} pixel patches folded into channels first)"
                   if self.patch_size > 1 else "")
        built = [r for r in self.attention_resolutions if r in self.level_sizes()]  # a size no level has gets none
        attention = f"at {built} pixels and in the middle" if built else "in the middle only"
        groups = f", GroupNorm in {self.groups} groups" if self.groups != ModelConfig.groups else ""  # (8 unsaid)
        return (f"{self.base_channels} channels x {list(self.channel_mult)} at "
                f"{'/'.join(map(str, self.level_sizes()))} pixels{patches}, {self.num_res_blocks} residual "
                f"block(s) per level{groups}, self-attention {attention}")

    def eps_mismatch(self, other: "ModelConfig") -> list[tuple[str, object, object]]:
        """(key, ours, theirs) for each setting in which `other` models other data or noise, so its eps
        predictions cannot stand in for ours (an autoguidance guide, a null-class teacher)."""
        pairs = [(k, getattr(self, k), getattr(other, k)) for k in COMPARABLE_EPS]
        return [(k, ours, theirs) for k, ours, theirs in pairs if ours != theirs]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        d = dict(d)
        for k in ("channel_mult", "attention_resolutions"):
            if k in d:
                if not isinstance(d[k], (list, tuple)):  # null, a number, "124": not iterated into nonsense
                    raise ConfigError(k, f"must be a list of whole numbers, not {json.dumps(d[k])}")
                d[k] = tuple(d[k])
        return cls(**d)

    def save(self, path: str | Path) -> None:
        from .safeio import atomic_write_json  # here: safeio loads torch, and train.py reads flags before it does

        atomic_write_json(path, self.to_dict())  # a kill mid-write leaves the old file whole

    @classmethod
    def load(cls, path: str | Path) -> "ModelConfig":
        """A saved config.json. T and the schedule must be in it: no weight's shape shows them, so a file without
        them would load with the defaults' and sample noise."""
        data = read_settings(path)
        try:
            d = json.loads(data)  # bytes: json finds UTF-8 (a BOM too) or UTF-16 itself
        except ValueError as e:  # not JSON, or no text: json's words alone do not say which file
            raise ValueError(f"{Path(path).name} is not JSON ({e})") from None
        if not isinstance(d, dict):
            raise ValueError(f"{Path(path).name} holds no JSON object of settings")
        if missing := [k for k in ("timesteps", "schedule") if k not in d]:
            raise ValueError(f"{Path(path).name} does not say the model's {' and '.join(missing)}")
        return cls.from_dict(d)


@dataclass
class TrainConfig:
    """One training run: train.py's flags (ModelConfig under `model`), saved as train_config.json."""
    data_dir: str = "data/mnist"
    dataset: str = "mnist"  # or "fashion-mnist"
    epochs: int = 20
    max_minutes: float | None = None
    max_steps: int | None = None  # stop after this many optimizer steps in all (like max_minutes, a sitting's own)
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup_steps: int = 200
    lr_decay_steps: int = 0  # cosine decay to 0 over the last N steps of `epochs` (0 = constant lr)
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    label_dropout: float = 0.2  # share of labels replaced by the null class (for guidance)
    # a model folder (or Hub id) whose labelled prediction eps_teacher(x_t, t, y) is the null-class rows' target
    # instead of the drawn eps: for an exact teacher the same best fit, E[eps | x_t], with less variance
    # ("" = L_simple for all rows)
    null_teacher: str = ""
    # which label the teacher is given: "true" (the image's own) or "null" (its null class, as sampling "any digit" does)
    null_teacher_label: str = "true"
    # != 1: the teacher's prediction is autoguided by its guide/ at this weight, as `--autoguidance W` samples
    # (with "null", the very eps the guided sampler uses: guidance distillation, Meng et al. 2023)
    null_teacher_autoguidance: float = 1.0
    # sha256 of the teacher's tensors when the run began with it ("" until then): --resume refuses a teacher
    # whose weights changed since (a copy of a distilled folder would otherwise resume taught by itself)
    null_teacher_sha256: str = ""
    # draw each epoch's images with replacement, each class as often (weights 1 / its count), instead of a
    # permutation: the null class then learns a class-balanced dataset (MNIST's fives 10%, not 9.0%)
    balance_classes: bool = False
    seed: int = 0
    device: str = "auto"
    # autocast: "auto" bfloat16 on a CUDA GPU that has its units (float16 on an older one), float32 on a CPU;
    # "bf16" also on a CPU that has them (AVX512-BF16 or AMX: a step 1.4x to 2.1x as fast here); "no" float32
    mixed_precision: str = "auto"
    out: str = "runs/mnist"
    sample_every_epoch: bool = True
    model: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self):
        """Reject values that would crash or silently misbehave halfway through a run."""
        if isinstance(self.model, dict):  # a saved train_config.json read back: TrainConfig(**json.load(f))
            self.model = ModelConfig.from_dict(self.model)
        if not isinstance(self.model, ModelConfig):
            raise ConfigError("model", f"must be a ModelConfig (or its dict), not {type(self.model).__name__}")
        checks = [
            ("seed", _whole(self.seed) and self.seed <= MAX_TRAIN_SEED, f"a whole number from 0 to {MAX_TRAIN_SEED}"),
            ("epochs", self.epochs >= 1, "at least 1"),
            ("max_minutes", self.max_minutes is None or self.max_minutes > 0, "a positive number of minutes"),
            ("max_steps", self.max_steps is None or (_whole(self.max_steps) and self.max_steps >= 1), "at least 1"),
            ("batch_size", 1 <= self.batch_size <= MAX_BATCH, f"from 1 to {MAX_BATCH} (the recipe uses 128)"),
            ("lr", math.isfinite(self.lr) and self.lr > 0, "a positive number"),
            ("warmup_steps", self.warmup_steps >= 0, "0 or more"),
            ("lr_decay_steps", self.lr_decay_steps >= 0, "0 (constant lr) or a positive number of steps"),
            ("grad_clip", self.grad_clip > 0, "positive"),
            ("weight_decay", is_real(self.weight_decay) and self.weight_decay >= 0, "0 or more"),
            ("sample_every_epoch", isinstance(self.sample_every_epoch, bool), "true or false"),
            ("ema_decay", 0 <= self.ema_decay < 1, "in [0, 1)"),
            ("label_dropout", 0 <= self.label_dropout < 1, "in [0, 1)"),
            ("null_teacher_autoguidance", 0 <= self.null_teacher_autoguidance <= MAX_AUTOGUIDANCE,
             f"between 0 and {MAX_AUTOGUIDANCE:g} (1 = off)"),
            ("null_teacher_label", self.null_teacher_label in ("true", "null"), "'true' or 'null'"),
            ("balance_classes", isinstance(self.balance_classes, bool), "true or false"),
            ("dataset", self.dataset in DATASETS, " or ".join(map(repr, DATASETS))),
            ("mixed_precision", self.mixed_precision in MIXED_PRECISION, " or ".join(map(repr, MIXED_PRECISION))),
        ]
        _reject(self, checks)
        if self.null_teacher and not (self.label_dropout > 0 and self.model.num_classes):
            raise ConfigError("null_teacher", "sets the target of null-class rows only, so it needs a class-conditional "
                                              "model and --label-dropout above 0")
        for name, default in [("null_teacher_label", "true"), ("null_teacher_autoguidance", 1.0)]:
            if getattr(self, name) != default and not self.null_teacher:
                raise ConfigError(name, "sets how the null teacher predicts, so it needs --null-teacher")


    @staticmethod
    def read_saved(folder: str | Path) -> dict:
        """A run's train_config.json in `folder`, as saved ({} where there is none). ValueError for a file that is
        not an object holding a 'model' object (a hand edit gone wrong), OSError for one that cannot be read."""
        path = Path(folder) / RUN_CONFIG_NAME
        if not path.exists():
            return {}
        saved = json.loads(read_settings(path).decode("utf-8"))
        if not isinstance(saved, dict) or not isinstance(saved.get("model"), dict):
            raise ValueError("expected an object with a 'model' object")
        return saved
