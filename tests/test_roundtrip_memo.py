"""Tab 4's memory of its digit (ddpm.demo.roundtrip.after_digit_change, DigitMemo): which run is put away when the
digit's inputs move, and what a later change, of the same digit or a new one, does to it."""
from __future__ import annotations

import numpy as np

from ddpm.demo import roundtrip
from ddpm.demo.sources import EXAMPLE, pick_digit

GREY = np.full((20, 60, 3), 30, np.uint8)  # a picture as the page sends it back (RGB)


def change(index, memo, main=None, strip=None, text="", i_image=None, i_text=""):
    """Tab 4's digit moved to MNIST test digit #index, with these outputs shown."""
    return roundtrip.after_digit_change(EXAMPLE, index, None, None, memo, main, strip, text, i_image, i_text)


def test_an_interpolation_alone_is_put_away_and_comes_back_grey():
    """With no round trip shown, the interpolation's picture still counts: it is put away with its digit and shown
    again (as a grey PNG, a third of the RGB's memory) when the inputs come back to that digit."""
    memo = roundtrip.DigitMemo(pick_digit(EXAMPLE, 25))
    away = change(26, memo, i_image=GREY, i_text="Mixed")
    assert away[:5] == (None, None, away[2], None, "") and np.array_equal(away[5].kept[0], pick_digit(EXAMPLE, 25))
    back = change(25, away[5], text=away[2])
    assert back[0] is None and back[4] == "Mixed" and back[3].mode == "L" and np.asarray(back[3]).mean() == 30


def test_a_late_change_of_the_same_digit_keeps_the_run_put_away_and_the_shared_count():
    """25 -> 26 puts 25's run away; a change event of 26 again (the same digit) must neither drop that run, so that
    going back to 25 shows it, nor start a count of its own, so that a run begun before it still stops at 25."""
    memo = roundtrip.DigitMemo(pick_digit(EXAMPLE, 25))
    away = change(26, memo, main=GREY, strip=GREY, text="Noised to t = 500")
    run = roundtrip.until_left(iter([1, 2, 3]), away[5])  # a run of 26, pressed before the late event
    assert next(run) == 1
    same = change(26, away[5], text=away[2])
    assert same[:2] == (roundtrip.KEEP, roundtrip.KEEP) and same[5].changes is memo.changes
    back = change(25, same[5], text=same[2])
    assert list(run) == []  # back at 25: the run of 26 yields no more
    assert np.asarray(back[0]).mean() == 30 and back[2] == "Noised to t = 500"


def test_what_tab_4_shows_is_noted_on_the_server_as_its_runs_go_and_put_away_from_there():
    """The page's pictures are not sent back (as inputs they let any caller have huge images decoded): a run notes
    each output as it goes out (a progress line its text alone), and a change of digit puts away and restores what
    the notes say, noting in turn what it shows (a change to the same digit keeps them: they went on showing)."""
    import gradio as gr

    @roundtrip.shown_as_it_goes("x0", "main", "strip", "text")
    def run(memo):
        yield "x0", gr.skip(), gr.skip(), "Denoising: step 1 of 2"
        assert memo.shown == {"text": "Denoising: step 1 of 2"}
        yield "x0", GREY, GREY, "Noised to t = 5"

    memo = roundtrip.DigitMemo(pick_digit(EXAMPLE, 25))
    assert len(list(run(memo))) == 2 and memo.shown == {"main": GREY, "strip": GREY, "text": "Noised to t = 5"}
    # a late change event of the same digit leaves the pictures as they are (KEEP), and their notes with them
    same = roundtrip.digit_change_outputs(EXAMPLE, 25, None, None, memo)
    assert same[:2] == (roundtrip.KEEP, roundtrip.KEEP) and same[5].shown["main"] is GREY
    away = roundtrip.digit_change_outputs(EXAMPLE, 26, None, None, same[5])
    assert away[:2] == (None, None) and away[5].shown == dict(zip(roundtrip.SHOWN, away[:5]))
    back = roundtrip.digit_change_outputs(EXAMPLE, 25, None, None, away[5])
    assert np.asarray(back[0]).mean() == 30 and back[2] == "Noised to t = 5" and back[5].shown["main"] is back[0]


def test_each_sessions_copy_of_the_memo_has_its_own_count_and_notes_and_shares_the_pictures():
    """gr.State deep-copies its first value for every session: the start-up run's pictures (450 KB) are shared, not
    copied, while the count and the notes are the session's own."""
    import copy

    first = roundtrip.DigitMemo(pick_digit(EXAMPLE, 0), shown={"main": GREY, "text": "Drawn as the app started"})
    mine = copy.deepcopy(first)
    assert mine.shown["main"] is GREY and mine.last is first.last
    mine.changes[0] += 1
    roundtrip.shows(mine, text="Noised to t = 5")
    assert first.changes == [0] and first.shown["text"] == "Drawn as the app started"
