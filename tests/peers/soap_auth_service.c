/* SPDX-License-Identifier: Apache-2.0 */
/*
 * soap_auth_service.c: a test implementation of the MPSAuthentication
 * SOAP service (config/MPSAuthentication.wsdl), for the SOAPAuthentication
 * plugin's tests. It is strict about what it receives and can misbehave
 * on purpose.
 *
 * usage: soap_auth_service [-users FILE] [-basic U:P] [-proxy-basic U:P]
 *            [-cert CHAIN -key KEY [-client-ca CA]] [-watch-stdin]
 *
 * It listens on 127.0.0.1, on a port the system picks, prints that port
 * on a line of its own on stdout, and serves each connection in a thread
 * (one request per connection; it answers "Connection: close").
 *
 *   -users FILE      user:password lines (the first ':' separates; lines
 *                    that are empty or start with '#' are skipped; only
 *                    the LF is removed, a CR is part of the password)
 *   -basic U:P       require these HTTP Basic credentials (401 otherwise)
 *   -proxy-basic U:P also act as an HTTP proxy (absolute-form requests,
 *                    served here as if forwarded) that requires these
 *                    Proxy-Authorization credentials (407 otherwise)
 *   -cert, -key      serve HTTPS with this chain and key
 *   -client-ca CA    and require a client certificate issued by CA
 *   -watch-stdin     exit when stdin reaches end of file, so that the
 *                    service cannot outlive a test that dies
 *
 * Every request is checked against the WSDL: POST, Content-Type text/xml
 * with charset utf-8, the quoted SOAPAction, a Content-Length, no Expect
 * or chunked body, and a SOAP 1.1 envelope whose Body holds exactly
 * mpa:AuthenticateRequest{mpa:AuthenticateId, mpa:AuthenticatePassword},
 * qualified, in that order, with nothing else and no DOCTYPE. A request
 * that fails a check gets a Client Fault saying which (HTTP 500).
 *
 * The answer depends on the path and the user:
 *   /MPSAuthenticationService   AuthenticateResponse, true when the pair
 *                               is in -users, else false
 *   /style/unqualified          the same with an unqualified
 *                               AuthenticateResult (no namespace)
 *   /style/prefixed             other prefixes, a Header, blanks
 *   /style/defaultns            default namespaces, no prefixes at all
 *   /style/numeric              "1" and "0"
 *   /bad/...                    a wrong answer that must never grant
 *                               (see the routes table)
 *   anything else               404
 * and, on any path, these users:
 *   fault-user     a Server Fault (HTTP 500)
 *   echo-user      a Client Fault quoting the password it received
 *   http500-user   HTTP 500 with an HTML body
 *   hang-user      no answer at all, until the client hangs up
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <expat.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#define ENV_NS	"http://schemas.xmlsoap.org/soap/envelope/"
#define MPA_NS	\
	"http://schemas.intel.com/platform/client/MPSAuthentication/2006/01"
#define ACTION	"\"" MPA_NS "/Authenticate\""

#define HEAD_MAX	16384		/* request line and headers */
#define BODY_MAX	(512 * 1024)
#define FIELD_MAX	(128 * 1024)	/* AuthenticateId, -Password */
#define IO_TIMEOUT	30		/* seconds, per read or write */

/* ---- configuration ---------------------------------------------------- */

struct user {
	char *name, *password;
};

static struct user *users;
static size_t nusers;
static char *basic_expected;	/* base64 of USER:PASS, or NULL */
static char *proxy_expected;	/* the same for -proxy-basic */
static SSL_CTX *tls;

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "soap_auth_service: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void
load_users(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *colon;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0 || line[0] == '#' ||
		    (colon = strchr(line, ':')) == NULL)
			continue;
		*colon = '\0';
		users = realloc(users, (nusers + 1) * sizeof(*users));
		if (users == NULL ||
		    (users[nusers].name = strdup(line)) == NULL ||
		    (users[nusers].password = strdup(colon + 1)) == NULL)
			die("out of memory");
		nusers++;
	}
	free(line);
	fclose(f);
}

static int
user_ok(const char *name, const char *password)
{
	size_t i;

	for (i = 0; i < nusers; i++)
		if (strcmp(users[i].name, name) == 0)
			return strcmp(users[i].password, password) == 0;
	return 0;
}

static char *
base64(const char *userpass)
{
	size_t len = strlen(userpass);
	char *out;

	if ((out = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
		die("out of memory");
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)userpass,
	    (int)len);
	return out;
}

