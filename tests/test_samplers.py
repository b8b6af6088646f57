"""Seeded determinism, the (seed, k) property, the Step stream, guidance, and DDIM's numerics."""
import numpy as np
import pytest
import torch

from ddpm.samplers import ddim_step, ddim_timesteps, guided_eps, sample, sample_loop
from ddpm.schedule import SCHEDULES, NoiseSchedule  # (SCHEDULES: config's names, as the schedule takes them)


def _run(model, sched, **kw):
    return sample(model, sched, **kw)


@pytest.mark.parametrize("kw", [dict(sampler="ddpm"), dict(sampler="ddim", steps=5),
                                dict(sampler="ddim", steps=5, eta=0.5)])
def test_same_seed_is_bit_identical(model, sched, kw):
    a = _run(model, sched, n=3, seed=7, **kw)
    b = _run(model, sched, n=3, seed=7, **kw)
    c = _run(model, sched, n=3, seed=8, **kw)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("kw,draws", [(dict(sampler="ddpm"), 20), (dict(sampler="ddim", steps=4, eta=1.0), 4),
                                      (dict(sampler="ddim", steps=4), 1)])
def test_noise_is_drawn_only_where_a_step_uses_it(model, sched, monkeypatch, kw, draws):
    """x_T, then one draw per step that adds noise: none on the step to x_0 (DDPM's z = 0 at t = 1, DDIM's
    sigma = 0 there), none at all for deterministic DDIM. (The T = 20 model: DDPM draws x_T and 19 z.)"""
    import ddpm.samplers as samplers

    calls = []
    draw = samplers.randn_per_sample
    monkeypatch.setattr(samplers, "randn_per_sample", lambda *a: calls.append(1) or draw(*a))
    sample(model, sched, n=2, seed=0, **kw)
    assert len(calls) == draws
    x_prev, _ = ddim_step(sched, torch.zeros(1, 1, 4, 4), 3, -1, torch.zeros(1, 1, 4, 4), None, eta=1.0)
    assert x_prev.shape == (1, 1, 4, 4)  # the last step to x_0 needs no noise at eta = 1


@pytest.mark.parametrize("sampler,label,guidance",
                         [("ddpm", None, 1.0), ("ddim", 3, 2.5), ("ddpm", 5, 1.0), ("ddim", "random", 2.0)])
def test_sample_k_depends_only_on_seed_and_k(model, sched, sampler, label, guidance):
    eta = 1.0 if sampler == "ddim" else 0.0  # DDIM with fresh noise at each step, as DDPM draws
    steps = 4 if sampler == "ddim" else None  # DDPM runs all T
    small = _run(model, sched, n=2, seed=3, sampler=sampler, steps=steps, label=label, guidance=guidance, eta=eta)
    big = _run(model, sched, n=5, seed=3, sampler=sampler, steps=steps, label=label, guidance=guidance, eta=eta)
    batched = _run(model, sched, n=5, seed=3, sampler=sampler, steps=steps, label=label, guidance=guidance, eta=eta,
                   batch_size=2)
    # every random draw of sample k comes from (seed, k) alone; the network's float32 output differs
    # between batch sizes only in rounding (about 2e-5 at most on the bundled weights), though a pixel at a
    # rounding edge of its uint8 can move by one grey level
    shard = _run(model, sched, n=3, seed=3, sampler=sampler, steps=steps, label=label, guidance=guidance, eta=eta,
                 first=2)  # samples 2-4, as `ddpm.sample --first 2` draws them
    assert torch.allclose(small, big[:2], atol=1e-4)
    assert torch.allclose(big, batched, atol=1e-4)
    assert torch.allclose(shard, big[2:], atol=1e-4)
    assert not torch.allclose(big[0], big[1], atol=0.1)


