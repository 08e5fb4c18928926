"""PNG screenshots of the explorer and of report.html for the README (docs/explorer.png and
docs/report_html.png).

Both are taken in headless Chromium (Debian's ``chromium`` and ``chromium-driver``: ``apt-get install -y
chromium chromium-driver``; nothing is downloaded). ``report.html`` is shown with a point hovered (the
oracle-free pick); the explorer is shown in the state a notebook user reaches with
``FrontExplorer(run).filter(nondominated=True)`` and the oracle-free band selected, written by
``explorer.to_html`` (the same views the Jupyter widget draws).

Usage::

    python scripts/explorer_screenshots.py --run runs/demo --out docs
    python scripts/explorer_screenshots.py --out /tmp/shots      # makes a small run first (about a minute)
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

logger = logging.getLogger("explorer_screenshots")

CHROMEDRIVER = "/usr/bin/chromedriver"


def _driver(width: int, height: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None or not Path(CHROMEDRIVER).exists():
        raise SystemExit("needs headless Chromium and its driver: "
                         "apt-get install -y chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--force-device-scale-factor=1", "--hide-scrollbars"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def _open(driver, page: Path) -> None:
    driver.get(page.resolve().as_uri())
    for _ in range(400):
        if driver.execute_script("const g = document.getElementById('pu-plot'); "
                                 "return g && g.dataset.ready;"):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{page} did not finish drawing")


def _hover(driver, uid: int) -> None:
    """Move the mouse onto point ``uid`` in the near-θ0 view (else the objective view)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    where = driver.execute_script("""
        const gd = document.getElementById('pu-plot'), fl = gd._fullLayout, rect = gd.getBoundingClientRect();
        for (const view of [1, 0]) {
          for (const t of gd._fullData) {
            if (!t.meta || t.meta.role !== 'points' || t.meta.view !== view) continue;
            const k = t.customdata.findIndex(c => c[0] === arguments[0]);
            if (k < 0 || t.x[k] === null) continue;
            const xa = fl[t.xaxis.replace('x', 'xaxis')], ya = fl[t.yaxis.replace('y', 'yaxis')];
            const px = xa.l2p(t.x[k]), py = ya.l2p(t.y[k]);
            if (px < 0 || px > xa._length || py < 0 || py > ya._length) continue;
            return [xa._offset + px - rect.width / 2, ya._offset + py - rect.height / 2];
          }
        }
        return null;""", uid)
    if where is not None:
        plot = driver.find_element(By.ID, "pu-plot")
        ActionChains(driver).move_to_element_with_offset(plot, int(where[0]), int(where[1])).perform()
        time.sleep(0.5)


def _small_run(out: Path) -> Path:
    from pareto_unlearn.cli import main

    run = out / "run"
    main(["explore", "--task", "digits", "--forget", "random:0.5", "--solvers", "ls,jd,nsga2-last-layer",
          "--baselines", "--quick", "--out", str(run), "--no-progress"])
    return run


def screenshots(run: Path, out: Path, *, width: int = 1500, height: int = 1350) -> list[Path]:
    """Write ``out/report_html.png`` and ``out/explorer.png`` from the run directory ``run``."""
    from pareto_unlearn.experiments._report import write_report_html
    from pareto_unlearn.plotting import FrontExplorer

    out.mkdir(parents=True, exist_ok=True)
    report = write_report_html(run)
    explorer = FrontExplorer(run).filter(nondominated=True)
    points = explorer.data.points
    explorer.select(points.index[points["in_band"] & explorer.visible])
    with tempfile.TemporaryDirectory() as tmp:
        page = explorer.to_html(Path(tmp) / "explorer.html", title=f"FrontExplorer: {run.name} "
                                "(non-dominated only, the oracle-free band selected)")
        driver = _driver(width, height)
        try:
            written = []
            _open(driver, report)
            if explorer.pick is not None:
                _hover(driver, explorer.pick)
            driver.save_screenshot(str(out / "report_html.png"))
            written.append(out / "report_html.png")
            _open(driver, page)
            driver.save_screenshot(str(out / "explorer.png"))
            written.append(out / "explorer.png")
        finally:
            driver.quit()
    for path in written:
        logger.info("wrote %s", path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a run directory (default: make a small quick run first)")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="where the PNGs go (default docs)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.run is not None:
        screenshots(args.run, args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        screenshots(_small_run(Path(tmp)), args.out)


if __name__ == "__main__":
    main()