static void
setup_tls(const char *cert, const char *key, const char *client_ca)
{
	if ((tls = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate_chain_file(tls, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(tls, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(tls) != 1)
		die("cannot use %s and %s", cert, key);
	if (client_ca != NULL) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(client_ca);

		if (names == NULL ||
		    SSL_CTX_load_verify_locations(tls, client_ca, NULL) != 1)
			die("cannot use %s", client_ca);
		SSL_CTX_set_client_CA_list(tls, names);
		SSL_CTX_set_verify(tls, SSL_VERIFY_PEER |
		    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
}

/* ---- a connection ------------------------------------------------------ */

struct conn {
	int fd;
	SSL *ssl;
};

static ssize_t
conn_read(struct conn *c, char *buf, size_t len)
{
	ssize_t n;

	if (c->ssl != NULL) {
		int r = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX :
		    (int)len);
		return r > 0 ? r : -1;
	}
	do {
		n = recv(c->fd, buf, len, 0);
	} while (n < 0 && errno == EINTR);
	return n > 0 ? n : -1;
}

static int
conn_write(struct conn *c, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, buf, len > INT32_MAX ?
			    INT32_MAX : (int)len);
			n = r > 0 ? r : -1;
		} else {
			n = send(c->fd, buf, len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
		}
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- the request ------------------------------------------------------- */

struct request {
	char head[HEAD_MAX + 1];
	char *body;
	size_t bodylen;
	char *method, *path;	/* all point into head */
	char *content_type, *soap_action, *authorization, *expect,
	    *transfer_encoding, *content_length, *proxy_authorization;
};

/* Reads up to the end of the headers; what follows stays in *extra. */
static int
read_head(struct conn *c, struct request *rq, size_t *headlen,
    size_t *got)
{
	char *end;
	ssize_t n;

	*got = 0;
	for (;;) {
		if (*got == HEAD_MAX)
			return -1;
		if ((n = conn_read(c, rq->head + *got, HEAD_MAX - *got)) < 0)
			return -1;
		*got += (size_t)n;
		rq->head[*got] = '\0';
		/* Not HTTP (a TLS ClientHello, say): hang up at once. */
		if (rq->head[0] < 'A' || rq->head[0] > 'Z')
			return -1;
		if ((end = strstr(rq->head, "\r\n\r\n")) != NULL) {
			*headlen = (size_t)(end - rq->head) + 4;
			return 0;
		}
	}
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* Splits the head in place into the request line and known headers. */
static int
parse_head(struct request *rq)
{
	char *line, *next, *colon, *sp;

	line = rq->head;
	if ((next = strstr(line, "\r\n")) == NULL)
		return -1;
	*next = '\0';
	if ((sp = strchr(line, ' ')) == NULL)
		return -1;
	*sp = '\0';
	rq->method = line;
	rq->path = sp + 1;
	if ((sp = strchr(sp + 1, ' ')) == NULL || strcmp(sp + 1,
	    "HTTP/1.1") != 0)
		return -1;
	*sp = '\0';
	for (line = next + 2; *line != '\0' && strncmp(line, "\r\n", 2) != 0;
	    line = next + 2) {
		if ((next = strstr(line, "\r\n")) == NULL)
			return -1;
		*next = '\0';
		if ((colon = strchr(line, ':')) == NULL)
			return -1;
		*colon = '\0';
		if (strcasecmp(line, "Content-Type") == 0)
			rq->content_type = trim(colon + 1);
		else if (strcasecmp(line, "SOAPAction") == 0)
			rq->soap_action = trim(colon + 1);
		else if (strcasecmp(line, "Authorization") == 0)
			rq->authorization = trim(colon + 1);
		else if (strcasecmp(line, "Proxy-Authorization") == 0)
			rq->proxy_authorization = trim(colon + 1);
		else if (strcasecmp(line, "Expect") == 0)
			rq->expect = trim(colon + 1);
		else if (strcasecmp(line, "Transfer-Encoding") == 0)
			rq->transfer_encoding = trim(colon + 1);
		else if (strcasecmp(line, "Content-Length") == 0)
			rq->content_length = trim(colon + 1);
	}
	return 0;
}

static int
read_body(struct conn *c, struct request *rq, const char *extra,
    size_t extralen, char *why, size_t whysize)
{
	char *end;
	unsigned long cl;
	ssize_t n;

	if (rq->content_length == NULL) {
		snprintf(why, whysize, "no Content-Length");
		return -1;
	}
	errno = 0;
	cl = strtoul(rq->content_length, &end, 10);
	if (errno != 0 || *end != '\0' || cl > BODY_MAX || extralen > cl) {
		snprintf(why, whysize, "bad Content-Length");
		return -1;
	}
	if ((rq->body = malloc(cl + 1)) == NULL) {
		snprintf(why, whysize, "out of memory");
		return -1;
	}
	memcpy(rq->body, extra, extralen);
	rq->bodylen = extralen;
	while (rq->bodylen < cl) {
		if ((n = conn_read(c, rq->body + rq->bodylen,
		    cl - rq->bodylen)) < 0) {
			snprintf(why, whysize, "body shorter than "
			    "Content-Length");
			return -1;
		}
		rq->bodylen += (size_t)n;
	}
	rq->body[rq->bodylen] = '\0';
	return 0;
}

/* "text/xml; charset=utf-8", parameters in any case and spacing. */
static int
content_type_ok(const char *ct)
{
	const char *p;

	if (ct == NULL || strncasecmp(ct, "text/xml", 8) != 0)
		return 0;
	p = ct + 8;
	while (*p == ' ')
		p++;
	if (*p++ != ';')
		return 0;
	while (*p == ' ')
		p++;
	return strncasecmp(p, "charset=", 8) == 0 &&
	    (strcasecmp(p + 8, "utf-8") == 0 ||
	    strcasecmp(p + 8, "\"utf-8\"") == 0);
}

/* ---- the envelope ------------------------------------------------------ */

struct envelope {
	XML_Parser xp;
	int depth, failed;
	char why[200];
	int seen_body, seen_request, seen_id, seen_pw;
	int field;		/* 1 id, 2 password, 0 none */
	char *id, *pw;		/* FIELD_MAX + 1 bytes each */
	size_t idlen, pwlen;
};

static void
env_fail(struct envelope *e, const char *fmt, ...)
{
	va_list ap;

	if (e->failed)
		return;
	e->failed = 1;
	va_start(ap, fmt);
	vsnprintf(e->why, sizeof(e->why), fmt, ap);
	va_end(ap);
	XML_StopParser(e->xp, XML_FALSE);
}

/* Is expat's "ns|local" name exactly {ns}local? */
static int
is(const char *name, const char *ns, const char *local)
{
	size_t n = strlen(ns);

	return strncmp(name, ns, n) == 0 && name[n] == '|' &&
	    strcmp(name + n + 1, local) == 0;
}

static void XMLCALL
env_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct envelope *e = arg;

	(void)attrs;
	e->depth++;
	if (e->field != 0) {
		env_fail(e, "element %s inside a text field", name);
		return;
	}
	switch (e->depth) {
	case 1:
		if (!is(name, ENV_NS, "Envelope"))
			env_fail(e, "root is %s, not a SOAP 1.1 Envelope",
			    name);
		break;
	case 2:
		if (!is(name, ENV_NS, "Body") || e->seen_body)
			env_fail(e, "unexpected %s in the Envelope", name);
		e->seen_body = 1;
		break;
	case 3:
		if (!is(name, MPA_NS, "AuthenticateRequest") ||
		    e->seen_request)
			env_fail(e, "unexpected %s in the Body", name);
		e->seen_request = 1;
		break;
	case 4:
		if (is(name, MPA_NS, "AuthenticateId") && !e->seen_id) {
			e->seen_id = 1;
			e->field = 1;
		} else if (is(name, MPA_NS, "AuthenticatePassword") &&
		    e->seen_id && !e->seen_pw) {
			e->seen_pw = 1;
			e->field = 2;
		} else
			env_fail(e, "unexpected %s in AuthenticateRequest "
			    "(qualified AuthenticateId then "
			    "AuthenticatePassword expected)", name);
		break;
	default:
		env_fail(e, "unexpected %s", name);
	}
}

static void XMLCALL
env_end(void *arg, const XML_Char *name)
{
	struct envelope *e = arg;

	(void)name;
	if (e->depth-- == 4)
		e->field = 0;
}

static void XMLCALL
env_text(void *arg, const XML_Char *s, int len)
{
	struct envelope *e = arg;
	char *buf;
	size_t *blen;
	int i;

	if (e->field == 0) {
		for (i = 0; i < len; i++)
			if (!isspace((unsigned char)s[i])) {
				env_fail(e, "text outside the fields");
				return;
			}
		return;
	}
	buf = e->field == 1 ? e->id : e->pw;
	blen = e->field == 1 ? &e->idlen : &e->pwlen;
	if ((size_t)len > FIELD_MAX - *blen) {
		env_fail(e, "field too long");
		return;
	}
	memcpy(buf + *blen, s, (size_t)len);
	*blen += (size_t)len;
	buf[*blen] = '\0';
}

static void XMLCALL
env_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int internal)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)internal;
	env_fail(arg, "a DOCTYPE in a SOAP message");
}

