"""DDPM on MNIST, the Gradio app: forward noising and the training loss, seeded sampling, the x0_hat animation,
noise-and-denoise and interpolation.

usage:
    python app.py                         # the bundled weights/ on http://127.0.0.1:7860
    DDPM_MODEL=runs/mnist python app.py   # any model folder, or a Hub repo id such as you/ddpm-mnist

It takes no flags. GRADIO_SERVER_PORT and GRADIO_SERVER_NAME set its address (with port 7860 taken, Gradio
takes the next free one: open the address it prints). The file only wires components to the pure functions in ddpm/.
"""
from __future__ import annotations

import os
import sys

if __name__ == "__main__" and sys.argv[1:]:  # --help, or a flag it does not have: say so before loading anything
    asked = sys.argv[1:] in (["-h"], ["--help"])
    print(__doc__, file=sys.stdout if asked else sys.stderr)
    sys.exit(0 if asked else f"app.py takes no arguments, not {' '.join(sys.argv[1:])}")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from ddpm.demo import draw, intro  # noqa: E402
from ddpm.demo.bits import bits_stream, waiting  # noqa: E402
from ddpm.hub import ModelLoadError  # noqa: E402
from ddpm.demo.compare import COMPARE_DIGITS, choices, compare_rows, compare_stream  # noqa: E402
from ddpm.demo.controls import ddim_only, sampler_choices, sampler_controls  # noqa: E402
from ddpm.demo.about import (about_markdown, is_bundled, loss_history, null_class_target, read_more,  # noqa: E402
                             shown_source, training_progress)
from ddpm.demo.forward import COLORS, SCHEDULES, forward_view, notation  # noqa: E402
from ddpm.demo.generate import (DEFAULT_GUIDANCE, DEFAULT_LABEL, DEFAULT_SAMPLER,  # noqa: E402
                                LastGrids, check_settings, default_steps, generate, resolve_seed)
from ddpm.demo.interpolate import COLUMNS, default_t, interpolate_stream  # noqa: E402
from ddpm.demo.limits import (MAX_DIGITS, MAX_STEPS, MAX_TRAJECTORY_DIGITS, EmptyBox, MissingInput,  # noqa: E402
                              check_int)
from ddpm.demo.objective import COLORS as LOSS_COLORS, LossCurves, objective_view  # noqa: E402
from ddpm.demo.outputs import CACHE_AGE_S, CACHE_SWEEP_S, new_path, save_png  # noqa: E402
from ddpm.demo.progress import Progress  # noqa: E402
from ddpm.demo.roundtrip import (KEEP, DigitMemo, RoundtripOut, chain_settings, digit_change_outputs,  # noqa: E402
                                 roundtrip, roundtrip_stream, shown_as_it_goes, strip_ts, until_left)
from ddpm.demo.runtime import load_runtime  # noqa: E402
from ddpm.demo.sources import (EXAMPLE, class_word, example_digit, first_of_each_class, index_label,  # noqa: E402
                               num_examples, pick_digit, preprocessed_as, worded)
from ddpm.demo.page import LAUNCH  # noqa: E402
from ddpm.demo.digit_input import digit_input  # noqa: E402
from ddpm.demo.widgets import line_plot, loss_plot, no_lines, picture, Radio, Slider, snap_back  # noqa: E402
from ddpm.demo.wiring import (api_and_ui, counts_in, live, noting_start, on_new_inputs, progress_update,  # noqa: E402
                              run_button, seed_back_if_drawn)
from ddpm.demo.trajectory import (DIGIT_COLORS, PLOT_MIN_P, TrajectoryOut, decision_legend, decision_plot,  # noqa: E402
                                  decision_text, film_strip, frame_panel, frame_slider, nearest_frame, save_gif,
                                  trajectory_stream)

try:
    RT = load_runtime(app=True)  # $DDPM_MODEL, else the bundled weights/
except ModelLoadError as e:
    raise SystemExit(f"app.py: cannot load the model: {e}\nSet DDPM_MODEL to a model folder or a Hub repo id.") from None
