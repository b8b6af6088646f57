"""The README and docs/ link only to files and headings that exist (GitHub's heading anchors), every command line
they give for train.py, ddpm.sample, ddpm.evaluate and ddpm.benchmark still parses, and the README's Python example
and Space upload do what they say."""
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's slugs: lower case, punctuation dropped, each space a hyphen."""
    heads = re.findall(r"^#+ +(.+?) *$", page.read_text(), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in heads}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):  # http(s), mailto: not checked offline
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists() or (anchor and dest.suffix == ".md" and anchor not in anchors(dest)):
            broken.append(target)
    assert not broken, f"{page.name}: {broken}"


def test_slugs_follow_github():
    page = ROOT / "docs" / "experiments.md"
    assert "n--10000-on-the-158-epoch-weights" in anchors(page)
    assert "the-50-step-gap-belongs-to-the-deterministic-sampler" in anchors(page)


# ---------------------------------------------------------------- every command the pages give still parses

COMMAND = re.compile(r"python (?:-m ddpm\.(?:sample|evaluate|benchmark)|train\.py)\b[^`#&;\n]*")
# what a page writes for "any value here", by flag: --seed S, --weights W, a shell loop's --first $((i*1000))
PLACEHOLDER_VALUE = {"--seed": "0", "--sampler": "ddim", "--weights": "weights", "--autoguidance": "2",
                     "--autoguidance-tmax": "300", "--eta": "0.5", "--first": "1000", "--out": "runs/x",
                     "--null-teacher": "weights", "--guidance": "1.5"}


def commands(page: Path) -> list[list[str]]:
    """The train.py, ddpm.sample, ddpm.evaluate and ddpm.benchmark command lines of a page, in code spans and
    ```bash blocks (one across a line break too), placeholders given a value."""
    text = page.read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    spans = blocks + [s.replace("\n", " ") for s in re.findall(r"`([^`]+)`", prose)]
    found = []
    for span in spans:
        for cmd in COMMAND.findall(span):
            tokens = [t for t in shlex.split(cmd.strip()) if t != "..."][1:]
            for i, t in enumerate(tokens):
                if i and (re.fullmatch(r"[A-Z]+|\$\(\(.*\)\)", t)):
                    tokens[i] = PLACEHOLDER_VALUE[tokens[i - 1]]
            found.append(tokens)
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_command_on_the_page_parses(page, monkeypatch):
    import train

    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")  # --push-to-hub asks for a login before it trains
    from ddpm import benchmark, evaluate, sample

    parse = {"train.py": train.parse_args, "ddpm.sample": sample.parse_args, "ddpm.evaluate": evaluate.parse_args,
             "ddpm.benchmark": benchmark.parse_args}
    cmds = [c for c in commands(page) if "--help" not in c]
    assert cmds
    bad = []
    for c in cmds:
        args = c[1:] if c[0] == "train.py" else c[2:]
        try:
            parse[c[0] if c[0] == "train.py" else c[1]](args)
        except SystemExit:
            bad.append(" ".join(c))
    assert not bad, f"{page.name}: these no longer parse: {bad}"


def test_the_space_front_matter_matches_what_the_project_runs():
    """A Space builds from the README's front matter: the Gradio it runs must be the pinned one, and its Python
    (Spaces default to 3.10) one the pins install on (numpy 2.4 and pandas 3.1 need 3.11)."""
    import gradio

    head = (ROOT / "README.md").read_text().split("---\n")[1]
    meta = dict(line.split(": ", 1) for line in head.splitlines())
    assert meta["sdk_version"] == gradio.__version__
    assert (ROOT / meta["app_file"]).exists()
    assert tuple(int(p) for p in meta["python_version"].strip('"').split(".")) >= (3, 11)
    from ddpm.demo import intro  # the Space's title is the page's and its browser tab's (they had told two)
    assert meta["title"] == intro.TITLE and intro.header().startswith(f"# {intro.TITLE}\n")


def test_the_readmes_space_upload_keeps_what_the_app_loads_and_leaves_the_checkpoints(tmp_path):
    """The README's `hf upload` of the committed files, its --exclude applied by huggingface_hub's own filter: the
    app, its pins and every file the bundled model and guide load from are uploaded; the resume checkpoints are not."""
    import shutil
    import subprocess

    from huggingface_hub.utils import filter_repo_objects

    from ddpm.demo.runtime import load_runtime

    try:
        tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the README's command uploads what git archive gives")
    line = re.search(r"^hf upload (?:.*\\\n)*.*$", (ROOT / "README.md").read_text(), flags=re.M)[0]
    tokens = shlex.split(line.replace("\\\n", " ").split("#")[0])
    excludes = [tokens[i + 1] for i, t in enumerate(tokens) if t == "--exclude"]
    assert tokens[tokens.index("--repo-type") + 1] == "space" and excludes
    uploaded = set(filter_repo_objects(tracked.splitlines(), ignore_patterns=excludes))
    assert {"app.py", "requirements.txt", "pre-requirements.txt", "README.md", "LICENSE",
            "ddpm/assets/classifier.safetensors"} <= uploaded
    assert not [f for f in uploaded if f.endswith("checkpoint.safetensors")]
    for f in (f for f in uploaded if f.startswith("weights/")):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / f, tmp_path / f)
    rt = load_runtime(str(tmp_path / "weights"))
    assert rt.guide is not None and rt.classifier is not None and rt.folder == tmp_path / "weights"


