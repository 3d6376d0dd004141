#!/usr/bin/env python3
"""Checks the links of the repository's Markdown: README.md, docs/*.md and every other
tracked *.md file.

Every link must stay inside the repository: a relative path that resolves to a file or
directory of the repository, optionally with a #anchor that names a heading of the target
(GitHub's anchor rules), or a bare #anchor of the same page. A link with a scheme (https:,
mailto:, ...), a protocol-relative //host, an absolute /path, or a path that climbs out of
the repository (../shared/...) is an error: whoever clones meshprobe must find everything in
it.

Pages other branches are still writing may be listed, one path a line, in
unit/docs/pending_pages.txt: links to them are reported but not errors while the page is
missing. A listed page that exists is checked like any other and reported as a note (remove
its line); not an error, so that merging the branch that writes it never breaks the build.

  check_links.py REPOSITORY_ROOT          exit 0 when every link resolves, else 1
"""
import os
import re
import subprocess
import sys
import urllib.parse

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# [text](target "title") and ![alt](target); target without spaces, or <with spaces>.
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s)]*)(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
AUTOLINK = re.compile(r"<((?:[a-zA-Z][a-zA-Z0-9+.-]*):[^\s<>]*)>")
BARE_URL = re.compile(r"(?<![\w/(<\[])(https?://[^\s)<>\]]+)")
HTML_HREF = re.compile(r"<a\s[^>]*href=\"([^\"]*)\"", re.IGNORECASE)
HTML_ANCHOR = re.compile(r"<a\s[^>]*(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def without_code_spans(line):
    """The line with `code spans` blanked out (links inside code are not links)."""
    return re.sub(r"(`+)(.+?)\1", lambda m: " " * len(m.group(0)), line)


def prose_lines(text):
    """(line number, line) of the lines outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.split("\n"), 1):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence = match.group(1)
                continue
            yield number, line
        elif match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
            fence = None


def github_anchor(heading_text):
    """The anchor GitHub gives a heading: the rendered text, lower-cased, with everything but
    letters, digits, spaces, hyphens and underscores removed and spaces made hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading_text)  # links: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "")
    text = re.sub(r"(\*\*|\*)(.+?)\1", r"\2", text)  # emphasis markers
    text = re.sub(r"(?<!\w)(__|_)(.+?)\1(?!\w)", r"\2", text)  # not inside words
    text = text.strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors_of(text):
    """Every anchor a page defines: its headings' (with GitHub's -1, -2 for repeats) and
    explicit <a name|id="...">."""
    anchors = set()
    seen = {}
    for _, line in prose_lines(text):
        heading = HEADING.match(line)
        if heading:
            anchor = github_anchor(heading.group(2))
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            anchors.add(anchor if count == 0 else f"{anchor}-{count}")
        for name in HTML_ANCHOR.findall(line):
            anchors.add(name)
    return anchors


def links_of(text):
    """(line number, target) of every link in the page's prose."""
    for number, line in prose_lines(text):
        prose = without_code_spans(line)
        for pattern in (INLINE_LINK, REFERENCE_DEFINITION, HTML_HREF):
            for target in pattern.findall(prose):
                yield number, target.strip("<>")
        for target in AUTOLINK.findall(prose):
            yield number, target
        rest = prose
        for pattern in (INLINE_LINK, REFERENCE_DEFINITION, HTML_HREF, AUTOLINK):
            rest = pattern.sub(" ", rest)
        for target in BARE_URL.findall(rest):
            yield number, target


def markdown_files(root):
    files = {"README.md"}
    docs = os.path.join(root, "docs")
    if os.path.isdir(docs):
        for directory, _, names in os.walk(docs):
            for name in names:
                if name.endswith(".md"):
                    files.add(os.path.relpath(os.path.join(directory, name), root))
    try:
        tracked = subprocess.run(["git", "-C", root, "ls-files", "-z", "*.md"],
                                 capture_output=True, check=True).stdout.decode()
        files.update(path for path in tracked.split("\0") if path)
    except (OSError, subprocess.CalledProcessError):
        pass  # not a git checkout: README.md and docs/ only
    return sorted(f for f in files if os.path.isfile(os.path.join(root, f)))


def pending_pages(root):
    path = os.path.join(root, "unit", "docs", "pending_pages.txt")
    if not os.path.isfile(path):
        return set()
    with open(path, encoding="utf-8") as listing:
        return {line.strip() for line in listing
                if line.strip() and not line.lstrip().startswith("#")}


def check(root):
    """A list of problems, each 'file:line: what'; and a list of notes."""
    root = os.path.realpath(root)
    problems, notes = [], []
    pending = pending_pages(root)
    for page in sorted(pending):
        if os.path.exists(os.path.join(root, page)):
            notes.append(f"unit/docs/pending_pages.txt: {page} exists now: remove its line")
    anchor_cache = {}

    def anchors(path):
        if path not in anchor_cache:
            with open(path, encoding="utf-8") as page:
                anchor_cache[path] = anchors_of(page.read())
        return anchor_cache[path]

    for relative in markdown_files(root):
        source = os.path.join(root, relative)
        with open(source, encoding="utf-8") as page:
            text = page.read()
        for number, target in links_of(text):
            where = f"{relative}:{number}"
            if not target:
                problems.append(f"{where}: an empty link")
                continue
            if SCHEME.match(target) or target.startswith("//"):
                problems.append(f"{where}: {target} points outside the repository "
                                "(only relative links to files of the repository)")
                continue
            if target.startswith("/"):
                problems.append(f"{where}: {target} is absolute; write it relative to {relative}")
                continue
            path_part, _, anchor = target.partition("#")
            path_part = urllib.parse.unquote(path_part.split("?", 1)[0])
            resolved = os.path.realpath(os.path.join(os.path.dirname(source), path_part)) \
                if path_part else source
            if resolved != root and not resolved.startswith(root + os.sep):
                problems.append(f"{where}: {target} leads outside the repository")
                continue
            repository_path = os.path.relpath(resolved, root)
            if not os.path.exists(resolved):
                if repository_path in pending:
                    notes.append(f"{where}: {target}: pending (unit/docs/pending_pages.txt)")
                else:
                    problems.append(f"{where}: {target}: no such file {repository_path}")
                continue
            if anchor:
                if not resolved.endswith(".md") or os.path.isdir(resolved):
                    problems.append(f"{where}: {target}: an anchor into {repository_path}, "
                                    "which is not a Markdown page")
                elif urllib.parse.unquote(anchor) not in anchors(resolved):
                    problems.append(f"{where}: {target}: {repository_path} has no heading "
                                    f"with the anchor #{anchor}")
    return problems, notes


def main(arguments):
    if len(arguments) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    problems, notes = check(arguments[0])
    for note in notes:
        print("note: " + note)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} broken link(s)")
        return 1
    print("every link resolves inside the repository")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
