/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sim_action.c: what a ready device does on command.
 *
 *   --pet HOST:PORT:FILE      GLOBAL_REQUEST udp-send-to@amt.intel.com
 *                             (want_reply 1) carrying FILE's bytes: how
 *                             AMT sends a PET alert (APF.md). Each reply
 *                             (REQUEST_SUCCESS or _FAILURE, one byte)
 *                             answers the oldest request still open.
 *   --direct HOST:PORT:FILE   CHANNEL_OPEN direct-tcpip, then FILE's
 *                             bytes as channel data (sim_relay.c);
 *                             --direct-count N opens each N times,
 *                             16 in flight at most.
 *
 * They start --action-delay ms after the device is ready. PETs are
 * queued only while the device's output is under its high water, so
 * that --pet-count 100000 paces itself against the MPS instead of
 * filling memory; the rest follow as the output drains.
 *
 * Strict as the rest of the simulator: a REQUEST_SUCCESS carrying a port
 * (a tcpip-forward answer) is a protocol error here, and a reply that
 * does not come within --reply-timeout fails the device.
 */
#include "sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mps_status.h"

/* ---- Options ---- */

/* Reads path whole into a (at most max bytes). NULL or why not. */
static const char *
read_file(sim_action *a, const char *path, size_t max)
{
	FILE *f;
	uint8_t *p = NULL, *np;
	size_t cap = 0, len = 0, n;

	if ((f = fopen(path, "rb")) == NULL)
		return "cannot open the file of %s";
	for (;;) {
		if (len == cap) {
			/* One byte beyond max tells "too large" apart. */
			cap = cap == 0 ? 4096 : cap * 2;
			if (cap > max + 1)
				cap = max + 1;
			if ((np = realloc(p, cap)) == NULL) {
				free(p);
				(void)fclose(f);
				return "out of memory reading %s";
			}
			p = np;
		}
		n = fread(p + len, 1, cap - len, f);
		len += n;
		if (len > max) {
			free(p);
			(void)fclose(f);
			return "the file of %s is too large";
		}
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(p);
		(void)fclose(f);
		return "cannot read the file of %s";
	}
	(void)fclose(f);
	if (len == 0) {
		free(p);
		p = NULL;
	}
	a->data = p;
	a->len = len;
	return NULL;
}

/* The port between the host and the file: 1..65535. */
static int
parse_port(const char *s, size_t n, uint32_t *port)
{
	uint32_t v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = v;
	return 0;
}

const char *
sim_action_parse(sim_action *a, const char *arg, size_t max)
{
	const char *host, *hend, *pstart, *pend;

	memset(a, 0, sizeof(*a));
	/* [v6]:port:file, or host:port:file (a host name or IPv4 address
	 * has no colon; the file may have some). */
	if (arg[0] == '[') {
		host = arg + 1;
		if ((hend = strchr(host, ']')) == NULL || hend[1] != ':')
			return "bad [IPv6] address in %s";
		pstart = hend + 2;
	} else {
		host = arg;
		if ((hend = strchr(host, ':')) == NULL)
			return "%s is not HOST:PORT:FILE";
		pstart = hend + 1;
	}
	if (hend == host)
		return "no host in %s";
	if ((size_t)(hend - host) >= sizeof(a->host))
		return "host too long in %s";
	if ((pend = strchr(pstart, ':')) == NULL || pend[1] == '\0')
		return "%s is not HOST:PORT:FILE";
	if (parse_port(pstart, (size_t)(pend - pstart), &a->port) != 0)
		return "bad port in %s";
	memcpy(a->host, host, (size_t)(hend - host));
	a->host[hend - host] = '\0';
	(void)snprintf(a->text, sizeof(a->text), "%s%s%s:%u",
	    arg[0] == '[' ? "[" : "", a->host, arg[0] == '[' ? "]" : "",
	    a->port);
	return read_file(a, pend + 1, max);
}

void
sim_actions_free(void)
{
	unsigned i;

	for (i = 0; i < sim_opt.npets; i++)
		free(sim_opt.pets[i].data);
	for (i = 0; i < sim_opt.ndirects; i++)
		free(sim_opt.directs[i].data);
}

int
sim_actions_wanted(void)
{
	return sim_opt.npets > 0 || sim_opt.ndirects > 0;
}

/* ---- PET alerts ---- */

static uint64_t
pets_total(void)
{
	return (uint64_t)sim_opt.npets * sim_opt.pet_count;
}

/* The reply timer runs while replies are awaited, from the last event. */
static void
await_replies(sim_device *d)
{
	d->deadline = d->pet_pending > 0 && sim_opt.reply_timeout_ms != 0 ?
	    sim_g.now + sim_opt.reply_timeout_ms : 0;
}