def test_a_space_installs_the_pinned_torch_as_its_cpu_build_first():
    """pre-requirements.txt, which a Space installs before requirements.txt, pins the same torch and torchvision from
    torch's CPU index (a pin bumped in one file alone would install both builds, or none from the CPU index)."""
    from packaging.requirements import Requirement

    def pins(name):
        lines = (ROOT / name).read_text().splitlines()
        reqs = [Requirement(x.split("#")[0]) for x in lines if x.split("#")[0].strip() and not x.startswith("-")]
        return {r.name: r.specifier for r in reqs}, lines

    first, lines = pins("pre-requirements.txt")
    main, _ = pins("requirements.txt")
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines and set(first) == {"torch", "torchvision"}
    assert all(spec == main[name] for name, spec in first.items())


def test_the_readmes_python_example_runs_as_written(monkeypatch, tmp_path):
    """The README's notebook lines, run as written from a folder of nothing but them (the notebook in a subfolder
    that failed on a relative "weights"): the bundled model's
    grid, saved as the first command's grid.png is (pixel for pixel), the model's schedule, a chain's x0_hat step by
    step, the forward jump and x_0 recovered from it, a digit's bound in bits/dim, then the same seed autoguided by
    weights/guide/, which the app's autoguidance slider draws."""
    from PIL import Image

    from ddpm import sample
    from ddpm.classifier import load_classifier
    monkeypatch.chdir(tmp_path)
    block = next(b for b in re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
                 if "load_pretrained" in b)
    plain, ns = None, {}
    for part in block.split("\n\n"):  # keep the first grid before the second replaces it
        exec(part, ns)
        plain = ns["digits"] if plain is None else plain
    assert plain.shape == ns["digits"].shape == (16, 28, 28) and plain.dtype == np.uint8
    assert ns["guided"] is not ns["model"] and not np.array_equal(plain, ns["digits"])
    assert ns["sched"].T == ns["model"].config.timesteps and ns["sched"].kind == ns["model"].config.schedule
    assert ns["x0_hats"].shape == (50, 4, 1, 28, 28) and ns["samples"].shape == (4, 1, 28, 28)
    assert [s.t + 1 for s in ns["steps"]][::49] == [1000, 20]  # "x0_hat at t = 1000, 980, ..., 20"
    assert Image.open("x0_hat.png").size == ns["tensor_grid"](ns["samples"][:1].repeat(6, 1, 1, 1), scale=2).size
    assert load_classifier()(ns["samples"]).argmax(1).tolist() == [7, 7, 7, 7]  # "four 7s", as the comment says
    assert (ns["x0_hat"] - ns["x0"]).abs().mean() < 0.4  # the network's x0_hat at t = 500 near the digits (0.23)
    assert 1 < ns["bound"].total.item() < 3 and ns["bound"].rmse[0, -1] > ns["bound"].rmse[0, 0]  # 2.0 bits/dim
    assert sample.main("--seed 0 --n 16 --sampler ddim --steps 50 --out cli.png".split()) == 0
    assert np.array_equal(np.asarray(Image.open("grid.png")), np.asarray(Image.open("cli.png")))


def test_ci_fails_a_test_skipped_for_want_of_what_ci_provides(monkeypatch):
    """.ci/run sets DDPM_CI=1: a skip for want of MNIST (or chromium, playwright, gradio_client, diffusers) would let
    CI pass with train.py's end-to-end tests never run, so there it fails; a GPU's skip stays a skip, as do all
    skips outside CI."""
    from types import SimpleNamespace

    from conftest import _fail_a_ci_skip

    def report(why):
        return SimpleNamespace(skipped=True, outcome="skipped", longrepr=("t.py", 1, f"Skipped: {why}"))

    assert "DDPM_CI=1 python3 -m pytest -q" in (ROOT / ".ci" / "run").read_text()
    monkeypatch.setenv("DDPM_CI", "1")
    mnist, gpu = report("MNIST raw files not copied to data/mnist"), report("needs a GPU: AdamW keeps ...")
    _fail_a_ci_skip(mnist), _fail_a_ci_skip(gpu)
    assert mnist.outcome == "failed" and "skipped in CI, which provides what it needs" in mnist.longrepr
    assert gpu.outcome == "skipped"
    xfail = report("diffusers agrees (an xfail's reason naming a provided thing)")
    xfail.wasxfail = "diffusers ..."
    _fail_a_ci_skip(xfail)
    assert xfail.outcome == "skipped"
    monkeypatch.delenv("DDPM_CI")
    local = report("MNIST raw files not copied to data/mnist")
    _fail_a_ci_skip(local)
    assert local.outcome == "skipped"
