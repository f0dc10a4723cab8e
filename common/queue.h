/* queue.h - the hot queue: a directory of preallocated, memory-mapped
 * segments (docs/format.md) with one writer that appends in place and any
 * number of readers that follow it through rolls without locks. */
#ifndef CHR_QUEUE_H
#define CHR_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "qpos.h"
#include "rec.h"

#define CHR_QUEUE_SEG_DEFAULT (64u << 20)	/* segment file size: 64 MiB */
#define CHR_QUEUE_CREATE 0x1			/* create the directory if missing */
#define CHR_QUEUE_RETAIN 0x2			/* the writer runs retention */

/* base_seq of a pre-created segment that has not become current yet */
#define CHR_QUEUE_NO_SEQ UINT64_MAX

/* The control file "control": 4096 bytes, mapped by the writer and the
 * readers (docs/format.md). */
#define CHR_QUEUE_CTL_MAGIC 0x4c544351u	/* "QCTL" */
#define CHR_QUEUE_SLEEPERS 64
struct chr_queue_ctl {
	uint32_t magic;
	uint16_t version;
	uint16_t reserved0;
	uint32_t wake;		/* futex word: +1 at each wake-up */
	uint32_t reserved1;
	uint64_t sleep_mask;	/* bit i: sleeper[i] is (about to be) asleep */
	uint64_t writer_pid;	/* the last writer, for messages */
	uint64_t writer_start;	/* its start time (chr_proc_start) */
	unsigned char reserved2[24];
	struct {
		uint32_t pid;	/* 0: free */
		uint32_t reserved;
		uint64_t start;
	} sleeper[CHR_QUEUE_SLEEPERS];
};
_Static_assert(sizeof(struct chr_queue_ctl) == 64 + 16 * CHR_QUEUE_SLEEPERS, "control layout");

/* A segment's index "NNNNNNNNN.idx": a header, then an entry for every
 * stride-th record of the segment (the first, stride+1-th, ...). */
#define CHR_QUEUE_IDX_MAGIC 0x58444951u	/* "QIDX" */
struct chr_queue_idx_entry {
	uint64_t seq;
	uint64_t offset;	/* of the record in the segment */
	int64_t ts;		/* of the record */
	int64_t ts_before;	/* largest ts of the records before it in the
				 * segment; INT64_MIN for the first */
};
struct chr_queue_idx {
	uint32_t magic;
	uint16_t version;
	uint16_t reserved0;
	uint32_t stride;
	uint32_t reserved1;
	uint64_t id;		/* of its segment */
	uint64_t count;		/* entries written; stored last (release) */
	unsigned char reserved2[32];
	struct chr_queue_idx_entry e[];
};
_Static_assert(sizeof(struct chr_queue_idx) == 64, "index header is 64 bytes");
_Static_assert(sizeof(struct chr_queue_idx_entry) == 32, "index entry is 32 bytes");

/* Durability: when the writer's data reaches the disk (it is in the page
 * cache, visible to every reader, as soon as it is committed). */
enum chr_queue_sync {
	CHR_SYNC_NEVER,		/* leave it to the kernel (/dev/shm) */
	CHR_SYNC_SEAL,		/* fsync a segment and its index once sealed */
	CHR_SYNC_EVERY,		/* also fsync the active segment every sync_ms */
};

#define CHR_QUEUE_IDX_STRIDE 1024	/* records per index entry */

struct chr_queue_opts {
	uint64_t seg_size;	/* bytes per new segment; 0 = default. A multiple
				 * of 4096, at least 4096 */
	int64_t roll_ns;	/* also roll at each multiple of this period
				 * since the epoch (UTC), at the first append
				 * after it; 0 = by size only */
	enum chr_queue_sync sync;
	uint32_t sync_ms;	/* CHR_SYNC_EVERY: the period */
	uint32_t idx_stride;	/* records per index entry; 0 = default. A
				 * power of two */
	int64_t retain_ns;	/* CHR_QUEUE_RETAIN: chr_queue_retain with
				 * this age after each roll and every second */
	int64_t grace_ns;	/* and this grace for readers not live */
	unsigned flags;		/* CHR_QUEUE_CREATE, CHR_QUEUE_RETAIN */
};

/* Parse a --fsync value: "never", "seal" or a period ("100ms", "1s"; as
 * chr_duration_parse, at least 1 ms). Returns 0, or -1 when it is none. */
int chr_queue_sync_parse(const char *s, enum chr_queue_sync *sync, uint32_t *ms);

/* The fields are read-only for callers. */
struct chr_queue_def;

