/* queue_int.h - what the parts of the queue share and nobody else uses:
 * segment, index and control files (queue_seg.c), the writer's background
 * thread and retention (queue_bg.c), for the writer (queue_write.c) and
 * the readers (queue_read.c). Not an API. */
#ifndef CHR_QUEUE_INT_H
#define CHR_QUEUE_INT_H

#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "queue.h"
#include "segdir.h"


/* ---- the record CRC on the append and read paths ----
 * chr_rec_crc of the record r of len bytes (its len word need not be
 * stored yet), inline: header bytes 4..59, then the payload, by
 * chr_crc32c_short; payloads longer than CHR_CRC_SHORT by chr_crc32c. */
static inline uint32_t chr_q_crc(const struct chr_rec *r, uint32_t len)
{
	const unsigned char *p = (const unsigned char *)r;
	uint32_t c = chr_crc32c_short(~0u, p + 4, 56);
	size_t n = len - CHR_HDR_SIZE;

	if (n > CHR_CRC_SHORT)
		return chr_crc32c(~c, p + CHR_HDR_SIZE, n);
	return ~chr_crc32c_short(c, p + CHR_HDR_SIZE, n);
}

/* ---- queue_seg.c: segment, index and control files ---- */

/* "NNNNNNNNN.q" and "NNNNNNNNN.idx" of segment id. */
void chr_q_seg_name(char buf[32], uint64_t id);
void chr_q_idx_name(char buf[32], uint64_t id);

/* Open segment id read-write or read-only and fstat it into *st. Returns
 * the descriptor, or -1 with errno (EPROTO when the file cannot be a
 * segment: its size). */
int chr_q_seg_open(int dirfd, uint64_t id, int rw, struct stat *st);
/* Map segment id: read-write or read-only, its whole file, and set *step
 * (unless NULL) to the step in which to unmap it (chr_q_step). Returns 0,
 * or -1 with errno (EPROTO when the file cannot be a segment). */
int chr_q_seg_map(int dirfd, uint64_t id, int rw, unsigned char **map, uint64_t *size,
		  uint64_t *step);

/* Why the header of segment id is not one, or NULL. */
const char *chr_q_seg_bad(const unsigned char *map, uint64_t id);

/* The header of segment id, when it is one; else -1 with errno. */
int chr_q_seg_head(int dirfd, uint64_t id, struct chr_seg *h);

/* Bytes of the index of a segment of seg_size bytes: an entry for every
 * stride records it can hold, rounded up to a page. */
uint64_t chr_q_idx_bytes(uint64_t seg_size, uint32_t stride);

/* Map the index of segment id, read-write or read-only. Returns NULL (errno
 * set) when it is missing or not an index of that segment. */
struct chr_queue_idx *chr_q_idx_map(int dirfd, uint64_t id, int rw, uint64_t *size);

/* Entries of x that fit its file, as far as written. */
static inline uint64_t chr_q_idx_count(const struct chr_queue_idx *x, uint64_t size)
{
	uint64_t n = __atomic_load_n(&x->count, __ATOMIC_ACQUIRE);
	uint64_t cap = (size - sizeof *x) / sizeof x->e[0];

	return n < cap ? n : cap;
}

/* A mapped segment with its index. */
struct qseg {
	unsigned char *base;
	uint64_t size;
	uint64_t step;		/* chr_q_step of the file, or 0: the default */
	struct chr_queue_idx *idx;
	uint64_t idx_size;
};

/* Unmap both (either may be missing) and clear s. */
void chr_q_unmap(struct qseg *s);
/* Segments are made and unmapped in steps (queue_seg.c). The background
 * thread makes the next one ahead of the roll, and unmaps the one before,
 * with pace = &b->pace: between steps it pauses, three times as long as
 * the step took (at most 1 ms), so that a segment's 10 ms or so of page
 * zeroing takes a quarter of a CPU in short turns instead of stalling the
 * processes of a pipeline on a machine of few cores; unless hurry is set
 * (a roll sets it when no spare is left, else clears it; the writer sets
 * it half and three quarters through its segment while no spare is made,
 * or when it waits for the next, and so does a stop), or a sync is
 * due (the thread's own due, CLOCK_REALTIME ns: the work is finished at
 * once so that the sync is not late). pace NULL: no pauses. */
struct qpace {
	int hurry;		/* atomic */
	int64_t due;		/* INT64_MAX: no sync due */
};

/* The pause after a step; *t: when the step began (CLOCK_MONOTONIC ns;
 * the caller sets it before the first), set to when the next begins. */
void chr_q_step_pause(const struct qpace *pace, int64_t *t);
void chr_q_unmap_paced(struct qseg *s, const struct qpace *pace);

/* Map size bytes of fd read-write and shared, every page in memory (in
 * steps), not dirtied: on tmpfs the first writes do not fault, on a disk
 * file system a segment is not written out as zeros. *step: the step the
 * mapping is populated and to be unmapped in (chr_q_step). NULL with errno. */
void *chr_q_map_populated(int fd, uint64_t size, const struct qpace *pace, uint64_t *step);
/* The step in which to populate and unmap a mapping of fd: a huge page
 * (2 MiB) on a tmpfs mounted with huge pages (unmapping part of one splits
 * its mapping into small pages), 256 KiB otherwise. */
uint64_t chr_q_step(int fd);

/* Write a new file name of size bytes, starting with the bytes of head,
 * preallocated (in steps): as name.tmp, fsynced, renamed into place, the
 * directory fsynced. Returns the open descriptor, or -1 with errno. */
int chr_q_publish(int dirfd, const char *name, uint64_t size, const void *head, size_t n,
		  const struct qpace *pace);

