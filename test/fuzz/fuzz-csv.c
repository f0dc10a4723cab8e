/* fuzz-csv.c - libFuzzer harness of the Tardis CSV importer: byte 0 picks
 * the parser (bit 0 libcsv), skip_bad (bit 1) and two reads (bit 2); the
 * rest is the file, parsed as chr-csv2ev does, records to /dev/null. */
#include <fcntl.h>
#include <stdlib.h>

#include "fuzz.h"
#include "io.h"
#include "tardis.h"

static int devnull = -1;

/* As chr-csv2ev: parse what we have, keep the unused tail for next time. */
static int feed(struct chr_tardis_in *t, char *buf, size_t *have, const uint8_t *d, size_t k,
		int final)
{
	long used;

	memcpy(buf + *have, d, k);
	*have += k;
	used = chr_tardis_in_parse(t, buf, *have, final);
	if (used < 0)
		return -1;
	memmove(buf, buf + used, *have - (size_t)used);
	*have -= (size_t)used;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct chr_writer w;
	struct chr_tardis_in t;
	unsigned mode;
	size_t have = 0, half;
	char *buf;

	if (n < 1)
		return 0;
	mode = d[0];
	d++;
	n--;
	if (devnull < 0 && (devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		abort();
	if ((buf = malloc(n + CHR_TARDIS_PAD)) == NULL)
		return 0;
	if (chr_writer_init(&w, devnull, "/dev/null", 65536) < 0) {
		free(buf);
		return 0;
	}
	if (chr_tardis_in_init(&t, &w) == 0) {
		t.fast = !(mode & 1);
		t.skip_bad = !!(mode & 2);
		chr_tardis_in_file(&t, "fuzz.csv");
		half = mode & 4 ? n / 2 : 0;
		if (feed(&t, buf, &have, d, half, 0) == 0 &&
		    feed(&t, buf, &have, d + half, n - half, 1) == 0)
			(void)chr_tardis_in_end(&t);
		chr_tardis_in_free(&t);
	}
	(void)chr_writer_close(&w);
	free(buf);
	return 0;
}
