/* t-archive.c - the archive writer: sealed segments, meta.json round trip,
 * partitions and their seqs, staging clean-up and crash repair. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "archive.h"
#include "chr.h"
#include "unit.h"

/* what the archive functions report */
static struct chr_err ae;

static char root[256];

static struct chr_rec *mk(uint16_t type, uint16_t vid, uint32_t mid, int64_t ts, const char *sym)
{
	static _Alignas(64) unsigned char buf[4][256];
	static int k;
	struct chr_rec *r = (struct chr_rec *)buf[k++ & 3];
	uint32_t len = CHR_HDR_SIZE + (type == CHR_DEFINE ? sizeof(struct chr_define) :
				       sizeof(struct chr_trade));

	memset(r, 0, 256);
	r->len = len;
	r->type = type;
	r->venue = vid;
	r->market = mid;
	r->ts = ts;
	r->src_seq = 77;
	if (type == CHR_DEFINE) {
		struct chr_define *d = chr_rec_payload(r);

		strcpy(d->venue, "ven");
		memcpy(d->symbol, sym, strlen(sym));
	}
	chr_rec_seal(r);
	return r;
}

static int count_dir(const char *dir, void *ctx)
{
	(void)dir;
	(*(int *)ctx)++;
	return 0;
}

static void test_segw(void)
{
	struct chr_segw w;
	char path[PATH_MAX + 32], sum[48];
	struct chr_reader rd;
	const struct chr_rec *r;
	struct chr_seg h;
	struct stat st;
	int fd, n = 0;

	CHECK(chr_segw_open(&w, root, 7, 100, 64u << 20) == 0);
	for (int i = 0; i < 1000; i++)
		CHECK(chr_segw_put(&w, mk(CHR_TRADE, 1, 2, 1000 - i, NULL)) == 0);
	CHECK(chr_segw_seal(&w) == 0);
	snprintf(path, sizeof path, "%s/000000007.q", root);
	CHECK(stat(path, &st) == 0);
	CHECK((uint64_t)st.st_size == w.info.bytes);
	CHECK(w.info.count == 1000 && w.info.ts_min == 1 && w.info.ts_max == 1000);
	CHECK(chr_file_xxh128(path, sum, NULL) == 0);
	CHECK_STR(sum, w.info.checksum);
	fd = open(path, O_RDONLY);
	CHECK(read(fd, &h, sizeof h) == sizeof h);
	CHECK(chr_seg_check(&h) == NULL && (h.flags & CHR_SEG_SEALED));
	CHECK(h.end == w.info.bytes && h.count == 1000 && h.base_seq == 100 && h.id == 7);
	lseek(fd, 0, SEEK_SET);
	chr_reader_init(&rd, fd, path);
	while (chr_reader_next(&rd, &r) > 0) {
		CHECK(r->seq == (uint64_t)(100 + n) && r->src_seq == 77);
		n++;
	}
	CHECK(n == 1000 && rd.e.status == 0);
	chr_reader_free(&rd);
	close(fd);
	unlink(path);
}

/* rec (from mk) with flags set, sealed again */
static struct chr_rec *flagged(struct chr_rec *r, uint16_t flags)
{
	r->flags = flags;
	chr_rec_seal(r);
	return r;
}

/* The snapshots a segment notes for meta.json: those that begin an event
 * in it (not its first record, not after a record that is not LAST, no
 * repeat), size / CHR_SEG_SNAPS apart, CHR_SEG_SNAPS at most, each with
 * the largest ts up to it; and meta.json keeps them. */