def test_a_model_with_dropout_in_training_mode_is_refused():
    """Dropout in training mode draws from torch's global state, not from (seed, k): the same seed would give
    other digits, so sampling asks for eval mode (a model without dropout samples the same in either mode)."""
    from conftest import tiny_model

    model, sched = tiny_model(dropout=0.5).train(), NoiseSchedule(20)
    with pytest.raises(ValueError, match=r"training mode.*model\.eval\(\)"):
        sample(model, sched, n=1, seed=0, sampler="ddim", steps=2)
    a = sample(model.eval(), sched, n=1, seed=0, sampler="ddim", steps=2)
    assert torch.equal(a, sample(model, sched, n=1, seed=0, sampler="ddim", steps=2))
    plain = tiny_model().train()
    assert torch.equal(sample(plain, sched, n=1, seed=0), sample(plain.eval(), sched, n=1, seed=0))


def test_noise_of_sample_k_is_exactly_the_same_in_any_grid():
    from ddpm.samplers import randn_per_sample, sample_generators

    a = randn_per_sample(sample_generators(5, 4), (1, 28, 28), "cpu")
    b = randn_per_sample(sample_generators(5, 16), (1, 28, 28), "cpu")
    c = randn_per_sample(sample_generators(5, 12, first=4), (1, 28, 28), "cpu")
    assert torch.equal(a, b[:4]) and torch.equal(c, b[4:])


SEEDS_0 = [2968811710, 3964924996, 3141116543]  # seed 0's first three samples' generator seeds
LABELS_0 = [8, 6, 9, 9, 6, 5, 9, 9, 0, 8, 0, 0]  # seed 0's first twelve random labels


def test_seeds_and_labels_are_pinned_and_apart():
    """(seed, k) -> noise and label are the record's promise (--first shards join, a seed typed in the README gives
    its grid): their values are pinned; seed s's sample k+1 is not seed s+1's sample k (a seed + k scheme), and
    the label stream is not the noise's."""
    from ddpm.samplers import random_labels, randn_per_sample, sample_generators

    assert [g.initial_seed() for g in sample_generators(0, 3)] == SEEDS_0
    assert random_labels(0, 12, 10).tolist() == LABELS_0
    shape = (1, 4, 4)
    assert not torch.equal(randn_per_sample(sample_generators(3, 2), shape, "cpu")[1],
                           randn_per_sample(sample_generators(4, 1), shape, "cpu")[0])
    label_seed = [int(np.random.default_rng([0, k]).integers(10)) for k in range(12)]  # the noise's key, unsalted
    assert random_labels(0, 12, 10).tolist() != label_seed


def test_seeds_past_32_bits_share_no_noise_with_smaller_seeds():
    """numpy's SeedSequence reads [seed, k] as 32-bit words padded with zeros, so seed x * 2^32 + y drew seed y's
    sample x; seeds past 2^32 now have words of their own (below it nothing moved: SEEDS_0 above)."""
    from ddpm.samplers import MAX_SEED, random_labels, randn_per_sample, sample_generators

    def noise(seed, n=1, first=0):
        return randn_per_sample(sample_generators(seed, n, first), (1, 4, 4), "cpu")

    assert not torch.equal(noise(2**32)[0], noise(0, 2)[1])
    assert not torch.equal(noise(3 * 2**32 + 7)[0], noise(7, 4)[3])
    assert not torch.equal(noise(0, first=2**32)[0], noise(0, first=0)[0])  # an index past 32 bits, likewise
    assert not torch.equal(noise(2**32 + 5, first=9)[0], noise(5, first=2**32 + 9)[0])
    big = noise(MAX_SEED, 6)
    assert torch.equal(noise(MAX_SEED, 2, first=4), big[4:])  # still (seed, k) alone, at the top of the range
    assert torch.equal(random_labels(MAX_SEED, 3, 10, first=2), random_labels(MAX_SEED, 5, 10)[2:])


@pytest.mark.parametrize("seed, first, message", [(7.5, 0, "seed must be a whole number from 0 to 2\\^53 - 1, not 7.5"),
                                                  (-1, 0, "not -1"), (2**53, 0, "not 9007199254740992"),
                                                  ("7", 0, "not '7'"), (0, -2, "index \\(first \\+ k\\) must be"),
                                                  (0, 2**64 - 1, f"2\\^64 - 1, not {2**64}")])  # the last one past
