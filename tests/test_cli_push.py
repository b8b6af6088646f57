"""ddpm.push, the command that publishes a finished run: its card written for the repo, what an offline or
refused push leaves (every local file as it was), and its refusals of a folder or a repo id."""
import hashlib
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import pytest

from ddpm import hub, push
from ddpm.card import write_model_card

from conftest import FAKE_TOKEN, POSIX, run_python, sh, tiny_model


def test_push_cli_writes_the_card_for_the_repo_and_fails_clearly_offline(tmp_path, capsys, monkeypatch):
    from ddpm import push

    import huggingface_hub

    hub.save_pretrained(tiny_model(), tmp_path / "m")
    card = write_model_card(tmp_path / "m").read_text()
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    monkeypatch.setenv("HF_TOKEN", "")  # no token: said before the card is written for the repo or the network asked
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert push.main([str(tmp_path / "m"), "me/ddpm-test"]) == 1
    said = capsys.readouterr().err
    assert "is not pushed: no Hugging Face token here: log in first (`hf auth login`) or set HF_TOKEN, a token" in said
    assert (tmp_path / "m" / "README.md").read_text() == card
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN["HF_TOKEN"])
    assert push.main([str(tmp_path / "m"), "me/ddpm-test"]) == 1  # HF_HUB_OFFLINE: the push fails ...
    out = capsys.readouterr().out
    assert "could not push" in out and "Nothing was lost" in out and "python -m ddpm.push" in out
    assert (tmp_path / "m" / "README.md").read_text() == card  # ... the local card is left as it was
    hub.save_pretrained(tiny_model(), tmp_path / "bare")  # no card yet: none is left behind naming the repo
    assert push.main([str(tmp_path / "bare"), "me/ddpm-test"]) == 1 and not (tmp_path / "bare" / "README.md").exists()
    capsys.readouterr()
    assert set(files) == {p.name for p in (tmp_path / "m").iterdir()}  # and so is every other file
    (tmp_path / "m" / "README.md").write_text("# my own card\n")  # kept aside for the push's card, then put back
    assert push.main([str(tmp_path / "m"), "me/ddpm-test"]) == 1
    assert (tmp_path / "m" / "README.md").read_text() == "# my own card\n" and set(files) == {
        p.name for p in (tmp_path / "m").iterdir()}  # no README.previous.md left over
    monkeypatch.setattr(push, "push_to_hub", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    assert push.main([str(tmp_path / "m"), "me/ddpm-test"]) == 130  # Ctrl-C: a line, not a traceback
    err = capsys.readouterr().err
    assert f"the push was stopped (Ctrl-C or kill); {tmp_path / 'm'} is as it was" in err
    assert f"`python -m ddpm.push {sh(tmp_path / 'm')} me/ddpm-test` pushes it again" in err
    assert (tmp_path / "m" / "README.md").read_text() == "# my own card\n"
    assert push.main([str(tmp_path / "m"), "me/ddpm-test", "--private"]) == 130  # a private push's retry stays private
    err = capsys.readouterr().err
    assert f"`python -m ddpm.push {sh(tmp_path / 'm')} me/ddpm-test --private` pushes it again" in err
    monkeypatch.setattr(push, "write_model_card", lambda *a, **k: (_ for _ in ()).throw(ValueError("a bad eval.json")))
    assert push.main([str(tmp_path / "m"), "me/ddpm-test"]) == 2 and "a bad eval.json" in capsys.readouterr().err
    assert (tmp_path / "m" / "README.md").read_text() == "# my own card\n" and set(files) == {
        p.name for p in (tmp_path / "m").iterdir()}  # a card that could not be written leaves the own one in place
    for error in (RuntimeError("a bug"), KeyboardInterrupt()):  # any error, Ctrl-C too: the own card is put back
        monkeypatch.setattr(push, "write_model_card", lambda *a, **k: (_ for _ in ()).throw(error))
        if isinstance(error, KeyboardInterrupt):  # and a Ctrl-C says so in a line, not a traceback
            assert push.main([str(tmp_path / "m"), "me/ddpm-test"]) == 130
            assert f"stopped (Ctrl-C); nothing was pushed; {tmp_path / 'm'} is as it was" in capsys.readouterr().err
        else:
            with pytest.raises(type(error)):
                push.main([str(tmp_path / "m"), "me/ddpm-test"])
        assert (tmp_path / "m" / "README.md").read_text() == "# my own card\n" and set(files) == {
            p.name for p in (tmp_path / "m").iterdir()}  # it was left as README.previous.md
    monkeypatch.setattr(push, "check_loads", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))  # while it loads
    assert push.main([str(tmp_path / "m"), "me/ddpm-test"]) == 130
    assert "nothing was pushed" in capsys.readouterr().err
    monkeypatch.undo()
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN["HF_TOKEN"])
    uploaded = []  # a push that goes through carries the card written for the repo
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, repo_id, **kw: None)
    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", lambda self, repo_id: [])  # a new repo
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder",
                        lambda self, folder_path, **kw: uploaded.append((Path(folder_path) / "README.md").read_text()))
    assert push.main([str(tmp_path / "m"), "me/ddpm-test"]) == 0
    assert "me/ddpm-test" in uploaded[0] and "me/ddpm-test" not in card
    hub.save_pretrained(tiny_model(), tmp_path / "cut")
    (tmp_path / "cut" / "model.safetensors").write_bytes((tmp_path / "cut" / "model.safetensors").read_bytes()[:999])
    (tmp_path / "empty").mkdir()
    for args, message in (([str(tmp_path / "none"), "me/x"], f"{tmp_path / 'none'} does not exist"),
                          ([str(tmp_path / "empty"), "me/x"], "is not a model folder (no config.json or model"),
                          ([str(tmp_path / "m" / "config.json"), "me/x"], "config.json is a file, not a model folder"),
                          ([str(tmp_path / "m"), "not-a-repo-id"], "is not owner/name"),
                          ([str(tmp_path / "m"), "me/ddpm tiny"], "is not a Hub repo id: Repo id must use"),
                          ([str(tmp_path / "cut"), "me/x"],
                           f"{tmp_path / 'cut'} is not pushed: {tmp_path / 'cut'} does not hold a valid model: "
                           "model.safetensors is no safetensors file (")):
        with pytest.raises(SystemExit):
            push.main(args)
        assert message in capsys.readouterr().err


