/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c: mpsd's log file (see log.h for the contract).
 *
 * Design:
 *  - A line is formatted completely in a caller-local buffer, outside any
 *    lock, then handed to the logger, which under its mutex decides
 *    whether to rotate first and writes the line with one write(2) on an
 *    O_APPEND descriptor. So concurrent writers never interleave, and a
 *    rotation can never split one writer's line between two files.
 *  - The file's size is tracked in memory (seeded by fstat() at open,
 *    since an existing file is appended to), so deciding to rotate costs
 *    no system call.
 *  - The trace-level mask and the default logger pointer are atomics: the
 *    common "is DEBUG on?" question is a single relaxed load.
 *  - The logger is malloc'd rather than pool-allocated: it outlives any
 *    configuration pool (it is reopened on SIGHUP and used until exit).
 */
#include "log.h"
#include "metrics.h"

#include <apr_time.h>
#include <apr_strings.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

/* New log files: the log names devices and consoles, so not world-readable
 * (the umask may narrow this further). */
#define LOG_FILE_MODE 0640

/* Room for ".<int>" after the path, NUL included. */
#define SUFFIX_ROOM 16

/* LogFileMaxSize is in KiB; this keeps max_size_kb * 1024 plus a line far
 * away from apr_off_t's limit. */
#define MAX_SIZE_KB_LIMIT (APR_INT64_MAX / 1024 / 4)

/* Smallest buffer format_line() is given: enough for the prefix. */
#define LINE_MIN 96

/* Room for a path in the logger's own error lines (a longer one is cut
 * like any long message). */
#define PATH_MAX_GUESS 1024

struct mps_logger_t {
	pthread_mutex_t lock;		/* guards everything below levels */
	atomic_uint levels;		/* mask of mps_log_level_t */
	int fd;				/* current file, O_APPEND; always valid */
	apr_off_t size;			/* bytes in the current file */
	apr_off_t fresh_size;		/* size when it held only the Heading */
	apr_off_t limit;		/* rotate before size would pass this */
	apr_off_t max_bytes;		/* LogFileMaxSize in bytes; 0 = never */
	int max_files;			/* files kept, current one included */
	char *path;			/* LogFilePath/LogFileName */
	char *heading;			/* Heading line with its '\n', or "" */
	size_t heading_len;
	char *name_from;		/* rotation scratch: path.N */
	char *name_to;			/* rotation scratch: path.N+1 */
	size_t name_cap;		/* size of each scratch buffer */
	/* Lines the file refused (disk full, I/O error) since the last one
	 * it took: reported in the file once writing works again. */
	unsigned long long lost;
	int lost_err;			/* errno of the first refusal */
	unsigned torn:1;		/* the file ends in a cut line */
	/* No file: syslog(3) (log.h). Set before any thread logs, then only
	 * read, unlocked: its own int, never a bit beside torn, which
	 * writers change under the lock. */
	int to_syslog;
};

static _Atomic(mps_logger_t *) default_logger;
static atomic_int console_kind = MPS_LOG_CONSOLE_STDERR;

/* Serialises our own lines on stderr, so that two threads' fallback lines
 * do not interleave even if one write() comes back short. */
static pthread_mutex_t stderr_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t syslog_once = PTHREAD_ONCE_INIT;

