/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_xml.c: expat and the text helpers the configuration loaders
 * share (see config_xml.h).
 *
 * The files are parsed into a tree first, then interpreted. Building a
 * tree (rather than interpreting inside expat's callbacks) lets a loader
 * see a whole group before judging it, e.g. "NeedAuthentication is true
 * but DllName is missing" at the group's line, and keeps expat's state
 * machine out of the loaders entirely.
 */
#include "config_xml.h"

#include <apr_file_io.h>
#include <apr_strings.h>

#include <expat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

/* First read buffer when the file's size is unknown (e.g. a pipe). */
#define READ_CHUNK 4096

/* How much of a value a message shows. */
#define QUOTE_MAX 64

/* Text of one element. Without a DTD only the predefined entities and
 * character references exist, none longer decoded than written, and
 * transcoding at most triples a byte; so this is never reached by a file
 * under MPS_CONFIG_MAX_FILE_SIZE. It is a guard, not a policy. */
#define TEXT_MAX ((apr_size_t)MPS_CONFIG_MAX_FILE_SIZE * 4)

/* ---------------------------------------------------------------- */
/* Reading files                                                     */
/* ---------------------------------------------------------------- */

static const char *
status_text(apr_status_t rv, apr_pool_t *pool)
{
	char buf[256];

	return apr_pstrdup(pool, apr_strerror(rv, buf, sizeof(buf)));
}

apr_status_t
mps_config_read_file(char **data, apr_size_t *len, const char *path,
    mps_config_errors_t *errs, apr_pool_t *pool)
{
	apr_file_t *file;
	apr_finfo_t finfo;
	apr_status_t rv;
	apr_size_t cap, used, n;
	char *buf, *bigger;

	rv = apr_file_open(&file, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
	    APR_FPROT_OS_DEFAULT, pool);
	if (rv != APR_SUCCESS) {
		mps_config_error(errs, path, 0, "cannot open: %s",
		    status_text(rv, pool));
		return rv;
	}

	/* Size the buffer from the file when we can, but never trust the
	 * size: the file may grow while we read, or be a pipe. */
	cap = READ_CHUNK;
	if (apr_file_info_get(&finfo, APR_FINFO_SIZE, file) == APR_SUCCESS &&
	    finfo.size >= 0 && finfo.size < MPS_CONFIG_MAX_FILE_SIZE)
		cap = (apr_size_t)finfo.size + 1;
	buf = apr_palloc(pool, cap + 1);
	used = 0;
	for (;;) {
		if (used == cap) {
			if (cap > MPS_CONFIG_MAX_FILE_SIZE)
				break;
			cap = cap * 2 > MPS_CONFIG_MAX_FILE_SIZE + 1 ?
			    MPS_CONFIG_MAX_FILE_SIZE + 1 : cap * 2;
			bigger = apr_palloc(pool, cap + 1);
			memcpy(bigger, buf, used);
			buf = bigger;
		}
		n = cap - used;
		rv = apr_file_read(file, buf + used, &n);
		if (rv == APR_EOF)
			break;
		if (rv != APR_SUCCESS) {
			mps_config_error(errs, path, 0, "cannot read: %s",
			    status_text(rv, pool));
			apr_file_close(file);
			return rv;
		}
		used += n;
	}
	apr_file_close(file);
	if (used > MPS_CONFIG_MAX_FILE_SIZE) {
		mps_config_error(errs, path, 0,
		    "larger than %d bytes; not a configuration file?",
		    MPS_CONFIG_MAX_FILE_SIZE);
		return APR_EINVAL;
	}
	buf[used] = '\0';
	*data = buf;
	*len = used;
	return APR_SUCCESS;
}

/* ---------------------------------------------------------------- */
/* The element tree                                                  */
/* ---------------------------------------------------------------- */

struct frame {
	mps_xml_node_t *node;
	mps_xml_node_t *last_child;	/* for O(1) appends */
	apr_size_t text_cap;		/* bytes allocated for node->text */
};

struct builder {
	XML_Parser parser;
	const char *path;
	mps_config_errors_t *errs;
	apr_pool_t *pool;
	mps_xml_node_t *root;
	struct frame stack[MPS_XML_MAX_DEPTH];
	int depth;			/* frames in use */
	int failed;			/* a handler reported and stopped */
};

static int
current_line(const struct builder *b)
{
	XML_Size line = XML_GetCurrentLineNumber(b->parser);

	return line > INT_MAX ? INT_MAX : (int)line;
}

/* Reports a problem found by a handler and stops the parse. */
static void
builder_fail(struct builder *b, const char *msg)
{
	if (!b->failed)
		mps_config_error(b->errs, b->path, current_line(b), "%s", msg);
	b->failed = 1;
	XML_StopParser(b->parser, XML_FALSE);
}

static void XMLCALL
on_start(void *data, const XML_Char *name, const XML_Char **atts)
{
	struct builder *b = data;
	struct frame *top;
	mps_xml_node_t *node;
	int i, n;

	if (b->failed)
		return;
	if (b->depth == MPS_XML_MAX_DEPTH) {
		builder_fail(b, apr_psprintf(b->pool,
		    "elements nested deeper than %d levels",
		    MPS_XML_MAX_DEPTH));
		return;
	}
	node = apr_pcalloc(b->pool, sizeof(*node));
	node->name = apr_pstrdup(b->pool, name);
	node->line = current_line(b);
	node->text = "";
	for (n = 0; atts[n] != NULL; n += 2)
		;
	node->attrs = apr_palloc(b->pool, (n / 2 + 1) * sizeof(char *));
	for (i = 0; i < n / 2; i++)
		node->attrs[i] = apr_pstrdup(b->pool, atts[2 * i]);
	node->attrs[n / 2] = NULL;

	if (b->depth == 0) {
		b->root = node;
	} else {
		top = &b->stack[b->depth - 1];
		node->parent = top->node;
		if (top->last_child == NULL)
			top->node->children = node;
		else
			top->last_child->next = node;
		top->last_child = node;
	}
	b->stack[b->depth].node = node;
	b->stack[b->depth].last_child = NULL;
	b->stack[b->depth].text_cap = 0;
	b->depth++;
}

static void XMLCALL
on_end(void *data, const XML_Char *name)
{
	struct builder *b = data;

	(void)name;	/* expat has already matched it with the start tag */
	if (b->failed || b->depth == 0)
		return;
	b->depth--;
}

/* Line of the first non-blank byte of s, which starts on line. */
static int
first_text_line(const char *s, int len, int line)
{
	int i;

	for (i = 0; i < len; i++) {
		if (!mps_config_is_space((unsigned char)s[i]))
			return line;
		if (s[i] == '\n')
			line++;
	}
	return 0;
}

static void XMLCALL
on_text(void *data, const XML_Char *s, int len)
{
	struct builder *b = data;
	struct frame *top;
	mps_xml_node_t *node;
	apr_size_t need, cap;
	char *text;

	if (b->failed || b->depth == 0 || len <= 0)
		return;
	top = &b->stack[b->depth - 1];
	node = top->node;
	if (node->text_line == 0)
		node->text_line = first_text_line(s, len, current_line(b));

	/* expat hands text over in pieces (per line, around entities);
	 * grow geometrically so a long value costs linear time. The input
	 * is capped at MPS_CONFIG_MAX_FILE_SIZE, so none of this can
	 * overflow, but say so explicitly. */
	if (node->text_len > TEXT_MAX ||
	    (apr_size_t)len > TEXT_MAX - node->text_len) {
		builder_fail(b, "text too long");
		return;
	}
	need = node->text_len + (apr_size_t)len + 1;
	if (need > top->text_cap) {
		cap = top->text_cap < 64 ? 64 : top->text_cap;
		while (cap < need)
			cap *= 2;
		text = apr_palloc(b->pool, cap);
		memcpy(text, node->text, node->text_len);
		node->text = text;
		top->text_cap = cap;
	}
	memcpy(node->text + node->text_len, s, (apr_size_t)len);
	node->text_len += (apr_size_t)len;
	node->text[node->text_len] = '\0';
}

static void XMLCALL
on_doctype(void *data, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	struct builder *b = data;

	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	/* A DTD could define entities that expand enormously or point at
	 * other files; our files need none, so refuse the whole thing. */
	builder_fail(b, "DOCTYPE declarations are not allowed");
}

mps_xml_node_t *
mps_xml_parse_file(const char *path, mps_config_errors_t *errs,
    apr_pool_t *pool)
{
	struct builder b;
	char *data;
	apr_size_t len;
	enum XML_Status status;

	if (mps_config_read_file(&data, &len, path, errs, pool) != APR_SUCCESS)
		return NULL;
	if (len > INT_MAX) {	/* XML_Parse takes an int; the cap keeps us far below */
		mps_config_error(errs, path, 0, "too large to parse");
		return NULL;
	}

	memset(&b, 0, sizeof(b));
	b.path = path;
	b.errs = errs;
	b.pool = pool;
	b.parser = XML_ParserCreate(NULL);
	if (b.parser == NULL) {
		mps_config_error(errs, path, 0,
		    "cannot parse: out of memory creating the XML parser");
		return NULL;
	}
	XML_SetUserData(b.parser, &b);
	XML_SetElementHandler(b.parser, on_start, on_end);
	XML_SetCharacterDataHandler(b.parser, on_text);
	XML_SetStartDoctypeDeclHandler(b.parser, on_doctype);
	/* Never fetch external entities, whatever the file says. */
	XML_SetParamEntityParsing(b.parser, XML_PARAM_ENTITY_PARSING_NEVER);

	status = XML_Parse(b.parser, data, (int)len, XML_TRUE);
	if (status != XML_STATUS_OK && !b.failed) {
		mps_config_error(errs, path, current_line(&b),
		    "XML syntax error: %s",
		    XML_ErrorString(XML_GetErrorCode(b.parser)));
		b.failed = 1;
	}
	XML_ParserFree(b.parser);
	return b.failed ? NULL : b.root;
}

int
mps_xml_check_no_attrs(const mps_xml_node_t *node, const char *path,
    mps_config_errors_t *errs)
{
	int i;

	for (i = 0; node->attrs[i] != NULL; i++)
		mps_config_error(errs, path, node->line,
		    "attribute \"%s\" on <%s> is not allowed (no element "
		    "takes attributes)", node->attrs[i], node->name);
	return i;
}

int
mps_xml_check_no_text(const mps_xml_node_t *node, const char *path,
    mps_config_errors_t *errs, apr_pool_t *pool)
{
	if (node->text_line == 0)
		return 0;
	mps_config_error(errs, path, node->text_line,
	    "unexpected text %s directly inside <%s>",
	    mps_config_quote(mps_config_trim(node->text, node->text_len, pool),
	    pool), node->name);
	return 1;
}

const char *
mps_xml_leaf_value(const mps_xml_node_t *node, const char *path,
    mps_config_errors_t *errs, apr_pool_t *pool)
{
	int bad;

	bad = mps_xml_check_no_attrs(node, path, errs) > 0;
	if (node->children != NULL) {
		mps_config_error(errs, path, node->children->line,
		    "<%s> holds a value, not elements (found <%s>)",
		    node->name, node->children->name);
		bad = 1;
	}
	if (bad)
		return NULL;
	return mps_config_trim(node->text, node->text_len, pool);
}

/* ---------------------------------------------------------------- */
/* Text helpers                                                      */
/* ---------------------------------------------------------------- */

int
mps_config_is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

char *
mps_config_trim(const char *s, apr_size_t len, apr_pool_t *pool)
{
	while (len > 0 && mps_config_is_space((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && mps_config_is_space((unsigned char)s[len - 1]))
		len--;
	return apr_pstrmemdup(pool, s, len);
}

const char *
mps_config_quote(const char *s, apr_pool_t *pool)
{
	/* Worst case: every byte becomes "\xHH" (4), plus quotes, "..."
	 * and the NUL. */
	char buf[(QUOTE_MAX + 4) * 4 + 8];
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, shown = 0;
	static const char hex[] = "0123456789abcdef";

	buf[o++] = '"';
	for (; *p != '\0'; p++) {
		/* Cut at a character boundary: never split a UTF-8 sequence
		 * (continuation bytes are 10xxxxxx), but do not let a run
		 * of stray continuation bytes run past the buffer either. */
		if (shown >= QUOTE_MAX &&
		    ((*p & 0xc0) != 0x80 || shown >= QUOTE_MAX + 3)) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		shown++;
		if (*p == '"' || *p == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)*p;
		} else if (*p == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else if (*p == '\t') {
			buf[o++] = '\\';
			buf[o++] = 't';
		} else if (*p < 0x20 || *p == 0x7f) {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[*p >> 4];
			buf[o++] = hex[*p & 0xf];
		} else {
			buf[o++] = (char)*p;
		}
	}
	buf[o++] = '"';
	return apr_pstrmemdup(pool, buf, o);
}

int
mps_config_parse_number(const char *s, long long min, long long max,
    long long *out)
{
	const char *digits = s;
	char *end;
	long long v;

	/* strtoll alone would accept leading blanks, '+' and hex-looking
	 * junk; demand exactly [-]digits. */
	if (*digits == '-')
		digits++;
	if (*digits < '0' || *digits > '9')
		return MPS_NUM_SYNTAX;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		return MPS_NUM_SYNTAX;
	if (errno == ERANGE || v < min || v > max)
		return MPS_NUM_RANGE;
	*out = v;
	return MPS_NUM_OK;
}

int
mps_config_parse_ip(const char *s, mps_config_ip_t *ip)
{
	static const unsigned char v4mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	struct in_addr a4;
	struct in6_addr a6;

	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, s, &a4) == 1) {
		ip->family = AF_INET;
		memcpy(ip->addr, &a4, 4);
		return 1;
	}
	if (inet_pton(AF_INET6, s, &a6) == 1) {
		if (memcmp(&a6, v4mapped, sizeof(v4mapped)) == 0) {
			ip->family = AF_INET;
			memcpy(ip->addr, (const unsigned char *)&a6 + 12, 4);
		} else {
			ip->family = AF_INET6;
			memcpy(ip->addr, &a6, 16);
		}
		return 1;
	}
	return 0;
}

int
mps_config_ip_equal(const mps_config_ip_t *a, const mps_config_ip_t *b)
{
	size_t n = a->family == AF_INET ? 4 : 16;

	return a->family == b->family && memcmp(a->addr, b->addr, n) == 0;
}

int
mps_config_ip_is_any(const mps_config_ip_t *ip)
{
	static const unsigned char zero[16];
	size_t n = ip->family == AF_INET ? 4 : 16;

	return memcmp(ip->addr, zero, n) == 0;
}

/* Whether the label s[0..len) is valid; *numeric says if all digits. */
static int
valid_label(const char *s, size_t len, int *numeric)
{
	size_t i;

	if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return 0;
	*numeric = 1;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			continue;
		*numeric = 0;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '-')
			continue;
		return 0;
	}
	return 1;
}

int
mps_config_is_hostname(const char *s)
{
	size_t total = strlen(s);
	const char *label, *dot;
	int numeric = 0;

	if (total == 0 || total > 253)
		return 0;
	for (label = s;; label = dot + 1) {
		dot = strchr(label, '.');
		if (!valid_label(label,
		    dot ? (size_t)(dot - label) : strlen(label), &numeric))
			return 0;
		if (dot == NULL)
			break;
	}
	/* "10.0.0.256" is a wrong address, not a name. */
	return !numeric;
}
