"""``gb.utils``: data loading (``gb.utils.data``)."""

from gradbox.utils import data

__all__ = ["data"]
