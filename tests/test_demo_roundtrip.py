"""Tab 4's reverse-chain jobs (ddpm.demo.roundtrip, ddpm.demo.interpolate) on a tiny random U-Net (conftest:
T = 20): noise and denoise, the interpolation, and how the long jobs stream their progress and stop."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ddpm import samplers
from ddpm.data import load_sample, to_model_range
from ddpm.demo import draw, forward, interpolate, roundtrip, trajectory
from ddpm.demo.limits import InputError
from ddpm.demo.progress import Progress, finish
from ddpm.samplers import sample_generators
from ddpm.schedule import NoiseSchedule
from conftest import tiny_config, tiny_model
from demo_helpers import DIGIT, same, settings


# ---------------------------------------------------------------- tab 4: noise and denoise

def test_tab_4s_chains_are_the_null_class_and_deterministic_under_ddim():
    """chain_settings: no label, no guidance, DDIM's eta 0 (the interpolation's text says DDIM adds no noise)."""
    s = roundtrip.chain_settings(0, "ddim", 10, 1000)
    assert (s.label, s.eta, s.n, s.steps, s.autoguidance) == (None, 0.0, 1, 10, 1.0)


def test_roundtrip(model, sched):
    r = roundtrip.roundtrip(model, sched, DIGIT, 10, settings(sched.T, n=1, steps=3))
    assert r.main.width > 2.5 * r.main.height * 0.8 and r.strip.width > r.strip.height
    assert "t = 10" in r.text and "denoised with 3 DDIM steps;" in r.text
    few = roundtrip.roundtrip(model, sched, DIGIT, 2, settings(sched.T, n=1, steps=3)).text  # at most t of them
    assert "denoised with 2 DDIM steps;" in few and "with 1 DDIM step;" in roundtrip.roundtrip(
        model, sched, DIGIT, 1, settings(sched.T, n=1, steps=3)).text
    ddpm = settings(sched.T, sampler="ddpm")
    assert [roundtrip.chain_words(ddpm, t) for t in (7, 1)] == ["all 7 steps (DDPM)", "1 step (DDPM)"]
    assert "the strip's 10 chains each start from their own t. All 11 took " in r.text
    r2 = roundtrip.roundtrip(model, sched, DIGIT, 10, settings(sched.T, n=1, steps=3))
    assert same(r.main, r2.main) and same(r.strip, r2.strip)
    with pytest.raises(InputError, match="t must be between 1 and 20"):
        roundtrip.roundtrip(model, sched, DIGIT, 0, settings(sched.T, n=1))



def test_roundtrip_summary_is_its_text_without_the_time(model, sched):
    """The start-up caption (summary) is the run's text, which names its seed, with 'All 11 took ...' taken out."""
    r = roundtrip.roundtrip(model, sched, DIGIT, 10, settings(sched.T, n=1, steps=2, seed=3))
    run, rest = r.text.split(" All 11 took ")
    assert run.startswith("Noised to t = 10 with seed 3, then denoised with 2 DDIM steps;")
    assert r.summary == f"{run} {rest.split('. ', 1)[1]}" and "took" not in r.summary

def test_a_new_digit_says_press_or_why_it_cannot_be_used(tmp_path):
    """Tab 4's text once its digit changes: a blank upload said 'press Noise and denoise' under the preview's
    'No digit found' warning."""
    from ddpm.demo.sources import EXAMPLE, UPLOAD, pick_digit

    text, digit = roundtrip.digit_changed(EXAMPLE, 3)
    assert "press **Noise and denoise**" in text and (digit == pick_digit(EXAMPLE, 3)).all()
    assert roundtrip.digit_changed(UPLOAD, 0, None)[0].startswith("*No image uploaded")
    Image.new("L", (60, 60), 255).save(tmp_path / "blank.png")
    text, digit = roundtrip.digit_changed(UPLOAD, 0, str(tmp_path / "blank.png"))
    assert text.startswith("*The new digit cannot be used: No digit found") and "press" not in text and digit is None
    assert "cannot be used: MNIST test digit # must be" in roundtrip.digit_changed(EXAMPLE, 2.5)[0]  # (the API)