def test_push_given_the_repo_first_says_the_order(tmp_path, capsys, monkeypatch):
    from ddpm import push

    monkeypatch.chdir(tmp_path)
    hub.save_pretrained(tiny_model(), tmp_path / "runs" / "m")
    with pytest.raises(SystemExit):
        push.main(["me/ddpm-test", "runs/m"])
    assert ("me/ddpm-test does not exist: the folder comes first, then the repo (python -m ddpm.push runs/m "
            "me/ddpm-test)") in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a folder that is not there, and no swap: no hint
        push.main(["runs/n", "me/ddpm-test"])
    assert capsys.readouterr().err.endswith("error: runs/n does not exist\n")


def test_push_of_a_read_only_folder_is_a_line_and_its_card_untouched(tmp_path, capsys, monkeypatch):
    """The card could not be written (a read-only folder): putting the unchanged card back wrote it all the same,
    failed the same way, and ended in a traceback; on a full disk that truncating write could empty it."""
    import errno
    import pathlib

    from ddpm import push

    hub.save_pretrained(tiny_model(), tmp_path / "m")
    card = write_model_card(tmp_path / "m").read_bytes()

    def read_only(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN["HF_TOKEN"])
    for name in ("write_model_card", "atomic_write_bytes"):
        monkeypatch.setattr(push, name, read_only, raising=False)
    monkeypatch.setattr(pathlib.Path, "write_bytes", read_only)
    assert push.main([str(tmp_path / "m"), "me/ddpm-test"]) == 2
    assert "could not write the card of" in capsys.readouterr().err
    assert (tmp_path / "m" / "README.md").read_bytes() == card


