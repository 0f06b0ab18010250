/*
 * notify_xml.c: building the EventNotificationRequest and reading its
 * response (the contract is in notify_xml.h).
 *
 * The request is built in two passes over the same code, one that counts
 * and one that writes, so that the buffer is allocated once at its exact
 * size and no write can run past it.
 *
 * The response parser is expat with namespace processing, so elements are
 * recognised by namespace URI and local name whatever prefixes (or default
 * namespaces) the subscriber uses. It is strict about structure: anything
 * but one well-formed EventNotificationResponse with at most one boolean
 * KeepConnection, or a Fault, is NOTIFY_INVALID. A DOCTYPE is refused
 * outright: a SOAP message may not have one (SOAP 1.1, 3), and refusing it
 * rules out entity-expansion tricks whatever expat's own limits are.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "notify_xml.h"

#include "plugin_util.h"

#define SOAP12_ENV_NS	"http://www.w3.org/2003/05/soap-envelope"

/* Separates a namespace URI from a local name in expat's names. */
#define NS_SEP		'|'

/* ---- the request ---------------------------------------------------- */

/*
 * Where the request goes: with buf NULL, only len counts (the sizing
 * pass); with buf set, bytes are written at buf + len. buf has room for
 * exactly what the sizing pass counted, and both passes emit the same.
 */
struct out {
	char *buf;
	size_t len;
};

static void
emit(struct out *o, const char *s, size_t n)
{
	if (o->buf != NULL)
		memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void
emit_str(struct out *o, const char *s)
{
	emit(o, s, strlen(s));
}

/*
 * Decodes one UTF-8 sequence at s. Returns its length and the code point
 * in *cp, or 0 when the bytes are not shortest-form UTF-8 of a scalar
 * value (overlong forms, surrogates and values past U+10FFFF are not).
 */
static size_t
utf8_decode(const unsigned char *s, unsigned long *cp)
{
	static const unsigned long min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n, i;
	unsigned long c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		c = s[0] & 0x07;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		/* A NUL here is not a continuation byte: no over-read. */
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* The Char production of XML 1.0 (2.2). */
static int
xml_char(unsigned long c)
{
	if (c < 0x20)
		return c == 0x09 || c == 0x0a || c == 0x0d;
	return c != 0xfffe && c != 0xffff;
}

/* Whether s is UTF-8 text that XML 1.0 can carry. */
static int
xml_text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long c;
	size_t n;

	while (*p != '\0') {
		if ((n = utf8_decode(p, &c)) == 0 || !xml_char(c))
			return 0;
		p += n;
	}
	return 1;
}

/*
 * Emits s escaped for element content. CR goes as a character reference:
 * a literal one would reach the subscriber as LF (XML 1.0, 2.11).
 */
static void
emit_escaped(struct out *o, const char *s)
{
	const char *run = s, *rep;

	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&apos;";
			break;
		case '\r':
			rep = "&#13;";
			break;
		default:
			continue;
		}
		emit(o, run, (size_t)(s - run));
		emit_str(o, rep);
		run = s + 1;
	}
	emit(o, run, (size_t)(s - run));
}

/* <mpn:NAME>text</mpn:NAME>, the text escaped. */
static void
emit_field(struct out *o, const char *name, const char *text)
{
	emit_str(o, "<mpn:");
	emit_str(o, name);
	emit_str(o, ">");
	emit_escaped(o, text);
	emit_str(o, "</mpn:");
	emit_str(o, name);
	emit_str(o, ">");
}

static void
emit_number(struct out *o, const char *name, unsigned long v)
{
	char num[24];

	(void)snprintf(num, sizeof(num), "%lu", v);
	emit_field(o, name, num);
}