def test_the_python_api_refuses_a_seed_the_app_would(seed, first, message):
    """7.5 drew seed 7's digits, 2^64 ran, -1 met numpy's bare 'expected non-negative integer'."""
    from ddpm.samplers import random_labels, sample_generators

    with pytest.raises(ValueError, match=message):
        sample_generators(seed, 2, first)
    with pytest.raises(ValueError, match=message):
        random_labels(seed, 2, 10, first)


def test_random_labels_depend_only_on_seed_and_k():
    from ddpm.samplers import random_labels

    big = random_labels(5, 1000, 10)
    assert torch.equal(random_labels(5, 4, 10), big[:4]) and torch.equal(random_labels(5, 6, 10, first=4), big[4:10])
    assert not torch.equal(random_labels(6, 1000, 10), big)
    shares = torch.bincount(big, minlength=10) / 1000.0
    assert shares.shape == (10,) and shares.min() > 0.06 and shares.max() < 0.14  # uniform: sd 0.0095


def test_random_label_is_the_conditional_sampler_with_the_drawn_label(model, sched):
    """label="random" = the class-conditional sampler, each sample with its own digit from (seed, k)."""
    from ddpm.samplers import random_labels

    mixed = _run(model, sched, n=4, seed=2, sampler="ddim", steps=3, label="random", guidance=2.0)
    for k, y in enumerate(random_labels(2, 4, 10).tolist()):
        alone = _run(model, sched, n=k + 1, seed=2, sampler="ddim", steps=3, label=y, guidance=2.0)[k]
        assert torch.allclose(mixed[k], alone, atol=1e-4)
    x = torch.randn(3, 1, 28, 28)
    per_sample = guided_eps(model, x, 5, torch.tensor([1, 7, 1]), guidance=2.0)
    assert torch.allclose(per_sample[1], guided_eps(model, x[1:2], 5, 7, guidance=2.0)[0], atol=1e-5)


@pytest.mark.parametrize("variance", ["beta", "beta_tilde"])
def test_a_ddpm_step_adds_the_variance_asked_with_sample_ks_noise(model, sched, variance):
    """sample_loop's DDPM step is p_sample with the variance asked (sigma^2 = beta or beta_tilde, Ho et al. Sec.
    3.2) and z the next draw of sample k's generator. On the T = 20 schedule the two sigmas are 0.24 and 0.07 at
    t = 1 but agree to float32 at t = T-1 (and with the exact eps both chains end at the data), so a chain begun at
    t = 1 tells them apart."""
    from ddpm.samplers import VARIANCES, p_sample, randn_per_sample, sample_generators

    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    step = next(sample_loop(model, sched, 2, 4, sampler="ddpm", variance=variance, x_start=x, t_start=1))
    z = randn_per_sample(sample_generators(4, 2), (1, 28, 28), "cpu")  # x_start given: z is the first draw
    want, _ = p_sample(sched, x, 1, step.eps_hat, z, variance)
    torch.testing.assert_close(step.x_prev, want)
    other, _ = p_sample(sched, x, 1, step.eps_hat, z, next(v for v in VARIANCES if v != variance))
    assert not torch.allclose(other, want, atol=1e-3)


def test_ddpm_yields_every_step(model, sched):
    steps = list(sample_loop(model, sched, n=2, seed=0, sampler="ddpm"))
    assert [s.t for s in steps] == list(range(19, -1, -1)) and [s.t_prev for s in steps] == list(range(18, -2, -1))
    for s, nxt in zip(steps, steps[1:]):
        assert torch.equal(s.x_prev, nxt.x_t)
    s = steps[5]
    assert s.x_t.shape == s.x0_hat.shape == s.eps_hat.shape == (2, 1, 28, 28)
    assert s.x0_hat.abs().max() <= 1  # clipped
    assert torch.allclose(sched.predict_x0(s.x_t, s.t, s.eps_hat).clamp(-1, 1), s.x0_hat, atol=1e-6)