def test_the_same_digit_or_a_number_being_typed_keeps_the_last_run():
    """A number typed past its end (snapped back to the same one) and a box emptied and typed again wiped the last
    run's pictures (a DDPM run of 18 s lost to a typo): the pictures now go only for a new digit."""
    from ddpm.demo.sources import EXAMPLE, pick_digit
    from ddpm.demo.widgets import Slider

    shown = pick_digit(EXAMPLE, 25)
    number = Slider(0, 299, value=0, step=1, label="MNIST test digit #")
    for typed in (number.preprocess(99999), number.preprocess(None), 25):  # past the end, emptied, the same number
        assert roundtrip.digit_changed(EXAMPLE, typed, last=shown) == (None, shown)
    assert roundtrip.digit_changed(EXAMPLE, 26, last=shown)[0].startswith("*The digit changed")
    keep, memo = roundtrip.KEEP, roundtrip.DigitMemo(shown)
    main, strip, i_image = (np.full((20, 60, 3), v, np.uint8) for v in (10, 20, 30))  # as the page sends them back
    # kept as they were, but a progress line of a run the change stopped says it stopped
    same = roundtrip.after_digit_change(EXAMPLE, 25, None, None, memo, main, strip, "Noised to t = 500", None, "")
    assert same[:5] == (keep, keep, "Noised to t = 500", keep, "") and np.array_equal(same[5].last, shown)
    going = roundtrip.after_digit_change(EXAMPLE, 25, None, None, memo, main, strip, "Denoising: 11 of 11 chains",
                                         None, "Denoising 9 mixes from t = 300: step 3 of 50")
    assert going[2] == ("*Stopped as the digit's inputs changed (the pictures are the run before it): press **Noise "
                        "and denoise** to run it again.*")
    assert going[4] == "*Stopped as the digit's inputs changed: press **Interpolate** to run it again.*"  # none
    # a new digit: the pictures go, put away with their digit ...
    new = roundtrip.after_digit_change(EXAMPLE, 26, None, None, memo, main, strip, "Noised to t = 500", i_image, "Mixed")
    assert new[:5] == (None, None, "*The digit changed: press **Noise and denoise** to run the chain on it.*", None, "")
    assert (new[5].last == pick_digit(EXAMPLE, 26)).all() and np.array_equal(new[5].kept[0], shown)
    # ... through a number typed over (25 -> 2 -> 25) or an emptied upload, and back with it: shown again
    two = roundtrip.after_digit_change(EXAMPLE, 2, None, None, new[5], None, None, new[2], None, "")
    back = roundtrip.after_digit_change(EXAMPLE, 25, None, None, two[5], None, None, two[2], None, "")
    assert [np.asarray(x).mean() for x in (back[0], back[1], back[3])] == [10, 20, 30]  # grey, as drawn
    assert back[2:5:2] == ("Noised to t = 500", "Mixed") and back[5].kept is None
    assert roundtrip.after_digit_change(EXAMPLE, 25, None, None, two[5], None, None, "", None, "")[0] is not None
    assert roundtrip.after_digit_change(EXAMPLE, 2, None, None, two[5], None, None, "", None, "")[:2] == (keep, keep)


