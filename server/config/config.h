/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.h: mpsd's configuration files.
 *
 *   mps.config                 static, XML-style, read at start (guide 6.1)
 *   mps_dynamic.config         TraceLevels, reread on SIGHUP and on change
 *   NotificationList.config    subscriber URLs, one a line, <= 8 valid
 *   AuthorizedServersList.config  host:port, one a line
 *
 * Parsing never stops at the first problem: every error is collected into
 * an mps_config_errors_t as "file:line: what is wrong", and the caller
 * prints them all and refuses to start. Unknown elements are errors, so a
 * typo never passes silently. Warnings (a ninth subscriber URL, say) are
 * collected separately and do not stop start-up.
 *
 * Relative paths in the files are kept as written: mpsd changes its
 * working directory to the directory holding mps.config, so they are
 * relative to that directory (mps_config_resolve() makes them absolute
 * for messages).
 *
 * All strings and arrays live in the pool passed to the loader.
 */
#ifndef MPS_CONFIG_H
#define MPS_CONFIG_H

#include <apr_pools.h>
#include <apr_network_io.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "config_errors.h"

/* Guide 6.1: AMT_Authenticate and Socks_Authenticate. */
typedef struct mps_auth_config_t {
	int need_authentication;	/* NeedAuthentication (default false) */
	const char *dll_name;		/* DllName: path, or a name searched in PluginDir */
	const char *dll_parameters;	/* DllParameters, verbatim ("" default) */
	int line;			/* line of the group, for messages */
} mps_auth_config_t;

typedef enum {
	MPS_TLS_MODE_TLS,		/* mpsd terminates TLS itself (default) */
	MPS_TLS_MODE_PLAIN		/* plain TCP behind stunnel (guide 5.2, 6.3) */
} mps_tls_mode_t;

typedef enum {
	MPS_TLS_PROFILE_MODERN,		/* TLS 1.2+ (default) */
	MPS_TLS_PROFILE_LEGACY		/* TLS 1.0+ with RSA AES-CBC, for AMT <= 11 */
} mps_tls_profile_t;

typedef enum {
	MPS_VERIFY_CLIENT_NONE,		/* username/password only (default) */
	MPS_VERIFY_CLIENT_OPTIONAL,	/* verify a certificate if one is sent */
	MPS_VERIFY_CLIENT_REQUIRE	/* guide's mutual-authentication mode */
} mps_verify_client_t;

typedef enum {
	MPS_KEEPALIVE_SETTLED,		/* after the forwards settle (default) */
	MPS_KEEPALIVE_AFTER_5900,	/* right after the 5900 forward */
	MPS_KEEPALIVE_NEVER
} mps_keepalive_timing_t;

typedef enum {
	MPS_DIRECTORY_BACKEND_LOCAL,	/* in-process, one instance (default) */
	MPS_DIRECTORY_BACKEND_REDIS	/* shared by several instances */
} mps_directory_backend_kind_t;
/* Highest MaxForwardsPerDevice: the registry's per-device port array
 * (MPS_REGISTRY_MAX_PORTS, checked at compile time in apf_session.c). */
#define MPS_CONFIG_MAX_FORWARDS 16

