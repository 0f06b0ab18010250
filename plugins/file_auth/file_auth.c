/* SPDX-License-Identifier: Apache-2.0 */
/*
 * file_auth.c: the table-lookup authentication plugin of the product
 * guide (section 7.2.1), built twice as AMTFileAuth and SocksFileAuth so
 * that devices and consoles can use different files.
 *
 * DllParameters names the file, as "file PATH" (the guide's form) or just
 * "PATH"; surrounding blanks are ignored and PATH may be in double quotes.
 * A relative PATH is relative to mpsd's working directory, which is its
 * configuration's directory.
 *
 * The file holds one "user:password" entry per line. The password is
 * everything after the FIRST ':' (it may contain ':'; a user name cannot)
 * up to the end of the line, a CR before the LF excepted; nothing else is
 * trimmed. Blank lines and lines whose first non-blank character is '#'
 * are ignored, and so are lines without ':', with an empty user name, or
 * longer than MAX_LINE bytes. If a user appears more than once, the first
 * entry decides. An empty password never matches.
 *
 * The file is read again on every call: an administrator's edit takes
 * effect at once, and the plugin keeps no state, so it is thread-safe
 * without locks. The whole file is always read and the password compare
 * does not stop at the first difference, so the time a call takes says
 * neither where a user is in the file nor how much of a password was
 * right.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mps/plugin.h>

#include "plugin_util.h"

MPS_PLUGIN_DECLARE_ABI;

#define MAX_LINE	4096			/* bytes, without the LF */
#define MAX_FILE	(16L * 1024 * 1024)	/* bytes */
#define MAX_PATH	4096			/* bytes, with the NUL */

/* A bounded line reader over a file descriptor; owns no heap memory, so
 * everything it saw can be wiped before returning. */
struct reader {
	int fd;
	size_t pos, len;	/* unread bytes are chunk[pos..len) */
	long total;		/* bytes read so far */
	int eof;
	unsigned char chunk[8192];
};

/* The outcome of reading one line. */
enum {
	LINE_OK,
	LINE_TOO_LONG,		/* consumed, but over MAX_LINE: skip it */
	LINE_EOF,
	LINE_READ_ERROR,	/* errno says why */
	LINE_FILE_TOO_BIG
};


/*
 * Copies the file name out of paramStr into path. Returns 0, or -1 with
 * errorString set.
 */
static int
param_path(const char *param, char *path, size_t pathsize, char *err,
    size_t errsize)
{
	const char *s = param, *e;
	size_t len;

	while (mps_pu_is_blank((unsigned char)*s))
		s++;
	/* The guide's form: the keyword "file", blanks, then the path. */
	if (strncmp(s, "file", 4) == 0 && mps_pu_is_blank((unsigned char)s[4])) {
		s += 4;
		while (mps_pu_is_blank((unsigned char)*s))
			s++;
	}
	e = s + strlen(s);
	while (e > s && mps_pu_is_blank((unsigned char)e[-1]))
		e--;
	if (e - s >= 2 && *s == '"' && e[-1] == '"') {
		s++;
		e--;
	}
	len = (size_t)(e - s);
	if (len == 0) {
		mps_pu_seterr(err, errsize, "DllParameters names no authentication "
		    "file (expected \"file PATH\")");
		return -1;
	}
	if (len >= pathsize) {
		mps_pu_seterr(err, errsize, "DllParameters: authentication file "
		    "path longer than %zu bytes", pathsize - 1);
		return -1;
	}
	memcpy(path, s, len);
	path[len] = '\0';
	return 0;
}

/*
 * Opens path for reading, refusing anything but a regular file of at most
 * MAX_FILE bytes. Returns the descriptor, or -1 with errorString set.
 */