static const char *const day_names[7] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const month_names[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

const char *
mps_log_level_name(mps_log_level_t level)
{
	switch (level) {
	case MPS_LOG_ERROR:
		return "ERROR";
	case MPS_LOG_WARNING:
		return "WARNING";
	case MPS_LOG_INFO:
		return "INFO";
	case MPS_LOG_DEBUG:
		return "DEBUG";
	}
	return "UNKNOWN";
}

size_t
mps_log_format_time(apr_time_t t, char *buf, size_t bufsize)
{
	apr_time_exp_t tm;
	int n;

	if (bufsize == 0)
		return 0;
	if (apr_time_exp_lt(&tm, t) != APR_SUCCESS &&
	    apr_time_exp_gmt(&tm, t) != APR_SUCCESS) {
		buf[0] = '\0';
		return 0;
	}
	/* The tables are indexed by values from the C library: check them
	 * rather than trust them. */
	if (tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
	    tm.tm_mon > 11 || tm.tm_usec < 0 || tm.tm_usec > 999999) {
		buf[0] = '\0';
		return 0;
	}
	/* The guide's sample: day of month unpadded, microseconds padded. */
	n = snprintf(buf, bufsize, "%s %s %d %04d %02d:%02d:%02d.%06d",
	    day_names[tm.tm_wday], month_names[tm.tm_mon], tm.tm_mday,
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (int)tm.tm_usec);
	if (n < 0) {
		buf[0] = '\0';
		return 0;
	}
	if ((size_t)n >= bufsize)
		return bufsize - 1;
	return (size_t)n;
}

static atomic_int time_format = MPS_LOG_TIME_ISO8601;

void
mps_log_set_time_format(mps_log_time_format_t format)
{
	atomic_store(&time_format, (int)format);
}

mps_log_time_format_t
mps_log_get_time_format(void)
{
	return (mps_log_time_format_t)atomic_load(&time_format);
}

size_t
mps_log_format_time_iso(apr_time_t t, char *buf, size_t bufsize)
{
	apr_time_exp_t tm;
	long off;
	int n;

	if (bufsize == 0)
		return 0;
	if (apr_time_exp_lt(&tm, t) != APR_SUCCESS &&
	    apr_time_exp_gmt(&tm, t) != APR_SUCCESS) {
		buf[0] = '\0';
		return 0;
	}
	if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_usec < 0 ||
	    tm.tm_usec > 999999) {
		buf[0] = '\0';
		return 0;
	}
	/* tm_gmtoff: seconds east of UTC, as the offset is written. */
	off = (long)tm.tm_gmtoff;
	n = snprintf(buf, bufsize, "%04d-%02d-%02dT%02d:%02d:%02d.%06d%c%02ld:%02ld",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)tm.tm_usec, off < 0 ? '-' : '+',
	    (off < 0 ? -off : off) / 3600, ((off < 0 ? -off : off) % 3600) / 60);
	if (n < 0) {
		buf[0] = '\0';
		return 0;
	}
	if ((size_t)n >= bufsize)
		return bufsize - 1;
	return (size_t)n;
}

size_t
mps_log_format_time_current(apr_time_t t, char *buf, size_t bufsize)
{
	if (mps_log_get_time_format() == MPS_LOG_TIME_GUIDE)
		return mps_log_format_time(t, buf, bufsize);
	return mps_log_format_time_iso(t, buf, bufsize);
}

/* One message is one line: control characters from peers become spaces. */
static void
sanitize(char *s, size_t len)
{
	size_t i;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			s[i] = ' ';
	}
}

/*
 * Formats "[time] [LM LEVEL] message\n" into buf (bufsize >= LINE_MIN)
 * and returns its length, never more than bufsize - 1. *msg_off gets
 * where the message starts (syslog wants the message alone).
 */
static size_t
format_line(char *buf, size_t bufsize, mps_log_level_t level, size_t *msg_off,
    const char *fmt, va_list ap)
{
	static const char unformattable[] = "(message could not be formatted)";
	char stamp[64];
	size_t cap, off, len;
	int n;

	/* cap bytes hold the line with its newline: the text gets cap - 1,
	 * vsnprintf's NUL lands where the newline goes, and buf[cap] keeps
	 * the final NUL. */
	cap = bufsize - 1;
	mps_log_format_time_current(apr_time_now(), stamp, sizeof(stamp));
	n = snprintf(buf, cap, "[%s] [LM %s] ", stamp,
	    mps_log_level_name(level));
	if (n < 0)
		n = 0;
	off = (size_t)n < cap ? (size_t)n : cap - 1;

	n = vsnprintf(buf + off, cap - off, fmt, ap);
	if (n < 0) {
		len = (size_t)(apr_cpystrn(buf + off, unformattable,
		    cap - off) - buf);
	} else if ((size_t)n >= cap - off) {
		/* Cut: the line fills the buffer and says so. */
		len = cap - 1;
		if (len - off >= 3)
			memcpy(buf + len - 3, "...", 3);
	} else {
		len = off + (size_t)n;
	}
	sanitize(buf + off, len - off);
	buf[len++] = '\n';
	buf[len] = '\0';
	*msg_off = off;
	return len;
}

static size_t
format_linef(char *buf, size_t bufsize, mps_log_level_t level,
    size_t *msg_off, const char *fmt, ...) MPS_PRINTF(5, 6);

