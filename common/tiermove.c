/* tiermove.c - the tiering engine behind chr-tier (docs/tiers.md): a pass
 * moves partitions between tiers by age (renamed, or copied, compressed,
 * verified, published, removed), deletes the oldest, resolves partitions
 * found in two tiers, cleans staging and reconciles manifest.db. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "err.h"
#include "fmt.h"
#include "manifest.h"
#include "path.h"
#include "queue.h"
#include "s3.h"
#include "tier.h"
#include "zsq.h"

#define SHOWN(buf, s) chr_fmt_shown(buf, sizeof buf, s)

/* one partition directory found in a tier */
struct item {
	char *rel, *dir;
	size_t tier;
	int ok;			/* part loaded */
	struct chr_partinfo part;
};

struct items {
	struct item *v;
	size_t n, cap;
};

/* Say the message (r->say, when set), and raise the pass's status
 * to status. */
static void fail(struct chr_tier_run *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct chr_tier_run *r, int status, const char *fmt, ...)
{
	char buf[CHR_ARCHIVE_ERR + 512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (r->say)
		r->say(r->say_ctx, buf);
	if (status > r->status)
		r->status = status;
}

/* what the pass did, said as a failure that changes no status */
#define say(r, ...) fail(r, CHR_EX_OK, __VA_ARGS__)

/* a service asked to stop: end between partitions */
static int stopped(const struct chr_tier_run *r)
{
	return r->stop != NULL && *r->stop;
}

/* ---- staging ----------------------------------------------------------- */

/* Remove the dead entries of <tier>/.staging (copies cut short, sources
 * being removed when a pass died). Hot's staging belongs to the archive
 * writers: chr_staging_clean, under the archive lock. */
static void warn_staging(void *ctx, const char *msg)
{
	say((struct chr_tier_run *)ctx, "%s", msg);
}

static void clean_staging(struct chr_tier_run *r, size_t i)
{
	char dir[PATH_MAX], p[PATH_MAX], sh[512];
	struct chr_err ce;
	struct dirent **v;
	int n;

	if (i == 0) {
		int lk;
		struct stat st;

		if ((size_t)snprintf(dir, sizeof dir, "%s/.staging", r->root) >= sizeof dir ||
		    stat(dir, &st) < 0)
			return;
		if ((lk = chr_archive_lock(r->root)) < 0) {
			fail(r, CHR_EX_SYS, "cannot lock '%s/.staging/lock': %s", SHOWN(sh, r->root),
			     strerror(errno));
			return;
		}
		if (chr_staging_clean(r->root, warn_staging, r, &ce) < 0)
			fail(r, CHR_EX_SYS, "%s", ce.msg);
		close(lk);
		return;
	}
	if (chr_s3_is_url(r->t.t[i].root)) {
		/* objects of a partition whose upload died before it published */
		if (chr_s3tier_orphans(r->t.t[i].root, warn_staging, r, &ce) < 0)
			fail(r, CHR_EX_SYS, "%s", ce.msg);
		return;
	}
	if ((size_t)snprintf(dir, sizeof dir, "%s/.staging", r->t.t[i].root) >= sizeof dir)
		return;
	n = scandir(dir, &v, NULL, alphasort);
	if (n < 0)
		return;
	for (int k = 0; k < n; k++) {
		const char *e = v[k]->d_name;
		int fd;

		if (strcmp(e, ".") && strcmp(e, "..") &&
		    (size_t)snprintf(p, sizeof p, "%s/%s", dir, e) < sizeof p) {
			fd = chr_lock_dir(p);
			if (fd >= 0 || errno == ENOTDIR) {
				if (r->verbose)
					say(r, "removing '%s', left by a pass that died", SHOWN(sh, p));
				if (chr_remove_tree(p) < 0)
					fail(r, CHR_EX_SYS, "cannot remove '%s': %s", SHOWN(sh, p),
					     strerror(errno));
			}
			if (fd >= 0)
				close(fd);
		}
		free(v[k]);
	}
	free(v);
}

/* ---- finding partitions ------------------------------------------------ */

static int collect(size_t tier, const char *dir, const char *rel, void *ctx)
{
	struct items *it = ctx;

	if (it->n == it->cap) {
		size_t cap = it->cap ? 2 * it->cap : 256;
		struct item *nv = realloc(it->v, cap * sizeof *nv);

		if (nv == NULL)
			return -1;
		it->v = nv;
		it->cap = cap;
	}
	memset(&it->v[it->n], 0, sizeof it->v[it->n]);
	it->v[it->n].tier = tier;
	if ((it->v[it->n].rel = strdup(rel)) == NULL || (it->v[it->n].dir = strdup(dir)) == NULL) {
		free(it->v[it->n].rel);
		return -1;
	}
	it->n++;
	return 0;
}

static int by_rel(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(x->rel, y->rel);

	return c ? c : (x->tier > y->tier) - (x->tier < y->tier);
}

static void items_free(struct items *it)
{
	for (size_t i = 0; i < it->n; i++) {
		free(it->v[i].rel);
		free(it->v[i].dir);
		chr_partinfo_free(&it->v[i].part);
	}
	free(it->v);
	memset(it, 0, sizeof *it);
}

/* ---- removing a partition ----------------------------------------------- */

/* Remove now-empty directories above a removed partition, up to (not
 * including) the tier's v1 or raw/v1. */
static void prune_parents(const char *tier, const char *rel)
{
	char p[PATH_MAX];
	int keep = strncmp(rel, "raw/", 4) == 0 ? 2 : 1;	/* components kept */
	int depth = 0;

	for (const char *c = rel; *c; c++)
		depth += *c == '/';
	if ((size_t)snprintf(p, sizeof p, "%s/%s", tier, rel) >= sizeof p)
		return;
	while (depth-- > keep) {
		*strrchr(p, '/') = '\0';
		if (rmdir(p) < 0)
			return;
	}
}

/* Move the partition directory src out of its tier under the archive
 * lock (the caller holds it): renamed into a locked staging directory of
 * its tier, then (lock released by the caller) removed. Returns the
 * staging directory's lock fd (its path in trash, PATH_MAX bytes), or -1
 * with errno. */
static int discard(const char *tier, const char *src, char *trash)
{
	char p[PATH_MAX];
	int fd = chr_staging_dir(tier, "tier-", trash);

	if (fd < 0)
		return -1;
	if ((size_t)snprintf(p, sizeof p, "%s/p", trash) >= sizeof p || rename(src, p) < 0 ||
	    chr_fsync_parent(src) < 0) {
		int e = errno;

		rmdir(trash);
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* ---- what a partition directory holds ------------------------------------ */

/* 1 when name is meta.json or a segment file meta.json lists */
static int listed(const struct chr_partinfo *p, const char *name)
{
	if (strcmp(name, "meta.json") == 0)
		return 1;
	for (size_t i = 0; i < p->nsegs; i++)
		if (strcmp(name, p->segs[i].file) == 0)
			return 1;
	return 0;
}

/* The partition directory of it holds only meta.json and the segments it
 * lists: a copy takes only those, so anything else would be lost with the
 * source (and a rename would carry it where the next copy loses it).
 * Returns 0, or -1 (said, every unlisted file named). */
static int unlisted(struct chr_tier_run *r, const struct item *it)
{
	char sh[512], sh2[512];
	struct dirent *d;
	DIR *dp = opendir(it->dir);
	int bad = 0;

	if (dp == NULL) {
		fail(r, CHR_EX_SYS, "cannot read '%s': %s", SHOWN(sh, it->dir), strerror(errno));
		return -1;
	}
	while ((d = readdir(dp)) != NULL)
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..") && !listed(&it->part, d->d_name)) {
			fail(r, CHR_EX_DATA, "'%s/%s' is not listed in its meta.json; '%s' left in %s",
			     SHOWN(sh, it->dir), SHOWN(sh2, d->d_name), it->rel, r->t.t[it->tier].name);
			bad = 1;
		}
	closedir(dp);
	return bad ? -1 : 0;
}

/* ---- two copies of a partition ----------------------------------------- */

/* 1 when a and b hold the same segments (ids, raw bytes and checksums) */
static int same(const struct chr_partinfo *a, const struct chr_partinfo *b)
{
	if (a->nsegs != b->nsegs)
		return 0;
	for (size_t i = 0; i < a->nsegs; i++)
		if (a->segs[i].id != b->segs[i].id || a->segs[i].raw_bytes != b->segs[i].raw_bytes ||
		    strcmp(a->segs[i].raw_checksum, b->segs[i].raw_checksum) != 0)
			return 0;
	return 1;
}

/* Remove partition it of a tier in object storage: its meta.json first
 * (it is no longer there for readers and passes), then its segments (a
 * crash between leaves objects that the next pass removes). Returns 0, or
 * -1 (said). */
static int remove_object_part(struct chr_tier_run *r, struct item *it, const char *why)
{
	char url[PATH_MAX];
	struct chr_err e;

	chr_pathf(url, sizeof url, "%s/meta.json", it->dir);
	if (chr_s3_delete(url, &e) < 0) {
		fail(r, CHR_EX_SYS, "%s", e.msg);
		return -1;
	}
	for (size_t i = 0; i < it->part.nsegs; i++) {
		chr_pathf(url, sizeof url, "%s/%s", it->dir, it->part.segs[i].file);
		if (chr_s3_delete(url, &e) < 0)
			fail(r, CHR_EX_SYS, "%s", e.msg);
	}
	say(r, "removed '%s' from %s (%s)", it->rel, r->t.t[it->tier].name, why);
	return 0;
}

/* Every segment object of partition it (object storage) is there with
 * the size its meta.json gives. Returns 0, or -1 (said). */
static int objects_whole(struct chr_tier_run *r, const struct item *it)
{
	char url[PATH_MAX];
	struct chr_err e;
	uint64_t size;

	for (size_t i = 0; i < it->part.nsegs; i++) {
		int k;

		chr_pathf(url, sizeof url, "%s/%s", it->dir, it->part.segs[i].file);
		if ((k = chr_s3_head(url, &size, NULL, &e)) < 0) {
			fail(r, CHR_EX_SYS, "%s", e.msg);
			return -1;
		}
		if (k || size != it->part.segs[i].bytes) {
			fail(r, CHR_EX_DATA, "'%s' is %s, its meta.json says %" PRIu64 " bytes; '%s' left "
			     "in both tiers", url, k ? "missing" : "of another size", it->part.segs[i].bytes,
			     it->rel);
			return -1;
		}
	}
	return 0;
}

/* Remove partition it (its tier and dir) whole. Returns 0, or -1 (said). */
static int remove_part(struct chr_tier_run *r, struct item *it, const char *why)
{
	char trash[PATH_MAX], sum[48], sh[512];
	int lk, fd;

	if (r->dry) {
		say(r, "would remove '%s' from %s (%s)", SHOWN(sh, it->rel), r->t.t[it->tier].name, why);
		return 0;
	}
	if (chr_s3_is_url(it->dir))
		return remove_object_part(r, it, why);
	if ((lk = chr_archive_lock(r->root)) < 0) {
		fail(r, CHR_EX_SYS, "cannot lock '%s/.staging/lock': %s", SHOWN(sh, r->root),
		     strerror(errno));
		return -1;
	}
	/* a writer may have changed it since we looked */
	if (chr_meta_checksum(it->dir, sum) < 0 || strcmp(sum, it->part.meta_checksum) != 0) {
		close(lk);
		say(r, "'%s' in %s changed during the pass; left for the next one",
			 SHOWN(sh, it->rel), r->t.t[it->tier].name);
		return -1;
	}
	fd = discard(r->t.t[it->tier].root, it->dir, trash);
	if (fd >= 0)
		prune_parents(r->t.t[it->tier].root, it->rel);
	close(lk);
	if (fd < 0) {
		fail(r, CHR_EX_SYS, "cannot remove '%s': %s", SHOWN(sh, it->dir), strerror(errno));
		return -1;
	}
	if (chr_remove_tree(trash) < 0)
		fail(r, CHR_EX_SYS, "cannot remove '%s': %s", SHOWN(sh, trash), strerror(errno));
	close(fd);
	say(r, "removed '%s' from %s (%s)", SHOWN(sh, it->rel), r->t.t[it->tier].name, why);
	return 0;
}

/* Items v[0..n) are the copies of one partition, warmest first, loaded.
 * A move cut short between publication and removal leaves the colder copy
 * whole: when the warmer ones hold the same segments they are removed.
 * Returns the index of the copy that stays, or -1 (both left: an error). */
static long resolve(struct chr_tier_run *r, struct item *v, size_t n)
{
	char sh[512];
	struct item *cold = &v[n - 1];

	for (size_t i = 0; i + 1 < n; i++)
		if (!same(&v[i].part, &cold->part)) {
			fail(r, CHR_EX_DATA, "'%s' is in tiers %s and %s with different segments; both left",
			     SHOWN(sh, cold->rel), r->t.t[v[i].tier].name, r->t.t[cold->tier].name);
			return -1;
		}
	/* a copy in object storage was checked when it was uploaded: check
	 * that it is still whole before the other goes */
	if (chr_s3_is_url(cold->dir) && objects_whole(r, cold) < 0)
		return -1;
	for (size_t i = 0; i + 1 < n; i++)
		if (unlisted(r, &v[i]) < 0 || remove_part(r, &v[i], "a copy of a finished move") < 0)
			return -1;
	return (long)(n - 1);
}

/* ---- moving a partition ------------------------------------------------ */

/* Before a move: no unlisted file, and meta.json says what the segments'
 * headers say; under the archive lock (a writer places a segment and then
 * rewrites meta.json under it), except in a dry run. Returns 0; 1 when
 * meta.json changed since the pass read it (said); -1 (said). */
static int movable(struct chr_tier_run *r, const struct item *it)
{
	char sh[512];
	struct chr_err e;
	int rc, lk = -1;

	if (!r->dry && (lk = chr_archive_lock(r->root)) < 0) {
		fail(r, CHR_EX_SYS, "cannot lock '%s/.staging/lock': %s", SHOWN(sh, r->root),
		     strerror(errno));
		return -1;
	}
	if ((rc = chr_partinfo_check(it->dir, &it->part, &e)) < 0)
		fail(r, e.status, "%s; '%s' left in %s", e.msg, SHOWN(sh, it->rel), r->t.t[it->tier].name);
	else if (rc > 0)
		say(r, "'%s' in %s changed during the pass; left for the next one", SHOWN(sh, it->rel),
		    r->t.t[it->tier].name);
	else
		rc = unlisted(r, it);
	if (lk >= 0)
		close(lk);
	return rc;
}

/* Copy (and maybe compress) segment s of it into stage, verified, and
 * update its meta.json entry e. Returns 0, or -1 with a message. */
static int copy_seg(struct chr_tier_run *r, const struct item *it, struct chr_pseg *s, const char *stage,
		    int level, json_t *e, uint64_t *out_bytes)
{
	char src[PATH_MAX], dst[PATH_MAX], sum[48], sh[512], zname[sizeof s->file + 4];
	unsigned char *buf = NULL, *back = NULL;
	ssize_t n;
	int rc = -1, st, fd = -1;
	struct chr_zsq *z = NULL;
	char err[CHR_ARCHIVE_ERR];

	if ((size_t)snprintf(src, sizeof src, "%s/%s", it->dir, s->file) >= sizeof src) {
		fail(r, CHR_EX_SYS, "'%s': %s", SHOWN(sh, it->dir), strerror(ENAMETOOLONG));
		return -1;
	}
	if ((n = chr_file_read(src, &buf)) < 0) {
		fail(r, CHR_EX_SYS, "cannot read '%s': %s", SHOWN(sh, src), strerror(errno));
		return -1;
	}
	chr_mem_xxh128(buf, (size_t)n, sum);
	if ((uint64_t)n != s->bytes || strcmp(sum, s->checksum) != 0) {
		fail(r, CHR_EX_DATA, "'%s' does not match meta.json (%zd bytes, %s); not moved",
		     SHOWN(sh, src), n, sum);
		goto out;
	}
	if (level && !s->compressed) {
		const struct chr_zsq_frame *f;
		size_t nf;
		uint64_t zb;

		chr_pathf(dst, sizeof dst, "%s/%s.zst", stage, s->file);
		if ((fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)) < 0) {
			fail(r, CHR_EX_SYS, "cannot create '%s': %s", SHOWN(sh, dst), strerror(errno));
			goto out;
		}
		if (chr_zsq_write(fd, src, buf, (size_t)n, level, err, sizeof err, &st) < 0) {
			fail(r, st, "%s", err);
			goto out;
		}
		if (fsync(fd) < 0 || close(fd) < 0) {
			fd = -1;
			fail(r, CHR_EX_SYS, "cannot write '%s': %s", SHOWN(sh, dst), strerror(errno));
			goto out;
		}
		fd = -1;
		/* verify: what is on disk decompresses to the segment's bytes */
		if ((z = chr_zsq_open(dst, err, sizeof err, &st)) == NULL) {
			fail(r, st, "%s", err);
			goto out;
		}
		f = chr_zsq_frames(z, &nf);
		if (chr_zsq_size(z) != (uint64_t)n || (back = malloc((size_t)n + 1)) == NULL) {
			fail(r, CHR_EX_SYS, "'%s': decompressed size differs from the segment's",
			     SHOWN(sh, dst));
			goto out;
		}
		for (size_t i = 0; i < nf; i++)
			if (f[i].uoff + f[i].usize > (uint64_t)n ||
			    chr_zsq_read(z, i, back + f[i].uoff, err, sizeof err, &st) < 0) {
				fail(r, CHR_EX_SYS, "verifying '%s': %s", SHOWN(sh, dst),
				     f[i].uoff + f[i].usize > (uint64_t)n ? "frame out of range" : err);
				goto out;
			}
		chr_mem_xxh128(back, (size_t)n, sum);
		if (strcmp(sum, s->raw_checksum) != 0) {
			fail(r, CHR_EX_SYS, "'%s' does not decompress to '%s'", SHOWN(sh, dst), s->file);
			goto out;
		}
		if (chr_file_xxh128(dst, sum, &zb) < 0) {
			fail(r, CHR_EX_SYS, "cannot read '%s': %s", SHOWN(sh, dst), strerror(errno));
			goto out;
		}
		/* s keeps the source's name: the source is checked again before
		 * it is removed */
		snprintf(zname, sizeof zname, "%s.zst", s->file);
		if (json_object_set_new(e, "file", json_string(zname)) < 0 ||
		    json_object_set_new(e, "bytes", json_integer((json_int_t)zb)) < 0 ||
		    json_object_set_new(e, "checksum", json_string(sum)) < 0 ||
		    json_object_set_new(e, "raw_bytes", json_integer((json_int_t)n)) < 0 ||
		    json_object_set_new(e, "raw_checksum", json_string(s->raw_checksum)) < 0 ||
		    json_object_set_new(e, "compressed", json_true()) < 0) {
			fail(r, CHR_EX_SYS, "out of memory");
			goto out;
		}
		/* its seek table flags the frames a snapshot begins: the
		 * snapshots a plain segment's walk may start at go (less for
		 * every reader to parse) */
		json_object_del(e, "snapshots");
		*out_bytes += zb;
	} else {
		chr_pathf(dst, sizeof dst, "%s/%s", stage, s->file);
		if (chr_publish_file(dst, buf, (size_t)n) < 0) {
			fail(r, CHR_EX_SYS, "cannot write '%s': %s", SHOWN(sh, dst), strerror(errno));
			goto out;
		}
		/* verify: read the copy back */
		if (chr_file_xxh128(dst, sum, NULL) < 0 || strcmp(sum, s->checksum) != 0) {
			fail(r, CHR_EX_SYS, "the copy '%s' does not match '%s'", SHOWN(sh, dst), s->file);
			goto out;
		}
		*out_bytes += (uint64_t)n;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	chr_zsq_close(z);
	free(back);
	free(buf);
	return rc;
}

/* the meta.json entry of segment id in array a */
static json_t *entry(json_t *a, uint64_t id)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v) {
		json_t *j = json_object_get(v, "id");

		if (json_is_integer(j) && (uint64_t)json_integer_value(j) == id)
			return v;
	}
	return NULL;
}

