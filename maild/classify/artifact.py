"""The model file: plain numeric arrays plus a JSON manifest, checked before use.

Why not pickle/joblib: loading those runs code chosen by whoever wrote the file. Here
the file is an ``.npz`` (a zip of ``.npy`` arrays) read with ``allow_pickle=False``, so
loading can only ever yield numbers and one JSON text; nothing in it is executed.

The manifest records the format, model version, labels, thresholds, the training-data
digest and a SHA-256 over the manifest and every array (dtype, shape and bytes). A
file whose content does not match its digest -- edited thresholds, swapped weights,
truncated download -- is refused with :class:`ModelError`. A deployment that wants to
pin one exact model also passes ``expected_digest`` (e.g. from the config).
"""

from __future__ import annotations

__all__ = ["FORMAT", "ModelError", "read_artifact", "write_artifact"]

import hashlib
import io
import json
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from maild.errors import MaildError

FORMAT = "maild-classifier/1"
_MANIFEST = "manifest"


class ModelError(MaildError):
    """A model file cannot be used: missing, corrupt, tampered with or incompatible."""


def _digest(manifest: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]]) -> str:
    """SHA-256 over the manifest (without its digest) and every array, in name order."""
    h = hashlib.sha256()
    body = {k: v for k, v in manifest.items() if k != "digest"}
    h.update(json.dumps(body, sort_keys=True, ensure_ascii=True).encode())
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        h.update(f"\0{name}\0{arr.dtype.str}\0{arr.shape}\0".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


#: Bytes of an array deflated to judge whether deflating it is worth it.
_SAMPLE = 1 << 20


def _compression(data: bytes) -> int:
    """Deflate only what it shrinks by a fifth or more. Why: every process that
    classifies loads the model, and inflating the float16 weights, which deflate
    shrinks by 6%, took 32 of the 86 ms a load took. The judgement reads the first
    MiB only: an array's bytes are alike throughout (the shipped model's arrays shrink
    by the same share to 0.003 either way), and deflating every array whole just to
    decide, before the zip deflates it again, took 0.5 s of a build."""
    sample = data[:_SAMPLE]
    if len(zlib.compress(sample, 6)) <= 0.8 * len(sample):
        return zipfile.ZIP_DEFLATED
    return zipfile.ZIP_STORED


def write_artifact(
    path: Path, manifest: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]]
) -> str:
    """Write the model file atomically (temp file + rename); return its digest."""
    if _MANIFEST in arrays:
        raise ValueError(f"array name {_MANIFEST!r} is reserved")
    full = {**manifest, "format": FORMAT, "arrays": sorted(arrays)}
    full["digest"] = _digest(full, arrays)
    text = json.dumps(full, sort_keys=True, ensure_ascii=True)
    members = {_MANIFEST: np.frombuffer(text.encode(), dtype=np.uint8), **arrays}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, arr in members.items():
            # A fixed timestamp makes the same model give the same bytes (np.savez would not).
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            data = io.BytesIO()
            np.lib.format.write_array(data, np.asanyarray(arr), allow_pickle=False)
            info.compress_type = _compression(data.getvalue())
            zf.writestr(info, data.getvalue())
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(buf.getvalue())
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"{path}: cannot write the model file: {exc.strerror or exc}") from exc
    return str(full["digest"])


def _read_npz(path: Path) -> dict[str, npt.NDArray[Any]]:
    """The arrays of the file; the file is opened here because ``np.load(path)`` leaves
    it open when the zip turns out to be broken.
    """
    try:
        with path.open("rb") as fh:
            loaded = np.load(fh, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ModelError(f"{path}: not a maild model file (a single array, not a zip)")
            with loaded as npz:
                return {name: npz[name] for name in npz.files}
    except FileNotFoundError as exc:
        raise ModelError(f"{path}: no such model file") from exc
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise ModelError(f"{path}: not a readable model file ({exc})") from exc


def read_artifact(
    path: Path, expected_digest: str | None = None
) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """Load and verify a model file; raise :class:`ModelError` saying what is wrong."""
    arrays = _read_npz(Path(path))
    raw = arrays.pop(_MANIFEST, None)
    if raw is None or raw.dtype != np.uint8:
        raise ModelError(f"{path}: no manifest; not a maild model file")
    try:
        manifest = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: manifest is not valid JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        raise ModelError(f"{path}: unsupported model format {fmt!r}; expected {FORMAT!r}")
    if sorted(arrays) != manifest.get("arrays"):
        raise ModelError(f"{path}: arrays {sorted(arrays)} differ from the manifest's list")
    digest = _digest(manifest, arrays)
    if digest != manifest.get("digest"):
        raise ModelError(
            f"{path}: content does not match its digest; the file was modified or damaged "
            "and is refused"
        )
    if expected_digest is not None and digest != expected_digest:
        raise ModelError(f"{path}: digest {digest[:16]}... is not the pinned model")
    return manifest, arrays