def test_ddim_subsequence_and_start_from_noised_image(model, sched):
    steps = list(sample_loop(model, sched, n=1, seed=0, sampler="ddim", steps=4))
    assert [s.t for s in steps] == [19, 14, 9, 4] and [s.t_prev for s in steps] == [14, 9, 4, -1]
    assert [(s.paper_t, s.paper_t_prev) for s in steps] == [(20, 15), (15, 10), (10, 5), (5, 0)]  # x_T .. x_0
    x_start = torch.zeros(1, 1, 28, 28)
    part = list(sample_loop(model, sched, n=1, seed=0, sampler="ddpm", x_start=x_start, t_start=6))
    assert [s.t for s in part] == list(range(6, -1, -1)) and torch.equal(part[0].x_t, x_start)


def test_start_images_split_across_batches_with_their_samples(model, sched):
    x_start = torch.randn(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    kw = dict(seed=3, sampler="ddim", steps=3, eta=1.0, t_start=9)
    whole = sample(model, sched, n=5, batch_size=5, x_start=x_start, **kw)
    batched = sample(model, sched, n=5, batch_size=2, x_start=x_start, **kw)  # batches of 2, 2 and 1
    torch.testing.assert_close(batched, whole, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match=r"x_start must be a tensor of 2 images, shape \(2, 1, 28, 28\), not "
                                         r"\(5, 1, 28, 28\)"):
        sample_loop(model, sched, n=2, seed=0, x_start=x_start, t_start=9)
    with pytest.raises(ValueError, match=r"x_start must hold 4 rows, one per sample, not shape \(5, 1, 28, 28\)"):  # not its first 4 taken
        sample(model, sched, n=4, batch_size=2, x_start=x_start, **kw)
    labels = torch.tensor([3, 1, 4, 1, 5])  # one per sample, split with them: the same digits however batched
    torch.testing.assert_close(sample(model, sched, n=5, batch_size=2, label=labels, x_start=x_start, **kw),
                               sample(model, sched, n=5, batch_size=5, label=labels, x_start=x_start, **kw),
                               rtol=0, atol=1e-5)


@pytest.mark.parametrize("kw, message", [
    (dict(t_start=20), r"t_start must be a code index from 0 to 19 \(the paper's t - 1\), not 20"),
    (dict(t_start=-1), "not -1"), (dict(t_start=2.5), "not 2.5"),
    (dict(t_start=5, x_start=None), "t_start is the timestep x_start sits at: give x_start"),
    (dict(x_start=torch.zeros(2, 3, 28, 28)), r"shape \(2, 1, 28, 28\), not \(2, 3, 28, 28\)"),
    (dict(x_start=np.zeros((2, 1, 28, 28))), "x_start must be a tensor of 2 images, .* not ndarray"),
    (dict(label=torch.tensor([1, 2, 3])), r"a label tensor holds one class per sample, shape \(2,\), not \(3,\)"),
    (dict(label=torch.tensor([[3], [4]]), guidance=2), r"shape \(2,\), not \(2, 1\)")])  # (0-d: one for all)
def test_a_chain_begun_part_way_or_a_label_tensor_that_cannot_run_is_refused_in_words(model, sched, kw, message):
    """t_start past the chain ran torch's IndexError; -1 ran no step (sample then failed on None); 2.5 ran as 2;
    t_start without x_start took pure noise for x_t; a label tensor of 3 for 2 samples drew 3 samples."""
    kw = dict(sampler="ddpm", x_start=torch.zeros(2, 1, 28, 28), t_start=5) | kw
    with pytest.raises(ValueError, match=message):
        sample_loop(model, sched, 2, 0, **kw)


def test_guided_eps_pairs_each_row_with_its_own_t_on_every_path(model):
    """A (B,) t (tab 4's batched chains, each at its own t) reaches the network row by row on every path: the null
    class, the class alone (w = 1), and guidance's doubled batch, whose null rows must take the same t's as its
    class rows. Each row's eps_hat is what that row alone at its own t gets."""
    x = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    ts = torch.tensor([2, 9, 17])
    for label, w in ((None, 1.0), (4, 1.0), (4, 2.0), (torch.tensor([1, 7, 3]), 2.0)):
        per_row = guided_eps(model, x, ts, label, guidance=w)
        for k in range(3):
            alone = guided_eps(model, x[k:k + 1], int(ts[k]), label[k:k + 1] if torch.is_tensor(label) else label,
                               guidance=w)
            assert torch.allclose(per_row[k], alone[0], atol=1e-5), (label, w, k)


def test_guidance_0_and_1_cost_one_network_pass(model):
    """w = 0 is the null class alone and w = 1 the class alone: one pass of the batch, as generate.network_passes
    counts a step for the app's cost limit; only another w runs the doubled batch (null rows and class rows)."""
    from ddpm.demo.generate import network_passes

    x, seen = torch.randn(2, 1, 28, 28), []
    hook = model.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[0]))
    try:
        for w in (0.0, 1.0, 2.0):
            seen.clear()
            guided_eps(model, x, 5, 4, guidance=w)
            assert seen == [2 * network_passes(4, w)], w
    finally:
        hook.remove()


