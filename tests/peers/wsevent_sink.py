#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""wsevent_sink.py: the "authorized HTTP server" of the direct-tcpip tests.

AMT delivers WS-Eventing events as HTTP POSTs over a direct-tcpip channel
that the MPS connects to the subscriber. This is that subscriber, as
small as it can be: it listens on 127.0.0.1 (or ::1 with --ipv6), port 0
unless --port is given, prints the port on a line of its own on stdout
(flushed), and for each POST it receives writes

    PREFIX.N          the body, exactly as received (Content-Length or
                      chunked; decoded from the chunking if chunked)
    PREFIX.N.head     the request line and headers (as parsed: one
                      header a line, for grep)
    PREFIX.N.answer   the exact bytes it answered

and answers "200 OK" with a small fixed body and "Connection: close",
then closes the connection. The answer carries no Date or Server header,
so its bytes never vary: a test can compare what the device received
with PREFIX.N.answer, byte for byte. Files are written under temporary
names and renamed, the .answer file last, before the answer is sent.
Anything but POST gets 405. Python 3 standard library only.
"""
import argparse
import http.server
import os
import signal
import socket
import socketserver
import sys
import threading

BODY = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<received xmlns="urn:mpsd:test:wsevent-sink"/>\n')
MAX_BODY = 16 * 1024 * 1024

_lock = threading.Lock()
_count = 0


def next_number():
    global _count
    with _lock:
        _count += 1
        return _count


def save(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def answer_bytes(code, reason, body):
    head = ("HTTP/1.1 %d %s\r\n"
            "Content-Type: application/soap+xml;charset=UTF-8\r\n"
            "Content-Length: %d\r\n"
            "Connection: close\r\n"
            "\r\n" % (code, reason, len(body))).encode("ascii")
    return head + body


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    prefix = None

    def log_message(self, fmt, *args):
        sys.stderr.write("wsevent_sink: %s\n" % (fmt % args))

    def read_chunked(self):
        body = b""
        while True:
            line = self.rfile.readline(1024)
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                # Trailers, up to the empty line.
                while self.rfile.readline(1024) not in (b"\r\n", b"\n",
                                                        b""):
                    pass
                return body
            if len(body) + size > MAX_BODY:
                raise ValueError("body too large")
            body += self.rfile.read(size)
            self.rfile.readline(1024)   # the CRLF after the chunk

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self.read_chunked()
        length = int(self.headers.get("Content-Length", "0"))
        if length < 0 or length > MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length)

    def reply(self, data):
        self.close_connection = True
        self.wfile.write(data)
        self.wfile.flush()

    def do_POST(self):
        try:
            body = self.read_body()
        except ValueError as e:
            self.log_message("bad request: %s", e)
            self.reply(answer_bytes(400, "Bad Request", b""))
            return
        n = next_number()
        base = "%s.%d" % (self.prefix, n)
        head = self.requestline + "\r\n" + str(self.headers)
        save(base, body)
        save(base + ".head", head.encode("latin-1"))
        data = answer_bytes(200, "OK", BODY)
        save(base + ".answer", data)
        self.log_message("POST %d: %s, %d body bytes", n, self.path,
                         len(body))
        self.reply(data)

    def do_GET(self):
        self.reply(answer_bytes(405, "Method Not Allowed", b""))


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


class Server6(Server):
    address_family = socket.AF_INET6


def main():
    p = argparse.ArgumentParser(
        description="Record WS-Eventing POSTs; answer 200.")
    p.add_argument("prefix", help="files PREFIX.N, PREFIX.N.head, "
                   "PREFIX.N.answer")
    p.add_argument("--ipv6", action="store_true",
                   help="listen on ::1 instead of 127.0.0.1")
    p.add_argument("--port", type=int, default=0,
                   help="port to listen on (default 0: any free one)")
    args = p.parse_args()
    Handler.prefix = args.prefix
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if args.ipv6:
            srv = Server6(("::1", args.port), Handler)
        else:
            srv = Server(("127.0.0.1", args.port), Handler)
    except OSError as e:
        print("wsevent_sink: cannot listen: %s" % e, file=sys.stderr)
        return 2
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
