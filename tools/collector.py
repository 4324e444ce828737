#!/usr/bin/env python3
"""A local crash-report collector for crashdrop's demo and end-to-end tests (standard library only).

It stands in for the servers a crash uploader talks to: a Breakpad/Crashpad/Electron collector
(reply: a report id), Socorro's collector Antenna (reply: "CrashID=bp-..."), and Sentry's minidump
and envelope endpoints (reply: a JSON event id; /api/<project>/envelope/ is parsed item by item as
the envelope specification describes and a malformed envelope is refused with 400). Every request it receives is written to a numbered folder, so a
test can check exactly what was uploaded; failures (status codes, hangs, slow replies) can be
injected to exercise retries and timeouts. `serve` also serves a crash viewer (docs/viewer.md): GET /
lists the crash reports grouped by signature, GET /reports/NNNN shows one with every thread's
frames (minidump_stackwalk -m with --symbols-dir), GET /reports/NNNN/minidump downloads its dump.

    collector.py serve --out DIR [--port N] [--port-file FILE] [--host 127.0.0.1]
                       [--dialect crashpad|socorro|sentry] [--statuses 500,500,200]
                       [--hang] [--trickle] [--chunked] [--reply-delay SECONDS]
                       [--tls-cert CERT.pem --tls-key KEY.pem] [--socorro-discard RULE]
                       [--retry-after VALUE] [--rate-limits VALUE] [--symbols-dir DIR]
    collector.py show DIR [--symbols-dir D]
    collector.py wait DIR --count N [--timeout S]

What a report folder DIR/NNNN holds (written into a temporary folder, then renamed into place, and
always before the reply is sent, so a client that got its reply finds the folder complete):
    request.json  method, path, query, headers, content_encoding, body_bytes, decoded_bytes,
                  status, reply, error, files, received_at (and a few more keys, see record_base)
    fields.json   {name: value} of the text parts of the multipart/form-data body
    files/NAME    every file part, named after its form field (sanitized to [A-Za-z0-9_.-])
    An envelope is recorded the same way: its event as the text field "sentry", its event.minidump
    attachment as files/upload_file_minidump, other attachments under their filenames, and
    request.json's "envelope" holds the envelope header and every item's header and size.
    body.bin      the body as received, only when the request could not be read as a report
"""
import argparse
import base64
import email.parser
import email.policy
import email.utils
import gzip
import hashlib
import html
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import uuid
import zlib

MINIDUMP_FIELD = "upload_file_minidump"
MAX_BODY = 1 << 30          # larger bodies are refused (413)
HANG_SECONDS = 3600         # how long --hang keeps a request without a reply
SOCKET_TIMEOUT = 60         # idle or stalled connections are dropped after this long
TLS_HANDSHAKE_TIMEOUT = 10
REPORT_NAME = re.compile(r"^[0-9]+$")
TEXT = "text/plain; charset=utf-8"


def log(message):
    print(f"collector: {message}", file=sys.stderr, flush=True)


def report_folders(out_dir):
    """[(number, path)] of the complete report folders in out_dir, in order."""
    try:
        names = os.listdir(out_dir)
    except OSError:
        return []
    found = [(int(n), os.path.join(out_dir, n)) for n in names if REPORT_NAME.match(n)]
    return sorted(f for f in found if os.path.isdir(f[1]))


