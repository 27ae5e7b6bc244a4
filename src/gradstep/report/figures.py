"""The report's interactive plotly figures, as plain dicts ready for JSON.

Each figure has a trace named ``"current"`` (or ``"current line"``) that the
report's slider moves; the page's script finds it by name.
"""

from __future__ import annotations

import html
import json

import numpy as np

from gradstep.quadratic import QuadraticLoss
from gradstep.report.slices import pair_grid

DIAGONAL = {"color": "black", "dash": "dash", "width": 1}
LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 50, "b": 50}}


def plain(text) -> str:
    """A user-supplied string for plotly text (which understands a little HTML)."""
    return html.escape(str(text), quote=False)


def _as_dict(fig) -> dict:
    import plotly.io as pio

    return json.loads(pio.to_json(fig, validate=False))


def w_title(d: int, j: int, names) -> str:
    if d == 1:
        return "w" if not names else f"w ({plain(names[0])})"
    return f"w_{j}" + (f" ({plain(names[j])})" if names else "")


def scene_title(d: int, j: int, names) -> str:
    """An axis title for a 3-D scene, whose WebGL text shows entities literally: a
    name with ``<``, ``>`` or ``&`` is left out there (the figure title shows it)."""
    name = names[j] if names else None
    base = "w" if d == 1 else f"w_{j}"
    if name is None or any(c in str(name) for c in "<>&"):
        return base
    return f"{base} ({name})"


def coord_title(k: int, d: int, names) -> str:
    """The title of coordinate ``k`` of ``theta = (b, w_0, ...)`` for 2-D plotly text."""
    return "b" if k == 0 else w_title(d, k - 1, names)


def coord_scene_title(k: int, d: int, names) -> str:
    return "b" if k == 0 else scene_title(d, k - 1, names)


def surface_figure(q: QuadraticLoss, path, axes, names, note: str) -> dict:
    """3-D loss surface over the coordinates ``axes`` with the descent path, start,
    minimum and the current point; ``path`` is ``(u, v, loss)`` along the descent."""
    import plotly.graph_objects as go

    p, r = axes
    title = "Loss surface" + (f" ({note})" if note else "")
    pu, pv, ploss = path
    u_axis, v_axis, losses = pair_grid(q, axes, pu, pv)
    star = np.r_[q.minimum()[0], q.minimum()[1]]
    fig = go.Figure()
    fig.add_trace(go.Surface(x=u_axis, y=v_axis, z=losses, colorscale="Viridis", opacity=0.85,
                             colorbar={"title": {"text": "loss"}}, name="surface"))  # fmt: skip
    fig.add_trace(go.Scatter3d(x=pu, y=pv, z=ploss, mode="lines", name="descent path",
                               line={"color": "red", "width": 5}))  # fmt: skip
    fig.add_trace(go.Scatter3d(x=[star[p]], y=[star[r]], z=[q.min_loss], mode="markers",
                               name="minimum", marker={"color": "red", "symbol": "diamond",
                                                       "size": 6}))  # fmt: skip
    fig.add_trace(go.Scatter3d(x=[pu[0]], y=[pv[0]], z=[ploss[0]], mode="markers", name="start",
                               marker={"color": "black", "size": 5}))  # fmt: skip
    fig.add_trace(go.Scatter3d(x=[pu[-1]], y=[pv[-1]], z=[ploss[-1]], mode="markers",
                               name="current", marker={"color": "orange", "size": 7}))  # fmt: skip
    fig.update_layout(
        **LAYOUT, height=560, title={"text": title},
        scene={"xaxis": {"title": {"text": coord_scene_title(p, q.d, names)}},
               "yaxis": {"title": {"text": coord_scene_title(r, q.d, names)}},
               "zaxis": {"title": {"text": "loss (MSE)"}},
               "aspectmode": "manual", "aspectratio": {"x": 1, "y": 1, "z": 0.8},
               "camera": {"eye": {"x": 1.3, "y": -1.4, "z": 0.85}}},
        legend={"x": 0, "y": 1},
    )  # fmt: skip
    return _as_dict(fig)


