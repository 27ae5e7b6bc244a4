r"""The report's lessons beside the live descent: slopes, feature scaling, batch paths.

All three are drawn from the training loss's quadratic form (a run folder keeps no rows):

* **Slopes.** Along one coordinate through the start the loss is the parabola
  :math:`f(p_0 + t) = f(p_0) + g\,t + G_{ii}\,t^2`; the tangent's slope is the analytic
  partial derivative :math:`g`, a forward difference over a step :math:`\delta` is
  :math:`g + G_{ii}\delta`. The page recomputes the secant for the step the reader sets.
* **Feature scaling.** With :math:`A_s = A_o M`, :math:`M = [[1, -\mu^\top/\sigma],
  [0, \mathrm{diag}(1/\sigma)]]` (standardised features :math:`z = (x - \mu)/\sigma`), the
  two forms are :math:`G_s = M^\top G_o M`, :math:`c_s = M^\top c_o`, and
  :math:`\theta_o = M\theta_s`; the same start, the same number of full-batch steps at each
  form's own rate :math:`1/\lambda_{max}` (half its divergence threshold).
* **Paths.** The per-update path a folder records in ``steps.csv`` (or the demo's batch,
  mini-batch and stochastic descents) on the loss contours.
"""

from __future__ import annotations

import numpy as np

from gradstep.quadratic import QuadraticLoss
from gradstep.report.figures import LAYOUT, _as_dict, contour_scale, coord_title, plain
from gradstep.report.slices import pair_grid

SCALING_STEPS = 40
LESSON_GRID = 61  # contour grid of the lesson plots (coarser than the main ones: size)
MAX_PATH_POINTS = 4000


def _rounded(values, digits: int = 6) -> list:
    """Contour values to ``digits`` significant digits: lines need no more, and the page
    stays small."""
    arr = np.asarray(values, dtype=np.float64)
    return [[float(f"{v:.{digits}g}") for v in row] for row in arr]


def light_contours(q: QuadraticLoss, axes, u, v, margin: float = 1.15, name="loss contours"):
    """A small contour trace of the slice over ``axes`` holding the points ``u``, ``v`` (no
    hover data), and whether its grid is square."""
    import plotly.graph_objects as go

    u_axis, v_axis, losses = pair_grid(q, axes, u, v, margin=margin, num=LESSON_GRID)
    square = bool(np.isclose(u_axis[-1] - u_axis[0], v_axis[-1] - v_axis[0], rtol=1e-12))
    z, lo, hi = contour_scale(losses - q.min_loss, log=not square)
    trace = go.Contour(
        x=[float(f"{x:.10g}") for x in u_axis], y=[float(f"{y:.10g}") for y in v_axis],
        z=_rounded(z), colorscale="Viridis", showscale=False, name=name, hoverinfo="skip",
        contours={"coloring": "lines", "start": lo, "end": hi, "size": (hi - lo) / 17},
        line={"width": 1.2},
    )  # fmt: skip
    return trace, square


