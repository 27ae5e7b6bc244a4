"""Where a streamed table's rows come from: its *units*, read in chunks with pyarrow.

A Parquet file is a unit per row group; a folder of Parquet files is their row groups,
file after file (files sorted by name); a CSV file is one unit (read in blocks with
``pyarrow.csv.open_csv``). Every row has a *position*: its 0-based index in the whole
table, which decides its train/validation fate (:func:`gradstep.runs.train.validation_mask`).
Units are what processes share out (unit ``i`` to rank ``i % world_size``), so every row's
position is known without reading anything but the Parquet footers.

Errors are one-line :class:`~gradstep.errors.GradstepError`\\ s naming the file, and the row
(its position + 1) where a value is bad.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gradstep.errors import GradstepError
from gradstep.table import EXTENSIONS, listing

PARQUET_SUFFIXES = {".parquet", ".pq"}
BYTES_PER_CSV_VALUE = 24  # an estimate, to turn --chunk-rows into a CSV block size


@dataclass(frozen=True)
class Unit:
    """A piece of the table one process reads whole: a Parquet row group, or a CSV file."""

    index: int
    path: str
    row_group: int | None  # None: the whole CSV file
    start: int | None  # position of its first row (None: CSV, counted while reading)
    rows: int | None


@dataclass(frozen=True)
class Source:
    """A table to stream: its format, units, columns and the columns chosen."""

    path: str
    format: str
    units: list[Unit]
    names: list[str]
    kinds: dict[str, str]  # column -> arrow type, for messages
    numeric: set[str]
    features: list[str] = field(default_factory=list)
    target: str = ""
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def n_rows(self) -> int | None:
        if self.format == "csv":
            return None
        return sum(unit.rows for unit in self.units)

    @property
    def columns(self) -> list[str]:
        return [*self.features, self.target]


def open_source(path: str, fmt: str | None, features: list[str] | None, target: str | None
                ) -> Source:  # fmt: skip
    """Find the units and check the columns (names, numeric types), reading only metadata."""
    if path == "-":
        raise GradstepError(
            "--stream reads a file or a folder of Parquet files, not standard input; "
            "save the data to a file, or drop --stream"
        )
    if not os.path.exists(path):
        raise GradstepError(f"no such file or folder: {path}; check the path")
    if os.path.isdir(path):
        source = _parquet_folder(path)
    else:
        kind = fmt or EXTENSIONS.get(Path(path).suffix.lower())
        if kind is None:
            raise GradstepError(
                f"cannot tell the format of {path}; pass --format csv or --format parquet"
            )
        source = _csv(path) if kind == "csv" else _parquet([path], path)
    return _choose(source, features, target)


def _parquet_folder(path: str) -> Source:
    files = sorted(str(p) for p in Path(path).iterdir() if p.suffix.lower() in PARQUET_SUFFIXES)
    if not files:
        raise GradstepError(
            f"folder {path} holds no Parquet files (*.parquet, *.pq); --stream reads a folder "
            "of Parquet files, or one Parquet or CSV file"
        )
    return _parquet(files, path)


def _parquet(files: list[str], shown: str) -> Source:
    import pyarrow as pa
    import pyarrow.parquet as pq

    units, names, kinds, start = [], None, {}, 0
    for file in files:
        try:
            meta = pq.ParquetFile(file).metadata
            schema = pq.read_schema(file)
        except (pa.ArrowException, OSError) as exc:
            raise GradstepError(f"cannot read {file} as Parquet: {_first_line(exc)}") from None
        if names is None:
            names = schema.names
            kinds = {f.name: f.type for f in schema}
        elif schema.names != names:
            raise GradstepError(
                f"{file} has columns ({listing(schema.names)}) other than {files[0]} "
                f"({listing(names)}); every file of the folder needs the same columns"
            )
        for group in range(meta.num_row_groups):
            rows = meta.row_group(group).num_rows
            units.append(Unit(len(units), file, group, start, rows))
            start += rows
    if start == 0:
        raise GradstepError(f"{shown} has columns ({listing(names)}) but no rows")
    numeric = {name for name, kind in kinds.items() if _numeric(kind, pa)}
    return Source(shown, "parquet", units, list(names), {k: str(v) for k, v in kinds.items()},
                  numeric)  # fmt: skip


def _numeric(kind, pa) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind) or pa.types.is_decimal(kind)
    )  # fmt: skip


def _csv(path: str) -> Source:
    import pyarrow as pa

    try:
        reader = _open_csv(path, None, 1 << 20)
        schema = reader.schema
        reader.close()
    except (pa.ArrowException, OSError) as exc:
        raise GradstepError(f"cannot read {path} as CSV: {_first_line(exc)}") from None
    names = [name.strip() for name in schema.names]
    kinds = {name: str(f.type) for name, f in zip(names, schema, strict=True)}
    numeric = {name for name, f in zip(names, schema, strict=True)
               if _numeric(f.type, pa) or pa.types.is_null(f.type)}  # fmt: skip
    return Source(path, "csv", [Unit(0, path, None, None, None)], names, kinds, numeric)


def _open_csv(path: str, columns: list[str] | None, block_size: int):
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    convert = pa_csv.ConvertOptions()
    if columns is not None:
        convert = pa_csv.ConvertOptions(
            include_columns=columns, column_types={name: pa.float64() for name in columns}
        )
    return pa_csv.open_csv(path, read_options=pa_csv.ReadOptions(block_size=block_size),
                           convert_options=convert)  # fmt: skip


def _choose(source: Source, features: list[str] | None, target: str | None) -> Source:
    if target is None:
        raise GradstepError(
            f"missing --target: name the column to predict; columns in {source.path}: "
            f"{listing(source.names)}"
        )
    _require(source, target, "target")
    skipped = {}
    if features is None:
        features = []
        for name in source.names:
            if name == target:
                continue
            if name in source.numeric:
                features.append(name)
            else:
                skipped[name] = f"not numeric ({source.kinds[name]})"
        if not features:
            raise GradstepError(
                f"{source.path} has no numeric column to use as a feature besides the target "
                f"{target!r} (columns: {listing(source.names)})"
            )
    for name in features:
        _require(source, name, "feature")
        if name == target:
            raise GradstepError(
                f"column {name!r} is both the target and a feature; remove it from --features"
            )
    if len(set(features)) != len(features):
        raise GradstepError("a feature is listed twice in --features; list each once")
    for name in [*features, target]:
        if name not in source.numeric:
            role = "target" if name == target else "feature"
            raise GradstepError(
                f"{role} column {name!r} of {source.path} holds {source.kinds[name]} values; "
                "it must hold numbers"
            )
    return Source(source.path, source.format, source.units, source.names, source.kinds,
                  source.numeric, list(features), target, skipped)  # fmt: skip


def _require(source: Source, name: str, role: str) -> None:
    if name not in source.names:
        raise GradstepError(
            f"{role} column {name!r} is not in {source.path}; columns there: "
            f"{listing(source.names)}"
        )


# --------------------------------------------------------------------- reading


@dataclass
class Chunk:
    """Rows ``positions`` of the table: features ``x`` (m, d) and target ``y``, float64."""

    positions: np.ndarray
    x: np.ndarray
    y: np.ndarray


def read_unit(source: Source, unit: Unit, chunk_rows: int, drop_missing: bool,
              counter: list[int] | None = None) -> Iterator[Chunk]:  # fmt: skip
    """The unit's rows in chunks of at most ``chunk_rows`` (CSV: blocks of about that many).

    Rows with a missing or non-finite value are refused (the first one named) or, with
    ``drop_missing``, dropped; ``counter[0]`` counts the dropped rows.
    """
    import pyarrow as pa

    try:
        yield from _chunks(source, unit, chunk_rows, drop_missing, counter)
    except (pa.ArrowException, OSError) as exc:
        where = unit.path if unit.row_group is None else f"{unit.path} (row group {unit.row_group})"
        raise GradstepError(f"cannot read {where}: {_first_line(exc)}") from None


def _chunks(source, unit, chunk_rows, drop_missing, counter) -> Iterator[Chunk]:
    columns = source.columns
    if unit.row_group is None:
        block = max(1 << 16, min(1 << 30, chunk_rows * len(columns) * BYTES_PER_CSV_VALUE))
        batches = _open_csv(unit.path, columns, block)
        start = 0
    else:
        import pyarrow.parquet as pq

        batches = pq.ParquetFile(unit.path).iter_batches(
            batch_size=chunk_rows, row_groups=[unit.row_group], columns=columns
        )
        start = unit.start
    for batch in batches:
        m = batch.num_rows
        if m == 0:
            continue
        values = np.empty((m, len(columns)))
        for j, name in enumerate(columns):
            values[:, j] = _floats(batch.column(batch.schema.get_field_index(name)))
        positions = np.arange(start, start + m)
        start += m
        ok = np.isfinite(values).all(axis=1)
        if not ok.all():
            if not drop_missing:
                _refuse_missing(source, values, ok, positions)
            if counter is not None:
                counter[0] += int(m - ok.sum())
            values, positions = values[ok], positions[ok]
        yield Chunk(positions, np.ascontiguousarray(values[:, :-1]), values[:, -1].copy())


def _floats(column) -> np.ndarray:
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    # safe=False: integers beyond 2**53 are rounded to the nearest float, as in memory
    return column.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)


def _refuse_missing(source: Source, values, ok, positions) -> None:
    i = int(np.flatnonzero(~ok)[0])
    j = int(np.flatnonzero(~np.isfinite(values[i]))[0])
    what = "NaN or an empty cell" if np.isnan(values[i, j]) else "inf"
    raise GradstepError(
        f"column {source.columns[j]!r} has {what} at row {int(positions[i]) + 1} of "
        f"{source.path}; fill it in, or pass --drop-missing to drop such rows"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