def sanitize(name):
    """A form field name made safe as a file name: [A-Za-z0-9_.-] only, never "." or ".."."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    return "_" + safe if safe in ("", ".", "..") else safe


class RequestError(Exception):
    """A request that cannot be processed: replied with `status`, recorded with `message`."""

    def __init__(self, status, message, partial_body=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.partial_body = partial_body


class Part:
    """One part of a multipart/form-data body. filename is None for a text field."""

    def __init__(self, name, filename, content_type, data):
        self.name = name
        self.filename = filename
        self.content_type = content_type        # the part's Content-Type header, or None
        self.data = data

    def is_json(self):
        return (self.content_type or "").split(";")[0].strip().lower() == "application/json"


# ---------------------------------------------------------------------------------------------
# Reading a request body


def read_chunked(rfile, limit):
    """The body of a `Transfer-Encoding: chunked` request, strictly framed (CRLF after each chunk)."""
    body = bytearray()
    while True:
        line = rfile.readline(1024)
        if not line:
            raise RequestError(400, "chunked body ended before its last chunk", bytes(body))
        if not line.endswith(b"\n"):
            raise RequestError(400, "chunk size line too long", bytes(body))
        size_text = line.split(b";", 1)[0].strip()
        if not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", size_text):
            raise RequestError(400, f"bad chunk size line {line[:40]!r}", bytes(body))
        size = int(size_text, 16)
        if size == 0:
            break
        if len(body) + size > limit:
            raise RequestError(413, f"chunked body larger than {limit} bytes", bytes(body))
        chunk = rfile.read(size)
        body += chunk
        if len(chunk) < size:
            raise RequestError(400, f"chunked body truncated: a chunk of {size} bytes had {len(chunk)}",
                               bytes(body))
        if rfile.read(2) != b"\r\n":
            raise RequestError(400, "chunk data not followed by CRLF", bytes(body))
    for _ in range(100):                        # trailer fields, up to the empty line
        line = rfile.readline(8192)
        if line in (b"\r\n", b"\n", b""):
            return bytes(body)
    raise RequestError(400, "too many trailer lines after the last chunk", bytes(body))


def decode_body(encoding, data):
    """The body with its Content-Encoding undone (gzip only)."""
    coding = (encoding or "").strip().lower()
    if coding in ("", "identity"):
        return data
    if coding in ("gzip", "x-gzip"):
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise RequestError(400, f"gzip body does not decompress: {type(e).__name__}: {e}")
    raise RequestError(415, f"unsupported Content-Encoding {encoding!r}")


def parse_multipart(content_type, body):
    """([Part], [defect notes]) of a multipart/form-data body, parsed by the standard library's
    email parser over a synthesized MIME header."""
    notes = []
    if not content_type:
        return [], ["no Content-Type header"]
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if msg.get_content_type() != "multipart/form-data":
        notes.append(f"Content-Type is {msg.get_content_type()}, not multipart/form-data")
        if msg.get_content_maintype() != "multipart":
            return [], notes
    notes += [f"{type(d).__name__}: {d}" for d in msg.defects]
    if not msg.is_multipart():
        return [], notes
    parts = []
    for index, part in enumerate(msg.iter_parts(), 1):
        notes += [f"part {index}: {type(d).__name__}: {d}" for d in part.defects]
        name = part.get_param("name", header="content-disposition")
        if name is None:
            notes.append(f"part {index} has no Content-Disposition name; ignored")
            continue
        name = email.utils.collapse_rfc2231_value(name)
        if part.is_multipart():
            notes.append(f"part {index} ({name!r}) is itself multipart; ignored")
            continue
        filename = part.get_filename()          # None when there is no filename parameter
        content_type_header = part.get("Content-Type")
        data = part.get_payload(decode=True) or b""
        parts.append(Part(name, filename, str(content_type_header) if content_type_header is not None else None,
                          data))
    return parts, notes


# ---------------------------------------------------------------------------------------------
# The server


# ---------------------------------------------------------------------------------------------
# Sentry envelopes (https://develop.sentry.dev/sdk/envelopes/)

ENVELOPE_PATH = re.compile(r"^/(?:.*/)?api/[^/]+/envelope/?$")
MAX_ENVELOPE_ITEMS = 1000


def parse_envelope(body):
    """(envelope header, [(item header, payload bytes)]) of an envelope; raises RequestError(400).

    The format: a header line (a JSON object, then "\\n" or the end of the body), then items. An
    item is a header line (a JSON object with a string "type") and a payload: with "length", that
    many bytes, then "\\n" or the end of the body; without, the bytes up to the next "\\n" (or the
    end). Anything after the last item is an error; a body may end with or without a newline."""
    def bad(message):
        return RequestError(400, f"malformed envelope: {message}")

    def header_line(at, what):
        end = body.find(b"\n", at)
        end = len(body) if end < 0 else end
        try:
            header = json.loads(body[at:end].decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise bad(f"{what} is not JSON: {e}")
        if not isinstance(header, dict):
            raise bad(f"{what} is not a JSON object")
        return header, min(end + 1, len(body))

    header, at = header_line(0, "the envelope header")
    if "event_id" in header and not (isinstance(header["event_id"], str)
                                      and re.fullmatch(r"[0-9a-f]{32}", header["event_id"])):
        raise bad("the envelope header's event_id is not 32 lower-case hex digits")
    items = []
    while at < len(body):
        if len(items) >= MAX_ENVELOPE_ITEMS:
            raise bad(f"more than {MAX_ENVELOPE_ITEMS} items")
        item, at = header_line(at, f"item {len(items) + 1}'s header")
        if not isinstance(item.get("type"), str) or not item["type"]:
            raise bad(f"item {len(items) + 1} has no type")
        if "length" in item:
            length = item["length"]
            if not isinstance(length, int) or isinstance(length, bool) or length < 0:
                raise bad(f"item {len(items) + 1}'s length is not a non-negative integer")
            if at + length > len(body):
                raise bad(f"item {len(items) + 1} claims {length} bytes, {len(body) - at} are left")
            payload = body[at:at + length]
            at += length
            if at < len(body):
                if body[at:at + 1] != b"\n":
                    raise bad(f"item {len(items) + 1}'s payload is not followed by a newline")
                at += 1
        else:
            end = body.find(b"\n", at)
            end = len(body) if end < 0 else end
            payload = body[at:end]
            at = min(end + 1, len(body))
        items.append((item, payload))
    return header, items


def envelope_parts(header, items, record):
    """The items as the Parts the other dialects record (the event as the text part "sentry", the
    minidump as upload_file_minidump, other attachments under their filenames), and
    record["envelope"] describing every item; raises RequestError(400) for a bad event."""
    parts, described = [], []
    for index, (item, payload) in enumerate(items, 1):
        described.append({"headers": item, "bytes": len(payload)})
        if item["type"] == "event":
            try:
                event = json.loads(payload.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                raise RequestError(400, f"malformed envelope: the event item is not JSON: {e}")
            if not isinstance(event, dict):
                raise RequestError(400, "malformed envelope: the event item is not a JSON object")
            parts.append(Part("sentry", None, "application/json", payload))
        elif item["type"] == "attachment":
            filename = item.get("filename")
            if not isinstance(filename, str) or not filename:
                raise RequestError(400, f"malformed envelope: attachment item {index} has no filename")
            name = MINIDUMP_FIELD if item.get("attachment_type") == "event.minidump" else filename
            parts.append(Part(name, filename, item.get("content_type"), payload))
    record["envelope"] = {"header": header, "items": described}
    return parts


class Config:
    def __init__(self, args):
        self.out_dir = os.path.abspath(args.out)
        self.dialect = args.dialect
        self.statuses = args.statuses
        self.hang = args.hang
        self.trickle = args.trickle
        self.chunked = args.chunked
        self.reply_delay = args.reply_delay
        self.socorro_discard = args.socorro_discard
        self.retry_after = args.retry_after
        self.rate_limits = args.rate_limits
        self.symbols_dir = args.symbols_dir


def socorro_crash_id():
    """A crash id shaped like Antenna's: a uuid4 whose last 7 characters are the throttle result
    ("0" = accepted) and the date as yymmdd."""
    base = str(uuid.uuid4())
    return base[:-7] + "0" + time.strftime("%y%m%d", time.gmtime())


def dialect_reply(config, number, parts, envelope=None):
    """(status, content type, body, error) for a request that was read and parsed."""
    if not any(p.name == MINIDUMP_FIELD and p.filename is not None for p in parts):
        if envelope is not None:
            return 400, TEXT, b"error: no event.minidump attachment\n", "envelope without an event.minidump attachment"
        return 400, TEXT, b"error: no upload_file_minidump part\n", f"no {MINIDUMP_FIELD} file part"
    if envelope is not None:
        event_id = envelope.get("event_id") or uuid.uuid4().hex
        return 200, "application/json", json.dumps({"id": event_id}, separators=(",", ":")).encode(), None
    if config.dialect == "socorro":
        extra = [p for p in parts if p.name == "extra" and p.is_json()]
        text_fields = [p.name for p in parts if p.filename is None and not p.is_json()]
        if extra and text_fields:
            return (400, TEXT, b"Discarded=malformed_has_json_and_kv\n",
                    f"socorro: a JSON 'extra' part and text fields {sorted(set(text_fields))}")
        for p in extra:
            try:
                valid = isinstance(json.loads(p.data.decode("utf-8")), dict)
            except (UnicodeDecodeError, ValueError):
                valid = False
            if not valid:
                return 400, TEXT, b"Discarded=malformed_bad_json\n", "socorro: 'extra' is not a JSON object"
        if config.socorro_discard:
            return 200, TEXT, f"Discarded={config.socorro_discard}\n".encode(), None
        return 200, TEXT, f"CrashID=bp-{socorro_crash_id()}\n".encode(), None
    if config.dialect == "sentry":
        return 200, "application/json", json.dumps({"id": uuid.uuid4().hex}, separators=(",", ":")).encode(), None
    return 200, TEXT, f"srv-{number:04d}-{secrets.token_hex(4)}".encode(), None


class CollectorServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False          # a --hang handler must not keep server_close() waiting
    request_queue_size = 64
    allow_reuse_address = True

    def __init__(self, address, config, tls_context):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.config = config
        self.tls_context = tls_context
        self.viewer = Viewer(config.out_dir, config.symbols_dir)
        self._lock = threading.Lock()
        self._posts = 0
        existing = report_folders(config.out_dir)
        self._next_folder = existing[-1][0] + 1 if existing else 1
        super().__init__(address, Handler)

    def claim_folder(self):
        with self._lock:
            number = self._next_folder
            self._next_folder += 1
            return number

    def claim_post(self):
        """(1-based index among the POSTs received, report folder number)."""
        with self._lock:
            self._posts += 1
            number = self._next_folder
            self._next_folder += 1
            return self._posts, number

    def finish_request(self, request, client_address):
        # Runs in the request's own thread, so a slow or failing TLS handshake holds up no one.
        if self.tls_context is None:
            return super().finish_request(request, client_address)
        request.settimeout(TLS_HANDSHAKE_TIMEOUT)
        try:
            tls = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log(f"TLS handshake with {client_address[0]} failed: {e}")
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            tls.close()

    def handle_error(self, request, client_address):
        log(f"unexpected error with {client_address}:\n{traceback.format_exc()}")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"       # keep-alive, and "Expect: 100-continue" is answered
    server_version = "crashdrop-collector/1"
    sys_version = ""
    timeout = SOCKET_TIMEOUT

    def version_string(self):
        return self.server_version

    def parse_request(self):
        # Forget the previous request of a kept-alive connection, so that a request whose first
        # line does not parse is not recorded with its predecessor's path and headers.
        self.path, self.headers = "", None
        return super().parse_request()

    # -- what gets recorded

    def record_base(self, method):
        target = getattr(self, "path", "") or ""
        split = urllib.parse.urlsplit(target)
        headers = {}
        received = getattr(self, "headers", None)      # unset when the request line did not parse
        for key, value in (received.items() if received is not None else []):
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return {
            "method": method,
            "path": split.path,
            "query": urllib.parse.parse_qs(split.query, keep_blank_values=True),
            "target": target,
            "http_version": getattr(self, "request_version", None),
            "client": self.client_address[0],
            "tls": self.server.tls_context is not None,
            "headers": headers,
            "content_encoding": received.get("Content-Encoding") if received is not None else None,
            "body_bytes": 0,
            "decoded_bytes": None,
            "status": None,
            "reply": None,
            "error": None,
            "multipart_defects": [],
            "files": {},
            "post_index": None,
            "dialect": self.server.config.dialect,
            "received_at": time.time(),
        }

    def save(self, number, record, parts, raw_body=None):
        """Writes DIR/NNNN completely in a temporary folder, then renames it into place."""
        out_dir = self.server.config.out_dir
        tmp = None
        try:
            tmp = tempfile.mkdtemp(prefix=f".incoming-{number:04d}-", dir=out_dir)
            fields, used = {}, set()
            for part in parts:
                if part.filename is None:
                    fields[part.name] = part.data.decode("utf-8", errors="replace")
                    continue
                saved = sanitize(part.name)
                n = 1
                while saved in used:
                    n += 1
                    saved = f"{sanitize(part.name)}-{n}"
                used.add(saved)
                key = part.name if part.name not in record["files"] else f"{part.name}#{n}"
                record["files"][key] = {"filename": part.filename, "content_type": part.content_type,
                                        "bytes": len(part.data), "saved_as": f"files/{saved}"}
                os.makedirs(os.path.join(tmp, "files"), exist_ok=True)
                with open(os.path.join(tmp, "files", saved), "wb") as f:
                    f.write(part.data)
            if raw_body is not None:
                with open(os.path.join(tmp, "body.bin"), "wb") as f:
                    f.write(raw_body)
            with open(os.path.join(tmp, "fields.json"), "w", encoding="utf-8") as f:
                json.dump(fields, f, indent=2, ensure_ascii=False)
            with open(os.path.join(tmp, "request.json"), "w", encoding="utf-8") as f:
                json.dump(record, f, indent=2, ensure_ascii=False)
            os.chmod(tmp, 0o755)
            os.rename(tmp, os.path.join(out_dir, f"{number:04d}"))
            tmp = None
        except Exception:
            log(f"could not record request {number:04d}:\n{traceback.format_exc()}")
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    # -- replying

    def reply(self, status, content_type, body, trickle=False, chunked=False, extra_headers=()):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for key, value in extra_headers:
                self.send_header(key, value)
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command == "HEAD":
                return
            if chunked:
                # The body in chunks of at most 5 bytes, sent apart, so clients must reassemble.
                for i in range(0, len(body), 5):
                    piece = body[i:i + 5]
                    self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                return
            if not trickle:
                self.wfile.write(body)
                return
            for i in range(len(body)):
                if i:
                    time.sleep(1)
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
        except OSError as e:
            log(f"could not send the reply to {self.client_address[0]}: {e}")
            self.close_connection = True

    def log_message(self, format, *args):
        log(f"{self.client_address[0]} {format % args}")

    # -- requests

    def read_body(self):
        """The body as sent (chunked framing undone); raises RequestError."""
        te = self.headers.get("Transfer-Encoding")
        if te is not None:
            if [c.strip().lower() for c in te.split(",") if c.strip()] != ["chunked"]:
                self.close_connection = True
                raise RequestError(501, f"unsupported Transfer-Encoding {te!r}")
            try:
                return read_chunked(self.rfile, MAX_BODY)
            except RequestError:
                self.close_connection = True
                raise
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            raise RequestError(411, "request has neither Content-Length nor Transfer-Encoding: chunked")
        if not re.fullmatch(r"\s*[0-9]{1,19}\s*", length):
            self.close_connection = True
            raise RequestError(400, f"bad Content-Length {length!r}")
        size = int(length)
        if size > MAX_BODY:
            self.close_connection = True
            raise RequestError(413, f"Content-Length {size} is larger than {MAX_BODY}")
        body = self.rfile.read(size)
        if len(body) < size:
            self.close_connection = True
            raise RequestError(400, f"body truncated: received {len(body)} of {size} bytes", body)
        return body

    def do_POST(self):
        config = self.server.config
        index, number = self.server.claim_post()
        record = self.record_base("POST")
        record["post_index"] = index
        parts, raw, keep_raw = [], b"", False
        try:
            try:
                raw = self.read_body()
            except OSError as e:            # e.g. the socket timed out in the middle of the body
                self.close_connection = True
                raise RequestError(400, f"reading the body failed: {type(e).__name__}: {e}")
            record["body_bytes"] = len(raw)
            body = decode_body(self.headers.get("Content-Encoding"), raw)
            record["decoded_bytes"] = len(body)
            envelope = None
            if ENVELOPE_PATH.match(record["path"]):
                envelope, items = parse_envelope(body)
                parts = envelope_parts(envelope, items, record)
            else:
                try:
                    parts, record["multipart_defects"] = parse_multipart(self.headers.get("Content-Type"), body)
                except Exception as e:
                    raise RequestError(400, f"multipart body does not parse: {type(e).__name__}: {e}")
            status, content_type, reply, record["error"] = dialect_reply(config, number, parts, envelope)
            if not parts:
                keep_raw = True
                if record["multipart_defects"]:
                    record["error"] += "; " + "; ".join(record["multipart_defects"])
        except RequestError as e:
            if e.partial_body is not None:
                raw = e.partial_body
                record["body_bytes"] = len(raw)
            status, content_type, reply = e.status, TEXT, f"error {e.status}\n".encode()
            record["error"], keep_raw = e.message, True
        except Exception as e:                  # a bug here must cost one request, not the server
            self.close_connection = True
            status, content_type, reply = 500, TEXT, b"error 500\n"
            record["error"], keep_raw = f"collector bug: {type(e).__name__}: {e}\n{traceback.format_exc()}", True

        planned = config.statuses[index - 1] if index <= len(config.statuses) else 200
        extra_headers = []
        if planned != 200:                      # an injected failure wins over everything else
            status, content_type, reply = planned, TEXT, f"error {planned}\n".encode()
            if config.retry_after is not None:
                extra_headers.append(("Retry-After", config.retry_after))
        if config.rate_limits is not None and index == 1:
            extra_headers.append(("X-Sentry-Rate-Limits", config.rate_limits))
        record["reply_headers"] = dict(extra_headers)

        record["status"] = "hung" if config.hang else status
        record["reply"] = None if config.hang else reply.decode("utf-8", errors="replace")
        self.save(number, record, parts, raw if keep_raw else None)
        if config.symbols_dir and status == 200 and not keep_raw:
            self.server.viewer.enqueue(number)      # analysed now, so the page is quick later
        log(f"{number:04d} POST {record['target']} -> {record['status']}"
            + (f" ({record['error'].splitlines()[0]})" if record["error"] else ""))

        if config.hang:
            self.close_connection = True
            time.sleep(HANG_SECONDS)
            return
        if config.reply_delay > 0:
            time.sleep(config.reply_delay)
        self.reply(status, content_type, reply, trickle=config.trickle, chunked=config.chunked,
                   extra_headers=extra_headers)

    def not_post(self):
        """Any other method: recorded, replied 405."""
        self.close_connection = True
        number = self.server.claim_folder()
        record = self.record_base(self.command)
        record["status"], record["error"] = 405, f"method {self.command} not supported (POST only)"
        record["reply"] = "error 405\n"
        self.save(number, record, [])
        self.reply(405, TEXT, b"error 405\n")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = not_post

    VIEWER_PATH = re.compile(r"^/(?:reports/([0-9]{1,9})(/minidump)?)?$")

    def do_GET(self):
        """The crash viewer's pages (not recorded); any other GET is recorded and refused like
        other methods."""
        split = urllib.parse.urlsplit(self.path)
        m = self.VIEWER_PATH.match(split.path)
        if split.path == "/favicon.ico":
            self.viewer_reply(404, TEXT, b"no icon\n")
        elif m is None:
            self.not_post()
        else:
            try:
                self.viewer_get(m, urllib.parse.parse_qs(split.query))
            except Exception as e:              # a bug here must cost one page, not the server
                log(f"viewer bug on {self.path}: {type(e).__name__}: {e}\n{traceback.format_exc()}")
                self.close_connection = True
                self.viewer_reply(500, TEXT, b"error 500 (see the collector's log)\n")

    do_HEAD = do_GET

    def viewer_get(self, m, query):
        viewer = self.server.viewer
        if m.group(1) is None:
            try:
                page_number = int((query.get("page") or ["1"])[0])
            except ValueError:
                page_number = 1
            body = list_page(viewer, page_number).encode("utf-8")
            return self.viewer_reply(200, "text/html; charset=utf-8", body)
        number = int(m.group(1))
        if m.group(2):
            loaded = viewer.load(number)
            dump = viewer.dump_path(loaded[0], loaded[2]) if loaded else None
            if dump is None:
                return self.viewer_reply(404, TEXT, b"no such minidump\n")
            with open(dump, "rb") as f:
                data = f.read()
            return self.viewer_reply(200, "application/octet-stream", data, [
                ("Content-Disposition", f'attachment; filename="report-{number:04d}.dmp"')])
        body = report_page(viewer, number)
        if body is None:
            return self.viewer_reply(404, TEXT, b"no such crash report\n")
        self.viewer_reply(200, "text/html; charset=utf-8", body.encode("utf-8"))

    def viewer_reply(self, status, content_type, body, extra_headers=()):
        self.reply(status, content_type, body, extra_headers=[
            ("Content-Security-Policy", viewer_csp()), ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-store"), *extra_headers])

    def send_error(self, code, message=None, explain=None):
        # Called by http.server for requests it cannot parse (bad request line, bad headers,
        # unknown method): those are recorded too, and answered in plain text.
        self.close_connection = True
        number = self.server.claim_folder()
        record = self.record_base(getattr(self, "command", None))
        record["status"], record["error"] = code, f"{message or 'unparseable request'}" + (
            f": {explain}" if explain else "")
        record["reply"] = f"error {code}\n"
        record["request_line"] = getattr(self, "requestline", "")
        self.save(number, record, [])
        log(f"{number:04d} unparseable request -> {code} ({record['error']})")
        self.reply(code, TEXT, f"error {code}\n".encode())


# ---------------------------------------------------------------------------------------------
# The crash viewer: GET / lists what was received, grouped by signature; GET /reports/NNNN shows
# one report; GET /reports/NNNN/minidump downloads its dump. Every value that came from a client
# is HTML-escaped (esc) and the pages carry a Content-Security-Policy that allows no script, no
# external resource and only the one inline style sheet below.

VIEWER_GROUPS_PER_PAGE = 50     # groups on one list page (?page=N for the others)
VIEWER_REPORTS_PER_GROUP = 20   # reports listed in a group on the list page (the newest)
VIEWER_SIGNATURE_FRAMES = 3     # top frames of the crashing thread in a signature
VIEWER_CACHE = ".viewer-cache"  # under --out: one JSON file per analysed report (a dot folder, so
                                # report_folders() and the tests' folder listings skip it)
STREAM_CRASHPAD_INFO = 0x43500001
STREAM_CRASHDROP_CONTEXT = 0x43440002
# Fields of the upload formats that are not the application's annotations.
NOT_ANNOTATIONS = {"prod", "ver", "guid", "_productName", "_version", "platform", "process_type",
                   "ProductName", "Version", "ReportId", "breadcrumbs", "crash_kind", "sentry", "extra"}
VIEWER_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0 1.5em 2em;color:#1b1b1b;background:#fafafa}
h1{font-size:1.4em;margin:.8em 0 .3em}h2{font-size:1.1em;margin:1.2em 0 .3em}
a{color:#0645ad}code,pre,.mono{font-family:ui-monospace,monospace;font-size:12.5px}
table{border-collapse:collapse;margin:.3em 0}td,th{border-bottom:1px solid #ddd;padding:2px 8px;
text-align:left;vertical-align:top}th{background:#eee}
details.group{background:#fff;border:1px solid #ccc;border-radius:4px;margin:.5em 0;padding:.3em .6em}
details.group>summary{cursor:pointer}.count{display:inline-block;min-width:2.5em;font-weight:bold}
.kind{display:inline-block;padding:0 .4em;border-radius:3px;background:#ddd;font-size:12px}
.kind-crash{background:#f6c6c6}.kind-hang{background:#f6e3b0}.kind-abnormal_exit{background:#e2d0f5}
.kind-requested{background:#cfe6cf}.sig{white-space:pre-wrap;word-break:break-all}
.frames td{font-family:ui-monospace,monospace;font-size:12.5px}.crashed{border-left:4px solid #c33;padding-left:.5em}
.muted{color:#666}.val{white-space:pre-wrap;word-break:break-all}nav a{margin-right:1em}
"""
VIEWER_STYLE_HASH = None          # "sha256-..." of VIEWER_STYLE, for the CSP (computed once)


