/* SPDX-License-Identifier: Apache-2.0 */
/*
 * soap_xml.c: building the MPSAuthentication request and reading its
 * response (the contract is in soap_xml.h).
 *
 * The response is read by the SOAP plugins' shared reader
 * (plugins/common/soap_reader.h), strict about structure: anything but
 * exactly one well-formed AuthenticateResponse with one boolean
 * AuthenticateResult, or a Fault, is SOAP_INVALID.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soap_xml.h"

#include "soap_reader.h"
#include "xml_util.h"

/* Longest user name or password sent, in bytes. */
#define FIELD_MAX	16384

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
 * Whether s can go in the request: text XML can carry, and not empty
 * (Authenticate never asks about an empty one).
 */
static int
sendable(const char *s)
{
	return *s != '\0' && mps_pu_xml_text_ok(s);
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
	if (!sendable(user) || !sendable(password)) {
		(void)snprintf(err, errsize, "the %s is not UTF-8 text that "
		    "XML can carry: not sent to the SOAP service",
		    !sendable(user) ? "user name" : "password");
		return -1;
	}
	ulen = mps_pu_xml_escape(NULL, user);
	plen = mps_pu_xml_escape(NULL, password);
	total = sizeof(request_head) - 1 + ulen + sizeof(request_middle) - 1 +
	    plen + sizeof(request_tail) - 1;
	if ((buf = malloc(total + 1)) == NULL) {
		(void)snprintf(err, errsize, "out of memory");
		return -1;
	}
	out = append(buf, request_head, sizeof(request_head) - 1);
	out += mps_pu_xml_escape(out, user);
	out = append(out, request_middle, sizeof(request_middle) - 1);
	out += mps_pu_xml_escape(out, password);
	out = append(out, request_tail, sizeof(request_tail) - 1);
	*out = '\0';
	*body = buf;
	*len = total;
	return 0;
}

/* ---- the response ---------------------------------------------------- */

/* Replaces each occurrence of secret in t by "***". */
static void
mask(struct mps_soap_text *t, const char *secret, size_t slen)
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
drop_cut_secret(struct mps_soap_text *t, const char *secret, size_t slen)
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
hide_secrets(struct mps_soap_text *t, const char *const *secrets,
    size_t nsecrets)
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

/* A fault's text for the log, secrets hidden first. */
static void
fault_text(char *dst, size_t dstsize, struct mps_soap_text *t,
    const char *const *secrets, size_t nsecrets)
{
	hide_secrets(t, secrets, nsecrets);
	mps_pu_printable(dst, dstsize, t->buf, t->len, t->overflow);
}

void
mps_soap_parse_response(const char *data, size_t len,
    const char *const *secrets, size_t nsecrets, struct soap_response *r)
{
	static const struct mps_soap_expect want = {
		SOAP_MPA_NS, "AuthenticateResponse", "AuthenticateResult",
		SOAP_RESPONSE_MAX
	};
	struct mps_soap_reply *rp;

	memset(r, 0, sizeof(*r));
	r->outcome = SOAP_INVALID;
	if ((rp = mps_soap_read(data, len, &want, r->error,
	    sizeof(r->error))) == NULL)
		return;
	if (rp->fault) {
		r->outcome = SOAP_FAULT;
		fault_text(r->faultcode, sizeof(r->faultcode), &rp->code,
		    secrets, nsecrets);
		fault_text(r->faultstring, sizeof(r->faultstring),
		    &rp->string, secrets, nsecrets);
	} else if (!rp->has_value)
		(void)snprintf(r->error, sizeof(r->error),
		    "AuthenticateResponse holds no AuthenticateResult");
	else
		switch (mps_pu_xs_boolean(rp->value.buf, rp->value.len)) {
		case 1:
			r->outcome = SOAP_GRANTED;
			break;
		case 0:
			r->outcome = SOAP_DENIED;
			break;
		default:
			(void)snprintf(r->error, sizeof(r->error),
			    "AuthenticateResult is not an xs:boolean");
		}
	mps_soap_reply_free(rp);
}