static size_t
format_linef(char *buf, size_t bufsize, mps_log_level_t level,
    size_t *msg_off, const char *fmt, ...)
{
	va_list ap;
	size_t len, off;

	va_start(ap, fmt);
	len = format_line(buf, bufsize, level, &off, fmt, ap);
	va_end(ap);
	if (msg_off != NULL)
		*msg_off = off;
	return len;
}

/*
 * Writes all of buf, retrying after EINTR and short writes. Returns 0, or
 * the errno of the write that failed; *written counts what did go out.
 */
static int
write_all(int fd, const char *buf, size_t len, size_t *written)
{
	ssize_t n;
	size_t done = 0;

	while (done < len) {
		n = write(fd, buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*written = done;
			return errno;
		}
		if (n == 0) {
			/* No progress and no error: don't spin forever. */
			*written = done;
			return EIO;
		}
		done += (size_t)n;
	}
	*written = done;
	return 0;
}

static void
stderr_write(const char *line, size_t len)
{
	size_t written;

	if (pthread_mutex_lock(&stderr_lock) != 0)
		return;
	/* Nothing sensible is left to do if stderr itself fails. */
	(void)write_all(STDERR_FILENO, line, len, &written);
	(void)pthread_mutex_unlock(&stderr_lock);
}

/*
 * Opens path for appending (flags adds e.g. O_TRUNC) and, if the file is
 * empty, writes the heading. On success fills *fdp, *sizep and *freshp.
 */
static apr_status_t
open_file(const mps_logger_t *l, int flags, int *fdp, apr_off_t *sizep,
    apr_off_t *freshp)
{
	struct stat st;
	size_t written;
	int fd, err;

	do {
		fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
		    O_NOCTTY | flags, LOG_FILE_MODE);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return APR_FROM_OS_ERROR(errno);
	if (fstat(fd, &st) != 0) {
		err = errno;
		(void)close(fd);
		return APR_FROM_OS_ERROR(err);
	}
	*sizep = st.st_size;
	/* An existing non-empty file counts as holding lines already, so an
	 * oversized first line rotates it away rather than joining it. */
	*freshp = 0;
	if (st.st_size == 0 && l->heading_len > 0) {
		err = write_all(fd, l->heading, l->heading_len, &written);
		if (err != 0) {
			(void)close(fd);
			return APR_FROM_OS_ERROR(err);
		}
		*sizep = (apr_off_t)written;
		*freshp = (apr_off_t)written;
	}
	*fdp = fd;
	return APR_SUCCESS;
}

/* Makes the freshly opened fd the current file, closing the old one. */
static void
switch_file(mps_logger_t *l, int fd, apr_off_t size, apr_off_t fresh)
{
	(void)close(l->fd);
	l->fd = fd;
	l->size = size;
	l->fresh_size = fresh;
	l->limit = l->max_bytes;
}

static void console_write(mps_log_level_t level, const char *line,
    size_t len, size_t msg_off);
static void syslog_write(mps_log_level_t level, const char *line,
    size_t len, size_t msg_off);

/*
 * Writes the report of the lines lost since the file last took one.
 * Returns 0 once it is written, or the errno of the refusal (the count
 * stays for the next try). The caller holds the lock.
 */
static int
report_lost(mps_logger_t *l)
{
	char line[LINE_MIN + PATH_MAX_GUESS + 128];
	size_t len, off, written;
	int err;

	/* A cut line ends where the disk filled: the report starts a new
	 * line rather than finish that one. */
	off = l->torn ? 1 : 0;
	line[0] = '\n';
	len = format_linef(line + off, sizeof(line) - off, MPS_LOG_ERROR, NULL,
	    "log file %s: %llu line%s could not be written (%s) and %s lost",
	    l->path, l->lost, l->lost == 1 ? "" : "s", strerror(l->lost_err),
	    l->lost == 1 ? "is" : "are") + off;
	err = write_all(l->fd, line, len, &written);
	l->size += (apr_off_t)written;
	if (err != 0 && written == 0)
		return err;
	l->lost = 0;
	l->torn = err != 0;
	return 0;
}

/* Writes an already formatted line to the current file; the caller holds
 * the lock. A line the file refuses is counted (reported in the file
 * once it takes lines again) and goes to stderr rather than nowhere. */
