/* t-io.c - the framed stream reader and writer: records split across
 * reads (a byte at a time through a pipe), segment headers skipped, clean
 * EOF only at a boundary, corrupt input reported with its byte offset. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "io.h"
#include "unit.h"

/* Build a stream of n records with payloads of varying size into *out. */
static size_t make_stream(unsigned char **out, int n, int with_seg)
{
	struct chr_writer w;
	int p[2];
	size_t cap = 1 << 22, len = 0;
	unsigned char *buf = malloc(cap);
	ssize_t k;

	CHECK(pipe(p) == 0);
	if (fork() == 0) {
		close(p[0]);
		chr_writer_init(&w, p[1], "pipe", 0);
		for (int i = 0; i < n; i++) {
			uint32_t plen = (uint32_t)(i * 37) % 3000;
			struct chr_rec *r;

			if (with_seg && i == n / 2) {
				struct chr_seg s = {.magic = CHR_SEG_MAGIC, .version = 1,
						    .flags = CHR_SEG_SEALED, .id = 1};

				s.crc = chr_seg_crc(&s);
				chr_writer_flush(&w);
				chr_write_all(p[1], &s, sizeof s);
			}
			r = chr_writer_reserve(&w, CHR_HDR_SIZE + plen);
			r->type = 0x8001;
			r->seq = (uint64_t)i;
			memset(chr_rec_payload(r), i & 0xff, plen);
			chr_writer_commit(&w, r);
		}
		_exit(chr_writer_close(&w) == 0 ? 0 : 1);
	}
	close(p[1]);
	while ((k = read(p[0], buf + len, cap - len)) > 0)
		len += (size_t)k;
	close(p[0]);
	wait(NULL);
	*out = buf;
	return len;
}

/* Feed buf[0..n) to a reader through a pipe, chunk bytes per write. Returns
 * the records read and the last result (0 EOF or -1) in *last. */
static int feed(const unsigned char *buf, size_t n, size_t chunk, int *last,
		struct chr_reader *r)
{
	int p[2], count = 0, k;
	const struct chr_rec *rec;

	CHECK(pipe(p) == 0);
	if (fork() == 0) {
		close(p[0]);
		for (size_t i = 0; i < n; i += chunk)
			chr_write_all(p[1], buf + i, n - i < chunk ? n - i : chunk);
		_exit(0);
	}
	close(p[1]);
	chr_reader_init(r, p[0], "pipe");
	while ((k = chr_reader_next(r, &rec)) == 1) {
		CHECK(rec->seq == (uint64_t)count);
		CHECK(((uintptr_t)rec & 63) == 0);
		count++;
	}
	*last = k;
	close(p[0]);
	wait(NULL);
	return count;
}

int main(void)
{
	unsigned char *s;
	size_t n = make_stream(&s, 200, 1);
	struct chr_reader r;
	int last;

	CHECK(n % 64 == 0);
	CHECK(feed(s, n, 1, &last, &r) == 200 && last == 0);
	chr_reader_free(&r);
	CHECK(feed(s, n, 4093, &last, &r) == 200 && last == 0);
	chr_reader_free(&r);
	CHECK(feed(s, 0, 1, &last, &r) == 0 && last == 0);
	chr_reader_free(&r);

	/* truncated: in a header, and in a body */
	CHECK(feed(s, 10, 1, &last, &r) == 0 && last == -1 && r.e.status == CHR_EX_DATA);
	CHECK(strstr(r.e.msg, "byte 0: truncated record header") != NULL);
	chr_reader_free(&r);
	CHECK(feed(s, n - 1, 7, &last, &r) == 199 && last == -1);
	CHECK(strstr(r.e.msg, "truncated record") != NULL);
	chr_reader_free(&r);

	/* a flipped payload bit: bad crc, at the right offset */
	{
		size_t off = 0;
		const struct chr_rec *h;

		for (int i = 0; i < 3; i++)
			off += chr_rec_span(((struct chr_rec *)(s + off))->len);
		h = (const struct chr_rec *)(s + off);
		s[off + h->len - 1] ^= 1;
		CHECK(feed(s, n, 64, &last, &r) == 3 && last == -1);
		{
			char want[64];

			snprintf(want, sizeof want, "byte %zu: bad crc", off);
			CHECK(strstr(r.e.msg, want) != NULL);
		}
		chr_reader_free(&r);
		s[off + h->len - 1] ^= 1;
	}

	/* oversized length, zero length, bad segment header */
	{
		unsigned char bad[128] = {0};
		uint32_t big = CHR_REC_MAX + 64;

		memcpy(bad, &big, 4);
		CHECK(feed(bad, 128, 128, &last, &r) == 0 && last == -1);
		CHECK(strstr(r.e.msg, "above 16 MiB") != NULL);
		chr_reader_free(&r);
		memset(bad, 0, sizeof bad);
		CHECK(feed(bad, 128, 128, &last, &r) == 0 && last == -1);
		CHECK(strstr(r.e.msg, "length 0") != NULL);
		chr_reader_free(&r);
		big = CHR_SEG_MAGIC;
		memcpy(bad, &big, 4);
		CHECK(feed(bad, 128, 128, &last, &r) == 0 && last == -1);
		CHECK(strstr(r.e.msg, "segment") != NULL);
		chr_reader_free(&r);
	}

	/* random garbage never crashes and never yields a record */
	srand(1);
	for (int t = 0; t < 200; t++) {
		unsigned char g[512];

		for (size_t i = 0; i < sizeof g; i++)
			g[i] = (unsigned char)rand();
		CHECK(feed(g, sizeof g, 97, &last, &r) == 0 && last == -1);
		chr_reader_free(&r);
	}
	free(s);
	return unit_done("t-io");
}
