/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_static.c: mps.config, read once at start (see config.h).
 *
 * One table describes every parameter: its group, its element name, how
 * its text is checked and converted, and where the result goes. Adding a
 * parameter is one line in keywords[] (plus its field and default). The
 * loader walks the element tree built by config_xml.c, checks each element
 * against the table, and only then runs the checks that involve several
 * parameters. Every problem is reported and the walk goes on, so the admin
 * sees all of them in one run.
 */
#include "config.h"
#include "config_xml.h"
#include "mps_status.h"

#include <apr_strings.h>

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* The build passes these; the fallbacks only keep the file compilable on
 * its own (e.g. by an editor's checker). */
#ifndef MPS_LOGDIR
#define MPS_LOGDIR "/var/log/mpsd"
#endif
#ifndef MPS_PLUGINDIR
#define MPS_PLUGINDIR "/usr/local/lib/mpsd"
#endif
#ifndef MPS_RUNSTATEDIR
#define MPS_RUNSTATEDIR "/var/run"
#endif

#define DEFAULT_HEADING "mpsd: Management Presence Server for Intel(R) AMT"

/* The groups, in the guide's order (section 6.1) then our extensions. */
enum group_id {
	G_NETWORK,
	G_LOGGER,
	G_AMT_AUTH,
	G_SOCKS_AUTH,
	G_NOTIFY_AUTH,
	G_FILTERING,
	G_NOTIFICATION,
	G_FILES,
	G_TLS,
	G_LIMITS,
	G_TUNNEL,
	G_PROCESS,
	G_ADMIN,
	G_DIRECTORY,
	G_COUNT
};

static const char *const group_names[G_COUNT] = {
	"Network",
	"Logger",
	"AMT_Authenticate",
	"Socks_Authenticate",
	"Notification_Authentication",
	"Filtering",
	"Notification",
	"Files",
	"TLS",
	"Limits",
	"Tunnel",
	"Process",
	"Admin",
	"Directory"
};

enum kw_type {
	KW_STRING,	/* any text, "" allowed (Heading, DllParameters) */
	KW_PATH,	/* a file or directory; not empty */
	KW_NAME,	/* a file name without directory; not empty, no '/' */
	KW_ACCOUNT,	/* a user or group name; "" means none (NULL) */
	KW_BOOL,	/* true | false, any case; int field */
	KW_PORT,	/* 1..65535; apr_port_t field */
	KW_INT,		/* [min, max]; int field */
	KW_KB,		/* [min, max] KB; apr_off_t field */
	KW_BYTES,	/* [min, max] bytes; apr_uint32_t field */
	KW_BYTES_STRICT, /* as KW_BYTES, or "strict" (any case) for 0 */
	KW_SECONDS,	/* [min, max] s; apr_interval_time_t field */
	KW_ENUM,	/* one of choices, any case; enum field, value = index */
	KW_LISTEN_IP,	/* IPv4/IPv6 literal, or "*" for every address */
	KW_HOST		/* IP literal (not a wildcard) or host name */
};

struct keyword {
	enum group_id group;
	const char *name;		/* element name, case-sensitive */
	enum kw_type type;
	size_t offset;			/* of the field in mps_config_t */
	long long min, max;		/* numeric types */
	const char *const *choices;	/* KW_ENUM, NULL-terminated */
};

/* Enum fields are written through an int (see store_int); make sure that
 * is their size, at compile time. */
typedef char enum_fields_are_int[(sizeof(mps_tls_mode_t) == sizeof(int) &&
    sizeof(mps_tls_profile_t) == sizeof(int) &&
    sizeof(mps_verify_client_t) == sizeof(int) &&
    sizeof(mps_keepalive_timing_t) == sizeof(int) &&
    sizeof(mps_log_time_format_t) == sizeof(int) &&
    sizeof(mps_log_target_t) == sizeof(int) &&

sizeof(mps_directory_backend_kind_t) == sizeof(int)) ? 1 : -1];

/* Index = enum value, in each enum's declaration order (config.h). */
static const char *const tls_modes[] = { "tls", "plain", NULL };
static const char *const tls_profiles[] = { "modern", "legacy", NULL };
static const char *const verify_modes[] = {
	"none", "optional", "require", NULL
};
static const char *const log_time_formats[] = { "iso8601", "guide", NULL };
static const char *const log_targets[] = { "file", "syslog", NULL };
static const char *const keepalive_timings[] = {
	"settled", "after5900", "never", NULL
};
static const char *const directory_backends[] = { "local", "redis", NULL };

#define F(field) offsetof(mps_config_t, field)
#define DAY (24 * 60 * 60)

static const struct keyword keywords[] = {
	{ G_NETWORK, "AMTListenIP", KW_LISTEN_IP, F(amt_listen_ip), 0, 0, NULL },
	{ G_NETWORK, "AMTListenPort", KW_PORT, F(amt_listen_port), 0, 0, NULL },
	{ G_NETWORK, "SocksListenIP", KW_LISTEN_IP, F(socks_listen_ip), 0, 0, NULL },
	{ G_NETWORK, "SocksListenPort", KW_PORT, F(socks_listen_port), 0, 0, NULL },
	{ G_NETWORK, "HttpListenIP", KW_LISTEN_IP, F(http_listen_ip), 0, 0, NULL },
	{ G_NETWORK, "HttpListenPort", KW_PORT, F(http_listen_port), 0, 0, NULL },
	{ G_NETWORK, "MpsAddress", KW_HOST, F(mps_address), 0, 0, NULL },
	{ G_NETWORK, "AMTProxyProtocol", KW_BOOL, F(amt_proxy_protocol), 0, 0, NULL },
	{ G_NETWORK, "AMTProxyTrusted", KW_STRING, F(amt_proxy_trusted), 0, 0, NULL },

	{ G_LOGGER, "Heading", KW_STRING, F(heading), 0, 0, NULL },
	{ G_LOGGER, "LogFilePath", KW_PATH, F(log_file_path), 0, 0, NULL },
	{ G_LOGGER, "LogFileName", KW_NAME, F(log_file_name), 0, 0, NULL },
	{ G_LOGGER, "LogFileMaxSize", KW_KB, F(log_file_max_size_kb), 1, 16LL * 1024 * 1024, NULL },
	{ G_LOGGER, "LogFileMaxFiles", KW_INT, F(log_file_max_files), 1, 1000, NULL },
	{ G_LOGGER, "TimeFormat", KW_ENUM, F(log_time_format), 0, 0, log_time_formats },
	{ G_LOGGER, "Target", KW_ENUM, F(log_target), 0, 0, log_targets },

	{ G_AMT_AUTH, "NeedAuthentication", KW_BOOL, F(amt_auth.need_authentication), 0, 0, NULL },
	{ G_AMT_AUTH, "DllName", KW_PATH, F(amt_auth.dll_name), 0, 0, NULL },
	{ G_AMT_AUTH, "DllParameters", KW_STRING, F(amt_auth.dll_parameters), 0, 0, NULL },

	{ G_SOCKS_AUTH, "NeedAuthentication", KW_BOOL, F(socks_auth.need_authentication), 0, 0, NULL },
	{ G_SOCKS_AUTH, "DllName", KW_PATH, F(socks_auth.dll_name), 0, 0, NULL },
	{ G_SOCKS_AUTH, "DllParameters", KW_STRING, F(socks_auth.dll_parameters), 0, 0, NULL },

	{ G_NOTIFY_AUTH, "NeedNotificationAuthentication", KW_BOOL, F(need_notification_authentication), 0, 0, NULL },
	{ G_NOTIFY_AUTH, "Username", KW_STRING, F(notification_username), 0, 0, NULL },
	{ G_NOTIFY_AUTH, "Password", KW_STRING, F(notification_password), 0, 0, NULL },

	{ G_FILTERING, "FilterUnauthorizedServers", KW_BOOL, F(filter_unauthorized_servers), 0, 0, NULL },
	{ G_FILTERING, "AuthorizedServersList", KW_PATH, F(authorized_servers_file), 0, 0, NULL },

	{ G_NOTIFICATION, "MCSubscribersList", KW_PATH, F(notification_list_file), 0, 0, NULL },
	{ G_NOTIFICATION, "NotifierPlugin", KW_PATH, F(notifier_plugin), 0, 0, NULL },
	{ G_NOTIFICATION, "NotificationCAFile", KW_PATH, F(notification_ca_file), 0, 0, NULL },
	{ G_NOTIFICATION, "NotificationTimeout", KW_SECONDS, F(notification_timeout), 1, 3600, NULL },

	{ G_FILES, "DynamicConfigFile", KW_PATH, F(dynamic_config_file), 0, 0, NULL },
	{ G_FILES, "DynamicConfigCheckInterval", KW_SECONDS, F(dynamic_config_check_interval), 0, 3600, NULL },
	{ G_FILES, "PluginDir", KW_PATH, F(plugin_dir), 0, 0, NULL },
	{ G_FILES, "PidFile", KW_PATH, F(pid_file), 0, 0, NULL },
	{ G_FILES, "LockFile", KW_PATH, F(lock_file), 0, 0, NULL },

	{ G_TLS, "Mode", KW_ENUM, F(tls_mode), 0, 0, tls_modes },
	{ G_TLS, "Profile", KW_ENUM, F(tls_profile), 0, 0, tls_profiles },
	{ G_TLS, "CertificateChainFile", KW_PATH, F(tls_cert_chain_file), 0, 0, NULL },
	{ G_TLS, "KeyFile", KW_PATH, F(tls_key_file), 0, 0, NULL },
	{ G_TLS, "CAFile", KW_PATH, F(tls_ca_file), 0, 0, NULL },
	{ G_TLS, "VerifyClient", KW_ENUM, F(tls_verify_client), 0, 0, verify_modes },
	{ G_TLS, "HandshakeTimeout", KW_SECONDS, F(tls_handshake_timeout), 1, 3600, NULL },

	{ G_LIMITS, "MaxConnections", KW_INT, F(max_connections), 1, 1000000, NULL },
	{ G_LIMITS, "MaxConsoles", KW_INT, F(max_consoles), 1, 1000000, NULL },
	{ G_LIMITS, "MaxPreAuthConnections", KW_INT, F(max_preauth), 1, 1000000, NULL },
	{ G_LIMITS, "MaxPreAuthPerAddress", KW_INT, F(max_preauth_per_address), 1, 1000000, NULL },
	{ G_LIMITS, "PreAuthDropStart", KW_INT, F(preauth_drop_start), 0, 1000000, NULL },
	{ G_LIMITS, "PreAuthDropRate", KW_INT, F(preauth_drop_rate), 0, 100, NULL },
	{ G_LIMITS, "MaxHandshakes", KW_INT, F(max_handshakes), 1, 1000000, NULL },
	{ G_LIMITS, "PreAuthTimeout", KW_SECONDS, F(preauth_timeout), 1, 3600, NULL },
	{ G_LIMITS, "MaxChannelsPerDevice", KW_INT, F(max_channels_per_device), 1, 1024, NULL },
	{ G_LIMITS, "WorkerThreads", KW_INT, F(worker_threads), 0, 1024, NULL },
	{ G_LIMITS, "BlockingThreads", KW_INT, F(blocking_threads), 1, 1024, NULL },
	{ G_LIMITS, "DeviceAuthThreads", KW_INT, F(device_auth_threads), 1, 1024, NULL },
	{ G_LIMITS, "ConsoleAuthThreads", KW_INT, F(console_auth_threads), 1, 1024, NULL },
	{ G_LIMITS, "NotificationThreads", KW_INT, F(notification_threads), 1, 1024, NULL },
	{ G_LIMITS, "AuthQueueLength", KW_INT, F(auth_queue_length), 1, 1000000, NULL },
	{ G_LIMITS, "AuthQueueTimeout", KW_SECONDS, F(auth_queue_timeout), 1, 3600, NULL },
	{ G_LIMITS, "ConsoleLoginFailures", KW_INT, F(console_login_failures), 1, 1000000, NULL },
	{ G_LIMITS, "ConsoleLoginFailuresPerUser", KW_INT, F(console_user_login_failures), 1, 1000000, NULL },
	{ G_LIMITS, "MaxForwardsPerDevice", KW_INT, F(max_forwards_per_device), 1, MPS_CONFIG_MAX_FORWARDS, NULL },

	{ G_TUNNEL, "KeepAliveInterval", KW_SECONDS, F(keepalive_interval), 1, DAY, NULL },
	{ G_TUNNEL, "KeepAliveTiming", KW_ENUM, F(keepalive_timing), 0, 0, keepalive_timings },
	{ G_TUNNEL, "IdleTimeout", KW_SECONDS, F(idle_timeout), 1, 7 * DAY, NULL },
	{ G_TUNNEL, "ChannelWindowSize", KW_BYTES, F(channel_window_size), 1024, 16 * 1024 * 1024, NULL },
	{ G_TUNNEL, "ChannelWindowOverrun", KW_BYTES_STRICT, F(channel_window_overrun), 0, 16 * 1024 * 1024, NULL },
	{ G_TUNNEL, "ChannelOpenTimeout", KW_SECONDS, F(channel_open_timeout), 1, 3600, NULL },
	{ G_TUNNEL, "ChannelIdleTimeout", KW_SECONDS, F(channel_idle_timeout), 0, 7 * DAY, NULL },

	{ G_PROCESS, "User", KW_ACCOUNT, F(user), 0, 0, NULL },
	{ G_PROCESS, "Group", KW_ACCOUNT, F(group), 0, 0, NULL },

	{ G_ADMIN, "Enabled", KW_BOOL, F(admin_enabled), 0, 0, NULL },
	{ G_ADMIN, "ListenIP", KW_LISTEN_IP, F(admin_listen_ip), 0, 0, NULL },
	{ G_ADMIN, "ListenPort", KW_PORT, F(admin_listen_port), 0, 0, NULL },
	{ G_ADMIN, "TokenFile", KW_PATH, F(admin_token_file), 0, 0, NULL },
	{ G_ADMIN, "AllowRemote", KW_BOOL, F(admin_allow_remote), 0, 0, NULL },

	{ G_DIRECTORY, "Backend", KW_ENUM, F(directory_backend), 0, 0, directory_backends },
	{ G_DIRECTORY, "RedisAddress", KW_STRING, F(directory_redis_address), 0, 0, NULL },
	{ G_DIRECTORY, "RedisUsername", KW_STRING, F(directory_redis_username), 0, 0, NULL },
	{ G_DIRECTORY, "RedisPasswordFile", KW_PATH, F(directory_redis_password_file), 0, 0, NULL },
	{ G_DIRECTORY, "RedisTimeout", KW_SECONDS, F(directory_redis_timeout), 1, 60, NULL },
	{ G_DIRECTORY, "InstanceId", KW_STRING, F(directory_instance_id), 0, 0, NULL },
	{ G_DIRECTORY, "PeerAddress", KW_STRING, F(directory_peer_address), 0, 0, NULL },
	{ G_DIRECTORY, "TTL", KW_SECONDS, F(directory_ttl), 3, 3600, NULL },
	{ G_DIRECTORY, "PeerListenIP", KW_LISTEN_IP, F(directory_peer_listen_ip), 0, 0, NULL },
	{ G_DIRECTORY, "PeerListenPort", KW_INT, F(directory_peer_listen_port), 0, 65535, NULL },
	{ G_DIRECTORY, "PeerCertFile", KW_PATH, F(directory_peer_cert_file), 0, 0, NULL },
	{ G_DIRECTORY, "PeerKeyFile", KW_PATH, F(directory_peer_key_file), 0, 0, NULL },
	{ G_DIRECTORY, "PeerCAFile", KW_PATH, F(directory_peer_ca_file), 0, 0, NULL },
	{ G_DIRECTORY, "PeerTimeout", KW_SECONDS, F(directory_peer_timeout), 1, 60, NULL },
	{ G_DIRECTORY, "MaxPeerLinks", KW_INT, F(directory_max_peer_links), 1, 100000, NULL },
};

#define NKEYWORDS (sizeof(keywords) / sizeof(keywords[0]))

/* What the file said about one keyword. */
struct seen {
	int line;	/* of its (first) element; 0 = not given */
	int bad;	/* given but invalid: its default stays, and checks
			 * that involve it are skipped rather than misled */
};

struct parse {
	mps_config_t *cfg;
	const char *path;		/* as given, for messages */
	mps_config_errors_t *errs;
	apr_pool_t *pool;		/* the result's */
	apr_pool_t *scratch;		/* the tree's and messages' */
	struct seen seen[NKEYWORDS];
	int group_line[G_COUNT];	/* 0 = group absent */
};

void
mps_config_defaults(mps_config_t *cfg, apr_pool_t *pool)
{
	(void)pool;	/* every default is a constant string */
	memset(cfg, 0, sizeof(*cfg));

	cfg->amt_listen_ip = "0.0.0.0";
	cfg->amt_listen_port = 4433;
	cfg->socks_listen_ip = "127.0.0.1";
	cfg->socks_listen_port = 1080;
	cfg->http_listen_ip = cfg->socks_listen_ip;
	cfg->http_listen_port = 8080;
	cfg->mps_address = cfg->socks_listen_ip;
	cfg->amt_proxy_protocol = 0;
	cfg->amt_proxy_trusted = "";
	cfg->amt_proxy_trusted_list = NULL;

	cfg->heading = DEFAULT_HEADING;
	cfg->log_file_path = MPS_LOGDIR;
	cfg->log_file_name = "mps.log";
	cfg->log_file_max_size_kb = 10240;
	cfg->log_file_max_files = 10;
	cfg->log_time_format = MPS_LOG_TIME_ISO8601;
	cfg->log_target = MPS_LOG_TARGET_FILE;

	cfg->amt_auth.need_authentication = 0;
	cfg->amt_auth.dll_name = NULL;
	cfg->amt_auth.dll_parameters = "";
	cfg->socks_auth.need_authentication = 0;
	cfg->socks_auth.dll_name = NULL;
	cfg->socks_auth.dll_parameters = "";

	cfg->need_notification_authentication = 0;
	cfg->notification_username = NULL;
	cfg->notification_password = NULL;

	cfg->filter_unauthorized_servers = 1;
	cfg->authorized_servers_file = "AuthorizedServersList.config";
	cfg->notification_list_file = "NotificationList.config";
	cfg->notifier_plugin = "SOAPNotifier";
	cfg->notification_ca_file = NULL;
	cfg->notification_timeout = apr_time_from_sec(10);

	cfg->dynamic_config_file = "mps_dynamic.config";
	cfg->dynamic_config_check_interval = apr_time_from_sec(1);
	cfg->plugin_dir = MPS_PLUGINDIR;
	cfg->pid_file = MPS_RUNSTATEDIR "/mpsd.pid";
	cfg->lock_file = MPS_RUNSTATEDIR "/mpsd.lock";

	cfg->tls_mode = MPS_TLS_MODE_TLS;
	cfg->tls_profile = MPS_TLS_PROFILE_MODERN;
	cfg->tls_cert_chain_file = NULL;
	cfg->tls_key_file = NULL;
	cfg->tls_ca_file = NULL;
	cfg->tls_verify_client = MPS_VERIFY_CLIENT_NONE;
	cfg->tls_handshake_timeout = apr_time_from_sec(10);

	cfg->max_connections = 1000;
	cfg->max_consoles = 1000;
	cfg->max_preauth = 512;
	cfg->max_handshakes = 512;
	cfg->max_preauth_per_address = 32;
	cfg->preauth_drop_start = 256;
	cfg->preauth_drop_rate = 30;
	cfg->preauth_timeout = apr_time_from_sec(10);
	cfg->max_channels_per_device = 32;
	cfg->console_login_failures = 10;
	cfg->console_user_login_failures = 30;
	cfg->max_forwards_per_device = MPS_CONFIG_MAX_FORWARDS;
	cfg->worker_threads = 0;
	cfg->blocking_threads = 32;
	cfg->device_auth_threads = 16;
	cfg->console_auth_threads = 8;
	cfg->notification_threads = 8;
	cfg->auth_queue_length = 512;	/* follows MaxPreAuthConnections */
	cfg->auth_queue_timeout = apr_time_from_sec(15);

	cfg->keepalive_interval = apr_time_from_sec(30);
	cfg->keepalive_timing = MPS_KEEPALIVE_SETTLED;
	cfg->idle_timeout = apr_time_from_sec(90);
	cfg->channel_window_size = 65536;
	cfg->channel_window_overrun = 1024 * 1024;
	cfg->channel_open_timeout = apr_time_from_sec(15);
	cfg->channel_idle_timeout = 0;

	cfg->user = NULL;
	cfg->group = NULL;

	cfg->admin_enabled = 0;
	cfg->admin_listen_ip = "127.0.0.1";
	cfg->admin_listen_port = 8081;
	cfg->admin_token_file = NULL;
	cfg->admin_allow_remote = 0;

	cfg->directory_backend = MPS_DIRECTORY_BACKEND_LOCAL;
	cfg->directory_redis_address = "127.0.0.1:6379";
	cfg->directory_redis_host = "127.0.0.1";
	cfg->directory_redis_port = 6379;
	cfg->directory_redis_username = NULL;
	cfg->directory_redis_password_file = NULL;
	cfg->directory_redis_timeout = apr_time_from_sec(2);
	cfg->directory_instance_id = NULL;
	cfg->directory_peer_address = "";
	cfg->directory_ttl = apr_time_from_sec(30);
	cfg->directory_peer_listen_ip = "*";
	cfg->directory_peer_listen_port = 0;
	cfg->directory_peer_cert_file = NULL;
	cfg->directory_peer_key_file = NULL;
	cfg->directory_peer_ca_file = NULL;
	cfg->directory_peer_timeout = apr_time_from_sec(5);
	cfg->directory_max_peer_links = 256;
}

/* ---------------------------------------------------------------- */
/* Looking things up                                                 */
/* ---------------------------------------------------------------- */

static int
group_find(const char *name)
{
	int g;

	for (g = 0; g < G_COUNT; g++)
		if (strcmp(group_names[g], name) == 0)
			return g;
	return -1;
}

/* The keyword called name in group g (any group when g < 0), or -1. */
static int
keyword_find(int g, const char *name)
{
	size_t k;

	for (k = 0; k < NKEYWORDS; k++) {
		if (g >= 0 && (int)keywords[k].group != g)
			continue;
		if (strcmp(keywords[k].name, name) == 0)
			return (int)k;
	}
	return -1;
}

/*
 * The index of a keyword the cross-field checks name. A name missing from
 * the table is a bug in this file, not in the configuration, and would
 * silently disable a check; stop loudly instead (the unit tests run every
 * check, so this cannot reach a release).
 */
static int
kw(enum group_id g, const char *name)
{
	int k = keyword_find((int)g, name);

	if (k < 0)
		abort();
	return k;
}

/* Names longer than this get no spelling hint (ours are shorter). */
#define HINT_NAME_MAX 48
/* Typos this close (in edits, ignoring case) to a known name get a hint. */
#define HINT_DISTANCE 2

/* Levenshtein distance between a and b, ignoring case, when it is at
 * most limit; otherwise some value above limit. INT_MAX when either name
 * is too long to bother.
 *
 * Callers only ask "within HINT_DISTANCE?", so the two early exits below
 * change no hint: the distance is at least the difference in length, and
 * never less than the smallest value of any row. They matter because a
 * file of many unknown elements asks this for each of them against every
 * keyword: a fuzzed 4 KiB file spent 94 % of its parse time here. */
static int
edit_distance(const char *a, const char *b, int limit)
{
	int prev[HINT_NAME_MAX + 1], cur[HINT_NAME_MAX + 1];
	size_t la = strlen(a), lb = strlen(b), i, j;
	int best, row_min;

	if (la > HINT_NAME_MAX || lb > HINT_NAME_MAX)
		return INT_MAX;
	if ((la > lb ? la - lb : lb - la) > (size_t)limit)
		return limit + 1;
	for (j = 0; j <= lb; j++)
		prev[j] = (int)j;
	for (i = 1; i <= la; i++) {
		cur[0] = row_min = (int)i;
		for (j = 1; j <= lb; j++) {
			best = prev[j - 1] +
			    (tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]));
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			cur[j] = best;
			if (best < row_min)
				row_min = best;
		}
		if (row_min > limit)
			return limit + 1;
		memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
	}
	return prev[lb];
}