def contour_scale(excess: np.ndarray, log: bool, count: int = 18):
    """``(z, start, end)``: what to contour and its first and last of ``count`` evenly
    spaced levels. ``sqrt(excess)`` spaces the ellipses evenly (the square grid);
    ``log10(excess)`` from well inside the largest ellipse that closes on the grid
    keeps the bowl around the minimum visible on a grid much longer one way."""
    excess = np.maximum(np.asarray(excess, dtype=np.float64), 0.0)
    top = float(excess.max())
    if log and top > 0:
        edge = min(excess[0].min(), excess[-1].min(), excess[:, 0].min(), excess[:, -1].min())
        low = max(0.02 * float(edge), 1e-6 * top)
        if low < top:
            levels = np.log10(np.geomspace(low, top, count + 1)[:-1])
            return np.log10(np.maximum(excess, 1e-300)), float(levels[0]), float(levels[-1])
    levels = np.sqrt(top * np.linspace(0, 1, count + 2)[1:-1] ** 2)
    return np.sqrt(excess), float(levels[0]), float(levels[-1])


def contour_trace(q: QuadraticLoss, axes, u, v, names, margin: float = 1.15):
    """The contour trace of the slice over ``axes`` holding the points ``u``, ``v``, and
    whether its grid is square (then the axes share a scale)."""
    import plotly.graph_objects as go

    u_axis, v_axis, losses = pair_grid(q, axes, u, v, margin=margin)
    square = np.isclose(u_axis[-1] - u_axis[0], v_axis[-1] - v_axis[0], rtol=1e-12)
    z, lo, hi = contour_scale(losses - q.min_loss, log=not square)
    p, r = axes
    hover = (f"{coord_title(p, q.d, None)}=%{{x:.4g}}<br>{coord_title(r, q.d, None)}=%{{y:.4g}}"
             "<br>loss=%{customdata:.6g}<extra></extra>")  # fmt: skip
    trace = go.Contour(
        x=u_axis, y=v_axis, z=z, colorscale="Viridis",
        contours={"coloring": "lines", "start": lo, "end": hi, "size": (hi - lo) / 17},
        showscale=False, name="loss contours", customdata=losses, line={"width": 1.5},
        hovertemplate=hover,
    )  # fmt: skip
    return trace, bool(square)


def path_figure(q: QuadraticLoss, path, axes, names, note: str) -> dict:
    """Loss contours over the coordinates ``axes`` with the descent path and the current point."""
    import plotly.graph_objects as go

    p, r = axes
    pu, pv, _ = path
    star = np.r_[q.minimum()[0], q.minimum()[1]]
    contours, square = contour_trace(q, axes, pu, pv, names)
    fig = go.Figure()
    fig.add_trace(contours)
    fig.add_trace(go.Scatter(x=pu, y=pv, mode="lines", name="descent path",
                             line={"color": "red", "width": 2}))  # fmt: skip
    fig.add_trace(go.Scatter(x=[star[p]], y=[star[r]], mode="markers", name="minimum",
                             marker={"color": "red", "symbol": "star", "size": 14}))  # fmt: skip
    fig.add_trace(go.Scatter(x=[pu[0]], y=[pv[0]], mode="markers", name="start",
                             marker={"color": "black", "size": 9}))  # fmt: skip
    fig.add_trace(go.Scatter(x=[pu[-1]], y=[pv[-1]], mode="markers", name="current",
                             marker={"color": "orange", "size": 12,
                                     "line": {"color": "black", "width": 1}}))  # fmt: skip
    fig.update_layout(
        **LAYOUT, height=480, title={"text": "Descent path" + (f" ({note})" if note else "")},
        xaxis={"title": {"text": coord_title(p, q.d, names)}},
        yaxis={"title": {"text": coord_title(r, q.d, names)},
               **({"scaleanchor": "x", "scaleratio": 1} if square else {})},
        legend={"x": 1, "xanchor": "right", "y": 1, "bgcolor": "rgba(255,255,255,0.8)"},
    )  # fmt: skip
    return _as_dict(fig)