/* Copy it's partition into <tier to>/.staging/tier-XXXXXX/p: every segment
 * verified, compressed when level, and its meta.json. Returns the staging
 * lock fd (its path in stage_root, PATH_MAX bytes), or -1 (said). */
static int stage_copy(struct chr_tier_run *r, struct item *it, size_t to, char *stage_root,
		      uint64_t *bytes_in, uint64_t *bytes_out)
{
	char stage[PATH_MAX], p[PATH_MAX], sh[512];
	unsigned char *meta = NULL;
	json_t *o = NULL, *segs;
	char *text = NULL;
	ssize_t mlen;
	int fd, level = r->t.t[to].zstd, changed = 0;
	/* an upload is staged beside its source */
	const char *in = chr_s3_is_url(r->t.t[to].root) ? r->t.t[it->tier].root : r->t.t[to].root;

	if ((fd = chr_staging_dir(in, "tier-", stage_root)) < 0) {
		fail(r, CHR_EX_SYS, "cannot create a staging directory in '%s': %s",
		     SHOWN(sh, in), strerror(errno));
		return -1;
	}
	chr_pathf(stage, sizeof stage, "%s/p", stage_root);
	if (mkdir(stage, 0777) < 0) {
		fail(r, CHR_EX_SYS, "cannot create '%s': %s", SHOWN(sh, stage), strerror(errno));
		goto fail;
	}
	chr_pathf(p, sizeof p, "%s/meta.json", it->dir);
	if ((mlen = chr_file_read(p, &meta)) < 0) {
		fail(r, CHR_EX_SYS, "cannot read '%s': %s", SHOWN(sh, p), strerror(errno));
		goto fail;
	}
	if ((o = json_loadb((char *)meta, (size_t)mlen, 0, NULL)) == NULL ||
	    !json_is_array(segs = json_object_get(o, "segments"))) {
		fail(r, CHR_EX_DATA, "'%s' changed during the pass", SHOWN(sh, p));
		goto fail;
	}
	for (size_t i = 0; i < it->part.nsegs; i++) {
		struct chr_pseg *s = &it->part.segs[i];
		json_t *e = entry(segs, s->id);
		int z = level && !s->compressed;

		if (e == NULL) {
			fail(r, CHR_EX_DATA, "'%s' changed during the pass", SHOWN(sh, p));
			goto fail;
		}
		*bytes_in += s->bytes;
		if (copy_seg(r, it, s, stage, level, e, bytes_out) < 0)
			goto fail;
		changed |= z;
	}
	/* meta.json: the same bytes, unless segments were compressed */
	if (changed) {
		char *t = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		if (t == NULL || (text = malloc(strlen(t) + 2)) == NULL) {
			free(t);
			fail(r, CHR_EX_SYS, "out of memory");
			goto fail;
		}
		strcat(strcpy(text, t), "\n");
		free(t);
	}
	chr_pathf(p, sizeof p, "%s/meta.json", stage);
	if (chr_publish_file(p, changed ? text : (char *)meta, changed ? strlen(text) : (size_t)mlen) < 0 ||
	    chr_fsync_dir(stage) < 0 || chr_fsync_dir(stage_root) < 0) {
		fail(r, CHR_EX_SYS, "cannot write '%s': %s", SHOWN(sh, p), strerror(errno));
		goto fail;
	}
	free(text);
	free(meta);
	json_decref(o);
	return fd;
fail:
	free(text);
	free(meta);
	json_decref(o);
	chr_remove_tree(stage_root);
	close(fd);
	return -1;
}

