"""The report's interactive plotly figures, as plain dicts ready for JSON.

Each figure has a trace named ``"current"`` (or ``"current line"``) that the
report's slider moves; the page's script finds it by name.
"""

from __future__ import annotations

import html
import json

import numpy as np

from gradstep.quadratic import QuadraticLoss

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


def surface_figure(q: QuadraticLoss, path, j: int, names, note: str) -> dict:
    """3-D loss surface with the descent path, start, minimum and the current point."""
    import plotly.graph_objects as go

    title = "Loss surface" + (f" ({note})" if note else "")
    if names:
        title += f"; {w_title(q.d, j, names)}"

    pb, pw, ploss = path
    bs, ws, losses = q.grid(half_width=q.fit_half_width(pb, pw, j=j), j=j)
    b_star, w_star = q.minimum()
    fig = go.Figure()
    fig.add_trace(go.Surface(x=bs[0], y=ws[:, 0], z=losses, colorscale="Viridis", opacity=0.85,
                             colorbar={"title": {"text": "loss"}}, name="surface"))  # fmt: skip
    fig.add_trace(go.Scatter3d(x=pb, y=pw, z=ploss, mode="lines", name="descent path",
                               line={"color": "red", "width": 5}))  # fmt: skip
    fig.add_trace(go.Scatter3d(x=[b_star], y=[w_star[j]], z=[q.min_loss], mode="markers",
                               name="minimum", marker={"color": "red", "symbol": "diamond",
                                                       "size": 6}))  # fmt: skip
    fig.add_trace(go.Scatter3d(x=[pb[0]], y=[pw[0]], z=[ploss[0]], mode="markers", name="start",
                               marker={"color": "black", "size": 5}))  # fmt: skip
    fig.add_trace(go.Scatter3d(x=[pb[-1]], y=[pw[-1]], z=[ploss[-1]], mode="markers",
                               name="current", marker={"color": "orange", "size": 7}))  # fmt: skip
    fig.update_layout(
        **LAYOUT, height=560, title={"text": title},
        scene={"xaxis": {"title": {"text": "b"}},
               "yaxis": {"title": {"text": scene_title(q.d, j, names)}},
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


def path_figure(q: QuadraticLoss, path, j: int, names, note: str) -> dict:
    """Loss contours with the descent path and the current point."""
    import plotly.graph_objects as go

    pb, pw, _ = path
    hb, hw = q.fit_half_width(pb, pw, j=j)
    bs, ws, losses = q.grid(half_width=(hb, hw), j=j)
    b_star, w_star = q.minimum()
    z, lo, hi = contour_scale(losses - q.min_loss, log=hb != hw)
    fig = go.Figure()
    fig.add_trace(go.Contour(
        x=bs[0], y=ws[:, 0], z=z, colorscale="Viridis",
        contours={"coloring": "lines", "start": lo, "end": hi, "size": (hi - lo) / 17},
        showscale=False, name="loss contours", customdata=losses, line={"width": 1.5},
        hovertemplate="b=%{x:.3f}<br>w=%{y:.3f}<br>loss=%{customdata:.4f}<extra></extra>",
    ))  # fmt: skip
    fig.add_trace(go.Scatter(x=pb, y=pw, mode="lines", name="descent path",
                             line={"color": "red", "width": 2}))  # fmt: skip
    fig.add_trace(go.Scatter(x=[b_star], y=[w_star[j]], mode="markers", name="minimum",
                             marker={"color": "red", "symbol": "star", "size": 14}))  # fmt: skip
    fig.add_trace(go.Scatter(x=[pb[0]], y=[pw[0]], mode="markers", name="start",
                             marker={"color": "black", "size": 9}))  # fmt: skip
    fig.add_trace(go.Scatter(x=[pb[-1]], y=[pw[-1]], mode="markers", name="current",
                             marker={"color": "orange", "size": 12,
                                     "line": {"color": "black", "width": 1}}))  # fmt: skip
    fig.update_layout(
        **LAYOUT, height=480, title={"text": "Descent path" + (f" ({note})" if note else "")},
        xaxis={"title": {"text": "b"}},
        yaxis={"title": {"text": w_title(q.d, j, names)},
               **({"scaleanchor": "x", "scaleratio": 1} if hb == hw else {})},
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
    """Training and validation loss per epoch (log scale) with the current epoch marked."""
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
        xaxis={"title": {"text": "epoch"}}, yaxis=yaxis,
    )  # fmt: skip
    return _as_dict(fig)


def log_decades(*series) -> float:
    """How many powers of ten the positive, finite values of ``series`` span."""
    values = [np.asarray(s, dtype=np.float64) for s in series if s is not None]
    values = np.concatenate(values) if values else np.empty(0)
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return 0.0
    # a difference of logs: the ratio of 1e300 and 1e-10 would overflow
    return float(np.log10(values.max()) - np.log10(values.min()))