/* The keyword (in group g, or any when g < 0) nearest to name, if within
 * HINT_DISTANCE; else -1. */
static int
keyword_near(int g, const char *name)
{
	int d, best = HINT_DISTANCE + 1, found = -1;
	size_t k;

	for (k = 0; k < NKEYWORDS; k++) {
		if (g >= 0 && (int)keywords[k].group != g)
			continue;
		d = edit_distance(keywords[k].name, name, HINT_DISTANCE);
		if (d < best) {
			best = d;
			found = (int)k;
		}
	}
	return found;
}

static int
group_near(const char *name)
{
	int g, d, best = HINT_DISTANCE + 1, found = -1;

	for (g = 0; g < G_COUNT; g++) {
		d = edit_distance(group_names[g], name, HINT_DISTANCE);
		if (d < best) {
			best = d;
			found = g;
		}
	}
	return found;
}

/*
 * A hint for a misplaced, mis-cased or misspelt element: "" or " (...)".
 * g is the group it was found in, or -1 for the top level. Only a hint:
 * the element is still an error, since guessing could apply a value to
 * the wrong parameter.
 */
static const char *
element_hint(struct parse *p, int g, const char *name)
{
	int k;

	if ((k = keyword_find(-1, name)) >= 0)
		return apr_psprintf(p->scratch, " (<%s> belongs in <%s>)",
		    keywords[k].name, group_names[keywords[k].group]);
	if (strlen(name) < 4)	/* too short for a meaningful guess */
		return "";
	if (g >= 0 && (k = keyword_near(g, name)) >= 0)
		return apr_psprintf(p->scratch, " (did you mean <%s>?)",
		    keywords[k].name);
	if (g < 0 && (k = group_near(name)) >= 0)
		return apr_psprintf(p->scratch, " (did you mean <%s>?)",
		    group_names[k]);
	if ((k = keyword_near(-1, name)) >= 0)
		return apr_psprintf(p->scratch, " (did you mean <%s> in "
		    "<%s>?)", keywords[k].name,
		    group_names[keywords[k].group]);
	return "";
}

