/* archive.h - the archive (docs/archive.md): sealed segment files, the
 * meta.json of a partition, the staging/publish protocol, the archive
 * writer behind chr-sink --archive, and helpers to list what is there. */
#ifndef CHR_ARCHIVE_H
#define CHR_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "rec.h"

#define CHR_ARCHIVE_SEG_SIZE (64u << 20)	/* default --segment-size */
#define CHR_ARCHIVE_ERR 1024
#define CHR_STAGED_MAX_AGE 86400	/* seconds a staged run waits to be published */

struct json_t;	/* jansson */

/* ---- segment files ---------------------------------------------------- */

/* What meta.json says of one sealed segment. */
struct chr_seginfo {
	uint64_t id, base_seq, count, bytes;
	int64_t ts_min, ts_max;
	char checksum[48];	/* "xxh3-128:<32 hex digits>" of the file's bytes */
};

/* A segment being written: "<dir>/NNNNNNNNN.q.tmp", sealed into
 * "<dir>/NNNNNNNNN.q". Records are buffered; the file is opened lazily
 * and may be closed between writes (chr_segw_close_fd) to bound the
 * number of open files. */
struct chr_segw {
	char path[4096];	/* the .q.tmp path */
	int fd;			/* -1 while closed */
	unsigned char *buf;
	size_t cap, n;
	struct chr_seginfo info;	/* bytes = current end */
};

/* Start segment id with base_seq in dir (the file is not created until
 * the first flush). Returns 0, or -1 with errno (ENOMEM, ENAMETOOLONG). */
int chr_segw_open(struct chr_segw *w, const char *dir, uint64_t id, uint64_t base_seq);

/* Append a copy of rec (a checked record) with seq set to base_seq +
 * count, re-sealed. Returns 0, or -1 with errno. */
int chr_segw_put(struct chr_segw *w, const struct chr_rec *rec);

/* Seal: write the final header (end, count, ts range, crc, SEALED),
 * truncate to end, fsync, rename to NNNNNNNNN.q, hash the file into
 * info.checksum, free the buffer. Returns 0, or -1 with errno. */
int chr_segw_seal(struct chr_segw *w);

/* "xxh3-128:<hex>" of the file at path into out (48 bytes), and its size.
 * Returns 0, or -1 with errno. */
int chr_file_xxh128(const char *path, char *out, uint64_t *size);

/* "xxh3-128:<hex>" of buf[0..n) into out (48 bytes). */
void chr_mem_xxh128(const void *buf, size_t n, char *out);

/* The same of the segment bytes that the compressed segment at path holds
 * (what chr_file_xxh128 gives for the plain segment), and their size.
 * Returns 0, or -1 with a message in err and *status as chr_zsq_open. */
int chr_zsq_xxh128(const char *path, char *out, uint64_t *size, char *err, size_t errlen,
		   int *status);

/* ---- meta.json ---------------------------------------------------------- */

/* Member k of the JSON object o as a non-negative integer, an integer, or
 * a string copied into buf (n bytes, NUL included). Returns 0, or -1 when
 * it is missing, of another type, negative (u64) or too long (str); *v and
 * buf are then untouched. */
int chr_json_u64(struct json_t *o, const char *k, uint64_t *v);
int chr_json_i64(struct json_t *o, const char *k, int64_t *v);
int chr_json_str(struct json_t *o, const char *k, char *buf, size_t n);

/* "xxh3-128:<hex>" of "<dir>/meta.json" into sum (48 bytes): what
 * chr_part_load gives as meta_checksum, to see whether a partition changed
 * since it was read. Returns 0, or -1 with errno. */
int chr_meta_checksum(const char *dir, char *sum);

#define CHR_META_TYPES 16

/* The contents of a partition's meta.json. */
struct chr_meta {
	char venue[CHR_VENUE_MAX + 1], symbol[CHR_SYMBOL_MAX + 1];
	char date[11], stream[8];
	uint16_t venue_id;
	uint32_t market_id;
	uint64_t records;		/* all records, the leading DEFINE included */
	uint64_t first_seq, last_seq;	/* valid when records > 0 */
	int64_t ts_min, ts_max;
	struct {
		uint16_t type;
		uint64_t n;
	} counts[CHR_META_TYPES];	/* records per type, by type */
	size_t ncounts;
	char **sources;			/* import source ids, sorted */
	size_t nsources;
	struct chr_seginfo *segs;	/* in id order */
	size_t nsegs;
};

/* Free what a chr_meta owns (not the struct). */
void chr_meta_free(struct chr_meta *m);

/* Read "<dir>/meta.json". Returns 0; -1 with a message in err (errlen
 * bytes) and errno ENOENT when there is none, EPROTO when it is not a
 * valid meta.json, else the system error. */
int chr_meta_load(const char *dir, struct chr_meta *m, char *err, size_t errlen);

