/* t-manifest.c - tests of common/manifest.c and common/tier.c: meta.json of
 * both formats, syncing, querying across tiers, rebuild, the config file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "manifest.h"
#include "path.h"
#include "tier.h"
#include "unit.h"

/* what the meta.json readers report */
static struct chr_err ue;

static char root[256];

static void put_file(const char *path, const char *text)
{
	char dir[1024];

	snprintf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = '\0';
	CHECK(chr_mkdirs(dir) == 0);
	CHECK(chr_publish_file(path, text, strlen(text)) == 0);
}

/* an archive partition with two segments at tier/v1/v/s/date/trade */
static void archive_part(const char *tier, const char *sym, const char *date, long long ts)
{
	char p[1024], t[2048];

	snprintf(p, sizeof p, "%s/v1/ven/%s/%s/trade/meta.json", tier, sym, date);
	snprintf(t, sizeof t,
		 "{\"format\": \"chronicle-archive-partition\", \"version\": 1, \"venue\": \"ven\","
		 " \"symbol\": \"%s\", \"venue_id\": 1, \"market_id\": 2, \"date\": \"%s\","
		 " \"stream\": \"trade\", \"records\": 7, \"first_seq\": 0, \"last_seq\": 6,"
		 " \"ts_min\": %lld, \"ts_max\": %lld, \"record_counts\": {}, \"sources\": [],"
		 " \"segments\": [{\"file\": \"000000001.q.zst\", \"id\": 1, \"base_seq\": 4, \"count\": 3,"
		 " \"bytes\": 100, \"ts_min\": %lld, \"ts_max\": %lld, \"checksum\": \"xxh3-128:b\","
		 " \"raw_bytes\": 256, \"raw_checksum\": \"xxh3-128:c\", \"compressed\": true},"
		 " {\"file\": \"000000000.q\", \"id\": 0, \"base_seq\": 0, \"count\": 4, \"bytes\": 320,"
		 " \"ts_min\": %lld, \"ts_max\": %lld, \"checksum\": \"xxh3-128:a\"}]}\n",
		 sym, date, ts, ts + 9, ts + 5, ts + 9, ts, ts + 4);
	put_file(p, t);
}

static void raw_part(const char *tier, const char *date, long long ts)
{
	char p[1024], t[1024];

	snprintf(p, sizeof p, "%s/raw/v1/ven/%s/raw/meta.json", tier, date);
	snprintf(t, sizeof t,
		 "{\"format\": \"chronicle-raw-partition\", \"version\": 1, \"venue\": \"ven\","
		 " \"date\": \"%s\", \"ingest_time\": \"x\", \"completeness\": \"sealed\","
		 " \"segments\": [{\"id\": 3, \"first_seq\": 10, \"last_seq\": 19, \"bytes\": 640,"
		 " \"ts_min\": %lld, \"ts_max\": %lld, \"checksum\": \"xxh3-128:d\"}]}\n",
		 date, ts, ts + 1);
	put_file(p, t);
}