/* ---------------------------------------------------------------- */
/* One element                                                       */
/* ---------------------------------------------------------------- */

static void *
field(struct parse *p, const struct keyword *k)
{
	return (char *)p->cfg + k->offset;
}

static void
store_int(struct parse *p, const struct keyword *k, int v)
{
	/* memcpy rather than *(int *): the field may be an enum, whose
	 * size enum_fields_are_int has checked. */
	memcpy(field(p, k), &v, sizeof(v));
}

/* Reports "<Name> <what>" at line and marks the keyword bad. */
static void MPS_PRINTF(4, 5)
reject(struct parse *p, int k, int line, const char *fmt, ...)
{
	va_list ap;
	const char *what;

	va_start(ap, fmt);
	what = apr_pvsprintf(p->scratch, fmt, ap);
	va_end(ap);
	mps_config_error(p->errs, p->path, line, "<%s> %s", keywords[k].name,
	    what);
	p->seen[k].bad = 1;
}

static const char *
choices_text(struct parse *p, const char *const *choices)
{
	const char *s = choices[0];
	int i;

	for (i = 1; choices[i] != NULL; i++)
		s = apr_pstrcat(p->scratch, s, ", ", choices[i], NULL);
	return s;
}

static const char *
unit_text(enum kw_type type)
{
	switch (type) {
	case KW_KB:
		return " KB";
	case KW_BYTES:
		return " bytes";
	case KW_BYTES_STRICT:
		return " bytes, or strict";
	case KW_SECONDS:
		return " seconds";
	default:
		return "";
	}
}

