/* t-rawarch.c - the raw archive's pieces: segment checks, meta.json round
 * trip and order, checksums of memory and files, queue segment listing. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "chr.h"
#include "rawarch.h"
#include "unit.h"

/* what the meta.json readers report */
static struct chr_err ue;

static char root[256];

/* A sealed segment image of n trades from seq base, one a second: its
 * length in *len (malloc'ed). */
static unsigned char *segment(uint64_t id, uint64_t base, uint64_t n, size_t *len)
{
	size_t size = 64 + n * 128;
	unsigned char *b = calloc(1, size);
	struct chr_seg *h = (struct chr_seg *)b;

	for (uint64_t i = 0; i < n; i++) {
		struct chr_rec *r = (struct chr_rec *)(b + 64 + i * 128);
		struct chr_trade *t = chr_rec_payload(r);

		r->len = 64 + sizeof *t;
		r->type = CHR_TRADE;
		r->seq = base + i;
		r->ts = 1000000000LL * (int64_t)(100 + i);
		t->price = 100;
		t->size = 1;
		chr_rec_seal(r);
	}
	h->magic = CHR_SEG_MAGIC;
	h->version = CHR_VERSION;
	h->flags = CHR_SEG_SEALED;
	h->id = id;
	h->base_seq = base;
	h->end = size;
	h->count = n;
	h->ts_min = n ? 100000000000LL : 0;
	h->ts_max = n ? 1000000000LL * (int64_t)(100 + n - 1) : 0;
	h->crc = chr_seg_crc(h);
	*len = size;
	return b;
}

static void test_check(void)
{
	struct chr_err e;
	size_t len;
	unsigned char *b = segment(3, 50, 4, &len);
	struct chr_seg *h = (struct chr_seg *)b;
	struct chr_rec *r2 = (struct chr_rec *)(b + 64 + 2 * 128);

	CHECK(chr_rawseg_check(b, len, 3, "s.q", &e) == 0);
	CHECK(chr_rawseg_check(b, len, 4, "s.q", &e) < 0);
	CHECK_STR(e.msg, "s.q: byte 0: segment header names another id");
	CHECK(e.status == CHR_EX_DATA);
	CHECK(chr_rawseg_check(b, len - 64, 3, "s.q", &e) < 0);
	CHECK_STR(e.msg, "s.q: byte 0: bad segment end");
	r2->seq = 53;
	chr_rec_seal(r2);
	CHECK(chr_rawseg_check(b, len, 3, "s.q", &e) < 0);
	CHECK_STR(e.msg, "s.q: byte 320: seq 53 where 52 was expected");
	r2->seq = 52;
	r2->ts += 10000000000LL;	/* the CRC no longer holds */
	CHECK(chr_rawseg_check(b, len, 3, "s.q", &e) < 0);
	CHECK_STR(e.msg, "s.q: byte 320: bad crc");
	chr_rec_seal(r2);	/* good, but the header's range is wrong now */
	CHECK(chr_rawseg_check(b, len, 3, "s.q", &e) < 0);
	CHECK_STR(e.msg, "s.q: byte 0: the header's time range does not match its records");
	r2->ts -= 10000000000LL;
	chr_rec_seal(r2);
	h->flags = 0;
	h->crc = chr_seg_crc(h);
	CHECK(chr_rawseg_check(b, len, 3, "s.q", &e) < 0);
	CHECK_STR(e.msg, "s.q: byte 0: segment is not sealed");
	h->flags = CHR_SEG_SEALED;
	h->count = 5;
	h->crc = chr_seg_crc(h);
	CHECK(chr_rawseg_check(b, len, 3, "s.q", &e) < 0);
	CHECK_STR(e.msg, "s.q: byte 0: the header's count does not match its records");
	h->count = 4;
	h->end = len + 64;	/* zeros after the last record */
	h->crc = chr_seg_crc(h);
	b = realloc(b, len + 64);
	memset(b + len, 0, 64);
	CHECK(chr_rawseg_check(b, len + 64, 3, "s.q", &e) < 0);
	CHECK_STR(e.msg, "s.q: byte 576: unwritten space before the end of a sealed segment");
	free(b);
	b = segment(0, 0, 0, &len);
	CHECK(chr_rawseg_check(b, len, 0, "e.q", &e) == 0);
	free(b);
}