/* The meta.json text of m (malloc'ed, ends with a newline), or NULL when
 * out of memory. Deterministic: the same meta gives the same bytes. */
char *chr_meta_dump(const struct chr_meta *m);

/* Add n records of type to m's counts. Returns 0, or -1 when more than
 * CHR_META_TYPES types occur. */
int chr_meta_count(struct chr_meta *m, uint16_t type, uint64_t n);

/* Add a source id to m (kept sorted, without duplicates). Returns 0, or
 * -1 when out of memory. */
int chr_meta_add_source(struct chr_meta *m, const char *id);

/* ---- staging and publication ------------------------------------------ */

/* Remove the entries of ROOT/.staging of dead runs: a run's directory
 * is dead when nobody holds flock on it (its run holds it while it lives).
 * The publication a dead run had committed to (its COMMIT journal) is
 * finished first, partition by partition, where the place still holds
 * what the run found there. Staged runs ROOT/.staging/staged-<ID> not
 * touched for CHR_STAGED_MAX_AGE seconds are removed (renamed away
 * first). The caller holds the archive lock (flock of ROOT/.staging/lock).
 * Returns the number of entries removed, or -1 with a message. */
int chr_staging_clean(const char *root, char *err, size_t errlen);

/* rm -rf path (no symlinks followed). Returns 0, or -1 with errno. */
int chr_remove_tree(const char *path);

/* Take the archive lock: flock(LOCK_EX) of ROOT/.staging/lock (created,
 * with ROOT/.staging, as needed), waiting for it. Returns the lock's fd
 * (release by closing it), or -1 with errno. */
int chr_archive_lock(const char *root);

/* A new staging directory "ROOT/.staging/<pid>-XXXXXX" into path
 * (PATH_MAX bytes), locked for as long as the returned fd stays open, so
 * that chr_staging_clean leaves it alone while its run lives and removes
 * it after. Call it holding the archive lock. Returns the fd, or -1 with
 * errno. */
int chr_staging_make(const char *root, char *path);

/* chr_staging_make in any tier: a new directory
 * "ROOT/.staging/<prefix>XXXXXX" (prefix NULL: "<pid>-") into path
 * (PATH_MAX bytes), ROOT/.staging created as needed, locked for as long
 * as the returned fd stays open. Returns the fd, or -1 with errno. */
int chr_staging_dir(const char *root, const char *prefix, char *path);

/* flock(LOCK_EX | LOCK_NB) of the directory at path (no symlink
 * followed): how a run marks its staging directory as alive. Returns the
 * fd (release by closing it), or -1 with errno (EWOULDBLOCK: another
 * holds it; ENOTDIR: not a directory). */
int chr_lock_dir(const char *path);

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
};

/* Open the archive at root for writing (creating root), clean stale
 * staging directories. Returns the writer, or NULL with a message in err
 * and *status (CHR_EX_SYS, or CHR_EX_USAGE for bad options). */
struct chr_archive *chr_archive_open(const char *root, const struct chr_archive_opts *o,
				     char *err, size_t errlen, int *status);

/* Archive one checked record read from input name at byte offset off.
 * DEFINE records bind names; records of a stream go to their partition;
 * the others (HEARTBEAT, application types) are counted as skipped.
 * Returns 0, or -1 with a message in err and *status: CHR_EX_DATA for bad
 * data ("name: byte N: what"), and for a partition that holds data and
 * may not be replaced or appended to; CHR_EX_SYS for a system error. */
int chr_archive_put(struct chr_archive *a, const struct chr_rec *rec, const char *name,
		    uint64_t off, char *err, size_t errlen, int *status);

/* Seal every segment, write the meta.json files and publish every
 * partition (all of them, or after a crash the next run finishes). With
 * opts.stage, publish nothing: keep the run as ROOT/.staging/staged-<ID>
 * (ID = opts.source), replacing an older staged run of that ID.
 * Returns 0, or -1 with a message and *status. */
int chr_archive_commit(struct chr_archive *a, char *err, size_t errlen, int *status);

/* Publish the run staged (opts.stage) under source id o->source, as
 * chr_archive_commit would have at the end of that run: open the archive
 * at root, claim ROOT/.staging/staged-<ID>, check and publish. Returns the
 * writer (for chr_archive_parts, _totals, _ledger, _report; close it), or
 * NULL with a message and *status: CHR_EX_DATA when there is no staged
 * run of that id or a partition changed since it was staged. */
struct chr_archive *chr_archive_publish(const char *root, const struct chr_archive_opts *o,
					char *err, size_t errlen, int *status);

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
 * no partition has no entry: returns 1. Returns 0, or -1 with a message
 * (*status CHR_EX_SYS). */
int chr_archive_ledger(struct chr_archive *a, const char *vendor, struct json_t *info,
		       char *err, size_t errlen, int *status);

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

#endif
