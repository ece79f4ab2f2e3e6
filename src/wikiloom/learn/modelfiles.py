"""Model files: estimators saved with skops (never pickle), checksummed, loaded by allowlist."""

from __future__ import annotations

import hashlib
from typing import Any

import skops.io as sio

from wikiloom.errors import BadRequest

#: Modules whose types a model file may hold. skops rebuilds objects from their attributes
#: and refuses every type not trusted, so a file from outside cannot run code on load.
TRUSTED_MODULES = ("sklearn.", "numpy.", "scipy.", "lightgbm.", "wikiloom.learn.")


class ModelFileError(BadRequest):
    """A model file is damaged, altered or holds types that wikiloom does not load."""


def dump_model(estimator: Any) -> bytes:
    """Serialise an estimator to the bytes of a skops file."""
    data: bytes = sio.dumps(estimator)
    return data


def checksum(data: bytes) -> str:
    """The SHA-256 of a model file, in hex."""
    return hashlib.sha256(data).hexdigest()


def load_model(data: bytes, sha256: str | None = None) -> Any:
    """Load an estimator from skops bytes, checking its SHA-256 when given.

    Types outside `TRUSTED_MODULES` (builtins such as `eval` included) are refused, with
    their names in the error.
    """
    if sha256 is not None and checksum(data) != sha256:
        raise ModelFileError(f"the model file's SHA-256 is not {sha256}: it was altered")
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as error:  # skops raises many kinds on a damaged archive
        raise ModelFileError(f"not a skops model file: {error}") from error
    refused = [name for name in untrusted if not name.startswith(TRUSTED_MODULES)]
    if refused:
        raise ModelFileError(f"the model file holds types wikiloom does not load: {refused}")
    try:
        return sio.loads(data, trusted=untrusted)
    except Exception as error:
        raise ModelFileError(f"the model file does not load: {error}") from error
