"""The package called from Python, as a learner or a researcher would: a plain mistake (a schedule that is not the
model's, a float t, a label it has no class for, a word for the variance, uint8 or [0, 1] images, a digit without
its batch and channel) is a message that names it, not a wrong answer given unsaid or an error from deep inside
torch (two reviews of the Python API found each)."""
import json

import numpy as np
import pytest
import torch

from conftest import tiny_model
from ddpm import hub
from ddpm.samplers import (ddim_step, guided_eps, p_sample, reverse_step, reverse_timesteps, sample, sample_generators,
                           sample_loop)
from ddpm.schedule import NoiseSchedule
from ddpm.training import diffusion_loss, train
from train_helpers import train_cfg

X = torch.zeros(2, 1, 28, 28)


def test_a_schedule_other_than_the_models_own_is_refused_for_sampling_and_for_the_loss():
    model = tiny_model(schedule="cosine")  # T = 20, cosine
    for sched in (NoiseSchedule(), NoiseSchedule(20)):  # the obvious call; the right T, the wrong kind
        with pytest.raises(ValueError, match=r"the schedule is \w+ with T = \d+, but the model was trained on "
                                             r"cosine with T = 20: use NoiseSchedule\(20, 'cosine'\)"):
            sample(model, sched, 2, 0, sampler="ddim", steps=5)
        with pytest.raises(ValueError, match="but the model was trained on cosine with T = 20"):
            diffusion_loss(model, sched, X, None, torch.Generator())
    assert sample(model, NoiseSchedule(20, "cosine"), 2, 0, sampler="ddim", steps=5).shape == (2, 1, 28, 28)


def test_label_tensors_are_checked_as_labels_are():
    cond, uncond = tiny_model(), tiny_model(num_classes=0)
    sched = NoiseSchedule(20)
    kw = dict(sampler="ddim", steps=2, guidance=2.0)
    with pytest.raises(ValueError, match="a label tensor: this model has no classes"):  # it was ignored unsaid
        sample(uncond, sched, 2, 0, label=torch.tensor([3, 3]), **kw)
    for bad in (torch.tensor([11, 2]), torch.tensor([-1, 2]), torch.tensor([1.0, 2.0]), torch.tensor([True, False])):
        with pytest.raises(ValueError, match=r"a label tensor holds whole numbers from 0 to 9 \(10: the null class\)"):
            sample(cond, sched, 2, 0, label=bad, **kw)
    assert sample(cond, sched, 2, 0, label=torch.tensor([10, 2]), **kw).shape == (2, 1, 28, 28)  # null: allowed
    for bad in (12, 3.7, True):  # not "index out of range in self" from the embedding, nor 3.7 read as 3
        with pytest.raises(ValueError, match=rf"label must be a class from 0 to 9, or 10 \(the null class\), "
                                             rf"not {bad}$"):
            guided_eps(cond, X, 5, bad, 2.0)
    with pytest.raises(ValueError, match="label=3: this model has no classes"):
        guided_eps(uncond, X, 5, 3, 2.0)
    with pytest.raises(ValueError, match="a label tensor: this model has no classes"):  # as sample_loop refuses it
        guided_eps(uncond, X, 5, torch.tensor([3, 4]), 2.0)
    with pytest.raises(ValueError, match="a label tensor holds whole numbers from 0 to 9"):
        guided_eps(cond, X, 5, torch.tensor([12, 1]), 2.0)
    assert guided_eps(cond, X, 5, np.int64(3), 2.0).shape == X.shape


def test_a_0_d_label_tensor_is_one_class_for_every_sample_as_an_int_is():
    """torch.tensor(7), a learner's natural label, was refused as "shape (n,), not ()" even for one sample."""
    model, sched = tiny_model(), NoiseSchedule(20)
    kw = dict(sampler="ddim", steps=2, guidance=2.0)
    for n in (1, 3):
        as_tensor, as_int = (sample(model, sched, n, 0, label=label, **kw) for label in (torch.tensor(7), 7))
        assert torch.equal(as_tensor, as_int)
    assert torch.equal(guided_eps(model, X, 5, torch.tensor(7), 2.0), guided_eps(model, X, 5, 7, 2.0))
    with pytest.raises(ValueError, match=r"label must be a class from 0 to 9, or 10 \(the null class\), not 7.5$"):
        guided_eps(model, X, 5, torch.tensor(7.5), 2.0)
    with pytest.raises(ValueError, match=r"label must be None \(any digit\), 'random', a class from 0 to 9"):
        sample(model, sched, 1, 0, label=torch.tensor(12), **kw)


