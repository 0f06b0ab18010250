/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h: mpsd's log file.
 *
 * Format, by default ISO 8601 with the UTC offset (local time,
 * microseconds), so that lines from hosts and seasons compare:
 *
 *     [2008-07-02T12:21:34.203000+02:00] [LM INFO] text
 *
 * or, with <Logger><TimeFormat>guide</TimeFormat>, the product guide's
 * sample log (section 10.3; day of month without padding, no offset):
 *
 *     [Wed Jul 2 2008 12:21:34.203000] [LM INFO] text
 *
 * One line per message. The file is LogFilePath/LogFileName and starts with the
 * Heading line. When it passes LogFileMaxSize KiB it is rotated:
 * mps.log -> mps.log.1, mps.log.1 -> mps.log.2, ..., keeping at most
 * LogFileMaxFiles files in all (the current one included); the oldest is
 * removed. Each new file starts with the Heading again.
 *
 * Thread-safety: every function may be called from any thread. A message
 * is written with one write() under the logger's mutex, and rotation
 * happens under the same mutex, so concurrent writers never tear,
 * interleave or lose lines across a rotation.
 *
 * Trace levels filter what is written; a level's check is a single atomic
 * load, so disabled DEBUG lines cost almost nothing.
 *
 * A line is at most MPS_LOG_LINE_MAX bytes, its newline included; a longer
 * message is cut and its line ends in "..." so that it is still one line
 * written with one write(). Control characters in a message (bytes below
 * 0x20 except tab, and DEL) are written as spaces: peers' bytes reach the
 * log, and must never forge or split a line.
 */
#ifndef MPS_LOG_H
#define MPS_LOG_H

#include <apr.h>
#include <apr_errno.h>
#include <apr_time.h>
#include <stdarg.h>
#include <stddef.h>

typedef enum {
	MPS_LOG_ERROR = 1u << 0,
	MPS_LOG_WARNING = 1u << 1,
	MPS_LOG_INFO = 1u << 2,
	MPS_LOG_DEBUG = 1u << 3	/* mpsd's extension to the guide's three */
} mps_log_level_t;

#define MPS_LOG_ALL_LEVELS \
	(MPS_LOG_ERROR | MPS_LOG_WARNING | MPS_LOG_INFO | MPS_LOG_DEBUG)
/* The guide's recommended setting, "INFO|ERROR|WARNING". */
#define MPS_LOG_DEFAULT_LEVELS (MPS_LOG_ERROR | MPS_LOG_WARNING | MPS_LOG_INFO)

/* Longest line written, newline included; longer messages are cut. */
#define MPS_LOG_LINE_MAX 8192

#if defined(__GNUC__)
#define MPS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MPS_PRINTF(f, a)
#endif

typedef struct mps_log_options_t {
	const char *dir;		/* LogFilePath (absolute, or relative to cwd) */
	const char *file_name;		/* LogFileName */
	const char *heading;		/* Heading: first line of every file */
	apr_off_t max_size_kb;		/* LogFileMaxSize in KiB; 0 = never rotate */
	int max_files;			/* LogFileMaxFiles: files kept in all, >= 1 */
	unsigned levels;		/* TraceLevels mask of mps_log_level_t */
	/* <Logger><Target>syslog</Target>: lines go to syslog(3) (ident
	 * "mpsd", facility daemon, which journald takes under systemd) and
	 * no file is opened: dir, file_name, heading, max_size_kb and
	 * max_files are ignored. */
	int to_syslog;
} mps_log_options_t;

typedef struct mps_logger_t mps_logger_t;

/*
 * Opens (appending) or creates the log file; a new or empty file gets the
 * Heading first. The logger is malloc'd and copies what it needs from
 * opts. Returns the OS error if the directory or file cannot be opened
 * (a missing directory is not created: APR_STATUS_IS_ENOENT), after
 * reporting it, with the file's full path, through mps_log(); APR_EINVAL
 * for options out of range (no name, max_files < 1, max_size_kb < 0).
 */
apr_status_t mps_logger_open(mps_logger_t **logger, const mps_log_options_t *opts);

/* Closes the file and frees the logger. NULL is allowed. If it is the
 * default logger, the default is cleared first; no other thread may still
 * be writing to it. */
void mps_logger_close(mps_logger_t *logger);

