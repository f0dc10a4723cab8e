/* tier.h - the archive's storage tiers (docs/tiers.md): the config file
 * ROOT/chr-tier.conf, where a reader finds the partitions of an instrument's
 * stream across the tiers (through manifest.db, else by a scan), and the
 * tiering pass of chr-tier (common/tiermove.c). */
#ifndef CHR_TIER_H
#define CHR_TIER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "staging.h"

#define CHR_TIERS_MAX 16
#define CHR_TIER_CONF "chr-tier.conf"

struct chr_tier {
	char name[65];		/* "hot" for the archive root */
	char root[4096];	/* absolute or as given */
	int64_t after_ns;	/* move here at this age (0 for hot) */
	int zstd;		/* compress segments moved here: level, 0 none */
};

struct chr_tier_queue {
	char *path;
	int64_t age_ns;
};

/* The tiers, warmest first: t[0] is the hot tier (the archive root). */
struct chr_tiers {
	struct chr_tier t[CHR_TIERS_MAX];
	size_t n;
	int64_t delete_ns;	/* remove partitions this old; -1 never */
	struct chr_tier_queue *q;	/* queue retention lines */
	size_t nq;
};

/* Set t to the hot tier alone (root), no delete, no queue. */
void chr_tiers_init(struct chr_tiers *t, const char *root);

/* Free what t owns (the queue lines). */
void chr_tiers_free(struct chr_tiers *t);

/* Read the config file (NULL: ROOT/chr-tier.conf, where a missing file is
 * no error) into t, which chr_tiers_init set up. Lines: "NAME DIR AGE
 * [zstd[=LEVEL]]" (a tier), "delete AGE", "queue DIR AGE"; '#' starts a
 * comment. A relative DIR is relative to the archive root. Returns 0, or
 * -1 with e: "file:line: why", CHR_EX_DATA (or "cannot read 'file': why",
 * CHR_EX_SYS). */
int chr_tiers_load(struct chr_tiers *t, const char *file, struct chr_err *e);

/* Set (add, or replace by name) a tier. Returns 0, or -1 when full. */
int chr_tiers_set(struct chr_tiers *t, const char *name, const char *root, int64_t after_ns,
		  int zstd);

/* Sort the tiers after hot by age and check them: distinct names, roots
 * and ages, the delete age above every tier's. Returns 0, or -1 with e
 * (CHR_EX_DATA). */
int chr_tiers_check(struct chr_tiers *t, struct chr_err *e);

/* A partition directory of a stream. */
struct chr_tier_part {
	char date[11];
	char *dir;		/* malloc'ed */
};

/* The partition directories of venue/symbol/stream (symbol NULL or "" and
 * stream "raw": the venue's raw partitions ROOT/raw/v1/<venue>/<date>/raw)
 * across the tiers of the archive at root, in date order, one per date,
 * only date when date is not NULL. With ROOT/manifest.db they come from
 * the manifest (a partition moved since is looked up in every tier) plus
 * dates in the hot tier it does not know yet; without it, from a scan of
 * the tiers of ROOT/chr-tier.conf (the warmest copy of a date wins). The
 * names must pass chr_name_check (the caller checks). *found is set to 1
 * when the instrument (or raw venue) exists in some tier. Returns the
 * number of partitions in *out (free with chr_tier_parts_free), or -1
 * with e (CHR_EX_SYS). */
long chr_tier_parts(const char *root, const char *venue, const char *symbol, const char *stream,
		    const char *date, struct chr_tier_part **out, int *found, struct chr_err *e);

/* chr_tier_parts, and also(row, also_ctx) for each row of the manifest
 * read for it (every date of venue/symbol/stream; none without a
 * manifest), so that a caller that wants more of those rows
 * (chr_archive_tiers_row) opens and queries the manifest once, not
 * twice. also returns 0, or non-zero to fail (out of memory). */
struct chr_mrow;
long chr_tier_parts_with(const char *root, const char *venue, const char *symbol,
			 const char *stream, const char *date, struct chr_tier_part **out,
			 int *found, int (*also)(const struct chr_mrow *row, void *ctx),
			 void *also_ctx, struct chr_err *e);

void chr_tier_parts_free(struct chr_tier_part *p, size_t n);

/* ---- a tier in object storage (common/s3tier.c) ------------------------ */

/* Call fn(tier, "ROOT/REL", REL, ctx) for every partition of the tier at
 * root (s3://bucket[/prefix]): every key REL/meta.json, REL of the
 * archive's layout, in key order. Stops when fn returns non-zero and
 * returns that; 0 when done, -1 with e. */
int chr_s3tier_walk(const char *root, size_t tier,
		    int (*fn)(size_t tier, const char *dir, const char *rel, void *ctx), void *ctx,
		    struct chr_err *e);

/* Abort the multipart uploads left open below the tier at root, and
 * delete its objects that lie under a partition without meta.json (a
 * move that died before it published), each said to say(ctx, message)
 * when say is not NULL. Only keys of the archive's layout are deleted.
 * Returns the number of objects and uploads removed, or -1 with e. */
long chr_s3tier_orphans(const char *root, chr_warn_fn say, void *ctx, struct chr_err *e);

/* 1 when the partition dir (s3://...) has its meta.json, 0 when not, -1
 * with e. */
int chr_s3tier_exists(const char *dir, struct chr_err *e);

/* ---- the tiering pass (common/tiermove.c) ------------------------------- */

struct chr_manifest;

/* What a pass works on, set by its caller (chr-tier). */
struct chr_tier_run {
	const char *root;		/* the archive root (the hot tier), absolute */
	struct chr_tiers t;		/* loaded and checked (chr_tiers_check) */
	int64_t now;			/* the time of the current pass (set by it) */
	int dry, verbose;		/* say what would be done; say more */
	struct chr_manifest *m;		/* open for writing; NULL when dry */
	const volatile sig_atomic_t *stop;	/* non-zero: end between partitions; may be NULL */
	int status;			/* worst exit status since the caller reset it */
	chr_warn_fn say;		/* what the pass says, a line at a time,
					 * or NULL */
	void *say_ctx;
};

/* One pass over the tiers of r (docs/tiers.md, "A pass"), with ages measured
 * from now (INT64_MIN: the clock): finish what a dead pass left in staging,
 * find every partition, resolve one found in two tiers, make the manifest
 * match the files, then, warmest first, one partition at a time, delete
 * those past the delete age and move the others into the coldest tier whose
 * age they passed (renamed on one file system, else copied, compressed
 * into a zstd tier, verified, published under the archive lock, removed),
 * and apply queue retention. The caller holds the tier lock
 * (ROOT/.staging/.tier-lock). Everything done and every failure is said
 * (r->say); a failure leaves that partition where it is and raises
 * r->status to CHR_EX_DATA or CHR_EX_SYS. */
void chr_tier_pass(struct chr_tier_run *r, int64_t now);

#endif
