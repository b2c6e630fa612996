"""The one exception a checkpoint reader raises: the file could not be read (CLI exit 2)."""
from __future__ import annotations


class CheckpointError(Exception):
    """A checkpoint that is missing, truncated, corrupted, of an unknown format, or that would need
    code to run to be loaded. The message is one line meant for the user."""


class UnsafeCheckpointError(CheckpointError):
    """The file asks for an object whose construction could run code; it is refused, nothing runs."""