/* Writes one line at level, if level is enabled. Text after a newline or
 * carriage return in the message is kept but the control character is
 * written as a space, so one message is always one line. */
void mps_logger_write(mps_logger_t *logger, mps_log_level_t level,
    const char *fmt, ...) MPS_PRINTF(3, 4);
void mps_logger_vwrite(mps_logger_t *logger, mps_log_level_t level,
    const char *fmt, va_list ap);

/* Whether a message at level would be written (one atomic load). */
int mps_logger_enabled(const mps_logger_t *logger, mps_log_level_t level);

void mps_logger_set_levels(mps_logger_t *logger, unsigned levels);
unsigned mps_logger_get_levels(const mps_logger_t *logger);

/* Closes and reopens the file by name (after an external logrotate, on
 * SIGHUP). On failure the old file stays open, an ERROR line naming the
 * path is written to it, and the OS error is returned. */
apr_status_t mps_logger_reopen(mps_logger_t *logger);

/* Path of the current log file (owned by the logger). */
const char *mps_logger_path(const mps_logger_t *logger);

/*
 * The process-wide logger that mps_log() writes to. Until one is set,
 * mps_log() writes enabled-by-default levels to stderr in the same format,
 * so that errors before the log file opens are not lost.
 */
void mps_log_set_default(mps_logger_t *logger);
mps_logger_t *mps_log_default(void);

void mps_log(mps_log_level_t level, const char *fmt, ...) MPS_PRINTF(2, 3);
int mps_log_enabled(mps_log_level_t level);

/*
 * Start-up and failure messages (the guide's section 10.2) go to the log
 * file and also to the console: stderr in the foreground, syslog (daemon
 * facility, ident "mpsd") once daemonized. mps_log_announce() writes to
 * both, whatever the trace levels say: to the default logger if one is
 * set, and to the console. With no default logger and no console it still
 * goes to stderr, as mps_log() would. The console starts as
 * MPS_LOG_CONSOLE_STDERR.
 */
typedef enum {
	MPS_LOG_CONSOLE_NONE,
	MPS_LOG_CONSOLE_STDERR,
	MPS_LOG_CONSOLE_SYSLOG
} mps_log_console_t;

void mps_log_set_console(mps_log_console_t console);
void mps_log_announce(mps_log_level_t level, const char *fmt, ...) MPS_PRINTF(2, 3);

/* "ERROR", "WARNING", "INFO", "DEBUG"; "UNKNOWN" for anything else. */
const char *mps_log_level_name(mps_log_level_t level);

/* How lines are stamped (process-wide, any thread). */
typedef enum {
	MPS_LOG_TIME_ISO8601,		/* 2008-07-02T12:21:34.203000+02:00 (default) */
	MPS_LOG_TIME_GUIDE		/* Wed Jul 2 2008 12:21:34.203000 */
} mps_log_time_format_t;

void mps_log_set_time_format(mps_log_time_format_t format);

/* Where the log goes: <Logger><Target> (mps_log_options_t.to_syslog). */
typedef enum {
	MPS_LOG_TARGET_FILE,		/* LogFilePath/LogFileName (default) */
	MPS_LOG_TARGET_SYSLOG		/* syslog(3), ident mpsd, daemon */
} mps_log_target_t;
mps_log_time_format_t mps_log_get_time_format(void);

/*
 * Formats t as ISO 8601 in local time with its UTC offset,
 * "2008-07-02T12:21:34.203000+02:00" ("+00:00" in UTC), into buf, with
 * the same contract as mps_log_format_time(). 40 bytes always suffice.
 */
size_t mps_log_format_time_iso(apr_time_t t, char *buf, size_t bufsize);

/* t in the format set by mps_log_set_time_format(), as lines get it. */
size_t mps_log_format_time_current(apr_time_t t, char *buf, size_t bufsize);

/*
 * Formats the guide's time stamp for t ("Wed Jul 2 2008 12:21:34.203000",
 * local time) into buf; returns the length written, at most bufsize - 1
 * (the text is cut to fit and always NUL-terminated; 0 if bufsize is 0).
 * 40 bytes always suffice. Exposed for tests.
 */
size_t mps_log_format_time(apr_time_t t, char *buf, size_t bufsize);

#endif /* MPS_LOG_H */
