#!/usr/bin/env python3
"""A local crash-report collector for crashdrop's demo and end-to-end tests (standard library only).

It stands in for the servers a crash uploader talks to: a Breakpad/Crashpad/Electron collector
(reply: a report id), Socorro's collector Antenna (reply: "CrashID=bp-..."), and Sentry's minidump
and envelope endpoints (reply: a JSON event id; /api/<project>/envelope/ is parsed item by item as
the envelope specification describes and a malformed envelope is refused with 400). Every request it receives is written to a numbered folder, so a
test can check exactly what was uploaded; failures (status codes, hangs, slow replies) can be
injected to exercise retries and timeouts.

    collector.py serve --out DIR [--port N] [--port-file FILE] [--host 127.0.0.1]
                       [--dialect crashpad|socorro|sentry] [--statuses 500,500,200]
                       [--hang] [--trickle] [--chunked] [--reply-delay SECONDS]
                       [--tls-cert CERT.pem --tls-key KEY.pem] [--socorro-discard RULE]
                       [--retry-after VALUE] [--rate-limits VALUE]
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
import email.parser
import email.policy
import email.utils
import gzip
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
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

    do_GET = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = not_post

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
