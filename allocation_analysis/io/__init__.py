"""Input layer: read, validate and pseudonymise the tables of the data contract.

Geography loaders live in :mod:`allocation_analysis.io.geo`.
"""

from __future__ import annotations

from allocation_analysis.io.colmap import ColumnMap, load_column_map, normalise_header
from allocation_analysis.io.load import (
    Inputs,
    LoadResult,
    TableCounts,
    ValidationReport,
    load_inputs,
    load_table,
)
from allocation_analysis.io.readers import ReadInfo, read_table
from allocation_analysis.io.validate import validate_command

__all__ = [
    "ColumnMap",
    "Inputs",
    "LoadResult",
    "ReadInfo",
    "TableCounts",
    "ValidationReport",
    "load_column_map",
    "load_inputs",
    "load_table",
    "normalise_header",
    "read_table",
    "validate_command",
]