def esc(value):
    """Any value as HTML text (quotes too, so it is safe in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def viewer_csp():
    global VIEWER_STYLE_HASH
    if VIEWER_STYLE_HASH is None:
        digest = hashlib.sha256(VIEWER_STYLE.encode("utf-8")).digest()
        VIEWER_STYLE_HASH = "sha256-" + base64.b64encode(digest).decode("ascii")
    return (f"default-src 'none'; style-src '{VIEWER_STYLE_HASH}'; img-src 'none'; script-src 'none'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def minidump_streams(data):
    """{stream type: bytes} of a minidump's directory; {} when it is not one."""
    if len(data) < 32 or data[:4] != b"MDMP":
        return {}
    count, directory = struct.unpack_from("<II", data, 8)
    streams = {}
    for i in range(min(count, 4096)):
        at = directory + 12 * i
        if at + 12 > len(data):
            break
        kind, size, rva = struct.unpack_from("<III", data, at)
        if rva + size <= len(data):
            streams.setdefault(kind, data[rva:rva + size])
    return streams


def minidump_annotations(data):
    """Crashpad's simple annotations of a dump ({} when it has none), read from the
    MinidumpCrashpadInfo stream: its simple_annotations location points at a count and
    (key rva, value rva) pairs, each rva a MinidumpUTF8String (u32 length, bytes)."""
    streams = minidump_streams(data)
    info = streams.get(STREAM_CRASHPAD_INFO)
    if info is None or len(info) < 44:
        return {}

    def utf8(rva):
        if rva + 4 > len(data):
            return None
        (length,) = struct.unpack_from("<I", data, rva)
        return data[rva + 4:rva + 4 + min(length, 1 << 20)].decode("utf-8", errors="replace")

    size, rva = struct.unpack_from("<II", info, 36)
    if size < 4 or rva + 4 > len(data):
        return {}
    (count,) = struct.unpack_from("<I", data, rva)
    out = {}
    for i in range(min(count, 10000)):
        at = rva + 4 + 8 * i
        if at + 8 > len(data):
            break
        key, value = (utf8(r) for r in struct.unpack_from("<II", data, at))
        if key is not None and value is not None:
            out[key] = value
    return out


