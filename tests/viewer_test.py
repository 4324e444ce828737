#!/usr/bin/env python3
"""The crash viewer of tools/collector.py, loaded in a real browser (headless Chromium).

A real crash: the demo (examples/demo.cpp) crashes in its simulation thread and its helper sends
the report to `collector.py serve --symbols-dir S`; then dump_syms lays out the demo's symbols as
S/<module>/<debug id>/<module>.sym (after the report arrived, so the viewer must notice them and
analyse the dump again). The same dump is then sent in the other dialects (Socorro, Sentry
envelope, Sentry minidump endpoint) with hostile values (HTML and script tags in annotations,
breadcrumbs, the product name, tag keys, the user), and one other dump makes a second group.
Chromium renders the pages (--dump-dom) and the test checks what the DOM shows: the groups and
their counts, every field, the demo's named frames, and that every hostile value is text - no
element it tried to inject exists and no script ran. Screenshots of the list and of the demo's
report are kept in --artifacts.

    viewer_test.py --demo BUILD/examples/demo --workdir DIR --artifacts DIR

Needs Breakpad's tools (CRASHDROP_MINIDUMP_TOOLS; tools/setup.sh) and Chromium (`chromium`,
or CRASHDROP_CHROMIUM). Exit status: 0 passed, 1 failed, 77 skipped (one of them missing: a
failure instead under CI, or with CRASHDROP_REQUIRE_BROWSER=1 for Chromium and
CRASHDROP_REQUIRE_READERS=1 for Breakpad's tools).
Standard library only.
"""
import argparse
import gzip
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTOR = os.path.join(ROOT, "tools", "collector.py")
OTHER_DUMP = os.path.join(ROOT, "tests", "fixtures", "aarch64", "fixture_target.dmp")  # another crash
SKIP = 77

# What an attacker would put in a report. Each would change the page (the title, an attribute of
# <body>, an element with id "pwned") if the viewer ever let it run or become markup.
SCRIPT = "<script>document.title='PWNED';document.body.setAttribute('data-pwned','1')</script>"
IMG = "\"><img id=pwned src=x onerror=\"document.title='PWNED'\">"
HOSTILE_PRODUCT = "<b id=pwned>Evil</b>Game"