typedef struct mps_config_t {
	const char *path;		/* the mps.config that was read */

	/* <Network> (guide 6.1) */
	const char *amt_listen_ip;	/* AMTListenIP, default "0.0.0.0" */
	apr_port_t amt_listen_port;	/* AMTListenPort, default 4433 */
	const char *socks_listen_ip;	/* SocksListenIP, default "127.0.0.1" */
	apr_port_t socks_listen_port;	/* SocksListenPort, default 1080 */
	const char *http_listen_ip;	/* HttpListenIP (ext.), default SocksListenIP */
	apr_port_t http_listen_port;	/* HttpListenPort, default 8080 */
	const char *mps_address;	/* MpsAddress (ext.): address announced in
					 * notifications; default SocksListenIP */
	/* PROXY protocol on the AMT port (ext., Network group): a TCP
	 * balancer's header naming the device's real address. */
	int amt_proxy_protocol;			/* AMTProxyProtocol, default false */
	const char *amt_proxy_trusted;		/* AMTProxyTrusted: addresses and
						 * prefixes allowed to send one,
						 * default "" */
	apr_array_header_t *amt_proxy_trusted_list; /* of mps_config_prefix_t,
						 * parsed from the above */

	/* <Logger> */
	const char *heading;		/* Heading */
	const char *log_file_path;	/* LogFilePath, default MPS_LOGDIR */
	const char *log_file_name;	/* LogFileName, default "mps.log" */
	apr_off_t log_file_max_size_kb;	/* LogFileMaxSize, default 10240 */
	int log_file_max_files;		/* LogFileMaxFiles, default 10 */
	mps_log_time_format_t log_time_format; /* TimeFormat (ext.): "iso8601"
					 * (default) | "guide" */
	mps_log_target_t log_target;	/* Target (ext.): "file" (default) |
					 * "syslog" (the LogFile* are ignored) */

	/* <AMT_Authenticate>, <Socks_Authenticate> */
	mps_auth_config_t amt_auth;
	mps_auth_config_t socks_auth;

	/* <Notification_Authentication> */
	int need_notification_authentication;
	const char *notification_username;	/* Username */
	const char *notification_password;	/* Password (never logged) */

	/* <Filtering> */
	int filter_unauthorized_servers;	/* FilterUnauthorizedServers, default true */
	const char *authorized_servers_file;	/* AuthorizedServersList,
						 * default "AuthorizedServersList.config" */

	/* <Notification> */
	const char *notification_list_file;	/* MCSubscribersList,
						 * default "NotificationList.config" */
	const char *notifier_plugin;		/* NotifierPlugin (ext.): the notifier
						 * plugin, a path or a name searched in
						 * PluginDir, default "SOAPNotifier" */
	const char *notification_ca_file;	/* NotificationCAFile (ext.): CAs that
						 * verify https subscribers; default
						 * none (the system's) */
	apr_interval_time_t notification_timeout; /* NotificationTimeout s (ext.):
						 * one delivery's bound, default 10 */

	/* <Files> (extensions) */
	const char *dynamic_config_file;	/* DynamicConfigFile, default "mps_dynamic.config" */
	apr_interval_time_t dynamic_config_check_interval; /* DynamicConfigCheckInterval s,
						 * default 1; 0 = reread on SIGHUP only */
	const char *plugin_dir;			/* PluginDir, default MPS_PLUGINDIR */
	const char *pid_file;			/* PidFile, default MPS_RUNSTATEDIR "/mpsd.pid" */
	const char *lock_file;			/* LockFile, default MPS_RUNSTATEDIR "/mpsd.lock" */

	/* <TLS> (extensions) */
	mps_tls_mode_t tls_mode;		/* Mode: "tls" | "plain" */
	mps_tls_profile_t tls_profile;		/* Profile: "modern" | "legacy" */
	const char *tls_cert_chain_file;	/* CertificateChainFile: server cert then chain */
	const char *tls_key_file;		/* KeyFile */
	const char *tls_ca_file;		/* CAFile: trusted roots for device certs */
	mps_verify_client_t tls_verify_client;	/* VerifyClient: none|optional|require */
	apr_interval_time_t tls_handshake_timeout; /* HandshakeTimeout s, default 10 */

	/* <Limits> (extensions) */
	int max_connections;		/* MaxConnections: authenticated device
					 * tunnels, default 1000 */
	int max_consoles;		/* MaxConsoles: consoles past their login
					 * and request, default 1000 */
	int max_preauth;		/* MaxPreAuthConnections: connections not
					 * authenticated yet, default 512 */
	int max_preauth_per_address;	/* MaxPreAuthPerAddress, default 32 */
	int preauth_drop_start;		/* PreAuthDropStart, default
					 * MaxPreAuthConnections / 2 (256) */
	int preauth_drop_rate;		/* PreAuthDropRate %, default 30 */
	int max_handshakes;		/* MaxHandshakes: device TLS handshakes
					 * worked on at once, default 512 */
	apr_interval_time_t preauth_timeout; /* PreAuthTimeout s: accept to
					 * authenticated, default 10 */
	int max_channels_per_device;	/* MaxChannelsPerDevice, default 32 */
	int worker_threads;		/* WorkerThreads, default 0 = number of CPUs */
	int blocking_threads;		/* BlockingThreads, default 32: DNS, outbound, other */
	int device_auth_threads;	/* DeviceAuthThreads, default 16 */
	int console_auth_threads;	/* ConsoleAuthThreads, default 8 */
	int notification_threads;	/* NotificationThreads, default 8 */
	int auth_queue_length;		/* AuthQueueLength, default MaxPreAuthConnections
					 * (512) (per login lane) */
	apr_interval_time_t auth_queue_timeout; /* AuthQueueTimeout s, default 15 */
	int console_login_failures;	/* ConsoleLoginFailures: failed console
					 * logins per address per minute,
					 * default 10 */
	int console_user_login_failures; /* ConsoleLoginFailuresPerUser: the
					 * same per user name, default 30 */
	int max_forwards_per_device;	/* MaxForwardsPerDevice, default 16 */

	/* <Tunnel> (extensions) */
	apr_interval_time_t keepalive_interval;	/* KeepAliveInterval s, default 30 */
	mps_keepalive_timing_t keepalive_timing; /* KeepAliveTiming: settled|after5900|never */
	apr_interval_time_t idle_timeout;	/* IdleTimeout s, default 90 */
	apr_uint32_t channel_window_size;	/* ChannelWindowSize bytes, default 65536 */
	/* ChannelWindowOverrun bytes a channel may hold beyond its window
	 * (device data past the window, clients without flow control);
	 * default 1 MiB; 0 = "strict": any overrun is DISCONNECT 2. */
	apr_uint32_t channel_window_overrun;
	apr_interval_time_t channel_open_timeout; /* ChannelOpenTimeout s, default 15 */
	apr_interval_time_t channel_idle_timeout; /* ChannelIdleTimeout s, default 0 = none */

	/* <Process> (extensions) */
	const char *user;		/* User: drop to after binding, default none */
	const char *group;		/* Group */

	/* <Admin> (extension): the admin API, metrics and status page */
	int admin_enabled;		/* Enabled, default false */
	const char *admin_listen_ip;	/* ListenIP, default "127.0.0.1" */
	apr_port_t admin_listen_port;	/* ListenPort, default 8081 */
	const char *admin_token_file;	/* TokenFile: the bearer token; required
					 * when Enabled (no default) */
	int admin_allow_remote;		/* AllowRemote: a ListenIP other than
					 * loopback, default false */

	/* <Directory> (extension): which instance holds which device */
	mps_directory_backend_kind_t directory_backend;	/* Backend: local|redis */
	const char *directory_redis_address;	/* RedisAddress "host:port",
						 * default "127.0.0.1:6379" */
	const char *directory_redis_host;	/* split from RedisAddress */
	apr_port_t directory_redis_port;
	const char *directory_redis_username;	/* RedisUsername, default none */
	const char *directory_redis_password_file; /* RedisPasswordFile, default
						 * none (no AUTH); never logged */
	apr_interval_time_t directory_redis_timeout; /* RedisTimeout s, default 2 */
	const char *directory_instance_id;	/* InstanceId, default NULL: the
						 * host name at start */
	const char *directory_peer_address;	/* PeerAddress "host:port",
						 * default "" (none yet) */
	apr_interval_time_t directory_ttl;	/* TTL s, default 30 */
	/* The instance-to-instance link (console forwarding, redis only) */
	const char *directory_peer_listen_ip;	/* PeerListenIP, default "*" */
	int directory_peer_listen_port;		/* PeerListenPort, default 0:
						 * no link, no forwarding */
	const char *directory_peer_cert_file;	/* PeerCertFile: this instance's
						 * certificate chain (PEM) */
	const char *directory_peer_key_file;	/* PeerKeyFile, default: the
						 * cert file */
	const char *directory_peer_ca_file;	/* PeerCAFile: the roots peers'
						 * certificates chain to */
	apr_interval_time_t directory_peer_timeout; /* PeerTimeout s, default 5 */
	int directory_max_peer_links;		/* MaxPeerLinks, default 256 */
} mps_config_t;

