/* qpos.h - named reader positions of a queue (QUEUE/readers/NAME) and
 * process identity by pid and start time. Below the queue: it knows the
 * directory's readers/ and nothing of its segments; retention reads it. */
#ifndef CHR_QPOS_H
#define CHR_QPOS_H

#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* A named reader's persisted position, QUEUE/readers/NAME: the next seq it
 * will read, written atomically by commits (two slots with a generation and
 * a CRC; docs/format.md), with the reader's pid, process start time and a
 * heartbeat. A reader is live while a process holds the file open: an
 * open file description lock, released by the kernel when it dies. */
struct chr_queue_pos {
	int fd;
	int sync;		/* fdatasync after each commit */
	uint64_t seq;		/* committed: the next seq to read */
	uint64_t gen;		/* of the last slot written */
	struct chr_err e;	/* after -1 */
	char name[256];
	char path[4096];	/* DIR/readers/NAME, for messages */
};

#define CHR_QUEUE_POS_SYNC 0x1	/* commits reach the disk before returning */

/* Register (create readers/NAME at seq 0 when missing, creating readers/)
 * or resume the named reader name of the queue in dir, and hold it: a second
 * process opening the same name gets EBUSY ("reader 'x' is in use by pid N").
 * name must pass chr_name_check. Returns 0, or -1 with errno and p->e
 * (EPROTO, CHR_EX_DATA: neither slot is valid). */
int chr_queue_pos_open(struct chr_queue_pos *p, const char *dir, const char *name,
		       unsigned flags);

/* Persist seq as the next seq to read (and a heartbeat). Returns 0, or -1
 * with p->e. */
int chr_queue_pos_commit(struct chr_queue_pos *p, uint64_t seq);

/* Only the heartbeat: the position is unchanged. Returns 0 or -1. */
int chr_queue_pos_beat(struct chr_queue_pos *p);

/* Release the reader (its position stays). */
void chr_queue_pos_close(struct chr_queue_pos *p);

struct chr_queue_pos_info {
	char name[256];
	uint64_t seq;		/* committed next seq */
	int64_t beat;		/* last heartbeat, ns since the epoch */
	uint64_t pid, start;	/* of the process that wrote it */
	int live;		/* a process holds it now */
};

/* The registered readers of the queue in dir (none when there is no
 * readers/ directory), in name order, malloc'd into *out. Returns the
 * count, or -1 with errno and e (CHR_EX_SYS; a reader file whose slots
 * are both bad is an error: it may hold back retention). */
ssize_t chr_queue_pos_list(const char *dir, struct chr_queue_pos_info **out, struct chr_err *e);

/* The committed position of the named reader name of the queue in dir,
 * read without taking the reader (a live holder keeps it), as
 * chr_queue_pos_list does. Returns 1 and *seq, 0 when the queue has no
 * reader of that name, or -1 with errno and e (as chr_queue_pos_list). */
int chr_queue_pos_peek(const char *dir, const char *name, uint64_t *seq, struct chr_err *e);

/* The start time of process pid (/proc/PID/stat field 22, clock ticks
 * after boot): with the pid it names a process, since pids are reused.
 * Returns 0, or -1 with errno (ENOENT: no such process). */
int chr_proc_start(long pid, uint64_t *start);

/* The failure report of the queue modules and of this one: fill e (when
 * not NULL) with status st and the message ("dir/what: message"), set
 * errno to en. Returns -1. */
int chr_q_fail(struct chr_err *e, int st, int en, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
