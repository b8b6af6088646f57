"""The page's opening words and each tab's first lines: what the app shows, before any control. Each tab's part
opens with a heading, for a screen reader to jump between them."""
from __future__ import annotations

from ..data import dataset_name, noun
from ..schedule import NoiseSchedule


TITLE = "DDPM on MNIST, from scratch"  # the page's heading, the browser tab's and the Space's (README front matter)


def title(dataset: str = "mnist") -> str:
    """The page's heading and the browser tab's: TITLE, or for a model of another dataset that dataset's name."""
    return TITLE if dataset == "mnist" else TITLE.replace("MNIST", dataset_name(dataset))


def header(dataset: str = "mnist") -> str:
    """The title and the tour of the tabs, in the words of the model's dataset ('digit', or 'image'); a model of
    another dataset is told apart at once."""
    text = f"# {title(dataset)}\n" + said(
        "Watch Gaussian noise destroy a digit, then a small trained U-Net turn fresh noise into digits, step by step "
        "(Ho et al. 2020). Everything runs on the CPU.\n\n**1. Forward**: noise a digit, and what the network learns "
        "from it · **2. Generate**: seeded digits · **3. x0-hat**: watch the predicted clean digit emerge · **4. Your "
        "digit**: noise it, then denoise it, or mix it with another · **5. About**: the model and its measured "
        "quality. On a narrow screen the tabs that do not fit are under ⋯.", dataset)
    if dataset != "mnist":
        text += (f"\n\n**This model was trained on {dataset_name(dataset)}.** The examples are its test images, an "
                 "upload is fitted as its images were, and the MNIST classifier, which reads digits only, is off.")
    return text


def said(text: str, dataset: str = "mnist") -> str:
    """Page text written for MNIST (a tab's opening words, a label, a caption: sources.worded) for a model of
    `dataset`: as written for MNIST, or with its word for a sample (data.noun: 'image') for 'digit'."""
    if dataset == "mnist":
        return text
    return text.replace("a digit", noun(dataset, article=True)).replace("digit", noun(dataset))


def forward_intro(sched: NoiseSchedule, dataset: str = "mnist") -> str:
    """Tab 1: q(x_t | x_0), with how much of the digit x_T keeps under this schedule."""
    return said("## Noise a digit: q(x_t | x_0)\nt counts as in the paper: x_0 is the digit, x_T almost pure noise "
            f"(sqrt(alpha_bar_T) = {sched.sqrt_alpha_bar[-1].item():.2g} of the digit is left on the model's "
            f"{sched.kind} schedule; sampling starts from "
            "N(0, I) in its place). One noise draw eps per seed, so moving t morphs smoothly (Eq. 4).", dataset)


def objective_intro(kind: str, dataset: str = "mnist") -> str:
    """Tab 1's second half: the training objective on the same digit, t and eps."""
    return said(f"## What the network learns from it: L_simple (Eq. 14)\nGiven x_t and t, guess eps. The same digit, "
                f"t and eps, noised with the model's own {kind} schedule; the network gets no label.", dataset)


GENERATE = ("## New digits: p_theta(x_{t-1} | x_t)\nEach starts from its own fresh noise x_T ~ N(0, I), drawn "
            "from the seed and its place in the grid, and the trained network takes it back to x_0 a step at a "
            "time: DDPM through all T steps (Alg. 2: x_{t-1} = mu_theta(x_t, t) + sigma_t z, fresh noise z at "
            "every step but the last), DDIM through fewer (Song et al. 2021). DDIM at eta 0 adds no noise after "
            "x_T, yet its digits differ: the variety comes from x_T. The same seed and settings give the same "
            "digits.")
TRAJECTORY = ("## The predicted clean digit, step by step\nAt every step the model predicts the noise eps_hat, "
              "and with it a guess of the clean digit, x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps_hat) / "
              "sqrt(alpha_bar_t), clipped to [-1, 1] as the sampler uses it. Run: the panels follow the chain from "
              "t = T (pure noise) to 0 as it denoises; then drag t to see any step again. DDPM shows Alg. 2's "
              "chain through all T steps (x0_hat clipped, as above).")
GIF_TITLE = ("The run as a looping GIF: close this to stop it (the t slider above and the stills below show "
             "the same steps)")
FILM = ("## The chain as stills\nThe first digit's chain, x_t above and x0_hat below: read it right to left, from "
        "t = T to the sample.")
ROUNDTRIP = ("## Your digit, noised and denoised\nNoise your digit to x_t (the same eps as tab 1 for the same "
             "seed), then run the reverse chain from there. Small t gives your digit back; large t, a digit of the "
             "model's own.")