static void test_part_load(void)
{
	struct chr_partinfo p;
	char d[1024];

	archive_part("h", "SYM", "2024-01-02", 1000);
	CHECK(chr_partinfo_load("h/v1/ven/SYM/2024-01-02/trade", &p, NULL) == 0);
	CHECK(!p.raw);
	CHECK_STR(p.rel, "v1/ven/SYM/2024-01-02/trade");
	CHECK(p.nsegs == 2 && p.segs[0].id == 0 && p.segs[1].id == 1);
	CHECK(p.segs[0].first_seq == 0 && p.segs[0].last_seq == 3 && !p.segs[0].compressed);
	CHECK(p.segs[0].raw_bytes == 320);
	CHECK_STR(p.segs[0].raw_checksum, "xxh3-128:a");
	CHECK(p.segs[1].compressed && p.segs[1].raw_bytes == 256 && p.segs[1].bytes == 100);
	CHECK_STR(p.segs[1].file, "000000001.q.zst");
	CHECK(p.ts_min == 1000 && p.ts_max == 1009);
	chr_partinfo_free(&p);

	raw_part("h", "2024-01-03", 5000);
	CHECK(chr_partinfo_load("h/raw/v1/ven/2024-01-03/raw", &p, NULL) == 0);
	CHECK(p.raw && p.nsegs == 1);
	CHECK_STR(p.rel, "raw/v1/ven/2024-01-03/raw");
	CHECK_STR(p.symbol, "");
	CHECK_STR(p.segs[0].file, "000000003.q");
	CHECK(p.segs[0].count == 10 && p.segs[0].last_seq == 19 && p.ts_max == 5001);
	chr_partinfo_free(&p);

	/* missing, not JSON, hostile names, a partition that lies elsewhere */
	CHECK(chr_partinfo_load("h/nothing", &p, NULL) < 0 && errno == ENOENT);
	put_file("h/bad/meta.json", "{");
	CHECK(chr_partinfo_load("h/bad", &p, NULL) < 0 && errno == EPROTO);
	snprintf(d, sizeof d, "h/v1/ven/x/2024-01-02/trade");
	put_file("h/v1/ven/x/2024-01-02/trade/meta.json",
		 "{\"format\": \"chronicle-archive-partition\", \"venue\": \"ven\", \"symbol\": \"../x\","
		 " \"date\": \"2024-01-02\", \"stream\": \"trade\", \"segments\": []}");
	CHECK(chr_partinfo_load(d, &p, &ue) < 0 && errno == EPROTO);
	CHECK(strstr(ue.msg, "symbol") != NULL);
	put_file("h/v1/ven/x/2024-01-02/trade/meta.json",
		 "{\"format\": \"chronicle-archive-partition\", \"venue\": \"ven\", \"symbol\": \"y\","
		 " \"date\": \"2024-01-02\", \"stream\": \"trade\", \"ts_max\": 1, \"segments\": []}");
	CHECK(chr_partinfo_load(d, &p, &ue) < 0 && errno == EPROTO);
	CHECK(strstr(ue.msg, "not where it lies") != NULL);
	put_file("h/v1/ven/x/2024-01-02/trade/meta.json",
		 "{\"format\": \"chronicle-archive-partition\", \"venue\": \"ven\", \"symbol\": \"x\","
		 " \"date\": \"2024-01-02\", \"stream\": \"trade\", \"ts_max\": 1, \"segments\": ["
		 "{\"id\": 0, \"file\": \"../../etc/passwd\", \"bytes\": 1, \"checksum\": \"x\"}]}");
	CHECK(chr_partinfo_load(d, &p, &ue) < 0 && errno == EPROTO);
	CHECK(strstr(ue.msg, "segment file name") != NULL);
	CHECK(chr_remove_tree("h/v1/ven/x") == 0);
	CHECK(chr_remove_tree("h/bad") == 0);
}

static int count_rows(const struct chr_mrow *r, void *ctx)
{
	char (*seen)[256] = ctx;
	size_t n = strlen(*seen);

	snprintf(*seen + n, sizeof *seen - n, "%s:%s:%llu ", r->tier, r->date,
		 (unsigned long long)r->seg);
	return 0;
}

static char *dump(struct chr_manifest *m)
{
	char *buf = NULL;
	struct chr_err e;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	CHECK(chr_manifest_dump(m, f, &e) == 0);
	fclose(f);
	return buf;
}

/* a chr_tier_parts_with callback: counts the rows */
static int count_calls(const struct chr_mrow *r, void *ctx)
{
	(void)r;
	++*(int *)ctx;
	return 0;
}

