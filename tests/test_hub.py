"""Model folders: config.json + model.safetensors round trip, files written whole, and the Hub's download and
upload paths (offline, silent or failing, each said in words)."""
import json

import huggingface_hub
import pytest
import torch

from ddpm import facts, hub, push
from ddpm.card import write_model_card
from ddpm.config import ModelConfig

from conftest import sh, tiny_config, tiny_model


def test_save_load_round_trip(tmp_path):
    model = tiny_model()
    hub.save_pretrained(model, tmp_path, meta={"steps": 5})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    loaded = hub.load_pretrained(tmp_path)
    x, t, y = torch.randn(2, 1, 28, 28), torch.tensor([3, 7]), torch.tensor([1, 10])
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k
    with torch.no_grad():  # loaded in channels_last layout: same weights, convs summed in another order
        torch.testing.assert_close(model(x, t, y), loaded(x, t, y), rtol=0, atol=1e-5)
    assert loaded.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    assert facts.read_weights_meta(tmp_path) == {"steps": 5, "image_size": 28}  # the size it was saved at, too


def test_the_card_and_the_app_read_one_training_record(tmp_path):
    """The weights' own facts win over training.json (which adds the recipe), for the card and the app alike."""
    from ddpm.demo.about import about_markdown

    hub.save_pretrained(tiny_model(), tmp_path, meta={"steps": 200, "dataset": "mnist"})
    (tmp_path / "training.json").write_text(json.dumps({"steps": 100, "command": "python train.py --epochs 2"}))
    assert facts.recorded_facts(tmp_path) == {"steps": 200, "dataset": "mnist", "image_size": 28,
                                              "command": "python train.py --epochs 2"}
    card = write_model_card(tmp_path).read_text()
    assert "| 200 |" in card and "| 100 |" not in card and "python train.py --epochs 2" in card
    about = about_markdown(hub.load_pretrained(tmp_path), str(tmp_path), tmp_path)
    assert "200 optimizer steps" in about and "100 optimizer steps" not in about
    (tmp_path / "model.safetensors").write_text("version https://git-lfs.github.com/spec/v1\n")  # an LFS pointer
    assert facts.recorded_facts(tmp_path) == {"steps": 100, "command": "python train.py --epochs 2"}


def test_files_are_written_beside_their_target_and_readable_by_all(tmp_path, monkeypatch):
    """The temporary file is made in the target's own folder, so the rename is atomic (across filesystems it would
    fail, EXDEV); and the files come out 0644 (mkstemp makes 0600), readable by a group, a web server or a Space."""
    import os
    from pathlib import Path

    from ddpm import safeio

    renames, replace = [], os.replace
    monkeypatch.setattr(safeio.os, "replace", lambda src, dst: renames.append((Path(src), Path(dst))) or
                        replace(src, dst))
    hub.save_pretrained(tiny_model(), tmp_path / "m")
    write_model_card(tmp_path / "m", command="python train.py")
    names = {"config.json", "model.safetensors", "training.json", "README.md"}  # each whole or not there at a kill
    assert {dst.name for _, dst in renames} == names
    assert all(src.parent == dst.parent for src, dst in renames), renames
    for name in names:  # (Windows has no such modes)
        assert os.name == "nt" or (tmp_path / "m" / name).stat().st_mode & 0o777 == 0o644, name


