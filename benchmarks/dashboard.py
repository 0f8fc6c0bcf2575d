"""How fast the run explorer is in a real browser (issue 20's goals: a 720-step run folder
opens in under 3 s, a slider move redraws in under 200 ms): `python -m benchmarks.dashboard`.

The baseline (720 hourly steps) is run into a temporary folder and served by the dashboard
on a free local port; Debian's chromium (driven by Playwright) then

1. opens the page a few times: seconds from `goto` until the graph's canvas and the step
   label are on the page (the first open also pays for the server's imports and Bokeh's
   scripts entering the browser's cache: reported apart);
2. moves the slider 20 times to seeded random steps by clicking its track: milliseconds,
   measured in the page, from the click until the frame after the page shows the new
   step's label and event counts (the server's callback, the websocket message, the DOM
   update; the plots' sources arrive in the same message).

It also times the server's side alone (`RunExplorer.show`, every step). A script, not a
test: it prints figures for the issue notes and asserts nothing. Needs the dashboard extra,
Playwright and /usr/bin/chromium (`make test` installs it).
"""

from __future__ import annotations

import random
import shutil
import socket
import statistics
import tempfile
import time
from pathlib import Path

BASELINE = Path(__file__).resolve().parents[1] / "experiments" / "scenarios" / "baseline.toml"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: as tests/dashboard/conftest.py: chromium without its calls home
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OPENS, MOVES, SEED = 4, 20, 20


def main() -> None:
    try:
        from playwright.sync_api import sync_playwright

        import daosim
        from dashboard.serve import server
    except ImportError as exc:
        print(f"dashboard benchmark skipped: {exc} (pip install 'daosim[dashboard]' "
              "playwright)")
        return
    if not Path(CHROMIUM).exists():
        print("dashboard benchmark skipped: no chromium (apt-get install -y chromium)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "baseline"
        started = time.perf_counter()
        daosim.run(BASELINE, out=folder)
        print(f"baseline run, 720 steps:        {time.perf_counter() - started:6.2f} s")
        server_side(folder)
        port = _free_port()
        running = server(folder, Path(tmp) / "out", port, threaded=True)
        try:
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                try:
                    in_browser(browser, f"http://localhost:{port}/")
                finally:
                    browser.close()
        finally:
            running.stop()


def server_side(folder: Path) -> None:
    """Seconds to prepare the folder, and the server's time per step shown."""
    from dashboard.app import Dashboard
    from dashboard.run_data import load
    from dashboard.run_view import RunExplorer

    load(folder)  # imports
    started = time.perf_counter()
    data = load(folder)
    prepared = time.perf_counter() - started
    started = time.perf_counter()
    explorer = RunExplorer(data, Dashboard(folder.parent / "out"))
    built = time.perf_counter() - started
    started = time.perf_counter()
    for step in range(data.horizon + 1):
        explorer.show(step)
    each = (time.perf_counter() - started) / (data.horizon + 1) * 1000
    print(f"server: prepare the folder      {prepared:6.2f} s")
    print(f"server: build the plots         {built:6.2f} s")
    print(f"server: show a step (mean)      {each:6.1f} ms")


def in_browser(browser, url: str) -> None:
    opens = []
    for _ in range(OPENS):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_selector(".daosim-graph canvas", timeout=60_000)
        page.wait_for_selector('.daosim-step-number[data-step="0"]', timeout=60_000)
        opens.append(time.perf_counter() - started)
        if len(opens) < OPENS:
            context.close()
    print(f"browser: open, first            {opens[0]:6.2f} s")
    print(f"browser: open, then (median)    {statistics.median(opens[1:]):6.2f} s "
          f"(max {max(opens[1:]):.2f} s)")
    moves = slider_moves(page)
    context.close()
    ordered = sorted(moves)
    p90 = ordered[int(round(0.9 * (len(ordered) - 1)))]
    print(f"browser: slider move, median    {statistics.median(moves):6.0f} ms "
          f"(p90 {p90:.0f} ms, max {max(moves):.0f} ms, {len(moves)} moves)")


#: in the page: resolves, at the first animation frame after the step label shows a step
#: other than `previous` and the event counts show the same step, with that step and the
#: milliseconds since the click's pointerdown (the panes live in shadow roots)
SHOWN = """(previous) => new Promise((resolve) => {
  const find = (root, selector) => {
    const hit = root.querySelector(selector);
    if (hit) return hit;
    for (const el of root.querySelectorAll("*")) {
      if (el.shadowRoot) { const inner = find(el.shadowRoot, selector); if (inner) return inner; }
    }
    return null;
  };
  const check = () => {
    const label = find(document, ".daosim-step-number");
    const kinds = find(document, ".daosim-kinds");
    const step = label && label.dataset.step;
    if (step && step !== previous && kinds && kinds.dataset.step === step) {
      requestAnimationFrame(() => resolve([step, performance.now() - window.__clicked]));
    } else {
      requestAnimationFrame(check);
    }
  };
  check();
})"""


def slider_moves(page) -> list[float]:
    """Milliseconds per move (module doc) of `MOVES` clicks on the slider's track, measured
    in the page: from the click's pointerdown to the frame after the new step's panes."""
    page.evaluate("window.addEventListener('pointerdown', "
                  "() => { window.__clicked = performance.now(); }, true)")
    track = page.locator(".daosim-step-slider .noUi-base").first.bounding_box()
    horizon = 720
    rng = random.Random(SEED)
    shown = "0"
    times = []
    for _ in range(MOVES):
        target = rng.randrange(horizon + 1)
        while abs(target - int(shown)) < 30:  # a click on the handle itself does not move it
            target = rng.randrange(horizon + 1)
        page.mouse.click(track["x"] + track["width"] * target / horizon,
                         track["y"] + track["height"] / 2)
        shown, elapsed = page.evaluate(SHOWN, shown)
        page.wait_for_selector(f'.daosim-node-counts >> text="Nodes at step {shown}:"')
        times.append(elapsed)
        page.wait_for_timeout(500)  # noUiSlider ignores a tap during the last one's animation
    return times


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    main()