/* Bytes a udp-send-to for a takes on the wire, for the pacing check. */
static size_t
pet_wire_len(const sim_action *a, size_t orig_len)
{
	return 1 + 4 + (sizeof(MPS_APF_REQ_UDP_SEND_TO) - 1) + 1 +
	    4 + strlen(a->host) + 4 + 4 + orig_len + 4 + 4 + a->len;
}

static int
queue_pet(sim_device *d, const sim_action *a, const char *orig,
    uint32_t orig_port)
{
	if (sim_device_queued(d, mps_apf_encode_udp_send_to(&d->out, 1,
	    mps_apf_cstr(a->host), a->port, mps_apf_cstr(orig), orig_port,
	    mps_apf_strn(a->data, a->len)), MPS_APF_GLOBAL_REQUEST) != 0)
		return -1;
	d->pet_pending++;
	sim_g.c.pet_sent++;
	sim_dev_say(d, 0, "pet-sent bytes=%zu dest=%s", a->len, a->text);
	return 0;
}

/*
 * Queues the PETs still due while the output has room. Each call queues
 * at least one (a payload larger than the room left must still go; the
 * callers only come with the output under its high water), so the queue
 * stays within the high water plus one request.
 */
static void
pump_pets(sim_device *d)
{
	char orig[64];
	uint32_t orig_port;
	const sim_action *a;
	int queued = 0;

	if (d->state != DS_READY || d->pet_next >= pets_total())
		return;
	(void)sim_device_local_addr(d, orig, sizeof(orig), &orig_port);
	while (d->state == DS_READY && d->pet_next < pets_total()) {
		/* --pet a --pet b --pet-count 2 sends a, b, a, b. */
		a = &sim_opt.pets[d->pet_next % sim_opt.npets];
		if (queued && sim_device_out_room(d) <
		    pet_wire_len(a, strlen(orig)))
			break;
		if (queue_pet(d, a, orig, orig_port) != 0)
			return;
		d->pet_next++;
		queued = 1;
	}
	if (queued)
		await_replies(d);
}

/* ---- direct-tcpip ---- */

/* Direct channels open at once; with --direct-count more than that many
 * are a flood, paced: the next goes when one is refused or done. */
#define DIRECTS_IN_FLIGHT 16

static uint64_t
directs_total(void)
{
	return (uint64_t)sim_opt.ndirects * sim_opt.direct_count;
}

static void
pump_directs(sim_device *d)
{
	unsigned k;

	while (d->state == DS_READY && d->direct_next < directs_total() &&
	    (sim_opt.direct_count == 1 || d->direct_live < DIRECTS_IN_FLIGHT)) {
		/* --direct a --direct b --direct-count 2 opens a, b, a, b. */
		k = (unsigned)(d->direct_next % sim_opt.ndirects);
		d->direct_next++;
		d->direct_live++;
		sim_relay_open_direct(d, &sim_opt.directs[k], k);
	}
}

void
sim_actions_direct_ended(sim_device *d)
{
	if (d->direct_live > 0)
		d->direct_live--;
	if (d->next_action == 0)
		pump_directs(d);
}

static void
run(sim_device *d)
{
	d->next_action = 0;
	if (d->state != DS_READY)
		return;
	pump_pets(d);
	pump_directs(d);
}

void
sim_actions_schedule(sim_device *d)
{
	if (!sim_actions_wanted())
		return;
	if (sim_opt.action_delay_ms == 0) {
		run(d);
		return;
	}
	d->next_action = sim_g.now + sim_opt.action_delay_ms;
}

void
sim_actions_on_timer(sim_device *d)
{
	if (d->next_action != 0 && sim_g.now >= d->next_action)
		run(d);
}

void
sim_actions_resume(sim_device *d)
{
	/* Only once the actions have begun, never before their time. */
	if (d->next_action == 0 && d->pet_next > 0)
		pump_pets(d);
}

int
sim_actions_on_reply(sim_device *d, const mps_apf_msg_t *m)
{
	const sim_action *a;

	if (d->state != DS_READY || d->pet_pending == 0)
		return -1;
	if (m->type == MPS_APF_REQUEST_SUCCESS &&
	    m->u.request_success.has_port) {
		/* Framed as one byte here: a port would have been cut off
		 * and parsed as the next message. Belt and braces. */
		sim_device_protocol_error(d, "udp-send-to-reply-with-port");
		return 0;
	}
	/* Replies come in request order: this one answers PET number
	 * pet_replied, sent to pets[pet_replied % npets]. */
	a = &sim_opt.pets[d->pet_replied % sim_opt.npets];
	d->pet_replied++;
	d->pet_pending--;
	if (m->type == MPS_APF_REQUEST_SUCCESS)
		sim_g.c.pet_ok++;
	else
		sim_g.c.pet_refused++;
	sim_dev_say(d, 0, "pet-reply %s dest=%s",
	    m->type == MPS_APF_REQUEST_SUCCESS ? "ok" : "failed", a->text);
	await_replies(d);
	return 0;
}
