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
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from gradstep.errors import GradstepError

FORMATS = ("csv", "parquet")
EXTENSIONS = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}
# Cells that mean "no value" (compared case-insensitively, after stripping spaces).
MISSING_TOKENS = frozenset({"", "na", "n/a", "null", "none"})
STDIN = "-"


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

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def where(self, row: int) -> str:
        """``"row 5 (line 6)"``: row ``row`` (0-based index) as a user finds it in the file."""
        text = f"row {row + 1}"
        if self.lines is not None:
            text += f" (line {int(self.lines[row])})"
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
    path: str, fmt: str | None = None, stdin: BinaryIO | None = None, precise: bool = False
) -> Table:
    """Read ``path`` (``"-"``: CSV from ``stdin``) into a :class:`Table`.

    ``precise`` reads CSV with the :mod:`csv` module even when it is clean, so
    every column keeps its cells as written (an id column ``007`` stays ``007``).
    Raises :class:`GradstepError` for a missing or unreadable file, an unknown
    format, an empty file, duplicate column names, a header without rows, or rows
    of the wrong length.
    """
    if path != STDIN:
        _check_file(path)
    kind = table_format(path, fmt)
    if kind == "parquet":
        return _read_parquet(path)
    if path == STDIN:
        raw = (stdin if stdin is not None else _stdin_bytes()).read()
        return _read_csv(raw, "standard input", precise)
    return _read_csv(_read_bytes(path), path, precise)


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


def _read_csv(raw: bytes, source: str, precise: bool = False) -> Table:
    if not raw.strip():
        raise GradstepError(f"{source} is empty; it needs a header line and data rows")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GradstepError(
            f"cannot read {source}: byte {exc.start} is not UTF-8 text; "
            "save the file as UTF-8 CSV (or pass a Parquet file)"
        ) from None
    clean = None if precise else _read_clean_csv(raw, text, source)
    if clean is not None:
        return clean
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
    cells = list(zip(*rows, strict=True))
    columns = {name: _parse_cells(column) for name, column in zip(names, cells, strict=True)}
    return Table(source, "csv", columns, len(rows), np.asarray(lines))


def _read_clean_csv(raw: bytes, text: str, source: str) -> Table | None:
    """The table, read by ``pyarrow.csv``, if every column is integer or float and every
    value finite; else None (the :mod:`csv` reader then reads it and words any error)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    try:
        data = pa_csv.read_csv(io.BytesIO(raw))
        rows = csv.reader(io.StringIO(text, newline=""))
        header = next(row for row in rows if any(cell.strip() for cell in row))
    except (pa.ArrowException, csv.Error, StopIteration):
        return None
    names = [name.strip() for name in header]
    if data.num_rows == 0 or names != [name.strip() for name in data.column_names]:
        return None
    names = _header_names(header, source)
    columns = {}
    for name, column in zip(names, data.columns, strict=True):
        if column.type not in (pa.int64(), pa.float64()) or column.null_count:
            return None
        values = column.to_numpy().astype(np.float64, copy=False)
        if not np.isfinite(values).all():
            return None
        columns[name] = Column(values, np.zeros(values.size, dtype=bool))
    return Table(source, "csv", columns, data.num_rows)


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


def _read_parquet(path: str) -> Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if os.path.getsize(path) == 0:
        raise GradstepError(f"{path} is empty; it needs columns and rows")
    try:
        names = pq.read_schema(path).names
        _check_duplicates(names, path)
        table = pq.ParquetFile(path).read()
    except (pa.ArrowException, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GradstepError(
            f"cannot read {path} as Parquet: {reason} (for CSV, pass --format csv)"
        ) from None
    if table.num_rows == 0:
        raise GradstepError(f"{path} has columns ({listing(names)}) but no rows")
    columns = {
        name: _arrow_column(table.column(i), pa) for i, name in enumerate(table.column_names)
    }
    return Table(path, "parquet", columns, table.num_rows)


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
    x = np.column_stack([table.columns[name].values[rows] for name in features])
    y = table.columns[target].values[rows] if target is not None else None
    dropped = table.n_rows - rows.size
    if rows.size == 0:
        raise GradstepError(
            f"no rows of {table.source} are left after dropping the {dropped} with missing, "
            "NaN or infinite values; fill the gaps instead"
        )
    return Selection(x, y, list(features), target, rows, skipped, dropped)


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
