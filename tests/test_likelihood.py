"""The variational bound (ddpm.likelihood): its Gaussians' KL and the decoder's bins against closed forms, a
network that knows x_0 pays only what the fixed variances cost, and the bundled model finds a real digit far
likelier than the same pixels shuffled."""
import math
from functools import partial

import pytest
import torch

from conftest import ROOT, at_once, run_python, tiny_config, tiny_model
from ddpm.data import load_sample, to_model_range
from ddpm.likelihood import (Bound, bound_terms, discretized_log_likelihood, known_x0_floor, normal_kl,
                             summary)
from ddpm.samplers import sample_generators
from ddpm.schedule import NoiseSchedule

LEVELS = torch.arange(256, dtype=torch.float64) / 127.5 - 1  # the 256 pixel levels of [-1, 1]


def test_normal_kl_is_torch_distributions_kl():
    g = torch.Generator().manual_seed(0)
    m1, m2 = torch.randn(2, 50, generator=g, dtype=torch.float64)
    v1, v2 = torch.rand(2, 50, generator=g, dtype=torch.float64) + 0.01
    Normal = torch.distributions.Normal
    want = torch.distributions.kl_divergence(Normal(m1, v1.sqrt()), Normal(m2, v2.sqrt()))
    assert torch.allclose(normal_kl(m1, v1, m2, v2), want, atol=1e-12)
    assert normal_kl(m1, v1, m1, v1).abs().max() < 1e-12


@pytest.mark.parametrize("mean,std", [(0.0, 0.01), (-1.0, 0.01), (0.3, 0.5), (5.0, 0.02), (-0.999, 1e-4)])
def test_the_decoder_bins_hold_all_the_mass_and_match_erf(mean, std):
    """Eq. 13: the 256 bins (the outer two reaching to +-inf) share the whole Gaussian, each its erf difference."""
    logp = discretized_log_likelihood(LEVELS, torch.tensor(mean, dtype=torch.float64), std)
    assert abs(logp.exp().sum().item() - 1) < 1e-9
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    for k in (0, 1, 128, 254, 255):
        hi = math.inf if k == 255 else LEVELS[k].item() + 1 / 255
        lo = -math.inf if k == 0 else LEVELS[k].item() - 1 / 255
        want = cdf((hi - mean) / std) - cdf((lo - mean) / std)
        if want > 1e-11:
            assert logp[k].exp().item() == pytest.approx(want, rel=1e-6, abs=1e-12)


def _oracle(x0, T=1000):
    """A network that knows x_0 (one image) and inverts Eq. 4: eps_hat is the true noise."""
    sched = NoiseSchedule(T, "linear")

    class Oracle(torch.nn.Module):
        config = tiny_config(timesteps=T)

        def forward(self, x_t, t, y):
            ab = sched.alpha_bar_f64[t].view(-1, 1, 1, 1)
            return ((x_t.double() - ab.sqrt() * x0.double()) / (1 - ab).sqrt()).float()
    return Oracle(), sched


def test_a_network_that_knows_x0_pays_only_for_the_fixed_variances():
    """With eps_hat the true noise, p_theta's mean is the posterior's: with sigma_t^2 = beta_tilde_t every KL is 0;
    with sigma_t^2 = beta_t each is the variance mismatch alone, 0.5 (log(beta / beta_tilde) + beta_tilde / beta - 1)
    nats a pixel. The decoder is then the mass of x_0's own bin around itself (Eq. 13)."""
    x0 = to_model_range(torch.from_numpy(load_sample()[0][:1]))  # (1, 1, 28, 28)
    model, sched = _oracle(x0)
    tilde = bound_terms(model, sched, x0, variance="beta_tilde", clip=False)
    assert tilde.terms[0, 1:].abs().max() < 1e-6
    beta = bound_terms(model, sched, x0, variance="beta", clip=False)
    b, bt = sched.betas[1:].double(), sched.posterior_variance[1:].double()
    mismatch = 0.5 * (torch.log(b / bt) + bt / b - 1) / math.log(2)  # bits a pixel = bits/dim
    assert torch.allclose(beta.terms[0, 1:], mismatch, rtol=1e-3, atol=1e-7)
    # the decoder: each pixel's bin around x0 itself, std sqrt(beta_tilde_2) under either variance
    std = sched.posterior_variance[1].double().sqrt()
    want = -discretized_log_likelihood(x0.double(), x0.double(), std).sum() / (784 * math.log(2))
    for bound in (beta, tilde):
        assert bound.terms[0, 0].item() == pytest.approx(want.item(), rel=1e-4)
    # all of it is what known_x0_floor counts without a network
    for bound, variance in ((beta, "beta"), (tilde, "beta_tilde")):
        assert known_x0_floor(sched, x0, variance).item() == pytest.approx(bound.total.item(), rel=1e-4)
    # the prior: x_T keeps sqrt(alpha_bar_T) = 0.0064 of x_0, a few millionths of a bit a pixel
    assert 0 < tilde.prior.item() < 1e-4 and tilde.prior.item() == beta.prior.item()