def line_figure(data, x_range, path, x_label: str) -> dict:
    """The data (when known) and the current fitted line (the last of ``path``).

    The y range is fixed to hold the data and every line along ``path`` (lists
    ``b`` and ``w``), so the axes stay still while the slider moves the line.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    if data is not None:
        x_train, y_train, x_val, y_val = data
        fig.add_trace(go.Scatter(x=x_train, y=y_train, mode="markers", name="train",
                                 marker={"color": "#1f77b4"}))  # fmt: skip
        if x_val is not None:
            fig.add_trace(go.Scatter(x=x_val, y=y_val, mode="markers", name="validation",
                                     marker={"color": "#d62728"}))  # fmt: skip
    xs = [float(x_range[0]), float(x_range[1])]
    pb = np.asarray([v for v in path[0] if v is not None], dtype=np.float64)
    pw = np.asarray([v for v in path[1] if v is not None], dtype=np.float64)
    ends = np.concatenate([pb + pw * xs[0], pb + pw * xs[1]])
    if data is not None:
        ends = np.concatenate([ends, data[1], data[3] if data[3] is not None else []])
    lo, hi = float(ends.min()), float(ends.max())
    pad = 0.05 * (hi - lo or 1.0)
    b_now, w_now = float(pb[-1]), float(pw[-1])
    fig.add_trace(go.Scatter(x=xs, y=[b_now + w_now * x for x in xs], mode="lines",
                             name="current line", line={"color": "black", "width": 3}))  # fmt: skip
    fig.update_layout(
        **LAYOUT, height=480, title={"text": "The fitted line"},
        xaxis={"title": {"text": x_label}},
        yaxis={"title": {"text": "y"}, "range": [lo - pad, hi + pad]},
        legend={"x": 0, "y": 1},
    )  # fmt: skip
    return _as_dict(fig)


def loss_figure(epochs, train_loss, val_loss, marker) -> dict:
    """Training and validation loss per epoch (both axes log scale: the first epochs, where
    the loss falls most, get as much room as the thousands after) with the current epoch
    marked."""
    import plotly.graph_objects as go

    fig = go.Figure()
    if train_loss is not None:
        fig.add_trace(go.Scatter(x=epochs, y=train_loss, mode="lines", name="training loss"))
    if val_loss is not None:
        fig.add_trace(go.Scatter(x=epochs, y=val_loss, mode="lines", name="validation loss",
                                 line={"dash": "dash", "color": "#d62728"}))  # fmt: skip
    fig.add_trace(go.Scatter(x=[marker[0]], y=[marker[1]], mode="markers", name="current",
                             marker={"color": "orange", "size": 11,
                                     "line": {"color": "black", "width": 1}}))  # fmt: skip
    yaxis = {"title": {"text": "loss (MSE, log scale)"}, "type": "log"}
    if log_decades(train_loss, val_loss) >= 1:
        # label the powers of ten only: plotly's default also labels 2 and 5 in
        # every decade, in small digits that crowd each other
        yaxis["dtick"] = 1
    fig.update_layout(
        **LAYOUT, height=420, title={"text": "Loss per epoch"},
        xaxis={"title": {"text": "epoch (log scale)"}, "type": "log"}, yaxis=yaxis,
    )  # fmt: skip
    return _as_dict(fig)


def excess_figure(epochs, excess, marker) -> dict:
    """The training loss above its minimum, ``L(theta_e) - L*``, per epoch (log-log):
    a straight fall on the log y axis is the linear convergence rate of the descent."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=epochs, y=excess, mode="lines", name="loss - minimum",
                             line={"color": "#2ca02c"}))  # fmt: skip
    fig.add_trace(go.Scatter(x=[marker[0]], y=[marker[1]], mode="markers", name="current",
                             marker={"color": "orange", "size": 11,
                                     "line": {"color": "black", "width": 1}}))  # fmt: skip
    yaxis = {"title": {"text": "loss above the minimum (log scale)"}, "type": "log",
             "exponentformat": "power"}  # fmt: skip
    if log_decades(excess) >= 1:
        yaxis["dtick"] = 1 if log_decades(excess) < 12 else 2
    fig.update_layout(
        **LAYOUT, height=420, title={"text": "Training loss above the least-squares minimum"},
        xaxis={"title": {"text": "epoch (log scale)"}, "type": "log"}, yaxis=yaxis,
        showlegend=False,
    )  # fmt: skip
    return _as_dict(fig)


