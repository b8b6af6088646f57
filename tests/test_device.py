"""ddpm.device: the CPU quota a container's cgroup sets, read as the app reads it at start-up."""
from __future__ import annotations

import pytest
import torch

from app_helpers import save_tiny
from ddpm import device
from ddpm.device import cpu_quota, fit_threads_to_quota


def _v2(tmp_path, text):
    (tmp_path / "cpu.max").write_text(text)
    return tmp_path


def _v1(tmp_path, quota, period="100000"):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text(f"{quota}\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text(f"{period}\n")
    return tmp_path


@pytest.mark.parametrize("text, cpus", [("200000 100000\n", 2), ("150000 100000\n", 2), ("50000 100000\n", 1),
                                        ("250000 100000\n", 3), ("max 100000\n", None), ("garbled\n", None),
                                        ("0 100000\n", None), ("100000 0\n", None)])
def test_cgroup_v2_cpu_max_is_read_as_whole_cpus(tmp_path, text, cpus):
    assert cpu_quota(_v2(tmp_path, text)) == cpus


@pytest.mark.parametrize("quota, cpus", [("200000", 2), ("-1", None), ("25000", 1)])
def test_cgroup_v1_quota_over_period_is_read_as_whole_cpus(tmp_path, quota, cpus):
    assert cpu_quota(_v1(tmp_path, quota)) == cpus


def test_a_nested_cgroup_v2_is_read_from_the_processs_own_cgroup_up(tmp_path):
    """Without a cgroup namespace of its own, the container's cap sits in its own folder, named by /proc/self/cgroup;
    the smallest cap on the way up to the root holds."""
    own = tmp_path / "self-cgroup"
    own.write_text("0::/system.slice/space.scope\n")
    (tmp_path / "system.slice" / "space.scope").mkdir(parents=True)
    (tmp_path / "system.slice" / "space.scope" / "cpu.max").write_text("max 100000\n")
    (tmp_path / "system.slice" / "cpu.max").write_text("300000 100000\n")
    assert cpu_quota(tmp_path, own) == 3
    (tmp_path / "cpu.max").write_text("200000 100000\n")
    assert cpu_quota(tmp_path, own) == 2
    assert cpu_quota(tmp_path, tmp_path / "no-such-file") == 2  # the root's


def test_cgroup_v1_under_its_joint_name_is_read_too(tmp_path):
    (tmp_path / "cpu,cpuacct").mkdir()
    (tmp_path / "cpu,cpuacct" / "cpu.cfs_quota_us").write_text("200000\n")
    (tmp_path / "cpu,cpuacct" / "cpu.cfs_period_us").write_text("100000\n")
    assert cpu_quota(tmp_path) == 2


def test_no_cgroup_files_is_no_quota(tmp_path):
    assert cpu_quota(tmp_path) is None


def test_a_cpu_max_that_is_not_text_is_no_quota_not_a_crash(tmp_path):
    """The app reads cpu.max at start-up: bytes that are no UTF-8 are read as no cap, as garbled text is."""
    (tmp_path / "cpu.max").write_bytes(b"\xff\xfe 100000\n")
    assert cpu_quota(tmp_path) is None


def test_a_device_torch_names_but_this_machine_lacks_is_refused_in_words():
    """--device xpu or meta (device types torch knows, the app runs none of) is refused, as an empty name is."""
    for name in ("xpu", "meta"):
        with pytest.raises(ValueError, match=f"device '{name}' is not available on this machine: use auto or cpu"):
            device.pick_device(name)
    with pytest.raises(ValueError, match="unknown device ''"):
        device.pick_device("")
    assert device.pick_device("cpu:0") == torch.device("cpu", 0)


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_torch_threads_are_lowered_to_the_quota_never_raised(tmp_path, threads):
    torch.set_num_threads(3)
    assert fit_threads_to_quota(_v2(tmp_path, "100000 100000")) == 1 == torch.get_num_threads()
    assert fit_threads_to_quota(tmp_path / "elsewhere") == 1  # no quota: left as it is
    (tmp_path / "cpu.max").write_text("800000 100000")
    assert fit_threads_to_quota(tmp_path) == 1  # a larger quota does not raise it


def test_the_apps_runtime_fits_torch_threads_to_the_quota_at_start(tmp_path, monkeypatch, threads):
    """A Space's container sees its host's cores (os.cpu_count()), not its 2-CPU quota."""
    from ddpm.demo.runtime import load_runtime
    torch.set_num_threads(2)
    monkeypatch.setattr(device, "cpu_quota", lambda cgroup=None: 1)
    load_runtime(str(save_tiny(tmp_path / "m", T=20)), with_classifier=False)
    assert torch.get_num_threads() == 1
