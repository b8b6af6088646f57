"""End to end: start app.py on a free localhost port (tiny random model) and drive it with gradio_client."""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from app_helpers import ROOT, app_log, running_app, save_tiny
from ddpm.data import load_sample

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

T = 100
IMAGES = load_sample()[0]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = save_tiny(tmp_path_factory.mktemp("tiny-model"), T=T, guide=True)
    with running_app(folder) as url:
        yield Client(url, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))


def forward(client, source="MNIST test digit", index=0, upload=None, sketch=None, kind="linear", t=25, seed=0):
    return client.predict(source, index, upload, sketch, kind, t, seed, api_name="/forward")


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


def digit_from_display(path, scale=8) -> np.ndarray:
    """Undo draw.digits(x, scale=8): a 2-pixel pad, then each pixel an 8x8 block."""
    a = pixels(path)
    return a[2 * scale + scale // 2:: scale, 2 * scale + scale // 2:: scale][:28, :28]


def test_the_app_serves_itself_without_a_node_proxy_where_a_space_asks_for_ssr(client):
    """A Space's image sets GRADIO_SSR_MODE (running_app does too): the app launches with ssr_mode=False, so the page
    and its streams come from Gradio's Python server on the port it was given, as every test here sees them."""
    log = app_log(client.src)
    assert f"Running on local URL:  {client.src.rstrip('/')}" in log and "SSR" not in log
    assert log.index("Loading the model (") < log.index("Running on")  # the wait before it said why


def test_forward_with_an_mnist_example(client):
    x0, x_t, chain, strip, scales, log_snr, text = forward(client, index=3)
    assert np.array_equal(digit_from_display(x0), IMAGES[3])
    assert pixels(x_t).shape == pixels(x0).shape and pixels(strip).shape[1] > 1000
    assert "t = 25" in text and "Eq. 4" in text
    assert scales and log_snr  # the plots' data come back as JSON


def test_objective_follows_tab_1s_digit_t_and_seed(client):
    panel, curve, text = client.predict("MNIST test digit", 3, None, None, 25, 0, api_name="/objective")
    assert "Loss at t = 25" in text and pixels(panel).shape[1] > 5 * 28 and curve
    other, *_ = client.predict("MNIST test digit", 3, None, None, 25, 1, api_name="/objective")  # another eps
    assert not np.array_equal(pixels(panel), pixels(other))
    with pytest.raises(AppError, match="t must be a whole number"):
        client.predict("MNIST test digit", 3, None, None, 2.5, 0, api_name="/objective")


def test_forward_with_a_real_mnist_digit_uploaded_as_png(client, tmp_path):
    digit = IMAGES[42]
    scan = 255 - np.kron(digit, np.ones((10, 10), np.uint8))  # a dark-on-light 280x280 "scan"
    path = tmp_path / "digit.png"
    Image.fromarray(scan).save(path)
    x0, *_ = forward(client, source="upload", upload=handle_file(str(path)))
    back = digit_from_display(x0)
    assert np.corrcoef(back.ravel(), digit.ravel())[0, 1] > 0.9


def test_a_drawing_through_the_api(client, tmp_path):
    sketch = Image.new("RGBA", (280, 280), (255, 255, 255, 255))
    from PIL import ImageDraw

    ImageDraw.Draw(sketch).line([(140, 40), (140, 240)], fill=(0, 0, 0, 255), width=18)  # a 1
    path = tmp_path / "sketch.png"
    sketch.save(path)
    value = {"background": None, "layers": [], "composite": handle_file(str(path)), "id": None}
    x0 = client.predict("drawing", 0, None, value, api_name="/preview")
    d = digit_from_display(x0)
    assert d.max() == 255 and d[:, :10].max() < 50 and d[:, 18:].max() < 50  # a centred vertical stroke
    # a few KB that would decode to gigabytes: only the composite is read, and its size is checked first
    bomb = tmp_path / "bomb.png"
    Image.new("1", (12000, 12000)).save(bomb)  # 12000^2 blank pixels compress to a few KB
    heavy = value | {"background": handle_file(str(bomb)), "layers": [handle_file(str(bomb))] * 8}
    assert np.array_equal(pixels(client.predict("drawing", 0, None, heavy, api_name="/preview")), pixels(x0))
    with pytest.raises(AppError, match="too large.*at most 4096 pixels a side"):
        client.predict("drawing", 0, None, value | {"composite": handle_file(str(bomb))}, api_name="/preview")


def test_bad_upload_gets_a_clear_message_and_the_server_stays_up(client, tmp_path):
    fake = tmp_path / "digit.png"
    fake.write_text("not a picture at all, just text with a .png name")
    with pytest.raises(AppError, match="not an image"):
        forward(client, source="upload", upload=handle_file(str(fake)))
    with pytest.raises(AppError, match="No image uploaded"):
        forward(client, source="upload", upload=None)
    assert "t = 10" in forward(client, t=10)[-1]  # still serving


def test_a_path_without_handle_file_is_said_in_words_not_as_pydantics_error(client, tmp_path):
    """Gradio checks a file's or drawing's API value before the app runs: a bare path met pydantic's "1 validation
    error for FileData ... The 'meta' field must be explicitly provided", and a traceback in the server's log."""
    png = tmp_path / "digit.png"
    Image.fromarray(np.full((28, 28), 255, np.uint8)).save(png)
    before = len(app_log(client.src))
    for bare in (str(png), {"path": str(png)}, 5):
        with pytest.raises(AppError, match=r"upload: send the image through gradio_client's handle_file\(path\)"):
            forward(client, source="upload", upload=bare)
    with pytest.raises(AppError, match=r"sketch: send None .* a drawing as the app's editor sends it"):
        client.predict("drawing", 0, None, "abc", api_name="/preview")
    assert "t = 10" in forward(client, t=10)[-1]  # still serving
    assert "Traceback" not in app_log(client.src)[before:]


def test_missing_input_and_seeds_the_browser_cannot_hold(client):
    with pytest.raises(AppError, match="No image uploaded"):  # the UI's own source switch waits quietly instead
        client.predict("upload", 0, None, None, api_name="/preview")
    with pytest.raises(AppError, match="No image uploaded"):
        client.predict("upload", 0, None, None, 25, 0, api_name="/objective")
    for bad in (-1, 2**53):  # past 2**53 a browser's number box shows one seed and sends another
        with pytest.raises(AppError, match="seed must be between 0 and 9007199254740991"):
            client.predict(bad, False, 1, "ddim", 2, "any", 1.0, api_name="/sample")


def test_a_users_mistake_is_not_logged_as_a_crash(client):
    before = len(app_log(client.src))
    with pytest.raises(AppError, match="No image uploaded"):
        client.predict("upload", 0, None, None, api_name="/preview")
    with pytest.raises(AppError, match="t must be between"):  # a slider's refusal, not Gradio's logged one
        forward(client, t=5000)
    time.sleep(0.5)
    assert "No image uploaded" not in app_log(client.src)[before:] and "Traceback" not in app_log(client.src)[before:]


def test_out_of_range_numbers(client):
    """The sliders refuse a value past their ends in the app's words (widgets.Slider; Gradio's own check said "Value
    5000 is greater than maximum value 100."); ddpm.demo.limits checks again (whole numbers, seeds...)."""
    with pytest.raises(AppError, match=r"^t must be between 0 and 100, not 5000$"):
        forward(client, t=5000)
    with pytest.raises(AppError, match="t must be a whole number"):
        forward(client, t=12.5)
    with pytest.raises(AppError, match="seed must be a whole number .*, not 3.7"):  # as t: refused, not rounded
        forward(client, seed=3.7)
    with pytest.raises(AppError, match="seed must be a whole number .*, not 3.7"):
        client.predict(3.7, False, 1, "ddim", 2, "any", 1.0, api_name="/sample")
    with pytest.raises(AppError, match="number of digits must be between 1 and 64, not 65"):
        client.predict(0, False, 65, "ddim", 10, "any", 1.0, api_name="/sample")
    with pytest.raises(AppError, match="number of digits must be a whole number"):
        client.predict(0, False, 2.5, "ddim", 10, "any", 1.0, api_name="/sample")
    with pytest.raises(AppError, match="DDIM steps must be between 1 and 100, not 5000"):
        client.predict(0, False, 4, "ddim", 5000, "any", 1.0, api_name="/sample")
    before = len(app_log(client.src))
    with pytest.raises(AppError, match="DDIM steps must be between 1 and 100, not a 401-digit number"):
        client.predict(0, False, 4, "ddim", 10**400, "any", 1.0, api_name="/sample")  # no float: {:g} overflowed
    assert "Traceback" not in app_log(client.src)[before:]
    with pytest.raises(AppError, match="t must be between 0 and"):  # tab 3's frame slider, its long label aside
        client.predict(-5, api_name="/trajectory_frame")
    # a radio's or dropdown's value outside its choices, or a slider's emptied, in the app's words and with no
    # traceback in the log
    before = len(app_log(client.src))
    # a slider's number box emptied: the browser sends None (Gradio's check failed in a raw TypeError)
    with pytest.raises(AppError, match=r"^t holds no number: give a number between 0 and 100$"):
        forward(client, t=None)
    with pytest.raises(AppError, match=r"^DDIM steps holds no number: give a number between 1 and 100$"):
        client.predict(0, False, 4, "ddim", None, "any", 1.0, api_name="/sample")
    for args, says in (((0, False, 2, "ddim", 10, "10", 1.0), "digit class must be one of 'any', 'random', '0'"),
                       ((0, False, 2, "ddim", 10, 7, 1.0), "digit class must be one of .*, not 7$"),
                       ((0, False, 2, "DDIM", 10, "any", 1.0), "sampler must be one of 'ddpm', 'ddim', not 'DDIM'$")):
        with pytest.raises(AppError, match=says):
            client.predict(*args, api_name="/sample")
    with pytest.raises(AppError, match="^what to compare must be one of 'samplers', 'guidance', not 'sweep'$"):
        client.predict(5, False, 2, "ddim", 10, "any", 2.0, 0.0, 1.0, "sweep", api_name="/compare")
    with pytest.raises(AppError, match="^schedule must be one of 'linear', 'cosine', not 'no-such-schedule'$"):
        forward(client, kind="no-such-schedule")
    with pytest.raises(AppError, match="^what to compare must be one of 'samplers', 'guidance', not None$"):
        client.predict(5, False, 2, "ddim", 10, "any", 2.0, 0.0, 1.0, None, api_name="/compare")  # past Gradio's checks
    with pytest.raises(AppError, match="^Digit from must be one of 'MNIST test digit', 'upload', 'drawing', not None$"):
        forward(client, source=None)
    # a string or a list for a slider (Gradio's own check said "Could not preprocess input component ... TypeError:
    # '<' not supported between instances of 'str' and 'int'", and logged a traceback); a number in a string is read
    with pytest.raises(AppError, match=r"^number of digits must be a number between 1 and 64, not 'four'$"):
        client.predict(0, False, "four", "ddim", 10, "any", 1.0, api_name="/sample")
    with pytest.raises(AppError, match=r"^t must be a number between 0 and \d+, not \[1, 2\]$"):
        client.predict([1, 2], api_name="/trajectory_frame")
    assert client.predict(0, False, "2", "ddim", "3", "any", 1.0, api_name="/sample")[3] == 0
    time.sleep(0.5)
    assert "Traceback" not in app_log(client.src)[before:]


def test_sample_is_seeded_and_downloadable(client):
    args = (5, False, 4, "ddim", 10, "7", 2.0)
    grid, png, status, seed = client.predict(*args, api_name="/sample")
    assert seed == 5 and "seed 5" in status and "Done" in status
    assert Image.open(png).format == "PNG" and " --seed 5 " in Image.open(png).info["Comment"]  # how to draw it again
    grid2, png2, _, _ = client.predict(*args, api_name="/sample")
    assert np.array_equal(pixels(png), pixels(png2)) and np.array_equal(pixels(grid), pixels(grid2))
    _, png3, _, _ = client.predict(6, False, 4, "ddim", 10, "7", 2.0, api_name="/sample")
    assert not np.array_equal(pixels(png), pixels(png3))
    _, png4, status4, _ = client.predict(*args, 1.0, api_name="/sample")  # DDIM eta 1
    assert "eta 1" in status4 and not np.array_equal(pixels(png), pixels(png4))
    _, png6, status6, _ = client.predict(*args, 0.0, 2.0, api_name="/sample")  # autoguidance w = 2
    assert "autoguidance 2" in status6 and not np.array_equal(pixels(png), pixels(png6))
    with pytest.raises(AppError, match="autoguidance w must be between 0 and 4, not 9$"):  # the slider's own check
        client.predict(*args, 0.0, 9.0, api_name="/sample")
    *_, status5, _ = client.predict(5, False, 4, "ddim", 10, "random", 2.0, api_name="/sample")
    assert "a random digit each" in status5  # the pixels: test_demo and test_samplers, on a model whose labels matter
    with pytest.raises(AppError, match="digit class must be one of 'any', .*, not 'eleven'"):
        client.predict(5, False, 4, "ddim", 10, "eleven", 2.0, api_name="/sample")
    *_, seed_r = client.predict(5, True, 1, "ddpm", 1, "any", 1.0, api_name="/sample")
    *_, seed_s = client.predict(5, True, 1, "ddpm", 1, "any", 1.0, api_name="/sample")
    assert isinstance(seed_r, int | float) and 5 != seed_r != seed_s  # a fresh seed each time, reported back


def test_compare_runs_one_row_per_setting_from_the_same_noise(client):
    grid, text, seed = client.predict(5, False, 16, "ddim", 10, "7", 2.0, 0.0, 1.0, "guidance", api_name="/compare")
    assert "Seed 5, 6 digits a row, DDIM, 10 steps, digit 7" in text and "w = 0 ignores the class" in text
    assert seed == 5  # the seed box shows the seed used, as Generate's does
    five = pixels(grid)
    grid, text, _ = client.predict(5, False, 2, "ddim", 10, "any", 2.0, 0.0, 1.0, "samplers", api_name="/compare")
    assert "2 digits a row, any digit" in text and pixels(grid).shape[0] < five.shape[0]  # 4 rows, not 5
    assert "The MNIST classifier reads the rows as DDPM, " in text  # the picture in words
    _, text, _ = client.predict(5, False, 2, "ddim", 10, "any", 2.0, 0.0, 1.0, "guidance", api_name="/compare")
    assert "2 digits a row, DDIM, 10 steps, a random digit each" in text and "class is drawn from (seed, k)" in text


def test_trajectory_returns_panels_and_a_gif(client):
    panel, last_frame, gif, plot, decided, summary, seed, film = client.predict(
        3, False, 1, "ddim", 20, "any", 1.0, api_name="/trajectory")
    assert Image.open(film).width > 3 * Image.open(film).height  # two rows of 11 stills, t = 0 to T
    # the slider, in t as the plot, comes back at t = 0 (the sample) with the run's first t as its maximum
    assert last_frame["value"] == 0 and last_frame["maximum"] == T and seed == 3
    img = Image.open(panel)
    assert img.width > 2.5 * img.height * 0.8
    g = Image.open(gif)
    assert g.format == "GIF" and g.n_frames == 21
    assert "20 steps" in summary and "seed 3" in summary
    assert decided  # the classifier's verdict, or why it is missing
    # every class is drawn, in its own colour; the legend names those that matter, the final digit among them
    assert {row[2] for row in plot["value"]["data"]} == set("0123456789") | {"t shown"}  # and a line at the slider's t
    assert "t shown" not in plot["colors_in_legend"]
    final = re.search(r"\*\*(\d)\*\*", decided).group(1)
    assert final in plot["colors_in_legend"] and len(plot["colors_in_legend"]) < 10


def test_roundtrip(client):
    x0, main, strip, text = client.predict("MNIST test digit", 1, None, None, 30, 0, "ddim", 10,
                                           api_name="/roundtrip")
    assert np.array_equal(digit_from_display(x0), IMAGES[1])
    assert "t = 30" in text and Image.open(strip).width > Image.open(strip).height
    assert "The MNIST classifier reads your digit as 2 and the one denoised from t = 30 as" in text  # test digit #1
    _, main1, *_ = client.predict("MNIST test digit", 1, None, None, 30, 1, "ddim", 10, api_name="/roundtrip")
    assert not np.array_equal(pixels(main), pixels(main1))  # the seed draws the forward eps


def test_interpolate(client):
    image, text = client.predict("MNIST test digit", 0, None, None, 1, 30, 0, "ddim", 10, api_name="/interpolate")
    assert "t = 30" in text and Image.open(image).width > Image.open(image).height
    assert "The MNIST classifier reads the denoised mixes, lambda = 0 to 1, as " in text
    image2, _ = client.predict("MNIST test digit", 0, None, None, 2, 30, 0, "ddim", 10, api_name="/interpolate")
    assert not np.array_equal(pixels(image), pixels(image2))  # the other digit is the one asked for
    with pytest.raises(AppError, match="the other digit x'_0: MNIST test digit # must be between 0 and 299, not 300"):  # the slider's
        client.predict("MNIST test digit", 0, None, None, 300, 30, 0, "ddim", 10, api_name="/interpolate")
    with pytest.raises(AppError, match="^the other digit x'_0: MNIST test digit # must be a whole number between"):
        client.predict("MNIST test digit", 0, None, None, 1.5, 30, 0, "ddim", 10, api_name="/interpolate")


def test_the_readmes_api_calls_name_endpoints_the_app_has(client):
    """Each c.predict(...) line of the README's "The app" names an endpoint with room for its arguments."""
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    calls = re.findall(r"^c\.predict\((.*), api_name=\"(/\w+)\"\)", (ROOT / "README.md").read_text(), re.M)
    assert len(calls) >= 6
    for args, name in calls:
        assert name in endpoints, name
        given = len(ast.parse(f"f({args})").body[0].value.args)
        assert given <= len(endpoints[name]["parameters"]), (name, given)
    # every output is named for what it shows (a Markdown without a label was 'value_49' in view_api)
    unnamed = [(name, r["label"]) for name, e in endpoints.items() for r in e["returns"]
               if r["label"].startswith("value_")]
    assert not unnamed


def test_app_refuses_to_start_without_a_model(tmp_path):
    env = os.environ | {"DDPM_MODEL": str(tmp_path / "no-such-model"), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "cannot load the model" in r.stderr and "DDPM_MODEL" in r.stderr