def minidump_context(data):
    """[(key, value)] of crashdrop's context stream: `key=value` lines, percent-escaped."""
    text = minidump_streams(data).get(STREAM_CRASHDROP_CONTEXT, b"").decode("utf-8", errors="replace")
    pairs = []
    for line in text.split("\n"):
        key, sep, value = line.partition("=")
        if sep:
            pairs.append((urllib.parse.unquote(key), urllib.parse.unquote(value)))
    return pairs


def stackwalk_tool():
    folder = os.environ.get("CRASHDROP_MINIDUMP_TOOLS", "")
    path = os.path.join(folder, "minidump_stackwalk") if folder else shutil.which("minidump_stackwalk")
    return path if path and os.access(path, os.X_OK) else None


def parse_stackwalk(text):
    """What `minidump_stackwalk -m` printed: crash reason/address/thread, modules, threads' frames."""
    result = {"reason": None, "address": None, "crashed_thread": None, "modules": [], "threads": {}}
    for line in text.splitlines():
        f = line.split("|")
        if f[0] == "Crash" and len(f) >= 4:
            result["reason"], result["address"] = f[1], f[2]
            result["crashed_thread"] = int(f[3]) if f[3].isdigit() else None
        elif f[0] == "Module" and len(f) >= 5:
            result["modules"].append({"name": f[1], "debug_file": f[3], "debug_id": f[4]})
        elif len(f) >= 7 and f[0].isdigit() and f[1].isdigit():
            result["threads"].setdefault(f[0], []).append(
                {"module": f[2], "function": f[3], "file": f[4], "line": f[5], "offset": f[6]})
    result["threads"] = [result["threads"][k] for k in sorted(result["threads"], key=int)]
    return result