static void
set_number(struct parse *p, int k, int line, const char *value)
{
	const struct keyword *kwd = &keywords[k];
	long long v;
	int rc;

	rc = mps_config_parse_number(value, kwd->min, kwd->max, &v);
	if (rc == MPS_NUM_SYNTAX) {
		reject(p, k, line, "%s is not a whole number%s",
		    mps_config_quote(value, p->scratch),
		    kwd->type == KW_SECONDS ? " of seconds" :
		    kwd->type == KW_BYTES_STRICT ? " of bytes or strict" : "");
		return;
	}
	if (rc == MPS_NUM_RANGE) {
		/* apr_psprintf knows APR_INT64_T_FMT, not "ll". */
		reject(p, k, line, "%s is out of range (%" APR_INT64_T_FMT
		    "-%" APR_INT64_T_FMT "%s)",
		    mps_config_quote(value, p->scratch),
		    (apr_int64_t)kwd->min, (apr_int64_t)kwd->max,
		    unit_text(kwd->type));
		return;
	}
	/* The table's ranges fit every field type; the casts are exact. */
	switch (kwd->type) {
	case KW_INT:
		store_int(p, kwd, (int)v);
		break;
	case KW_KB:
		*(apr_off_t *)field(p, kwd) = (apr_off_t)v;
		break;
	case KW_BYTES:
	case KW_BYTES_STRICT:
		*(apr_uint32_t *)field(p, kwd) = (apr_uint32_t)v;
		break;
	case KW_SECONDS:
		*(apr_interval_time_t *)field(p, kwd) = apr_time_from_sec(v);
		break;
	default:
		abort();	/* only numeric types come here */
	}
}

