#!/usr/bin/env python3
"""A hostile crash server for crashdrop's upload tests (standard library only, 127.0.0.1).

It reads each request whole (like a real server), records its arrival, then answers with the
next reply of its script (the last one repeats):

    hostile_server.py --port-file FILE --record FILE [--tls-cert PEM --tls-key PEM] REPLY [REPLY ...]

A REPLY is a named misbehaviour, or STATUS[|Header: value ...][|body=TEXT]:
    endless_body      200, no length, then body bytes until the client goes away
    endless_headers   200, then header lines without end
    huge_header       200, then one header line without end
    slowloris         a status line and headers, one byte every 0.3 s, never finished
    chunk_bomb        200 chunked, then one-byte chunks without end ("1\\r\\na\\r\\n" ...)
    chunk_size_bomb   200 chunked, then a chunk-size line without end ("000...")
    continue_then_ok  100 Continue, then 200 with an id
    hints_then_ok     102 Processing and 103 Early Hints, then 200 with an id
    switching         101 Switching Protocols
    429|Retry-After: 2             a status, a header
    413|body=dump too large        a status, a body
    503|Retry-After: +3s           "+Ns": an HTTP-date N seconds from the time of the reply
The record file gets one line per request: "<n> <arrival time, UNIX seconds> <reply>". A
successful reply's body (the server id) is "hostile-<n>".
"""
import argparse
import email.utils
import os
import socket
import socketserver
import ssl
import sys
import threading
import time

ENDLESS_SECONDS = 120  # an endless reply stops after this long even if nobody notices


class State:
    def __init__(self, script, record):
        self.script = script
        self.record = record
        self.count = 0
        self.lock = threading.Lock()

    def next(self):
        with self.lock:
            self.count += 1
            n = self.count
            reply = self.script[min(n, len(self.script)) - 1]
            with open(self.record, "a") as f:
                f.write(f"{n} {time.time():.3f} {reply}\n")
            return n, reply


def read_request(sock):
    """Reads one request (headers and a Content-Length body); False if the client went away."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return False
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(1 << 20)
        if not chunk:
            return False
        rest += chunk
    return True


def endless(sock, first, piece):
    """Sends `first`, then `piece` again and again until the client closes or time runs out."""
    end = time.time() + ENDLESS_SECONDS
    sock.sendall(first)
    sent = len(first)
    while time.time() < end:
        sock.sendall(piece)
        sent += len(piece)
    return sent


def simple(status, headers, body):
    reasons = {100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints", 200: "OK",
               400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
               407: "Proxy Authentication Required", 413: "Content Too Large", 429: "Too Many Requests",
               500: "Internal Server Error", 503: "Service Unavailable"}
    out = f"HTTP/1.1 {status} {reasons.get(status, 'Whatever')}\r\n"
    for h in headers:
        out += h + "\r\n"
    if status >= 200:
        out += f"Content-Length: {len(body.encode())}\r\nConnection: close\r\n"
    return (out + "\r\n").encode() + (body.encode() if status >= 200 else b"")


def answer(sock, n, reply):
    ok = simple(200, [], f"hostile-{n:04d}")
    if reply == "endless_body":
        endless(sock, b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", b"x" * 65536)
    elif reply == "endless_headers":
        endless(sock, b"HTTP/1.1 200 OK\r\n", b"".join(b"X-Pad-%06d: %s\r\n" % (i, b"p" * 40) for i in range(1000)))
    elif reply == "huge_header":
        endless(sock, b"HTTP/1.1 200 OK\r\nX-Huge: ", b"h" * 65536)
    elif reply == "chunk_bomb":
        endless(sock, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"1\r\na\r\n" * 10000)
    elif reply == "chunk_size_bomb":
        endless(sock, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"0" * 65536)
    elif reply == "slowloris":
        text = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"s" * 1000
        end = time.time() + ENDLESS_SECONDS
        for i in range(len(text)):
            if time.time() > end:
                break
            sock.sendall(text[i:i + 1])
            time.sleep(0.3)
    elif reply == "continue_then_ok":
        sock.sendall(simple(100, [], "") + ok)
    elif reply == "hints_then_ok":
        sock.sendall(simple(102, [], "") + simple(103, ["Link: </style.css>; rel=preload"], "") + ok)
    elif reply == "switching":
        sock.sendall(simple(101, ["Upgrade: websocket", "Connection: Upgrade"], ""))
        time.sleep(2)
    else:
        parts = reply.split("|")
        status = int(parts[0])
        headers, body = [], (f"hostile-{n:04d}" if 200 <= status < 300 else "")
        for p in parts[1:]:
            if p.startswith("body="):
                body = p[5:]
            elif p.endswith("s") and ": +" in p:  # "Retry-After: +3s": a date that far ahead
                name, _, secs = p.partition(": +")
                headers.append(f"{name}: {email.utils.formatdate(time.time() + float(secs[:-1]), usegmt=True)}")
            else:
                headers.append(p)
        sock.sendall(simple(status, headers, body))


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.settimeout(60)
        try:
            if self.server.tls is not None:
                sock = self.server.tls.wrap_socket(sock, server_side=True)
            if not read_request(sock):
                return
            n, reply = self.server.state.next()
            answer(sock, n, reply)
        except (OSError, ValueError, ssl.SSLError) as e:
            print(f"hostile: {e}", file=sys.stderr, flush=True)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port-file", required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate")
    p.add_argument("--tls-key", help="the PEM private key of --tls-cert")
    p.add_argument("replies", nargs="+")
    args = p.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    server.tls = None
    if args.tls_cert:
        server.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.tls.load_cert_chain(args.tls_cert, args.tls_key)
    server.state = State(args.replies, args.record)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
