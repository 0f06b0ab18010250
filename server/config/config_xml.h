/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_xml.h: the small layer the configuration loaders share.
 *
 *   mps_config_read_file()  a whole file, size-capped, "cannot open" errors
 *   mps_xml_parse_file()    that file parsed by expat into a tiny element
 *                           tree that keeps each element's line number
 *   mps_xml_*()             checks every XML loader makes (attributes,
 *                           stray text, leaf values)
 *   mps_config_*()          text helpers: trimming, quoting a value for a
 *                           message, strict numbers, IP literals, host names
 *
 * Internal to the configuration module; nothing here is thread-unsafe
 * beyond the pool passed in. Everything returned lives in that pool.
 */
#ifndef MPS_CONFIG_XML_H
#define MPS_CONFIG_XML_H

#include <apr_pools.h>

#include "config_errors.h"

/* Configuration files are small; anything bigger is a mistake (or an
 * attack on a tool that reads it), not a configuration. */
#define MPS_CONFIG_MAX_FILE_SIZE (1024 * 1024)

/* Our files nest three deep (<MPS><Group><Param>); the cap only keeps a
 * hostile file from costing memory in proportion to its depth. */
#define MPS_XML_MAX_DEPTH 16

typedef struct mps_xml_node_t mps_xml_node_t;
struct mps_xml_node_t {
	const char *name;		/* element name, as written */
	int line;			/* line of its start tag */
	const char **attrs;		/* attribute names, NULL-terminated */
	char *text;			/* character data directly inside it,
					 * entities decoded, never NULL */
	apr_size_t text_len;
	int text_line;			/* line of its first non-blank text,
					 * 0 when it holds only white space */
	mps_xml_node_t *parent;
	mps_xml_node_t *children;	/* first child element */
	mps_xml_node_t *next;		/* next sibling */
};

/*
 * Reads the whole of path (at most MPS_CONFIG_MAX_FILE_SIZE bytes) into a
 * NUL-terminated buffer; *len excludes the NUL. On failure adds one error
 * naming path ("path: cannot open: <reason>") and returns the cause.
 */
apr_status_t mps_config_read_file(char **data, apr_size_t *len,
    const char *path, mps_config_errors_t *errs, apr_pool_t *pool);

/*
 * Reads and parses path. Returns the root element, or NULL after adding
 * exactly one error: the file could not be read, expat found a syntax
 * error (reported at expat's line; the rest of the file is not looked at,
 * since a broken tree would only produce misleading follow-on errors), a
 * DOCTYPE was present (we use no DTD, so none can mean well), or elements
 * nested deeper than MPS_XML_MAX_DEPTH.
 */
mps_xml_node_t *mps_xml_parse_file(const char *path, mps_config_errors_t *errs,
    apr_pool_t *pool);

/* Reports each attribute of node as an error; returns how many. */
int mps_xml_check_no_attrs(const mps_xml_node_t *node, const char *path,
    mps_config_errors_t *errs);

/* Reports non-blank text directly inside a container element; returns
 * 1 if there was some. */
int mps_xml_check_no_text(const mps_xml_node_t *node, const char *path,
    mps_config_errors_t *errs, apr_pool_t *pool);

/*
 * The value of a parameter element: its text with surrounding white space
 * removed. Reports attributes and child elements as errors and returns
 * NULL if there were any.
 */
const char *mps_xml_leaf_value(const mps_xml_node_t *node, const char *path,
    mps_config_errors_t *errs, apr_pool_t *pool);

/* Whether c is XML white space (space, tab, CR, LF). */
int mps_config_is_space(int c);

/* A copy of s[0..len) without leading and trailing white space. */
char *mps_config_trim(const char *s, apr_size_t len, apr_pool_t *pool);

/*
 * s in double quotes for a message: control characters, '"' and '\\'
 * escaped, cut (with "...") after a few dozen bytes, so that one message
 * stays one readable line whatever the file holds.
 */
const char *mps_config_quote(const char *s, apr_pool_t *pool);

/* Strict decimal integer: optional '-', digits, nothing else. */
#define MPS_NUM_OK 0
#define MPS_NUM_SYNTAX (-1)	/* not a number */
#define MPS_NUM_RANGE (-2)	/* a number outside [min, max] */
int mps_config_parse_number(const char *s, long long min, long long max,
    long long *out);

/* An IPv4 or IPv6 literal (no brackets). IPv4-mapped IPv6 addresses are
 * stored as IPv4, so that the two spellings compare equal. */
typedef struct mps_config_ip_t {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];		/* 4 or 16 bytes used */
} mps_config_ip_t;

/* Returns 1 and fills ip if s is an address literal, else 0. */
int mps_config_parse_ip(const char *s, mps_config_ip_t *ip);
int mps_config_ip_equal(const mps_config_ip_t *a, const mps_config_ip_t *b);
/* Whether ip is 0.0.0.0 or ::. */
int mps_config_ip_is_any(const mps_config_ip_t *ip);

/*
 * Whether s is a host name: dot-separated labels of letters, digits and
 * '-' (not first or last), 1-63 bytes each, 253 in all, the last label
 * not all digits (that would be a mistyped IPv4 address).
 */
int mps_config_is_hostname(const char *s);

#endif /* MPS_CONFIG_XML_H */
