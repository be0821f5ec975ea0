"""Saving and loading risk models: skops format, never pickle, and a SHA-256 digest checked first.

A model file is only ever read back through :func:`load`, which

1. compares the file's SHA-256 digest with the one recorded when it was saved (constant-time), and
   refuses the file (:class:`TamperedModel`) before any deserialisation if they differ;
2. asks skops which types in the file are not trusted by default, and accepts only scikit-learn and
   NumPy classes (resolved and checked to be classes defined where the file says they are) plus a
   short explicit list of harmless builtins; anything else is refused (:class:`UntrustedModel`);
3. loads with ``skops.io.loads(data, trusted=<that explicit list>)``.

Writing is atomic: a temporary file in the same directory, flushed and fsynced, then ``os.replace``.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import os
import tempfile
from pathlib import Path
from typing import Any

import skops.io as sio

#: Module roots whose classes a model file may contain beyond skops' own default-trusted types.
TRUSTED_ROOTS = ("sklearn", "numpy")

#: Builtin types skops may report as untrusted although they carry no behaviour of their own.
TRUSTED_BUILTINS = frozenset({"builtins.frozenset", "builtins.slice", "builtins.bytes", "builtins.bytearray"})


class TamperedModel(Exception):
    """The model file's digest is not the one recorded when it was saved."""


class UntrustedModel(Exception):
    """The model file names types outside the allow-list; it was not deserialised."""

    def __init__(self, types: list[str]) -> None:
        self.types = sorted(types)
        super().__init__("model file contains untrusted types, refusing to load: " + ", ".join(self.types))


def dump(model: Any) -> bytes:
    """Serialise ``model`` with skops (never pickle) and return the bytes."""
    return sio.dumps(model)


def digest(data: bytes) -> str:
    """The SHA-256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def save(model: Any, path: str | os.PathLike[str]) -> str:
    """Write ``model`` to ``path`` atomically (temporary file, then ``os.replace``); return its digest.

    The digest is of the bytes written, so it is the one :func:`load` must be given.
    """
    data = dump(model)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return digest(data)


def _is_trusted_type(name: str) -> bool:
    """True if ``name`` is an allowed builtin, or a class really defined in a scikit-learn/NumPy module."""
    if name in TRUSTED_BUILTINS:
        return True
    module_name, _, attr = name.rpartition(".")
    if not module_name or module_name.split(".", 1)[0] not in TRUSTED_ROOTS:
        return False
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return False
    obj = getattr(module, attr, None)
    # Only classes, and only where they are defined: "sklearn.utils.os.system" and the like are refused.
    return isinstance(obj, type) and obj.__module__ == module_name and obj.__name__ == attr


def trusted_types(data: bytes) -> list[str]:
    """The explicit ``trusted`` list for ``skops.io.loads``; raises :class:`UntrustedModel` if any type is refused."""
    found = sio.get_untrusted_types(data=data)
    refused = [name for name in found if not _is_trusted_type(name)]
    if refused:
        raise UntrustedModel(refused)
    return sorted(found)


def load(source: bytes | str | os.PathLike[str], expected_sha256: str) -> Any:
    """Load a model saved by :func:`save` (a path) or :func:`dump` (bytes), after checking its digest.

    The digest is compared before anything is deserialised; a mismatch raises :class:`TamperedModel`.
    Types outside the allow-list raise :class:`UntrustedModel`.
    """
    data = bytes(source) if isinstance(source, bytes | bytearray) else Path(source).read_bytes()
    actual = digest(data)
    if not hmac.compare_digest(actual.encode("ascii"), expected_sha256.strip().lower().encode("ascii", "replace")):
        where = "the given bytes" if isinstance(source, bytes | bytearray) else str(source)
        raise TamperedModel(
            f"model digest mismatch for {where}: expected sha256 {expected_sha256}, found {actual}; "
            "the file was changed after it was saved and will not be loaded"
        )
    return sio.loads(data, trusted=trusted_types(data))
