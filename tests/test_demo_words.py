"""Tab 4's, the interpolation's and Compare's pictures said in words: with the MNIST classifier, each caption says
which digit each chain came back as, so that a screen reader (or a glance) gets the result, not a picture alone."""
from __future__ import annotations

import numpy as np
import torch

from ddpm import samplers
from ddpm.demo import compare, forward, interpolate, roundtrip
from ddpm.demo.forward import digit_tensor
from ddpm.demo.progress import finish
from ddpm.demo.runtime import load_classifier
from demo_helpers import DIGIT, settings


class ByPlace(torch.nn.Module):
    """Reads the k-th image of a batch as the digit `first + k` mod 10 (or `always`), sure of it but for the images
    `unsure` numbers (a probability of 0.23 there), and keeps what it was shown."""

    def __init__(self, always: int | None = None, first: int = 0, unsure: tuple[int, ...] = ()):
        super().__init__()
        self.always, self.first, self.unsure, self.seen = always, first, unsure, []

    def forward(self, x):  # (B, 1, 28, 28) -> (B, 10) logits
        self.seen.append(x.clone())
        read = (torch.arange(len(x)) + self.first) % 10 if self.always is None else torch.full((len(x),), self.always)
        sure = torch.tensor([1.0 if k in self.unsure else 20.0 for k in range(len(x))])[:, None]
        return torch.nn.functional.one_hot(read, 10).float() * sure


def test_tab_4_says_what_your_digit_and_each_chain_came_back_as(model, sched):
    s = settings(sched.T, n=1, steps=3)
    reader = ByPlace()
    r = roundtrip.roundtrip(model, sched, DIGIT, 10, s, reader)
    ts = roundtrip.strip_ts(sched.T)
    strip = " ".join(str(k % 10) for k in range(2, 2 + len(ts)))
    assert (f"The MNIST classifier reads your digit as 0 and the one denoised from t = 10 as 1 (no longer a 0); the "
            f"strip's, from t = {ts[0]} to {ts[-1]}, as {strip}.") in r.text
    # your digit itself (not its x_t), then each chain's end as the pictures show it: yours, the strip's by t
    x0, starts = digit_tensor(DIGIT), [10, *ts]
    noisy = [forward.jump(sched, x0, u, forward.fixed_eps(s.seed, x0.shape)) for u in starts]
    *_, (_, ends) = roundtrip.chains(model, sched, noisy, starts, s)
    assert torch.equal(reader.seen[0], torch.cat([x0, *ends]).clamp(-1, 1))
    same = roundtrip.roundtrip(model, sched, DIGIT, 10, s, ByPlace(always=7))
    assert "reads your digit as 7 and the one denoised from t = 10 as 7 (still a 7)" in same.text
    assert "? marks" not in same.text  # said only where a reading is marked
    unsure = roundtrip.roundtrip(model, sched, DIGIT, 10, s, ByPlace(always=8, unsure=(1, 3))).text
    assert (f"as 8 and the one denoised from t = 10 as 8? (read the same); the strip's, from t = {ts[0]} to "
            f"{ts[-1]}, as 8 8? 8 8") in unsure and ". A ? marks a digit the classifier is under 90% sure of." in unsure
    eight = roundtrip.roundtrip(model, sched, DIGIT, 10, s, ByPlace(first=8)).text  # 8, then 9: sure of both
    assert "reads your digit as 8 and the one denoised from t = 10 as 9 (no longer an 8)" in eight
    other = roundtrip.roundtrip(model, sched, DIGIT, 10, s, ByPlace(unsure=(0,))).text
    assert "reads your digit as 0? and the one denoised from t = 10 as 1 (read as another digit)" in other
    assert "classifier" in same.summary and "classifier" not in roundtrip.roundtrip(model, sched, DIGIT, 10, s).text


def test_the_interpolation_says_what_each_mix_came_back_as(model, sched):
    s, other = settings(sched.T, n=1, steps=2), np.flipud(DIGIT).copy()
    reader = ByPlace(first=3, unsure=(4,))  # the middle mix a blend
    r = finish(interpolate.interpolate_stream(model, sched, DIGIT, other, 8, s, reader))
    read = " ".join(f"{(k + 3) % 10}{'?' * (k == 4)}" for k in range(interpolate.COLUMNS))
    marked = ". A ? marks a digit the classifier is under 90% sure of. The two noises"
    assert f"reads the denoised mixes, lambda = 0 to 1, as {read}{marked}" in r.text
    assert torch.equal(reader.seen[0], r.x_bar_0)  # the denoised row, by column
    assert "classifier" not in finish(interpolate.interpolate_stream(model, sched, DIGIT, other, 8, s)).text


def test_compare_says_what_each_row_drew_and_the_classes_asked(model, sched):
    s = settings(sched.T, n=2, steps=2, label=None)
    rows = compare.compare_rows(compare.SAMPLERS_ROWS, s, sched.T, conditional=False)
    reader = ByPlace(always=4)
    r = finish(compare.compare_stream(model, sched, compare.SAMPLERS_ROWS, rows, reader))
    said = "; ".join(f"{compare.row_title(compare.SAMPLERS_ROWS, row)}: 4 4" for row in rows)
    assert f"The MNIST classifier reads the rows as {said}." in r.text
    for seen, row in zip(reader.seen, rows, strict=True):  # each row's own digits, as drawn
        *_, last = samplers.sample_loop(model, sched, row.n, row.seed, **row.sampler_kwargs())
        assert torch.equal(seen, last.x_prev.clamp(-1, 1))
    assert "classifier" not in finish(compare.compare_stream(model, sched, compare.SAMPLERS_ROWS, rows)).text
    s = settings(sched.T, n=3, steps=2, label="random", guidance=2.0)  # a random class each: which ones, said
    rows = compare.compare_rows(compare.GUIDANCE_ROWS, s, sched.T)
    asked = " ".join(map(str, samplers.random_labels(s.seed, 3, 10).tolist()))
    text = finish(compare.compare_stream(model, sched, compare.GUIDANCE_ROWS, rows, ByPlace())).text
    assert f"reads the rows (asked for {asked}; w = 0 ignores it) as w = 0 (the null class): 0 1 2;" in text
    s = settings(sched.T, n=2, steps=2, label="3", guidance=0.0)  # w = 0 in every row: no class is asked
    rows = compare.compare_rows(compare.SAMPLERS_ROWS, s, sched.T)
    assert "reads the rows as DDPM" in finish(compare.compare_stream(model, sched, compare.SAMPLERS_ROWS, rows,
                                                                     ByPlace())).text


def test_the_shipped_classifier_reads_a_digit_kept_at_small_t_as_itself(model, sched):
    """The real reader on a real digit: at t = 1 of 20 the chain's end is the digit, and so is its reading."""
    classifier, _ = load_classifier()
    r = roundtrip.roundtrip(model, sched, DIGIT, 1, settings(sched.T, n=1, steps=1), classifier)
    read = int(classifier(digit_tensor(DIGIT)).argmax())
    assert f"reads your digit as {read} and the one denoised from t = 1 as {read} (still a {read})" in r.text
