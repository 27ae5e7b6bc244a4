"""The report page: HTML around the data, with plotly.js embedded (no network).

Everything user-supplied goes through :func:`esc` (HTML text and attributes) or
:func:`script_json` (JSON inside a ``<script>`` element, where ``<``, ``>`` and
``&`` are written as ``\\u003c`` etc., so no string can close the element).
"""

from __future__ import annotations

import base64
import html
import json

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       color: #222; background: #fafafa; line-height: 1.45; }
header { background: #1f3b57; color: #fff; padding: 1.2rem 2rem; }
header h1 { margin: 0 0 .3rem 0; font-size: 1.6rem; }
header p { margin: 0; opacity: .85; }
nav { padding: .5rem 2rem; background: #e8eef4; font-size: .95rem; }
nav a { margin-right: 1rem; color: #1f3b57; }
main { padding: 0 2rem 3rem 2rem; max-width: 1400px; }
section { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 1rem 1.4rem;
          margin: 1.2rem 0; }
h2 { margin-top: 0; font-size: 1.25rem; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .93rem; }
th, td { border: 1px solid #ddd; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f0f3f6; }
td.num { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; text-align: right; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; }
.row { display: flex; flex-wrap: wrap; gap: 1rem; }
.row > .plot { flex: 1 1 520px; min-width: 0; }
.plot { min-height: 380px; }
.controls { display: flex; align-items: center; gap: 1rem; flex-wrap: wrap; margin: .5rem 0; }
.controls input[type=range] { flex: 1 1 400px; }
#epoch-readout { white-space: pre-wrap; font-family: ui-monospace, Menlo, monospace;
                 background: #f4f6f8; padding: .3rem .6rem; border-radius: 4px; }
.note { color: #555; font-size: .9rem; }
.graph img { max-width: 100%; height: auto; }
#live h2 { margin-bottom: .2rem; }
#live > .note { margin: 0 0 .3rem 0; }
.live-controls { display: grid; gap: .1rem 1.2rem; align-items: center; font-size: .9rem;
                 grid-template-columns: minmax(0, 1.2fr) minmax(0, 1fr) minmax(0, 1fr); }

.live-controls .ctl { display: flex; align-items: center; gap: .5rem; white-space: nowrap; }
.live-controls label { font-weight: 600; }
.live-controls .track { position: relative; flex: 1 1 auto; display: flex; min-width: 90px; }
.live-controls .track input { width: 100%; margin: 0; }
.live-controls input[type=range] { flex: 1 1 auto; min-width: 90px; }
.live-controls .tick { position: absolute; top: -3px; bottom: -3px; width: 3px; margin-left: -1px;
                       background: #c62828; pointer-events: none; }
.live-controls .tick.momentum { background: #ef8c00; }
.live-controls output { font-family: ui-monospace, Menlo, monospace; font-size: .85rem; }
.live-controls .mark { grid-column: 1 / -1; color: #a33; font-size: .82rem; }
.live-plots { display: grid; grid-template-columns: minmax(0, 1.3fr) minmax(0, 1fr); gap: .6rem;
              margin-top: .3rem; }
.live-main { min-height: 470px; cursor: crosshair; }
.live-side > div { min-height: 235px; }
#live-readout { display: block; font-family: ui-monospace, Menlo, monospace; font-size: .82rem;
                background: #f4f6f8; padding: .25rem .5rem; border-radius: 4px; }
.lesson-controls { margin: .3rem 0; }
.lesson-controls input[type=range] { flex: 1 1 400px; }
.lesson-controls label { font-weight: 600; }
.lesson-plot { min-height: 360px; }
.lesson-readout { display: block; white-space: pre-wrap; font-family: ui-monospace, Menlo,
                  monospace; font-size: .82rem; background: #f4f6f8; padding: .25rem .5rem;
                  border-radius: 4px; }
#slopes .row > .plot, #optimizers .row > .plot { flex: 1 1 480px; }
@media (max-width: 900px) {
  .live-controls, .live-plots { grid-template-columns: minmax(0, 1fr); }
}
"""

# The page's script: draw every figure, then let the slider move the current
# point (surface, contours, loss curve) and the fitted line together.
SCRIPT = """
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("gradstep-data").textContent);
  var P = D.path;
  var config = {displaylogo: false, responsive: true};
  var drawn = [];
  Object.keys(D.figures).forEach(function (id) {
    var fig = D.figures[id];
    drawn.push(Plotly.newPlot(id, fig.data, fig.layout, config));
  });
  function traceIndex(id, name) {
    var data = document.getElementById(id).data || [];
    for (var i = 0; i < data.length; i++) { if (data[i].name === name) return i; }
    return -1;
  }
  function fmt(v) { return Number(v).toPrecision(8); }
  function show(k) {
    var b = P.b[k], wj = P.w[k], loss = P.loss[k], u = P.u[k], v = P.v[k];
    if (D.figures["plot-surface"]) {
      Plotly.restyle("plot-surface", {x: [[u]], y: [[v]], z: [[loss]]},
                     [traceIndex("plot-surface", "current")]);
    }
    if (D.figures["plot-path"]) {
      Plotly.restyle("plot-path", {x: [[u]], y: [[v]]}, [traceIndex("plot-path", "current")]);
    }
    if (D.figures["plot-excess"] && P.epoch[k] >= 1) {
      Plotly.restyle("plot-excess", {x: [[P.epoch[k]]], y: [[P.excess[k]]]},
                     [traceIndex("plot-excess", "current")]);
    }
    if (D.figures["plot-line"]) {
      var xs = D.line_x;
      Plotly.restyle("plot-line", {x: [xs], y: [[b + wj * xs[0], b + wj * xs[1]]]},
                     [traceIndex("plot-line", "current line")]);
    }
    if (D.figures["plot-losses"] && P.epoch[k] >= 1) {
      Plotly.restyle("plot-losses", {x: [[P.epoch[k]]], y: [[loss]]},
                     [traceIndex("plot-losses", "current")]);
    }
    var text = "epoch " + P.epoch[k] + " of " + P.epoch[P.epoch.length - 1] +
               ":  b = " + fmt(b);
    if (P.w_all) {
      P.w_all[k].forEach(function (v, i) {
        text += ",  " + (P.w_all[k].length === 1 ? "w" : "w_" + i) + " = " + fmt(v);
      });
    } else {
      text += ",  " + D.w_name + " = " + fmt(wj);
    }
    text += ",  loss = " + (loss === null ? "n/a" : fmt(loss));
    document.getElementById("epoch-readout").textContent = text;
    document.getElementById("epoch-slider").setAttribute("aria-valuetext", text);
  }
  var slider = document.getElementById("epoch-slider");
  var button = document.getElementById("play");
  var timer = null;
  function stop() { clearInterval(timer); timer = null; button.textContent = "Play"; }
  slider.addEventListener("input", function () { stop(); show(Number(slider.value)); });
  button.addEventListener("click", function () {
    if (timer) { stop(); return; }
    if (Number(slider.value) >= Number(slider.max)) { slider.value = 0; }
    button.textContent = "Pause";
    var stride = Math.max(1, Math.round(Number(slider.max) / 200));
    timer = setInterval(function () {
      var k = Math.min(Number(slider.max), Number(slider.value) + stride);
      slider.value = k;
      show(k);
      if (k >= Number(slider.max)) { stop(); }
    }, 50);
  });
  Promise.all(drawn).then(function () {
    show(Number(slider.value));
    (window.gradstepOnReady || []).forEach(function (f) { f(D); });
    document.body.setAttribute("data-ready", "1");
  });
})();
"""


def esc(value) -> str:
    """HTML-escape any value (text and attribute values alike)."""
    return html.escape(str(value), quote=True)


def script_json(payload) -> str:
    """JSON that is safe inside ``<script type="application/json">``."""
    text = json.dumps(payload, allow_nan=False, separators=(",", ":"))
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                       ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(char, code)
    return text


def _is_number(text) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return True


def table(rows, header=None, numeric_from: int = 1) -> str:
    """An HTML table of escaped cells; numbers from column ``numeric_from`` on align right."""
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = [
            f'<td class="num">{esc(c)}</td>'
            if i >= numeric_from and _is_number(c)
            else f"<td>{esc(c)}</td>"
            for i, c in enumerate(row)
        ]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def image_data_uri(payload: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{esc(anchor)}">\n<h2>{esc(title)}</h2>\n{body}\n</section>'


def page(title: str, subtitle: str, sections: list[tuple[str, str, str]], data: dict,
         scripts: tuple[str, ...] = ()) -> str:  # fmt: skip
    """The whole page. ``sections`` are ``(anchor, title, trusted body HTML)``; ``scripts``
    are trusted scripts run before the page's own (they may register
    ``window.gradstepOnReady`` callbacks, called with the data once every plot is drawn)."""
    for script in scripts:
        if "</script" in script.lower():
            raise RuntimeError("a report script contains '</script'")
    extra = "".join(f"<script>{s}</script>\n" for s in scripts)
    import plotly.offline

    plotly_js = plotly.offline.get_plotlyjs()
    if "</script" in plotly_js.lower():  # cannot happen with plotly's build; never emit it
        raise RuntimeError("plotly.js contains '</script'; cannot embed it inline")
    nav = " ".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t, _ in sections)
    body = "\n".join(section(a, t, b) for a, t, b in sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="gradstep">
<title>{esc(title)}</title>
<style>{CSS}</style>
<script>{plotly_js}</script>
</head>
<body>
<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>
<nav>{nav}</nav>
<main>
{body}
</main>
<script id="gradstep-data" type="application/json">{script_json(data)}</script>
{extra}<script>{SCRIPT}</script>
</body>
</html>
"""
