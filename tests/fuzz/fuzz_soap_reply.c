/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_soap_reply.c: what the SOAP plugins make of a service's answer,
 * fed straight to their parsers (no network): the shared SOAP reader
 * (plugins/common/soap_reader.c, mps_soap_read), and the two readers on
 * top of it, SOAPAuthentication's mps_soap_parse_response (soap_xml.c)
 * and SOAPNotifier's mps_notify_parse_response (notify_xml.c), with
 * their masking of secrets and the printable-text helper (xml_util.c).
 * libcurl has taken the HTTP framing off by then: the body is all these
 * functions see, so it is all the input is.
 *
 * Input: byte 0 picks the reader (bit 0: the notifier's) and a size
 * limit for the direct mps_soap_read call (bits 1-7, x 64 bytes, so that
 * the "too large" path is reached too); byte 1 (low 5 bits) is the length
 * of a secret that follows; the rest is the body.
 *
 * Checks beyond "no crash, no sanitizer report":
 *   - mps_soap_read: refuses a body over its limit; a reply is a Fault or
 *     a response, never both, its texts within their bounds; a refusal
 *     says why;
 *   - the plugins' readers: an outcome in range; a reason exactly when
 *     the outcome is "invalid"; fault texts only with a Fault, and those
 *     NUL-terminated, one printable line (no control bytes, no leading or
 *     doubled blank), and never holding a secret, the input's or the
 *     fixed one ("hunter2"), when the secret is made of characters the
 *     printable-text step keeps as they are (visible ASCII but '*' and
 *     '.', which the mask and the cut mark add); SOAPNotifier's notice
 *     for a withheld text is a constant and exempt.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "notify_xml.h"
#include "soap_reader.h"
#include "soap_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIXED_SECRET "hunter2"

/* What SOAPNotifier shows instead of a text that quotes a secret
 * (notify_xml.c): a constant, which may well contain a short secret
 * ("p", "a") without revealing anything. */
#define WITHHELD "(withheld: it quotes a password)"

/* Whether s is a secret the shown text must never contain (see top). */
static int
checkable(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (p == NULL || *p == '\0')
		return 0;
	for (; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '*' || *p == '.')
			return 0;
	return 1;
}

static void
check_terminated(const char *s, size_t size)
{
	if (memchr(s, '\0', size) == NULL)
		abort();
}

/* A fault text as shown: one printable line, no secret. */
static void
check_shown(const char *s, size_t size, const char *const *secrets,
    size_t nsecrets)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	check_terminated(s, size);
	if (*p == ' ')
		abort();
	for (; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f || (*p == ' ' && p[1] == ' '))
			abort();
	if (strcmp(s, WITHHELD) == 0)
		return;
	for (i = 0; i < nsecrets; i++)
		if (checkable(secrets[i]) && strstr(s, secrets[i]) != NULL)
			abort();
}

static void
check_read(const char *body, size_t len, size_t max, int notify)
{
	const struct mps_soap_expect want = {
		notify ? NOTIFY_NS : SOAP_MPA_NS,
		notify ? "EventNotificationResponse" : "AuthenticateResponse",
		notify ? "KeepConnection" : "AuthenticateResult",
		max
	};
	struct mps_soap_reply *rp;
	char err[128];

	err[0] = '\0';
	rp = mps_soap_read(body, len, &want, err, sizeof(err));
	if (rp == NULL) {
		if (err[0] == '\0')
			abort();	/* a refusal without a reason */
		check_terminated(err, sizeof(err));
		return;
	}
	if (len > max || (rp->fault && rp->has_value) ||
	    rp->value.len > MPS_SOAP_VALUE_MAX ||
	    rp->code.len > MPS_SOAP_TEXT_MAX ||
	    rp->string.len > MPS_SOAP_TEXT_MAX ||
	    (!rp->has_value && rp->value.len != 0))
		abort();
	mps_soap_reply_free(rp);
}

static void
check_auth(const char *body, size_t len, const char *const *secrets,
    size_t nsecrets)
{
	struct soap_response r;

	mps_soap_parse_response(body, len, secrets, nsecrets, &r);
	if ((unsigned)r.outcome > SOAP_INVALID)
		abort();
	check_terminated(r.error, sizeof(r.error));
	if ((r.outcome == SOAP_INVALID) != (r.error[0] != '\0'))
		abort();
	check_shown(r.faultcode, sizeof(r.faultcode), secrets, nsecrets);
	check_shown(r.faultstring, sizeof(r.faultstring), secrets, nsecrets);
	if (r.outcome != SOAP_FAULT &&
	    (r.faultcode[0] != '\0' || r.faultstring[0] != '\0'))
		abort();
}

static void
check_notify(const char *body, size_t len, const char *const *secrets,
    size_t nsecrets)
{
	struct notify_response r;

	mps_notify_parse_response(body, len, secrets, nsecrets, &r);
	if ((unsigned)r.outcome > NOTIFY_INVALID)
		abort();
	check_terminated(r.error, sizeof(r.error));
	if ((r.outcome == NOTIFY_INVALID) != (r.error[0] != '\0'))
		abort();
	check_shown(r.faultcode, sizeof(r.faultcode), secrets, nsecrets);
	check_shown(r.faultstring, sizeof(r.faultstring), secrets, nsecrets);
	if (r.outcome != NOTIFY_FAULT &&
	    (r.faultcode[0] != '\0' || r.faultstring[0] != '\0'))
		abort();
	if (r.outcome != NOTIFY_ANSWERED && r.has_keep)
		abort();
	if (r.has_keep && r.keep != 0 && r.keep != 1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char secret[32];
	const char *secrets[3];
	size_t slen, max;
	const char *body;
	size_t len;
	int notify;

	if (size < 2)
		return 0;
	notify = data[0] & 1;
	max = (size_t)(data[0] >> 1) * 64;
	slen = data[1] & 31;
	if (slen > size - 2)
		slen = size - 2;
	memcpy(secret, data + 2, slen);
	secret[slen] = '\0';	/* cut at a NUL inside: still a secret */
	body = (const char *)data + 2 + slen;
	len = size - 2 - slen;
	secrets[0] = secret;
	secrets[1] = NULL;	/* an unset one (-pass not given) */
	secrets[2] = FIXED_SECRET;

	check_read(body, len, max, notify);
	if (notify)
		check_notify(body, len, secrets, 3);
	else
		check_auth(body, len, secrets, 3);
	return 0;
}
