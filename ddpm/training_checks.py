"""What a training call may take, checked before its step runs: diffusion_loss's model, schedule, images, labels and
label dropout, train_step's learning rate. Each refusal says what to give in words (a warning where the call may be
meant: images in [0, 1], a class left untrained); ddpm.training keeps the maths."""
from __future__ import annotations

import warnings

import torch

from .config import is_real
from .sampling_checks import check_label_tensor, check_schedule
from .schedule import NoiseSchedule


def check_loss_inputs(model, sched: NoiseSchedule, x0, y, label_dropout) -> None:
    """diffusion_loss's arguments, refused in words: a schedule of another T or kind than the model's, x0 not a float
    batch of the model's dtype and image shape or outside [-1, 1] (a warning for [0, 1]), y not one whole-number
    label per image (or a class the model lacks), a label_dropout outside [0, 1]; a warning for a class the call
    leaves untrained (the null class at label_dropout 0, the digits' classes with y=None)."""
    check_schedule(model.config, sched)
    if not (torch.is_tensor(x0) and x0.is_floating_point()):  # uint8 digits would train on 0..255, unsaid
        raise TypeError("x0 is a float (B, C, H, W) batch in [-1, 1]: ddpm.data.to_model_range(uint8 digits) makes "
                        f"one, not {x0.dtype if torch.is_tensor(x0) else type(x0).__name__}")
    weight = next(model.parameters(), None)  # (None: a hand-written model of no weights)
    x_t_dtype = torch.promote_types(x0.dtype, sched.sqrt_alpha_bar.dtype)  # q_sample's: half digits come out float32
    if weight is not None and weight.dtype.itemsize < 4:  # x_t comes out float32 at least (the schedule's buffers)
        raise TypeError(f"the model's weights are {weight.dtype}, and q_sample's x_t is float32 (the schedule's "
                        "buffers): keep the weights float32 and train in half precision under autocast "
                        "(train_step's amp_dtype)")
    if weight is not None and x_t_dtype != weight.dtype:  # float64 digits met a convolution's dtype error
        raise TypeError(f"x0 is {x0.dtype} and the model's weights {weight.dtype}: give x0.to({weight.dtype})")
    c, size = model.config.in_channels, model.config.image_size
    if x0.dim() != 4 or x0.shape[1:] != (c, size, size):  # (B, 28, 28) met the network's words for x_t
        raise ValueError(f"x0 is a batch of {c}-channel {size} x {size} images, shape (B, {c}, {size}, {size}), not "
                         f"{tuple(x0.shape)}" + " (one channel: x0[:, None])" * (x0.dim() == 3))
    if x0.device.type == "cpu" and x0.numel():  # read where it costs no GPU sync (on one, train() makes x0 itself)
        lo, hi = (v.item() for v in torch.aminmax(x0))  # one pass over the batch
        if not (-1.001 <= lo and hi <= 1.001):  # 0..255 floats trained a model of another scale, unsaid
            raise ValueError(f"x0 holds images in [-1, 1] (ddpm.data.to_model_range makes them of uint8 digits; "
                             f"after torchvision's ToTensor, Normalize((0.5,), (0.5,))), not values from {lo:.3g} "
                             f"to {hi:.3g}")
        if lo >= 0 and hi > 0:  # a digit's background is -1: ToTensor's [0, 1] trains an off-centre process, unsaid
            warnings.warn(f"x0 has no pixel below 0 (from {lo:.3g} to {hi:.3g}): images in [0, 1], as torchvision's "
                          "ToTensor gives them, where the model takes [-1, 1] (x * 2 - 1; after ToTensor, "
                          "Normalize((0.5,), (0.5,)))", stacklevel=3)
    if y is not None and not (torch.is_tensor(y) and y.shape == x0.shape[:1] and not y.is_floating_point()):
        got = f"{y.dtype} of shape {tuple(y.shape)}" if torch.is_tensor(y) else f"{y!r:.80}"
        raise TypeError(f"y is None or a (B,) integer tensor of labels, one per image of x0, not {got}")
    if y is not None and model.config.num_classes:  # classes 0..C-1 (or C, null), read on the CPU only (no GPU sync)
        check_label_tensor(y, x0.shape[0], model.config.num_classes, values=y.device.type == "cpu")
    if not (is_real(label_dropout) and 0 <= label_dropout <= 1):  # 1.5 dropped every label, nan none, unsaid
        raise ValueError(f"label_dropout is the share of labels trained as the null class, 0 to 1, not "
                         f"{label_dropout!r}")
    if model.config.num_classes and (y is None or label_dropout == 0):  # one of the classes would stay untrained
        warnings.warn("y=None trains the null class alone: sampling with a label would use an untrained class "
                      "(a model without classes: ModelConfig(num_classes=0))" if y is None else
                      "label_dropout=0 trains no label as the null class, which sampling without a label (the app's "
                      "'any digit') and guidance use: train with label_dropout=0.2 (train.py's default)", stacklevel=3)


def check_lr(lr) -> None:
    """train_step's lr: a number >= 0, or None (the optimizer's own, as a scheduler of the caller's sets it)."""
    if lr is not None and not (is_real(lr) and lr >= 0):  # nan turned every weight nan at the first step, unsaid
        raise ValueError(f"lr is a learning rate, a number >= 0 (or None: the optimizer's own), not {lr!r}")