static void test_segw_snaps(void)
{
	struct chr_meta m = {0}, l;
	struct chr_segw w;
	char *a, *b;
	uint64_t span = chr_rec_span(mk(CHR_BOOK_SNAPSHOT, 1, 2, 0, NULL)->len), off[64];
	int64_t ts = 100;

	/* 16 * 4 snapshot records apart: 4 snapshots between two noted */
	CHECK(chr_segw_open(&w, root, 8, 0, CHR_SEG_SNAPS * 4 * 2 * span) == 0);
	/* first: a snapshot that begins no event (the segment's first record) */
	CHECK(chr_segw_put(&w, flagged(mk(CHR_BOOK_SNAPSHOT, 1, 2, ts, NULL), CHR_F_LAST)) == 0);
	CHECK(w.info.nsnaps == 0);
	/* an event of two records, then a snapshot: the diff was not LAST */
	CHECK(chr_segw_put(&w, mk(CHR_BOOK_DIFF, 1, 2, 500, NULL)) == 0);
	CHECK(chr_segw_put(&w, flagged(mk(CHR_BOOK_SNAPSHOT, 1, 2, ts, NULL), CHR_F_REPEAT)) == 0);
	CHECK(chr_segw_put(&w, flagged(mk(CHR_BOOK_SNAPSHOT, 1, 2, ts, NULL), CHR_F_LAST)) == 0);
	CHECK(w.info.nsnaps == 0);
	/* snapshot, diff (LAST) pairs: each snapshot begins an event */
	for (int i = 0; i < 64 * 2; i++) {
		if (i % 2 == 0)
			off[i / 2] = w.info.bytes;
		CHECK(chr_segw_put(&w, flagged(mk(i % 2 ? CHR_BOOK_DIFF : CHR_BOOK_SNAPSHOT, 1, 2,
						 ++ts, NULL), CHR_F_LAST)) == 0);
	}
	CHECK(w.info.nsnaps == CHR_SEG_SNAPS);
	for (int i = 0; i < CHR_SEG_SNAPS; i++) {
		CHECK(w.info.snaps[i].off == off[4 * i]);
		/* the diff at ts 500 is the largest until the pairs pass it */
		CHECK(w.info.snaps[i].ts_upto == (101 + 8 * i > 500 ? 101 + 8 * i : 500));
	}
	CHECK(chr_segw_seal(&w) == 0);
	m.segs = calloc(1, sizeof *m.segs);
	m.nsegs = 1;
	m.segs[0] = w.info;
	a = chr_meta_dump(&m);
	CHECK(a != NULL && strstr(a, "\"snapshots\"") != NULL);
	CHECK(chr_publish_file("meta.json", a, strlen(a)) == 0);
	CHECK(chr_meta_load(".", &l, NULL) == 0);
	b = chr_meta_dump(&l);
	CHECK_STR(a, b);
	CHECK(l.segs[0].nsnaps == CHR_SEG_SNAPS && l.segs[0].snaps[3].off == off[12]);
	free(b);
	chr_meta_free(&l);
	/* not a place a record can be: not a valid meta.json */
	m.segs[0].snaps[2].off = m.segs[0].snaps[1].off + 1;
	b = chr_meta_dump(&m);
	CHECK(chr_publish_file("meta.json", b, strlen(b)) == 0);
	CHECK(chr_meta_load(".", &l, NULL) < 0 && errno == EPROTO);
	free(a);
	free(b);
	chr_meta_free(&m);
	unlink("meta.json");
	snprintf((char *)off, sizeof off, "%s/000000008.q", root);
	unlink((char *)off);
}

static void test_meta(void)
{
	struct chr_meta m = {0}, l;
	char *a, *b;

	strcpy(m.venue, "v");
	strcpy(m.symbol, "S\"x");
	strcpy(m.date, "2024-01-02");
	strcpy(m.stream, "trade");
	m.venue_id = 3;
	m.market_id = 4000000000u;
	m.records = 5;
	m.last_seq = 4;
	m.ts_min = -5;
	m.ts_max = 1700000000000000000;
	CHECK(chr_meta_count(&m, CHR_TRADE, 4) == 0);
	CHECK(chr_meta_count(&m, CHR_DEFINE, 1) == 0);
	CHECK(m.counts[0].type == CHR_DEFINE);
	CHECK(chr_meta_add_source(&m, "zz") == 0 && chr_meta_add_source(&m, "aa") == 0 &&
	      chr_meta_add_source(&m, "zz") == 0);
	CHECK(m.nsources == 2 && strcmp(m.sources[0], "aa") == 0);
	m.segs = calloc(1, sizeof *m.segs);
	m.nsegs = 1;
	m.segs[0].count = 5;
	strcpy(m.segs[0].checksum, "xxh3-128:00");
	a = chr_meta_dump(&m);
	CHECK(a != NULL);
	CHECK(chr_publish_file("meta.json", a, strlen(a)) == 0);
	CHECK(chr_meta_load(".", &l, NULL) == 0);
	b = chr_meta_dump(&l);
	CHECK_STR(a, b);
	CHECK(l.market_id == 4000000000u && l.ts_min == -5 && l.nsegs == 1);
	free(a);
	free(b);
	chr_meta_free(&m);
	chr_meta_free(&l);
	CHECK(chr_publish_file("meta.json", "{\"venue\":1}", 11) == 0);
	CHECK(chr_meta_load(".", &l, NULL) < 0 && errno == EPROTO);
	unlink("meta.json");
	CHECK(chr_meta_load(".", &l, NULL) < 0 && errno == ENOENT);
}

