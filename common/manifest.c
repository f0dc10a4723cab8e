/* manifest.c - manifest.db, the SQLite index of the segments of every
 * tier, and the tolerant reader of partition meta.json files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "err.h"
#include "fmt.h"
#include "manifest.h"
#include "s3.h"
#include "path.h"
#include "tm.h"

#define SHOWN(buf, s) chr_fmt_shown(buf, sizeof buf, s)

/* ---- the database ------------------------------------------------------ */

struct chr_manifest {
	sqlite3 *db;
	char path[PATH_MAX];
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS tier(name TEXT PRIMARY KEY, root TEXT NOT NULL,"
	" rank INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS partition(rel TEXT PRIMARY KEY, tier TEXT NOT NULL,"
	" venue TEXT NOT NULL, symbol TEXT NOT NULL, date TEXT NOT NULL, stream TEXT NOT NULL,"
	" ts_min INTEGER, ts_max INTEGER, meta_checksum TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS segment(tier TEXT NOT NULL, path TEXT NOT NULL,"
	" venue TEXT NOT NULL, symbol TEXT NOT NULL, date TEXT NOT NULL, stream TEXT NOT NULL,"
	" seg INTEGER NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER,"
	" ts_min INTEGER, ts_max INTEGER, bytes INTEGER NOT NULL, raw_bytes INTEGER NOT NULL,"
	" sealed INTEGER NOT NULL, compressed INTEGER NOT NULL, checksum TEXT NOT NULL,"
	" raw_checksum TEXT NOT NULL, rel TEXT NOT NULL,"
	" PRIMARY KEY(venue, symbol, stream, date, seg)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS segment_rel ON segment(rel);";

static int dberr(struct chr_manifest *m, struct chr_err *e, const char *what)
{
	char sh[512];

	chr_err_set(e, CHR_EX_SYS, "manifest '%s': %s: %s", SHOWN(sh, m->path), what,
		    sqlite3_errmsg(m->db));
	return -1;
}

static int exec(struct chr_manifest *m, const char *sql, struct chr_err *e)
{
	return sqlite3_exec(m->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0
								       : dberr(m, e, "cannot update");
}

struct chr_manifest *chr_manifest_open(const char *root, const char *path, int create,
				       struct chr_err *e)
{
	struct chr_manifest *m = calloc(1, sizeof *m);
	sqlite3_stmt *st = NULL;
	char sh[512];
	int v = -1, en;

	if (m == NULL) {
		chr_err_set(e, CHR_EX_SYS, "out of memory");
		return NULL;
	}
	if ((size_t)(path ? snprintf(m->path, sizeof m->path, "%s", path)
			  : snprintf(m->path, sizeof m->path, "%s/%s", root, CHR_MANIFEST)) >= sizeof m->path) {
		chr_err_set(e, CHR_EX_SYS, "manifest path too long");
		free(m);
		errno = ENAMETOOLONG;
		return NULL;
	}
	if (!create && access(m->path, F_OK) < 0) {
		chr_err_sys(e, "cannot open '%s'", SHOWN(sh, m->path));
		en = errno;
		free(m);
		errno = en;
		return NULL;
	}
	if (sqlite3_open_v2(m->path, &m->db,
			    create ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY,
			    NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(m->db, 10000);
	if (sqlite3_prepare_v2(m->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto fail;
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (v == 0 && create) {
		char sql[64];

		/* the schema and its version in one transaction: a process
		 * killed while it creates the manifest leaves none of it */
		snprintf(sql, sizeof sql, "PRAGMA user_version=%d; COMMIT", CHR_MANIFEST_VERSION);
		if (sqlite3_exec(m->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(m->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(m->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(m->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
			goto fail;
		}
	} else if (v != CHR_MANIFEST_VERSION) {
		chr_err_set(e, CHR_EX_SYS, "manifest '%s' has schema version %d, not %d (rebuild it: chr-tier --rebuild-manifest)",
		    SHOWN(sh, m->path), v, CHR_MANIFEST_VERSION);
		sqlite3_close(m->db);
		free(m);
		errno = EPROTO;
		return NULL;
	}
	return m;
fail:
	chr_err_set(e, CHR_EX_SYS, "cannot open manifest '%s': %s", SHOWN(sh, m->path),
	    m->db ? sqlite3_errmsg(m->db) : "out of memory");
	sqlite3_finalize(st);
	sqlite3_close(m->db);
	free(m);
	errno = EIO;
	return NULL;
}

void chr_manifest_close(struct chr_manifest *m)
{
	if (m == NULL)
		return;
	sqlite3_close(m->db);
	free(m);
}

int chr_manifest_set_tiers(struct chr_manifest *m, const struct chr_tiers *t, struct chr_err *e)
{
	sqlite3_stmt *st = NULL;

	if (exec(m, "BEGIN IMMEDIATE; DELETE FROM tier;", e) < 0)
		return -1;
	if (sqlite3_prepare_v2(m->db, "INSERT INTO tier VALUES(?,?,?)", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	for (size_t i = 0; i < t->n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, t->t[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, t->t[i].root, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)i);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
	}
	sqlite3_finalize(st);
	return exec(m, "COMMIT", e);
fail:
	dberr(m, e, "cannot update");
	sqlite3_finalize(st);
	sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* delete the rows of rel (inside a transaction) */
static int del(struct chr_manifest *m, const char *rel)
{
	static const char *const sql[2] = {"DELETE FROM segment WHERE rel = ?",
					   "DELETE FROM partition WHERE rel = ?"};

	for (int i = 0; i < 2; i++) {
		sqlite3_stmt *st;
		int rc;

		if (sqlite3_prepare_v2(m->db, sql[i], -1, &st, NULL) != SQLITE_OK)
			return -1;
		sqlite3_bind_text(st, 1, rel, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return -1;
	}
	return 0;
}

static void bind_ts(sqlite3_stmt *st, int i, int64_t ts, int valid)
{
	if (valid)
		sqlite3_bind_int64(st, i, ts);
	else
		sqlite3_bind_null(st, i);
}

static int put(struct chr_manifest *m, const char *tier, const struct chr_partinfo *p)
{
	sqlite3_stmt *st = NULL;
	char path[512];

	if (del(m, p->rel) < 0 ||
	    sqlite3_prepare_v2(m->db, "INSERT INTO partition VALUES(?,?,?,?,?,?,?,?,?)", -1, &st,
			       NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, p->rel, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tier, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, p->venue, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, p->symbol, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, p->date, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, p->stream, -1, SQLITE_STATIC);
	bind_ts(st, 7, p->ts_min, p->ts_min != INT64_MAX);
	sqlite3_bind_int64(st, 8, p->ts_max);
	sqlite3_bind_text(st, 9, p->meta_checksum, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(m->db, "INSERT INTO segment VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			       -1, &st, NULL) != SQLITE_OK)
		goto fail;
	for (size_t i = 0; i < p->nsegs; i++) {
		const struct chr_pseg *s = &p->segs[i];

		snprintf(path, sizeof path, "%s/%s", p->rel, s->file);
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, tier, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, path, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, p->venue, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, p->symbol, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, p->date, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, p->stream, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 7, (sqlite3_int64)s->id);
		sqlite3_bind_int64(st, 8, (sqlite3_int64)s->first_seq);
		bind_ts(st, 9, (int64_t)s->last_seq, s->count > 0);
		bind_ts(st, 10, s->ts_min, s->ts_min != INT64_MAX);
		bind_ts(st, 11, s->ts_max, s->ts_max != INT64_MIN);
		sqlite3_bind_int64(st, 12, (sqlite3_int64)s->bytes);
		sqlite3_bind_int64(st, 13, (sqlite3_int64)s->raw_bytes);
		sqlite3_bind_int(st, 14, s->sealed);
		sqlite3_bind_int(st, 15, s->compressed);
		sqlite3_bind_text(st, 16, s->checksum, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 17, s->raw_checksum, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 18, p->rel, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
	}
	sqlite3_finalize(st);
	return 0;
fail:
	sqlite3_finalize(st);
	return -1;
}

int chr_manifest_put(struct chr_manifest *m, const char *tier, const struct chr_partinfo *p,
		     struct chr_err *e)
{
	if (exec(m, "BEGIN IMMEDIATE", e) < 0)
		return -1;
	if (put(m, tier, p) < 0) {
		dberr(m, e, "cannot update");
		sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return exec(m, "COMMIT", e);
}

int chr_manifest_remove(struct chr_manifest *m, const char *rel, struct chr_err *e)
{
	if (exec(m, "BEGIN IMMEDIATE", e) < 0)
		return -1;
	if (del(m, rel) < 0) {
		dberr(m, e, "cannot update");
		sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return exec(m, "COMMIT", e);
}

int chr_manifest_sync(struct chr_manifest *m, const char *tier, const char *tier_root,
		      const char *rel, struct chr_err *e)
{
	char dir[PATH_MAX];
	struct chr_partinfo p;
	struct chr_err pe;
	int rc;

	if ((size_t)snprintf(dir, sizeof dir, "%s/%s", tier_root, rel) >= sizeof dir) {
		chr_err_set(e, CHR_EX_SYS, "partition path too long");
		return -1;
	}
	if (chr_partinfo_load(dir, &p, &pe) < 0) {
		int en = errno;

		chr_err_set(e, CHR_EX_SYS, "%s", pe.msg);
		return en == ENOENT ? chr_manifest_remove(m, rel, e) : -1;
	}
	rc = chr_manifest_put(m, tier, &p, e);
	chr_partinfo_free(&p);
	return rc;
}

int chr_manifest_parts(struct chr_manifest *m,
		       int (*fn)(const char *tier, const char *rel, const char *sum, void *ctx),
		       void *ctx, struct chr_err *e)
{
	sqlite3_stmt *st;
	int rc = 0, k;

	if (sqlite3_prepare_v2(m->db, "SELECT tier, rel, meta_checksum FROM partition ORDER BY rel",
			       -1, &st, NULL) != SQLITE_OK)
		return dberr(m, e, "cannot read");
	while (rc == 0 && (k = sqlite3_step(st)) == SQLITE_ROW)
		rc = fn((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
			(const char *)sqlite3_column_text(st, 2), ctx);
	if (rc == 0 && k != SQLITE_DONE)
		rc = dberr(m, e, "cannot read");
	sqlite3_finalize(st);
	return rc;
}

static const char *text(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	return s ? s : "";
}

int chr_manifest_query(struct chr_manifest *m, const char *venue, const char *symbol,
		       const char *stream, int64_t ts_from, int64_t ts_until,
		       int (*fn)(const struct chr_mrow *row, void *ctx), void *ctx,
		       struct chr_err *e)
{
	sqlite3_stmt *st;
	int rc = 0, k;

	if (sqlite3_prepare_v2(m->db,
			       "SELECT s.tier, t.root || '/' || s.path, s.rel, s.venue, s.symbol, s.date,"
			       " s.stream, s.seg, s.first_seq, s.last_seq, s.bytes, s.raw_bytes, s.ts_min,"
			       " s.ts_max, s.sealed, s.compressed, s.checksum"
			       " FROM segment s JOIN tier t ON t.name = s.tier"
			       " WHERE s.venue = ?1 AND s.symbol = ?2 AND s.stream = ?3"
			       " AND (s.ts_max IS NULL OR s.ts_max >= ?4) AND (s.ts_min IS NULL OR s.ts_min <= ?5)"
			       " ORDER BY s.date, s.seg",
			       -1, &st, NULL) != SQLITE_OK)
		return dberr(m, e, "cannot read");
	sqlite3_bind_text(st, 1, venue, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, symbol, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, stream, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, ts_from);
	sqlite3_bind_int64(st, 5, ts_until);
	while (rc == 0 && (k = sqlite3_step(st)) == SQLITE_ROW) {
		struct chr_mrow r = {
			.tier = text(st, 0), .path = text(st, 1), .rel = text(st, 2),
			.venue = text(st, 3), .symbol = text(st, 4), .date = text(st, 5),
			.stream = text(st, 6),
			.seg = (uint64_t)sqlite3_column_int64(st, 7),
			.first_seq = (uint64_t)sqlite3_column_int64(st, 8),
			.last_seq = (uint64_t)sqlite3_column_int64(st, 9),
			.bytes = (uint64_t)sqlite3_column_int64(st, 10),
			.raw_bytes = (uint64_t)sqlite3_column_int64(st, 11),
			.ts_min = sqlite3_column_int64(st, 12), .ts_max = sqlite3_column_int64(st, 13),
			.sealed = sqlite3_column_int(st, 14), .compressed = sqlite3_column_int(st, 15),
			.checksum = text(st, 16),
		};

		rc = fn(&r, ctx);
	}
	if (rc == 0 && k != SQLITE_DONE)
		rc = dberr(m, e, "cannot read");
	sqlite3_finalize(st);
	return rc;
}

int chr_manifest_summary(struct chr_manifest *m, int (*fn)(const struct chr_mpart *p, void *ctx),
			 void *ctx, struct chr_err *e)
{
	sqlite3_stmt *st;
	int rc = 0, k;

	/* an archive segment's records are numbered first_seq..last_seq (the
	 * writer renumbers them), a raw one's are base_seq + count */
	if (sqlite3_prepare_v2(m->db,
			       "SELECT p.tier, IFNULL(t.root, ''), p.rel, p.venue, p.symbol, p.date, p.stream,"
			       " COUNT(s.seg), IFNULL(SUM(s.last_seq - s.first_seq + 1), 0),"
			       " IFNULL(SUM(s.bytes), 0), IFNULL(SUM(s.raw_bytes), 0),"
			       " IFNULL(SUM(s.compressed), 0), MIN(s.ts_min), MAX(s.ts_max)"
			       " FROM partition p LEFT JOIN tier t ON t.name = p.tier"
			       " LEFT JOIN segment s ON s.rel = p.rel"
			       " GROUP BY p.rel ORDER BY p.rel",
			       -1, &st, NULL) != SQLITE_OK)
		return dberr(m, e, "cannot read");
	while (rc == 0 && (k = sqlite3_step(st)) == SQLITE_ROW) {
		struct chr_mpart p = {
			.tier = text(st, 0), .root = text(st, 1), .rel = text(st, 2),
			.venue = text(st, 3), .symbol = text(st, 4), .date = text(st, 5),
			.stream = text(st, 6),
			.segments = (uint64_t)sqlite3_column_int64(st, 7),
			.records = (uint64_t)sqlite3_column_int64(st, 8),
			.bytes = (uint64_t)sqlite3_column_int64(st, 9),
			.raw_bytes = (uint64_t)sqlite3_column_int64(st, 10),
			.compressed = (uint64_t)sqlite3_column_int64(st, 11),
			.ts_min = sqlite3_column_type(st, 12) == SQLITE_NULL ? INT64_MAX
									     : sqlite3_column_int64(st, 12),
			.ts_max = sqlite3_column_type(st, 13) == SQLITE_NULL ? INT64_MIN
									     : sqlite3_column_int64(st, 13),
		};

		rc = fn(&p, ctx);
	}
	if (rc == 0 && k != SQLITE_DONE)
		rc = dberr(m, e, "cannot read");
	sqlite3_finalize(st);
	return rc;
}

int chr_manifest_dump(struct chr_manifest *m, FILE *f, struct chr_err *e)
{
	static const char *const sql[3] = {
		"SELECT 'tier', * FROM tier ORDER BY rank",
		"SELECT 'partition', * FROM partition ORDER BY rel",
		"SELECT 'segment', * FROM segment ORDER BY venue, symbol, stream, date, seg",
	};

	for (int q = 0; q < 3; q++) {
		sqlite3_stmt *st;
		int k;

		if (sqlite3_prepare_v2(m->db, sql[q], -1, &st, NULL) != SQLITE_OK)
			return dberr(m, e, "cannot read");
		while ((k = sqlite3_step(st)) == SQLITE_ROW) {
			for (int i = 0; i < sqlite3_column_count(st); i++)
				fprintf(f, "%s%s", i ? "\t" : "",
					sqlite3_column_type(st, i) == SQLITE_NULL ? "NULL" : text(st, i));
			fputc('\n', f);
		}
		sqlite3_finalize(st);
		if (k != SQLITE_DONE)
			return dberr(m, e, "cannot read");
	}
	return 0;
}

/* ---- walking the tiers --------------------------------------------------- */

struct walkctx {
	const struct chr_tiers *t;
	size_t i, skip;
	int (*fn)(size_t, const char *, const char *, void *);
	void *ctx;
};

static int walk_one(const char *dir, void *ctx)
{
	struct walkctx *w = ctx;

	return w->fn(w->i, dir, dir + w->skip, w->ctx);
}

static int visible(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* <tier>/raw/v1/<venue>/<date>/raw */
static int walk_raw(struct walkctx *w)
{
	char base[PATH_MAX], dir[PATH_MAX];
	struct dirent **v = NULL, **d = NULL;
	int n, nd, rc = 0;

	if ((size_t)snprintf(base, sizeof base, "%s/raw/v1", w->t->t[w->i].root) >= sizeof base)
		return errno = ENAMETOOLONG, -1;
	n = scandir(base, &v, visible, alphasort);
	if (n < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	for (int i = 0; i < n; i++) {
		if (rc == 0 && (size_t)snprintf(dir, sizeof dir, "%s/%s", base, v[i]->d_name) < sizeof dir) {
			nd = scandir(dir, &d, visible, alphasort);
			if (nd < 0 && errno != ENOENT && errno != ENOTDIR)
				rc = -1;
			for (int j = 0; j < nd; j++) {
				char p[PATH_MAX];
				struct stat st;

				if (rc == 0 &&
				    (size_t)snprintf(p, sizeof p, "%s/%s/raw", dir, d[j]->d_name) < sizeof p &&
				    stat(p, &st) == 0 && S_ISDIR(st.st_mode))
					rc = w->fn(w->i, p, p + w->skip, w->ctx);
				free(d[j]);
			}
			if (nd > 0)
				free(d);
		}
		free(v[i]);
	}
	free(v);
	return rc;
}

int chr_tier_walk(const struct chr_tiers *t, size_t i,
		  int (*fn)(size_t tier, const char *dir, const char *rel, void *ctx), void *ctx)
{
	struct walkctx w = {t, i, strlen(t->t[i].root) + 1, fn, ctx};
	int rc;

	if (chr_s3_is_url(t->t[i].root)) {
		struct chr_err e;

		/* failures: errno EIO, the message in chr_s3_last_error() */
		rc = chr_s3tier_walk(t->t[i].root, i, fn, ctx, &e);
		if (rc < 0)
			errno = EIO;
		return rc;
	}
	rc = chr_archive_walk(t->t[i].root, NULL, NULL, NULL, walk_one, &w);

	return rc ? rc : walk_raw(&w);
}

/* ---- the tiers recorded -------------------------------------------------- */

static int any_part(size_t tier, const char *dir, const char *rel, void *ctx)
{
	(void)tier, (void)dir, (void)rel, (void)ctx;
	return 1;
}

int chr_manifest_tiers_check(const char *root, const struct chr_tiers *t, struct chr_err *e)
{
	struct chr_manifest *m;
	struct chr_err oe;
	struct chr_tiers *one = NULL;
	sqlite3_stmt *st = NULL;
	char sh[512], sh2[512];
	int rc = 0;

	if ((m = chr_manifest_open(root, NULL, 0, &oe)) == NULL)
		return 0;
	if (sqlite3_prepare_v2(m->db, "SELECT name, root FROM tier WHERE rank > 0 ORDER BY rank", -1,
			       &st, NULL) != SQLITE_OK)
		goto out;
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *dir = (const char *)sqlite3_column_text(st, 1);
		struct stat sb;
		size_t i;
		int w;

		if (name == NULL || dir == NULL)
			continue;
		for (i = 1; i < t->n && strcmp(t->t[i].name, name) != 0; i++)
			;
		if (i < t->n && strcmp(t->t[i].root, dir) == 0)
			continue;
		if (one == NULL && (one = malloc(sizeof *one)) == NULL) {
			rc = chr_err_set(e, CHR_EX_SYS, "out of memory");
			break;
		}
		chr_tiers_init(one, root);
		if (chr_tiers_set(one, name, dir, 1, 0) < 0)
			continue;
		/* a directory that is not there may be a disk not mounted */
		w = stat(dir, &sb) < 0 && errno == ENOENT ? 1 : chr_tier_walk(one, 1, any_part, NULL);
		if (w < 0)
			rc = chr_err_sys(e, "cannot read tier '%s' ('%s')", SHOWN(sh, name), SHOWN(sh2, dir));
		else if (w > 0 && i < t->n)
			rc = chr_err_set(e, CHR_EX_USAGE, "manifest '%s' records tier '%s' at '%s', which "
					 "holds partitions or is not there, but '%s' is now '%s' (move them first)",
					 m->path, SHOWN(sh, name), SHOWN(sh2, dir), name, t->t[i].root);
		else if (w > 0 && (!strcmp(name, "warm") || !strcmp(name, "cold")))
			rc = chr_err_set(e, CHR_EX_USAGE, "manifest '%s' records tier '%s' at '%s', which "
					 "holds partitions or is not there: give it (--%s DIR --%s-after AGE, or a line of %s/%s)",
					 m->path, name, SHOWN(sh2, dir), name, name, root, CHR_TIER_CONF);
		else if (w > 0)
			rc = chr_err_set(e, CHR_EX_USAGE, "manifest '%s' records tier '%s' at '%s', which "
					 "holds partitions or is not there: give it (a line of %s/%s)",
					 m->path, SHOWN(sh, name), SHOWN(sh2, dir), root, CHR_TIER_CONF);
		chr_tiers_free(one);
	}
out:
	sqlite3_finalize(st);
	chr_manifest_close(m);
	free(one);
	return rc;
}

/* ---- rebuild ----------------------------------------------------------- */

struct rebuild {
	struct chr_manifest *m;
	const struct chr_tiers *t;
	size_t n, skipped;
	chr_warn_fn warn;
	void *warn_ctx;
	struct chr_err *e;
};

static int rebuild_one(size_t tier, const char *dir, const char *rel, void *ctx)
{
	struct rebuild *r = ctx;
	struct chr_partinfo p;
	sqlite3_stmt *st;
	int known = 0;
	struct chr_err e;

	(void)rel;
	if (chr_partinfo_load(dir, &p, &e) < 0) {
		if (errno != ENOENT) {
			if (r->warn) {
				char msg[sizeof e.msg + 32];

				snprintf(msg, sizeof msg, "%s; not in the manifest", e.msg);
				r->warn(r->warn_ctx, msg);
			}
			r->skipped++;
		}
		return 0;
	}
	/* a partition in two tiers (a move cut short): the warmest is indexed */
	if (sqlite3_prepare_v2(r->m->db, "SELECT 1 FROM partition WHERE rel = ?", -1, &st, NULL) !=
	    SQLITE_OK) {
		chr_partinfo_free(&p);
		return dberr(r->m, r->e, "cannot read");
	}
	sqlite3_bind_text(st, 1, p.rel, -1, SQLITE_STATIC);
	known = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	if (!known) {
		if (put(r->m, r->t->t[tier].name, &p) < 0) {
			chr_partinfo_free(&p);
			return dberr(r->m, r->e, "cannot update");
		}
		r->n++;
	}
	chr_partinfo_free(&p);
	return 0;
}

/* remove path and its -wal and -shm files */
static void unlink_db(const char *path)
{
	char p[PATH_MAX + 8];

	unlink(path);
	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
}

int chr_manifest_rebuild(const char *root, const struct chr_tiers *t, size_t *nparts,
			 size_t *nskipped, chr_warn_fn warn, void *ctx, struct chr_err *e)
{
	char tmp[PATH_MAX], dst[PATH_MAX], sh[512];
	struct rebuild r = {NULL, t, 0, 0, warn, ctx, e};
	struct chr_manifest *old;
	int fd;

	if ((size_t)snprintf(dst, sizeof dst, "%s/%s", root, CHR_MANIFEST) >= sizeof dst ||
	    (size_t)snprintf(tmp, sizeof tmp, "%s/%s.new", root, CHR_MANIFEST) >= sizeof tmp) {
		chr_err_set(e, CHR_EX_SYS, "archive root too long");
		return -1;
	}
	if (chr_mkdirs(root) < 0) {
		chr_err_sys(e, "cannot create '%s'", SHOWN(sh, root));
		return -1;
	}
	unlink_db(tmp);	/* left by a rebuild that died */
	if ((r.m = chr_manifest_open(root, tmp, 1, e)) == NULL)
		return -1;
	if (chr_manifest_set_tiers(r.m, t, e) < 0 ||
	    exec(r.m, "BEGIN IMMEDIATE", e) < 0)
		goto fail;
	for (size_t i = 0; i < t->n; i++) {
		int rc = chr_tier_walk(t, i, rebuild_one, &r);

		if (rc < 0)
			chr_err_sys(e, "cannot read tier '%s' ('%s')", t->t[i].name,
			    SHOWN(sh, t->t[i].root));
		if (rc) {
			sqlite3_exec(r.m->db, "ROLLBACK", NULL, NULL, NULL);
			goto fail;
		}
	}
	if (exec(r.m, "COMMIT", e) < 0)
		goto fail;
	/* closing the only connection checkpoints the WAL into the file */
	chr_manifest_close(r.m);
	r.m = NULL;
	if ((fd = open(tmp, O_RDONLY | O_CLOEXEC)) < 0 || fsync(fd) < 0) {
		chr_err_sys(e, "cannot sync '%s'", SHOWN(sh, tmp));
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	close(fd);
	/* empty the old manifest's WAL, so that it cannot be applied to the
	 * new file (the -wal file is named after the database) */
	if ((old = chr_manifest_open(root, dst, 0, e)) != NULL) {
		sqlite3_wal_checkpoint_v2(old->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		chr_manifest_close(old);
	}
	if (rename(tmp, dst) < 0 || chr_fsync_dir(root) < 0) {
		chr_err_sys(e, "cannot rename '%s' to '%s'", SHOWN(sh, tmp), CHR_MANIFEST);
		goto fail;
	}
	if (nparts)
		*nparts = r.n;
	if (nskipped)
		*nskipped = r.skipped;
	return 0;
fail:
	chr_manifest_close(r.m);
	unlink_db(tmp);
	return -1;
}