def test_a_push_says_which_local_paths_its_files_publish(tmp_path, capsys, monkeypatch):
    """Commands are recorded as typed: --data-dir /home/alice/mnist in training.json goes to the Hub in it and in
    the card. The push says so (a user name may be in the path); relative paths and URLs are not named."""
    import json

    import huggingface_hub

    from ddpm import push

    hub.save_pretrained(tiny_model(), tmp_path / "m")
    (tmp_path / "m" / "training.json").write_text(json.dumps({
        "command": "python train.py --data-dir /home/alice/mnist --out runs/m --note=~/x --guide '/home/a b/g' "
                   "--teacher ~bob/t --a C:/Users/ana/x --b \\\\srv\\share\\y --c 'C:\\My runs\\z'  # see [the docs]"
                   "(/docs/x), 1/sqrt(2) of https://hf.co/x"}))
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN["HF_TOKEN"])
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, repo_id, **kw: None)
    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", lambda self, repo_id: [])  # a new repo
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", lambda self, **kw: None)
    assert push.main([str(tmp_path / "m"), "me/ddpm-test"]) == 0
    err = capsys.readouterr().err
    assert "note: the card and the run's records name local paths as they were typed" in err
    assert err.rstrip().endswith(": /home/a b/g, /home/alice/mnist, C:/Users/ana/x, C:\\My runs\\z ...")  # 4 said
    assert push.local_paths(tmp_path / "m")[4:] == ["\\\\srv\\share\\y", "~/x", "~bob/t"]  # Windows' forms too
    (tmp_path / "m" / "training.json").write_text(json.dumps({"null_teacher": "/home/ann smith/t", "C:\\k": 1}))
    found = push.local_paths(tmp_path / "m")  # (and the card's, written by the push above)
    assert {"/home/ann smith/t", "C:\\k"} <= set(found) and "/home/ann" not in found  # a value whole, keys too


def fake_hub(monkeypatch, calls: dict, public: list, held: dict) -> None:
    """HfApi up to the network: the repo holds `held` (name -> sha256 of an LFS file, or None)."""
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo",
                        lambda self, repo_id, **kw: calls.update(create=(repo_id, kw)))
    monkeypatch.setattr(huggingface_hub.HfApi, "repo_info", lambda self, repo_id: SimpleNamespace(private=not public))
    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", lambda self, repo_id: list(held))
    monkeypatch.setattr(huggingface_hub.HfApi, "get_paths_info", lambda self, repo_id, paths: [
        SimpleNamespace(path=p, lfs=SimpleNamespace(sha256=held[p])) for p in paths])
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", lambda self, **kw: calls.update(upload=kw))


def test_push_uploads_the_folder(tmp_path, monkeypatch):
    """Exercise the upload up to the network call: the right repo and files are handed to huggingface_hub."""
    calls, public = {}, []
    fake_hub(monkeypatch, calls, public, {})  # a new repo
    hub.save_pretrained(tiny_model(), tmp_path)
    assert push.push_to_hub(tmp_path, "me/ddpm", private=True, log=lambda *_: None)
    assert calls["create"] == ("me/ddpm", {"private": True, "exist_ok": True})
    assert calls["upload"]["repo_id"] == "me/ddpm" and calls["upload"]["folder_path"] == str(tmp_path)
    assert "model.safetensors" in calls["upload"]["allow_patterns"] and calls["upload"]["delete_patterns"] is None
    # asked for private, found public: nothing uploaded
    public.append(1)
    calls.clear()
    said = []
    assert not push.push_to_hub(tmp_path, "me/ddpm", private=True, log=said.append)
    assert "already exists and is public" in said[0] and "upload" not in calls
    # not a model folder: nothing created on the Hub
    calls.clear()
    assert not push.push_to_hub(tmp_path / "typo", "me/ddpm", log=said.append)
    assert said[-1] == f"could not push: {tmp_path / 'typo'} does not exist" and "create" not in calls


