#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""socks_probe.py: one raw SOCKS5 exchange, byte by byte, for tests that
assert mpsd's exact answers (RFC 1928 method selection and reply codes,
RFC 1929 username/password status).

usage: socks_probe.py --proxy HOST:PORT --host H --port P
           [--methods 0,2] [--user U --pass P] [--cmd connect|bind|udp|N]
           [--atyp domain|ipv4|ipv6] [--version N] [--raw-hex HEX]
           [--send TEXT] [--send-hex HEX] [--expect-bytes N]
           [--hold S] [--wait-close S] [--timeout S]

It offers --methods (default: 0, and 2 too when --user is given), does
the RFC 1929 sub-negotiation when the proxy picks 2 and a user is given,
sends the request (--cmd, default connect; --atyp, default domain) and
reads the reply. With --raw-hex the given bytes are sent instead of the
greeting and whatever comes back is printed (for malformed input).

After a success (REP 0) it sends --send (Python escapes such as \\r\\n are
understood) or --send-hex, then reads until --expect-bytes arrived, the
proxy closed, or --timeout passed; --hold S keeps the connection open S
seconds first (for channel-limit tests); --wait-close S then waits up to
S seconds for the proxy to close the connection (idle timeouts). After a
failure reply it waits to see whether the proxy closes the connection, as
RFC 1928 requires.

Output, one key=value line per step, stdout (values are the last token;
bytes are shown as two hex digits):
    method=00|02|ff|eof         the proxy's method choice
    auth=00|01|eof|skipped      the RFC 1929 status (when method 02)
    rep=00..08|eof [atyp=N bnd=ADDR:PORT]
    recv_len=N                  bytes read after a success
    recv=TEXT                   those bytes, escaped (the last token)
    closed=yes|no               the proxy closed the connection (ms=N)
    raw=HEX                     with --raw-hex: everything read
Exit status: 0 when the exchange ran (whatever the answers), 2 on a usage
error or when the proxy cannot be reached.
"""
import argparse
import codecs
import ipaddress
import socket
import sys
import time


def out(line):
    print(line, flush=True)


def hexbyte(b):
    return "%02x" % b


def recv_exact(sock, n, deadline):
    """n bytes, or fewer if the proxy closed or time ran out."""
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(n - len(buf))
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        buf += chunk
    return buf


def wait_close(sock, timeout):
    """Whether the proxy closes within timeout; returns (closed, ms, extra)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    extra = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False, int((time.monotonic() - t0) * 1000), extra
        sock.settimeout(left)
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True, int((time.monotonic() - t0) * 1000), extra
        if not chunk:
            return True, int((time.monotonic() - t0) * 1000), extra
        extra += chunk


def escape(data):
    text = data.decode("latin-1")
    return text.encode("unicode_escape").decode("ascii")


def parse_hostport(text):
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
    else:
        host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT: " + text)
    return host, int(port)


def address_bytes(atyp, host):
    if atyp == "ipv4":
        return b"\x01" + ipaddress.IPv4Address(host).packed
    if atyp == "ipv6":
        return b"\x04" + ipaddress.IPv6Address(host).packed
    name = host.encode("idna" if not host.isascii() else "ascii")
    if len(name) > 255:
        raise SystemExit("socks_probe: host name longer than 255 bytes")
    return b"\x03" + bytes([len(name)]) + name


def read_reply(sock, deadline):
    head = recv_exact(sock, 4, deadline)
    if len(head) < 2:
        out("rep=eof")
        return None
    rep = head[1]
    if len(head) < 4:
        out("rep=%s atyp=eof" % hexbyte(rep))
        return rep
    atyp = head[3]
    if atyp == 1:
        body = recv_exact(sock, 6, deadline)
        addr = (str(ipaddress.IPv4Address(body[:4]))
                if len(body) == 6 else "?")
    elif atyp == 4:
        body = recv_exact(sock, 18, deadline)
        addr = ("[%s]" % ipaddress.IPv6Address(body[:16])
                if len(body) == 18 else "?")
    elif atyp == 3:
        n = recv_exact(sock, 1, deadline)
        body = recv_exact(sock, n[0] + 2, deadline) if n else b""
        addr = body[:-2].decode("latin-1") if n and len(body) == n[0] + 2 \
            else "?"
    else:
        body = b""
        addr = "?"
    port = (body[-2] << 8 | body[-1]) if len(body) >= 2 else 0
    line = "rep=%s atyp=%d bnd=%s:%d" % (hexbyte(rep), atyp, addr, port)
    if head[0] != 5:
        line += " version=%d" % head[0]
    out(line)
    return rep