struct chr_queue_writer {
	int dirfd, lockfd;
	uint64_t seg_size;
	unsigned char *base;	/* current segment, mapped read-write */
	uint64_t size;		/* its size */
	uint64_t step;		/* the step it is unmapped in (queue_int.h) */
	uint64_t id;		/* its id */
	uint64_t pos;		/* offset of the next record in it */
	uint64_t count;		/* records in it */
	uint64_t mark;		/* pos past which a commit has a step to do */
	int64_t ts_min, ts_max;
	uint64_t seq;		/* seq the next record gets */
	struct chr_queue_idx *idx;	/* the current segment's index, mapped */
	uint64_t idx_size;
	uint32_t stride;	/* records per index entry */
	struct chr_queue_ctl *ctl;	/* the control file, mapped */
	struct chr_queue_bg *bg;	/* the background thread's state */
	struct chr_rec *res;	/* reserved, not yet committed, or NULL */
	uint32_t res_len;
	struct chr_queue_def *defs;	/* the DEFINEs seen, repeated at each roll */
	size_t ndefs, defs_cap;
	struct chr_err e;	/* after -1: "dir/000000003.q: what is wrong",
				 * CHR_EX_DATA or CHR_EX_SYS */
	char dir[4096];
};

struct chr_queue_reader {
	int dirfd;
	struct chr_queue_ctl *ctl;	/* the control file, mapped, or NULL */
	uint64_t first_seq;	/* seq of the oldest record at open */
	const unsigned char *base;	/* current segment, mapped read-only */
	uint64_t size, id, pos;
	uint64_t dev, ino;	/* its file */
	struct chr_queue_map {	/* the two segments left last, mapped whole:
				 * retention's pool gives their files to
				 * later segments, whose pages are then
				 * mapped already */
		const unsigned char *base;
		uint64_t size, step, dev, ino;
	} kept[2];
	const unsigned char *old;	/* the one left before them, unmapped
					 * once idle */
	uint64_t old_size;
	uint64_t step, old_step;	/* the steps they are unmapped in */
	uint64_t want;		/* records below this seq are skipped */
	int64_t want_ts;	/* and those before the largest ts reaches this */
	int64_t ts_seen;	/* largest ts of the records passed in the
				 * segment, once a seek by time set it */
	int started;		/* a record was returned: seq must be +1 each */
	uint64_t pre;		/* offset from which to look for the DEFINEs
				 * before the seek's scan starts, or 0 */
	int defs;		/* seek_defines: DEFINEs the seek passes come too */
	uint64_t start;		/* our process's start time, for sleeping */
	uint64_t probed;	/* 1 + the id of the segment whose end was
				 * checked against the later segments */
	struct chr_err e;	/* after -1: "dir/000000003.q: byte 4096: bad crc",
				 * CHR_EX_DATA or CHR_EX_SYS */
	char dir[4096];
};

/* Open the queue in dir for appending, as its only writer (flock on
 * dir/lock, which the kernel releases when the writer dies), and start the
 * writer's background thread (pre-creating segments, unmapping, fsync by
 * policy, time rolls, retention). Recovers after a crash: the records after the last good one of
 * the current segment (len 0, failing chr_rec_check, out of seq order or
 * running past the segment) are zeroed, and seq continues; a segment
 * before the current one that lost its SEALED bit is sealed again when its
 * records reach the next segment's base_seq, else refused (CHR_EX_DATA,
 * naming it). opts may be NULL.
 * Returns 0, or -1 with errno and w->e: EBUSY when another
 * writer holds the lock, EINVAL for bad options, EPROTO (CHR_EX_DATA) for a
 * segment header that is not one. Undo with chr_queue_writer_close. */
int chr_queue_writer_open(struct chr_queue_writer *w, const char *dir,
			  const struct chr_queue_opts *opts);

/* Stop the background thread, fsync by policy, unmap, release the lock.
 * The current segment stays unsealed: the next writer continues it. In a
 * forked child it only frees the child's copy (the thread and the lock
 * stay the parent's). Returns 0. */
int chr_queue_writer_close(struct chr_queue_writer *w);

/* Seal the current segment now, as a roll does (the next one becomes
 * current, the DEFINE repeats at its head), when it holds a record that is
 * not such a repeat; else do nothing. For a writer whose input has ended,
 * so that what only sealed segments reach (chr-seal-copy) gets its last
 * records. An uncommitted reservation is forgotten. Returns 0, or -1 with
 * errno and w->e (the next segment cannot be made). */
int chr_queue_seal(struct chr_queue_writer *w);

/* Space for a record of len (64..16 MiB) header+payload bytes in the
 * mapped segment, zeroed, rolling to the next segment when it does not fit.
 * Fill every field but len (len is the commit word: chr_queue_commit writes
 * it), then chr_queue_commit; reserving again forgets an uncommitted
 * reservation. Returns NULL with errno EINVAL (len illegal or its span
 * larger than a segment can hold) or the errno of a failed roll (w->e). */
struct chr_rec *chr_queue_reserve(struct chr_queue_writer *w, uint32_t len);

/* Publish the record last reserved: set seq (and src_seq when 0), version,
 * the CRC, clear the REPEAT flag (repeats are the writer's own), and store
 * len last with release order. No syscall, except once
 * per segment, when it passes half full, to pre-create the next segment (a
 * failure there is retried at the roll). */
void chr_queue_commit(struct chr_queue_writer *w, struct chr_rec *rec);

/* Copy rec (rec->len bytes; its seq, src_seq and crc are replaced) into the
 * queue: reserve + copy + commit. Returns 0, or -1 with errno as
 * chr_queue_reserve. */
