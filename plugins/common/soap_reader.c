/* SPDX-License-Identifier: Apache-2.0 */
/*
 * soap_reader.c: see soap_reader.h. expat with namespace processing; the
 * handlers follow the depth of the element being read: 1 the Envelope,
 * 2 its Header or Body, 3 the Body's one child, 4 the children of the
 * response or of the Fault.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "soap_reader.h"

#include "plugin_util.h"

#define SOAP12_ENV_NS	"http://www.w3.org/2003/05/soap-envelope"

/* Separates a namespace URI from a local name in expat's names. */
#define NS_SEP		'|'

/* Room for a namespace URI: a longer one is cut, and then matches none
 * of ours (all far shorter). */
#define NS_MAX		256

/* A local name fit for a message: only its first 64 bytes. */
#define SHOWN(local)	64, (local)

enum field {
	F_NONE,
	F_VALUE,
	F_FAULTCODE,
	F_FAULTSTRING
};

struct parse {
	XML_Parser xp;
	const struct mps_soap_expect *want;
	struct mps_soap_reply *rp;
	char *err;
	size_t errsize;
	int failed;		/* err says why */
	int depth;		/* of the element being read; root is 1 */
	int skip;		/* >0: ignoring what is below this depth */
	int in_body, in_response, in_fault;
	int seen_body, seen_body_child, seen_response, seen_code,
	    seen_string;
	enum field field;	/* the text being collected, if any */
};

