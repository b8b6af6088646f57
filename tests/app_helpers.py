"""Helpers for the app tests (e2e, browser): a tiny random model folder and a running app.py."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import torch

from ddpm.config import ModelConfig
from ddpm.hub import save_pretrained
from ddpm.unet import UNet

from conftest import ROOT  # (browser_helpers and test_app_e2e take it from here)


def _random_model(T: int = 50, seed: int = 0) -> UNet:
    """A random 8-channel U-Net: untrained, but exercises every code path in milliseconds."""
    torch.manual_seed(seed)
    return UNet(ModelConfig(base_channels=8, channel_mult=(1, 2), attention_resolutions=(), timesteps=T)).eval()


def save_tiny(folder: Path, T: int = 100, guide: bool = False) -> Path:
    """A tiny random model folder, with the bundled weights' loss.csv so the About tab draws its loss plot; with
    `guide`, a second one in its guide/ for autoguidance."""
    if guide:  # a guide whose zero-initialised output layer is not zero, so guiding changes the digits
        g = _random_model(T, seed=1)
        with torch.no_grad():
            g.conv_out.weight.normal_(0, 0.05)
        save_pretrained(g, folder / "guide")
    out = save_pretrained(_random_model(T), folder)
    (out / "loss.csv").write_bytes((ROOT / "weights" / "loss.csv").read_bytes())
    return out


def app_log(url: str) -> str:
    """What the app started by running_app() at `url` has printed so far."""
    port = url.rstrip("/").rsplit(":", 1)[1]
    return (Path(tempfile.gettempdir()) / f"ddpm-app-{port}.log").read_text()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(model: str | Path, timeout: float = 180.0):
    """Start app.py on a free localhost port with `model` as DDPM_MODEL; yield its URL; stop it."""
    port = free_port()
    env = os.environ | {
        "DDPM_MODEL": str(model), "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
        "GRADIO_SSR_MODE": "True",  # as a Space's image sets it: the app serves its page as tested all the same
    }
    env.setdefault("OMP_NUM_THREADS", "1")
    log = open(Path(tempfile.gettempdir()) / f"ddpm-app-{port}.log", "w+")  # app_log(url) reads it
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"app.py exited with {proc.returncode}:\n{log.read()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"app.py did not answer on {url} within {timeout:.0f} s")
            time.sleep(0.5)
        yield url
        assert proc.poll() is None, "app.py died during the test"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        Path(log.name).unlink(missing_ok=True)  # read while the app ran (app_log); kept, they piled up in /tmp
