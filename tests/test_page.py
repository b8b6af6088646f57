"""What the page looks like to a learner with low vision or a red-green colour-blind eye: contrast of the theme's
text and of the plots' colours (WCAG 2.1's relative luminance), and where the keyboard is."""
import re

import pytest
from gradio.themes.utils import colors

from ddpm.demo import forward, objective, page, trajectory

WHITE, DARK = "#ffffff", colors.neutral.c950  # the light page and Gradio's dark one


def luminance(hex_color: str) -> float:
    rgb = [int(hex_color.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_matches_wcag_examples():
    assert contrast("#000000", WHITE) == pytest.approx(21)
    assert contrast("#767676", WHITE) == pytest.approx(4.54, abs=0.01)  # the lightest grey passing 4.5:1


def theme_value(name: str) -> str:
    """The light theme's colour behind one of its CSS variables, following var(--x) to a hex value."""
    css = page.THEME._get_theme_css()
    while True:
        value = re.search(rf"--{name}: ([^;]+);", css).group(1).strip()
        if value.startswith("#"):
            return value
        name = re.fullmatch(r"var\(--([\w-]+)\)", value).group(1)


@pytest.mark.parametrize("name, least", [("color-accent", 4.5), ("body-text-color-subdued", 4.5),
                                         ("block-info-text-color", 4.5), ("button-primary-background-fill", 4.5)])
def test_theme_text_reads_on_white(name, least):
    """The chosen tab's name and the focus outline (the accent), the sliders' ends and the controls' help: axe
    measured Gradio's own at 2.8:1 and 1.9:1."""
    assert contrast(theme_value(name), WHITE) >= least


def test_dark_page_keeps_a_lighter_accent():
    assert ":root .dark {--color-accent: var(--primary-500) !important}" in page.CSS
    assert contrast(colors.orange.c500, DARK) >= 4.5


@pytest.mark.parametrize("palette", [trajectory.DIGIT_COLORS, forward.COLORS, objective.COLORS],
                         ids=["decision plot", "tab 1's curves", "tab 1's loss"])
def test_plot_colours_stand_out_on_both_pages(palette):
    """Lines need 3:1 against their background (WCAG 1.4.11); tab10's orange, pink, yellow olive and cyan had 2-2.7."""
    for name, c in palette.items():
        assert contrast(c, WHITE) >= 3 and contrast(c, DARK) >= 3, name


def test_chosen_t_is_not_told_from_a_curve_by_red_and_green():
    """The chosen t's line was red beside the green log-SNR curve: one olive to a deuteranope."""
    assert forward.COLORS[forward.MARKER] == objective.COLORS[objective.MARKER] == trajectory.NOW_COLOR
    assert len(set(trajectory.DIGIT_COLORS.values())) == 11


@pytest.mark.parametrize("control", ["range", "radio", "checkbox", "number"])
def test_every_kind_of_control_shows_keyboard_focus(control):
    """Gradio's boxes and checkboxes show focus as a 1 px border change (1.8:1); the page's outline must win."""
    rule = re.search(r"([^{}]*)\{outline: 2px solid var\(--color-accent\) !important", page.CSS).group(1)
    assert f"input[type={control}]:focus-visible" in rule and "input[role=combobox]:focus-visible" in rule
