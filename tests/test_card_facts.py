"""The model card's facts, each where a reader looks for it: the training table's cells, the quality table's floor
and readings, the grid's caption and code, and the sentences on labels, teachers and sittings."""
import json
import shutil
from pathlib import Path

from ddpm import hub
from ddpm.card import write_model_card

from conftest import tiny_model

ROW = {"n": 1000, "fd": 1.0, "fd_ratio": 2.0, "inception_score": 9.7, "class_share": [0.1] * 10, "memorised": 0.001}


def test_each_training_fact_is_in_its_own_column(tmp_path):
    """A record of before minutes_by_device (its time and its device alone) still names the machine, and each cell
    holds its own figure (steps and epochs, batch and lr are all numbers: swapped, nothing else would tell)."""
    hub.save_pretrained(tiny_model(), tmp_path, meta={
        "images": 300, "steps": 90, "epochs": 3.0, "batch_size": 32, "lr": 0.002, "ema_decay": 0.9995,
        "train_minutes": 1.5, "device": "CPU (x86_64, 2 threads)", "torch": "2.5.0"})
    card = write_model_card(tmp_path, command="python train.py").read_text()
    assert "| 300 MNIST training images | 90 | 3 | 32 | 0.002 | 1.5 min on CPU (x86_64, 2 threads) | 2.5.0 |" in card
    assert "These are the EMA weights (decay 0.9995)." in card


def test_each_quality_row_has_its_own_floor_and_reading(tmp_path):
    """Rows scored at other N have other floors (eval.json's top-level floor is its latest run's); a conditional row
    that no sample matched reads 0.0%, not "-" (which says the row asked for no digit)."""
    hub.save_pretrained(tiny_model(), tmp_path)
    (tmp_path / "eval.json").write_text(json.dumps({"real_floor_fd": 0.1, "runs": {
        "small": ROW | {"real_floor_fd": 0.5}, "big": ROW | {"n": 10000, "real_floor_fd": 0.1},
        "ddim-50-label3-w1": ROW | {"label_accuracy": 0.0}}}))
    card = write_model_card(tmp_path, command="python train.py").read_text()
    assert "| small | 1000 | 1.000 | 0.500 | 2.00x |" in card and "| big | 10000 | 1.000 | 0.100 | 2.00x |" in card
    assert "| ddim-50-label3-w1 | 1000 |" in card and "| 0.10% | 0.0% |" in card
    assert "The other rows use the null class." in card


def test_an_eval_json_with_one_command_for_all_rows_still_shows_it(tmp_path):
    """An eval.json whose rows carry no command of their own (its top-level one is the command of them all)."""
    hub.save_pretrained(tiny_model(), tmp_path)
    (tmp_path / "eval.json").write_text(json.dumps({"real_floor_fd": 0.5, "command": "python -m ddpm.evaluate X",
                                                    "runs": {"ddpm-20": ROW}}))
    card = write_model_card(tmp_path, command="python train.py").read_text()
    assert "Measured with:\n\n    python -m ddpm.evaluate X\n" in card


def test_the_grid_caption_and_the_code_give_the_models_own_t_and_schedule(tmp_path):
    hub.save_pretrained(tiny_model(schedule="cosine"), tmp_path)
    (tmp_path / "samples.png").write_bytes(b"")  # the card only links it: drawing it takes seconds
    card = write_model_card(tmp_path, command="python train.py").read_text()
    assert "64 unconditional samples, 20 DDPM steps, seed 0:" in card
    assert 'NoiseSchedule(20, "cosine")' in card


def test_the_null_class_sentence_follows_the_record(tmp_path):
    """A label dropout of 0 is a recorded share (not "not recorded"); a teacher guided with a weight below 1 was
    guided all the same; a record without null_teacher_label (older runs) was given the true label, as the
    config reads it."""
    hub.save_pretrained(tiny_model(), tmp_path, meta={"label_dropout": 0.0})
    card = write_model_card(tmp_path, command="python train.py --label-dropout 0").read_text()
    assert '"null" class\n0% of the time, so' in card and "not recorded" not in card
    hub.save_pretrained(tiny_model(), tmp_path / "t", meta={"label_dropout": 0.5, "null_teacher": "runs/t",
                                                             "null_teacher_label": "true",
                                                             "null_teacher_autoguidance": 0.5})
    card = write_model_card(tmp_path / "t", command="python train.py").read_text()
    assert "given the image's true label, autoguided with weight 0.5 by its `guide/`" in card
    hub.save_pretrained(tiny_model(), tmp_path / "old", meta={"label_dropout": 0.5, "null_teacher": "runs/t"})
    card = write_model_card(tmp_path / "old").read_text()  # from the weights' record alone: no training.json
    assert "(`runs/t` when it ran) given the image's true label." in card


