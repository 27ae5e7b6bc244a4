"""Reading and checking tables: ``gradstep.table``."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gradstep import GradstepError
from gradstep.table import cell_texts, read_table, require_columns, select, table_format


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_csv_numbers_missing_tokens_and_text(tmp_path):
    path = write(tmp_path / "t.csv", " a , b ,name\n1,2.5,x\n3,NA,y\n,1e3,z\n4,nan,w\n5,-inf,v\n")
    table = read_table(path)
    assert table.names == ["a", "b", "name"] and table.n_rows == 5 and table.format == "csv"
    a, b, name = (table.columns[n] for n in table.names)
    np.testing.assert_array_equal(a.missing, [False, False, True, False, False])
    assert np.isnan(a.values[2]) and a.values[3] == 4
    assert b.values[0] == 2.5 and b.missing[1] and not b.missing[3] and np.isnan(b.values[3])
    assert b.values[4] == -np.inf
    assert a.is_numeric and b.is_numeric and not name.is_numeric
    assert name.first_text == (0, "x")


def test_csv_rows_know_their_line_in_the_file(tmp_path):
    # a blank line and a quoted field spanning two lines shift the line numbers
    path = write(tmp_path / "t.csv", 'x,y\n1,2\n\n3,"4\n"\n5,oops\n')
    table = read_table(path)
    assert table.n_rows == 3
    with pytest.raises(GradstepError, match=r"row 3 \(line 6\) of .*t.csv holds 'oops'"):
        select(table, ["x"], "y")


def test_csv_byte_order_mark_and_stdin(tmp_path):
    import io

    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffx,y\n1,2\n".encode())
    assert read_table(str(path)).names == ["x", "y"]
    table = read_table("-", stdin=io.BytesIO(b"x,y\n1,2\n3,4\n"))
    assert table.source == "standard input" and table.n_rows == 2


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "is empty"),
        ("\n\n", "is empty"),
        ("x,y\n", "has a header (x, y) but no data rows"),
        ("x,y,x\n1,2,3\n", "column name 'x' appears twice in"),
        ("x,,y\n1,2,3\n", "column 2 of"),
        ("x,y\n1,2\n3\n", "row 2 (line 3) of"),
    ],
)
def test_csv_problems(tmp_path, text, fragment):
    path = write(tmp_path / "t.csv", text)
    with pytest.raises(GradstepError) as info:
        read_table(path)
    assert fragment in str(info.value)


def test_not_utf8(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"x,y\n1,\xff\n")
    with pytest.raises(GradstepError, match="byte 6 is not UTF-8"):
        read_table(str(path))


def test_format_from_extension_or_option(tmp_path):
    assert table_format("a.CSV") == "csv" and table_format("a.pq") == "parquet"
    assert table_format("-") == "csv" and table_format("a.dat", "csv") == "csv"
    with pytest.raises(GradstepError, match="cannot tell the format of a.xlsx"):
        table_format("a.xlsx")
    with pytest.raises(GradstepError, match="standard input"):
        table_format("-", "parquet")


def test_parquet_types_nulls_and_ids(tmp_path):
    import datetime

    path = tmp_path / "t.parquet"
    table = pa.table(
        {
            "i": pa.array([1, None, 3], pa.int64()),
            "f": pa.array([0.5, 1.5, None]),
            "flag": pa.array([True, False, True]),
            "s_num": pa.array(["1", "2", "NA"]),
            "s_txt": pa.array(["a", "b", "c"]),
            "when": pa.array([datetime.date(2024, 1, d) for d in (1, 2, 3)]),
        }
    )
    pq.write_table(table, path)
    got = read_table(str(path))
    assert got.format == "parquet" and got.n_rows == 3 and got.lines is None
    cols = got.columns
    np.testing.assert_array_equal(cols["i"].missing, [False, True, False])
    assert cols["i"].values[2] == 3 and np.isnan(cols["i"].values[1])
    assert cols["flag"].values.tolist() == [1.0, 0.0, 1.0]
    assert cols["s_num"].is_numeric and cols["s_num"].missing[2]
    assert cols["s_txt"].first_text == (0, "a")
    assert cols["when"].kind == "date32[day]" and not cols["when"].is_numeric
    assert got.where(1) == "row 2"
    assert cell_texts(got, "i", np.array([0, 2])) == ["1", "3"]
    assert cell_texts(got, "s_txt", np.array([1])) == ["b"]
    features, skipped = select(got, None, "f", drop_missing=True).features, None
    assert features == ["i", "flag", "s_num"]
    skipped = select(got, None, "f", drop_missing=True).skipped
    assert skipped == {"s_txt": "text", "when": "not numeric (date32[day])"}


def test_parquet_problems(tmp_path):
    dup = tmp_path / "dup.parquet"
    pq.write_table(pa.table([pa.array([1]), pa.array([2])], names=["a", "a"]), dup)
    with pytest.raises(GradstepError, match="column name 'a' appears twice"):
        read_table(str(dup))
    empty_rows = tmp_path / "none.parquet"
    pq.write_table(pa.table({"a": pa.array([], pa.float64())}), empty_rows)
    with pytest.raises(GradstepError, match=r"has columns \(a\) but no rows"):
        read_table(str(empty_rows))
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"this is not a parquet file at all")
    with pytest.raises(GradstepError, match="cannot read .* as Parquet"):
        read_table(str(junk))
    (tmp_path / "zero.parquet").write_bytes(b"")
    with pytest.raises(GradstepError, match="is empty"):
        read_table(str(tmp_path / "zero.parquet"))


def test_select_defaults_skip_text_and_empty_columns(tmp_path):
    path = write(tmp_path / "t.csv", "id,city,blank,x,y\n1,Oslo,,2,3\n2,Rome,,4,5\n")
    selection = select(read_table(path), None, "y")
    assert selection.features == ["id", "x"]
    assert selection.skipped == {"city": "text", "blank": "empty"}
    np.testing.assert_array_equal(selection.x, [[1, 2], [2, 4]])
    np.testing.assert_array_equal(selection.y, [3, 5])


def test_select_suggests_the_closest_column(tmp_path):
    table = read_table(write(tmp_path / "t.csv", "Age,bmi,y\n1,2,3\n"))
    with pytest.raises(GradstepError, match=r"target column 'Y' .*did you mean 'y'\?"):
        select(table, None, "Y")
    with pytest.raises(GradstepError, match=r"'bim' .*did you mean 'bmi'.*Age, bmi, y"):
        select(table, ["Age", "bim"], "y")
    with pytest.raises(GradstepError, match="both the target and a feature"):
        select(table, ["y"], "y")
    with pytest.raises(GradstepError, match="listed twice"):
        select(table, ["bmi", "bmi"], "y")
    with pytest.raises(GradstepError, match=r"lacks 2 column\(s\) the model needs: 'age', 'w'"):
        require_columns(table, ["age", "bmi", "w"], "the model")


def test_missing_values_are_located_or_dropped(tmp_path):
    table = read_table(write(tmp_path / "t.csv", "x,y\n1,2\n2,inf\n3,4\nNA,5\n6,7\n"))
    with pytest.raises(GradstepError) as info:
        select(table, ["x"], "y")
    message = str(info.value)
    assert "column 'y' has inf at row 2 (line 3)" in message
    assert "2 row(s)" in message and "--drop-missing" in message
    kept = select(table, ["x"], "y", drop_missing=True)
    assert kept.dropped == 2 and kept.rows.tolist() == [0, 2, 4]


CLEAN_CSVS = {
    "plain": "a,b,y\n1,2.5,3\n-4,5e-3,6.25\n7,8,-9\n",
    "byte order mark, CRLF": "\ufeffa,b,y\r\n1,2.5,3\r\n-4,5e-3,6.25\r\n7,8,-9\r\n",
    "blank lines, quotes": '\na,"b",y\n"1",2.5,3\n\n-4,5e-3,6.25\n7,8,-9\n\n\n',
    "unicode names, big integers": "größe,日本,y\n12345678901234567891,0.1,3\n-4,0.2,6\n7,0.3,-9\n",
    "padded names": " a , b ,y\n1,2,3\n4,5,6\n",
}


@pytest.mark.parametrize("text", CLEAN_CSVS.values(), ids=CLEAN_CSVS.keys())
def test_clean_csv_takes_the_fast_path_and_reads_what_python_reads(tmp_path, text):
    """pyarrow reads the clean case; every value is the one Python's float() gives the cell,
    bit for bit, and the names are those of the csv module (stripped)."""
    import csv
    import io

    path = write(tmp_path / "t.csv", text)
    fast, precise = read_table(path), read_table(path, precise=True)
    assert fast.lines is None and precise.lines is not None  # which reader read it
    rows = [r for r in csv.reader(io.StringIO(text.lstrip("\ufeff"))) if r]
    names = [name.strip() for name in rows[0]]
    assert fast.names == precise.names == names and fast.n_rows == len(rows) - 1
    for j, name in enumerate(names):
        expected = np.array([float(r[j]) for r in rows[1:]])
        assert fast.columns[name].values.tobytes() == expected.tobytes()
        assert precise.columns[name].values.tobytes() == expected.tobytes()
        assert not fast.columns[name].missing.any()


UNCLEAN_CSVS = {
    "a gap": ("a,y\n1,2\n,3\n", r"column 'a' has an empty/NA cell at row 2 \(line 3\)"),
    "NaN": ("a,y\n1,2\nnan,3\n", r"column 'a' has NaN at row 2 \(line 3\)"),
    "inf": ("a,y\n1,2\n3,inf\n", r"column 'y' has inf at row 2 \(line 3\)"),
    "text": ("a,y\n1,2\n3,x\n", r"target column 'y' is not numeric: row 2 \(line 3\)"),
    "text after many numbers": ("a,y\n" + "1,2\n" * 50000 + "3,x\n", r"line 50002\)"),
    "true/false": ("a,y\ntrue,2\nfalse,3\n", "feature column 'a' is not numeric: row 1"),
    "a quoted comma": ('a,y\n"1,5",2\n3,4\n', "feature column 'a' is not numeric"),
    "duplicate names": ("a,a,y\n1,2,3\n", "column name 'a' appears twice"),
    "unnamed column": ("a,,y\n1,2,3\n", "column 2 of .* has no name"),
    "ragged row": ("a,y\n1,2\n3,4,5\n", r"row 2 \(line 3\) of .* has 3 field\(s\)"),
    "semicolons": ("a;y\n1;2\n3;4\n", "is the file separated by something other than commas"),
}


@pytest.mark.parametrize(("text", "message"), UNCLEAN_CSVS.values(), ids=UNCLEAN_CSVS.keys())
def test_anything_but_clean_csv_is_read_and_worded_by_the_precise_reader(tmp_path, text, message):
    path = write(tmp_path / "t.csv", text)
    with pytest.raises(GradstepError, match=message):
        select(read_table(path), ["a"], "y")


def test_csv_with_id_cells_kept_as_written(tmp_path):
    path = write(tmp_path / "t.csv", "id,x\n007,1\n1.50,2\n")
    assert cell_texts(read_table(path, precise=True), "id", np.array([0, 1])) == ["007", "1.50"]


def test_parquet_dictionaries_and_huge_integers(tmp_path):
    path = tmp_path / "t.parquet"
    n = 4
    table = pa.table(
        {
            "u64": pa.array([2**64 - 1, 3, 2**53 + 1, 0], pa.uint64()),
            "dict_num": pa.array(["1.5", "2", "1.5", "NA"]).dictionary_encode(),
            "dict_txt": pa.array(["a", "b", "a", "c"]).dictionary_encode(),
            "dict_int": pa.array([1, 2, 1, 5], pa.int32()).dictionary_encode(),
        }
    )
    pq.write_table(table, path)
    cols = read_table(str(path)).columns
    assert cols["u64"].values.tolist() == [float(2**64 - 1), 3.0, float(2**53 + 1), 0.0]
    assert cols["dict_num"].values[:3].tolist() == [1.5, 2.0, 1.5] and cols["dict_num"].missing[3]
    assert cols["dict_txt"].first_text == (0, "a") and cols["dict_txt"].kind is None
    assert cols["dict_int"].values.tolist() == [1.0, 2.0, 1.0, 5.0]
    assert all(c.values.size == n for c in cols.values())


def test_only_the_columns_asked_for_are_read_but_every_name_is_known(tmp_path):
    path = write(tmp_path / "t.csv", "id,name,a,b,y\n007,Oslo,1,2,3\n1.50,Rome,4,5,6\n")
    table = read_table(path, columns=["a", "y"], text_columns=["id"])
    assert list(table.columns) == ["id", "a", "y"] and table.names == ["id", "name", "a", "b", "y"]
    assert table.lines is None  # the fast reader read it, text column and all
    assert cell_texts(table, "id", np.array([1, 0])) == ["1.50", "007"]
    with pytest.raises(GradstepError, match=r"lacks 1 column\(s\) the model needs: 'c'.*name, a"):
        require_columns(table, ["a", "c"], "the model")
    pq_path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"s": ["x", "y"], "a": [1, 2], "y": [3.0, 4.0]}), pq_path)
    got = read_table(str(pq_path), columns=["a", "y"])
    assert list(got.columns) == ["a", "y"] and got.names == ["s", "a", "y"]


def test_every_kept_row_is_a_view_of_one_float64_block(tmp_path):
    text = "a,b,c,y\n" + "".join(f"{i},{2 * i},{i % 3},{i / 4}\n" for i in range(3000))
    table = read_table(write(tmp_path / "t.csv", text))
    selection = select(table, None, "y")
    assert np.shares_memory(selection.x, table.block) and np.shares_memory(selection.y, table.block)
    np.testing.assert_array_equal(selection.x[:, 1], 2 * np.arange(3000.0))
    # features out of file order: one copy, same numbers
    other = select(table, ["c", "a"], "y")
    assert not np.shares_memory(other.x, table.block)
    np.testing.assert_array_equal(other.x, selection.x[:, [2, 0]])


def test_missing_values_take_the_fast_path_and_keep_their_line(tmp_path):
    text = "x,y\n1,2\n\n" + "3,4\n" * 5000 + "NA,5\n6,nan\n7,8\n"
    table = read_table(write(tmp_path / "t.csv", text))
    assert table.lines is None and table.columns["x"].missing.sum() == 1
    with pytest.raises(GradstepError, match=r"column 'x' has an empty/NA cell at row 5002 \(line "
                       r"5004\) of .*\(2 row\(s\) have"):  # fmt: skip
        select(table, ["x"], "y")
    kept = select(table, ["x"], "y", drop_missing=True)
    assert kept.dropped == 2 and kept.x[-1, 0] == 7 and kept.y.tolist()[-2:] == [4.0, 8.0]
    precise = select(read_table(str(tmp_path / "t.csv"), precise=True), ["x"], "y", True)
    np.testing.assert_array_equal(kept.x, precise.x)
    np.testing.assert_array_equal(kept.rows, precise.rows)


@pytest.mark.parametrize("cell", ["na", "N/a", "NULL", "None", '""'])
def test_every_spelling_of_a_missing_cell_is_missing_on_the_fast_path(tmp_path, cell):
    table = read_table(write(tmp_path / "t.csv", f"x,y\n1,2\n{cell},3\n"))
    assert table.lines is None and table.columns["x"].missing.tolist() == [False, True]