/* The whole envelope; the field order is the WSDL's xs:sequence. */
static void
emit_request(struct out *o, const mps_notification_t *ev)
{
	unsigned int i;

	emit_str(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<soap:Envelope xmlns:soap=\"" NOTIFY_SOAP_ENV_NS "\">"
	    "<soap:Body>"
	    "<mpn:EventNotificationRequest xmlns:mpn=\"" NOTIFY_NS "\">"
	    "<mpn:MPSEvent>");
	emit_number(o, "State", (unsigned long)ev->state);
	emit_field(o, "DeviceFqdn", ev->device_fqdn);
	for (i = 0; i < ev->device_port_count; i++)
		emit_number(o, "DevicePort", ev->device_ports[i]);
	emit_field(o, "DeviceUuid", ev->device_uuid);
	emit_field(o, "MpsAddress", ev->mps_address);
	emit_number(o, "MpsHttpPort", ev->mps_http_port);
	emit_number(o, "MpsSocksPort", ev->mps_socks_port);
	emit_field(o, "WantReply", ev->want_reply ? "true" : "false");
	emit_str(o, "</mpn:MPSEvent>"
	    "</mpn:EventNotificationRequest>"
	    "</soap:Body>"
	    "</soap:Envelope>\n");
}

/* Checks one string field; 0, or -1 with a reason naming the field. */
static int
check_field(const char *name, const char *s, char *err, size_t errsize)
{
	if (s == NULL) {
		mps_pu_seterr(err, errsize, "%s is missing (NULL)", name);
		return -1;
	}
	if (strlen(s) > NOTIFY_FIELD_MAX) {
		mps_pu_seterr(err, errsize, "%s is longer than %d bytes", name,
		    NOTIFY_FIELD_MAX);
		return -1;
	}
	if (!xml_text_ok(s)) {
		mps_pu_seterr(err, errsize, "%s is not UTF-8 text that XML can "
		    "carry", name);
		return -1;
	}
	return 0;
}

static int
check_event(const mps_notification_t *ev, char *err, size_t errsize)
{
	if (ev->state != MPS_NOTIFY_CONNECTED &&
	    ev->state != MPS_NOTIFY_DISCONNECTED) {
		mps_pu_seterr(err, errsize, "State %d is neither 0 (CONNECTED) "
		    "nor 1 (DISCONNECTED)", ev->state);
		return -1;
	}
	if (ev->device_port_count > MPS_NOTIFY_MAX_PORTS) {
		mps_pu_seterr(err, errsize, "%u device ports (at most %d are "
		    "sent)", ev->device_port_count, MPS_NOTIFY_MAX_PORTS);
		return -1;
	}
	if (check_field("DeviceFqdn", ev->device_fqdn, err, errsize) != 0 ||
	    check_field("DeviceUuid", ev->device_uuid, err, errsize) != 0 ||
	    check_field("MpsAddress", ev->mps_address, err, errsize) != 0)
		return -1;
	return 0;
}

int
mps_notify_build_request(const mps_notification_t *ev, char **body,
    size_t *len, char *err, size_t errsize)
{
	struct out o = { NULL, 0 };
	size_t total;

	*body = NULL;
	*len = 0;
	if (check_event(ev, err, errsize) != 0)
		return -1;
	emit_request(&o, ev);
	total = o.len;
	if ((o.buf = malloc(total + 1)) == NULL) {
		mps_pu_seterr(err, errsize, "out of memory");
		return -1;
	}
	o.len = 0;
	emit_request(&o, ev);
	o.buf[total] = '\0';
	*body = o.buf;
	*len = total;
	return 0;
}

/* ---- the response ---------------------------------------------------- */

enum field {
	F_NONE,
	F_KEEP,
	F_FAULTCODE,
	F_FAULTSTRING
};

/*
 * How much of a fault's text is collected: more than is shown, so that a
 * secret is found (see conclude_fault) before the text is cut.
 */
#define TEXT_RAW_MAX	4096

/* A bounded text collector. */
struct text {
	char buf[TEXT_RAW_MAX + 1];
	size_t len, max;	/* max < sizeof(buf) */
	int overflow;		/* there was more than max */
};

struct parse {
	XML_Parser xp;
	struct notify_response *r;
	int failed;		/* r->error says why */
	int depth;		/* of the element being read; root is 1 */
	int skip;		/* >0: ignoring what is below this depth */
	int in_body, in_response, in_fault;
	int seen_body, seen_body_child, seen_response, seen_keep,
	    seen_fault, seen_code, seen_string;
	enum field field;	/* the text being collected, if any */
	struct text keep, code, string;
};