def test_a_run_begun_before_the_digit_changed_yields_nothing_more(model, sched):
    """A change of tab 4's digit cancels its runs, but a caption yielded before the cancel landed stayed over the
    change's own ("Denoising ... step 48 of 50" under emptied pictures, as if hung): the change moves the count the
    memos share, and a run begun before it stops yielding; one begun after it, even from the memo before the change
    (Gradio stores the new one only once the change returns), goes on."""
    from ddpm.demo.sources import EXAMPLE, pick_digit

    memo = roundtrip.DigitMemo(pick_digit(EXAMPLE, 25))
    run = lambda: roundtrip.roundtrip_stream(model, sched, DIGIT, 10, settings(sched.T, n=1, steps=3, seed=2))
    stream = roundtrip.until_left(run(), memo)
    assert next(stream) is not None
    new = roundtrip.after_digit_change(EXAMPLE, 26, None, None, memo, None, None, "Denoising", None, "")
    assert list(stream) == [] and new[5].changes is memo.changes == [1]
    assert isinstance(list(roundtrip.until_left(run(), memo))[-1], roundtrip.RoundTrip)  # begun after the change
    stream = roundtrip.until_left(run(), new[5])  # a change event of the same digit, late: a run just pressed goes on
    next(stream)
    roundtrip.after_digit_change(EXAMPLE, 26, None, None, new[5], None, None, "Denoising", None, "")
    assert isinstance(list(stream)[-1], roundtrip.RoundTrip) and memo.changes == [1]
    assert list(roundtrip.until_left(iter([1, 2]), None)) == [1, 2]  # no memo (the Python API's): every item


def test_a_digit_that_cannot_be_used_is_no_last_digit_and_a_caption_may_be_none(tmp_path):
    """After a source with no digit (no upload yet, a blank one) the pictures are gone: going back to the digit shown
    before must say press, not keep the 'No image uploaded' line under it (a mutation run: keeping `last` there
    passed). The API's emptied number (EmptyBox) keeps the last digit, as the box's own emptying does, and a caption
    Gradio hands over as None is kept (None.startswith was a crash)."""
    from ddpm.demo.sources import EXAMPLE, UPLOAD, pick_digit

    shown = pick_digit(EXAMPLE, 25)
    Image.new("L", (60, 60), 255).save(tmp_path / "blank.png")
    for upload in (None, str(tmp_path / "blank.png")):
        text, last = roundtrip.digit_changed(UPLOAD, 0, upload, last=shown)
        assert text.startswith("*") and last is None
        assert roundtrip.digit_changed(EXAMPLE, 25, last=last)[0].startswith("*The digit changed")
    assert roundtrip.digit_changed(EXAMPLE, None, last=shown) == (None, shown)
    keep = roundtrip.KEEP
    assert roundtrip.after_digit_change(EXAMPLE, 25, None, None, roundtrip.DigitMemo(shown), None, None, None, None,
                                        None)[:5] == (keep, keep, None, keep, None)


def test_roundtrip_main_panels_are_x0_x_t_and_the_chain_from_x_t(model, sched):
    """The main picture is x_0 | x_t at the chosen t (the fixed eps) | the reverse chain from that x_t: not the
    strip's first chain, nor x_T. DDIM, so the chain from x_t can be rerun exactly."""
    s = settings(sched.T, n=1, steps=3, seed=2)
    x0 = forward.digit_tensor(DIGIT)
    for t in (7, 13):
        r = roundtrip.roundtrip(model, sched, DIGIT, t, s)
        x_t = forward.jump(sched, x0, t, forward.fixed_eps(s.seed))
        back = finish(roundtrip.denoise_steps(model, sched, x_t, t, s)).x_prev.clamp(-1, 1)
        want = draw.hstack([draw.titled(draw.digits(x0, scale=6), "x_0, your digit"),
                            draw.titled(draw.digits(x_t.clamp(-1, 1), scale=6), f"x_t, t = {t}"),
                            draw.titled(draw.digits(back, scale=6), "denoised from x_t")])
        assert same(r.main, want), t


def test_roundtrip_strip_shows_each_strip_t_noised_and_its_chain_under_its_own_label(model, sched):
    """The strip: above, the digit noised to each of strip_ts (the fixed eps), below, the chain from that x_t, each
    labelled with its own t; not the chosen t's chain (starts[0]) shifted in, nor labels one column off."""
    import numpy as np
    from ddpm.images import to_uint8_np

    s = settings(sched.T, n=1, steps=3, seed=2)
    r = roundtrip.roundtrip(model, sched, DIGIT, 5, s)  # t = 5 is not one of the strip's t's
    x0, ts = forward.digit_tensor(DIGIT), roundtrip.strip_ts(sched.T)
    noisy = [forward.jump(sched, x0, u, forward.fixed_eps(s.seed)) for u in ts]
    back = [finish(roundtrip.denoise_steps(model, sched, x_u, u, s)).x_prev.clamp(-1, 1) for u, x_u in zip(ts, noisy)]
    labels = [f"t={u}" for u in ts]
    want = draw.titled_rows([
        (draw.labelled_strip(to_uint8_np(torch.cat(noisy)), labels), "x_t: the digit noised to t (same eps)"),
        (draw.labelled_strip(to_uint8_np(torch.cat(back)), labels), "the reverse chain from x_t"),
    ])
    got, want = np.asarray(r.strip).astype(int), np.asarray(want).astype(int)
    assert got.shape == want.shape and np.abs(got - want).max() <= 1  # one grey level: a batch's float rounding