/* 1 when moving it into tier `to` must copy: another file system, or
 * segments to compress */
static int must_copy(struct chr_tier_run *r, const struct item *it, size_t to)
{
	struct stat a, b;

	if (r->t.t[to].zstd)
		for (size_t i = 0; i < it->part.nsegs; i++)
			if (!it->part.segs[i].compressed)
				return 1;
	if (stat(it->dir, &a) < 0 || stat(r->t.t[to].root, &b) < 0)
		return 1;
	return a.st_dev != b.st_dev;
}

/* PUT the staged file path at url and check the object: its size and
 * its ETag against the MD5 (or multipart MD5) of the bytes. Returns 0, or
 * -1 (said). */
static int put_checked(struct chr_tier_run *r, const char *path, const char *url, uint64_t part,
		       uint64_t *bytes)
{
	unsigned char *buf = NULL;
	char etag[80], want[80], got[80], sh[512];
	struct chr_err e;
	uint64_t size;
	ssize_t n;
	int rc = -1, k;

	if ((n = chr_file_read(path, &buf)) < 0) {
		fail(r, CHR_EX_SYS, "cannot read '%s': %s", SHOWN(sh, path), strerror(errno));
		return -1;
	}
	chr_s3_etag(buf, (size_t)n, part, want);
	if (chr_s3_put(url, buf, (size_t)n, etag, &e) < 0 || (k = chr_s3_head(url, &size, got, &e)) < 0) {
		fail(r, CHR_EX_SYS, "%s", e.msg);
		goto out;
	}
	if (k || size != (uint64_t)n || strcmp(got, want) != 0) {
		fail(r, CHR_EX_SYS, "'%s' was uploaded but is %s (%" PRIu64 " bytes, ETag %s; sent %zd, "
		     "%s)", url, k ? "not there" : "not what was sent", k ? 0 : size, got, n, want);
		goto out;
	}
	*bytes += (uint64_t)n;
	rc = 0;
out:
	free(buf);
	return rc;
}