static void fail(struct parse *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(struct parse *ps, const char *fmt, ...)
{
	va_list ap;

	if (ps->failed)
		return;
	ps->failed = 1;
	va_start(ap, fmt);
	(void)vsnprintf(ps->r->error, sizeof(ps->r->error), fmt, ap);
	va_end(ap);
	(void)XML_StopParser(ps->xp, XML_FALSE);
}

/* Splits expat's "URI|local" (or "local") into its two parts. */
static const char *
split_name(const char *name, char *ns, size_t nssize)
{
	const char *sep = strrchr(name, NS_SEP);
	size_t n;

	if (sep == NULL) {
		ns[0] = '\0';
		return name;
	}
	n = (size_t)(sep - name);
	if (n >= nssize)
		n = nssize - 1;	/* a longer URI matches none of ours */
	memcpy(ns, name, n);
	ns[n] = '\0';
	return sep + 1;
}

/* A local name fit for a message: only its first 64 bytes. */
#define SHOWN(local)	64, (local)

static void
start_envelope(struct parse *ps, const char *ns, const char *local)
{
	if (strcmp(ns, NOTIFY_SOAP_ENV_NS) == 0 &&
	    strcmp(local, "Envelope") == 0)
		return;
	if (strcmp(ns, SOAP12_ENV_NS) == 0)
		fail(ps, "a SOAP 1.2 envelope (the interface is SOAP 1.1)");
	else
		fail(ps, "the document element %.*s is no SOAP 1.1 Envelope",
		    SHOWN(local));
}

static void
start_in_envelope(struct parse *ps, const char *ns, const char *local)
{
	if (strcmp(ns, NOTIFY_SOAP_ENV_NS) != 0)
		fail(ps, "unexpected element %.*s in the SOAP Envelope",
		    SHOWN(local));
	else if (strcmp(local, "Header") == 0)
		ps->skip = ps->depth;
	else if (strcmp(local, "Body") != 0)
		fail(ps, "unexpected element %.*s in the SOAP Envelope",
		    SHOWN(local));
	else if (ps->seen_body)
		fail(ps, "more than one SOAP Body");
	else
		ps->seen_body = ps->in_body = 1;
}

static void
start_in_body(struct parse *ps, const char *ns, const char *local)
{
	if (ps->seen_body_child) {
		fail(ps, "more than one element in the SOAP Body");
		return;
	}
	ps->seen_body_child = 1;
	if (strcmp(ns, NOTIFY_NS) == 0 &&
	    strcmp(local, "EventNotificationResponse") == 0)
		ps->seen_response = ps->in_response = 1;
	else if (strcmp(ns, NOTIFY_SOAP_ENV_NS) == 0 &&
	    strcmp(local, "Fault") == 0)
		ps->seen_fault = ps->in_fault = 1;
	else if (strcmp(local, "EventNotificationResponse") == 0)
		fail(ps, "EventNotificationResponse in the wrong namespace "
		    "(want " NOTIFY_NS ")");
	else
		fail(ps, "unexpected element %.*s in the SOAP Body",
		    SHOWN(local));
}

static void
start_field(struct parse *ps, enum field f, struct text *t, size_t max)
{
	ps->field = f;
	t->len = 0;
	t->max = max;
	t->overflow = 0;
}

static void
start_in_response(struct parse *ps, const char *ns, const char *local)
{
	/* No namespace: the element form of toolkits that do not honour
	 * elementFormDefault="qualified". */
	if (strcmp(local, "KeepConnection") != 0 ||
	    (ns[0] != '\0' && strcmp(ns, NOTIFY_NS) != 0))
		fail(ps, "unexpected element %.*s in "
		    "EventNotificationResponse", SHOWN(local));
	else if (ps->seen_keep)
		fail(ps, "more than one KeepConnection");
	else {
		ps->seen_keep = 1;
		/* Room for a boolean with generous blanks around it. */
		start_field(ps, F_KEEP, &ps->keep, 64);
	}
}

static void
start_in_fault(struct parse *ps, const char *ns, const char *local)
{
	/* SOAP 1.1 leaves faultcode and faultstring unqualified; some
	 * toolkits put them in the envelope's namespace. */
	int ours = ns[0] == '\0' || strcmp(ns, NOTIFY_SOAP_ENV_NS) == 0;

	if (ours && strcmp(local, "faultcode") == 0 && !ps->seen_code) {
		ps->seen_code = 1;
		start_field(ps, F_FAULTCODE, &ps->code, TEXT_RAW_MAX);
	} else if (ours && strcmp(local, "faultstring") == 0 &&
	    !ps->seen_string) {
		ps->seen_string = 1;
		start_field(ps, F_FAULTSTRING, &ps->string, TEXT_RAW_MAX);
	} else
		ps->skip = ps->depth;	/* faultactor, detail */
}

static void XMLCALL
on_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct parse *ps = arg;
	char ns[sizeof(NOTIFY_SOAP_ENV_NS) + 1];
	const char *local;

	(void)attrs;
	ps->depth++;
	if (ps->failed || (ps->skip > 0 && ps->depth > ps->skip))
		return;
	if (ps->field == F_KEEP) {
		fail(ps, "KeepConnection holds elements");
		return;
	}
	if (ps->field != F_NONE)
		return;		/* markup in a fault text: keep text */
	local = split_name(name, ns, sizeof(ns));
	if (ps->depth == 1)
		start_envelope(ps, ns, local);
	else if (ps->depth == 2)
		start_in_envelope(ps, ns, local);
	else if (ps->depth == 3 && ps->in_body)
		start_in_body(ps, ns, local);
	else if (ps->depth == 4 && ps->in_response)
		start_in_response(ps, ns, local);
	else if (ps->depth == 4 && ps->in_fault)
		start_in_fault(ps, ns, local);
}

