"""ddpm.checkpoint on a GPU's path, run on the CPU: the random state saved and put back is that of the GPU the
model is on, not the current one's (the test on a real GPU, test_resume.py's, runs only where there is one); and a
loaded checkpoint is not left mapped, so that the next save can replace it on Windows."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from ddpm.checkpoint import load_checkpoint, save_checkpoint
from ddpm.data import load_sample
from ddpm.training import EMA, train
from conftest import tiny_model


class OnDevice(torch.nn.Module):
    """A tiny model whose parameters say they are on `device` (the checkpoint reads the device off the first)."""

    def __init__(self, device: torch.device):
        super().__init__()
        self.net, self.device = tiny_model(), device

    def parameters(self, recurse: bool = True):
        yield SimpleNamespace(device=self.device)


def test_a_run_on_cuda_1_saves_and_puts_back_cuda_1s_generator(tmp_path, monkeypatch):
    """torch.cuda's get_rng_state and set_rng_state stand in for a GPU's: cuda:1's state is saved and restored to
    cuda:1, where dropout draws (the current device, cuda:0, was saved before the fix)."""
    cuda1 = torch.device("cuda", 1)
    states = {cuda1: torch.arange(8, dtype=torch.uint8), torch.device("cuda", 0): torch.zeros(8, dtype=torch.uint8)}
    put = []
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device="cuda": states[torch.device(device)].clone())
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device="cuda": put.append((state, device)))
    model = OnDevice(cuda1)
    ema, opt = EMA(model.net), torch.optim.AdamW(model.net.parameters())
    gen = torch.Generator().manual_seed(0)
    save_checkpoint(tmp_path / "c.safetensors", model, ema, opt, gen, {"step": 1})
    load_checkpoint(tmp_path / "c.safetensors", model, ema, opt, gen)
    [(state, device)] = put
    assert torch.device(device) == cuda1 and torch.equal(state, states[cuda1])


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads Linux's /proc/self/maps")
def test_a_loaded_checkpoint_is_not_left_mapped_so_the_next_save_can_replace_it(tmp_path):
    """AdamW keeps its loaded moments as they are: loaded by memory map, they held the checkpoint mapped for the rest
    of the run, and on Windows a mapped file cannot be replaced, so a resumed run's first save failed. They are read
    into memory now; the next save replaces the file."""
    model = tiny_model()
    ema, opt = EMA(model), torch.optim.AdamW(model.parameters())
    model(torch.zeros(2, 1, 28, 28), torch.tensor([1, 2])).square().mean().backward()
    opt.step()  # moments to save
    path, gen = tmp_path / "c.safetensors", torch.Generator().manual_seed(0)
    save_checkpoint(path, model, ema, opt, gen, {"step": 1})
    load_checkpoint(path, model, ema, opt, gen)
    assert str(path) not in Path("/proc/self/maps").read_text()
    save_checkpoint(path, model, ema, opt, gen, {"step": 2})
    assert load_checkpoint(path, model, ema, opt, gen)["step"] == 2


def test_a_run_on_a_macs_gpu_saves_and_puts_back_its_generator(tmp_path, monkeypatch):
    """Dropout on mps draws from the Mac GPU's generator: saved and put back as the GPU's is (only CUDA's was, so a
    resumed run with dropout there was not exact). torch.mps's calls stand in for the device."""
    state, put = torch.arange(8, dtype=torch.uint8), []
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda device="mps": state.clone())
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda new, device="mps": put.append(new))
    model = OnDevice(torch.device("mps"))
    ema, opt = EMA(model.net), torch.optim.AdamW(model.net.parameters())
    gen = torch.Generator().manual_seed(0)
    save_checkpoint(tmp_path / "c.safetensors", model, ema, opt, gen, {"step": 1})
    load_checkpoint(tmp_path / "c.safetensors", model, ema, opt, gen)
    [restored] = put
    assert torch.equal(restored, state)


def test_tensors_and_facts_come_from_one_read_of_the_file(tmp_path, monkeypatch):
    """A checkpoint's tensors and its facts (step, RNG states) are read at once: read in two opens, a run's next
    save landing between them paired the old tensors with the new step."""
    from ddpm import safeio

    path = tmp_path / "c.safetensors"
    safeio.save_tensors(path, {"w": torch.arange(3.0)}, {"step": 1})
    real_load = safeio.load

    def load_then_replaced(data):  # the run saves its next checkpoint right after the tensors are read
        tensors = real_load(data)
        safeio.save_tensors(path, {"w": torch.arange(3.0) + 1}, {"step": 2})
        return tensors

    monkeypatch.setattr(safeio, "load", load_then_replaced)
    tensors, meta = safeio.load_tensors(path)
    assert torch.equal(tensors["w"], torch.arange(3.0)) and meta == {"step": 1}


def test_a_killed_writes_temporary_files_are_removed_by_the_next_sitting(tmp_path, monkeypatch):
    """A kill -9 or the OOM killer mid-write leaves the write's temporary file (no cleanup runs), which stayed for
    good and was copied on by `cp -r runs/mnist runs/student`. The next sitting removes those of its own files,
    old names and new, and nothing else: not a file of another name, nor one written in the last minute (another
    program's write in progress)."""
    import os
    import tempfile
    import time

    from ddpm import safeio
    from train_helpers import train_cfg, train_on_sample

    made, mkstemp = [], tempfile.mkstemp
    monkeypatch.setattr(tempfile, "mkstemp", lambda **kw: made.append(mkstemp(**kw)) or made[-1])
    cfg = train_cfg(tmp_path / "run")
    out = train_on_sample(cfg, max_steps=2)
    assert made and all(safeio._OURS.fullmatch(Path(name).name) for _, name in made)  # the names it now makes
    (out / "samples").mkdir()
    stale = ["checkpoint.safetensorsab1_cd34.tmp", "model.safetensors.k3j4h5g6.ddpm.tmp",  # old name, new name
             "samples/epoch_000.pngq9w8e7r6.tmp"]
    kept = ["notes12345678.tmp", "mine.tmp", "checkpoint.safetensorsab1_cd34.tmp.bak", "README.mdTOOLONG99.tmp"]
    for name in stale + kept:
        (out / name).write_bytes(b"half")
        os.utime(out / name, (time.time() - 3600,) * 2)
    (out / "config.json.z0x9c8v7.ddpm.tmp").write_bytes(b"being written")  # just now: left
    said = []
    train(cfg, data=load_sample(), log=said.append, progress_bar=False, max_steps=3, resume=True)
    assert not any((out / name).exists() for name in stale)
    assert all((out / name).exists() for name in kept) and (out / "config.json.z0x9c8v7.ddpm.tmp").exists()
    assert f"removed 3 unfinished temporary file(s) a killed write left in {out}: {', '.join(stale)}" in said
