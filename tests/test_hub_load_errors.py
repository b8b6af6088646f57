"""A model folder that does not load as it stands: a config.json that misfits its weights or builds no network, hand
edits of T, schedule or size, an LFS pointer, nan weights, files too big or missing; each refused in one line."""
import dataclasses
import json
import re

import pytest
import torch

from ddpm import hub
from ddpm.config import TrainConfig

from conftest import tiny_model


def test_a_config_that_misfits_its_weights_says_how_in_one_line(tmp_path):
    hub.save_pretrained(tiny_model(), tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(cfg | {"base_channels": 16}))
    with pytest.raises(hub.ModelLoadError) as e:
        hub.load_pretrained(tmp_path)
    assert "config.json describes another network than model.safetensors holds:" in str(e.value)
    assert "tensors of other shapes (first " in str(e.value) and "\n" not in str(e.value)  # torch's: 100+ lines
    del cfg["schedule"], cfg["timesteps"]  # no weight shows them: a cosine T = 20 model would sample as linear 1000
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(hub.ModelLoadError, match="config.json does not say the model's timesteps and schedule"):
        hub.load_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(cfg | {"timesteps": 20, "schedule": "linear",
                                                           "base_channels": "16"}))  # "16" is no number
    with pytest.raises(hub.ModelLoadError, match="base_channels must be a whole number, a positive multiple"):
        hub.load_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{'base_channels': 16}")  # Python's quotes: json's words name no file
    with pytest.raises(hub.ModelLoadError, match=r"config\.json is not JSON \(Expecting property name"):
        hub.load_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("[]")  # no settings at all: not the defaults' model
    with pytest.raises(hub.ModelLoadError, match="config.json holds no JSON object of settings"):
        hub.load_pretrained(tmp_path)


def test_a_config_json_saved_with_a_bom_or_as_utf16_loads(tmp_path):
    """Windows' Notepad saves UTF-8 with a byte-order mark (or UTF-16): the same settings, not "not JSON"."""
    hub.save_pretrained(tiny_model(), tmp_path)
    text = (tmp_path / "config.json").read_text()
    for raw in ("\ufeff" + text).encode(), text.encode("utf-16"):
        (tmp_path / "config.json").write_bytes(raw)
        assert hub.load_pretrained(tmp_path).config == tiny_model().config


def test_a_misfit_config_is_refused_from_shapes_before_its_network_takes_memory(tmp_path, monkeypatch):
    """base_channels 4096 asks for billions of weights (8 billion in this tiny shape, 32 in the bundled one):
    built before the check, the process was killed out of memory without a word. The shapes come from a network
    on the meta device, which holds no memory."""
    hub.save_pretrained(tiny_model(), tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(cfg | {"base_channels": 4096}))
    real = hub.UNet

    def unet(config):
        if torch.empty(0).device.type != "meta":
            raise AssertionError("a network of the misfit config was built in memory")
        return real(config)
    monkeypatch.setattr(hub, "UNet", unet)
    with pytest.raises(hub.ModelLoadError, match="describes another network than model.safetensors holds"):
        hub.load_pretrained(tmp_path)


def test_patch_weights_from_before_the_decoders_attention_at_7_px_are_named_as_such(tmp_path):
    """--patch-size 2 --attention-res 7 weights trained before 2026-12-02 lack the decoder's attention at 7 px: the
    message read as a hand edit of config.json; it says when such weights were made and what loads them."""
    from safetensors.torch import save_file
    from ddpm.safeio import load_tensors
    folder = hub.save_pretrained(tiny_model(patch_size=2, attention_resolutions=(7,)), tmp_path / "p2")
    tensors = load_tensors(folder / "model.safetensors")[0]
    save_file({k: v for k, v in tensors.items() if not k.startswith("up_attn.")}, folder / "model.safetensors")
    with pytest.raises(hub.ModelLoadError, match=r"6 missing \(first up_attn\.0\..*\): weights trained with "
                                                 r"--patch-size before 2026-12-02.*git checkout fc4d424"):
        hub.load_pretrained(folder)