static void XMLCALL
on_end(void *arg, const XML_Char *name)
{
	struct parse *ps = arg;
	int depth = ps->depth--;

	(void)name;
	if (ps->skip > 0) {
		if (depth == ps->skip)
			ps->skip = 0;
		return;
	}
	if (depth == 4)
		ps->field = F_NONE;
	else if (depth == 3)
		ps->in_response = ps->in_fault = 0;
	else if (depth == 2)
		ps->in_body = 0;
}

static void XMLCALL
on_text(void *arg, const XML_Char *s, int len)
{
	struct parse *ps = arg;
	struct text *t;
	size_t n = (size_t)len, room;

	switch (ps->field) {
	case F_KEEP:
		t = &ps->keep;
		break;
	case F_FAULTCODE:
		t = &ps->code;
		break;
	case F_FAULTSTRING:
		t = &ps->string;
		break;
	default:
		return;
	}
	if (ps->failed || len <= 0)
		return;
	room = t->max - t->len;
	if (n > room) {
		n = room;
		t->overflow = 1;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	if (t->overflow && ps->field == F_KEEP)
		fail(ps, "KeepConnection is too long for a boolean");
}

static void XMLCALL
on_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	fail(arg, "the response has a DOCTYPE (refused)");
}

static int
is_xml_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Returns n, less the bytes of an incomplete UTF-8 character at the end
 * of s[0..n).
 */
static size_t
utf8_whole(const char *s, size_t n)
{
	size_t k = n, want;
	unsigned char lead;

	while (k > 0 && ((unsigned char)s[k - 1] & 0xc0) == 0x80)
		k--;
	if (k == 0)
		return n;
	lead = (unsigned char)s[k - 1];
	if (lead < 0xc0)
		return n;
	want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	return n - (k - 1) < want ? k - 1 : n;
}

/*
 * Copies collected text into dst (of dstsize bytes) for a log line:
 * control characters become spaces, runs of blanks one space, and the
 * ends are trimmed. Text cut short (overflow, or the room in dst) ends
 * with "..." and is cut on a UTF-8 character boundary.
 */
static void
sanitise(char *dst, size_t dstsize, const struct text *t)
{
	size_t i, n = 0, limit = dstsize - 4;
	int cut = t->overflow, space = 0;

	for (i = 0; i < t->len; i++) {
		unsigned char c = (unsigned char)t->buf[i];

		if (c < 0x20 || c == 0x7f || c == ' ') {
			space = n > 0;
			continue;
		}
		if (n + (size_t)space + 1 > limit) {
			cut = 1;
			break;
		}
		if (space)
			dst[n++] = ' ';
		space = 0;
		dst[n++] = (char)c;
	}
	if (cut) {
		n = utf8_whole(dst, n);
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n] = '\0';
}

/*
 * A subscriber may quote what it was sent, and with HTTP Basic it was
 * sent the password. Such a text is withheld whole: masking it in place
 * could still leave a part of it behind once the text is cut.
 */
