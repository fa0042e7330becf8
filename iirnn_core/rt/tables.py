"""Array tables: how compiled code reaches numpy arrays by address (numpy only, no numba).

An array table is an int64 array with one row per array: its address, then its shape (up to four
dimensions, padded with 1). The compiled audio code (:mod:`iirnn_core.rt.atomics`) rebuilds each array
from its row, so a table's address is all it needs.
"""

from __future__ import annotations

import numpy as np

TABLE_WIDTH = 5
"""Columns of an array table row: address, then up to four dimensions."""


def table_row(array: np.ndarray) -> list[int]:
    """The table row of a C-contiguous float64/int64/float32 numpy array: address and shape (padded with 1)."""
    if (not array.flags.c_contiguous or array.dtype not in (np.float64, np.int64, np.float32)
            or array.ndim > TABLE_WIDTH - 1):
        raise ValueError("table arrays must be C-contiguous float64, int64 or float32 with at most 4 dimensions")
    return [array.ctypes.data, *array.shape, *([1] * (TABLE_WIDTH - 1 - array.ndim))]