def test_a_full_disk_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    model = tiny_model()
    hub.save_pretrained(model, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def full(fd):
        raise OSError(28, "No space left on device")  # what a write to the open file raises: no filename

    monkeypatch.setattr("ddpm.safeio.os.fsync", full)
    with torch.no_grad():
        model.conv_in.weight.add_(1.0)
    with pytest.raises(OSError, match=r"No space left on device: '.*config\.json'"):  # the first file written
        hub.save_pretrained(model, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert not list(tmp_path.glob("*.tmp"))


def test_config_json_round_trip(tmp_path):
    cfg = tiny_config(schedule="cosine")
    cfg.save(tmp_path / "config.json")
    assert ModelConfig.load(tmp_path / "config.json") == cfg
    with pytest.raises(ValueError, match="unknown config keys"):
        ModelConfig.from_dict(cfg.to_dict() | {"pickle": True})


def test_hub_repo_id_offline_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(hub.ModelLoadError, match="is no folder here, and as a Hub repo id it could not be downloaded "
                                                 "from the Hugging Face Hub: HF_HUB_OFFLINE is set, so the Hub is "
                                                 "not asked, and no copy is in the cache$"):
        hub.load_pretrained("someone/ddpm-mnist")
    with pytest.raises(hub.ModelLoadError, match="is no folder here, nor a valid Hub repo id .Repo id must use"):
        hub.load_pretrained("someone/ddpm mnist")
    monkeypatch.chdir(tmp_path)  # a typo of a folder in runs/ is not sent to the Hub as user "runs"
    (tmp_path / "runs" / "mnist").mkdir(parents=True)
    monkeypatch.setattr(hub, "_download", lambda name: pytest.fail("looked up on the Hub"))
    with pytest.raises(hub.ModelLoadError, match=r"there is no folder runs/mnsit \(runs/ holds mnist\); to load "
                                                 r"the Hub repo runs/mnsit, run from a folder that has no runs/"):
        hub.load_pretrained("runs/mnsit")


def test_a_hub_that_never_answers_falls_back_to_the_cache_in_time(tmp_path, monkeypatch, capsys):
    """huggingface_hub waits without a limit on a Hub that takes the connection and stays silent (it uses its cache
    only after an error): after DDPM_HUB_TIMEOUT seconds the cached copy serves; with none, a slow download gets
    ten times as long, then a message says there is no copy."""
    import threading
    import time

    hub.save_pretrained(tiny_model(), tmp_path / "cached")
    silent, cache, asked = threading.Event(), {"someone/cached": str(tmp_path / "cached")}, []

    def snapshot_download(repo_id, allow_patterns=None, local_files_only=False):
        asked.append(repo_id)
        if repo_id == "someone/slow" and not local_files_only:
            time.sleep(0.5)  # a slow first download: more than the timeout, less than ten times it
            return str(tmp_path / "cached")
        if not local_files_only:
            silent.wait(60)  # the stalled request; set at the end of the test
        if repo_id not in cache:
            raise huggingface_hub.errors.LocalEntryNotFoundError("not in the cache")
        return cache[repo_id]

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setattr(hub, "_DOWNLOADED", {})
    monkeypatch.setenv("DDPM_HUB_TIMEOUT", "0.2")
    try:
        assert hub.load_pretrained("someone/cached").config.timesteps == 20
        assert "did not answer in 0.2 s: someone/cached is loaded from the cache" in capsys.readouterr().err
        before = len(asked)  # the same repo again in this process (its guide, its card): no second wait, no call
        assert hub.resolve_folder("someone/cached") == tmp_path / "cached" and len(asked) == before
        assert hub.load_pretrained("someone/slow").config.timesteps == 20
        assert "waiting up to 2 s for the Hugging Face Hub" in capsys.readouterr().err
        with pytest.raises(hub.ModelLoadError, match="did not answer about 'someone/new' in 2 s and there is no "
                                                     "copy in the cache"):
            hub.load_pretrained("someone/new")
        monkeypatch.setenv("DDPM_HUB_TIMEOUT", "soon")
        with pytest.raises(hub.ModelLoadError, match="DDPM_HUB_TIMEOUT must be a number of seconds above 0, not 'soon'"):
            hub.load_pretrained("someone/new")
        for value in ("0", "-1", "inf", "nan"):  # no wait at all, or one without end
            monkeypatch.setenv("DDPM_HUB_TIMEOUT", value)
            with pytest.raises(hub.ModelLoadError, match=f"must be a number of seconds above 0, not '{value}'"):
                hub._hub_timeout()
    finally:
        silent.set()


def test_push_without_token_or_network_keeps_files(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    hub.save_pretrained(tiny_model(), tmp_path)
    said = []
    assert not push.push_to_hub(tmp_path, "me/ddpm", private=True, log=said.append)
    assert "could not push" in said[0] and "Nothing was lost" in said[0]
    assert f"python -m ddpm.push {sh(tmp_path)} me/ddpm --private" in said[0]  # the retry stays private
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "config.json").exists()


def test_a_hub_error_is_said_in_one_line_of_what_to_do():
    class RepositoryNotFoundError(Exception):  # huggingface_hub's own needs an HTTP response to be made
        pass

    class GatedRepoError(Exception):
        pass

    assert "no such repo, or it is private or gated" in hub._hub_problem(RepositoryNotFoundError("404 ..."))
    assert "no such repo, or it is private or gated: check the id, or log in" in hub._hub_problem(GatedRepoError("403"))
    assert hub._hub_problem(OSError("first line\nsecond  line")) == "first line second line"


def test_a_copy_missing_offline_is_blamed_on_hf_hub_offline_where_it_is_set(monkeypatch):
    class LocalEntryNotFoundError(Exception):  # huggingface_hub's, raised with nothing cached and no Hub to ask
        pass

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # "(no network?)" had sent a Space owner to look at the network
    assert hub._hub_problem(LocalEntryNotFoundError()).startswith("HF_HUB_OFFLINE is set, so the Hub is not asked")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "yes")  # huggingface_hub's other switch
    assert hub._hub_problem(LocalEntryNotFoundError()).startswith("TRANSFORMERS_OFFLINE is set")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE")
    assert hub._hub_problem(LocalEntryNotFoundError()).startswith("the Hub cannot be reached from here (no network?)")


def test_commands_for_a_folder_with_a_space_are_quoted_as_a_shell_needs(tmp_path):
    from ddpm.card import metrics_table, sample_grid

    folder = tmp_path / "my run"
    assert f"python -m ddpm.evaluate --weights '{folder}' --out '{folder}'/eval.json" in metrics_table({}, folder)
    assert f"--weights '{folder}' --seed 0" in sample_grid(folder, 1000)
    assert push.push_command(folder, "me/ddpm") == f"python -m ddpm.push '{folder}' me/ddpm"


def test_a_loaded_model_is_in_eval_mode_and_can_be_saved_again(tmp_path):
    """A model trained with dropout loads ready to sample (eval mode), and the loaded, channels_last one saves as
    it is."""
    hub.save_pretrained(tiny_model(dropout=0.1).train(), tmp_path / "a")
    loaded = hub.load_pretrained(tmp_path / "a")
    assert not loaded.training
    hub.save_pretrained(loaded, tmp_path / "b")  # channels_last conv weights: written contiguous
    again = hub.load_pretrained(tmp_path / "b")
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k
