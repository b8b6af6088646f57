"""The U-Net's shape options: 2x2 patches (pixel_unshuffle stem) and where attention goes."""
import json

import pytest
import torch
import torch.nn.functional as F

from ddpm import hub
from ddpm.config import ModelConfig
from ddpm.unet import SelfAttention, UNet

from conftest import tiny_config, tiny_model


def test_level_sizes_follow_the_patch_size():
    assert ModelConfig().level_sizes() == [28, 14, 7]
    assert ModelConfig(patch_size=2).level_sizes() == [14, 7, 4]
    assert "14/7/4 pixels (2x2 pixel patches" in ModelConfig(patch_size=2).describe()
    with pytest.raises(ValueError, match="patch_size must be a divisor of image_size 28"):
        ModelConfig(patch_size=3)


def test_patch_model_maps_images_to_noise_of_the_same_shape():
    model = tiny_model(patch_size=2, attention_resolutions=(7,))
    x, t, y = torch.randn(3, 1, 28, 28), torch.tensor([0, 5, 19]), torch.tensor([1, 2, 10])
    with torch.no_grad():
        eps_hat = model(x, t, y)
    assert eps_hat.shape == x.shape
    assert model.conv_in.in_channels == 4 and model.conv_out.out_channels == 4  # one channel per pixel of a patch
    # attention sits at the 7x7 level, which only exists once the 28x28 image is folded into 14x14 patches
    assert isinstance(model.down_attn[1], SelfAttention) and not isinstance(model.down_attn[0], SelfAttention)


@pytest.mark.parametrize("patch_size, attention_resolutions", [(1, (7,)), (1, (14, 7)), (2, (7,)), (2, (7, 4))])
def test_attention_sits_at_the_same_levels_on_both_halves(patch_size, attention_resolutions):
    """The decoder walks the encoder's sizes back up (14 -> 7 -> 4 comes back as 4 -> 7 -> 14, not 4 -> 8 -> 16)."""
    model = UNet(ModelConfig(patch_size=patch_size, attention_resolutions=attention_resolutions))
    sizes = model.config.level_sizes()
    down = [size for size, a in zip(sizes, model.down_attn) if isinstance(a, SelfAttention)]
    up = [size for size, a in zip(sizes[::-1], model.up_attn) if isinstance(a, SelfAttention)]
    assert sorted(down) == sorted(up) == sorted(attention_resolutions)


def test_patch_stem_is_lossless_and_keeps_each_pixel_in_place():
    """Output pixel (i, j) comes back where input pixel (i, j) went in: the unfold and fold invert each other."""
    x = torch.arange(2 * 28 * 28, dtype=torch.float32).reshape(2, 1, 28, 28)
    patches = F.pixel_unshuffle(x, 2)  # (2, 4, 14, 14)
    assert patches.shape == (2, 4, 14, 14) and torch.equal(patches[0, :, 0, 0], x[0, 0, :2, :2].flatten())
    assert torch.equal(F.pixel_shuffle(patches, 2), x)


def test_patch_model_round_trips_and_old_configs_still_load(tmp_path):
    model = tiny_model(patch_size=2)
    hub.save_pretrained(model, tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["patch_size"] == 2
    loaded = hub.load_pretrained(tmp_path)
    x, t = torch.randn(2, 1, 28, 28), torch.tensor([3, 7])
    with torch.no_grad():
        torch.testing.assert_close(model(x, t), loaded(x, t), rtol=0, atol=1e-5)
    old = tiny_config().to_dict()
    del old["patch_size"]  # a config.json written before the option existed
    assert ModelConfig.from_dict(old).patch_size == 1
    assert UNet(ModelConfig.from_dict(old)).conv_in.in_channels == 1
