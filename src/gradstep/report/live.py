r"""The report's live descent: the exact full-batch descent rerun in the browser.

The page carries the quadratic form of the training loss (``gram = [1,X]^T[1,X]/n``,
``xty``, the optimum and the loss there) and plain JavaScript reruns

.. math::

    g = 2\,(G\theta - c), \qquad v \leftarrow \mu v + g, \qquad \theta \leftarrow \theta - \eta v

(heavy ball with ``v = 0`` at the start, ``torch.optim.SGD(momentum=mu)``'s convention;
``mu = 0`` is the plain descent) for the learning rate, momentum, epochs and start the
reader picks. The gradient ``2 (G theta - c)`` is the plain loop's gradient summed in
another order; in float64 the iterates agree with ``gradstep.fit(engine="numpy")`` to
about 1e-15 relative (``tests/test_report_live.py`` checks 1e-9 in Chromium).

On a quadratic the heavy ball converges exactly when ``0 < eta * lambda < 2 (1 + mu)`` for
every eigenvalue ``lambda`` of the Hessian ``H = 2 G``: the plain descent diverges above
``2 / lambda_max``, which the learning-rate slider marks.
"""

from __future__ import annotations

import base64

import numpy as np

from gradstep.quadratic import QuadraticLoss
from gradstep.report.figures import LAYOUT, _as_dict, contour_trace, coord_title, plain

FAINT = {"color": "#999", "width": 1.5, "dash": "dot"}
STAR = {"color": "red", "symbol": "star", "size": 14}
MAX_LIVE_EPOCHS = 100_000
LIVE_FLOP_BUDGET = 3e8  # multiply-adds per rerun: the slider's top stays under ~0.5 s


def hessian_extremes(q: QuadraticLoss) -> tuple[float, float]:
    """``(lambda_min, lambda_max)`` of the Hessian ``2 G`` of the MSE."""
    eig = np.linalg.eigvalsh(2.0 * q.gram)
    return float(eig[0]), float(eig[-1])