def test_roundtrip_chains_run_on_the_models_device(sched):
    """The chains move to the model's device (a GPU's): a model on the meta device sees only meta tensors."""
    class Stub(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1, device="meta"))
            self.config, self.seen = tiny_config(), set()

        def forward(self, x, t, *args, **kw):
            self.seen.add(x.device.type)
            return torch.zeros_like(x)

    stub = Stub().eval()
    noisy = [forward.jump(sched, forward.digit_tensor(DIGIT), u, forward.fixed_eps(0)) for u in (3, 5)]
    list(roundtrip.chains(stub, sched, noisy, [3, 5], settings(sched.T, n=1, sampler="ddpm")))
    assert stub.seen == {"meta"}


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_roundtrip_reverse_noise_is_not_the_forward_eps(model, sched, monkeypatch, sampler):
    """The forward eps comes from the generator of (seed, 0); the reverse chains must draw from other streams."""
    seen, real = [], roundtrip.sample_generators
    monkeypatch.setattr(roundtrip, "sample_generators", lambda *a: seen.append(a) or real(*a))
    roundtrip.roundtrip(model, sched, DIGIT, 10, settings(sched.T, n=1, sampler=sampler, eta=1.0, seed=5))
    assert len(seen) == 11 and all(a == (5, 1, 1) for a in seen)  # one each, from (5, 1): not (5, 0), tab 1's eps


@pytest.mark.parametrize("how", [dict(sampler="ddpm"), dict(steps=4), dict(steps=20), dict(steps=6, eta=1.0)])
def test_roundtrip_chains_run_as_one_batch_end_where_each_would_alone(model, sched, how):
    """The strip's chains share one network pass per step (chains), each at its own t, yet each draws its own noise
    as denoise_steps does alone, from (seed, 1): the same x_0 up to batched float rounding. DDIM's chains ran one
    after another (1000 steps from t = T cost some 6,500 one-digit passes); now the longest chain's count."""
    s = settings(sched.T, n=1, seed=3, **how)
    starts = [7, *roundtrip.strip_ts(sched.T)]
    x0 = forward.digit_tensor(DIGIT)
    noisy = [forward.jump(sched, x0, u, forward.fixed_eps(s.seed)) for u in starts]
    counted = Counting(model)
    steps = list(roundtrip.chains(counted, sched, noisy, starts, s))
    longest = max(len(samplers.reverse_timesteps(s.sampler, u - 1, s.steps)) for u in starts)
    assert len(steps) == counted.calls == longest  # one batched pass a step
    if s.sampler == "ddpm":  # every chain running is at the same t, down to t = 0
        assert [now for now, _ in steps] == [[t] * len(now) for t, (now, _) in zip(range(sched.T - 1, -1, -1), steps)]
    assert [len(now) for now, _ in steps][-1] == len(starts)  # all end together
    for u, x_u, batched in zip(starts, noisy, steps[-1][1]):
        alone = finish(roundtrip.denoise_steps(model, sched, x_u, u, s)).x_prev
        assert torch.allclose(batched, alone, atol=1e-4), u


