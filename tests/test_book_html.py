"""Open the built HTML book in headless Chromium, the way a reader's browser shows it.

Fails on a page of the table of contents that is missing, a broken image, formulas that
MathJax did not render, a console error, or a notebook figure that did not reach its page.
Build the book first (``make book`` or ``jupyter-book build .``); ``make test`` does both.
"""

import functools
import http.server
import json
import shutil
import tempfile
import threading
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"


def toc_pages() -> list[str]:
    """Document names in _toc.yml, in order (e.g. 'intro', 'notebooks/03_datasets')."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        pages += [chapter["file"] for chapter in part["chapters"]]
    return pages


PAGES = toc_pages()


@pytest.fixture(scope="module")
def site():
    if not (HTML / "index.html").is_file():
        pytest.fail(f"no built book in {HTML}: run `make book` (or `jupyter-book build .`) first")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *args: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (binary and driver_path):
        pytest.fail(
            "Chromium and ChromeDriver are needed: apt-get install chromium chromium-driver"
        )
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,2000",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _open(browser, url: str) -> list[dict]:
    """Load a page, wait for MathJax to finish, return the console messages it logged."""
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(url)
    browser.execute_async_script(
        """const done = arguments[arguments.length - 1];
        const wait = () => (window.MathJax && MathJax.startup && MathJax.startup.promise)
            ? MathJax.startup.promise.then(() => done(true), () => done(false))
            : document.querySelector('.math') ? setTimeout(wait, 100) : done(true);
        if (document.readyState === 'complete') wait();
        else window.addEventListener('load', wait);"""
    )
    return browser.get_log("browser")


@pytest.mark.parametrize("page", PAGES)
def test_page_renders(site, browser, page):
    path = HTML / f"{page}.html"
    assert path.is_file(), f"{page} is in _toc.yml but {path} was not built"
    console = _open(browser, f"{site}/{page}.html")

    errors = [m["message"] for m in console if m["level"] == "SEVERE"]
    assert not errors, f"console errors on {page}: {errors}"

    broken = browser.execute_script(
        "return [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
        ".map(i => i.getAttribute('src'))"
    )
    assert not broken, f"broken images on {page}: {broken}"

    unrendered = browser.execute_script(
        "return [...document.querySelectorAll('.math')]"
        ".filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60))"
    )
    assert not unrendered, f"formulas MathJax did not render on {page}: {unrendered}"
    text = browser.execute_script("return document.querySelector('main').innerText")
    for raw in ("$$", "\\(", "\\["):
        assert raw not in text, f"raw math delimiter {raw!r} visible on {page}"

    title = browser.execute_script("return document.querySelector('main h1')?.innerText")
    assert title, f"{page} has no title"


def test_every_toc_page_is_in_the_navigation(site, browser):
    _open(browser, f"{site}/intro.html")
    links = browser.execute_script(
        "return [...document.querySelectorAll('nav.bd-docs-nav a')].map(a => a.href)"
    )
    for page in PAGES[1:]:
        assert any(link.split("#")[0].endswith(f"/{page}.html") for link in links), page


@pytest.mark.parametrize("page", [p for p in PAGES if (ROOT / f"{p}.ipynb").is_file()])
def test_notebook_figures_reach_the_page(site, browser, page):
    """Each figure a notebook outputs (image/png) is an image in the page's cell outputs."""
    nb = nbformat.read(ROOT / f"{page}.ipynb", as_version=4)
    expected = sum(
        "image/png" in out.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code" and "remove-output" not in cell.metadata.get("tags", [])
        for out in cell.get("outputs", [])
    )
    assert expected > 0, f"{page}.ipynb has no stored figures: execute it before committing"
    _open(browser, f"{site}/{page}.html")
    shown = browser.execute_script(
        "return [...document.querySelectorAll('.cell_output img')]"
        ".filter(i => i.complete && i.naturalWidth > 0).length"
    )
    assert shown == expected, json.dumps({"page": page, "figures": expected, "shown": shown})


@pytest.mark.parametrize("page", [p for p in PAGES if (ROOT / f"{p}.ipynb").is_file()])
def test_setup_cell_is_collapsed(site, browser, page):
    """The set-up cell is on the page but folded away: its code shows only once opened."""
    _open(browser, f"{site}/{page}.html")
    find = """const cell = [...document.querySelectorAll('.cell')]
                  .find(c => c.textContent.includes('find_spec("srlib")'));"""
    state = browser.execute_script(find + """
        if (!cell) return null;
        const code = cell.querySelector('.cell_input pre');
        return {hidden: cell.classList.contains('tag_hide-input'),
                visible: code.checkVisibility()};""")
    assert state is not None, f"no set-up cell on {page}"
    assert state == {"hidden": True, "visible": False}, state
    opened = browser.execute_script(find + """
        cell.querySelector('summary').click();
        return cell.querySelector('.cell_input pre').checkVisibility();""")
    assert opened, f"the set-up cell of {page} does not open"


@pytest.mark.parametrize("page", [p for p in PAGES if (ROOT / f"{p}.ipynb").is_file()])
def test_exercise_solutions_are_hidden(site, browser, page):
    """Every chapter has >= 2 exercises, each followed by its solution cell, folded away.

    The exercise is a ``{admonition} Exercise N: title`` (class tip); its solution is the
    next code cell, tagged ``hide-cell``: on the page its code *and its output* (the
    answer) are inside a closed ``<details>`` and not displayed until the reader opens it.
    """
    _open(browser, f"{site}/{page}.html")
    state = browser.execute_script("""
        const cells = [...document.querySelectorAll('main div.cell')];
        const visible = e => !!e && e.checkVisibility();
        const exercises = [...document.querySelectorAll('main div.admonition')]
            .filter(a => /^Exercise \\d+:/.test(
                a.querySelector('.admonition-title')?.innerText.trim() ?? ''));
        const next_cell = a => cells.find(c =>
            a.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING);
        const hidden = [...document.querySelectorAll('main div.cell.tag_hide-cell')];
        return {
            exercises: exercises.map(a => a.querySelector('.admonition-title').innerText.trim()),
            followed_by_hidden: exercises.map(
                a => !!next_cell(a)?.classList.contains('tag_hide-cell')),
            solutions: hidden.map(c => {
                const details = c.querySelector('details.hide');
                return {
                    folded: !!details && !details.open,
                    wraps_output: !c.querySelector('.cell_output')
                        || !!details?.contains(c.querySelector('.cell_output')),
                    code_shown: visible(c.querySelector('.cell_input pre')),
                    output_shown: visible(c.querySelector('.cell_output')),
                };
            }),
        };""")
    assert len(state["exercises"]) >= 2, f"{page}: exercises {state['exercises']}"
    numbers = [int(t.split()[1].rstrip(":")) for t in state["exercises"]]
    assert numbers == list(range(1, len(numbers) + 1)), f"{page}: numbered {numbers}"
    assert all(state["followed_by_hidden"]), f"{page}: an exercise without a hidden solution"
    for solution in state["solutions"]:
        assert solution == {"folded": True, "wraps_output": True, "code_shown": False,
                            "output_shown": False}, f"{page}: {solution}"
    # opened, the first solution shows its code and its answer
    if state["solutions"]:
        opened = browser.execute_script("""
            const cell = document.querySelector('main div.cell.tag_hide-cell');
            cell.querySelector('details.hide > summary').click();
            const out = cell.querySelector('.cell_output');
            return cell.querySelector('.cell_input pre').checkVisibility()
                && (!out || out.checkVisibility());""")
        assert opened, f"{page}: a solution does not open"