def symbol_file(symbols_dir, module):
    """Where minidump_stackwalk looks for a module's symbols: <debug file>/<debug id>/<name>.sym."""
    name = module["debug_file"]
    base = os.path.basename(name.replace("\\", "/"))
    sym = (base[:-4] if base.lower().endswith(".pdb") else base) + ".sym"
    return os.path.join(symbols_dir, base, module["debug_id"], sym)


def frame_text(frame):
    if frame["function"]:
        where = f" ({os.path.basename(frame['file'])}:{frame['line']})" if frame["file"] else ""
        return f"{frame['module']}!{frame['function']}{where}" if frame["module"] else frame["function"] + where
    if frame["module"]:
        return f"{frame['module']} + {frame['offset']}"
    return frame["offset"]


def frame_key(frame):
    """A frame as it counts for a signature: the function when named, else module + offset."""
    if frame["function"]:
        return f"{frame['module']}!{frame['function']}" if frame["module"] else frame["function"]
    return frame_text(frame)


class Viewer:
    """Reads the report folders for the pages; analyses each dump once (minidump_stackwalk -m with
    the symbols folder) and keeps the result in <out>/.viewer-cache/NNNN.json. A cached result is
    redone only when the dump changed, or a module that had no symbol file then has one now."""

    def __init__(self, out_dir, symbols_dir):
        self.out_dir = out_dir
        self.symbols_dir = os.path.abspath(symbols_dir) if symbols_dir else None
        self.cache_dir = os.path.join(out_dir, VIEWER_CACHE)
        self._locks, self._locks_lock = {}, threading.Lock()
        self._memory = {}                  # number -> (cache file mtime, analysis)
        self._queue = []
        self._queue_ready = threading.Condition()

    # -- one report's facts

    def load(self, number):
        """(request.json, fields.json, folder) of report NNNN, or None."""
        folder = os.path.join(self.out_dir, f"{number:04d}")
        try:
            with open(os.path.join(folder, "request.json"), encoding="utf-8") as f:
                request = json.load(f)
            with open(os.path.join(folder, "fields.json"), encoding="utf-8") as f:
                fields = json.load(f)
        except (OSError, ValueError):
            return None
        if not isinstance(request, dict) or not isinstance(fields, dict):
            return None
        return request, fields, folder

    def dump_path(self, request, folder):
        info = (request.get("files") or {}).get(MINIDUMP_FIELD)
        if not isinstance(info, dict):
            return None
        saved = str(info.get("saved_as") or "")
        path = os.path.normpath(os.path.join(folder, saved))
        if not saved or not path.startswith(folder + os.sep) or not os.path.isfile(path):
            return None
        return path

    def _lock_for(self, number):
        with self._locks_lock:
            return self._locks.setdefault(number, threading.Lock())

    def analysis(self, number, request, folder):
        """The dump's analysis (cached): reason, address, crashed thread, modules, threads, dump
        annotations and context; {"error": ...} when there is no dump or it cannot be read."""
        dump = self.dump_path(request, folder)
        if dump is None:
            return {"error": "no minidump in this request"}
        with self._lock_for(number):
            stat = os.stat(dump)
            stamp = [stat.st_size, stat.st_mtime_ns, self.symbols_dir]
            cache = os.path.join(self.cache_dir, f"{number:04d}.json")
            cached = self._memory.get(number)
            if cached is None:
                try:
                    with open(cache, encoding="utf-8") as f:
                        cached = json.load(f)
                except (OSError, ValueError):
                    cached = None
            if not isinstance(cached, dict):
                cached = None
            if cached is not None and cached.get("stamp") == stamp and not self._symbols_arrived(cached):
                self._memory[number] = cached
                return cached
            result = self._analyse(dump)
            result["stamp"] = stamp
            os.makedirs(self.cache_dir, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.cache_dir)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(result, f)
            os.replace(tmp, cache)
            self._memory[number] = result
            return result

    def _symbols_arrived(self, cached):
        if not self.symbols_dir:
            return False
        return any(os.path.exists(symbol_file(self.symbols_dir, m)) for m in cached.get("unsymbolized", []))

    def _analyse(self, dump):
        with open(dump, "rb") as f:
            data = f.read()
        result = {"annotations": minidump_annotations(data), "context": minidump_context(data),
                  "dump_time": None, "unsymbolized": []}
        if len(data) >= 32 and data[:4] == b"MDMP":
            result["dump_time"] = struct.unpack_from("<I", data, 20)[0] or None
        tool = stackwalk_tool()
        if tool is None:
            result["error"] = "minidump_stackwalk not found (set CRASHDROP_MINIDUMP_TOOLS: source tools/setup.sh)"
            return result
        symbols = self.symbols_dir or tempfile.mkdtemp(prefix="viewer-nosymbols-")
        try:
            walk = subprocess.run([tool, "-m", dump, symbols], capture_output=True, text=True,
                                  errors="replace", timeout=120)
        except subprocess.TimeoutExpired:
            result["error"] = "minidump_stackwalk took longer than 120 s"
            return result
        finally:
            if not self.symbols_dir:
                shutil.rmtree(symbols, ignore_errors=True)
        if walk.returncode != 0:
            tail = (walk.stderr.strip().splitlines() or ["(no output)"])[-1]
            result["error"] = f"minidump_stackwalk could not read the dump (exit {walk.returncode}): {tail}"
            return result
        result.update(parse_stackwalk(walk.stdout))
        if self.symbols_dir:
            result["unsymbolized"] = [m for m in result["modules"] if m["debug_id"]
                                      and not os.path.exists(symbol_file(self.symbols_dir, m))]
        return result

    # -- background analysis of what arrives (serve --symbols-dir)

    def enqueue(self, number):
        with self._queue_ready:
            self._queue.append(number)
            self._queue_ready.notify()

    def start_worker(self):
        def work():
            while True:
                with self._queue_ready:
                    while not self._queue:
                        self._queue_ready.wait()
                    number = self._queue.pop(0)
                loaded = self.load(number)
                if loaded is not None:
                    try:
                        self.analysis(number, loaded[0], loaded[2])
                    except Exception:
                        log(f"viewer: analysing {number:04d} failed:\n{traceback.format_exc()}")
        threading.Thread(target=work, name="viewer-analysis", daemon=True).start()
        for number, _ in report_folders(self.out_dir):
            if not os.path.exists(os.path.join(self.cache_dir, f"{number:04d}.json")):
                self.enqueue(number)

    # -- what a report says, whatever the dialect

    def summary(self, number):
        loaded = self.load(number)
        if loaded is None:
            return None
        request, fields, folder = loaded
        if request.get("method") != "POST" or MINIDUMP_FIELD not in (request.get("files") or {}):
            return None          # not a crash report (a refused or malformed request)
        a = self.analysis(number, request, folder)
        return report_facts(number, request, fields, a)