static void
set_enum(struct parse *p, int k, int line, const char *value)
{
	const char *const *choices = keywords[k].choices;
	int i;

	for (i = 0; choices[i] != NULL; i++) {
		if (strcasecmp(choices[i], value) == 0) {
			store_int(p, &keywords[k], i);
			return;
		}
	}
	reject(p, k, line, "%s is not one of: %s",
	    mps_config_quote(value, p->scratch),
	    choices_text(p, choices));
}

static void
set_listen_ip(struct parse *p, int k, int line, const char *value)
{
	mps_config_ip_t ip;

	if (strcmp(value, "*") != 0 && !mps_config_parse_ip(value, &ip)) {
		reject(p, k, line, "%s is not an IP address (an IPv4 or IPv6 "
		    "literal without brackets, or * for every address)",
		    mps_config_quote(value, p->scratch));
		return;
	}
	*(const char **)field(p, &keywords[k]) = apr_pstrdup(p->pool, value);
}

static void
set_host(struct parse *p, int k, int line, const char *value)
{
	mps_config_ip_t ip;

	if (mps_config_parse_ip(value, &ip)) {
		if (mps_config_ip_is_any(&ip)) {
			reject(p, k, line, "%s is a wildcard address; give "
			    "the address consoles can reach mpsd at",
			    mps_config_quote(value, p->scratch));
			return;
		}
	} else if (!mps_config_is_hostname(value)) {
		reject(p, k, line, "%s is not an IP address or host name",
		    mps_config_quote(value, p->scratch));
		return;
	}
	*(const char **)field(p, &keywords[k]) = apr_pstrdup(p->pool, value);
}

/* Checks value against keyword k and stores it in the configuration. */
static void
set_value(struct parse *p, int k, int line, const char *value)
{
	const struct keyword *kwd = &keywords[k];
	const char **str = field(p, kwd);
	long long port;

	switch (kwd->type) {
	case KW_PATH:
	case KW_NAME:
		if (*value == '\0') {
			reject(p, k, line, "is empty");
			return;
		}
		if (kwd->type == KW_NAME && strchr(value, '/') != NULL) {
			reject(p, k, line, "%s is a path; give a file name "
			    "(the directory is set separately)",
			    mps_config_quote(value, p->scratch));
			return;
		}
		/* FALLTHROUGH */
	case KW_STRING:
		*str = apr_pstrdup(p->pool, value);
		break;
	case KW_ACCOUNT:
		*str = *value == '\0' ? NULL : apr_pstrdup(p->pool, value);
		break;
	case KW_BOOL:
		if (strcasecmp(value, "true") == 0)
			store_int(p, kwd, 1);
		else if (strcasecmp(value, "false") == 0)
			store_int(p, kwd, 0);
		else
			reject(p, k, line, "%s is not a boolean (true or "
			    "false)", mps_config_quote(value, p->scratch));
		break;
	case KW_PORT:
		if (mps_config_parse_number(value, 1, 65535, &port) !=
		    MPS_NUM_OK) {
			reject(p, k, line, "%s is not a port (1-65535)",
			    mps_config_quote(value, p->scratch));
			return;
		}
		*(apr_port_t *)field(p, kwd) = (apr_port_t)port;
		break;
	case KW_BYTES_STRICT:
		if (strcasecmp(value, "strict") == 0) {
			*(apr_uint32_t *)field(p, kwd) = 0;
			break;
		}
		/* FALLTHROUGH */
	case KW_INT:
	case KW_KB:
	case KW_BYTES:
	case KW_SECONDS:
		set_number(p, k, line, value);
		break;
	case KW_ENUM:
		set_enum(p, k, line, value);
		break;
	case KW_LISTEN_IP:
		set_listen_ip(p, k, line, value);
		break;
	case KW_HOST:
		set_host(p, k, line, value);
		break;
	}
}

static void
parse_param(struct parse *p, int g, const mps_xml_node_t *node)
{
	const char *value;
	int k;

	k = keyword_find(g, node->name);
	if (k < 0) {
		mps_config_error(p->errs, p->path, node->line,
		    "unknown element <%s> in <%s>%s", node->name,
		    group_names[g], element_hint(p, g, node->name));
		return;
	}
	if (p->seen[k].line != 0) {
		/* Still check the value below: an admin fixing the
		 * duplicate should not then meet a second error in it. */
		mps_config_error(p->errs, p->path, node->line,
		    "<%s> given twice (first at line %d)", node->name,
		    p->seen[k].line);
		p->seen[k].bad = 1;
	} else {
		p->seen[k].line = node->line;
	}
	value = mps_xml_leaf_value(node, p->path, p->errs, p->scratch);
	if (value == NULL) {
		p->seen[k].bad = 1;
		return;
	}
	set_value(p, k, node->line, value);
}

static void
parse_group(struct parse *p, const mps_xml_node_t *node)
{
	const mps_xml_node_t *child;
	int g;

	g = group_find(node->name);
	if (g < 0) {
		mps_config_error(p->errs, p->path, node->line,
		    "unknown group <%s> in <MPS>%s", node->name,
		    element_hint(p, -1, node->name));
		return;
	}
	if (p->group_line[g] != 0)
		mps_config_error(p->errs, p->path, node->line,
		    "<%s> given twice (first at line %d)", node->name,
		    p->group_line[g]);
	else
		p->group_line[g] = node->line;
	if (g == G_AMT_AUTH && p->cfg->amt_auth.line == 0)
		p->cfg->amt_auth.line = node->line;
	if (g == G_SOCKS_AUTH && p->cfg->socks_auth.line == 0)
		p->cfg->socks_auth.line = node->line;

	mps_xml_check_no_attrs(node, p->path, p->errs);
	mps_xml_check_no_text(node, p->path, p->errs, p->scratch);
	for (child = node->children; child != NULL; child = child->next)
		parse_param(p, g, child);
}

/* Returns 0 if the root is not <MPS> (nothing else is worth checking). */
static int
parse_root(struct parse *p, const mps_xml_node_t *root)
{
	const mps_xml_node_t *child;

	if (strcmp(root->name, "MPS") != 0) {
		mps_config_error(p->errs, p->path, root->line,
		    "the root element is <%s>; expected <MPS>", root->name);
		return 0;
	}
	mps_xml_check_no_attrs(root, p->path, p->errs);
	mps_xml_check_no_text(root, p->path, p->errs, p->scratch);
	for (child = root->children; child != NULL; child = child->next)
		parse_group(p, child);
	return 1;
}

/* ---------------------------------------------------------------- */
/* Checks across parameters                                          */
/* ---------------------------------------------------------------- */

static int
given(const struct parse *p, int k)
{
	return p->seen[k].line != 0;
}

static int
bad(const struct parse *p, int k)
{
	return p->seen[k].bad;
}

/* The line to blame for a problem among keywords ks[0..n): the latest of
 * their elements (the one the admin most likely just added), else their
 * group's line, else 0 ("the file as a whole"). */
static int
blame_line(const struct parse *p, const int *ks, int n)
{
	int i, line = 0;

	for (i = 0; i < n; i++)
		if (p->seen[ks[i]].line > line)
			line = p->seen[ks[i]].line;
	if (line == 0 && n > 0)
		line = p->group_line[keywords[ks[0]].group];
	return line;
}

