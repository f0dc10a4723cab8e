/* archive.h - the archive (docs/archive.md): the archive writer behind
 * chr-sink --archive and the listing of partitions; its segment files
 * (segw.h), meta.json (meta.h) and staging protocol (staging.h). */
#ifndef CHR_ARCHIVE_H
#define CHR_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "meta.h"
#include "rec.h"
#include "segw.h"
#include "staging.h"

#define CHR_ARCHIVE_SEG_SIZE (64u << 20)	/* default --segment-size */
#define CHR_ARCHIVE_ERR 1024

struct json_t;	/* jansson */

/* ---- the archive writer (chr-sink --archive) ---------------------------- */

struct chr_archive;

/* Why id cannot be an import source id or a ledger vendor, or NULL: it
 * passes chr_name_check and holds no glob character (* ? [ ]). */
const char *chr_archive_id_check(const char *id);

struct chr_archive_opts {
	uint64_t seg_size;	/* bytes per segment before rolling; 0: default */
	int append;		/* append to partitions that hold data */
	const char *source;	/* import source id, or NULL */
	int stage;		/* commit stages the run as staged-<source>, publishes nothing */
	chr_warn_fn warn;	/* what clean-up reports (staging.h), or NULL */
	void *warn_ctx;
};

/* Open the archive at root for writing (creating root), clean stale
 * staging directories. Returns the writer, or NULL with e (CHR_EX_SYS, or
 * CHR_EX_USAGE for bad options). */
struct chr_archive *chr_archive_open(const char *root, const struct chr_archive_opts *o,
				     struct chr_err *e);

/* Archive one checked record read from input name at byte offset off.
 * DEFINE records bind names; records of a stream go to their partition;
 * the others (HEARTBEAT, application types) are counted as skipped.
 * The partitioner (part.h) binds the DEFINEs and puts each instrument's
 * DEFINE first in its partitions. Returns 0, or -1 with e: CHR_EX_DATA for
 * bad data ("name: byte N: what"), and for a partition that holds data and
 * may not be replaced or appended to; CHR_EX_SYS for a system error. */
int chr_archive_put(struct chr_archive *a, const struct chr_rec *rec, const char *name,
		    uint64_t off, struct chr_err *e);

/* Seal every segment, write the meta.json files and publish every
 * partition (all of them, or after a crash the next run finishes). With
 * opts.stage, publish nothing: keep the run as ROOT/.staging/staged-<ID>
 * (ID = opts.source), replacing an older staged run of that ID. Records of
 * no archive stream that were skipped are then reported (opts.warn).
 * Returns 0, or -1 with e. */
int chr_archive_commit(struct chr_archive *a, struct chr_err *e);

/* Publish the run staged (opts.stage) under source id o->source, as
 * chr_archive_commit would have at the end of that run: open the archive
 * at root, claim ROOT/.staging/staged-<ID>, check and publish. Returns the
 * writer (for chr_archive_parts, _totals, _ledger, _report; close it), or
 * NULL with e: CHR_EX_DATA when there is no staged
 * run of that id or a partition changed since it was staged. */
struct chr_archive *chr_archive_publish(const char *root, const struct chr_archive_opts *o,
					struct chr_err *e);

/* What one partition of this run did. */
struct chr_archive_part {
	const char *path;	/* "v1/<venue>/<symbol>/<date>/<stream>" */
	const char *venue, *symbol, *date, *stream;
	const char *action;	/* "new", "replaced", "appended" */
	uint64_t records;	/* written by this run, DEFINE included */
	uint64_t segments;	/* written by this run */
	int64_t ts_min, ts_max;	/* of this run's records */
};

/* Partitions of this run, in the order they were first written; *n is
 * set to their number. Valid until chr_archive_close. */
const struct chr_archive_part *chr_archive_parts(struct chr_archive *a, size_t *n);

/* Write chr_archive_report's text to path atomically. Returns 0, or -1
 * with e (CHR_EX_SYS). */
int chr_archive_report_file(struct chr_archive *a, const char *path, struct chr_err *e);

/* What the run did (chr-sink -v), through warn(ctx, message): a line per
 * partition, then the total. */