def join_split_fields(fields):
    """Fields with Electron's long-value parts (key__1, key__2, ...) joined back into key."""
    out, parts = {}, {}
    for key, value in fields.items():
        m = re.fullmatch(r"(.+)__([0-9]+)", key)
        if m:
            parts.setdefault(m.group(1), []).append((int(m.group(2)), value))
        else:
            out[key] = value
    for key, pieces in parts.items():
        out.setdefault(key, "".join(v for _, v in sorted(pieces)))
    return out


def as_text(value):
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def report_facts(number, request, fields, a):
    """What the pages show of one report, from its fields (every dialect) and its dump."""
    fields = join_split_fields({str(k): as_text(v) for k, v in fields.items()})
    query = {k: v[0] for k, v in (request.get("query") or {}).items() if isinstance(v, list) and v}
    event = {}
    if "sentry" in fields:
        try:
            event = json.loads(fields["sentry"])
        except ValueError:
            event = {}
        event = event if isinstance(event, dict) else {}
    extra = {}
    if "extra" in fields:                      # Socorro's JSON form of the annotations
        try:
            extra = json.loads(fields["extra"])
        except ValueError:
            extra = {}
        extra = extra if isinstance(extra, dict) else {}
    dump_annotations = a.get("annotations") or {}

    def first(*values):
        for v in values:
            if v not in (None, ""):
                return as_text(v)
        return ""

    tags_event = event.get("tags") or {}
    if isinstance(tags_event, list):          # Sentry also accepts [[key, value], ...]
        tags_event = {str(t[0]): t[1] for t in tags_event if isinstance(t, (list, tuple)) and len(t) == 2}
    tags_event = tags_event if isinstance(tags_event, dict) else {}
    release = first(event.get("release"))
    product = first(fields.get("prod"), fields.get("_productName"), fields.get("ProductName"),
                    extra.get("ProductName"), query.get("product"), tags_event.get("product"),
                    release.split("@", 1)[0] if release else "", dump_annotations.get("prod"))
    version = first(fields.get("ver"), fields.get("_version"), fields.get("Version"), extra.get("Version"),
                    query.get("version"), release.split("@", 1)[1] if "@" in release else "",
                    dump_annotations.get("ver"))
    kind = first(fields.get("crash_kind"), extra.get("crash_kind"), tags_event.get("crash_kind"),
                 dump_annotations.get("crash_kind")) or "unknown"

    annotations = {}
    for key, value in dump_annotations.items():
        annotations[key] = value
    source = event.get("extra") if isinstance(event.get("extra"), dict) else {}
    for key, value in list(extra.items()) + list(source.items()) + list(fields.items()):
        if key in NOT_ANNOTATIONS or key.startswith(("tag.", "user.")):
            continue
        annotations[str(key)] = as_text(value)
    for key in ("crash_kind", "prod", "ver"):
        annotations.pop(key, None)

    context = a.get("context") or []
    tags = {k[4:]: v for k, v in context if k.startswith("tag.")}
    tags.update({str(k): as_text(v) for k, v in tags_event.items()})
    tags.update({k[4:]: v for k, v in fields.items() if k.startswith("tag.")})
    user = {k[5:]: v for k, v in context if k.startswith("user.")}
    if isinstance(event.get("user"), dict):
        user.update({str(k): as_text(v) for k, v in event["user"].items()})
    user.update({k[5:]: v for k, v in fields.items() if k.startswith("user.")})

    breadcrumbs = []
    crumbs = event.get("breadcrumbs")
    crumbs = crumbs.get("values") if isinstance(crumbs, dict) else crumbs
    if isinstance(crumbs, list) and crumbs:
        for c in crumbs:
            if not isinstance(c, dict):
                continue
            ts = c.get("timestamp")
            stamp = utc_text(ts, "%Y-%m-%dT%H:%M:%SZ") if isinstance(ts, (int, float)) else first(ts)
            breadcrumbs.append((stamp, first(c.get("level")), first(c.get("category")), first(c.get("message"))))
    elif fields.get("breadcrumbs"):
        for line in fields["breadcrumbs"].split("\n"):
            m = re.fullmatch(r"(\S+) (\S+) \[(.*?)\] ?(.*)", line)
            if m:
                breadcrumbs.append(m.groups())
            elif line.strip():
                breadcrumbs.append(("", "", "", line))
    else:
        for key, value in context:
            if key.startswith("breadcrumb."):
                ms, level, category, message = (value.split("|", 3) + ["", "", ""])[:4]
                stamp = (utc_text(int(ms) / 1000, "%Y-%m-%dT%H:%M:%S") + f".{int(ms) % 1000:03d}Z"
                         if re.fullmatch(r"-?[0-9]{1,15}", ms) else ms)
                breadcrumbs.append((stamp, level, urllib.parse.unquote(category), urllib.parse.unquote(message)))

    threads = a.get("threads") or []
    crashed = a.get("crashed_thread")
    top = threads[crashed] if crashed is not None and 0 <= crashed < len(threads) else []
    if a.get("error") and not threads:
        signature = "(no frames) " + a["error"].split(" (")[0].split(":")[0]
        top_frames = []
    else:
        top_frames = [frame_key(f) for f in top[:VIEWER_SIGNATURE_FRAMES]]
        signature = " | ".join([a.get("reason") or "no crash reason"] + top_frames)
    crashed_at = a.get("dump_time")
    if isinstance(event.get("timestamp"), str):
        crashed_at = crashed_at or event["timestamp"]
    return {"number": number, "kind": kind, "received_at": request.get("received_at"), "crashed_at": crashed_at,
            "product": product, "version": version, "annotations": annotations, "tags": tags, "user": user,
            "breadcrumbs": breadcrumbs, "signature": signature, "reason": a.get("reason"),
            "address": a.get("address"), "crashed_thread": crashed, "threads": threads,
            "error": a.get("error"), "path": request.get("target") or request.get("path"),
            "dialect": "sentry envelope" if request.get("envelope") else
                       ("sentry minidump" if "sentry" in fields else request.get("dialect")),
            "dump_bytes": ((request.get("files") or {}).get(MINIDUMP_FIELD) or {}).get("bytes"),
            "unsymbolized": [m.get("debug_file") for m in a.get("unsymbolized") or []]}


