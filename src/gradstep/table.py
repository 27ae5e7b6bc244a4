"""Reading a table (CSV or Parquet) and choosing its columns, with exact error messages.

Everything a user can get wrong about a file is caught here, before any training,
and reported as one :class:`~gradstep.errors.GradstepError` line that says what is
wrong, where (file, column, row and, for CSV, the line of the file) and how to fix
it. Rows are numbered from 1, not counting the header.

CSV is read twice over at most. First ``pyarrow.csv`` tries the common clean case
(every column integer or float, every value finite) at its speed. Anything else
is read with Python's :mod:`csv` module, which keeps every cell as the text in
the file, so a message can quote the first bad cell and its line, duplicate
header names stay visible, and ``NA`` or an empty cell means "missing" the same
way in every column; it also reads id columns as written (``precise``). Parquet
is read with pyarrow.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from gradstep.errors import GradstepError

FORMATS = ("csv", "parquet")
EXTENSIONS = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}
# Cells that mean "no value" (compared case-insensitively, after stripping spaces).
MISSING_TOKENS = frozenset({"", "na", "n/a", "null", "none"})
STDIN = "-"
CSV_BLOCK = 1 << 18  # bytes of CSV text per block (pyarrow reads a few blocks ahead)


def _spellings(token: str) -> set[str]:
    """Every upper/lower-case spelling of ``token`` ("na": "na", "nA", "Na", "NA")."""
    spellings = {""}
    for char in token:
        spellings = {s + c for s in spellings for c in {char.lower(), char.upper()}}
    return spellings


# pyarrow compares null values exactly: every spelling of the missing tokens, unpadded (a
# padded one fails to convert to a number, and the precise reader then reads the file).
CSV_NULLS = sorted(set().union(*map(_spellings, MISSING_TOKENS)))


@dataclass(frozen=True)
class Column:
    """One column as float64 ``values`` (NaN where ``missing``), or the reason it is not numeric.

    ``first_text`` is ``(row index, cell)`` of the first cell that is not a number;
    ``kind`` names a Parquet type that is not numeric (e.g. ``timestamp[us]``);
    ``cells`` keeps the cells as read when they were text (for id columns).
    """

    values: np.ndarray
    missing: np.ndarray
    first_text: tuple[int, str] | None = None
    kind: str | None = None
    cells: tuple | list | None = None

    @property
    def is_numeric(self) -> bool:
        return self.first_text is None and self.kind is None


@dataclass(frozen=True)
class Table:
    """A table read from a file: named columns of equal length ``n_rows``."""

    source: str
    format: str
    columns: dict[str, Column]
    n_rows: int
    lines: np.ndarray | None = None  # CSV: the line of the file each row starts on
    header: tuple[str, ...] | None = None  # every column of the file, read or not
    # The float64 block (rows x numeric columns read) the numeric columns are views of.
    block: np.ndarray | None = field(default=None, repr=False, compare=False)
    # CSV read fast, with missing values: row -> its line in the file, found on demand.
    locate: Callable[[int], int | None] | None = field(default=None, repr=False, compare=False)

    @property
    def names(self) -> list[str]:
        return list(self.header) if self.header is not None else list(self.columns)

    def where(self, row: int) -> str:
        """``"row 5 (line 6)"``: row ``row`` (0-based index) as a user finds it in the file."""
        text = f"row {row + 1}"
        line = int(self.lines[row]) if self.lines is not None else None
        if line is None and self.locate is not None:
            line = self.locate(row)
        if line is not None:
            text += f" (line {line})"
        return text


@dataclass(frozen=True)
class Selection:
    """The columns chosen from a table, as arrays, with the rows that were kept.

    ``skipped`` maps columns left out of the default features to the reason;
    ``rows`` are the indices of the table rows kept; ``dropped`` counts the rows
    dropped for missing values (``drop_missing``).
    """

    x: np.ndarray
    y: np.ndarray | None
    features: list[str]
    target: str | None
    rows: np.ndarray
    skipped: dict[str, str]
    dropped: int


# --------------------------------------------------------------------- reading


def table_format(path: str, fmt: str | None = None) -> str:
    """``"csv"`` or ``"parquet"``: ``fmt`` if given, else from the file's extension."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise GradstepError(f"format {fmt!r} is not known; use one of {', '.join(FORMATS)}")
        if path == STDIN and fmt != "csv":
            raise GradstepError(
                f"standard input ('-') is read as CSV, so --format {fmt} cannot be used with it"
            )
        return fmt
    if path == STDIN:
        return "csv"
    suffix = Path(path).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    shown = f"extension {suffix!r}" if suffix else "no extension"
    raise GradstepError(
        f"cannot tell the format of {path} ({shown}); gradstep reads CSV and Parquet: "
        "pass --format csv or --format parquet (save spreadsheets as CSV first)"
    )


