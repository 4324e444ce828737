#!/usr/bin/env python3
"""Checks the documentation a reader meets first (standard library only).

    check_links.py [--root REPO]

1. Every relative link in README.md and docs/**/*.md resolves: the file or folder exists inside
   the repository, and a #fragment names a heading of the target Markdown file, with the anchor
   GitHub makes of it (lower case; punctuation other than '-' and '_' dropped; each space a '-';
   a repeated heading gets -1, -2, ...), or an explicit <a id="..."> / <a name="...">. A fragment
   on another kind of file must be a GitHub line anchor (#L12, #L12-L20). Links inside code
   (fenced blocks and `spans`) are not links and are ignored; so are http(s):, mailto: etc.
2. README.md is at most 12288 bytes (it is the front door, not the manual).
3. The first code block of README.md is the set-up block, `tools/demo.sh` then `tools/test.sh`,
   and it sits in the first section after the introduction (nothing but the introduction, its
   feature list and one heading come before it).
4. README.md links directly to the pages a newcomer must reach in one click (REQUIRED_LINKS).

Every problem is printed as FILE:LINE: what; the exit status is 1 when there is one.
"""
import argparse
import os
import re
import sys
import urllib.parse

README_LIMIT = 12288

# What a reader must find from the README in one click (issue 11, "Done when"): the target of a
# link in README.md, exactly (file#anchor). Renaming one of these headings must update the README.
REQUIRED_LINKS = {
    "docs/integration.md#cmake": "how to add crashdrop to a CMake project",
    "docs/helper-and-uploads.md#sending-to-sentry": "how to send to Sentry",
    "docs/dumps.md#reading-a-dump": "how to read a dump",
    "docs/helper-and-uploads.md#when-the-server-is-down": "what happens when the server is down",
    "docs/plugins.md#only-its-own-crashes-only_this_module": "how a plugin limits capture to its own crashes",
}

