"""The math of the forward process and the posterior (Ho et al. 2020, Eqs. 2, 4, 6, 7, 11)."""
import math
import re

import pytest
import torch

from ddpm.config import SCHEDULES
from ddpm.schedule import BETAS, NoiseSchedule


@pytest.mark.parametrize("kind", SCHEDULES)
@pytest.mark.parametrize("T", [10, 1000])
def test_alpha_bar_decreases_in_unit_interval(kind, T):
    s = NoiseSchedule(T, kind)
    assert s.alpha_bar.shape == (T,) and s.alpha_bar.dtype == torch.float32
    assert (s.alpha_bar[1:] < s.alpha_bar[:-1]).all()
    assert 0 < s.alpha_bar[-1] < s.alpha_bar[0] < 1
    assert (s.log_snr[1:] < s.log_snr[:-1]).all()
    # 1e-3: near t = 0, 1 - alpha_bar from the float32 buffer keeps 3 digits; snr itself was made in float64
    torch.testing.assert_close(s.snr, s.alpha_bar / (1 - s.alpha_bar), rtol=1e-3, atol=0)
    torch.testing.assert_close(s.log_snr.exp(), s.snr, rtol=1e-4, atol=0)
    assert (s.posterior_variance <= s.betas + 1e-12).all()  # beta_tilde_t <= beta_t
    assert s.posterior_variance[0] == 0 and s.posterior_std[0] == 0  # the last step, to x_0, adds no noise


def test_cosine_alpha_bar_is_eq_17():
    """Nichol & Dhariwal's alpha_bar(t) = f(t) / f(0), f(t) = cos^2(((t/T + s) / (1 + s)) pi/2), at the paper's
    t = code t + 1 (the 0.999 cap on beta changes only the last step)."""
    T, s = 1000, 0.008
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    sched = NoiseSchedule(T, "cosine")
    for t in (0, 1, 500, 998):
        assert sched.alpha_bar[t].item() == pytest.approx(f(t + 1) / f(0), rel=1e-5)


def test_linear_endpoints_and_bad_kind():
    s = NoiseSchedule(1000, "linear")
    assert s.betas[0].item() == pytest.approx(1e-4) and s.betas[-1].item() == pytest.approx(0.02)
    by_hand = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)  # Ho et al., in float64
    assert s.alpha_bar_f64.dtype == torch.float64 and torch.allclose(s.alpha_bar_f64, by_hand, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="linear"):
        NoiseSchedule(1000, "no-such-schedule")


def test_every_schedule_name_has_its_own_betas(monkeypatch):
    """The flags' and configs' names (config.SCHEDULES) are BETAS's, so a name added to one alone is refused by
    NoiseSchedule in words, not run as another schedule."""
    assert tuple(BETAS) == SCHEDULES
    monkeypatch.setattr("ddpm.schedule.SCHEDULES", SCHEDULES + ("quadratic",))
    with pytest.raises(ValueError, match="'quadratic' has no betas: add its function to ddpm.schedule.BETAS"):
        NoiseSchedule(1000, "quadratic")


@pytest.mark.parametrize("T", [1, 2.5, "1000", True])
def test_a_T_that_is_no_whole_number_of_at_least_2_is_refused_in_words(T):
    with pytest.raises(ValueError, match=f"T must be a whole number of timesteps, at least 2, not {T!r}"):
        NoiseSchedule(T)  # 2.5 met linspace's TypeError, "1000" a comparison of str and int


def test_a_timestep_off_the_schedule_is_refused_not_wrapped_round():
    """t = -1 read a[-1], the last timestep's values: x_T's noise level for a t that does not exist."""
    s, x = NoiseSchedule(20), torch.zeros(2, 1, 28, 28)
    for t in (-1, 20, torch.tensor([3, 25])):
        with pytest.raises(IndexError, match=r"t is a code index from 0 to 19 \(the paper's t - 1\), not (-1|20|25)$"):
            s.q_sample(x, t, x)
    assert s.q_sample(x, torch.tensor([0, 19]), x).shape == x.shape


def test_a_batch_of_timesteps_off_the_schedule_is_refused_at_either_end():
    """A (B,) tensor of t's (training's batches, tab 4's chains) is checked as an int t is: -1 would read a[-1] (x_T's
    noise level) and T would meet torch's bare IndexError, not the message naming the code indices."""
    s, x = NoiseSchedule(20), torch.zeros(2, 1, 28, 28)
    for t in (torch.tensor([-1, 3]), torch.tensor([3, 20])):
        with pytest.raises(IndexError, match=r"t is a code index from 0 to 19 \(the paper's t - 1\), not (-1|20)$"):
            s.predict_x0(x, t, x)