def test_balanced_batches_are_said_of_the_last_sitting_and_labels_only_of_a_conditional_model(tmp_path):
    hub.save_pretrained(tiny_model(num_classes=0), tmp_path, meta={"balance_classes": True})
    card = write_model_card(tmp_path, command="python train.py\npython train.py --resume --balance-classes").read_text()
    assert "In the last sitting its batches drew every class equally often" in card
    hub.save_pretrained(tiny_model(num_classes=0), tmp_path / "f", meta={"dataset": "fashion-mnist"})
    card = write_model_card(tmp_path / "f", command="python train.py --dataset fashion-mnist --unconditional")
    assert "It was trained without labels." in card.read_text() and "Its labels" not in card.read_text()


def test_the_shipped_card_is_what_ddpm_card_writes_today(tmp_path, monkeypatch):
    """weights/README.md (and guide/'s) is generated: a change to card.py, eval.json or training.json that was not
    followed by `python -m ddpm.card weights` leaves the shipped card stale. Rebuilt in a copy (the weights linked, not
    rewritten), it must come out byte for byte the same, and carry a valid mark (nothing set aside as hand-made)."""
    shipped = Path(__file__).resolve().parents[1] / "weights"
    shutil.copytree(shipped, tmp_path / "weights")  # (copied, not linked: Windows links need admin rights)
    monkeypatch.chdir(tmp_path)  # the card names its folder as given: "weights", as `python -m ddpm.card weights`
    for folder in ("weights", "weights/guide"):  # the guide's card too (it missed two changes of card.py)
        rebuilt = write_model_card(Path(folder)).read_text()
        assert not (tmp_path / folder / "README.previous.md").exists(), f"{folder}/README.md was edited by hand"
        assert rebuilt == (shipped.parent / folder / "README.md").read_text(), \
            f"{folder}/README.md is stale: run python -m ddpm.card {folder}"


def test_weights_whose_facts_are_of_the_wrong_type_still_load_and_get_their_card_and_about(tmp_path, capsys):
    """model.safetensors' metadata as another program (or a hand) may write it: a JSON list, a value of the wrong
    type, or no JSON at all. The card, About and load_pretrained stopped on a TypeError or AttributeError (the app
    would not start); now such facts are left out, said on stderr, and the weights load."""
    from safetensors.torch import load_file, save_file

    from ddpm.demo.about import about_markdown

    model = hub.save_pretrained(tiny_model(), tmp_path / "m", meta={"steps": 90, "seed": 3})
    weights = model / "model.safetensors"
    state = load_file(str(weights))
    for header, kept in [("[1, 2]", None), ('{"minutes_by_device": "x", "train_minutes": 1, "steps": true, '
                                             '"epochs": 3.0}', "| 3 |"), ("not json", None)]:
        save_file(state, str(weights), metadata={"json": header})
        card = write_model_card(model, command="python train.py").read_text()
        assert kept is None or kept in card
        about_markdown(hub.load_pretrained(model), str(model), model)  # About's page, as the app builds it
    err = capsys.readouterr().err
    assert "the training facts in" in err and "are no JSON object: they are left out" in err
    assert "minutes_by_device, steps in" in err and "are not of the type train.py writes: left out" in err
    assert "model.safetensors are no JSON (" in err and err.count("minutes_by_device, steps in") == 1  # said once