static void test_manifest(void)
{
	struct chr_tiers t;
	struct chr_manifest *m;
	char seen[256] = "", *a, *b;
	struct chr_err e;
	struct chr_tier_part *parts;
	int found;


	chr_tiers_init(&t, "h");
	CHECK(chr_tiers_set(&t, "warm", "w", 10, 0) == 0);
	archive_part("h/w", "SYM", "2024-01-01", 100);	/* the other tier */
	CHECK((m = chr_manifest_open("h", NULL, 1, &e)) != NULL);
	CHECK(chr_manifest_set_tiers(m, &t, &e) == 0);
	CHECK(chr_manifest_sync(m, "hot", "h", "v1/ven/SYM/2024-01-02/trade", &e) == 0);
	CHECK(chr_manifest_sync(m, "warm", "h/w", "v1/ven/SYM/2024-01-01/trade", &e) == 0);
	CHECK(chr_manifest_sync(m, "hot", "h", "raw/v1/ven/2024-01-03/raw", &e) == 0);
	CHECK(chr_manifest_query(m, "ven", "SYM", "trade", INT64_MIN, INT64_MAX, count_rows, seen,
				 &e) == 0);
	CHECK_STR(seen, "warm:2024-01-01:0 warm:2024-01-01:1 hot:2024-01-02:0 hot:2024-01-02:1 ");
	seen[0] = '\0';
	/* ts range: segment 1 of 2024-01-02 holds 1005..1009 */
	CHECK(chr_manifest_query(m, "ven", "SYM", "trade", 1006, INT64_MAX, count_rows, seen,
				 &e) == 0);
	CHECK_STR(seen, "hot:2024-01-02:1 ");
	seen[0] = '\0';
	CHECK(chr_manifest_query(m, "ven", "", "raw", INT64_MIN, INT64_MAX, count_rows, seen,
				 &e) == 0);
	CHECK_STR(seen, "hot:2024-01-03:3 ");
	/* the same partition synced from another tier replaces its rows */
	CHECK(chr_manifest_sync(m, "warm", "h/w", "v1/ven/SYM/2024-01-01/trade", &e) == 0);
	a = dump(m);
	CHECK(strstr(a, "segment\twarm\tv1/ven/SYM/2024-01-01/trade/000000001.q.zst\tven\tSYM\t2024-01-01\ttrade\t1\t4\t6\t") != NULL);
	chr_manifest_close(m);

	/* the reader's lookup goes through the manifest */
	CHECK(chr_tier_parts("h", "ven", "SYM", "trade", NULL, &parts, &found, &e) == 2);
	CHECK(found && strcmp(parts[0].date, "2024-01-01") == 0 && strcmp(parts[0].dir, "h/w/v1/ven/SYM/2024-01-01/trade") == 0);
	CHECK(strcmp(parts[1].dir, "h/v1/ven/SYM/2024-01-02/trade") == 0);
	chr_tier_parts_free(parts, 2);
	CHECK(chr_tier_parts("h", "ven", NULL, "raw", NULL, &parts, &found, &e) == 1);
	CHECK(strcmp(parts[0].dir, "h/raw/v1/ven/2024-01-03/raw") == 0);
	chr_tier_parts_free(parts, 1);
	/* the same lookup giving its manifest rows to chr_archive_tiers_row:
	 * the tiers chr_archive_tiers finds (warm only in the manifest) */
	{
		struct chr_archive_tiers *w1 = malloc(sizeof *w1), *w2 = malloc(sizeof *w2);
		int rows = 0;

		CHECK(w1 && w2 && chr_archive_tiers(w1, "h", "ven", "SYM", "trade", &e) == 0);
		CHECK(w1 && w1->n == 2 && strcmp(w1->t[1].name, "warm") == 0);
		CHECK(w2 && chr_archive_tiers_conf(w2, "h", &e) == 0 && w2->n == 1);
		CHECK(chr_tier_parts_with("h", "ven", "SYM", "trade", NULL, &parts, &found,
					  chr_archive_tiers_row, w2, &e) == 2);
		CHECK(strcmp(parts[0].dir, "h/w/v1/ven/SYM/2024-01-01/trade") == 0);
		chr_tier_parts_free(parts, 2);
		CHECK(w1 && w2 && w2->n == w1->n);
		for (size_t i = 0; w1 && w2 && i < w1->n && i < w2->n; i++)
			CHECK(strcmp(w1->t[i].name, w2->t[i].name) == 0 &&
			      strcmp(w1->t[i].root, w2->t[i].root) == 0);
		/* every row of every date, for a lookup of one date too */
		CHECK(chr_tier_parts_with("h", "ven", "SYM", "trade", "2024-01-02", &parts, &found,
					  count_calls, &rows, &e) == 1);
		CHECK(rows == 4);
		chr_tier_parts_free(parts, 1);
		free(w1);
		free(w2);
	}

	/* a rebuild from the files gives the same rows */
	CHECK(chr_manifest_rebuild("h", &t, NULL, NULL, NULL, NULL, &e) == 0);
	CHECK((m = chr_manifest_open("h", NULL, 0, &e)) != NULL);
	b = dump(m);
	CHECK_STR(a, b);
	free(b);
	/* a removed partition leaves the manifest by sync */
	chr_manifest_close(m);
	CHECK((m = chr_manifest_open("h", NULL, 1, &e)) != NULL);
	CHECK(chr_remove_tree("h/raw") == 0);
	CHECK(chr_manifest_sync(m, "hot", "h", "raw/v1/ven/2024-01-03/raw", &e) == 0);
	b = dump(m);
	CHECK(strstr(b, "raw/v1") == NULL);
	free(b);
	free(a);
	chr_manifest_close(m);
	/* a database of another version is refused */
	CHECK(system("sqlite3 h/manifest.db 'PRAGMA user_version=7' 2>/dev/null || "
		     "python3 -c \"import sqlite3; c=sqlite3.connect('h/manifest.db'); "
		     "c.execute('PRAGMA user_version=7'); c.commit()\"") == 0);
	CHECK(chr_manifest_open("h", NULL, 1, &e) == NULL);
	CHECK(strstr(e.msg, "schema version 7") != NULL);
	chr_tiers_free(&t);
}

