/* meta.h - a partition's meta.json (docs/archive.md): its contents, the
 * one reader and writer of it, and the JSON helpers of the archive's other
 * files (rawarch.c, manifest.c). */
#ifndef CHR_META_H
#define CHR_META_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "rec.h"
#include "segw.h"
#include "tm.h"

struct json_t;	/* jansson */

/* Member k of the JSON object o as a non-negative integer, an integer, or
 * a string copied into buf (n bytes, NUL included). Returns 0, or -1 when
 * it is missing, of another type, negative (u64) or too long (str); *v and
 * buf are then untouched. */
int chr_json_u64(struct json_t *o, const char *k, uint64_t *v);
int chr_json_i64(struct json_t *o, const char *k, int64_t *v);
int chr_json_str(struct json_t *o, const char *k, char *buf, size_t n);

/* Set member k of o to v (NULL: out of memory), v's reference taken.
 * Returns 0, or -1. */
int chr_json_set(struct json_t *o, const char *k, struct json_t *v);

/* o as text (indent 2, members in order, a final newline), malloc'ed, o
 * released; NULL when o is NULL or out of memory. */
char *chr_json_text(struct json_t *o);

/* The JSON object in the file at path (a new reference), or NULL with e:
 * CHR_EX_SYS when it cannot be read, CHR_EX_DATA when it is not JSON
 * ("path:LINE: what") or not an object. */
struct json_t *chr_json_load_object(const char *path, struct chr_err *e);

/* "xxh3-128:<hex>" of "<dir>/meta.json" into sum (48 bytes): what
 * chr_partinfo_load gives as meta_checksum, to see whether a partition changed
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

/* Read "<dir>/meta.json". Returns 0; -1 with e and errno ENOENT when
 * there is none, EPROTO (and e CHR_EX_DATA) when it is not a valid
 * meta.json, else the system error (e CHR_EX_SYS, as for ENOENT). */
int chr_meta_load(const char *dir, struct chr_meta *m, struct chr_err *e);

/* The meta.json text of m (malloc'ed, ends with a newline), or NULL when
 * out of memory. Deterministic: the same meta gives the same bytes. */
char *chr_meta_dump(const struct chr_meta *m);

/* Add n records of type to m's counts. Returns 0, or -1 when more than
 * CHR_META_TYPES types occur. */
int chr_meta_count(struct chr_meta *m, uint16_t type, uint64_t n);

/* Add a source id to m (kept sorted, without duplicates). Returns 0, or
 * -1 when out of memory. */
int chr_meta_add_source(struct chr_meta *m, const char *id);

/* ---- raw partitions (chronicle-raw-partition) ---------------------------- */

#define CHR_RAW_NAME_MAX 64	/* a venue: a name chr_name_check accepts */

/* What meta.json says of one segment of a raw partition. */
struct chr_rawseg {
	uint64_t id, base_seq, count;
	uint64_t bytes;		/* of the file */
	int64_t ts_min, ts_max;	/* of its header: 0 and 0 without records */
	char checksum[48];	/* "xxh3-128:<hex>" of the file */
	uint64_t raw_bytes;	/* of the segment (its end); = bytes when plain */
	char raw_checksum[48];	/* of the segment's bytes; = checksum when plain */
	int compressed;		/* the file is NNNNNNNNN.q.zst (chr_zsq_write) */
};

/* The contents of a raw partition's meta.json. */
struct chr_rawmeta {
	char venue[CHR_RAW_NAME_MAX + 1], date[11];
	char ingest_time[CHR_TIME_BUF];	/* UTC text of the last update */
	uint64_t records;		/* over all segments */
	int64_t ts_min, ts_max;		/* over the segments that hold records */
	struct chr_rawseg *segs;	/* in id order */
	size_t nsegs;
};

/* Free what m owns (not the struct). */
void chr_rawmeta_free(struct chr_rawmeta *m);

/* Read "<dir>/meta.json" of a raw partition. Returns 0; -1 with e and
 * errno as chr_meta_load (EPROTO: not a valid raw partition meta.json). */
int chr_rawmeta_load(const char *dir, struct chr_rawmeta *m, struct chr_err *e);

/* The meta.json text of m (malloc'ed, jansson, indent 2, ends with a
 * newline), or NULL when out of memory. */
char *chr_rawmeta_dump(const struct chr_rawmeta *m);

/* The entry of segment id in m, or NULL. */
const struct chr_rawseg *chr_rawmeta_find(const struct chr_rawmeta *m, uint64_t id);

/* Add segment s to m in id order and update records and the time range
 * (over the segments with records; unchanged when none has any). Returns
 * 0, or -1 with errno EEXIST (m lists the id) or ENOMEM. */
int chr_rawmeta_add(struct chr_rawmeta *m, const struct chr_rawseg *s);

/* ---- either format, checked (the tiers, the manifest) --------------------- */

/* One segment of a partition, as its meta.json says. */
struct chr_pseg {
	uint64_t id, first_seq, last_seq, count;	/* last_seq valid when count > 0 */
	uint64_t bytes, raw_bytes;	/* of the file; of the segment (= bytes when plain) */
	int64_t ts_min, ts_max;
	int sealed, compressed;
	char file[32];			/* "NNNNNNNNN.q" or "NNNNNNNNN.q.zst" */
	char checksum[48];		/* "xxh3-128:<hex>" of the file */
	char raw_checksum[48];		/* of the segment bytes (= checksum when plain) */
	struct chr_snapref snaps[CHR_SEG_SNAPS];	/* where a snapshot search may start */
	size_t nsnaps;
};

/* A partition directory's meta.json, archive ("chronicle-archive-partition")
 * or raw ("chronicle-raw-partition"). */
struct chr_partinfo {
	int raw;
	char venue[33], symbol[65];	/* symbol "" for raw */
	char date[11], stream[8];
	char rel[256];		/* "v1/<venue>/<symbol>/<date>/<stream>" or "raw/v1/<venue>/<date>/raw" */
	int64_t ts_min, ts_max;
	char meta_checksum[48];	/* of meta.json's bytes */
	struct chr_pseg *segs;	/* in id order */
	size_t nsegs;
};

/* Read "<dir>/meta.json" of either format. Names, date and segment file
 * names are checked (chr_name_check, YYYY-MM-DD, NNNNNNNNN.q[.zst]) before
 * anything uses them as paths; members a format lacks take defaults
 * (first_seq/last_seq from base_seq and count, raw_* from the plain
 * members, sealed true). Returns 0; -1 with e and errno as chr_meta_load
 * (ENOENT: no meta.json; EPROTO: not a valid one). */
int chr_partinfo_load(const char *dir, struct chr_partinfo *p, struct chr_err *e);
void chr_partinfo_free(struct chr_partinfo *p);

/* Check what "<dir>/meta.json" (p, as chr_partinfo_load read it) says
 * against the segments' own headers (a compressed segment's: the copy its
 * seek table keeps): per segment id, first_seq, count, last_seq, ts_min,
 * ts_max and raw_bytes (the header's end); for the partition records,
 * first_seq, last_seq, ts_min, ts_max, time_min and time_max, where
 * meta.json has them. Returns 0; 1 when meta.json changed since p was read
 * (nothing checked); -1 with e: CHR_EX_DATA naming meta.json and the
 * member, or a segment whose header is not valid; CHR_EX_SYS when a file
 * cannot be read. */
int chr_partinfo_check(const char *dir, const struct chr_partinfo *p, struct chr_err *e);

#endif