/* Create the (empty) index of segment id, for segments of seg_size bytes,
 * and map it read-write into s. Returns 0, or -1 with errno. */
int chr_q_idx_create(int dirfd, uint64_t id, uint64_t seg_size, uint32_t stride, struct qseg *s);

/* Create segment id (its index first) and map both read-write, populated
 * (chr_q_map_populated). Returns 0, or -1 with e (CHR_EX_SYS). */
int chr_q_seg_create(int dirfd, const char *dir, uint64_t seg_size, uint32_t stride,
		     uint64_t id, uint64_t base_seq, const struct qpace *pace, struct qseg *s,
		     struct chr_err *e);

/* The segments of the queue in dirfd, in id order (chr_segdir_list; with
 * rm_tmp, a crashed writer's leftovers are removed). Returns the count, or
 * -1 with errno. */
ssize_t chr_q_list(int dirfd, const char *dir, int rm_tmp, struct chr_segdir_ent **ids);

/* chr_queue_unsealed_check on the queue open in dirfd. */
int chr_q_unsealed_check(int dirfd, const char *dir, uint64_t id, struct chr_err *e);

#define CTL_SIZE 4096
_Static_assert(sizeof(struct chr_queue_ctl) <= CTL_SIZE, "control fits a page");

/* Map dir's control file; the writer (create) makes or repairs it. NULL
 * when missing or not one (errno). */
struct chr_queue_ctl *chr_q_ctl_map(int dirfd, int create);

/* Wake every sleeping reader, taking their bits of sleep_mask back (they
 * set them again before they sleep again). */
void chr_q_wake(struct chr_queue_ctl *c);

/* Free the sleeper slots of processes that died asleep, so that the writer
 * stops waking them. */
void chr_q_reap_sleepers(struct chr_queue_ctl *c);

static inline long futex(uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

static inline int64_t now_ns(clockid_t clk)
{
	struct timespec t;

	clock_gettime(clk, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* ---- queue_bg.c: the writer's background thread, retention ----
 * The thread keeps syscalls off the append path: it pre-creates the next
 * segment, unmaps the old one after a roll, fsyncs by policy, marks a time
 * roll due and frees the slots of dead sleepers. */

/* Spares the thread keeps made ahead: one, two once the writer had to
 * wait for one at a roll (it is fast: the next segments are needed sooner
 * than one can be made while it writes). */
#define CHR_Q_AHEAD_MAX 2

struct chr_queue_bg {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	int busy;		/* the thread is making a spare */
	struct qpace pace;	/* hurry: the writer needs it soon */
	int hurried;		/* the writer's own: set hurry for this roll */
	uint64_t next_id, next_seg_size;	/* the spare to make next */
	uint32_t stride;
	struct qseg ready[CHR_Q_AHEAD_MAX];	/* made, ids next_id - nready
						 * on, not yet current */
	int nready;		/* atomic: the writer peeks at it */
	int depth;		/* spares to keep made (1..CHR_Q_AHEAD_MAX) */
	int half;		/* the writer is past half of its segment */
	int failed;		/* making one failed: the roll tries itself
				 * (and says why) */
	struct qseg old[4];	/* left by rolls, to unmap */
	uint64_t sealed;	/* ids below are sealed ... */
	uint64_t synced;	/* ... and these fsynced (sync != never) */
	uint64_t cur;		/* id of the current segment */
	int64_t seg_start;	/* when it became current, ns (time rolls) */
	int roll_due;		/* read by the writer without the lock */
	enum chr_queue_sync sync;
	uint32_t sync_ms;
	int64_t roll_ns;
	int retain;		/* run retention ... */
	int64_t retain_ns;	/* with this age */
	int64_t grace_ns;	/* and this grace for readers not live */
	int retain_due;		/* now: a segment was sealed */
	uint64_t pool[2];	/* segments removed by retention, kept as
				 * ".recycle.ID" to be the next ones: their
				 * pages need no fresh memory */
	int npool;
	int dirfd;
	const char *dir;
	struct chr_queue_ctl *ctl;
	pid_t pid;		/* the process the thread runs in */
};

/* fsync segment id and its index (they may be gone: retention). Returns
 * 0, or -1 with errno when one could not be opened or synced. */
int chr_q_sync_seg(int dirfd, uint64_t id);

/* Start w's thread with the options o (may be NULL), and the next segment
 * already made (spare->base NULL: none; taken over on success); it keeps
 * the next segments made ahead from now on. Returns 0, or -1 with errno. */
int chr_q_bg_start(struct chr_queue_writer *w, const struct chr_queue_opts *o,
		   struct qseg *spare);

/* Stop and free w's thread, fsync by policy; in a forked child only free
 * the child's copy. */
void chr_q_bg_stop(struct chr_queue_writer *w);

/* The writer is half or three quarters through its segment and the next
 * is not made yet: the thread makes it without pauses. */
void chr_q_hurry(struct chr_queue_writer *w);

/* The writer is half through its segment (once a segment): with
 * retention, the segment sealed at the last roll may be reused now. */
void chr_q_half(struct chr_queue_writer *w);

/* The next segment (w->id + 1), made ahead: from the thread (waiting while
 * it works on it, and keeping one more ahead from then on), else made
 * here. Returns 0, or -1 with w->e. */
int chr_q_take_next(struct chr_queue_writer *w, struct qseg *s);

/* Retention; a removed segment goes to keep() first, which may take it
 * (rename it for reuse) instead of it being unlinked. e may be NULL. */
ssize_t chr_q_retain(const char *dir, int64_t age_ns, int64_t grace_ns, struct chr_err *e,
		     int (*keep)(void *ctx, int dirfd, uint64_t id), void *ctx);

#endif