def test_a_push_over_other_weights_deletes_their_records_and_says_so(tmp_path, monkeypatch):
    """A repo of other weights: the records of theirs that this folder lacks go (and are named), not its guide/
    unless the folder has one. A repo of the same weights keeps all (an eval.json uploaded by hand, as the card
    says to). Only a push asked to be private refuses a public repo."""
    calls, said = {}, []
    old = dict.fromkeys(["config.json", "README.md", "eval.json", "samples.png", "loss.csv", "guide/config.json",
                         "guide/README.md"]) | {"model.safetensors": "0" * 64, "guide/model.safetensors": "1" * 64}
    fake_hub(monkeypatch, calls, [1], old)
    hub.save_pretrained(tiny_model(), tmp_path)
    (tmp_path / "README.md").write_text("x")
    assert push.push_to_hub(tmp_path, "me/ddpm", log=said.append)  # public, as asked
    assert calls["upload"]["delete_patterns"] == ["eval.json", "samples.png", "loss.csv"] and said[-1] == (
        f"pushed {tmp_path} to https://huggingface.co/me/ddpm (and deleted from it eval.json, samples.png, loss.csv, "
        "of the weights it held before)")
    hub.save_pretrained(tiny_model(), tmp_path / "guide")  # a guide of its own: the old one's card goes too
    assert push.push_to_hub(tmp_path, "me/ddpm", log=said.append)
    assert calls["upload"]["delete_patterns"] == ["eval.json", "samples.png", "loss.csv", "guide/README.md"]
    old["model.safetensors"] = hashlib.sha256((tmp_path / "model.safetensors").read_bytes()).hexdigest()
    assert push.push_to_hub(tmp_path, "me/ddpm", log=said.append)  # the same weights: nothing goes
    assert calls["upload"]["delete_patterns"] is None
    assert said[-1] == f"pushed {tmp_path} to https://huggingface.co/me/ddpm"


# python -m ddpm.push with the Hub faked up to the upload, which is stopped as its argv[2] says
STOPPED_UPLOAD = """
import os, signal, sys, time
import huggingface_hub
from ddpm import push

signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as in a terminal (this test's runner may be under nohup)

def upload(self, folder_path, **kw):
    print("uploading", "me/ddpm-test" in open(os.path.join(folder_path, "README.md")).read())
    if sys.argv[2] == "ctrl-c":
        raise KeyboardInterrupt
    os.kill(os.getpid(), getattr(signal, sys.argv[2]))
    time.sleep(30)

huggingface_hub.HfApi.create_repo = lambda self, repo_id, **kw: None
huggingface_hub.HfApi.list_repo_files = lambda self, repo_id: []
huggingface_hub.HfApi.upload_folder = upload
sys.exit(push.main([sys.argv[1], "me/ddpm-test"]))
"""


@POSIX
def test_a_push_stopped_mid_upload_by_ctrl_c_or_kill_puts_the_card_back(tmp_path):
    """A `kill` (SIGTERM) or a closed terminal (SIGHUP) during the upload ended the process at once, and left the
    local card naming a Hub repo that got nothing (or not all); now they stop it as Ctrl-C does."""
    hub.save_pretrained(tiny_model(), tmp_path / "m")
    card = write_model_card(tmp_path / "m").read_text()
    for stop in ("ctrl-c", "SIGTERM", "SIGHUP"):
        done = run_python("-c", STOPPED_UPLOAD, str(tmp_path / "m"), stop, env=FAKE_TOKEN, timeout=120)
        assert done.stdout.strip() == "uploading True", (stop, done.stdout, done.stderr)  # the repo's card went up
        assert done.returncode == 130, (stop, done.returncode, done.stderr)
        assert f"the push was stopped (Ctrl-C or kill); {tmp_path / 'm'} is as it was" in done.stderr
        assert (tmp_path / "m" / "README.md").read_text() == card  # the folder's own again
