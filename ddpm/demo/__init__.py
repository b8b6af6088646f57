"""The app's logic as pure functions, one module per job: tab 1's forward process, training view and bound
(forward, objective, bits), tab 2's grids and comparisons (generate, compare), tab 3's x0_hat animation (trajectory),
tab 4's noise and denoise and interpolation (roundtrip, interpolate), tab 5 (about); plus the digit sources, drawing
helpers, limits, progress reports, output files, the last results kept (kept), the start-up load (runtime), the
timing benchmark (timing) and the page's words (intro). The Gradio pieces are in controls, widgets, digit_input,
wiring and page (CSS, theme, scripts); app.py only lays them out and wires them up."""
