/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify_xml.c: building the EventNotificationRequest and reading its
 * response (the contract is in notify_xml.h).
 *
 * The request is built in two passes over the same code, one that counts
 * and one that writes, so that the buffer is allocated once at its exact
 * size and no write can run past it.
 *
 * The response is read by the SOAP plugins' shared reader
 * (plugins/common/soap_reader.h), strict about structure: anything but
 * one well-formed EventNotificationResponse with at most one boolean
 * KeepConnection, or a Fault, is NOTIFY_INVALID.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify_xml.h"

#include "plugin_util.h"
#include "soap_reader.h"
#include "xml_util.h"

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

/* Emits s escaped for element content (mps_pu_xml_escape). */
static void
emit_escaped(struct out *o, const char *s)
{
	o->len += mps_pu_xml_escape(o->buf != NULL ? o->buf + o->len : NULL,
	    s);
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
	if (!mps_pu_xml_text_ok(s)) {
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

/*
 * A subscriber may quote what it was sent, and with HTTP Basic it was
 * sent the password. Such a text is withheld whole: masking it in place
 * could still leave a part of it behind once the text is cut.
 */
static int
holds_secret(const struct mps_soap_text *t, const char *const *secrets,
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
fault_text(char *dst, size_t dstsize, const struct mps_soap_text *t,
    const char *const *secrets, size_t nsecrets)
{
	if (holds_secret(t, secrets, nsecrets))
		(void)snprintf(dst, dstsize, "%s",
		    "(withheld: it quotes a password)");
	else
		mps_pu_printable(dst, dstsize, t->buf, t->len, t->overflow);
}

/* KeepConnection, as mps_pu_xs_boolean read it. */
static void
decide(struct notify_response *r, int keep)
{
	if (keep < 0) {
		(void)snprintf(r->error, sizeof(r->error),
		    "KeepConnection is not an xs:boolean");
		return;
	}
	r->keep = keep;
	r->has_keep = 1;
	r->outcome = NOTIFY_ANSWERED;
}

void
mps_notify_parse_response(const char *data, size_t len,
    const char *const *secrets, size_t nsecrets, struct notify_response *r)
{
	static const struct mps_soap_expect want = {
		NOTIFY_NS, "EventNotificationResponse", "KeepConnection",
		NOTIFY_RESPONSE_MAX
	};
	struct mps_soap_reply *rp;

	memset(r, 0, sizeof(*r));
	r->outcome = NOTIFY_INVALID;
	if ((rp = mps_soap_read(data, len, &want, r->error,
	    sizeof(r->error))) == NULL)
		return;
	if (rp->fault) {
		r->outcome = NOTIFY_FAULT;
		fault_text(r->faultcode, sizeof(r->faultcode), &rp->code,
		    secrets, nsecrets);
		fault_text(r->faultstring, sizeof(r->faultstring),
		    &rp->string, secrets, nsecrets);
	} else if (!rp->has_value)
		r->outcome = NOTIFY_ANSWERED;	/* without a verdict */
	else
		decide(r, mps_pu_xs_boolean(rp->value.buf, rp->value.len));
	mps_soap_reply_free(rp);
}
