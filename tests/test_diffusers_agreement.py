"""Our schedule and steps agree with diffusers' DDPMScheduler and DDIMScheduler to 1e-5
given the same model output and the same noise (diffusers is a test-only dependency)."""
import pytest
import torch

from ddpm.samplers import ddim_step, ddim_timesteps, p_sample
from ddpm.schedule import NoiseSchedule

diffusers = pytest.importorskip("diffusers")
BETAS = {"linear": "linear", "cosine": "squaredcos_cap_v2"}


def _pair(kind, cls, **kw):
    ours = NoiseSchedule(1000, kind)
    theirs = cls(num_train_timesteps=1000, beta_schedule=BETAS[kind], beta_start=1e-4, beta_end=0.02,
                 prediction_type="epsilon", **kw)
    # diffusers keeps its arrays in float32, where 1 - alpha_bar cancels badly near t = 0; evaluate
    # its formulas in float64 so the comparison tests the formulas, not float32 rounding
    theirs.betas = theirs.betas.double()
    theirs.alphas = 1 - theirs.betas
    theirs.alphas_cumprod = torch.cumprod(theirs.alphas, 0)
    return ours, theirs


def _close(ours, theirs):
    return torch.allclose(ours, theirs.float(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_alpha_bar_matches(kind):
    ours, theirs = _pair(kind, diffusers.DDPMScheduler)
    assert torch.allclose(ours.alpha_bar, theirs.alphas_cumprod.float(), atol=1e-6, rtol=1e-5)
    assert torch.allclose(ours.betas, theirs.betas.float(), atol=1e-6)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("variance,variance_type", [("beta", "fixed_large"), ("beta_tilde", "fixed_small")])
@pytest.mark.parametrize("clip", [True, False])
def test_p_sample_matches(kind, variance, variance_type, clip):
    ours, theirs = _pair(kind, diffusers.DDPMScheduler, variance_type=variance_type, clip_sample=clip)
    g = torch.Generator().manual_seed(0)
    for t in (999, 500, 37, 1, 0):
        x_t, eps_hat = torch.randn(2, 1, 8, 8, generator=g), torch.randn(2, 1, 8, 8, generator=g)
        out = theirs.step(eps_hat.double(), t, x_t.double(), generator=torch.Generator().manual_seed(t))
        # the same noise as theirs: diffusers draws float64 randn (the dtype of its inputs) from the generator given
        noise = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(t), dtype=torch.float64).float()
        x_prev, x0_hat = p_sample(ours, x_t, t, eps_hat, noise, variance, clip)
        assert _close(x0_hat, out.pred_original_sample)
        assert _close(x_prev, out.prev_sample)


@pytest.mark.parametrize("steps", [50, 30, 7, 3, 1])
def test_ddim_timesteps_round_as_diffusers_trailing_spacing(steps):
    """Step counts that do not divide T (30: 999, 966, ...) round to the nearest t, as diffusers' "trailing" does
    (its float arithmetic rounds an exact half down at some counts, 48 the first: ddim_timesteps' docstring)."""
    theirs = diffusers.DDIMScheduler(num_train_timesteps=1000, timestep_spacing="trailing")
    theirs.set_timesteps(steps)
    assert ddim_timesteps(1000, steps) == theirs.timesteps.tolist()


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])  # 0.5: a sigma(eta) right only at 0 and 1 (sqrt(eta)) fails
@pytest.mark.parametrize("clip", [True, False])
def test_ddim_matches(kind, eta, clip):
    """With clipping, eps is recomputed from the clipped x0_hat (improved-diffusion; diffusers' use_clipped_model_output)."""
    ours, theirs = _pair(kind, diffusers.DDIMScheduler, clip_sample=clip, set_alpha_to_one=True,
                         timestep_spacing="trailing")
    theirs.set_timesteps(50)
    ts = ddim_timesteps(1000, 50)
    assert ts == theirs.timesteps.tolist()
    g = torch.Generator().manual_seed(1)
    for i, t in enumerate(ts):
        x_t, eps_hat = torch.randn(2, 1, 8, 8, generator=g), torch.randn(2, 1, 8, 8, generator=g)
        out = theirs.step(eps_hat.double(), t, x_t.double(), eta=eta, use_clipped_model_output=True, generator=torch.Generator().manual_seed(i))
        noise = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(i), dtype=torch.float64).float()
        t_prev = ts[i + 1] if i + 1 < len(ts) else -1
        x_prev, x0_hat = ddim_step(ours, x_t, t, t_prev, eps_hat, noise, eta, clip)
        assert _close(x0_hat, out.pred_original_sample)
        assert _close(x_prev, out.prev_sample)