/* Parses the request body. Returns 0, or -1 with e->why. */
static int
parse_envelope(struct envelope *e, const char *body, size_t len)
{
	if ((e->id = calloc(1, FIELD_MAX + 1)) == NULL ||
	    (e->pw = calloc(1, FIELD_MAX + 1)) == NULL ||
	    (e->xp = XML_ParserCreateNS(NULL, '|')) == NULL) {
		snprintf(e->why, sizeof(e->why), "out of memory");
		return -1;
	}
	XML_SetUserData(e->xp, e);
	XML_SetElementHandler(e->xp, env_start, env_end);
	XML_SetCharacterDataHandler(e->xp, env_text);
	XML_SetStartDoctypeDeclHandler(e->xp, env_doctype);
	if (XML_Parse(e->xp, body, (int)len, XML_TRUE) != XML_STATUS_OK &&
	    !e->failed)
		snprintf(e->why, sizeof(e->why), "malformed XML: %s",
		    XML_ErrorString(XML_GetErrorCode(e->xp)));
	else if (!e->failed && !e->seen_pw)
		snprintf(e->why, sizeof(e->why), "incomplete "
		    "AuthenticateRequest");
	else if (!e->failed)
		return 0;
	return -1;
}

static void
free_envelope(struct envelope *e)
{
	if (e->xp != NULL)
		XML_ParserFree(e->xp);
	free(e->id);
	free(e->pw);
}