static void test_config(void)
{
	struct chr_tiers t;
	struct chr_err e;

	put_file("c/good.conf", "# tiers\nwarm  /mnt/w 7d\n\ncold cold 30d zstd=5 # compress\n"
				"delete 400d\nqueue /dev/shm/raw 6h\n");
	chr_tiers_init(&t, "/arch");
	CHECK(chr_tiers_load(&t, "c/good.conf", &e) == 0);
	CHECK(chr_tiers_check(&t, &e) == 0);
	CHECK(t.n == 3 && strcmp(t.t[1].root, "/mnt/w") == 0 && t.t[1].zstd == 0);
	CHECK(strcmp(t.t[2].root, "/arch/cold") == 0 && t.t[2].zstd == 5);
	CHECK(t.t[2].after_ns == 30 * 86400 * INT64_C(1000000000));
	CHECK(t.delete_ns == 400 * 86400 * INT64_C(1000000000));
	CHECK(t.nq == 1 && strcmp(t.q[0].path, "/dev/shm/raw") == 0);
	chr_tiers_free(&t);
	/* a missing default config is no error; a named one is */
	chr_tiers_init(&t, "/nonexistent");
	CHECK(chr_tiers_load(&t, NULL, &e) == 0 && t.n == 1);
	CHECK(chr_tiers_load(&t, "c/none.conf", &e) < 0);
	CHECK(strstr(e.msg, "cannot read 'c/none.conf'") != NULL);
	CHECK(e.status == CHR_EX_SYS);
	static const char *const bad[][2] = {
		{"warm /w 7x\n", "c/bad.conf:1: '7x' is not a duration"},
		{"\nwarm /w\n", "c/bad.conf:2: expected 'NAME DIR AGE [zstd[=LEVEL]]'"},
		{"../x /w 1d\n", "c/bad.conf:1: tier name '../x': name starts with '.'"},
		{"hot /w 1d\n", "c/bad.conf:1: tier name 'hot': 'hot' is the archive root"},
		{"cold /c 1d zstd=99\n", "c/bad.conf:1: 'zstd=99' is not zstd or zstd=LEVEL (1-19)"},
		{"delete\n", "c/bad.conf:1: expected 'delete AGE'"},
		{"queue /q\n", "c/bad.conf:1: expected 'queue DIR AGE'"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		put_file("c/bad.conf", bad[i][0]);
		chr_tiers_init(&t, "/a");
		CHECK(chr_tiers_load(&t, "c/bad.conf", &e) < 0);
		CHECK_STR(e.msg, bad[i][1]);
		CHECK(e.status == CHR_EX_DATA);
		chr_tiers_free(&t);
	}
	put_file("c/bad.conf", "a /a 7d\nb /b 7d\n");
	chr_tiers_init(&t, "/r");
	CHECK(chr_tiers_load(&t, "c/bad.conf", &e) == 0);
	CHECK(chr_tiers_check(&t, &e) < 0);
	CHECK_STR(e.msg, "tiers 'a' and 'b' have the same age");
	chr_tiers_free(&t);
	put_file("c/bad.conf", "a /a 7d\nb /a 8d\ndelete 1d\n");
	chr_tiers_init(&t, "/r");
	CHECK(chr_tiers_load(&t, "c/bad.conf", &e) == 0);
	CHECK(chr_tiers_check(&t, &e) < 0);
	CHECK_STR(e.msg, "tiers 'a' and 'b' have the same directory '/a'");
	chr_tiers_free(&t);
	/* tiers are ordered by age */
	put_file("c/bad.conf", "cold /c 30d\nwarm /w 7d\ndelete 31d\n");
	chr_tiers_init(&t, "/r");
	CHECK(chr_tiers_load(&t, "c/bad.conf", &e) == 0);
	CHECK(chr_tiers_check(&t, &e) == 0);
	CHECK_STR(t.t[1].name, "warm");
	CHECK_STR(t.t[2].name, "cold");
	chr_tiers_free(&t);
}

int main(void)
{
	snprintf(root, sizeof root, "/tmp/t-manifest.%ld", (long)getpid());
	CHECK(chr_mkdirs(root) == 0);
	CHECK(chdir(root) == 0);
	test_part_load();
	test_manifest();
	test_config();
	CHECK(chdir("/") == 0);
	CHECK(chr_remove_tree(root) == 0);
	return unit_done("t-manifest");
}