def test_a_card_naming_a_non_ascii_folder_is_its_own_when_read_in_windows_locale(tmp_path, monkeypatch, capsys):
    """The card is written as UTF-8 and was read back in the locale's encoding (cp1252 on Windows): for a folder
    named modèle, every rewrite took its own card for a hand-edited one and kept it as README.previous.md."""
    real = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None, errors=None: real(self, encoding or "cp1252",
                                                                                        errors))
    folder = tmp_path / "modèle"
    hub.save_pretrained(tiny_model(), folder)
    write_model_card(folder, command=f"python train.py --out {folder}")
    write_model_card(folder)
    assert not list(folder.glob("README.previous*")) and "edited" not in capsys.readouterr().err


def test_a_figure_or_fact_of_nan_or_infinity_is_left_out_as_unreadable(tmp_path, capsys):
    """Python's json reads NaN and Infinity: a hand-edited eval.json or training record holding them passed as
    numbers, and a card or About would show "FD nan". Only finite numbers are taken now, as the configs take them."""
    from ddpm.facts import read_scores, well_typed

    run = {"n": 1000, "fd": 1.4, "inception_score": 9.5, "memorised": 0.01, "real_floor_fd": 0.7, "class_share": [0.1]}
    runs = {"ddpm": run, "ddim": run | {"fd": float("nan")}, "eta1": run | {"real_floor_fd": float("nan")},
            "typed": run | {"real_floor_fd": "0.7"}}  # the card prints the floor as {:.3f}
    (tmp_path / "eval.json").write_text(json.dumps({"runs": runs}))
    assert list(read_scores(tmp_path)["runs"]) == ["ddpm"]
    assert "runs ddim, eta1, typed lack their figures" in capsys.readouterr().err
    assert well_typed({"epochs": float("inf"), "lr": 1e-3, "train_minutes": 10 ** 400}, tmp_path) == \
        ({"lr": 1e-3}, ["epochs", "train_minutes"])  # an int past a float's range raised OverflowError


def test_the_quality_tables_class_shares_say_how_far_real_digits_wander():
    """6.4% beside "10% is ideal" read as a failure whatever real digits do at that N: each row gives the floor's
    draws' smallest and largest share too (nothing for a row scored without them, or a hand edit)."""
    from ddpm.card import metrics_table

    row = dict(n=1000, fd=1.4, real_floor_fd=0.72, fd_ratio=1.99, inception_score=9.5, memorised=0.007,
               class_share=[0.064] + [0.104] * 9, real_floor_class_share_extremes=[[0.087, 0.112], [0.085, 0.132]])
    assert "| 6.4% to 10.4% (real: 8.5% to 13.2%) |" in metrics_table({"runs": {"ddpm-1000": row}})
    for kept in (None, [], [[0.08, "x"]], [[0.08]], "0.08 to 0.12", [[0.13, 0.08]], [[8.5, 13.2]], [[-1, 0.2]]):
        assert "| 6.4% to 10.4% |" in metrics_table({"runs": {"ddpm-1000": row | {
            "real_floor_class_share_extremes": kept}}})
    assert "| 6.4% to 10.4% |" in metrics_table({"runs": {"ddpm-1000-labelrandom": row | {"label": "random"}}})


