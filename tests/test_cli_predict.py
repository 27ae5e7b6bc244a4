"""``gradstep predict``, ``evaluate`` and ``compare`` on a diabetes run; the metrics."""

import csv
import io
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from gradstep.cli import main
from gradstep.metrics import regression_metrics

from conftest import run_cli

TARGET = "progression"


def export_diabetes(folder):
    """scikit-learn's diabetes table (original units) as CSV and Parquet, written here."""
    import pyarrow as pa
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=False)
    x, y, names = bunch.data, bunch.target, list(bunch.feature_names)
    csv_path, parquet_path = folder / "diabetes.csv", folder / "diabetes.parquet"
    np.savetxt(csv_path, np.column_stack([x, y]), delimiter=",", fmt="%.17g",
               header=",".join([*names, TARGET]), comments="")  # fmt: skip
    columns = {name: pa.array(x[:, j]) for j, name in enumerate(names)}
    pq.write_table(pa.table({**columns, TARGET: pa.array(y)}), parquet_path)
    return csv_path, parquet_path, x, y, names


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A diabetes run (default settings, no figures) and the data it was trained on."""
    folder = tmp_path_factory.mktemp("predict")
    csv_path, parquet_path, x, y, names = export_diabetes(folder)
    out = folder / "runs" / "diabetes"
    code = main(["train", str(csv_path), "--target", TARGET, "--out", str(out), "--no-report"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    return {"csv": csv_path, "parquet": parquet_path, "x": x, "y": y, "names": names,
            "out": out, "summary": summary, "folder": folder}  # fmt: skip


def cli(capsys, *args) -> str:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def read_csv_text(text: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def test_predict_reproduces_the_fitted_values(trained, capsys):
    s, x = trained["summary"], trained["x"]
    fitted = s["intercept"] + x @ np.array([s["coef"][n] for n in trained["names"]])
    header, rows = read_csv_text(cli(capsys, "predict", trained["out"], trained["csv"]))
    assert header == ["prediction"] and len(rows) == len(x)
    predicted = np.array([float(r[0]) for r in rows])
    np.testing.assert_array_equal(predicted, fitted)  # written with every digit
    # and the descent's own fitted values, in the standardised units it ran in
    model = json.loads((trained["out"] / "model.json").read_text())
    last = np.loadtxt(trained["out"] / "metrics.csv", delimiter=",", skiprows=1)[-1]
    z = (x - model["scaler"]["mean"]) / model["scaler"]["scale"]
    np.testing.assert_allclose(predicted, last[1] + z @ last[2:12], rtol=1e-12)


def test_predict_ignores_extra_columns_keeps_ids_and_writes_parquet(trained, tmp_path, capsys):
    x, names = trained["x"], trained["names"]
    order = names[::-1]  # other column order, an id and an extra text column
    lines = ["id,note," + ",".join(order)]
    lines += [f"p{i},hello,{','.join(repr(float(v)) for v in row[::-1])}" for i, row in
              enumerate(x[:5])]  # fmt: skip
    path = tmp_path / "new.csv"
    path.write_text("\n".join(lines) + "\n")
    header, rows = read_csv_text(cli(capsys, "predict", trained["out"], path, "--id-column", "id"))
    assert header == ["id", "prediction"] and [r[0] for r in rows] == [f"p{i}" for i in range(5)]
    s = trained["summary"]
    expected = s["intercept"] + x[:5] @ np.array([s["coef"][n] for n in names])
    np.testing.assert_array_equal([float(r[1]) for r in rows], expected)
    out = tmp_path / "pred.parquet"
    cli(capsys, "predict", trained["out"], path, "--id-column", "id", "--out", out)
    table = pq.read_table(out)
    assert table.column_names == ["id", "prediction"]
    np.testing.assert_array_equal(table.column("prediction").to_numpy(), expected)
    cli(capsys, "predict", trained["out"], trained["parquet"], "--out", out, "--force")
    assert pq.read_table(out).num_rows == len(x)


def test_predict_drop_missing_says_how_many(trained, tmp_path, capsys):
    names, x = trained["names"], trained["x"]
    lines = ["row," + ",".join(names)] + [f"{i}," + ",".join(map(str, r)) for i, r in
                                          enumerate(x[:4])]  # fmt: skip
    lines[2] = "1," + ",".join(["NA"] + [str(v) for v in x[1, 1:]])
    path = tmp_path / "gaps.csv"
    path.write_text("\n".join(lines) + "\n")
    code = main(["predict", str(trained["out"]), str(path), "--drop-missing", "--id-column", "row"])
    captured = capsys.readouterr()
    assert code == 0 and "dropped 1 row(s)" in captured.err
    assert [r[0] for r in read_csv_text(captured.out)[1]] == ["0", "2", "3"]


def test_evaluate_matches_scikit_learn(trained, capsys):
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    s, x, y = trained["summary"], trained["x"], trained["y"]
    pred = s["intercept"] + x @ np.array([s["coef"][n] for n in trained["names"]])
    got = json.loads(cli(capsys, "evaluate", trained["out"], trained["parquet"], "--json"))
    assert got["rows"] == len(y) and got["target"] == TARGET
    assert got["mse"] == pytest.approx(mean_squared_error(y, pred), rel=1e-12)
    assert got["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, pred)), rel=1e-12)
    assert got["mae"] == pytest.approx(mean_absolute_error(y, pred), rel=1e-12)
    assert got["r2"] == pytest.approx(r2_score(y, pred), rel=1e-12)
    text = cli(capsys, "evaluate", trained["out"], trained["csv"])
    assert f"R²   {got['r2']:.6f}" in text and "442 rows" in text


def test_metrics_edge_cases():
    from sklearn.metrics import r2_score

    assert regression_metrics([1.0, 1.0], [1.0, 1.0])["r2"] == r2_score([1.0, 1.0], [1.0, 1.0])
    assert regression_metrics([1.0, 1.0], [1.0, 2.0])["r2"] == r2_score([1.0, 1.0], [1.0, 2.0])
    got = regression_metrics([0.0, 2.0], [1.0, 1.0])
    assert got == {"mse": 1.0, "rmse": 1.0, "mae": 1.0, "r2": 0.0}


def test_metrics_in_blocks_match_the_whole_arrays():
    from gradstep.errors import GradstepError
    from gradstep.metrics import regression_metrics_in_blocks

    rng = np.random.default_rng(5)
    y, pred = rng.normal(size=1000) * 100 + 3, rng.normal(size=1000) * 90 + 3
    whole = regression_metrics(y, pred)
    got = regression_metrics_in_blocks(y, (pred[i : i + 64] for i in range(0, 1000, 64)))
    assert got == pytest.approx(whole, rel=1e-12)
    for short in ([pred[:999]], [pred, pred[:1]], []):
        with pytest.raises(GradstepError, match="as many predictions as targets"):
            regression_metrics_in_blocks(y, iter(short))


def test_compare_three_learning_rates(trained, capsys):
    folder, csv_path = trained["folder"], trained["csv"]
    runs = []
    for lr in ("0.01", "0.05"):
        out = folder / "runs" / f"lr-{lr}"
        cli(capsys, "train", csv_path, "--target", TARGET, "--lr", lr, "--epochs", 2000,
            "--out", out, "--no-report")  # fmt: skip
        runs.append(out)
    runs.append(trained["out"])
    figure = folder / "compare.png"
    got = json.loads(cli(capsys, "compare", *runs, "--out", figure, "--json"))
    assert [r["run"] for r in got["runs"]] == ["lr-0.01", "lr-0.05", "diabetes"]
    assert [r["lr"] for r in got["runs"]][:2] == [0.01, 0.05]
    assert got["runs"][2]["converged"] is True and got["runs"][0]["converged"] is False
    assert got["runs"][2]["max_abs_diff_closed_form"] < got["runs"][0]["max_abs_diff_closed_form"]
    from PIL import Image

    with Image.open(figure) as img:
        assert img.size[0] > 800
    text = cli(capsys, "compare", *runs, "--out", figure, "--force")
    assert text.splitlines()[0].split()[:3] == ["run", "lr", "batch"]
    assert "lr-0.05" in text and "Loss curves:" in text


def test_predict_through_a_real_process_from_standard_input(trained):
    proc = run_cli("predict", trained["out"], "-", stdin=trained["csv"].read_text())
    assert proc.returncode == 0, proc.stderr
    header, rows = read_csv_text(proc.stdout)
    assert header == ["prediction"] and len(rows) == len(trained["y"])


def test_compare_runs_with_different_features(trained, tmp_path, capsys):
    other = tmp_path / "two-features"
    cli(capsys, "train", trained["csv"], "--target", TARGET, "--features", "bmi,s5",
        "--out", other, "--no-report")  # fmt: skip
    figure = tmp_path / "c.png"
    got = json.loads(cli(capsys, "compare", trained["out"], other, "--out", figure, "--json"))
    rows = {r["run"]: r for r in got["runs"]}
    summary = json.loads((other / "summary.json").read_text())
    assert rows["two-features"]["train_loss"] == summary["train_loss"]
    assert rows["diabetes"]["train_loss"] == trained["summary"]["train_loss"]
    assert rows["diabetes"]["train_loss"] < rows["two-features"]["train_loss"]  # nested models
    assert figure.stat().st_size > 0


def test_predict_keeps_id_cells_as_written(trained, tmp_path, capsys):
    names = trained["names"]
    x = trained["x"][:2]
    lines = ["id," + ",".join(names)] + [
        f"{rid}," + ",".join(repr(float(v)) for v in row)
        for rid, row in zip(["007", "1.50"], x, strict=True)
    ]
    (tmp_path / "new.csv").write_text("\n".join(lines) + "\n")
    header, rows = read_csv_text(cli(capsys, "predict", trained["out"], tmp_path / "new.csv",
                                     "--id-column", "id"))  # fmt: skip
    assert header == ["id", "prediction"] and [r[0] for r in rows] == ["007", "1.50"]
    s = trained["summary"]
    fitted = s["intercept"] + x @ np.array([s["coef"][n] for n in names])
    np.testing.assert_allclose([float(r[1]) for r in rows], fitted, rtol=1e-12)


def test_evaluate_says_when_r2_is_undefined(trained, tmp_path, capsys):
    from sklearn.metrics import r2_score

    s, x, y = trained["summary"], trained["x"], trained["y"]
    header = ",".join([*trained["names"], TARGET])
    row = ",".join(f"{v:.17g}" for v in [*x[0], y[0]])
    same = tmp_path / "same.csv"
    same.write_text(f"{header}\n{row}\n{row}\n")  # a constant target: R² is undefined
    got = json.loads(cli(capsys, "evaluate", trained["out"], same, "--json"))
    pred = s["intercept"] + x[[0, 0]] @ np.array([s["coef"][n] for n in trained["names"]])
    assert got["r2"] == r2_score(y[[0, 0]], pred) == 0.0
    text = cli(capsys, "evaluate", trained["out"], same)
    assert "R²   0.000000 (undefined: the target is constant" in text
    assert "undefined" not in cli(capsys, "evaluate", trained["out"], trained["csv"])
