/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_config.h: what the configuration fuzz targets share: handing an
 * input to a loader that only takes a path, and the checks every loader's
 * messages must pass.
 *
 * The configuration loaders (server/config/config.h) read files by name
 * and have no from-memory entry point; adding one only for fuzzing would
 * test a path mpsd never takes. So the input goes into an anonymous
 * in-memory file (memfd_create), rewritten for each input and named as
 * /proc/self/fd/N: no disk I/O per execution, nothing left behind, and
 * no name shared by parallel fuzzing jobs. Where memfd_create is missing
 * an unnamed tmpfile() does the same from $TMPDIR.
 */
#ifndef MPS_FUZZ_CONFIG_H
#define MPS_FUZZ_CONFIG_H

/* memfd_create needs _GNU_SOURCE, defined by the includer before any
 * system header. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <unistd.h>

#include <apr_tables.h>

#include "config_errors.h"

/* Writes data[0..size) as the whole file; returns its path. Aborts when
 * the file cannot be written: a fuzz run that silently fed nothing would
 * report coverage it never had. */
static inline const char *
fuzz_file_put(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	size_t off = 0;

	if (fd < 0) {
#ifdef MFD_CLOEXEC
		fd = memfd_create("mps-fuzz", MFD_CLOEXEC);
#endif
		if (fd < 0) {
			FILE *f = tmpfile();

			if (f == NULL)
				abort();
			fd = fileno(f);	/* kept open for the process */
		}
		(void)snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0)
		abort();
	while (off < size) {
		ssize_t n = pwrite(fd, data + off, size - off, (off_t)off);

		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	return path;
}

/*
 * Every message names the file it is about first ("path:line: ..." or
 * "path: ...") and is one printable line whatever the file held
 * (config_xml.h: values are quoted with control characters escaped), so
 * that a hostile file cannot forge or split lines of mpsd -t's output or
 * of the log.
 */
static inline void
fuzz_check_messages(const apr_array_header_t *list, const char *path)
{
	size_t plen = strlen(path);
	int i;

	for (i = 0; i < list->nelts; i++) {
		const unsigned char *m =
		    APR_ARRAY_IDX(list, i, const unsigned char *);

		if (strncmp((const char *)m, path, plen) != 0 || m[plen] != ':')
			abort();	/* does not name the file */
		for (; *m != '\0'; m++)
			if (*m < 0x20 || *m == 0x7f)
				abort();	/* a control byte in a message */
	}
}

static inline void
fuzz_check_errors(const mps_config_errors_t *errs, const char *path)
{
	fuzz_check_messages(errs->errors, path);
	fuzz_check_messages(errs->warnings, path);
}

#endif /* MPS_FUZZ_CONFIG_H */