/* ---- answers ----------------------------------------------------------- */

static const char status_text[][2][32] = {
	{ "200", "OK" }, { "302", "Found" }, { "400", "Bad Request" },
	{ "401", "Unauthorized" },
	{ "404", "Not Found" }, { "405", "Method Not Allowed" },
	{ "407", "Proxy Authentication Required" },
	{ "500", "Internal Server Error" },
};

static const char *
reason(int status)
{
	char code[8];
	size_t i;

	snprintf(code, sizeof(code), "%d", status);
	for (i = 0; i < sizeof(status_text) / sizeof(status_text[0]); i++)
		if (strcmp(status_text[i][0], code) == 0)
			return status_text[i][1];
	return "Status";
}

static void
respond(struct conn *c, int status, const char *ctype, const char *extra,
    const char *body, size_t len)
{
	char head[512];
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s"
	    "Connection: close\r\n\r\n", status, reason(status), ctype, len,
	    extra != NULL ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return;
	if (conn_write(c, head, (size_t)n) == 0)
		(void)conn_write(c, body, len);
}

/* A short text/plain answer. */
static void
respond_text(struct conn *c, int status, const char *extra, const char *text)
{
	respond(c, status, "text/plain", extra, text, strlen(text));
}

static void
respond_xml(struct conn *c, int status, const char *xml)
{
	respond(c, status, "text/xml; charset=utf-8", NULL, xml, strlen(xml));
}

