#!/usr/bin/env python3
"""check_excerpts.py - fails if an excerpt a chapter shows by \\dontinclude no longer matches its file."""
import os
import re
import sys

# Doxygen's \skip, \skipline, \until and \line search a \dontinclude'd file for a
# pattern and quietly show nothing when it is gone, so a kernel rewritten under a
# chapter would leave an empty excerpt behind. This replays each page's commands the
# way Doxygen does (each search starts where the last one stopped) and reports a
# pattern that is missing, or an excerpt that runs longer than MAX_LINES.
MAX_LINES = 40
COMMAND = re.compile(r"\\(dontinclude|skip|skipline|until|line)\s+(.+?)\s*$")


def check_page(root, page):
    problems, lines, pos, path, start = [], None, 0, None, None
    with open(page, encoding="utf-8") as f:
        for n, text in enumerate(f, 1):
            m = COMMAND.search(text)
            if not m:
                continue
            cmd, arg = m.groups()
            where = "%s:%d" % (os.path.relpath(page, root), n)
            if cmd == "dontinclude":
                path = arg
                try:
                    with open(os.path.join(root, arg), encoding="utf-8") as src:
                        lines = src.read().split("\n")
                except OSError:
                    problems.append("%s: %s does not exist" % (where, arg))
                    lines = None
                pos = 0
                continue
            if lines is None:
                continue
            hit = next((i for i in range(pos, len(lines)) if arg in lines[i]), None)
            if hit is None:
                problems.append("%s: '%s' not found in %s (after line %d)" % (where, arg, path, pos))
                continue
            if cmd in ("skip", "skipline", "line"):
                start = hit
            if cmd == "until" and start is not None and hit - start > MAX_LINES:
                problems.append("%s: the excerpt of %s ending at '%s' is %d lines long" %
                                (where, path, arg, hit - start + 1))
            pos = hit + 1 if cmd != "skip" else hit
    return problems


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    docs = os.path.join(root, "docs")
    problems = []
    for name in sorted(os.listdir(docs)):
        if name.endswith(".md"):
            problems += check_page(root, os.path.join(docs, name))
    for p in problems:
        print(p)
    print("check_excerpts: %s" % ("%d problems" % len(problems) if problems else "every excerpt found"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
