#!/usr/bin/env python3
"""render_check.py - renders the book's pages in headless Chromium; checks formulas and figures."""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile
from html.parser import HTMLParser

DOCS = os.path.dirname(os.path.abspath(__file__))

# Chromium as a plain renderer: no network (every host name fails to resolve), no
# background services, a fresh profile per page.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-extensions",
                  "--host-resolver-rules=MAP * ~NOTFOUND", "--hide-scrollbars"]

# What Doxygen leaves for MathJax, and what must never reach a reader.
RAW_TEX = [r"\(", r"\)", r"\[", r"\]", r"\f$", r"\f[", r"\f]", "$$"]


def pages(html_dir):
    """(page file, markdown source or None) for the front page, every chapter and the API."""
    found = [("index.html", os.path.join(DOCS, "index.md"))]
    for name in sorted(os.listdir(DOCS)):
        if not name.endswith(".md") or name == "index.md":
            continue
        with open(os.path.join(DOCS, name), encoding="utf-8") as f:
            m = re.match(r"#[^\n{]*\{#([A-Za-z0-9_]+)\}", f.read())
        if m:
            found.append((m.group(1) + ".html", os.path.join(DOCS, name)))
    found.append(("bpq_8h.html", None))
    return [(p, src) for p, src in found if os.path.exists(os.path.join(html_dir, p))] + \
           [(p, "MISSING") for p, src in found if not os.path.exists(os.path.join(html_dir, p))]


def expected_figures(src):
    """Figures a markdown page asks for: \\dot blocks, \\image html and ![..](..) images."""
    if not src:
        return 0
    with open(src, encoding="utf-8") as f:
        text = f.read()
    return (len(re.findall(r"^\s*\\dot\b", text, re.M)) +
            len(re.findall(r"\\image\s+html\s", text)) + len(re.findall(r"!\[[^\]]*\]\(", text)))


