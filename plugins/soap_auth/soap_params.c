/* SPDX-License-Identifier: Apache-2.0 */
/*
 * soap_params.c: parsing and validating the SOAPAuthentication plugin's
 * DllParameters (the grammar is in soap_params.h).
 *
 * The words are copied once into one heap buffer, unquoted in place, and
 * the fields of struct soap_params point into it; clearing wipes that
 * buffer, since it holds the service's and the proxy's passwords.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "soap_params.h"

#include "plugin_util.h"

#define MAX_WORDS	64

enum opt_kind {
	OPT_STRING,		/* takes the next word */
	OPT_FLAG,		/* stands alone */
	OPT_SECONDS,		/* takes the next word, a timeout */
	OPT_KRB			/* known, refused */
};

struct option {
	const char *name;	/* without the leading dash(es) */
	enum opt_kind kind;
	size_t off;		/* of its field in struct soap_params */
};

#define FIELD(f)	offsetof(struct soap_params, f)

static const struct option options[] = {
	{ "target",		OPT_STRING,	FIELD(target) },
	{ "user",		OPT_STRING,	FIELD(user) },
	{ "pass",		OPT_STRING,	FIELD(pass) },
	{ "cert",		OPT_STRING,	FIELD(cert) },
	{ "key",		OPT_STRING,	FIELD(key) },
	{ "cafile",		OPT_STRING,	FIELD(cafile) },
	{ "tls",		OPT_FLAG,	FIELD(tls) },
	{ "insecure",		OPT_FLAG,	FIELD(insecure) },
	{ "connect-timeout",	OPT_SECONDS,	FIELD(connect_timeout) },
	{ "timeout",		OPT_SECONDS,	FIELD(timeout) },
	{ "proxy",		OPT_STRING,	FIELD(proxy) },
	{ "proxyUserName",	OPT_STRING,	FIELD(proxy_user) },
	{ "proxyPass",		OPT_STRING,	FIELD(proxy_pass) },
	{ "krb",		OPT_KRB,	0 },
};

#define NOPTIONS	(sizeof(options) / sizeof(options[0]))


/*
 * Splits s into words, unquoting them into p->words (allocated here).
 * An empty quoted word ("") is a word: it gives an option an empty value.
 */
static int
split_words(struct soap_params *p, const char *s, const char **words,
    size_t *nwords, char *err, size_t errsize)
{
	size_t n = 0;
	char *out;
	int quoted;

	p->wordsize = strlen(s) + 1;
	if ((p->words = malloc(p->wordsize)) == NULL) {
		mps_pu_seterr(err, errsize, "DllParameters: out of memory");
		return -1;
	}
	out = p->words;
	for (;;) {
		while (mps_pu_is_blank((unsigned char)*s))
			s++;
		if (*s == '\0')
			break;
		if (n == MAX_WORDS) {
			mps_pu_seterr(err, errsize, "DllParameters: more than %d "
			    "words", MAX_WORDS);
			return -1;
		}
		/* Each word's copy is no longer than its text, and the
		 * blank or NUL that ends it leaves room for its NUL. */
		words[n++] = out;
		quoted = 0;
		while (*s != '\0' && (quoted || !mps_pu_is_blank((unsigned char)*s))) {
			if (*s == '"') {
				quoted = !quoted;
				s++;
			} else if (quoted && *s == '\\' &&
			    (s[1] == '"' || s[1] == '\\')) {
				*out++ = s[1];
				s += 2;
			} else
				*out++ = *s++;
		}
		if (quoted) {
			mps_pu_seterr(err, errsize, "DllParameters: unterminated "
			    "double quote");
			return -1;
		}
		*out++ = '\0';
	}
	*nwords = n;
	return 0;
}

static const struct option *
find_option(const char *word)
{
	size_t i;

	if (word[0] != '-')
		return NULL;
	word += word[1] == '-' ? 2 : 1;
	for (i = 0; i < NOPTIONS; i++)
		if (strcasecmp(word, options[i].name) == 0)
			return &options[i];
	return NULL;
}

/*
 * Names an unknown option in a message, but only when it looks like an
 * option name: a word that does not may be a misplaced password.
 */
