/*
 * soap_xml.c: building the MPSAuthentication request and reading its
 * response (the contract is in soap_xml.h).
 *
 * The response parser is expat with namespace processing, so elements are
 * recognised by namespace URI and local name whatever prefixes (or default
 * namespaces) the service uses. It is strict about structure and fails
 * closed: anything but exactly one well-formed AuthenticateResponse with
 * one boolean AuthenticateResult, or a Fault, is SOAP_INVALID. A DOCTYPE
 * is refused outright: a SOAP message may not have one (SOAP 1.1, 3),
 * and refusing it rules out entity-expansion tricks whatever expat's
 * own limits are.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "soap_xml.h"

#define SOAP12_ENV_NS	"http://www.w3.org/2003/05/soap-envelope"

/* Longest user name or password sent, in bytes. */
#define FIELD_MAX	16384

/* Separates a namespace URI from a local name in expat's names. */
#define NS_SEP		'|'

/* ---- the request ---------------------------------------------------- */

static const char request_head[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<soap:Envelope xmlns:soap=\"" SOAP_ENV_NS "\">"
    "<soap:Body>"
    "<mpa:AuthenticateRequest xmlns:mpa=\"" SOAP_MPA_NS "\">"
    "<mpa:AuthenticateId>";
static const char request_middle[] =
    "</mpa:AuthenticateId>"
    "<mpa:AuthenticatePassword>";
static const char request_tail[] =
    "</mpa:AuthenticatePassword>"
    "</mpa:AuthenticateRequest>"
    "</soap:Body>"
    "</soap:Envelope>\n";

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

/*
 * Returns the escaped length of s, or 0 when s cannot be carried in XML
 * (the empty string gives 0 too; callers never pass one).
 */
static size_t
escaped_len(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long c;
	size_t n, len = 0;

	while (*p != '\0') {
		if ((n = utf8_decode(p, &c)) == 0 || !xml_char(c))
			return 0;
		switch (c) {
		case '&':
		case '\r':
			len += 5;	/* &amp; &#13; */
			break;
		case '<':
		case '>':
			len += 4;
			break;
		case '"':
		case '\'':
			len += 6;
			break;
		default:
			len += n;
		}
		p += n;
	}
	return len;
}

/*
 * Appends s escaped. CR goes as a character reference: a literal one
 * would reach the service as LF (XML 1.0, 2.11, end-of-line handling).
 */
static char *
append_escaped(char *out, const char *s)
{
	for (; *s != '\0'; s++) {
		const char *rep;

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
			*out++ = *s;
			continue;
		}
		memcpy(out, rep, strlen(rep));
		out += strlen(rep);
	}
	return out;
}

static char *
append(char *out, const char *s, size_t len)
{
	memcpy(out, s, len);
	return out + len;
}

int
mps_soap_build_request(const char *user, const char *password, char **body,
    size_t *len, char *err, size_t errsize)
{
	size_t ulen, plen, total;
	char *buf, *out;

	*body = NULL;
	*len = 0;
	if (strlen(user) > FIELD_MAX || strlen(password) > FIELD_MAX) {
		(void)snprintf(err, errsize, "user name or password longer "
		    "than %d bytes: not sent to the SOAP service", FIELD_MAX);
		return -1;
	}
	if ((ulen = escaped_len(user)) == 0 ||
	    (plen = escaped_len(password)) == 0) {
		(void)snprintf(err, errsize, "the %s is not UTF-8 text that "
		    "XML can carry: not sent to the SOAP service",
		    escaped_len(user) == 0 ? "user name" : "password");
		return -1;
	}
	total = sizeof(request_head) - 1 + ulen + sizeof(request_middle) - 1 +
	    plen + sizeof(request_tail) - 1;
	if ((buf = malloc(total + 1)) == NULL) {
		(void)snprintf(err, errsize, "out of memory");
		return -1;
	}
	out = append(buf, request_head, sizeof(request_head) - 1);
	out = append_escaped(out, user);
	out = append(out, request_middle, sizeof(request_middle) - 1);
	out = append_escaped(out, password);
	out = append(out, request_tail, sizeof(request_tail) - 1);
	*out = '\0';
	*body = buf;
	*len = total;
	return 0;
}

/* ---- the response ---------------------------------------------------- */

enum field {
	F_NONE,
	F_RESULT,
	F_FAULTCODE,
	F_FAULTSTRING
};

/*
 * How much of a fault's text is collected: much more than is shown, so
 * that secrets are hidden (see hide_secrets) before the text is cut.
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
	struct soap_response *r;
	int failed;		/* r->error says why */
	int doctype;
	int depth;		/* of the element being read; root is 1 */
	int skip;		/* >0: ignoring what is below this depth */
	int in_body, in_response, in_fault;
	int seen_body, seen_body_child, seen_response, seen_result,
	    seen_fault, seen_code, seen_string;
	enum field field;	/* the text being collected, if any */
	struct text result, code, string;
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
	if (strcmp(ns, SOAP_ENV_NS) == 0 && strcmp(local, "Envelope") == 0)
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
	if (strcmp(ns, SOAP_ENV_NS) != 0)
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
	if (strcmp(ns, SOAP_MPA_NS) == 0 &&
	    strcmp(local, "AuthenticateResponse") == 0)
		ps->seen_response = ps->in_response = 1;
	else if (strcmp(ns, SOAP_ENV_NS) == 0 && strcmp(local, "Fault") == 0)
		ps->seen_fault = ps->in_fault = 1;
	else if (strcmp(local, "AuthenticateResponse") == 0)
		fail(ps, "AuthenticateResponse in the wrong namespace");
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
	if (strcmp(local, "AuthenticateResult") != 0 ||
	    (ns[0] != '\0' && strcmp(ns, SOAP_MPA_NS) != 0))
		fail(ps, "unexpected element %.*s in AuthenticateResponse",
		    SHOWN(local));
	else if (ps->seen_result)
		fail(ps, "more than one AuthenticateResult");
	else {
		ps->seen_result = 1;
		/* Room for a boolean with generous blanks around it. */
		start_field(ps, F_RESULT, &ps->result, 64);
	}
}