def main():
    ap = argparse.ArgumentParser(description="one raw SOCKS5 exchange")
    ap.add_argument("--proxy", required=True, type=parse_hostport)
    ap.add_argument("--host", default="")
    ap.add_argument("--port", type=int, default=16992)
    ap.add_argument("--methods")
    ap.add_argument("--user")
    ap.add_argument("--pass", dest="password")
    ap.add_argument("--cmd", default="connect")
    ap.add_argument("--atyp", default="domain",
                    choices=["domain", "ipv4", "ipv6"])
    ap.add_argument("--version", type=int, default=5)
    ap.add_argument("--raw-hex")
    ap.add_argument("--send")
    ap.add_argument("--send-hex")
    ap.add_argument("--expect-bytes", type=int, default=0)
    ap.add_argument("--hold", type=float, default=0)
    ap.add_argument("--wait-close", type=float, default=0)
    ap.add_argument("--timeout", type=float, default=5)
    a = ap.parse_args()

    cmds = {"connect": 1, "bind": 2, "udp": 3}
    cmd = cmds[a.cmd] if a.cmd in cmds else int(a.cmd, 0)
    if a.methods is not None:
        methods = [int(m, 0) for m in a.methods.split(",") if m != ""]
    else:
        methods = [0, 2] if a.user is not None else [0]

    try:
        sock = socket.create_connection(a.proxy, timeout=a.timeout)
    except OSError as e:
        sys.stderr.write("socks_probe: %s:%d: %s\n" % (a.proxy[0],
                                                       a.proxy[1], e))
        return 2
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    deadline = time.monotonic() + a.timeout

    if a.raw_hex is not None:
        sock.sendall(bytes.fromhex(a.raw_hex))
        closed, ms, extra = wait_close(sock, a.timeout)
        out("raw=%s" % extra.hex())
        out("closed=%s ms=%d" % ("yes" if closed else "no", ms))
        return 0

    sock.sendall(bytes([a.version, len(methods)]) + bytes(methods))
    reply = recv_exact(sock, 2, deadline)
    if len(reply) < 2:
        out("method=eof")
        closed, ms, _ = wait_close(sock, a.timeout)
        out("closed=%s ms=%d" % ("yes" if closed else "no", ms))
        return 0
    method = reply[1]
    out("method=%s" % hexbyte(method) + ("" if reply[0] == 5 else
                                         " version=%d" % reply[0]))
    if method == 0xFF:
        closed, ms, _ = wait_close(sock, a.timeout)
        out("closed=%s ms=%d" % ("yes" if closed else "no", ms))
        return 0
    if method == 2:
        if a.user is None:
            out("auth=skipped")
            return 0
        user = a.user.encode()
        password = (a.password or "").encode()
        sock.sendall(b"\x01" + bytes([len(user)]) + user +
                     bytes([len(password)]) + password)
        status = recv_exact(sock, 2, deadline)
        if len(status) < 2:
            out("auth=eof")
            closed, ms, _ = wait_close(sock, a.timeout)
            out("closed=%s ms=%d" % ("yes" if closed else "no", ms))
            return 0
        out("auth=%s" % hexbyte(status[1]))
        if status[1] != 0:
            closed, ms, _ = wait_close(sock, a.timeout)
            out("closed=%s ms=%d" % ("yes" if closed else "no", ms))
            return 0

    request = bytes([5, cmd, 0]) + address_bytes(a.atyp, a.host) + \
        a.port.to_bytes(2, "big")
    sock.sendall(request)
    rep = read_reply(sock, deadline)
    if rep != 0:
        closed, ms, _ = wait_close(sock, a.timeout)
        out("closed=%s ms=%d" % ("yes" if closed else "no", ms))
        return 0

    if a.hold > 0:
        time.sleep(a.hold)
    payload = b""
    if a.send is not None:
        payload = codecs.decode(a.send, "unicode_escape").encode("latin-1")
    elif a.send_hex is not None:
        payload = bytes.fromhex(a.send_hex)
    if payload:
        sock.sendall(payload)
    if payload or a.expect_bytes > 0:
        deadline = time.monotonic() + a.timeout
        if a.expect_bytes > 0:
            data = recv_exact(sock, a.expect_bytes, deadline)
            closed, ms = None, 0
        else:
            closed, ms, data = wait_close(sock, a.timeout)
        out("recv_len=%d" % len(data))
        out("recv=%s" % escape(data))
        if closed is not None:
            out("closed=%s ms=%d" % ("yes" if closed else "no", ms))
            return 0
    if a.wait_close > 0:
        closed, ms, extra = wait_close(sock, a.wait_close)
        if extra:
            out("recv_len=%d" % len(extra))
        out("closed=%s ms=%d" % ("yes" if closed else "no", ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
