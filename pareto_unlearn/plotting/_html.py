"""A self-contained HTML page of the explorer: plotly.js embedded, a small script for the linked views.

The page works offline with no kernel (nothing is fetched: no ``<script src>``, no CDN, no MathJax), so
a result can be mailed or attached to a paper's supplement. Hovering a point shows its solver, space,
hyper-parameters, objectives, metrics and gap to Retrain (flagged as evaluation only) in the hover label
and in the "Point" panel; selecting points (click, shift-click, box or lasso) in any view highlights the
same points in every view and lists them in the table; the legend shows or hides a solver; "non-dominated
only" and a constraint (``RA >= 99``) filter the points.

Examples
--------
A run directory (``prepare_explorer_data("runs/demo")``) or, as here, a Front; needs plotly (the
``jupyter`` extra; pytest skips the example without it):

>>> import numpy as np, pytest
>>> _ = pytest.importorskip("plotly")
>>> from pareto_unlearn.front import Front
>>> from pareto_unlearn.plotting._data import prepare_explorer_data
>>> m = {"UA": [1.0, 9.0], "RA": [99.0, 97.0], "TA": [95.0, 93.0], "MIA": [10.0, 20.0]}
>>> front = Front.from_points(np.array([[0.1, 1.0], [0.5, 0.3]]), metrics=m)
>>> html = explorer_html(prepare_explorer_data(front), title="demo")
>>> html.startswith("<!DOCTYPE html>"), "<script src=" in html
(True, False)
"""

from __future__ import annotations

import html as _html
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pareto_unlearn._io import atomic_write_text
from pareto_unlearn.front import METRIC_NAMES
from pareto_unlearn.plotting._data import ExplorerData
from pareto_unlearn.plotting._views import build_figure, require_plotly

__all__ = ["explorer_html", "write_explorer_html", "TABLE_COLUMNS", "PLOT_ID"]

logger = logging.getLogger(__name__)

PLOT_ID = "pu-plot"
FLAGS = ("theta0", "baseline", "nondominated", "nondominated_union", "in_band", "oracle_free_pick", "knee",
         "feasible")

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 16px 24px; color: #222; }
h1 { font-size: 1.35em; margin: 0 0 4px 0; } h2 { font-size: 1.05em; margin: 14px 0 6px 0; }
.note { color: #555; font-size: 0.9em; margin: 2px 0; }
.controls { margin: 8px 0; font-size: 0.92em; } .controls input[type=text] { width: 12em; }
.controls button { margin-left: 6px; } #pu-filter-msg { color: #b00020; margin-left: 8px; }
.layout { display: flex; gap: 16px; align-items: flex-start; } #pu-plot-box { flex: 1 1 auto; min-width: 0; }
#pu-side { flex: 0 0 340px; font-size: 0.85em; border-right: 1px solid #ddd; padding-right: 12px; }
#pu-details table, #pu-table table { border-collapse: collapse; }
#pu-details td { padding: 1px 6px; border-bottom: 1px solid #eee; }
#pu-table { overflow-x: auto; font-size: 0.82em; }
#pu-table th, #pu-table td { padding: 2px 6px; border-bottom: 1px solid #ddd; text-align: right;
  white-space: nowrap; }