def test_guidance_scales(model):
    x = torch.randn(2, 1, 28, 28)
    uncond = guided_eps(model, x, 5, None)
    cond = guided_eps(model, x, 5, 4, guidance=1.0)
    assert torch.allclose(guided_eps(model, x, 5, 4, guidance=0.0), uncond)
    assert not torch.allclose(cond, uncond)
    w = 3.0
    assert torch.allclose(guided_eps(model, x, 5, 4, guidance=w), uncond + w * (cond - uncond), atol=1e-5)


@pytest.mark.parametrize("sampler, eta", [("ddpm", 0.0), ("ddim", 0.0), ("ddim", 1.0)])
def test_unclipped_sampling_keeps_eq4s_x0_hat_and_stays_finite(model, sched, sampler, eta):
    """clip=False (`--no-clip`): x0_hat is Eq. 4's own, beyond [-1, 1] at the noisy steps, and every step
    stays finite; the returned images are still clamped to [-1, 1]."""
    many = 5 if sampler == "ddim" else None  # DDPM runs all T
    steps = list(sample_loop(model, sched, n=2, seed=0, sampler=sampler, steps=many, eta=eta, clip=False))
    for s in steps:
        assert torch.isfinite(s.x_prev).all() and torch.isfinite(s.x0_hat).all(), s.t
        torch.testing.assert_close(s.x0_hat, sched.predict_x0(s.x_t, s.t, s.eps_hat))
    assert max(s.x0_hat.abs().max().item() for s in steps) > 1.5
    out = sample(model, sched, n=2, seed=0, sampler=sampler, steps=many, eta=eta, clip=False)
    assert torch.isfinite(out).all() and out.abs().max() <= 1
    assert not torch.equal(out, sample(model, sched, n=2, seed=0, sampler=sampler, steps=many, eta=eta))


@pytest.mark.parametrize("kw,message", [
    (dict(sampler="euler"), "sampler"), (dict(sampler="ddim", steps=0), "steps"),
    (dict(sampler="ddim", steps=21), r"from 1 to 20, one per timestep"), (dict(sampler="ddim", steps=2.5), "steps"),
    (dict(n=0), "n must be"), (dict(n=-1), "n must be"), (dict(batch_size=0), "batch_size must be"),
    (dict(label=10), r"class from 0 to 9"), (dict(label=-1), "class from"), (dict(label=7.9), "class from"),
    (dict(label="any"), "class from"), (dict(label=True), "class from"),
    (dict(label=3, guidance=-5), r"guidance must be between 0 and 10"),
    (dict(label=3, guidance=10.5), r"guidance must be between 0 and 10"),
    (dict(label=3, guidance=float("nan")), "guidance"),
    (dict(sampler="ddim", eta=-1), r"eta must be between 0"), (dict(sampler="ddim", eta=5), "eta"),
    (dict(sampler="ddim", eta=1.01), "eta"),  # past 1, sigma^2 outgrows 1 - alpha_bar_prev: a silently wrong step
    (dict(eta=0.5), r"eta=0.5 is a DDIM setting"), (dict(steps=5), r"steps=5 is a DDIM setting .*T = 20 from noise"),
    (dict(sampler="ddim", variance="beta_tilde"), r"variance='beta_tilde' is a DDPM setting .*set by eta"), (dict(label=np.array([1, 2])), "class from 0 to 9")])