static void
write_locked(mps_logger_t *l, const char *line, size_t len)
{
	char msg[LINE_MIN + PATH_MAX_GUESS + 128];
	size_t written = 0, mlen, moff;
	int err;

	if (l->lost > 0 && (err = report_lost(l)) != 0)
		goto lost;
	err = write_all(l->fd, line, len, &written);
	l->size += (apr_off_t)written;
	if (err == 0) {
		l->torn = 0;
		return;
	}
	if (written > 0)
		l->torn = 1;
lost:
	mps_metric_inc(MPS_M_LOG_LINES_LOST);
	if (l->lost++ == 0) {
		/* Once per outage, where an operator looks when the log is
		 * silent: stderr in the foreground, syslog once detached. */
		l->lost_err = err;
		mlen = format_linef(msg, sizeof(msg), MPS_LOG_ERROR, &moff,
		    "cannot write log file %s: %s; lost lines are counted and "
		    "reported there once it can be written again", l->path,
		    strerror(err));
		console_write(MPS_LOG_ERROR, msg, mlen, moff);
	}
	if (atomic_load(&console_kind) != MPS_LOG_CONSOLE_SYSLOG)
		stderr_write(line, len);
}

static void
rotated_name(const mps_logger_t *l, char *buf, int i)
{
	/* name_cap leaves room for any int: cannot truncate. */
	(void)snprintf(buf, l->name_cap, "%s.%d", l->path, i);
}

/* How many of path.1, path.2, ... exist without a gap, at most limit. */
static int
count_rotated(mps_logger_t *l, int limit)
{
	struct stat st;
	int k;

	for (k = 0; k < limit; k++) {
		rotated_name(l, l->name_from, k + 1);
		if (lstat(l->name_from, &st) != 0)
			break;
	}
	return k;
}

/*
 * Shifts path.k -> path.k+1 ... path -> path.1, dropping the oldest by
 * renaming over it (so no moment is left with it missing and its
 * successor not yet in place). Stops at the first failure: going on would
 * overwrite a file that was not moved. On failure name_from and name_to
 * hold the rename that failed.
 */
static apr_status_t
shift_files(mps_logger_t *l)
{
	int k, i;

	k = count_rotated(l, l->max_files - 1);
	/* At the cap, path.k is the oldest: path.k-1 replaces it. */
	if (k == l->max_files - 1)
		k--;
	for (i = k; i >= 1; i--) {
		rotated_name(l, l->name_from, i);
		rotated_name(l, l->name_to, i + 1);
		if (rename(l->name_from, l->name_to) != 0 && errno != ENOENT)
			return APR_FROM_OS_ERROR(errno);
	}
	rotated_name(l, l->name_to, 1);
	/* ENOENT: the file was moved away (logrotate); start a new one. */
	if (rename(l->path, l->name_to) != 0 && errno != ENOENT) {
		/* Leave both names in the scratch buffers for the report;
		 * name_cap exceeds the path's length. */
		memcpy(l->name_from, l->path, strlen(l->path) + 1);
		return APR_FROM_OS_ERROR(errno);
	}
	return APR_SUCCESS;
}

/* Starts a new current file; the caller holds the lock. *renamep says
 * whether a failure was in renaming (else in opening the new file). */
static apr_status_t
rotate_locked(mps_logger_t *l, int *renamep)
{
	apr_status_t rv;
	apr_off_t size, fresh;
	int fd, flags = 0;

	*renamep = 0;
	if (l->max_files > 1) {
		if ((rv = shift_files(l)) != APR_SUCCESS) {
			*renamep = 1;
			return rv;
		}
	} else {
		/* One file in all: start it again. */
		flags = O_TRUNC;
	}
	if ((rv = open_file(l, flags, &fd, &size, &fresh)) != APR_SUCCESS)
		return rv;
	switch_file(l, fd, size, fresh);
	return APR_SUCCESS;
}

/*
 * Rotates if writing len more bytes would pass the limit, unless the file
 * holds nothing but its Heading: a line longer than the limit still gets
 * written, alone, to a fresh file.
 */
static int
need_rotation(const mps_logger_t *l, size_t len)
{
	if (l->max_bytes == 0 || l->size <= l->fresh_size)
		return 0;
	return l->size + (apr_off_t)len > l->limit;
}

