"""The model card (ddpm.card): what it reports of a run, its recipe, its commands, and the cards it keeps."""
import json
import shlex

import pytest

from ddpm import hub
from ddpm.card import _out_of, record_command, write_model_card
from ddpm.sample import write_card_grid

from conftest import sh, tiny_model


def test_model_card_reports_training_and_metrics(tmp_path):
    hub.save_pretrained(tiny_model(), tmp_path, meta={"steps": 7, "train_minutes": 1.5, "device": "CPU"})
    (tmp_path / "eval.json").write_text(json.dumps({"real_floor_fd": 0.5, "command": "python -m ddpm.evaluate", "runs": {
        "ddim-50": {"n": 1000, "fd": 1.0, "fd_ratio": 2.0, "inception_score": 9.7, "class_share": [0.1] * 10,
                    "memorised": 0.001},
        "ddim-50-labelrandom-w1": {"n": 1000, "fd": 1.0, "fd_ratio": 2.0, "inception_score": 9.7,
                                   "class_share": [0.1] * 10, "memorised": 0.001, "label_accuracy": 0.973}}}))
    card = write_model_card(tmp_path, command="python train.py --max-steps 7").read_text()
    assert card.startswith("---\n") and "python train.py --max-steps 7" in card
    assert "| ddim-50 | 1000 | 1.000 | 0.500 | 2.00x | 9.70 |" in card and "1.5 min" in card
    assert card.count("| 0.10% | - |") == 1 and "| 0.10% | 97.3% |" in card  # only conditional rows have a reading
    assert "No sample grid yet" in card and "![samples]" not in card  # no broken image link


def test_a_fashion_mnist_card_says_which_garment_each_label_is(tmp_path):
    hub.save_pretrained(tiny_model(), tmp_path, meta={"dataset": "fashion-mnist", "label_dropout": 0.2})
    card = write_model_card(tmp_path, command="python train.py --dataset fashion-mnist").read_text()
    assert "# DDPM on Fashion-MNIST (28x28), class-conditional" in card
    assert "Its labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, " \
           "9 Ankle boot." in card
    assert "Not scored: `ddpm.evaluate` measures against MNIST's digits" in card  # not a command it would refuse
    assert "python -m ddpm.evaluate --weights" not in card
    hub.save_pretrained(tiny_model(), tmp_path / "digits", meta={"dataset": "mnist"})
    assert "Its labels" not in write_model_card(tmp_path / "digits", command="x").read_text()  # label k is digit k


def test_the_autoguidance_section_fits_the_guide_and_the_dataset(tmp_path):
    """It called every guide "much weaker" (a Fashion-MNIST guide as large as its model too), claimed a higher
    Inception Score for garments, and listed ddpm.evaluate, which refuses a Fashion-MNIST model."""
    hub.save_pretrained(tiny_model(), tmp_path, meta={"dataset": "fashion-mnist"})
    hub.save_pretrained(tiny_model(1), tmp_path / "guide")
    card = write_model_card(tmp_path, command="python train.py --dataset fashion-mnist").read_text()
    assert "holds a second model of the same data, as large as the main one or larger (Karras" in card
    assert "(in `ddpm.sample`, `ddpm.benchmark`, and a slider" in card and "Inception" not in card
    assert "makes the null class's samples cleaner (not measured here" in card
    hub.save_pretrained(tiny_model(base_channels=16), tmp_path / "mnist", meta={"dataset": "mnist"})
    hub.save_pretrained(tiny_model(1), tmp_path / "mnist" / "guide")
    card = write_model_card(tmp_path / "mnist", command="python train.py").read_text()
    assert "holds a second model of the same data, much smaller: " in card and "`ddpm.evaluate`, `ddpm.bench" in card
    assert "makes the null class's digits read more clearly (a higher Inception Score)" in card