def utc_text(seconds, form):
    """seconds since 1970 as UTC text in strftime form; the number itself when it is no time."""
    try:
        return time.strftime(form, time.gmtime(seconds))
    except (OverflowError, OSError, ValueError):
        return str(seconds)


def when(seconds):
    if isinstance(seconds, (int, float)):
        return utc_text(seconds, "%Y-%m-%d %H:%M:%S UTC")
    return "" if seconds is None else str(seconds)


def page(title, body):
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width\">"
            f"<title>{esc(title)}</title><style>{VIEWER_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")


def table(pairs, empty="none"):
    if not pairs:
        return f"<p class=\"muted\">{esc(empty)}</p>"
    rows = "".join(f"<tr><th>{esc(k)}</th><td class=\"val\">{esc(v)}</td></tr>" for k, v in pairs)
    return f"<table>{rows}</table>"


def kind_badge(kind):
    css = kind if kind in ("crash", "hang", "abnormal_exit", "requested") else "other"
    return f"<span class=\"kind kind-{css}\">{esc(kind)}</span>"


def list_page(viewer, page_number):
    started = time.monotonic()
    reports, broken = [], []
    for number, _ in reversed(report_folders(viewer.out_dir)):       # newest first
        try:
            facts = viewer.summary(number)
        except Exception:                   # one report the viewer cannot read must not hide the rest
            log(f"viewer: report {number:04d} cannot be shown:\n{traceback.format_exc()}")
            broken.append(number)
            continue
        if facts is not None:
            reports.append(facts)
    groups = {}
    for r in reports:                       # reports are newest first, so are the groups' lists
        groups.setdefault(r["signature"], []).append(r)
    ordered = list(groups.items())          # insertion order: by each group's newest report
    pages = max(1, (len(ordered) + VIEWER_GROUPS_PER_PAGE - 1) // VIEWER_GROUPS_PER_PAGE)
    page_number = min(max(page_number, 1), pages)
    shown = ordered[(page_number - 1) * VIEWER_GROUPS_PER_PAGE:page_number * VIEWER_GROUPS_PER_PAGE]
    out = [f"<h1>Crash reports</h1><p id=\"totals\">{len(reports)} report(s) in {len(groups)} group(s), "
           f"newest first; symbols from <code>{esc(viewer.symbols_dir or 'none')}</code></p>"]
    for index, (signature, items) in enumerate(shown):
        newest = items[0]
        kinds = sorted({r["kind"] for r in items})
        rows = []
        for r in items[:VIEWER_REPORTS_PER_GROUP]:
            rows.append(f"<tr><td><a href=\"/reports/{r['number']:04d}\">{r['number']:04d}</a></td>"
                        f"<td>{kind_badge(r['kind'])}</td><td>{esc(when(r['received_at']))}</td>"
                        f"<td>{esc(r['product'])} {esc(r['version'])}</td>"
                        f"<td class=\"val\">{esc(r['user'].get('id') or r['user'].get('username') or '')}</td></tr>")
        more = len(items) - VIEWER_REPORTS_PER_GROUP
        more_text = f"<p class=\"muted\">and {more} older report(s) of this group</p>" if more > 0 else ""
        opened = " open" if page_number == 1 and index < 3 else ""
        out.append(
            f"<details class=\"group\"{opened}><summary><span class=\"count\">{len(items)}&times;</span> "
            f"{''.join(kind_badge(k) for k in kinds)} <span class=\"sig mono\">{esc(signature)}</span>"
            f" <span class=\"muted\">newest {esc(when(newest['received_at']))}, {esc(newest['product'])} "
            f"{esc(newest['version'])}</span></summary>"
            f"<table><tr><th>report</th><th>kind</th><th>received</th><th>product</th><th>user</th></tr>"
            f"{''.join(rows)}</table>{more_text}</details>")
    if broken:
        out.append(f"<p class=\"muted\">not shown (see the collector's log): "
                   f"{esc(', '.join(f'{n:04d}' for n in broken))}</p>")
    if pages > 1:
        links = " ".join(f"<strong>{n}</strong>" if n == page_number else f"<a href=\"/?page={n}\">{n}</a>"
                         for n in range(1, pages + 1))
        out.append(f"<nav>groups page: {links}</nav>")
    out.append(f"<p class=\"muted\">page built in {(time.monotonic() - started) * 1000:.0f} ms</p>")
    return page(f"Crash reports ({len(reports)})", "\n".join(out))


def report_page(viewer, number):
    facts = viewer.summary(number)
    if facts is None:
        return None
    f = facts
    out = [f"<nav><a href=\"/\">&larr; all reports</a></nav>",
           f"<h1>Report {number:04d} {kind_badge(f['kind'])}</h1>",
           table([("kind", f["kind"]), ("crashed", when(f["crashed_at"])), ("received", when(f["received_at"])),
                  ("product", f["product"]), ("version", f["version"]), ("sent as", f["dialect"]),
                  ("request", f["path"]), ("crash reason", f["reason"] or ""), ("crash address", f["address"] or ""),
                  ("signature", f["signature"])]),
           f"<p><a href=\"/reports/{number:04d}/minidump\" download=\"report-{number:04d}.dmp\">"
           f"Download the minidump</a> ({esc(f['dump_bytes'])} bytes)</p>"]
    if f["error"]:
        out.append(f"<p class=\"muted\">{esc(f['error'])}</p>")
    if f["unsymbolized"]:
        out.append(f"<p class=\"muted\">no symbols for: {esc(', '.join(f['unsymbolized']))}</p>")
    out.append("<h2>Annotations</h2>" + table(sorted(f["annotations"].items())))
    out.append("<h2>Tags</h2>" + table(sorted(f["tags"].items())))
    out.append("<h2>User</h2>" + table(sorted(f["user"].items())))
    out.append("<h2>Breadcrumbs</h2>")
    if f["breadcrumbs"]:
        rows = "".join(f"<tr><td class=\"mono\">{esc(t)}</td><td>{esc(l)}</td><td>{esc(c)}</td>"
                       f"<td class=\"val\">{esc(m)}</td></tr>" for t, l, c, m in f["breadcrumbs"])
        out.append(f"<table id=\"breadcrumbs\"><tr><th>time</th><th>level</th><th>category</th><th>message</th></tr>"
                   f"{rows}</table>")
    else:
        out.append("<p class=\"muted\">none</p>")
    out.append(f"<h2>Threads ({len(f['threads'])})</h2>")
    for index, frames in enumerate(f["threads"]):
        crashed = index == f["crashed_thread"]
        rows = "".join(f"<tr><td>{i}</td><td>{esc(frame_text(fr))}</td></tr>" for i, fr in enumerate(frames))
        attrs = ' open class="crashed"' if crashed else ''
        out.append(f"<details{attrs} id=\"thread-{index}\">"
                   f"<summary>thread {index}{' (crashed)' if crashed else ''}: {len(frames)} frame(s)</summary>"
                   f"<table class=\"frames\">{rows}</table></details>")
    return page(f"Report {number:04d}: {f['signature']}", "\n".join(out))


def parse_statuses(text):
    statuses = []
    for item in (text or "").split(","):
        if not item.strip():
            continue
        if not re.fullmatch(r"\s*[1-5][0-9][0-9]\s*", item):
            raise argparse.ArgumentTypeError(f"not an HTTP status: {item!r}")
        statuses.append(int(item))
    return statuses


def serve(args):
    if args.tls_key and not args.tls_cert:
        sys.exit("collector: --tls-key needs --tls-cert")
    os.makedirs(args.out, exist_ok=True)
    tls_context = None
    if args.tls_cert:
        tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)
    server = CollectorServer((args.host, args.port), Config(args), tls_context)
    if args.symbols_dir:
        server.viewer.start_worker()
    port = server.server_address[1]
    if args.port_file:
        folder = os.path.dirname(os.path.abspath(args.port_file))
        fd, tmp = tempfile.mkstemp(prefix=".port-", dir=folder)
        with os.fdopen(fd, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    scheme = "https" if tls_context else "http"
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"collector listening on {scheme}://{host}:{port}", flush=True)
    log(f"crash viewer: {scheme}://{host}:{port}/")

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    log("stopped")
    return 0


