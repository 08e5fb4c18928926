"""FrontExplorer and report.html: hover, linked selection, filters and export; report.html in a real browser.

One tiny run (digits, ``ls`` and ``nsga2-last-layer`` on quick settings) is made once for the module
through the CLI, in-process; ``pareto-unlearn report`` writes its report.html. The browser tests drive
Debian's headless Chromium through selenium with Debian's chromedriver (no driver is downloaded) and are
skipped only when those are not installed.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from pareto_unlearn.cli import main
from pareto_unlearn.exceptions import ConfigError, MissingDependencyError
from pareto_unlearn.front import Front

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver"
APT = "apt-get install -y chromium chromium-driver"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("explorer") / "run"
    assert main(["explore", "--task", "digits", "--forget", "random:0.5", "--solvers", "ls,nsga2-last-layer",
                 "--quick", "--out", str(out), "--no-progress"]) == 0
    return out


@pytest.fixture(scope="module")
def report(run: Path) -> Path:
    pytest.importorskip("plotly")
    assert main(["report", str(run)]) == 0
    return run / "report.html"


# ---------------------------------------------------------------------------------------- kernel side
def test_data_marks_theta0_pick_band_knee_and_flags_the_gaps_as_evaluation_only(run):
    from pareto_unlearn.plotting import prepare_explorer_data
    from pareto_unlearn.rundir import load_run
    from pareto_unlearn.selection import Knee, OracleFree

    summary, front = load_run(run)
    data = prepare_explorer_data(run)
    points = data.points
    assert len(points) == len(front) and points["theta0"].sum() == 1
    pick = OracleFree.for_summary(summary).choose(front)
    assert points.loc[points["oracle_free_pick"], "index"].tolist() == [pick.index]
    assert int(points["in_band"].sum()) == pick.band_size
    rows = np.flatnonzero(front.solver != "Original")
    assert points.loc[points["knee"], "index"].tolist() == [int(rows[Knee()(front.take(rows))])]
    retrain = summary["retrain"]["metrics"]
    np.testing.assert_allclose(points["gap_UA"], np.abs(points["UA"] - retrain["UA"]))
    row = points[~points["theta0"]].iloc[0]
    assert row["solver"] in row["hover"] and "evaluation only" in row["hover"]
    assert f"UA {row['UA']:.2f}" in row["hover"]
    lo, hi = data.zoom
    for ref in (summary["original"]["objectives"], summary["retrain"]["objectives"]):
        assert np.all(lo <= ref) and np.all(ref <= hi)


def test_filters_by_solver_constraint_and_non_dominated(run):
    from pareto_unlearn.plotting import FrontExplorer

    explorer = FrontExplorer(run)
    points = explorer.data.points
    explorer.filter(constraint="RA >= 99")
    shown = points[explorer.visible]
    assert ((shown["RA"] >= 99) | shown["theta0"]).all() and len(shown) < len(points)
    explorer.filter(solvers=["ls"], nondominated=True)
    shown = points[explorer.visible]
    assert set(shown["solver"]) == {"ls", "Original"} and shown[~shown["theta0"]]["nondominated"].all()
    with pytest.raises(ConfigError, match="cannot read the constraint"):
        explorer.filter(constraint="RA => 99")
    with pytest.raises(ConfigError, match="no solver"):
        explorer.filter(solvers=["nope"])


def test_a_simulated_selection_updates_selected_in_every_view(run):
    pytest.importorskip("plotly")
    pytest.importorskip("anywidget")
    pytest.importorskip("ipywidgets")
    from plotly.callbacks import BoxSelector, Points

    from pareto_unlearn.plotting import FrontExplorer

    explorer = FrontExplorer(run)
    explorer.widget()
    figure = explorer._figure
    objective = [t for t in figure.data if t.meta["role"] == "points" and t.meta["view"] == 0]
    selector = BoxSelector(xrange=[0, 1], yrange=[0, 1])
    expected = []
    for trace in objective:  # plotly calls every trace's callback with the same selector object
        inds = list(range(0, len(trace.x), 2))
        expected += [int(trace.customdata[k][0]) for k in inds]
        trace._dispatch_on_selection(Points(point_inds=inds, trace_name=trace.name), selector)
    assert sorted(explorer.selected.index) == sorted(expected) and expected
    assert list(explorer.selected["UA"]) == list(explorer.data.points.loc[sorted(expected), "UA"])
    for trace in figure.data:
        if trace.meta["role"] == "points":
            uids = {int(trace.customdata[k][0]) for k in (trace.selectedpoints or ())}
            assert uids == {int(c[0]) for c in trace.customdata} & set(expected)
    assert f"{len(expected)} selected" in explorer._table.value
    trace = objective[0]
    trace._dispatch_on_click(Points(point_inds=[1], trace_name=trace.name), None)
    assert explorer.selected.index.tolist() == [int(trace.customdata[1][0])]


def test_export_writes_the_point_as_select_does_and_it_rebuilds_to_its_objectives(run, tmp_path):
    from pareto_unlearn.objectives import make_objectives
    from pareto_unlearn.plotting import FrontExplorer
    from pareto_unlearn.rundir import load_run
    from pareto_unlearn.selection_export import load_exported

    explorer = FrontExplorer(run)
    with pytest.raises(ConfigError, match="select exactly one"):
        explorer.export(tmp_path / "none.safetensors")
    points = explorer.data.points
    uid = int(points[(points["solver"] == "nsga2-last-layer") & points["nondominated"]]["uid"].iloc[1])
    explorer.select([uid])
    result = explorer.export(tmp_path / "chosen.safetensors")
    row = points.loc[uid]
    assert result["index"] == row["index"] and result["point"]["solver"] == "nsga2-last-layer"
    assert result["adapter_path"] is not None  # a last-layer point: its Δ is exported alone as well
    model, record = load_exported(tmp_path / "chosen.safetensors")
    assert record["provenance"]["index"] == row["index"]
    assert record["provenance"]["solver"] == "nsga2-last-layer"
    assert record["rule"]["method"] == "manual"  # chosen by hand, not by a rule
    summary, _ = load_run(run)
    objectives = make_objectives(result["task"], reference=summary["reference"],
                                 kl_direction=summary["kl_direction"])
    again = objectives.evaluate(model, result["task"])
    np.testing.assert_allclose(again, [row[n] for n in explorer.data.objective_names], rtol=1e-4, atol=1e-6)


def test_several_runs_and_bare_fronts(run):
    from pareto_unlearn.plotting import FrontExplorer

    both = FrontExplorer.from_runs([run, run], labels=["a", "b"])
    assert both.data.runs == ["a", "b"] and len(both.data.points) == 2 * len(FrontExplorer(run).data.points)
    assert sum(p["uid"] is not None for p in both.data.picks.values()) == 2
    bare = FrontExplorer(Front.from_points(np.array([[0.1, 1.0], [0.5, 0.3]]), solver="jd"))
    with pytest.raises(ConfigError, match="run directory"):
        bare.export("x.safetensors", uid=0)
    with pytest.raises(ConfigError, match="two different objectives"):
        FrontExplorer(run, pair=(0, 0))


def test_missing_plotly_names_the_extra(monkeypatch):
    import sys

    from pareto_unlearn.plotting._views import require_plotly

    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    with pytest.raises(MissingDependencyError, match=re.escape('pip install -e ".[jupyter]"')):
        require_plotly()


def test_report_html_is_self_contained(report):
    text = report.read_text(encoding="utf-8")
    assert len(text) > 1_000_000  # plotly.js is in the page
    assert not re.search(r"<script[^>]+src=", text) and not re.search(r"<link[^>]+href=[\"']?http", text)
    assert "report.html" in (report.parent / "report.md").read_text()


# ---------------------------------------------------------------------------------------- browser
@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None or not Path(CHROMEDRIVER).exists():
        pytest.skip(f"headless Chromium and its driver are not installed ({APT})")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1500,1250", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _open(driver, page: Path) -> None:
    driver.get(page.resolve().as_uri())
    for _ in range(300):
        if driver.execute_script("const g = document.getElementById('pu-plot'); "
                                 "return g && g.dataset.ready;"):
            return
        time.sleep(0.05)
    raise AssertionError("report.html did not finish drawing")


# Pixel positions (relative to the plot div's centre) of every drawn point of one view.
_POSITIONS = """
const gd = document.getElementById('pu-plot'), fl = gd._fullLayout, view = arguments[0];
const rect = gd.getBoundingClientRect(), out = [];
gd._fullData.forEach((t, i) => {
  if (!t.meta || t.meta.role !== 'points' || t.meta.view !== view) return;
  const xa = fl[t.xaxis.replace('x', 'xaxis')], ya = fl[t.yaxis.replace('y', 'yaxis')];
  t.x.forEach((x, k) => {
    if (x === null || t.y[k] === null) return;
    out.push({uid: t.customdata[k][0], px: xa._offset + xa.l2p(x) - rect.width / 2,
              py: ya._offset + ya.l2p(t.y[k]) - rect.height / 2,
              area: [xa._offset - rect.width / 2, ya._offset - rect.height / 2,
                     xa._offset + xa._length - rect.width / 2, ya._offset + ya._length - rect.height / 2]});
  });
});
return out;
"""


def test_hovering_a_point_shows_its_metrics(browser, report, run):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    from pareto_unlearn.plotting import prepare_explorer_data

    _open(browser, report)
    points = browser.execute_script(_POSITIONS, 2)
    xy = np.array([[p["px"], p["py"]] for p in points])
    gaps = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(len(xy)) * 1e9
    target = points[int(np.argmax(gaps.min(axis=1)))]  # the most isolated point: nothing else is nearer
    plot = browser.find_element(By.ID, "pu-plot")
    ActionChains(browser).move_to_element_with_offset(plot, int(target["px"]), int(target["py"])).perform()
    for _ in range(100):
        if browser.execute_script("return document.getElementById('pu-details').dataset.uid") is not None:
            break
        time.sleep(0.05)
    row = prepare_explorer_data(run).points.loc[target["uid"]]
    details = browser.find_element(By.ID, "pu-details")
    assert details.get_attribute("data-uid") == str(target["uid"])
    ua = details.find_element(By.CSS_SELECTOR, "td[data-key='UA']").text
    assert float(ua) == pytest.approx(row["UA"], rel=1e-3)
    assert row["solver"] in details.text or row["theta0"]
    label = browser.find_element(By.CSS_SELECTOR, ".hoverlayer").text
    assert f"UA {row['UA']:.2f}" in label and "evaluation only" in label


def test_a_box_selection_in_the_objective_view_highlights_the_same_points_in_the_metric_views(
        browser, report, tmp_path):
    from PIL import Image
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    _open(browser, report)
    points = browser.execute_script(_POSITIONS, 0)
    xs = np.array([p["px"] for p in points])
    edges = np.unique(np.round(xs))
    gaps = [(abs((a + b) / 2 - np.median(xs)), (a + b) / 2) for a, b in zip(edges, edges[1:]) if b - a >= 8]
    cut = min(gaps)[1]  # a vertical line through a gap of 8 px or more, near the median: no point on it
    x0, y0, _, y1 = points[0]["area"]  # the box stays inside the objective view's plotting area
    top = max(min(p["py"] for p in points) - 15, y0 + 2)
    bottom = min(max(p["py"] for p in points) + 15, y1 - 2)
    left = max(min(xs) - 15, x0 + 2)
    expected = {p["uid"] for p in points if left < p["px"] < cut}
    assert 0 < len(expected) < len(points)
    plot = browser.find_element(By.ID, "pu-plot")
    chain = ActionChains(browser).move_to_element_with_offset(plot, int(left), int(top)).click_and_hold()
    for k in range(1, 6):
        chain.move_to_element_with_offset(plot, int(left + (cut - left) * k / 5),
                                          int(top + (bottom - top) * k / 5))
    chain.pause(0.4)  # plotly throttles the selection while dragging: let it catch up with the last move
    chain.move_to_element_with_offset(plot, int(cut), int(bottom) - 1).pause(0.4)
    chain.move_to_element_with_offset(plot, int(cut), int(bottom)).pause(0.4)
    chain.release().perform()
    for _ in range(100):
        if browser.execute_script("return document.getElementById('pu-plot').dataset.selected") not in (
                None, "[]"):
            break
        time.sleep(0.05)
    selected = browser.execute_script("""
        const gd = document.getElementById('pu-plot'), out = {};
        gd.data.forEach(t => {
          if (!t.meta || t.meta.role !== 'points') return;
          const uids = (t.selectedpoints || []).map(k => t.customdata[k][0]);
          out[t.meta.view] = (out[t.meta.view] || []).concat(uids);
        });
        return out;""")
    chosen = set(selected["0"])  # what plotly's box took (it may leave out a point at its very edge)
    assert chosen <= expected and len(chosen) >= 0.8 * len(expected)
    expected = chosen
    for view in ("1", "2", "3"):  # near θ0, UA vs TA, MIA vs RA: the same points
        assert set(selected[view]) == expected
    faded = browser.execute_script("""
        return Array.from(document.querySelectorAll('.subplot.x3y3 .scatterlayer path.point'))
          .filter(p => p.style.opacity === '0.1').length;""")
    assert faded == len(browser.execute_script(_POSITIONS, 2)) - len(expected)  # the rest is dimmed
    rows = browser.find_elements(By.CSS_SELECTOR, "#pu-table tr[data-uid]")
    assert {int(r.get_attribute("data-uid")) for r in rows} == expected
    shot = tmp_path / "report.png"
    browser.save_screenshot(str(shot))
    image = Image.open(shot).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert image.size[0] >= 1000 and len(colours) > 200  # a drawn page, not a blank one
    assert max(c for c, _ in colours) < 0.95 * image.size[0] * image.size[1]