# -- slopes ---------------------------------------------------------------------------
def slope_parts(q: QuadraticLoss, start, axes, names) -> tuple[dict, dict]:
    """``(payload, figures)`` of the slope lesson: one cross-section through ``start`` per
    coordinate in ``axes``, with the tangent and a forward-difference secant."""
    import plotly.graph_objects as go

    start = np.asarray(start, dtype=np.float64)
    grad = 2.0 * (q.gram @ start - q.xty)
    loss0 = float(q.loss_theta(start))
    panels, figures = [], {}
    for n, k in enumerate(axes):
        curv = float(q.gram[k, k])
        g = float(grad[k])
        p0 = float(start[k])
        to_min = abs(g) / (2 * curv) if curv > 0 else 0.0
        half = max(1.5 * to_min, 1e-3 * max(1.0, abs(p0)), 1.0 if to_min == 0 else 0.0)
        if g > 0:
            xs = np.linspace(p0 - half, p0 + 0.6 * half, 121)
        else:
            xs = np.linspace(p0 - 0.6 * half, p0 + half, 121)
        ts = xs - p0
        curve = loss0 + g * ts + curv * ts**2
        delta = 0.5 * half
        label = coord_title(k, q.d, names)
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=xs, y=curve, mode="lines", name="loss along " + label,
                                 line={"color": "#1f77b4", "width": 2}))  # fmt: skip
        fig.add_trace(go.Scatter(x=[xs[0], xs[-1]], y=[loss0 + g * ts[0], loss0 + g * ts[-1]],
                                 mode="lines", name="tangent (analytic)",
                                 line={"color": "#d62728", "width": 2}))  # fmt: skip
        fwd = g + curv * delta
        fig.add_trace(go.Scatter(x=[xs[0], xs[-1]],
                                 y=[loss0 + fwd * ts[0], loss0 + fwd * ts[-1]], mode="lines",
                                 name="secant", line={"color": "#ff7f0e", "dash": "dash",
                                                      "width": 2}))  # fmt: skip
        fig.add_trace(go.Scatter(x=[p0, p0 + delta], y=[loss0, loss0 + g * delta + curv * delta**2],
                                 mode="markers", name="secant points",
                                 marker={"color": "#ff7f0e", "size": 9,
                                         "line": {"color": "black", "width": 1}}))  # fmt: skip
        fig.add_trace(go.Scatter(x=[p0], y=[loss0], mode="markers", name="start",
                                 marker={"color": "black", "size": 9}))  # fmt: skip
        low, high = float(curve.min()), float(curve.max())
        pad = 0.12 * (high - low or 1.0)
        fig.update_layout(
            **{**LAYOUT, "margin": {"l": 60, "r": 10, "t": 40, "b": 45}}, height=360,
            title={"text": f"The loss along {label} through the start", "font": {"size": 14}},
            xaxis={"title": {"text": label, "standoff": 4}, "range": [xs[0], xs[-1]]},
            yaxis={"title": {"text": "loss (MSE)"}, "range": [low - pad, high + pad]},
            legend={"x": 0.5, "xanchor": "center", "y": 1, "bgcolor": "rgba(255,255,255,0.8)",
                    "font": {"size": 10}},
        )  # fmt: skip
        figures[f"plot-slope-{n}"] = _as_dict(fig)
        panels.append({"id": f"plot-slope-{n}", "p0": p0, "loss0": loss0, "grad": g,
                       "curv": curv, "x": [float(xs[0]), float(xs[-1])], "half": half,
                       "label": _text_label(k, q.d, names)})  # fmt: skip
    return {"panels": panels}, figures


def _text_label(k: int, d: int, names) -> str:
    from gradstep.report.live import plain_label

    return plain_label(k, d, names)


def slope_section(payload: dict) -> str:
    """The slope lesson's controls and plots (trusted HTML)."""
    plots = "".join(f'<div id="{p["id"]}" class="plot lesson-plot"></div>'
                    for p in payload["panels"])  # fmt: skip
    return f"""<p class="note">The gradient is the slope of the loss along one parameter, all
the others held where the descent started. Red: the tangent, whose slope is the analytic partial
derivative. Orange: the secant through the start and a point a step &delta; further, whose slope
is the forward difference (L(p + &delta;) &minus; L(p)) / &delta;. Shrink the step: the secant
turns into the tangent (on a parabola the forward difference is off by exactly curvature
&times; &delta;, and a central difference is exact), until rounding takes over at the
tiniest steps.</p>
<div class="controls lesson-controls"><label for="slope-delta">step &delta; (log scale)</label>
<input type="range" id="slope-delta" min="0" max="1000" step="1" value="1000">
<output id="slope-delta-value" for="slope-delta"></output></div>
<div class="row">{plots}</div>
<p><output id="slope-readout" class="lesson-readout"></output></p>"""


# -- feature scaling -----------------------------------------------------------------------
def _scaling_matrix(mean, scale) -> np.ndarray:
    """``M`` with ``theta_o = M theta_s`` (``A_s = A_o M``)."""
    k = len(mean) + 1
    m = np.eye(k)
    m[0, 1:] = -np.asarray(mean) / np.asarray(scale)
    m[1:, 1:] = np.diag(1.0 / np.asarray(scale))
    return m


