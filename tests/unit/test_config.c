/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_config.c: the configuration files (server/config_*.c).
 *
 * Fixtures are written as files into a temporary directory that each test
 * case creates in an unchecked fixture (in the parent process) and removes
 * in its teardown, so nothing is left behind even when a forked test
 * fails. Error messages are compared whole: their exact form
 * ("file:line: what") is the contract with the admin.
 */
#include "unit.h"
#include "config.h"
#include "mps_status.h"

#include <apr_strings.h>

#include <ftw.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char case_dir[PATH_MAX];		/* per test case */
static apr_pool_t *pool;		/* per test */

/* ---- fixtures ---- */

static void
case_setup(void)
{
	strcpy(case_dir, "/tmp/mpsd-test-config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(case_dir));
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
case_teardown(void)
{
	if (case_dir[0] != '\0')
		(void)nftw(case_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	case_dir[0] = '\0';
}

static void
test_setup(void)
{
	ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void
test_teardown(void)
{
	apr_pool_destroy(pool);
	pool = NULL;
}

/* ---- helpers ---- */

static const char *
path_of(const char *name)
{
	return apr_pstrcat(pool, case_dir, "/", name, NULL);
}

static const char *
write_bytes(const char *name, const char *data, size_t len)
{
	const char *path = path_of(name);
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

static const char *
write_file(const char *name, const char *text)
{
	return write_bytes(name, text, strlen(text));
}

static const char *
error_at(const mps_config_errors_t *errs, int i)
{
	ck_assert_int_lt(i, errs->errors->nelts);
	return APR_ARRAY_IDX(errs->errors, i, const char *);
}

static const char *
warning_at(const mps_config_errors_t *errs, int i)
{
	ck_assert_int_lt(i, errs->warnings->nelts);
	return APR_ARRAY_IDX(errs->warnings, i, const char *);
}

/* "path:line: msg", or "path: msg" for line 0. */
static const char *
msg(const char *path, int line, const char *text)
{
	if (line == 0)
		return apr_psprintf(pool, "%s: %s", path, text);
	return apr_psprintf(pool, "%s:%d: %s", path, line, text);
}

static void
assert_no_messages(const mps_config_errors_t *errs)
{
	if (errs->errors->nelts > 0)
		ck_abort_msg("unexpected error: %s", error_at(errs, 0));
	if (errs->warnings->nelts > 0)
		ck_abort_msg("unexpected warning: %s", warning_at(errs, 0));
}

/* Asserts that errs holds exactly one error, equal to want. */
static void
assert_one_error(const mps_config_errors_t *errs, const char *want)
{
	if (errs->errors->nelts != 1) {
		int i;

		for (i = 0; i < errs->errors->nelts; i++)
			fprintf(stderr, "  error: %s\n", error_at(errs, i));
		ck_abort_msg("%d errors, expected 1: %s", errs->errors->nelts,
		    want);
	}
	ck_assert_str_eq(error_at(errs, 0), want);
}

/* mps.config holding text; TLS mode plain unless the text sets a <TLS>,
 * so that the certificate checks stay out of the way. */
static const char *
static_file(const char *text)
{
	return write_file("mps.config", text);
}

static mps_config_t *
load_static(const char *path, mps_config_errors_t **errsp, apr_status_t *rvp)
{
	mps_config_t *cfg = NULL;
	mps_config_errors_t *errs = mps_config_errors_create(pool);
	apr_status_t rv;

	rv = mps_config_load(&cfg, path, errs, pool);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_int_eq(rv, errs->errors->nelts > 0 ? MPS_ERR_CONFIG :
	    APR_SUCCESS);
	*errsp = errs;
	if (rvp != NULL)
		*rvp = rv;
	return cfg;
}

/* Loads a file that must have no error and no warning. */
static mps_config_t *
load_good(const char *text)
{
	mps_config_errors_t *errs;
	mps_config_t *cfg;

	cfg = load_static(static_file(text), &errs, NULL);
	assert_no_messages(errs);
	return cfg;
}

/* Loads text and asserts the single error "mps.config:line: want". */
static mps_config_t *
load_one_error(const char *text, int line, const char *want)
{
	mps_config_errors_t *errs;
	const char *path = static_file(text);
	mps_config_t *cfg;

	cfg = load_static(path, &errs, NULL);
	assert_one_error(errs, msg(path, line, want));
	return cfg;
}

#define PLAIN "<TLS><Mode>plain</Mode></TLS>"

/* ---- mps.config: defaults ---- */

static void
assert_defaults(const mps_config_t *cfg)
{
	ck_assert_str_eq(cfg->amt_listen_ip, "0.0.0.0");
	ck_assert_uint_eq(cfg->amt_listen_port, 4433);
	ck_assert_str_eq(cfg->socks_listen_ip, "127.0.0.1");
	ck_assert_uint_eq(cfg->socks_listen_port, 1080);
	ck_assert_str_eq(cfg->http_listen_ip, "127.0.0.1");
	ck_assert_uint_eq(cfg->http_listen_port, 8080);
	ck_assert_str_eq(cfg->mps_address, "127.0.0.1");
	ck_assert_ptr_nonnull(cfg->heading);
	ck_assert_str_eq(cfg->log_file_path, MPS_LOGDIR);
	ck_assert_str_eq(cfg->log_file_name, "mps.log");
	ck_assert_int_eq(cfg->log_file_max_size_kb, 10240);
	ck_assert_int_eq(cfg->log_file_max_files, 10);
	ck_assert_int_eq(cfg->log_time_format, MPS_LOG_TIME_ISO8601);
	ck_assert_int_eq(cfg->log_target, MPS_LOG_TARGET_FILE);
	ck_assert_int_eq(cfg->amt_auth.need_authentication, 0);
	ck_assert_ptr_null(cfg->amt_auth.dll_name);
	ck_assert_str_eq(cfg->amt_auth.dll_parameters, "");
	ck_assert_int_eq(cfg->socks_auth.need_authentication, 0);
	ck_assert_ptr_null(cfg->socks_auth.dll_name);
	ck_assert_str_eq(cfg->socks_auth.dll_parameters, "");
	ck_assert_int_eq(cfg->need_notification_authentication, 0);
	ck_assert_ptr_null(cfg->notification_username);
	ck_assert_ptr_null(cfg->notification_password);
	ck_assert_int_eq(cfg->filter_unauthorized_servers, 1);
	ck_assert_str_eq(cfg->authorized_servers_file,
	    "AuthorizedServersList.config");
	ck_assert_str_eq(cfg->notification_list_file,
	    "NotificationList.config");
	ck_assert_str_eq(cfg->dynamic_config_file, "mps_dynamic.config");
	ck_assert_int_eq(cfg->dynamic_config_check_interval,
	    apr_time_from_sec(1));
	ck_assert_str_eq(cfg->plugin_dir, MPS_PLUGINDIR);
	ck_assert_str_eq(cfg->pid_file, MPS_RUNSTATEDIR "/mpsd.pid");
	ck_assert_str_eq(cfg->lock_file, MPS_RUNSTATEDIR "/mpsd.lock");
	ck_assert_int_eq(cfg->tls_profile, MPS_TLS_PROFILE_MODERN);
	ck_assert_ptr_null(cfg->tls_cert_chain_file);
	ck_assert_ptr_null(cfg->tls_key_file);
	ck_assert_ptr_null(cfg->tls_ca_file);
	ck_assert_int_eq(cfg->tls_verify_client, MPS_VERIFY_CLIENT_NONE);
	ck_assert_int_eq(cfg->tls_handshake_timeout, apr_time_from_sec(10));
	ck_assert_int_eq(cfg->max_connections, 1000);
	ck_assert_int_eq(cfg->max_consoles, 1000);
	ck_assert_int_eq(cfg->max_preauth, 512);
	ck_assert_int_eq(cfg->max_handshakes, 512);
	ck_assert_int_eq(cfg->max_preauth_per_address, 32);
	ck_assert_int_eq(cfg->preauth_drop_start, 256);
	ck_assert_int_eq(cfg->preauth_drop_rate, 30);
	ck_assert_int_eq(cfg->preauth_timeout, apr_time_from_sec(10));
	ck_assert_int_eq(cfg->max_channels_per_device, 32);
	ck_assert_int_eq(cfg->worker_threads, 0);
	ck_assert_int_eq(cfg->blocking_threads, 32);
	ck_assert_int_eq(cfg->device_auth_threads, 16);
	ck_assert_int_eq(cfg->console_auth_threads, 8);
	ck_assert_int_eq(cfg->notification_threads, 8);
	ck_assert_int_eq(cfg->auth_queue_length, 512);
	ck_assert_int_eq(cfg->auth_queue_timeout, apr_time_from_sec(15));
	ck_assert_int_eq(cfg->console_login_failures, 10);
	ck_assert_int_eq(cfg->console_user_login_failures, 30);
	ck_assert_int_eq(cfg->max_forwards_per_device, 16);
	ck_assert_int_eq(cfg->keepalive_interval, apr_time_from_sec(30));
	ck_assert_int_eq(cfg->keepalive_timing, MPS_KEEPALIVE_SETTLED);
	ck_assert_int_eq(cfg->idle_timeout, apr_time_from_sec(90));
	ck_assert_uint_eq(cfg->channel_window_size, 65536);
	ck_assert_uint_eq(cfg->channel_window_overrun, 1024 * 1024);
	ck_assert_int_eq(cfg->channel_open_timeout, apr_time_from_sec(15));
	ck_assert_int_eq(cfg->channel_idle_timeout, 0);
	ck_assert_ptr_null(cfg->user);
	ck_assert_ptr_null(cfg->group);
	ck_assert_int_eq(cfg->amt_auth.line, 0);
	ck_assert_int_eq(cfg->socks_auth.line, 0);
}

START_TEST(test_defaults_function)
{
	mps_config_t cfg;

	mps_config_defaults(&cfg, pool);
	assert_defaults(&cfg);
	ck_assert_int_eq(cfg.tls_mode, MPS_TLS_MODE_TLS);
}
END_TEST

/* A bare <MPS/> takes every default; the default TLS mode then lacks
 * its certificate and key, which are the only two errors. */
START_TEST(test_defaults_empty_root)
{
	mps_config_errors_t *errs;
	const char *path = static_file("<MPS/>\n");
	mps_config_t *cfg;
	apr_status_t rv;

	cfg = load_static(path, &errs, &rv);
	ck_assert_int_eq(rv, MPS_ERR_CONFIG);
	assert_defaults(cfg);
	ck_assert_int_eq(cfg->tls_mode, MPS_TLS_MODE_TLS);
	ck_assert_str_eq(cfg->path, path);
	ck_assert_int_eq(errs->errors->nelts, 2);
	ck_assert_str_eq(error_at(errs, 0), msg(path, 0, "<TLS> Mode is tls "
	    "(the default) but <CertificateChainFile> is not set"));
	ck_assert_str_eq(error_at(errs, 1), msg(path, 0, "<TLS> Mode is tls "
	    "(the default) but <KeyFile> is not set"));
	ck_assert_int_eq(errs->warnings->nelts, 0);
}
END_TEST

START_TEST(test_defaults_plain)
{
	mps_config_t *cfg;

	cfg = load_good("<?xml version=\"1.0\"?>\n<!-- c -->\n<MPS>\n"
	    "  <TLS>\n    <Mode>plain</Mode>\n  </TLS>\n</MPS>\n");
	assert_defaults(cfg);
	ck_assert_int_eq(cfg->tls_mode, MPS_TLS_MODE_PLAIN);
}
END_TEST

/* ---- mps.config: every parameter, table-driven ---- */

enum kind { K_STR, K_NULL, K_INT, K_ENUM, K_PORT, K_OFF, K_U32, K_SEC };

struct param_row {
	const char *group;
	const char *name;
	const char *value;	/* as written in the file */
	const char *extra;	/* more elements the group needs, or "" */
	size_t offset;
	enum kind kind;
	const char *want_str;	/* K_STR */
	long long want_num;	/* the numeric kinds; K_SEC in seconds */
};

#define O(f) offsetof(mps_config_t, f)

/* Each value differs from the default, so a row proves the element is
 * read and stored where the contract says. */
static const struct param_row param_rows[] = {
	{ "Network", "AMTListenIP", "::", "", O(amt_listen_ip), K_STR, "::", 0 },
	{ "Network", "AMTListenPort", "16993", "", O(amt_listen_port), K_PORT, NULL, 16993 },
	{ "Network", "SocksListenIP", "10.1.2.3", "", O(socks_listen_ip), K_STR, "10.1.2.3", 0 },
	{ "Network", "SocksListenPort", "1081", "", O(socks_listen_port), K_PORT, NULL, 1081 },
	{ "Network", "HttpListenIP", "::1", "", O(http_listen_ip), K_STR, "::1", 0 },
	{ "Network", "HttpListenPort", "08081", "", O(http_listen_port), K_PORT, NULL, 8081 },
	{ "Network", "MpsAddress", "mps.example.com", "", O(mps_address), K_STR, "mps.example.com", 0 },
	{ "Network", "AMTProxyProtocol", "TRUE", "<AMTProxyTrusted>127.0.0.1</AMTProxyTrusted>", O(amt_proxy_protocol), K_INT, NULL, 1 },
	{ "Network", "AMTProxyTrusted", " 10.0.0.0/8, ::1 ", "<AMTProxyProtocol>true</AMTProxyProtocol>", O(amt_proxy_trusted), K_STR, "10.0.0.0/8, ::1", 0 },
	{ "Logger", "Heading", "  My &amp; <![CDATA[<MPS>]]> log&#x21;  ", "", O(heading), K_STR, "My & <MPS> log!", 0 },
	{ "Logger", "LogFilePath", "logs", "", O(log_file_path), K_STR, "logs", 0 },
	{ "Logger", "LogFileName", "x.log", "", O(log_file_name), K_STR, "x.log", 0 },
	{ "Logger", "LogFileMaxSize", "2048", "", O(log_file_max_size_kb), K_OFF, NULL, 2048 },
	{ "Logger", "LogFileMaxFiles", "3", "", O(log_file_max_files), K_INT, NULL, 3 },
	{ "Logger", "TimeFormat", "Guide", "", O(log_time_format), K_ENUM, NULL, MPS_LOG_TIME_GUIDE },
	{ "Logger", "Target", "syslog", "", O(log_target), K_ENUM, NULL, MPS_LOG_TARGET_SYSLOG },
	{ "AMT_Authenticate", "NeedAuthentication", "TRUE", "<DllName>a</DllName>", O(amt_auth.need_authentication), K_INT, NULL, 1 },
	{ "AMT_Authenticate", "DllName", "AMTFileAuth", "", O(amt_auth.dll_name), K_STR, "AMTFileAuth", 0 },
	{ "AMT_Authenticate", "DllParameters", "\n  file AMTAuthFile.txt\t\n", "", O(amt_auth.dll_parameters), K_STR, "file AMTAuthFile.txt", 0 },
	{ "Socks_Authenticate", "NeedAuthentication", "true", "<DllName>s</DllName>", O(socks_auth.need_authentication), K_INT, NULL, 1 },
	{ "Socks_Authenticate", "DllName", "/opt/SocksFileAuth.so", "", O(socks_auth.dll_name), K_STR, "/opt/SocksFileAuth.so", 0 },
	{ "Socks_Authenticate", "DllParameters", "file S.txt", "", O(socks_auth.dll_parameters), K_STR, "file S.txt", 0 },
	{ "Notification_Authentication", "NeedNotificationAuthentication", "True", "<Username>u</Username>", O(need_notification_authentication), K_INT, NULL, 1 },
	{ "Notification_Authentication", "Username", "admin", "", O(notification_username), K_STR, "admin", 0 },
	{ "Notification_Authentication", "Password", "p&lt;w", "", O(notification_password), K_STR, "p<w", 0 },
	{ "Filtering", "FilterUnauthorizedServers", "false", "", O(filter_unauthorized_servers), K_INT, NULL, 0 },
	{ "Filtering", "AuthorizedServersList", "servers.txt", "", O(authorized_servers_file), K_STR, "servers.txt", 0 },
	{ "Notification", "MCSubscribersList", "subs.txt", "", O(notification_list_file), K_STR, "subs.txt", 0 },
	{ "Files", "DynamicConfigFile", "dyn.config", "", O(dynamic_config_file), K_STR, "dyn.config", 0 },
	{ "Files", "DynamicConfigCheckInterval", "0", "", O(dynamic_config_check_interval), K_SEC, NULL, 0 },
	{ "Files", "PluginDir", "/opt/mpsd/plugins", "", O(plugin_dir), K_STR, "/opt/mpsd/plugins", 0 },
	{ "Files", "PidFile", "run/x.pid", "", O(pid_file), K_STR, "run/x.pid", 0 },
	{ "Files", "LockFile", "run/x.lock", "", O(lock_file), K_STR, "run/x.lock", 0 },
	{ "TLS", "Mode", "PLAIN", "", O(tls_mode), K_ENUM, NULL, MPS_TLS_MODE_PLAIN },
	{ "TLS", "Profile", "legacy", "", O(tls_profile), K_ENUM, NULL, MPS_TLS_PROFILE_LEGACY },
	{ "TLS", "CertificateChainFile", "chain.pem", "", O(tls_cert_chain_file), K_STR, "chain.pem", 0 },
	{ "TLS", "KeyFile", "key.pem", "", O(tls_key_file), K_STR, "key.pem", 0 },
	{ "TLS", "CAFile", "ca.pem", "", O(tls_ca_file), K_STR, "ca.pem", 0 },
	{ "TLS", "VerifyClient", "optional", "<CAFile>ca.pem</CAFile><Mode>tls</Mode><CertificateChainFile>c</CertificateChainFile><KeyFile>k</KeyFile>", O(tls_verify_client), K_ENUM, NULL, MPS_VERIFY_CLIENT_OPTIONAL },
	{ "TLS", "HandshakeTimeout", "5", "", O(tls_handshake_timeout), K_SEC, NULL, 5 },
	{ "Limits", "MaxConnections", "50000", "", O(max_connections), K_INT, NULL, 50000 },
	{ "Limits", "MaxConsoles", "200", "", O(max_consoles), K_INT, NULL, 200 },
	{ "Limits", "MaxPreAuthConnections", "2000", "", O(max_preauth), K_INT, NULL, 2000 },
	{ "Limits", "MaxPreAuthPerAddress", "4", "", O(max_preauth_per_address), K_INT, NULL, 4 },
	{ "Limits", "MaxHandshakes", "64", "", O(max_handshakes), K_INT, NULL, 64 },
	{ "Limits", "PreAuthDropStart", "100", "", O(preauth_drop_start), K_INT, NULL, 100 },
	{ "Limits", "PreAuthDropRate", "0", "", O(preauth_drop_rate), K_INT, NULL, 0 },
	{ "Limits", "PreAuthTimeout", "3", "", O(preauth_timeout), K_SEC, NULL, 3 },
	{ "Limits", "MaxChannelsPerDevice", "64", "", O(max_channels_per_device), K_INT, NULL, 64 },
	{ "Limits", "WorkerThreads", "4", "", O(worker_threads), K_INT, NULL, 4 },
	{ "Limits", "BlockingThreads", "8", "", O(blocking_threads), K_INT, NULL, 8 },
	{ "Limits", "DeviceAuthThreads", "64", "", O(device_auth_threads), K_INT, NULL, 64 },
	{ "Limits", "ConsoleAuthThreads", "2", "", O(console_auth_threads), K_INT, NULL, 2 },
	{ "Limits", "NotificationThreads", "1", "", O(notification_threads), K_INT, NULL, 1 },
	{ "Limits", "AuthQueueLength", "4096", "", O(auth_queue_length), K_INT, NULL, 4096 },
	{ "Limits", "AuthQueueTimeout", "30", "", O(auth_queue_timeout), K_SEC, NULL, 30 },
	{ "Limits", "ConsoleLoginFailures", "3", "", O(console_login_failures), K_INT, NULL, 3 },
	{ "Limits", "ConsoleLoginFailuresPerUser", "100", "", O(console_user_login_failures), K_INT, NULL, 100 },
	{ "Limits", "MaxForwardsPerDevice", "8", "", O(max_forwards_per_device), K_INT, NULL, 8 },
	{ "Tunnel", "KeepAliveInterval", "45", "", O(keepalive_interval), K_SEC, NULL, 45 },
	{ "Tunnel", "KeepAliveTiming", "after5900", "", O(keepalive_timing), K_ENUM, NULL, MPS_KEEPALIVE_AFTER_5900 },
	{ "Tunnel", "IdleTimeout", "300", "", O(idle_timeout), K_SEC, NULL, 300 },
	{ "Tunnel", "ChannelWindowSize", "1048576", "", O(channel_window_size), K_U32, NULL, 1048576 },
	{ "Tunnel", "ChannelWindowOverrun", "262144", "", O(channel_window_overrun), K_U32, NULL, 262144 },
	{ "Tunnel", "ChannelOpenTimeout", "20", "", O(channel_open_timeout), K_SEC, NULL, 20 },
	{ "Tunnel", "ChannelIdleTimeout", "600", "", O(channel_idle_timeout), K_SEC, NULL, 600 },
	{ "Process", "User", "mpsd", "", O(user), K_STR, "mpsd", 0 },
	{ "Process", "Group", "daemon", "", O(group), K_STR, "daemon", 0 },
#ifdef MPS_WITH_REDIS
	{ "Directory", "Backend", "Redis", "", O(directory_backend), K_ENUM, NULL, MPS_DIRECTORY_BACKEND_REDIS },
#endif
	{ "Directory", "RedisAddress", "redis.example:6380", "", O(directory_redis_address), K_STR, "redis.example:6380", 0 },
	{ "Directory", "RedisUsername", "mpsd", "", O(directory_redis_username), K_STR, "mpsd", 0 },
	{ "Directory", "RedisPasswordFile", "redis.pw", "", O(directory_redis_password_file), K_STR, "redis.pw", 0 },
	{ "Directory", "RedisTimeout", "5", "", O(directory_redis_timeout), K_SEC, NULL, 5 },
	{ "Directory", "InstanceId", "mps-1.dc_2", "", O(directory_instance_id), K_STR, "mps-1.dc_2", 0 },
	{ "Directory", "PeerAddress", "[fd00::1]:4434", "", O(directory_peer_address), K_STR, "[fd00::1]:4434", 0 },
	{ "Directory", "TTL", "60", "", O(directory_ttl), K_SEC, NULL, 60 },
	{ "Directory", "PeerListenIP", "127.0.0.2", "", O(directory_peer_listen_ip), K_STR, "127.0.0.2", 0 },
#ifdef MPS_WITH_REDIS
	{ "Directory", "PeerListenPort", "4434", "<Backend>redis</Backend><PeerAddress>mps-1:4434</PeerAddress><PeerCertFile>p.pem</PeerCertFile><PeerCAFile>ca.pem</PeerCAFile>", O(directory_peer_listen_port), K_INT, NULL, 4434 },
#endif
	{ "Directory", "PeerCertFile", "peer.pem", "", O(directory_peer_cert_file), K_STR, "peer.pem", 0 },
	{ "Directory", "PeerKeyFile", "peer.key", "", O(directory_peer_key_file), K_STR, "peer.key", 0 },
	{ "Directory", "PeerCAFile", "peers-ca.pem", "", O(directory_peer_ca_file), K_STR, "peers-ca.pem", 0 },
	{ "Directory", "PeerTimeout", "9", "", O(directory_peer_timeout), K_SEC, NULL, 9 },
	{ "Directory", "MaxPeerLinks", "32", "", O(directory_max_peer_links), K_INT, NULL, 32 },
};

#define NPARAMS ((int)(sizeof(param_rows) / sizeof(param_rows[0])))

/*
 * A file setting one parameter, with the parameter's element on line 3:
 *   1 <MPS>
 *   2 <Group>
 *   3 <Name>value</Name>[extra]
 *   4 </Group>
 *   5 <TLS><Mode>plain</Mode></TLS>   (folded into Group when it is TLS)
 *   6 </MPS>
 */
static const char *
param_xml(const char *group, const char *name, const char *value,
    const char *extra)
{
	int tls = strcmp(group, "TLS") == 0;

	return apr_psprintf(pool, "<MPS>\n<%s>\n<%s>%s</%s>%s%s\n</%s>\n%s\n"
	    "</MPS>\n", group, name, value, name, extra,
	    tls && strcmp(name, "Mode") != 0 && strstr(extra, "<Mode>") ==
	    NULL ? "<Mode>plain</Mode>" : "",
	    group, tls ? "" : PLAIN);
}

START_TEST(test_each_parameter)
{
	const struct param_row *r = &param_rows[_i];
	const mps_config_t *cfg;
	const char *base;
	int iv;

	cfg = load_good(param_xml(r->group, r->name, r->value, r->extra));
	base = (const char *)cfg + r->offset;
	switch (r->kind) {
	case K_STR:
		ck_assert_str_eq(*(const char *const *)base, r->want_str);
		break;
	case K_NULL:
		ck_assert_ptr_null(*(const char *const *)base);
		break;
	case K_INT:
	case K_ENUM:
		memcpy(&iv, base, sizeof(iv));
		ck_assert_int_eq(iv, r->want_num);
		break;
	case K_PORT:
		ck_assert_uint_eq(*(const apr_port_t *)base, r->want_num);
		break;
	case K_OFF:
		ck_assert_int_eq(*(const apr_off_t *)base, r->want_num);
		break;
	case K_U32:
		ck_assert_uint_eq(*(const apr_uint32_t *)base, r->want_num);
		break;
	case K_SEC:
		ck_assert_int_eq(*(const apr_interval_time_t *)base,
		    apr_time_from_sec(r->want_num));
		break;
	}
}
END_TEST

/* The table above must name every parameter once: 82 as of this
 * writing (80 in a build without hiredis, which refuses Backend redis
 * and so the PeerListenPort that needs it).
 * A new parameter needs a row here (and in the sample). */
START_TEST(test_parameter_table_complete)
{
	int i, j;

#ifdef MPS_WITH_REDIS
	ck_assert_int_eq(NPARAMS, 83);
#else
	ck_assert_int_eq(NPARAMS, 81);
#endif
	for (i = 0; i < NPARAMS; i++)
		for (j = i + 1; j < NPARAMS; j++)
			ck_assert(strcmp(param_rows[i].group,
			    param_rows[j].group) != 0 ||
			    strcmp(param_rows[i].name, param_rows[j].name) != 0);
}
END_TEST

/* RedisAddress is split for the directory; the defaults need no group. */
START_TEST(test_directory_addresses)
{
	mps_config_t *cfg;

	cfg = load_good("<MPS>" PLAIN "</MPS>");
	ck_assert_int_eq(cfg->directory_backend, MPS_DIRECTORY_BACKEND_LOCAL);
	ck_assert_str_eq(cfg->directory_redis_host, "127.0.0.1");
	ck_assert_uint_eq(cfg->directory_redis_port, 6379);
	ck_assert_ptr_null(cfg->directory_instance_id);
	ck_assert_str_eq(cfg->directory_peer_address, "");
	ck_assert(cfg->directory_ttl == apr_time_from_sec(30));
	ck_assert(cfg->directory_redis_timeout == apr_time_from_sec(2));
	ck_assert_ptr_null(cfg->directory_redis_password_file);
	cfg = load_good("<MPS><Directory><RedisAddress>[::1]:7000"
	    "</RedisAddress></Directory>" PLAIN "</MPS>");
	ck_assert_str_eq(cfg->directory_redis_host, "::1");
	ck_assert_uint_eq(cfg->directory_redis_port, 7000);
	cfg = load_good("<MPS><Directory><RedisAddress>redis.example:6380"
	    "</RedisAddress></Directory>" PLAIN "</MPS>");
	ck_assert_str_eq(cfg->directory_redis_host, "redis.example");
	ck_assert_uint_eq(cfg->directory_redis_port, 6380);
}
END_TEST

/* The instance-to-instance link: off by default; when PeerListenPort
 * is set, the rest of mutual TLS and the address must be too, and the
 * key defaults to the certificate file. */
START_TEST(test_peer_link_requirements)
{
	mps_config_t *cfg;

	cfg = load_good("<MPS>" PLAIN "</MPS>");
	ck_assert_int_eq(cfg->directory_peer_listen_port, 0);
	ck_assert_str_eq(cfg->directory_peer_listen_ip, "*");
	ck_assert_ptr_null(cfg->directory_peer_cert_file);
	ck_assert_ptr_null(cfg->directory_peer_key_file);
	ck_assert_ptr_null(cfg->directory_peer_ca_file);
	ck_assert(cfg->directory_peer_timeout == apr_time_from_sec(5));
	ck_assert_int_eq(cfg->directory_max_peer_links, 256);
	load_one_error("<MPS>\n<Directory>\n<PeerListenPort>4434"
	    "</PeerListenPort><PeerAddress>a:1</PeerAddress><PeerCertFile>c"
	    "</PeerCertFile><PeerCAFile>ca</PeerCAFile>\n</Directory>\n"
	    PLAIN "\n</MPS>\n", 3, "<PeerListenPort> is set but <Backend> is "
	    "not redis (the link serves instances sharing a Redis directory)");
	load_one_error("<MPS>\n<Directory>\n<PeerListenPort>70000"
	    "</PeerListenPort>\n</Directory>\n" PLAIN "\n</MPS>\n", 3,
	    "<PeerListenPort> \"70000\" is out of range (0-65535)");
#ifdef MPS_WITH_REDIS
	load_one_error("<MPS>\n<Directory><Backend>redis</Backend>\n"
	    "<PeerListenPort>4434</PeerListenPort><PeerCertFile>c"
	    "</PeerCertFile><PeerCAFile>ca</PeerCAFile>\n</Directory>\n"
	    PLAIN "\n</MPS>\n", 3, "<PeerListenPort> is set but <PeerAddress> "
	    "is empty (where the other instances reach this one)");
	load_one_error("<MPS>\n<Directory><Backend>redis</Backend>\n"
	    "<PeerListenPort>4434</PeerListenPort><PeerAddress>a:1"
	    "</PeerAddress><PeerCAFile>ca</PeerCAFile>\n</Directory>\n"
	    PLAIN "\n</MPS>\n", 3, "<PeerListenPort> is set but <PeerCertFile> "
	    "is not (this instance's certificate for the mutual TLS link)");
	load_one_error("<MPS>\n<Directory><Backend>redis</Backend>\n"
	    "<PeerListenPort>4434</PeerListenPort><PeerAddress>a:1"
	    "</PeerAddress><PeerCertFile>c</PeerCertFile>\n</Directory>\n"
	    PLAIN "\n</MPS>\n", 3, "<PeerListenPort> is set but <PeerCAFile> "
	    "is not (the roots other instances' certificates must chain to)");
	cfg = load_good("<MPS><Directory><Backend>redis</Backend>"
	    "<PeerListenPort>4434</PeerListenPort><PeerAddress>a:1"
	    "</PeerAddress><PeerCertFile>c.pem</PeerCertFile><PeerCAFile>ca"
	    "</PeerCAFile></Directory>" PLAIN "</MPS>");
	ck_assert_str_eq(cfg->directory_peer_key_file, "c.pem");
#endif
}
END_TEST

START_TEST(test_empty_account_is_none)
{
	mps_config_t *cfg;

	cfg = load_good("<MPS><Process><User></User><Group> </Group>"
	    "</Process>" PLAIN "</MPS>");
	ck_assert_ptr_null(cfg->user);
	ck_assert_ptr_null(cfg->group);
}
END_TEST

/* ChannelWindowOverrun: "strict" in any case, and 0, both mean no
 * tolerance (the number form is in param_rows). */
START_TEST(test_window_overrun_strict)
{
	static const char *const forms[] = { "strict", "STRICT", "Strict", "0" };
	mps_config_t *cfg;
	char text[256];
	unsigned i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(text, sizeof(text), "<MPS><Tunnel><ChannelWindowOverrun>"
		    "%s</ChannelWindowOverrun></Tunnel>" PLAIN "</MPS>", forms[i]);
		cfg = load_good(text);
		ck_assert_uint_eq(cfg->channel_window_overrun, 0);
	}
}
END_TEST

START_TEST(test_auth_group_lines)
{
	mps_config_t *cfg;

	cfg = load_good("<MPS>\n" PLAIN "\n\n<AMT_Authenticate>\n"
	    "</AMT_Authenticate>\n<Socks_Authenticate/>\n</MPS>\n");
	ck_assert_int_eq(cfg->amt_auth.line, 4);
	ck_assert_int_eq(cfg->socks_auth.line, 6);
}
END_TEST

START_TEST(test_listen_ip_defaults_follow_socks)
{
	mps_config_t *cfg;

	cfg = load_good("<MPS><Network><SocksListenIP>10.9.8.7"
	    "</SocksListenIP></Network>" PLAIN "</MPS>");
	ck_assert_str_eq(cfg->http_listen_ip, "10.9.8.7");
	ck_assert_str_eq(cfg->mps_address, "10.9.8.7");

	cfg = load_good("<MPS><Network><SocksListenIP>10.9.8.7"
	    "</SocksListenIP><HttpListenIP>10.0.0.1</HttpListenIP>"
	    "<MpsAddress>mps.example.com</MpsAddress></Network>" PLAIN
	    "</MPS>");
	ck_assert_str_eq(cfg->http_listen_ip, "10.0.0.1");
	ck_assert_str_eq(cfg->mps_address, "mps.example.com");
}
END_TEST

START_TEST(test_listen_ip_star_and_comments)
{
	mps_config_t *cfg;

	cfg = load_good("<MPS><Network><AMTListenIP><!-- any -->*"
	    "</AMTListenIP><AMTListenPort>44<!-- x -->33</AMTListenPort>"
	    "</Network>" PLAIN "</MPS>");
	ck_assert_str_eq(cfg->amt_listen_ip, "*");
	ck_assert_uint_eq(cfg->amt_listen_port, 4433);
}
END_TEST

/* ---- mps.config: each type's errors, table-driven ---- */

struct bad_row {
	const char *group;
	const char *name;
	const char *value;
	const char *want;	/* the message after "file:3: " */
};

static const struct bad_row bad_rows[] = {
	{ "Directory", "Backend", "etcd", "<Backend> \"etcd\" is not one of: local, redis" },
	{ "Directory", "RedisAddress", "localhost", "<RedisAddress> \"localhost\" is not host:port ([IPv6]:port for IPv6)" },
	{ "Directory", "RedisAddress", "0.0.0.0:6379", "<RedisAddress> \"0.0.0.0:6379\" names a wildcard address; give one that can be reached" },
	{ "Directory", "RedisAddress", "redis:0", "<RedisAddress> \"redis:0\" does not end with a port (1-65535)" },
	{ "Directory", "RedisAddress", "::1:6379", "<RedisAddress> \"::1:6379\" is not host:port ([IPv6]:port for IPv6)" },
	{ "Directory", "RedisAddress", "[nope]:6379", "<RedisAddress> \"[nope]:6379\" has no IPv6 address between [ and ]" },
	{ "Directory", "PeerAddress", "bad_host!:4434", "<PeerAddress> \"bad_host!:4434\" does not start with an IP address or host name" },
	{ "Directory", "InstanceId", "a b", "<InstanceId> \"a b\" is not 1 to 64 letters, digits, '.', '_' or '-'" },
	{ "Directory", "InstanceId", "", "<InstanceId> \"\" is not 1 to 64 letters, digits, '.', '_' or '-'" },
	{ "Directory", "TTL", "2", "<TTL> \"2\" is out of range (3-3600 seconds)" },
	{ "Directory", "RedisTimeout", "0", "<RedisTimeout> \"0\" is out of range (1-60 seconds)" },
	{ "Network", "AMTListenPort", "99999", "<AMTListenPort> \"99999\" is not a port (1-65535)" },
	{ "Network", "AMTListenPort", "0", "<AMTListenPort> \"0\" is not a port (1-65535)" },
	{ "Network", "SocksListenPort", "-1", "<SocksListenPort> \"-1\" is not a port (1-65535)" },
	{ "Network", "HttpListenPort", "80x", "<HttpListenPort> \"80x\" is not a port (1-65535)" },
	{ "Network", "HttpListenPort", "", "<HttpListenPort> \"\" is not a port (1-65535)" },
	{ "Network", "HttpListenPort", "+80", "<HttpListenPort> \"+80\" is not a port (1-65535)" },
	{ "Network", "HttpListenPort", "8 0", "<HttpListenPort> \"8 0\" is not a port (1-65535)" },
	{ "Network", "HttpListenPort", "0x50", "<HttpListenPort> \"0x50\" is not a port (1-65535)" },
	{ "Logger", "LogFileMaxFiles", "0", "<LogFileMaxFiles> \"0\" is out of range (1-1000)" },
	{ "Logger", "LogFileMaxFiles", "1001", "<LogFileMaxFiles> \"1001\" is out of range (1-1000)" },
	{ "Logger", "LogFileMaxFiles", "ten", "<LogFileMaxFiles> \"ten\" is not a whole number" },
	{ "Logger", "LogFileMaxSize", "0", "<LogFileMaxSize> \"0\" is out of range (1-16777216 KB)" },
	{ "Logger", "LogFileMaxSize", "99999999999999999999999", "<LogFileMaxSize> \"99999999999999999999999\" is out of range (1-16777216 KB)" },
	{ "Logger", "LogFileMaxSize", "-99999999999999999999999", "<LogFileMaxSize> \"-99999999999999999999999\" is out of range (1-16777216 KB)" },
	{ "Logger", "LogFileMaxSize", "10M", "<LogFileMaxSize> \"10M\" is not a whole number" },
	{ "Limits", "MaxConnections", "1000001", "<MaxConnections> \"1000001\" is out of range (1-1000000)" },
	{ "Limits", "WorkerThreads", "-1", "<WorkerThreads> \"-1\" is out of range (0-1024)" },
	{ "Limits", "MaxConsoles", "0", "<MaxConsoles> \"0\" is out of range (1-1000000)" },
	{ "Limits", "MaxPreAuthConnections", "0", "<MaxPreAuthConnections> \"0\" is out of range (1-1000000)" },
	{ "Limits", "MaxPreAuthPerAddress", "0", "<MaxPreAuthPerAddress> \"0\" is out of range (1-1000000)" },
	{ "Limits", "MaxHandshakes", "0", "<MaxHandshakes> \"0\" is out of range (1-1000000)" },
	{ "Limits", "PreAuthDropStart", "-1", "<PreAuthDropStart> \"-1\" is out of range (0-1000000)" },
	{ "Limits", "PreAuthDropRate", "101", "<PreAuthDropRate> \"101\" is out of range (0-100)" },
	{ "Limits", "PreAuthTimeout", "0", "<PreAuthTimeout> \"0\" is out of range (1-3600 seconds)" },
	{ "Limits", "BlockingThreads", "0", "<BlockingThreads> \"0\" is out of range (1-1024)" },
	{ "Limits", "DeviceAuthThreads", "0", "<DeviceAuthThreads> \"0\" is out of range (1-1024)" },
	{ "Limits", "ConsoleAuthThreads", "1025", "<ConsoleAuthThreads> \"1025\" is out of range (1-1024)" },
	{ "Limits", "NotificationThreads", "0", "<NotificationThreads> \"0\" is out of range (1-1024)" },
	{ "Limits", "AuthQueueLength", "0", "<AuthQueueLength> \"0\" is out of range (1-1000000)" },
	{ "Limits", "AuthQueueTimeout", "0", "<AuthQueueTimeout> \"0\" is out of range (1-3600 seconds)" },
	{ "Limits", "MaxChannelsPerDevice", "1.5", "<MaxChannelsPerDevice> \"1.5\" is not a whole number" },
	{ "Limits", "ConsoleLoginFailures", "0", "<ConsoleLoginFailures> \"0\" is out of range (1-1000000)" },
	{ "Limits", "ConsoleLoginFailuresPerUser", "x", "<ConsoleLoginFailuresPerUser> \"x\" is not a whole number" },
	{ "Limits", "MaxForwardsPerDevice", "17", "<MaxForwardsPerDevice> \"17\" is out of range (1-16)" },
	{ "Tunnel", "ChannelWindowSize", "1023", "<ChannelWindowSize> \"1023\" is out of range (1024-16777216 bytes)" },
	{ "Tunnel", "ChannelWindowSize", "16777217", "<ChannelWindowSize> \"16777217\" is out of range (1024-16777216 bytes)" },
	{ "Tunnel", "ChannelWindowOverrun", "16777217", "<ChannelWindowOverrun> \"16777217\" is out of range (0-16777216 bytes, or strict)" },
	{ "Tunnel", "ChannelWindowOverrun", "lax", "<ChannelWindowOverrun> \"lax\" is not a whole number of bytes or strict" },
	{ "Tunnel", "ChannelWindowOverrun", "-1", "<ChannelWindowOverrun> \"-1\" is out of range (0-16777216 bytes, or strict)" },
	{ "Tunnel", "IdleTimeout", "1.5", "<IdleTimeout> \"1.5\" is not a whole number of seconds" },
	{ "Tunnel", "IdleTimeout", "0", "<IdleTimeout> \"0\" is out of range (1-604800 seconds)" },
	{ "Tunnel", "ChannelIdleTimeout", "-5", "<ChannelIdleTimeout> \"-5\" is out of range (0-604800 seconds)" },
	{ "TLS", "HandshakeTimeout", "3601", "<HandshakeTimeout> \"3601\" is out of range (1-3600 seconds)" },
	{ "Files", "DynamicConfigCheckInterval", "-1", "<DynamicConfigCheckInterval> \"-1\" is out of range (0-3600 seconds)" },
	{ "Filtering", "FilterUnauthorizedServers", "yes", "<FilterUnauthorizedServers> \"yes\" is not a boolean (true or false)" },
	{ "AMT_Authenticate", "NeedAuthentication", "1", "<NeedAuthentication> \"1\" is not a boolean (true or false)" },
	{ "TLS", "Mode", "ssl", "<Mode> \"ssl\" is not one of: tls, plain" },
	{ "TLS", "Profile", "old", "<Profile> \"old\" is not one of: modern, legacy" },
	{ "TLS", "VerifyClient", "yes", "<VerifyClient> \"yes\" is not one of: none, optional, require" },
	{ "Logger", "Target", "journal", "<Target> \"journal\" is not one of: file, syslog" },
	{ "Tunnel", "KeepAliveTiming", "always", "<KeepAliveTiming> \"always\" is not one of: settled, after5900, never" },
	{ "Network", "AMTListenIP", "1.2.3", "<AMTListenIP> \"1.2.3\" is not an IP address (an IPv4 or IPv6 literal without brackets, or * for every address)" },
	{ "Network", "SocksListenIP", "[::1]", "<SocksListenIP> \"[::1]\" is not an IP address (an IPv4 or IPv6 literal without brackets, or * for every address)" },
	{ "Network", "HttpListenIP", "localhost", "<HttpListenIP> \"localhost\" is not an IP address (an IPv4 or IPv6 literal without brackets, or * for every address)" },
	{ "Network", "AMTListenIP", "256.0.0.1", "<AMTListenIP> \"256.0.0.1\" is not an IP address (an IPv4 or IPv6 literal without brackets, or * for every address)" },
	{ "Network", "MpsAddress", "bad_host!", "<MpsAddress> \"bad_host!\" is not an IP address or host name" },
	{ "Network", "MpsAddress", "10.0.0.256", "<MpsAddress> \"10.0.0.256\" is not an IP address or host name" },
	{ "Network", "MpsAddress", "-a.example.com", "<MpsAddress> \"-a.example.com\" is not an IP address or host name" },
	{ "Network", "MpsAddress", "0.0.0.0", "<MpsAddress> \"0.0.0.0\" is a wildcard address; give the address consoles can reach mpsd at" },
	{ "Network", "AMTProxyProtocol", "on", "<AMTProxyProtocol> \"on\" is not a boolean (true or false)" },
	{ "Network", "AMTProxyTrusted", "10.0.0.0/33", "<AMTProxyTrusted> \"10.0.0.0/33\" is not an address or address/prefix-length" },
	{ "Network", "AMTProxyTrusted", "127.0.0.1 haproxy.example", "<AMTProxyTrusted> \"haproxy.example\" is not an address or address/prefix-length" },
	{ "Logger", "LogFilePath", "  ", "<LogFilePath> is empty" },
	{ "Logger", "LogFileName", "logs/mps.log", "<LogFileName> \"logs/mps.log\" is a path; give a file name (the directory is set separately)" },
	{ "Files", "PluginDir", "", "<PluginDir> is empty" },
	/* Values are quoted safely: control characters escaped, long ones cut. */
	{ "Network", "AMTListenPort", "1\n2\t\"3\"", "<AMTListenPort> \"1\\n2\\t\\\"3\\\"\" is not a port (1-65535)" },
	{ "Network", "AMTListenPort", "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
	    "<AMTListenPort> \"1234567890123456789012345678901234567890123456789012345678901234...\" is not a port (1-65535)" },
};

#define NBAD ((int)(sizeof(bad_rows) / sizeof(bad_rows[0])))

START_TEST(test_bad_value)
{
	const struct bad_row *r = &bad_rows[_i];
	mps_config_errors_t *errs;
	mps_config_t *cfg, defaults;
	const char *path;

	path = static_file(param_xml(r->group, r->name, r->value, ""));
	cfg = load_static(path, &errs, NULL);
	assert_one_error(errs, msg(path, 3, r->want));
	/* The bad value left the default in place. */
	mps_config_defaults(&defaults, pool);
	ck_assert_uint_eq(cfg->amt_listen_port, defaults.amt_listen_port);
	ck_assert_int_eq(cfg->log_file_max_files, defaults.log_file_max_files);
	ck_assert_int_eq(cfg->idle_timeout, defaults.idle_timeout);
}
END_TEST

/* A value that spans lines is reported at its start tag's line. */
START_TEST(test_value_line_is_start_tag)
{
	load_one_error("<MPS>" PLAIN "\n<Network>\n<AMTListenPort>\n\nx\n"
	    "</AMTListenPort>\n</Network>\n</MPS>\n", 3,
	    "<AMTListenPort> \"x\" is not a port (1-65535)");
}
END_TEST

/* ---- mps.config: structure ---- */

START_TEST(test_unknown_element)
{
	load_one_error("<MPS>" PLAIN "\n<Network>\n\n<AMTListenPrt>1"
	    "</AMTListenPrt>\n</Network>\n</MPS>\n", 4,
	    "unknown element <AMTListenPrt> in <Network> "
	    "(did you mean <AMTListenPort>?)");
	/* Nothing near: no hint. */
	load_one_error("<MPS>" PLAIN "\n<Network><Colour>red</Colour>"
	    "</Network></MPS>\n", 2, "unknown element <Colour> in <Network>");
}
END_TEST

START_TEST(test_unknown_element_hints)
{
	/* Names are case-sensitive; the message says what was meant. */
	load_one_error("<MPS>" PLAIN "\n<Network><amtlistenport>1"
	    "</amtlistenport></Network></MPS>", 2,
	    "unknown element <amtlistenport> in <Network> "
	    "(did you mean <AMTListenPort>?)");
	load_one_error("<MPS>" PLAIN "\n<Logger><AMTListenPort>1"
	    "</AMTListenPort></Logger></MPS>", 2,
	    "unknown element <AMTListenPort> in <Logger> "
	    "(<AMTListenPort> belongs in <Network>)");
	load_one_error("<MPS>" PLAIN "\n<AMTListenPort>1</AMTListenPort>"
	    "</MPS>", 2, "unknown group <AMTListenPort> in <MPS> "
	    "(<AMTListenPort> belongs in <Network>)");
	load_one_error("<MPS>" PLAIN "\n<Logger><amtlistenport>1"
	    "</amtlistenport></Logger></MPS>", 2,
	    "unknown element <amtlistenport> in <Logger> "
	    "(did you mean <AMTListenPort> in <Network>?)");
	load_one_error("<MPS>" PLAIN "\n<network/></MPS>", 2,
	    "unknown group <network> in <MPS> (did you mean <Network>?)");
}
END_TEST

/* A hint needs a distance of at most 2, counted exactly up to there:
 * the shortcuts of edit_distance (length difference, a row already past
 * the limit) must neither drop a hint at 2 nor give one at 3. */
START_TEST(test_unknown_element_hint_distance)
{
	static const struct {
		const char *name, *hint;
	} rows[] = {
		/* Two characters short, long, or changed: a hint. */
		{ "MpsAddre", " (did you mean <MpsAddress>?)" },
		{ "MpsAddressXY", " (did you mean <MpsAddress>?)" },
		{ "MbsAddrexs", " (did you mean <MpsAddress>?)" },
		{ "xMpsAddresx", " (did you mean <MpsAddress>?)" },
		/* Three: none. */
		{ "MpsAddr", "" },
		{ "MpsAddressXYZ", "" },
		{ "MbsAddqexs", "" },
		{ "xMpsAddrssxy", "" },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char xml[256], want[160];

		snprintf(xml, sizeof(xml), "<MPS>" PLAIN "\n<Network><%s>x"
		    "</%s></Network></MPS>", rows[i].name, rows[i].name);
		snprintf(want, sizeof(want), "unknown element <%s> in "
		    "<Network>%s", rows[i].name, rows[i].hint);
		load_one_error(xml, 2, want);
	}
}
END_TEST

START_TEST(test_unknown_group)
{
	load_one_error("<MPS>" PLAIN "\n\n<Netwrk>\n<AMTListenPort>1"
	    "</AMTListenPort>\n</Netwrk>\n</MPS>\n", 3,
	    "unknown group <Netwrk> in <MPS> (did you mean <Network>?)");
	load_one_error("<MPS>" PLAIN "\n<Extras/></MPS>\n", 2,
	    "unknown group <Extras> in <MPS>");
}
END_TEST

START_TEST(test_duplicate_element)
{
	mps_config_t *cfg;

	cfg = load_one_error("<MPS>" PLAIN "\n<Logger>\n"
	    "<LogFileMaxSize>8</LogFileMaxSize>\n"
	    "<LogFileMaxSize>9</LogFileMaxSize>\n</Logger>\n</MPS>\n", 4,
	    "<LogFileMaxSize> given twice (first at line 3)");
	(void)cfg;
	/* Across two copies of a group too, with the group reported. */
	{
		mps_config_errors_t *errs;
		const char *path = static_file("<MPS>" PLAIN "\n"
		    "<Logger><LogFileMaxFiles>2</LogFileMaxFiles></Logger>\n"
		    "<Logger><LogFileMaxFiles>3</LogFileMaxFiles></Logger>\n"
		    "</MPS>\n");

		load_static(path, &errs, NULL);
		ck_assert_int_eq(errs->errors->nelts, 2);
		ck_assert_str_eq(error_at(errs, 0), msg(path, 3,
		    "<Logger> given twice (first at line 2)"));
		ck_assert_str_eq(error_at(errs, 1), msg(path, 3,
		    "<LogFileMaxFiles> given twice (first at line 2)"));
	}
}
END_TEST

START_TEST(test_duplicate_element_value_checked)
{
	mps_config_errors_t *errs;
	const char *path = static_file("<MPS>" PLAIN "\n<Network>\n"
	    "<AMTListenPort>1</AMTListenPort>\n"
	    "<AMTListenPort>x</AMTListenPort>\n</Network>\n</MPS>\n");

	load_static(path, &errs, NULL);
	ck_assert_int_eq(errs->errors->nelts, 2);
	ck_assert_str_eq(error_at(errs, 0), msg(path, 4,
	    "<AMTListenPort> given twice (first at line 3)"));
	ck_assert_str_eq(error_at(errs, 1), msg(path, 4,
	    "<AMTListenPort> \"x\" is not a port (1-65535)"));
}
END_TEST

START_TEST(test_attributes)
{
	mps_config_errors_t *errs;
	const char *path = static_file("<MPS version=\"1\">" PLAIN "\n"
	    "<Network id=\"n\">\n"
	    "<AMTListenPort unit=\"tcp\">4433</AMTListenPort>\n"
	    "</Network>\n</MPS>\n");

	load_static(path, &errs, NULL);
	ck_assert_int_eq(errs->errors->nelts, 3);
	ck_assert_str_eq(error_at(errs, 0), msg(path, 1, "attribute "
	    "\"version\" on <MPS> is not allowed (no element takes "
	    "attributes)"));
	ck_assert_str_eq(error_at(errs, 1), msg(path, 2, "attribute \"id\" "
	    "on <Network> is not allowed (no element takes attributes)"));
	ck_assert_str_eq(error_at(errs, 2), msg(path, 3, "attribute "
	    "\"unit\" on <AMTListenPort> is not allowed (no element takes "
	    "attributes)"));
}
END_TEST

START_TEST(test_text_inside_group)
{
	load_one_error("<MPS>" PLAIN "\n<Network>\n  \n  junk here\n"
	    "<AMTListenPort>1</AMTListenPort>\n</Network>\n</MPS>\n", 4,
	    "unexpected text \"junk here\" directly inside <Network>");
	load_one_error("<MPS>" PLAIN "\n\n 4433 \n</MPS>\n", 3,
	    "unexpected text \"4433\" directly inside <MPS>");
}
END_TEST

START_TEST(test_element_inside_value)
{
	load_one_error("<MPS>" PLAIN "\n<Network>\n<AMTListenPort>\n"
	    "<Port>1</Port>\n</AMTListenPort>\n</Network>\n</MPS>\n", 4,
	    "<AMTListenPort> holds a value, not elements (found <Port>)");
}
END_TEST

START_TEST(test_wrong_root)
{
	load_one_error("<?xml version=\"1.0\"?>\n<MPS_Dynamic>\n"
	    "<Network/>\n</MPS_Dynamic>\n", 2,
	    "the root element is <MPS_Dynamic>; expected <MPS>");
}
END_TEST

START_TEST(test_xml_syntax_error)
{
	/* One error at expat's line; nothing after it is looked at, so
	 * the bad port on line 2 is not reported. */
	load_one_error("<MPS>\n<Network><AMTListenPort>x</AMTListenPort>\n"
	    "<Logger></Network>\n</MPS>\n", 3,
	    "XML syntax error: mismatched tag");
	load_one_error("", 1, "XML syntax error: no element found");
	load_one_error("<MPS>" PLAIN "</MPS>\n<MPS/>\n", 2,
	    "XML syntax error: junk after document element");
	load_one_error("<MPS>\n<Logger><Heading>a & b</Heading></Logger>"
	    "</MPS>", 2, "XML syntax error: not well-formed (invalid token)");
}
END_TEST

START_TEST(test_doctype_refused)
{
	load_one_error("<?xml version=\"1.0\"?>\n<!DOCTYPE MPS [\n"
	    "<!ENTITY a \"aaaaaaaaaa\">\n]>\n<MPS>&a;</MPS>\n", 2,
	    "DOCTYPE declarations are not allowed");
}
END_TEST

START_TEST(test_nesting_limit)
{
	char *text = apr_pstrdup(pool, "");
	int i;

	for (i = 0; i < 40; i++)
		text = apr_pstrcat(pool, text, i == 16 ? "\n<a>" : "<a>",
		    NULL);
	for (i = 0; i < 40; i++)
		text = apr_pstrcat(pool, text, "</a>", NULL);
	load_one_error(text, 2, "elements nested deeper than 16 levels");
}
END_TEST

START_TEST(test_missing_file)
{
	mps_config_errors_t *errs;
	const char *path = path_of("nonexistent.config");
	mps_config_t *cfg;

	cfg = load_static(path, &errs, NULL);
	assert_one_error(errs, msg(path, 0,
	    "cannot open: No such file or directory"));
	assert_defaults(cfg);
}
END_TEST

START_TEST(test_directory_not_file)
{
	mps_config_errors_t *errs;

	load_static(case_dir, &errs, NULL);
	assert_one_error(errs, msg(case_dir, 0,
	    "cannot read: Is a directory"));
}
END_TEST

START_TEST(test_file_too_large)
{
	size_t len = 1024 * 1024 + 1;
	char *big = apr_palloc(pool, len);
	mps_config_errors_t *errs;
	const char *path;

	memset(big, ' ', len);
	memcpy(big, "<MPS>", 5);
	path = write_bytes("mps.config", big, len);
	load_static(path, &errs, NULL);
	assert_one_error(errs, msg(path, 0,
	    "larger than 1048576 bytes; not a configuration file?"));

	/* Exactly at the limit is read (and then parsed). */
	memcpy(big + len - 7, "</MPS>", 6);
	path = write_bytes("mps.config", big, len - 1);
	load_static(path, &errs, NULL);
	ck_assert_int_eq(errs->errors->nelts, 2);	/* the TLS defaults */
}
END_TEST

/* The path is reported as given, not made absolute. */
/* ---- what a reload changed ---- */

struct changes {
	int n;
	char seen[8][64];
};

static void
collect_change(void *arg, const char *group, const char *name)
{
	struct changes *c = arg;

	if (c->n < 8)
		snprintf(c->seen[c->n], sizeof(c->seen[0]), "%s/%s", group, name);
	c->n++;
}

START_TEST(test_changes)
{
	struct changes c = { 0 };
	mps_config_t *a, *b;

	a = load_good("<MPS>" PLAIN "<Tunnel><IdleTimeout>90</IdleTimeout>"
	    "</Tunnel><AMT_Authenticate><DllParameters>a.txt</DllParameters>"
	    "</AMT_Authenticate><Admin><TokenFile>t</TokenFile></Admin></MPS>");
	/* Same values, other spellings and an explicit default: nothing. */
	b = load_good("<MPS><TLS><Mode>PLAIN</Mode></TLS><Tunnel>"
	    "<IdleTimeout>90</IdleTimeout><KeepAliveInterval>30"
	    "</KeepAliveInterval></Tunnel><AMT_Authenticate><DllParameters>"
	    "a.txt</DllParameters></AMT_Authenticate><Admin><TokenFile>t"
	    "</TokenFile></Admin></MPS>");
	ck_assert_int_eq(mps_config_changes(a, b, collect_change, &c), 0);
	ck_assert_int_eq(c.n, 0);
	/* One of each C type, in the keyword table's order. */
	b = load_good("<MPS>" PLAIN "<Network><AMTListenPort>4434"
	    "</AMTListenPort></Network><Logger><LogFileMaxSize>20"
	    "</LogFileMaxSize></Logger><AMT_Authenticate><DllParameters>b.txt"
	    "</DllParameters></AMT_Authenticate><Tunnel><IdleTimeout>120"
	    "</IdleTimeout><ChannelWindowSize>4096</ChannelWindowSize>"
	    "</Tunnel><Admin><TokenFile>t</TokenFile><AllowRemote>true"
	    "</AllowRemote></Admin></MPS>");
	ck_assert_int_eq(mps_config_changes(a, b, collect_change, &c), 6);
	ck_assert_str_eq(c.seen[0], "Network/AMTListenPort");
	ck_assert_str_eq(c.seen[1], "Logger/LogFileMaxSize");
	ck_assert_str_eq(c.seen[2], "AMT_Authenticate/DllParameters");
	ck_assert_str_eq(c.seen[3], "Tunnel/IdleTimeout");
	ck_assert_str_eq(c.seen[4], "Tunnel/ChannelWindowSize");
	ck_assert_str_eq(c.seen[5], "Admin/AllowRemote");
}
END_TEST

START_TEST(test_path_as_given)
{
	mps_config_errors_t *errs;
	char cwd[PATH_MAX];

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(case_dir), 0);
	write_file("rel.config", "<MPS><Logger><LogFileMaxFiles>0"
	    "</LogFileMaxFiles></Logger>" PLAIN "</MPS>");
	load_static("rel.config", &errs, NULL);
	assert_one_error(errs, "rel.config:1: <LogFileMaxFiles> \"0\" is "
	    "out of range (1-1000)");
	ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

/* ---- mps.config: requirements and cross-field checks ---- */

START_TEST(test_dll_name_required)
{
	mps_config_errors_t *errs;
	const char *path;

	load_one_error("<MPS>" PLAIN "\n\n<AMT_Authenticate>\n"
	    "<NeedAuthentication>true</NeedAuthentication>\n"
	    "</AMT_Authenticate>\n</MPS>\n", 3, "<AMT_Authenticate> has "
	    "NeedAuthentication true but no <DllName>");
	load_one_error("<MPS>" PLAIN "\n<Socks_Authenticate>"
	    "<NeedAuthentication>true</NeedAuthentication>"
	    "<DllParameters>x</DllParameters></Socks_Authenticate></MPS>", 2,
	    "<Socks_Authenticate> has NeedAuthentication true but no "
	    "<DllName>");
	/* Not needed when authentication is off. */
	load_good("<MPS>" PLAIN "<AMT_Authenticate><NeedAuthentication>"
	    "false</NeedAuthentication></AMT_Authenticate></MPS>");
	/* An empty DllName is reported once, as empty. */
	path = static_file("<MPS>" PLAIN "\n<AMT_Authenticate>"
	    "<NeedAuthentication>true</NeedAuthentication>\n"
	    "<DllName/></AMT_Authenticate></MPS>");
	load_static(path, &errs, NULL);
	assert_one_error(errs, msg(path, 3, "<DllName> is empty"));
}
END_TEST

START_TEST(test_notification_username_required)
{
	load_one_error("<MPS>" PLAIN "\n<Notification_Authentication>"
	    "<NeedNotificationAuthentication>true"
	    "</NeedNotificationAuthentication><Password>p</Password>"
	    "</Notification_Authentication></MPS>", 2,
	    "<Notification_Authentication> has "
	    "NeedNotificationAuthentication true but no <Username>");
}
END_TEST

static const char *
network_xml(const char *body)
{
	return apr_psprintf(pool, "<MPS>" PLAIN "\n<Network>\n%s\n</Network>"
	    "\n</MPS>\n", body);
}

START_TEST(test_listen_ports_conflict)
{
	/* Same port, same address. */
	load_one_error(network_xml("<SocksListenPort>4433</SocksListenPort>"
	    "\n<SocksListenIP>0.0.0.0</SocksListenIP>"), 4,
	    "<AMTListenPort> and <SocksListenPort> are both 4433 on "
	    "overlapping addresses (0.0.0.0 and 0.0.0.0)");
	/* The IPv4 wildcard covers 127.0.0.1. */
	load_one_error(network_xml("<AMTListenPort>1080</AMTListenPort>"), 3,
	    "<AMTListenPort> and <SocksListenPort> are both 1080 on "
	    "overlapping addresses (0.0.0.0 and 127.0.0.1)");
	/* HttpListenIP follows SocksListenIP when not given. */
	load_one_error(network_xml("\n<HttpListenPort>1080</HttpListenPort>"),
	    4, "<SocksListenPort> and <HttpListenPort> are both 1080 on "
	    "overlapping addresses (127.0.0.1 and 127.0.0.1)");
	/* "::" and "*" cover everything. */
	load_one_error(network_xml("<AMTListenIP>::</AMTListenIP>"
	    "<AMTListenPort>8080</AMTListenPort>"), 3,
	    "<AMTListenPort> and <HttpListenPort> are both 8080 on "
	    "overlapping addresses (:: and 127.0.0.1)");
	load_one_error(network_xml("<HttpListenIP>*</HttpListenIP>"
	    "<HttpListenPort>1080</HttpListenPort>"), 3,
	    "<SocksListenPort> and <HttpListenPort> are both 1080 on "
	    "overlapping addresses (127.0.0.1 and *)");
	/* An IPv4-mapped address is the IPv4 address. */
	load_one_error(network_xml("<HttpListenIP>::ffff:127.0.0.1"
	    "</HttpListenIP><HttpListenPort>1080</HttpListenPort>"), 3,
	    "<SocksListenPort> and <HttpListenPort> are both 1080 on "
	    "overlapping addresses (127.0.0.1 and ::ffff:127.0.0.1)");
}
END_TEST

START_TEST(test_listen_ports_no_conflict)
{
	/* Same port on distinct addresses is fine. */
	load_good(network_xml("<SocksListenIP>10.0.0.1</SocksListenIP>"
	    "<HttpListenIP>10.0.0.2</HttpListenIP>"
	    "<HttpListenPort>1080</HttpListenPort>"));
	/* The IPv4 wildcard does not cover an IPv6 address. */
	load_good(network_xml("<SocksListenIP>::1</SocksListenIP>"
	    "<SocksListenPort>4433</SocksListenPort>"));
	/* A bad port is reported once, not again as a conflict. */
	load_one_error(network_xml("<SocksListenPort>x</SocksListenPort>"
	    "<HttpListenPort>1080</HttpListenPort>"), 3,
	    "<SocksListenPort> \"x\" is not a port (1-65535)");
}
END_TEST

static const char *
tunnel_xml(const char *body)
{
	return apr_psprintf(pool, "<MPS>" PLAIN "\n<Tunnel>\n%s\n</Tunnel>"
	    "\n</MPS>\n", body);
}

START_TEST(test_keepalive_vs_idle)
{
	load_one_error(tunnel_xml("<IdleTimeout>30</IdleTimeout>"), 3,
	    "<KeepAliveInterval> 30 s is not less than <IdleTimeout> 30 s, "
	    "so quiet devices would be dropped between keep-alives (or set "
	    "<KeepAliveTiming> never)");
	load_one_error(tunnel_xml("<IdleTimeout>60</IdleTimeout>\n\n"
	    "<KeepAliveInterval>120</KeepAliveInterval>"), 5,
	    "<KeepAliveInterval> 120 s is not less than <IdleTimeout> 60 s, "
	    "so quiet devices would be dropped between keep-alives (or set "
	    "<KeepAliveTiming> never)");
	load_good(tunnel_xml("<IdleTimeout>31</IdleTimeout>"));
	load_good(tunnel_xml("<IdleTimeout>10</IdleTimeout>"
	    "<KeepAliveTiming>never</KeepAliveTiming>"));
	load_good(tunnel_xml("<IdleTimeout>10</IdleTimeout>"
	    "<KeepAliveTiming>NEVER</KeepAliveTiming>"));
}
END_TEST

static const char *
limits_xml(const char *body)
{
	return apr_psprintf(pool, "<MPS>" PLAIN "\n<Limits>\n%s\n</Limits>"
	    "\n</MPS>\n", body);
}

/* PreAuthDropStart is MaxStartups' start: at most full. Left out, it
 * follows MaxPreAuthConnections (half of it). */
START_TEST(test_preauth_drop_start)
{
	mps_config_t *cfg;
	mps_config_errors_t *errs = mps_config_errors_create(pool);

	load_one_error(limits_xml("<MaxPreAuthConnections>100"
	    "</MaxPreAuthConnections>\n<PreAuthDropStart>101"
	    "</PreAuthDropStart>"), 4,
	    "<PreAuthDropStart> 101 is more than <MaxPreAuthConnections> 100 "
	    "(set them equal to turn the early random drop off)");
	load_good(limits_xml("<MaxPreAuthConnections>100"
	    "</MaxPreAuthConnections><PreAuthDropStart>100"
	    "</PreAuthDropStart>"));
	ck_assert_int_eq(mps_config_load(&cfg, static_file(limits_xml(
	    "<MaxPreAuthConnections>100</MaxPreAuthConnections>")), errs,
	    pool), APR_SUCCESS);
	ck_assert_int_eq(cfg->preauth_drop_start, 50);
}
END_TEST

/* AuthQueueLength left out follows MaxPreAuthConnections (every waiting
 * login holds a pre-auth slot); given, it is kept as it is. */
START_TEST(test_auth_queue_follows_preauth)
{
	mps_config_t *cfg;
	mps_config_errors_t *errs = mps_config_errors_create(pool);

	ck_assert_int_eq(mps_config_load(&cfg, static_file(limits_xml(
	    "<MaxPreAuthConnections>3000</MaxPreAuthConnections>")), errs,
	    pool), APR_SUCCESS);
	ck_assert_int_eq(cfg->auth_queue_length, 3000);
	ck_assert_int_eq(mps_config_load(&cfg, static_file(limits_xml(
	    "<MaxPreAuthConnections>3000</MaxPreAuthConnections>"
	    "<AuthQueueLength>40</AuthQueueLength>")), errs, pool),
	    APR_SUCCESS);
	ck_assert_int_eq(cfg->auth_queue_length, 40);
}
END_TEST

START_TEST(test_tls_requirements)
{
	mps_config_errors_t *errs;
	const char *path;

	path = static_file("<MPS>\n\n<TLS>\n<Mode>tls</Mode>\n</TLS>\n</MPS>\n");
	load_static(path, &errs, NULL);
	ck_assert_int_eq(errs->errors->nelts, 2);
	ck_assert_str_eq(error_at(errs, 0), msg(path, 3, "<TLS> Mode is tls "
	    "but <CertificateChainFile> is not set"));
	ck_assert_str_eq(error_at(errs, 1), msg(path, 3, "<TLS> Mode is tls "
	    "but <KeyFile> is not set"));

	load_one_error("<MPS>\n<TLS>\n<CertificateChainFile>c.pem"
	    "</CertificateChainFile>\n</TLS>\n</MPS>\n", 2,
	    "<TLS> Mode is tls (the default) but <KeyFile> is not set");

	load_good("<MPS><TLS><CertificateChainFile>c.pem"
	    "</CertificateChainFile><KeyFile>k.pem</KeyFile></TLS></MPS>");

	load_one_error("<MPS>\n<TLS><Mode>plain</Mode>\n\n"
	    "<VerifyClient>require</VerifyClient>\n</TLS>\n</MPS>\n", 4,
	    "<VerifyClient> require needs <CAFile> (the roots that device "
	    "certificates are verified against)");
	load_one_error("<MPS>\n<TLS><CertificateChainFile>c.pem"
	    "</CertificateChainFile><KeyFile>k.pem</KeyFile>\n"
	    "<VerifyClient>optional</VerifyClient>\n</TLS>\n</MPS>\n", 3,
	    "<VerifyClient> optional needs <CAFile> (the roots that device "
	    "certificates are verified against)");
	load_good("<MPS><TLS><CertificateChainFile>c.pem"
	    "</CertificateChainFile><KeyFile>k.pem</KeyFile><CAFile>ca.pem"
	    "</CAFile><VerifyClient>require</VerifyClient></TLS></MPS>");
}
END_TEST

START_TEST(test_tls_plain_verify_warning)
{
	mps_config_errors_t *errs;
	const char *path;

	path = static_file("<MPS>\n<TLS><Mode>plain</Mode><CAFile>c"
	    "</CAFile>\n<VerifyClient>require</VerifyClient></TLS></MPS>");
	load_static(path, &errs, NULL);
	ck_assert_int_eq(errs->errors->nelts, 0);
	ck_assert_int_eq(errs->warnings->nelts, 1);
	ck_assert_str_eq(warning_at(errs, 0), msg(path, 3, "<VerifyClient> "
	    "require has no effect with <Mode> plain: the TLS terminator in "
	    "front of mpsd verifies devices"));
}
END_TEST

START_TEST(test_mps_address_wildcard_warning)
{
	mps_config_errors_t *errs;
	const char *path;

	path = static_file(network_xml("\n<SocksListenIP>0.0.0.0"
	    "</SocksListenIP>"));
	load_static(path, &errs, NULL);
	ck_assert_int_eq(errs->errors->nelts, 0);
	ck_assert_int_eq(errs->warnings->nelts, 1);
	ck_assert_str_eq(warning_at(errs, 0), msg(path, 4, "<MpsAddress> is "
	    "not set and <SocksListenIP> is 0.0.0.0; notifications will "
	    "announce an address consoles cannot use"));
	/* Given explicitly: no warning. */
	load_good(network_xml("<SocksListenIP>0.0.0.0</SocksListenIP>"
	    "<MpsAddress>mps.example.com</MpsAddress>"));
}
END_TEST

/* AMTProxyProtocol: off by default with nobody trusted; on with nobody
 * trusted is an error (every header would be refused); a list while it
 * is off is a warning; the list is parsed for the AMT side. */
START_TEST(test_proxy_protocol)
{
	mps_config_errors_t *errs;
	mps_config_t *cfg;
	const char *path;

	cfg = load_good("<MPS>" PLAIN "</MPS>");
	ck_assert_int_eq(cfg->amt_proxy_protocol, 0);
	ck_assert_str_eq(cfg->amt_proxy_trusted, "");
	ck_assert_ptr_nonnull(cfg->amt_proxy_trusted_list);
	ck_assert_int_eq(cfg->amt_proxy_trusted_list->nelts, 0);

	cfg = load_good(network_xml("<AMTProxyProtocol>true</AMTProxyProtocol>"
	    "<AMTProxyTrusted>127.0.0.1 10.0.0.0/8</AMTProxyTrusted>"));
	ck_assert_int_eq(cfg->amt_proxy_trusted_list->nelts, 2);
	ck_assert(mps_config_prefix_list_match(cfg->amt_proxy_trusted_list,
	    "10.9.8.7"));
	ck_assert(!mps_config_prefix_list_match(cfg->amt_proxy_trusted_list,
	    "127.0.0.2"));

	load_one_error(network_xml("\n<AMTProxyProtocol>true"
	    "</AMTProxyProtocol>"), 4, "<AMTProxyProtocol> is true but "
	    "<AMTProxyTrusted> lists no address allowed to send the PROXY "
	    "header");
	load_one_error(network_xml("\n<AMTProxyProtocol>true"
	    "</AMTProxyProtocol><AMTProxyTrusted> </AMTProxyTrusted>"), 4,
	    "<AMTProxyProtocol> is true but <AMTProxyTrusted> lists no address "
	    "allowed to send the PROXY header");

	path = static_file(network_xml("\n<AMTProxyTrusted>127.0.0.1"
	    "</AMTProxyTrusted>"));
	load_static(path, &errs, NULL);
	ck_assert_int_eq(errs->errors->nelts, 0);
	ck_assert_int_eq(errs->warnings->nelts, 1);
	ck_assert_str_eq(warning_at(errs, 0), msg(path, 4, "<AMTProxyTrusted> "
	    "is set but <AMTProxyProtocol> is false; the list is not used"));
}
END_TEST

/* ---- mps.config: every error at once ---- */

START_TEST(test_all_errors_reported)
{
	mps_config_errors_t *errs;
	const char *path;
	static const int lines[] = { 3, 4, 8, 9, 11 };
	int i;

	path = static_file(
	    "<MPS>\n"						/* 1 */
	    "  <Network>\n"					/* 2 */
	    "    <AMTListenPort>99999</AMTListenPort>\n"	/* 3 */
	    "    <AMTListenPrt>1</AMTListenPrt>\n"		/* 4 */
	    "  </Network>\n"					/* 5 */
	    "  <Logger>\n"					/* 6 */
	    "    <LogFileMaxSize>8</LogFileMaxSize>\n"		/* 7 */
	    "    <LogFileMaxSize>9</LogFileMaxSize>\n"		/* 8 */
	    "    <LogFileMaxFiles>zero</LogFileMaxFiles>\n"	/* 9 */
	    "  </Logger>\n"					/* 10 */
	    "  <Bogus/>\n"					/* 11 */
	    "  " PLAIN "\n"					/* 12 */
	    "</MPS>\n");					/* 13 */
	load_static(path, &errs, NULL);
	ck_assert_int_eq(errs->errors->nelts, 5);
	for (i = 0; i < 5; i++) {
		const char *prefix = apr_psprintf(pool, "%s:%d: ", path,
		    lines[i]);

		ck_assert_msg(strncmp(error_at(errs, i), prefix,
		    strlen(prefix)) == 0, "error %d is \"%s\", expected "
		    "prefix \"%s\"", i, error_at(errs, i), prefix);
	}
}
END_TEST

/* ---- config_errors ---- */

START_TEST(test_errors_collector)
{
	mps_config_errors_t *errs = mps_config_errors_create(pool);

	ck_assert_int_eq(mps_config_error_count(errs), 0);
	mps_config_error(errs, "f.config", 3, "bad %s %d", "thing", 7);
	mps_config_error(errs, "f.config", 0, "whole file");
	mps_config_warning(errs, "g.config", 9, "careful");
	ck_assert_int_eq(mps_config_error_count(errs), 2);
	ck_assert_str_eq(error_at(errs, 0), "f.config:3: bad thing 7");
	ck_assert_str_eq(error_at(errs, 1), "f.config: whole file");
	ck_assert_int_eq(errs->warnings->nelts, 1);
	ck_assert_str_eq(warning_at(errs, 0), "g.config:9: careful");
}
END_TEST

/* ---- mps_dynamic.config ---- */

struct levels_row {
	const char *text;
	unsigned want;
};

static const struct levels_row levels_rows[] = {
	{ "INFO|ERROR|WARNING", MPS_LOG_INFO | MPS_LOG_ERROR | MPS_LOG_WARNING },
	{ "INFO", MPS_LOG_INFO },
	{ "ERROR", MPS_LOG_ERROR },
	{ "WARNING", MPS_LOG_WARNING },
	{ "DEBUG", MPS_LOG_DEBUG },
	{ "ERROR|WARNING", MPS_LOG_ERROR | MPS_LOG_WARNING },
	{ " DEBUG | INFO ", MPS_LOG_DEBUG | MPS_LOG_INFO },
	{ "WARNING|INFO|DEBUG|ERROR", MPS_LOG_ALL_LEVELS },
	{ "ERROR|ERROR", MPS_LOG_ERROR },
	{ "\n\tINFO\n|\nERROR\n", MPS_LOG_INFO | MPS_LOG_ERROR },
	{ "", 0 },
	{ "  \n ", 0 },
};

#define NLEVELS ((int)(sizeof(levels_rows) / sizeof(levels_rows[0])))

START_TEST(test_trace_levels_parse)
{
	const struct levels_row *r = &levels_rows[_i];
	unsigned levels = 0xdead;
	const char *bad = NULL;

	ck_assert_int_eq(mps_trace_levels_parse(r->text, &levels, &bad,
	    pool), 0);
	ck_assert_uint_eq(levels, r->want);
	ck_assert_ptr_null(bad);
}
END_TEST

START_TEST(test_trace_levels_parse_bad)
{
	static const struct {
		const char *text, *bad;
	} rows[] = {
		{ "INFO|VERBOSE", "VERBOSE" },
		{ "info", "info" },
		{ "INFO||ERROR", "" },
		{ "INFO|", "" },
		{ "|INFO", "" },
		{ "INFO,ERROR", "INFO,ERROR" },
		{ "INFO ERROR", "INFO ERROR" },
	};
	unsigned levels;
	const char *bad;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		levels = 0x55;
		bad = NULL;
		ck_assert_int_eq(mps_trace_levels_parse(rows[i].text, &levels,
		    &bad, pool), -1);
		ck_assert_ptr_nonnull(bad);
		ck_assert_str_eq(bad, rows[i].bad);
		ck_assert_uint_eq(levels, 0x55);	/* untouched */
	}
}
END_TEST

static apr_status_t
load_dynamic(const char *text, unsigned *levels, mps_config_errors_t **errsp,
    const char **pathp)
{
	const char *path = write_file("mps_dynamic.config", text);
	mps_config_errors_t *errs = mps_config_errors_create(pool);
	apr_status_t rv;

	rv = mps_dynamic_config_load(levels, path, errs, pool);
	ck_assert_int_eq(rv, errs->errors->nelts > 0 ? MPS_ERR_CONFIG :
	    APR_SUCCESS);
	*errsp = errs;
	*pathp = path;
	return rv;
}

START_TEST(test_dynamic_valid)
{
	mps_config_errors_t *errs;
	const char *path;
	unsigned levels;

	levels = 0;
	ck_assert_int_eq(load_dynamic("<?xml version=\"1.0\"?>\n"
	    "<MPS_Dynamic>\n  <TraceLevels>DEBUG|ERROR</TraceLevels>\n"
	    "</MPS_Dynamic>\n", &levels, &errs, &path), APR_SUCCESS);
	assert_no_messages(errs);
	ck_assert_uint_eq(levels, MPS_LOG_DEBUG | MPS_LOG_ERROR);

	/* Empty: nothing is logged. */
	levels = MPS_LOG_ALL_LEVELS;
	ck_assert_int_eq(load_dynamic("<MPS_Dynamic><TraceLevels>"
	    "</TraceLevels></MPS_Dynamic>", &levels, &errs, &path),
	    APR_SUCCESS);
	ck_assert_uint_eq(levels, 0);
	levels = MPS_LOG_ALL_LEVELS;
	ck_assert_int_eq(load_dynamic("<MPS_Dynamic><TraceLevels/>"
	    "</MPS_Dynamic>", &levels, &errs, &path), APR_SUCCESS);
	ck_assert_uint_eq(levels, 0);

	/* No element: the guide's recommended levels. */
	levels = 0;
	ck_assert_int_eq(load_dynamic("<MPS_Dynamic>\n<!-- none -->\n"
	    "</MPS_Dynamic>", &levels, &errs, &path), APR_SUCCESS);
	ck_assert_uint_eq(levels, MPS_LOG_DEFAULT_LEVELS);
}
END_TEST

START_TEST(test_dynamic_errors)
{
	mps_config_errors_t *errs;
	const char *path;
	unsigned levels;

	/* A bad token names the token; the levels are left alone. */
	levels = 0x77;
	ck_assert_int_eq(load_dynamic("<MPS_Dynamic>\n\n<TraceLevels>"
	    "INFO|VERBOSE</TraceLevels>\n</MPS_Dynamic>\n", &levels, &errs,
	    &path), MPS_ERR_CONFIG);
	assert_one_error(errs, msg(path, 3, "<TraceLevels> \"INFO|VERBOSE\": "
	    "\"VERBOSE\" is not a trace level (INFO, ERROR, WARNING or "
	    "DEBUG, in capitals, joined by '|')"));
	ck_assert_uint_eq(levels, 0x77);

	ck_assert_int_eq(load_dynamic("<MPS_Dynamic>\n<TraceLevels>"
	    "INFO||ERROR</TraceLevels>\n</MPS_Dynamic>\n", &levels, &errs,
	    &path), MPS_ERR_CONFIG);
	assert_one_error(errs, msg(path, 2, "<TraceLevels> \"INFO||ERROR\" "
	    "has an empty level (two '|' in a row, or one at an end)"));

	ck_assert_int_eq(load_dynamic("<MPS>\n<TraceLevels>INFO"
	    "</TraceLevels>\n</MPS>\n", &levels, &errs, &path),
	    MPS_ERR_CONFIG);
	assert_one_error(errs, msg(path, 1, "the root element is <MPS>; "
	    "expected <MPS_Dynamic>"));

	ck_assert_int_eq(load_dynamic("<MPS_Dynamic>\n<Tracelevels>INFO"
	    "</Tracelevels>\n</MPS_Dynamic>\n", &levels, &errs, &path),
	    MPS_ERR_CONFIG);
	assert_one_error(errs, msg(path, 2, "unknown element <Tracelevels> "
	    "in <MPS_Dynamic> (did you mean <TraceLevels>?)"));

	ck_assert_int_eq(load_dynamic("<MPS_Dynamic>\n<TraceLevels>INFO"
	    "</TraceLevels>\n<TraceLevels>ERROR</TraceLevels>\n"
	    "</MPS_Dynamic>\n", &levels, &errs, &path), MPS_ERR_CONFIG);
	assert_one_error(errs, msg(path, 3, "<TraceLevels> given twice "
	    "(first at line 2)"));

	ck_assert_int_eq(load_dynamic("<MPS_Dynamic>\n<TraceLevels level="
	    "\"x\">INFO</TraceLevels>\n</MPS_Dynamic>\n", &levels, &errs,
	    &path), MPS_ERR_CONFIG);
	assert_one_error(errs, msg(path, 2, "attribute \"level\" on "
	    "<TraceLevels> is not allowed (no element takes attributes)"));

	ck_assert_int_eq(load_dynamic("<MPS_Dynamic>\n<TraceLevels>INFO"
	    "</MPS_Dynamic>\n", &levels, &errs, &path), MPS_ERR_CONFIG);
	assert_one_error(errs, msg(path, 2, "XML syntax error: mismatched "
	    "tag"));

	ck_assert_uint_eq(levels, 0x77);
}
END_TEST

START_TEST(test_dynamic_missing_file)
{
	mps_config_errors_t *errs = mps_config_errors_create(pool);
	const char *path = path_of("none.config");
	unsigned levels = 0x33;

	ck_assert_int_eq(mps_dynamic_config_load(&levels, path, errs, pool),
	    MPS_ERR_CONFIG);
	assert_one_error(errs, msg(path, 0, "cannot open: No such file or "
	    "directory"));
	ck_assert_uint_eq(levels, 0x33);
}
END_TEST

/* ---- NotificationList.config ---- */

struct url_row {
	const char *url;
	const char *scheme, *host;
	unsigned port;
	const char *path;
};

static const struct url_row url_rows[] = {
	{ "http://10.0.0.10:9971/EventNotificationClientService", "http", "10.0.0.10", 9971, "/EventNotificationClientService" },
	{ "https://console.example.com/notify", "https", "console.example.com", 443, "/notify" },
	{ "http://console.example.com", "http", "console.example.com", 80, "/" },
	{ "https://Console.Example.COM:8443", "https", "console.example.com", 8443, "/" },
	{ "HTTP://10.1.1.1/a/b?c=d&e=%20f", "http", "10.1.1.1", 80, "/a/b?c=d&e=%20f" },
	{ "http://[2001:db8::1]:9971/x", "http", "2001:db8::1", 9971, "/x" },
	{ "https://[::1]/", "https", "::1", 443, "/" },
	{ "http://[FE80::A]", "http", "fe80::a", 80, "/" },
	{ "http://localhost:1/", "http", "localhost", 1, "/" },
	{ "http://a-b.c-d.example:65535/p", "http", "a-b.c-d.example", 65535, "/p" },
};

#define NURLS ((int)(sizeof(url_rows) / sizeof(url_rows[0])))

static apr_array_header_t *
load_subs(const char *text, mps_config_errors_t **errsp, const char **pathp,
    apr_status_t *rvp)
{
	const char *path = write_file("NotificationList.config", text);
	mps_config_errors_t *errs = mps_config_errors_create(pool);
	apr_array_header_t *subs = NULL;
	apr_status_t rv;

	rv = mps_notification_list_load(&subs, path, errs, pool);
	ck_assert_ptr_nonnull(subs);
	ck_assert_int_eq(rv, errs->errors->nelts > 0 ? MPS_ERR_CONFIG :
	    APR_SUCCESS);
	*errsp = errs;
	*pathp = path;
	if (rvp != NULL)
		*rvp = rv;
	return subs;
}

static const mps_subscriber_t *
sub_at(const apr_array_header_t *subs, int i)
{
	ck_assert_int_lt(i, subs->nelts);
	return &APR_ARRAY_IDX(subs, i, mps_subscriber_t);
}

START_TEST(test_notification_url)
{
	const struct url_row *r = &url_rows[_i];
	mps_config_errors_t *errs;
	const mps_subscriber_t *s;
	apr_array_header_t *subs;
	const char *path;

	subs = load_subs(apr_psprintf(pool, "# one\n\n%s\n", r->url), &errs,
	    &path, NULL);
	assert_no_messages(errs);
	ck_assert_int_eq(subs->nelts, 1);
	s = sub_at(subs, 0);
	ck_assert_str_eq(s->url, r->url);
	ck_assert_str_eq(s->scheme, r->scheme);
	ck_assert_str_eq(s->host, r->host);
	ck_assert_uint_eq(s->port, r->port);
	ck_assert_str_eq(s->path, r->path);
	ck_assert_int_eq(s->line, 3);
}
END_TEST

START_TEST(test_notification_invalid)
{
	mps_config_errors_t *errs;
	apr_array_header_t *subs;
	const char *path;
	static const struct {
		int line;
		const char *want;
	} want[] = {
		{ 2, "\"ftp://10.0.0.1/x\" is not a subscriber URL: scheme \"ftp\" is not http or https" },
		{ 3, "\"10.0.0.1:80\" is not a subscriber URL: it does not start with http:// or https://" },
		{ 4, "\"http://10.0.0.1:0/x\" is not a subscriber URL: port \"0\" is not a number in 1-65535" },
		{ 5, "\"http://10.0.0.1:65536\" is not a subscriber URL: port \"65536\" is not a number in 1-65535" },
		{ 6, "\"http://10.0.0.1:/x\" is not a subscriber URL: port \"\" is not a number in 1-65535" },
		{ 7, "\"http://:80/x\" is not a subscriber URL: the host is missing" },
		{ 8, "\"http://[10.0.0.1]/\" is not a subscriber URL: \"10.0.0.1\" is not an IPv6 address" },
		{ 9, "\"http://[::1/\" is not a subscriber URL: '[' without ']'" },
		{ 10, "\"http://bad_host/\" is not a subscriber URL: \"bad_host\" is not an IPv4 address or host name" },
		{ 11, "\"http://10.0.0.300/\" is not a subscriber URL: \"10.0.0.300\" is not an IPv4 address or host name" },
		{ 12, "\"http://host/a b\" is not a subscriber URL: the path has a space or non-ASCII character (write it %-encoded)" },
		{ 13, "\"http://[::1]x/\" is not a subscriber URL: \"x/\" after the host is neither :port nor /path" },
		{ 14, "\"http://user@host/\" is not a subscriber URL: \"user@host\" is not an IPv4 address or host name" },
		{ 15, "\"http://2001:db8::1/\" is not a subscriber URL: an IPv6 address must be in brackets, as http://[address]:port/path" },
	};
	size_t i;

	subs = load_subs("http://10.0.0.1/ok\n"
	    "ftp://10.0.0.1/x\n"
	    "10.0.0.1:80\n"
	    "http://10.0.0.1:0/x\n"
	    "http://10.0.0.1:65536\n"
	    "http://10.0.0.1:/x\n"
	    "http://:80/x\n"
	    "http://[10.0.0.1]/\n"
	    "http://[::1/\n"
	    "http://bad_host/\n"
	    "http://10.0.0.300/\n"
	    "http://host/a b\n"
	    "http://[::1]x/\n"
	    "http://user@host/\n"
	    "http://2001:db8::1/\n"
	    "https://10.0.0.2/ok\n", &errs, &path, NULL);
	ck_assert_int_eq(errs->errors->nelts, (int)(sizeof(want) /
	    sizeof(want[0])));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_str_eq(error_at(errs, (int)i),
		    msg(path, want[i].line, want[i].want));
	/* The valid lines are still read. */
	ck_assert_int_eq(subs->nelts, 2);
	ck_assert_int_eq(sub_at(subs, 0)->line, 1);
	ck_assert_int_eq(sub_at(subs, 1)->line, 16);
}
END_TEST

START_TEST(test_notification_more_than_eight)
{
	mps_config_errors_t *errs;
	apr_array_header_t *subs;
	const char *path, *text = "# ten subscribers\n";
	apr_status_t rv;
	int i;

	for (i = 1; i <= 10; i++)
		text = apr_psprintf(pool, "%shttp://10.0.0.%d:9971/n\n", text,
		    i);
	subs = load_subs(text, &errs, &path, &rv);
	ck_assert_int_eq(rv, APR_SUCCESS);
	ck_assert_int_eq(errs->errors->nelts, 0);
	ck_assert_int_eq(subs->nelts, MPS_MAX_SUBSCRIBERS);
	for (i = 0; i < 8; i++) {
		ck_assert_str_eq(sub_at(subs, i)->url, apr_psprintf(pool,
		    "http://10.0.0.%d:9971/n", i + 1));
		ck_assert_int_eq(sub_at(subs, i)->line, i + 2);
	}
	ck_assert_int_eq(errs->warnings->nelts, 2);
	ck_assert_str_eq(warning_at(errs, 0), msg(path, 10,
	    "\"http://10.0.0.9:9971/n\" discarded: at most 8 subscribers "
	    "are supported"));
	ck_assert_str_eq(warning_at(errs, 1), msg(path, 11,
	    "\"http://10.0.0.10:9971/n\" discarded: at most 8 subscribers "
	    "are supported"));
}
END_TEST

START_TEST(test_notification_invalid_do_not_count)
{
	mps_config_errors_t *errs;
	apr_array_header_t *subs;
	const char *path, *text = "bad\n";
	int i;

	/* "up to eight valid entries": invalid ones are not counted. */
	for (i = 1; i <= 8; i++)
		text = apr_psprintf(pool, "%shttp://h%d/\n", text, i);
	subs = load_subs(text, &errs, &path, NULL);
	ck_assert_int_eq(errs->errors->nelts, 1);
	ck_assert_int_eq(errs->warnings->nelts, 0);
	ck_assert_int_eq(subs->nelts, 8);
}
END_TEST

START_TEST(test_notification_comments_crlf_duplicates)
{
	mps_config_errors_t *errs;
	apr_array_header_t *subs;
	const char *path;

	subs = load_subs("\xef\xbb\xbf# Saved by Notepad\r\n"
	    "\r\n"
	    "   # indented comment\r\n"
	    "http://10.0.0.1:9971/a \t\r\n"
	    "\t\r\n"
	    "http://[2001:db8::1]/b\r\n"
	    "HTTP://10.0.0.1:9971/a\r\n"
	    "http://[2001:DB8:0::1]:80/b\r\n"
	    "http://10.0.0.1:9971/A", &errs, &path, NULL);
	ck_assert_int_eq(errs->errors->nelts, 0);
	ck_assert_int_eq(subs->nelts, 3);
	ck_assert_str_eq(sub_at(subs, 0)->url, "http://10.0.0.1:9971/a");
	ck_assert_int_eq(sub_at(subs, 0)->line, 4);
	ck_assert_str_eq(sub_at(subs, 1)->url, "http://[2001:db8::1]/b");
	ck_assert_int_eq(sub_at(subs, 1)->line, 6);
	/* Paths are case-sensitive: /A is another subscriber. */
	ck_assert_str_eq(sub_at(subs, 2)->path, "/A");
	ck_assert_int_eq(sub_at(subs, 2)->line, 9);
	ck_assert_int_eq(errs->warnings->nelts, 2);
	ck_assert_str_eq(warning_at(errs, 0), msg(path, 7,
	    "\"HTTP://10.0.0.1:9971/a\" repeats the subscriber of line 4; "
	    "ignored"));
	ck_assert_str_eq(warning_at(errs, 1), msg(path, 8,
	    "\"http://[2001:DB8:0::1]:80/b\" repeats the subscriber of line "
	    "6; ignored"));
}
END_TEST

START_TEST(test_notification_empty_and_missing)
{
	mps_config_errors_t *errs = mps_config_errors_create(pool);
	apr_array_header_t *subs;
	const char *path;

	subs = load_subs("", &errs, &path, NULL);
	assert_no_messages(errs);
	ck_assert_int_eq(subs->nelts, 0);

	path = path_of("missing.config");
	errs = mps_config_errors_create(pool);
	ck_assert_int_eq(mps_notification_list_load(&subs, path, errs, pool),
	    MPS_ERR_CONFIG);
	assert_one_error(errs, msg(path, 0, "cannot open: No such file or "
	    "directory"));
	ck_assert_int_eq(subs->nelts, 0);
}
END_TEST

START_TEST(test_notification_nul_byte)
{
	mps_config_errors_t *errs = mps_config_errors_create(pool);
	apr_array_header_t *subs;
	const char *path;
	static const char data[] = "http://h1/\nhttp://h2/\0x\nhttp://h3/\n";

	path = write_bytes("NotificationList.config", data, sizeof(data) - 1);
	ck_assert_int_eq(mps_notification_list_load(&subs, path, errs, pool),
	    MPS_ERR_CONFIG);
	assert_one_error(errs, msg(path, 2, "contains a NUL byte; is this a "
	    "text file?"));
	ck_assert_int_eq(subs->nelts, 2);
}
END_TEST

/* ---- AuthorizedServersList.config ---- */

static apr_array_header_t *
load_servers(const char *text, mps_config_errors_t **errsp,
    const char **pathp)
{
	const char *path = write_file("AuthorizedServersList.config", text);
	mps_config_errors_t *errs = mps_config_errors_create(pool);
	apr_array_header_t *servers = NULL;
	apr_status_t rv;

	rv = mps_authorized_servers_load(&servers, path, errs, pool);
	ck_assert_ptr_nonnull(servers);
	ck_assert_int_eq(rv, errs->errors->nelts > 0 ? MPS_ERR_CONFIG :
	    APR_SUCCESS);
	*errsp = errs;
	*pathp = path;
	return servers;
}

static const mps_authorized_server_t *
server_at(const apr_array_header_t *servers, int i)
{
	ck_assert_int_lt(i, servers->nelts);
	return &APR_ARRAY_IDX(servers, i, mps_authorized_server_t);
}

START_TEST(test_servers_valid)
{
	mps_config_errors_t *errs;
	apr_array_header_t *servers;
	const char *path;

	servers = load_servers("# alerts\n"
	    "10.0.0.20:162\r\n"
	    "\n"
	    "Events.Example.COM:8080  \n"
	    "[2001:DB8::20]:162\n"
	    "localhost:65535\n"
	    "[::ffff:10.0.0.21]:1\n", &errs, &path);
	assert_no_messages(errs);
	ck_assert_int_eq(servers->nelts, 5);
	ck_assert_str_eq(server_at(servers, 0)->host, "10.0.0.20");
	ck_assert_uint_eq(server_at(servers, 0)->port, 162);
	ck_assert_int_eq(server_at(servers, 0)->line, 2);
	ck_assert_str_eq(server_at(servers, 1)->host, "events.example.com");
	ck_assert_uint_eq(server_at(servers, 1)->port, 8080);
	ck_assert_int_eq(server_at(servers, 1)->line, 4);
	ck_assert_str_eq(server_at(servers, 2)->host, "2001:db8::20");
	ck_assert_uint_eq(server_at(servers, 2)->port, 162);
	ck_assert_str_eq(server_at(servers, 3)->host, "localhost");
	ck_assert_uint_eq(server_at(servers, 3)->port, 65535);
	ck_assert_str_eq(server_at(servers, 4)->host, "::ffff:10.0.0.21");
	ck_assert_int_eq(server_at(servers, 4)->line, 7);
}
END_TEST

START_TEST(test_servers_errors)
{
	mps_config_errors_t *errs;
	apr_array_header_t *servers;
	const char *path;
	static const struct {
		int line;
		const char *want;
	} want[] = {
		{ 2, "\"10.0.0.1\" is not host:port: the :port is missing" },
		{ 3, "\"10.0.0.1:0\" is not host:port: port \"0\" is not a number in 1-65535" },
		{ 4, "\"10.0.0.1:http\" is not host:port: port \"http\" is not a number in 1-65535" },
		{ 5, "\"2001:db8::1:80\" is not host:port: an IPv6 address must be in brackets, as [address]:port" },
		{ 6, "\"[2001:db8::1]\" is not host:port: the :port is missing" },
		{ 7, "\"[2001:db8::1]80\" is not host:port: the :port is missing" },
		{ 8, "\":80\" is not host:port: the host is missing" },
		{ 9, "\"bad host:80\" is not host:port: \"bad host\" is not an IPv4 address or host name" },
		{ 10, "\"[10.0.0.1]:80\" is not host:port: \"10.0.0.1\" is not an IPv6 address" },
		{ 11, "\"10.0.0.1:70000\" is not host:port: port \"70000\" is not a number in 1-65535" },
		{ 12, "\"http://h:80\" is not host:port: it looks like a URL; write only host:port" },
	};
	size_t i;

	servers = load_servers("ok.example.com:80\n"
	    "10.0.0.1\n"
	    "10.0.0.1:0\n"
	    "10.0.0.1:http\n"
	    "2001:db8::1:80\n"
	    "[2001:db8::1]\n"
	    "[2001:db8::1]80\n"
	    ":80\n"
	    "bad host:80\n"
	    "[10.0.0.1]:80\n"
	    "10.0.0.1:70000\n"
	    "http://h:80\n", &errs, &path);
	ck_assert_int_eq(errs->errors->nelts, (int)(sizeof(want) /
	    sizeof(want[0])));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_str_eq(error_at(errs, (int)i),
		    msg(path, want[i].line, want[i].want));
	ck_assert_int_eq(servers->nelts, 1);
}
END_TEST

START_TEST(test_servers_duplicate_warning)
{
	mps_config_errors_t *errs;
	apr_array_header_t *servers;
	const char *path;

	servers = load_servers("[::1]:162\nHOST:1\n[0:0::1]:162\nhost:1\n"
	    "host:2\n", &errs, &path);
	ck_assert_int_eq(errs->errors->nelts, 0);
	ck_assert_int_eq(servers->nelts, 3);
	ck_assert_int_eq(errs->warnings->nelts, 2);
	ck_assert_str_eq(warning_at(errs, 0), msg(path, 3,
	    "\"[0:0::1]:162\" repeats line 1; ignored"));
	ck_assert_str_eq(warning_at(errs, 1), msg(path, 4,
	    "\"host:1\" repeats line 2; ignored"));
}
END_TEST

START_TEST(test_servers_allows)
{
	mps_config_errors_t *errs;
	apr_array_header_t *servers;
	const char *path;

	servers = load_servers("10.0.0.20:162\nEvents.Example.com:8080\n"
	    "[::1]:623\n[2001:db8::20]:16993\n", &errs, &path);
	assert_no_messages(errs);

	ck_assert(mps_authorized_servers_allows(servers, "10.0.0.20", 162));
	ck_assert(!mps_authorized_servers_allows(servers, "10.0.0.20", 163));
	ck_assert(!mps_authorized_servers_allows(servers, "10.0.0.21", 162));
	ck_assert(mps_authorized_servers_allows(servers, "::ffff:10.0.0.20",
	    162));
	/* Names: any case, an absolute name's final dot. */
	ck_assert(mps_authorized_servers_allows(servers,
	    "events.example.com", 8080));
	ck_assert(mps_authorized_servers_allows(servers,
	    "EVENTS.EXAMPLE.COM", 8080));
	ck_assert(mps_authorized_servers_allows(servers,
	    "events.example.com.", 8080));
	ck_assert(!mps_authorized_servers_allows(servers,
	    "events.example.co", 8080));
	ck_assert(!mps_authorized_servers_allows(servers,
	    "xevents.example.com", 8080));
	/* A final dot on an address makes a name the resolver would look
	 * up in DNS, not the listed address (found by fuzz_udp_send_to). */
	ck_assert(!mps_authorized_servers_allows(servers, "10.0.0.20.", 162));
	ck_assert(!mps_authorized_servers_allows(servers,
	    "::ffff:10.0.0.20.", 162));
	ck_assert(!mps_authorized_servers_allows(servers, "::1.", 623));
	/* IPv6: by value, with or without brackets. */
	ck_assert(mps_authorized_servers_allows(servers, "::1", 623));
	ck_assert(mps_authorized_servers_allows(servers, "0:0::1", 623));
	ck_assert(mps_authorized_servers_allows(servers,
	    "0000:0000:0000:0000:0000:0000:0000:0001", 623));
	ck_assert(mps_authorized_servers_allows(servers, "[::1]", 623));
	ck_assert(mps_authorized_servers_allows(servers, "2001:DB8:0:0::20",
	    16993));
	ck_assert(!mps_authorized_servers_allows(servers, "::2", 623));
	ck_assert(!mps_authorized_servers_allows(servers, "::1", 624));
	/* Nothing odd slips through. */
	ck_assert(!mps_authorized_servers_allows(servers, "", 162));
	ck_assert(!mps_authorized_servers_allows(servers, NULL, 162));
	ck_assert(!mps_authorized_servers_allows(NULL, "10.0.0.20", 162));
	ck_assert(!mps_authorized_servers_allows(servers,
	    apr_psprintf(pool, "%0300d", 1), 162));
}
END_TEST

START_TEST(test_servers_empty_allows_nothing)
{
	mps_config_errors_t *errs;
	apr_array_header_t *servers;
	const char *path;

	servers = load_servers("# nothing\n", &errs, &path);
	assert_no_messages(errs);
	ck_assert_int_eq(servers->nelts, 0);
	ck_assert(!mps_authorized_servers_allows(servers, "10.0.0.1", 80));
}
END_TEST

/* ---- paths ---- */

START_TEST(test_resolve)
{
	ck_assert_str_eq(mps_config_resolve("/etc/mpsd", "a.txt", pool),
	    "/etc/mpsd/a.txt");
	ck_assert_str_eq(mps_config_resolve("/etc/mpsd/", "a.txt", pool),
	    "/etc/mpsd/a.txt");
	ck_assert_str_eq(mps_config_resolve("/etc/mpsd", "./certs/c.pem",
	    pool), "/etc/mpsd/certs/c.pem");
	ck_assert_str_eq(mps_config_resolve("/etc/mpsd", "../x", pool),
	    "/etc/mpsd/../x");
	ck_assert_str_eq(mps_config_resolve("/etc/mpsd", "/var/log/mpsd",
	    pool), "/var/log/mpsd");
	ck_assert_str_eq(mps_config_resolve("/", "x", pool), "/x");
	ck_assert_str_eq(mps_config_resolve(NULL, "x", pool), "x");
	ck_assert_str_eq(mps_config_resolve("", "x", pool), "x");
	ck_assert_ptr_null(mps_config_resolve("/etc", NULL, pool));
}
END_TEST

/* ---- the shipped samples ---- */

static const char *
sample(const char *name)
{
	return apr_pstrcat(pool, unit_srcdir(), "/config/", name, NULL);
}

START_TEST(test_sample_mps_config)
{
	mps_config_errors_t *errs;
	/* Made from config/mps.config.in at build time (paths substituted). */
	const char *path = apr_pstrcat(pool, unit_builddir(),
	    "/config/mps.config", NULL);
	mps_config_t *cfg;
	FILE *f;
	char *text;
	long size;
	int i;

	cfg = load_static(path, &errs, NULL);
	assert_no_messages(errs);
	ck_assert_str_eq(cfg->amt_listen_ip, "0.0.0.0");
	ck_assert_uint_eq(cfg->amt_listen_port, 4433);
	ck_assert_str_eq(cfg->socks_listen_ip, "127.0.0.1");
	ck_assert_uint_eq(cfg->socks_listen_port, 1080);
	ck_assert_uint_eq(cfg->http_listen_port, 8080);
	/* The installed sample follows the configured prefix. */
	ck_assert_str_eq(cfg->log_file_path, MPS_LOGDIR);
	ck_assert_str_eq(cfg->plugin_dir, MPS_PLUGINDIR);
	ck_assert_str_eq(cfg->pid_file, MPS_RUNSTATEDIR "/mpsd/mpsd.pid");
	ck_assert_str_eq(cfg->lock_file, MPS_RUNSTATEDIR "/mpsd/mpsd.lock");
	ck_assert_int_eq(cfg->amt_auth.need_authentication, 1);
	ck_assert_str_eq(cfg->amt_auth.dll_name, "AMTFileAuth");
	ck_assert_str_eq(cfg->amt_auth.dll_parameters, "AMTAuthFile.txt");
	ck_assert_int_eq(cfg->socks_auth.need_authentication, 1);
	ck_assert_str_eq(cfg->socks_auth.dll_name, "SocksFileAuth");
	ck_assert_str_eq(cfg->socks_auth.dll_parameters, "SocksAuthFile.txt");
	ck_assert_int_eq(cfg->tls_mode, MPS_TLS_MODE_TLS);
	ck_assert_int_eq(cfg->tls_profile, MPS_TLS_PROFILE_MODERN);
	ck_assert_str_eq(cfg->tls_cert_chain_file, "certs/server-chain.pem");
	ck_assert_str_eq(cfg->tls_key_file, "certs/server-key.pem");
	ck_assert_str_eq(cfg->tls_ca_file, "certs/ca.pem");
	ck_assert_int_eq(cfg->tls_verify_client, MPS_VERIFY_CLIENT_NONE);

	/* Every parameter appears in the sample. */
	f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	ck_assert(size > 0);
	rewind(f);
	text = apr_palloc(pool, (apr_size_t)size + 1);
	ck_assert_uint_eq(fread(text, 1, (size_t)size, f), (size_t)size);
	text[size] = '\0';
	fclose(f);
	for (i = 0; i < NPARAMS; i++)
		ck_assert_msg(strstr(text, apr_psprintf(pool, "<%s>",
		    param_rows[i].name)) != NULL, "sample lacks <%s>",
		    param_rows[i].name);
}
END_TEST

START_TEST(test_sample_dynamic)
{
	mps_config_errors_t *errs = mps_config_errors_create(pool);
	unsigned levels = 0;

	ck_assert_int_eq(mps_dynamic_config_load(&levels,
	    sample("mps_dynamic.config"), errs, pool), APR_SUCCESS);
	assert_no_messages(errs);
	ck_assert_uint_eq(levels, MPS_LOG_DEFAULT_LEVELS);
}
END_TEST

START_TEST(test_sample_lists)
{
	mps_config_errors_t *errs = mps_config_errors_create(pool);
	apr_array_header_t *list;

	ck_assert_int_eq(mps_notification_list_load(&list,
	    sample("NotificationList.config"), errs, pool), APR_SUCCESS);
	ck_assert_int_eq(mps_authorized_servers_load(&list,
	    sample("AuthorizedServersList.config"), errs, pool), APR_SUCCESS);
	assert_no_messages(errs);
}
END_TEST

/* The demo configuration scripts/quickstart runs must load too. */
START_TEST(test_sample_demo)
{
	mps_config_errors_t *errs;
	apr_array_header_t *list;
	unsigned levels;

	load_static(sample("demo/mps.config"), &errs, NULL);
	assert_no_messages(errs);
	ck_assert_int_eq(mps_dynamic_config_load(&levels,
	    sample("demo/mps_dynamic.config"), errs, pool), APR_SUCCESS);
	ck_assert_int_eq(mps_notification_list_load(&list,
	    sample("demo/NotificationList.config"), errs, pool), APR_SUCCESS);
	ck_assert_int_eq(mps_authorized_servers_load(&list,
	    sample("demo/AuthorizedServersList.config"), errs, pool),
	    APR_SUCCESS);
	assert_no_messages(errs);
}
END_TEST

/* ---- <Notification>: the notifier plugin's parameters ---- */

START_TEST(test_notifier_defaults)
{
	mps_config_t *cfg = load_good("<MPS>" PLAIN "</MPS>\n");

	ck_assert_str_eq(cfg->notifier_plugin, "SOAPNotifier");
	ck_assert_ptr_null(cfg->notification_ca_file);
	ck_assert_int_eq(cfg->notification_timeout, apr_time_from_sec(10));
}
END_TEST

START_TEST(test_notifier_parameters)
{
	mps_config_t *cfg = load_good("<MPS>\n<Notification>\n"
	    "<MCSubscribersList>subs.txt</MCSubscribersList>\n"
	    "<NotifierPlugin>/opt/mpsd/MyNotifier.so</NotifierPlugin>\n"
	    "<NotificationCAFile>certs/console ca.pem</NotificationCAFile>\n"
	    "<NotificationTimeout>3</NotificationTimeout>\n"
	    "</Notification>\n" PLAIN "\n</MPS>\n");

	ck_assert_str_eq(cfg->notification_list_file, "subs.txt");
	ck_assert_str_eq(cfg->notifier_plugin, "/opt/mpsd/MyNotifier.so");
	ck_assert_str_eq(cfg->notification_ca_file, "certs/console ca.pem");
	ck_assert_int_eq(cfg->notification_timeout, apr_time_from_sec(3));
	/* The limits of the timeout. */
	cfg = load_good("<MPS><Notification><NotificationTimeout>3600"
	    "</NotificationTimeout></Notification>" PLAIN "</MPS>\n");
	ck_assert_int_eq(cfg->notification_timeout, apr_time_from_sec(3600));
	cfg = load_good("<MPS><Notification><NotificationTimeout>1"
	    "</NotificationTimeout></Notification>" PLAIN "</MPS>\n");
	ck_assert_int_eq(cfg->notification_timeout, apr_time_from_sec(1));
}
END_TEST

/* Each bad value is one error on its line (3), and the default stays. */
static const char *const notifier_bad_rows[][3] = {
	{ "NotificationTimeout", "0", "<NotificationTimeout> \"0\" is out of "
	    "range (1-3600 seconds)" },
	{ "NotificationTimeout", "3601", "<NotificationTimeout> \"3601\" is "
	    "out of range (1-3600 seconds)" },
	{ "NotificationTimeout", "10s", "<NotificationTimeout> \"10s\" is not "
	    "a whole number of seconds" },
	{ "NotifierPlugin", "", "<NotifierPlugin> is empty" },
	{ "NotificationCAFile", " ", "<NotificationCAFile> is empty" },
};

#define NNOTIFIER_BAD ((int)(sizeof(notifier_bad_rows) / \
	sizeof(notifier_bad_rows[0])))

START_TEST(test_notifier_bad_value)
{
	const char *const *r = notifier_bad_rows[_i];
	mps_config_t *cfg;

	cfg = load_one_error(apr_psprintf(pool, "<MPS>\n<Notification>\n"
	    "<%s>%s</%s>\n</Notification>\n" PLAIN "\n</MPS>\n", r[0], r[1],
	    r[0]), 3, r[2]);
	ck_assert_str_eq(cfg->notifier_plugin, "SOAPNotifier");
	ck_assert_ptr_null(cfg->notification_ca_file);
	ck_assert_int_eq(cfg->notification_timeout, apr_time_from_sec(10));
}
END_TEST

START_TEST(test_notifier_misplaced)
{
	load_one_error("<MPS>\n<Notification_Authentication>\n"
	    "<NotificationTimeout>5</NotificationTimeout>\n"
	    "</Notification_Authentication>\n" PLAIN "\n</MPS>\n", 3,
	    "unknown element <NotificationTimeout> in "
	    "<Notification_Authentication> (<NotificationTimeout> belongs in "
	    "<Notification>)");
	load_one_error("<MPS>\n<Notification>\n"
	    "<NotifierPlugins>x</NotifierPlugins>\n"
	    "</Notification>\n" PLAIN "\n</MPS>\n", 3,
	    "unknown element <NotifierPlugins> in <Notification> (did you "
	    "mean <NotifierPlugin>?)");
}
END_TEST

/* The shipped sample documents them, as it does every parameter. */
START_TEST(test_notifier_sample)
{
	static const char *const names[] = {
		"NotifierPlugin", "NotificationCAFile", "NotificationTimeout"
	};
	mps_config_errors_t *errs;
	/* Made from config/mps.config.in at build time (paths substituted). */
	const char *path = apr_pstrcat(pool, unit_builddir(),
	    "/config/mps.config", NULL);
	mps_config_t *cfg;
	char *text;
	apr_size_t i;
	FILE *f;
	long size;

	cfg = load_static(path, &errs, NULL);
	assert_no_messages(errs);
	ck_assert_str_eq(cfg->notifier_plugin, "SOAPNotifier");
	ck_assert_int_eq(cfg->notification_timeout, apr_time_from_sec(10));
	f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	ck_assert(size > 0);
	rewind(f);
	text = apr_palloc(pool, (apr_size_t)size + 1);
	ck_assert_uint_eq(fread(text, 1, (size_t)size, f), (size_t)size);
	text[size] = '\0';
	fclose(f);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_assert_msg(strstr(text, apr_psprintf(pool, "%s>", names[i]))
		    != NULL, "sample lacks <%s>", names[i]);
}
END_TEST

static TCase *
new_case(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, case_setup, case_teardown);
	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	suite_add_tcase(s, tc);
	return tc;
}