def test_roundtrip_chains_refuse_what_a_chain_alone_refuses(model, sched):
    """chains checks the settings as sample_loop does for denoise_steps: an eta with DDPM, or outside [0, 1], ran
    unsaid (DDPM ignored it; -1 or nan gave DDIM a wrong sigma)."""
    import dataclasses
    noisy = [forward.jump(sched, forward.digit_tensor(DIGIT), 5, forward.fixed_eps(0))]
    ddpm, ddim = settings(sched.T, n=1, sampler="ddpm"), settings(sched.T, n=1)
    for s in [dataclasses.replace(ddpm, eta=0.5), dataclasses.replace(ddim, eta=-1.0),
              dataclasses.replace(ddim, eta=float("nan"))]:
        with pytest.raises(ValueError, match="eta"):
            next(roundtrip.chains(model, sched, noisy, [5], s))


def test_roundtrip_chains_refuse_dropout_in_training_mode(sched):
    """The batched chains skip sample_loop, so they ask for eval mode themselves (dropout would not follow the seed)."""
    from conftest import tiny_model

    noisy = [forward.jump(sched, forward.digit_tensor(DIGIT), 5, forward.fixed_eps(0))]
    with pytest.raises(ValueError, match="training mode"):
        next(roundtrip.chains(tiny_model(dropout=0.5).train(), sched, noisy, [5], settings(sched.T, n=1)))


def test_roundtrip_small_t_keeps_the_digit(model, sched):
    """At t = 1 almost no noise is added, so the reverse chain must give (nearly) the digit back."""
    x0 = to_model_range(torch.as_tensor(DIGIT)[None])
    x_t = forward.jump(sched, x0, 1, forward.fixed_eps(0))
    back = finish(roundtrip.denoise_steps(model, sched, x_t, 1, settings(sched.T, n=1, sampler="ddpm"))).x_prev
    assert (back - x0).abs().mean() < 0.1


class Counting(torch.nn.Module):
    """The model, counting its forward passes."""

    def __init__(self, model):
        super().__init__()
        self.model, self.config, self.calls = model, model.config, 0

    def forward(self, *args, **kw):
        self.calls += 1
        return self.model(*args, **kw)


@pytest.mark.parametrize("job", ["trajectory", "roundtrip"])
def test_long_jobs_report_progress_and_stop_when_their_stream_is_closed(model, sched, job):
    """The app stops a job whose tab has gone by not asking its generator for more: the network must stop too."""
    def stream(m):
        if job == "trajectory":
            return trajectory.trajectory_stream(m, sched, settings(sched.T, n=1, sampler="ddpm"))
        return roundtrip.roundtrip_stream(m, sched, DIGIT, sched.T, settings(sched.T, n=1, sampler="ddpm"))

    whole = Counting(model)
    items = list(stream(whole))
    lines, result = items[:-1], items[-1]
    assert 10 <= len(lines) <= 25 and all(isinstance(x, Progress) and x.text.startswith("Denoising: ") for x in lines)
    assert all(x.text.startswith(roundtrip.RUNNING) for x in lines)  # tab 4's change of digit tells them by it
    # the animation shows x_t | x0_hat | eps_hat while it runs; noise and denoise, the line alone
    assert all((x.picture is not None) == (job == "trajectory") for x in lines)
    # the first report comes after the first step, from paper t = T = 20 to 19
    assert ("step 1 of 20 (t = 20)" if job == "trajectory" else "now at t = 19, step 1 of 20") in lines[0].text
    if job == "roundtrip":  # the batch holds only the chains begun: at t = 19 the one from T = 20, not the strip's
        assert lines[0].text.startswith("Denoising: 2 of 11 chains as one batch")  # t and the strip's t = 20
        assert lines[-1].text.startswith("Denoising: 11 of 11 chains")
    assert isinstance(result, trajectory.Trajectory if job == "trajectory" else roundtrip.RoundTrip)
    # trajectory: one chain of T steps; roundtrip: the chain from t = T and the strip's ten as one batch of T steps
    assert whole.calls == sched.T
    cut = Counting(model)
    s = stream(cut)
    assert next(s).text.startswith("Denoising: ")
    s.close()  # what Gradio does when the browser goes away
    assert cut.calls <= whole.calls // 10