static void
start_in_fault(struct parse *ps, const char *ns, const char *local)
{
	/* SOAP 1.1 leaves faultcode and faultstring unqualified; some
	 * toolkits put them in the envelope's namespace. */
	int ours = ns[0] == '\0' || strcmp(ns, SOAP_ENV_NS) == 0;

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
	char ns[sizeof(SOAP_MPA_NS) + 1];
	const char *local;

	(void)attrs;
	ps->depth++;
	if (ps->failed || (ps->skip > 0 && ps->depth > ps->skip))
		return;
	if (ps->field == F_RESULT) {
		fail(ps, "AuthenticateResult holds elements");
		return;
	}
	if (ps->field != F_NONE)
		return;		/* markup in a fault text: keep its text */
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
	case F_RESULT:
		t = &ps->result;
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
	if (t->overflow && ps->field == F_RESULT)
		fail(ps, "AuthenticateResult is too long for a boolean");
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

/* Replaces each occurrence of secret in t by "***". */
static void
mask(struct text *t, const char *secret, size_t slen)
{
	size_t at = 0, tail;
	char *hit;

	while (at < t->len && (hit = memmem(t->buf + at, t->len - at, secret,
	    slen)) != NULL) {
		at = (size_t)(hit - t->buf);
		tail = t->len - at - slen;
		/* A secret shorter than the mask lengthens the text. */
		if (at + 3 + tail > t->max) {
			tail = at + 3 > t->max ? 0 : t->max - at - 3;
			t->overflow = 1;
		}
		if (at + 3 > t->max) {
			t->len = at;
			return;
		}
		memmove(hit + 3, hit + slen, tail);
		memcpy(hit, "***", 3);
		t->len = at + 3 + tail;
		at += 3;
	}
}

/* Drops an end of t that is the start of secret (a cut copy of it). */
static int
drop_cut_secret(struct text *t, const char *secret, size_t slen)
{
	size_t k = slen - 1 < t->len ? slen - 1 : t->len;

	for (; k > 0; k--)
		if (memcmp(t->buf + t->len - k, secret, k) == 0) {
			t->len -= k;
			return 1;
		}
	return 0;
}

/*
 * Hides the secrets a service may quote in a fault (it may echo the
 * password it was sent). This runs on the text as received, before it is
 * made printable (which could alter a secret) or cut to its shown length
 * (which could leave part of one); when the collector itself cut the
 * text, an end that starts a secret goes too.
 */
static void
hide_secrets(struct text *t, const char *const *secrets, size_t nsecrets)
{
	size_t i;
	int again = 1;

	for (i = 0; i < nsecrets; i++)
		if (secrets[i] != NULL && secrets[i][0] != '\0')
			mask(t, secrets[i], strlen(secrets[i]));
	while (t->overflow && again) {
		again = 0;
		for (i = 0; i < nsecrets; i++)
			if (secrets[i] != NULL && secrets[i][0] != '\0' &&
			    drop_cut_secret(t, secrets[i], strlen(secrets[i])))
				again = 1;
	}
}

/* xs:boolean (XML Schema 2, 3.2.2), whitespace collapsed. */
static void
decide(struct parse *ps)
{
	struct text *t = &ps->result;
	size_t b = 0, e = t->len, n;
	const char *v;

	while (b < e && is_xml_space((unsigned char)t->buf[b]))
		b++;
	while (e > b && is_xml_space((unsigned char)t->buf[e - 1]))
		e--;
	v = t->buf + b;
	n = e - b;
	if ((n == 4 && memcmp(v, "true", 4) == 0) || (n == 1 && *v == '1'))
		ps->r->outcome = SOAP_GRANTED;
	else if ((n == 5 && memcmp(v, "false", 5) == 0) ||
	    (n == 1 && *v == '0'))
		ps->r->outcome = SOAP_DENIED;
	else
		(void)snprintf(ps->r->error, sizeof(ps->r->error),
		    "AuthenticateResult is not an xs:boolean");
}

static void
conclude(struct parse *ps, const char *const *secrets, size_t nsecrets)
{
	struct soap_response *r = ps->r;

	if (!ps->seen_body)
		(void)snprintf(r->error, sizeof(r->error), "no SOAP Body");
	else if (ps->seen_fault) {
		r->outcome = SOAP_FAULT;
		hide_secrets(&ps->code, secrets, nsecrets);
		hide_secrets(&ps->string, secrets, nsecrets);
		sanitise(r->faultcode, sizeof(r->faultcode), &ps->code);
		sanitise(r->faultstring, sizeof(r->faultstring), &ps->string);
	} else if (!ps->seen_response)
		(void)snprintf(r->error, sizeof(r->error), "the SOAP Body "
		    "holds no AuthenticateResponse");
	else if (!ps->seen_result)
		(void)snprintf(r->error, sizeof(r->error),
		    "AuthenticateResponse holds no AuthenticateResult");
	else
		decide(ps);
}

void
mps_soap_parse_response(const char *data, size_t len,
    const char *const *secrets, size_t nsecrets, struct soap_response *r)
{
	struct parse *ps;

	memset(r, 0, sizeof(*r));
	r->outcome = SOAP_INVALID;
	if (len > SOAP_RESPONSE_MAX) {
		(void)snprintf(r->error, sizeof(r->error), "response larger "
		    "than %d bytes", SOAP_RESPONSE_MAX);
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
