"""What training refuses or stops on: config values that would fail mid-run, a device this machine lacks, a precision
its hardware lacks (float16 with a loss scale, bfloat16 autocast), and weights turned nan."""
import math

import pytest
import torch

from ddpm import hub
from ddpm.facts import read_weights_meta
from ddpm.config import ConfigError, TrainConfig
from ddpm.data import load_sample
from ddpm.device import mixed_precision, pick_device
from ddpm.training import train

from conftest import tiny_model
from train_helpers import train_cfg, train_on_sample


@pytest.mark.parametrize("field, value", [("batch_size", 0), ("epochs", 0), ("lr", -1.0), ("lr_decay_steps", -5),
                                          ("max_minutes", -1.0), ("label_dropout", 1.5), ("ema_decay", 1.0),
                                          ("seed", -1), ("lr", math.inf)])
def test_train_config_rejects_values_that_would_fail_mid_run(field, value):
    with pytest.raises(ConfigError) as e:
        TrainConfig(**{field: value})
    assert e.value.field == field and repr(value) in str(e.value)


def test_pick_device_names_a_missing_device(monkeypatch):
    assert pick_device("cpu") == torch.device("cpu")
    from ddpm import device  # auto takes cuda, then mps, then the cpu, each only where this machine has it
    for has, auto in (({"cuda": True, "mps": True}, "cuda"), ({"cuda": False, "mps": True}, "mps"),
                      ({"cuda": False, "mps": False}, "cpu")):
        monkeypatch.setattr(device.torch.cuda, "is_available", lambda: has["cuda"])
        monkeypatch.setattr(device.torch.backends.mps, "is_available", lambda: has["mps"])
        assert pick_device("auto").type == auto
        if not has["mps"]:
            with pytest.raises(ValueError, match="'mps' is not available on this machine"):
                pick_device("mps")
    with pytest.raises(ValueError, match="unknown device"):
        pick_device("tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available on this machine"):
            pick_device("cuda")
    monkeypatch.setattr(device.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(device.torch.cuda, "device_count", lambda: 1)
    assert pick_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(ValueError, match=r"'cuda:1': this machine has 1 GPU, cuda:0: use cuda or auto"):
        pick_device("cuda:1")


@pytest.mark.filterwarnings("ignore:torch.cuda.amp.GradScaler is enabled, but CUDA is not available")  # (no GPU here)
def test_a_gpu_without_bfloat16_units_trains_in_float16_with_a_loss_scale(monkeypatch):
    """By compute capability: torch.cuda.is_bf16_supported() says yes on a T4 or a V100 too (emulated, slowly)."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    for capability, want in (((7, 5), torch.float16), ((8, 0), torch.bfloat16), ((9, 0), torch.bfloat16)):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None, c=capability: c)
        assert mixed_precision(torch.device("cuda"))[0] == want
    assert mixed_precision(torch.device("cpu"))[0] is None


def test_a_run_whose_weights_turn_nan_stops_and_saves_none_of_them(tmp_path):
    """lr 1e8 blows the weights up at once: the run stops at the next check (each loss row, checkpoint and epoch grid,
    and its end), keeps its last checkpoint of finite weights, and writes no model."""
    from ddpm.run_control import Diverged

    out = tmp_path / "run"
    with pytest.raises(Diverged, match=r"^training diverged by step 3 \(mean loss nan since the last row, lr 1e\+08 "
                                       r"at that step\): the weights are no longer finite, so they were not saved; no "
                                       r"checkpoint of it was written: train into .*run again with an --lr below "
                                       r"1e\+08$") as e:
        train_on_sample(train_cfg(out, lr=1e8, warmup_steps=0), max_steps=3)
    assert (e.value.saved, e.value.began) == (None, 0)
    assert not (out / "model.safetensors").exists() and not (out / "checkpoint.safetensors").exists()
    step, _, loss, *_ = (out / "loss.csv").read_text().splitlines()[-1].split(",")
    assert (step, loss) == ("3", "nan")  # the row that shows it
    train_on_sample(train_cfg(out), max_steps=2)  # a sound run, then a bad lr
    before = (out / "checkpoint.safetensors").read_bytes(), (out / "model.safetensors").read_bytes()
    with pytest.raises(Diverged, match=r"by step 5 .* keeps the checkpoint of step 2: with an --lr below 1e\+08, say "
                                       r"`python train.py --resume --out .* --lr 1e\+07`, it goes on from there$") as e:
        train_on_sample(train_cfg(out, lr=1e8, warmup_steps=0), resume=True, max_steps=5)
    assert (e.value.saved, e.value.began) == (2, 2)
    assert ((out / "checkpoint.safetensors").read_bytes(), (out / "model.safetensors").read_bytes()) == before


def test_divergence_is_judged_by_the_weights_not_by_one_overflowing_loss(tmp_path):
    """With float16 on a GPU the grad scaler skips a step whose loss overflows and leaves the weights whole: a run
    goes on. A nan in the weights (or in the EMA's) stops it."""
    from ddpm.run_control import Diverged, refuse_diverged
    from ddpm.run_record import LossLog

    model, ema = tiny_model(), tiny_model()
    log = LossLog(tmp_path / "loss.csv", fresh=True)
    log.add(torch.tensor(float("inf")), 8)
    refuse_diverged((model, ema), log, 7, 0, 1e-3, train_cfg(tmp_path), None, 0)  # no error: the weights are whole
    with torch.no_grad():
        next(ema.parameters())[0] = float("nan")
    with pytest.raises(Diverged, match=r"^training diverged by step 7 \(mean loss inf since the last row, lr 0.001"):
        refuse_diverged((model, ema), log, 7, 0, 1e-3, train_cfg(tmp_path), None, 0)


@pytest.mark.filterwarnings("ignore:torch.cuda.amp.GradScaler is enabled, but CUDA is not available")
def test_mixed_precision_bf16_autocasts_on_a_cpu_with_bfloat16_units_and_is_refused_without(monkeypatch, tmp_path):
    """--mixed-precision bf16 on a CPU: its convolutions run in bfloat16 (a step up to 2.1x as fast on this CPU),
    its weights stay float32, and the card's hardware says so; "auto" keeps a CPU in float32; a CPU without the
    units (bfloat16 emulated, slower than float32) is refused in words before any data is read."""
    from ddpm import device as dev
    from train_helpers import train_cfg, train_on_sample

    cpu = torch.device("cpu")
    monkeypatch.setattr(dev, "bf16_units", lambda device: True)
    assert [mixed_precision(cpu, c)[0] for c in ("auto", "bf16", "no")] == [None, torch.bfloat16, None]
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    assert mixed_precision(torch.device("cuda"), "no")[0] is None
    seen = []
    real_forward = torch.nn.Conv2d.forward
    monkeypatch.setattr(torch.nn.Conv2d, "forward", lambda self, x: seen.append(out := real_forward(self, x)) or out)
    said = []
    out = train(train_cfg(tmp_path / "bf16", mixed_precision="bf16"), data=load_sample(), log=said.append,
                progress_bar=False, max_steps=2)
    assert said[0].startswith("device cpu (bfloat16 autocast), ")
    assert {t.dtype for t in seen} == {torch.bfloat16}
    assert {t.dtype for t in hub.load_pretrained(out).state_dict().values()} == {torch.float32}
    assert read_weights_meta(out)["device"].endswith(" with bfloat16 autocast")
    seen.clear()
    out = train_on_sample(train_cfg(tmp_path / "auto"), max_steps=1)
    assert {t.dtype for t in seen} == {torch.float32} and "autocast" not in read_weights_meta(out)["device"]

    monkeypatch.setattr(dev, "bf16_units", lambda device: False)
    with pytest.raises(ValueError, match="this CPU has no bfloat16 units .* slower than float32; give "
                                         "--mixed-precision auto"):
        train_on_sample(train_cfg(tmp_path / "none", mixed_precision="bf16", data_dir=str(tmp_path / "no data")))
    assert not (tmp_path / "none").exists()
    with pytest.raises(ValueError, match="bf16: it is for CUDA and x86 CPUs; mps trains in float32; give "):
        mixed_precision(torch.device("mps"), "bf16")
    monkeypatch.undo()  # the real bf16_units, on a T4
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    with pytest.raises(ValueError, match=r"this GPU has no bfloat16 units .*\(auto trains in float16 with a loss"):
        mixed_precision(torch.device("cuda"), "bf16")
    with pytest.raises(ConfigError, match="mixed_precision"):
        TrainConfig(mixed_precision="fp8")