static void vreport(struct parse *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));
static void report(struct parse *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static void fail(struct parse *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
vreport(struct parse *ps, const char *fmt, va_list ap)
{
	if (ps->failed)
		return;
	ps->failed = 1;
	if (ps->err != NULL && ps->errsize > 0)
		(void)vsnprintf(ps->err, ps->errsize, fmt, ap);
}

/* Notes why the response is refused (the first reason only). */
static void
report(struct parse *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(ps, fmt, ap);
	va_end(ap);
}

/* The same, from a handler: the rest of the document is not read. */
static void
fail(struct parse *ps, const char *fmt, ...)
{
	va_list ap;

	if (ps->failed)
		return;
	va_start(ap, fmt);
	vreport(ps, fmt, ap);
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
		n = nssize - 1;
	memcpy(ns, name, n);
	ns[n] = '\0';
	return sep + 1;
}

static void
start_envelope(struct parse *ps, const char *ns, const char *local)
{
	if (strcmp(ns, MPS_SOAP_ENV_NS) == 0 && strcmp(local, "Envelope") == 0)
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
	if (strcmp(ns, MPS_SOAP_ENV_NS) != 0)
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
	const struct mps_soap_expect *want = ps->want;

	if (ps->seen_body_child) {
		fail(ps, "more than one element in the SOAP Body");
		return;
	}
	ps->seen_body_child = 1;
	if (strcmp(ns, want->ns) == 0 && strcmp(local, want->response) == 0)
		ps->seen_response = ps->in_response = 1;
	else if (strcmp(ns, MPS_SOAP_ENV_NS) == 0 &&
	    strcmp(local, "Fault") == 0)
		ps->rp->fault = ps->in_fault = 1;
	else if (strcmp(local, want->response) == 0)
		fail(ps, "%s in the wrong namespace (want %s)", want->response,
		    want->ns);
	else
		fail(ps, "unexpected element %.*s in the SOAP Body",
		    SHOWN(local));
}

static void
start_field(struct parse *ps, enum field f, struct mps_soap_text *t,
    size_t max)
{
	ps->field = f;
	t->len = 0;
	t->max = max;
	t->overflow = 0;
}

static void
start_in_response(struct parse *ps, const char *ns, const char *local)
{
	const struct mps_soap_expect *want = ps->want;

	/* No namespace: the element form of toolkits that do not honour
	 * elementFormDefault="qualified". */
	if (strcmp(local, want->value) != 0 ||
	    (ns[0] != '\0' && strcmp(ns, want->ns) != 0))
		fail(ps, "unexpected element %.*s in %s", SHOWN(local),
		    want->response);
	else if (ps->rp->has_value)
		fail(ps, "more than one %s", want->value);
	else {
		ps->rp->has_value = 1;
		start_field(ps, F_VALUE, &ps->rp->value, MPS_SOAP_VALUE_MAX);
	}
}

static void
start_in_fault(struct parse *ps, const char *ns, const char *local)
{
	/* SOAP 1.1 leaves faultcode and faultstring unqualified; some
	 * toolkits put them in the envelope's namespace. */
	int ours = ns[0] == '\0' || strcmp(ns, MPS_SOAP_ENV_NS) == 0;

	if (ours && strcmp(local, "faultcode") == 0 && !ps->seen_code) {
		ps->seen_code = 1;
		start_field(ps, F_FAULTCODE, &ps->rp->code, MPS_SOAP_TEXT_MAX);
	} else if (ours && strcmp(local, "faultstring") == 0 &&
	    !ps->seen_string) {
		ps->seen_string = 1;
		start_field(ps, F_FAULTSTRING, &ps->rp->string,
		    MPS_SOAP_TEXT_MAX);
	} else
		ps->skip = ps->depth;	/* faultactor, detail */
}

static void XMLCALL
on_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct parse *ps = arg;
	char ns[NS_MAX];
	const char *local;

	(void)attrs;
	ps->depth++;
	if (ps->failed || (ps->skip > 0 && ps->depth > ps->skip))
		return;
	if (ps->field == F_VALUE) {
		fail(ps, "%s holds elements", ps->want->value);
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
	struct mps_soap_text *t;
	size_t n = (size_t)len, room;

	switch (ps->field) {
	case F_VALUE:
		t = &ps->rp->value;
		break;
	case F_FAULTCODE:
		t = &ps->rp->code;
		break;
	case F_FAULTSTRING:
		t = &ps->rp->string;
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
	if (t->overflow && ps->field == F_VALUE)
		fail(ps, "%s is too long for a boolean", ps->want->value);
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

/* After a parse that went through: is there an answer at all? */
static void
conclude(struct parse *ps)
{
	if (!ps->seen_body)
		report(ps, "no SOAP Body");
	else if (!ps->rp->fault && !ps->seen_response)
		report(ps, "the SOAP Body holds no %s", ps->want->response);
}

struct mps_soap_reply *
mps_soap_read(const char *data, size_t len,
    const struct mps_soap_expect *want, char *err, size_t errsize)
{
	struct parse ps;

	memset(&ps, 0, sizeof(ps));
	ps.want = want;
	ps.err = err;
	ps.errsize = errsize;
	/* (expat takes an int length: no max comes near INT_MAX.) */
	if (len > want->max || len > (size_t)INT_MAX) {
		mps_pu_seterr(err, errsize, "response larger than %zu bytes",
		    want->max);
		return NULL;
	}
	/* On the heap: three text buffers are too much for a worker's
	 * stack of unknown size. */
	if ((ps.rp = calloc(1, sizeof(*ps.rp))) == NULL ||
	    (ps.xp = XML_ParserCreateNS(NULL, NS_SEP)) == NULL) {
		mps_pu_seterr(err, errsize, "out of memory");
		free(ps.rp);
		return NULL;
	}
	XML_SetUserData(ps.xp, &ps);
	XML_SetElementHandler(ps.xp, on_start, on_end);
	XML_SetCharacterDataHandler(ps.xp, on_text);
	XML_SetStartDoctypeDeclHandler(ps.xp, on_doctype);
	if (XML_Parse(ps.xp, data, (int)len, XML_TRUE) != XML_STATUS_OK &&
	    !ps.failed)
		report(&ps, "malformed XML (line %lu): %s",
		    (unsigned long)XML_GetCurrentLineNumber(ps.xp),
		    XML_ErrorString(XML_GetErrorCode(ps.xp)));
	else if (!ps.failed)
		conclude(&ps);
	XML_ParserFree(ps.xp);
	if (ps.failed) {
		mps_soap_reply_free(ps.rp);
		return NULL;
	}
	return ps.rp;
}

void
mps_soap_reply_free(struct mps_soap_reply *rp)
{
	if (rp == NULL)
		return;
	explicit_bzero(rp, sizeof(*rp));
	free(rp);
}
