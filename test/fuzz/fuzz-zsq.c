/* fuzz-zsq.c - libFuzzer harness of the compressed segment reader: zstd
 * frame checksums and the table's CRCs are recomputed before opening, so
 * that mutations reach the decoder; then every record is read. */
#define ZSTD_STATIC_LINKING_ONLY
#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>
#include <zstd.h>

#include "fuzz.h"
#include "io.h"
#include "zsq.h"

static volatile uint64_t sink;	/* what was read, so that reading stays */

#define FOOTER 9
#define CHR_FRAME_MIN 88	/* chronicle frame: 8 + 16 + the 64-byte segment header */
#define USIZE_MAX (4u << 20)	/* frames decompressed for their checksum */

static ZSTD_DCtx *dctx;

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* The content checksum of the zstd frame f[0..n), when it has one and
 * decompresses to at most usize bytes. */
static void fix_frame(unsigned char *f, size_t n, size_t usize)
{
	void *out;
	size_t k;

	if (n < 9 || get32(f) != 0xFD2FB528u || !(f[4] & 0x4) || usize > USIZE_MAX)
		return;
	if ((out = malloc(usize ? usize : 1)) == NULL)
		return;
	ZSTD_DCtx_reset(dctx, ZSTD_reset_session_and_parameters);
	ZSTD_DCtx_setParameter(dctx, ZSTD_d_forceIgnoreChecksum, 1);
	k = ZSTD_decompressDCtx(dctx, out, usize, f, n);
	if (!ZSTD_isError(k))
		put32(f + n - 4, (uint32_t)XXH64(out, k, 0));
	free(out);
}

/* Follow the seek table at the end of b[0..n) and fix what it locates. */
static void fix_zsq(unsigned char *b, size_t n)
{
	uint64_t nall, es, tsize, toff, coff = 0, csz;
	unsigned char *t, *c;
	struct chr_seg h;

	if (n < 8 + FOOTER)
		return;
	nall = get32(b + n - FOOTER);
	es = b[n - 5] & 0x80 ? 12 : 8;
	if (nall < 2 || (n - 8 - FOOTER) / es < nall)
		return;
	tsize = 8 + nall * es + FOOTER;
	toff = n - tsize;
	t = b + toff;
	for (uint64_t i = 0; i < nall; i++) {
		csz = get32(t + 8 + es * i);
		if (csz > toff - coff)
			return;
		if (i + 1 < nall)
			fix_frame(b + coff, csz, get32(t + 12 + es * i));
		coff += csz;
	}
	csz = get32(t + 8 + es * (nall - 1));
	c = b + coff - csz;
	if (csz < CHR_FRAME_MIN)
		return;
	memcpy(&h, c + 24, sizeof h);	/* c is not aligned */
	put32(c + 24 + 60, chr_seg_crc(&h));
	put32(c + 20, chr_crc32c(0, c + 24, csz - 24));
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	unsigned char *b = malloc(n ? n : 1);
	char path[64], err[1024];
	struct chr_zsq *z;
	struct chr_reader r;
	const struct chr_rec *rec;
	int fd, status;

	if (!b)
		return 0;
	if (!dctx && (dctx = ZSTD_createDCtx()) == NULL)
		abort();
	memcpy(b, d, n);
	fix_zsq(b, n);
	fd = fuzz_memfd(b, n);
	free(b);
	if (fd < 0)
		return 0;
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if ((z = chr_zsq_open(path, err, sizeof err, &status)) != NULL) {
		(void)chr_zsq_snapshot_at(z, INT64_MAX);
		if (chr_reader_init_zsq(&r, z, 0, "fuzz") == 0) {
			while (chr_reader_next(&r, &rec) == 1)
				sink += rec->seq + rec->len;
			chr_reader_free(&r);
		}
		chr_zsq_close(z);
	}
	close(fd);
	return 0;
}