T = RT.T
CONDITIONAL = RT.model.config.num_classes > 0  # else the class and guidance controls are greyed out
WEIGHTS_FLAG = None if is_bundled(RT.source) else shown_source(RT.source)  # the command line's --weights
NULL_TARGET = null_class_target(RT.folder)  # what the null class was last trained on, if not eps (tab 1's text)
GRIDS = LastGrids()  # Generate's last 8 grids: asked again for one, it shows it, not drawn anew (same seed, same digits)
CURVES = LossCurves()  # tab 1's loss curves of the last 16 (digit, seed): a moved t runs one image at most
# one sampling job at a time on a shared CPU (tab 1's loss view, a batch of 60 at most, has its own queue so that it
# never waits seconds behind a grid while the forward view above it has moved on) ...
HEAVY = dict(concurrency_id="model", concurrency_limit=1)
VIEW = dict(concurrency_id="view", concurrency_limit=4)  # ... views with no network pass (ms each) a few at a time
QUEUE_SIZE = 100  # events waiting, all kinds together: enough that a crowd moving sliders never refuses a Generate
SESSIONS = 500  # sessions whose state (tab 3's last run ~4 MB, tab 4's put-away run under 1) is kept, the least
# recently used dropped first: with Gradio's 10,000, API clients (which never close their sessions) could hold GBs
# tab 4 starts the chain at the chosen t, so DDPM runs t steps there (and the strip below it 100 to T more each)
ROUNDTRIP_CHOICES = [("DDPM, every step from t down (Ho et al. 2020)", "ddpm"), sampler_choices(T)[1]]


# ---------------------------------------------------------------- handlers: component values in, pure functions, values out

def forward(source, index, upload, sketch, kind, t, seed):
    v = forward_view(pick_digit(source, index, upload, sketch), kind, t, seed, T)
    return v.x0, v.x_t, v.x_t_chain, v.strip, v.scales, v.log_snr, v.text


def objective(source, index, upload, sketch, t, seed):
    v = objective_view(RT.model, RT.sched, pick_digit(source, index, upload, sketch), t, seed, NULL_TARGET, CURVES)
    return v.panel, v.loss_curve, v.text


def bound(source, index, upload, sketch, seed):
    """Tab 1's bound on -log p(x_0) for the digit (ddpm.demo.bits): T network passes, so a model job."""
    yield from bits_stream(RT.model, RT.sched, pick_digit(source, index, upload, sketch), seed)


def forget_bound(shown: str):
    """Tab 1's bound put away as its digit or seed moves (it was the one before's); none shown, nothing is sent."""
    return gr.skip() if shown == waiting(T) else waiting(T)


def sampling(seed, randomise, n, sampler, steps, label, guidance, eta, autoguidance, max_n=MAX_DIGITS):
    """The checked settings (with the seed actually used) and the model to sample with: Generate's and the animation's."""
    settings = check_settings(resolve_seed(seed, randomise), n, sampler, steps, label, guidance, T, max_n=max_n,
                              eta=eta, autoguidance=autoguidance, conditional=CONDITIONAL, dataset=RT.dataset)
    return settings, RT.sampling_model(settings.autoguidance)


def sample_frames(seed, randomise, n, sampler, steps, label, guidance, eta=0.0, autoguidance=1.0, drawn=GRIDS):
    """Generate's frames, each with the finished grid's PNG (None before), and the settings used."""
    settings, model = sampling(seed, randomise, n, sampler, steps, label, guidance, eta, autoguidance)
    for frame in generate(model, RT.sched, settings, weights=WEIGHTS_FLAG, classifier=RT.classifier, drawn=drawn):
        png = (str(save_png(frame.image, f"ddpm-samples-seed{settings.seed}", settings.command(WEIGHTS_FLAG)))
               if frame.done else None)
        yield frame, png, settings


def sample(seed, randomise, n, sampler, steps, label, guidance, eta=0.0, autoguidance=1.0):
    for frame, png, settings in sample_frames(seed, randomise, n, sampler, steps, label, guidance, eta, autoguidance):
        yield frame.image, png, frame.text, settings.seed


def compare(seed, randomise, n, sampler, steps, label, guidance, eta, autoguidance, kind):
    """Generate's settings through `kind`'s rows (ddpm.demo.compare): (picture, caption, the seed used)."""
    n = min(check_int(f"number of {RT.noun}s", n, 1, MAX_DIGITS), COMPARE_DIGITS)  # the rows' digits, not the grid's
    settings, model = sampling(seed, randomise, n, sampler, steps, label, guidance, eta, autoguidance)
    for c in compare_stream(model, RT.sched, kind, compare_rows(kind, settings, T, CONDITIONAL), RT.classifier):
        # while it runs, the last comparison stays (as tab 4's pictures do) and the caption says how far it is
        yield (gr.skip(), c.text, settings.seed) if isinstance(c, Progress) else (c.image, c.text, settings.seed)