def test_a_broken_training_json_does_not_stop_the_card(tmp_path):
    """The card is written at the end of a run (before its push): a hand-edited training.json must not end it in a
    traceback; the card is rebuilt from the weights' own metadata and the run's command."""
    hub.save_pretrained(tiny_model(), tmp_path, meta={"steps": 7})
    (tmp_path / "training.json").write_text("xx")
    card = write_model_card(tmp_path, command="python train.py --max-steps 7").read_text()
    assert "python train.py --max-steps 7" in card and json.loads((tmp_path / "training.json").read_text())["steps"] == 7


def test_a_card_without_a_readable_recipe_says_so(tmp_path, capsys):
    """`python -m ddpm.card` on a folder whose training.json is broken: the card does not give the bare
    `python train.py` as the command these weights came from, and stderr says what was left out."""
    hub.save_pretrained(tiny_model(), tmp_path, meta={"steps": 7})
    (tmp_path / "training.json").write_text("{bad")
    card = write_model_card(tmp_path).read_text()
    assert "the command itself was not recorded" in card
    assert "training.json is not a readable JSON file" in capsys.readouterr().err


def test_a_recipe_that_is_no_text_is_left_out_as_an_unreadable_one_is(tmp_path, capsys):
    """A hand edit `"command": 5` in training.json: the card (and a resumed run's recipe) said AttributeError: 'int'
    object has no attribute 'replace' in a traceback; now the recipe is not recorded, and stderr says why."""
    from ddpm import card

    hub.save_pretrained(tiny_model(), tmp_path, meta={"steps": 7})
    (tmp_path / "training.json").write_text(json.dumps({"command": 5, "images": 60000}))
    assert card.main([str(tmp_path)]) == 0
    text = (tmp_path / "README.md").read_text()
    assert "the command itself was not recorded" in text and "60000" in text  # the other facts stay
    assert f'command in {tmp_path / "training.json"} is not of the type train.py writes' in capsys.readouterr().err
    (tmp_path / "training.json").write_text(json.dumps({"command": ["python train.py"]}))
    record_command(tmp_path, "python train.py --resume", resumed=True)  # a resumed run's first checkpoint
    assert json.loads((tmp_path / "training.json").read_text())["command"] == "python train.py --resume"


def test_an_unconditional_models_card_says_so(tmp_path):
    hub.save_pretrained(tiny_model(num_classes=0), tmp_path, meta={"label_dropout": 0.2})
    card = write_model_card(tmp_path, command="python train.py --unconditional").read_text()
    assert "# DDPM on MNIST (28x28), unconditional" in card and "It was trained without labels." in card
    assert "guidance" not in card and "null" not in card and "class-conditional" not in card