/*
 * Whether two listen addresses can collide on one port. "*" and "::" take
 * every address (Linux binds "::" dual-stack by default), "0.0.0.0" every
 * IPv4 address; otherwise only the same address collides.
 */
static int
addresses_overlap(const char *a, const char *b)
{
	mps_config_ip_t ia, ib;

	if (strcmp(a, "*") == 0 || strcmp(b, "*") == 0)
		return 1;
	if (!mps_config_parse_ip(a, &ia) || !mps_config_parse_ip(b, &ib))
		return 0;	/* already reported */
	if ((ia.family == AF_INET6 && mps_config_ip_is_any(&ia)) ||
	    (ib.family == AF_INET6 && mps_config_ip_is_any(&ib)))
		return 1;
	if (ia.family != ib.family)
		return 0;
	if (mps_config_ip_is_any(&ia) || mps_config_ip_is_any(&ib))
		return 1;
	return mps_config_ip_equal(&ia, &ib);
}

struct listener {
	const char *ip_name, *port_name;
	const char *ip;
	apr_port_t port;
};

static void
check_listener_pair(struct parse *p, const struct listener *a,
    const struct listener *b)
{
	int ks[4];

	ks[0] = kw(G_NETWORK, a->port_name);
	ks[1] = kw(G_NETWORK, b->port_name);
	ks[2] = kw(G_NETWORK, a->ip_name);
	ks[3] = kw(G_NETWORK, b->ip_name);
	if (bad(p, ks[0]) || bad(p, ks[1]) || bad(p, ks[2]) || bad(p, ks[3]))
		return;
	if (a->port != b->port || !addresses_overlap(a->ip, b->ip))
		return;
	mps_config_error(p->errs, p->path, blame_line(p, ks, 4),
	    "<%s> and <%s> are both %u on overlapping addresses (%s and %s)",
	    a->port_name, b->port_name, (unsigned)a->port, a->ip, b->ip);
}

/*
 * AMTProxyTrusted is parsed here (the list the AMT side matches accepts
 * against). AMTProxyProtocol without anyone trusted would refuse every
 * header: an error, not a silent lock-out. A list without the protocol
 * on does nothing: a warning.
 */
static void
check_proxy(struct parse *p)
{
	mps_config_t *cfg = p->cfg;
	int on = kw(G_NETWORK, "AMTProxyProtocol");
	int trusted = kw(G_NETWORK, "AMTProxyTrusted");
	const char *why;

	why = mps_config_prefix_list_parse(bad(p, trusted) ? "" :
	    cfg->amt_proxy_trusted, &cfg->amt_proxy_trusted_list, p->pool);
	if (why != NULL) {
		reject(p, trusted, p->seen[trusted].line, "%s", why);
		cfg->amt_proxy_trusted_list = apr_array_make(p->pool, 1,
		    sizeof(mps_config_prefix_t));
		return;
	}
	if (cfg->amt_proxy_protocol && !bad(p, on) &&
	    cfg->amt_proxy_trusted_list->nelts == 0)
		mps_config_error(p->errs, p->path, blame_line(p, &on, 1),
		    "<AMTProxyProtocol> is true but <AMTProxyTrusted> lists no "
		    "address allowed to send the PROXY header");
	else if (!cfg->amt_proxy_protocol && !bad(p, on) &&
	    cfg->amt_proxy_trusted_list->nelts > 0)
		mps_config_warning(p->errs, p->path, p->seen[trusted].line,
		    "<AMTProxyTrusted> is set but <AMTProxyProtocol> is false; "
		    "the list is not used");
}

static void
check_network(struct parse *p)
{
	mps_config_t *cfg = p->cfg;
	int socks_ip = kw(G_NETWORK, "SocksListenIP");
	int address = kw(G_NETWORK, "MpsAddress");
	mps_config_ip_t ip;
	struct listener amt = { "AMTListenIP", "AMTListenPort",
	    cfg->amt_listen_ip, cfg->amt_listen_port };
	struct listener socks = { "SocksListenIP", "SocksListenPort",
	    cfg->socks_listen_ip, cfg->socks_listen_port };
	struct listener http = { "HttpListenIP", "HttpListenPort",
	    cfg->http_listen_ip, cfg->http_listen_port };

	check_listener_pair(p, &amt, &socks);
	check_listener_pair(p, &amt, &http);
	check_listener_pair(p, &socks, &http);
	check_proxy(p);

	/* The default MpsAddress is SocksListenIP; a wildcard there would
	 * be announced to consoles as an address they cannot use. Only a
	 * warning: without subscribers nothing is announced. */
	if (!given(p, address) && !bad(p, socks_ip) &&
	    (strcmp(cfg->mps_address, "*") == 0 ||
	    (mps_config_parse_ip(cfg->mps_address, &ip) &&
	    mps_config_ip_is_any(&ip))))
		mps_config_warning(p->errs, p->path,
		    blame_line(p, &socks_ip, 1),
		    "<MpsAddress> is not set and <SocksListenIP> is %s; "
		    "notifications will announce an address consoles cannot "
		    "use", cfg->mps_address);
}

static void
check_auth(struct parse *p, enum group_id g, const mps_auth_config_t *auth)
{
	int need = kw(g, "NeedAuthentication"), dll = kw(g, "DllName");

	if (!auth->need_authentication || auth->dll_name != NULL ||
	    bad(p, need) || bad(p, dll))
		return;
	mps_config_error(p->errs, p->path, p->group_line[g],
	    "<%s> has NeedAuthentication true but no <DllName>",
	    group_names[g]);
}

static void
check_notification_auth(struct parse *p)
{
	mps_config_t *cfg = p->cfg;
	int need = kw(G_NOTIFY_AUTH, "NeedNotificationAuthentication");
	int user = kw(G_NOTIFY_AUTH, "Username");

	if (!cfg->need_notification_authentication || bad(p, need) ||
	    bad(p, user) || (cfg->notification_username != NULL &&
	    *cfg->notification_username != '\0'))
		return;
	mps_config_error(p->errs, p->path, p->group_line[G_NOTIFY_AUTH],
	    "<Notification_Authentication> has "
	    "NeedNotificationAuthentication true but no <Username>");
}

static void
check_tls(struct parse *p)
{
	mps_config_t *cfg = p->cfg;
	int mode = kw(G_TLS, "Mode"), verify = kw(G_TLS, "VerifyClient");
	int chain = kw(G_TLS, "CertificateChainFile");
	int key = kw(G_TLS, "KeyFile"), ca = kw(G_TLS, "CAFile");
	int line = p->group_line[G_TLS];

	if (cfg->tls_mode == MPS_TLS_MODE_TLS && !bad(p, mode)) {
		const char *why = given(p, mode) ? "" : " (the default)";

		if (cfg->tls_cert_chain_file == NULL && !bad(p, chain))
			mps_config_error(p->errs, p->path, line,
			    "<TLS> Mode is tls%s but <CertificateChainFile> "
			    "is not set", why);
		if (cfg->tls_key_file == NULL && !bad(p, key))
			mps_config_error(p->errs, p->path, line,
			    "<TLS> Mode is tls%s but <KeyFile> is not set",
			    why);
	}
	if (cfg->tls_verify_client != MPS_VERIFY_CLIENT_NONE &&
	    !bad(p, verify) && cfg->tls_ca_file == NULL && !bad(p, ca))
		mps_config_error(p->errs, p->path, p->seen[verify].line,
		    "<VerifyClient> %s needs <CAFile> (the roots that device "
		    "certificates are verified against)",
		    verify_modes[cfg->tls_verify_client]);
	if (cfg->tls_mode == MPS_TLS_MODE_PLAIN &&
	    cfg->tls_verify_client != MPS_VERIFY_CLIENT_NONE)
		mps_config_warning(p->errs, p->path, p->seen[verify].line,
		    "<VerifyClient> %s has no effect with <Mode> plain: the "
		    "TLS terminator in front of mpsd verifies devices",
		    verify_modes[cfg->tls_verify_client]);
}