def test_a_hand_edited_T_or_schedule_is_checked_against_the_run_that_trained_the_weights(tmp_path):
    """No weight's shape shows T or the schedule: train_config.json, train.py's record beside the weights, does."""
    model = tiny_model()
    hub.save_pretrained(model, tmp_path)
    (tmp_path / "train_config.json").write_text(json.dumps(dataclasses.asdict(TrainConfig(model=model.config))))
    cfg = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(cfg | {"timesteps": 1000, "schedule": "cosine"}))
    with pytest.raises(hub.ModelLoadError, match="config.json says timesteps 1000 and schedule 'cosine', but "
                                                 "train_config.json, the run that trained these weights, says "
                                                 "timesteps 20 and schedule 'linear': no weight shows T"):
        hub.load_pretrained(tmp_path)
    (tmp_path / "train_config.json").write_text("{")  # an unreadable record is no objection: the weights load
    assert hub.load_pretrained(tmp_path).config.timesteps == 1000


def test_a_hand_edited_image_size_is_checked_against_the_size_the_weights_were_trained_at(tmp_path):
    """No weight's shape shows the image size (the convolutions take any): image_size 27 on 28-pixel weights loaded
    and drew 27 x 27 pictures. save_pretrained records it in model.safetensors' meta; for weights saved before
    that, train_config.json says it; with neither, the weights load as before. The same weights saved again are the
    same bytes (a push compares them so): safetensors writes a header's keys in no fixed order, so one key it is."""
    from safetensors import safe_open

    from ddpm.safeio import atomic_write_bytes, encode_tensors

    model = tiny_model()
    hub.save_pretrained(model, tmp_path)
    with safe_open(str(tmp_path / "model.safetensors"), framework="pt") as f:
        assert list(f.metadata()) == ["json"] and json.loads(f.metadata()["json"])["image_size"] == 28
    cfg = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(cfg | {"image_size": 27}))
    said = r"config.json says image_size 27, but model.safetensors was trained on 28 x 28 images: .* image_size 28 back"
    with pytest.raises(hub.ModelLoadError, match=said):
        hub.load_pretrained(tmp_path)
    atomic_write_bytes(tmp_path / "model.safetensors", encode_tensors(model.state_dict()))  # no size in the header
    assert hub.load_pretrained(tmp_path).config.image_size == 27  # nothing says otherwise
    (tmp_path / "train_config.json").write_text(json.dumps(dataclasses.asdict(TrainConfig(model=model.config))))
    with pytest.raises(hub.ModelLoadError, match=said):
        hub.load_pretrained(tmp_path)
    hub.save_pretrained(tiny_model(image_size=32), tmp_path / "m32")  # another size, trained so, loads
    assert hub.load_pretrained(tmp_path / "m32").config.image_size == 32


@pytest.mark.parametrize("value", [None, 4, "124"])
def test_a_config_json_list_that_is_no_list_is_named_in_its_own_words(tmp_path, value):
    hub.save_pretrained(tiny_model(), tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    for key in ("channel_mult", "attention_resolutions"):
        (tmp_path / "config.json").write_text(json.dumps(cfg | {key: value}))
        with pytest.raises(hub.ModelLoadError, match=f"{key} must be a list of whole numbers, not "
                                                     + re.escape(json.dumps(value)) + "$"):
            hub.load_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(cfg | {"attention_resolutions": [7.5]}))
    with pytest.raises(hub.ModelLoadError, match=r"attention_resolutions must be a list of positive whole numbers "
                                                 r"\(feature-map sizes\), or empty, not \(7.5,\)"):
        hub.load_pretrained(tmp_path)


def test_a_git_lfs_pointer_in_place_of_the_weights_says_so(tmp_path):
    hub.save_pretrained(tiny_model(), tmp_path)  # what a clone without Git LFS holds instead of the tensors:
    (tmp_path / "model.safetensors").write_text("version https://git-lfs.github.com/spec/v1\n"
                                                "oid sha256:0123abcd\nsize 1987654\n")
    with pytest.raises(hub.ModelLoadError, match="model.safetensors is a Git LFS pointer.*git lfs pull"):
        hub.load_pretrained(tmp_path)