def test_the_python_api_refuses_what_the_app_and_commands_refuse(model, sched, kw, message):
    """Each refused in words before any step runs (eta -1 once ran, subtracting sigma^2 with no noise added; label
    7.9 drew sevens, 10 the null class, -1 met torch's IndexError, n = 0 torch.cat's, DDPM's steps=5 ran all 20)."""
    kw = dict(n=2, seed=0) | kw
    with pytest.raises(ValueError, match=message):
        sample(model, sched, **kw)


def test_a_ddim_step_to_code_t_0_lands_on_x_1_not_x_0(sched):
    """t_prev = 0 is the paper's x_1, one step of noise from x_0 (alpha_bar_prev = alpha_bar_0 = 1 - beta_1 < 1);
    only t_prev = -1 is x_0 (alpha_bar_prev = 1, sigma = 0). A trailing DDIM of T steps takes that step (t = 1 -> 0)
    and so does tab 4's chain from a small t; Eq. 12 there keeps sqrt(1 - alpha_bar_0) of eps and, at eta > 0, a
    sigma > 0 of fresh noise."""
    import math

    g = torch.Generator().manual_seed(0)
    x, eps, noise = (torch.randn(2, 1, 8, 8, generator=g) for _ in range(3))
    ab = sched.alpha_bar_f64[0].item()
    x_prev, x0_hat = ddim_step(sched, x, 1, 0, eps, None, eta=0.0, clip=False)
    torch.testing.assert_close(x_prev, math.sqrt(ab) * x0_hat + math.sqrt(1 - ab) * eps)
    noisy, _ = ddim_step(sched, x, 1, 0, eps, noise, eta=1.0, clip=False)
    assert not torch.allclose(noisy, x_prev, atol=1e-3)  # sigma > 0: the step to x_1 draws noise


def test_a_ddim_step_up_the_chain_is_refused_in_words(sched):
    x = torch.zeros(1, 1, 28, 28)
    for t, t_prev in ((5, 10), (5, 5), (20, 3), (5, -2)):  # (5, 10) met math's bare "math domain error"
        with pytest.raises(ValueError, match=f"need -1 <= t_prev < t <= 19, not t = {t}, t_prev = {t_prev}"):
            ddim_step(sched, x, t, t_prev, x, None)


def test_sample_loop_refuses_at_the_call_not_at_its_first_step(model, sched):
    """A generator's body runs at the first next(): the checks run before it, so a bad call fails where it is made."""
    with pytest.raises(ValueError, match="eta must be between"):
        sample_loop(model, sched, 2, 0, sampler="ddim", eta=-1)
    with pytest.raises(ValueError, match="sampler must be one of"):
        sample_loop(model, sched, 2, 0, sampler="euler")


def test_a_label_on_an_unconditional_model_is_refused(sched):
    from conftest import tiny_model

    plain = tiny_model(num_classes=0)
    for label in (3, "random"):  # "random" drew the null class's digits, unsaid
        with pytest.raises(ValueError, match="no classes"):
            sample(plain, sched, n=1, seed=0, label=label, sampler="ddim", steps=2)
    assert sample(plain, sched, n=1, seed=0, sampler="ddim", steps=2).shape == (1, 1, 28, 28)