# ---------------------------------------------------------------------------------------------
# show and wait


def one_line(value, limit=120):
    text = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= limit else text[:limit] + "..."


def show_minidump(path, symbols_dir):
    """Lines saying what Breakpad's processor reads from a minidump (via tools/show_dump.py)."""
    if not os.environ.get("CRASHDROP_MINIDUMP_TOOLS"):
        return ["minidump not read: CRASHDROP_MINIDUMP_TOOLS is not set (source tools/setup.sh)"]
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "show_dump.py")
    out = subprocess.run([sys.executable, script, path, "--symbols", symbols_dir],
                         capture_output=True, text=True, errors="replace")
    if out.returncode != 0:
        return [f"show_dump.py failed (exit {out.returncode}):"] + [
            "  " + line for line in (out.stderr or out.stdout).strip().splitlines()[-20:]]
    return out.stdout.rstrip("\n").splitlines()


def show(args):
    if not os.path.isdir(args.dir):
        print(f"collector: no such folder {args.dir}", file=sys.stderr)
        return 1
    folders = report_folders(args.dir)
    if not folders:
        print(f"no reports in {args.dir}")
        return 0
    symbols_dir = args.symbols_dir or tempfile.mkdtemp(prefix="collector-symbols-")
    try:
        for number, folder in folders:
            try:
                with open(os.path.join(folder, "request.json"), encoding="utf-8") as f:
                    req = json.load(f)
                with open(os.path.join(folder, "fields.json"), encoding="utf-8") as f:
                    fields = json.load(f)
            except (OSError, ValueError) as e:
                print(f"{os.path.basename(folder)}  unreadable: {e}")
                continue
            if req.get("method"):
                target = req.get("target") or req.get("path", "")
                if not req.get("target") and req.get("query"):
                    target += "?" + urllib.parse.urlencode(req["query"], doseq=True)
                request = f"{req['method']} {target}"
            else:
                request = f"unparseable request {json.dumps(req.get('request_line', ''))}"
            reply = req.get("reply")
            reply_text = "" if reply is None else f'  reply "{one_line(reply, 80)}"'
            print(f"{os.path.basename(folder)}  {request}  -> {req.get('status')}{reply_text}")
            encoding = req.get("content_encoding") or "identity"
            decoded = req.get("decoded_bytes")
            print(f"  body: {req.get('body_bytes')} bytes ({encoding})"
                  + (f", {decoded} decoded" if decoded is not None and encoding != "identity" else ""))
            if req.get("error"):
                print(f"  error: {one_line(req['error'], 300)}")
            for defect in req.get("multipart_defects") or []:
                print(f"  multipart defect: {defect}")
            if fields:
                print(f"  fields ({len(fields)}):")
                width = min(max(len(k) for k in fields), 40)
                for key in sorted(fields):
                    value = str(fields[key])
                    lines = value.rstrip("\n").split("\n")
                    if "\n" in value.rstrip("\n") and len(lines) <= 200:  # e.g. breadcrumbs: a line each
                        print(f"    {key:<{width}} =")
                        for line in lines:
                            print(f"        {one_line(line)}")
                    else:
                        print(f"    {key:<{width}} = {one_line(value)}")
            files = req.get("files") or {}
            for key, info in files.items():
                print(f"  file {key}: {json.dumps(info.get('filename'))} {info.get('content_type')}, "
                      f"{info.get('bytes')} bytes")
            dump = files.get(MINIDUMP_FIELD)
            if dump:
                path = os.path.join(folder, dump.get("saved_as") or f"files/{sanitize(MINIDUMP_FIELD)}")
                for line in show_minidump(path, symbols_dir):
                    print("    " + line)
    finally:
        if not args.symbols_dir:
            shutil.rmtree(symbols_dir, ignore_errors=True)
    return 0


def wait(args):
    deadline = time.monotonic() + args.timeout
    while True:
        count = len(report_folders(args.dir))
        if count >= args.count:
            print(f"{count} report(s) in {args.dir}")
            return 0
        if time.monotonic() >= deadline:
            print(f"collector: timed out after {args.timeout:g} s with {count} of {args.count} report(s) "
                  f"in {args.dir}", file=sys.stderr)
            return 1
        time.sleep(0.05)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="receive crash reports into numbered folders")
    p.add_argument("--out", required=True, help="folder for the report folders 0001, 0002, ...")
    p.add_argument("--port", type=int, default=0, help="port to listen on (0, the default: a free one)")
    p.add_argument("--port-file", help="write the port number here once listening")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--dialect", choices=["crashpad", "socorro", "sentry"], default="crashpad")
    p.add_argument("--statuses", type=parse_statuses, default=[],
                   help="reply statuses of the first POSTs, e.g. 500,500,200 (then 200)")
    p.add_argument("--hang", action="store_true", help="read requests, record them, never reply")
    p.add_argument("--trickle", action="store_true", help="send reply bodies one byte per second")
    p.add_argument("--chunked", action="store_true", help="send reply bodies with chunked transfer coding")
    p.add_argument("--reply-delay", type=float, default=0.0, metavar="SECONDS")
    p.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (chain)")
    p.add_argument("--tls-key", help="the PEM private key of --tls-cert")
    p.add_argument("--socorro-discard", metavar="RULE", help="socorro: reply 200 Discarded=RULE")
    p.add_argument("--retry-after", metavar="VALUE", help="a Retry-After header on the --statuses failures")
    p.add_argument("--rate-limits", metavar="VALUE", help="an X-Sentry-Rate-Limits header on the first POST's reply")
    p.add_argument("--symbols-dir", metavar="DIR",
                   help="the crash viewer's symbols (DIR/<module>/<debug id>/<module>.sym); with it, every "
                        "report is analysed as it arrives")
    p.set_defaults(run=serve)

    p = sub.add_parser("show", help="print what was received")
    p.add_argument("dir")
    p.add_argument("--symbols-dir", help="symbol folder for the minidump reader (default: a temporary one)")
    p.set_defaults(run=show)

    p = sub.add_parser("wait", help="wait until DIR holds at least N report folders")
    p.add_argument("dir")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--timeout", type=float, default=30.0)
    p.set_defaults(run=wait)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except BrokenPipeError:                     # e.g. `collector.py show DIR | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