def trajectory(seed, randomise, n, sampler, steps, label, guidance, eta=0.0, autoguidance=1.0):
    settings, model = sampling(seed, randomise, n, sampler, steps, label, guidance, eta, autoguidance,
                               max_n=MAX_TRAJECTORY_DIGITS)
    for traj in trajectory_stream(model, RT.sched, settings, RT.classifier):
        if isinstance(traj, Progress):  # the step's x_t | x0_hat | eps_hat into the panel, a line into the status;
            # the last run's frames, GIF, plot and reading go, as they'd sit beside this run's panel as its own (the
            # plot put away by CSS: emptied or hidden, it throws in the page); the frame slider rests (greyed) meanwhile
            yield progress_update(traj, TrajectoryOut, "status", "panel", state=None, gif=None, decided="", film=None,
                                  plot=gr.LinePlot(elem_classes=["put-away"]), frame=gr.Slider(interactive=False))
    gif = save_gif(traj, new_path(f"ddpm-trajectory-seed{settings.seed}", ".gif"))
    yield TrajectoryOut(frame_panel(traj, traj.frames - 1), gr.Slider(**frame_slider(traj), interactive=True),
                        str(gif), decision_view(traj, visible=RT.classifier is not None, elem_classes=[]),
                        decision_text(traj, traj.frames - 1) or RT.classifier_note, traj.text, settings.seed,
                        film_strip(traj), traj)


def decision_view(traj, **kw) -> gr.LinePlot:
    """Tab 3's "when is the digit decided?" plot (kw: its layout, when it is built): every class drawn, in its own
    colour, a grey line at t = 0 where the slider rests after a run; the legend names classes reaching PLOT_MIN_P."""
    return line_plot(decision_plot(traj), colors_in_legend=decision_legend(traj), **kw)


def scrub(traj, t):
    """The t slider: the last finished run's frame nearest t, and the plot's line at t; nothing while a run is
    drawing into the panel (the UI waits quietly; the API, which got three empty updates, hears why)."""
    if traj is None:
        raise MissingInput("this session's /trajectory run is still going, or was stopped: wait, or run it again")
    i = nearest_frame(traj, t)  # the plot's line marks the frame shown, not the slider's own t between frames
    # the data alone: Gradio redraws a plot for a new value, not for a gr.LinePlot(value) of the same layout
    return frame_panel(traj, i), decision_plot(traj, traj.t[i]), decision_text(traj, i) or RT.classifier_note


@shown_as_it_goes("x0", "main", "strip", "text")  # noted in the memo: a change of digit puts them away
def noise_and_denoise(source, index, upload, sketch, t, seed, sampler, steps, memo=None):
    x0, s = pick_digit(source, index, upload, sketch), chain_settings(seed, sampler, steps, T)
    for r in until_left(roundtrip_stream(RT.model, RT.sched, x0, t, s, RT.classifier), memo):
        yield (progress_update(r, RoundtripOut, "text") if isinstance(r, Progress) else
               RoundtripOut(draw.digits(x0, scale=8), r.main, r.strip, r.text))  # none once the digit changed


@shown_as_it_goes("mix", "mix_text")
def interpolate(source, index, upload, sketch, other, t, seed, sampler, steps, memo=None):
    """Tab 4's interpolation: your digit and the bundled example #other, noised to t, mixed, denoised."""
    x0, s = pick_digit(source, index, upload, sketch), chain_settings(seed, sampler, steps, T)
    other = example_digit(other, True)
    for r in until_left(interpolate_stream(RT.model, RT.sched, x0, other, t, s, RT.classifier), memo):
        yield (gr.skip(), r.text) if isinstance(r, Progress) else (r.image, r.text)


def preview(source, index, upload, sketch):
    return draw.digits(pick_digit(source, index, upload, sketch), scale=8)


def new_digit(*digit_and_memo):
    """Tab 4's outputs as its digit moves (roundtrip.after_digit_change); a run going stops, or it would undo them."""
    return tuple(gr.skip() if v is KEEP else v for v in digit_change_outputs(*digit_and_memo))