class Dom(HTMLParser):
    """Collects what the checks need from a page: text outside scripts, math, and the
    figures (img, object, iframe) inside the page's contents, not Doxygen's own icons."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text, self.math_scripts, self.frames, self.errors, self.figures = [], 0, 0, 0, []
        self._skip = 0
        self._divs = 0          # open <div> elements
        self._contents = None   # depth of <div class="contents">, while inside it

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "div":
            self._divs += 1
            if "contents" in classes and self._contents is None:
                self._contents = self._divs
        if tag in ("script", "style"):
            self._skip += 1
            if tag == "script" and (a.get("type") or "").startswith("math/tex"):
                self.math_scripts += 1
        if "MathJax_SVG" in classes:
            self.frames += 1
        if "MathJax_Error" in classes or tag == "merror":
            self.errors += 1
        ref = {"img": "src", "iframe": "src", "object": "data"}.get(tag)
        if ref and a.get(ref) and self._contents is not None:
            self.figures.append(a[ref])

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        if tag == "div":
            if self._contents == self._divs:
                self._contents = None
            self._divs -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def chromium(exe, args, url):
    with tempfile.TemporaryDirectory(prefix="bpq-render-") as profile:
        r = subprocess.run([exe] + CHROMIUM_FLAGS + ["--user-data-dir=" + profile] + args + [url],
                           capture_output=True, text=True, timeout=120)
    return r


def figure_ok(html_dir, page, ref):
    """The file a figure points at exists and looks like the image it claims to be."""
    if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", ref) and not ref.startswith("file:"):
        return False, "not a local file"
    path = os.path.normpath(os.path.join(html_dir, os.path.dirname(page), ref.split("#")[0]))
    if not os.path.isfile(path) or os.path.getsize(path) < 100:
        return False, "missing or empty"
    with open(path, "rb") as f:
        head = f.read(4096)
    if path.endswith(".png") and not head.startswith(b"\x89PNG"):
        return False, "not a PNG"
    if path.endswith(".svg") and b"<svg" not in head:
        return False, "not an SVG"
    return True, ""


def check(html_dir, exe, budget_ms, page, src):
    """Renders one page; returns (page, problems, summary)."""
    if src == "MISSING":
        return page, ["page was not generated"], ""
    path = os.path.join(html_dir, page)
    with open(path, encoding="utf-8") as f:
        source = f.read()
    # Doxygen writes each formula as \( .. \) or \[ .. \] inside the page's contents.
    contents = source.split('<div class="contents">', 1)[-1]
    n_formulas = contents.count(r"\(") + contents.count(r"\[")
    r = chromium(exe, ["--virtual-time-budget=%d" % budget_ms, "--dump-dom"], "file://" + path)
    problems = []
    if r.returncode != 0 or "</html>" not in r.stdout:
        return page, ["chromium failed (exit %d): %s" % (r.returncode, r.stderr[-500:])], ""
    dom = Dom()
    dom.feed(r.stdout)
    text = "".join(dom.text)
    for raw in RAW_TEX:
        if raw in text:
            i = text.index(raw)
            problems.append("raw %s left on the page: ...%s..." % (raw, text[max(0, i - 40):i + 40]
                                                                   .replace("\n", " ")))
            break
    if dom.math_scripts < n_formulas:
        problems.append("%d formulas in the page, %d typeset" % (n_formulas, dom.math_scripts))
    if n_formulas and dom.frames < n_formulas:
        problems.append("%d formulas, %d MathJax SVG outputs" % (n_formulas, dom.frames))
    # A TeX error is typeset too, as its message in red (MathJax 2's merror style).
    tex_errors = r.stdout.count('fill="rgb(204, 0, 0)"')
    if dom.errors or tex_errors or "Math Processing Error" in text:
        problems.append("MathJax reported %d errors" % max(dom.errors, tex_errors, 1))
    figs = dom.figures
    want = expected_figures(src)
    if len(figs) < want:
        problems.append("%d figures asked for, %d on the page" % (want, len(figs)))
    for ref in figs:
        good, why = figure_ok(html_dir, page, ref)
        if not good:
            problems.append("figure %s: %s" % (ref, why))
    return page, problems, "%d formulas, %d figures" % (n_formulas, len(figs))


def screenshot(html_dir, exe, budget_ms, page, out_dir, width, height):
    out = os.path.join(out_dir, page.replace(".html", ".png"))
    r = chromium(exe, ["--virtual-time-budget=%d" % budget_ms,
                       "--window-size=%d,%d" % (width, height), "--screenshot=" + out],
                 "file://" + os.path.join(html_dir, page))
    return out if r.returncode == 0 and os.path.exists(out) else None


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("html", nargs="?", default="build/docs/html", help="the generated HTML")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--budget-ms", type=int, default=15000,
                    help="virtual time each page gets to run MathJax")
    ap.add_argument("--screenshots", metavar="DIR", help="also save a PNG of every page here")
    ap.add_argument("--size", default="1280x2400", help="screenshot window, WxH")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    html_dir = os.path.abspath(args.html)
    if not os.path.isfile(os.path.join(html_dir, "index.html")):
        print("render_check: no %s/index.html; build the docs target first" % html_dir)
        return 1
    todo = pages(html_dir)
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for page, problems, summary in pool.map(
                lambda p: check(html_dir, args.chromium, args.budget_ms, *p), todo):
            print("%-28s %s" % (page, "ok (%s)" % summary if not problems else "FAILED"))
            for p in problems:
                print("    " + p)
            failed += bool(problems)
        if args.screenshots:
            os.makedirs(args.screenshots, exist_ok=True)
            w, h = (int(v) for v in args.size.split("x"))
            shots = pool.map(lambda p: screenshot(html_dir, args.chromium, args.budget_ms, p[0],
                                                  args.screenshots, w, h), todo)
            for shot in shots:
                print("screenshot:", shot or "FAILED")
    print("render_check: %d pages, %d failed" % (len(todo), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