/* Move partition it into tier `to` in object storage (docs/tiers.md,
 * "Object storage"): staged (compressed) beside the source, each segment
 * uploaded and checked, then, under the archive lock, meta.json uploaded
 * (published) and the source renamed aside. Returns 0, or -1 (said). */
static int upload(struct chr_tier_run *r, struct item *it, size_t to, const char *dst)
{
	char stage_root[PATH_MAX], p[PATH_MAX], url[PATH_MAX], trash[PATH_MAX], sum[48], sh[512];
	const char *from = r->t.t[it->tier].name, *into = r->t.t[to].name;
	struct chr_s3_conf conf;
	char bucket[256], key[1024];
	struct chr_err e;
	uint64_t bin = 0, bout = 0, up = 0, size;
	int sfd, tfd = -1, lk, k, rc = -1;

	chr_s3_split(dst, bucket, sizeof bucket, key, sizeof key);
	chr_s3_conf_of(bucket, &conf);
	if ((sfd = stage_copy(r, it, to, stage_root, &bin, &bout)) < 0)
		return -1;
	for (size_t i = 0; i < it->part.nsegs; i++) {
		const struct chr_pseg *g = &it->part.segs[i];
		/* stage_copy compressed it unless it was */
		const char *z = r->t.t[to].zstd && !g->compressed ? ".zst" : "";

		chr_pathf(p, sizeof p, "%s/p/%s%s", stage_root, g->file, z);
		chr_pathf(url, sizeof url, "%s/%s%s", dst, g->file, z);
		if (put_checked(r, p, url, conf.part_size, &up) < 0)
			goto out;
	}
	/* publish and remove, under the archive lock */
	if ((lk = chr_archive_lock(r->root)) < 0) {
		fail(r, CHR_EX_SYS, "cannot lock '%s/.staging/lock': %s", SHOWN(sh, r->root),
		     strerror(errno));
		goto out;
	}
	chr_pathf(url, sizeof url, "%s/meta.json", dst);
	chr_pathf(p, sizeof p, "%s/p/meta.json", stage_root);
	if (chr_meta_checksum(it->dir, sum) < 0 || strcmp(sum, it->part.meta_checksum) != 0) {
		say(r, "'%s' in %s changed during the pass; left for the next one", SHOWN(sh, it->rel), from);
	} else if ((k = chr_s3_head(url, &size, NULL, &e)) != 1) {
		if (k < 0)
			fail(r, CHR_EX_SYS, "%s", e.msg);
		else
			fail(r, CHR_EX_DATA, "'%s' already exists; '%s' not moved", url, it->rel);
	} else if (unlisted(r, it) == 0 && put_checked(r, p, url, conf.part_size, &up) == 0) {
		/* published: from here a crash leaves two whole copies */
		if ((tfd = discard(r->t.t[it->tier].root, it->dir, trash)) < 0)
			fail(r, CHR_EX_SYS, "cannot remove '%s': %s", SHOWN(sh, it->dir), strerror(errno));
		else
			prune_parents(r->t.t[it->tier].root, it->rel);
		rc = tfd >= 0 ? 0 : -1;
	}
	close(lk);
	if (tfd >= 0) {
		if (chr_remove_tree(trash) < 0)
			fail(r, CHR_EX_SYS, "cannot remove '%s': %s", SHOWN(sh, trash), strerror(errno));
		close(tfd);
	}
	if (rc == 0) {
		say(r, "moved '%s' from %s to %s (uploaded%s, %zu segment%s, %" PRIu64 " -> %" PRIu64
		    " bytes)", SHOWN(sh, it->rel), from, into, bout != bin ? " compressed" : "",
		    it->part.nsegs, it->part.nsegs == 1 ? "" : "s", bin, up);
		free(it->dir);
		it->tier = to;
		if ((it->dir = strdup(dst)) == NULL) {
			fail(r, CHR_EX_SYS, "out of memory");
			rc = -1;
		}
	}
out:
	chr_remove_tree(stage_root);
	close(sfd);
	return rc;
}