# ---------------------------------------------------------------- cold start: what the default view shows

def defaults() -> dict:
    """Each tab's default outputs, computed once at startup and shown as the components' initial values
    (each a tuple in the order of that tab's event outputs)."""
    d = {"forward": forward(EXAMPLE, 0, None, None, RT.sched.kind, T // 4, 0),
         "objective": objective(EXAMPLE, 0, None, None, T // 4, 0)}
    choice = (DEFAULT_SAMPLER, default_steps(T), DEFAULT_LABEL, DEFAULT_GUIDANCE)  # as the sliders start
    *_, (last, png, settings) = sample_frames(0, False, 16, *choice, drawn=None)  # a first press draws it again, live
    # each caption without the time, a busy start-up's (the model loading, the other tabs' defaults), not the tab's
    started = "Drawn as the app started: "
    d["sample"] = (last.image, png, started + last.summary, settings.seed)
    *_, traj = trajectory(0, False, 1, *choice)
    d["trajectory"] = traj._replace(status=f"{started}{traj.state.summary}.")
    x0 = pick_digit(EXAMPLE, 0, None, None)
    r = roundtrip(RT.model, RT.sched, x0, T // 2, chain_settings(0, DEFAULT_SAMPLER, choice[1], T), RT.classifier)
    d["roundtrip"] = RoundtripOut(draw.digits(x0, scale=8), r.main, r.strip, started + r.summary)
    return d


# ---------------------------------------------------------------- layout

def build(d: dict) -> gr.Blocks:
    with gr.Blocks(title=intro.title(RT.dataset), delete_cache=(CACHE_SWEEP_S, CACHE_AGE_S)) as demo:
        gr.Markdown(intro.header(RT.dataset), elem_id="header")
        with gr.Tab("1. Forward"):
            gr.Markdown(intro.forward_intro(RT.sched, RT.dataset))
            with gr.Accordion("Notation: beta_t, alpha_bar_t, SNR, eps_hat, x0_hat, ... (the model's schedule)",
                              open=False):
                gr.Markdown(notation(RT.sched, CONDITIONAL))
            with gr.Row():
                with gr.Column(scale=1):
                    f_in = digit_input("forward")
                    f_kind = Radio(list(SCHEDULES), value=RT.sched.kind, label="schedule",
                                   info=f"the model was trained on {RT.sched.kind}")
                    f_seed = gr.Number(0, label="noise seed", elem_id="forward-seed")  # 3.7 refused, not run as 4
                    counts_in(f_seed, f_in[0].elem_id)  # the bound's input: before the views' listeners (as f_in's)
                with gr.Column(scale=2):
                    # right above the pictures it morphs (on a phone, where the columns stack, too)
                    f_t = Slider(0, T, value=T // 4, step=1, label="t", elem_id="forward-t")
                    with gr.Row():
                        f_x0 = picture(d["forward"][0], label=f"x_0, {preprocessed_as()}", elem_id="forward-x0")
                        f_xt = picture(d["forward"][1], label="x_t in one jump (Eq. 4)", elem_id="forward-xt")
                        f_chain = picture(d["forward"][2], label="x_t by t Markov steps (Eq. 2)")
                    with gr.Row():
                        # under the pictures, so t, x_t and the line at t fit one laptop screen; no height=: a fixed
                        # height clips the legend in Gradio 6; min_width: on a phone or zoomed in, they stack
                        f_scales = line_plot(d["forward"][4], x="t", y="value", color="curve", color_map=COLORS,
                                             label="signal and noise scales", y_lim=[0, 1], color_title="",
                                             x_axis_format="d", y_title="sqrt(alpha_bar_t), sqrt(1 - alpha_bar_t)",
                                             min_width=300)
                        f_snr = line_plot(d["forward"][5], x="t", y="value", color="curve", color_map=COLORS,
                                          label="log-SNR (natural log)", color_title="", x_axis_format="d",
                                          y_title="ln(alpha_bar_t / (1 - alpha_bar_t))", min_width=300)
                    f_text = gr.Markdown(d["forward"][6], elem_id="forward-text", label="x_t, in words")
            f_strip = picture(d["forward"][3], label="x_t across t (same eps)", show_label=False,
                              elem_id="forward-strip", elem_classes=["strip"])
            gr.Markdown(intro.objective_intro(RT.sched.kind, RT.dataset))
            o_panel = picture(d["objective"][0], label="x_t | eps | eps_hat | eps - eps_hat | x0_hat",
                              show_label=False, elem_id="objective-panel", elem_classes=["strip", "panels"])
            with gr.Row():
                # min_width: on a phone the two stack instead of squeezing the plot to a strip beside the text
                o_curve = line_plot(d["objective"][1], x="t", y="value", color="curve", color_map=LOSS_COLORS,
                                    color_title="", label=worded("L_simple for this digit and eps, against t"),
                                    y_title="mean of (eps - eps_hat)^2", x_axis_format="d", min_width=320)
                o_text = gr.Markdown(d["objective"][2], elem_id="objective-text", min_width=320,
                                     label="the loss, in words")
            f_view = live(f_in, [f_kind.change, f_t.change, f_seed.change], forward, [*f_in, f_kind, f_t, f_seed],
                          [f_x0, f_xt, f_chain, f_strip, f_scales, f_snr, f_text], "forward",
                          blank=lambda why: (None, None, None, None, gr.skip(), gr.skip(), f"*{why}*"), **VIEW)
            snap_back(f_view, {"forward-t": f_t, "forward-index": f_in[1], "forward-seed": f_seed})  # refused: back
            live(f_in, [], objective, [*f_in, f_t, f_seed], [o_panel, o_curve, o_text],
                 "objective", echo=True, blank=lambda why: (None, no_lines("t", "value", "curve"), f"*{why}*"),
                 after=f_view, concurrency_id="objective", concurrency_limit=1)  # an image a moved t, 60 a new digit
            with gr.Accordion(worded("The bound L_simple stands in for: the bits this digit costs (Ho et al. 2020, Eq. "
                                     "5)"), open=False):
                b_go = gr.Button("Measure the bound", elem_id="bits-go")
                b_text = gr.Markdown(waiting(T), elem_id="bits-text", label="the bound, in words")
            b_run = run_button(b_go, bound, [*f_in, f_seed], [b_text], "bits", show="bits-text", queue_press=False,
                               show_progress="hidden", ui_fn=noting_start(bound, "bits"), **HEAVY)
            # a press on the inputs just typed is not stopped by their late change (started)
            on_new_inputs([*f_in, f_seed], forget_bound, b_text, b_text, [b_run], started="bits")

        with gr.Tab("2. Generate"):
            gr.Markdown(intro.said(intro.GENERATE, RT.dataset))
            with gr.Row():
                with gr.Column(scale=1):
                    g_ins, g_go = sampler_controls(RT, "generate", MAX_DIGITS, 16, "Generate")
                with gr.Column(scale=2, elem_id="generate-out"):  # on a phone, above the settings (page.CSS)
                    g_grid = picture(d["sample"][0], label="samples (x_t while denoising)", show_label=False,
                                     elem_id="generate-grid")
                    g_status = gr.Markdown(d["sample"][2], elem_id="generate-status", label="caption")
                    g_png = gr.File(d["sample"][1], label="download the grid (PNG)")
            run_button(g_go, sample, g_ins, [g_grid, g_png, g_status, g_ins[0]], "sample", show="generate-grid",
                       ui_fn=seed_back_if_drawn(sample, 3), **HEAVY)
            with gr.Accordion("Compare, from the same noise x_T: the samplers side by side"
                              + (", or a sweep of w" if CONDITIONAL else ""), open=False):
                kinds, says = choices(T, CONDITIONAL, RT.guide is not None)
                c_kind = Radio(kinds, value="samplers", elem_id="compare-kind", label=says)
                c_go = gr.Button("Compare", elem_id="compare-go")
                c_grid = picture(None, show_label=False, elem_id="compare-grid",  # its label would cover the first row
                                 label=worded(f"the seed's first digits (at most {COMPARE_DIGITS}), one row a setting"))
                c_text = gr.Markdown(elem_id="compare-text", label="caption")
            run_button(c_go, compare, [*g_ins, c_kind], [c_grid, c_text, g_ins[0]], "compare", show="compare-grid",
                       ui_fn=seed_back_if_drawn(compare, 2), **HEAVY)

        with gr.Tab("3. x0-hat"):
            gr.Markdown(intro.said(intro.TRAJECTORY, RT.dataset))
            traj0 = d["trajectory"]
            with gr.Row():
                with gr.Column(scale=1):
                    a_ins, a_go = sampler_controls(RT, "trajectory", MAX_TRAJECTORY_DIGITS, 1, "Run trajectory")
                with gr.Column(scale=2, min_width=600):
                    a_panel = picture(traj0.panel, label="x_t | x0_hat | eps_hat", show_label=False,
                                      elem_id="trajectory-panel", elem_classes=["strip", "panels"])
                    # in t, as the plot below: denoising runs from t = T on the right to the sample, t = 0, on the left
                    a_frame = Slider(0, **frame_slider(traj0.state), elem_id="trajectory-frame",
                                     label="t (right: pure noise, left: the final sample); the nearest kept frame")
                    a_status = gr.Markdown(traj0.status, elem_id="trajectory-status", label="status")
                    a_plot = decision_view(traj0.state, x="t", y="probability", color="digit", y_lim=[0, 1],
                                           visible=RT.classifier is not None,  # else its text below says why
                                           x_title="t (right: pure noise, left: the final sample)", x_axis_format="d",
                                           y_title="P(class | x0_hat)", color_map=DIGIT_COLORS,
                                           # short enough to clear the full-screen button at the title's end
                                           label="When is the digit decided? An MNIST classifier reads the first "
                                                 f"digit's x0_hat at each step (legend: P >= {PLOT_MIN_P:g})")
                    a_decided = gr.Markdown(traj0.decided, label="the reading at t, when decided",
                                            elem_id="trajectory-decided")
                    with gr.Accordion(intro.GIF_TITLE, elem_id="trajectory-gif-box"):  # closed, it stops (WCAG 2.2.2)
                        a_gif = picture(traj0.gif, "the run as a looping GIF: x_t | x0_hat | eps_hat from t = T to 0",
                                        buttons=("download", "fullscreen"), elem_id="trajectory-gif",
                                        elem_classes=["strip", "panels"], show_label=False)  # it'd cover x_t's title
            gr.Markdown(intro.said(intro.FILM, RT.dataset))
            a_film = picture(traj0.film, label=worded("the first digit's chain as stills: x_t above, x0_hat below"),
                             show_label=False, elem_id="trajectory-film", elem_classes=["strip", "two-rows"])
            a_state = gr.State(traj0.state)
            run_button(a_go, trajectory, a_ins, list(TrajectoryOut(panel=a_panel, frame=a_frame, gif=a_gif, plot=a_plot,
                                                                   decided=a_decided, film=a_film, status=a_status,
                                                                   seed=a_ins[0], state=a_state)), "trajectory",
                       show="trajectory-panel",
                       ui_fn=seed_back_if_drawn(trajectory, TrajectoryOut._fields.index("seed")), **HEAVY)
            snap_back(api_and_ui([gr.Button(visible=False).click], [a_frame.change], scrub, [a_state, a_frame],
                                 [a_panel, a_plot, a_decided], "trajectory_frame", quiet=(EmptyBox, MissingInput),
                                 blank=lambda why: gr.skip(), trigger_mode="always_last", show_progress="hidden",
                                 **VIEW),
                      {"trajectory-frame": a_frame}, between_steps=("trajectory-frame",))  # refused: said, goes back

        with gr.Tab(f"4. Your {RT.noun}"):
            gr.Markdown(intro.said(intro.ROUNDTRIP, RT.dataset))
            with gr.Row():
                with gr.Column(scale=1):
                    r_in = digit_input("roundtrip")
                    r_t = Slider(1, T, value=T // 2, step=1, label="t")
                    r_seed = gr.Number(0, label="noise seed", elem_id="roundtrip-seed")  # as tab 1's
                    # the button before the preview and the sampler: after them it sat below a laptop's screen
                    r_go = gr.Button("Noise and denoise", variant="primary", elem_id="roundtrip-go")
                    r_x0 = picture(d["roundtrip"].x0, label=worded(f"your digit, {preprocessed_as()}"),
                                   height=234, elem_id="roundtrip-x0")
                    ts = strip_ts(T)
                    r_sampler = Radio(ROUNDTRIP_CHOICES, value=DEFAULT_SAMPLER, label="sampler",
                                      info=f"Either runs the strip's {len(ts)} more chains (t = {ts[0]} to {T}) as "
                                           "one batch, each joining it as late as it can to end with the rest: DDPM's"
                                           " all at one t; DDIM's each on its own steps", elem_id="roundtrip-sampler")
                    r_steps = Slider(1, min(MAX_STEPS, T), value=default_steps(T), step=1, elem_id="roundtrip-steps",
                                     label="DDIM steps (each chain at most its own t)",
                                     info=f"the strip's chains start at t = {ts[0]} to {T}: a small t above does "
                                          "not shorten them", interactive=DEFAULT_SAMPLER == "ddim")
                    ddim_only(r_sampler, r_steps)  # greyed while DDPM is chosen, as in tabs 2 and 3
                with gr.Column(scale=2, min_width=600):  # under ~1000 px, under them, its strip legible (as tab 3)
                    r_main = picture(d["roundtrip"].main, label="x_0 | x_t | denoised", show_label=False,
                                     elem_id="roundtrip-main", elem_classes=["strip", "panels"])
                    r_text = gr.Markdown(d["roundtrip"].text, elem_id="roundtrip-text", label="caption")
                    r_strip = picture(d["roundtrip"].strip, label="as t grows", show_label=False,
                                      elem_id="roundtrip-strip", elem_classes=["strip", "two-rows"])
            memo = gr.State(DigitMemo(pick_digit(EXAMPLE, 0, None, None), shown=dict(  # the digit and run as they start
                main=d["roundtrip"].main, strip=d["roundtrip"].strip, text=d["roundtrip"].text)))
            r_run = run_button(r_go, noise_and_denoise, [*r_in, r_t, r_seed, r_sampler, r_steps, memo],
                       list(RoundtripOut(x0=r_x0, main=r_main, strip=r_strip, text=r_text)), "roundtrip",
                       show="roundtrip-text", queue_press=False, **HEAVY)  # its progress, under the panel, in view
            snap_back(live(r_in, [], preview, list(r_in), r_x0, "preview", blank=lambda why: None, **VIEW),
                      {"roundtrip-index": r_in[1]})  # a refused # back to the last (the button's blur moved it on)
            with gr.Accordion(worded("Interpolate to another digit (Ho et al. 2020, Sec. 4.4): noise both to t, mix "
                                     "the two x_t, denoise each mix"), open=False):
                i_other = Slider(0, num_examples() - 1, value=1, step=1, label=index_label(other=True),
                                 elem_id="interpolate-other", info=worded(f"your digit, seed, sampler and steps as "
                                                                          f"above, {COLUMNS} mixes. ")
                                 + f"The first of each {class_word()}: {first_of_each_class()}")
                i_t = Slider(1, T, value=default_t(T), step=1, label="t (of the mix)", elem_id="interpolate-t",
                             info=worded("near T/3 one digit turns into the other; past T/2, more and more the model's"
                                         " own"))
                i_go = gr.Button("Interpolate", elem_id="interpolate-go")
                i_image = picture(None, label="pixel mix | x_bar_t | denoised, lambda from 0 to 1", show_label=False,
                                  elem_id="interpolate-image", elem_classes=["strip", "three-rows"])
                i_text = gr.Markdown(elem_id="interpolate-text", label="caption")
            i_run = run_button(i_go, interpolate, [*r_in, i_other, i_t, r_seed, r_sampler, r_steps, memo],
                               [i_image, i_text], "interpolate", show="interpolate-image", queue_press=False, **HEAVY)
            shown = [r_main, r_strip, r_text, i_image, i_text]
            on_new_inputs(r_in, new_digit, [*r_in, memo], [*shown, memo], [r_run, i_run])

        with gr.Tab("5. About"):
            gr.Markdown(about_markdown(RT.model, RT.source, RT.folder, RT.guide, links=False), elem_id="about")
            losses = loss_history(RT.folder)
            if losses is not None:  # the folder's loss.csv, when it has one
                loss_plot(losses)
                gr.Markdown(losses.text, elem_id="about-loss-text")
            if (progress := training_progress(RT.folder, RT.source)) is not None:  # the bundled weights' alone
                picture(progress.path, label=progress.label, elem_id="about-progress")
                gr.Markdown(progress.text, elem_id="about-progress-text")
            gr.Markdown(read_more(RT.dataset))
    return demo


demo = build(defaults()).queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)

if __name__ == "__main__":
    demo.launch(**LAUNCH, state_session_capacity=SESSIONS)  # page.LAUNCH says why each