void chr_archive_tell(struct chr_archive *a, chr_warn_fn warn, void *ctx);

/* Records archived (DEFINE copies excluded) and records skipped. */
void chr_archive_totals(const struct chr_archive *a, uint64_t *archived, uint64_t *skipped);

/* The JSON summary of a committed run (chr-sink --report): totals and
 * every partition written. malloc'ed text ending with a newline, or NULL
 * when out of memory. */
char *chr_archive_report(struct chr_archive *a);

/* Write the import ledger entry of a published run of source id ID:
 * ROOT/imports/v1/<vendor>/<venue>/<symbol>/<date>/<ID>.json (names and
 * date of the first partition), atomically (the temp file lies in
 * ROOT/.staging), holding the report of chr_archive_report, the source id,
 * the import time and info (any JSON, e.g. the converter's report) as
 * "input"; other entries of ID under vendor are removed. A run that wrote
 * no partition (an import of no records) has its entry too, under
 * <vendor>/none/none/none/ ("none" is no date). Returns 0, 1 (nothing
 * done) when the run has no source id, or -1 with e (CHR_EX_SYS). */
int chr_archive_ledger(struct chr_archive *a, const char *vendor, struct json_t *info,
		       struct chr_err *e);

/* Free the writer; when not committed, remove its staging directory. */
void chr_archive_close(struct chr_archive *a);

/* ---- reading ------------------------------------------------------------- */

/* Call fn(dir, ctx) for every partition directory
 * "<root>/v1/<venue>/<symbol>/<date>/<stream>" that matches the given
 * names (NULL matches all), in sorted order. Stops when fn returns
 * non-zero and returns that; returns 0 when done, -1 with errno on a
 * read error. Missing directories are no error. */
int chr_archive_walk(const char *root, const char *venue, const char *symbol,
		     const char *stream, int (*fn)(const char *dir, void *ctx), void *ctx);

/* The tiers that may hold partitions of venue/symbol/stream (symbol NULL
 * or "" and stream "raw": the venue's raw partitions): t[0] the hot tier
 * (root), then those of ROOT/chr-tier.conf, then those ROOT/manifest.db
 * places partitions of that stream in (tiers named by chr-tier's flags),
 * each root once (by its inode; roots that do not exist are left out). A
 * manifest that cannot be read adds nothing (the config is still read). */
struct chr_archive_tiers {
	size_t n;
	struct {
		char name[65];
		char root[4096];
	} t[32];
};

/* Fill w for the archive at root. Returns 0, or -1 with e (a bad
 * chr-tier.conf: CHR_EX_DATA; out of memory: CHR_EX_SYS). */
int chr_archive_tiers(struct chr_archive_tiers *w, const char *root, const char *venue,
		      const char *symbol, const char *stream, struct chr_err *e);

/* chr_archive_tiers in two steps, for a caller that reads the manifest's
 * rows for venue/symbol/stream itself (chr_tier_parts_with: the manifest
 * opened and queried once): w set to the hot tier and those of
 * ROOT/chr-tier.conf (returns as chr_archive_tiers), then
 * chr_archive_tiers_row(row, w) for each row (a chr_manifest_query
 * callback; returns 0). */
struct chr_mrow;
int chr_archive_tiers_conf(struct chr_archive_tiers *w, const char *root, struct chr_err *e);
int chr_archive_tiers_row(const struct chr_mrow *r, void *w);

/* The partition rel ("v1/..." or "raw/v1/...") in the tiers of w: the
 * index of each tier whose "<root>/<rel>" is a directory, warmest first,
 * at most nmax into idx, each directory once. Returns how many (0 none),
 * or -1 with errno when one cannot be looked at. */
int chr_archive_where(const struct chr_archive_tiers *w, const char *rel, size_t *idx,
		      size_t nmax);

/* 1 when the partitions at dirs a and b hold the same segments (ids, raw
 * bytes and raw checksums of their meta.json, either format), 0 when not,
 * -1 with e when one cannot be read. */
int chr_archive_same(const char *a, const char *b, struct chr_err *e);

#endif