static int
holds_secret(const struct text *t, const char *const *secrets,
    size_t nsecrets)
{
	size_t i;

	for (i = 0; i < nsecrets; i++)
		if (secrets[i] != NULL && secrets[i][0] != '\0' &&
		    memmem(t->buf, t->len, secrets[i],
		    strlen(secrets[i])) != NULL)
			return 1;
	return 0;
}

static void
fault_text(char *dst, size_t dstsize, const struct text *t,
    const char *const *secrets, size_t nsecrets)
{
	if (holds_secret(t, secrets, nsecrets))
		(void)snprintf(dst, dstsize, "%s",
		    "(withheld: it quotes a password)");
	else
		sanitise(dst, dstsize, t);
}

/* xs:boolean (XML Schema 2, 3.2.2), whitespace collapsed. */
static void
decide(struct parse *ps)
{
	struct text *t = &ps->keep;
	size_t b = 0, e = t->len, n;
	const char *v;

	while (b < e && is_xml_space((unsigned char)t->buf[b]))
		b++;
	while (e > b && is_xml_space((unsigned char)t->buf[e - 1]))
		e--;
	v = t->buf + b;
	n = e - b;
	if ((n == 4 && memcmp(v, "true", 4) == 0) || (n == 1 && *v == '1'))
		ps->r->keep = 1;
	else if ((n == 5 && memcmp(v, "false", 5) == 0) ||
	    (n == 1 && *v == '0'))
		ps->r->keep = 0;
	else {
		(void)snprintf(ps->r->error, sizeof(ps->r->error),
		    "KeepConnection is not an xs:boolean");
		return;
	}
	ps->r->has_keep = 1;
	ps->r->outcome = NOTIFY_ANSWERED;
}

static void
conclude(struct parse *ps, const char *const *secrets, size_t nsecrets)
{
	struct notify_response *r = ps->r;

	if (!ps->seen_body)
		(void)snprintf(r->error, sizeof(r->error), "no SOAP Body");
	else if (ps->seen_fault) {
		r->outcome = NOTIFY_FAULT;
		fault_text(r->faultcode, sizeof(r->faultcode), &ps->code,
		    secrets, nsecrets);
		fault_text(r->faultstring, sizeof(r->faultstring),
		    &ps->string, secrets, nsecrets);
	} else if (!ps->seen_response)
		(void)snprintf(r->error, sizeof(r->error), "the SOAP Body "
		    "holds no EventNotificationResponse");
	else if (!ps->seen_keep)
		r->outcome = NOTIFY_ANSWERED;	/* without a verdict */
	else
		decide(ps);
}

void
mps_notify_parse_response(const char *data, size_t len,
    const char *const *secrets, size_t nsecrets, struct notify_response *r)
{
	struct parse *ps;

	memset(r, 0, sizeof(*r));
	r->outcome = NOTIFY_INVALID;
	if (len > NOTIFY_RESPONSE_MAX) {
		(void)snprintf(r->error, sizeof(r->error), "response larger "
		    "than %d bytes", NOTIFY_RESPONSE_MAX);
		return;
	}
	/* On the heap: three text buffers are too much for a worker's
	 * stack of unknown size. */
	if ((ps = calloc(1, sizeof(*ps))) == NULL ||
	    (ps->xp = XML_ParserCreateNS(NULL, NS_SEP)) == NULL) {
		(void)snprintf(r->error, sizeof(r->error), "out of memory");
		free(ps);
		return;
	}
	ps->r = r;
	XML_SetUserData(ps->xp, ps);
	XML_SetElementHandler(ps->xp, on_start, on_end);
	XML_SetCharacterDataHandler(ps->xp, on_text);
	XML_SetStartDoctypeDeclHandler(ps->xp, on_doctype);
	if (XML_Parse(ps->xp, data, (int)len, XML_TRUE) != XML_STATUS_OK &&
	    !ps->failed)
		(void)snprintf(r->error, sizeof(r->error), "malformed XML "
		    "(line %lu): %s",
		    (unsigned long)XML_GetCurrentLineNumber(ps->xp),
		    XML_ErrorString(XML_GetErrorCode(ps->xp)));
	else if (!ps->failed)
		conclude(ps, secrets, nsecrets);
	XML_ParserFree(ps->xp);
	explicit_bzero(ps, sizeof(*ps));
	free(ps);
}
