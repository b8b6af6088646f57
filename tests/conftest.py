import atexit
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may download during tests
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Gradio's cache for the suite alone (the app's runs in it too): the app sweeps the empty folders of the cache it uses,
# and a test must not touch the machine's other Gradio apps' files
if "GRADIO_TEMP_DIR" not in os.environ:
    os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="ddpm-tests-gradio-")
    atexit.register(shutil.rmtree, os.environ["GRADIO_TEMP_DIR"], ignore_errors=True)

from ddpm.config import ModelConfig  # noqa: E402
from ddpm.schedule import NoiseSchedule  # noqa: E402
from ddpm.unet import UNet  # noqa: E402

# a command line run as a user would, one thread, offline
CLI_ENV = os.environ | {"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
MNIST = ROOT / "data" / "mnist"  # where .ci/run copies the raw files (train.py's end-to-end tests skip without them)
FAKE_TOKEN = {"HF_TOKEN": "hf_not_a_real_token"}  # what --push-to-hub asks for before training (offline, it fails)
# Windows sends no SIGTERM or SIGINT to a child (it ends it outright) and makes links with admin rights only
POSIX = pytest.mark.skipif(os.name == "nt", reason="needs POSIX signals to a child process, or a symlink")


def sh(path) -> str:
    """A path as the tools print it in a command, quoted for a POSIX shell (a temp folder may hold a space)."""
    return shlex.quote(str(path))


def run_python(*args, timeout=300, env: dict | None = None) -> subprocess.CompletedProcess:
    """python ARGS in the repo root, as a separate process (env: variables on top of CLI_ENV): its exit code,
    stdout and stderr."""
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=CLI_ENV | (env or {}), capture_output=True, text=True,
                          timeout=timeout)


def at_once(*calls) -> list:
    """Each of `calls` (run_python's, as functools.partial) in a thread, as many at a time as the machine has cores:
    independent commands each spend seconds loading torch, which run one after another did not share. Their
    results, in order."""
    # the cores this process may use (os.cpu_count() counts a container host's), 4 at most: each loads torch
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=min(cores, 4)) as pool:
        return list(pool.map(lambda call: call(), calls))


def sample_cli(args, capsys) -> tuple[int, str]:
    """python -m ddpm.sample ARGS, in-process: (exit code, stderr). An uncaught exception fails the calling
    test, as a traceback would."""
    from ddpm import sample

    try:
        rc = sample.main(args)
    except SystemExit as e:  # argparse's p.error
        rc = e.code
    return rc, capsys.readouterr().err


def tiny_config(**kw) -> ModelConfig:
    """A U-Net small enough to run many steps in milliseconds, with attention at 14 px and a null class."""
    base = dict(base_channels=8, channel_mult=(1, 2), attention_resolutions=(14,), timesteps=20, dropout=0.0)
    return ModelConfig(**(base | kw))


def tiny_model(seed: int = 0, **kw) -> UNet:
    torch.manual_seed(seed)
    model = UNet(tiny_config(**kw))
    # zero-initialised layers (output conv, second conv of each block) would hide t and the label
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1 and not p.any():
                p.normal_(0, 0.05)
    return model.eval()


@pytest.fixture
def model():
    return tiny_model()


@pytest.fixture
def sched():
    return NoiseSchedule(20, "linear")


@pytest.fixture(scope="session")
def tiny_app(tmp_path_factory):
    """app.py on a tiny random model (T = 100): one start (seconds) for the browser tests' two files, whose pages
    are each a visitor's session of their own, as two visitors' would be."""
    from app_helpers import running_app, save_tiny

    with running_app(save_tiny(tmp_path_factory.mktemp("tiny-model"), T=100)) as url:
        yield url


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"],
                              headless=True)
        yield b
        b.close()


@pytest.fixture
def bare(browser):
    """A function that opens a page of `html` under the app's CSS, `width` px wide (closed after the test): the
    page's own CSS and scripts tried in a few elements shaped as Gradio's, not the app (seconds, where
    test_browser.py takes minutes)."""
    from ddpm.demo.page import CSS

    tabs = []

    def open_page(html: str = "", width: int = 1400, height: int = 1000):
        tabs.append(browser.new_page(viewport={"width": width, "height": height}))
        tabs[-1].set_default_timeout(5000)
        tabs[-1].set_content(f"<style>{CSS}</style>{html}")
        return tabs[-1]
    yield open_page
    for tab in tabs:
        tab.close()


@pytest.fixture(autouse=True)
def mnist_examples_after_each_test():
    """A test that loads a Fashion-MNIST model (load_runtime, app.py) switches the app's examples to its dataset:
    every other test expects MNIST's, so they are switched back after each."""
    yield
    from ddpm.demo import sources

    if sources._DATASET[0] != "mnist":
        sources.use("mnist")


# what .ci/run puts there (DDPM_CI=1): a test skipped for want of one of these would pass CI untested, so there it
# fails; a GPU, Windows or Debian's Fashion-MNIST may be missing on CI's machine, and their skips stay skips
CI_PROVIDES = ("MNIST raw files", "chromium", "playwright", "gradio_client", "diffusers")
CI_SKIPPED_MODULES = []  # modules skipped whole for want of one: failing their collection would stop the session


def _ci_provided(report) -> bool:
    why = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""  # a skip's (file, line, reason)
    return os.environ.get("DDPM_CI") == "1" and report.skipped and not hasattr(report, "wasxfail") and \
        any(s in why for s in CI_PROVIDES)


def _fail_a_ci_skip(report) -> None:
    if _ci_provided(report):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which provides what it needs: {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_a_ci_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    if _ci_provided(report := outcome.get_result()):  # the browser tests without chromium: the others still run
        CI_SKIPPED_MODULES.append(f"{report.nodeid}: {report.longrepr[2]}")


def pytest_sessionfinish(session, exitstatus):
    if CI_SKIPPED_MODULES:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    for line in CI_SKIPPED_MODULES:
        terminalreporter.write_line(f"FAILED (skipped in CI, which provides what it needs) {line}", red=True)


def pytest_configure(config):
    # the maths tests call the loss on a class model with y=None or no label dropout on purpose (tiny models, one
    # call); the learner's warnings for it are asserted by tests/test_own_loop.py, where pytest.warns sees them still
    for said in ("y=None trains the null class alone", "label_dropout=0 trains no label"):
        config.addinivalue_line("filterwarnings", f"ignore:{said}:UserWarning")