def test_the_bound_adds_up_and_image_k_depends_on_seed_and_k_alone():
    model, sched = tiny_model(), NoiseSchedule(20, "linear")
    x0 = to_model_range(torch.from_numpy(load_sample()[0][:3]))
    three, first = bound_terms(model, sched, x0, seed=5, batch_size=7), bound_terms(model, sched, x0[:1], seed=5,
                                                                                     batch_size=7)
    assert torch.equal(three.terms[:1], first.terms) and torch.equal(three.rmse[:1], first.rmse)
    # another batch of timesteps moves only the network's float rounding
    assert torch.allclose(bound_terms(model, sched, x0[:1], seed=5).terms, first.terms, rtol=1e-4, atol=1e-7)
    assert not torch.equal(bound_terms(model, sched, x0[:1], seed=6).terms, first.terms)
    # Fig. 5's rate: holding x_1 (code 0), all but the decoder is sent; holding x_T, the prior alone
    assert torch.allclose(three.rate()[:, 0] + three.terms[:, 0], three.total)
    assert torch.allclose(three.rate()[:, -1], three.prior) and (three.rate().diff(dim=1) <= 1e-12).all()
    # two copies of one digit get noise of their own: (seed, 0) and (seed, 1)
    twice = bound_terms(model, sched, x0[:1].expand(2, -1, -1, -1), seed=5, batch_size=7)
    assert torch.equal(twice.terms[0], first.terms[0]) and not torch.equal(twice.terms[1], twice.terms[0])
    assert isinstance(three, Bound) and three.terms.shape == (3, 20) and (three.terms[:, 1:] >= -1e-9).all()
    s = summary(three)
    assert s["n"] == 3 and s["bits_per_dim"] == pytest.approx(three.total.mean().item(), abs=1e-4)
    assert s["prior_L_T"] + s["decoder_L_0"] + s["steps_1_to_9"] + s["steps_10_up"] == pytest.approx(
        s["bits_per_dim"], abs=1e-3)


def test_one_step_recomputed_by_hand():
    """Code t = 5 of the second digit, from its draw of eps: the KL of Eq. 7's posterior from p_theta's Gaussian
    (torch.distributions), and the distortion as an RMSE on 0..255."""
    model, sched = tiny_model(), NoiseSchedule(20, "linear")
    both = to_model_range(torch.from_numpy(load_sample()[0][:2]))
    bound, x0 = bound_terms(model, sched, both, seed=3), both[1:]  # the second digit: its noise from (seed, 1)
    eps = torch.randn((20, 1, 28, 28), generator=sample_generators(3, 2)[1])[5:6]  # the draw for t = 5
    x_t = sched.q_sample(x0, 5, eps)
    with torch.no_grad():
        x0_hat = sched.predict_x0(x_t, 5, model(x_t, torch.tensor([5]), torch.tensor([10]))).clamp(-1, 1)
    mean_q, var_q = sched.q_posterior(x0, x_t, 5)
    mean_p, _ = sched.q_posterior(x0_hat, x_t, 5)
    Normal = torch.distributions.Normal
    kl = torch.distributions.kl_divergence(Normal(mean_q.double(), var_q.double().sqrt()),
                                           Normal(mean_p.double(), sched.sqrt_betas[5].double())).sum()
    assert bound.terms[1, 5].item() == pytest.approx(kl.item() / (784 * math.log(2)), rel=1e-4)
    assert bound.rmse[1, 5].item() == pytest.approx(((x0_hat - x0) * 127.5).pow(2).mean().sqrt().item(), rel=1e-5)


def test_guidance_and_clipping_are_part_of_p_theta():
    model, sched = tiny_model(), NoiseSchedule(20, "linear")
    x0 = to_model_range(torch.from_numpy(load_sample()[0][:1]))
    null = bound_terms(model, sched, x0).total
    assert torch.equal(bound_terms(model, sched, x0, label=3, guidance=0).total, null)  # w = 0: the null class
    assert not torch.equal(bound_terms(model, sched, x0, label=3, guidance=2).total,
                           bound_terms(model, sched, x0, label=3).total)
    assert not torch.equal(bound_terms(model, sched, x0, clip=False).total, null)


