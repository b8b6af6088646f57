"""What the app loads once at startup: the model, its schedule, its folder, the classifier (if shipped)."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from .. import hub
from ..autoguidance import Autoguided, check_guide, has_guide, load_guide
from ..data import dataset_name, noun
from ..device import fit_threads_to_quota
from ..facts import trained_on
from ..schedule import NoiseSchedule
from . import sources
from .limits import InputError

MODEL_ENV = "DDPM_MODEL"


def model_source() -> str:
    """The model folder or Hub repo id: $DDPM_MODEL if set (a leading ~ read as home: quoted, no shell expands it),
    else the bundled weights/."""
    return os.path.expanduser(os.environ.get(MODEL_ENV) or str(hub.DEFAULT_WEIGHTS))


@lru_cache(maxsize=8)
def schedule(T: int, kind: str) -> NoiseSchedule:
    return NoiseSchedule(T, kind)


@dataclass
class Runtime:
    model: torch.nn.Module
    sched: NoiseSchedule  # the schedule the model was trained with
    source: str
    folder: Path | None  # where config.json, model.safetensors, README.md (+ training.json, eval.json) live
    classifier: torch.nn.Module | None
    classifier_note: str  # why the classifier is missing ("" when loaded)
    guide: torch.nn.Module | None = None  # the small model in the folder's guide/, for autoguidance
    guide_note: str = "this model has no guide/ folder"  # why guide is None ("" when loaded)
    dataset: str = "mnist"  # what the model was trained on (its examples are that dataset's; the classifier, MNIST's)

    @property
    def T(self) -> int:
        return self.sched.T

    @property
    def noun(self) -> str:
        """What one sample is called in the page's words: 'digit', or 'image' for Fashion-MNIST."""
        return noun(self.dataset)

    def sampling_model(self, autoguidance: float = 1.0) -> torch.nn.Module:
        """The model itself, or the model guided by guide/ on the steps t <= default_t_max(T) (ddpm.autoguidance)."""
        if autoguidance == 1:
            return self.model
        if self.guide is None:
            raise InputError(f"{self.guide_note[0].upper()}{self.guide_note[1:]}, so autoguidance is off: set it to 1.")
        return Autoguided(self.model, self.guide, autoguidance).eval()


def load_classifier() -> tuple[torch.nn.Module | None, str]:
    """The shipped MNIST classifier (logits over 10 classes from (B, 1, 28, 28) in [-1, 1]) or (None, why)."""
    try:
        from ..classifier import load_classifier as load
    except ImportError as e:
        return None, f"The MNIST classifier is not installed (ddpm.classifier: {e})."
    try:
        return load().eval(), ""
    except Exception as e:  # missing or unreadable ddpm/assets/classifier.safetensors
        return None, f"The MNIST classifier could not be loaded ({type(e).__name__}: {e})."


def model_folder(source: str) -> Path | None:
    try:
        return hub.resolve_folder(source)  # a local folder as is, or the Hub snapshot load_pretrained downloaded
    except hub.ModelLoadError:
        return None


def load_runtime(source: str | None = None, with_classifier: bool = True, app: bool = False) -> Runtime:
    """Load everything; raises hub.ModelLoadError with a readable message if the model is missing. app: say on stderr
    that the app's page answers only once this and each tab's first view are done (a Space's log said nothing for
    20 to 40 s)."""
    source = source or model_source()
    if app:
        print(f"Loading the model ({source}), then each tab's first view: the page's address follows (10 to 40 s on "
              "2 CPU cores)", file=sys.stderr, flush=True)
    fit_threads_to_quota()  # a Space's container sees its host's cores; torch should use the CPUs it is given
    model = hub.load_pretrained(source)
    cfg = model.config
    if (cfg.image_size, cfg.in_channels) != (28, 1):  # the tabs' digits, uploads and classifier are 28 x 28 greyscale
        raise hub.ModelLoadError(f"this model makes {cfg.image_size} x {cfg.image_size} images of {cfg.in_channels} "
                                 "channel(s); the app shows 28 x 28 greyscale ones (MNIST's, Fashion-MNIST's) alone")
    classifier, note = load_classifier() if with_classifier else (None, "The classifier was not loaded.")
    folder = model_folder(source)
    dataset = trained_on(folder)
    sources.use(dataset)  # tabs 1 and 4 offer its test images and fit an upload as its images were made
    if dataset != "mnist" and classifier is not None:  # it would read clothes as digits, with confidence
        classifier, note = None, (f"The MNIST classifier reads digits only, and this model was trained on "
                                  f"{dataset_name(dataset)}, so no chart shows when an image's class is decided.")
    guide, guide_note = None, "this model has no guide/ folder"
    if folder is not None and has_guide(folder):  # an empty guide/ is none, as for the card and a push
        try:  # from the folder resolved above (a Hub repo's files are in the cache load_pretrained filled)
            guide = load_guide(folder)
            check_guide(model, guide)
            guide_note = ""
        except (hub.ModelLoadError, ValueError) as e:  # autoguidance stays off, and the log says why
            guide, guide_note = None, f"this model's guide/ could not be loaded ({e})"
            print(f"warning: {guide_note}; autoguidance is off", file=sys.stderr)
    return Runtime(model, schedule(cfg.timesteps, cfg.schedule), source, folder, classifier, note, guide, guide_note,
                   dataset)