static int
open_file(const char *path, char *err, size_t errsize)
{
	char ebuf[128];
	struct stat st;
	int fd, e;

	/* O_NONBLOCK: a FIFO put in the file's place must not hang us. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		e = errno;
		mps_pu_seterr(err, errsize, "cannot open authentication file %s: %s",
		    path, mps_pu_strerror(e, ebuf, sizeof(ebuf)));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		e = errno;
		mps_pu_seterr(err, errsize, "cannot open authentication file %s: %s",
		    path, mps_pu_strerror(e, ebuf, sizeof(ebuf)));
		(void)close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		mps_pu_seterr(err, errsize, "cannot open authentication file %s: %s",
		    path, S_ISDIR(st.st_mode) ? mps_pu_strerror(EISDIR, ebuf,
		    sizeof(ebuf)) : "not a regular file");
		(void)close(fd);
		return -1;
	}
	if (st.st_size > MAX_FILE) {
		mps_pu_seterr(err, errsize, "authentication file %s is larger than "
		    "%ld bytes", path, MAX_FILE);
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* Refills the chunk. Returns 0, or a LINE_* outcome that ends reading. */
static int
refill(struct reader *r)
{
	ssize_t n;

	do {
		n = read(r->fd, r->chunk, sizeof(r->chunk));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return LINE_READ_ERROR;
	if (n == 0) {
		r->eof = 1;
		return 0;
	}
	/* The file may have grown since fstat(). */
	if ((long)n > MAX_FILE - r->total)
		return LINE_FILE_TOO_BIG;
	r->total += (long)n;
	r->pos = 0;
	r->len = (size_t)n;
	return 0;
}

/*
 * Reads the next line into line (at most MAX_LINE bytes, not terminated:
 * a line may hold NUL bytes, so its length is what counts).
 */
static int
read_line(struct reader *r, unsigned char *line, size_t *linelen)
{
	size_t n = 0;
	int rc, overlong = 0, any = 0;

	for (;;) {
		if (r->pos == r->len) {
			if (r->eof)
				break;
			if ((rc = refill(r)) != 0)
				return rc;
			continue;
		}
		any = 1;
		if (r->chunk[r->pos] == '\n') {
			r->pos++;
			break;
		}
		if (n < MAX_LINE)
			line[n++] = r->chunk[r->pos];
		else
			overlong = 1;
		r->pos++;
	}
	if (!any)
		return LINE_EOF;
	*linelen = n;
	return overlong ? LINE_TOO_LONG : LINE_OK;
}

/*
 * Compares a stored and a given password without stopping at the first
 * difference: the loop always runs over the longer of the two and folds
 * every difference, the lengths' included, into one accumulator, so the
 * time depends on the lengths only, never on how many bytes were right.
 */
static int
password_equal(const unsigned char *stored, size_t slen,
    const unsigned char *given, size_t glen)
{
	volatile unsigned char acc = 0;
	size_t i, n = slen > glen ? slen : glen;
	size_t dlen = slen ^ glen;

	for (i = 0; i < n; i++) {
		unsigned char a = i < slen ? stored[i] : 0;
		unsigned char b = i < glen ? given[i] : 0;

		acc |= (unsigned char)(a ^ b);
	}
	/* Fold every bit of the length difference into one byte. */
	for (i = 0; i < sizeof(dlen); i++)
		acc |= (unsigned char)(dlen >> (8 * i));
	return acc == 0;
}

/* True when the line is blank or a comment. */
static int
is_ignorable(const unsigned char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len && mps_pu_is_blank(line[i]); i++)
		continue;
	return i == len || line[i] == '#';
}

/* The per-call state of one lookup. */
struct lookup {
	const char *user;
	size_t userlen;
	const char *password;
	size_t passlen;
	int valid;		/* well-formed entries seen */
	int found;		/* the user's first entry was seen */
	int accepted;		/* and its password matched */
};

/* Looks at one line of the file. */
static void
check_line(struct lookup *lk, unsigned char *line, size_t len)
{
	const unsigned char *colon;
	size_t ulen;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (is_ignorable(line, len))
		return;
	colon = memchr(line, ':', len);
	if (colon == NULL || colon == line)
		return;
	lk->valid++;
	ulen = (size_t)(colon - line);
	/* The first entry of a user decides. The caller reads on to the
	 * end of the file all the same, so that the time taken does not
	 * depend on where in the file the user is. */
	if (ulen == lk->userlen && memcmp(line, lk->user, ulen) == 0 &&
	    !lk->found) {
		lk->found = 1;
		/* An empty stored password is a disabled entry. */
		lk->accepted = len - ulen - 1 > 0 && password_equal(colon + 1,
		    len - ulen - 1, (const unsigned char *)lk->password,
		    lk->passlen);
	}
}

/* Reads the whole file and decides. Returns true only on a match. */
static bool
lookup_file(struct lookup *lk, const char *path, char *err, size_t errsize)
{
	struct reader r;
	unsigned char line[MAX_LINE];
	char ebuf[128];
	size_t len = 0;
	int rc, e;

	memset(&r, 0, sizeof(r));
	if ((r.fd = open_file(path, err, errsize)) < 0)
		return false;
	while ((rc = read_line(&r, line, &len)) == LINE_OK ||
	    rc == LINE_TOO_LONG) {
		if (rc == LINE_OK)
			check_line(lk, line, len);
	}
	e = errno;
	(void)close(r.fd);
	/* Both buffers held passwords from the file. */
	explicit_bzero(line, sizeof(line));
	explicit_bzero(r.chunk, sizeof(r.chunk));
	if (rc == LINE_READ_ERROR) {
		mps_pu_seterr(err, errsize, "cannot read authentication file %s: %s",
		    path, mps_pu_strerror(e, ebuf, sizeof(ebuf)));
		return false;
	}
	if (rc == LINE_FILE_TOO_BIG) {
		mps_pu_seterr(err, errsize, "authentication file %s is larger than "
		    "%ld bytes", path, MAX_FILE);
		return false;
	}
	if (lk->valid == 0) {
		mps_pu_seterr(err, errsize, "authentication file %s has no valid "
		    "user:password line", path);
		return false;
	}
	return lk->found && lk->accepted;
}

MPS_PLUGIN_EXPORT bool
Authenticate(const char *userName, const char *userPassword,
    const char *paramStr, char *errorString, size_t errorStringSize)
{
	struct lookup lk;
	char path[MAX_PATH];

	if (errorString != NULL && errorStringSize > 0)
		errorString[0] = '\0';
	if (userName == NULL || userPassword == NULL || paramStr == NULL)
		return false;
	if (param_path(paramStr, path, sizeof(path), errorString,
	    errorStringSize) != 0)
		return false;
	/* Nothing in the file can match these: no need to read it. */
	if (*userName == '\0' || *userPassword == '\0')
		return false;
	memset(&lk, 0, sizeof(lk));
	lk.user = userName;
	lk.userlen = strlen(userName);
	lk.password = userPassword;
	lk.passlen = strlen(userPassword);
	return lookup_file(&lk, path, errorString, errorStringSize);
}
