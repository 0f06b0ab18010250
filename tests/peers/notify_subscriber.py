#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""notify_subscriber.py: a strict subscriber of mpsd's connection
notifications, for tests (Python's standard library only).

It reads config/MpsNotification.wsdl and checks every request against it
with a real XML parser (xml.etree): the SOAPAction, the SOAP 1.1 envelope,
the namespace, the element names, their order and counts, and the lexical
form of every value. A request that does not match is answered 400 and
logged as "REJECTED <why>". Each valid one is appended to the log file as
one line, fields in the WSDL's order:

    State=0 Fqdn=amt1.example.com Ports=16993,16992 Uuid=... MpsAddress=...
    MpsHttpPort=8080 MpsSocksPort=1080 WantReply=true

(one line; backslash, CR, LF and tab in values are written \\\\ \\r \\n
\\t), and answered with an EventNotificationResponse whose KeepConnection
is --keep (true by default), or false for a --refuse-uuid device.

Modes, for the tests' needs:
  --basic USER:PASS     want HTTP Basic credentials (401 otherwise)
  --digest USER:PASS    want HTTP Digest credentials, RFC 7616, MD5,
                        qop=auth, with nonce-count replay checks
  --hang                read the request, log it, never answer
  --status N            answer HTTP N with a plain body instead
  --fault               answer HTTP 500 with a SOAP Fault instead
  --fail-first N        answer 503 to the first N valid requests
  --delay S             wait S seconds before answering
  --cert F --key F      serve HTTPS with this certificate chain and key
  --path P              the only path served (others get 404)
  --watch-stdin         exit when standard input closes

It binds 127.0.0.1 on a port the system picks and prints that port on the
first line of standard output. Wrong credentials are logged as
"UNAUTHORIZED <why>" (a request without any is only challenged).
"""

import argparse
import base64
import hashlib
import hmac
import http.server
import os
import re
import secrets
import ssl
import sys
import threading
import time
import xml.etree.ElementTree as ET

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
XS = "http://www.w3.org/2001/XMLSchema"
REALM = "mpsd-test"
MAX_BODY = 1 << 20


class Invalid(Exception):
    """The request does not match the WSDL."""


# ---- the WSDL ---------------------------------------------------------

class Schema:
    """The parts of the WSDL's schema that describe the request.

    Only what the interface uses is understood: global elements with an
    anonymous complexType, named complexTypes, both made of one
    xs:sequence of elements (minOccurs/maxOccurs), and named simpleTypes
    restricting a built-in type by enumeration.
    """

    def __init__(self, path):
        root = ET.parse(path).getroot()
        if root.tag != "{%s}definitions" % WSDL_NS:
            raise SystemExit("%s: not a WSDL 1.1 document" % path)
        schema = root.find("{%s}types/{%s}schema" % (WSDL_NS, XS))
        if schema is None:
            raise SystemExit("%s: no xs:schema" % path)
        self.tns = schema.get("targetNamespace")
        if schema.get("elementFormDefault") != "qualified":
            raise SystemExit("%s: elements must be qualified" % path)
        self.prefixes = self._prefixes(path)
        self.elements = {}
        self.complex = {}
        self.simple = {}
        for child in schema:
            name = child.get("name")
            if child.tag == "{%s}element" % XS:
                self.elements[name] = child
            elif child.tag == "{%s}complexType" % XS:
                self.complex[name] = child
            elif child.tag == "{%s}simpleType" % XS:
                self.simple[name] = child
        op = root.find("{%s}binding/{%s}operation/{%s}operation" %
                       (WSDL_NS, WSDL_NS, WSDL_SOAP))
        if op is None or not op.get("soapAction"):
            raise SystemExit("%s: no soapAction" % path)
        self.action = op.get("soapAction")
        for need in ("EventNotificationRequest", "EventNotificationResponse"):
            if need not in self.elements:
                raise SystemExit("%s: no element %s" % (path, need))

    @staticmethod
    def _prefixes(path):
        """Namespace prefixes as declared in the file (for type names)."""
        found = {}
        for _, (prefix, uri) in ET.iterparse(path, events=("start-ns",)):
            found.setdefault(prefix, uri)
        return found

    def qname(self, text):
        """'xs:string' to ('http://www.w3.org/2001/XMLSchema', 'string')."""
        prefix, _, local = text.rpartition(":")
        uri = self.prefixes.get(prefix)
        if uri is None:
            raise SystemExit("WSDL: unknown prefix in %s" % text)
        return uri, local

    def sequence_of(self, decl):
        """The xs:element particles of a complexType (anonymous or not)."""
        ctype = decl.find("{%s}complexType" % XS)
        if ctype is None:
            ctype = decl
        seq = ctype.find("{%s}sequence" % XS)
        if seq is None:
            raise SystemExit("WSDL: complexType without xs:sequence")
        return list(seq.findall("{%s}element" % XS))


def collapse(text):
    return " ".join((text or "").split())


def check_builtin(local, text, where):
    """The lexical space of the built-in types the interface uses."""
    value = collapse(text)
    if local == "string":
        return text or ""
    if local == "boolean":
        if value not in ("true", "false", "1", "0"):
            raise Invalid("%s: %r is no xs:boolean" % (where, text))
        return "true" if value in ("true", "1") else "false"
    limits = {"unsignedShort": 65535, "unsignedByte": 255}
    if local in limits:
        if not re.fullmatch(r"\+?[0-9]+", value) or \
                int(value) > limits[local]:
            raise Invalid("%s: %r is no xs:%s" % (where, text, local))
        return str(int(value))
    raise SystemExit("WSDL: built-in type xs:%s is not supported here" %
                     local)


class Validator:
    def __init__(self, schema):
        self.s = schema

    def simple_value(self, type_name, elem, where):
        if len(elem):
            raise Invalid("%s holds elements" % where)
        uri, local = self.s.qname(type_name)
        if uri == XS:
            return check_builtin(local, elem.text, where)
        if uri != self.s.tns or local not in self.s.simple:
            raise SystemExit("WSDL: unknown type %s" % type_name)
        restr = self.s.simple[local].find("{%s}restriction" % XS)
        _, base = self.s.qname(restr.get("base"))
        value = check_builtin(base, elem.text, where)
        allowed = [e.get("value")
                   for e in restr.findall("{%s}enumeration" % XS)]
        if allowed and value not in allowed:
            raise Invalid("%s: %r is not one of %s" %
                          (where, value, ", ".join(allowed)))
        return value

    def complex_value(self, decl, elem, where):
        """Checks elem's children against decl's sequence; returns a dict
        of name -> [values]."""
        if collapse(elem.text) or any(collapse(c.tail) for c in elem):
            raise Invalid("%s holds text" % where)
        children = list(elem)
        out = {}
        i = 0
        for particle in self.s.sequence_of(decl):
            name = particle.get("name")
            lo = int(particle.get("minOccurs", "1"))
            hi = particle.get("maxOccurs", "1")
            hi = None if hi == "unbounded" else int(hi)
            tag = "{%s}%s" % (self.s.tns, name)
            values = []
            while i < len(children) and children[i].tag == tag and \
                    (hi is None or len(values) < hi):
                values.append(self.value_of(particle, children[i],
                                            where + "/" + name))
                i += 1
            if len(values) < lo:
                raise Invalid("%s: %s missing or out of order" %
                              (where, name))
            out[name] = values
        if i < len(children):
            raise Invalid("%s: unexpected element %s" %
                          (where, children[i].tag))
        return out

    def value_of(self, particle, elem, where):
        type_name = particle.get("type")
        if type_name is None:
            return self.complex_value(particle, elem, where)
        uri, local = self.s.qname(type_name)
        if uri == self.s.tns and local in self.s.complex:
            return self.complex_value(self.s.complex[local], elem, where)
        return self.simple_value(type_name, elem, where)

    def request(self, body):
        """The MPSEvent fields of a request body, or Invalid."""
        if re.search(rb"<!DOCTYPE", body):
            raise Invalid("a DOCTYPE")
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            raise Invalid("malformed XML: %s" % e)
        if root.tag != "{%s}Envelope" % SOAP_ENV:
            raise Invalid("document element %s is no SOAP 1.1 Envelope" %
                          root.tag)
        parts = list(root)
        if parts and parts[0].tag == "{%s}Header" % SOAP_ENV:
            parts = parts[1:]
        if len(parts) != 1 or parts[0].tag != "{%s}Body" % SOAP_ENV:
            raise Invalid("the Envelope must hold one Body")
        body_children = list(parts[0])
        want = "{%s}EventNotificationRequest" % self.s.tns
        if len(body_children) != 1 or body_children[0].tag != want:
            raise Invalid("the Body must hold one %s, not %s" %
                          (want, [c.tag for c in body_children]))
        req = self.complex_value(self.s.elements["EventNotificationRequest"],
                                 body_children[0], "EventNotificationRequest")
        return req["MPSEvent"][0]


# ---- answers ----------------------------------------------------------

def response_xml(tns, keep):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<s:Envelope xmlns:s="%s"><s:Body>'
            '<n:EventNotificationResponse xmlns:n="%s">'
            '<n:KeepConnection>%s</n:KeepConnection>'
            '</n:EventNotificationResponse></s:Body></s:Envelope>\n' %
            (SOAP_ENV, tns, "true" if keep else "false")).encode()


FAULT = ('<?xml version="1.0" encoding="UTF-8"?>\n'
         '<s:Envelope xmlns:s="%s"><s:Body><s:Fault>'
         '<faultcode>s:Server</faultcode>'
         '<faultstring>test subscriber fault</faultstring>'
         '</s:Fault></s:Body></s:Envelope>\n' % SOAP_ENV).encode()


def escape_value(v):
    return (v.replace("\\", "\\\\").replace("\r", "\\r")
            .replace("\n", "\\n").replace("\t", "\\t"))


def log_line(ev):
    def one(name):
        return escape_value(ev[name][0])
    return ("State=%s Fqdn=%s Ports=%s Uuid=%s MpsAddress=%s "
            "MpsHttpPort=%s MpsSocksPort=%s WantReply=%s" %
            (one("State"), one("DeviceFqdn"), ",".join(ev["DevicePort"]),
             one("DeviceUuid"), one("MpsAddress"), one("MpsHttpPort"),
             one("MpsSocksPort"), one("WantReply")))


# ---- credentials ------------------------------------------------------

def parse_auth_params(text):
    """key=value or key="quoted value" pairs, comma-separated."""
    params = {}
    for m in re.finditer(r'\s*([A-Za-z0-9_-]+)\s*=\s*'
                         r'("((?:[^"\\]|\\.)*)"|[^,\s]*)\s*,?', text):
        key = m.group(1).lower()
        if m.group(3) is not None:
            value = re.sub(r"\\(.)", r"\1", m.group(3))
        else:
            value = m.group(2)
        if key in params:
            return None         # a repeated parameter is refused
        params[key] = value
    return params


def md5(text):
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class Digest:
    """The server side of RFC 7616 Digest with MD5 and qop=auth."""

    MAX_NONCES = 1024

    def __init__(self, user, password):
        self.user = user
        self.password = password
        self.opaque = secrets.token_hex(8)
        self.nonces = {}        # nonce -> highest nc seen
        self.lock = threading.Lock()

    def challenge(self):
        nonce = secrets.token_hex(16)
        with self.lock:
            if len(self.nonces) >= self.MAX_NONCES:
                self.nonces.pop(next(iter(self.nonces)))
            self.nonces[nonce] = 0
        return ('Digest realm="%s", qop="auth", algorithm=MD5, '
                'nonce="%s", opaque="%s"' % (REALM, nonce, self.opaque))

    def check(self, header, method, target):
        """None when header proves the credentials, else why not."""
        if not header.startswith("Digest "):
            return "not Digest credentials"
        p = parse_auth_params(header[7:])
        if p is None:
            return "a repeated Digest parameter"
        for need in ("username", "realm", "nonce", "uri", "response",
                     "qop", "nc", "cnonce"):
            if need not in p:
                return "no %s" % need
        if p.get("algorithm", "MD5").upper() != "MD5":
            return "algorithm %s" % p["algorithm"]
        if p["realm"] != REALM or p.get("opaque") != self.opaque:
            return "wrong realm or opaque"
        if p["qop"] != "auth":
            return "qop %s" % p["qop"]
        if p["uri"] != target:
            return "uri %s is not the request's %s" % (p["uri"], target)
        if not re.fullmatch(r"[0-9a-fA-F]{8}", p["nc"]):
            return "bad nc"
        ha1 = md5("%s:%s:%s" % (self.user, REALM, self.password))
        ha2 = md5("%s:%s" % (method, p["uri"]))
        want = md5("%s:%s:%s:%s:%s:%s" % (ha1, p["nonce"], p["nc"],
                                           p["cnonce"], p["qop"], ha2))
        if p["username"] != self.user or \
                not hmac.compare_digest(want, p["response"].lower()):
            return "wrong user name or password"
        nc = int(p["nc"], 16)
        with self.lock:
            last = self.nonces.get(p["nonce"])
            if last is None:
                return "unknown nonce"
            if nc <= last:
                return "nonce count replayed"
            self.nonces[p["nonce"]] = nc
        return None


class Basic:
    def __init__(self, user, password):
        self.token = base64.b64encode(
            ("%s:%s" % (user, password)).encode("utf-8")).decode()

    @staticmethod
    def challenge():
        return 'Basic realm="%s"' % REALM

    def check(self, header, method, target):
        if not header.startswith("Basic "):
            return "not Basic credentials"
        if not hmac.compare_digest(header[6:].strip(), self.token):
            return "wrong user name or password"
        return None


# ---- the server -------------------------------------------------------

class State:
    def __init__(self, opts, validator):
        self.opts = opts
        self.v = validator
        self.lock = threading.Lock()
        self.valid_count = 0
        self.stop = threading.Event()
        self.auth = None
        if opts.basic:
            self.auth = Basic(*opts.basic.split(":", 1))
        elif opts.digest:
            self.auth = Digest(*opts.digest.split(":", 1))
        self.tls = None
        if opts.cert:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(opts.cert, opts.key)

    def log(self, line):
        with self.lock:
            with open(self.opts.log, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    def count_valid(self):
        with self.lock:
            self.valid_count += 1
            return self.valid_count


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "notify-subscriber/1"

    def setup(self):
        st = self.server.state
        if st.tls is not None:
            # The handshake runs here, on the connection's own thread.
            self.request = st.tls.wrap_socket(self.request,
                                              server_side=True)
        super().setup()

    def log_message(self, fmt, *args):
        sys.stderr.write("%s\n" % (fmt % args))

    def answer(self, status, body, ctype="text/plain", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def reject(self, status, why):
        self.server.state.log("REJECTED %s" % why)
        self.answer(status, (why + "\n").encode())

    def read_body(self):
        if self.headers.get("Transfer-Encoding"):
            return None
        try:
            n = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return None
        if n < 0 or n > MAX_BODY:
            return None
        return self.rfile.read(n)

    def authorised(self):
        st = self.server.state
        if st.auth is None:
            return True
        header = self.headers.get("Authorization")
        if header is not None:
            why = st.auth.check(header, self.command, self.path)
            if why is None:
                return True
            st.log("UNAUTHORIZED %s" % why)
        self.answer(401, b"credentials wanted\n",
                    headers=[("WWW-Authenticate", st.auth.challenge())])
        return False

    def do_GET(self):
        self.answer(405, b"POST only\n", headers=[("Allow", "POST")])

    def do_POST(self):
        st = self.server.state
        body = self.read_body()
        if body is None:
            self.close_connection = True
            self.reject(400, "no usable Content-Length")
            return
        if not self.authorised():
            return
        if st.opts.path is not None and self.path != st.opts.path:
            self.answer(404, b"not here\n")
            return
        ctype = self.headers.get("Content-Type", "")
        if not ctype.split(";")[0].strip().lower() == "text/xml":
            self.reject(400, "Content-Type %s is not text/xml" % ctype)
            return
        action = self.headers.get("SOAPAction")
        if action != '"%s"' % st.v.s.action:
            self.reject(400, "SOAPAction %s" % action)
            return
        try:
            ev = st.v.request(body)
        except Invalid as e:
            self.reject(400, str(e))
            return
        st.log(log_line(ev))
        self.respond(ev)

    def respond(self, ev):
        st = self.server.state
        opts = st.opts
        n = st.count_valid()
        if opts.hang:
            st.stop.wait()
            self.close_connection = True
            return
        if opts.delay:
            time.sleep(opts.delay)
        if n <= opts.fail_first:
            self.answer(503, b"not yet\n")
        elif opts.status:
            self.answer(opts.status, b"told to fail\n")
        elif opts.fault:
            self.answer(500, FAULT, "text/xml; charset=utf-8")
        else:
            keep = opts.keep == "true" and \
                ev["DeviceUuid"][0] not in opts.refuse_uuid
            self.answer(200, response_xml(st.v.s.tns, keep),
                        "text/xml; charset=utf-8")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def handle_error(self, request, client_address):
        # A client that drops the TLS handshake (an untrusted
        # certificate) is expected; one line, no traceback.
        sys.stderr.write("connection from %s: %s\n" %
                         (client_address, sys.exc_info()[1]))


def watch_stdin():
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    os._exit(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wsdl", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--keep", choices=("true", "false"), default="true")
    ap.add_argument("--refuse-uuid", action="append", default=[])
    auth = ap.add_mutually_exclusive_group()
    auth.add_argument("--basic", metavar="USER:PASS")
    auth.add_argument("--digest", metavar="USER:PASS")
    ap.add_argument("--hang", action="store_true")
    ap.add_argument("--status", type=int)
    ap.add_argument("--fault", action="store_true")
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--delay", type=float, default=0)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--path")
    ap.add_argument("--watch-stdin", action="store_true")
    opts = ap.parse_args()
    for cred in (opts.basic, opts.digest):
        if cred is not None and ":" not in cred:
            ap.error("credentials are USER:PASS")
    if (opts.cert is None) != (opts.key is None):
        ap.error("--cert and --key go together")

    state = State(opts, Validator(Schema(opts.wsdl)))
    server = Server(("127.0.0.1", 0), Handler)
    server.state = state
    print(server.server_address[1], flush=True)
    if opts.watch_stdin:
        threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        state.stop.set()


if __name__ == "__main__":
    main()
