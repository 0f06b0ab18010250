#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""bearer_proxy.py PREFIX UPSTREAM_PORT TOKEN_FILE: a loopback reverse proxy that
adds "Authorization: Bearer <token>" to every GET it forwards to
127.0.0.1:UPSTREAM_PORT, as an admin's TLS front (nginx, Apache) would.

A browser cannot add a header to a navigation; this is how the admin
status page is reached from one (mpsd(8), ADMIN API). Prints its port
on the first line of stdout, then serves until killed. Only for tests.
"""
import http.client
import http.server
import sys

# PREFIX (lib.sh's start_peer passes one) is not used: nothing is saved.
UPSTREAM = int(sys.argv[2])
with open(sys.argv[3]) as f:
    TOKEN = f.readline().strip()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        conn = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=10)
        conn.request("GET", self.path, headers={
            "Authorization": "Bearer " + TOKEN,
            "X-Requested-By": "bearer_proxy.py"})
        resp = conn.getresponse()
        body = resp.read()
        self.send_response(resp.status)
        for name in ("Content-Type", "Cache-Control"):
            if resp.getheader(name):
                self.send_header(name, resp.getheader(name))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        conn.close()

    def log_message(self, fmt, *args):
        sys.stderr.write("bearer_proxy: " + (fmt % args) + "\n")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