def test_the_loss_of_an_unconditional_model_given_labels_ignores_them_as_the_network_does():
    model, sched = tiny_model(num_classes=0), NoiseSchedule(20)
    y = torch.tensor([3, 4])
    with_y = diffusion_loss(model, sched, X, y, torch.Generator().manual_seed(0), label_dropout=0.5)
    assert with_y == diffusion_loss(model, sched, X, None, torch.Generator().manual_seed(0), label_dropout=0.5)


def test_one_step_refuses_what_it_would_run_wrongly(monkeypatch):
    sched = NoiseSchedule(20)
    eps, z = torch.zeros_like(X), torch.randn_like(X)
    with pytest.raises(ValueError, match=r"variance must be one of \('beta', 'beta_tilde'\), not 'Beta'"):
        p_sample(sched, X, 5, eps, z, variance="Beta")  # it meant beta_tilde unsaid
    with pytest.raises(ValueError, match="z, the fresh noise N.0, I. like x_t, is added at every step but the last"):
        p_sample(sched, X, 5, eps, None)
    assert torch.equal(p_sample(sched, X, 0, eps, None)[0], p_sample(sched, X, 0, eps, z)[0])  # none at t = 0
    for eta in (-1.0, 2.0, float("nan")):
        with pytest.raises(ValueError, match="eta must be between 0 .deterministic DDIM. and 1"):
            ddim_step(sched, X, 19, 9, eps, z, eta=eta)
    with pytest.raises(ValueError, match="noise N.0, I. like x_t is needed at eta = 1"):
        ddim_step(sched, X, 19, 9, eps, None, eta=1.0)
    for step in (lambda: p_sample(sched, X, torch.tensor([5, 5]), eps, z),
                 lambda: ddim_step(sched, X, 19.0, 9, eps, z)):
        with pytest.raises(TypeError, match="is one code index for the whole batch, a whole number"):
            step()
    assert torch.equal(p_sample(sched, X, np.int64(5), eps, z)[0], p_sample(sched, X, 5, eps, z)[0])
    # a variance or sampler name added to VARIANCES or SAMPLERS alone, with no code of its own, is refused in words
    with monkeypatch.context() as m:
        m.setattr("ddpm.samplers.VARIANCES", ("beta", "beta_tilde", "learned"))
        with pytest.raises(ValueError, match="variance 'learned' has no sigma_t here"):
            p_sample(sched, X, 0, eps, None, variance="learned")  # at t = 0 too, where no sigma is used
    with pytest.raises(ValueError, match="sampler 'interp' has no step here"):
        reverse_step(sched, X, 5, 4, eps, sample_generators(0, 2), "interp")


def test_a_t_that_is_no_code_index_is_named():
    sched, model = NoiseSchedule(20), tiny_model()
    for t in (5.0, True, torch.tensor([1.5, 2.0])):
        with pytest.raises(TypeError, match="t is a code index, an int or a .B,. tensor of whole numbers, not"):
            sched.q_sample(X, t, X)
    for t in (25, -3):
        with pytest.raises(IndexError, match=f"t is a code index from 0 to 19 .the paper's t - 1., not {t}"):
            guided_eps(model, X, t, None)
    with pytest.raises(TypeError, match=r"t is a code index \(the paper's t - 1\), an int or a \(B,\) tensor of whole "
                                        "numbers, not 5.7"):
        guided_eps(model, X, 5.7, None)  # it was cut to 5 unsaid


