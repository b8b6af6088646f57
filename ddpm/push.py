"""Publish a finished `train.py` folder to the Hugging Face Hub: write its model card for the repo (so the card's
code loads the repo, not a local path), then upload it (ddpm.hub.push_to_hub).

    python -m ddpm.push runs/mnist you/ddpm-mnist
    python -m ddpm.push runs/mnist you/ddpm-mnist --private

Without a token or network it says so, keeps every local file as it was (the card too) and exits with 1.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .card import keep_a_hand_written_card, write_model_card
from .hub import CARD_NAME, CONFIG_NAME, ModelLoadError, load_pretrained, push_status, repo_id_problem


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ddpm.push", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", help="a train.py output folder")
    p.add_argument("repo_id", help="the Hub repo to push to, owner/name (made if it does not exist)")
    p.add_argument("--private", action="store_true", help="make a new repo private; refuse a public one")
    a = p.parse_args(argv)
    folder = Path(a.folder)
    if not (folder / CONFIG_NAME).is_file():
        p.error(f"{folder} is not a model folder (no {CONFIG_NAME})")
    if why := repo_id_problem(a.repo_id):
        p.error(why)
    try:
        load_pretrained(folder)  # a truncated model.safetensors (a full disk) is not worth publishing
    except ModelLoadError as e:
        p.error(f"{folder} does not load, so it is not pushed: {e}")
    card = folder / CARD_NAME
    old_card = card.read_bytes() if card.is_file() else None
    kept = None

    def put_back() -> None:
        """Not pushed: the local card is as it was (none if there was none: none that names a repo never made)."""
        if kept:  # the hand-written card set aside below goes back by a rename, which even a full disk allows
            kept.replace(card)
        elif old_card is not None:
            card.write_bytes(old_card)
        else:
            card.unlink(missing_ok=True)

    try:
        kept = keep_a_hand_written_card(card)  # set aside here (write_model_card would), so put_back can drop it
        write_model_card(folder, repo_id=a.repo_id)
    except (OSError, ValueError) as e:  # an unreadable or malformed file beside the config
        put_back()
        print(f"error: could not write the card of {folder}: {e}", file=sys.stderr)
        return 2
    status = push_status(folder, a.repo_id, private=a.private)
    if status:
        put_back()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
