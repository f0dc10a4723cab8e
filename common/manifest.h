/* manifest.h - ROOT/manifest.db (docs/tiers.md): an SQLite index of every
 * segment of every tier, rebuilt from the partitions' meta.json at will
 * (read by chr_partinfo_load, meta.h). */
#ifndef CHR_MANIFEST_H
#define CHR_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "meta.h"
#include "tier.h"

#define CHR_MANIFEST "manifest.db"
#define CHR_MANIFEST_VERSION 1	/* PRAGMA user_version */

struct chr_manifest;

/* Open root's manifest.db (path NULL) or the database at path; create it
 * (schema, WAL mode) when create, else open it read-only. A busy timeout
 * of 10 s applies. Returns NULL with e (CHR_EX_SYS; errno ENOENT when
 * it does not exist and !create). A database of another schema version
 * is an error. */
struct chr_manifest *chr_manifest_open(const char *root, const char *path, int create,
				       struct chr_err *e);
void chr_manifest_close(struct chr_manifest *m);

/* Replace the tier table by t's tiers (name, root, rank = index). Returns
 * 0, or -1 with e (CHR_EX_SYS). */
int chr_manifest_set_tiers(struct chr_manifest *m, const struct chr_tiers *t, struct chr_err *e);

/* Replace the rows of partition p (whatever tier held it) by its
 * segments in tier `tier`, in one transaction. Returns 0, or -1. */
int chr_manifest_put(struct chr_manifest *m, const char *tier, const struct chr_partinfo *p,
		     struct chr_err *e);

/* chr_partinfo_load of "<tier_root>/<rel>" then chr_manifest_put; when it has
 * no meta.json any more, chr_manifest_remove. Returns 0, or -1. */
int chr_manifest_sync(struct chr_manifest *m, const char *tier, const char *tier_root,
		      const char *rel, struct chr_err *e);

/* Remove the rows of partition rel. Returns 0, or -1 with e (CHR_EX_SYS). */
int chr_manifest_remove(struct chr_manifest *m, const char *rel, struct chr_err *e);

/* Call fn(tier, rel, meta_checksum, ctx) for every partition the manifest
 * holds, in rel order; stops when fn returns non-zero and returns that.
 * Returns 0, or -1 with e (CHR_EX_SYS). */
int chr_manifest_parts(struct chr_manifest *m,
		       int (*fn)(const char *tier, const char *rel, const char *sum, void *ctx),
		       void *ctx, struct chr_err *e);

/* A segment row as chr_manifest_query gives it. */
struct chr_mrow {
	const char *tier, *path;	/* path absolute: tier root + '/' + relative path */
	const char *rel;		/* the partition */
	const char *venue, *symbol, *date, *stream;
	uint64_t seg, first_seq, last_seq, bytes, raw_bytes;
	int64_t ts_min, ts_max;
	int sealed, compressed;
	const char *checksum;
};

/* Call fn(row, ctx) for the segments of venue/symbol/stream (symbol ""
 * for raw) whose ts range meets [ts_from, ts_until] (INT64_MIN/INT64_MAX
 * when open), across tiers, ordered by (date, seg id). Stops when fn
 * returns non-zero and returns that; 0 when done, -1 with e (CHR_EX_SYS). */
int chr_manifest_query(struct chr_manifest *m, const char *venue, const char *symbol,
		       const char *stream, int64_t ts_from, int64_t ts_until,
		       int (*fn)(const struct chr_mrow *row, void *ctx), void *ctx,
		       struct chr_err *e);

/* A partition as chr_manifest_summary gives it: its segments summed. */
struct chr_mpart {
	const char *tier, *root;	/* the tier and its root, as the manifest holds them */
	const char *rel;		/* "v1/<venue>/<symbol>/<date>/<stream>" or "raw/v1/<venue>/<date>/raw" */
	const char *venue, *symbol, *date, *stream;	/* symbol "" for raw */
	uint64_t segments, records, bytes, raw_bytes;
	uint64_t compressed;		/* segments that are compressed */
	int64_t ts_min, ts_max;		/* INT64_MAX and INT64_MIN when no segment has records */
};

/* Call fn(part, ctx) for every partition the manifest holds, in rel order
 * (strings valid during the call). Stops when fn returns non-zero and
 * returns that; 0 when done, -1 with e (CHR_EX_SYS). */
int chr_manifest_summary(struct chr_manifest *m, int (*fn)(const struct chr_mpart *p, void *ctx),
			 void *ctx, struct chr_err *e);

/* Write every row, tiers then partitions then segments, sorted, as
 * tab-separated text (tests compare two manifests with it). Returns 0,
 * or -1 with e (CHR_EX_SYS). */
int chr_manifest_dump(struct chr_manifest *m, FILE *f, struct chr_err *e);

/* Rebuild root's manifest.db from the files: every partition of every
 * tier of t (v1/ and raw/v1/; a partition in several tiers is indexed in
 * the warmest), written into a new database that is then renamed over the
 * old one, so a crash never leaves half a manifest. Partitions whose
 * meta.json cannot be read are skipped, each told to warn(ctx, message)
 * when warn is not NULL. *nparts
 * and *nskipped (either may be NULL) are set to the partitions indexed and
 * skipped. Returns 0, or -1 with e (CHR_EX_SYS). */
int chr_manifest_rebuild(const char *root, const struct chr_tiers *t, size_t *nparts,
			 size_t *nskipped, chr_warn_fn warn, void *ctx, struct chr_err *e);

/* Check that every tier root's manifest.db records (its tier table: the
 * tiers of the passes and rebuilds before) is among t's tiers, with the
 * same root, or is a directory that holds no partition directory any more
 * (one that is not there may be a disk not mounted): a pass or rebuild
 * without it would drop its partitions from the manifest. A manifest that
 * does not exist or cannot be read records nothing. Returns 0, or -1 with
 * e (CHR_EX_USAGE naming the tier and its directory; CHR_EX_SYS when that
 * directory cannot be read). */
int chr_manifest_tiers_check(const char *root, const struct chr_tiers *t, struct chr_err *e);

/* Call fn(tier index, partition dir, rel, ctx) for every partition
 * directory (holding a meta.json or not) of tier index i of t, archive
 * then raw, in sorted order; of a tier in object storage (s3://), every
 * partition with its meta.json, in key order (chr_s3tier_walk; a failure
 * is errno EIO with the message in chr_s3_last_error()). Stops when fn
 * returns non-zero and returns that; 0 when done, -1 with errno. */
int chr_tier_walk(const struct chr_tiers *t, size_t i,
		  int (*fn)(size_t tier, const char *dir, const char *rel, void *ctx), void *ctx);

#endif
