/* tap.c - the archive tap: a named reader of the hot queue, an archive
 * queue written, and the order of their commits. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "source.h"
#include "tap.h"

/* Records of the hot queue between two commits of the tap's position,
 * at most: a commit costs an fsync of the archive queue. */
#define TAP_BATCH 65536

/* Make what the tap appended durable in q, then commit next as the named
 * reader's position in the hot queue: never the other way round, so that
 * retention cannot remove a record the archive queue could still lose. */
static int commit(struct chr_queue_writer *q, struct chr_queue_pos *pos, uint64_t next,
		  struct chr_err *e)
{
	if (chr_queue_flush(q) < 0)
		return chr_err_set(e, q->e.status, "%s", q->e.msg);
	if (chr_queue_pos_commit(pos, next) < 0)
		return chr_err_set(e, pos->e.status, "%s", pos->e.msg);
	return 0;
}

/* Copy the records of src to q; -1 with e on a failure to write. */
static int copy(struct chr_tap *t, struct chr_source *src, struct chr_queue_pos *pos,
		struct chr_resume *rs, struct chr_queue_writer *q, struct chr_err *e)
{
	const struct chr_rec *rec;
	uint64_t done = t->next, pending = 0;
	int k;

	for (;;) {
		if (t->next != done && (pending >= TAP_BATCH || *t->stop ||
					chr_source_may_block(src))) {
			if (commit(q, pos, t->next, e) < 0)
				return -1;
			done = t->next;
			pending = 0;
		}
		if (*t->stop)
			return 0;
		k = chr_source_next(src, &rec);
		if (k == 2) {
			chr_source_wait(src, 1000);
			if (chr_queue_pos_beat(pos) < 0)
				return chr_err_set(e, pos->e.status, "%s", pos->e.msg);
			continue;
		}
		if (k <= 0)
			break;
		pending++;
		/* a DEFINE may come from behind the start: it does not move
		 * the position (resume skips it when it comes again) */
		if (rec->type != CHR_DEFINE)
			t->next = rec->seq + 1;
		/* the records after the last commit that reached q before a
		 * kill come again: skip them */
		k = chr_resume_skip(rs, rec, q->dir, src->rd.name, src->rd.rec_off, e);
		if (k < 0 || (!k && chr_resume_src_check(rec, q->seq, q->dir, src->rd.name,
							  src->rd.rec_off, e) < 0))
			return -1;
		if (k)
			continue;
		if (chr_queue_append(q, rec) < 0) {
			if (errno == EINVAL)
				return chr_err_set(e, CHR_EX_DATA, "%s: seq %" PRIu64 ": record larger "
						   "than a queue segment", t->hot, rec->seq);
			return chr_err_set(e, q->e.status, "%s", q->e.msg);
		}
		t->appended++;
	}
	/* what was read before an error is good: archive it, then report */
	if (t->next != done && commit(q, pos, t->next, e) < 0)
		return -1;
	if (k < 0)
		return chr_err_set(e, src->e.status, "%s; the %" PRIu64 " records before it were "
				   "appended", src->e.msg, t->appended);
	return 0;
}

int chr_tap_run(struct chr_tap *t, struct chr_queue_writer *q, struct chr_err *e)
{
	static volatile sig_atomic_t never;
	struct chr_queue_pos pos;
	struct chr_source src;
	struct chr_resume rs;
	int rc;

	t->appended = t->skipped = 0;
	t->first = q->seq;
	if (!t->stop)
		t->stop = &never;
	if (!chr_is_queue(t->hot))
		return chr_err_set(e, CHR_EX_SYS, "'%s' is not a queue", t->hot);
	if (chr_resume_load(&rs, q, 0, e) < 0)
		return -1;
	if (chr_queue_pos_open(&pos, t->hot, t->reader,
			       t->sync ? CHR_QUEUE_POS_SYNC : 0) < 0)
		return chr_err_set(e, pos.e.status, "%s", pos.e.msg);
	chr_source_init(&src, NULL);
	src.follow = t->follow;
	src.from_seq = pos.seq;
	src.exact = 1;
	t->next = pos.seq;
	rc = chr_source_add_path(&src, t->hot) < 0 ?
	     chr_err_set(e, src.e.status, "%s", src.e.msg) : copy(t, &src, &pos, &rs, q, e);
	t->skipped = rs.skipped;
	chr_queue_pos_close(&pos);
	chr_source_free(&src);
	return rc;
}
