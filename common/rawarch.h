/* rawarch.h - the raw archive (docs/archive.md, "The raw archive"): the
 * sealed segments of a queue copied whole, plain or compressed, into
 * ROOT/raw/v1/<venue>/<date>/raw/, with the partition's meta.json. */
#ifndef CHR_RAWARCH_H
#define CHR_RAWARCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "meta.h"
#include "rec.h"
#include "staging.h"
#include "tm.h"

/* "<root>/raw/v1/<venue>/<date>/raw" into buf. Returns 0, or -1 with errno
 * ENAMETOOLONG. The names are not checked here. */
int chr_raw_path(char *buf, size_t n, const char *root, const char *venue, const char *date);

/* Check the sealed segment image seg[0..len) (len >= its end): a valid,
 * sealed header whose id is id, then every record to end (length, CRC,
 * layout, seq = base_seq + its index), count and the ts range matching the
 * header. Returns 0, or -1 with e ("name: byte N: what", CHR_EX_DATA). */
int chr_rawseg_check(const void *seg, size_t len, uint64_t id, const char *name,
		     struct chr_err *e);

/* ---- the sealed segments of a queue -------------------------------------- */

/* A segment of a queue, mapped read-only. */
struct chr_qseg {
	uint64_t id;
	const unsigned char *base;	/* the whole file, or NULL */
	size_t size;
	struct chr_seg h;		/* its header, loaded after SEALED (acquire) */
	int64_t mtime;			/* of the file, ns since the epoch */
	char path[4096];		/* "<dir>/NNNNNNNNN.q" */
};

/* The ids of the segment files of the queue in dir (names of 9 digits and
 * ".q"), sorted, malloc'ed into *ids. Returns their number, or -1 with
 * errno. */
ssize_t chr_qseg_list(const char *dir, uint64_t **ids);

/* 1 when segment id of the queue in dir is there (its file exists), else 0. */
int chr_qseg_present(const char *dir, uint64_t id);

/* Map segment id of the queue in dir. Returns 1 when it is sealed (q->h
 * checked: a valid header of that id), 0 when it is not (the current
 * segment or a spare; q is unmapped), or -1 with errno and e (ENOENT: the
 * file is gone; EPROTO, CHR_EX_DATA: a header that is not one of that id,
 * or a segment not sealed that a later segment shows should be, see
 * chr_queue_unsealed_check). */
int chr_qseg_map(struct chr_qseg *q, const char *dir, uint64_t id, struct chr_err *e);

void chr_qseg_unmap(struct chr_qseg *q);

/* ---- the raw archiver (chr-seal-copy) -------------------------------------- */

struct chr_sealer;

struct chr_sealer_opts {
	int zstd;	/* write NNNNNNNNN.q.zst with chr_zsq_write */
	int level;	/* its zstd level */
	chr_warn_fn warn;	/* what clean-up reports (staging.h), or NULL */
	void *warn_ctx;
};

/* What chr_sealer_put did. */
enum { CHR_SEAL_COPIED, CHR_SEAL_ADOPTED, CHR_SEAL_PRESENT };
struct chr_seal_result {
	int action;		/* COPIED, ADOPTED (the file was in place: verified,
				 * added to meta.json), PRESENT (meta.json lists it) */
	char rel[512];		/* "raw/v1/<venue>/<date>/raw/NNNNNNNNN.q[.zst]" */
	struct chr_rawseg seg;
};

/* Open the raw archive at root (created as needed) for the venue (a name
 * chr_name_check accepts): under the archive lock, clean ROOT/.staging
 * (chr_staging_clean) and make a staging directory of this run. Returns
 * the sealer, or NULL with e (CHR_EX_USAGE for a bad root or venue name,
 * else CHR_EX_SYS). */
struct chr_sealer *chr_sealer_open(const char *root, const char *venue,
				   const struct chr_sealer_opts *o, struct chr_err *e);

/* Archive the sealed queue segment q: check every record, copy its first
 * `end` bytes (or compress them) into the staging directory, sync, then
 * under the archive lock move the file into its partition (a new
 * partition: the whole directory, with its meta.json) and publish the new
 * meta.json, syncing each directory. The partition's date is that of the
 * segment's ts_min, or of the file's mtime for a segment without records.
 * A segment meta.json lists already (same base_seq, count and
 * raw_checksum) is left: PRESENT; a file in place that meta.json does not
 * list (a run killed before its update) is verified and adopted. Returns
 * 0 when the segment is durable in the archive, or -1 with e:
 * CHR_EX_DATA for a bad segment, a file in place that differs,
 * and a partition that left ROOT (moved to another tier by chr-tier);
 * CHR_EX_SYS for a system error. */
int chr_sealer_put(struct chr_sealer *s, const struct chr_qseg *q, struct chr_seal_result *res,
		   struct chr_err *e);

/* Remove the staging directory and free the sealer. */
void chr_sealer_close(struct chr_sealer *s);

#endif