def max_live_epochs(k: int, run_epochs: int) -> int:
    """The epochs slider's top: twice the run's, within a work budget of ``k^2`` per epoch."""
    budget = max(50, int(LIVE_FLOP_BUDGET // (k * k)))
    return int(max(1, min(MAX_LIVE_EPOCHS, budget, max(2 * run_epochs, 200))))


def _line_setup(q: QuadraticLoss, axes, data, star, start) -> dict:
    """What the fitted-line plot needs: the feature it runs along (the slice's w
    coordinate), its x range, the means of the features (the others sit there)."""
    j = next(k for k in axes if k > 0) - 1
    means = q.gram[0, 1:]
    if data is not None:
        xs = np.concatenate([np.asarray(data[0]).ravel(), np.asarray(data[2]).ravel()])
        x_range = [min(0.0, float(xs.min())), max(1.0, float(xs.max()))]
    else:
        sd = float(np.sqrt(max(q.gram[1 + j, 1 + j] - means[j] ** 2, 0.0))) or 1.0
        x_range = [float(means[j] - 2 * sd), float(means[j] + 2 * sd)]

    def ends(theta):
        base = theta[0] + float(np.dot(theta[1:], means)) - theta[1 + j] * means[j]
        return [base + theta[1 + j] * x for x in x_range]

    values = ends(star) + ends(start)
    if data is not None:
        values += [float(np.min(data[1])), float(np.max(data[1]))]
    lo, hi = min(values), max(values)
    pad = 0.08 * (hi - lo or 1.0)
    return {"j": int(j), "x": x_range, "y": [lo - pad, hi + pad], "means": means.tolist()}


def live_parts(q: QuadraticLoss, *, start, lr, epochs: int, axes, names, recorded=None,
               data=None, x_label: str | None = None, scaled: bool = False):  # fmt: skip
    """``(payload, figures)`` of the live descent.

    ``start`` is the full ``theta`` the descent starts from, ``lr`` and ``epochs`` the
    sliders' first values, ``axes`` the two coordinates of ``theta`` drawn, ``recorded``
    ``(theta_path, epochs, excess)`` of the run to draw faintly for comparison, and
    ``data`` the demo's ``(x_train, y_train, x_val, y_val)`` when known.
    """
    import plotly.graph_objects as go

    k = q.d + 1
    start = np.asarray(start, dtype=np.float64).reshape(k)
    star = np.r_[q.minimum()[0], q.minimum()[1]]
    lam_min, lam_max = hessian_extremes(q)
    threshold = 2.0 / lam_max
    max_epochs = max_live_epochs(k, epochs)
    p, r = axes
    u_pts = [start[p], star[p]]
    v_pts = [start[r], star[r]]
    if recorded is not None:
        u_pts += list(recorded[0][:, p])
        v_pts += list(recorded[0][:, r])
    contours, square = contour_trace(q, axes, u_pts, v_pts, names, margin=1.6)
    contours.hovertemplate = None
    contours.hoverinfo = "none"  # a click anywhere picks a start; no tooltip in the way
    u_title, v_title = coord_title(p, q.d, names), coord_title(r, q.d, names)

    surface = go.Figure()
    surface.add_trace(contours)
    if recorded is not None:
        surface.add_trace(go.Scatter(x=recorded[0][:, p], y=recorded[0][:, r], mode="lines",
                                     name="the run's path", hoverinfo="skip",
                                     line=FAINT))  # fmt: skip
    surface.add_trace(go.Scatter(x=[start[p]], y=[start[r]], mode="lines+markers",
                                 name="live path", hoverinfo="skip",
                                 line={"color": "#d62728", "width": 2},
                                 marker={"size": 3, "color": "#d62728"}))  # fmt: skip
    surface.add_trace(go.Scatter(x=[star[p]], y=[star[r]], mode="markers", name="minimum",
                                 hoverinfo="skip", marker=STAR))  # fmt: skip
    surface.add_trace(go.Scatter(x=[start[p]], y=[start[r]], mode="markers", name="start",
                                 hoverinfo="skip",
                                 marker={"color": "black", "size": 10}))  # fmt: skip
    surface.add_trace(go.Scatter(x=[start[p]], y=[start[r]], mode="markers", name="current",
                                 hoverinfo="skip",
                                 marker={"color": "orange", "size": 13,
                                         "line": {"color": "black", "width": 1}}))  # fmt: skip
    axis_u = {"title": {"text": u_title}, "range": [contours.x[0], contours.x[-1]]}
    axis_v = {"title": {"text": v_title}, "range": [contours.y[0], contours.y[-1]]}
    if square:
        axis_v.update(scaleanchor="x", scaleratio=1)
    surface.update_layout(
        **{**LAYOUT, "margin": {"l": 60, "r": 10, "t": 32, "b": 45}}, height=480,
        xaxis=axis_u, yaxis=axis_v, hovermode="closest", dragmode=False,
        legend={"x": 1, "xanchor": "right", "y": 1, "bgcolor": "rgba(255,255,255,0.85)",
                "font": {"size": 11}},
    )  # fmt: skip

    loss = go.Figure()
    if recorded is not None:
        loss.add_trace(go.Scatter(x=recorded[1], y=recorded[2], mode="lines",
                                  name="the run", hoverinfo="skip",
                                  line=FAINT))  # fmt: skip
    loss.add_trace(go.Scatter(x=[], y=[], mode="lines", name="live",
                              line={"color": "#d62728", "width": 2}))  # fmt: skip
    loss.add_trace(go.Scatter(x=[], y=[], mode="markers", name="current", hoverinfo="skip",
                              marker={"color": "orange", "size": 10,
                                      "line": {"color": "black", "width": 1}}))  # fmt: skip
    loss.update_layout(
        **{**LAYOUT, "margin": {"l": 60, "r": 10, "t": 30, "b": 40}}, height=235,
        title={"text": "Loss above the minimum", "font": {"size": 13}, "x": 0.5, "y": 0.97},
        xaxis={"title": {"text": "epoch (log)", "standoff": 2}, "type": "log"},
        yaxis={"title": {"text": "L - L* (log)"}, "type": "log", "exponentformat": "power"},
        showlegend=False,
    )  # fmt: skip

    line = _line_setup(q, axes, data, star, start)
    fitted = go.Figure()
    if data is not None:
        fitted.add_trace(go.Scatter(x=data[0], y=data[1], mode="markers", name="train",
                                    hoverinfo="skip",
                                    marker={"color": "#1f77b4", "size": 5}))  # fmt: skip
    lsq_y = _line_values(star, line)
    fitted.add_trace(go.Scatter(x=line["x"], y=lsq_y, mode="lines", name="least squares",
                                hoverinfo="skip",
                                line={"color": "#555", "dash": "dash", "width": 1}))  # fmt: skip
    fitted.add_trace(go.Scatter(x=line["x"], y=_line_values(start, line), mode="lines",
                                name="live line",
                                line={"color": "#d62728", "width": 3}))  # fmt: skip
    j_title = x_label if x_label is not None else feature_title(line["j"], names, scaled)
    title = "The fitted line"
    if q.d > 1:
        title += " along one feature (others at their mean)"
    fitted.update_layout(
        **{**LAYOUT, "margin": {"l": 60, "r": 10, "t": 30, "b": 40}}, height=235,
        title={"text": title, "font": {"size": 13}, "x": 0.5, "y": 0.97},
        xaxis={"title": {"text": j_title, "standoff": 2}, "range": line["x"]},
        yaxis={"title": {"text": "y" if q.d == 1 else "prediction"}, "range": line["y"]},
        showlegend=False,
    )  # fmt: skip

    payload = {
        "k": k,
        "gram": base64.b64encode(np.ascontiguousarray(q.gram, dtype="<f8").tobytes()).decode(),
        "xty": [float(v) for v in q.xty],
        "star": [float(v) for v in star],
        "min_loss": float(q.min_loss),
        "start": [float(v) for v in start],
        "lr": float(lr),
        "lr_max": float(max(4.0 / lam_max, 1.25 * lr)),
        "lam_max": lam_max,
        "lam_min": lam_min,
        "threshold": threshold,
        "epochs": int(min(epochs, max_epochs)),
        "max_epochs": max_epochs,
        "axes": [int(p), int(r)],
        # beyond 1e6 view half-widths from the optimum a path is no longer drawn
        "far": [1e6 * float(contours.x[-1] - star[p]), 1e6 * float(contours.y[-1] - star[r])],
        "labels": [plain_label(p, q.d, names), plain_label(r, q.d, names)],
        "line": line,
    }
    figures = {"plot-live": _as_dict(surface), "plot-live-loss": _as_dict(loss),
               "plot-live-line": _as_dict(fitted)}  # fmt: skip
    return payload, figures


def feature_title(j: int, names, scaled: bool) -> str:
    """The x axis of the line along feature ``j`` (plotly text)."""
    name = plain(names[j]) if names else f"x_{j}"
    return f"{name} (standardised)" if scaled else name


def plain_label(k: int, d: int, names) -> str:
    """Coordinate ``k``'s name as text (the page writes it with ``textContent``)."""
    if k == 0:
        return "b"
    base = "w" if d == 1 else f"w_{k - 1}"
    return f"{base} ({names[k - 1]})" if names else base


def _line_values(theta, line) -> list[float]:
    j, means = line["j"], np.asarray(line["means"])
    base = theta[0] + float(np.dot(theta[1:], means)) - theta[1 + j] * means[j]
    return [float(base + theta[1 + j] * x) for x in line["x"]]


def live_section(payload: dict, d: int, batch_note: str = "") -> str:
    """The live section's controls and plots (trusted HTML; values are numbers)."""
    p = payload
    others = "" if d == 1 else (
        " The contours are the slice over the two coordinates the run moved most, the other "
        "coefficients at their optimum; the descent itself runs in all "
        f"{d + 1} coordinates, and a click sets only these two of its start."
    )  # fmt: skip
    return f"""<p class="note">The exact full-batch descent, rerun in your browser from this
run's training statistics. Drag the sliders; click the contours to start somewhere else.{others}
{batch_note}</p>
<div class="live">
<div class="live-controls">
<div class="ctl"><label for="live-lr">learning rate</label>
<span class="track"><input type="range" id="live-lr" min="0" max="{p["lr_max"]!r}" step="any"
 value="{p["lr"]!r}" aria-describedby="live-threshold">
<i class="tick" id="live-tick" title="2/&lambda;max: the plain descent diverges above"></i>
<i class="tick momentum" id="live-tick-momentum" title="2(1+&mu;)/&lambda;max"></i></span>
<output id="live-lr-value" for="live-lr"></output></div>
<div class="ctl"><label for="live-momentum">momentum &mu;</label>
<input type="range" id="live-momentum" min="0" max="0.99" step="0.01" value="0">
<output id="live-momentum-value" for="live-momentum"></output></div>
<div class="ctl"><label for="live-epochs">epochs</label>
<input type="range" id="live-epochs" min="0" max="1000" step="1" value="1000">
<output id="live-epochs-value" for="live-epochs"></output>
<button id="live-reset" type="button">Reset</button></div>
<div class="mark" id="live-threshold"></div>
</div>
<div class="live-plots">
<div id="plot-live" class="live-main"></div>
<div class="live-side"><div id="plot-live-loss"></div><div id="plot-live-line"></div></div>
</div>
<p><output id="live-readout"></output></p>
</div>"""


LIVE_SCRIPT = r"""
(function () {
  "use strict";
  var L = null;
  function decode(text, count) {
    var raw = atob(text), view = new DataView(new ArrayBuffer(raw.length));
    for (var i = 0; i < raw.length; i++) { view.setUint8(i, raw.charCodeAt(i)); }
    var out = new Float64Array(count);
    for (var k = 0; k < count; k++) { out[k] = view.getFloat64(8 * k, true); }
    return out;
  }
  // The exact full-batch descent: g = 2 (G theta - c); v = mu v + g; theta -= lr v.
  function run(lr, momentum, epochs, start) {
    var k = L.k, G = L.G, c = L.xty, theta = Float64Array.from(start);
    var v = new Float64Array(k), g = new Float64Array(k), mu = Number(momentum);
    var path = [Array.from(theta)], diverged = null;
    for (var e = 0; e < epochs; e++) {
      for (var i = 0; i < k; i++) {
        var t = 0.0, row = i * k;
        for (var j = 0; j < k; j++) { t += G[row + j] * theta[j]; }
        g[i] = 2 * (t - c[i]);
      }
      var finite = true;
      for (var i2 = 0; i2 < k; i2++) {
        v[i2] = mu * v[i2] + g[i2];
        theta[i2] = theta[i2] - lr * v[i2];
        if (!isFinite(theta[i2])) { finite = false; }
      }
      if (!finite) { diverged = e + 1; break; }
      path.push(Array.from(theta));
    }
    return {theta: path, excess: path.map(excess), diverged: diverged};
  }
  // L(theta) - L* = delta^T G delta, free of the expanded form's cancellation
  function excess(theta) {
    var k = L.k, G = L.G, s = 0.0, d = new Float64Array(k);
    for (var i = 0; i < k; i++) { d[i] = theta[i] - L.star[i]; }
    for (var a = 0; a < k; a++) {
      var t = 0.0;
      for (var b = 0; b < k; b++) { t += G[a * k + b] * d[b]; }
      s += d[a] * t;
    }
    return Math.max(s, 0);
  }
  function lineY(theta) {
    var ln = L.line, j = ln.j, base = theta[0];
    for (var i = 0; i < L.k - 1; i++) { if (i !== j) { base += theta[1 + i] * ln.means[i]; } }
    return ln.x.map(function (x) { return base + theta[1 + j] * x; });
  }
  function index(id, name) {
    var data = document.getElementById(id).data;
    for (var i = 0; i < data.length; i++) { if (data[i].name === name) { return i; } }
    return -1;
  }
  // every one of the first 200 (where the descent moves most), then evenly spaced ones
  function thin(n, most) {
    var out = [], i;
    if (n <= most) { for (i = 0; i < n; i++) { out.push(i); } return out; }
    for (i = 0; i < 200; i++) { out.push(i); }
    for (i = 0; i < most - 200; i++) {
      var k = 200 + Math.round(i * (n - 201) / (most - 201));
      if (k > out[out.length - 1]) { out.push(k); }
    }
    return out;
  }
  var state = null, el = {}, pending = false;
  function epochsFromSlider(pos) {
    return Math.max(1, Math.round(Math.pow(L.max_epochs, Number(pos) / 1000)));
  }
  function sliderFromEpochs(n) {
    return L.max_epochs > 1 ? Math.round(1000 * Math.log(n) / Math.log(L.max_epochs)) : 1000;
  }
  function fmt(v) { return Number(v).toPrecision(6); }
  function draw() {
    pending = false;
    var res = run(state.lr, state.momentum, state.epochs, state.start);
    var p = L.axes[0], r = L.axes[1], n = res.theta.length, last = res.theta[n - 1];
    // draw up to the first point far outside the view (SVG cannot draw 1e300)
    var shown = n;
    for (var m = 0; m < n; m++) {
      if (Math.abs(res.theta[m][p] - L.star[p]) > L.far[0] ||
          Math.abs(res.theta[m][r] - L.star[r]) > L.far[1] || !(res.excess[m] < 1e200)) {
        shown = Math.max(m, 1); break;
      }
    }
    var keep = thin(shown, 2000), end = res.theta[shown - 1];
    var us = keep.map(function (i) { return res.theta[i][p]; });
    var vs = keep.map(function (i) { return res.theta[i][r]; });
    Plotly.restyle("plot-live", {x: [us], y: [vs]}, [index("plot-live", "live path")]);
    Plotly.restyle("plot-live", {x: [[state.start[p]]], y: [[state.start[r]]]},
                   [index("plot-live", "start")]);
    Plotly.restyle("plot-live", {x: [[end[p]]], y: [[end[r]]]}, [index("plot-live", "current")]);
    var ks = thin(shown - 1, 2000).map(function (i) { return i + 1; });
    Plotly.restyle("plot-live-loss", {x: [ks], y: [ks.map(function (i) { return res.excess[i]; })]},
                   [index("plot-live-loss", "live")]);
    Plotly.restyle("plot-live-loss", {x: [shown > 1 ? [shown - 1] : []],
                                      y: [shown > 1 ? [res.excess[shown - 1]] : []]},
                   [index("plot-live-loss", "current")]);
    Plotly.restyle("plot-live-line", {y: [lineY(end)]}, [index("plot-live-line", "live line")]);
    var bound = 2 * (1 + state.momentum) / L.lam_max;
    var lam = "\u03bb\u2098\u2090\u2093";
    el.lrValue.textContent = fmt(state.lr);
    el.threshold.textContent = "= " + (state.lr * L.lam_max / 2).toFixed(3) + " \u00d7 2/" + lam +
      "; plain descent diverges above 2/" + lam + " = " + fmt(L.threshold) +
      (state.momentum > 0 ? ", with \u03bc: 2(1+\u03bc)/" + lam + " = " + fmt(bound) : "");
    tick(el.tickPlain, L.threshold);
    tick(el.tickMomentum, state.momentum > 0 ? bound : null);
    el.muValue.textContent = String(state.momentum);
    el.epochsValue.textContent = String(state.epochs);
    var grows = res.diverged === null && n > 1 && res.excess[n - 1] > res.excess[0];
    var text = (res.diverged !== null ? "DIVERGED: not finite at epoch " + res.diverged + ". " :
                grows ? "DIVERGES: the loss grew from the start. " : "") +
      "after " + (n - 1) + " epoch(s): " + L.labels[0] + " = " + fmt(last[p]) + ", " +
      L.labels[1] + " = " + fmt(last[r]) + ", loss = " + fmt(L.min_loss + res.excess[n - 1]) +
      ", above the minimum by " + Number(res.excess[n - 1]).toExponential(3);
    el.readout.textContent = text;
    state.result = res;
  }
  function tick(node, value) {
    var frac = value === null ? -1 : value / Number(el.lr.max);
    node.style.display = frac >= 0 && frac <= 1 ? "block" : "none";
    node.style.left = "calc(8px + (100% - 16px) * " + Math.max(0, Math.min(1, frac)) + ")";
  }
  function schedule() {
    if (!pending) { pending = true; window.requestAnimationFrame(draw); }
  }
  function set(opts) {
    opts = opts || {};
    if (opts.lr !== undefined) { state.lr = Number(opts.lr); el.lr.value = state.lr; }
    if (opts.momentum !== undefined) {
      state.momentum = Number(opts.momentum); el.mu.value = state.momentum;
    }
    if (opts.epochs !== undefined) {
      state.epochs = Math.max(1, Math.min(L.max_epochs, Math.round(opts.epochs)));
      el.epochs.value = sliderFromEpochs(state.epochs);
    }
    if (opts.start !== undefined) { state.start = Array.from(opts.start).map(Number); }
    draw();
    return snapshot();
  }
  function snapshot() {
    return {lr: state.lr, momentum: state.momentum, epochs: state.epochs,
            start: state.start.slice(), axes: L.axes.slice(), threshold: L.threshold,
            lam_max: L.lam_max, max_epochs: L.max_epochs,
            diverged: state.result ? state.result.diverged : null};
  }
  function reset() {
    set({lr: L.lr, momentum: 0, epochs: L.epochs, start: L.start});
  }
  function pick(ev) {
    var gd = document.getElementById("plot-live"), fl = gd._fullLayout;
    var x = null, y = null;
    var drag = gd.querySelector(".nsewdrag");
    if (ev && ev.event && drag) {
      var box = drag.getBoundingClientRect();
      x = fl.xaxis.p2c(ev.event.clientX - box.left);
      y = fl.yaxis.p2c(ev.event.clientY - box.top);
    }
    if (!(isFinite(x) && isFinite(y)) && ev && ev.points && ev.points.length) {
      x = ev.points[0].x; y = ev.points[0].y;
    }
    if (!(isFinite(x) && isFinite(y))) { return; }
    var start = state.start.slice();
    start[L.axes[0]] = x; start[L.axes[1]] = y;
    set({start: start});
  }
  function init(D) {
    if (!D.live) { return; }
    L = D.live;
    L.G = decode(L.gram, L.k * L.k);
    ["lr", "mu", "epochs", "lrValue", "muValue", "epochsValue", "threshold", "readout",
     "tickPlain", "tickMomentum"].forEach(function (key, i) {
      el[key] = document.getElementById(["live-lr", "live-momentum", "live-epochs",
        "live-lr-value", "live-momentum-value", "live-epochs-value", "live-threshold",
        "live-readout", "live-tick", "live-tick-momentum"][i]);
    });
    state = {lr: L.lr, momentum: 0, epochs: L.epochs, start: L.start.slice(), result: null};
    el.epochs.value = sliderFromEpochs(L.epochs);
    el.lr.addEventListener("input", function () { state.lr = Number(el.lr.value); schedule(); });
    el.mu.addEventListener("input", function () {
      state.momentum = Number(el.mu.value); schedule();
    });
    el.epochs.addEventListener("input", function () {
      state.epochs = epochsFromSlider(el.epochs.value); schedule();
    });
    document.getElementById("live-reset").addEventListener("click", reset);
    document.getElementById("plot-live").on("plotly_click", pick);
    window.gradstepLive = {
      run: function (lr, momentum, epochs, start) {
        var res = run(Number(lr), Number(momentum), Math.round(epochs),
                      start || state.start);
        return {theta: res.theta, excess: res.excess, diverged: res.diverged};
      },
      set: set, state: snapshot, reset: reset,
    };
    draw();
  }
  (window.gradstepOnReady = window.gradstepOnReady || []).push(init);
})();
"""