static void
rotate_or_report(mps_logger_t *l)
{
	char line[LINE_MIN + 3 * PATH_MAX_GUESS], err[128];
	apr_status_t rv;
	size_t len;
	int renaming;

	if ((rv = rotate_locked(l, &renaming)) == APR_SUCCESS)
		return;
	/* Keep writing to the current file, and try again only after
	 * another LogFileMaxSize rather than before every line. */
	l->limit = l->size + l->max_bytes;
	if (!mps_logger_enabled(l, MPS_LOG_ERROR))
		return;
	apr_strerror(rv, err, sizeof(err));
	if (renaming)
		len = format_linef(line, sizeof(line), MPS_LOG_ERROR, NULL,
		    "cannot rotate log file %s: renaming %s to %s: %s",
		    l->path, l->name_from, l->name_to, err);
	else
		len = format_linef(line, sizeof(line), MPS_LOG_ERROR, NULL,
		    "cannot rotate log file %s: opening a new one: %s",
		    l->path, err);
	write_locked(l, line, len);
}

/* Writes a formatted line, rotating first if needed; or hands it to
 * syslog(3), which is thread-safe and keeps each message whole. */
static void
logger_emit(mps_logger_t *l, mps_log_level_t level, const char *line,
    size_t len, size_t msg_off)
{
	if (l->to_syslog) {
		syslog_write(level, line, len, msg_off);
		return;
	}
	if (pthread_mutex_lock(&l->lock) != 0) {
		stderr_write(line, len);
		return;
	}
	if (need_rotation(l, len))
		rotate_or_report(l);
	write_locked(l, line, len);
	(void)pthread_mutex_unlock(&l->lock);
}

/* Says what is wrong, since the caller only learns APR_EINVAL. */
static apr_status_t
check_options(const mps_log_options_t *opts)
{
	if (opts == NULL || opts->file_name == NULL ||
	    opts->file_name[0] == '\0') {
		mps_log(MPS_LOG_ERROR, "log file options: no LogFileName");
		return APR_EINVAL;
	}
	if (opts->max_files < 1) {
		mps_log(MPS_LOG_ERROR, "log file options: LogFileMaxFiles %d "
		    "is below 1", opts->max_files);
		return APR_EINVAL;
	}
	if (opts->max_size_kb < 0 || opts->max_size_kb > MAX_SIZE_KB_LIMIT) {
		mps_log(MPS_LOG_ERROR, "log file options: LogFileMaxSize %"
		    APR_OFF_T_FMT " KB is out of range", opts->max_size_kb);
		return APR_EINVAL;
	}
	return APR_SUCCESS;
}

/* dir/file_name; an empty or missing dir means the current directory. */
static char *
join_path(const char *dir, const char *name)
{
	size_t dlen, nlen;
	char *p;
	int slash;

	dlen = dir != NULL ? strlen(dir) : 0;
	nlen = strlen(name);
	slash = dlen > 0 && dir[dlen - 1] != '/';
	if (dlen > SIZE_MAX / 2 || nlen > SIZE_MAX / 2)
		return NULL;
	if ((p = malloc(dlen + (size_t)slash + nlen + 1)) == NULL)
		return NULL;
	if (dlen > 0)
		memcpy(p, dir, dlen);
	if (slash)
		p[dlen] = '/';
	memcpy(p + dlen + (size_t)slash, name, nlen + 1);
	return p;
}

/* The Heading, made one line: sanitised, cut to a line, '\n' added. */
static char *
make_heading(const char *heading, size_t *lenp)
{
	size_t len;
	char *h;

	len = heading != NULL ? strlen(heading) : 0;
	if (len > MPS_LOG_LINE_MAX - 1)
		len = MPS_LOG_LINE_MAX - 1;
	if ((h = malloc(len + 2)) == NULL)
		return NULL;
	if (len > 0)
		memcpy(h, heading, len);
	sanitize(h, len);
	if (len > 0)
		h[len++] = '\n';
	h[len] = '\0';
	*lenp = len;
	return h;
}

static void
logger_free(mps_logger_t *l)
{
	free(l->path);
	free(l->heading);
	free(l->name_from);
	free(l->name_to);
	free(l);
}

