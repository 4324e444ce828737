#!/usr/bin/env python3
"""Self-test of tools/collector.py, the local crash-report collector of the demo and end-to-end
tests: starts it as a subprocess on a free port, uploads multipart bodies built here, and checks
the replies and what it recorded. Standard library only; HTTPS needs the openssl CLI.

    python3 -m unittest tests/collector_test.py -v      (or: python3 tests/collector_test.py)
"""
import gzip
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTOR = os.path.join(ROOT, "tools", "collector.py")

# Bytes that a sloppy multipart parser would damage: every byte value, line endings of all kinds,
# something that looks like a boundary, and a CR right before the closing boundary.
DUMP = (b"MDMP" + bytes(range(256)) * 3 + b"\r\n--not-the-boundary\r\n\r\n\n\r\x0b\x0c\x1c"
        + os.urandom(48 * 1024) + b"\r")
FIELDS = [("prod", "crashdrop-test"), ("ver", "1.2.3"), ("note", "h\u00e9llo, w\u00f6rld")]


def multipart(parts):
    """(content type, body) of a multipart/form-data body. parts: (name, value, filename,
    content type) with value str or bytes; filename None for a text field."""
    boundary = "----collector-test-" + os.urandom(8).hex()
    body = b""
    for name, value, filename, content_type in parts:
        body += f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"".encode()
        if filename is not None:
            body += f"; filename=\"{filename}\"".encode()
        body += b"\r\n"
        if content_type:
            body += f"Content-Type: {content_type}\r\n".encode()
        body += b"\r\n" + (value.encode() if isinstance(value, str) else value) + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


def report(fields=FIELDS, dump=DUMP, extra_parts=()):
    parts = [(name, value, None, None) for name, value in fields] + list(extra_parts)
    if dump is not None:
        parts.append(("upload_file_minidump", dump, "crash.dmp", "application/octet-stream"))
    return multipart(parts)