def fail(message):
    print(f"FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def missing(what, variable):
    if os.environ.get("CI") or os.environ.get(variable) == "1":
        fail(f"{what} (required: CI or {variable}=1)")
    print("#" * 80 + f"\n## viewer test SKIPPED: {what}\n" + "#" * 80, file=sys.stderr)
    sys.exit(SKIP)


def check(condition, message):
    if not condition:
        fail(message)


def find_chromium():
    names = [os.environ["CRASHDROP_CHROMIUM"]] if os.environ.get("CRASHDROP_CHROMIUM") else ["chromium", "chromium-browser"]
    found = [shutil.which(n) for n in names if shutil.which(n)]
    return found[0] if found else None


def multipart(parts):
    boundary = "----viewer-test-" + uuid.uuid4().hex
    body = b""
    for name, value, filename in parts:
        body += f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"".encode()
        if filename:
            body += f"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream".encode()
        body += b"\r\n\r\n" + (value if isinstance(value, bytes) else value.encode()) + b"\r\n"
    return f"multipart/form-data; boundary={boundary}", body + f"--{boundary}--\r\n".encode()


class Server:
    def __init__(self, port):
        self.port = port

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def post(self, path, content_type, body, extra=None):
        status, _, reply = self.request("POST", path, body, {"Content-Type": content_type, **(extra or {})})
        check(status == 200, f"POST {path} -> {status} {reply!r}")


class Browser:
    def __init__(self, exe, workdir):
        self.exe = exe
        self.profile = os.path.join(workdir, "chromium-profile")

    def run(self, url, *what):
        args = [self.exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--hide-scrollbars", f"--user-data-dir={self.profile}", *what, url]
        started = time.monotonic()
        r = subprocess.run(args, capture_output=True, text=True, errors="replace", timeout=120)
        check(r.returncode == 0, f"chromium exited {r.returncode} on {url}:\n{r.stderr[-3000:]}")
        print(f"  chromium {' '.join(what)} {url}: {time.monotonic() - started:.1f} s")
        return r.stdout

    def dom(self, url):
        return self.run(url, "--dump-dom")

    def screenshot(self, url, path, height):
        self.run(url, f"--screenshot={path}", f"--window-size=1280,{height}")
        with open(path, "rb") as f:
            check(f.read(8) == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG")


def title_of(dom):
    m = re.search(r"<title>(.*?)</title>", dom, re.S)
    return m.group(1) if m else None


def check_hostile_values_inert(dom, where):
    """Nothing the hostile values tried became markup or ran."""
    check("PWNED" not in (title_of(dom) or ""), f"{where}: a script changed the title: {title_of(dom)!r}")
    check(not re.search(r"<script\b", dom, re.I), f"{where}: the DOM holds a <script> element")
    check(not re.search(r"<img\b", dom, re.I), f"{where}: the DOM holds an <img> element")
    check(not re.search(r"<[a-z]+\b[^>]*\bid=\"?pwned", dom, re.I), f"{where}: an injected element exists")
    check(not re.search(r"<body[^>]*data-pwned", dom), f"{where}: a script set an attribute of <body>")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", required=True, help="the demo executable (examples/demo.cpp)")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--artifacts", required=True, help="where the screenshots are kept")
    parser.add_argument("--demo-symbols", default="",
                        help="the folder crashdrop_add_symbols(crashdrop_demo) laid out when the demo was linked; "
                             "without it, dump_syms is run here")
    args = parser.parse_args()

    chromium = find_chromium()
    if chromium is None:
        missing("Chromium not found (Debian: apt-get install chromium; or set CRASHDROP_CHROMIUM)",
                "CRASHDROP_REQUIRE_BROWSER")
    tools = os.environ.get("CRASHDROP_MINIDUMP_TOOLS", "")
    if not all(os.access(os.path.join(tools, t), os.X_OK) for t in ("dump_syms", "minidump_stackwalk")):
        missing("Breakpad's dump_syms/minidump_stackwalk not found (CRASHDROP_MINIDUMP_TOOLS; source tools/setup.sh)",
                "CRASHDROP_REQUIRE_READERS")

    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    os.makedirs(args.artifacts, exist_ok=True)
    out, symbols = os.path.join(args.workdir, "received"), os.path.join(args.workdir, "symbols")
    os.makedirs(symbols)
    port_file = os.path.join(args.workdir, "port")
    log = open(os.path.join(args.workdir, "collector.log"), "w")
    collector = subprocess.Popen([sys.executable, COLLECTOR, "serve", "--out", out, "--port-file", port_file,
                                  "--symbols-dir", symbols], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file):
            check(collector.poll() is None and time.monotonic() < deadline, "the collector did not start")
            time.sleep(0.05)
        with open(port_file) as f:
            server = Server(int(f.read()))
        base = f"http://127.0.0.1:{server.port}"
        run_tests(args, server, base, Browser(chromium, args.workdir), tools, out, symbols)
    finally:
        collector.send_signal(signal.SIGTERM)
        try:
            collector.wait(timeout=10)
        except subprocess.TimeoutExpired:
            collector.kill()
        log.close()
    with open(os.path.join(args.workdir, "collector.log")) as f:
        check("Traceback" not in f.read(), "the collector's log holds a traceback")
    print("viewer test passed")
    return 0


def wait_reports(out, count):
    deadline = time.monotonic() + 30
    while True:
        found = [n for n in os.listdir(out) if n.isdigit()] if os.path.isdir(out) else []
        if len(found) >= count:
            return
        check(time.monotonic() < deadline, f"{len(found)} of {count} reports arrived in 30 s")
        time.sleep(0.05)


def run_tests(args, server, base, browser, tools, out, symbols):
    # 1. A real crash: the demo crashes and its helper sends the report (crashpad dialect).
    demo = subprocess.run([args.demo, os.path.join(args.workdir, "db"), f"{base}/submit"],
                          capture_output=True, timeout=60)
    check(demo.returncode == -signal.SIGSEGV, f"the demo should die of SIGSEGV, not {demo.returncode}")
    wait_reports(out, 1)
    with open(os.path.join(out, "0001", "files", "upload_file_minidump"), "rb") as f:
        dump = f.read()
    # Analysed without symbols first: the frames are module + offset.
    status, _, body = server.request("GET", "/reports/0001")
    check(status == 200 and b"demo + 0x" in body and b"apply_damage" not in body,
          "before its symbols exist, the demo's frames should be module + offset")
    # Its symbols, laid out as minidump_stackwalk looks for them - only now, so the viewer must
    # notice them and analyse the dump again.
    # With --demo-symbols they come from the build's one step (crashdrop_add_symbols), as a user
    # gets them; the test copies the demo's folder over from there.
    if args.demo_symbols:
        name = os.path.basename(args.demo)
        ids = os.listdir(os.path.join(args.demo_symbols, name)) if os.path.isdir(os.path.join(args.demo_symbols, name)) else []
        check(len(ids) >= 1, f"crashdrop_add_symbols laid out nothing for {name} in {args.demo_symbols}")
        for debug_id in ids:
            shutil.copytree(os.path.join(args.demo_symbols, name, debug_id), os.path.join(symbols, name, debug_id))
    else:
        sym = subprocess.run([os.path.join(tools, "dump_syms"), args.demo], capture_output=True, text=True)
        head = sym.stdout.split("\n", 1)[0].split()
        check(sym.returncode == 0 and len(head) == 5 and head[0] == "MODULE", f"dump_syms failed: {sym.stderr[-500:]}")
        folder = os.path.join(symbols, head[4], head[3])
        os.makedirs(folder)
        with open(os.path.join(folder, head[4] + ".sym"), "w") as f:
            f.write(sym.stdout)

    # 2. The same dump in the other dialects, with hostile values; then another crash.
    server.post("/submit", *multipart([
        ("prod", HOSTILE_PRODUCT, None), ("ver", "6.6.6", None), ("crash_kind", "hang", None),
        ("note", SCRIPT, None), ("long__1", "first half, ", None), ("long__2", "second half", None),
        ("tag.<i id=pwned>key</i>", IMG, None), ("user.id", SCRIPT, None),
        ("breadcrumbs", f"2026-11-22T10:11:12.345Z warning [<b id=pwned>cat</b>] {SCRIPT}\n"
                        "2026-11-22T10:11:13.000Z info [ui] second crumb\n", None),
        ("upload_file_minidump", dump, "crash.dmp")]))
    server.post("/submit", *multipart([("ProductName", "SocorroGame", None), ("Version", "2.0", None),
                                       ("socorro_note", IMG, None), ("upload_file_minidump", dump, "crash.dmp")]))
    event = {"event_id": uuid.uuid4().hex, "release": "EnvelopeGame@3.0", "level": "info",
             "tags": {"crash_kind": "requested", SCRIPT: "tag value"}, "user": {"email": IMG},
             "extra": {"envelope_note": SCRIPT},
             "breadcrumbs": {"values": [{"timestamp": 1764000000.5, "level": "error", "category": "net",
                                         "message": SCRIPT}]}}
    payload = json.dumps(event).encode()
    envelope = (json.dumps({"event_id": event["event_id"]}).encode() + b"\n"
                + json.dumps({"type": "event", "length": len(payload)}).encode() + b"\n" + payload + b"\n"
                + json.dumps({"type": "attachment", "attachment_type": "event.minidump", "filename": "x.dmp",
                              "length": len(dump)}).encode() + b"\n" + dump + b"\n")
    server.post("/api/42/envelope/", "application/x-sentry-envelope", gzip.compress(envelope),
                {"Content-Encoding": "gzip"})
    minidump_event = {"release": "MinidumpGame@4.0", "tags": {"crash_kind": "abnormal_exit"},
                      "extra": {"minidump_note": "plain"}, "user": {"id": "sentry-user"}}
    server.post("/api/42/minidump/?sentry_key=k", *multipart([
        ("sentry", json.dumps(minidump_event), None), ("upload_file_minidump", dump, "crash.dmp")]))
    with open(OTHER_DUMP, "rb") as f:
        server.post("/submit", *multipart([("prod", "Other", None), ("ver", "1", None),
                                           ("upload_file_minidump", f.read(), "other.dmp")]))
    wait_reports(out, 6)

    # 3. What the server sends besides the page: headers, the download, unknown reports.
    status, headers, body = server.request("GET", "/")
    check(status == 200 and headers.get("Content-Type") == "text/html; charset=utf-8", f"GET / -> {status} {headers}")
    csp = headers.get("Content-Security-Policy", "")
    check("default-src 'none'" in csp and "script-src 'none'" in csp and "unsafe" not in csp,
          f"no strict Content-Security-Policy: {csp!r}")
    check(headers.get("X-Content-Type-Options") == "nosniff", "no X-Content-Type-Options: nosniff")
    status, headers, body = server.request("GET", "/reports/0001/minidump")
    check(status == 200 and body == dump, f"the download is not the dump received ({status}, {len(body)} bytes)")
    check("attachment" in headers.get("Content-Disposition", ""), "the download is not an attachment")
    check(server.request("GET", "/reports/0099")[0] == 404, "an unknown report is not 404")

    # 4. The list, rendered by Chromium.
    dom = browser.dom(f"{base}/")
    check_hostile_values_inert(dom, "list")
    check(title_of(dom) == "Crash reports (6)", f"list title {title_of(dom)!r}")
    check(re.search(r"6 report\(s\) in 2 group\(s\)", dom), "the list does not say 6 reports in 2 groups")
    groups = re.findall(r"<details class=\"group\".*?</details>", dom, re.S)
    check(len(groups) == 2, f"{len(groups)} groups in the DOM, not 2")
    other_group, demo_group = groups        # the other dump arrived last, so its group comes first
    check("<span class=\"count\">5×</span>" in demo_group, "the demo's group does not count 5 reports")
    signature = re.search(r"<span class=\"sig mono\">(.*?)</span>", demo_group).group(1)
    check(signature.startswith("SIGSEGV /SEGV_MAPERR | demo!game::apply_damage(game::Entity&amp;, int) | "
                               "demo!game::update_world("), f"the demo's signature is {signature!r}")
    for n in range(1, 6):
        check(f"href=\"/reports/{n:04d}\"" in demo_group, f"report {n} is not listed in the demo's group")
    check(demo_group.index("/reports/0005") < demo_group.index("/reports/0001"), "reports not newest first")
    for kind in ("crash", "hang", "requested", "abnormal_exit"):
        check(f"kind-{kind}\">{kind}<" in demo_group, f"kind {kind} not shown in the group")
    check("&lt;b id=pwned&gt;Evil&lt;/b&gt;Game" in demo_group, "the hostile product is not shown as text")
    check("<span class=\"count\">1×</span>" in other_group and "/reports/0006" in other_group,
          "the other dump is not a group of its own")
    browser.screenshot(f"{base}/", os.path.join(args.artifacts, "viewer-list.png"), 900)

    # 5. The demo's report: every field, every thread, the crashing thread's frames named.
    dom = browser.dom(f"{base}/reports/0001")
    check_hostile_values_inert(dom, "report 0001")
    for text in ("<th>kind</th><td class=\"val\">crash</td>", "<th>product</th><td class=\"val\">crashdrop-demo</td>",
                 "<th>version</th><td class=\"val\">1.0.0</td>", "<th>save_slot</th><td class=\"val\">2</td>",
                 "<th>renderer</th><td class=\"val\">vulkan</td>", "<th>phase</th><td class=\"val\">boss</td>",
                 "<th>id</th><td class=\"val\">player-1337</td>", "boss fight begins",
                 "href=\"/reports/0001/minidump\"", "SIGSEGV /SEGV_MAPERR"):
        check(text in dom, f"report 0001 does not show {text!r}")
    crashed = re.search(r"<details open=\"\" class=\"crashed\" id=\"thread-([0-9]+)\">(.*?)</details>", dom, re.S)
    check(crashed is not None, "no crashing thread shown open")
    frames = re.findall(r"<tr><td>([0-9]+)</td><td>(.*?)</td></tr>", crashed.group(2))
    names = [f for _, f in frames]
    expected = ["demo!game::apply_damage(game::Entity&amp;, int) (demo.cpp:", "demo!game::update_world(",
                "demo!game::simulation_thread() (demo.cpp:"]
    for i, want in enumerate(expected):
        check(i < len(names) and names[i].startswith(want), f"crashing thread frame {i} is {names[i:i + 1]}, not {want}")
    threads = re.findall(r"<details[^>]* id=\"thread-[0-9]+\">", dom)
    check(len(threads) >= 2, f"only {len(threads)} thread(s) shown (the demo has a main and a simulation thread)")
    browser.screenshot(f"{base}/reports/0001", os.path.join(args.artifacts, "viewer-report.png"), 1400)

    # 6. Each dialect's report: its fields shown, its hostile values as text.
    expectations = {
        2: ["&lt;b id=pwned&gt;Evil&lt;/b&gt;Game", "<th>kind</th><td class=\"val\">hang</td>",
            "<th>note</th><td class=\"val\">&lt;script&gt;document.title='PWNED'",
            "<th>long</th><td class=\"val\">first half, second half</td>",
            "<th>&lt;i id=pwned&gt;key&lt;/i&gt;</th><td class=\"val\">\"&gt;&lt;img id=pwned",
            "<td>&lt;b id=pwned&gt;cat&lt;/b&gt;</td>", "second crumb"],
        3: ["<th>product</th><td class=\"val\">SocorroGame</td>", "<th>version</th><td class=\"val\">2.0</td>",
            "<th>socorro_note</th><td class=\"val\">\"&gt;&lt;img id=pwned"],
        4: ["<th>product</th><td class=\"val\">EnvelopeGame</td>", "<th>kind</th><td class=\"val\">requested</td>",
            "sentry envelope", "<th>envelope_note</th><td class=\"val\">&lt;script&gt;",
            "<th>&lt;script&gt;document.title", "<th>email</th><td class=\"val\">\"&gt;&lt;img id=pwned",
            "<td>net</td><td class=\"val\">&lt;script&gt;"],
        5: ["<th>product</th><td class=\"val\">MinidumpGame</td>", "<th>version</th><td class=\"val\">4.0</td>",
            "<th>kind</th><td class=\"val\">abnormal_exit</td>", "sentry minidump",
            "<th>minidump_note</th><td class=\"val\">plain</td>", "<th>id</th><td class=\"val\">sentry-user</td>"],
    }
    for number, texts in expectations.items():
        dom = browser.dom(f"{base}/reports/{number:04d}")
        check_hostile_values_inert(dom, f"report {number:04d}")
        for text in texts + ["demo!game::apply_damage("]:
            check(text in dom, f"report {number:04d} does not show {text!r}")
    print(f"screenshots: {args.artifacts}/viewer-list.png, {args.artifacts}/viewer-report.png")


if __name__ == "__main__":
    sys.exit(main())