#pu-table th { background: #f3f3f3; position: sticky; top: 0; }
.eval { color: #8a5a00; font-style: italic; }
"""

_SCRIPT = r"""
function puInit() {
const gd = document.getElementById('{plot_id}');
const records = JSON.parse(document.getElementById('pu-records').textContent);
const columns = JSON.parse(document.getElementById('pu-columns').textContent);
const byUid = new Map(records.map(r => [r.uid, r]));
let selected = new Set(JSON.parse(document.getElementById('pu-initial').textContent));
const original = gd.data.map(t => ({x: Array.from(t.x || []), y: Array.from(t.y || [])}));
const uidAt = (t, k) => { const c = t.customdata[k]; return Array.isArray(c) ? c[0] : c; };
const roleOf = t => (t.meta && t.meta.role) || '';
// every value read from a run is text: escaped before it reaches innerHTML (a name may hold markup)
const ESC = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'};
const esc = s => String(s).replace(/[&<>"']/g, c => ESC[c]);
const fmt = v => esc((v === null || v === undefined || (typeof v === 'number' && !isFinite(v))) ? 'n/a'
  : (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : String(v)));
function pointTraces() { return gd.data.map((t, i) => [t, i]).filter(([t]) => roleOf(t) === 'points'); }
function renderTable() {
  const rows = [...selected].sort((a, b) => a - b).map(u => byUid.get(u)).filter(r => r);
  document.getElementById('pu-count').textContent = String(rows.length);
  const head = '<tr>' + columns.map(c => '<th>' + esc(c) + '</th>').join('') + '</tr>';
  const body = rows.map(r => '<tr data-uid="' + esc(r.uid) + '">'
    + columns.map(c => '<td>' + fmt(r[c]) + '</td>').join('') + '</tr>').join('');
  document.getElementById('pu-table').innerHTML = rows.length ? '<table>' + head + body + '</table>'
    : '<p class="note">Nothing selected: click a point (shift-click adds), or draw a box or lasso.</p>';
}
function apply() {
  const traces = pointTraces();
  const sp = traces.map(([t]) => selected.size
    ? (t.customdata || []).map((c, k) => k).filter(k => selected.has(uidAt(t, k))) : null);
  Plotly.restyle(gd, {selectedpoints: sp}, traces.map(([, i]) => i));
  gd.dataset.selected = JSON.stringify([...selected].sort((a, b) => a - b));
  renderTable();
}
function showDetails(u) {
  const r = byUid.get(u); if (!r) return;
  const rows = columns.concat(['hyperparameters']).map(c => '<tr><td>' + esc(c) + '</td><td data-key="'
    + esc(c) + '">' + fmt(r[c]) + '</td></tr>').join('');
  // r.hover is HTML built by prepare_explorer_data with every value escaped; its only tags are b, i, br
  document.getElementById('pu-details').innerHTML = '<div>' + r.hover + '</div><table>' + rows + '</table>';
  document.getElementById('pu-details').dataset.uid = String(u);
}
function firstPoint(ev) {
  return ev && ev.points ? ev.points.find(p => roleOf(p.data) === 'points') : undefined;
}
gd.on('plotly_hover', ev => { const p = firstPoint(ev); if (p) showDetails(uidAt(p.data, p.pointIndex)); });
gd.on('plotly_click', ev => {
  const p = firstPoint(ev); if (!p) return;
  const u = uidAt(p.data, p.pointIndex);
  if (ev.event && (ev.event.shiftKey || ev.event.ctrlKey || ev.event.metaKey)) {
    if (selected.has(u)) selected.delete(u); else selected.add(u);
  } else { selected = new Set([u]); }
  showDetails(u); apply();
});
gd.on('plotly_selected', ev => {
  if (!ev) return;
  selected = new Set(ev.points.filter(p => roleOf(p.data) === 'points')
    .map(p => uidAt(p.data, p.pointIndex)));
  apply();
});
gd.on('plotly_deselect', () => { selected = new Set(); apply(); });
const CONSTRAINT = /^\s*([A-Za-z_][\w.]*)\s*(>=|<=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$/;
const OPS = {'>=': (a, b) => a >= b, '<=': (a, b) => a <= b, '>': (a, b) => a > b, '<': (a, b) => a < b};
function filter() {
  const msg = document.getElementById('pu-filter-msg'); msg.textContent = '';
  const nd = document.getElementById('pu-nd').checked;
  const text = document.getElementById('pu-constraint').value;
  const tests = [];
  for (const piece of text.split(',').filter(s => s.trim())) {
    const m = CONSTRAINT.exec(piece);
    if (!m || !(m[1] in records[0])) { msg.textContent = 'cannot read "' + piece.trim()
      + '": write NAME OP NUMBER, e.g. RA >= 99'; return; }
    tests.push(r => r[m[1]] !== null && OPS[m[2]](r[m[1]], parseFloat(m[3])));
  }
  const keep = r => r.theta0 || ((!nd || r.nondominated) && tests.every(f => f(r)));
  const idx = [], xs = [], ys = [];
  gd.data.forEach((t, i) => {
    if (!t.customdata || roleOf(t) === 'reference') return;
    idx.push(i);
    xs.push(original[i].x.map((v, k) => keep(byUid.get(uidAt(t, k))) ? v : null));
    ys.push(original[i].y.map((v, k) => keep(byUid.get(uidAt(t, k))) ? v : null));
  });
  Plotly.restyle(gd, {x: xs, y: ys}, idx);
  selected = new Set([...selected].filter(u => keep(byUid.get(u)))); apply();
}
document.getElementById('pu-apply').addEventListener('click', filter);
document.getElementById('pu-nd').addEventListener('change', filter);
document.getElementById('pu-constraint').addEventListener('keydown', e => {
  if (e.key === 'Enter') filter();
});
document.getElementById('pu-clear').addEventListener('click', () => { selected = new Set(); apply(); });
apply();
gd.dataset.ready = '1';
}
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', puInit); else puInit();
"""


def _columns(data: ExplorerData) -> list[str]:
    multi = ["run"] if len(data.fronts) > 1 else []
    return [*multi, "uid", "solver", "point", "space", *data.objective_names, *METRIC_NAMES,
            "predicted_gap", "in_band", "oracle_free_pick", "knee", "nondominated"]


TABLE_COLUMNS = _columns  # the table's columns for a given ExplorerData


def _json(value: Any) -> str:
    """JSON safe inside a <script> element (no ``</``), NaN written as null."""
    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, np.integer)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            return float(v) if np.isfinite(v) else None
        return v
    return json.dumps(clean(value), ensure_ascii=False).replace("</", "<\\/")


def _records(data: ExplorerData) -> list[dict[str, Any]]:
    keep = ["uid", "run", "solver", "point", "space", "reference", "hyperparameters", *data.objective_names,
            *METRIC_NAMES, *[f"gap_{k}" for k in ("UA", "RA", "TA", "MIA")], "predicted_gap", *FLAGS, "hover"]
    return data.points[keep].to_dict("records")


def _summary_lines(data: ExplorerData) -> list[str]:
    lines = []
    for run, pick in data.picks.items():
        prefix = f"{run}: " if len(data.picks) > 1 else ""
        report = pick.get("oracle_free")
        if report is not None:
            row = data.points.loc[pick["uid"]]
            lines.append(f"{prefix}oracle-free pick (ringed in orange): {row['solver']} point "
                         f"{row['point']}, "
                         f"predicted gap {report['gap']:.2f} ({100 * report['level']:g} % interval "
                         f"{report['low']:.2f}–{report['high']:.2f}); {report['message']}.")
        else:
            lines.append(f"{prefix}{pick.get('oracle_free_note')}.")
        if pick.get("knee") is not None:
            row = data.points.loc[pick["knee"]]
            lines.append(f"{prefix}knee (green square): {row['solver']} point {row['point']}.")
    lines.append("Gaps to Retrain and the Retrain marker read Retrain: evaluation only; the oracle-free pick "
                 "never reads them.")
    return lines


def explorer_html(data: ExplorerData, *, title: str = "Pareto front explorer",
                  visible: np.ndarray | None = None, selected: Sequence[int] = (),
                  pair: tuple[int, int] = (0, 1), notes: Sequence[str] = ()) -> str:
    """The whole page as a string (plotly.js embedded; nothing fetched when it is opened)."""
    require_plotly()
    import plotly.io as pio

    fig = build_figure(data, pair=pair, visible=visible, selected=selected)
    plot = pio.to_html(fig, include_plotlyjs=True, full_html=False, div_id=PLOT_ID, post_script=_SCRIPT,
                       config={"displaylogo": False, "responsive": True, "scrollZoom": True,
                               "modeBarButtonsToAdd": ["select2d", "lasso2d"]}, include_mathjax=False)
    lines = "".join(f'<p class="note">{_html.escape(line)}</p>' for line in [*notes, *_summary_lines(data)])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_html.escape(title)}</title><style>{_STYLE}</style></head>
<body>
<h1>{_html.escape(title)}</h1>
{lines}
<div class="controls">
<label><input type="checkbox" id="pu-nd"> non-dominated only</label>
&nbsp; constraint <input type="text" id="pu-constraint" placeholder="RA >= 99">
<button id="pu-apply">filter</button><button id="pu-clear">clear selection</button>
<span id="pu-filter-msg"></span>
<span class="note">&nbsp; hover: details · click / shift-click, box or lasso: select (linked in every view) ·
double-click: clear · legend: show / hide a solver</span>
</div>
<script type="application/json" id="pu-records">{_json(_records(data))}</script>
<script type="application/json" id="pu-columns">{_json(_columns(data))}</script>
<script type="application/json" id="pu-initial">{_json(sorted(int(u) for u in selected))}</script>
<div id="pu-plot-box">{plot}</div>
<div class="layout">
<div id="pu-side"><h2>Point</h2><div id="pu-details"><p class="note">Hover a point.</p></div></div>
<div style="flex: 1 1 auto; min-width: 0"><h2>Selected points (<span id="pu-count">0</span>)</h2>
<div id="pu-table"></div></div></div>
</body></html>
"""


def write_explorer_html(path: str | os.PathLike, data: ExplorerData, **kwargs: Any) -> Path:
    """Write :func:`explorer_html` to ``path`` atomically; returns the path."""
    path = Path(path)
    atomic_write_text(path, explorer_html(data, **kwargs))
    logger.info("wrote %s", path)
    return path
