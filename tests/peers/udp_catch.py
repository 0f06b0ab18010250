#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""udp_catch.py: a UDP listener for the PET alert tests.

Binds a UDP socket on 127.0.0.1 (or ::1 with --ipv6), port 0 unless
--port is given, prints the port it got on a line of its own on stdout
(flushed, so a test can read it at once), then writes every datagram it
receives to PREFIX.1, PREFIX.2, ... (one file per datagram, in arrival
order, the bytes exactly as received) until SIGTERM or SIGINT.

Each file is written under a temporary name and renamed, so a test that
sees PREFIX.N sees it whole and can cmp it at once. Python 3 standard
library only.
"""
import argparse
import os
import signal
import socket
import sys

MAX_DATAGRAM = 65535


def parse_args():
    p = argparse.ArgumentParser(
        description="Write each UDP datagram received to PREFIX.N.")
    p.add_argument("prefix", help="files PREFIX.1, PREFIX.2, ...")
    p.add_argument("--ipv6", action="store_true",
                   help="bind ::1 instead of 127.0.0.1")
    p.add_argument("--port", type=int, default=0,
                   help="port to bind (default 0: any free one)")
    return p.parse_args()


def bind(ipv6, port):
    if ipv6:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(("::1", port))
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", port))
    # Room for a burst of alerts while this process is busy writing.
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    except OSError:
        pass
    return s


def save(prefix, n, data):
    path = "%s.%d" % (prefix, n)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def main():
    args = parse_args()
    # SIGTERM ends the loop like ^C: a clean exit, status 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        s = bind(args.ipv6, args.port)
    except OSError as e:
        print("udp_catch: cannot bind: %s" % e, file=sys.stderr)
        return 2
    print(s.getsockname()[1], flush=True)
    n = 0
    try:
        while True:
            data, peer = s.recvfrom(MAX_DATAGRAM)
            n += 1
            save(args.prefix, n, data)
            print("datagram %d bytes=%d from=%s" % (n, len(data), peer[0]),
                  file=sys.stderr, flush=True)
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