Suite *
unit_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = new_case(s, "static_defaults");
	tcase_add_test(tc, test_defaults_function);
	tcase_add_test(tc, test_defaults_empty_root);
	tcase_add_test(tc, test_defaults_plain);

	tc = new_case(s, "static_parameters");
	tcase_add_loop_test(tc, test_each_parameter, 0, NPARAMS);
	tcase_add_test(tc, test_parameter_table_complete);
	tcase_add_test(tc, test_empty_account_is_none);
	tcase_add_test(tc, test_window_overrun_strict);
	tcase_add_test(tc, test_auth_group_lines);
	tcase_add_test(tc, test_listen_ip_defaults_follow_socks);
	tcase_add_test(tc, test_listen_ip_star_and_comments);

	tc = new_case(s, "static_bad_values");
	tcase_add_loop_test(tc, test_bad_value, 0, NBAD);
	tcase_add_test(tc, test_directory_addresses);
	tcase_add_test(tc, test_peer_link_requirements);
	tcase_add_test(tc, test_value_line_is_start_tag);

	tc = new_case(s, "static_structure");
	tcase_add_test(tc, test_unknown_element);
	tcase_add_test(tc, test_unknown_element_hints);
	tcase_add_test(tc, test_unknown_element_hint_distance);
	tcase_add_test(tc, test_unknown_group);
	tcase_add_test(tc, test_duplicate_element);
	tcase_add_test(tc, test_duplicate_element_value_checked);
	tcase_add_test(tc, test_attributes);
	tcase_add_test(tc, test_text_inside_group);
	tcase_add_test(tc, test_element_inside_value);
	tcase_add_test(tc, test_wrong_root);
	tcase_add_test(tc, test_xml_syntax_error);
	tcase_add_test(tc, test_doctype_refused);
	tcase_add_test(tc, test_nesting_limit);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_directory_not_file);
	tcase_add_test(tc, test_file_too_large);
	tcase_add_test(tc, test_path_as_given);
	tcase_add_test(tc, test_changes);

	tc = new_case(s, "static_cross_checks");
	tcase_add_test(tc, test_dll_name_required);
	tcase_add_test(tc, test_notification_username_required);
	tcase_add_test(tc, test_listen_ports_conflict);
	tcase_add_test(tc, test_listen_ports_no_conflict);
	tcase_add_test(tc, test_keepalive_vs_idle);
	tcase_add_test(tc, test_preauth_drop_start);
	tcase_add_test(tc, test_auth_queue_follows_preauth);
	tcase_add_test(tc, test_tls_requirements);
	tcase_add_test(tc, test_tls_plain_verify_warning);
	tcase_add_test(tc, test_mps_address_wildcard_warning);
	tcase_add_test(tc, test_proxy_protocol);
	tcase_add_test(tc, test_all_errors_reported);
	tcase_add_test(tc, test_errors_collector);

	tc = new_case(s, "dynamic");
	tcase_add_loop_test(tc, test_trace_levels_parse, 0, NLEVELS);
	tcase_add_test(tc, test_trace_levels_parse_bad);
	tcase_add_test(tc, test_dynamic_valid);
	tcase_add_test(tc, test_dynamic_errors);
	tcase_add_test(tc, test_dynamic_missing_file);

	tc = new_case(s, "notification_list");
	tcase_add_loop_test(tc, test_notification_url, 0, NURLS);
	tcase_add_test(tc, test_notification_invalid);
	tcase_add_test(tc, test_notification_more_than_eight);
	tcase_add_test(tc, test_notification_invalid_do_not_count);
	tcase_add_test(tc, test_notification_comments_crlf_duplicates);
	tcase_add_test(tc, test_notification_empty_and_missing);
	tcase_add_test(tc, test_notification_nul_byte);

	tc = new_case(s, "authorized_servers");
	tcase_add_test(tc, test_servers_valid);
	tcase_add_test(tc, test_servers_errors);
	tcase_add_test(tc, test_servers_duplicate_warning);
	tcase_add_test(tc, test_servers_allows);
	tcase_add_test(tc, test_servers_empty_allows_nothing);
	tcase_add_test(tc, test_resolve);

	tc = new_case(s, "samples");
	tcase_add_test(tc, test_sample_mps_config);
	tcase_add_test(tc, test_sample_dynamic);
	tcase_add_test(tc, test_sample_lists);
	tcase_add_test(tc, test_sample_demo);

	tc = new_case(s, "notifier");
	tcase_add_test(tc, test_notifier_defaults);
	tcase_add_test(tc, test_notifier_parameters);
	tcase_add_loop_test(tc, test_notifier_bad_value, 0, NNOTIFIER_BAD);
	tcase_add_test(tc, test_notifier_misplaced);
	tcase_add_test(tc, test_notifier_sample);

	return s;
}
