"""`mobench report`: the static site built from a real store (runs made here, one failure),
its pages and figures, bad `--out` folders refused, and the site in a real browser (headless
Chromium through Playwright): every table and image present, a table sorted by a click.

The browser test skips when Playwright or Chromium is missing, unless MOBENCH_REQUIRE_BROWSER=1
(set by `.ci/run`), which turns that skip into a failure."""
from __future__ import annotations

import os
import re
import shutil
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mobench.cli import main
from mobench.errors import InvalidParameter
from mobench.report import build
from mobench.runner import plan, run

from test_leaderboard import fake_run

CHROMIUM = os.environ.get("MOBENCH_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


class _Page(HTMLParser):
    """Tables (id -> rows of cell texts), image sources and links of one page."""

    def __init__(self):
        super().__init__()
        self.tables, self.images, self.links, self._table, self._row, self._cell = {}, [], [], None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = ""
        elif tag == "img":
            self.images.append(a["src"])
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _parse(path: Path) -> _Page:
    p = _Page()
    p.feed(path.read_text(encoding="utf-8"))
    return p


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A store with real runs (a knapsack with a proved optimum, a two-objective problem with a
    front) and one failed run; the site built from it."""
    root = tmp_path_factory.mktemp("report")
    store = root / "store"
    run(plan(["testfam/knapsack-v0"], ["test-greedy"], 3), store, progress=False)
    run(plan(["testfam/bi-v0"], ["test-constant"], 2), store, progress=False)
    fake_run(store, "testfam/knapsack-v0", "test-crashy", 0, status="failed")
    t0 = time.monotonic()
    index = build([store], root / "site", jobs=1)
    return {"store": store, "out": root / "site", "index": index, "seconds": time.monotonic() - t0}


def test_site_has_every_page_table_and_figure(site):
    out = site["out"]
    pages = {p.name for p in out.glob("*.html")}
    assert {"index.html", "paper.html", "provenance.html", "failures.html"} <= pages
    assert len([p for p in pages if p.startswith("family-")]) == 1  # testfam
    index = _parse(out / "index.html")
    assert {"families", "problems", "solvers"} <= set(index.tables)
    problems = {row[0] for row in index.tables["problems"]}
    assert problems == {"testfam/knapsack-v0", "testfam/bi-v0"}
    family = _parse(next(out.glob("family-*.html")))
    boards = {k: v for k, v in family.tables.items() if k.startswith("t-")}
    assert len(boards) == 2 and all(boards.values())
    assert family.images, "the family page shows its figures"
    for page in out.glob("*.html"):
        parsed = _parse(page)
        for src in parsed.images:
            assert (out / src).is_file() and src.endswith(".svg"), src
        for href in parsed.links:  # every local link resolves; nothing is fetched from the network
            assert not re.match(r"https?://", href) or "github.com" in href or "arxiv.org" in href, href
            target = href.split("#")[0]
            if target and not re.match(r"[a-z]+:", target):
                assert (out / target).exists(), f"{page.name} links to missing {target}"
    for page in out.glob("*.html"):  # the sort and filter scripts find tables by id
        ids = re.findall(r'\sid="([^"]+)"', page.read_text())
        assert len(ids) == len(set(ids)), f"{page.name}: repeated ids {sorted({i for i in ids if ids.count(i) > 1})}"
    text = "".join(p.read_text() for p in out.glob("*.html"))
    assert "<script src=\"http" not in text and "<link rel=\"stylesheet\" href=\"http" not in text


def test_failures_and_provenance_pages_list_every_run(site):
    out = site["out"]
    failures = (out / "failures.html").read_text()
    assert "test-crashy" in failures and "RuntimeError: it broke" in failures
    prov = _parse(out / "provenance.html")
    assert len(prov.tables["provenance"]) == 3 + 2 + 1


def test_report_refuses_a_folder_it_did_not_write_and_keeps_its_files(site, tmp_path):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(InvalidParameter, match="other files in it"):
        build([site["store"]], other)
    assert (other / "notes.txt").read_text() == "keep me"
    with pytest.raises(InvalidParameter, match="no store at"):
        build([tmp_path / "missing"], tmp_path / "site")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidParameter, match="nothing to report"):
        build([tmp_path / "empty"], tmp_path / "site")


def test_cli_report_rewrites_its_own_site(site, tmp_path, capsys):
    out = tmp_path / "site"
    for _ in range(2):  # the second time replaces the first site
        assert main(["report", "--store", str(site["store"]), "--out", str(out), "--jobs", "1"]) in (0, None)
    assert "site written" in capsys.readouterr().out
    assert (out / "index.html").is_file()


def _browser_or_skip():
    required = os.environ.get("MOBENCH_REQUIRE_BROWSER") == "1"
    why = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        why = "Playwright for Python is not installed (pip install playwright)"
    if why is None and not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        why = f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; or set MOBENCH_CHROMIUM)"
    if why:
        if required:
            pytest.fail(f"MOBENCH_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(why)


def test_site_in_a_real_browser_sorts_tables_and_shows_every_image(site, tmp_path):
    _browser_or_skip()
    from playwright.sync_api import sync_playwright
    shots = Path(os.environ.get("MOBENCH_SCREENSHOTS", tmp_path / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            requests = []
            page.on("request", lambda r: requests.append(r.url))
            for html in sorted(site["out"].glob("*.html")):
                page.goto(html.as_uri())
                page.wait_for_load_state("load")
                parsed = _parse(html)
                assert len(page.query_selector_all("table.sortable")) == len(parsed.tables)
                broken = page.evaluate("Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
                                       ".map(i => i.src)")
                assert broken == [], f"{html.name}: images that did not load: {broken}"
                page.screenshot(path=str(shots / (html.stem + ".png")), full_page=True)
            assert all(u.startswith("file://") for u in requests), [u for u in requests if not u.startswith("file")]

            # sort the index's problems by runs (knapsack 3, bi 2), both ways, by clicking the header
            page.goto(site["out"].joinpath("index.html").as_uri())
            header = page.query_selector_all("#problems thead th")[4]
            assert header.inner_text().strip() == "runs ok" and header.get_attribute("data-type") == "num"

            def order():
                return page.evaluate("Array.from(document.querySelector('table#problems').tBodies[0].rows)"
                                     ".map(r => [r.cells[0].textContent.trim(), r.cells[4].textContent.trim()])")
            header.click()
            assert order() == [["testfam/bi-v0", "2"], ["testfam/knapsack-v0", "3"]]
            assert header.get_attribute("aria-sort") == "ascending"
            header.click()
            assert order() == [["testfam/knapsack-v0", "3"], ["testfam/bi-v0", "2"]]
            assert header.get_attribute("aria-sort") == "descending"

            # the filter box hides rows that lack a word
            page.fill("input.filter[data-table='problems']", "knapsack")
            shown = page.evaluate("Array.from(document.querySelector('table#problems').tBodies[0].rows)"
                                  ".filter(r => !r.hidden).map(r => r.cells[0].textContent.trim())")
            assert shown == ["testfam/knapsack-v0"]
            page.screenshot(path=str(shots / "index-filtered.png"), full_page=True)
        finally:
            browser.close()


def test_site_builds_from_the_committed_stores(tmp_path):
    """The stores kept in the repository (results/stores/<family>) rebuild their leaderboards
    and the site without running a solver: every store's problems are on the index, every run
    says the commit it was made at, and none records a path of the machine it ran on."""
    from mobench.store import read_records
    stores = sorted(p for p in (Path(__file__).parents[1] / "results" / "stores").iterdir() if p.is_dir())
    assert stores, "results/stores/ holds the stores behind the leaderboards"
    index = build(stores, tmp_path / "site", jobs=1)
    listed = {row[0] for row in _parse(index).tables["problems"]}
    for store in stores:
        records = read_records(store)
        assert records, f"{store.name}: an empty store"
        for r in records:
            assert r["provenance"].get("git_commit"), f"{store.name}/{r['run_id']}: no commit recorded"
            assert not any(isinstance(v, str) and v.startswith(("/home/", "/root/", "/work/", "/tmp/"))
                           for k, v in r.items() if k != "path"), f"{store.name}/{r['run_id']}: a machine path"
        assert {r["problem"] for r in records if r["status"] == "ok"} <= listed
