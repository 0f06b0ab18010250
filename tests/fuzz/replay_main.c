/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay_main.c: runs a fuzz target's LLVMFuzzerTestOneInput over files,
 * without libFuzzer, so that make check replays the corpus (and every
 * crash ever found, once added to it) on every build, sanitizers or not.
 *
 *   replay FILE...    each file is one input; prints TAP
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
replay(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (len == cap) {
			uint8_t *nb;
			cap = cap ? cap * 2 : 4096;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	/* An exact-size copy, so that ASan sees any read past the input. */
	{
		uint8_t *exact = malloc(len ? len : 1);
		if (exact == NULL) {
			free(buf);
			return -1;
		}
		memcpy(exact, buf, len);
		free(buf);
		(void)LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	int i, failed = 0;

	for (i = 1; i < argc; i++) {
		int ok = replay(argv[i]) == 0;
		printf("%s %d - %s\n", ok ? "ok" : "not ok", i, argv[i]);
		failed += !ok;
	}
	printf("1..%d\n", argc - 1);
	return failed ? 1 : 0;
}