def test_weights_holding_nan_are_refused(tmp_path):
    """A model.safetensors with a nan tensor loaded unsaid: ddpm.sample wrote an all-black grid and exited 0, and
    ddpm.evaluate merged its blank images' figures into eval.json."""
    from safetensors.torch import load_file, save_file

    hub.save_pretrained(tiny_model(), tmp_path)
    state = load_file(tmp_path / "model.safetensors")
    name = sorted(state)[3]
    state[name] = torch.full_like(state[name], float("nan"))
    save_file(state, tmp_path / "model.safetensors")
    with pytest.raises(hub.ModelLoadError, match=rf"model.safetensors holds nan or inf in 1 tensor\(s\), "
                                                 rf"{re.escape(name)} first: such a network draws blank images"):
        hub.load_pretrained(tmp_path)
    state[name] = torch.zeros_like(state[name])  # one inf among finite numbers, in two tensors: refused too
    for k in sorted(state)[5:7]:
        state[k].view(-1)[0] = float("inf")
    save_file(state, tmp_path / "model.safetensors")
    with pytest.raises(hub.ModelLoadError, match=rf"nan or inf in 2 tensor\(s\), {re.escape(sorted(state)[5])} first"):
        hub.load_pretrained(tmp_path)


def test_bad_folders_give_clear_errors(tmp_path):
    with pytest.raises(hub.ModelLoadError, match="not a model folder"):
        hub.load_pretrained(tmp_path / "missing")
    with pytest.raises(hub.ModelLoadError, match="missing config.json"):
        hub.load_pretrained(tmp_path)
    with pytest.raises(hub.ModelLoadError, match="^no model named: give a model folder or a Hub repo id"):
        hub.load_pretrained("")  # not ". is missing config.json"
    hub.save_pretrained(tiny_model(), tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(hub.ModelLoadError, match="valid model"):
        hub.load_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()  # a run killed between writing config.json and the weights
    with pytest.raises(hub.ModelLoadError, match="missing model.safetensors"):
        hub.load_pretrained(tmp_path)


@pytest.mark.parametrize("key, value, message", [
    ("groups", 0, "groups must be a positive whole number"), ("channel_mult", [], "channel_mult must be 1 to 8 "),
    ("schedule", "no-such-schedule", "schedule must be 'linear' or 'cosine'"),
    ("timesteps", "20", "timesteps must be a whole number"),
    ("timesteps", 10**9, "timesteps must be a whole number from 2 to 10000"),  # no T that runs out of memory
    ("image_size", 10**9, "image_size must be a whole number from 1 to 512"),  # nor an x_T
    ("num_res_blocks", 10**6, "num_res_blocks must be a whole number from 1 to 16"),  # nor minutes of building
    ("channel_mult", [1] * 10**5, "channel_mult must be 1 to 8 positive whole numbers")])
def test_a_config_json_that_builds_no_such_network_is_a_clear_error(tmp_path, key, value, message):
    hub.save_pretrained(tiny_model(), tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text()) | {key: value}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(hub.ModelLoadError, match=message):
        hub.load_pretrained(tmp_path)


def test_a_settings_file_past_1_mib_is_refused_unread(tmp_path):
    """config.json (and train_config.json) were read whole: another file saved under the name, or an endless one,
    was a MemoryError or a hang. One of 1 MiB still loads; a byte more is refused in words naming it."""
    hub.save_pretrained(tiny_model(), tmp_path)
    text = (tmp_path / "config.json").read_text()
    (tmp_path / "config.json").write_text(text.ljust(2**20))  # valid JSON, padded with spaces
    hub.load_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(text.ljust(2**20 + 1))
    with pytest.raises(hub.ModelLoadError, match=r"does not hold a valid model: config.json is larger than 1 MiB"):
        hub.load_pretrained(tmp_path)
    (tmp_path / "train_config.json").write_text(json.dumps({"model": {}}).ljust(2**20 + 1))
    with pytest.raises(ValueError, match=r"^train_config.json is larger than 1 MiB, far more than any settings"):
        TrainConfig.read_saved(tmp_path)