static void
check_limits(struct parse *p)
{
	mps_config_t *cfg = p->cfg;
	int ks[2];

	ks[0] = kw(G_LIMITS, "AuthQueueLength");
	/* Not given: as long as MaxPreAuthConnections. Every login waiting
	 * in a lane holds a pre-auth slot, so a shorter queue would refuse
	 * devices that admission let in and that already paid for their
	 * TLS handshake: after a restart, a reconnect burst of 512 devices
	 * would see some refused and come back later for nothing. */
	if (!given(p, ks[0]) || bad(p, ks[0]))
		cfg->auth_queue_length = cfg->max_preauth;

	ks[0] = kw(G_LIMITS, "PreAuthDropStart");
	ks[1] = kw(G_LIMITS, "MaxPreAuthConnections");
	/* Not given: half the budget (256 of the default 512), whatever
	 * MaxPreAuthConnections is, so that lowering that alone is valid. */
	if (!given(p, ks[0]) || bad(p, ks[0]))
		cfg->preauth_drop_start = cfg->max_preauth / 2;
	if (bad(p, ks[0]) || bad(p, ks[1]) ||
	    cfg->preauth_drop_start <= cfg->max_preauth)
		return;
	/* Like OpenSSH's MaxStartups start:rate:full, start <= full; equal
	 * turns the early drop off. */
	mps_config_error(p->errs, p->path, blame_line(p, ks, 2),
	    "<PreAuthDropStart> %d is more than <MaxPreAuthConnections> %d "
	    "(set them equal to turn the early random drop off)",
	    cfg->preauth_drop_start, cfg->max_preauth);
}

static void
check_tunnel(struct parse *p)
{
	mps_config_t *cfg = p->cfg;
	int ks[3];

	ks[0] = kw(G_TUNNEL, "KeepAliveInterval");
	ks[1] = kw(G_TUNNEL, "IdleTimeout");
	ks[2] = kw(G_TUNNEL, "KeepAliveTiming");
	if (bad(p, ks[0]) || bad(p, ks[1]) || bad(p, ks[2]) ||
	    cfg->keepalive_timing == MPS_KEEPALIVE_NEVER ||
	    cfg->keepalive_interval < cfg->idle_timeout)
		return;
	/* A device that is quiet between keep-alives would be dropped as
	 * idle before the next keep-alive could show it is alive. */
	mps_config_error(p->errs, p->path, blame_line(p, ks, 3),
	    "<KeepAliveInterval> %" APR_TIME_T_FMT " s is not less than "
	    "<IdleTimeout> %" APR_TIME_T_FMT " s, so quiet devices would be "
	    "dropped between keep-alives (or set <KeepAliveTiming> never)",
	    apr_time_sec(cfg->keepalive_interval),
	    apr_time_sec(cfg->idle_timeout));
}

/* Whether a listen address reaches only this host. */
static int
is_loopback(const char *text)
{
	mps_config_ip_t ip;
	static const unsigned char v6_loopback[16] = { [15] = 1 };

	if (!mps_config_parse_ip(text, &ip))
		return 0;	/* "*": every address */
	if (ip.family == AF_INET)
		return ip.addr[0] == 127;
	return memcmp(ip.addr, v6_loopback, sizeof(v6_loopback)) == 0;
}

/*
 * The admin API can disconnect any device: it needs a token, and it
 * stays on loopback unless the admin says, in so many words, that it may
 * listen elsewhere (its HTTP is not encrypted: put a TLS proxy in front).
 */
static void
check_admin(struct parse *p)
{
	mps_config_t *cfg = p->cfg;
	int enabled = kw(G_ADMIN, "Enabled"), ip = kw(G_ADMIN, "ListenIP");
	int token = kw(G_ADMIN, "TokenFile");
	int remote = kw(G_ADMIN, "AllowRemote");

	if (!cfg->admin_enabled || bad(p, enabled))
		return;
	if (cfg->admin_token_file == NULL && !bad(p, token))
		mps_config_error(p->errs, p->path, p->group_line[G_ADMIN],
		    "<Admin> Enabled is true but <TokenFile> is not set (the "
		    "bearer token every request must carry)");
	if (!bad(p, ip) && !bad(p, remote) && !is_loopback(cfg->admin_listen_ip)
	    && !cfg->admin_allow_remote)
		mps_config_error(p->errs, p->path, p->seen[ip].line != 0 ?
		    p->seen[ip].line : p->group_line[G_ADMIN],
		    "<Admin> <ListenIP> %s is not a loopback address; the admin "
		    "API speaks plain HTTP, so set <AllowRemote>true</AllowRemote> "
		    "only behind a TLS proxy or on a trusted network",
		    cfg->admin_listen_ip);
}

const char *
mps_config_split_hostport(const char *text, const char **host,
    apr_port_t *port, apr_pool_t *pool)
{
	const char *colon, *h;
	mps_config_ip_t ip;
	long long v;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':')
			return "is not host:port ([IPv6]:port for IPv6)";
		h = apr_pstrndup(pool, text + 1, (apr_size_t)(close - text - 1));
		colon = close + 1;
		if (!mps_config_parse_ip(h, &ip))
			return "has no IPv6 address between [ and ]";
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL || colon == text || strchr(text, ':') != colon)
			return "is not host:port ([IPv6]:port for IPv6)";
		h = apr_pstrndup(pool, text, (apr_size_t)(colon - text));
		if (!mps_config_parse_ip(h, &ip) && !mps_config_is_hostname(h))
			return "does not start with an IP address or host name";
	}
	if (mps_config_parse_ip(h, &ip) && mps_config_ip_is_any(&ip))
		return "names a wildcard address; give one that can be reached";
	if (mps_config_parse_number(colon + 1, 1, 65535, &v) != MPS_NUM_OK)
		return "does not end with a port (1-65535)";
	*host = h;
	*port = (apr_port_t)v;
	return NULL;
}

int
mps_config_instance_id_ok(const char *id)
{
	size_t i, n = strlen(id);

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '.' &&
		    id[i] != '_' && id[i] != '-')
			return 0;
	return 1;
}

/*
 * The instance-to-instance link (PeerListenPort set): it forwards
 * consoles between instances that share a Redis directory, is mutual
 * TLS with no way to turn verification off, and other instances must
 * know where to reach it (PeerAddress).
 */
