"""What a learner on a phone's slow link pays for: the bytes the app sends for what it shows. The animation's GIF is
the largest thing the page loads (1.6 MB for the start-up run), so its frames are written as changes to the frame
before; every picture decodes to the same pixels as before."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageSequence

from ddpm.demo import trajectory


def _denoising_run(frames: int = 30, seed: int = 0) -> trajectory.Trajectory:
    """A run's look without a model: x_t and eps_hat noisy, each step settling a few of their pixels, x0_hat still."""
    rng = np.random.default_rng(seed)
    x_t, eps = (rng.integers(0, 240, (1, 28, 28), dtype=np.uint8) for _ in range(2))
    x0 = np.zeros((1, 28, 28), np.uint8)
    x0[0, 6:22, 12:16] = 230
    xs, epss = [], []
    for _ in range(frames):
        for a in (x_t, eps):  # 3% of the pixels move a step
            moved = rng.random(a.shape) < 0.03
            a[moved] = rng.integers(0, 240, int(moved.sum()), dtype=np.uint8)
        xs.append(x_t.copy())
        epss.append(eps.copy())
    # t down to 0, as a run's: its final frame's labels are its longest
    return trajectory.Trajectory(list(range(frames - 1, -1, -1)), np.stack(xs), np.stack([x0] * frames),
                                 np.stack(epss))


def _still_bytes(img: Image.Image) -> int:
    out = io.BytesIO()
    img.save(out, format="GIF")
    return len(out.getvalue())


def test_the_gif_sends_a_frames_changes_not_the_whole_frame_again_and_shows_the_same_pixels(tmp_path):
    """Each step of a run changes few of x_t's and eps_hat's pixels: the frames after the first carry those alone
    (the unchanged ones are left transparent), where every frame had been sent whole. On the bundled model's start-up
    run (51 frames) that took the GIF from 1,568,753 to 931,060 bytes, 13 s less on a 400 kbit/s link."""
    traj = _denoising_run()
    path = trajectory.save_gif(traj, tmp_path / "t.gif")
    gif = Image.open(path)
    assert gif.n_frames == traj.frames and gif.info["loop"] == 0
    for i, frame in enumerate(ImageSequence.Iterator(gif)):  # as a browser shows it: each frame laid over the last
        shown = np.asarray(frame.convert("RGBA"))
        assert (shown[..., 3] == 255).all(), i  # nothing of the page shows through
        panel = np.asarray(trajectory.frame_panel(traj, i))  # at the top left, the widest frame's size (the last)
        h, w = panel.shape
        rest = np.concatenate([shown[h:, :, 0].ravel(), shown[:, w:, 0].ravel()])
        assert np.array_equal(shown[:h, :w, 0], panel) and (rest == trajectory.draw.BG).all(), i
    gif.seek(traj.frames - 1)
    assert gif.info["duration"] == 1500  # the final sample is still held a moment
    whole = _still_bytes(trajectory.frame_panel(traj, 0))
    assert path.stat().st_size < 0.5 * whole * traj.frames  # every frame whole: about whole * frames


@pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")  # Gradio's own use of pandas, not the app's
def test_the_page_and_its_json_come_compressed_and_a_runs_stream_comes_as_it_goes():
    """The page's HTML carries every component's config, the start-up pictures' plots with it: 385,601 bytes that
    Gradio sent uncompressed, 7.7 s on a 400 kbit/s link before the page could start; gzipped, 48,720. A run's
    event stream is left uncompressed: compressed, its frames would wait in the compressor's buffer."""
    import time

    import gradio as gr
    import httpx

    from app_helpers import free_port
    from ddpm.demo import page

    def count(n):
        for k in range(int(n)):
            yield str(k)
            time.sleep(0.3)

    with gr.Blocks() as demo:
        gr.Markdown("a page " * 2000)
        n, out = gr.Number(3), gr.Textbox()
        gr.Button().click(count, n, out, api_name="count")
    port = free_port()
    demo.launch(**page.LAUNCH, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Accept-Encoding": "gzip"}) as c:
            html = c.get("/")
            assert html.headers["content-encoding"] == "gzip" and "a page a page" in html.text
            assert int(html.headers["content-length"]) * 4 < len(html.content)  # the page, 4 times smaller or more
            assert c.get("/config").headers["content-encoding"] == "gzip"
            fn = next(i for i, d in enumerate(demo.config["dependencies"]) if d["api_name"] == "count")
            asked = {"data": [3], "fn_index": fn, "session_hash": "s1", "event_data": None, "trigger_id": None}
            c.post("/gradio_api/queue/join", json=asked).raise_for_status()
            start, seen = time.monotonic(), []
            with c.stream("GET", "/gradio_api/queue/data", params={"session_hash": "s1"}) as stream:
                assert "content-encoding" not in stream.headers
                for line in stream.iter_lines():
                    if '"process_generating"' in line:
                        seen.append(time.monotonic() - start)
                    if '"process_completed"' in line:
                        break
            assert len(seen) >= 3 and seen[0] < seen[-1] - 0.4  # each value as it comes, not all at the end
    finally:
        demo.close()