static void test_writer(void)
{
	struct chr_archive_opts o = {.seg_size = 1024, .source = "src1"};
	char dir[PATH_MAX + 64];
	struct chr_archive *a;
	int n = 0;
	const int64_t day = 86400000000000LL;
	struct chr_meta m;

	a = chr_archive_open(root, &o, &ae);
	CHECK(a != NULL);
	CHECK(chr_archive_put(a, mk(CHR_TRADE, 1, 2, 5, NULL), "in", 0, &ae) < 0);
	CHECK(ae.status == CHR_EX_DATA && strstr(ae.msg, "in: byte 0: TRADE of venue 1 market 2") != NULL);
	CHECK(chr_archive_put(a, mk(CHR_DEFINE, 1, 2, 0, "../x"), "in", 64, &ae) < 0);
	CHECK(ae.status == CHR_EX_DATA && strstr(ae.msg, "byte 64") && strstr(ae.msg, "'../x'"));
	CHECK(chr_archive_put(a, mk(CHR_DEFINE, 1, 2, 0, "BTC"), "in", 0, &ae) == 0);
	for (int i = 0; i < 40; i++)
		CHECK(chr_archive_put(a, mk(CHR_TRADE, 1, 2, day + i * (day / 20), NULL), "in",
				      0, &ae) == 0);
	CHECK(chr_archive_put(a, mk(CHR_HEARTBEAT, 0, 0, 0, NULL), "in", 0, &ae) == 0);
	CHECK(chr_archive_commit(a, &ae) == 0);
	{
		size_t np;
		const struct chr_archive_part *p = chr_archive_parts(a, &np);
		uint64_t arch, skip;

		CHECK(np == 2 && strcmp(p[0].path, "v1/ven/BTC/1970-01-02/trade") == 0);
		CHECK(p[0].records == 21 && strcmp(p[1].action, "new") == 0);
		chr_archive_totals(a, &arch, &skip);
		CHECK(arch == 40 && skip == 1);
	}
	chr_archive_close(a);
	CHECK(chr_archive_walk(root, NULL, NULL, NULL, count_dir, &n) == 0 && n == 2);
	n = 0;
	CHECK(chr_archive_walk(root, "ven", "BTC", "book", count_dir, &n) == 0 && n == 0);
	snprintf(dir, sizeof dir, "%s/v1/ven/BTC/1970-01-02/trade", root);
	CHECK(chr_meta_load(dir, &m, NULL) == 0);
	CHECK(m.records == 21 && m.first_seq == 0 && m.last_seq == 20 && m.nsegs > 1);
	CHECK(m.nsources == 1 && strcmp(m.sources[0], "src1") == 0);
	CHECK(m.ts_min == day && m.segs[1].base_seq == m.segs[0].count);
	chr_meta_free(&m);

	/* same source again: replaced, not refused */
	a = chr_archive_open(root, &o, &ae);
	CHECK(chr_archive_put(a, mk(CHR_DEFINE, 1, 2, 0, "BTC"), "in", 0, &ae) == 0);
	CHECK(chr_archive_put(a, mk(CHR_TRADE, 1, 2, day, NULL), "in", 0, &ae) == 0);
	CHECK(chr_archive_commit(a, &ae) == 0);
	chr_archive_close(a);
	CHECK(chr_meta_load(dir, &m, NULL) == 0 && m.records == 2);
	chr_meta_free(&m);

	/* another source: refused; with append: added after */
	o.source = "src2";
	a = chr_archive_open(root, &o, &ae);
	CHECK(chr_archive_put(a, mk(CHR_DEFINE, 1, 2, 0, "BTC"), "in", 0, &ae) == 0);
	CHECK(chr_archive_put(a, mk(CHR_TRADE, 1, 2, day, NULL), "in", 0, &ae) < 0);
	CHECK(ae.status == CHR_EX_DATA && strstr(ae.msg, "partition 'v1/ven/BTC/1970-01-02/trade' already"));
	chr_archive_close(a);
	o.append = 1;
	a = chr_archive_open(root, &o, &ae);
	CHECK(chr_archive_put(a, mk(CHR_DEFINE, 1, 2, 0, "BTC"), "in", 0, &ae) == 0);
	CHECK(chr_archive_put(a, mk(CHR_TRADE, 1, 2, day + 9, NULL), "in", 0, &ae) == 0);
	CHECK(chr_archive_commit(a, &ae) == 0);
	chr_archive_close(a);
	CHECK(chr_meta_load(dir, &m, NULL) == 0);
	CHECK(m.records == 3 && m.last_seq == 2 && m.nsources == 2 && m.nsegs == 2);
	CHECK(m.segs[1].id == 1 && m.segs[1].base_seq == 2);
	chr_meta_free(&m);
}