@pytest.mark.parametrize("x0,kw,message", [
    ("unit", {}, r"^x0 holds images on the 256 pixel levels of \[-1, 1\] \(ddpm.data.to_model_range makes them of "
                 r"uint8 digits; \[0, 1\] floats x: x \* 2 - 1\), which the decoder's bins are cut around, not "
                 r"values from 0 to 1, some between the levels$"),
    ("shifted", {}, r"not values from 1 to 3$"),  # on the levels' grid, past its ends
    ("nan", {}, r"^x0 holds nan or inf"),
    ("ok", {"label": torch.tensor([1, 2, 3])}, "label"),
    ("ok", {"label": 3, "guidance": -5}, "guidance must be between 0 and 10"),
    ("ok", {"label": "random"}, r"^label is None \(the null class\), a class, or a tensor of one class per image"),
    ("ok", {"batch_size": 0}, "batch_size"),
    ("one", {}, r"^x0 is a batch \(B, 1, 28, 28\) of the model's images \(one: x\[None, None\]\), not shape "
                r"\(28, 28\)$"),
])
def test_what_would_give_a_wrong_number_is_refused_in_words(x0, kw, message):
    model, sched = tiny_model(), NoiseSchedule(20, "linear")
    digits = to_model_range(torch.from_numpy(load_sample()[0][:2]))
    x0 = {"unit": (digits + 1) / 2, "shifted": digits + 2, "nan": digits * torch.nan, "ok": digits,
          "one": digits[0, 0]}[x0]
    with pytest.raises((ValueError, TypeError), match=message):
        bound_terms(model, sched, x0, **kw)


def test_a_label_per_image_is_each_images_own():
    model, sched = tiny_model(), NoiseSchedule(20, "linear")
    x0 = to_model_range(torch.from_numpy(load_sample()[0][:2]))
    both = bound_terms(model, sched, x0, label=torch.tensor([3, 8]))
    assert torch.equal(both.terms[:1], bound_terms(model, sched, x0[:1], label=3).terms)
    assert not torch.equal(both.terms[:1], bound_terms(model, sched, x0[:1], label=8).terms)
    assert not torch.equal(both.terms[:1], bound_terms(model, sched, x0[:1]).terms)  # the null class


def test_the_bundled_model_finds_a_real_digit_likelier_than_its_pixels_shuffled():
    """The trained network's bound on a test digit is about 2 bits/dim; the same 784 levels in a random order are
    no digit, and cost several times more (a model that had learnt nothing would not tell them apart)."""
    from ddpm.hub import load_pretrained
    model = load_pretrained(ROOT / "weights")
    sched = NoiseSchedule(model.config.timesteps, model.config.schedule)
    digit = to_model_range(torch.from_numpy(load_sample()[0][:1]))
    shuffled = digit.flatten()[torch.randperm(784, generator=torch.Generator().manual_seed(0))].view(1, 1, 28, 28)
    bound = bound_terms(model, sched, torch.cat([digit, shuffled]))
    real, noise = bound.total.tolist()
    assert 1 < real < 3 and noise > 2 * real
    assert bound.rmse[0, 0] < 2 and bound.rmse[0, -1] > 50  # Fig. 5: x0_hat exact at t = 1, a blur at T


def test_the_command_prints_the_bound_and_refuses_in_words(tmp_path):
    from ddpm.hub import save_pretrained
    folder, plain = save_pretrained(tiny_model(), tmp_path / "tiny"), save_pretrained(tiny_model(num_classes=0),
                                                                                        tmp_path / "plain")
    done = iter(at_once(*[partial(run_python, "-m", "ddpm.likelihood", *args) for args in (  # read in this order
        ["--help"], ["--weights", str(folder), "--sample", "--n", "2", "--json"],
        ["--weights", str(folder), "--sample", "--n", "301"],
        ["--weights", str(plain), "--sample", "--n", "1", "--given-class"])]))
    out = next(done)
    assert out.returncode == 0 and "bits/dim" in out.stdout and "--given-class" in out.stdout
    out = next(done)
    assert out.returncode == 0, out.stderr
    import json
    r = json.loads(out.stdout)
    assert r["n"] == 2 and r["images"] == "mnist bundled sample" and r["bits_per_dim"] > r["known_x0_floor"] > 0
    out = next(done)
    assert out.returncode == 2 and out.stderr.strip() == "error: --n 301 asks for more than the 300 test images there"
    out = next(done)
    assert out.returncode == 2 and "unconditional: drop --given-class" in out.stderr