/* Fills cfg with every documented default. */
void mps_config_defaults(mps_config_t *cfg, apr_pool_t *pool);

/*
 * Reads mps.config at path into a new mps_config_t (defaults first, then
 * the file). Returns APR_SUCCESS, or MPS_ERR_CONFIG with every problem in
 * errs (an unreadable file is one error naming it).
 */
apr_status_t mps_config_load(mps_config_t **cfg, const char *path,
    mps_config_errors_t *errs, apr_pool_t *pool);

/* One parameter that differs (group and element as mps.config writes
 * them, e.g. "TLS", "KeyFile"). */
typedef void (*mps_config_change_fn)(void *arg, const char *group,
    const char *name);

/*
 * Calls fn for every parameter of mps.config whose value differs between
 * a and b (a reload's old and new reading), in the keyword table's
 * order. Returns how many. Values are compared, not spellings: "TRUE"
 * and "true" are the same.
 */
int mps_config_changes(const mps_config_t *a, const mps_config_t *b,
    mps_config_change_fn fn, void *arg);

/*
 * mps_dynamic.config: <MPS_Dynamic><TraceLevels>INFO|ERROR|WARNING
 * </TraceLevels></MPS_Dynamic>. Levels are INFO, ERROR, WARNING and DEBUG
 * joined by '|' (any order, spaces around tokens allowed, case-sensitive
 * as the guide writes them). An empty TraceLevels means nothing is logged.
 * On success *levels is a mask of mps_log_level_t.
 */