/* Everything but the file and the mutex. */
static apr_status_t
logger_alloc(mps_logger_t **lp, const mps_log_options_t *opts)
{
	mps_logger_t *l;
	size_t plen;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return APR_ENOMEM;
	l->fd = -1;
	atomic_init(&l->levels, opts->levels);
	l->max_bytes = opts->max_size_kb * 1024;
	l->limit = l->max_bytes;
	l->max_files = opts->max_files;
	if ((l->path = join_path(opts->dir, opts->file_name)) == NULL)
		goto nomem;
	if ((l->heading = make_heading(opts->heading,
	    &l->heading_len)) == NULL)
		goto nomem;
	plen = strlen(l->path);
	if (plen > SIZE_MAX - SUFFIX_ROOM)
		goto nomem;
	l->name_cap = plen + SUFFIX_ROOM;
	if ((l->name_from = malloc(l->name_cap)) == NULL ||
	    (l->name_to = malloc(l->name_cap)) == NULL)
		goto nomem;
	*lp = l;
	return APR_SUCCESS;
nomem:
	logger_free(l);
	return APR_ENOMEM;
}

/* The syslog target: a logger with no file (path "syslog", for the
 * lines that name where the log goes). */
static apr_status_t
open_syslog_logger(mps_logger_t **logger, const mps_log_options_t *opts)
{
	mps_logger_t *l;
	int prv;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return APR_ENOMEM;
	l->fd = -1;
	l->to_syslog = 1;
	atomic_init(&l->levels, opts->levels);
	if ((l->path = strdup("syslog")) == NULL) {
		free(l);
		return APR_ENOMEM;
	}
	if ((prv = pthread_mutex_init(&l->lock, NULL)) != 0) {
		logger_free(l);
		return APR_FROM_OS_ERROR(prv);
	}
	*logger = l;
	return APR_SUCCESS;
}

apr_status_t
mps_logger_open(mps_logger_t **logger, const mps_log_options_t *opts)
{
	mps_logger_t *l;
	apr_status_t rv;
	char err[128];
	int prv;

	*logger = NULL;
	if (opts != NULL && opts->to_syslog)
		return open_syslog_logger(logger, opts);
	if ((rv = check_options(opts)) != APR_SUCCESS)
		return rv;
	if ((rv = logger_alloc(&l, opts)) != APR_SUCCESS) {
		mps_log(MPS_LOG_ERROR, "cannot open log file: out of memory");
		return rv;
	}
	rv = open_file(l, 0, &l->fd, &l->size, &l->fresh_size);
	if (rv != APR_SUCCESS) {
		mps_log(MPS_LOG_ERROR, "cannot open log file %s: %s", l->path,
		    apr_strerror(rv, err, sizeof(err)));
		logger_free(l);
		return rv;
	}
	if ((prv = pthread_mutex_init(&l->lock, NULL)) != 0) {
		(void)close(l->fd);
		logger_free(l);
		return APR_FROM_OS_ERROR(prv);
	}
	*logger = l;
	return APR_SUCCESS;
}

void
mps_logger_close(mps_logger_t *logger)
{
	mps_logger_t *expected = logger;

	if (logger == NULL)
		return;
	/* Never leave mps_log() pointing at freed memory. */
	(void)atomic_compare_exchange_strong(&default_logger, &expected, NULL);
	if (logger->fd >= 0)
		(void)close(logger->fd);
	(void)pthread_mutex_destroy(&logger->lock);
	logger_free(logger);
}

apr_status_t
mps_logger_reopen(mps_logger_t *logger)
{
	apr_status_t rv;
	apr_off_t size, fresh;
	char err[128];
	int fd;

	if (logger->to_syslog)
		return APR_SUCCESS;	/* nothing to reopen */
	if (pthread_mutex_lock(&logger->lock) != 0)
		return APR_EGENERAL;
	rv = open_file(logger, 0, &fd, &size, &fresh);
	if (rv == APR_SUCCESS)
		switch_file(logger, fd, size, fresh);
	(void)pthread_mutex_unlock(&logger->lock);
	if (rv != APR_SUCCESS) {
		/* The old file is still open: say there why it stays. */
		mps_logger_write(logger, MPS_LOG_ERROR,
		    "cannot reopen log file %s: %s", logger->path,
		    apr_strerror(rv, err, sizeof(err)));
	}
	return rv;
}

const char *
mps_logger_path(const mps_logger_t *logger)
{
	return logger->path;
}

int
mps_logger_enabled(const mps_logger_t *logger, mps_log_level_t level)
{
	if (logger == NULL)
		return 0;
	return (atomic_load_explicit(&logger->levels, memory_order_relaxed) &
	    (unsigned)level) != 0;
}

void
mps_logger_set_levels(mps_logger_t *logger, unsigned levels)
{
	atomic_store_explicit(&logger->levels, levels, memory_order_relaxed);
}

