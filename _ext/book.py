"""Small Sphinx fixes for the book's HTML, so it works offline and with a clean console.

- MathJax is served from the book itself instead of a CDN: the HTML must render formulas
  where there is no internet (a workshop room, a laptop reading the built book offline, CI's
  headless Chromium). The PyPI package ``django-static-mathjax`` ships MathJax 3 as plain
  files; its ``es5`` folder is copied to ``_build/html/_static/mathjax``.
- Jupyter Book 1 registers sphinx-thebe's configuration script twice, which makes the browser
  report "Identifier 'THEBE_JS_URL' has already been declared" on every page: duplicates
  are dropped from each page's scripts.
- The theme's colour mode defaults to "auto" (follow the reader's system), explicitly: the
  theme otherwise logs "Got invalid theme mode" on a reader's first visit.
"""

import shutil
from pathlib import Path

import mathjax  # the django-static-mathjax package: static files only, no Django needed

MATHJAX = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def _config_inited(app, config):
    config.mathjax_path = "mathjax/tex-chtml.js"
    config.html_context.setdefault("default_mode", "auto")


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # the copies differ in priority or in filename (None or "" for an inline script)
        attributes = getattr(script, "attributes", {})
        key = (getattr(script, "filename", script) or "", tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def _copy_mathjax(app, exception):
    if exception is None and app.builder.format == "html":
        shutil.copytree(MATHJAX, Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def setup(app):
    if not (MATHJAX / "tex-chtml.js").is_file():
        raise RuntimeError(
            f"MathJax files not found in {MATHJAX}: pip install django-static-mathjax"
        )
    app.connect("config-inited", _config_inited)
    app.connect("html-page-context", _dedupe_scripts)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
