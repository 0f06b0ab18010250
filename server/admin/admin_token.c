/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin_token.c: reading the admin bearer token file (admin.h). Its own
 * file because mpsctl reads the same file the same way, without linking
 * the HTTP server.
 */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int
mps_admin_read_token(const char *path, int check_mode, char *token,
    size_t size, char *err, size_t errsize)
{
	struct stat st;
	size_t n, i;
	FILE *f;

	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errsize, "cannot read the admin token file %s: %s",
		    path, strerror(errno));
		return -1;
	}
	if (check_mode && fstat(fileno(f), &st) == 0 &&
	    (st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) != 0) {
		fclose(f);
		snprintf(err, errsize, "the admin token file %s may be read or "
		    "written by others (mode %03o): chmod 600 it", path,
		    (unsigned)(st.st_mode & 0777));
		return -1;
	}
	if (fgets(token, (int)size, f) == NULL)
		token[0] = '\0';
	fclose(f);
	n = strcspn(token, "\r\n");
	token[n] = '\0';
	while (n > 0 && (token[n - 1] == ' ' || token[n - 1] == '\t'))
		token[--n] = '\0';
	for (i = 0; i < n; i++)
		if (token[i] <= ' ' || token[i] > '~') {
			snprintf(err, errsize, "the admin token in %s must be one "
			    "line of printable characters without spaces", path);
			return -1;
		}
	if (n < MPS_ADMIN_TOKEN_MIN || n >= size - 1) {
		snprintf(err, errsize, "the admin token in %s must be %d to %zu "
		    "characters long (for example: openssl rand -hex 32)", path,
		    MPS_ADMIN_TOKEN_MIN, size - 2);
		return -1;
	}
	return 0;
}
