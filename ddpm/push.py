"""Publish a finished `train.py` folder to the Hugging Face Hub: write its model card for the repo (so the card's
code loads the repo, not a local path), then upload it (push_to_hub).

    python -m ddpm.push runs/mnist you/ddpm-mnist
    python -m ddpm.push runs/mnist you/ddpm-mnist --private

Without a token or network it says so, keeps every local file as it was (the card too) and exits with 1.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

from .card import check_loads, keep_a_hand_written_card, write_model_card
from .cli_args import path_arg, stopped
from .hub import (CARD_NAME, FOLDER_FILES, GUIDE_SUBFOLDER, WEIGHTS_NAME, ModelLoadError, folder_problem,
                  repo_id_problem)
from .run_control import stops_as_ctrl_c
from .safeio import atomic_write_bytes
from .train_args import shell_path


def push_command(folder: str | Path, repo_id: str, private: bool = False) -> str:
    """The command line that pushes `folder` to `repo_id` again."""
    return f"python -m ddpm.push {shell_path(folder)} {repo_id}{' --private' if private else ''}"


def push_to_hub(folder: str | Path, repo_id: str, private: bool = False, log=print) -> bool:
    """Upload the model folder's FOLDER_FILES, and delete from the repo what `stale` names (the records of other
    weights pushed there before). No other file of the repo is touched. Without a token or network, say so and keep
    every local file."""
    folder = Path(folder)
    if why := folder_problem(folder):
        log(f"could not push: {why}")
        return False
    retry = push_command(folder, repo_id, private)
    try:
        from huggingface_hub import HfApi

        api = HfApi()
        api.create_repo(repo_id, private=private, exist_ok=True)
        if private and api.repo_info(repo_id).private is False:  # exist_ok leaves a public repo public
            log(f"did not push: {repo_id} already exists and is public, and a private repo was asked for. Make it "
                f"private on the Hub, then retry with: {retry}")
            return False
        gone = stale(api, repo_id, folder)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, allow_patterns=FOLDER_FILES,
                          delete_patterns=gone or None)
    except Exception as e:  # no token (401), no network, unknown repo ...
        log(f"could not push to the Hub ({type(e).__name__}: {e}).\n"
            f"Nothing was lost: the model is in {folder}. Check the network and your token (`hf auth login`, or "
            f"HF_TOKEN), then retry with: {retry}")
        return False
    removed = f" (and deleted from it {', '.join(gone)}, of the weights it held before)" if gone else ""
    log(f"pushed {folder} to https://huggingface.co/{repo_id}{removed}")
    return True


def stale(api, repo_id: str, folder: Path) -> list[str]:
    """The files of the repo to delete: where its model.safetensors is not this folder's, each FOLDER_FILES name it
    holds and the folder lacks (the scores, card, grid or loss log of the weights pushed before would show beside
    these; the repo's history keeps them). With the same weights nothing goes (an eval.json uploaded by hand for
    them, as the card says to, stays), nor does a guide/ unless the folder has one: a guide may guide any model
    it fits (its load checks that)."""
    held = set(api.list_repo_files(repo_id))
    if WEIGHTS_NAME in held:
        (info,) = api.get_paths_info(repo_id, [WEIGHTS_NAME])
        mine = hashlib.sha256((folder / WEIGHTS_NAME).read_bytes()).hexdigest()
        if getattr(getattr(info, "lfs", None), "sha256", None) == mine:  # an LFS file's id is its content's sha256
            return []
    guide = (folder / GUIDE_SUBFOLDER).is_dir()
    return [name for name in FOLDER_FILES if name in held and not (folder / name).exists()
            and (guide or not name.startswith(f"{GUIDE_SUBFOLDER}/"))]


ROOTED = r"(?:/|~\w*/|[A-Za-z]:[\\/]|\\\\)"  # where an absolute path begins: /, ~/ or ~user/, C:\ or C:/, \\server
# a rooted path quoted whole ('/home/a b/c'), or standing alone after a space, = or ` (or a bracket, but not a
# markdown link's](/docs/x)); URLs (https://x/y) and sums (1/sqrt(2), a / b) are no paths
PATH = re.compile(rf"""'({ROOTED}[^']*)'|"({ROOTED}[^"]*)"|(?:^|(?<=[\s=`])|(?<=[^\]]\())({ROOTED}[^\s'"`)]+)""",
                  re.M)


def local_paths(folder: str | Path) -> list[str]:
    """The absolute paths that the text files to upload name: commands as they were typed (the card's recipe and
    its evaluate lines, training.json, eval.json), which may show a user name or a folder layout."""
    found = set()
    for name in (n for n in FOLDER_FILES if n.endswith((".md", ".json"))):
        path = Path(folder) / name
        if path.is_file():
            for text, whole in _texts(path):
                if whole and re.match(ROOTED, text) and "\n" not in text:
                    found.add(text)  # a JSON value that is a path is one whole ("/home/ann smith/t")
                else:
                    found |= {next(g for g in m.groups() if g) for m in PATH.finditer(text)}
    return sorted(found)