def test_whole_numbers_as_floats_sample_as_ints(model, sched):
    a = sample(model, sched, n=2.0, seed=0, sampler="ddim", steps=3.0, label=3.0, batch_size=1.0)
    assert torch.equal(a, sample(model, sched, n=2, seed=0, sampler="ddim", steps=3, label=3, batch_size=1))


@pytest.mark.parametrize("steps", [2, 5])
def test_ddim_with_full_noise_stays_finite_on_the_cosine_schedule(steps):
    # the cosine schedule's alpha_bar_999 is 2e-9: in float32, 1 - a_prev - sigma^2 rounded below 0 (NaN samples)
    sched = NoiseSchedule(1000, "cosine")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 1, 8, 8, generator=g)
    ts = ddim_timesteps(1000, steps)
    for t, t_prev in zip(ts, ts[1:] + [-1]):
        x, _ = ddim_step(sched, x, t, t_prev, torch.randn(x.shape, generator=g), torch.randn(x.shape, generator=g),
                         eta=1.0)
        assert torch.isfinite(x).all(), (t, t_prev)


class GaussianData(torch.nn.Module):
    """The exact eps-predictor for data x0 ~ N(m, s^2) in every pixel: x_t = sqrt(ab) x0 + sqrt(1 - ab) eps is
    Gaussian too, so E[eps | x_t] = sqrt(1 - ab) (x_t - sqrt(ab) m) / (ab s^2 + 1 - ab). Records each t it is given."""

    def __init__(self, sched, m: float, s: float):
        super().__init__()
        from conftest import tiny_config

        self.config = tiny_config(num_classes=0, timesteps=sched.T, schedule=sched.kind)
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # sample_loop finds the device from the parameters
        self.alpha_bar, self.m, self.s, self.seen = sched.alpha_bar_f64, m, s, []

    def forward(self, x_t, t, y=None):
        self.seen.append(t.tolist())
        ab = self.alpha_bar[t].to(x_t.dtype).view(-1, 1, 1, 1)
        return (1 - ab).sqrt() * (x_t - ab.sqrt() * self.m) / (ab * self.s ** 2 + 1 - ab)


@pytest.mark.parametrize("kind", SCHEDULES)
@pytest.mark.parametrize("sampler, eta, variance", [("ddpm", 0.0, "beta_tilde"), ("ddpm", 0.0, "beta"),
                                                    ("ddim", 0.0, "beta"), ("ddim", 1.0, "beta")])
def test_with_the_exact_eps_every_sampler_draws_the_data(kind, sampler, eta, variance):
    """End to end, without diffusers: given the true E[eps | x_t] of Gaussian data, the chain run over every t
    ends at that data's mean and spread (6,272 pixels: the sampling sd of their mean is 0.003, of their sd 0.9% of
    it), and the network is asked about t = T-1 .. 0 in order. (With 50 DDIM steps the sd comes out 5-20% low: the
    discretisation, which diffusers' schedulers share.)"""
    sched = NoiseSchedule(1000, kind)
    model = GaussianData(sched, m=0.1, s=0.25)
    x = sample(model, sched, n=8, seed=0, sampler=sampler, steps=1000, eta=eta, variance=variance, clip=False)
    assert x.mean().item() == pytest.approx(0.1, abs=0.01) and x.std().item() == pytest.approx(0.25, rel=0.03)
    assert model.seen == [[t] * 8 for t in range(999, -1, -1)]
    model.seen.clear()
    sample(model, sched, n=2, seed=0, sampler="ddim", steps=4)
    assert model.seen == [[t] * 2 for t in (999, 749, 499, 249)]


def test_a_chain_begun_part_way_takes_more_ddim_steps_than_t_as_every_t(model, sched):
    part = list(sample_loop(model, sched, n=1, seed=0, sampler="ddim", steps=50,
                            x_start=torch.zeros(1, 1, 28, 28), t_start=6))
    assert [s.t for s in part] == list(range(6, -1, -1))