static void test_meta(void)
{
	struct chr_rawmeta m = {0}, l;
	struct chr_rawseg s = {0};
	char sum[48], dir[512], path[1024];
	uint64_t size;
	size_t len;
	unsigned char *b = segment(0, 0, 3, &len);
	char *text;
	int fd;

	/* the checksum of memory is that of a file of the same bytes */
	snprintf(path, sizeof path, "%s/seg", root);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	CHECK(fd >= 0 && chr_write_all(fd, b, len) == 0 && close(fd) == 0);
	CHECK(chr_file_xxh128(path, sum, &size) == 0 && size == len);
	chr_mem_xxh128(b, len, s.checksum);
	CHECK_STR(s.checksum, sum);
	free(b);

	strcpy(m.venue, "binance");
	strcpy(m.date, "2024-08-08");
	strcpy(m.ingest_time, "2024-08-09T00:00:00Z");
	s.id = 2, s.base_seq = 20, s.count = 10, s.bytes = s.raw_bytes = 1000;
	s.ts_min = 500, s.ts_max = 900;
	strcpy(s.raw_checksum, s.checksum);
	CHECK(chr_rawmeta_add(&m, &s) == 0);
	s.id = 0, s.base_seq = 0, s.count = 20, s.ts_min = 300, s.ts_max = 400;
	s.compressed = 1, s.bytes = 333;
	strcpy(s.checksum, "xxh3-128:00000000000000000000000000000001");
	CHECK(chr_rawmeta_add(&m, &s) == 0);
	s.id = 1, s.base_seq = 20, s.count = 0, s.ts_min = s.ts_max = 0, s.compressed = 0;
	s.bytes = s.raw_bytes = 64;
	strcpy(s.raw_checksum, s.checksum);
	CHECK(chr_rawmeta_add(&m, &s) == 0);
	CHECK(chr_rawmeta_add(&m, &s) < 0 && errno == EEXIST);
	CHECK(m.nsegs == 3 && m.segs[0].id == 0 && m.segs[1].id == 1 && m.segs[2].id == 2);
	CHECK(m.records == 30 && m.ts_min == 300 && m.ts_max == 900);	/* the empty one aside */
	CHECK(chr_rawmeta_find(&m, 1) == &m.segs[1] && chr_rawmeta_find(&m, 7) == NULL);

	snprintf(dir, sizeof dir, "%s/p", root);
	CHECK(chr_mkdirs(dir) == 0);
	CHECK(chr_rawmeta_load(dir, &l, &ue) < 0 && errno == ENOENT);
	text = chr_rawmeta_dump(&m);
	CHECK(text != NULL && strstr(text, "\"format\": \"chronicle-raw-partition\"") != NULL);
	CHECK(strstr(text, "\"file\": \"000000000.q.zst\"") != NULL);
	CHECK(strstr(text, "\"time_min\": \"1970-01-01T00:00:00.000000300Z\"") != NULL);
	snprintf(path, sizeof path, "%s/meta.json", dir);
	CHECK(chr_publish_file(path, text, strlen(text)) == 0);
	CHECK(chr_rawmeta_load(dir, &l, &ue) == 0);
	CHECK(l.nsegs == 3 && l.records == 30 && l.ts_min == 300 && l.ts_max == 900);
	CHECK_STR(l.venue, "binance");
	CHECK_STR(l.date, "2024-08-08");
	CHECK_STR(l.ingest_time, "2024-08-09T00:00:00Z");
	CHECK(l.segs[0].compressed && l.segs[0].bytes == 333 && l.segs[0].raw_bytes == 1000);
	CHECK_STR(l.segs[0].raw_checksum, sum);
	CHECK(!l.segs[2].compressed && l.segs[2].raw_bytes == 1000);
	CHECK_STR(l.segs[2].raw_checksum, l.segs[2].checksum);
	for (int i = 0; i < 3; i++)
		CHECK(l.segs[i].id == m.segs[i].id && l.segs[i].base_seq == m.segs[i].base_seq &&
		      l.segs[i].count == m.segs[i].count && l.segs[i].bytes == m.segs[i].bytes &&
		      l.segs[i].ts_min == m.segs[i].ts_min && l.segs[i].ts_max == m.segs[i].ts_max &&
		      l.segs[i].raw_bytes == m.segs[i].raw_bytes &&
		      l.segs[i].compressed == m.segs[i].compressed &&
		      strcmp(l.segs[i].checksum, m.segs[i].checksum) == 0 &&
		      strcmp(l.segs[i].raw_checksum, m.segs[i].raw_checksum) == 0);
	{
		char *again = chr_rawmeta_dump(&l);

		CHECK(again != NULL && strcmp(again, text) == 0);
		free(again);
	}
	chr_rawmeta_free(&l);
	/* a file name that is not its id's, an archive partition's meta.json */
	{
		char *bad = strdup(text), *p = strstr(bad, "000000001.q");

		p[8] = '7';
		CHECK(chr_publish_file(path, bad, strlen(bad)) == 0);
		CHECK(chr_rawmeta_load(dir, &l, &ue) < 0 && errno == EPROTO);
		CHECK(strstr(ue.msg, "bad or missing file of a segment") != NULL);
		free(bad);
		CHECK(chr_publish_file(path, "{\"format\": \"chronicle-archive-partition\"}", 41) == 0);
		CHECK(chr_rawmeta_load(dir, &l, &ue) < 0 && errno == EPROTO);
	}
	free(text);
	chr_rawmeta_free(&m);
	CHECK(chr_raw_path(path, sizeof path, "R", "v", "2024-01-02") == 0);
	CHECK_STR(path, "R/raw/v1/v/2024-01-02/raw");
	CHECK(chr_raw_path(path, 10, "R", "v", "2024-01-02") < 0 && errno == ENAMETOOLONG);
}

static void test_list(void)
{
	const char *names[] = {"000000001.q", "000000000.q", "x.q", "000000002.q.tmp",
			       "00000003.q", "000000010.q", "000000004.idx"};
	char dir[512], path[1024];
	uint64_t *ids;
	ssize_t n;

	snprintf(dir, sizeof dir, "%s/q", root);
	CHECK(chr_mkdirs(dir) == 0);
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		close(open(path, O_WRONLY | O_CREAT, 0666));
	}
	n = chr_qseg_list(dir, &ids);
	CHECK(n == 3 && ids[0] == 0 && ids[1] == 1 && ids[2] == 10);
	free(ids);
	CHECK(chr_qseg_list("/nonexistent/q", &ids) < 0 && errno == ENOENT);
}

int main(void)
{
	snprintf(root, sizeof root, "/tmp/t-rawarch.%ld", (long)getpid());
	CHECK(chr_mkdirs(root) == 0);
	test_check();
	test_meta();
	test_list();
	CHECK(chr_remove_tree(root) == 0);
	return unit_done("t-rawarch");
}