/* Move partition it into tier `to`. Returns 0, or -1 (said). */
static int move(struct chr_tier_run *r, struct item *it, size_t to, int64_t age)
{
	char dst[PATH_MAX], parent[PATH_MAX], stage_root[PATH_MAX], trash[PATH_MAX], sum[48];
	char sh[512], how[128];
	const char *from = r->t.t[it->tier].name, *into = r->t.t[to].name;
	uint64_t bin = 0, bout = 0;
	int copy, sfd = -1, tfd = -1, lk;
	struct stat st;

	if ((size_t)snprintf(dst, sizeof dst, "%s/%s", r->t.t[to].root, it->rel) >= sizeof dst) {
		fail(r, CHR_EX_SYS, "'%s/%s': %s", SHOWN(sh, r->t.t[to].root), it->rel,
		     strerror(ENAMETOOLONG));
		return -1;
	}
	if (movable(r, it) != 0)
		return -1;
	if (r->dry) {
		say(r, "would move '%s' from %s to %s (age %" PRId64 "s)", SHOWN(sh, it->rel), from,
			 into, age / 1000000000);
		return 0;
	}
	if (chr_s3_is_url(r->t.t[to].root))
		return upload(r, it, to, dst);
	if (chr_mkdirs(r->t.t[to].root) < 0) {
		fail(r, CHR_EX_SYS, "cannot create '%s': %s", SHOWN(sh, r->t.t[to].root), strerror(errno));
		return -1;
	}
	copy = must_copy(r, it, to);
	if (copy && (sfd = stage_copy(r, it, to, stage_root, &bin, &bout)) < 0)
		return -1;
	chr_pathf(parent, sizeof parent, "%s", dst);
	*strrchr(parent, '/') = '\0';
	/* publish and remove: the short step under the archive lock */
	if ((lk = chr_archive_lock(r->root)) < 0) {
		fail(r, CHR_EX_SYS, "cannot lock '%s/.staging/lock': %s", SHOWN(sh, r->root),
		     strerror(errno));
		goto fail;
	}
	if (chr_meta_checksum(it->dir, sum) < 0 || strcmp(sum, it->part.meta_checksum) != 0) {
		say(r, "'%s' in %s changed during the pass; left for the next one",
			 SHOWN(sh, it->rel), from);
		goto fail_locked;
	}
	if (lstat(dst, &st) == 0 || errno != ENOENT) {
		fail(r, CHR_EX_DATA, "'%s' already exists; '%s' not moved", SHOWN(sh, dst), it->rel);
		goto fail_locked;
	}
	if (unlisted(r, it) < 0)	/* placed since the check by a writer that died */
		goto fail_locked;
	if (chr_mkdirs(parent) < 0) {
		fail(r, CHR_EX_SYS, "cannot create '%s': %s", SHOWN(sh, parent), strerror(errno));
		goto fail_locked;
	}
	if (copy) {
		char staged[PATH_MAX];

		chr_pathf(staged, sizeof staged, "%s/p", stage_root);
		if (renameat2(AT_FDCWD, staged, AT_FDCWD, dst, RENAME_NOREPLACE) < 0 ||
		    chr_fsync_dir(parent) < 0) {
			fail(r, CHR_EX_SYS, "cannot rename '%s' to '%s': %s", SHOWN(sh, staged), dst,
			     strerror(errno));
			goto fail_locked;
		}
		/* published: from here a crash leaves two whole copies, which
		 * the next pass resolves */
		if ((tfd = discard(r->t.t[it->tier].root, it->dir, trash)) < 0) {
			fail(r, CHR_EX_SYS, "cannot remove '%s': %s", SHOWN(sh, it->dir), strerror(errno));
			close(lk);
			goto fail;
		}
		snprintf(how, sizeof how, "copied%s, %zu segment%s, %" PRIu64 " -> %" PRIu64 " bytes",
			 r->t.t[to].zstd ? " and compressed" : "", it->part.nsegs,
			 it->part.nsegs == 1 ? "" : "s", bin, bout);
	} else {
		if (renameat2(AT_FDCWD, it->dir, AT_FDCWD, dst, RENAME_NOREPLACE) < 0 ||
		    chr_fsync_dir(parent) < 0 || chr_fsync_parent(it->dir) < 0) {
			fail(r, CHR_EX_SYS, "cannot rename '%s' to '%s': %s", SHOWN(sh, it->dir), dst,
			     strerror(errno));
			goto fail_locked;
		}
		snprintf(how, sizeof how, "renamed");
	}
	prune_parents(r->t.t[it->tier].root, it->rel);
	close(lk);
	if (tfd >= 0) {
		if (chr_remove_tree(trash) < 0)
			fail(r, CHR_EX_SYS, "cannot remove '%s': %s", SHOWN(sh, trash), strerror(errno));
		close(tfd);
	}
	if (sfd >= 0) {
		chr_remove_tree(stage_root);
		close(sfd);
	}
	say(r, "moved '%s' from %s to %s (%s)", SHOWN(sh, it->rel), from, into, how);
	free(it->dir);
	it->dir = strdup(dst);
	it->tier = to;
	if (it->dir == NULL) {
		fail(r, CHR_EX_SYS, "out of memory");
		return -1;
	}
	return 0;
fail_locked:
	close(lk);
fail:
	if (sfd >= 0) {
		chr_remove_tree(stage_root);
		close(sfd);
	}
	return -1;
}