def _transform(q: QuadraticLoss, m: np.ndarray) -> QuadraticLoss:
    """The form of the design ``A m``: ``G' = m^T G m``, ``c' = m^T c``."""
    return QuadraticLoss(q.n, m.T @ q.gram @ m, m.T @ q.xty, q.yty)


def scaling_forms(q: QuadraticLoss, scaler: dict | None):
    """``(original, standardised, m)``: the two forms and ``m`` with ``theta_o = m theta_s``.

    ``scaler`` is ``model.json``'s (the descent ran on standardised features and ``q`` is
    their form), or None (``q`` is the original features' form; the standardisation is
    derived from it: the means and population standard deviations of the training rows).
    """
    if scaler:
        mean = np.asarray(scaler["mean"], dtype=np.float64)
        scale = np.asarray(scaler["scale"], dtype=np.float64)
        m = _scaling_matrix(mean, scale)
        return _transform(q, np.linalg.inv(m)), q, m
    mean = q.gram[0, 1:].copy()
    var = np.diag(q.gram)[1:] - mean**2
    scale = np.sqrt(np.maximum(var, 0.0))
    scale = np.where(scale > 4 * np.finfo(float).eps * np.abs(mean), scale, 1.0)
    m = _scaling_matrix(mean, scale)
    return q, _transform(q, m), m


def plain_steps(q: QuadraticLoss, theta0, lr: float, steps: int) -> np.ndarray:
    """``steps`` full-batch descent steps ``theta -= lr 2 (G theta - c)`` from ``theta0``."""
    path = [np.asarray(theta0, dtype=np.float64).copy()]
    theta = path[0].copy()
    for _ in range(steps):
        theta = theta - lr * 2.0 * (q.gram @ theta - q.xty)
        path.append(theta.copy())
    return np.array(path)


def scaling_parts(q: QuadraticLoss, scaler, start, axes, names, scaled: bool):
    """``(payload, figures)``: contours and :data:`SCALING_STEPS` steps on the original and
    the standardised features; the page shows one and toggles to the other."""
    import plotly.graph_objects as go

    orig, std, m = scaling_forms(q, scaler if scaled else None)
    start = np.asarray(start, dtype=np.float64)
    starts = {"standardised": start, "original": m @ start} if scaled else \
        {"original": start, "standardised": np.linalg.solve(m, start)}  # fmt: skip
    views, figs = {}, {}
    p, r = axes
    for key, form in (("original", orig), ("standardised", std)):
        eig = np.linalg.eigvalsh(2.0 * form.gram)
        lam_min, lam_max = max(float(eig[0]), 0.0), float(eig[-1])
        lr = 1.0 / lam_max
        path = plain_steps(form, starts[key], lr, SCALING_STEPS)
        excess = [float(form.loss_theta(t) - form.min_loss) for t in (path[0], path[-1])]
        star = np.r_[form.minimum()[0], form.minimum()[1]]
        contours, square = light_contours(form, axes, path[:, p], path[:, r])
        fig = go.Figure([contours])
        fig.add_trace(go.Scatter(x=path[:, p], y=path[:, r], mode="lines+markers",
                                 name=f"{SCALING_STEPS} steps at lr {lr:.3g}",
                                 line={"color": "#d62728", "width": 2},
                                 marker={"size": 4}))  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=[star[p]],
                y=[star[r]],
                mode="markers",
                name="minimum",
                marker={"color": "red", "symbol": "star", "size": 14},
            )
        )
        fig.add_trace(go.Scatter(x=[path[0, p]], y=[path[0, r]], mode="markers", name="start",
                                 marker={"color": "black", "size": 9}))  # fmt: skip
        what = "original features" if key == "original" else "standardised features"
        fig.update_layout(
            **{**LAYOUT, "margin": {"l": 60, "r": 10, "t": 40, "b": 45}}, height=440,
            title={"text": f"The loss on the {what}", "font": {"size": 14}},
            xaxis={"title": {"text": coord_title(p, q.d, names) + f" ({key})"}},
            yaxis={"title": {"text": coord_title(r, q.d, names) + f" ({key})"},
                   **({"scaleanchor": "x", "scaleratio": 1} if square else {})},
            legend={"x": 1, "xanchor": "right", "y": 1, "bgcolor": "rgba(255,255,255,0.85)",
                    "font": {"size": 10}},
        )  # fmt: skip
        figs[key] = _as_dict(fig)
        cond = lam_max / lam_min if lam_min > 0 else float("inf")
        views[key] = {"lr": lr, "condition": cond, "excess": excess, "steps": SCALING_STEPS,
                      "end": [float(v) for v in path[-1]]}  # fmt: skip
    first = "standardised" if scaled else "original"
    payload = {"views": views, "figures": figs, "first": first,
               "ran_on": "standardised" if scaled else "original"}  # fmt: skip
    return payload, {"plot-scaling": figs[first]}