def read_table(
    path: str,
    fmt: str | None = None,
    stdin: BinaryIO | None = None,
    precise: bool = False,
    columns: list[str] | None = None,
    text_columns: tuple[str, ...] | list[str] = (),
) -> Table:
    """Read ``path`` (``"-"``: CSV from ``stdin``) into a :class:`Table`.

    Only ``columns`` (None: every column) and ``text_columns`` (cells kept as written,
    e.g. an id column) are read; the others stay out of memory, though ``names`` still
    lists every column of the file. ``precise`` reads CSV with the :mod:`csv` module
    even when it is clean, so every column keeps its cells as written (an id column
    ``007`` stays ``007``).
    Raises :class:`GradstepError` for a missing or unreadable file, an unknown
    format, an empty file, duplicate column names, a header without rows, or rows
    of the wrong length.
    """
    if path != STDIN:
        _check_file(path)
    kind = table_format(path, fmt)
    wanted = Wanted(columns, tuple(text_columns))
    if kind == "parquet":
        return _read_parquet(path, wanted)
    if path == STDIN:
        raw = (stdin if stdin is not None else _stdin_bytes()).read()
        clean = None
        if not precise and raw.strip():
            clean = _read_clean_csv(lambda: io.BytesIO(raw), len(raw), "standard input", wanted)
        return clean or _read_csv(raw, "standard input", wanted)
    size = os.path.getsize(path)
    if not precise and size > 0:
        opener = functools.partial(open, path, "rb")
        clean = _read_clean_csv(opener, size, path, wanted, _locator(path))
        if clean is not None:
            return clean
    return _read_csv(_read_bytes(path), path, wanted)


@dataclass(frozen=True)
class Wanted:
    """The columns to read: ``numbers`` (None: all) and ``texts`` (kept as written)."""

    numbers: list[str] | None
    texts: tuple[str, ...] = ()

    def __contains__(self, name: str) -> bool:
        return self.numbers is None or name in self.numbers or name in self.texts


def _stdin_bytes() -> BinaryIO:
    import sys

    return sys.stdin.buffer


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise GradstepError(f"no such file: {path}; check the path (or pass '-' to read stdin)")
    if os.path.isdir(path):
        raise GradstepError(f"{path} is a folder, not a table; pass a CSV or Parquet file")


