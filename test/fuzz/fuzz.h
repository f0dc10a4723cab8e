/* fuzz.h - what the libFuzzer harnesses share: an input in a memory file,
 * and record and segment CRCs recomputed so that mutations reach the
 * checks behind them. */
#ifndef CHR_FUZZ_H
#define CHR_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rec.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

/* A memory file holding d[0..n), at offset 0, or -1. */
static inline int fuzz_memfd(const void *d, size_t n)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	const char *p = d;

	if (fd < 0)
		return -1;
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k <= 0) {
			close(fd);
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Give every segment header (when sealed) and record in b[0..n) the CRC
 * it should carry, walking records by their len from off; stops at the
 * first len that does not fit. b must be 8-byte aligned. */
static inline void fuzz_fix_crcs(unsigned char *b, size_t n, size_t off)
{
	while (off + CHR_HDR_SIZE <= n) {
		struct chr_seg *s = (struct chr_seg *)(void *)(b + off);
		struct chr_rec *r = (struct chr_rec *)(void *)(b + off);

		if (s->magic == CHR_SEG_MAGIC) {
			if (s->flags & CHR_SEG_SEALED)
				s->crc = chr_seg_crc(s);
			off += sizeof *s;
			continue;
		}
		if (r->len < CHR_HDR_SIZE || chr_rec_span(r->len) > n - off)
			return;
		r->crc = chr_rec_crc(r);
		off += chr_rec_span(r->len);
	}
}

#endif