def test_model_card_cli_and_a_run_without_a_ratio(tmp_path, capsys, monkeypatch):
    from ddpm import card

    assert card.main([str(tmp_path / "nothing")]) == 2 and f"{tmp_path / 'nothing'} does not exist" in \
        capsys.readouterr().err
    (tmp_path / "half").mkdir()  # a config without weights: a card for it would describe no model (push refuses it)
    (tmp_path / "half" / "config.json").write_text("{}")
    assert card.main([str(tmp_path / "half")]) == 2 and "is not a model folder (no model.safetensors)" in \
        capsys.readouterr().err and not (tmp_path / "half" / "README.md").exists()
    hub.save_pretrained(tiny_model(), tmp_path)
    (tmp_path / "eval.json").write_text(json.dumps({"runs": {"ddpm-20": {
        "n": 2, "fd": 1.0, "real_floor_fd": 0.0, "fd_ratio": None, "inception_score": 1.0, "class_share": [0.1] * 10,
        "memorised": 0.0}}}))  # what ddpm.evaluate writes when the floor is 0
    assert card.main([str(tmp_path)]) == 0
    assert "| ddpm-20 | 2 | 1.000 | 0.000 | - |" in (tmp_path / "README.md").read_text()
    capsys.readouterr()
    (tmp_path / "config.json").write_text("[]")  # a hand edit gone wrong: a line, not a traceback
    assert card.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: could not write the card of {tmp_path}: ") and "config.json holds no JSON object" in err
    hub.save_pretrained(tiny_model(), tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # a full disk cut it short: no card of "?" cells, as push refuses
    card_before = (tmp_path / "README.md").read_bytes()
    assert card.main([str(tmp_path)]) == 2 and f"could not write the card of {tmp_path}" in capsys.readouterr().err
    assert (tmp_path / "README.md").read_bytes() == card_before
    hub.save_pretrained(tiny_model(), tmp_path)
    monkeypatch.setattr(card, "write_model_card", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    assert card.main([str(tmp_path)]) == 130  # Ctrl-C: a line, not a traceback
    assert f"stopped (Ctrl-C); {tmp_path / 'README.md'} may not have been written: run" in capsys.readouterr().err


def test_model_card_says_which_sitting_its_null_class_share_is_from(tmp_path):
    hub.save_pretrained(tiny_model(), tmp_path, meta={"label_dropout": 0.2})
    one = write_model_card(tmp_path, command="python train.py").read_text()
    assert '"null" class\n20% of the time, so' in one and "Each line as it ran" not in one  # one line: it replays
    hub.save_pretrained(tiny_model(), tmp_path, meta={"label_dropout": 0.5})
    two = write_model_card(tmp_path, command="python train.py --resume --label-dropout 0.5", resumed=True).read_text()
    assert "50% of the time in the last sitting" in two
    assert "python train.py\n    python train.py --resume --label" in two
    assert "Each line as it ran, with the folders of its day; each after the first resumes the run, so in order, " \
           "with one `--out` folder, they replay it." in two  # (the bundled card points to the README's recipe)
    copied = write_model_card(tmp_path, command="python train.py --resume --out=runs/copy", resumed=True).read_text()
    assert "the project README's \"Train your own\" gives the recipe" in copied  # runs/mnist, then a copy of it

    assert [_out_of(line) for line in ("python train.py --out 'runs/my run' --epochs 3  # 2 min", "python train.py",
                                       "python train.py --resume --out=runs/b")] == ["runs/my run", "runs/mnist",
                                                                                     "runs/b"]
    hub.save_pretrained(tiny_model(), tmp_path, meta={})  # a hand-made folder: no share recorded, none invented
    three = write_model_card(tmp_path, command="python train.py").read_text()
    assert "the share was not recorded" in three and "% of the time" not in three


def test_model_card_shows_every_evaluate_command_and_the_grid(tmp_path):
    hub.save_pretrained(tiny_model(), tmp_path)
    row = {"n": 9, "fd": 1.0, "fd_ratio": 2.0, "inception_score": 9.0, "class_share": [0.1] * 10, "memorised": 0.0}
    (tmp_path / "eval.json").write_text(json.dumps({"real_floor_fd": 0.5, "command": "python -m ddpm.evaluate B",
                                                    "runs": {"a": row | {"command": "python -m ddpm.evaluate A"},
                                                             "b": row | {"command": "python -m ddpm.evaluate B"}}}))
    write_card_grid(tmp_path)
    card = write_model_card(tmp_path).read_text()
    assert "    python -m ddpm.evaluate A\n    python -m ddpm.evaluate B\n" in card
    assert "![samples](samples.png)" in card and f"--weights {sh(tmp_path)} --seed 0 --n 64 --sampler ddpm" in card


def test_card_grid_is_what_its_command_makes(tmp_path):
    from ddpm import sample

    hub.save_pretrained(tiny_model(timesteps=5), tmp_path)  # 64 digits through all T steps, twice: T = 5, not 20
    write_card_grid(tmp_path)
    args = ["--weights", str(tmp_path), "--seed", "0", "--n", "64", "--sampler", "ddpm", "--out", str(tmp_path / "cli.png")]
    assert shlex.split(sample.card_grid_command(tmp_path))[3:] == args[:-1] + [str(tmp_path / "samples.png")]
    assert sample.main(args) == 0
    assert (tmp_path / "cli.png").read_bytes() == (tmp_path / "samples.png").read_bytes()


def test_model_card_keeps_a_recipe_of_several_commands_in_its_code_block(tmp_path):
    hub.save_pretrained(tiny_model(), tmp_path, meta={"steps": 7})
    card = write_model_card(tmp_path, command="python train.py --epochs 2\npython train.py --resume --epochs 3")
    assert "\n    python train.py --epochs 2\n    python train.py --resume --epochs 3\n" in card.read_text()


def test_a_resumed_run_adds_its_command_to_the_recipe(tmp_path):
    hub.save_pretrained(tiny_model(), tmp_path, meta={"steps": 7})
    write_model_card(tmp_path, command="python train.py --epochs 2")
    write_model_card(tmp_path, command="python train.py --resume --epochs 3", resumed=True)
    write_model_card(tmp_path, command="python train.py --resume --epochs 3", resumed=True)  # killed, resumed again
    assert json.loads((tmp_path / "training.json").read_text())["command"] == \
        "python train.py --epochs 2\npython train.py --resume --epochs 3"
    write_model_card(tmp_path, command="python train.py --epochs 1")  # a fresh run starts a new recipe
    assert json.loads((tmp_path / "training.json").read_text())["command"] == "python train.py --epochs 1"
    # a run killed (kill -9) before its card: the command it recorded as it began is the recipe's first line
    record_command(tmp_path, "python train.py --epochs 4")
    record_command(tmp_path, "python train.py --resume --epochs 5", resumed=True)
    write_model_card(tmp_path, command="python train.py --resume --epochs 5", resumed=True)
    assert json.loads((tmp_path / "training.json").read_text())["command"] == \
        "python train.py --epochs 4\npython train.py --resume --epochs 5"


def test_the_recipe_notes_where_a_sitting_stopped_until_the_same_line_runs_on():
    from ddpm.card import STOPPED, recipe

    first, again = "python train.py --max-steps 100", "python train.py --resume"
    steps = [first, first + STOPPED + "5",  # a first sitting: recorded as it begins, then stopped at step 5
             again, again + STOPPED + "8",  # a resumed one, stopped too
             again, again]  # the same line again, which this time runs to the end
    lines = None
    for command in steps:
        lines = recipe(lines, command)
    assert lines == f"{first}{STOPPED}5\n{again}"  # replays: the first line to step 5, then the second to the end
    hand = "python train.py --resume  # 56 more min: a warm restart"  # a note written by hand stays
    assert recipe(f"{first}\n{hand}", again) == f"{first}\n{hand}"


def test_model_card_code_loads_the_folder_or_the_repo_it_is_pushed_to(tmp_path):
    import re

    folder = tmp_path / "runs" / "mnist"
    hub.save_pretrained(tiny_model(), folder)
    card = write_model_card(folder, command="python train.py").read_text()
    named = re.search(r'load_pretrained\("([^"]+)"\)', card).group(1)
    assert hub.load_pretrained(named).config == tiny_model().config  # the card's own code runs as written
    assert "Not evaluated yet" in card and "Measured with" not in card  # no command for figures it lacks
    assert f"--weights {sh(folder)} --out {sh(folder)}/eval.json" in card
    pushed = write_model_card(folder, command="python train.py", repo_id="you/ddpm-mnist").read_text()
    assert 'load_pretrained("you/ddpm-mnist")' in pushed
    assert str(folder) not in pushed  # its commands name the repo, not the author's folders
    assert "--weights you/ddpm-mnist --out eval.json" in pushed
    assert "--weights you/ddpm-mnist --seed 0 --n 64 --sampler ddpm --out samples.png` makes one, then once " \
           "uploaded to the repo, it shows here." in pushed  # not `python -m ddpm.card FOLDER`, a folder of the author's
    front = pushed.split("---")[1]  # the Hub's metadata: its task filter and dataset page
    assert "pipeline_tag: unconditional-image-generation" in front and "datasets: [ylecun/mnist]" in front
    assert "unconditional-image-generation, class-conditional, classifier-free-guidance]" in front  # it does both


def test_a_broken_eval_json_leaves_the_figures_out_of_the_card_and_says_so(tmp_path, capsys):
    hub.save_pretrained(tiny_model(), tmp_path)
    for text, why in (('{"runs": {"ddpm-20": ', "is not a readable JSON file"),  # cut short: a full disk
                      ('[1.4, 9.5]', "holds JSON, but not an object"),  # a hand edit
                      (None, "is not a readable JSON file")):  # not a file at all
        if text is None:
            (tmp_path / "eval.json").unlink()
            (tmp_path / "eval.json").mkdir()
        else:
            (tmp_path / "eval.json").write_text(text)
        card = write_model_card(tmp_path, command="python train.py").read_text()  # the end of a run: no traceback
        err = capsys.readouterr().err
        assert "Not evaluated yet" in card and f"eval.json {why}" in err and "its scores are left out" in err


def test_an_eval_json_of_the_wrong_shape_leaves_out_what_it_cannot_show(tmp_path, capsys):
    """JSON objects that are no eval.json, or a row without its figures, are a note, not a traceback that stops the
    card (and the About tab) at the end of a run; the rows that are whole are still shown."""
    hub.save_pretrained(tiny_model(), tmp_path)
    whole = {"n": 1000, "fd": 1.0, "fd_ratio": 2.0, "inception_score": 9.7, "class_share": [0.1] * 10,
             "memorised": 0.001}
    for runs, says in ((5, '"runs" in'), ({"x": 5}, "runs x lack"), ({"x": whole | {"fd": "1.0"}}, "runs x lack"),
                       ({"x": whole | {"class_share": []}}, "runs x lack"), ({"x": whole, "y": {}}, "runs y lack")):
        (tmp_path / "eval.json").write_text(json.dumps({"real_floor_fd": 0.5, "runs": runs}))
        card = write_model_card(tmp_path, command="python train.py").read_text()
        err = capsys.readouterr().err
        assert says in err and "left out" in err, runs
        assert ("| x | 1000 | 1.000 | 0.500 | 2.00x | 9.70 |" in card) == (runs == {"x": whole, "y": {}}), runs
        assert ("Not evaluated yet" in card) != (runs == {"x": whole, "y": {}}), runs


def test_a_hand_written_card_is_kept_beside_the_new_one(tmp_path, capsys):
    hub.save_pretrained(tiny_model(), tmp_path)
    card = write_model_card(tmp_path, command="python train.py")
    write_model_card(tmp_path)  # its own card, as written: replaced, nothing kept
    assert not list(tmp_path.glob("README.previous*")) and capsys.readouterr().err == ""
    card.write_text(card.read_text() + "\nMy notes on this run.\n")  # notes added to a written card
    write_model_card(tmp_path)
    assert "My notes" in (tmp_path / "README.previous.md").read_text() and "My notes" not in card.read_text()
    assert "was edited since python -m ddpm.card wrote it: kept as" in capsys.readouterr().err
    card.write_text("---\nlicense: mit\n---\n# A card of my own\n")  # and one written by hand: the first kept stays
    write_model_card(tmp_path)
    assert "My notes" in (tmp_path / "README.previous.md").read_text()
    assert "of my own" in (tmp_path / "README.previous.2.md").read_text()
    assert "carries no mark of python -m ddpm.card (written by hand, or by an older" in capsys.readouterr().err


def test_model_card_says_when_a_teacher_set_the_null_class_target(tmp_path):
    hub.save_pretrained(tiny_model(), tmp_path, meta={"label_dropout": 0.5})
    assert "teacher" not in write_model_card(tmp_path, command="python train.py").read_text()
    hub.save_pretrained(tiny_model(), tmp_path, meta={"label_dropout": 0.5, "null_teacher": "runs/t",
                                                       "null_teacher_label": "true", "null_teacher_autoguidance": 2.0})
    card = write_model_card(tmp_path, command="python train.py --null-teacher runs/t", resumed=True).read_text()
    assert "In the last sitting the null class's rows regressed" in card
    assert "(`runs/t` when it ran) given the image's true label, autoguided with weight 2 by its `guide/`" in card
    hub.save_pretrained(tiny_model(), tmp_path, meta={"null_teacher": "runs/t", "null_teacher_autoguidance": "two"})
    card = write_model_card(tmp_path).read_text()  # a hand-edited record: no crash, no claim of guidance (as About)
    assert "(`runs/t` when it ran) given the image's true label." in card


def test_model_card_says_when_batches_were_class_balanced(tmp_path):
    hub.save_pretrained(tiny_model(num_classes=0), tmp_path, meta={})
    assert "balance" not in write_model_card(tmp_path, command="python train.py --unconditional").read_text()
    hub.save_pretrained(tiny_model(num_classes=0), tmp_path, meta={"balance_classes": True})
    card = write_model_card(tmp_path, command="python train.py --unconditional --balance-classes").read_text()
    assert "Its batches drew every class equally often (`--balance-classes`)" in card


def test_the_class_share_range_runs_from_the_rarest_class_to_the_commonest(tmp_path):
    """The table's class shares read "min to max": written the other way round, a reader takes 11.9% for the low end."""
    hub.save_pretrained(tiny_model(), tmp_path)
    shares = [0.1, 0.119, 0.064, 0.1, 0.1, 0.1, 0.1, 0.1, 0.117, 0.1]  # neither end first or last in the list
    (tmp_path / "eval.json").write_text(json.dumps({"real_floor_fd": 0.5, "runs": {"ddpm-20": {
        "n": 1000, "fd": 1.0, "fd_ratio": 2.0, "inception_score": 9.7, "class_share": shares, "memorised": 0.001}}}))
    card = write_model_card(tmp_path, command="python train.py").read_text()
    assert "| 9.70 | 6.4% to 11.9% | 0.10% |" in card


def test_model_card_says_when_the_teacher_was_given_the_null_class(tmp_path):
    """--null-teacher-label null: the teacher saw the null class, not the true label, and the card says which (a
    card that says "true label" misdescribes how the null class was trained)."""
    hub.save_pretrained(tiny_model(), tmp_path, meta={"label_dropout": 0.5, "null_teacher": "runs/t",
                                                       "null_teacher_label": "null"})
    card = write_model_card(tmp_path, command="python train.py --null-teacher runs/t --null-teacher-label null")
    card = card.read_text()
    assert "(`runs/t` when it ran) given the null class." in card and "true label" not in card


def test_an_eval_json_row_whose_label_accuracy_is_no_number_is_left_out(tmp_path, capsys):
    """A hand-edited label_accuracy ("x") would crash the card's "read as asked" cell at the end of a run: the row
    is left out with a note, and the whole rows are still shown."""
    hub.save_pretrained(tiny_model(), tmp_path)
    whole = {"n": 1000, "fd": 1.0, "fd_ratio": 2.0, "inception_score": 9.7, "class_share": [0.1] * 10,
             "memorised": 0.001, "label_accuracy": 0.973}
    (tmp_path / "eval.json").write_text(json.dumps({"real_floor_fd": 0.5, "runs": {
        "ok": whole, "bad": whole | {"label_accuracy": "x"}}}))
    card = write_model_card(tmp_path, command="python train.py").read_text()
    assert "runs bad lack their figures and are left out" in capsys.readouterr().err
    assert "| ok | 1000 | 1.000 | 0.500 | 2.00x | 9.70 |" in card and "| bad |" not in card


def test_a_run_ending_beside_a_broken_guide_still_gets_its_card(tmp_path, capsys):
    """train.py writes the card at the end of a run: a guide/config.json broken by hand ended that run in a
    traceback, its card unwritten; the card leaves the guide out and says why."""
    hub.save_pretrained(tiny_model(), tmp_path)
    hub.save_pretrained(tiny_model(), tmp_path / "guide")
    (tmp_path / "guide" / "config.json").write_text("{x")
    card = write_model_card(tmp_path, command="python train.py --out x").read_text()
    assert "python train.py --out x" in card and "## Autoguidance" not in card
    assert f"note: {tmp_path / 'guide'} does not load (" in capsys.readouterr().err
    hub.save_pretrained(tiny_model(), tmp_path / "guide")  # mended, and resumed once: its recipe stays one code block
    (tmp_path / "guide" / "training.json").write_text(json.dumps({"command": "python train.py\npython train.py --resume"}))
    card = write_model_card(tmp_path).read_text()
    assert "\n    python train.py\n    python train.py --resume\n" in card.split("## Autoguidance")[1]


def test_the_card_and_a_push_refuse_a_guide_that_would_not_load_naming_it(tmp_path, capsys):
    """guide/ is checked as --autoguidance loads it: a config asking for a vast network (it was built for real: a
    traceback out of memory), no weights, another T, no JSON; each said in a line naming guide/, the own card kept."""
    from ddpm import card, push

    def folder(name, **kw):
        hub.save_pretrained(tiny_model(), tmp_path / name)
        hub.save_pretrained(tiny_model(1, **kw), tmp_path / name / "guide")
        (tmp_path / name / "README.md").write_text("# my own card\n")
        return tmp_path / name / "guide"

    vast = folder("vast")
    (vast / "config.json").write_text(json.dumps(json.loads((vast / "config.json").read_text()) | {
        "base_channels": 100000}))
    (folder("unweighted") / "model.safetensors").unlink()
    folder("T", timesteps=10)
    (folder("text") / "config.json").write_text("{x")
    (folder("unconfigured") / "config.json").unlink()  # its weights alone: a push would upload them, unloadable
    running = folder("running")  # a guide's run not ended: its checkpoint, card and loss log, no model yet
    for name in ("config.json", "model.safetensors"):
        (running / name).unlink()
    (running / "checkpoint.safetensors").write_bytes(b"x")
    for name, why in (("vast", " does not hold a valid model: config.json describes another network"),
                      ("unweighted", " is missing model.safetensors"), ("T", ": the guide does not match the model: "
                                                                             "timesteps is 10 in the guide, 20"),
                      ("unconfigured", " is missing config.json"), ("running", " is missing config.json"),
                      ("text", " does not hold a valid model: config.json is not JSON")):
        files = sorted(p.name for p in (tmp_path / name).iterdir())
        assert card.main([str(tmp_path / name)]) == 2
        assert f"{tmp_path / name / 'guide'}{why}" in capsys.readouterr().err
        with pytest.raises(SystemExit):
            push.main([str(tmp_path / name), "me/x"])
        said = capsys.readouterr().err  # the model itself loads: the guide is what stops it (it said "does not
        assert f"{tmp_path / name} is not pushed: {tmp_path / name / 'guide'}{why}" in said  # load"), and how to go on
        assert f"move guide/ out of {tmp_path / name} to go on without it" in said
        assert (tmp_path / name / "README.md").read_text() == "# my own card\n"
        assert sorted(p.name for p in (tmp_path / name).iterdir()) == files


def test_a_guide_folder_without_a_config_does_not_stop_the_card(tmp_path, capsys):
    """guide/ is checked only where the card describes it (its config.json): a guide/ made but not yet filled is no
    guide (checking the folder alone passed a mutation run: the card, and a push, were refused)."""
    from ddpm import card

    hub.save_pretrained(tiny_model(), tmp_path / "m")
    (tmp_path / "m" / "guide").mkdir()
    (tmp_path / "m" / "guide" / ".DS_Store").write_bytes(b"x")  # nor is one of files no run or push writes
    assert card.main([str(tmp_path / "m")]) == 0, capsys.readouterr().err
    assert "## Autoguidance" not in (tmp_path / "m" / "README.md").read_text()
    (tmp_path / "m" / "guide" / "model.safetensors").write_bytes(b"")  # train.py's card: said, and written
    assert "## Autoguidance" not in card.write_model_card(tmp_path / "m").read_text()
    assert f"{tmp_path / 'm' / 'guide'} is missing config.json: the card leaves out" in capsys.readouterr().err
