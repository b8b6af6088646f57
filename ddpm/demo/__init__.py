"""The app's logic as pure functions, one module per tab (forward, generate, trajectory, roundtrip,
about), plus the digit sources, drawing helpers, limits and output files. app.py only wires them up."""
