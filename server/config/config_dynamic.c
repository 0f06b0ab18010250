/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_dynamic.c: mps_dynamic.config, the one file mpsd rereads while
 * running (on SIGHUP and when it changes). It holds TraceLevels only
 * (guide 6.1, 6.2).
 *
 * A reload must never leave the logger half-configured: the levels are
 * written only when the whole file is good, so on any error the caller
 * keeps the levels it had.
 */
#include "config.h"
#include "config_xml.h"
#include "log.h"
#include "mps_status.h"

#include <apr_strings.h>

#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	unsigned bit;
} level_names[] = {
	{ "INFO", MPS_LOG_INFO },
	{ "ERROR", MPS_LOG_ERROR },
	{ "WARNING", MPS_LOG_WARNING },
	{ "DEBUG", MPS_LOG_DEBUG },
};

#define NLEVELS (sizeof(level_names) / sizeof(level_names[0]))

#define ROOT_NAME "MPS_Dynamic"
#define TRACE_NAME "TraceLevels"

static int
level_bit(const char *token, unsigned *bit)
{
	size_t i;

	for (i = 0; i < NLEVELS; i++) {
		if (strcmp(level_names[i].name, token) == 0) {
			*bit = level_names[i].bit;
			return 1;
		}
	}
	return 0;
}

int
mps_trace_levels_parse(const char *text, unsigned *levels, const char **bad,
    apr_pool_t *pool)
{
	const char *p, *end;
	const char *token;
	unsigned mask = 0, bit;

	/* White space only: the guide's way of saying "log nothing". */
	for (p = text; mps_config_is_space((unsigned char)*p); p++)
		;
	if (*p == '\0') {
		*levels = 0;
		return 0;
	}
	for (p = text;; p = end + 1) {
		end = strchr(p, '|');
		if (end == NULL)
			end = p + strlen(p);
		token = mps_config_trim(p, (apr_size_t)(end - p), pool);
		/* An empty token ("INFO||ERROR", a trailing '|') is refused:
		 * it is a typo, and guessing what was meant could hide the
		 * level the admin was after. */
		if (!level_bit(token, &bit)) {
			if (bad != NULL)
				*bad = token;
			return -1;
		}
		mask |= bit;
		if (*end == '\0')
			break;
	}
	*levels = mask;
	return 0;
}

/* Reads <TraceLevels> into *levels; reports problems. */
static void
parse_trace_levels(const mps_xml_node_t *node, const char *path,
    unsigned *levels, mps_config_errors_t *errs, apr_pool_t *pool)
{
	const char *value, *bad = NULL;

	value = mps_xml_leaf_value(node, path, errs, pool);
	if (value == NULL)
		return;
	if (mps_trace_levels_parse(value, levels, &bad, pool) == 0)
		return;
	if (*bad == '\0')
		mps_config_error(errs, path, node->line,
		    "<" TRACE_NAME "> %s has an empty level (two '|' in a "
		    "row, or one at an end)", mps_config_quote(value, pool));
	else
		mps_config_error(errs, path, node->line,
		    "<" TRACE_NAME "> %s: %s is not a trace level (INFO, "
		    "ERROR, WARNING or DEBUG, in capitals, joined by '|')",
		    mps_config_quote(value, pool), mps_config_quote(bad, pool));
}

static void
parse_root(const mps_xml_node_t *root, const char *path, unsigned *levels,
    mps_config_errors_t *errs, apr_pool_t *pool)
{
	const mps_xml_node_t *child;
	int trace_line = 0;

	if (strcmp(root->name, ROOT_NAME) != 0) {
		mps_config_error(errs, path, root->line,
		    "the root element is <%s>; expected <" ROOT_NAME ">",
		    root->name);
		return;
	}
	mps_xml_check_no_attrs(root, path, errs);
	mps_xml_check_no_text(root, path, errs, pool);
	for (child = root->children; child != NULL; child = child->next) {
		if (strcmp(child->name, TRACE_NAME) != 0) {
			mps_config_error(errs, path, child->line,
			    "unknown element <%s> in <" ROOT_NAME ">%s",
			    child->name,
			    strcasecmp(child->name, TRACE_NAME) == 0 ?
			    " (did you mean <" TRACE_NAME ">?)" : "");
			continue;
		}
		if (trace_line != 0)
			mps_config_error(errs, path, child->line,
			    "<" TRACE_NAME "> given twice (first at line %d)",
			    trace_line);
		else
			trace_line = child->line;
		parse_trace_levels(child, path, levels, errs, pool);
	}
}

apr_status_t
mps_dynamic_config_load(unsigned *levels, const char *path,
    mps_config_errors_t *errs, apr_pool_t *pool)
{
	const mps_xml_node_t *root;
	apr_pool_t *scratch;
	unsigned result = MPS_LOG_DEFAULT_LEVELS;
	int before = mps_config_error_count(errs);

	if (apr_pool_create(&scratch, pool) != APR_SUCCESS) {
		mps_config_error(errs, path, 0, "cannot read: out of memory");
		return MPS_ERR_CONFIG;
	}
	root = mps_xml_parse_file(path, errs, scratch);
	if (root != NULL)
		parse_root(root, path, &result, errs, scratch);
	apr_pool_destroy(scratch);

	if (mps_config_error_count(errs) > before)
		return MPS_ERR_CONFIG;
	*levels = result;
	return APR_SUCCESS;
}