def _texts(path: Path) -> list[tuple[str, bool]]:
    """A file's text; a JSON file's strings, keys too, as they read unescaped (C:\\runs, not JSON's C:\\\\runs), each
    with True: a whole value."""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        doc = json.loads(text) if path.suffix == ".json" else None
    except ValueError:
        doc = None
    if doc is None:
        return [(text, False)]
    strings, todo = [], [doc]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            strings.append((item, True))
        elif isinstance(item, (dict, list)):
            todo.extend([*item.keys(), *item.values()] if isinstance(item, dict) else item)
    return strings


def token_problem() -> str | None:
    """Why the Hub would refuse a push for want of a token, asked before anything is written (None: there is one)."""
    from huggingface_hub import get_token

    return None if get_token() else ("no Hugging Face token here: log in first (`hf auth login`) or set HF_TOKEN, "
                                      "a token with write access")


def push_status(folder: str | Path, repo_id: str, private: bool = False, kept: str = "") -> int:
    """push_to_hub for a command line (train.py --push-to-hub, python -m ddpm.push): its exit status, 0 pushed,
    1 not (push_to_hub said why), 130 stopped by Ctrl-C, said here with `kept` (what is kept locally) and the
    command that pushes again. The local paths the upload publishes are named first."""
    if paths := local_paths(folder):  # published as typed: said, so that a next run can use relative ones
        print(f"note: the card and the run's records name local paths as they were typed, and are published so: "
              f"{', '.join(paths[:4])}{' ...' if len(paths) > 4 else ''}", file=sys.stderr)
    try:
        with stops_as_ctrl_c():  # a `kill` or a closed terminal too: the caller puts the card back
            return 0 if push_to_hub(folder, repo_id, private=private) else 1
    except KeyboardInterrupt:
        print(f"\nthe push was stopped (Ctrl-C or kill); {kept or f'{folder} is as it was'} (the Hub repo may have "
              f"been made or partly updated): `{push_command(folder, repo_id, private)}` pushes it again",
              file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ddpm.push", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=path_arg, help="a train.py output folder")
    p.add_argument("repo_id", help="the Hub repo to push to, owner/name (made if it does not exist)")
    p.add_argument("--private", action="store_true", help="make a new repo private; refuse a public one")
    a = p.parse_args(argv)
    folder = Path(a.folder)
    if why := folder_problem(folder):
        swapped = not folder_problem(a.repo_id) and not repo_id_problem(a.folder)
        p.error(why + (f": the folder comes first, then the repo (python -m ddpm.push {a.repo_id} {a.folder})"
                       if swapped else ""))
    if why := repo_id_problem(a.repo_id):
        p.error(why)
    nothing = f"nothing was pushed; {folder} is as it was"  # what a Ctrl-C before the upload leaves
    try:
        check_loads(folder)  # a truncated model.safetensors (a full disk), or a guide/ that does not load
    except ModelLoadError as e:
        p.error(f"{folder} is not pushed: {e}")  # e names what does not load: the model, or its guide/
    except KeyboardInterrupt:
        return stopped(nothing)
    if why := token_problem():  # before the card is written for the repo: the upload would be refused at the end
        print(f"error: {a.folder} is not pushed: {why}, then run this again", file=sys.stderr)
        return 1
    card = folder / CARD_NAME
    old_card = card.read_bytes() if card.is_file() else None
    kept = None

    def put_back() -> None:
        """Not pushed: the local card is as it was (none if there was none: none that names a repo never made)."""
        if kept:  # the hand-written card set aside below goes back by a rename, which even a full disk allows
            kept.replace(card)
        elif old_card is not None:  # whole or not at all, and only if it changed (a read-only folder kept it)
            if not (card.is_file() and card.read_bytes() == old_card):
                atomic_write_bytes(card, old_card)
        else:
            card.unlink(missing_ok=True)

    with stops_as_ctrl_c():  # a `kill` or a closed terminal from here on puts the card back too
        try:
            kept = keep_a_hand_written_card(card)  # set aside here (write_model_card would), so put_back can drop it
            write_model_card(folder, repo_id=a.repo_id)
        except (OSError, ValueError) as e:  # an unreadable or malformed file beside the config
            put_back()
            print(f"error: could not write the card of {folder}: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # a line, not a traceback, and the card as it was
            put_back()
            return stopped(nothing)
        except BaseException:  # anything else (a bug): the local files are as they were all the same
            put_back()
            raise
        try:
            status = push_status(folder, a.repo_id, private=a.private)
        except BaseException:  # a second stop while the first was being said
            put_back()
            raise
        if status:
            put_back()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