def test_interpolation_mixes_the_two_noised_digits_and_lambda_0_is_tab_4s_chain(model, sched):
    """Ho et al. Sec. 4.4: x_bar_t = (1 - lambda) x_t + lambda x'_t with x_t, x'_t fixed; lambda = 0 is your digit
    noised exactly as tab 4 noises it, and denoised as tab 4 denoises it (with DDPM's fresh noise too)."""
    other, t = load_sample()[0][1], 12
    for s in (settings(sched.T, n=1, steps=4), settings(sched.T, n=1, sampler="ddpm")):
        *reports, r = interpolate.interpolate_stream(model, sched, DIGIT, other, t, s)
        assert reports and all(isinstance(p, Progress) for p in reports) and "t = 12" in r.text
        assert all(p.text.startswith(roundtrip.RUNNING) for p in reports)  # a change of digit can say it stopped
        x_t = forward.jump(sched, forward.digit_tensor(DIGIT), t, forward.fixed_eps(0))
        x_t_other = forward.jump(sched, forward.digit_tensor(other), t, interpolate.other_eps(0))
        lam = interpolate.lambdas().view(-1, 1, 1, 1)
        assert r.x_bar_t.shape == r.x_bar_0.shape == (interpolate.COLUMNS, 1, 28, 28)
        assert torch.allclose(r.x_bar_t, (1 - lam) * x_t + lam * x_t_other, atol=1e-6)
        assert torch.equal(r.x_bar_t[0], x_t[0]) and torch.allclose(r.x_bar_t[-1], x_t_other[0], atol=1e-6)
        # the first row mixes the clean digits the same way round: lambda = 0 is yours, lambda = 1 the other
        x0, x0_other = forward.digit_tensor(DIGIT), forward.digit_tensor(other)
        assert torch.equal(r.pixels[0], x0[0]) and torch.allclose(r.pixels[-1], x0_other[0], atol=1e-6)
        *_, alone = roundtrip.denoise_steps(model, sched, x_t, t, s)
        assert torch.allclose(r.x_bar_0[0], alone.x_prev.clamp(-1, 1)[0], atol=1e-4)
        again = finish(interpolate.interpolate_stream(model, sched, DIGIT, other, t, s))
        assert same(r.image, again.image) and torch.equal(r.x_bar_0, again.x_bar_0)
    # eps' is a stream of its own: not tab 1's eps (seed, 0), nor a column's reverse noise (seed, REVERSE_FIRST ..)
    gens = sample_generators(0, 1) + sample_generators(0, interpolate.COLUMNS, first=roundtrip.REVERSE_FIRST)
    used = [torch.randn((1, 1, 28, 28), generator=g) for g in gens]
    assert not any(torch.allclose(interpolate.other_eps(0), u) for u in used)
    with pytest.raises(InputError, match="t must be between 1 and 20"):
        finish(interpolate.interpolate_stream(model, sched, DIGIT, other, 0, settings(sched.T, n=1)))
    eta = settings(sched.T, n=1, steps=2, eta=0.5)  # DDIM with eta > 0 is not noiseless
    assert "each column also draws its own reverse noise" in finish(
        interpolate.interpolate_stream(model, sched, DIGIT, other, t, eta)).text
    assert interpolate.default_t(1000) == 333 and interpolate.default_t(20) == 7  # near T/3


def test_interpolation_reports_count_the_steps_its_chain_runs(model, sched):
    """Each report says step k of the steps the mixes' chain runs from paper t: DDPM's t of them (not t + 1, the
    chain from code index t), DDIM's min(steps, t)."""
    other = load_sample()[0][1]
    for s, n in ((settings(sched.T, n=1, sampler="ddpm"), 12), (settings(sched.T, n=1, steps=20), 12)):
        *reports, _ = interpolate.interpolate_stream(model, sched, DIGIT, other, 12, s)
        assert reports and all(f" of {n}, " in r.text for r in reports), reports[0].text