def test_short_linear_schedules_are_rescaled_to_end_as_noisy():
    """Other T than 1000 scale the betas by 1000 / T (improved-diffusion), so T = 50 ends about as noisy
    (alpha_bar_T = 8e-6, against 4e-5 at T = 1000) instead of keeping a visible digit; at T <= 20
    the largest betas hit the cap of 0.999."""
    s = NoiseSchedule(50, "linear")
    assert s.betas[0].item() == pytest.approx(2e-3) and s.betas[-1].item() == pytest.approx(0.4)
    assert s.alpha_bar[-1].item() < 1e-4 and s.alpha_bar[-1].item() == pytest.approx(7.74e-6, rel=0.01)
    assert NoiseSchedule(1000, "linear").alpha_bar[-1].item() == pytest.approx(4.04e-5, rel=0.01)
    short = NoiseSchedule(10, "linear")
    assert short.betas[0].item() == pytest.approx(1e-2) and short.betas[-1].item() == pytest.approx(0.999)


def test_q_sample_at_code_t0_is_x0_up_to_one_step_of_noise():
    """t = 0 is the first noising step: x_t equals x0 up to sqrt(beta_1) = 1% noise, and exactly with eps = 0."""
    s = NoiseSchedule(1000, "linear")
    x0 = torch.rand(4, 1, 28, 28) * 2 - 1
    assert torch.allclose(s.q_sample(x0, 0, torch.zeros_like(x0)), x0, atol=1e-4)
    eps = torch.randn_like(x0)
    # |x_t - x0| <= (1 - sqrt(alpha_bar_0)) |x0| + sqrt(beta_1) |eps|: 5e-5 + 0.01 |eps|
    assert torch.allclose(s.q_sample(x0, 0, eps), x0, atol=0.0101 * eps.abs().max().item() + 1e-4)
    noise_only = s.q_sample(torch.zeros_like(x0), 0, eps)  # the noise enters with sqrt(1 - alpha_bar_0) = sqrt(beta_1)
    torch.testing.assert_close(noise_only, (1 - s.alpha_bar[0]).sqrt() * eps)
    torch.testing.assert_close((1 - s.alpha_bar[0]).sqrt(), torch.tensor(1e-4).sqrt())
    alpha_1, alpha_2 = 1 - 1e-4, 1 - (1e-4 + (0.02 - 1e-4) / 999)  # the linear betas' first two steps
    assert s.q_sample(torch.zeros(1), 1, torch.ones(1)).item() == pytest.approx(
        math.sqrt(1 - alpha_1 * alpha_2), rel=1e-5)  # code t = 1: two steps of noise, sqrt(1 - alpha_bar_2)


@pytest.mark.parametrize("kind", SCHEDULES)
def test_closed_form_matches_iterated_chain(kind):
    """Running Eq. 2 step by step gives the mean and variance of Eq. 4. With 20,000 chains the sample mean's sd is
    sqrt(var / 20000) <= 0.007 (atol 0.02 is 3 sd) and the sample variance's relative sd sqrt(2 / 20000) = 1% (rtol
    0.05 is 5 sd); against Eq. 4's own draws both sides are noisy, hence the wider 0.03 and 0.07."""
    s = NoiseSchedule(1000, kind)
    g = torch.Generator().manual_seed(0)
    x0 = torch.tensor([-1.0, -0.3, 0.5, 1.0]).repeat(20000, 1)  # 20000 chains of 4 pixels
    x = x0.clone()
    for t in range(1000):
        x = s.q_step(x, t, torch.randn(x.shape, generator=g))
        if t in (10, 250, 500, 999):  # (10 and 999 barely tell alpha_t from alpha_bar_t; 250, 500 do)
            mean, var = x.mean(0), x.var(0)
            assert torch.allclose(mean, s.sqrt_alpha_bar[t] * x0[0], atol=0.02)
            assert torch.allclose(var, 1 - s.alpha_bar[t].expand(4), rtol=0.05, atol=2e-4)
            jump = s.q_sample(x0, t, torch.randn(x.shape, generator=g))  # Eq. 4 itself, as many draws
            assert torch.allclose(mean, jump.mean(0), atol=0.03)
            assert torch.allclose(var, jump.var(0), rtol=0.07, atol=3e-4)


@pytest.mark.parametrize("kind", SCHEDULES)
def test_each_sigma_is_the_root_of_its_variance(kind):
    """Sec. 3.2's two choices, sigma_t^2 = beta_t or beta_tilde_t: the samplers read sigma_t itself, so a root
    left out (sigma_t = beta_tilde_t) would add far too little noise and no other schedule test would see it."""
    s = NoiseSchedule(1000, kind)
    torch.testing.assert_close(s.posterior_std ** 2, s.posterior_variance, rtol=1e-5, atol=1e-9)
    torch.testing.assert_close(s.sqrt_betas ** 2, s.betas, rtol=1e-5, atol=1e-9)