/* Escapes s for XML text into a new buffer. */
static char *
escape(const char *s)
{
	char *out = malloc(strlen(s) * 6 + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': o += sprintf(o, "&amp;"); break;
		case '<': o += sprintf(o, "&lt;"); break;
		case '>': o += sprintf(o, "&gt;"); break;
		case '\r': o += sprintf(o, "&#13;"); break;
		default: *o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

static void
respond_fault(struct conn *c, int status, const char *code,
    const char *string)
{
	char *esc = escape(string), *xml;
	size_t len;

	if (esc == NULL)
		return;
	len = strlen(esc) + 512;
	if ((xml = malloc(len)) != NULL) {
		snprintf(xml, len, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
		    "<soap:Envelope xmlns:soap=\"" ENV_NS "\"><soap:Body>"
		    "<soap:Fault><faultcode>%s</faultcode>"
		    "<faultstring>%s</faultstring></soap:Fault>"
		    "</soap:Body></soap:Envelope>", code, esc);
		respond_xml(c, status, xml);
		free(xml);
	}
	free(esc);
}

static const char *
answer_standard(int ok)
{
	return ok ?
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"" ENV_NS "\" "
	    "xmlns:mpa=\"" MPA_NS "\"><SOAP-ENV:Body>"
	    "<mpa:AuthenticateResponse><mpa:AuthenticateResult>true"
	    "</mpa:AuthenticateResult></mpa:AuthenticateResponse>"
	    "</SOAP-ENV:Body></SOAP-ENV:Envelope>\n" :
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"" ENV_NS "\" "
	    "xmlns:mpa=\"" MPA_NS "\"><SOAP-ENV:Body>"
	    "<mpa:AuthenticateResponse><mpa:AuthenticateResult>false"
	    "</mpa:AuthenticateResult></mpa:AuthenticateResponse>"
	    "</SOAP-ENV:Body></SOAP-ENV:Envelope>\n";
}

static const char *
answer_unqualified(int ok)
{
	return ok ?
	    "<soap:Envelope xmlns:soap=\"" ENV_NS "\"><soap:Body>"
	    "<ns1:AuthenticateResponse xmlns:ns1=\"" MPA_NS "\">"
	    "<AuthenticateResult>true</AuthenticateResult>"
	    "</ns1:AuthenticateResponse></soap:Body></soap:Envelope>" :
	    "<soap:Envelope xmlns:soap=\"" ENV_NS "\"><soap:Body>"
	    "<ns1:AuthenticateResponse xmlns:ns1=\"" MPA_NS "\">"
	    "<AuthenticateResult>false</AuthenticateResult>"
	    "</ns1:AuthenticateResponse></soap:Body></soap:Envelope>";
}

static const char *
answer_prefixed(int ok)
{
	return ok ?
	    "<?xml version='1.0' encoding='utf-8'?>\r\n"
	    "<S:Envelope xmlns:S='" ENV_NS "'>\r\n <S:Header>"
	    "<x:Ignored xmlns:x='urn:x'><x:AuthenticateResult>false"
	    "</x:AuthenticateResult></x:Ignored></S:Header>\r\n <S:Body>\r\n"
	    "  <zz:AuthenticateResponse xmlns:zz='" MPA_NS "'>\r\n"
	    "   <zz:AuthenticateResult>\r\n\t true \r\n"
	    "</zz:AuthenticateResult>\r\n  </zz:AuthenticateResponse>\r\n"
	    " </S:Body>\r\n</S:Envelope>\r\n" :
	    "<?xml version='1.0' encoding='utf-8'?>\r\n"
	    "<S:Envelope xmlns:S='" ENV_NS "'>\r\n <S:Body>\r\n"
	    "  <zz:AuthenticateResponse xmlns:zz='" MPA_NS "'>\r\n"
	    "   <zz:AuthenticateResult> false </zz:AuthenticateResult>\r\n"
	    "  </zz:AuthenticateResponse>\r\n </S:Body>\r\n</S:Envelope>\r\n";
}

static const char *
answer_defaultns(int ok)
{
	return ok ?
	    "<Envelope xmlns=\"" ENV_NS "\"><Body>"
	    "<AuthenticateResponse xmlns=\"" MPA_NS "\">"
	    "<AuthenticateResult>true</AuthenticateResult>"
	    "</AuthenticateResponse></Body></Envelope>" :
	    "<Envelope xmlns=\"" ENV_NS "\"><Body>"
	    "<AuthenticateResponse xmlns=\"" MPA_NS "\">"
	    "<AuthenticateResult>false</AuthenticateResult>"
	    "</AuthenticateResponse></Body></Envelope>";
}

static const char *
answer_numeric(int ok)
{
	return ok ?
	    "<e:Envelope xmlns:e=\"" ENV_NS "\"><e:Body>"
	    "<m:AuthenticateResponse xmlns:m=\"" MPA_NS "\">"
	    "<m:AuthenticateResult>1</m:AuthenticateResult>"
	    "</m:AuthenticateResponse></e:Body></e:Envelope>" :
	    "<e:Envelope xmlns:e=\"" ENV_NS "\"><e:Body>"
	    "<m:AuthenticateResponse xmlns:m=\"" MPA_NS "\">"
	    "<m:AuthenticateResult>0</m:AuthenticateResult>"
	    "</m:AuthenticateResponse></e:Body></e:Envelope>";
}

/* A response of more than 64 KiB, otherwise a grant. */
static void
answer_oversized(struct conn *c, int chunked)
{
	static const char head[] = "<soap:Envelope xmlns:soap=\"" ENV_NS
	    "\"><soap:Body><!-- ";
	static const char tail[] = " --><m:AuthenticateResponse xmlns:m=\""
	    MPA_NS "\"><m:AuthenticateResult>true</m:AuthenticateResult>"
	    "</m:AuthenticateResponse></soap:Body></soap:Envelope>";
	static const char chunked_head[] = "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/xml\r\nTransfer-Encoding: chunked\r\n"
	    "Connection: close\r\n\r\n";
	size_t pad = 80 * 1024, len = sizeof(head) - 1 + pad + sizeof(tail) - 1;
	char *body = malloc(len), chunk[32];
	size_t off;

	if (body == NULL)
		return;
	memcpy(body, head, sizeof(head) - 1);
	memset(body + sizeof(head) - 1, 'x', pad);
	memcpy(body + sizeof(head) - 1 + pad, tail, sizeof(tail) - 1);
	if (!chunked)
		respond(c, 200, "text/xml", NULL, body, len);
	else if (conn_write(c, chunked_head, sizeof(chunked_head) - 1) == 0) {
		for (off = 0; off < len; off += 4096) {
			size_t n = len - off < 4096 ? len - off : 4096;

			snprintf(chunk, sizeof(chunk), "%zx\r\n", n);
			if (conn_write(c, chunk, strlen(chunk)) != 0 ||
			    conn_write(c, body + off, n) != 0 ||
			    conn_write(c, "\r\n", 2) != 0)
				break;
		}
		(void)conn_write(c, "0\r\n\r\n", 5);
	}
	free(body);
}

/* Answers that must never grant, though most of them say "true". */
static const struct bad_route {
	const char *path;
	int status;
	const char *xml;
} bad_routes[] = {
	{ "/bad/doctype", 200,
	    "<?xml version=\"1.0\"?>\n<!DOCTYPE Envelope [\n"
	    "<!ENTITY t \"true\">]>\n<soap:Envelope xmlns:soap=\"" ENV_NS
	    "\"><soap:Body><m:AuthenticateResponse xmlns:m=\"" MPA_NS "\">"
	    "<m:AuthenticateResult>&t;</m:AuthenticateResult>"
	    "</m:AuthenticateResponse></soap:Body></soap:Envelope>" },
	{ "/bad/malformed", 200,
	    "<soap:Envelope xmlns:soap=\"" ENV_NS "\"><soap:Body>"
	    "<m:AuthenticateResponse xmlns:m=\"" MPA_NS "\">"
	    "<m:AuthenticateResult>true</m:AuthenticateResult>"
	    "</m:AuthenticateResponse></soap:Body>" },
	{ "/bad/missing", 200,
	    "<soap:Envelope xmlns:soap=\"" ENV_NS "\"><soap:Body>"
	    "<m:AuthenticateResponse xmlns:m=\"" MPA_NS "\"/>"
	    "</soap:Body></soap:Envelope>" },
	{ "/bad/notbool", 200,
	    "<soap:Envelope xmlns:soap=\"" ENV_NS "\"><soap:Body>"
	    "<m:AuthenticateResponse xmlns:m=\"" MPA_NS "\">"
	    "<m:AuthenticateResult>yes</m:AuthenticateResult>"
	    "</m:AuthenticateResponse></soap:Body></soap:Envelope>" },
	{ "/bad/wrongns", 200,
	    "<soap:Envelope xmlns:soap=\"" ENV_NS "\"><soap:Body>"
	    "<m:AuthenticateResponse xmlns:m=\"urn:not-mps\">"
	    "<m:AuthenticateResult>true</m:AuthenticateResult>"
	    "</m:AuthenticateResponse></soap:Body></soap:Envelope>" },
	{ "/bad/soap12", 200,
	    "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/"
	    "soap-envelope\"><env:Body><m:AuthenticateResponse xmlns:m=\""
	    MPA_NS "\"><m:AuthenticateResult>true</m:AuthenticateResult>"
	    "</m:AuthenticateResponse></env:Body></env:Envelope>" },
	{ "/bad/twice", 200,
	    "<soap:Envelope xmlns:soap=\"" ENV_NS "\"><soap:Body>"
	    "<m:AuthenticateResponse xmlns:m=\"" MPA_NS "\">"
	    "<m:AuthenticateResult>true</m:AuthenticateResult>"
	    "<m:AuthenticateResult>true</m:AuthenticateResult>"
	    "</m:AuthenticateResponse></soap:Body></soap:Envelope>" },
	{ "/bad/nested", 200,
	    "<soap:Envelope xmlns:soap=\"" ENV_NS "\"><soap:Body>"
	    "<m:AuthenticateResponse xmlns:m=\"" MPA_NS "\">"
	    "<m:AuthenticateResult><b>true</b></m:AuthenticateResult>"
	    "</m:AuthenticateResponse></soap:Body></soap:Envelope>" },
	{ "/bad/500-true", 500,
	    "<soap:Envelope xmlns:soap=\"" ENV_NS "\"><soap:Body>"
	    "<m:AuthenticateResponse xmlns:m=\"" MPA_NS "\">"
	    "<m:AuthenticateResult>true</m:AuthenticateResult>"
	    "</m:AuthenticateResponse></soap:Body></soap:Envelope>" },
	{ "/bad/fault200", 200,
	    "<soap:Envelope xmlns:soap=\"" ENV_NS "\"><soap:Body>"
	    "<soap:Fault><faultcode>soap:Server</faultcode>"
	    "<faultstring>fault\tsent\r\nwith HTTP 200</faultstring>"
	    "<detail><m:AuthenticateResult xmlns:m=\"" MPA_NS "\">true"
	    "</m:AuthenticateResult></detail></soap:Fault>"
	    "</soap:Body></soap:Envelope>" },
	{ "/bad/empty", 200, "" },
	{ "/bad/html", 200, "<html><body>true</body></html>" },
};

typedef const char *(*style_fn)(int);

static const struct style_route {
	const char *path;
	style_fn style;
} style_routes[] = {
	{ "/MPSAuthenticationService", answer_standard },
	{ "/style/unqualified", answer_unqualified },
	{ "/style/prefixed", answer_prefixed },
	{ "/style/defaultns", answer_defaultns },
	{ "/style/numeric", answer_numeric },
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static int
known_path(const char *path)
{
	size_t i;

	for (i = 0; i < NELEM(style_routes); i++)
		if (strcmp(path, style_routes[i].path) == 0)
			return 1;
	for (i = 0; i < NELEM(bad_routes); i++)
		if (strcmp(path, bad_routes[i].path) == 0)
			return 1;
	return strcmp(path, "/bad/oversized") == 0 ||
	    strcmp(path, "/bad/oversized-chunked") == 0 ||
	    strcmp(path, "/bad/redirect") == 0;
}

/* Waits for the client to give up. */
static void
hang(struct conn *c)
{
	char buf[256];

	while (conn_read(c, buf, sizeof(buf)) > 0)
		continue;
}

static void
answer(struct conn *c, const char *path, const char *id, const char *pw)
{
	size_t i;
	char msg[256];

	if (strcmp(id, "fault-user") == 0) {
		respond_fault(c, 500, "soap:Server", "magic fault for "
		    "fault-user");
		return;
	}
	if (strcmp(id, "echo-user") == 0) {
		char *s = malloc(strlen(pw) + 64);

		if (s != NULL) {
			sprintf(s, "wrong password %s for echo-user", pw);
			respond_fault(c, 500, "soap:Client", s);
			free(s);
		}
		return;
	}
	if (strcmp(id, "http500-user") == 0) {
		static const char html[] = "<html>internal error</html>";

		respond(c, 500, "text/html", NULL, html, sizeof(html) - 1);
		return;
	}
	if (strcmp(id, "hang-user") == 0) {
		hang(c);
		return;
	}
	for (i = 0; i < NELEM(style_routes); i++)
		if (strcmp(path, style_routes[i].path) == 0) {
			respond_xml(c, 200, style_routes[i].style(
			    user_ok(id, pw)));
			return;
		}
	for (i = 0; i < NELEM(bad_routes); i++)
		if (strcmp(path, bad_routes[i].path) == 0) {
			respond_xml(c, bad_routes[i].status,
			    bad_routes[i].xml);
			return;
		}
	if (strcmp(path, "/bad/oversized") == 0)
		answer_oversized(c, 0);
	else if (strcmp(path, "/bad/oversized-chunked") == 0)
		answer_oversized(c, 1);
	else if (strcmp(path, "/bad/redirect") == 0)
		respond_text(c, 302, "Location: /MPSAuthenticationService\r\n",
		    "moved");
	else {
		snprintf(msg, sizeof(msg), "no route for %s", path);
		respond_fault(c, 500, "soap:Server", msg);
	}
}

/* Does credentials header h carry Basic with these base64 credentials? */
static int
basic_ok(char *h, const char *expected)
{
	return h != NULL && strncasecmp(h, "Basic ", 6) == 0 &&
	    strcmp(trim(h + 6), expected) == 0;
}

/*
 * An absolute-form request ("POST http://host:port/path"): we are its
 * proxy. Checks the proxy credentials and keeps the path. Returns 0, or
 * -1 having answered.
 */
static int
check_proxy(struct conn *c, struct request *rq)
{
	char *slash;

	if (strncmp(rq->path, "http://", 7) != 0)
		return 0;
	if (proxy_expected == NULL) {
		respond_text(c, 400, NULL, "not a proxy");
		return -1;
	}
	if (!basic_ok(rq->proxy_authorization, proxy_expected)) {
		respond_text(c, 407, "Proxy-Authenticate: Basic "
		    "realm=\"mps-test-proxy\"\r\n", "proxy credentials "
		    "required");
		return -1;
	}
	if ((slash = strchr(rq->path + 7, '/')) == NULL) {
		respond_text(c, 400, NULL, "no path");
		return -1;
	}
	rq->path = slash;
	return 0;
}

/* Checks the HTTP part. Returns 0, or -1 having answered. */
static int
check_http(struct conn *c, struct request *rq)
{
	if (check_proxy(c, rq) != 0)
		return -1;
	if (strcmp(rq->method, "POST") != 0) {
		respond_text(c, 405, "Allow: POST\r\n", "POST only");
		return -1;
	}
	if (!known_path(rq->path)) {
		respond_text(c, 404, NULL, "not found");
		return -1;
	}
	if (basic_expected != NULL && !basic_ok(rq->authorization,
	    basic_expected)) {
		respond_text(c, 401, "WWW-Authenticate: Basic "
		    "realm=\"mps-test\"\r\n", "credentials required");
		return -1;
	}
	if (!content_type_ok(rq->content_type)) {
		respond_fault(c, 500, "soap:Client", "bad request: Content-"
		    "Type must be text/xml; charset=utf-8");
		return -1;
	}
	if (rq->soap_action == NULL || strcmp(rq->soap_action, ACTION) != 0) {
		respond_fault(c, 500, "soap:Client", "bad request: wrong or "
		    "missing SOAPAction");
		return -1;
	}
	if (rq->expect != NULL || rq->transfer_encoding != NULL) {
		respond_fault(c, 500, "soap:Client", "bad request: Expect or "
		    "Transfer-Encoding sent");
		return -1;
	}
	return 0;
}

static void
serve(struct conn *c)
{
	struct request *rq = calloc(1, sizeof(*rq));
	struct envelope env;
	size_t headlen = 0, got = 0;
	char why[256];

	memset(&env, 0, sizeof(env));
	if (rq == NULL || read_head(c, rq, &headlen, &got) != 0)
		goto out;
	if (parse_head(rq) != 0) {
		respond_text(c, 400, NULL, "bad request");
		goto out;
	}
	if (check_http(c, rq) != 0)
		goto out;
	/* The body's first bytes may have come with the head, which
	 * parse_head() left alone past headlen. */
	if (read_body(c, rq, rq->head + headlen, got - headlen, why,
	    sizeof(why)) != 0) {
		respond_fault(c, 500, "soap:Client", why);
		goto out;
	}
	if (parse_envelope(&env, rq->body, rq->bodylen) != 0) {
		snprintf(why, sizeof(why), "bad request: %s", env.why);
		respond_fault(c, 500, "soap:Client", why);
		goto out;
	}
	fprintf(stderr, "soap_auth_service: %s %s\n", rq->path, env.id);
	answer(c, rq->path, env.id, env.pw);
out:
	free_envelope(&env);
	if (rq != NULL)
		free(rq->body);
	free(rq);
}

static void *
connection(void *arg)
{
	struct conn c = { (int)(intptr_t)arg, NULL };
	struct timeval tv = { IO_TIMEOUT, 0 };

	(void)setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (tls != NULL) {
		if ((c.ssl = SSL_new(tls)) == NULL ||
		    SSL_set_fd(c.ssl, c.fd) != 1 || SSL_accept(c.ssl) != 1) {
			ERR_clear_error();
			goto out;
		}
	}
	serve(&c);
	if (c.ssl != NULL)
		(void)SSL_shutdown(c.ssl);
out:
	SSL_free(c.ssl);
	ERR_clear_error();
	close(c.fd);
	return NULL;
}

static void *
watch_stdin(void *arg)
{
	char buf[64];
	ssize_t n;

	(void)arg;
	do {
		n = read(0, buf, sizeof(buf));
	} while (n > 0 || (n < 0 && errno == EINTR));
	_exit(0);
}

static int
listen_any(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 256) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		die("cannot listen: %s", strerror(errno));
	printf("%u\n", (unsigned)ntohs(sin.sin_port));
	fflush(stdout);
	return fd;
}

int
main(int argc, char **argv)
{
	const char *cert = NULL, *key = NULL, *client_ca = NULL;
	pthread_attr_t attr;
	pthread_t t;
	int i, lfd, fd, watch = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-watch-stdin") == 0) {
			watch = 1;
			continue;
		}
		if (v == NULL)
			die("usage: see the comment at the top of the source");
		i++;
		if (strcmp(a, "-users") == 0)
			load_users(v);
		else if (strcmp(a, "-basic") == 0)
			basic_expected = base64(v);
		else if (strcmp(a, "-proxy-basic") == 0)
			proxy_expected = base64(v);
		else if (strcmp(a, "-cert") == 0)
			cert = v;
		else if (strcmp(a, "-key") == 0)
			key = v;
		else if (strcmp(a, "-client-ca") == 0)
			client_ca = v;
		else
			die("unknown option %s", a);
	}
	if ((cert == NULL) != (key == NULL))
		die("-cert and -key go together");
	if (cert != NULL)
		setup_tls(cert, key, client_ca);
	signal(SIGPIPE, SIG_IGN);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (watch && pthread_create(&t, &attr, watch_stdin, NULL) != 0)
		die("cannot start a thread");
	lfd = listen_any();
	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			die("accept: %s", strerror(errno));
		}
		if (pthread_create(&t, &attr, connection,
		    (void *)(intptr_t)fd) != 0)
			close(fd);
	}
}
