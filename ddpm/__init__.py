"""A from-scratch DDPM (Ho, Jain & Abbeel 2020) on MNIST, small enough to read in one sitting.

Read in this order:
  schedule.py   the forward process q(x_t | x_0) and the posterior q(x_{t-1} | x_t, x_0)
  unet.py       the noise predictor eps_theta(x_t, t, y)
  training.py   L_simple, EMA, exact resume (training_checks.py: what a loss or step call may take)
  samplers.py   DDPM ancestral sampling, DDIM, classifier-free guidance (sampling_checks.py: what a call may ask)
  likelihood.py the variational bound L = L_T + sum L_{t-1} + L_0 in bits/dim (Eq. 5, the decoder of Eq. 13)
  autoguidance.py, teacher.py   beyond DDPM: a small guide model, and the null class's teacher that made the weights
  hub.py        config.json + model.safetensors folders, saved and loaded (from a folder or the Hugging Face Hub)
Around them: sample.py / evaluate.py / benchmark.py (command lines; cli_args.py their shared flags),
classifier.py + metrics.py (the yardstick), facts.py + card.py + push.py (what a folder records, its model card,
publishing it), checkpoint.py + run_record.py + run_control.py (a run's checkpoint, records, resume checks and
Ctrl-C), train_args.py (train.py's flags as the config), preprocess.py + demo/ (the pure functions behind app.py;
paper.py: a page's printed lines told from a digit's strokes; sheet.py, shade.py, strays.py: a sheet on a desk, a
shadow, a stray dot).
"""