def _read_bytes(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise GradstepError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read_csv(raw: bytes, source: str, wanted: Wanted) -> Table:
    """The precise reader: every cell through the :mod:`csv` module, every problem worded."""
    if not raw.strip():
        raise GradstepError(f"{source} is empty; it needs a header line and data rows")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GradstepError(
            f"cannot read {source}: byte {exc.start} is not UTF-8 text; "
            "save the file as UTF-8 CSV (or pass a Parquet file)"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header, rows, lines = _csv_rows(reader, source)
    except csv.Error as exc:
        raise GradstepError(
            f"cannot read {source} as CSV (line {reader.line_num}): {exc}"
        ) from None
    names = _header_names(header, source)
    if not rows:
        raise GradstepError(
            f"{source} has a header ({listing(names)}) but no data rows; add rows below it"
        )
    picked = [j for j, name in enumerate(names) if name in wanted]
    columns = {names[j]: _parse_cells([row[j] for row in rows]) for j in picked}
    return Table(source, "csv", columns, len(rows), np.asarray(lines), header=tuple(names))


def _read_clean_csv(open_stream, size: int, source: str, wanted: Wanted, locate=None):
    """The table, read by ``pyarrow.csv`` block by block straight into float64, or None.

    None (the :mod:`csv` reader then reads the file and words any error) unless the
    header is plain and every column read converts to float64 (empty/NA cells missing),
    or to text for ``wanted.texts``. A missing, NaN or infinite value is reported with
    its line, found by ``locate(row)``; without one (standard input) such a table is None.
    """
    import pyarrow as pa

    try:
        header = _first_row(open_stream)
    except (csv.Error, UnicodeDecodeError, StopIteration, OSError):
        return None
    names = [name.strip() for name in header]
    texts = set(wanted.texts)
    if not all(names) or len(set(names)) != len(names) or texts & set(wanted.numbers or ()):
        return None
    picked = [header[j] for j, name in enumerate(names) if name in wanted]
    if not picked:
        return None
    types = {raw: pa.string() if raw.strip() in texts else pa.float64() for raw in picked}
    try:
        with open_stream() as stream:
            filled = _read_blocks(stream, picked, types, size)
    except (pa.ArrowException, OSError):
        return None
    if filled is None or filled.n_rows == 0:
        return None
    finite = bool(np.isfinite(filled.block).all())
    if not finite and locate is None:
        return None
    columns = filled.columns([raw.strip() for raw in picked])
    return Table(source, "csv", columns, filled.n_rows, header=tuple(names),
                 block=filled.block, locate=None if finite else locate)  # fmt: skip


def _read_blocks(stream, picked: list[str], types: dict, size: int) -> _Filler | None:
    """The columns ``picked`` (header names as written) of a CSV stream, as ``types``."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    # No background threads, and the reader closed before returning: a streaming reader's
    # read-ahead threads still alive at interpreter exit abort the process (SIGABRT,
    # "terminate called without an active exception"), seen on error paths.
    with pa_csv.open_csv(
        stream,
        read_options=pa_csv.ReadOptions(block_size=CSV_BLOCK, use_threads=False),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=types, include_columns=picked, null_values=CSV_NULLS,
            strings_can_be_null=False,
        ),
    ) as reader:  # fmt: skip
        if reader.schema.names != picked:
            return None
        filled = _fill(reader, [types[raw] == pa.float64() for raw in picked], size)
    pa.default_memory_pool().release_unused()  # the blocks' buffers, kept by the pool
    return filled


def _first_row(open_stream) -> list[str]:
    """The first row of the file that is not blank, as the :mod:`csv` module reads it."""
    with io.TextIOWrapper(open_stream(), encoding="utf-8-sig", newline="") as text:
        return next(row for row in csv.reader(text) if any(cell.strip() for cell in row))


def _locator(path: str):
    """``locate(row)``: the line of ``path`` that data row ``row`` (0-based) starts on,
    counted as :func:`_csv_rows` counts it (read again: only an error message needs it)."""

    def locate(row: int) -> int | None:
        with open(path, encoding="utf-8-sig", newline="") as text:
            reader = csv.reader(text)
            seen_header, index, start = False, 0, 1
            for cells in reader:
                if cells and (seen_header or any(cell.strip() for cell in cells)):
                    if seen_header and index == row:
                        return start
                    index += seen_header
                    seen_header = True
                start = reader.line_num + 1
        return None

    return locate


class _Filler:
    """Record batches written straight into one float64 block (rows x numeric columns)
    that grows as needed, with the missing cells' rows and the text columns' chunks."""

    def __init__(self, numeric: list[bool], rows_guess: int):
        self.numeric = numeric
        self.block = np.empty((max(rows_guess, 1), sum(numeric)))
        self.gaps: list[list[np.ndarray]] = [[] for _ in numeric]
        self.chunks: list[list] = [[] for _ in numeric]
        self.n_rows = 0

    def add(self, batch) -> None:
        start, m = self.n_rows, batch.num_rows
        if start + m > self.block.shape[0]:
            # realloc: the rows written stay where they are, none is copied twice over
            self.block.resize((max(start + m, int(self.block.shape[0] * 1.25)),
                               self.block.shape[1]), refcheck=False)  # fmt: skip
        c = 0
        for j, array in enumerate(batch.columns):
            if not self.numeric[j]:
                self.chunks[j].append(array)
                continue
            if array.null_count:
                nulls = array.is_null().to_numpy(zero_copy_only=False)
                self.gaps[j].append(start + np.flatnonzero(nulls))
            self.block[start : start + m, c] = array.to_numpy(zero_copy_only=False)
            c += 1
        self.n_rows += m

    def finish(self) -> None:
        self.block.resize((self.n_rows, self.block.shape[1]), refcheck=False)

    def columns(self, names: list[str]) -> dict[str, Column]:
        """The columns, in ``names`` order: numbers as views of the block, texts as
        pyarrow arrays of the cells as written."""
        import pyarrow as pa

        n, columns, c = self.n_rows, {}, 0
        for j, name in enumerate(names):
            missing = np.zeros(n, dtype=bool)
            for rows in self.gaps[j]:
                missing[rows] = True
            if self.numeric[j]:
                columns[name] = Column(self.block[:, c], missing)
                c += 1
            else:
                cells = pa.chunked_array(self.chunks[j], pa.string())
                columns[name] = Column(np.full(n, np.nan), missing, kind="text", cells=cells)
        return columns


def _fill(reader, numeric: list[bool], size: int) -> _Filler:
    """Every batch of ``reader`` in a :class:`_Filler` sized from the first batch."""
    filler = None
    for batch in reader:
        if filler is None:  # rows per byte of the first block, for the whole file
            guess = batch.num_rows * max(1.0, size / CSV_BLOCK) * 1.05 + 64
            filler = _Filler(numeric, int(guess))
        filler.add(batch)
    if filler is None:
        filler = _Filler(numeric, 0)
    filler.finish()
    return filler


def _csv_rows(reader, source: str) -> tuple[list[str], list[list[str]], list[int]]:
    """The header, the data rows and the line each row starts on; blank lines skipped."""
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    for row in reader:
        blank = not row or (header is None and not any(cell.strip() for cell in row))
        if blank:
            pass
        elif header is None:
            header = row
        elif len(row) != len(header):
            raise GradstepError(
                f"row {len(rows) + 1} (line {start}) of {source} has {len(row)} field(s) "
                f"but the header has {len(header)}; check its separators and quotes"
            )
        else:
            rows.append(row)
            lines.append(start)
        start = reader.line_num + 1
    if header is None:
        raise GradstepError(f"{source} is empty; it needs a header line and data rows")
    return header, rows, lines


def _header_names(header: list[str], source: str) -> list[str]:
    names = [name.strip() for name in header]
    for position, name in enumerate(names, start=1):
        if not name:
            raise GradstepError(
                f"column {position} of {source} has no name in the header; name it "
                "(an unnamed first column is often a saved row index: drop it)"
            )
    _check_duplicates(names, source)
    return names


def _check_duplicates(names: list[str], source: str) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in seen:
            raise GradstepError(
                f"column name {name!r} appears twice in {source} (columns {seen[name]} and "
                f"{position}); rename one so every column has its own name"
            )
        seen[name] = position


def _parse_cells(cells) -> Column:
    """Numbers from text cells; missing tokens become NaN; stop at the first text cell."""
    n = len(cells)
    try:
        values = np.asarray(cells, dtype=np.float64)
        return Column(values, np.zeros(n, dtype=bool), cells=cells)
    except (TypeError, ValueError):
        pass
    values = np.full(n, np.nan)
    missing = np.zeros(n, dtype=bool)
    for i, cell in enumerate(cells):
        text = "" if cell is None else str(cell).strip()
        if text.lower() in MISSING_TOKENS:
            missing[i] = True
            continue
        try:
            values[i] = float(text)
        except ValueError:
            return Column(np.full(n, np.nan), missing, first_text=(i, str(cell)), cells=cells)
    return Column(values, missing, cells=cells)


def _read_parquet(path: str, wanted: Wanted) -> Table:
    """Only the columns wanted; plain numbers row group by row group straight into one
    float64 block, other types (text, dictionaries, dates) column by column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if os.path.getsize(path) == 0:
        raise GradstepError(f"{path} is empty; it needs columns and rows")
    try:
        names = pq.read_schema(path).names
        _check_duplicates(names, path)
        data = pq.ParquetFile(path)  # closed below, before any error leaves
        n_rows = data.metadata.num_rows
        if n_rows == 0:
            raise GradstepError(f"{path} has columns ({listing(names)}) but no rows")
        schema = data.schema_arrow
        picked = [name for name in names if name in wanted]
        numbers = [name for name in picked if _plain_number(schema.field(name).type, pa)]
        filler = _Filler([True] * len(numbers), n_rows)
        for group in range(data.num_row_groups if numbers else 0):
            part = data.read_row_group(group, columns=numbers)
            for batch in part.to_batches():  # one conversion at a time
                filler.add(_as_float64(batch, pa))
            del part
        filler.finish()
        numeric = filler.columns(numbers)
        others = {name: _arrow_column(data.read(columns=[name]).column(0), pa)
                  for name in picked if name not in numeric}  # fmt: skip
        data.close()
    except (pa.ArrowException, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GradstepError(
            f"cannot read {path} as Parquet: {reason} (for CSV, pass --format csv)"
        ) from None
    pa.default_memory_pool().release_unused()  # the row groups' buffers, kept by the pool
    columns = {name: numeric[name] if name in numeric else others[name] for name in picked}
    return Table(path, "parquet", columns, n_rows, header=tuple(names), block=filler.block)


def _plain_number(kind, pa) -> bool:
    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind)
    )


def _as_float64(batch, pa):
    # safe=False: integers beyond 2**53 are rounded to the nearest float, not refused.
    arrays = [array.cast(pa.float64(), safe=False) for array in batch.columns]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _arrow_column(chunked, pa) -> Column:
    kind = chunked.type
    missing = chunked.is_null().to_numpy(zero_copy_only=False)
    numeric = (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind)
    )
    if pa.types.is_dictionary(kind):
        return _arrow_column(chunked.cast(kind.value_type), pa)
    if numeric:
        # safe=False: integers beyond 2**53 are rounded to the nearest float, not refused.
        values = chunked.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        values = np.where(missing, np.nan, values).astype(np.float64)
        return Column(values, missing)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _parse_cells(chunked.to_pylist())
    cells = [None if v is None else str(v) for v in chunked.to_pylist()]
    present = np.flatnonzero(~missing)
    first = (int(present[0]), cells[int(present[0])]) if present.size else None
    return Column(np.full(len(missing), np.nan), missing, first, str(kind), cells)


