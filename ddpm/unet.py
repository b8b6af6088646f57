"""A small time- and class-conditional U-Net that predicts the noise eps_hat = eps_theta(x_t, t, y).

Layout in the style of Ho et al. 2020 (App. B) and improved-diffusion, scaled for a 2-core CPU:
sinusoidal time embedding fed to every residual block, GroupNorm + SiLU, dropout,
self-attention at 7x7 (attention_resolutions) and in the middle, skip connections between the halves (one per level, where
Ho et al. keep one per residual block and downsample: fewer channels to concatenate at 28x28), and a
zero-initialised output conv so training starts from eps_hat = 0. One more departure: unlike Ho et al. and
improved-diffusion, which add Linear(SiLU(emb)), a block adds Linear(emb), so the embedding MLP's last Linear and
each block's projection compose into one linear map (the SiLU made no measurable difference: docs/experiments.md).

patch_size = 2 (tried, not shipped) folds the 28x28x1 image into 14x14x4 first (pixel_unshuffle, lossless) and
unfolds it at the end, as U-ViT and "simple diffusion" do, so no level runs at 28x28.
"""
from __future__ import annotations

import math
import operator

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .sampling_checks import check_label_tensor


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps (the code index 0..T-1, the paper's t - 1, in training and sampling
    alike) with the Transformer's frequencies (Vaswani et al. 2017, Sec. 3.5), laid out as [cos | sin] halves as
    improved-diffusion does (the Transformer interleaves sin and cos; either works for the MLP that follows).
    An odd dim gets a last column of zeros. t: (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]  # (B, half)
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)  # (B, 2 * half)
    return F.pad(emb, (0, dim % 2))


def zero_init(module: nn.Module) -> nn.Module:
    """Zero a layer's weights and bias: a residual branch ending in it starts at zero (its block returns its
    shortcut, skip(x): x itself, or a 1x1 conv of it where the channels change), the output layer at eps_hat = 0."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """GN-SiLU-conv, add the embedding, GN-SiLU-dropout-conv, plus the residual shortcut (`skip`: x itself, or a 1x1
    conv where the width changes; not the U-Net's skips, which carry each level's output to the decoder)."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2 = nn.GroupNorm(groups, c_out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = zero_init(nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]  # (B, C, 1, 1) broadcast over pixels; no SiLU first (module doc)
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """Single-head self-attention over the pixels of a feature map, residual."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = zero_init(nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).transpose(-1, -2).unbind(1)  # (B, HW, C)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, HW, C)
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, h, w))


class UNet(nn.Module):
    """eps_theta(x_t, t, y): a down half of residual blocks that halves the size at each level (28 -> 14 -> 7),
    a middle with attention, and an up half that mirrors it, each level's first block taking the down half's
    output at that size (the skip) concatenated to its input."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = cfg = config
        ch = [cfg.base_channels * m for m in cfg.channel_mult]
        emb_dim = 4 * cfg.base_channels
        self.time_mlp = nn.Sequential(
            nn.Linear(cfg.base_channels, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )
        # one extra row: the "null" class, used for unconditional samples and guidance
        self.class_emb = nn.Embedding(cfg.num_classes + 1, emb_dim) if cfg.num_classes > 0 else None

        def block(c_in, c_out):
            return ResBlock(c_in, c_out, emb_dim, cfg.dropout, cfg.groups)

        def attn(c, res):
            return SelfAttention(c, cfg.groups) if res in cfg.attention_resolutions else nn.Identity()

        p = cfg.patch_size  # each p x p patch of pixels becomes p*p channels of one pixel
        self.conv_in = nn.Conv2d(cfg.in_channels * p * p, ch[0], 3, padding=1)
        sizes = cfg.level_sizes()  # [28, 14, 7], or [14, 7, 4] with 2x2 patches: the same on both halves
        self.down, self.down_attn, self.downsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        c_prev = ch[0]
        for i, c in enumerate(ch):
            self.down.append(nn.ModuleList([block(c_prev if j == 0 else c, c) for j in range(cfg.num_res_blocks)]))
            self.down_attn.append(attn(c, sizes[i]))
            last = i == len(ch) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv2d(c, c, 3, stride=2, padding=1))
            c_prev = c
        self.mid1, self.mid_attn, self.mid2 = block(c_prev, c_prev), SelfAttention(c_prev, cfg.groups), block(c_prev, c_prev)
        self.up, self.up_attn, self.upsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for i, c in reversed(list(enumerate(ch))):
            # the first block of each level takes the skip from the same level, concatenated
            self.up.append(nn.ModuleList([block(c_prev + c if j == 0 else c, c) for j in range(cfg.num_res_blocks)]))
            self.up_attn.append(attn(c, sizes[i]))
            self.upsample.append(nn.Identity() if i == 0 else nn.Conv2d(c, ch[i - 1], 3, padding=1))
            c_prev = c if i == 0 else ch[i - 1]
        self.norm_out = nn.GroupNorm(cfg.groups, c_prev)
        self.conv_out = zero_init(nn.Conv2d(c_prev, cfg.in_channels * p * p, 3, padding=1))

    def forward(self, x_t: torch.Tensor, t: torch.Tensor | int, y: torch.Tensor | None = None) -> torch.Tensor:
        """x_t: (B, C, H, W), t: (B,) code indices in [0, T) (the paper's t - 1) or one int for all, y: (B,) labels
        (config.null_label: the null class). -> eps_hat (B, C, H, W).
        y=None is the null class on a class-conditional model; an unconditional one (num_classes 0) ignores y."""
        t, y = self._inputs(x_t, t, y)  # checked, as (B,) long tensors (y None on an unconditional model)
        emb = self.time_mlp(timestep_embedding(t, self.config.base_channels).to(x_t.dtype))  # (B, 4*base)
        if self.class_emb is not None:
            emb = emb + self.class_emb(y)
        p = self.config.patch_size
        x_in = F.pixel_unshuffle(x_t, p) if p > 1 else x_t  # (B, C p^2, H/p, W/p)
        h = self.conv_in(x_in)  # (B, ch[0], H/p, W/p), ch[0] = base_channels * channel_mult[0]
        skips = []
        for blocks, attn, down in zip(self.down, self.down_attn, self.downsample):
            for block in blocks:
                h = block(h, emb)
            h = attn(h)  # (B, ch[i], sizes[i], sizes[i])
            skips.append(h)
            h = down(h)  # halve the size (Identity at the last level)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)  # (B, ch[-1], sizes[-1], sizes[-1])
        for blocks, attn, up in zip(self.up, self.up_attn, self.upsample):
            skip = skips.pop()  # (B, ch[i], s, s), the same size as h
            h = torch.cat([h, skip], dim=1)  # (B, c_h + ch[i], s, s)
            for block in blocks:
                h = block(h, emb)
            h = attn(h)
            if skips:  # a level above: up to its size, 7 -> 14 -> 28, or 4 -> 7 -> 14 (`up` is Identity at the top)
                size = skips[-1].shape[-2:]
                h = up(F.interpolate(h, size=size, mode="nearest"))
        eps_hat = self.conv_out(F.silu(self.norm_out(h)))
        return F.pixel_shuffle(eps_hat, p) if p > 1 else eps_hat

    def _inputs(self, x_t, t, y) -> tuple[torch.Tensor, torch.Tensor | None]:
        """forward's arguments checked, in words rather than GroupNorm's, a convolution's or the embedding's: -> t, a
        (B,) long tensor on x_t's device, and y, the labels given made long (None on an unconditional model; the
        null class, on x_t's device, for y=None)."""
        c, size = self.config.in_channels, self.config.image_size
        if not (torch.is_tensor(x_t) and x_t.dim() == 4 and x_t.shape[1:] == (c, size, size) and
                x_t.is_floating_point()):
            got = f"{x_t.dtype} of shape {tuple(x_t.shape)}" if torch.is_tensor(x_t) else type(x_t).__name__
            pair = "; p_sample and ddim_step return (x_prev, x0_hat): x, x0_hat = ..." * isinstance(x_t, tuple)
            raise ValueError(f"x_t is a float batch of {c}-channel {size} x {size} images, shape (B, {c}, {size}, "
                             f"{size}) (one image: x[{'None, None' if c == 1 else 'None'}]), not {got}{pair}")
        weights = self.conv_in.weight.dtype  # (autocast casts each layer's inputs itself)
        if x_t.dtype != weights and not torch.is_autocast_enabled(x_t.device.type):  # met "mat1 and mat2 must have..."
            raise TypeError(f"x_t is {x_t.dtype} and the model's weights {weights}: give x_t.to({weights}) (for half "
                            "precision, keep the weights float32 and run under torch.autocast)")
        t = batch_timesteps(t, x_t.shape[0], self.config.timesteps, x_t.device)
        if self.class_emb is None:
            return t, None
        if y is None:
            return t, torch.full_like(t, self.config.null_label)
        if not torch.is_tensor(y):  # an int met the embedding's "must be Tensor, not int"
            raise TypeError(f"y is a (B,) tensor of labels, torch.full((B,), {y!r}), not {type(y).__name__}")
        # 11 met an IndexError "index out of range in self"; read on the CPU only (no GPU sync)
        check_label_tensor(y, x_t.shape[0], self.config.num_classes, values=y.device.type == "cpu")
        return t, y.long()  # uint8 labels met the embedding's "Expected tensor ... Long, Int"


