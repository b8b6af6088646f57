"""One reverse step of each sampler against the papers' equations, with the same eps_hat and noise given to both:
DDIM at eta = 1 over consecutive steps is DDPM with sigma_t^2 = beta_tilde_t, and its noise scale is Eq. 16's."""
import math

import pytest
import torch

from ddpm.samplers import ddim_step, p_sample
from ddpm.schedule import SCHEDULES, NoiseSchedule


@pytest.mark.parametrize("kind", SCHEDULES)
def test_ddim_at_eta_1_from_t_to_t_minus_1_is_ddpm_with_beta_tilde(kind):
    """Song et al. Eq. 16 at eta = 1 and t_prev = t - 1: sigma^2 = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) *
    (1 - alpha_t) = beta_tilde_t (Ho et al. Eq. 7), and Eq. 12's mean is then Eq. 7's mu_tilde at x0_hat (no
    clipping, so neither sampler alters x0_hat). The steps agree to float32 rounding at both ends of the chain."""
    s, g = NoiseSchedule(1000, kind), torch.Generator().manual_seed(0)
    for t in (999, 500, 37, 1):
        x_t, eps_hat, z = (torch.randn(2, 1, 8, 8, generator=g) for _ in range(3))
        ddim, _ = ddim_step(s, x_t, t, t - 1, eps_hat, z, eta=1.0, clip=False)
        ddpm, _ = p_sample(s, x_t, t, eps_hat, z, variance="beta_tilde", clip=False)
        torch.testing.assert_close(ddim, ddpm, rtol=1e-5, atol=1e-5)


def test_ddim_between_eta_0_and_1_adds_eq_16s_noise():
    """Eq. 12 written out by hand in float64 at eta = 0.5 on a jump of 20 steps: sqrt(alpha_bar_prev) x0_hat +
    sqrt(1 - alpha_bar_prev - sigma^2) eps_hat + sigma z, with sigma = eta sqrt((1 - alpha_bar_prev) / (1 -
    alpha_bar_t) (1 - alpha_bar_t / alpha_bar_prev)) (Eq. 16; linear in eta, not its square)."""
    s, g = NoiseSchedule(1000, "linear"), torch.Generator().manual_seed(0)
    x_t, eps_hat, z = (torch.randn(1, 1, 4, 4, generator=g) for _ in range(3))
    ab, ab_prev = s.alpha_bar_f64[500].item(), s.alpha_bar_f64[480].item()
    sigma = 0.5 * math.sqrt((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev))
    x_prev, x0_hat = ddim_step(s, x_t, 500, 480, eps_hat, z, eta=0.5, clip=False)
    by_hand = math.sqrt(ab_prev) * x0_hat + math.sqrt(1 - ab_prev - sigma**2) * eps_hat + sigma * z
    torch.testing.assert_close(x_prev, by_hand, rtol=1e-5, atol=1e-6)