static const char *
shown_option(const char *word)
{
	size_t i, len = strlen(word);

	if (len < 2 || len > 32)
		return NULL;
	for (i = 1; i < len; i++) {
		unsigned char c = (unsigned char)word[i];
		if (!(c == '-' || c == '_' || (c >= '0' && c <= '9') ||
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return NULL;
	}
	return word;
}

static int
parse_seconds(const char *word, long *out)
{
	char *end;
	long v;

	if (*word < '0' || *word > '9')
		return -1;
	errno = 0;
	v = strtol(word, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > SOAP_TIMEOUT_MAX)
		return -1;
	*out = v;
	return 0;
}

/* Stores one option's value. Returns the words consumed, or -1. */
static int
take_option(struct soap_params *p, const struct option *o,
    const char *const *words, size_t left, char *err, size_t errsize)
{
	char *field = (char *)p + o->off;

	switch (o->kind) {
	case OPT_KRB:
		mps_pu_seterr(err, errsize, "DllParameters: Kerberos is not "
		    "supported (-krb): use -user/-pass or -cert");
		return -1;
	case OPT_FLAG:
		*(int *)(void *)field = 1;
		return 1;
	case OPT_STRING:
	case OPT_SECONDS:
		break;
	}
	if (left < 2) {
		mps_pu_seterr(err, errsize, "DllParameters: -%s needs a value",
		    o->name);
		return -1;
	}
	if (o->kind == OPT_STRING) {
		*(const char **)(void *)field = words[1];
		return 2;
	}
	if (parse_seconds(words[1], (long *)(void *)field) != 0) {
		mps_pu_seterr(err, errsize, "DllParameters: -%s wants a whole number "
		    "of seconds from 1 to %d", o->name, SOAP_TIMEOUT_MAX);
		return -1;
	}
	return 2;
}

static int
parse_words(struct soap_params *p, const char *const *words, size_t n,
    char *err, size_t errsize)
{
	unsigned given = 0;
	size_t i = 0;
	int used;

	while (i < n) {
		const struct option *o = find_option(words[i]);
		unsigned bit;

		if (o == NULL) {
			const char *shown = shown_option(words[i]);

			if (words[i][0] != '-')
				mps_pu_seterr(err, errsize, "DllParameters: word %zu "
				    "is not an option (is a value missing its "
				    "option, or in need of quotes?)", i + 1);
			else if (shown != NULL)
				mps_pu_seterr(err, errsize, "DllParameters: unknown "
				    "option %s", shown);
			else
				mps_pu_seterr(err, errsize, "DllParameters: word %zu "
				    "is an unknown option", i + 1);
			return -1;
		}
		bit = 1u << (unsigned)(o - options);
		if (given & bit) {
			mps_pu_seterr(err, errsize, "DllParameters: -%s given twice",
			    o->name);
			return -1;
		}
		given |= bit;
		if ((used = take_option(p, o, words + i, n - i, err,
		    errsize)) < 0)
			return -1;
		i += (size_t)used;
	}
	return 0;
}

/*
 * Checks a URL with libcurl's own parser, so that what we accept is what
 * libcurl will use. want_https receives whether the scheme is https.
 * Credentials in the URL are refused: they would end up in log lines
 * that quote the URL.
 */
static int
check_url(const char *url, const char *what, int is_proxy, int *is_https,
    char *err, size_t errsize)
{
	static const char *const proxy_schemes[] = {
		"http", "https", "socks4", "socks4a", "socks5", "socks5h"
	};
	CURLU *u;
	char *scheme = NULL, *host = NULL, *user = NULL, *pw = NULL;
	int rc = -1;
	size_t i;

	if ((u = curl_url()) == NULL) {
		mps_pu_seterr(err, errsize, "DllParameters: out of memory");
		return -1;
	}
	/* For a proxy: http:// by default, as libcurl has it, and socks
	 * schemes, which its URL parser does not know by itself. */
	if (curl_url_set(u, CURLUPART_URL, url, is_proxy ?
	    CURLU_DEFAULT_SCHEME | CURLU_NON_SUPPORT_SCHEME : 0) !=
	    CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    *host == '\0') {
		mps_pu_seterr(err, errsize, "DllParameters: %s is not a valid URL",
		    what);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_NO_USER ||
	    curl_url_get(u, CURLUPART_PASSWORD, &pw, 0) !=
	    CURLUE_NO_PASSWORD) {
		mps_pu_seterr(err, errsize, "DllParameters: %s must not hold "
		    "credentials (use %s)", what, is_proxy ?
		    "-proxyUserName and -proxyPass" : "-user and -pass");
		goto out;
	}
	if (is_proxy) {
		for (i = 0; i < sizeof(proxy_schemes) /
		    sizeof(proxy_schemes[0]); i++)
			if (strcmp(scheme, proxy_schemes[i]) == 0)
				break;
		if (i == sizeof(proxy_schemes) / sizeof(proxy_schemes[0])) {
			mps_pu_seterr(err, errsize, "DllParameters: %s: unsupported "
			    "scheme %s", what, scheme);
			goto out;
		}
	} else if (strcmp(scheme, "http") != 0 &&
	    strcmp(scheme, "https") != 0) {
		mps_pu_seterr(err, errsize, "DllParameters: %s must be an http:// or "
		    "https:// URL", what);
		goto out;
	}
	if (is_https != NULL)
		*is_https = strcmp(scheme, "https") == 0;
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(pw);
	curl_url_cleanup(u);
	return rc;
}

/* The rules that tie options together. */
static int
check_combinations(struct soap_params *p, char *err, size_t errsize)
{
	if (p->target == NULL) {
		mps_pu_seterr(err, errsize, "DllParameters: -target URL is required "
		    "(e.g. -target http://host:7792/MPSAuthenticationService)");
		return -1;
	}
	if (check_url(p->target, "-target", 0, &p->https, err, errsize) != 0)
		return -1;
	if (p->tls && !p->https) {
		mps_pu_seterr(err, errsize, "DllParameters: -tls requires an "
		    "https:// -target");
		return -1;
	}
	if ((p->user == NULL) != (p->pass == NULL)) {
		mps_pu_seterr(err, errsize, "DllParameters: -user and -pass go "
		    "together");
		return -1;
	}
	if (p->key != NULL && p->cert == NULL) {
		mps_pu_seterr(err, errsize, "DllParameters: -key needs -cert");
		return -1;
	}
	if (p->cert != NULL && !p->https) {
		mps_pu_seterr(err, errsize, "DllParameters: -cert needs an https:// "
		    "-target");
		return -1;
	}
	if (p->insecure && p->cafile != NULL) {
		mps_pu_seterr(err, errsize, "DllParameters: -insecure and -cafile "
		    "contradict each other");
		return -1;
	}
	if ((p->proxy_user == NULL) != (p->proxy_pass == NULL)) {
		mps_pu_seterr(err, errsize, "DllParameters: -proxyUserName and "
		    "-proxyPass go together");
		return -1;
	}
	if (p->proxy_user != NULL && p->proxy == NULL) {
		mps_pu_seterr(err, errsize, "DllParameters: -proxyUserName needs "
		    "-proxy");
		return -1;
	}
	if (p->proxy != NULL && check_url(p->proxy, "-proxy", 1, NULL, err,
	    errsize) != 0)
		return -1;
	return 0;
}

int
mps_soap_params_parse(struct soap_params *p, const char *paramStr,
    char *err, size_t errsize)
{
	const char *words[MAX_WORDS];
	size_t n = 0;

	memset(p, 0, sizeof(*p));
	p->connect_timeout = SOAP_DEFAULT_CONNECT_TIMEOUT;
	p->timeout = SOAP_DEFAULT_TIMEOUT;
	if (strlen(paramStr) > SOAP_PARAMS_MAX) {
		mps_pu_seterr(err, errsize, "DllParameters: longer than %d bytes",
		    SOAP_PARAMS_MAX);
		return -1;
	}
	if (split_words(p, paramStr, words, &n, err, errsize) != 0 ||
	    parse_words(p, words, n, err, errsize) != 0 ||
	    check_combinations(p, err, errsize) != 0)
		return -1;
	return 0;
}

static int
check_file(const char *path, const char *opt, char *err, size_t errsize)
{
	char ebuf[128];
	int e;

	if (path == NULL || access(path, R_OK) == 0)
		return 0;
	e = errno;
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
	mps_pu_seterr(err, errsize, "DllParameters: cannot read %s %s: %s", opt,
	    path, strerror_r(e, ebuf, sizeof(ebuf)));
#else
	if (strerror_r(e, ebuf, sizeof(ebuf)) != 0)
		(void)snprintf(ebuf, sizeof(ebuf), "error %d", e);
	mps_pu_seterr(err, errsize, "DllParameters: cannot read %s %s: %s", opt,
	    path, ebuf);
#endif
	return -1;
}

int
mps_soap_params_check_files(const struct soap_params *p, char *err,
    size_t errsize)
{
	if (check_file(p->cert, "-cert", err, errsize) != 0 ||
	    check_file(p->key, "-key", err, errsize) != 0 ||
	    check_file(p->cafile, "-cafile", err, errsize) != 0)
		return -1;
	return 0;
}

void
mps_soap_params_clear(struct soap_params *p)
{
	if (p->words != NULL) {
		explicit_bzero(p->words, p->wordsize);
		free(p->words);
	}
	memset(p, 0, sizeof(*p));
}