def test_chain_coefficients_multiply_to_closed_form():
    s = NoiseSchedule(1000, "linear")
    assert torch.allclose(torch.cumprod(s.alphas.double(), 0).float(), s.alpha_bar, rtol=1e-5)


@pytest.mark.parametrize("kind", SCHEDULES)
def test_x0_recovered_from_true_noise(kind):
    """Eq. 15 undoes Eq. 4 given the true eps, and the same relation solved for eps undoes it given x0, at every t.
    A round trip: both read the same arrays, so it is the chain test above that checks alpha_bar itself."""
    s = NoiseSchedule(1000, kind)
    g = torch.Generator().manual_seed(1)
    x0 = torch.rand(1000, 1, 4, 4, generator=g) * 2 - 1
    eps = torch.randn(x0.shape, generator=g)
    t = torch.arange(1000)
    x_t = s.q_sample(x0, t, eps)
    # exact up to float32 rounding of x_t, which dividing by sqrt(alpha_bar_t) amplifies
    tol = 1e-6 * (1 + s.sqrt_recip_alpha_bar).reshape(-1, 1, 1, 1) * 4
    assert ((s.predict_x0(x_t, t, eps) - x0).abs() <= tol).all()
    # solved for eps, the rounding is amplified by 1 / sqrt(1 - alpha_bar_t) instead: about 100 at code t = 0
    tol = 4e-6 * (1 + 1 / s.sqrt_one_minus_alpha_bar).reshape(-1, 1, 1, 1)
    assert ((s.predict_eps(x_t, t, x0) - eps).abs() <= tol).all()


@pytest.mark.parametrize("kind", SCHEDULES)
def test_posterior_matches_bayes_rule(kind):
    """q(x_{t-1}|x_t,x0) (Eq. 6) from Gaussian conjugacy, in float64, against Eq. 7's coefficients: Bayes' rule
    multiplies q(x_t|x_{t-1}) = N(sqrt(alpha_t) x_{t-1}, beta_t) (Eq. 2) by q(x_{t-1}|x0) = N(sqrt(alpha_bar_{t-1})
    x0, 1 - alpha_bar_{t-1}) (Eq. 4), so the precisions add: 1 / (1 - alpha_bar_{t-1}) + alpha_t / beta_t."""
    s = NoiseSchedule(1000, kind)
    ab = s.alpha_bar_f64
    x0, x_t = torch.tensor(0.7, dtype=torch.float64), torch.tensor(-0.2, dtype=torch.float64)
    m, v = s.q_posterior(x0.float().reshape(1, 1), x_t.float().reshape(1, 1), 0)  # the last step, x_1 -> x_0:
    assert m.item() == pytest.approx(0.7, abs=1e-6) and v.item() == 0  # alpha_bar_0 = 1, so x_0 itself
    for t in (1, 10, 500, 999):
        a_t, ab_prev = ab[t] / ab[t - 1], ab[t - 1]
        beta = 1 - a_t
        precision = 1 / (1 - ab_prev) + a_t / beta
        mean = (ab_prev.sqrt() * x0 / (1 - ab_prev) + a_t.sqrt() * x_t / beta) / precision
        m, v = s.q_posterior(x0.float().reshape(1, 1), x_t.float().reshape(1, 1), t)
        assert m.item() == pytest.approx(mean.item(), rel=1e-4, abs=1e-6)
        assert v.item() == pytest.approx((1 / precision).item(), rel=1e-4)


def test_posterior_mean_with_predicted_x0_is_eq11():
    """mu_tilde(x_t, x0_hat(eps)) = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t)."""
    s = NoiseSchedule(1000, "linear")
    x_t, eps = torch.randn(8, 1, 5, 5), torch.randn(8, 1, 5, 5)
    for t in (1, 100, 999):
        m, _ = s.q_posterior(s.predict_x0(x_t, t, eps), x_t, t)
        eq11 = (x_t - s.betas[t] / s.sqrt_one_minus_alpha_bar[t] * eps) / s.alphas[t].sqrt()
        assert torch.allclose(m, eq11, atol=1e-4)


def test_the_schedules_docstring_names_every_array_it_holds():
    """help(NoiseSchedule) is where a learner finds its arrays (vars() is not): each one it holds is listed."""
    doc = NoiseSchedule.__doc__
    missing = [k for k in vars(NoiseSchedule(10)) if not re.search(rf"\b{k}\b", doc)]
    assert not missing, missing