def prediction_figures(y_true, y_pred, label: str, target: str) -> tuple[dict, dict]:
    """Predicted against actual (with the diagonal) and residuals against predicted."""
    import plotly.graph_objects as go

    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    lo = float(min(y_true.min(), y_pred.min()))
    hi = float(max(y_true.max(), y_pred.max()))
    pad = 0.04 * (hi - lo or 1.0)
    lim = [lo - pad, hi + pad]
    who = plain(target)
    scatter = go.Figure()
    dots = {"size": 6, "opacity": 0.7}
    scatter.add_trace(go.Scatter(x=y_true, y=y_pred, mode="markers", name=label,
                                 marker={"color": "#1f77b4", **dots}))  # fmt: skip
    scatter.add_trace(go.Scatter(x=lim, y=lim, mode="lines", name="predicted = actual",
                                 line=DIAGONAL))  # fmt: skip
    scatter.update_layout(
        **LAYOUT, height=420, title={"text": f"Predicted against actual ({label})"},
        xaxis={"title": {"text": f"actual {who}"}, "range": lim},
        yaxis={"title": {"text": f"predicted {who}"}, "range": lim},
        legend={"x": 1, "xanchor": "right", "y": 0, "bgcolor": "rgba(255,255,255,0.8)"},
    )  # fmt: skip
    residuals = go.Figure()
    residuals.add_trace(go.Scatter(x=y_pred, y=y_true - y_pred, mode="markers", name=label,
                                   marker={"color": "#d62728", **dots}))  # fmt: skip
    residuals.add_trace(go.Scatter(x=lim, y=[0, 0], mode="lines", name="zero",
                                   line=DIAGONAL))  # fmt: skip
    residuals.update_layout(
        **LAYOUT, height=420, title={"text": f"Residuals ({label})"}, showlegend=False,
        xaxis={"title": {"text": f"predicted {who}"}},
        yaxis={"title": {"text": "actual - predicted"}},
    )  # fmt: skip
    return _as_dict(scatter), _as_dict(residuals)


def log_decades(*series) -> float:
    """How many powers of ten the positive, finite values of ``series`` span."""
    values = [np.asarray(s, dtype=np.float64) for s in series if s is not None]
    values = np.concatenate(values) if values else np.empty(0)
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return 0.0
    # a difference of logs: the ratio of 1e300 and 1e-10 would overflow
    return float(np.log10(values.max()) - np.log10(values.min()))


RACE_COLORS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
               "#bcbd22", "#17becf", "#7f7f7f")  # fmt: skip


# below the plot, in rows: five long labels inside would cover the paths and the curves
RACE_LEGEND = {"orientation": "h", "x": 0, "y": -0.16, "yanchor": "top", "font": {"size": 10}}


