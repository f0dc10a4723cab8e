/* ioqueue.c - the reader's queue backend: records handed out in place from
 * a queue reader's mapping, already checked by chr_queue_next. */
#include <inttypes.h>
#include <stdlib.h>

#include "err.h"
#include "io.h"
#include "queue.h"

static int queue_next(struct chr_reader *r, const struct chr_rec **rec)
{
	struct chr_queue_reader *q = r->in;
	int k = chr_queue_next(q, rec);

	if (k > 0) {
		r->rec_off = q->pos - chr_rec_span((*rec)->len);
		return 1;
	}
	if (k < 0)
		return chr_err_set(&r->e, q->e.status, "%s", q->e.msg);
	return r->follow ? 2 : 0;
}

static int queue_ready(const struct chr_reader *r)
{
	return chr_queue_ready(r->in);
}

static int queue_wait(struct chr_reader *r, int timeout_ms)
{
	return chr_queue_wait(r->in, r->spin_us, timeout_ms);
}

static void queue_close(struct chr_reader *r)
{
	chr_queue_reader_close(r->in);
	free(r->in);
	r->in = NULL;
}

static const struct chr_reader_ops queue_ops = {
	.next = queue_next,
	.ready = queue_ready,
	.wait = queue_wait,
	.close = queue_close,
};

void chr_reader_init_queue(struct chr_reader *r, struct chr_queue_reader *q, const char *name,
			   int follow)
{
	chr_reader_setup(r, &queue_ops, 0, name);
	r->in = q;
	r->follow = follow;
	if (follow)
		chr_reader_batch(r, CHR_BATCH_NS);
}

int chr_reader_open_queue(struct chr_reader *r, const char *path, const char *shown,
			  const struct chr_queue_from *from, int follow, struct chr_err *e)
{
	struct chr_queue_reader *q = malloc(sizeof *q);
	int k;

	chr_reader_setup(r, &queue_ops, 0, shown);
	if (!q)
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	if (chr_queue_reader_open(q, path, 0) < 0)
		goto fail;
	if (from->end)
		k = chr_queue_seek_end(q);
	else if (from->seq != UINT64_MAX)
		k = chr_queue_seek_seq(q, from->seq);
	else if (from->ts != INT64_MIN)
		k = chr_queue_seek_ts(q, from->ts);
	else
		k = chr_queue_seek_seq(q, from->seq_min);
	if (k == 0 && from->exact && from->seq < q->first_seq) {
		chr_err_set(e, CHR_EX_DATA, "%s: records from seq %" PRIu64 " to %" PRIu64
			    " were removed (retention) before they were read",
			    shown, from->seq, q->first_seq - 1);
		chr_queue_reader_close(q);
		free(q);
		return -1;
	}
	if (k < 0)
		goto fail;	/* the seek closed it */
	chr_queue_seek_defines(q);
	chr_reader_init_queue(r, q, shown, follow);
	r->own = 1;
	return 0;
fail:
	chr_err_set(e, q->e.status, "%s", q->e.msg);
	free(q);
	return -1;
}
