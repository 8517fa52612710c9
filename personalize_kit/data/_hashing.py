"""A 64-bit hash of each row of an Arrow table, for finding exact duplicate rows in streamed data.

String columns are dictionary-encoded first (or come encoded), so that each distinct value is hashed once
per chunk; the hashes depend on the values only, so they agree across chunks and encodings. Equal rows
always hash alike; a collision is possible, so callers confirm suspected duplicates by comparing the rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_NULL = np.uint64(0x9E3779B97F4A7C15)
_MIX = np.uint64(0xBF58476D1CE4E5B9)


def _column_hash(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    textual = (
        pa.types.is_string(values.type) or pa.types.is_large_string(values.type) or pa.types.is_binary(values.type)
    )
    if textual or pa.types.is_dictionary(values.type):
        encoded = values if pa.types.is_dictionary(values.type) else pc.dictionary_encode(values)
        distinct = pd.util.hash_array(encoded.dictionary.to_numpy(zero_copy_only=False), categorize=False)
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        if encoded.null_count:
            codes = np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False))
            return np.where(codes >= 0, distinct[np.maximum(codes, 0)], _NULL)
        return distinct[codes]
    if values.null_count:
        filled = pc.fill_null(values, pa.scalar(0, values.type)).to_numpy(zero_copy_only=False)
        return np.where(np.asarray(values.is_null()), _NULL, pd.util.hash_array(filled))
    return pd.util.hash_array(values.to_numpy(zero_copy_only=False))


def hash_rows(table: pa.Table) -> np.ndarray:
    """One uint64 per row, combining every column's value hash (order of columns matters)."""
    out = np.zeros(table.num_rows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in table.columns:
            out = (out * _MIX) ^ _column_hash(column)
    return out
