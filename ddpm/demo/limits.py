"""Limits that protect a shared 2-vCPU CPU, and the checks that enforce them.

Every check raises InputError (a ValueError) with a message written for a person; wiring.user_errors turns
it into a gr.Error in one place, so the UI and the API show the same text.
"""
from __future__ import annotations

import math

from ..data import class_by_name
from ..samplers import MAX_SEED, RANDOM

MAX_DIGITS = 64  # images per Generate run
MAX_TRAJECTORY_DIGITS = 16  # images per trajectory (every frame of each is kept in memory)
MAX_STEPS = 1000  # DDIM steps
# digits x network passes per request: 16 digits of 1000 DDPM steps (about 13 s here), or 64 of 250 DDIM steps;
# guidance with a class runs two passes a step, so half of those (autoguidance's small guide adds up to 40%).
# With 64 DDPM digits (50 to 70 s and more) a few queued requests held the one model slot for many minutes.
MAX_DIGIT_STEPS = 16_000
APP_MAX_AUTOGUIDANCE = 4.0  # the app's slider; the command lines take up to config.MAX_AUTOGUIDANCE
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_SIDE = 4096  # pixels, either side
# drawings the browser has sent ahead of their event, per canvas: the newest kept, up to both ends (a class drawing at
# once sends a few a second; each event reads its own within a queue's wait)
KEPT_DRAWINGS, KEPT_DRAWING_BYTES = 256, 16 * 1024 * 1024  # a canvas's composite is a few KB
MIN_UPLOAD_SIDE = 8  # pixels, the longer side: fewer cannot draw a digit's strokes (a crop of a "1" may be 4 wide)
MAX_FRAMES = 100  # denoising steps kept per trajectory, plus its last step and x_0 (the GIF and the scrub slider)


class InputError(ValueError):
    """Bad user input; the message says what was wrong and what is allowed."""


class DigitError(InputError):
    """The digit itself cannot be used (an unreadable or blank upload, no digit yet): the views of it empty, where a
    refused setting (a seed, a t) leaves them as they were."""


class EmptyBox(InputError):
    """A number box left empty, or holding what the browser reads as no number (1e400): in a live view the user is
    typing a new number, so the UI waits quietly (the box goes back to its last good value if Enter is pressed or it
    loses the focus empty: page.SNAP_BACK_JS); the API still says so."""


class MissingInput(DigitError):
    """Nothing to work on yet (no upload, an empty drawing): the UI may wait quietly, the API still says so."""


COUNTED_FROM = 10**21  # a whole number this long is counted in a message, not written out


def shown(value) -> str:
    """A value as a message quotes it: short (a 309-digit seed is counted, a page of text cut)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= COUNTED_FROM:
        return f"a {len(str(abs(value)))}-digit {'negative ' * (value < 0)}number"
    text = repr(value)
    return text if len(text) <= 24 else text[:20] + "..."


def check_int(name: str, value, lo: int, hi: int) -> int:
    """value as an int in [lo, hi]; accepts 3, 3.0 (gr.Number sends floats) or "3"; rejects 3.5, NaN, None, True."""
    if value is None or (isinstance(value, str) and not value.strip()):  # emptied, or 1e400 typed (no float)
        raise EmptyBox(f"{name} holds no number: give a whole number between {lo} and {hi}")
    bad = InputError(f"{name} must be a whole number between {lo} and {hi}, not {shown(value)}")
    if isinstance(value, bool):
        raise bad
    try:
        v = int(value) if isinstance(value, (int, str)) or hasattr(value, "__index__") else None
    except ValueError:
        v = None
    if v is None:
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise bad from None
        if not math.isfinite(f) or f != int(f):
            raise bad
        v = int(f)
    if not lo <= v <= hi:
        raise InputError(f"{name} must be between {lo} and {hi}, not {shown(value if isinstance(value, float) else v)}")
    return v


def check_float(name: str, value, lo: float, hi: float) -> float:
    # one refusal for every way it fails (as check_int's), its ends as a slider writes them: 0 and 4, not 0.0 and 4.0
    bad = InputError(f"{name} must be a number between {lo:g} and {hi:g}, not {shown(value)}")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise bad from None
    if isinstance(value, bool) or not math.isfinite(f) or not lo <= f <= hi:
        raise bad
    return f + 0.0  # -0.0 -> 0.0, so no setting reads "-0"


def check_choice(name: str, value, choices) -> str:
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(map(repr, choices))}, not {shown(value)}")  # as a radio
    return value


def check_seed(seed) -> int:
    return check_int("seed", seed, 0, MAX_SEED)


def parse_label(label, names: tuple[str, ...] | None = None) -> int | str | None:
    """'any' (or None / '') -> None (the null class); 'random' -> 'random' (a uniform digit per sample);
    '0'..'9' or 0..9 -> int; for a dataset whose classes have `names` (Fashion-MNIST's), a name too, in any case."""
    if label is None or label == "" or str(label).lower() == "any":
        return None
    if str(label).lower() == RANDOM:
        return RANDOM
    if names is None:
        return check_int("digit class ('any', 'random' or 0-9)", label, 0, 9)
    if (index := class_by_name(label, names)) is not None:  # "Sneaker", as ddpm.sample --label takes it
        return index
    return check_int(f"class ('any', 'random', 0-9 or a name: {', '.join(names)})", label, 0, len(names) - 1)
