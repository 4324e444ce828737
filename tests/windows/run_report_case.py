#!/usr/bin/env python3
"""Runs one case of report_target_win.exe under wine and checks from outside what the helper did:
the database (pending/, completed/, the .meta files) and, for the upload case, what reached the
test collector (tools/collector.py), whose copy of the dump is read with minidump_stackwalk.

    run_report_case.py --wine WINE --exe report_target_win.exe --case upload --work DIR
        [--helper helper_win.exe] [--collector tools/collector.py] [--stackwalk PATH]

The wine prefix comes from the environment (WINEPREFIX; tools/test_windows.sh makes it).
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

from run_crash_case import find_secret, secret  # the same search as the crash cases

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def fail(msg, detail=""):
    print("FAIL: " + msg)
    if detail:
        print(detail)
    sys.exit(1)


def win_path(p):
    return "Z:" + p.replace("/", "\\")


def read_meta(path):
    out = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                out[k] = v
    return out


def wait_for(predicate, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.2)
    fail(f"timed out after {timeout} s waiting for {what}")


def run_target(a, db, case, extra=None, expect_code=None, env=None):
    cmd = [a.wine, a.exe, win_path(db), case] + (extra if isinstance(extra, list) else [extra] if extra else [])
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=90,
                           env=dict(os.environ, **(env or {})))
    except subprocess.TimeoutExpired as e:
        # What it printed and what the helper logged say where it stood.
        fail(f"{case}: the target did not end within 90 s",
             (e.stdout or b"").decode(errors="replace")[-3000:] + "\n--- helper.log:\n" + helper_log(db))
    out = p.stdout.decode(errors="replace")
    print(f"{case}: exit status {p.returncode} after {time.monotonic() - t0:.2f} s")
    if expect_code is not None and p.returncode != expect_code:
        fail(f"exit status {p.returncode}, expected {expect_code}", out[-3000:] + "\n--- helper.log:\n" + helper_log(db))
    return out


def helper_log(db):
    try:
        with open(os.path.join(db, "helper.log"), encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return "(no helper.log)"


def stackwalk_reason(a, dump, exe_debug_id=False):
    """The crash reason minidump_stackwalk prints; with exe_debug_id, also asserts that the
    executable's module has the debug id its PE CodeView record gives (the helper adds it)."""
    sw = subprocess.run([a.stackwalk, "-m", dump], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if sw.returncode != 0:
        fail("minidump_stackwalk could not read " + dump, sw.stderr.decode(errors="replace")[-2000:])
    lines = sw.stdout.decode(errors="replace").splitlines()
    crash = [l.split("|") for l in lines if l.startswith("Crash|")]
    if exe_debug_id:
        name = os.path.basename(a.exe).lower()
        exe = [l.split("|") for l in lines if l.startswith("Module|") and l.split("|")[1].lower() == name]
        # What the executable's PE CodeView record says (GNU ld's --build-id writes an RSDS one).
        objdump = shutil.which("x86_64-w64-mingw32-objdump")
        if not objdump:
            fail("x86_64-w64-mingw32-objdump is missing (g++-mingw-w64-x86-64)")
        pe = subprocess.run([objdump, "-p", a.exe], stdout=subprocess.PIPE, timeout=60).stdout.decode(errors="replace")
        m = re.search(r"format RSDS signature ([0-9a-f]{32}) age (\d+)", pe)
        if not m:
            fail(f"objdump -p shows no RSDS record in {a.exe}")
        want = m.group(1).upper() + format(int(m.group(2)), "X")
        if not exe or exe[0][4] != want:
            fail(f"{name}'s debug id in the dump is {exe[0][4] if exe else None}, objdump says {want}",
                 "\n".join(l for l in lines if l.startswith("Module|")))
        print(f"{name} debug id {exe[0][4]}, as objdump -p shows")
    return crash[0][1] if crash else None


def check_kind(a, dump, meta_path, want):
    """The dump says what it is (its Crashpad annotation crash_kind, as minidump_dump beside
    minidump_stackwalk shows it) and so does its metadata (kind=)."""
    tool = os.path.join(os.path.dirname(a.stackwalk), "minidump_dump")
    r = subprocess.run([tool, dump], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    annotations = {}
    for line in r.stdout.decode(errors="replace").splitlines():
        m = re.match(r'  simple_annotations\["(.*)"\] = (.*)$', line)
        if m:
            annotations[m.group(1)] = m.group(2)
    if annotations.get("crash_kind") != want:
        fail(f"{dump}: annotation crash_kind = {annotations.get('crash_kind')!r}, expected {want!r}; annotations {annotations}",
             r.stderr.decode(errors="replace")[-2000:])
    wait_for(lambda: os.path.exists(meta_path), 30, meta_path)
    if read_meta(meta_path).get("kind") != want:
        fail(f"{meta_path}: kind = {read_meta(meta_path).get('kind')!r}, expected {want!r}")


def completed_reports(db, count, timeout):
    comp = os.path.join(db, "completed")
    wait_for(lambda: len(glob.glob(os.path.join(comp, "*.meta"))) >= count, timeout,
             f"{count} report(s) in {comp} (helper.log:\n{helper_log(db)})")
    time.sleep(0.3)
    return [read_meta(m) for m in sorted(glob.glob(os.path.join(comp, "*.meta")))]


def helper_gone(db, timeout=30):
    wait_for(lambda: "helper exits" in helper_log(db), timeout, f"the helper to end (helper.log:\n{helper_log(db)})")


def pending_reports(db):
    pending = os.path.join(db, "pending")
    dumps = sorted(glob.glob(os.path.join(pending, "*.dmp")))
    return dumps, [read_meta(d[:-4] + ".meta") if os.path.exists(d[:-4] + ".meta") else {} for d in dumps]


def dump_annotations(a, dump):
    """The Crashpad annotations and the exception stream's thread id, as Breakpad's minidump_dump prints them."""
    dumper = os.path.join(os.path.dirname(a.stackwalk), "minidump_dump")
    md = subprocess.run([dumper, dump], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60).stdout.decode(errors="replace")
    annotations = dict(re.findall(r'simple_annotations\["([^"]*)"\] = (.*)', md))
    m = re.search(r"MDException\s+thread_id\s+= (0x[0-9a-f]+)", md)
    return annotations, int(m.group(1), 16) if m else None, md


def check_hang(a, db):
    """A main loop that stops beating for 2 x hang_timeout_ms: exactly one hang report while the
    process goes on and exits 0; its exception thread is the watched one, in the function it is
    stuck in."""
    out = run_target(a, db, "hang", expect_code=0)
    if "still running" not in out:
        fail("the application did not go on after the hang", out)
    helper_gone(db)
    dumps, metas = pending_reports(db)
    if len(dumps) != 1:
        fail(f"expected exactly one report, found {len(dumps)}: {os.listdir(os.path.join(db, 'pending'))}", helper_log(db))
    if metas[0].get("kind") != "hang":
        fail(f"the report's kind is {metas[0].get('kind')!r}, expected 'hang'", repr(metas[0]))
    annotations, exception_tid, md = dump_annotations(a, dumps[0])
    if annotations.get("crash_kind") != "hang" or int(annotations.get("hang_ms", "0")) < 500:
        fail(f"crash_kind / hang_ms annotations: {annotations}")
    if exception_tid is None or annotations.get("hang_thread") != str(exception_tid):
        fail(f"the exception thread {exception_tid} is not hang_thread {annotations.get('hang_thread')}", md[-2000:])
    sw = subprocess.run([a.stackwalk, "-m", dumps[0]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if sw.returncode != 0:
        fail("minidump_stackwalk could not read the hang dump", sw.stderr.decode(errors="replace")[-2000:])
    lines = sw.stdout.decode(errors="replace").splitlines()
    crash = [l.split("|") for l in lines if l.startswith("Crash|")]
    if not crash or not crash[0][1].lower().startswith("0x48414e47"):
        fail(f"crash reason {crash[0][1] if crash else None}, expected 0x48414e47 (HANG)", "\n".join(lines[:8]))
    threads = {l.split("|")[0] for l in lines if l[:1].isdigit()}
    if len(threads) < 2:
        fail(f"{len(threads)} threads in the dump: a hang dump has every thread")
    # The exception thread's top frame, as minidump_stackwalk gives it (module + offset; the
    # exe's DWARF names it through addr2line).
    exe_name = os.path.basename(a.exe).lower()
    module = {l.split("|")[1].lower(): int(l.split("|")[5], 16) for l in lines if l.startswith("Module|")}
    # The first frame in the exe, among the top two (the spinning function calls GetTickCount64
    # now and then: the dump may catch it in kernel32, below it).
    top = [l.split("|") for l in lines if l.startswith((crash[0][3] + "|0|", crash[0][3] + "|1|"))]
    top = [f for f in top if f[2].lower() == exe_name]
    if not top:
        fail(f"the exception thread's top two frames are not in {exe_name}",
             "\n".join(l for l in lines if l.startswith(crash[0][3] + "|"))[:2000])
    address = module[exe_name] + int(top[0][6], 16)
    a2l = subprocess.run(["x86_64-w64-mingw32-addr2line", "-f", "-C", "-e", a.exe, f"{address:#x}"], stdout=subprocess.PIPE,
                         timeout=60).stdout.decode(errors="replace")
    if "stuck_in_hang_target" not in a2l.splitlines()[0]:
        fail(f"the exception thread's top frame {address:#x} is in {a2l.splitlines()[0]!r}, expected stuck_in_hang_target")
    latency = re.search(r"hang report stored (\d+) ms after the last beat", out)
    print(latency.group(0) if latency else "the application did not see the report stored")
    print(f"stackwalk: {crash[0][1]}, thread {crash[0][3]} (id {exception_tid}) of {len(threads)}, top frame in "
          f"{a2l.splitlines()[0]}; hang_ms {annotations['hang_ms']}")
    # lldb, with the exe's DWARF and wine's .pdata, walks the watched thread's own stack.
    env = dict(os.environ, PYTHONPATH="/usr/lib/llvm-14/lib/python3.11/dist-packages")
    search = [os.path.dirname(os.path.abspath(a.exe)), "/usr/lib/x86_64-linux-gnu/wine/x86_64-windows"]
    ll = subprocess.run(["lldb-14", "-b", "-O", "settings set target.exec-search-paths " + " ".join(search), "-c", dumps[0],
                         "-o", "bt 12"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=120)
    bt = [l for l in ll.stdout.decode(errors="replace").splitlines() if "frame #" in l]
    names = [l.split("`", 1)[1] for l in bt if "`" in l]
    exe_frames = [n for l, n in zip([l for l in bt if "`" in l], names) if os.path.basename(a.exe) in l]
    if len(exe_frames) < 2 or "stuck_in_hang_target" not in exe_frames[0] or not exe_frames[1].startswith("main("):
        fail("lldb's backtrace of the exception thread is not stuck_in_hang_target <- main", "\n".join(bt))
    print("lldb: " + " <- ".join(re.sub(r"\(.*", "", n.replace("(anonymous namespace)::", "")) for n in names[:3]))
    if helper_log(db).count("hang: the watched thread") != 1:
        fail("the helper saw more than one hang episode", helper_log(db))


def run_state(db):
    try:
        return read_meta(os.path.join(db, "runs")).get("state")
    except OSError:
        return None


def check_terminated(a, db):
    """TerminateProcess(GetCurrentProcess(), 7) after a breadcrumb: one abnormal_exit report that
    names exit code 7, carries the breadcrumb, and that minidump_stackwalk reads."""
    run_target(a, db, "terminated", expect_code=7)
    helper_gone(db)
    dumps, metas = pending_reports(db)
    if len(dumps) != 1:
        fail(f"expected exactly one report, found {len(dumps)}: {os.listdir(os.path.join(db, 'pending'))}", helper_log(db))
    meta = metas[0]
    if meta.get("kind") != "abnormal_exit":
        fail(f"the report's kind is {meta.get('kind')!r}, expected 'abnormal_exit'", repr(meta))
    crumbs = [v for k, v in meta.items() if k.startswith("breadcrumb.")]
    if not any(c.endswith("|warning|test|about to be terminated") for c in crumbs):
        fail(f"the breadcrumb left before TerminateProcess is missing: {crumbs}", repr(meta))
    annotations, _, md = dump_annotations(a, dumps[0])
    if (annotations.get("crash_kind"), annotations.get("exit_code"), annotations.get("exit_reason"), annotations.get("stage")) != (
            "abnormal_exit", "7", "terminated", "after-start"):
        fail(f"annotations: {annotations}")
    if not re.search(r"exception_information\[ 0\]\s+= 0x7\b", md):
        fail("the exception record does not carry exit code 7 as its first parameter", md[-3000:])
    reason = stackwalk_reason(a, dumps[0], exe_debug_id=True)
    if not reason or not reason.lower().startswith("0x45584954"):
        fail(f"crash reason {reason}, expected 0x45584954 (EXIT)")
    if run_state(db) != "abnormal_exit":
        fail(f"the run record says {run_state(db)!r}, expected 'abnormal_exit'")
    print(f"terminated: one abnormal_exit report, {reason}, exit_code 7, breadcrumbs {len(crumbs)}; run record abnormal_exit")
    # With report_abnormal_exits off: no report, the run is still recorded.
    shutil.rmtree(db, ignore_errors=True)
    os.makedirs(db)
    run_target(a, db, "terminated", "off", expect_code=7)
    helper_gone(db)
    dumps, _ = pending_reports(db)
    if dumps or run_state(db) != "abnormal_exit":
        fail(f"report_abnormal_exits = false: {len(dumps)} reports (expected none), run record {run_state(db)!r}", helper_log(db))
    print("report_abnormal_exits off: no report; run record abnormal_exit")


def check_hang_terminated(a, db):
    """Two hang episodes (a beat between them), killed during the second: one hang report per
    episode, then an abnormal_exit report (exit code 9); the run record says hung."""
    run_target(a, db, "hang_terminated", expect_code=9)
    helper_gone(db)
    _, metas = pending_reports(db)
    kinds = sorted(m.get("kind") for m in metas)
    if kinds != ["abnormal_exit", "hang", "hang"]:
        fail(f"expected two hang reports (one per episode) and one abnormal_exit report, found {kinds}", helper_log(db))
    if [m.get("annotation.exit_code") for m in metas if m.get("kind") == "abnormal_exit"] != ["9"]:
        fail("the abnormal_exit report does not name exit code 9", repr(metas))
    if run_state(db) != "hung":
        fail(f"the run record says {run_state(db)!r}, expected 'hung'", helper_log(db))
    print(f"hang, then TerminateProcess: reports {kinds}; run record hung")


def check_normal_exit(a, db):
    """A return from main and an exit(3): no report, the run record says clean_exit."""
    for case, code in (("normal_exit", 0), ("exit_3", 3)):
        shutil.rmtree(db, ignore_errors=True)
        os.makedirs(db)
        run_target(a, db, case, expect_code=code)
        helper_gone(db)
        dumps, _ = pending_reports(db)
        if dumps or "without a normal exit" in helper_log(db):
            fail(f"{case}: a normal exit gave a report: {os.listdir(os.path.join(db, 'pending'))}", helper_log(db))
        if run_state(db) != "clean_exit":
            fail(f"{case}: the run record says {run_state(db)!r}, expected 'clean_exit'")
        print(f"{case}: exit status {code}, no report, run record clean_exit")


class Collector:
    """tools/collector.py on a free localhost port, recording into <db>/<name>."""

    def __init__(self, a, db, args, name="collector"):
        self.out = os.path.join(db, name)
        port_file = os.path.join(db, name + ".port")
        self.log = os.path.join(db, name + ".log")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, a.collector, "serve", "--out", self.out, "--port", "0",
                                          "--port-file", port_file] + args, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(port_file) and open(port_file).read().strip(), 20, "the collector")
        self.port = int(open(port_file).read().strip())

    def folders(self):
        return sorted(d for d in glob.glob(os.path.join(self.out, "*")) if os.path.isdir(d))

    def request(self, i):
        folder = self.folders()[i]
        with open(os.path.join(folder, "request.json"), encoding="utf-8") as f:
            req = json.load(f)
        with open(os.path.join(folder, "fields.json"), encoding="utf-8") as f:
            fields = json.load(f)
        return folder, req, fields

    def file(self, i, name):
        folder, req, _ = self.request(i)
        info = req["files"].get(name)
        return None if info is None else os.path.join(folder, info["saved_as"])

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def crashing_frame(a, dump):
    """(crash reason, the function addr2line names for the crashing thread's frame 0 in the exe,
    [frames of each thread]) as minidump_stackwalk gives them."""
    sw = subprocess.run([a.stackwalk, "-m", dump], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if sw.returncode != 0:
        fail("minidump_stackwalk could not read " + dump, sw.stderr.decode(errors="replace")[-2000:])
    lines = sw.stdout.decode(errors="replace").splitlines()
    crash = [l.split("|") for l in lines if l.startswith("Crash|")]
    if not crash or not crash[0][3].isdigit():
        fail(f"minidump_stackwalk gives no crashing thread for {dump}", "\n".join(lines[:10]))
    threads = {}
    for l in lines:
        f = l.split("|")
        if f[0].isdigit() and len(f) > 2 and f[1].isdigit():
            threads.setdefault(int(f[0]), []).append(f)
    top = threads.get(int(crash[0][3]), [[]])[0]
    exe_name = os.path.basename(a.exe).lower()
    module = {l.split("|")[1].lower(): int(l.split("|")[5], 16) for l in lines if l.startswith("Module|")}
    if len(top) < 7 or top[2].lower() != exe_name:
        return crash[0][1], None, threads
    address = module[exe_name] + int(top[6], 16)
    a2l = subprocess.run(["x86_64-w64-mingw32-addr2line", "-f", "-C", "-e", a.exe, f"{address:#x}"], stdout=subprocess.PIPE,
                         timeout=60).stdout.decode(errors="replace")
    return crash[0][1], a2l.splitlines()[0] if a2l else None, threads


def dump_stream(path, stream_type):
    """The bytes of a minidump's stream of that type (None: it has none)."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    count, directory = struct.unpack_from("<II", data, 8)
    for i in range(count):
        t, size, rva = struct.unpack_from("<III", data, directory + 12 * i)
        if t == stream_type:
            return data[rva:rva + size]
    return None


def iso_utc(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(seconds))


def app_pid(out):
    m = re.search(r"app pid (\d+)", out)
    return int(m.group(1)) if m else None


def helper_pids(db):
    return [int(p) for p in re.findall(r"helper started \(pid (\d+)\)", helper_log(db))]


def check_sentry_envelope(a, db):
    """Format sentry through WinHTTP, from a real crash: the first reply is a 429 with Retry-After: 2
    and X-Sentry-Rate-Limits: 60:error - the report is held back (pending, one attempt, not
    rejected) for the rate limit's 60 s rather than Retry-After's 2, beyond the helper's linger,
    so nothing more is sent. The next start() sends it as an envelope the collector parses item by
    item: the event field by field (its timestamp the crash's, not the upload's), the dump as
    event.minidump (the stored one, which minidump_stackwalk walks), the attachment as a plain
    item; X-Sentry-Auth, gzip."""
    log_text = "".join(f"line {i}: the log of a Windows game, compressible\r\n" for i in range(200)).encode()
    attachment = os.path.join(db, "app.log")
    with open(attachment, "wb") as f:
        f.write(log_text)
    server = Collector(a, db, ["--dialect", "sentry", "--statuses", "429", "--retry-after", "2", "--rate-limits",
                               "60:error;transaction:organization:quota"])
    try:
        dsn = f"http://pubkey@127.0.0.1:{server.port}/42"
        args = ["dsn=" + dsn, "environment=staging", "attachment=" + win_path(attachment), "retry_ms=200"]
        run_target(a, db, "configured", args, expect_code=0xC0000005 & 0xFF)
        helper_gone(db, 60)
        if len(server.folders()) != 1:
            fail(f"{len(server.folders())} requests reached the collector, expected only the one answered 429", helper_log(db))
        _, first, _ = server.request(0)
        dumps, metas = pending_reports(db)
        if len(dumps) != 1 or metas[0].get("attempts") != "1" or metas[0].get("state") == "rejected":
            fail(f"after the 429 the report must stay pending with one attempt: {metas}", helper_log(db))
        if "X-Sentry-Rate-Limits: 60:error" not in helper_log(db):
            fail("the helper log does not show the rate limit read from the reply", helper_log(db))
        print(f"429 (Retry-After: 2, X-Sentry-Rate-Limits: 60:error): held back - {len(server.folders())} request, "
              f"report pending with attempts=1 after the helper's linger")
        time.sleep(1.5)  # the upload time is far from the crash time now
        out = run_target(a, db, "configured_wait", args, expect_code=0)
        if "nothing pending" not in out:
            fail("the next start() did not send the pending report", out + helper_log(db))
        reports = completed_reports(db, 1, 30)
    finally:
        server.stop()
    meta = reports[0]
    rid = meta["id"]
    if meta.get("state") != "uploaded" or meta.get("attempts") != "2":
        fail(f"expected the report uploaded at its second attempt: {meta}")
    if len(server.folders()) != 2:
        fail(f"{len(server.folders())} requests reached the collector, expected 2")
    folder, req, fields = server.request(1)
    problems = []

    def want(cond, what):
        if not cond:
            problems.append(what)
    want(req["status"] == 200 and req["error"] is None, f"status {req['status']}, error {req['error']}")
    want(req["path"] == "/api/42/envelope/" and req["query"] == {}, f"endpoint {req['path']} {req['query']}")
    want(req["headers"].get("Content-Type") == "application/x-sentry-envelope", f"Content-Type {req['headers'].get('Content-Type')}")
    want(req["content_encoding"] == "gzip" and req["decoded_bytes"] > 2 * req["body_bytes"],
         f"gzip: {req['content_encoding']}, {req['body_bytes']} bytes sent, {req['decoded_bytes']} decoded")
    auth = req["headers"].get("X-Sentry-Auth", "")
    want(re.fullmatch(r"Sentry sentry_version=7, sentry_key=pubkey, sentry_client=crashdrop/[0-9.]+", auth), f"X-Sentry-Auth {auth!r}")
    env = req["envelope"]
    want(env["header"].get("event_id") == rid.replace("-", "") and env["header"].get("dsn") == dsn, f"envelope header {env['header']}")
    items = env["items"]
    kinds = [(i["headers"].get("type"), i["headers"].get("attachment_type"), i["headers"].get("filename")) for i in items]
    want(kinds == [("event", None, None), ("attachment", "event.minidump", rid + ".dmp"), ("attachment", None, "app.log")],
         f"items {kinds}")
    want(all(i["headers"].get("length") == i["bytes"] for i in items), f"item lengths {items}")
    event = json.loads(fields.get("sentry", "{}"))
    created = int(meta["created"])
    checks = {"event_id": rid.replace("-", ""), "timestamp": iso_utc(created), "level": "fatal", "platform": "native",
              "release": "report_target_win@2.5", "environment": "staging"}
    for key, value in checks.items():
        want(event.get(key) == value, f"event {key} = {event.get(key)!r}, expected {value!r}")
    want(env["header"].get("sent_at", "") > event.get("timestamp", "~"), f"sent_at {env['header'].get('sent_at')} is not after the crash")
    os_ctx = event.get("contexts", {}).get("os", {})
    want(os_ctx.get("name") == "Windows" and re.fullmatch(r"\d+\.\d+\.\d+", os_ctx.get("version", "")), f"contexts.os {os_ctx}")
    want(event.get("tags", {}).get("crashdrop.report_id") == rid and event.get("tags", {}).get("platform") == "windows",
         f"tags {event.get('tags')}")
    want(event.get("user") == {"id": "player-17"} and event.get("extra", {}).get("stage") == "after-start", f"user {event.get('user')}, extra {event.get('extra')}")
    want([b["message"] for b in event.get("breadcrumbs", {}).get("values", [])] == ["level loaded"], f"breadcrumbs {event.get('breadcrumbs')}")
    dump = server.file(1, "upload_file_minidump")
    stored = os.path.join(db, "completed", rid + ".dmp")
    want(dump is not None and open(dump, "rb").read() == open(stored, "rb").read(), "the event.minidump item is not the stored dump")
    log_copy = server.file(1, "app.log")
    want(log_copy is not None and open(log_copy, "rb").read() == log_text, "the app.log item is not the attachment")
    if problems:
        fail("the envelope:\n  " + "\n  ".join(problems), json.dumps(req, indent=1)[:3000] + "\n" + json.dumps(event, indent=1))
    reason = stackwalk_reason(a, dump, exe_debug_id=True)
    reason2, function, _ = crashing_frame(a, dump)
    if not reason or not reason.startswith("EXCEPTION_ACCESS_VIOLATION_WRITE") or not function or "crash_in_report_target" not in function:
        fail(f"the event.minidump: crash reason {reason}, crashing frame {function}")
    print(f"envelope: event {rid.replace('-', '')} at {event['timestamp']} (sent_at {env['header']['sent_at']}), "
          f"items {[k[0] + ('/' + k[1] if k[1] else '') for k in kinds]}, contexts.os {os_ctx}, "
          f"{req['body_bytes']} bytes gzip of {req['decoded_bytes']}; dump: {reason} in {function}")


def check_before_upload(a, db):
    """Options::before_upload runs in the re-exec helper (another process than the application):
    it sees the report (kind, annotations, attachment names, a readable dump_path); its edit of
    an annotation reaches the server while the stored report keeps the original; the attachment
    it drops is not sent, its copy stays with the report. A callback that drops the report: nothing
    is sent, the report is kept as rejected and not offered again at the next start()."""
    attachment = os.path.join(db, "app.log")
    with open(attachment, "wb") as f:
        f.write(b"a log line\r\n" * 100)
    server = Collector(a, db, [])
    try:
        url = f"http://127.0.0.1:{server.port}/submit"
        out = run_target(a, db, "configured", ["url=" + url, "attachment=" + win_path(attachment), "before=edit"],
                         expect_code=0xC0000005 & 0xFF)
        meta = completed_reports(db, 1, 60)[0]
        helper_gone(db)
        if meta.get("state") != "uploaded" or len(server.folders()) != 1:
            fail(f"expected one upload: {meta}, {len(server.folders())} requests", helper_log(db))
        _, req, fields = server.request(0)
        record_path = os.path.join(db, "before-upload.txt")
        record = read_meta(record_path) if os.path.exists(record_path) else {}
        helpers, app = helper_pids(db), app_pid(out)
        problems = []
        if fields.get("stage") != "scrubbed":
            problems.append(f"the server got stage = {fields.get('stage')!r}, not the callback's 'scrubbed'")
        if "app.log" in req["files"] or "upload_file_minidump" not in req["files"]:
            problems.append(f"the server got the files {sorted(req['files'])} (the dump without app.log expected)")
        if meta.get("annotation.stage") != "after-start":
            problems.append(f"the stored report's stage is {meta.get('annotation.stage')!r}, not the original")
        copy = os.path.join(db, "attachments", meta["id"], "app.log")
        if not os.path.exists(copy):
            problems.append("the report's copy of app.log is gone")
        if int(record.get("pid", "0")) not in helpers or int(record.get("pid", "0")) == app:
            problems.append(f"the callback ran in process {record.get('pid')}; helper {helpers}, application {app}")
        for key, value in (("id", meta["id"]), ("kind", "crash"), ("annotation.stage", "after-start"), ("attachment", "app.log"),
                           ("dump_path_magic", "MDMP")):
            if record.get(key) != value:
                problems.append(f"the callback saw {key} = {record.get(key)!r}, expected {value!r}")
        if problems:
            fail("before_upload edit:\n  " + "\n  ".join(problems), helper_log(db))
        print(f"edit: ran in the helper (pid {record['pid']}, the application was {app}); the server got stage=scrubbed "
              f"and files {sorted(req['files'])}; the stored report kept stage=after-start and its app.log")

        drop_db = os.path.join(db, "drop")
        os.makedirs(drop_db)
        run_target(a, drop_db, "configured", ["url=" + url, "before=drop"], expect_code=0xC0000005 & 0xFF)
        meta = completed_reports(drop_db, 1, 60)[0]
        helper_gone(drop_db)
        if meta.get("state") != "rejected" or meta.get("last_error") != "dropped by before_upload":
            fail(f"a dropped report must be kept as rejected with the reason: {meta}", helper_log(drop_db))
        if not os.path.exists(os.path.join(drop_db, "completed", meta["id"] + ".dmp")):
            fail("the dropped report's dump is gone")
        # The next start (whose callback would send it) neither sends nor offers it.
        out = run_target(a, drop_db, "configured_wait", ["url=" + url, "before=edit"], expect_code=0)
        time.sleep(1)
        if len(server.folders()) != 1:
            fail(f"a dropped report reached the server ({len(server.folders())} requests)", helper_log(drop_db))
        record = open(os.path.join(drop_db, "before-upload.txt")).read()
        if record.count("id=" + meta["id"]) != 1:
            fail("the dropped report was offered to before_upload again", record)
        print(f"drop: kept as rejected ({meta['last_error']}), nothing sent, not offered again at the next start")
    finally:
        server.stop()


def check_budget(a, db, budget):
    """Options::max_upload_bytes on a wine dump: a crash with 6 deep threads (every thread is in
    the dump) and a 400 KB attachment, over a budget far below them, reaches the collector under
    it: the other threads' stacks cut, the memory around registers (wine: every function's
    unwind data, thousands of ranges) dropped, the attachment dropped, in that order; .meta
    trimmed= and the sent dump's writer-errors stream say so; it still walks to the crashing
    frame, and the stored dump stays whole."""
    attachment = os.path.join(db, "big.log")
    with open(attachment, "wb") as f:
        f.write(os.urandom(400 * 1024))
    server = Collector(a, db, [])
    try:
        url = f"http://127.0.0.1:{server.port}/submit"
        run_target(a, db, "configured", ["url=" + url, "attachment=" + win_path(attachment), "busy_threads=6",
                                         "max_attachment_bytes=1048576", f"max_upload_bytes={budget}"], expect_code=0xC0000005 & 0xFF)
        meta = completed_reports(db, 1, 60)[0]
        helper_gone(db)
    finally:
        server.stop()
    if meta.get("state") != "uploaded" or len(server.folders()) != 1:
        fail(f"expected one upload: {meta}, {len(server.folders())} requests", helper_log(db))
    _, req, _ = server.request(0)
    stored = os.path.join(db, "completed", meta["id"] + ".dmp")
    sent = server.file(0, "upload_file_minidump")
    trimmed = meta.get("trimmed", "")
    problems = []
    if req["decoded_bytes"] > budget or req["body_bytes"] > budget:
        problems.append(f"the request is {req['decoded_bytes']} bytes ({req['body_bytes']} sent), over the budget {budget}")
    if "big.log" in req["files"]:
        problems.append("the attachment was sent")
    stored_size, sent_size = os.path.getsize(stored), os.path.getsize(sent) if sent else 0
    if stored_size + 400 * 1024 <= budget or sent_size >= stored_size:
        problems.append(f"stored dump {stored_size} bytes, sent {sent_size}: nothing to prove")
    order = [trimmed.find(p) for p in ("other threads' stacks cut to", "memory around registers dropped", "attachment big.log (")]
    if -1 in order or order != sorted(order):
        problems.append(f"trimmed= does not name the three cuts in order: {trimmed!r}")
    if "crashing thread's stack" in trimmed or "sent as it is" in trimmed:
        problems.append(f"trimmed= says more was needed: {trimmed!r}")
    errors = dump_stream(sent, 0x43440001) if sent else None
    if not errors or trimmed not in errors.decode(errors="replace"):
        problems.append(f"the sent dump's writer-errors stream does not hold the trimmed line: {errors!r}")
    if problems:
        fail("upload budget:\n  " + "\n  ".join(problems), helper_log(db))
    reason, function, threads = crashing_frame(a, sent)
    reason0, function0, threads0 = crashing_frame(a, stored)
    if not reason.startswith("EXCEPTION_ACCESS_VIOLATION_WRITE") or not function or "crash_in_report_target" not in function:
        fail(f"the sent dump: crash reason {reason}, crashing frame {function}")
    if len(threads) != len(threads0) or len(threads0) < 7:
        fail(f"the sent dump has {len(threads)} threads, the stored one {len(threads0)} (7 expected)")
    print(f"budget {budget}: request {req['decoded_bytes']} bytes ({req['body_bytes']} gzip), dump {stored_size} -> {sent_size} bytes, "
          f"{len(threads)} threads; {reason} in {function}\n  trimmed={trimmed}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wine", required=True)
    ap.add_argument("--exe", required=True)
    ap.add_argument("--case", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--helper")
    ap.add_argument("--collector", default=os.path.join(ROOT, "tools", "collector.py"))
    ap.add_argument("--stackwalk", default=os.path.expanduser(
        "~/.cache/crashdrop/minidump-0.26.0/package/bin/linux-x64/minidump_stackwalk"))
    a = ap.parse_args()
    if not os.path.exists(a.stackwalk):
        fail(f"minidump_stackwalk not found at {a.stackwalk}")

    db = os.path.join(a.work, a.case)
    shutil.rmtree(db, ignore_errors=True)
    os.makedirs(db)

    if a.case == "upload":
        out_dir = os.path.join(db, "collector")
        port_file = os.path.join(db, "port")
        server = subprocess.Popen([sys.executable, a.collector, "serve", "--out", out_dir, "--port", "0",
                                   "--port-file", port_file, "--statuses", "503"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: os.path.exists(port_file) and open(port_file).read().strip(), 20, "the collector")
            port = int(open(port_file).read().strip())
            url = f"http://127.0.0.1:{port}/submit"
            # The first attempt gets 503: the report stays pending (the retry is a minute away
            # and the application has gone), and the next start() sends it.
            run_target(a, db, "upload_later", url, expect_code=0xC0000005 & 0xFF)
            wait_for(lambda: "could not send" in helper_log(db) and "helper exits" in helper_log(db), 30,
                     "the first attempt")
            pending = glob.glob(os.path.join(db, "pending", "*.meta"))
            if len(pending) != 1 or read_meta(pending[0]).get("attempts") != "1":
                fail("after a 503 the report must stay pending with one attempt", helper_log(db))
            out = run_target(a, db, "wait_upload", url, expect_code=0)
            if "nothing pending" not in out:
                fail("the next start() did not send the pending report", out + helper_log(db))
            reports = completed_reports(db, 1, 30)
        finally:
            server.terminate()
            server.wait(10)
        r = reports[0]
        if r.get("state") != "uploaded" or not r.get("server_id"):
            fail(f"the report is not marked uploaded with a server id: {r}")
        if r.get("attempts") != "2":
            fail(f"expected two attempts (503, then 200), the metadata says {r.get('attempts')}", helper_log(db))
        if glob.glob(os.path.join(db, "pending", "*.dmp")):
            fail("a dump is still pending after the upload")
        requests = sorted(d for d in glob.glob(os.path.join(out_dir, "*")) if os.path.isdir(d))
        accepted = [d for d in requests if json.load(open(os.path.join(d, "request.json"))).get("status") == 200]
        if len(accepted) != 1:
            fail(f"expected one accepted request at the collector, found {len(accepted)} of {len(requests)}")
        fields = json.load(open(os.path.join(accepted[0], "fields.json")))
        for key, want in (("prod", "report_target_win"), ("ver", "2.5"), ("build", "mingw-wine"), ("stage", "after-start"),
                          ("crash_kind", "crash")):
            if fields.get(key) != want:
                fail(f"collector field {key} = {fields.get(key)!r}, expected {want!r}", json.dumps(fields, indent=1))
        dump = os.path.join(accepted[0], "files", "upload_file_minidump")
        reason = stackwalk_reason(a, dump, exe_debug_id=True)
        if not reason or not reason.startswith("EXCEPTION_ACCESS_VIOLATION_WRITE"):
            fail(f"the uploaded dump's crash reason is {reason}")
        metas = glob.glob(os.path.join(db, "completed", "*.meta"))
        check_kind(a, dump, metas[0], "crash")
        print(f"uploaded: server id {r['server_id']}, {len(requests)} requests, fields {sorted(fields)}, {reason}")
    elif a.case == "custom_transport":
        out_file = os.path.join(db, "transport.txt")
        run_target(a, db, "custom_transport", win_path(out_file), expect_code=0x05)
        wait_for(lambda: os.path.exists(out_file) and "breadcrumbs=" in open(out_file).read(), 60,
                 f"the custom transport's output (helper.log:\n{helper_log(db)})")
        got = read_meta(out_file)
        if got.get("dump_magic") != "MDMP" or int(got.get("dump_bytes", "0")) < 1000:
            fail(f"the transport was not given the dump: {got}")
        for key, want in (("annotation.build", "mingw-wine"), ("annotation.stage", "after-start"), ("tag.platform", "windows"),
                          ("user.id", "player-17"), ("breadcrumbs", "1")):
            if got.get(key) != want:
                fail(f"the transport saw {key} = {got.get(key)!r}, expected {want!r}", open(out_file).read())
        r = completed_reports(db, 1, 30)[0]
        if r.get("server_id") != "custom-" + got["id"][:8]:
            fail(f"the custom transport's server id was not kept: {r}")
        print(f"custom transport: {got['dump_bytes']} bytes, context {sorted(k for k in got if '.' in k)}")
    elif a.case == "external_helper":
        if not a.helper:
            fail("--helper is required")
        run_target(a, db, "external_helper", win_path(a.helper), expect_code=0x05)
        dumps = glob.glob(os.path.join(db, "pending", "*.dmp"))
        metas = glob.glob(os.path.join(db, "pending", "*.meta"))
        if len(dumps) != 1 or len(metas) != 1:
            fail(f"expected one dump with its metadata: {os.listdir(os.path.join(db, 'pending'))}", helper_log(db))
        if "helper started" not in helper_log(db) or "persisted report" not in helper_log(db):
            fail("the external helper did not persist the report", helper_log(db))
        reason = stackwalk_reason(a, dumps[0])
        if not reason.startswith("EXCEPTION_ACCESS_VIOLATION_WRITE"):
            fail(f"crash reason {reason}")
        print(f"external helper: {os.path.basename(dumps[0])}, {reason}")
    elif a.case == "no_helper":
        run_target(a, db, "no_helper", expect_code=0x05)
        dumps = glob.glob(os.path.join(db, "pending", "*.dmp"))
        if len(dumps) != 1:
            fail(f"expected one dump: {os.listdir(os.path.join(db, 'pending'))}")
        if os.path.exists(os.path.join(db, "helper.log")):
            fail("a helper ran although HelperMode::none", helper_log(db))
        reason = stackwalk_reason(a, dumps[0])
        if not reason.startswith("EXCEPTION_ACCESS_VIOLATION_WRITE"):
            fail(f"crash reason {reason}")
        print(f"no helper: the crashed process wrote {os.path.basename(dumps[0])}, {reason}")
    elif a.case == "write_dump":
        # With a secret in the environment and one on the command line (privacy by default).
        env_secret, arg_secret = secret("envSECRET-"), secret("argSECRET-")
        out = run_target(a, db, "write_dump", "--token=" + arg_secret, expect_code=0, env={"MY_API_TOKEN": env_secret})
        paths = [l.split(" ", 1)[1].strip() for l in out.splitlines() if l.startswith("dump ")]
        if len(paths) != 2 or "still running" not in out or paths[0] == paths[1]:
            fail("expected two different dumps and the process going on", out)
        for p in paths:
            local = os.path.join(db, "pending", p.replace("\\", "/").rsplit("/", 1)[-1])
            if not os.path.exists(local):
                fail(f"{p} does not exist", out)
            reason = stackwalk_reason(a, local)
            if not reason or not (reason.lower().startswith("0x517a7ed") or reason == "Simulated Exception"):
                fail(f"a requested dump's exception code is {reason}, expected 0x0517a7ed")
            check_kind(a, local, local[:-4] + ".meta", "requested")
        print(f"write_dump: {len(paths)} dumps while running, code 0x0517a7ed, kind requested in the dump and .meta")
        for root, _, files in os.walk(db):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    content = f.read()
                for what, value in (("MY_API_TOKEN", env_secret), ("argument", arg_secret)):
                    where = find_secret(content, value)
                    if where:
                        fail(f"the {what} secret is in {os.path.join(root, name)}: {where}")
        print("privacy: no secret in the dumps or the database")
    elif a.case == "hang":
        check_hang(a, db)
    elif a.case == "hang_terminated":
        check_hang_terminated(a, db)
    elif a.case == "terminated":
        check_terminated(a, db)
    elif a.case == "normal_exit":
        check_normal_exit(a, db)
    elif a.case == "sentry_envelope":
        check_sentry_envelope(a, db)
    elif a.case == "before_upload":
        check_before_upload(a, db)
    elif a.case == "budget":
        check_budget(a, db, 160 * 1024)
    elif a.case == "api":
        out = run_target(a, db, "api", expect_code=0)
        if "all ok" not in out:
            fail("API checks failed", out)
        print(out.strip())
    else:
        fail("unknown case " + a.case)
    print("PASS")


if __name__ == "__main__":
    main()