SETUP_COMMANDS = ["tools/demo.sh", "tools/test.sh"]

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HTML_ANCHOR = re.compile(r"<a\s+[^>]*?\b(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
HTML_HREF = re.compile(r"<a\s+[^>]*?\bhref\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
LINE_ANCHOR = re.compile(r"^L\d+(C\d+)?(-L\d+(C\d+)?)?$")


def split_lines(text):
    """(line number, line, in_code) for each line; fence lines themselves count as code."""
    out = []
    fence = None
    for number, line in enumerate(text.split("\n"), 1):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)
            out.append((number, line, True))
        elif fence is not None:
            out.append((number, line, True))
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and line.strip() == m.group(1):
                fence = None
        else:
            out.append((number, line, False))
    return out


def rendered_text(heading):
    """The text GitHub renders for a heading's Markdown (links as their text, no code marks, no tags)."""
    text = CODE_SPAN.sub(lambda m: m.group(2).strip(), heading)
    text = INLINE_LINK.sub(lambda m: m.group(1), text)
    text = re.sub(r"<[^>]+>", "", text)
    return text.strip()


def github_slug(text):
    """GitHub's heading anchor (github-slugger): lower case, punctuation dropped, spaces to '-'."""
    text = rendered_text(text).lower()
    text = "".join(ch for ch in text if ch in "-_ " or ch.isalnum() or ch.isdigit())
    return text.replace(" ", "-")


def anchors_of(text):
    """Every anchor a Markdown file offers: its headings' slugs (duplicates numbered) and <a id>."""
    anchors = set()
    seen = {}
    lines = split_lines(text)
    for i, (_, line, in_code) in enumerate(lines):
        if in_code:
            continue
        heading = None
        m = ATX.match(line)
        if m:
            heading = m.group(2) or ""
        elif i > 0 and SETEXT.match(line):
            _, previous, previous_code = lines[i - 1]
            if previous.strip() and not previous_code and not ATX.match(previous) and "|" not in previous \
                    and not re.match(r"^\s*([-*+]|\d+[.)])\s", previous):
                heading = previous.strip()
        if heading is not None:
            slug = github_slug(heading)
            if slug in seen:
                seen[slug] += 1
                slug = f"{slug}-{seen[slug]}"
            else:
                seen[slug] = 0
            anchors.add(slug)
        for a in HTML_ANCHOR.findall(line):
            anchors.add(a)
    return anchors


def links_of(text):
    """(line number, target) of every link outside code."""
    out = []
    for number, line, in_code in split_lines(text):
        if in_code:
            continue
        plain = CODE_SPAN.sub("", line)
        for m in INLINE_LINK.finditer(plain):
            out.append((number, m.group(2)))
        m = REFERENCE_DEF.match(plain)
        if m:
            out.append((number, m.group(1)))
        for href in HTML_HREF.findall(plain):
            out.append((number, href))
    return out


class Checker:
    def __init__(self, root):
        self.root = os.path.realpath(root)
        self.problems = []
        self._anchors = {}

    def problem(self, path, line, what):
        self.problems.append(f"{os.path.relpath(path, self.root)}:{line}: {what}")

    def anchors(self, path):
        if path not in self._anchors:
            with open(path, encoding="utf-8") as f:
                self._anchors[path] = anchors_of(f.read())
        return self._anchors[path]

    def resolve(self, source, target):
        """The absolute path and fragment a relative link of `source` names, or (None, why)."""
        path_part, _, fragment = target.partition("#")
        path_part = urllib.parse.unquote(path_part.split("?", 1)[0])
        fragment = urllib.parse.unquote(fragment)
        if path_part.startswith("/"):
            resolved = os.path.join(self.root, path_part.lstrip("/"))
        elif path_part:
            resolved = os.path.join(os.path.dirname(source), path_part)
        else:
            resolved = source
        resolved = os.path.realpath(resolved)
        if resolved != self.root and not resolved.startswith(self.root + os.sep):
            return None, fragment, "points outside the repository"
        if not os.path.exists(resolved):
            return None, fragment, "no such file or folder"
        return resolved, fragment, None

    def check_file(self, path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for line, target in links_of(text):
            if not target or SCHEME.match(target):
                continue
            resolved, fragment, why = self.resolve(path, target)
            if resolved is None:
                self.problem(path, line, f"broken link '{target}': {why}")
                continue
            if not fragment:
                continue
            if resolved.endswith(".md") and os.path.isfile(resolved):
                if fragment not in self.anchors(resolved):
                    self.problem(path, line, f"broken link '{target}': no heading with anchor "
                                             f"'#{fragment}' in {os.path.relpath(resolved, self.root)}")
            elif not LINE_ANCHOR.match(fragment):
                self.problem(path, line, f"broken link '{target}': '#{fragment}' is neither a Markdown "
                                         "heading nor a line anchor")

    def check_readme(self, path):
        size = os.path.getsize(path)
        if size > README_LIMIT:
            self.problem(path, 1, f"README.md is {size} bytes, over the {README_LIMIT}-byte limit "
                                  "(move detail into docs/)")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        lines = split_lines(text)
        # The first fenced block, and the headings before it.
        headings_before = []
        block = None
        for i, (number, line, in_code) in enumerate(lines):
            if in_code and FENCE.match(line):
                block = [number, []]
                for _, inner, inner_code in lines[i + 1:]:
                    if FENCE.match(inner):
                        break
                    block[1].append(inner)
                break
            m = ATX.match(line) if not in_code else None
            if m:
                headings_before.append((number, len(m.group(1)), m.group(2) or ""))
        if block is None:
            self.problem(path, 1, "README.md has no code block: the set-up commands must come first")
        else:
            commands = [l.split("#", 1)[0].split() for l in block[1]]
            commands = [c[0] for c in commands if c]
            if commands != SETUP_COMMANDS:
                self.problem(path, block[0], f"the first code block runs {commands}, not the set-up "
                                             f"commands {SETUP_COMMANDS}")
            sections = [h for h in headings_before if h[1] >= 2]
            if len(sections) != 1:
                self.problem(path, block[0], "the set-up commands must be in the first section after the "
                                             f"introduction; {len(sections)} section headings come before them")
        targets = set()
        for _, target in links_of(text):
            if target and not SCHEME.match(target):
                resolved, fragment, why = self.resolve(path, target)
                if resolved is not None:
                    rel = os.path.relpath(resolved, self.root).replace(os.sep, "/")
                    targets.add(rel + ("#" + fragment if fragment else ""))
        for target, what in REQUIRED_LINKS.items():
            if target not in targets:
                self.problem(path, 1, f"README.md does not link to {target} ({what})")


def markdown_files(root):
    files = [os.path.join(root, "README.md")]
    for folder, dirs, names in os.walk(os.path.join(root, "docs")):
        dirs.sort()
        files += [os.path.join(folder, n) for n in sorted(names) if n.endswith(".md")]
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    args = parser.parse_args()
    checker = Checker(args.root)
    files = markdown_files(checker.root)
    for path in files:
        if not os.path.isfile(path):
            checker.problem(path, 0, "missing")
            continue
        checker.check_file(path)
    readme = os.path.join(checker.root, "README.md")
    if os.path.isfile(readme):
        checker.check_readme(readme)
    for p in checker.problems:
        print(p)
    if checker.problems:
        print(f"check_links: {len(checker.problems)} problem(s) in {len(files)} file(s)")
        return 1
    print(f"check_links: {len(files)} file(s), every relative link resolves; README.md "
          f"{os.path.getsize(readme)} bytes; set-up commands first")
    return 0


if __name__ == "__main__":
    sys.exit(main())