static void
check_peer_link(struct parse *p)
{
	mps_config_t *cfg = p->cfg;
	int port = kw(G_DIRECTORY, "PeerListenPort");
	int line;

	if (cfg->directory_peer_listen_port == 0 || bad(p, port))
		return;
	line = p->seen[port].line;
	if (cfg->directory_backend != MPS_DIRECTORY_BACKEND_REDIS &&
	    !bad(p, kw(G_DIRECTORY, "Backend")))
		mps_config_error(p->errs, p->path, line, "<PeerListenPort> is "
		    "set but <Backend> is not redis (the link serves instances "
		    "sharing a Redis directory)");
	if (cfg->directory_peer_address[0] == '\0' &&
	    !bad(p, kw(G_DIRECTORY, "PeerAddress")))
		mps_config_error(p->errs, p->path, line, "<PeerListenPort> is "
		    "set but <PeerAddress> is empty (where the other instances "
		    "reach this one)");
	if (cfg->directory_peer_cert_file == NULL &&
	    !bad(p, kw(G_DIRECTORY, "PeerCertFile")))
		mps_config_error(p->errs, p->path, line, "<PeerListenPort> is "
		    "set but <PeerCertFile> is not (this instance's "
		    "certificate for the mutual TLS link)");
	if (cfg->directory_peer_ca_file == NULL &&
	    !bad(p, kw(G_DIRECTORY, "PeerCAFile")))
		mps_config_error(p->errs, p->path, line, "<PeerListenPort> is "
		    "set but <PeerCAFile> is not (the roots other instances' "
		    "certificates must chain to)");
	if (cfg->directory_peer_key_file == NULL)
		cfg->directory_peer_key_file = cfg->directory_peer_cert_file;
}

/*
 * <Directory>: the addresses must be host:port, the instance id a plain
 * token (it is part of Redis keys and takeover messages), and redis needs
 * a build with hiredis. The password file is only named here; mpsd reads
 * it at start, like the TLS key.
 */
static void
check_directory(struct parse *p)
{
	mps_config_t *cfg = p->cfg;
	int backend = kw(G_DIRECTORY, "Backend");
	int addr = kw(G_DIRECTORY, "RedisAddress");
	int id = kw(G_DIRECTORY, "InstanceId");
	int peer = kw(G_DIRECTORY, "PeerAddress");
	const char *why, *host;
	apr_port_t port;

	if (given(p, addr) && !bad(p, addr)) {
		why = mps_config_split_hostport(cfg->directory_redis_address,
		    &host, &port, p->pool);
		if (why != NULL)
			reject(p, addr, p->seen[addr].line, "%s %s",
			    mps_config_quote(cfg->directory_redis_address,
			    p->scratch), why);
		else {
			cfg->directory_redis_host = host;
			cfg->directory_redis_port = port;
		}
	}
	if (given(p, peer) && !bad(p, peer) &&
	    cfg->directory_peer_address[0] != '\0' &&
	    (why = mps_config_split_hostport(cfg->directory_peer_address,
	    &host, &port, p->scratch)) != NULL)
		reject(p, peer, p->seen[peer].line, "%s %s",
		    mps_config_quote(cfg->directory_peer_address, p->scratch),
		    why);
	if (given(p, id) && !bad(p, id) &&
	    !mps_config_instance_id_ok(cfg->directory_instance_id))
		reject(p, id, p->seen[id].line, "%s is not 1 to 64 letters, "
		    "digits, '.', '_' or '-'",
		    mps_config_quote(cfg->directory_instance_id, p->scratch));
	check_peer_link(p);
#ifndef MPS_WITH_REDIS
	if (cfg->directory_backend == MPS_DIRECTORY_BACKEND_REDIS &&
	    !bad(p, backend))
		reject(p, backend, p->seen[backend].line, "redis: this mpsd "
		    "was built without hiredis (install libhiredis-dev and run "
		    "configure --with-redis)");
#else
	(void)backend;
#endif
}

static void
check_all(struct parse *p)
{
	mps_config_t *cfg = p->cfg;

	/* Documented defaults that follow another parameter. */
	if (!given(p, kw(G_NETWORK, "HttpListenIP"))) {
		cfg->http_listen_ip = cfg->socks_listen_ip;
		p->seen[kw(G_NETWORK, "HttpListenIP")].bad =
		    bad(p, kw(G_NETWORK, "SocksListenIP"));
	}
	if (!given(p, kw(G_NETWORK, "MpsAddress")))
		cfg->mps_address = cfg->socks_listen_ip;

	check_network(p);
	check_auth(p, G_AMT_AUTH, &cfg->amt_auth);
	check_auth(p, G_SOCKS_AUTH, &cfg->socks_auth);
	check_notification_auth(p);
	check_tls(p);
	check_limits(p);
	check_tunnel(p);
	check_admin(p);
	check_directory(p);
}

apr_status_t
mps_config_load(mps_config_t **cfgp, const char *path,
    mps_config_errors_t *errs, apr_pool_t *pool)
{
	struct parse p;
	const mps_xml_node_t *root;
	int before = mps_config_error_count(errs);
	apr_status_t rv;

	memset(&p, 0, sizeof(p));
	p.cfg = apr_pcalloc(pool, sizeof(*p.cfg));
	mps_config_defaults(p.cfg, pool);
	p.cfg->path = apr_pstrdup(pool, path);
	p.path = p.cfg->path;
	p.errs = errs;
	p.pool = pool;
	rv = apr_pool_create(&p.scratch, pool);
	if (rv != APR_SUCCESS) {
		mps_config_error(errs, path, 0, "cannot read: out of memory");
		*cfgp = p.cfg;
		return MPS_ERR_CONFIG;
	}

	root = mps_xml_parse_file(path, errs, p.scratch);
	if (root != NULL && parse_root(&p, root))
		check_all(&p);
	apr_pool_destroy(p.scratch);

	/* The caller gets the configuration even with errors: mpsd -t and
	 * the tests look at what was understood. */
	*cfgp = p.cfg;
	return mps_config_error_count(errs) > before ? MPS_ERR_CONFIG :
	    APR_SUCCESS;
}

/* ---- what a reload changed ---------------------------------------------- */

static int
str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/* Whether the field of k differs between a and b, by its C type. */
static int
field_differs(const struct keyword *k, const mps_config_t *a,
    const mps_config_t *b)
{
	const char *pa = (const char *)a + k->offset;
	const char *pb = (const char *)b + k->offset;

	switch (k->type) {
	case KW_STRING:
	case KW_PATH:
	case KW_NAME:
	case KW_ACCOUNT:
	case KW_LISTEN_IP:
	case KW_HOST:
		return str_differs(*(const char *const *)(const void *)pa,
		    *(const char *const *)(const void *)pb);
	case KW_BOOL:
	case KW_INT:
	case KW_ENUM:
		return *(const int *)(const void *)pa !=
		    *(const int *)(const void *)pb;
	case KW_PORT:
		return *(const apr_port_t *)(const void *)pa !=
		    *(const apr_port_t *)(const void *)pb;
	case KW_KB:
		return *(const apr_off_t *)(const void *)pa !=
		    *(const apr_off_t *)(const void *)pb;
	case KW_BYTES:
	case KW_BYTES_STRICT:
		return *(const apr_uint32_t *)(const void *)pa !=
		    *(const apr_uint32_t *)(const void *)pb;
	case KW_SECONDS:
		return *(const apr_interval_time_t *)(const void *)pa !=
		    *(const apr_interval_time_t *)(const void *)pb;
	}
	return 0;
}

int
mps_config_changes(const mps_config_t *a, const mps_config_t *b,
    mps_config_change_fn fn, void *arg)
{
	size_t i;
	int n = 0;

	for (i = 0; i < NKEYWORDS; i++) {
		const struct keyword *k = &keywords[i];

		if (!field_differs(k, a, b))
			continue;
		n++;
		fn(arg, group_names[k->group], k->name);
	}
	return n;
}