# ------------------------------------------------------------------- selecting


def select(
    table: Table,
    features: list[str] | None,
    target: str | None = None,
    drop_missing: bool = False,
) -> Selection:
    """Take ``features`` (None: every numeric column but the target) and ``target``.

    Checks that the columns exist, are numeric and hold finite values; with
    ``drop_missing`` rows with a missing, NaN or infinite value in a used column
    are dropped (and counted) instead.
    """
    if target is not None:
        require_column(table, target, "target")
    skipped: dict[str, str] = {}
    if features is None:
        features, skipped = default_features(table, target)
    else:
        check_feature_names(table, features, target)
    used = [*features, *([target] if target is not None else [])]
    for name in used:
        require_numeric(table, name, "target" if name == target else "feature")
    rows = finite_rows(table, used, drop_missing)
    dropped = table.n_rows - rows.size
    if rows.size == 0:
        raise GradstepError(
            f"no rows of {table.source} are left after dropping the {dropped} with missing, "
            "NaN or infinite values; fill the gaps instead"
        )
    x, y = gather(table, features, target, rows)
    return Selection(x, y, list(features), target, rows, skipped, dropped)


def gather(
    table: Table, features: list[str], target: str | None, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(x, y)`` of ``rows``: with every row kept, views of the table's float64 block (no
    copy when the features lie evenly spaced in it, as in file order); else the kept rows
    written straight into new arrays, one column at a time."""
    columns = [table.columns[name].values for name in features]
    if rows.size == table.n_rows:  # rows is every row, in order
        x = _block_view(table.block, columns)
        y = table.columns[target].values if target is not None else None
        return (np.column_stack(columns) if x is None else x), y
    x = np.empty((rows.size, len(features)))
    for j, values in enumerate(columns):
        x[:, j] = values[rows]
    return x, (table.columns[target].values[rows] if target is not None else None)


def _block_view(block: np.ndarray | None, columns: list[np.ndarray]) -> np.ndarray | None:
    """``columns`` side by side as one view of ``block``, if they are evenly spaced in it."""
    if block is None or not columns or block.shape[0] != columns[0].shape[0]:
        return None
    start = block.__array_interface__["data"][0]
    at = []
    for values in columns:
        offset = values.__array_interface__["data"][0] - start
        if values.base is not block or values.strides != block.strides[:1] or offset % 8:
            return None
        at.append(offset // 8)
    step = at[1] - at[0] if len(at) > 1 else 1
    if step <= 0 or any(b - a != step for a, b in zip(at, at[1:], strict=False)):
        return None
    return block[:, at[0] : at[-1] + 1 : step]


def default_features(table: Table, target: str | None) -> tuple[list[str], dict[str, str]]:
    """Every numeric column but the target, and the reason each other column was skipped."""
    features, skipped = [], {}
    for name, column in table.columns.items():
        if name == target:
            continue
        if not column.is_numeric:
            skipped[name] = "text" if column.kind is None else f"not numeric ({column.kind})"
        elif column.missing.all():
            skipped[name] = "empty"
        else:
            features.append(name)
    if not features:
        raise GradstepError(
            f"{table.source} has no numeric column to use as a feature besides the target "
            f"{target!r} (columns: {listing(table.names)}); add one, or one-hot encode text"
        )
    return features, skipped


def check_feature_names(table: Table, features: list[str], target: str | None) -> None:
    if not features:
        raise GradstepError("--features is empty; name at least one column, e.g. --features a,b")
    seen = set()
    for name in features:
        if name in seen:
            raise GradstepError(f"feature {name!r} is listed twice in --features; list it once")
        seen.add(name)
        if name == target:
            raise GradstepError(
                f"column {name!r} is both the target and a feature; "
                "remove it from --features (a model cannot use its answer as input)"
            )
        require_column(table, name, "feature")


def require_columns(table: Table, names: list[str], needed_by: str) -> None:
    """Raise if any of ``names`` is missing, listing every missing one."""
    missing = [name for name in names if name not in table.columns]
    if not missing:
        return
    listed = ", ".join(repr(name) for name in missing)
    message = f"{table.source} lacks {len(missing)} column(s) {needed_by} needs: {listed}"
    close = closest_name(missing[0], [n for n in table.names if n not in names])
    if close:
        message += f" (did you mean {close!r} for {missing[0]!r}?)"
    raise GradstepError(f"{message}; columns there: {listing(table.names)}")


def require_column(table: Table, name: str, role: str) -> None:
    """Raise if ``name`` is not a column, listing the columns there are and the closest."""
    if name in table.columns:
        return
    message = f"{role} column {name!r} is not in {table.source}"
    close = closest_name(name, table.names)
    if close:
        message += f" (did you mean {close!r}?)"
    message += f"; columns there: {listing(table.names)}"
    if len(table.names) == 1 and any(sep in table.names[0] for sep in ";\t|"):
        message += " (one column: is the file separated by something other than commas?)"
    raise GradstepError(message)


def closest_name(name: str, names: list[str]) -> str | None:
    """The column a typo most likely meant: same name in other case, else the closest."""
    for candidate in names:
        if candidate.lower() == name.lower():
            return candidate
    matches = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return matches[0] if matches else None


def require_numeric(table: Table, name: str, role: str) -> None:
    column = table.columns[name]
    if column.is_numeric:
        return
    if column.first_text is None:
        where = "has no values" if column.kind is None else f"holds {column.kind} values"
        raise GradstepError(f"{role} column {name!r} {where}; it must hold numbers")
    row, cell = column.first_text
    kind = f" (type {column.kind})" if column.kind else ""
    raise GradstepError(
        f"{role} column {name!r} is not numeric{kind}: {table.where(row)} of {table.source} "
        f"holds {cell!r}; use numbers only (one-hot encode text: one 0/1 column per category)"
    )


def finite_rows(table: Table, names: list[str], drop_missing: bool) -> np.ndarray:
    """Indices of the rows whose used cells are all finite; raise unless ``drop_missing``."""
    bad = np.zeros(table.n_rows, dtype=bool)
    for name in names:
        bad |= ~np.isfinite(table.columns[name].values)
    if not bad.any():
        return np.arange(table.n_rows)
    if drop_missing:
        return np.flatnonzero(~bad)
    row = int(np.flatnonzero(bad)[0])
    name = next(n for n in names if not np.isfinite(table.columns[n].values[row]))
    column = table.columns[name]
    value = column.values[row]
    what = "an empty/NA cell" if column.missing[row] else ("NaN" if np.isnan(value) else "inf")
    raise GradstepError(
        f"column {name!r} has {what} at {table.where(row)} of {table.source} "
        f"({int(bad.sum())} row(s) have missing, NaN or infinite values in the columns used); "
        "fill them in, or pass --drop-missing to drop those rows"
    )


def cell_texts(table: Table, name: str, rows: np.ndarray) -> list[str]:
    """The cells of column ``name`` at ``rows`` as text, as they were in the file."""
    column = table.columns[name]
    if column.cells is not None and hasattr(column.cells, "take"):  # pyarrow strings
        cells = column.cells.take(np.asarray(rows, dtype=np.int64)).to_pylist()
        return ["" if cell is None else cell for cell in cells]
    if column.cells is not None:
        return ["" if column.cells[i] is None else str(column.cells[i]) for i in rows]
    texts = []
    for value in column.values[rows]:
        if not np.isfinite(value):
            texts.append("")
        elif value == int(value) and abs(value) < 2**53:
            texts.append(str(int(value)))
        else:
            texts.append(repr(float(value)))
    return texts


def listing(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names)} in all)"
