"""Raw extracts as Parquet, one file per source, period and reporting unit, with a fixed schema.

Why a fixed Arrow schema: an empty month must still land a file with every column, and a value of
the wrong type (a status sent as text) must stop here with the record's id, not turn into a
silently different count later.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from tthc.records import DOSSIER_FIELDS, FEEDBACK_FIELDS, HOTLINE, ONE_STOP
from tthc.storage import atomic_write_bytes

_STRING = "string"
DOSSIER_TYPES: dict[str, str] = {name: _STRING for name in DOSSIER_FIELDS} | {
    "KenhThucHien": "int64",
    "TrangThaiHoSo": "int64",
    "SoHoaHoSo": "bool",
    "SoHoaKetQua": "bool",
    "LePhi_present": "bool",
    "LePhi_SoTien": "int64",
    "LePhi_ThanhToanTrucTuyen": "bool",
}
FEEDBACK_TYPES: dict[str, str] = {name: _STRING for name in FEEDBACK_FIELDS} | {"satisfaction": "int64"}


class LandingError(ValueError):
    """A record whose field has the wrong type for its contract; names the system, record and field."""


def _schema(types: dict[str, str]) -> Any:
    import pyarrow as pa

    kinds = {"string": pa.string(), "int64": pa.int64(), "bool": pa.bool_()}
    return pa.schema([(name, kinds[kind]) for name, kind in types.items()])


def _check_types(records: list[dict[str, Any]], types: dict[str, str], system: str, id_field: str) -> None:
    expected = {"string": (str,), "int64": (int,), "bool": (bool,)}
    # The exact types that are fine, None included: one set lookup per value on the common path.
    fine = [(name, frozenset((type(None), *expected[kind]))) for name, kind in types.items()]
    for record in records:
        for name, ok_types in fine:
            value = record.get(name)
            if type(value) in ok_types:
                continue
            kind = types[name]
            ok = isinstance(value, expected[kind]) and not (kind == "int64" and isinstance(value, bool))
            if not ok:
                raise LandingError(
                    f"{system}: record {record.get(id_field)!r}: field {name} is a {type(value).__name__}, the "
                    f"contract says {kind}; correct it in the source system"  # never the value: it may be personal
                )


def to_parquet_bytes(records: list[dict[str, Any]], types: dict[str, str], system: str, id_field: str) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    _check_types(records, types, system, id_field)
    table = pa.Table.from_pylist(records, schema=_schema(types))
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


_CONTRACTS = {ONE_STOP: (DOSSIER_TYPES, "MaHoSo"), HOTLINE: (FEEDBACK_TYPES, "id")}


def record_batch(records: list[dict[str, Any]], system: str) -> Any:
    """Cleaned records of ``system`` as one pyarrow RecordBatch of its landing schema (types checked first)."""
    import pyarrow as pa

    types, id_field = _CONTRACTS[system]
    _check_types(records, types, system, id_field)
    return pa.RecordBatch.from_pylist(records, schema=_schema(types))


def empty_table(system: str) -> Any:
    """A table of ``system``'s landing schema with no rows: an empty month still lands every column."""
    return _schema(_CONTRACTS[system][0]).empty_table()


def land_table(path: Any, table: Any) -> Any:
    """Write a connector's table (``RecordSet.table``: landing schema, sorted by id) as the landed Parquet."""
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return atomic_write_bytes(path, buffer.getvalue())


def land_dossiers(path: Any, records: list[dict[str, Any]]) -> Any:
    return atomic_write_bytes(path, to_parquet_bytes(records, DOSSIER_TYPES, ONE_STOP, "MaHoSo"))


def land_feedback(path: Any, records: list[dict[str, Any]]) -> Any:
    return atomic_write_bytes(path, to_parquet_bytes(records, FEEDBACK_TYPES, HOTLINE, "id"))


def read_landed(path: Any) -> Any:
    """A landed extract as a pandas DataFrame with nullable dtypes (None stays missing, ints stay ints)."""
    import pyarrow.parquet as pq

    with path.open("rb") as handle:
        table = pq.read_table(handle)
    return table.to_pandas(types_mapper=_nullable)


def read_landed_batches(path: Any, rows: int) -> Iterator[Any]:
    """A landed extract as DataFrames of at most ``rows`` rows (``read_landed``'s dtypes), each indexed by its rows'
    positions in the file; an empty extract gives one empty frame (its columns still exist).

    Why: what reads a large unit's extract frame by frame holds one batch at a time, not the whole.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    with path.open("rb") as handle:
        parquet = pq.ParquetFile(handle)
        offset = 0
        for batch in parquet.iter_batches(batch_size=rows):
            frame = pa.Table.from_batches([batch]).to_pandas(types_mapper=_nullable)
            frame.index = pd.RangeIndex(offset, offset + len(frame))
            offset += len(frame)
            yield frame
        if offset == 0:
            yield parquet.schema_arrow.empty_table().to_pandas(types_mapper=_nullable)


def _nullable(arrow_type: Any) -> Any:
    import pandas as pd
    import pyarrow as pa

    mapping = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype(), pa.string(): pd.StringDtype()}
    return mapping.get(arrow_type)