def test_save_pretrained_replaces_neither_file_when_its_meta_is_not_json(tmp_path):
    """It wrote config.json, then failed on the meta: the folder held one model's config and another's weights."""
    hub.save_pretrained(tiny_model(timesteps=20), tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(TypeError, match="not JSON serializable"):
        hub.save_pretrained(tiny_model(seed=1, timesteps=1000), tmp_path, meta={"fd": np.float32(1.5)})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert json.loads((tmp_path / "config.json").read_text())["timesteps"] == 20


def test_train_refuses_data_that_is_not_mnists_uint8_with_labels(tmp_path):
    images = np.zeros((8, 28, 28), np.float32)  # in [0, 1]: to_model_range would make them near-blank, -1 to -0.99
    for data in ((images, np.zeros(8, np.int64)), (images.astype(np.uint8), None)):
        with pytest.raises(ValueError, match=r"data is \(images uint8 \(N, 28, 28\), 0 to 255 as MNIST's; labels"):
            train(train_cfg(tmp_path / "run", batch_size=4), data=data, max_steps=1, progress_bar=False)
    assert not (tmp_path / "run").exists()


def test_the_network_takes_one_int_t_and_refuses_a_t_off_its_schedule():
    """model(x_t, 5) is the whole batch at t = 5 (it met 'int has no attribute device'); the paper's T, a float or a
    bool t are refused in words (the sinusoidal embedding took them unsaid)."""
    model = tiny_model().eval()  # T = 20
    with torch.no_grad():
        assert torch.equal(model(X, 5), model(X, torch.full((2,), 5)))
        for bad, error, said in [(20, IndexError, "from 0 to 19 .*not 20"), (torch.tensor([3, -1]), IndexError,
                                 "not -1"), (2.5, TypeError, "not 2.5"), (True, TypeError, "not True"),
                                 (torch.tensor([1.0, 2.0]), TypeError, "whole numbers")]:
            with pytest.raises(error, match=f"t is a code index .*{said}"):
                model(X, bad)
        assert torch.equal(model(X, torch.tensor(5)), model(X, 5))  # a 0-dim tensor: one t for all, too
        with pytest.raises(ValueError, match=r"one code index per image, shape \(2,\), not \(1,\)"):
            model(X, torch.tensor([5]))  # (1,) was broadcast over the batch unsaid
        from ddpm.autoguidance import Autoguided
        from ddpm.unet import batch_timesteps
        with pytest.raises(IndexError, match="not 20"):  # an int is checked on any device: it costs no sync
            batch_timesteps(20, 2, 20, torch.device("meta"))
        guided = Autoguided(model, tiny_model(seed=1).eval(), 1.5)  # the README's autoguided(...) takes an int t too
        assert torch.equal(guided(X, 3), guided(X, torch.full((2,), 3)))


def test_the_loss_refuses_uint8_digits_and_labels_that_are_not_one_integer_per_image():
    """Digits left in 0..255 trained on a meaningless loss unsaid; a list of labels met torch's full_like, and
    float64 digits, bool or out-of-range labels torch's own errors."""
    model, sched = tiny_model(), NoiseSchedule(20)
    with pytest.raises(TypeError, match=r"x0 is a float .*to_model_range\(uint8 digits\) makes one, not torch.uint8"):
        diffusion_loss(model, sched, torch.zeros(2, 1, 28, 28, dtype=torch.uint8), None, torch.Generator())
    for y in ([1, 2], torch.tensor([1]), torch.tensor([1.0, 2.0])):
        with pytest.raises(TypeError, match=r"y is None or a \(B,\) integer tensor of labels"):
            diffusion_loss(model, sched, X, y, torch.Generator())
    with pytest.raises(TypeError, match=r"x0 is torch.float64 and the model's weights torch.float32: give x0.to"):
        diffusion_loss(model, sched, X.double(), None, torch.Generator())  # a convolution's dtype error before
    half = diffusion_loss(model, sched, X.half(), None, torch.Generator().manual_seed(0))  # q_sample makes x_t float32
    assert half == diffusion_loss(model, sched, X, None, torch.Generator().manual_seed(0))
    for y in (torch.tensor([True, False]), torch.tensor([3, 11])):  # torch's embedding error, or an IndexError
        with pytest.raises(ValueError, match=r"a label tensor holds whole numbers from 0 to 9 \(10: the null class\)"):
            diffusion_loss(model, sched, X, y, torch.Generator())
    y = torch.tensor([3, 10])  # any integer type of labels trains as the same classes; 10 is the null class
    want = diffusion_loss(model, sched, X, y, torch.Generator().manual_seed(0))
    assert diffusion_loss(model, sched, X, y.to(torch.uint8), torch.Generator().manual_seed(0)) == want


def test_a_keyword_sampling_does_not_take_is_named_with_those_it_does():
    """sample(..., autoguidance=1.5) met "sample_loop() got an unexpected keyword", a function the learner never
    called; now the message lists what sampling takes, and where autoguidance lives."""
    with pytest.raises(TypeError, match=r"sampling takes no autoguidance \(it takes sampler, steps, label, guidance, "
                                        r"eta, variance, clip, x_start, t_start, timesteps\); autoguidance is a model "
                                        "of its own"):
        sample(tiny_model(), NoiseSchedule(20), 2, 0, sampler="ddim", steps=2, autoguidance=1.5)


# ---------------------------------------------------------------- a notebook learner's mistakes (a second review)

def test_the_schedule_refuses_uint8_images_a_missing_eps_and_a_t_per_other_image():
    sched = NoiseSchedule(20)
    with pytest.raises(TypeError, match=r"x0 is a float tensor of images in \[-1, 1\] \(ddpm.data.to_model_range"):
        sched.q_sample(X.to(torch.uint8), 3, X)  # 0..255 went through, x_t's mean 30
    with pytest.raises(TypeError, match=r"eps is a float tensor of noise, torch.randn\(x0.shape, generator=g\), "
                                        "not NoneType"):
        sched.q_sample(X, 3, None)
    for call in (sched.q_step, sched.predict_x0, sched.predict_eps):
        with pytest.raises(TypeError, match="is a float tensor"):
            call(X, 3, X.to(torch.uint8))
    with pytest.raises(TypeError, match="x_t is a float tensor"):
        sched.q_posterior(X, X.long(), 3)
    with pytest.raises(ValueError, match=r"t holds one code index per image, 2 here \(or one for all\), not 3"):
        sched.q_sample(X, torch.tensor([1, 2, 3]), X)
    assert sched.q_sample(X, torch.tensor([4]), X).shape == sched.q_sample(X, torch.tensor([1, 2]), X).shape
    strip = sched.q_sample(X[:1], torch.arange(0, 20, 5), torch.zeros(4, 1, 28, 28))  # one digit at four t's
    assert strip.shape == (4, 1, 28, 28)


def test_noise_drawn_for_one_image_is_refused_not_shared_by_every_image():
    """torch.randn_like(x0[0]) or a 0-d draw broadcast unsaid: every image got the same noise (numerical review)."""
    sched, x4 = NoiseSchedule(20), torch.zeros(4, 1, 28, 28)
    t4 = torch.tensor([1, 2, 3, 4])
    for eps in (torch.randn(1, 1, 28, 28), torch.randn(4, 1, 1, 1), torch.randn(())):
        with pytest.raises(ValueError, match=r"holds one draw of noise per image, B = 4|x0, eps are batches "
                                             r"\(B, C, H, W\) of one image shape, not x0"):
            sched.q_sample(x4, t4, eps)
    with pytest.raises(ValueError, match=r"x_t is a batch of B = 4 images \(or 1, one image for all\), not shape "):
        sched.q_posterior(x4, torch.zeros(2, 1, 28, 28), 3)
    for bad in (torch.randn(1, 1, 28, 28), torch.randn(28, 28)):
        with pytest.raises(ValueError, match=r"z, the fresh noise N\(0, I\), is a float tensor of x_t's shape "
                                             r"\(4, 1, 28, 28\), one draw per pixel of each image"):
            p_sample(sched, x4, 5, x4, bad)
        with pytest.raises(ValueError, match=r"noise, the fresh noise N\(0, I\), is a float tensor of x_t's shape"):
            ddim_step(sched, x4, 5, 2, x4, bad, eta=1.0)
    assert p_sample(sched, x4, 0, x4, torch.randn(1))[0].shape == x4.shape  # no noise at the last step: z unread


def test_to_model_range_refuses_what_it_would_turn_into_a_black_or_misshapen_digit():
    from ddpm.data import to_model_range
    u8 = torch.full((2, 28, 28), 255, dtype=torch.uint8)
    assert to_model_range(u8).shape == (2, 1, 28, 28) and bool((to_model_range(u8) == 1).all())
    for bad, said in ((u8.float() / 255, r"torch.float32 of shape \(2, 28, 28\)"), (u8[0], r"\(28, 28\)"),
                      (u8.numpy(), "uint8 of shape"), ([1, 2], "list")):
        with pytest.raises(TypeError, match=r"takes a uint8 tensor of digits \(N, H, W\) in 0..255 .*" + said):
            to_model_range(bad)


def test_the_network_names_a_digit_without_its_batch_or_channel_and_a_label_it_cannot_take():
    model = tiny_model()  # 10 classes, T = 20
    for bad in (X[0, 0], X[:, 0], torch.zeros(2, 3, 28, 28), X.long(), torch.zeros(2, 1, 32, 32)):  # (a Pad(2)ed MNIST)
        with pytest.raises(ValueError, match=r"x_t is a float batch of 1-channel 28 x 28 images, shape "
                                             r"\(B, 1, 28, 28\) \(one image: x\[None, None\]\), not \S+ of shape"):
            model(bad, 3)
    with pytest.raises(ValueError, match=r"not tuple; p_sample and ddim_step return \(x_prev, x0_hat\): x, x0_hat ="):
        model(p_sample(NoiseSchedule(20), X, 0, X, None), 3)  # x = p_sample(...), a pair, in a loop of one's own
    with pytest.raises(TypeError, match=r"y is a \(B,\) tensor of labels, torch.full\(\(B,\), 7\), not int"):
        model(X, 3, 7)
    with pytest.raises(ValueError, match="a label tensor holds whole numbers from 0 to 9"):
        model(X, 3, torch.tensor([11, 11]))
    assert model(X, 3, torch.tensor([10, 3])).shape == X.shape  # 10: the null class
    assert torch.equal(model(X, 3, torch.tensor([7, 3], dtype=torch.uint8)), model(X, 3, torch.tensor([7, 3])))


def test_sampling_refuses_a_uint8_start_and_a_float_tensor_t_and_returns_a_detached_loss(tmp_path):
    model = tiny_model()
    with pytest.raises(TypeError, match=r"x_start is a float tensor in \[-1, 1\]"):
        sample(model, NoiseSchedule(20), 2, 0, sampler="ddim", steps=2, x_start=X.to(torch.uint8), t_start=5)
    with pytest.raises(TypeError, match=r"t is a code index \(the paper's t - 1\), an int or a \(B,\) tensor of whole "
                                        r"numbers, not a torch.float32 tensor of shape \(2,\)$"):  # not its values
        guided_eps(model, X, torch.tensor([5.7, 5.7]), None)  # was cut to 5 unsaid
    assert torch.equal(guided_eps(model, X, torch.tensor(5), 3, torch.tensor(2.0)), guided_eps(model, X, 5, 3, 2.0))
    with pytest.raises(ValueError, match=r"t holds one code index per image, shape \(2,\), not \(3,\)"):
        guided_eps(model, X, torch.tensor([5, 5, 5]), None)  # torch's "expanded size" before
    with pytest.raises(TypeError, match=r"guidance is a number w \(1 = plain conditional, 0 = unconditional\), "
                                        "not None"):
        guided_eps(model, X, 5, 3, None)
    with pytest.raises(ValueError, match=r"or a tensor of one class per sample \(torch.tensor\(\[7, 3\]\)\), "
                                         r"not \[7, 3\]"):
        sample(model, NoiseSchedule(20), 2, 0, sampler="ddim", steps=2, label=[7, 3])
    from ddpm.training import train_step
    from ddpm.config import TrainConfig
    opt = torch.optim.AdamW(model.parameters())
    loss = train_step(model, NoiseSchedule(20), opt, X, None, torch.Generator().manual_seed(0), TrainConfig(), 1e-3)
    assert not loss.requires_grad and loss.dim() == 0  # float(loss) without torch's warning


def test_ddim_runs_any_subsequence_of_timesteps_given_and_refuses_one_it_cannot_run():
    """The issue's "DDIM over any subsequence": an uneven one runs in the order given, down to x_0; the evenly spaced
    one of `steps` draws the same digits given as a list; one out of order, off the schedule, beside `steps`, with
    DDPM, or not starting at t_start is refused."""
    model, sched = tiny_model(), NoiseSchedule(20)
    chain = list(sample_loop(model, sched, 2, 0, sampler="ddim", timesteps=[19, 12, 11, 3]))
    assert [(s.t, s.t_prev) for s in chain] == [(19, 12), (12, 11), (11, 3), (3, -1)] and chain[0].num_steps == 4
    even = reverse_timesteps("ddim", 19, 5)
    assert torch.equal(sample(model, sched, 2, 0, sampler="ddim", timesteps=torch.tensor(even)),
                       sample(model, sched, 2, 0, sampler="ddim", steps=5))
    start = dict(x_start=X, t_start=15)
    assert [s.t for s in sample_loop(model, sched, 2, 0, sampler="ddim", timesteps=[15, 3], **start)] == [15, 3]
    for kw, said in ((dict(sampler="ddpm", timesteps=[19, 3]), "timesteps is DDIM's subsequence"),
                     (dict(steps=3, timesteps=[19, 3]), r"give steps \(evenly spaced\) or timesteps \(your own\)"),
                     (dict(timesteps=[3, 19]), r"from 19 or below down to 0 or above, each below the one before"),
                     (dict(timesteps=[20, 3]), r"not \[20, 3\]"), (dict(timesteps=[]), r"not \[\]"),
                     (dict(timesteps=[5.5]), r"not \[5.5\]"), (dict(timesteps=[12, 3], **start), "from t_start = 15")):
        with pytest.raises(ValueError, match=said):
            sample_loop(model, sched, 2, 0, **{"sampler": "ddim", **kw})


def test_the_bundled_weights_load_as_float32_under_a_float64_default():
    """A notebook that set torch.set_default_dtype(torch.float64) got a float64 model that failed every call with
    "mat1 and mat2 must have the same dtype" (its inputs, made from float32 digits, were float32)."""
    before, tiny = torch.get_default_dtype(), tiny_model()
    plain = sample(tiny, NoiseSchedule(20), 2, 0, sampler="ddim", steps=3)
    torch.set_default_dtype(torch.float64)
    try:
        model = hub.load_pretrained()
        assert {p.dtype for p in model.parameters()} == {torch.float32}
        assert model(X, 3).dtype == torch.float32
        assert torch.equal(sample(tiny, NoiseSchedule(20), 2, 0, sampler="ddim", steps=3), plain)  # the same noise
    finally:
        torch.set_default_dtype(before)


def test_the_loss_refuses_images_off_minus_one_to_one_and_warns_of_zero_to_one_and_train_step_a_nan_lr():
    """0..255 floats and ToTensor's [0, 1] trained unsaid; label_dropout 1.5 dropped every label and a nan lr made
    every weight nan, unsaid (numerical review)."""
    from ddpm.config import TrainConfig
    from ddpm.training import train_step
    model, sched, gen = tiny_model(), NoiseSchedule(20), torch.Generator()
    with pytest.raises(ValueError, match=r"x0 holds images in \[-1, 1\] .*, not values from 0 to 255$"):
        diffusion_loss(model, sched, torch.linspace(0, 255, 784).reshape(1, 1, 28, 28), None, gen)
    with pytest.warns(UserWarning, match=r"x0 has no pixel below 0 \(from 0 to 1\): images in \[0, 1\]"):
        diffusion_loss(model, sched, torch.linspace(0, 1, 784).reshape(1, 1, 28, 28), None, gen)
    for bad in (1.5, -0.1, float("nan"), None):
        with pytest.raises(ValueError, match=r"label_dropout is the share of labels trained as the null class"):
            diffusion_loss(model, sched, X, None, gen, label_dropout=bad)
    opt = torch.optim.AdamW(model.parameters())
    with pytest.raises(ValueError, match=r"lr is a learning rate, a number >= 0 \(or None: the optimizer.s own\), "
                                         r"not nan"):
        train_step(model, sched, opt, X, None, gen, TrainConfig(), float("nan"))
    assert all(p.isfinite().all() for p in model.parameters())


def test_samples_that_come_out_nan_are_refused_not_drawn_black():
    """A model whose eps_hat is nan (a diverged run's weights) gave nan samples, which a grid draws black."""
    model, sched = tiny_model(), NoiseSchedule(20)
    with pytest.raises(ValueError, match=r"x_start holds nan or inf"):
        sample(model, sched, 2, 0, sampler="ddim", steps=2, x_start=torch.full((2, 1, 28, 28), float("nan")), t_start=5)
    with torch.no_grad():
        model.conv_out.bias.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match=r"samples 3 to 4 came out nan or inf: the model's eps_hat is not "):
        sample(model, sched, 2, 0, sampler="ddim", steps=2, first=3)