/* ---- a pass --------------------------------------------------------------- */

struct mpart {
	char *tier, *rel, *sum;
};

struct mparts {
	struct mpart *v;
	size_t n, cap;
};

static int mcollect(const char *tier, const char *rel, const char *sum, void *ctx)
{
	struct mparts *m = ctx;

	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 256;
		struct mpart *nv = realloc(m->v, cap * sizeof *nv);

		if (nv == NULL)
			return 1;
		m->v = nv;
		m->cap = cap;
	}
	m->v[m->n].tier = strdup(tier);
	m->v[m->n].rel = strdup(rel);
	m->v[m->n].sum = strdup(sum);
	m->n++;
	return !m->v[m->n - 1].tier || !m->v[m->n - 1].rel || !m->v[m->n - 1].sum;
}

static void mparts_free(struct mparts *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].tier);
		free(m->v[i].rel);
		free(m->v[i].sum);
	}
	free(m->v);
}

/* Make the manifest hold exactly the partitions keep[0..n) (sorted by rel). */
static void reconcile(struct chr_tier_run *r, struct item **keep, size_t n)
{
	struct mparts mp = {0};
	struct chr_err e;
	size_t i = 0, j = 0;

	if (chr_manifest_parts(r->m, mcollect, &mp, &e) != 0) {
		fail(r, CHR_EX_SYS, "%s", mp.n && !mp.v[mp.n - 1].sum ? "out of memory" : e.msg);
		mparts_free(&mp);
		return;
	}
	while (i < n || j < mp.n) {
		int c = i == n ? 1 : j == mp.n ? -1 : strcmp(keep[i]->rel, mp.v[j].rel);
		int rc = 0;

		if (c < 0 || (c == 0 && (strcmp(r->t.t[keep[i]->tier].name, mp.v[j].tier) != 0 ||
					strcmp(keep[i]->part.meta_checksum, mp.v[j].sum) != 0)))
			rc = chr_manifest_put(r->m, r->t.t[keep[i]->tier].name, &keep[i]->part, &e);
		else if (c > 0)
			rc = chr_manifest_remove(r->m, mp.v[j].rel, &e);
		if (rc < 0)
			fail(r, e.status, "%s", e.msg);
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
	mparts_free(&mp);
}

static int by_tier(const void *a, const void *b)
{
	const struct item *x = *(struct item *const *)a, *y = *(struct item *const *)b;

	return x->tier != y->tier ? (x->tier > y->tier) - (x->tier < y->tier) : strcmp(x->rel, y->rel);
}

void chr_tier_pass(struct chr_tier_run *r, int64_t now_opt)
{
	struct items it = {0};
	struct item **keep = NULL;
	size_t nkeep = 0;
	char sh[512];
	struct chr_err e;

	if (now_opt != INT64_MIN) {
		r->now = now_opt;
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		r->now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	}
	/* finish what a pass that died left: its staging copies and trash */
	if (!r->dry)
		for (size_t i = 0; i < r->t.n; i++)
			clean_staging(r, i);
	for (size_t i = 0; i < r->t.n; i++)
		if (chr_tier_walk(&r->t, i, collect, &it) != 0) {
			fail(r, CHR_EX_SYS, "cannot read tier %s ('%s'): %s", r->t.t[i].name,
			     SHOWN(sh, r->t.t[i].root), chr_s3_is_url(r->t.t[i].root) ?
			     chr_s3_last_error() : strerror(errno ? errno : ENOMEM));
			goto out;
		}
	if (it.n)
		qsort(it.v, it.n, sizeof *it.v, by_rel);
	if (it.n && (keep = calloc(it.n, sizeof *keep)) == NULL) {
		fail(r, CHR_EX_SYS, "out of memory");
		goto out;
	}
	for (size_t i = 0, j; i < it.n; i = j) {
		size_t ok = 0;
		long stay;

		for (j = i; j < it.n && strcmp(it.v[j].rel, it.v[i].rel) == 0; j++) {
			struct chr_err pe;

			if (chr_partinfo_load(it.v[j].dir, &it.v[j].part, &pe) == 0) {
				it.v[j].ok = 1;
				ok++;
			} else if (errno != ENOENT) {
				fail(r, CHR_EX_DATA, "%s; left where it is", pe.msg);
			}
		}
		if (ok != j - i)
			continue;	/* a copy we cannot read: touch none */
		stay = j - i == 1 ? 0 : resolve(r, &it.v[i], j - i);
		if (stay >= 0)
			keep[nkeep++] = &it.v[i + (size_t)stay];
		else
			keep[nkeep++] = &it.v[i];	/* index the warmest, move none */
		if (stay < 0)
			keep[nkeep - 1]->ok = 2;
	}
	if (!r->dry)
		reconcile(r, keep, nkeep);
	/* warmest first, one partition at a time */
	if (nkeep)
		qsort(keep, nkeep, sizeof *keep, by_tier);
	for (size_t i = 0; i < nkeep && !stopped(r); i++) {
		struct item *p = keep[i];
		int64_t age = r->now - p->part.ts_max;
		size_t to = p->tier;

		if (p->ok != 1)
			continue;
		if (r->t.delete_ns >= 0 && age > r->t.delete_ns) {
			char why[64];

			snprintf(why, sizeof why, "age %" PRId64 "s", age / 1000000000);
			if (remove_part(r, p, why) == 0 && !r->dry &&
			    chr_manifest_remove(r->m, p->rel, &e) < 0)
				fail(r, e.status, "%s", e.msg);
			continue;
		}
		for (size_t k = p->tier + 1; k < r->t.n; k++)
			if (age > r->t.t[k].after_ns)
				to = k;
		if (to == p->tier || move(r, p, to, age) < 0 || r->dry)
			continue;
		if (chr_manifest_sync(r->m, r->t.t[to].name, r->t.t[to].root, p->rel, &e) < 0)
			fail(r, e.status, "%s", e.msg);
	}
	for (size_t i = 0; i < r->t.nq && !stopped(r); i++) {
		ssize_t k;

		if (r->dry) {
			say(r, "would apply retention %" PRId64 "s to '%s'", r->t.q[i].age_ns / 1000000000,
				 SHOWN(sh, r->t.q[i].path));
			continue;
		}
		if ((k = chr_queue_retain(r->t.q[i].path, r->t.q[i].age_ns, CHR_QUEUE_GRACE_NS, &e)) < 0)
			fail(r, e.status, "%s", e.msg);
		else if (k > 0 || r->verbose)
			say(r, "removed %zd segment%s of queue '%s'", k, k == 1 ? "" : "s",
				 SHOWN(sh, r->t.q[i].path));
	}
out:
	free(keep);
	items_free(&it);
}
