"""Open a run's report.html in headless Chromium and check what a person would see.

    python scripts/check_report_in_browser.py runs/demo            # a run folder or its report.html
    python scripts/check_report_in_browser.py runs/demo --screenshot /tmp/report.png

Chromium renders the page twice: once to a screenshot (default `<run>/report_screenshot.png`,
1280x2400), once to dump the DOM it built. The DOM is checked against the run's
verdicts.json: every verdict has its row with its id and status, failures come before
warnings and passes, and every plot a verdict names is an image embedded in the page.

Exit 0 when the page holds every verdict, 1 when it does not (the missing ones are named),
2 when Chromium, the report or verdicts.json is missing. Standard library only; Chromium is
not part of `make test` (Debian/Ubuntu: `apt-get install chromium`; or pass --chromium PATH).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
STATUSES = ("fail", "warn", "pass", "info", "skip")  # the order the report shows them in
PNG_URI = "data:image/png;base64,"


class Problem(Exception):
    """Something missing around the page (exit 2), not a fault of the page itself."""


class RenderedPage(HTMLParser):
    """The verdict rows (in page order) and the images of a DOM that Chromium dumped."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, str, str]] = []  # (stage, id, status)
        self.images: dict[str, str] = {}  # data-path -> the start of src

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "tr" and "verdict" in found.get("class", "").split():
            self.rows.append((found.get("data-stage", ""), found.get("data-id", ""), found.get("data-status", "")))
        if tag == "img" and found.get("data-path"):
            self.images[found["data-path"]] = found.get("src", "")[: len(PNG_URI)]


def find_chromium(given: str | None) -> str:
    for candidate in ([given] if given else [os.environ.get("CHROMIUM", ""), *BROWSERS]):
        if candidate and (path := shutil.which(candidate)):
            return path
    if given:
        raise Problem(f"--chromium {given}: no such executable")
    raise Problem("no Chromium found (looked for " + ", ".join(BROWSERS) + " on PATH and $CHROMIUM): install it "
                  "(Debian/Ubuntu: apt-get install chromium) or pass --chromium PATH")


def chromium(browser: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """One headless run with a throwaway profile; --no-sandbox because containers and root need it."""
    with tempfile.TemporaryDirectory(prefix="report-chromium-") as profile:
        command = [browser, "--headless", "--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage",
                   "--hide-scrollbars", f"--user-data-dir={profile}", *args]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Problem(f"Chromium did not finish within {timeout:g} s: {' '.join(command)}") from None
    if done.returncode != 0:
        raise Problem(f"Chromium exited with {done.returncode}: {done.stderr.strip()[-2000:]}")
    return done


def expected_verdicts(run_dir: Path) -> list[dict]:
    path = run_dir / "verdicts.json"
    if not path.is_file():
        raise Problem(f"no verdicts.json in {run_dir}: is it a run folder?")
    return [record for record in json.loads(path.read_text()) if record.get("stage") != "report"]


def page_faults(page: RenderedPage, verdicts: list[dict], run_dir: Path) -> list[str]:
    """What the rendered page lacks or gets wrong, one line each; empty when it is right."""
    faults = []
    wanted = Counter((v["stage"], v["id"], v["status"]) for v in verdicts)
    shown = Counter(page.rows)
    faults += [f"verdict {i} of stage {s} ({status}) has no row in the rendered page"
               for (s, i, status), n in (wanted - shown).items() for _ in range(n)]
    faults += [f"the page shows a verdict {i} of stage {s} ({status}) that verdicts.json does not hold"
               for (s, i, status), n in (shown - wanted).items() for _ in range(n)]
    ranks = [STATUSES.index(status) if status in STATUSES else len(STATUSES) for _, _, status in page.rows]
    if ranks != sorted(ranks):
        first = next(k for k in range(1, len(ranks)) if ranks[k] < ranks[k - 1])
        faults.append(f"rows out of order: {page.rows[first][1]} ({page.rows[first][2]}) comes after "
                      f"{page.rows[first - 1][1]} ({page.rows[first - 1][2]}); failures must come first")
    plots = {p for v in verdicts for p in v.get("plots", []) if (run_dir / p).is_file()}
    faults += [f"plot {p} is not an embedded PNG in the page" for p in sorted(plots)
               if page.images.get(p) != PNG_URI]
    return faults


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="a run folder, or its report.html")
    parser.add_argument("--screenshot", type=Path, default=None,
                        help="where to save the screenshot (default: <run>/report_screenshot.png)")
    parser.add_argument("--window-size", default="1280,2400", help="WIDTH,HEIGHT of the window (default 1280,2400)")
    parser.add_argument("--chromium", default=None, help="the browser to use (default: the first found on PATH)")
    args = parser.parse_args(argv)
    page_path = (args.report / "report.html" if args.report.is_dir() else args.report).resolve()
    run_dir = page_path.parent
    screenshot = (args.screenshot or run_dir / "report_screenshot.png").resolve()
    try:
        if not page_path.is_file():
            raise Problem(f"no report at {page_path}: run `report --run-dir {run_dir}` first")
        verdicts = expected_verdicts(run_dir)
        browser = find_chromium(args.chromium)
        url = page_path.as_uri()
        screenshot.unlink(missing_ok=True)
        chromium(browser, f"--window-size={args.window_size}", f"--screenshot={screenshot}", url)
        if not screenshot.is_file() or screenshot.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
            raise Problem(f"Chromium wrote no screenshot at {screenshot}")
        page = RenderedPage()
        page.feed(chromium(browser, "--dump-dom", url).stdout)
    except Problem as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    faults = page_faults(page, verdicts, run_dir)
    for fault in faults:
        print(f"FAIL: {fault}", file=sys.stderr)
    print(f"{len(page.rows)} verdict rows and {len(page.images)} images rendered by {Path(browser).name}; "
          f"screenshot: {screenshot}")
    return 1 if faults else 0


if __name__ == "__main__":
    raise SystemExit(main())