def scaling_section(payload: dict, d: int) -> str:
    ran = payload["ran_on"]
    others = "" if d == 1 else (
        " The contours are the slice over the two coordinates shown, the others at their "
        "optimum; the steps run in all coordinates."
    )  # fmt: skip
    checks = "".join(
        f'<label><input type="radio" name="scaling-view" value="{key}"'
        f"{' checked' if key == payload['first'] else ''}> {key} features</label>"
        for key in ("original", "standardised")
    )
    return f"""<p class="note">The same loss written for the original features and for the
standardised ones (z = (x &minus; mean) / sd, from the training rows), this run's start mapped
between the two, and {SCALING_STEPS} full-batch steps on each at its own rate 1/&lambda;max
(half its divergence threshold). This run descended on the {ran} features.{others}</p>
<div class="controls lesson-controls" role="radiogroup" aria-label="features">{checks}</div>
<div id="plot-scaling" class="plot lesson-plot"></div>
<p><output id="scaling-readout" class="lesson-readout"></output></p>"""


# -- batch, mini-batch and stochastic paths ----------------------------------------------------
def paths_figure(q: QuadraticLoss, paths: dict, axes, names, unit_note: str) -> dict:
    """The recorded ``paths`` (label -> theta rows, the first the start) on one contour plot."""
    import plotly.graph_objects as go

    p, r = axes
    thetas = [np.asarray(t, dtype=np.float64) for t in paths.values()]
    points = np.vstack(thetas)
    contours, square = light_contours(q, axes, points[:, p], points[:, r])
    fig = go.Figure([contours])
    colors = ("#d62728", "#ff7f0e", "#9467bd", "#8c564b")
    for i, (label, theta) in enumerate(zip(paths, thetas, strict=True)):
        if len(theta) > MAX_PATH_POINTS:
            theta = theta[np.linspace(0, len(theta) - 1, MAX_PATH_POINTS).round().astype(int)]
        fig.add_trace(go.Scatter(x=theta[:, p], y=theta[:, r], mode="lines",
                                 name=plain(label), line={"color": colors[i % 4],
                                                          "width": 1.5}))  # fmt: skip
    star = np.r_[q.minimum()[0], q.minimum()[1]]
    fig.add_trace(
        go.Scatter(
            x=[star[p]],
            y=[star[r]],
            mode="markers",
            name="minimum",
            marker={"color": "red", "symbol": "star", "size": 14},
        )
    )
    first = thetas[0][0]
    fig.add_trace(go.Scatter(x=[first[p]], y=[first[r]], mode="markers", name="start",
                             marker={"color": "black", "size": 9}))  # fmt: skip
    fig.update_layout(
        **{**LAYOUT, "margin": {"l": 60, "r": 10, "t": 40, "b": 45}}, height=480,
        title={"text": "Paths on the loss contours" + unit_note, "font": {"size": 14}},
        xaxis={"title": {"text": coord_title(p, q.d, names)}},
        yaxis={"title": {"text": coord_title(r, q.d, names)},
               **({"scaleanchor": "x", "scaleratio": 1} if square else {})},
        legend={"x": 1, "xanchor": "right", "y": 1, "bgcolor": "rgba(255,255,255,0.85)",
                "font": {"size": 10}},
    )  # fmt: skip
    return _as_dict(fig)