def test_scores_of_other_weights_copied_into_a_folder_are_left_out(tmp_path, monkeypatch, capsys):
    """save_pretrained sets old records aside, but weights copied in by hand (`cp other/model.safetensors m/`) left
    the old eval.json beside them: the card and About showed its figures as the new weights'. ddpm.evaluate now
    records the digest of the weights it scored (of the ones that drew a samples file), and a run of other weights
    is left out; a run that records none (written before) is kept."""
    import numpy as np

    from ddpm import evaluate
    from ddpm.eval_files import save_npz
    from ddpm.facts import read_scores

    monkeypatch.setattr(evaluate, "reference", lambda *a: None)  # no MNIST: the scores below stand in
    monkeypatch.setattr(evaluate, "evaluate_samples", lambda *a, **k: ROW | {"real_floor_fd": 0.5})
    model = hub.save_pretrained(tiny_model(timesteps=20), tmp_path / "m")
    out = str(model / "eval.json")
    assert evaluate.main(["--weights", str(model), "--n", "2", "--sampler", "ddim", "--steps", "2", "--out", out,
                          "--json"]) == 0
    digest = hub.weights_digest(hub.load_pretrained(model))
    save_npz(tmp_path / "s.npz", np.zeros((2, 28, 28), np.uint8), 0, "ddpm", 20, timesteps=20, weights_sha256=digest)
    assert evaluate.main(["--from-samples", str(tmp_path / "s.npz"), "--out", out, "--json"]) == 0
    runs = json.loads((model / "eval.json").read_text())["runs"]
    assert [r.get("weights_sha256") for r in runs.values()] == [digest, digest]
    runs["older"] = ROW | {"real_floor_fd": 0.5}  # scored before the digest was recorded
    (model / "eval.json").write_text(json.dumps({"runs": runs}))
    assert list(read_scores(model)["runs"]) == ["ddim-2", "ddpm-20", "older"]
    capsys.readouterr()
    hub.save_pretrained(tiny_model(seed=1, timesteps=20), tmp_path / "other")
    shutil.copy(tmp_path / "other" / "model.safetensors", model)
    assert list(read_scores(model)["runs"]) == ["older"]
    assert "runs ddim-2, ddpm-20 scored other weights than" in capsys.readouterr().err
    # scored again on the weights now there: a quick run may take the place of the row of N = 1000 that scored others
    assert evaluate.main(["--weights", str(model), "--n", "2", "--sampler", "ddim", "--steps", "2", "--out", out,
                          "--json"]) == 0, capsys.readouterr().err
    assert list(read_scores(model)["runs"]) == ["ddim-2", "older"]
    (model / "model.safetensors").write_bytes(b"cut")  # unreadable: nothing to compare, as with no weights
    assert list(read_scores(model)["runs"]) == ["ddim-2", "ddpm-20", "older"]
    # weights stored in half precision are digested as loading makes them, float32: a row scored on them stays
    from safetensors.torch import save_file
    from ddpm.safeio import load_tensors
    tensors = load_tensors(hub.save_pretrained(tiny_model(timesteps=20), tmp_path / "m2") / "model.safetensors")[0]
    save_file({k: v.half() for k, v in tensors.items()}, model / "model.safetensors")
    assert hub.file_digest(model / "model.safetensors") == hub.weights_digest(hub.load_pretrained(model))


def test_a_model_folders_card_grid_is_replaced_by_the_cards_own_command_alone(tmp_path, capsys):
    """`ddpm.sample --weights a --out b/samples.png` wrote a's digits where b's card shows b's grid, and a grid of
    other settings in a's own folder stood under the caption naming CARD_GRID's. Both are refused before sampling,
    the old grid left whole; the card's command itself, and any name outside a model folder, still write."""
    from conftest import sample_cli
    from ddpm.sample import card_grid_command

    a, b = (hub.save_pretrained(tiny_model(seed=s, timesteps=4), tmp_path / name) for s, name in ((0, "a"), (1, "b")))
    (b / "samples.png").write_bytes(b"b's grid")
    rc, err = sample_cli(["--weights", str(a), "--out", str(b / "samples.png")], capsys)
    assert rc == 2 and f"the grid on the card of the model in {b}, and these would be digits of --weights {a}" in err
    assert (b / "samples.png").read_bytes() == b"b's grid"
    for other in (["--n", "16"], ["--seed", "1"], ["--first", "1"], ["--sampler", "ddim"], ["--label", "3"],
                  ["--no-clip"], ["--variance", "beta_tilde"]):
        rc, err = sample_cli(["--weights", str(b), "--n", "64", *other, "--out", str(b / "samples.png")], capsys)
        assert rc == 2 and f"drawn by `{card_grid_command(b)}`: that command alone replaces it" in err, other
    assert (b / "samples.png").read_bytes() == b"b's grid"
    rc, err = sample_cli(["--weights", str(a), "--out", str(b / "Samples.PNG")], capsys)  # one file, on macOS
    assert rc == 2 and "the grid on the card of the model in" in err
    card = card_grid_command(b).split()[3:]  # its flags, after "python -m ddpm.sample"
    assert sample_cli(card, capsys)[0] == 0 and (b / "samples.png").read_bytes()[:4] == b"\x89PNG"
    assert sample_cli(["--weights", str(a), "--n", "4", "--out", str(tmp_path / "samples.png")], capsys)[0] == 0