int chr_queue_append(struct chr_queue_writer *w, const struct chr_rec *rec);

/* The DEFINE of instrument (venue, market) that the queue of w holds (the
 * last one of those its writer repeats at each roll), or NULL. */
const struct chr_rec *chr_queue_define_of(const struct chr_queue_writer *w, uint16_t venue,
					  uint32_t market);

/* Make every record committed so far durable: fdatasync the sealed
 * segments (and indexes) the background thread has not synced yet and
 * msync the written part of the current one, so that a machine crash
 * after it returns loses none of them. Call it from the writer's thread
 * (as reserve and commit). With the policy CHR_SYNC_NEVER it does nothing
 * (the queue is not meant to survive a crash). Returns 0, or -1 with
 * errno and w->e (CHR_EX_SYS). */
int chr_queue_flush(struct chr_queue_writer *w);

/* Open the queue in dir for reading from the first record whose seq is at
 * least from_seq (records before it are skipped as they are read; 0 = from
 * the start). Returns 0, or -1 with errno and r->e: ENOENT when dir holds
 * no segment, EPROTO (r->e.status CHR_EX_DATA) for a bad segment header. */
int chr_queue_reader_open(struct chr_queue_reader *r, const char *dir, uint64_t from_seq);

/* Unmap and close. */
void chr_queue_reader_close(struct chr_queue_reader *r);

/* Next committed record, checked (chr_rec_check, seq +1 each). Returns 1
 * with *rec pointing into the shared mapping (valid until the next call),
 * 0 when nothing new is
 * committed yet (it never sleeps), -1 with r->e: a bad
 * record or segment is CHR_EX_DATA naming segment and byte offset (so is
 * a segment not sealed with a later one in use, and a missing segment
 * between present ones), a failure to open or map the next segment
 * CHR_EX_SYS. */
int chr_queue_next(struct chr_queue_reader *r, const struct chr_rec **rec);

/* 1 when chr_queue_next has something to do (a commit or a seal to
 * follow), else 0. No syscall. */
int chr_queue_ready(const struct chr_queue_reader *r);

/* Wait until chr_queue_next may have something: spin for about spin_us
 * microseconds, then sleep on the control file's futex (the writer wakes
 * sleepers at each commit) for at most timeout_ms (-1: no limit). Returns 1
 * when something may be there, 0 on timeout or a signal (EINTR). Without
 * a control file it polls every millisecond. */
int chr_queue_wait(struct chr_queue_reader *r, unsigned spin_us, int timeout_ms);

/* Position r at the first record whose seq is at least seq, or whose ts is
 * at least ts (the first record at which the largest ts seen so far reaches
 * ts), using the segment headers and indexes: at most one index stride of
 * records is read. Past the end, r waits at the end. Returns 0, or -1 with
 * r->e (the reader is then closed). */
int chr_queue_seek_seq(struct chr_queue_reader *r, uint64_t seq);
int chr_queue_seek_ts(struct chr_queue_reader *r, int64_t ts);

/* Position r after the last committed record. Returns 0 or -1 as above. */
int chr_queue_seek_end(struct chr_queue_reader *r);

/* After chr_queue_seek_end: the seq the next record will have. */
uint64_t chr_queue_end_seq(const struct chr_queue_reader *r);

/* After a seek: return first every DEFINE record of the segment the seek
 * chose that comes before the record sought (the repeats at its head,
 * docs/format.md "DEFINE repeats", and those after them), so that a reader
 * that starts mid-queue knows the names of the instruments of that
 * segment and of those before it (unless they were too many to repeat).
 * They come with their own, lower, seq. The seek then costs a scan of the
 * segment up to that record. */
void chr_queue_seek_defines(struct chr_queue_reader *r);

/* The grace of a registered reader that is not live: retention keeps what
 * it has not passed for this long after its last commit, so that a reader
 * restarted by a supervisor loses nothing (docs/format.md, "Readers"). */
#define CHR_QUEUE_GRACE_NS (60 * INT64_C(1000000000))

/* Delete the sealed segments (with their indexes) of the queue in dir,
 * oldest first, while all of these hold: it is not the newest segment, its
 * newest record is older than now - age_ns, and the position of every
 * registered reader that is live, or committed less than grace_ns ago, is
 * past its last record. Stops at the first segment that must stay, so what
 * is left is contiguous. Returns the number removed, or -1 with e
 * (CHR_EX_SYS). */
ssize_t chr_queue_retain(const char *dir, int64_t age_ns, int64_t grace_ns, struct chr_err *e);

/* Segment id of the queue in dir, with a header that is not SEALED: is it
 * the current segment, or one that a later segment shows should have been
 * sealed (docs/format.md, "Segments in a queue")? Returns 0 when it may be
 * current, 1 when it breaks the queue's rules (e: CHR_EX_DATA, "dir/
 * 000000003.q: not sealed, but 000000004.q follows it"), -1 with e when
 * the directory cannot be read. */
int chr_queue_unsealed_check(const char *dir, uint64_t id, struct chr_err *e);

#endif