apr_status_t mps_dynamic_config_load(unsigned *levels, const char *path,
    mps_config_errors_t *errs, apr_pool_t *pool);

/* Parses "INFO|ERROR|WARNING" into a mask; returns 0, or -1 naming the
 * first bad token in *bad (pool-allocated). */
int mps_trace_levels_parse(const char *text, unsigned *levels,
    const char **bad, apr_pool_t *pool);

/* NotificationList.config */
typedef struct mps_subscriber_t {
	const char *url;	/* as written */
	const char *scheme;	/* "http" | "https" */
	const char *host;
	apr_port_t port;	/* explicit, or 80 / 443 */
	const char *path;	/* "/..." ("/" when empty) */
	int line;
} mps_subscriber_t;

#define MPS_MAX_SUBSCRIBERS 8

/*
 * Reads the subscriber list: one URL a line, blank lines and lines
 * starting with '#' ignored. An invalid URL is an error. Valid entries
 * past the eighth are discarded with one warning each naming the URL and
 * its line. *subs is an array of mps_subscriber_t.
 */
apr_status_t mps_notification_list_load(apr_array_header_t **subs,
    const char *path, mps_config_errors_t *errs, apr_pool_t *pool);

/* AuthorizedServersList.config */
typedef struct mps_authorized_server_t {
	const char *host;	/* IPv4/IPv6 literal or name, lower-cased */
	apr_port_t port;
	int line;
} mps_authorized_server_t;

/*
 * Reads host:port lines ("[v6]:port" for IPv6 literals); blank lines and
 * '#' comments ignored; a bad line is an error with its line number.
 */
apr_status_t mps_authorized_servers_load(apr_array_header_t **servers,
    const char *path, mps_config_errors_t *errs, apr_pool_t *pool);

/* Whether host:port is listed (host compared case-insensitively). */
int mps_authorized_servers_allows(const apr_array_header_t *servers,
    const char *host, apr_port_t port);

/*
 * Splits "host:port" or "[v6]:port" (host: an IP literal or a host name,
 * not a wildcard; port 1..65535). Returns NULL, or what is wrong.
 */
const char *mps_config_split_hostport(const char *text, const char **host,
    apr_port_t *port, apr_pool_t *pool);

/* An address prefix: "10.0.0.0/8", "2001:db8::/32", or one address. */
typedef struct mps_config_prefix_t {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned bits;			/* 0..32 or 0..128 */
} mps_config_prefix_t;

/*
 * Parses a list of prefixes separated by spaces or commas into *list (an
 * array of mps_config_prefix_t, empty for ""). IPv4-mapped IPv6 entries
 * become IPv4. Returns NULL, or what is wrong with the first bad entry.
 */
const char *mps_config_prefix_list_parse(const char *text,
    apr_array_header_t **list, apr_pool_t *pool);

/* Whether the address literal ip is inside one of list's prefixes. */
int mps_config_prefix_list_match(const apr_array_header_t *list,
    const char *ip);

/* Whether an instance id is acceptable: 1..64 of A-Z a-z 0-9 . _ - */
int mps_config_instance_id_ok(const char *id);

/* path if absolute, else base_dir/path (pool-allocated). */
const char *mps_config_resolve(const char *base_dir, const char *path,
    apr_pool_t *pool);

#endif /* MPS_CONFIG_H */
