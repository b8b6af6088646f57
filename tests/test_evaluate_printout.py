"""What python -m ddpm.evaluate prints for a learner: how to read each figure, and how to keep them."""
import numpy as np


def test_the_printed_figures_say_how_to_read_them(capsys):
    """A learner's first score: which way is better, what the floor is, one range for the real draws' shares (five
    min/max pairs read as if they were per digit), and a model whose samples are all one digit is told so."""
    from ddpm import evaluate

    r = dict(run="ddim-20", n=200, sampler="ddim", steps=20, fd=843.805, real_floor_fd=3.587, real_floor_fd_std=0.735,
             fd_ratio=235.261, inception_score=1.0, real_inception_score=9.547, class_share=[0.0] * 8 + [1.0, 0.0],
             real_floor_class_share_extremes=[[0.065, 0.12], [0.05, 0.145]], memorised=0.0, seconds=9.0,
             eval_seconds=2.0)
    evaluate._print_human(r)
    out = capsys.readouterr().out
    assert "(lower is better; 200 real training digits score 3.587 +- 0.735, so this is 235.261x that floor" in out
    assert "(1 to 10, higher is better" in out and "every class took 5.0% to 14.5%)" in out
    assert "most samples read as one digit: the model has not learnt the classes yet" in out
    evaluate._print_human(r | {"label": 8})  # one class asked for: as it should be
    assert "most samples read as one digit" not in capsys.readouterr().out


def test_a_fresh_run_scored_without_out_says_how_to_keep_its_figures(monkeypatch, capsys):
    from ddpm import evaluate

    figures = dict(n=2, fd=1.0, real_floor_fd=1.0, fd_ratio=1.0, inception_score=2.0, real_inception_score=9.0,
                   class_share=[0.1] * 10, memorised=0.0, eval_seconds=1.0)
    monkeypatch.setattr(evaluate, "reference", lambda *a: None)
    monkeypatch.setattr(evaluate, "generate", lambda *a, **k: (np.zeros((2, 28, 28), np.uint8), 50, 1000, "0" * 64))
    monkeypatch.setattr(evaluate, "evaluate_samples", lambda *a, **k: dict(figures))
    assert evaluate.main(["--n", "2"]) == 0
    assert "not saved: --out FOLDER/eval.json files them in the model's folder" in capsys.readouterr().out
    assert evaluate.main(["--n", "2", "--json"]) == 0 and "not saved" not in capsys.readouterr().out  # JSON alone
