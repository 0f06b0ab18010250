/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mps/plugin.h: the ABI between mpsd and its plugins.
 *
 * A plugin is a shared object that mpsd loads with libltdl. It exports C
 * symbols only; everything it exports is listed here.
 *
 * AUTHENTICATION PLUGINS
 *
 * The product guide (section 7.2) defines the authentication interface as
 *
 *     bool Authenticate(string userName, string userPassword,
 *                       string paramStr, string &errorString);
 *
 * Its C rendering, same order and meaning, is mps_authenticate_fn below.
 * mpsd calls it for devices (AMT_Authenticate in mps.config) and for SOCKS
 * and HTTP-proxy consoles (Socks_Authenticate).
 *
 *   userName, userPassword  what the peer sent, NUL-terminated, UTF-8 as
 *                           received. Never NULL; either may be empty.
 *                           A plugin must refuse an empty password unless
 *                           its backend is meant to allow one.
 *   paramStr                the DllParameters text of mps.config,
 *                           verbatim (may be empty, never NULL).
 *   errorString             a buffer of errorStringSize bytes
 *                           (MPS_PLUGIN_ERROR_SIZE, 1024, today), holding
 *                           "" on entry. A plugin that fails for a reason
 *                           other than "wrong credentials" (file missing,
 *                           backend down, bad parameters) writes a short
 *                           NUL-terminated reason there; mpsd writes it to
 *                           its log. It must never contain the password.
 *   return value            true only when the credentials are accepted.
 *                           Anything else, including any error, is false:
 *                           plugins fail closed.
 *
 * THREADS. mpsd calls Authenticate from its blocking worker lane, never
 * from the thread that polls sockets, so a plugin may block (network,
 * disk) for as long as its own timeouts allow. Calls may run
 * CONCURRENTLY from several threads, for the same plugin and for both
 * plugin roles: a plugin must be thread-safe. Two calls of
 * mps_plugin_init and mps_plugin_fini never overlap; since ABI 1.2 they
 * may run while Authenticate runs (see RELOAD).
 *
 * LIFETIME. mpsd loads each configured plugin once at start-up, checks
 * mps_plugin_abi_version, calls mps_plugin_init if the plugin exports it,
 * and calls mps_plugin_fini (if exported) before unloading it at exit.
 * The same file may be configured for both roles; it is then loaded once
 * per role (libltdl reference-counts it) and init/fini run once per role.
 * When mps_plugin_init fails, the plugin is unloaded without a call to
 * mps_plugin_fini.
 *
 * RELOAD (ABI 1.2). A reload (SIGHUP, mpsctl reload) loads each
 * authentication plugin of ABI 1.2 or newer again, which libltdl
 * resolves to the same library, and calls mps_plugin_init with the new
 * DllParameters while Authenticate calls of the running instance may
 * still be in progress. New calls pass the new paramStr. When the last
 * call that started before the reload has returned, mps_plugin_fini runs
 * once for the old instance, possibly while new calls run. mps_plugin_fini
 * thus runs once per successful mps_plugin_init, and a plugin keeps its
 * state per paramStr or counted per init, never in one global that init
 * overwrites and fini frees. A plugin that declares ABI 1.1 or older is
 * never re-initialised: mpsd keeps its instance and logs that a change of
 * its DllParameters needs a restart.
 *
 * NOTIFIER PLUGINS (ABI 1.1)
 *
 * The guide (section 7.1) has mpsd tell subscribers, the URLs of
 * NotificationList.config, when a device connects or disconnects, and
 * lets a subscriber answer whether the device may stay (KeepConnection).
 * How the event travels is a notifier plugin's business: it exports
 * Notify (mps_notify_fn below), and mpsd calls it once per event and
 * subscriber. mpsd's own SOAPNotifier sends the SOAP message of
 * config/MpsNotification.wsdl.
 *
 *   subscriberUrl     the subscriber, one URL of NotificationList.config
 *                     as written there (http:// or https://). Never NULL.
 *   event             what happened (mps_notification_t). It and its
 *                     strings are valid for the call only; every string
 *                     is NUL-terminated and never NULL, possibly empty.
 *   paramStr          the notifier's parameters, which mpsd builds from
 *                     mps.config (credentials of
 *                     <Notification_Authentication>, CA file, timeout);
 *                     the plugin documents its grammar. Never NULL.
 *   keepConnection    holds true on entry. When the event asked for a
 *                     reply (want_reply) and the call returns true, the
 *                     plugin stores the subscriber's verdict there;
 *                     otherwise it leaves it alone.
 *   errorString       as for Authenticate: "" on entry; when the event
 *                     was not delivered, a short reason, which mpsd logs.
 *                     Never a password.
 *   return value      true only when the subscriber received the event
 *                     and answered as its interface requires (with a
 *                     verdict, when want_reply). false otherwise: mpsd
 *                     retries later, then drops the event with a log
 *                     line naming the subscriber, the device and the
 *                     reason.
 *
 * When want_reply was set, the call returned true and keepConnection
 * came back false, mpsd disconnects the device and logs which
 * subscriber asked for it. A DISCONNECTED event asks for no verdict
 * that mpsd would obey.
 *
 * THREADS. Notify runs on mpsd's blocking worker lane, like
 * Authenticate, and may block, but it MUST bound its own duration (a
 * timeout covering connect, send and answer): mpsd delivers a
 * subscriber's events one at a time, in order, so a call that never
 * returns stalls that subscriber for good (never the others, nor any
 * tunnel). Calls for different subscribers run concurrently, and with
 * Authenticate calls of the same file: a plugin must be thread-safe.
 * Calls for one subscriber never overlap. init and fini are as for
 * authentication plugins (mps_plugin_init receives paramStr); a notifier
 * is not re-initialised by a reload, but a library that is also an
 * authentication plugin may be (RELOAD).
 *
 * ABI VERSION. Every plugin must export mps_plugin_abi_version (use
 * MPS_PLUGIN_DECLARE_ABI). The value is (major << 16) | minor. mpsd
 * refuses a plugin whose major differs from its own, or whose minor is
 * newer than its own. The major changes when an existing prototype or
 * contract changes; the minor when an optional symbol is added (a newer
 * mpsd then still loads older plugins and simply does not call what they
 * lack).
 *
 * History:
 *   1.0  Authenticate, mps_plugin_init, mps_plugin_fini.
 *   1.1  Notify and mps_notification_t (notifier plugins). A plugin
 *        exports Authenticate, Notify, or both.
 *   1.2  Live reload: mps_plugin_init of a new instance, and
 *        mps_plugin_fini of the old one, may run while Authenticate or
 *        Notify calls of the same library run (see RELOAD). No
 *        prototype changed; a 1.1 plugin is simply never re-initialised.
 */
#ifndef MPS_PLUGIN_H
#define MPS_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MPS_PLUGIN_ABI_MAJOR 1
#define MPS_PLUGIN_ABI_MINOR 2
#define MPS_PLUGIN_ABI_VERSION \
	((uint32_t)((MPS_PLUGIN_ABI_MAJOR << 16) | MPS_PLUGIN_ABI_MINOR))

/* Size of the errorString buffer mpsd passes (at least this many bytes). */
#define MPS_PLUGIN_ERROR_SIZE 1024

#if defined(__GNUC__)
#define MPS_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define MPS_PLUGIN_EXPORT
#endif

/* Put this once in a plugin's source to export the ABI version. */
#define MPS_PLUGIN_DECLARE_ABI \
	MPS_PLUGIN_EXPORT const uint32_t mps_plugin_abi_version = \
		MPS_PLUGIN_ABI_VERSION

/* Symbol names, for the loader. */
#define MPS_PLUGIN_SYM_ABI "mps_plugin_abi_version"
#define MPS_PLUGIN_SYM_AUTHENTICATE "Authenticate"
#define MPS_PLUGIN_SYM_NOTIFY "Notify"
#define MPS_PLUGIN_SYM_INIT "mps_plugin_init"
#define MPS_PLUGIN_SYM_FINI "mps_plugin_fini"

/* The authentication entry point (required in an authentication plugin). */
typedef bool (*mps_authenticate_fn)(const char *userName,
    const char *userPassword, const char *paramStr,
    char *errorString, size_t errorStringSize);

/*
 * Optional: called once after loading, with the role's DllParameters.
 * Return 0 to accept; anything else refuses start-up, with errorString
 * in mpsd's log.
 *
 * The SDK's pkg-config flags include -fvisibility=hidden, so a plugin
 * defines the optional entry points with MPS_PLUGIN_EXPORT, e.g.
 *     MPS_PLUGIN_EXPORT int mps_plugin_init(const char *paramStr,
 *         char *errorString, size_t errorStringSize);
 */
typedef int (*mps_plugin_init_fn)(const char *paramStr,
    char *errorString, size_t errorStringSize);

/* Optional: called once before unloading. */
typedef void (*mps_plugin_fini_fn)(void);

MPS_PLUGIN_EXPORT bool Authenticate(const char *userName,
    const char *userPassword, const char *paramStr,
    char *errorString, size_t errorStringSize);

/* The event of a notification (guide 7.1.2, EventNotificationType). */
#define MPS_NOTIFY_CONNECTED	0
#define MPS_NOTIFY_DISCONNECTED	1

/* DevicePort: the guide sends up to two ports. */
#define MPS_NOTIFY_MAX_PORTS	2

/*
 * mpsd fills it; a plugin only reads it. Later minor versions may add
 * fields at the end (a plugin never allocates or copies one by size),
 * never change or remove these.
 */
typedef struct mps_notification_t {
	int state;			/* MPS_NOTIFY_CONNECTED, or
					 * MPS_NOTIFY_DISCONNECTED */
	const char *device_fqdn;	/* the name the device forwarded
					 * under; "" when it gave none */
	uint16_t device_ports[MPS_NOTIFY_MAX_PORTS]; /* its WS-Man ports */
	unsigned int device_port_count;	/* valid entries: 0 to 2 */
	const char *device_uuid;	/* 36 characters, lower case */
	const char *mps_address;	/* where consoles reach mpsd */
	uint16_t mps_http_port;		/* mpsd's HTTP proxy port */
	uint16_t mps_socks_port;	/* mpsd's SOCKS port (redirection) */
	bool want_reply;		/* mpsd will obey KeepConnection */
} mps_notification_t;

/* The notifier entry point (required in a notifier plugin). */
typedef bool (*mps_notify_fn)(const char *subscriberUrl,
    const mps_notification_t *event, const char *paramStr,
    bool *keepConnection, char *errorString, size_t errorStringSize);

MPS_PLUGIN_EXPORT bool Notify(const char *subscriberUrl,
    const mps_notification_t *event, const char *paramStr,
    bool *keepConnection, char *errorString, size_t errorStringSize);

#ifdef __cplusplus
}
#endif

#endif /* MPS_PLUGIN_H */