unsigned
mps_logger_get_levels(const mps_logger_t *logger)
{
	return atomic_load_explicit(&logger->levels, memory_order_relaxed);
}

void
mps_logger_vwrite(mps_logger_t *logger, mps_log_level_t level,
    const char *fmt, va_list ap)
{
	char line[MPS_LOG_LINE_MAX + 1];
	size_t len, off;

	if (!mps_logger_enabled(logger, level))
		return;
	len = format_line(line, sizeof(line), level, &off, fmt, ap);
	logger_emit(logger, level, line, len, off);
}

void
mps_logger_write(mps_logger_t *logger, mps_log_level_t level,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mps_logger_vwrite(logger, level, fmt, ap);
	va_end(ap);
}

void
mps_log_set_default(mps_logger_t *logger)
{
	atomic_store_explicit(&default_logger, logger, memory_order_release);
}

mps_logger_t *
mps_log_default(void)
{
	return atomic_load_explicit(&default_logger, memory_order_acquire);
}

int
mps_log_enabled(mps_log_level_t level)
{
	mps_logger_t *l = mps_log_default();

	if (l == NULL)
		return (MPS_LOG_DEFAULT_LEVELS & (unsigned)level) != 0;
	return mps_logger_enabled(l, level);
}

void
mps_log(mps_log_level_t level, const char *fmt, ...)
{
	char line[MPS_LOG_LINE_MAX + 1];
	mps_logger_t *l;
	size_t len, off;
	va_list ap;

	if ((l = mps_log_default()) != NULL) {
		va_start(ap, fmt);
		mps_logger_vwrite(l, level, fmt, ap);
		va_end(ap);
		return;
	}
	if ((MPS_LOG_DEFAULT_LEVELS & (unsigned)level) == 0)
		return;
	va_start(ap, fmt);
	len = format_line(line, sizeof(line), level, &off, fmt, ap);
	va_end(ap);
	stderr_write(line, len);
}

void
mps_log_set_console(mps_log_console_t console)
{
	atomic_store(&console_kind, (int)console);
}

static void
open_syslog(void)
{
	openlog("mpsd", LOG_PID, LOG_DAEMON);
}

static int
syslog_priority(mps_log_level_t level)
{
	switch (level) {
	case MPS_LOG_ERROR:
		return LOG_ERR;
	case MPS_LOG_WARNING:
		return LOG_WARNING;
	case MPS_LOG_INFO:
		return LOG_INFO;
	case MPS_LOG_DEBUG:
		return LOG_DEBUG;
	}
	return LOG_NOTICE;
}

void
mps_log_announce(mps_log_level_t level, const char *fmt, ...)
{
	char line[MPS_LOG_LINE_MAX + 1];
	mps_logger_t *l;
	size_t len, off;
	va_list ap;

	va_start(ap, fmt);
	len = format_line(line, sizeof(line), level, &off, fmt, ap);
	va_end(ap);

	l = mps_log_default();
	if (l != NULL)
		logger_emit(l, level, line, len, off);
	/* Once in syslog is enough when the log itself goes there. */
	if (l != NULL && l->to_syslog &&
	    atomic_load(&console_kind) == MPS_LOG_CONSOLE_SYSLOG)
		return;
	if (atomic_load(&console_kind) != MPS_LOG_CONSOLE_NONE || l == NULL)
		console_write(level, line, len, off);
}

/* Writes a formatted line to the console (log.h): syslog, or stderr;
 * stderr also when the console is NONE (the only place left). */
static void
console_write(mps_log_level_t level, const char *line, size_t len,
    size_t msg_off)
{
	if (atomic_load(&console_kind) == MPS_LOG_CONSOLE_SYSLOG)
		syslog_write(level, line, len, msg_off);
	else
		stderr_write(line, len);
}

/* A formatted line to syslog(3): the message alone (syslog stamps its
 * own time and priority), without our newline. */
static void
syslog_write(mps_log_level_t level, const char *line, size_t len,
    size_t msg_off)
{
	char copy[MPS_LOG_LINE_MAX + 1];

	/* openlog() once: its ident must outlive every syslog(). */
	(void)pthread_once(&syslog_once, open_syslog);
	if (len == 0 || len > sizeof(copy) || msg_off >= len)
		return;
	memcpy(copy, line, len - 1);
	copy[len - 1] = '\0';
	syslog(LOG_DAEMON | syslog_priority(level), "%s", copy + msg_off);
}
