"""The one error a bad file raises."""

from __future__ import annotations


class CheckpointError(RuntimeError):
    """A file gradbox cannot load; the message names the file and what is wrong with it
    (truncated, bad header, checksum, wrong dtype or shape, missing tensor, a pickle)."""