def count_parameters(model: nn.Module) -> int:
    """Numbers in the model's parameters, trainable or not (the card's and About's size)."""
    return sum(p.numel() for p in model.parameters())


def batch_timesteps(t, b: int, T: int, device) -> torch.Tensor:
    """t as eps_theta takes it, a (B,) long tensor on `device`: from an int or a 0-dim tensor (one t for the whole
    batch) or a (B,) tensor of whole-number code indices in [0, T). A tensor's range is checked on the CPU only (on a
    GPU the check would make every step wait for it): the sinusoidal embedding takes any number, so the paper's
    T = 1000 or a float t would run unsaid."""
    if not torch.is_tensor(t) and not isinstance(t, bool):
        try:
            t = operator.index(t)
        except TypeError:  # refused below, in words
            pass
        else:
            if not 0 <= t < T:
                raise IndexError(f"t is a code index from 0 to {T - 1} (the paper's t - 1), not {t}")
            return torch.full((b,), t, dtype=torch.long, device=device)
    if not torch.is_tensor(t) or t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        got = f"a {t.dtype} tensor of shape {tuple(t.shape)}" if torch.is_tensor(t) else repr(t)  # not its values
        raise TypeError(f"t is a code index (the paper's t - 1), an int or a (B,) tensor of whole numbers, not {got}")
    t = t.expand(b) if t.dim() == 0 else t
    if t.shape != (b,):
        raise ValueError(f"t holds one code index per image, shape ({b},), not {tuple(t.shape)}")
    if t.device.type == "cpu" and t.numel():  # each of the batch's lowest and highest t read once
        lo, hi = int(t.min()), int(t.max())
        if not 0 <= lo <= hi < T:
            raise IndexError(f"t is a code index from 0 to {T - 1} (the paper's t - 1), not {lo if lo < 0 else hi}")
    return t.to(device=device, dtype=torch.long)
