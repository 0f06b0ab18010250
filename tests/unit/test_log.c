/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_log.c: the log file (server/log.c).
 *
 * Every test runs in its own fresh directory under one per-case temporary
 * tree; the tree is removed by an unchecked teardown, which runs in the
 * parent process, so nothing is left behind even when a forked test fails.
 * Tests set TZ=UTC so that time stamps can be parsed back strictly.
 */
#include "unit.h"
#include "log.h"
#include "log_limit.h"
#include "metrics.h"

#include <apr_time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HEADING "Intel(R) Management Presence Server"
#define HEADING_LINE HEADING "\n"

static char base_dir[PATH_MAX];		/* per test case */
static char test_dir[PATH_MAX];		/* per test, inside base_dir */

/* ---- fixtures ---- */

static void
use_tz(const char *tz)
{
	ck_assert_int_eq(setenv("TZ", tz, 1), 0);
	tzset();
}

static void
case_setup(void)
{
	strcpy(base_dir, "/tmp/mpsd-test-log.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base_dir));
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	return remove(path);
}

static void
case_teardown(void)
{
	if (base_dir[0] != '\0')
		(void)nftw(base_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	base_dir[0] = '\0';
}

static void
test_setup(void)
{
	int n;

	n = snprintf(test_dir, sizeof(test_dir), "%s/t.XXXXXX", base_dir);
	ck_assert(n > 0 && (size_t)n < sizeof(test_dir));
	ck_assert_ptr_nonnull(mkdtemp(test_dir));
	use_tz("UTC");
	mps_log_set_default(NULL);
	mps_log_set_console(MPS_LOG_CONSOLE_STDERR);
	/* Most cases parse lines strictly in the guide's format (still a
	 * setting); the ISO 8601 default has its own cases. */
	mps_log_set_time_format(MPS_LOG_TIME_GUIDE);
}

static void
test_teardown(void)
{
	mps_log_set_default(NULL);
	mps_log_set_console(MPS_LOG_CONSOLE_STDERR);
	mps_log_set_time_format(MPS_LOG_TIME_ISO8601);
}

/* ---- helpers ---- */

static void
path_in(char *buf, size_t size, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", test_dir, name);

	ck_assert(n > 0 && (size_t)n < size);
}

static mps_log_options_t
options(apr_off_t max_kb, int max_files, unsigned levels)
{
	mps_log_options_t o;

	memset(&o, 0, sizeof(o));
	o.dir = test_dir;
	o.file_name = "mps.log";
	o.heading = HEADING;
	o.max_size_kb = max_kb;
	o.max_files = max_files;
	o.levels = levels;
	return o;
}

static mps_logger_t *
open_logger(apr_off_t max_kb, int max_files, unsigned levels)
{
	mps_log_options_t o = options(max_kb, max_files, levels);
	mps_logger_t *l = NULL;

	ck_assert_int_eq(mps_logger_open(&l, &o), APR_SUCCESS);
	ck_assert_ptr_nonnull(l);
	return l;
}

/* Whole file, NUL-terminated; NULL if it does not exist. */
static char *
slurp(const char *path, size_t *lenp)
{
	struct stat st;
	char *buf;
	size_t done = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0) {
		ck_assert_int_eq(errno, ENOENT);
		return NULL;
	}
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	while (done < (size_t)st.st_size) {
		n = read(fd, buf + done, (size_t)st.st_size - done);
		ck_assert(n > 0);
		done += (size_t)n;
	}
	close(fd);
	buf[done] = '\0';
	if (lenp != NULL)
		*lenp = done;
	return buf;
}

static char *
slurp_in(const char *name, size_t *lenp)
{
	char path[PATH_MAX];

	path_in(path, sizeof(path), name);
	return slurp(path, lenp);
}

static int
exists_in(const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	path_in(path, sizeof(path), name);
	return stat(path, &st) == 0;
}

static int
count_entries(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir(test_dir);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

typedef struct lines_t {
	char *buf;
	char **line;
	size_t count;
	size_t bytes;
} lines_t;

/* Splits a file into lines (in place); every line must end in '\n'. */
static int
read_lines(const char *name, lines_t *out)
{
	size_t i, start, cap = 16;

	memset(out, 0, sizeof(*out));
	if ((out->buf = slurp_in(name, &out->bytes)) == NULL)
		return 0;
	ck_assert_msg(out->bytes == 0 || out->buf[out->bytes - 1] == '\n',
	    "%s does not end with a newline", name);
	out->line = malloc(cap * sizeof(char *));
	ck_assert_ptr_nonnull(out->line);
	for (i = 0, start = 0; i < out->bytes; i++) {
		if (out->buf[i] != '\n')
			continue;
		if (out->count == cap) {
			cap *= 2;
			out->line = realloc(out->line, cap * sizeof(char *));
			ck_assert_ptr_nonnull(out->line);
		}
		out->buf[i] = '\0';
		out->line[out->count++] = out->buf + start;
		start = i + 1;
	}
	return 1;
}

static void
free_lines(lines_t *l)
{
	free(l->buf);
	free(l->line);
	memset(l, 0, sizeof(*l));
}

/* ---- strict parsing of a log line ---- */

typedef struct parsed_t {
	apr_time_t time;
	char level[16];
	const char *text;
} parsed_t;

#define LINE_RE \
	"^\\[(Sun|Mon|Tue|Wed|Thu|Fri|Sat) " \
	"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) " \
	"([1-9]|[12][0-9]|3[01]) ([0-9]{4}) " \
	"([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]|60)\\.([0-9]{6})\\] " \
	"\\[LM (ERROR|WARNING|INFO|DEBUG)\\] "
#define NGROUPS 10

static regex_t line_re;
static pthread_once_t line_re_once = PTHREAD_ONCE_INIT;
static int line_re_ok;

static void
compile_line_re(void)
{
	line_re_ok = regcomp(&line_re, LINE_RE, REG_EXTENDED) == 0;
}

static int
field_int(const char *s, const regmatch_t *m)
{
	char tmp[16];
	size_t len = (size_t)(m->rm_eo - m->rm_so);

	if (len >= sizeof(tmp))
		return -1;
	memcpy(tmp, s + m->rm_so, len);
	tmp[len] = '\0';
	return atoi(tmp);
}

static int
field_index(const char *s, const regmatch_t *m, const char *const *names,
    int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (strncmp(s + m->rm_so, names[i], 3) == 0)
			return i;
	return -1;
}

/*
 * Parses "[Wed Jul 2 2008 12:21:34.203000] [LM INFO] text" (TZ=UTC).
 * Returns 1 only if the format is exact and the weekday is right for the
 * date.
 */
static int
parse_line(const char *line, parsed_t *p)
{
	static const char *const days[] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char *const months[] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	regmatch_t m[NGROUPS];
	struct tm tm, check;
	time_t secs;
	size_t len;
	int wday;

	pthread_once(&line_re_once, compile_line_re);
	if (!line_re_ok || regexec(&line_re, line, NGROUPS, m, 0) != 0)
		return 0;
	memset(&tm, 0, sizeof(tm));
	wday = field_index(line, &m[1], days, 7);
	tm.tm_mon = field_index(line, &m[2], months, 12);
	tm.tm_mday = field_int(line, &m[3]);
	tm.tm_year = field_int(line, &m[4]) - 1900;
	tm.tm_hour = field_int(line, &m[5]);
	tm.tm_min = field_int(line, &m[6]);
	tm.tm_sec = field_int(line, &m[7]);
	if ((secs = timegm(&tm)) == (time_t)-1 ||
	    gmtime_r(&secs, &check) == NULL || check.tm_wday != wday ||
	    check.tm_mday != tm.tm_mday)
		return 0;
	p->time = apr_time_from_sec(secs) + field_int(line, &m[8]);
	len = (size_t)(m[9].rm_eo - m[9].rm_so);
	memcpy(p->level, line + m[9].rm_so, len);
	p->level[len] = '\0';
	p->text = line + m[0].rm_eo;
	return 1;
}

static void
assert_line(const char *line, const char *level, const char *text)
{
	parsed_t p;

	ck_assert_msg(parse_line(line, &p), "bad log line: '%s'", line);
	ck_assert_str_eq(p.level, level);
	ck_assert_str_eq(p.text, text);
}

/* ---- stderr capture (Check forks each test: dup2 is contained) ---- */

typedef struct capture_t {
	int saved;
	char path[PATH_MAX];
} capture_t;

static void
capture_start(capture_t *c)
{
	int fd;

	path_in(c->path, sizeof(c->path), "stderr.txt");
	fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	c->saved = dup(STDERR_FILENO);
	ck_assert_int_ge(c->saved, 0);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
}

static char *
capture_end(capture_t *c)
{
	char *s;

	ck_assert_int_eq(dup2(c->saved, STDERR_FILENO), STDERR_FILENO);
	close(c->saved);
	s = slurp(c->path, NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(unlink(c->path), 0);
	return s;
}

/* ---- time stamp ---- */

START_TEST(test_format_time_guide_sample)
{
	char buf[64];
	apr_time_t t = apr_time_from_sec(1215001294) + 203000;
	size_t n;

	n = mps_log_format_time(t, buf, sizeof(buf));
	ck_assert_str_eq(buf, "Wed Jul 2 2008 12:21:34.203000");
	ck_assert_uint_eq(n, strlen(buf));

	/* Microseconds keep their zeros; two-digit days stay as they are. */
	n = mps_log_format_time(apr_time_from_sec(1215001294), buf,
	    sizeof(buf));
	ck_assert_str_eq(buf, "Wed Jul 2 2008 12:21:34.000000");
	ck_assert_uint_eq(n, strlen(buf));
	mps_log_format_time(apr_time_from_sec(1230767999) + 999999, buf,
	    sizeof(buf));
	ck_assert_str_eq(buf, "Wed Dec 31 2008 23:59:59.999999");
	mps_log_format_time(apr_time_from_sec(1230768000) + 7, buf,
	    sizeof(buf));
	ck_assert_str_eq(buf, "Thu Jan 1 2009 00:00:00.000007");
}
END_TEST

START_TEST(test_format_time_is_local)
{
	char buf[64];

	/* UTC+9, no daylight saving: the last microsecond of 2008 in UTC
	 * is the next morning there. */
	use_tz("JST-9");
	mps_log_format_time(apr_time_from_sec(1230767999) + 999999, buf,
	    sizeof(buf));
	ck_assert_str_eq(buf, "Thu Jan 1 2009 08:59:59.999999");
	use_tz("UTC");
}
END_TEST

START_TEST(test_format_time_iso)
{
	char buf[64];
	apr_time_t t = apr_time_from_sec(1215001294) + 203000;

	ck_assert_uint_eq(mps_log_format_time_iso(t, buf, sizeof(buf)), 32);
	ck_assert_str_eq(buf, "2008-07-02T12:21:34.203000+00:00");
	/* East of UTC, across midnight and the year. */
	use_tz("JST-9");
	mps_log_format_time_iso(apr_time_from_sec(1230767999) + 999999, buf,
	    sizeof(buf));
	ck_assert_str_eq(buf, "2009-01-01T08:59:59.999999+09:00");
	/* West, with minutes in the offset. */
	use_tz("NST3:30");
	mps_log_format_time_iso(t, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2008-07-02T08:51:34.203000-03:30");
	/* Daylight saving shows in the offset (CET/CEST). */
	use_tz("CET-1CEST,M3.5.0,M10.5.0/3");
	mps_log_format_time_iso(t, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2008-07-02T14:21:34.203000+02:00");
	mps_log_format_time_iso(apr_time_from_sec(1230767999), buf,
	    sizeof(buf));
	ck_assert_str_eq(buf, "2009-01-01T00:59:59.000000+01:00");
	use_tz("UTC");
	memset(buf, 'z', sizeof(buf));
	ck_assert_uint_eq(mps_log_format_time_iso(t, buf, 11), 10);
	ck_assert_str_eq(buf, "2008-07-02");
	ck_assert_uint_eq(mps_log_format_time_iso(t, buf, 0), 0);
}
END_TEST

/* The default: each line stamped in ISO 8601 with the offset. */
START_TEST(test_line_format_iso)
{
	mps_log_options_t o = options(0, 1, MPS_LOG_ALL_LEVELS);
	mps_logger_t *l;
	regex_t re;
	char path[512], text[4096];
	FILE *f;
	size_t n;

	mps_log_set_time_format(MPS_LOG_TIME_ISO8601);
	ck_assert_int_eq(mps_logger_open(&l, &o), APR_SUCCESS);
	mps_logger_write(l, MPS_LOG_WARNING, "iso line");
	mps_logger_close(l);
	path_in(path, sizeof(path), "mps.log");
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	ck_assert_int_eq(regcomp(&re, "\n\\[[0-9]{4}-[01][0-9]-[0-3][0-9]T"
	    "[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\\.[0-9]{6}[+-][0-9]{2}:[0-9]{2}"
	    "\\] \\[LM WARNING\\] iso line\n", REG_EXTENDED), 0);
	ck_assert_msg(regexec(&re, text, 0, NULL, 0) == 0, "got: %s", text);
	regfree(&re);
	ck_assert_int_eq(mps_log_get_time_format(), MPS_LOG_TIME_ISO8601);
	ck_assert_uint_eq(mps_log_format_time_current(0, path, sizeof(path)),
	    32);
	mps_log_set_time_format(MPS_LOG_TIME_GUIDE);
	ck_assert_uint_eq(mps_log_format_time_current(0, path, sizeof(path)),
	    30);
}
END_TEST

START_TEST(test_format_time_small_buffer)
{
	char buf[10];
	apr_time_t t = apr_time_from_sec(1215001294) + 203000;

	memset(buf, 'z', sizeof(buf));
	ck_assert_uint_eq(mps_log_format_time(t, buf, sizeof(buf)), 9);
	ck_assert_str_eq(buf, "Wed Jul 2");
	memset(buf, 'z', sizeof(buf));
	ck_assert_uint_eq(mps_log_format_time(t, buf, 1), 0);
	ck_assert_int_eq(buf[0], '\0');
	ck_assert_int_eq(buf[1], 'z');
	ck_assert_uint_eq(mps_log_format_time(t, buf, 0), 0);
	ck_assert_int_eq(buf[0], '\0');
}
END_TEST

START_TEST(test_level_names)
{
	ck_assert_str_eq(mps_log_level_name(MPS_LOG_ERROR), "ERROR");
	ck_assert_str_eq(mps_log_level_name(MPS_LOG_WARNING), "WARNING");
	ck_assert_str_eq(mps_log_level_name(MPS_LOG_INFO), "INFO");
	ck_assert_str_eq(mps_log_level_name(MPS_LOG_DEBUG), "DEBUG");
	ck_assert_str_eq(mps_log_level_name((mps_log_level_t)0), "UNKNOWN");
	ck_assert_str_eq(mps_log_level_name((mps_log_level_t)(1u << 7)),
	    "UNKNOWN");
}
END_TEST

/* ---- the file ---- */

START_TEST(test_line_format)
{
	mps_logger_t *l;
	lines_t f;
	parsed_t p;
	apr_time_t before, after;
	char path[PATH_MAX];

	l = open_logger(0, 1, MPS_LOG_ALL_LEVELS);
	path_in(path, sizeof(path), "mps.log");
	ck_assert_str_eq(mps_logger_path(l), path);
	before = apr_time_now();
	mps_logger_write(l, MPS_LOG_INFO,
	    "Intel (R) Management Presence Server has %s", "started");
	after = apr_time_now();
	mps_logger_write(l, MPS_LOG_ERROR, "e %d", 1);
	mps_logger_write(l, MPS_LOG_WARNING, "w");
	mps_logger_write(l, MPS_LOG_DEBUG, "%s", "");
	mps_logger_close(l);

	ck_assert(read_lines("mps.log", &f));
	ck_assert_uint_eq(f.count, 5);
	ck_assert_str_eq(f.line[0], HEADING);
	ck_assert(parse_line(f.line[1], &p));
	ck_assert_str_eq(p.level, "INFO");
	ck_assert_str_eq(p.text,
	    "Intel (R) Management Presence Server has started");
	ck_assert_msg(p.time >= before && p.time <= after,
	    "time stamp %" APR_TIME_T_FMT " outside [%" APR_TIME_T_FMT
	    ", %" APR_TIME_T_FMT "]", p.time, before, after);
	/* The exact bytes around the fields, as in the guide. */
	ck_assert(strncmp(f.line[1], "[", 1) == 0);
	ck_assert_ptr_nonnull(strstr(f.line[1], "] [LM INFO] Intel (R)"));
	assert_line(f.line[2], "ERROR", "e 1");
	ck_assert_ptr_nonnull(strstr(f.line[2], "] [LM ERROR] e 1"));
	assert_line(f.line[3], "WARNING", "w");
	ck_assert_ptr_nonnull(strstr(f.line[3], "] [LM WARNING] w"));
	assert_line(f.line[4], "DEBUG", "");
	free_lines(&f);
}
END_TEST

/* Target syslog: no file is opened (the integration test log_syslog.sh
 * captures what reaches /dev/log); the path names where lines go and a
 * reopen (SIGHUP) has nothing to do. */
START_TEST(test_syslog_target_opens_no_file)
{
	mps_log_options_t o = options(1, 1, MPS_LOG_ALL_LEVELS);
	mps_logger_t *l = NULL;
	char path[PATH_MAX];
	struct stat st;

	o.to_syslog = 1;
	o.file_name = "never.log";
	ck_assert_int_eq(mps_logger_open(&l, &o), APR_SUCCESS);
	ck_assert_ptr_nonnull(l);
	ck_assert_str_eq(mps_logger_path(l), "syslog");
	ck_assert_int_eq(mps_logger_reopen(l), APR_SUCCESS);
	ck_assert(mps_logger_enabled(l, MPS_LOG_DEBUG));
	mps_logger_set_levels(l, MPS_LOG_ERROR);
	ck_assert(!mps_logger_enabled(l, MPS_LOG_INFO));
	mps_logger_close(l);
	path_in(path, sizeof(path), "never.log");
	ck_assert_int_ne(stat(path, &st), 0);
}
END_TEST

START_TEST(test_heading)
{
	mps_log_options_t o;
	mps_logger_t *l;
	lines_t f;
	char path[PATH_MAX];
	int fd;

	/* New file: Heading first. Reopened: appended, no second Heading. */
	l = open_logger(0, 1, MPS_LOG_ALL_LEVELS);
	mps_logger_write(l, MPS_LOG_INFO, "first run");
	mps_logger_close(l);
	l = open_logger(0, 1, MPS_LOG_ALL_LEVELS);
	mps_logger_write(l, MPS_LOG_INFO, "second run");
	mps_logger_close(l);
	ck_assert(read_lines("mps.log", &f));
	ck_assert_uint_eq(f.count, 3);
	ck_assert_str_eq(f.line[0], HEADING);
	assert_line(f.line[1], "INFO", "first run");
	assert_line(f.line[2], "INFO", "second run");
	free_lines(&f);

	/* An existing but empty file gets the Heading too. */
	path_in(path, sizeof(path), "empty.log");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	o = options(0, 1, MPS_LOG_ALL_LEVELS);
	o.file_name = "empty.log";
	ck_assert_int_eq(mps_logger_open(&l, &o), APR_SUCCESS);
	mps_logger_close(l);
	ck_assert(read_lines("empty.log", &f));
	ck_assert_uint_eq(f.count, 1);
	ck_assert_str_eq(f.line[0], HEADING);
	free_lines(&f);

	/* A Heading cannot split into lines either. */
	o.file_name = "ctl.log";
	o.heading = "two\nlines\r";
	ck_assert_int_eq(mps_logger_open(&l, &o), APR_SUCCESS);
	mps_logger_close(l);
	ck_assert(read_lines("ctl.log", &f));
	ck_assert_uint_eq(f.count, 1);
	ck_assert_str_eq(f.line[0], "two lines ");
	free_lines(&f);

	/* No Heading: the file starts with the first message. */
	o.file_name = "bare.log";
	o.heading = NULL;
	ck_assert_int_eq(mps_logger_open(&l, &o), APR_SUCCESS);
	mps_logger_write(l, MPS_LOG_INFO, "only");
	mps_logger_close(l);
	ck_assert(read_lines("bare.log", &f));
	ck_assert_uint_eq(f.count, 1);
	assert_line(f.line[0], "INFO", "only");
	free_lines(&f);
}
END_TEST

static const mps_log_level_t all_levels[] = {
	MPS_LOG_ERROR, MPS_LOG_WARNING, MPS_LOG_INFO, MPS_LOG_DEBUG
};

START_TEST(test_levels_each)
{
	mps_logger_t *l;
	lines_t f;
	size_t i, j, k;
	char text[64];

	l = open_logger(0, 1, 0);
	/* Nothing enabled: nothing written. */
	for (j = 0; j < 4; j++) {
		ck_assert(!mps_logger_enabled(l, all_levels[j]));
		mps_logger_write(l, all_levels[j], "masked");
	}
	/* One level at a time, changed at run time. */
	for (i = 0; i < 4; i++) {
		mps_logger_set_levels(l, all_levels[i]);
		ck_assert_uint_eq(mps_logger_get_levels(l), all_levels[i]);
		for (j = 0; j < 4; j++) {
			ck_assert_int_eq(mps_logger_enabled(l, all_levels[j]),
			    i == j);
			mps_logger_write(l, all_levels[j], "mask %s line %s",
			    mps_log_level_name(all_levels[i]),
			    mps_log_level_name(all_levels[j]));
		}
	}
	/* The guide's recommended setting leaves DEBUG out. */
	mps_logger_set_levels(l, MPS_LOG_DEFAULT_LEVELS);
	for (j = 0; j < 4; j++)
		mps_logger_write(l, all_levels[j], "default %s",
		    mps_log_level_name(all_levels[j]));
	mps_logger_close(l);

	ck_assert(read_lines("mps.log", &f));
	ck_assert_uint_eq(f.count, 1 + 4 + 3);
	ck_assert_str_eq(f.line[0], HEADING);
	for (i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "mask %s line %s",
		    mps_log_level_name(all_levels[i]),
		    mps_log_level_name(all_levels[i]));
		assert_line(f.line[1 + i], mps_log_level_name(all_levels[i]),
		    text);
	}
	for (k = 0; k < 3; k++) {
		snprintf(text, sizeof(text), "default %s",
		    mps_log_level_name(all_levels[k]));
		assert_line(f.line[5 + k], mps_log_level_name(all_levels[k]),
		    text);
	}
	free_lines(&f);
}
END_TEST

static void *
set_debug_only(void *arg)
{
	mps_logger_set_levels(arg, MPS_LOG_DEBUG);
	return NULL;
}

START_TEST(test_levels_from_other_thread)
{
	mps_logger_t *l;
	pthread_t t;
	lines_t f;

	l = open_logger(0, 1, MPS_LOG_DEFAULT_LEVELS);
	ck_assert(!mps_logger_enabled(l, MPS_LOG_DEBUG));
	ck_assert_int_eq(pthread_create(&t, NULL, set_debug_only, l), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert(mps_logger_enabled(l, MPS_LOG_DEBUG));
	ck_assert(!mps_logger_enabled(l, MPS_LOG_ERROR));
	mps_logger_write(l, MPS_LOG_ERROR, "hidden");
	mps_logger_write(l, MPS_LOG_DEBUG, "shown");
	mps_logger_close(l);
	ck_assert(read_lines("mps.log", &f));
	ck_assert_uint_eq(f.count, 2);
	assert_line(f.line[1], "DEBUG", "shown");
	free_lines(&f);
}
END_TEST

START_TEST(test_control_characters)
{
	mps_logger_t *l;
	lines_t f;

	l = open_logger(0, 1, MPS_LOG_ALL_LEVELS);
	mps_logger_write(l, MPS_LOG_WARNING,
	    "peer said \"%s\" [%c] end", "a\nb\r\nc\x01" "d\te\x1b[31mf\x7fg", 0);
	mps_logger_write(l, MPS_LOG_INFO, "\n[Wed Jul 2 2008 12:21:34.203000]"
	    " [LM ERROR] forged");
	mps_logger_close(l);
	ck_assert(read_lines("mps.log", &f));
	ck_assert_uint_eq(f.count, 3);
	/* Tab survives; every other control byte, and NUL, is a space. */
	assert_line(f.line[1], "WARNING",
	    "peer said \"a b  c d\te [31mf g\" [ ] end");
	assert_line(f.line[2], "INFO",
	    " [Wed Jul 2 2008 12:21:34.203000] [LM ERROR] forged");
	free_lines(&f);
}
END_TEST

START_TEST(test_long_line_cut)
{
	mps_logger_t *l;
	lines_t f;
	char *big;
	size_t n = 3 * MPS_LOG_LINE_MAX, len;

	big = malloc(n + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', n);
	big[n] = '\0';
	l = open_logger(0, 1, MPS_LOG_ALL_LEVELS);
	mps_logger_write(l, MPS_LOG_INFO, "%s", big);
	mps_logger_write(l, MPS_LOG_INFO, "%.100s", big);
	mps_logger_close(l);
	ck_assert(read_lines("mps.log", &f));
	ck_assert_uint_eq(f.count, 3);
	/* One line, at the limit (newline included), marked as cut. */
	len = strlen(f.line[1]);
	ck_assert_uint_eq(len + 1, MPS_LOG_LINE_MAX);
	ck_assert_str_eq(f.line[1] + len - 4, "x...");
	ck_assert(parse_line(f.line[1], &(parsed_t){0}));
	/* A short one is whole, with no marker. */
	big[100] = '\0';
	assert_line(f.line[2], "INFO", big);
	free_lines(&f);
	free(big);
}
END_TEST

/* ---- rotation ---- */

/* Writes lines "line NNNN" padded to about 60 bytes. */
static void
write_numbered(mps_logger_t *l, int from, int to)
{
	int i;

	for (i = from; i < to; i++)
		mps_logger_write(l, MPS_LOG_INFO, "line %04d %s", i,
		    "padding-padding-padding");
}

static int
line_number(const char *line)
{
	parsed_t p;
	int n;

	ck_assert_msg(parse_line(line, &p), "bad log line: '%s'", line);
	ck_assert_int_eq(sscanf(p.text, "line %d ", &n), 1);
	return n;
}

/*
 * Checks one file of a rotation: Heading first, within the limit, and its
 * numbered lines continue from *next. Returns the file's lines.
 */
static void
check_rotated(const char *name, size_t limit, int *next, lines_t *f)
{
	size_t i;

	ck_assert_msg(read_lines(name, f), "%s missing", name);
	ck_assert_msg(f->bytes <= limit, "%s has %zu bytes, limit %zu", name,
	    f->bytes, limit);
	ck_assert_uint_ge(f->count, 2);
	ck_assert_str_eq(f->line[0], HEADING);
	for (i = 1; i < f->count; i++)
		ck_assert_int_eq(line_number(f->line[i]), (*next)++);
}

START_TEST(test_rotation_three_files)
{
	static const char *const names[] = { "mps.log.2", "mps.log.1",
	    "mps.log" };
	mps_logger_t *l;
	lines_t f[3];
	int next, i;

	l = open_logger(1, 3, MPS_LOG_ALL_LEVELS);
	/* ~90 bytes a line, ~11 lines a file: rotates about 9 times. */
	write_numbered(l, 0, 100);
	mps_logger_close(l);

	ck_assert_int_eq(count_entries(), 3);
	ck_assert(!exists_in("mps.log.3"));
	ck_assert(read_lines("mps.log.2", &f[0]));
	next = line_number(f[0].line[1]);
	ck_assert_int_gt(next, 0);	/* older lines were dropped */
	free_lines(&f[0]);
	for (i = 0; i < 3; i++)
		check_rotated(names[i], 1024, &next, &f[i]);
	/* The newest line is last in mps.log. */
	ck_assert_int_eq(next, 100);
	/* A file was rotated only when the next line did not fit. */
	for (i = 0; i < 2; i++)
		ck_assert_uint_gt(f[i].bytes + strlen(f[i + 1].line[1]) + 1,
		    1024);
	for (i = 0; i < 3; i++)
		free_lines(&f[i]);
}
END_TEST

START_TEST(test_rotation_one_file)
{
	mps_logger_t *l;
	lines_t f;
	int next;

	l = open_logger(1, 1, MPS_LOG_ALL_LEVELS);
	write_numbered(l, 0, 100);
	mps_logger_close(l);
	ck_assert_int_eq(count_entries(), 1);
	ck_assert(!exists_in("mps.log.1"));
	ck_assert(read_lines("mps.log", &f));
	next = line_number(f.line[1]);
	ck_assert_int_gt(next, 0);
	free_lines(&f);
	check_rotated("mps.log", 1024, &next, &f);
	ck_assert_int_eq(next, 100);
	free_lines(&f);
}
END_TEST

START_TEST(test_no_rotation_when_unlimited)
{
	mps_logger_t *l;
	lines_t f;
	int next = 0;

	l = open_logger(0, 3, MPS_LOG_ALL_LEVELS);
	write_numbered(l, 0, 300);	/* ~27 KB */
	mps_logger_close(l);
	ck_assert_int_eq(count_entries(), 1);
	check_rotated("mps.log", 1u << 20, &next, &f);
	ck_assert_int_eq(next, 300);
	free_lines(&f);
}
END_TEST

static void
assert_single(const char *name, const char *text)
{
	lines_t f;

	ck_assert_msg(read_lines(name, &f), "%s missing", name);
	ck_assert_uint_eq(f.count, 2);
	ck_assert_str_eq(f.line[0], HEADING);
	assert_line(f.line[1], "INFO", text);
	free_lines(&f);
}

START_TEST(test_rotation_oversized_line)
{
	mps_logger_t *l;
	char big[2001];

	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	l = open_logger(1, 5, MPS_LOG_ALL_LEVELS);
	/* Into the new file, which holds only the Heading: no rotation. */
	mps_logger_write(l, MPS_LOG_INFO, "%s", big);
	mps_logger_write(l, MPS_LOG_INFO, "small 1");
	/* After a line: rotate first, then the big line, alone. */
	mps_logger_write(l, MPS_LOG_INFO, "%s", big);
	mps_logger_write(l, MPS_LOG_INFO, "small 2");
	mps_logger_close(l);

	ck_assert_int_eq(count_entries(), 4);
	assert_single("mps.log.3", big);
	assert_single("mps.log.2", "small 1");
	assert_single("mps.log.1", big);
	assert_single("mps.log", "small 2");
}
END_TEST

START_TEST(test_rotation_failure)
{
	mps_logger_t *l;
	lines_t f;
	char dir[PATH_MAX], inner[PATH_MAX];
	size_t i, errors = 0;
	int next = 0;

	/* A directory where mps.log.1 should go: rename() must fail. */
	path_in(dir, sizeof(dir), "mps.log.1");
	path_in(inner, sizeof(inner), "mps.log.1/keep");
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(mkdir(inner, 0700), 0);
	l = open_logger(1, 2, MPS_LOG_ALL_LEVELS);
	write_numbered(l, 0, 40);	/* ~3.6 KB */

	/* Nothing lost, one error per KiB or so rather than per line. */
	ck_assert(read_lines("mps.log", &f));
	ck_assert_str_eq(f.line[0], HEADING);
	for (i = 1; i < f.count; i++) {
		if (strstr(f.line[i], "[LM ERROR] cannot rotate log file ")) {
			ck_assert_ptr_nonnull(strstr(f.line[i], dir));
			errors++;
			continue;
		}
		ck_assert_int_eq(line_number(f.line[i]), next++);
	}
	ck_assert_int_eq(next, 40);
	ck_assert_uint_ge(errors, 2);
	ck_assert_uint_le(errors, 4);
	free_lines(&f);

	/* Once the way is clear, rotation resumes by itself. */
	ck_assert_int_eq(rmdir(inner), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	write_numbered(l, 40, 80);
	mps_logger_close(l);
	ck_assert_int_eq(count_entries(), 2);
	ck_assert(read_lines("mps.log", &f));
	ck_assert_uint_le(f.bytes, 1024);
	ck_assert_int_eq(line_number(f.line[f.count - 1]), 79);
	free_lines(&f);
}
END_TEST

START_TEST(test_rotation_counts_existing_size)
{
	mps_logger_t *l;
	lines_t f;
	char path[PATH_MAX], old[1000], *back;
	size_t len;
	int fd;

	/* A file left by an earlier run, 1000 bytes of a 1024 limit. */
	memset(old, 'o', sizeof(old));
	old[sizeof(old) - 1] = '\n';
	path_in(path, sizeof(path), "mps.log");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, old, sizeof(old)), sizeof(old));
	close(fd);

	l = open_logger(1, 3, MPS_LOG_ALL_LEVELS);
	mps_logger_write(l, MPS_LOG_INFO, "does not fit after the old bytes");
	mps_logger_close(l);

	back = slurp_in("mps.log.1", &len);
	ck_assert_ptr_nonnull(back);
	ck_assert_uint_eq(len, sizeof(old));
	ck_assert(memcmp(back, old, sizeof(old)) == 0);
	free(back);
	ck_assert(read_lines("mps.log", &f));
	ck_assert_uint_eq(f.count, 2);
	ck_assert_str_eq(f.line[0], HEADING);
	assert_line(f.line[1], "INFO", "does not fit after the old bytes");
	free_lines(&f);
}
END_TEST

START_TEST(test_reopen_after_rename)
{
	mps_logger_t *l;
	lines_t f;
	char from[PATH_MAX], to[PATH_MAX];

	l = open_logger(0, 1, MPS_LOG_ALL_LEVELS);
	mps_logger_write(l, MPS_LOG_INFO, "A");
	/* Reopening the same file just goes on appending. */
	ck_assert_int_eq(mps_logger_reopen(l), APR_SUCCESS);
	mps_logger_write(l, MPS_LOG_INFO, "B");
	/* logrotate moves it away: lines follow the open file... */
	path_in(from, sizeof(from), "mps.log");
	path_in(to, sizeof(to), "moved.log");
	ck_assert_int_eq(rename(from, to), 0);
	mps_logger_write(l, MPS_LOG_INFO, "C");
	/* ...until the reopen, which starts a new file by name. */
	ck_assert_int_eq(mps_logger_reopen(l), APR_SUCCESS);
	mps_logger_write(l, MPS_LOG_INFO, "D");
	mps_logger_close(l);

	ck_assert(read_lines("moved.log", &f));
	ck_assert_uint_eq(f.count, 4);
	ck_assert_str_eq(f.line[0], HEADING);
	assert_line(f.line[1], "INFO", "A");
	assert_line(f.line[2], "INFO", "B");
	assert_line(f.line[3], "INFO", "C");
	free_lines(&f);
	ck_assert(read_lines("mps.log", &f));
	ck_assert_uint_eq(f.count, 2);
	ck_assert_str_eq(f.line[0], HEADING);
	assert_line(f.line[1], "INFO", "D");
	free_lines(&f);
}
END_TEST

START_TEST(test_reopen_failure_keeps_file)
{
	mps_log_options_t o;
	mps_logger_t *l;
	lines_t f;
	char dir[PATH_MAX], gone[PATH_MAX];
	char path[PATH_MAX];

	/* The log's directory is moved away, so reopening by name fails. */
	path_in(dir, sizeof(dir), "sub");
	path_in(gone, sizeof(gone), "gone");
	path_in(path, sizeof(path), "sub/mps.log");
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	o = options(0, 1, MPS_LOG_ALL_LEVELS);
	o.dir = dir;
	ck_assert_int_eq(mps_logger_open(&l, &o), APR_SUCCESS);
	ck_assert_int_eq(rename(dir, gone), 0);
	ck_assert(APR_STATUS_IS_ENOENT(mps_logger_reopen(l)));
	/* The old file stays in use, and says why. */
	mps_logger_write(l, MPS_LOG_INFO, "still here");
	mps_logger_close(l);
	ck_assert(!exists_in("sub"));
	ck_assert(read_lines("gone/mps.log", &f));
	ck_assert_uint_eq(f.count, 3);
	ck_assert_ptr_nonnull(strstr(f.line[1],
	    "[LM ERROR] cannot reopen log file "));
	ck_assert_ptr_nonnull(strstr(f.line[1], path));
	assert_line(f.line[2], "INFO", "still here");
	free_lines(&f);
}
END_TEST

START_TEST(test_open_missing_directory)
{
	mps_log_options_t o;
	mps_logger_t *l = (mps_logger_t *)&o;	/* must come back NULL */
	capture_t c;
	char dir[PATH_MAX], path[PATH_MAX], *err;
	struct stat st;
	apr_status_t rv;

	path_in(dir, sizeof(dir), "missing");
	path_in(path, sizeof(path), "missing/mps.log");
	o = options(1, 3, MPS_LOG_ALL_LEVELS);
	o.dir = dir;
	capture_start(&c);
	rv = mps_logger_open(&l, &o);
	err = capture_end(&c);
	ck_assert(APR_STATUS_IS_ENOENT(rv));
	ck_assert_ptr_null(l);
	ck_assert_int_ne(stat(dir, &st), 0);	/* not created */
	/* The error names the path, in the log's own format. */
	ck_assert_ptr_nonnull(strstr(err, "[LM ERROR] cannot open log file"));
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_uint_eq(strchr(err, '\n') - err + 1, strlen(err));
	free(err);
}
END_TEST

START_TEST(test_open_bad_options)
{
	mps_log_options_t o;
	mps_logger_t *l;
	capture_t c;
	char *err;

	capture_start(&c);
	o = options(1, 0, MPS_LOG_ALL_LEVELS);
	ck_assert_int_eq(mps_logger_open(&l, &o), APR_EINVAL);
	ck_assert_ptr_null(l);
	o = options(-1, 3, MPS_LOG_ALL_LEVELS);
	ck_assert_int_eq(mps_logger_open(&l, &o), APR_EINVAL);
	o = options(1, 3, MPS_LOG_ALL_LEVELS);
	o.file_name = "";
	ck_assert_int_eq(mps_logger_open(&l, &o), APR_EINVAL);
	o.file_name = NULL;
	ck_assert_int_eq(mps_logger_open(&l, &o), APR_EINVAL);
	err = capture_end(&c);
	/* Each refusal says why. */
	ck_assert_ptr_nonnull(strstr(err, "LogFileMaxFiles 0 is below 1"));
	ck_assert_ptr_nonnull(strstr(err, "LogFileMaxSize -1 KB"));
	ck_assert_ptr_nonnull(strstr(err, "no LogFileName"));
	free(err);
	ck_assert_int_eq(count_entries(), 0);
}
END_TEST

/* ---- the process default ---- */

START_TEST(test_default_is_stderr_before_open)
{
	capture_t c;
	char *err, *nl;

	/* Before a log file: the guide's default levels, on stderr. */
	ck_assert_ptr_null(mps_log_default());
	ck_assert(mps_log_enabled(MPS_LOG_ERROR));
	ck_assert(mps_log_enabled(MPS_LOG_WARNING));
	ck_assert(mps_log_enabled(MPS_LOG_INFO));
	ck_assert(!mps_log_enabled(MPS_LOG_DEBUG));
	capture_start(&c);
	mps_log(MPS_LOG_INFO, "early %d", 1);
	mps_log(MPS_LOG_DEBUG, "not by default");
	mps_log(MPS_LOG_ERROR, "early\nerror");
	err = capture_end(&c);
	nl = strchr(err, '\n');
	ck_assert_ptr_nonnull(nl);
	*nl = '\0';
	assert_line(err, "INFO", "early 1");
	ck_assert_ptr_nonnull(strchr(nl + 1, '\n'));
	*strchr(nl + 1, '\n') = '\0';
	assert_line(nl + 1, "ERROR", "early error");
	ck_assert_str_eq(nl + 1 + strlen(nl + 1) + 1, "");
	free(err);
}
END_TEST

START_TEST(test_default_logger)
{
	mps_logger_t *l;
	capture_t c;
	lines_t f;
	char *err;

	l = open_logger(0, 1, MPS_LOG_ALL_LEVELS);
	mps_log_set_default(l);
	ck_assert_ptr_eq(mps_log_default(), l);
	ck_assert(mps_log_enabled(MPS_LOG_DEBUG));
	capture_start(&c);
	mps_log(MPS_LOG_DEBUG, "to the file %s", "only");
	mps_logger_set_levels(l, MPS_LOG_ERROR);
	ck_assert(!mps_log_enabled(MPS_LOG_INFO));
	mps_log(MPS_LOG_INFO, "filtered");
	mps_log(MPS_LOG_ERROR, "kept");
	err = capture_end(&c);
	ck_assert_str_eq(err, "");
	free(err);
	/* Closing the default logger clears it. */
	mps_logger_close(l);
	ck_assert_ptr_null(mps_log_default());

	ck_assert(read_lines("mps.log", &f));
	ck_assert_uint_eq(f.count, 3);
	assert_line(f.line[1], "DEBUG", "to the file only");
	assert_line(f.line[2], "ERROR", "kept");
	free_lines(&f);
}
END_TEST

START_TEST(test_announce)
{
	mps_logger_t *l;
	capture_t c;
	lines_t f;
	char *err, *nl;

	/* Trace levels all off: announcements still reach the file. */
	l = open_logger(0, 1, 0);
	mps_log_set_default(l);
	capture_start(&c);
	mps_log_announce(MPS_LOG_INFO, "MPS has started its operation.");
	mps_log_set_console(MPS_LOG_CONSOLE_NONE);
	mps_log_announce(MPS_LOG_ERROR, "file only");
	mps_log_set_console(MPS_LOG_CONSOLE_SYSLOG);
	mps_log_announce(MPS_LOG_WARNING, "test_log: syslog console test");
	err = capture_end(&c);
	mps_log_set_default(NULL);
	mps_logger_close(l);

	ck_assert(read_lines("mps.log", &f));
	ck_assert_uint_eq(f.count, 4);
	assert_line(f.line[1], "INFO", "MPS has started its operation.");
	assert_line(f.line[2], "ERROR", "file only");
	assert_line(f.line[3], "WARNING", "test_log: syslog console test");
	/* stderr got the first one only, byte for byte the file's line. */
	nl = strchr(err, '\n');
	ck_assert_ptr_nonnull(nl);
	ck_assert_str_eq(nl + 1, "");
	*nl = '\0';
	ck_assert_str_eq(err, f.line[1]);
	free(err);
	free_lines(&f);
}
END_TEST

START_TEST(test_announce_without_logger)
{
	capture_t c;
	char *err, *nl;

	/* No log file yet: stderr, once, whatever the console says. */
	capture_start(&c);
	mps_log_announce(MPS_LOG_ERROR, "Error while reading %s file.",
	    "static configuration");
	mps_log_set_console(MPS_LOG_CONSOLE_NONE);
	mps_log_announce(MPS_LOG_DEBUG, "not lost");
	err = capture_end(&c);
	nl = strchr(err, '\n');
	ck_assert_ptr_nonnull(nl);
	*nl = '\0';
	assert_line(err, "ERROR",
	    "Error while reading static configuration file.");
	ck_assert_ptr_nonnull(strchr(nl + 1, '\n'));
	*strchr(nl + 1, '\n') = '\0';
	assert_line(nl + 1, "DEBUG", "not lost");
	free(err);
}
END_TEST

/* ---- concurrency ---- */

#define WRITERS 8
#define PER_WRITER 5000

typedef struct writer_t {
	mps_logger_t *logger;
	int id;
} writer_t;

static atomic_int toggling;

static void
payload(char *buf, size_t size, int id, int seq)
{
	size_t n, i;

	/* Content that depends on both, so a torn line cannot pass. */
	n = 20 + (size_t)((id * 7 + seq) % 40);
	if (n >= size)
		n = size - 1;
	for (i = 0; i < n; i++)
		buf[i] = (char)('a' + (id + seq + (int)i) % 26);
	buf[n] = '\0';
}

static void *
writer_main(void *arg)
{
	writer_t *w = arg;
	char pad[64];
	int seq;

	for (seq = 0; seq < PER_WRITER; seq++) {
		payload(pad, sizeof(pad), w->id, seq);
		/* Half go through the default logger. */
		if (w->id % 2 == 0)
			mps_logger_write(w->logger, MPS_LOG_INFO,
			    "thread %d seq %d %s", w->id, seq, pad);
		else
			mps_log(MPS_LOG_INFO, "thread %d seq %d %s", w->id,
			    seq, pad);
	}
	return NULL;
}

/* Flips DEBUG on and off while the writers run: their INFO lines must
 * not notice. */
static void *
toggler_main(void *arg)
{
	mps_logger_t *l = arg;
	unsigned on = MPS_LOG_INFO | MPS_LOG_DEBUG;

	while (atomic_load(&toggling)) {
		mps_logger_set_levels(l, on);
		on ^= MPS_LOG_DEBUG;
		mps_logger_write(l, MPS_LOG_DEBUG, "toggle");
	}
	mps_logger_set_levels(l, MPS_LOG_INFO);
	return NULL;
}

/* Checks one line of a file; returns NULL or what is wrong with it. */
static const char *
check_concurrent_line(const char *line, int next[WRITERS])
{
	char pad[64], expect[128];
	parsed_t p;
	int id, seq, off = 0;

	if (!parse_line(line, &p))
		return "bad format";
	if (strcmp(p.text, "toggle") == 0)
		return strcmp(p.level, "DEBUG") == 0 ? NULL : "bad toggle";
	if (strcmp(p.level, "INFO") != 0)
		return "bad level";
	if (sscanf(p.text, "thread %d seq %d %n", &id, &seq, &off) != 2 ||
	    off == 0 || id < 0 || id >= WRITERS)
		return "bad text";
	if (seq != next[id])
		return seq < next[id] ? "duplicate or out of order" :
		    "missing line";
	payload(pad, sizeof(pad), id, seq);
	snprintf(expect, sizeof(expect), "thread %d seq %d %s", id, seq, pad);
	if (strcmp(p.text, expect) != 0)
		return "torn line";
	next[id]++;
	return NULL;
}

START_TEST(test_concurrent_writers)
{
	writer_t w[WRITERS];
	pthread_t t[WRITERS], toggler;
	mps_logger_t *l;
	lines_t f;
	char name[64];
	const char *why = NULL;
	int next[WRITERS] = { 0 };
	int i, nfiles, k;
	size_t j;

	/* 16 KiB files, ~40000 lines of ~100 bytes: ~250 rotations, and
	 * room for all of them. */
	l = open_logger(16, 100000, MPS_LOG_INFO);
	mps_log_set_default(l);
	atomic_store(&toggling, 1);
	ck_assert_int_eq(pthread_create(&toggler, NULL, toggler_main, l), 0);
	for (i = 0; i < WRITERS; i++) {
		w[i].logger = l;
		w[i].id = i;
		ck_assert_int_eq(pthread_create(&t[i], NULL, writer_main,
		    &w[i]), 0);
	}
	for (i = 0; i < WRITERS; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	atomic_store(&toggling, 0);
	ck_assert_int_eq(pthread_join(toggler, NULL), 0);
	mps_log_set_default(NULL);
	mps_logger_close(l);

	nfiles = count_entries();
	ck_assert_int_gt(nfiles, 100);
	/* mps.log.N (oldest) ... mps.log.1, mps.log: no gaps, nothing else. */
	for (k = nfiles - 1; k >= 0 && why == NULL; k--) {
		if (k > 0)
			snprintf(name, sizeof(name), "mps.log.%d", k);
		else
			snprintf(name, sizeof(name), "mps.log");
		ck_assert_msg(read_lines(name, &f), "%s missing", name);
		ck_assert_msg(f.bytes <= 16 * 1024, "%s too big", name);
		ck_assert_msg(f.count >= 2 && strcmp(f.line[0], HEADING) == 0,
		    "%s does not start with the Heading", name);
		for (j = 1; j < f.count && why == NULL; j++)
			why = check_concurrent_line(f.line[j], next);
		ck_assert_msg(why == NULL, "%s line %zu: %s: '%s'", name, j,
		    why, f.line[j - 1]);
		free_lines(&f);
	}
	for (i = 0; i < WRITERS; i++)
		ck_assert_int_eq(next[i], PER_WRITER);
}
END_TEST

static TCase *
new_case(const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, case_setup, case_teardown);
	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	return tc;
}


/* ---- lines the file refuses (disk full) ---- */

/* The descriptor the logger writes l's file through (found by its path,
 * since the logger does not expose it). */
static int
logger_fd(const char *path)
{
	char link[64], target[PATH_MAX];
	ssize_t n;
	int fd;

	for (fd = 3; fd < 1024; fd++) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, path) == 0)
			return fd;
	}
	return -1;
}

START_TEST(test_full_disk_lines_counted_and_reported)
{
	mps_logger_t *l = open_logger(0, 1, MPS_LOG_ALL_LEVELS);
	char path[PATH_MAX], *file, *err, *p;
	capture_t cap;
	int fd, full, again, i;

	mps_metrics_reset();
	path_in(path, sizeof(path), "mps.log");
	mps_logger_write(l, MPS_LOG_INFO, "before");
	ck_assert_int_ge(fd = logger_fd(path), 0);
	/* The disk fills: every write now fails with ENOSPC. */
	ck_assert_int_ge(full = open("/dev/full", O_WRONLY), 0);
	ck_assert_int_eq(dup2(full, fd), fd);
	capture_start(&cap);
	for (i = 0; i < 5; i++)
		mps_logger_write(l, MPS_LOG_WARNING, "lost %d", i);
	err = capture_end(&cap);
	/* Space again. */
	ck_assert_int_ge(again = open(path, O_WRONLY | O_APPEND), 0);
	ck_assert_int_eq(dup2(again, fd), fd);
	mps_logger_write(l, MPS_LOG_INFO, "after");
	file = slurp(path, NULL);
	ck_assert_ptr_nonnull(file);
	ck_assert_ptr_nonnull(strstr(file, "before\n"));
	ck_assert_ptr_null(strstr(file, "lost 0"));
	p = strstr(file, "[LM ERROR] log file ");
	ck_assert_msg(p != NULL, "no report in: %s", file);
	ck_assert_ptr_nonnull(strstr(p, ": 5 lines could not be written "
	    "(No space left on device) and are lost\n"));
	/* The report comes first, then the line that found room. */
	ck_assert_ptr_nonnull(strstr(p, "after\n"));
	/* Said once on the console, and the lines themselves are there. */
	ck_assert_ptr_nonnull(strstr(err, "cannot write log file"));
	ck_assert_ptr_null(strstr(strstr(err, "cannot write log file") + 1,
	    "cannot write log file"));
	ck_assert_ptr_nonnull(strstr(err, "lost 4"));
	ck_assert_uint_eq(mps_metric_get(MPS_M_LOG_LINES_LOST), 5);
	/* Once reported, the count starts again. */
	mps_logger_write(l, MPS_LOG_INFO, "later");
	free(file);
	file = slurp(path, NULL);
	ck_assert_ptr_null(strstr(strstr(file, "are lost") + 1, "are lost"));
	free(file);
	free(err);
	close(full);
	close(again);
	mps_logger_close(l);
}
END_TEST

/* ---- log limits (log_limit.h) ---- */

START_TEST(test_log_limit_burst_and_count)
{
	mps_log_limit_t lim = MPS_LOG_LIMIT_INIT;
	apr_interval_time_t iv = apr_time_from_sec(60);
	apr_time_t t0 = apr_time_from_sec(1000);
	unsigned long sup = 99;
	int i, passed = 0;

	mps_metrics_reset();
	for (i = 0; i < 100; i++)
		passed += mps_log_limit_allow(&lim, t0 + i, 3, iv, &sup);
	ck_assert_int_eq(passed, 3);
	ck_assert_uint_eq(mps_metric_get(MPS_M_LOG_SUPPRESSED), 97);
	/* Still inside the interval: dropped. */
	ck_assert_int_eq(mps_log_limit_allow(&lim, t0 + iv - 1, 3, iv, &sup), 0);
	/* The next interval lets one through with the count, then resets. */
	ck_assert_int_eq(mps_log_limit_allow(&lim, t0 + iv, 3, iv, &sup), 1);
	ck_assert_uint_eq(sup, 98);
	ck_assert_int_eq(mps_log_limit_allow(&lim, t0 + iv + 1, 3, iv, &sup), 1);
	ck_assert_uint_eq(sup, 0);
	/* A clock that jumps back starts a new interval, never stalls. */
	ck_assert_int_eq(mps_log_limit_allow(&lim, t0 - iv, 3, iv, &sup), 1);
}
END_TEST

START_TEST(test_log_limited_writes_count)
{
	mps_logger_t *l = open_logger(0, 1, MPS_LOG_ALL_LEVELS);
	mps_log_limit_t lim = MPS_LOG_LIMIT_INIT;
	lines_t lines;
	int i;

	mps_log_set_default(l);
	for (i = 0; i < 1000; i++)
		mps_log_limited(&lim, 2, apr_time_from_msec(300),
		    MPS_LOG_WARNING, "forward %d refused", i);
	apr_sleep(apr_time_from_msec(350));
	mps_log_limited(&lim, 2, apr_time_from_msec(300), MPS_LOG_WARNING,
	    "forward %d refused", 1000);
	mps_log_set_default(NULL);
	ck_assert_int_eq(read_lines("mps.log", &lines), 1);
	/* Heading, two lines, then the one carrying the count. */
	ck_assert_uint_eq(lines.count, 4);
	ck_assert_ptr_nonnull(strstr(lines.line[1], "forward 0 refused"));
	ck_assert_ptr_nonnull(strstr(lines.line[2], "forward 1 refused"));
	ck_assert_ptr_nonnull(strstr(lines.line[3], "forward 1000 refused "
	    "(998 similar messages suppressed)"));
	free_lines(&lines);
	/* The end of what the limit protects: its last count is written. */
	mps_log_set_default(l);
	for (i = 0; i < 7; i++)
		mps_log_limited(&lim, 2, apr_time_from_sec(60),
		    MPS_LOG_WARNING, "forward %d refused", i);
	mps_log_limit_flush(&lim, MPS_LOG_WARNING, "device %s", "dev-0");
	mps_log_limit_flush(&lim, MPS_LOG_WARNING, "device %s", "again");
	mps_log_set_default(NULL);
	ck_assert_int_eq(read_lines("mps.log", &lines), 1);
	ck_assert_uint_eq(lines.count, 6);
	ck_assert_ptr_nonnull(strstr(lines.line[5],
	    "device dev-0: 6 similar messages suppressed"));
	free_lines(&lines);
	mps_logger_close(l);
}
END_TEST

START_TEST(test_log_limit_table_per_key)
{
	mps_log_limit_table_t *t;
	apr_time_t t0 = apr_time_from_sec(5000);
	unsigned long sup = 0;
	char key[32];
	int i, passed = 0;

	t = mps_log_limit_table_create(1, apr_time_from_sec(60));
	ck_assert_ptr_nonnull(t);
	/* One line per key and interval, whatever the volume. */
	for (i = 0; i < 10000; i++)
		passed += mps_log_limit_table_allow(t, "192.0.2.1", t0 + i, &sup);
	ck_assert_int_eq(passed, 1);
	/* Another key has its own budget. */
	ck_assert_int_eq(mps_log_limit_table_allow(t, "192.0.2.2", t0, &sup), 1);
	ck_assert_int_eq(mps_log_limit_table_allow(t, "192.0.2.1",
	    t0 + apr_time_from_sec(60), &sup), 1);
	ck_assert_uint_eq(sup, 9999);
	/* Very many keys: the table stays fixed and keeps working (an
	 * entry taken over lets one more line through, no more). */
	passed = 0;
	for (i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "10.%d.%d.%d", i >> 16,
		    (i >> 8) & 255, i & 255);
		passed += mps_log_limit_table_allow(t, key, t0 + i, &sup);
	}
	ck_assert_int_eq(passed, 100000);
	mps_log_limit_table_destroy(t);
}
END_TEST

START_TEST(test_log_limit_table_flush)
{
	mps_logger_t *l = open_logger(0, 1, MPS_LOG_ALL_LEVELS);
	mps_log_limit_table_t *t;
	apr_time_t t0 = apr_time_from_sec(5000);
	unsigned long sup;
	lines_t lines;
	int i;

	t = mps_log_limit_table_create(1, apr_time_from_sec(60));
	ck_assert_ptr_nonnull(t);
	for (i = 0; i < 500; i++)
		(void)mps_log_limit_table_allow(t, "192.0.2.9", t0 + i, &sup);
	(void)mps_log_limit_table_allow(t, "192.0.2.10", t0, &sup);
	mps_log_set_default(l);
	/* Inside the minute: nothing yet. */
	ck_assert_uint_eq(mps_log_limit_table_flush(t,
	    t0 + apr_time_from_sec(30), MPS_LOG_WARNING, "logins from", 32), 0);
	/* The flood stopped and its minute is over: its count is written,
	 * once; the key with nothing suppressed writes nothing. */
	ck_assert_uint_eq(mps_log_limit_table_flush(t,
	    t0 + apr_time_from_sec(61), MPS_LOG_WARNING, "logins from", 32), 1);
	ck_assert_uint_eq(mps_log_limit_table_flush(t,
	    t0 + apr_time_from_sec(71), MPS_LOG_WARNING, "logins from", 32), 0);
	mps_log_set_default(NULL);
	ck_assert_int_eq(read_lines("mps.log", &lines), 1);
	ck_assert_uint_eq(lines.count, 2);
	ck_assert_ptr_nonnull(strstr(lines.line[1], "logins from 192.0.2.9: "
	    "499 similar messages suppressed in the last 60 s"));
	free_lines(&lines);
	/* The next message of that key starts afresh, without a count. */
	ck_assert_int_eq(mps_log_limit_table_allow(t, "192.0.2.9",
	    t0 + apr_time_from_sec(80), &sup), 1);
	ck_assert_uint_eq(sup, 0);
	mps_log_limit_table_destroy(t);
	mps_logger_close(l);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc;

	tc = new_case("format");
	tcase_add_test(tc, test_format_time_guide_sample);
	tcase_add_test(tc, test_format_time_is_local);
	tcase_add_test(tc, test_format_time_small_buffer);
	tcase_add_test(tc, test_format_time_iso);
	tcase_add_test(tc, test_line_format_iso);
	tcase_add_test(tc, test_level_names);
	tcase_add_test(tc, test_line_format);
	tcase_add_test(tc, test_heading);
	tcase_add_test(tc, test_syslog_target_opens_no_file);
	tcase_add_test(tc, test_control_characters);
	tcase_add_test(tc, test_long_line_cut);
	suite_add_tcase(s, tc);

	tc = new_case("levels");
	tcase_add_test(tc, test_levels_each);
	tcase_add_test(tc, test_levels_from_other_thread);
	suite_add_tcase(s, tc);

	tc = new_case("rotation");
	tcase_add_test(tc, test_rotation_three_files);
	tcase_add_test(tc, test_rotation_one_file);
	tcase_add_test(tc, test_no_rotation_when_unlimited);
	tcase_add_test(tc, test_rotation_oversized_line);
	tcase_add_test(tc, test_rotation_counts_existing_size);
	tcase_add_test(tc, test_rotation_failure);
	suite_add_tcase(s, tc);

	tc = new_case("files");
	tcase_add_test(tc, test_reopen_after_rename);
	tcase_add_test(tc, test_reopen_failure_keeps_file);
	tcase_add_test(tc, test_open_missing_directory);
	tcase_add_test(tc, test_open_bad_options);
	suite_add_tcase(s, tc);

	tc = new_case("default");
	tcase_add_test(tc, test_default_is_stderr_before_open);
	tcase_add_test(tc, test_default_logger);
	tcase_add_test(tc, test_announce);
	tcase_add_test(tc, test_announce_without_logger);
	suite_add_tcase(s, tc);

	tc = new_case("lost lines");
	tcase_add_test(tc, test_full_disk_lines_counted_and_reported);
	suite_add_tcase(s, tc);

	tc = new_case("log limits");
	tcase_add_test(tc, test_log_limit_burst_and_count);
	tcase_add_test(tc, test_log_limited_writes_count);
	tcase_add_test(tc, test_log_limit_table_per_key);
	tcase_add_test(tc, test_log_limit_table_flush);
	suite_add_tcase(s, tc);

	tc = new_case("concurrency");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_concurrent_writers);
	suite_add_tcase(s, tc);
	return s;
}
