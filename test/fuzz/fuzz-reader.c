/* fuzz-reader.c - libFuzzer harness of the record stream reader
 * (chr_reader over a memory file, as chr-tail reads stdin), CRCs
 * recomputed first so that mutations reach the checks behind them. */
#include <stdlib.h>

#include "fuzz.h"
#include "io.h"

static volatile uint64_t sink;	/* what was read, so that reading stays */

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	unsigned char *b = malloc(n ? n : 1);
	struct chr_reader r;
	const struct chr_rec *rec;
	int fd;

	if (!b)
		return 0;
	memcpy(b, d, n);
	fuzz_fix_crcs(b, n, 0);
	fd = fuzz_memfd(b, n);
	free(b);
	if (fd < 0)
		return 0;
	if (chr_reader_init(&r, fd, "fuzz") == 0) {
		while (chr_reader_next(&r, &rec) == 1)
			sink += rec->seq + rec->len;
		chr_reader_free(&r);
	}
	close(fd);
	return 0;
}