LESSONS_SCRIPT = r"""
(function () {
  "use strict";
  function index(id, name) {
    var data = document.getElementById(id).data;
    for (var i = 0; i < data.length; i++) { if (data[i].name === name) { return i; } }
    return -1;
  }
  function fmt(v) { return Number(v).toPrecision(6); }
  function initSlopes(S) {
    var slider = document.getElementById("slope-delta");
    var smallest = 1e-9;
    function delta(panel, pos) {  // from 1e-9 to 1 of the panel's half-width, log scale
      return panel.half * Math.pow(10, Math.log10(smallest) * (1 - Number(pos) / 1000));
    }
    function draw() {
      var lines = [];
      S.panels.forEach(function (P) {
        var d = delta(P, slider.value);
        var f1 = P.loss0 + P.grad * d + P.curv * d * d;  // the parabola at p0 + d
        var fm = P.loss0 - P.grad * d + P.curv * d * d;  // and at p0 - d
        var forward = (f1 - P.loss0) / d, central = (f1 - fm) / (2 * d);
        var x0 = P.x[0] - P.p0, x1 = P.x[1] - P.p0;
        Plotly.restyle(P.id, {y: [[P.loss0 + forward * x0, P.loss0 + forward * x1]]},
                       [index(P.id, "secant")]);
        Plotly.restyle(P.id, {x: [[P.p0, P.p0 + d]], y: [[P.loss0, f1]]},
                       [index(P.id, "secant points")]);
        lines.push("along " + P.label + ": analytic " + fmt(P.grad) + ", forward difference " +
                   fmt(forward) + " (off by " + Number(forward - P.grad).toExponential(2) +
                   "), central " + fmt(central));
        P.forward = forward; P.delta = d;
      });
      document.getElementById("slope-delta-value").textContent =
        S.panels.map(function (P) {
          return "\u03b4 along " + P.label + " = " + Number(P.delta).toExponential(2);
        })
          .join(", ");
      document.getElementById("slope-readout").textContent = lines.join("\n");
    }
    slider.addEventListener("input", draw);
    slider.value = 1000 - Math.round(1000 * Math.log10(0.5) / Math.log10(smallest));
    draw();
    window.gradstepSlopes = {
      set: function (pos) { slider.value = pos; draw(); },
      state: function () {
        return S.panels.map(function (P) { return {delta: P.delta, forward: P.forward,
                                                   grad: P.grad, curv: P.curv}; });
      },
    };
  }
  function initScaling(C) {
    var shown = C.first;
    function show(key) {
      var fig = C.figures[key], v = C.views[key];
      shown = key;
      return Plotly.react("plot-scaling", fig.data, fig.layout).then(function () {
        var o = C.views.original, s = C.views.standardised;
        document.getElementById("scaling-readout").textContent =
          key + " features: condition number " + fmt(v.condition) + ", lr = 1/\u03bbmax = " +
          fmt(v.lr) + "; after " + v.steps + " steps the loss is above its minimum by " +
          Number(v.excess[1]).toExponential(3) + " (from " + Number(v.excess[0]).toExponential(3) +
          "). Other view: " + (key === "original" ? "standardised" : "original") +
          " features, " + Number((key === "original" ? s : o).excess[1]).toExponential(3) + ".";
      });
    }
    document.querySelectorAll("input[name=scaling-view]").forEach(function (input) {
      input.addEventListener("change", function () { if (input.checked) { show(input.value); } });
    });
    show(shown);
    window.gradstepScaling = {
      show: function (key) {
        document.querySelector("input[name=scaling-view][value=" + key + "]").checked = true;
        return show(key);
      },
      state: function () { return shown; },
    };
  }
  function init(D) {
    if (D.lessons && D.lessons.slopes) { initSlopes(D.lessons.slopes); }
    if (D.lessons && D.lessons.scaling) { initScaling(D.lessons.scaling); }
  }
  (window.gradstepOnReady = window.gradstepOnReady || []).push(init);
})();
"""