def race_figures(race, names=None) -> tuple[dict, dict]:
    """The optimizers race (:func:`gradstep.race`): paths over the contours of the slice the
    racers moved most (b and w for one feature), and the loss above the minimum per epoch
    (log scale); squares where a racer was certified within ``tol``, crosses where one
    diverged (its path cut where it leaves the view, its loss where it leaves the panel)."""
    import plotly.graph_objects as go

    q = race.quadratic
    axes = (0, 1) if q.d == 1 else race.most_moved()
    p, r = axes
    kept = [rc.theta for rc in race.racers if rc.reason != "diverged"]
    points = np.vstack([race.start[None, :], *kept])
    contours, square = contour_trace(q, axes, points[:, p], points[:, r], names, margin=1.1)
    u0, u1, v0, v1 = contours.x[0], contours.x[-1], contours.y[0], contours.y[-1]
    paths, losses = go.Figure([contours]), go.Figure()
    star = np.r_[q.minimum()[0], q.minimum()[1]]
    curves = [race.excess(rc) for rc in race.racers]
    for i, (racer, curve) in enumerate(zip(race.racers, curves, strict=True)):
        color = RACE_COLORS[i % len(RACE_COLORS)]
        name = f"{plain(racer.label)}: {racer.outcome}"
        u, v = racer.theta[:, p], racer.theta[:, r]
        if racer.reason == "diverged":
            inside = np.flatnonzero((u >= u0) & (u <= u1) & (v >= v0) & (v <= v1))
            last = int(inside[-1]) if inside.size else 0
            u, v = u[: last + 2], v[: last + 2]
        paths.add_trace(go.Scatter(x=_finite(u), y=_finite(v), mode="lines+markers", name=name,
                                   legendgroup=str(i), line={"color": color, "width": 2},
                                   marker={"size": 3}))  # fmt: skip
        end = _end_marker(racer, color, i)
        if end is not None:
            k = last if racer.reason == "diverged" else -1
            paths.add_trace(go.Scatter(x=[float(u[k])], y=[float(v[k])], **end))
        epochs = list(range(1, curve.size + 1))
        shown = [float(c) if np.isfinite(c) and 0 < c < 1e100 else None for c in curve]
        losses.add_trace(go.Scatter(x=epochs, y=shown, mode="lines", name=name,
                                    legendgroup=str(i), line={"color": color}))  # fmt: skip
    paths.add_trace(go.Scatter(x=[star[p]], y=[star[r]], mode="markers", name="minimum",
                               marker={"color": "red", "symbol": "star", "size": 14}))  # fmt: skip
    paths.add_trace(go.Scatter(x=[race.start[p]], y=[race.start[r]], mode="markers",
                               name="start", marker={"color": "black", "size": 9}))  # fmt: skip
    low, high = _race_loss_range(race, curves)
    for i, (racer, curve) in enumerate(zip(race.racers, curves, strict=True)):
        end = _end_marker(racer, RACE_COLORS[i % len(RACE_COLORS)], i)
        if end is None:
            continue
        y = float(curve[-1]) if curve.size else 10**high
        if racer.reason == "diverged":
            y = min(y, 10 ** (high - 0.5)) if np.isfinite(y) else 10 ** (high - 0.5)
            losses.add_trace(go.Scatter(x=[racer.diverged_at], y=[y], **end))
        else:
            losses.add_trace(go.Scatter(x=[racer.epochs_run], y=[max(y, 1e-300)], **end))
    paths.update_layout(
        **{**LAYOUT, "margin": {"l": 60, "r": 20, "t": 40, "b": 20}}, height=540,
        title={"text": "Paths on the loss contours (one point per epoch)"},
        xaxis={"title": {"text": coord_title(p, q.d, names)}, "range": [u0, u1]},
        yaxis={"title": {"text": coord_title(r, q.d, names)}, "range": [v0, v1],
               **({"scaleanchor": "x", "scaleratio": 1} if square else {})},
        legend=RACE_LEGEND,
    )  # fmt: skip
    losses.update_layout(
        **{**LAYOUT, "margin": {"l": 60, "r": 20, "t": 40, "b": 20}}, height=540,
        title={"text": "Loss per epoch (square: certified tol; cross: diverged)"},
        xaxis={"title": {"text": "epoch"}, "range": [0, race.epochs * 1.02]},
        yaxis={"title": {"text": "training loss above its minimum (log scale)"}, "type": "log",
               "range": [low, high], "exponentformat": "power"},
        legend=RACE_LEGEND,
    )  # fmt: skip
    return _as_dict(paths), _as_dict(losses)


def _finite(values) -> list:
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, dtype=np.float64)]


def _end_marker(racer, color: str, group: int) -> dict | None:
    """Scatter settings for where a racer stopped (square) or diverged (cross)."""
    if racer.reason not in ("tol", "diverged"):
        return None
    symbol = "square" if racer.reason == "tol" else "x"
    return {"mode": "markers", "showlegend": False, "legendgroup": str(group),
            "name": f"{plain(racer.label)}: {racer.outcome}", "marker": {
                "color": color, "symbol": symbol, "size": 12 if symbol == "x" else 9,
                "line": {"color": "black", "width": 1}}}  # fmt: skip


def _race_loss_range(race, curves) -> tuple[float, float]:
    """The log10 range of the loss panel: every racer that did not diverge, and four powers
    of ten above them when one did (to see it leave)."""
    kept = [c for c, rc in zip(curves, race.racers, strict=True) if rc.reason != "diverged"]
    values = np.concatenate(kept or curves)
    values = values[np.isfinite(values) & (values > 0) & (values < 1e100)]
    if not values.size:
        return -1.0, 1.0
    room = 4.0 if len(kept) < len(curves) else 0.7
    return float(np.log10(values.min()) - 0.7), float(np.log10(values.max()) + room)
