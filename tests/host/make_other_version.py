#!/usr/bin/env python3
"""Makes "another version" of crashdrop's single header for tests/host's plugin_b: the single
header with its version macros and its versioned inline namespace changed, as if plugin_b had
been built against an older crashdrop release than plugin_a. Two copies that differ this way
must still live together in one process (the inline namespace keeps their types apart; the
chaining protocol between copies, crashdrop_chain_v1, is the same).

    make_other_version.py --amalgamate tools/amalgamate.py --output OUT [--version 0.0.9]
        amalgamates include/ (the same text single_include/crashdrop.hpp holds when it is up
        to date) and patches that
    make_other_version.py --input single_include/crashdrop.hpp --output OUT [--version 0.0.9]
        patches a given single header

OUT is rewritten only when its text changes (no needless rebuilds)."""
import argparse
import os
import re
import subprocess
import sys
import tempfile


def patch(text, version):
    major, minor, patch_level = version.split(".")
    current = re.search(r"#define CRASHDROP_VERSION_STRING \"([^\"]+)\"", text)
    if not current:
        raise SystemExit("make_other_version: no CRASHDROP_VERSION_STRING in the header")
    if current.group(1) == version:
        raise SystemExit(f"make_other_version: the header already is version {version}")
    rules = [
        (r"#define CRASHDROP_VERSION_MAJOR \d+", f"#define CRASHDROP_VERSION_MAJOR {major}"),
        (r"#define CRASHDROP_VERSION_MINOR \d+", f"#define CRASHDROP_VERSION_MINOR {minor}"),
        (r"#define CRASHDROP_VERSION_PATCH \d+", f"#define CRASHDROP_VERSION_PATCH {patch_level}"),
        (r"#define CRASHDROP_VERSION_STRING \"[^\"]+\"", f"#define CRASHDROP_VERSION_STRING \"{version}\""),
        (r"\binline namespace v\d+_\d+\b", f"inline namespace v{major}_{minor}"),
        (r"^// crashdrop \S+ - single-header edition\.", f"// crashdrop {version} - single-header edition."),
    ]
    for pattern, replacement in rules:
        text, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        if count == 0:
            raise SystemExit(f"make_other_version: pattern not found: {pattern}")
    # Nothing may still name the old inline namespace (a qualified use would bind to it).
    old_ns = "v" + "_".join(current.group(1).split(".")[:2])
    if old_ns != f"v{major}_{minor}" and re.search(rf"\b{old_ns}\b", text):
        raise SystemExit(f"make_other_version: {old_ns} is still named in the patched header")
    return f"// PATCHED by tests/host/make_other_version.py to version {version} - a test fixture.\n" + text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--amalgamate", help="tools/amalgamate.py: amalgamate include/ first")
    source.add_argument("--input", help="a single header to patch")
    parser.add_argument("--output", required=True)
    parser.add_argument("--version", default="0.0.9")
    args = parser.parse_args()
    if not re.fullmatch(r"\d+\.\d+\.\d+", args.version):
        raise SystemExit("make_other_version: --version must be MAJOR.MINOR.PATCH")

    if args.amalgamate:
        with tempfile.TemporaryDirectory() as tmp:
            generated = os.path.join(tmp, "crashdrop.hpp")
            subprocess.run([sys.executable, args.amalgamate, "--output", generated], check=True)
            with open(generated, encoding="utf-8") as f:
                text = f.read()
    else:
        with open(args.input, encoding="utf-8") as f:
            text = f.read()

    result = patch(text, args.version)
    try:
        with open(args.output, encoding="utf-8") as f:
            if f.read() == result:
                return 0
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    tmp_out = args.output + ".tmp"
    with open(tmp_out, "w", encoding="utf-8", newline="\n") as f:
        f.write(result)
    os.replace(tmp_out, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