/* A dead run "ROOT/.staging/<name>" that committed to publish its p0
 * (holding a segment file of text q) at rel, finding want there. */
static void dead_run(const char *name, const char *rel, const char *want, const char *q)
{
	char d[PATH_MAX], p[PATH_MAX + 64], line[PATH_MAX + 64];
	struct stat st;

	snprintf(d, sizeof d, "%s/.staging/%s/p0", root, name);
	CHECK(chr_mkdirs(d) == 0);
	snprintf(p, sizeof p, "%s/000000000.q", d);
	CHECK(chr_publish_file(p, q, strlen(q)) == 0);
	CHECK(stat(d, &st) == 0);
	snprintf(line, sizeof line, "p0 %llu %s %s\n", (unsigned long long)st.st_ino, rel, want);
	snprintf(p, sizeof p, "%s/.staging/%s/COMMIT", root, name);
	CHECK(chr_publish_file(p, line, strlen(line)) == 0);
}

/* the first bytes of the file rel under root, as text ("" when none) */
static const char *head(const char *rel)
{
	static char buf[64];
	char p[PATH_MAX + 64];
	int fd;
	ssize_t n = 0;

	snprintf(p, sizeof p, "%s/%s", root, rel);
	fd = open(p, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* One run of source (or none) with stage: a DEFINE of sym and n trades
 * on 1970-01-02. Returns the status of the first failure, or 0. */
static int one_run(const char *source, int stage, const char *sym, int n, char *err)
{
	struct chr_archive_opts o = {.source = source, .stage = stage};
	struct chr_archive *a;
	const int64_t day = 86400000000000LL;

	a = chr_archive_open(root, &o, &ae);
	if (a == NULL)
		return snprintf(err, CHR_ARCHIVE_ERR, "%s", ae.msg), ae.status;
	if (chr_archive_put(a, mk(CHR_DEFINE, 1, 2, 0, sym), "in", 0, &ae) < 0)
		goto out;
	for (int i = 0; i < n; i++)
		if (chr_archive_put(a, mk(CHR_TRADE, 1, 2, day + i, NULL), "in", 0, &ae) < 0)
			goto out;
	if (chr_archive_commit(a, &ae) == 0) {
		chr_archive_close(a);
		return 0;
	}
out:
	snprintf(err, CHR_ARCHIVE_ERR, "%s", ae.msg);
	chr_archive_close(a);
	return ae.status;
}

/* A run that died after its COMMIT journal is finished by the next run,
 * where each place holds what it found; a run that died before it is
 * removed; a run that holds the lock of its directory lives, whatever
 * its name. */
static void test_repair(void)
{
	char s1[PATH_MAX], s2[PATH_MAX], p[PATH_MAX + 64], err[CHR_ARCHIVE_ERR], sum[48];
	int fd;

	snprintf(s1, sizeof s1, "%s/.staging/999999998-1", root);
	snprintf(s2, sizeof s2, "%s/.staging/%ld-2", root, (long)getpid());
	dead_run("999999998-1", "v1/a/b/2024-01-01/book", "new", "x");
	CHECK(mkdir(s2, 0777) == 0);
	fd = open(s2, O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0);
	snprintf(p, sizeof p, "%s/.staging/999999997-ledger.json", root);
	CHECK(chr_publish_file(p, "{}", 2) == 0);
	CHECK(chr_staging_clean(root, NULL, NULL, &ae) == 2);
	CHECK(access(p, F_OK) < 0);
	CHECK(access(s1, F_OK) < 0 && access(s2, F_OK) == 0);
	CHECK_STR(head("v1/a/b/2024-01-01/book/000000000.q"), "x");
	close(fd);
	CHECK(chr_staging_clean(root, NULL, NULL, &ae) == 1);
	CHECK(access(s2, F_OK) < 0);

	/* a place that changed since the run committed is left alone */
	CHECK(one_run("d", 0, "D1", 3, err) == 0);
	CHECK(one_run("e", 0, "E1", 3, err) == 0);
	snprintf(p, sizeof p, "%s/v1/ven/E1/1970-01-02/trade/meta.json", root);
	CHECK(chr_file_xxh128(p, sum, NULL) == 0);
	dead_run("999999996-1", "v1/ven/D1/1970-01-02/trade", "new", "dead");
	dead_run("999999995-1", "v1/ven/E1/1970-01-02/trade", "xxh3-128:00", "dead");
	dead_run("999999994-1", "v1/ven/E2/1970-01-02/trade", sum, "dead");
	CHECK(chr_staging_clean(root, NULL, NULL, &ae) == 3);
	CHECK(strcmp(head("v1/ven/D1/1970-01-02/trade/000000000.q"), "dead") != 0);
	CHECK(strcmp(head("v1/ven/E1/1970-01-02/trade/000000000.q"), "dead") != 0);
	CHECK(strcmp(head("v1/ven/E1/1970-01-02/trade/000000000.q"), "") != 0);
	CHECK_STR(head("v1/ven/E2/1970-01-02/trade/000000000.q"), "");
	/* the same checksum: replaced */
	dead_run("999999993-1", "v1/ven/E1/1970-01-02/trade", sum, "dead");
	CHECK(chr_staging_clean(root, NULL, NULL, &ae) == 1);
	CHECK_STR(head("v1/ven/E1/1970-01-02/trade/000000000.q"), "dead");
}

/* A run publishes only after the dead runs' committed publications are
 * done, and sees them as changes. */
static void test_commit_cleans_first(void)
{
	struct chr_archive_opts o = {0};
	struct chr_archive *a;

	a = chr_archive_open(root, &o, &ae);
	CHECK(a != NULL);
	CHECK(chr_archive_put(a, mk(CHR_DEFINE, 1, 2, 0, "C1"), "in", 0, &ae) == 0);
	CHECK(chr_archive_put(a, mk(CHR_TRADE, 1, 2, 86400000000000LL, NULL), "in", 0, &ae) == 0);
	/* a run that committed to the same place dies meanwhile */
	dead_run("999999992-1", "v1/ven/C1/1970-01-02/trade", "new", "dead");
	CHECK(chr_archive_commit(a, &ae) < 0);
	CHECK(ae.status == CHR_EX_DATA && strstr(ae.msg, "changed while this run wrote it") != NULL);
	chr_archive_close(a);
	CHECK_STR(head("v1/ven/C1/1970-01-02/trade/000000000.q"), "dead");
}

/* --publish refuses a place whose meta.json changed (its directory's
 * inode says nothing), and a staged run that lost a segment. */
static void test_publish_checks(void)
{
	struct chr_archive_opts o = {.source = "s1"};
	char err[CHR_ARCHIVE_ERR], p[PATH_MAX + 64];
	struct chr_archive *a;

	CHECK(one_run("s1", 0, "R1", 3, err) == 0);
	CHECK(one_run("s1", 1, "R1", 5, err) == 0);
	snprintf(p, sizeof p, "%s/v1/ven/R1/1970-01-02/trade/meta.json", root);
	CHECK(chr_publish_file(p, "{}\n", 3) == 0);
	a = chr_archive_publish(root, &o, &ae);
	CHECK(a == NULL && ae.status == CHR_EX_DATA && strstr(ae.msg, "changed while this run wrote it"));

	o.source = "s2";
	CHECK(one_run("s2", 1, "H1", 3, err) == 0);
	snprintf(p, sizeof p, "%s/.staging/staged-s2/p0/000000000.q", root);
	CHECK(unlink(p) == 0);
	a = chr_archive_publish(root, &o, &ae);
	CHECK(a == NULL && ae.status == CHR_EX_DATA && strstr(ae.msg, "staged partition 'v1/ven/H1/1970-01-02/trade'"
							 " is incomplete: ") != NULL);
	snprintf(p, sizeof p, "%s/v1/ven/H1", root);
	CHECK(access(p, F_OK) < 0);
}

/* Odd moments: a segment that cannot be sealed (its directory gone) is
 * freed (SAN=1 finds a leak); a time near INT64_MIN has a day. */
static void test_edges(void)
{
	struct chr_archive_opts o = {0};
	char p[PATH_MAX + 300];
	struct chr_archive *a;
	struct dirent *e;
	DIR *d;

	a = chr_archive_open(root, &o, &ae);
	CHECK(chr_archive_put(a, mk(CHR_DEFINE, 1, 2, 0, "L1"), "in", 0, &ae) == 0);
	CHECK(chr_archive_put(a, mk(CHR_TRADE, 1, 2, 5, NULL), "in", 0, &ae) == 0);
	snprintf(p, sizeof p, "%s/.staging", root);
	d = opendir(p);
	while (d && (e = readdir(d)) != NULL) {
		snprintf(p, sizeof p, "%s/.staging/%s", root, e->d_name);
		if (e->d_name[0] != '.' && strcmp(e->d_name, "lock") != 0)
			CHECK(chr_remove_tree(p) == 0);
	}
	closedir(d);
	CHECK(chr_archive_commit(a, &ae) < 0 && ae.status == CHR_EX_SYS);
	CHECK(strstr(ae.msg, "cannot seal") != NULL);
	chr_archive_close(a);

	a = chr_archive_open(root, &o, &ae);
	CHECK(chr_archive_put(a, mk(CHR_DEFINE, 1, 2, 0, "M1"), "in", 0, &ae) == 0);
	CHECK(chr_archive_put(a, mk(CHR_TRADE, 1, 2, INT64_MIN, NULL), "in", 0, &ae) == 0);
	chr_archive_close(a);
}

/* chr_lock_dir, chr_staging_dir, chr_meta_checksum, chr_json_* */
static void test_helpers(void)
{
	char path[PATH_MAX], sum[48], sum2[48];
	int fd, fd2;
	json_t *o;
	uint64_t u = 7;
	int64_t i = 7;
	char str[4];

	CHECK((fd = chr_staging_dir("h/tier", "tier-", path)) >= 0);
	CHECK(strncmp(path, "h/tier/.staging/tier-", 21) == 0 && strlen(path) == 27);
	/* held: a second lock fails, as chr_staging_clean sees a live run */
	CHECK(chr_lock_dir(path) == -1 && errno == EWOULDBLOCK);
	close(fd);
	CHECK((fd2 = chr_lock_dir(path)) >= 0);
	close(fd2);
	CHECK(chr_lock_dir("h/none") == -1 && errno == ENOENT);
	CHECK((fd = chr_staging_dir("h/tier", NULL, path)) >= 0);
	snprintf(sum, sizeof sum, "h/tier/.staging/%ld-", (long)getpid());
	CHECK(strncmp(path, sum, strlen(sum)) == 0);
	close(fd);

	CHECK(chr_meta_checksum("h/tier", sum) == -1 && errno == ENOENT);
	CHECK(chr_publish_file("h/tier/meta.json", "{}\n", 3) == 0);
	CHECK(chr_meta_checksum("h/tier", sum) == 0);
	chr_mem_xxh128("{}\n", 3, sum2);
	CHECK_STR(sum, sum2);

	o = json_pack("{s:I, s:I, s:s}", "u", (json_int_t)5, "n", (json_int_t)-5, "s", "abc");
	CHECK(o != NULL);
	CHECK(chr_json_u64(o, "u", &u) == 0 && u == 5);
	CHECK(chr_json_u64(o, "n", &u) == -1 && u == 5);
	CHECK(chr_json_u64(o, "s", &u) == -1 && chr_json_u64(o, "x", &u) == -1);
	CHECK(chr_json_i64(o, "n", &i) == 0 && i == -5);
	CHECK(chr_json_i64(o, "s", &i) == -1 && i == -5);
	CHECK(chr_json_str(o, "s", str, sizeof str) == 0);
	CHECK_STR(str, "abc");
	CHECK(chr_json_str(o, "s", str, 3) == -1 && chr_json_str(o, "u", str, sizeof str) == -1);
	json_decref(o);
	CHECK(chr_remove_tree("h") == 0);
}

int main(void)
{
	snprintf(root, sizeof root, "/tmp/t-archive.%ld", (long)getpid());
	CHECK(chr_mkdirs(root) == 0);
	CHECK(chdir(root) == 0);
	test_helpers();
	test_segw();
	test_segw_snaps();
	test_meta();
	test_writer();
	test_repair();
	test_commit_cleans_first();
	test_publish_checks();
	test_edges();
	CHECK(chdir("/") == 0);
	CHECK(chr_remove_tree(root) == 0);
	return unit_done("t-archive");
}