class Collector:
    """tools/collector.py serve, running for the duration of one test."""

    def __init__(self, test, *args):
        self.test = test
        self.dir = tempfile.mkdtemp(prefix="collector-test-")
        test.addCleanup(shutil.rmtree, self.dir, True)
        self.out = os.path.join(self.dir, "reports")
        port_file = os.path.join(self.dir, "port")
        self.stderr = open(os.path.join(self.dir, "stderr.txt"), "w+")
        test.addCleanup(self.stderr.close)
        self.proc = subprocess.Popen(
            [sys.executable, COLLECTOR, "serve", "--out", self.out, "--port", "0", "--port-file", port_file,
             *args], stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        test.addCleanup(self.stop)
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file):
            if self.proc.poll() is not None:
                test.fail(f"collector exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                test.fail(f"collector wrote no port file within 10 s:\n{self.log()}")
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read())
        self.banner = self.proc.stdout.readline().strip()

    def log(self):
        self.stderr.flush()
        with open(self.stderr.name) as f:
            return f.read()

    def stop(self):
        """Stops the collector with SIGTERM; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.test.fail("collector did not exit within 5 s of SIGTERM")
        self.proc.stdout.close()
        return self.proc.returncode

    def post(self, content_type, body, path="/submit", headers=(), tls=None, timeout=5, chunked=False):
        """(status, reply body) of one POST."""
        if tls is not None:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=tls)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            all_headers = {"Content-Type": content_type, **dict(headers)}
            if chunked:     # no Content-Length: http.client frames the pieces as chunks
                pieces = [body[i:i + 5000] for i in range(0, len(body), 5000)]
                conn.request("POST", path, body=iter(pieces), headers=all_headers, encode_chunked=True)
            else:
                conn.request("POST", path, body=body, headers=all_headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def folder(self, number, timeout=5):
        """(request.json, fields.json, folder path) of report folder NNNN, waiting for it."""
        path = os.path.join(self.out, f"{number:04d}")
        deadline = time.monotonic() + timeout
        while not os.path.isdir(path):
            if time.monotonic() > deadline:
                self.test.fail(f"no report folder {path}:\n{self.log()}")
            time.sleep(0.02)
        with open(os.path.join(path, "request.json"), encoding="utf-8") as f:
            request = json.load(f)
        with open(os.path.join(path, "fields.json"), encoding="utf-8") as f:
            fields = json.load(f)
        return request, fields, path


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, COLLECTOR, *args], capture_output=True, text=True, timeout=30, env=env)


class CollectorTest(unittest.TestCase):
    maxDiff = None

    def check_report(self, collector, number, status, reply):
        """Checks folder `number` holds FIELDS and DUMP, and the status and reply given."""
        request, fields, path = collector.folder(number)
        self.assertEqual(request["method"], "POST")
        self.assertEqual(request["status"], status)
        self.assertEqual(request["reply"], reply)
        self.assertEqual(fields, dict(FIELDS))
        self.assertEqual(request["files"]["upload_file_minidump"]["filename"], "crash.dmp")
        self.assertEqual(request["files"]["upload_file_minidump"]["content_type"], "application/octet-stream")
        self.assertEqual(request["files"]["upload_file_minidump"]["bytes"], len(DUMP))
        with open(os.path.join(path, "files", "upload_file_minidump"), "rb") as f:
            self.assertEqual(f.read(), DUMP, "the minidump part was not saved byte for byte")
        return request

    def test_crashpad_plain_gzip_chunked_and_cli(self):
        c = Collector(self)
        self.assertEqual(c.banner, f"collector listening on http://127.0.0.1:{c.port}")
        content_type, body = report()

        status, reply = c.post(content_type, body, path="/submit?product=demo&version=1.0&empty=")
        self.assertEqual(status, 200)
        self.assertRegex(reply.decode(), r"^srv-0001-[0-9a-f]{8}$")
        request = self.check_report(c, 1, 200, reply.decode())
        self.assertEqual(request["path"], "/submit")
        self.assertEqual(request["query"], {"product": ["demo"], "version": ["1.0"], "empty": [""]})
        self.assertEqual(request["headers"]["Content-Type"], content_type)
        self.assertIsNone(request["content_encoding"])
        self.assertEqual(request["body_bytes"], len(body))
        self.assertEqual(request["decoded_bytes"], len(body))
        self.assertIsNone(request["error"])
        self.assertEqual(request["multipart_defects"], [])
        self.assertAlmostEqual(request["received_at"], time.time(), delta=60)

        compressed = gzip.compress(body)
        status, reply = c.post(content_type, compressed, headers={"Content-Encoding": "gzip"})
        self.assertEqual(status, 200)
        self.assertRegex(reply.decode(), r"^srv-0002-[0-9a-f]{8}$")
        request = self.check_report(c, 2, 200, reply.decode())
        self.assertEqual(request["content_encoding"], "gzip")
        self.assertEqual(request["body_bytes"], len(compressed))
        self.assertEqual(request["decoded_bytes"], len(body))

        status, reply = c.post(content_type, compressed, headers={"Content-Encoding": "gzip"}, chunked=True)
        self.assertEqual(status, 200)
        request = self.check_report(c, 3, 200, reply.decode())
        self.assertEqual(request["headers"].get("Transfer-Encoding"), "chunked")
        self.assertEqual(request["body_bytes"], len(compressed))

        # wait: enough folders -> 0; too few -> 1 after the timeout
        self.assertEqual(run_cli("wait", c.out, "--count", "3", "--timeout", "5").returncode, 0)
        started = time.monotonic()
        self.assertEqual(run_cli("wait", c.out, "--count", "4", "--timeout", "0.3").returncode, 1)
        self.assertLess(time.monotonic() - started, 5)

        # show, without the minidump readers: everything but the minidump part
        env = {k: v for k, v in os.environ.items() if k != "CRASHDROP_MINIDUMP_TOOLS"}
        shown = run_cli("show", c.out, env=env)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn("0001  POST /submit?product=demo&version=1.0&empty=  -> 200", shown.stdout)
        self.assertIn("0003  POST /submit  -> 200", shown.stdout)
        self.assertIn("prod = crashdrop-test", shown.stdout)
        self.assertIn(f"gzip), {len(body)} decoded", shown.stdout)
        self.assertIn(f"file upload_file_minidump: \"crash.dmp\" application/octet-stream, {len(DUMP)} bytes",
                      shown.stdout)
        self.assertIn("CRASHDROP_MINIDUMP_TOOLS is not set", shown.stdout)

        self.assertEqual(c.stop(), 0, "SIGTERM should stop the collector cleanly")

    def test_statuses(self):
        c = Collector(self, "--statuses", "500,200")
        content_type, body = report()
        status, reply = c.post(content_type, body)
        self.assertEqual((status, reply), (500, b"error 500\n"))
        self.check_report(c, 1, 500, "error 500\n")
        for number in (2, 3):       # the list's 200, then 200 once it is used up
            status, reply = c.post(content_type, body)
            self.assertEqual(status, 200)
            self.check_report(c, number, 200, reply.decode())

    def test_socorro(self):
        c = Collector(self, "--dialect", "socorro")
        content_type, body = report()
        status, reply = c.post(content_type, body)
        self.assertEqual(status, 200)
        self.assertRegex(reply.decode(), r"^CrashID=bp-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                         r"[0-9a-f]{12}\n$")
        self.check_report(c, 1, 200, reply.decode())

        # a JSON "extra" part alone is fine; with other text fields Antenna discards the report
        extra = ("extra", '{"ProductName": "crashdrop-test"}', None, "application/json")
        status, reply = c.post(*report(fields=[], extra_parts=[extra]))
        self.assertEqual(status, 200)
        self.assertTrue(reply.startswith(b"CrashID=bp-"), reply)
        status, reply = c.post(*report(extra_parts=[extra]))
        self.assertEqual((status, reply), (400, b"Discarded=malformed_has_json_and_kv\n"))
        request, fields, _ = c.folder(3)
        self.assertEqual(request["status"], 400)
        self.assertEqual(request["reply"], "Discarded=malformed_has_json_and_kv\n")
        self.assertIn("extra", fields)

        d = Collector(self, "--dialect", "socorro", "--socorro-discard", "throttle_rule_0")
        status, reply = d.post(*report())
        self.assertEqual((status, reply), (200, b"Discarded=throttle_rule_0\n"))
        self.check_report(d, 1, 200, "Discarded=throttle_rule_0\n")

    def test_sentry(self):
        c = Collector(self, "--dialect", "sentry")
        status, reply = c.post(*report())
        self.assertEqual(status, 200)
        self.assertRegex(json.loads(reply)["id"], r"^[0-9a-f]{32}$")
        self.check_report(c, 1, 200, reply.decode())

    def test_sentry_envelope_item_by_item_and_malformed_ones_refused(self):
        c = Collector(self, "--dialect", "sentry", "--rate-limits", "60:error:organization")
        event = b'{"event_id":"0123456789abcdef0123456789abcdef","level":"fatal"}'
        dump = DUMP + b"\n\n"     # newlines inside a payload with a length are payload
        body = (b'{"event_id":"0123456789abcdef0123456789abcdef","dsn":"http://k@h/1"}\n'
                b'{"type":"event","length":%d}\n%s\n' % (len(event), event)
                + b'{"type":"attachment","length":%d,"attachment_type":"event.minidump","filename":"a.dmp"}\n'
                % len(dump) + dump + b"\n"
                + b'{"type":"attachment","filename":"log.txt"}\nno length: up to the newline\n')
        status, reply = c.post("application/x-sentry-envelope", gzip.compress(body), path="/api/42/envelope/",
                               headers={"Content-Encoding": "gzip"})
        self.assertEqual((status, json.loads(reply)), (200, {"id": "0123456789abcdef0123456789abcdef"}))
        request, fields, path = c.folder(1)
        self.assertEqual(request["reply_headers"], {"X-Sentry-Rate-Limits": "60:error:organization"})
        self.assertEqual(json.loads(fields["sentry"]), json.loads(event))
        items = request["envelope"]["items"]
        self.assertEqual([i["headers"]["type"] for i in items], ["event", "attachment", "attachment"])
        self.assertEqual(items[1]["headers"]["attachment_type"], "event.minidump")
        with open(os.path.join(path, request["files"]["upload_file_minidump"]["saved_as"]), "rb") as f:
            self.assertEqual(f.read(), dump)
        with open(os.path.join(path, request["files"]["log.txt"]["saved_as"]), "rb") as f:
            self.assertEqual(f.read(), b"no length: up to the newline")
        # the last item may end the body without its newline
        status, _ = c.post("application/x-sentry-envelope", body[:-1], path="/api/42/envelope/")
        self.assertEqual(status, 200)

        head = b'{"type":"attachment","length":3,"attachment_type":"event.minidump","filename":"a.dmp"}\n'
        for number, bad in enumerate([
                b"",                                            # no envelope header
                b"not json\n" + head + b"abc\n",                # the header is not JSON
                b"{}\n" + head + b"ab",                         # the length runs past the body
                b"{}\n" + head + b"abcd\n",                     # no newline right after the payload
                b"{}\n" + head + b'abc{"type":"attachment","filename":"x","length":1}\ny\n',   # nor here
                b'{}\n{"length":3}\nabc\n',                     # an item without a type
                b'{}\n{"type":"event","length":-1}\n\n',        # a negative length
                b'{}\n{"type":"event","length":3}\nabc\n' + head + b"abc\n",   # the event is not JSON
                b'{"event_id":"XYZ"}\n' + head + b"abc\n",      # not a 32-hex event id
                b"{}\n" + b'{"type":"event","length":2}\n{}\n',  # no minidump attachment
        ], 3):
            status, reply = c.post("application/x-sentry-envelope", bad, path="/api/42/envelope/")
            self.assertEqual(status, 400, f"envelope {bad!r} was accepted")
            request, _, _ = c.folder(number)
            self.assertEqual(request["status"], 400)
            self.assertTrue(request["error"], bad)

    def test_bad_requests_are_recorded_and_do_not_stop_the_server(self):
        c = Collector(self)
        # no minidump part (only text fields; then the minidump as a text field, not a file)
        status, reply = c.post(*report(dump=None))
        self.assertEqual((status, reply), (400, b"error: no upload_file_minidump part\n"))
        request, fields, _ = c.folder(1)
        self.assertEqual(request["status"], 400)
        self.assertIn("upload_file_minidump", request["error"])
        self.assertEqual(fields, dict(FIELDS))
        status, _ = c.post(*multipart([("upload_file_minidump", "not a file", None, None)]))
        self.assertEqual(status, 400)

        # a gzip body that does not decompress
        content_type, body = report()
        bad_gzip = b"\x1f\x8b\x08\x00garbage" + body[:100]
        status, reply = c.post(content_type, bad_gzip, headers={"Content-Encoding": "gzip"})
        self.assertEqual((status, reply), (400, b"error 400\n"))
        request, fields, path = c.folder(3)
        self.assertEqual(request["status"], 400)
        self.assertEqual(request["content_encoding"], "gzip")
        self.assertEqual(request["body_bytes"], len(bad_gzip))
        self.assertIsNone(request["decoded_bytes"])
        self.assertIn("gzip", request["error"])
        self.assertEqual(fields, {})
        with open(os.path.join(path, "body.bin"), "rb") as f:
            self.assertEqual(f.read(), bad_gzip)

        # not multipart at all, and a broken chunked body sent by hand
        status, _ = c.post("application/octet-stream", b"\x00" * 1000)
        self.assertEqual(status, 400)
        with socket.create_connection(("127.0.0.1", c.port), timeout=5) as s:
            s.sendall(b"POST /broken HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
            self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 400 "))
        request, _, _ = c.folder(5)
        self.assertEqual(request["path"], "/broken")
        self.assertIn("chunk", request["error"])

        # the server still works
        status, reply = c.post(*report())
        self.assertEqual(status, 200)
        self.assertRegex(reply.decode(), r"^srv-0006-")
        self.assertEqual(c.stop(), 0)
        self.assertNotIn("Traceback", c.log())

    def test_https(self):
        if shutil.which("openssl") is None:
            self.fail("the openssl CLI is missing; install it (apt-get install -y openssl)")
        tmp = tempfile.mkdtemp(prefix="collector-tls-")
        self.addCleanup(shutil.rmtree, tmp, True)
        key, cert = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
        made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                               "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "2",
                               "-keyout", key, "-out", cert], capture_output=True, text=True, timeout=60)
        self.assertEqual(made.returncode, 0, f"openssl could not make a certificate:\n{made.stderr}")
        c = Collector(self, "--tls-cert", cert, "--tls-key", key)
        self.assertEqual(c.banner, f"collector listening on https://127.0.0.1:{c.port}")

        # a client that does not trust the certificate fails, and the server lives on
        with self.assertRaises(ssl.SSLCertVerificationError):
            c.post(*report(), tls=ssl.create_default_context())
        trusting = ssl.create_default_context(cafile=cert)
        status, reply = c.post(*report(), tls=trusting)
        self.assertEqual(status, 200)
        self.assertRegex(reply.decode(), r"^srv-0001-[0-9a-f]{8}$")
        request = self.check_report(c, 1, 200, reply.decode())
        self.assertTrue(request["tls"])

    def test_hang(self):
        c = Collector(self, "--hang")
        started = time.monotonic()
        with self.assertRaises((TimeoutError, socket.timeout)):
            c.post(*report(), timeout=1)
        self.assertLess(time.monotonic() - started, 4)
        self.check_report(c, 1, "hung", None)
        self.assertEqual(c.stop(), 0, "a hung request must not keep the collector from stopping")

    def test_reply_delay_and_trickle(self):
        c = Collector(self, "--reply-delay", "0.5")
        started = time.monotonic()
        status, _ = c.post(*report())
        self.assertEqual(status, 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.5)

        d = Collector(self, "--trickle")
        content_type, body = report()
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=5)
        conn.request("POST", "/submit", body=body, headers={"Content-Type": content_type})
        response = conn.getresponse()     # the headers come at once
        started = time.monotonic()
        self.assertEqual(response.status, 200)
        self.assertEqual(response.read(3), b"srv")      # then a byte a second
        self.assertGreaterEqual(time.monotonic() - started, 1.5)
        conn.close()                      # hanging up mid-reply must not hurt the server
        reply = d.folder(1)[0]["reply"]
        self.assertRegex(reply, r"^srv-0001-[0-9a-f]{8}$")
        self.assertEqual(int(response.getheader("Content-Length")), len(reply))
        self.check_report(d, 1, 200, reply)

    def get(self, collector, path, method="GET"):
        conn = http.client.HTTPConnection("127.0.0.1", collector.port, timeout=30)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def test_viewer_pages_escape_every_value_and_other_gets_are_still_recorded(self):
        # Without Breakpad's tools or a readable dump the pages still work and say why there are
        # no frames; every value is HTML text; the upload side is untouched. (The browser test,
        # tests/viewer_test.py, renders real crashes.)
        c = Collector(self, "--symbols-dir", os.path.join(self.id_dir(), "symbols"))
        hostile = [("prod", "<b>Game</b>"), ("ver", "1.0\"><script>x()</script>"), ("crash_kind", "hang"),
                   ("note", "<script>alert(1)</script>"), ("tag.<i>k</i>", "v&amp;"), ("user.id", "<u>me</u>"),
                   ("breadcrumbs", "2026-11-22T10:11:12.345Z warning [<b>c</b>] <img src=x onerror=y()>\n")]
        self.assertEqual(c.post(*report(fields=hostile))[0], 200)
        status, headers, body = self.get(c, "/")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/html; charset=utf-8")
        csp = headers["Content-Security-Policy"]
        self.assertIn("default-src 'none'", csp)
        self.assertIn("script-src 'none'", csp)
        self.assertNotIn("unsafe", csp)
        page = body.decode()
        self.assertIn("1 report(s) in 1 group(s)", page)
        self.assertIn("&lt;b&gt;Game&lt;/b&gt;", page)
        status, _, body = self.get(c, "/reports/0001")
        self.assertEqual(status, 200)
        page = body.decode()
        for text in ("&lt;b&gt;Game&lt;/b&gt;", "1.0&quot;&gt;&lt;script&gt;x()&lt;/script&gt;", ">hang<",
                     "&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;i&gt;k&lt;/i&gt;", "v&amp;amp;",
                     "&lt;u&gt;me&lt;/u&gt;", "&lt;b&gt;c&lt;/b&gt;", "&lt;img src=x onerror=y()&gt;"):
            self.assertIn(text, page)
        self.assertNotIn("<script", page)
        self.assertNotIn("<img", page)
        self.assertNotIn("<u>", page)
        status, headers, body = self.get(c, "/reports/0001/minidump")
        self.assertEqual((status, body), (200, DUMP))
        self.assertEqual(headers["Content-Disposition"], 'attachment; filename="report-0001.dmp"')
        status, headers, body = self.get(c, "/", method="HEAD")
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(self.get(c, "/reports/0002")[0], 404)
        self.assertEqual(self.get(c, "/favicon.ico")[0], 404)
        # Any other GET is recorded and refused as before; it is no crash report on the page.
        status, _, _ = self.get(c, "/submit")
        self.assertEqual(status, 405)
        request, _, _ = c.folder(2)
        self.assertEqual((request["method"], request["status"]), ("GET", 405))
        self.assertIn("1 report(s) in 1 group(s)", self.get(c, "/")[2].decode())
        self.assertEqual(self.get(c, "/reports/0002")[0], 404)
        self.assertEqual(c.post(*report())[0], 200)
        self.assertIn("2 report(s) in 1 group(s)", self.get(c, "/")[2].decode())
        # Values of the wrong type or out of range are shown as they are, never break a page.
        event = {"release": ["not", "text"], "tags": [["k", {"v": 1}], "junk"], "user": "me",
                 "breadcrumbs": {"values": [{"timestamp": 1e300, "message": "far"}, "junk"]}, "extra": [1]}
        status, _ = c.post(*report(fields=[("sentry", json.dumps(event))]), path="/api/1/minidump/?sentry_key=k")
        self.assertEqual(status, 200)
        status, _, body = self.get(c, "/reports/0004")
        self.assertEqual(status, 200)
        self.assertIn("1e+300", body.decode())
        self.assertIn("3 report(s) in 1 group(s)", self.get(c, "/")[2].decode())
        self.assertFalse(os.path.exists(os.path.join(c.out, "0005")), "a viewer page was recorded as a request")
        self.assertEqual(c.stop(), 0)
        self.assertNotIn("Traceback", c.log())

    def id_dir(self):
        d = tempfile.mkdtemp(prefix="collector-test-symbols-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def test_viewer_list_is_paged_by_group_and_newest_first(self):
        sys.path.insert(0, os.path.dirname(COLLECTOR))
        try:
            import collector
        finally:
            sys.path.pop(0)

        class Fake:                 # the viewer's reading side, with 130 reports in 65 groups
            out_dir, symbols_dir = self.id_dir(), None

            def summary(self, number):
                return {"number": number, "signature": f"SIGSEGV | f{number % 65}", "kind": "crash",
                        "received_at": 1700000000 + number, "product": "p", "version": "1", "user": {}}

        for n in range(1, 131):
            os.makedirs(os.path.join(Fake.out_dir, f"{n:04d}"))
        first = collector.list_page(Fake(), 1)
        self.assertIn("130 report(s) in 65 group(s)", first)
        self.assertEqual(first.count('<details class="group"'), collector.VIEWER_GROUPS_PER_PAGE)
        self.assertIn('<a href="/?page=2">2</a>', first)
        # Newest first: report 130's group (f0) leads, and within it 130 comes before 65.
        self.assertLess(first.index("SIGSEGV | f0<"), first.index("SIGSEGV | f64<"))
        self.assertLess(first.index("/reports/0130"), first.index("/reports/0065"))
        second = collector.list_page(Fake(), 2)
        self.assertEqual(second.count('<details class="group"'), 65 - collector.VIEWER_GROUPS_PER_PAGE)
        self.assertIn("<strong>2</strong>", second)
        timeless = lambda text: re.sub(r"page built in [0-9]+ ms", "", text)
        self.assertEqual(timeless(collector.list_page(Fake(), 99)), timeless(second))  # past the end: the last


if __name__ == "__main__":
    unittest.main(verbosity=2)