def test_interpolation_picture_rows_are_the_pixel_mix_x_bar_t_and_x_bar_0_under_their_lambdas(model, sched):
    """The picture's three rows are what the Interpolation holds (the pixel mix, x_bar_t, the denoised x_bar_0), each
    column under its own lambda from 0 (your digit) to 1: not x_bar_t twice, nor a row or the labels reversed."""
    import numpy as np
    from ddpm.images import to_uint8_np

    r = finish(interpolate.interpolate_stream(model, sched, DIGIT, load_sample()[0][1], 12,
                                              settings(sched.T, n=1, steps=4)))
    labels = ["0", "0.125", "0.25", "0.375", "0.5", "0.625", "0.75", "0.875", "1"]
    rows = [(r.pixels, "pixels mixed, (1 - lambda) x_0 + lambda x'_0 (for comparison)"),
            (r.x_bar_t, "x_bar_t = (1 - lambda) x_t + lambda x'_t, t = 12"), (r.x_bar_0, "x_bar_t denoised by the model")]
    want = draw.titled_rows([(draw.labelled_strip(to_uint8_np(x), labels), title) for x, title in rows])
    assert not torch.allclose(r.x_bar_0, r.x_bar_t.clamp(-1, 1), atol=0.05)  # the rows can tell the two apart
    assert np.array_equal(np.asarray(r.image), np.asarray(want))


def test_strip_ts():
    assert roundtrip.strip_ts(1000) == list(range(100, 1001, 100))
    assert roundtrip.strip_ts(20) == list(range(2, 21, 2))
    assert roundtrip.strip_ts(5) == [1, 2, 3, 4, 5] and roundtrip.strip_ts(2) == [1, 2]  # never t = 0: no step


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_noise_and_denoise_runs_on_a_model_of_two_timesteps(sampler):
    """The app runs tab 4 at start-up: on T = 2 to 5 its strip held t = 0, a chain of no step, and app.py died."""
    sched2, model2 = NoiseSchedule(2), tiny_model(timesteps=2)
    done = finish(roundtrip.roundtrip_stream(model2, sched2, DIGIT, 1, roundtrip.chain_settings(0, sampler, 2, 2)))
    assert f"denoised with {'1 step (DDPM)' if sampler == 'ddpm' else '1 DDIM step'};" in done.text


def test_roundtrip_reports_count_the_longest_chains_steps_whatever_t_is_chosen(model, sched):
    *reports, _ = roundtrip.roundtrip_stream(model, sched, DIGIT, 3, settings(sched.T, n=1, sampler="ddpm"))
    assert len(reports) >= 10 and all(" of 20, " in r.text for r in reports), reports[-1].text


def test_tab_4s_chains_on_a_long_model_keep_to_the_digit_steps_one_run_may_ask():
    """The strip's chains run up to T: on a T = 4000 model DDPM asked 22,001 digit-steps or more of a run (the
    interpolation 36,000 at t = T), past the 16,000 every other tab keeps to; refused in words, DDIM's fewer steps
    still run."""
    from conftest import tiny_model
    from ddpm.demo.sources import EXAMPLE, pick_digit

    model, sched, digit = tiny_model(timesteps=4000), NoiseSchedule(4000), pick_digit(EXAMPLE, 0)
    ddpm, ddim = (roundtrip.chain_settings(0, sampler, 50, 4000) for sampler in ("ddpm", "ddim"))
    with pytest.raises(InputError, match=r"^Your chain and the strip's 10 chains, DDPM from t = 4000 down, ask 22,001 "
                                         r"digit-steps: .* \(16,000\); choose DDIM with fewer steps$"):
        next(roundtrip.roundtrip_stream(model, sched, digit, 1, ddpm))
    with pytest.raises(InputError, match=r"^The 9 mixes, DDPM from t = 4000 down, ask 36,000 digit-steps: .*, or a "
                                         r"smaller t$"):
        next(interpolate.interpolate_stream(model, sched, digit, digit, 4000, ddpm))
    assert next(interpolate.interpolate_stream(model, sched, digit, digit, 1000, ddpm))  # 9,000: runs
    assert next(roundtrip.roundtrip_stream(model, sched, digit, 4000, ddim))
