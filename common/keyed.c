/* keyed.c - records restamped with their own seq, and the GAP that marks
 * records removed before they were read. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyed.h"
#include "fmt.h"
#include "qpos.h"

void chr_keyed_init(struct chr_keyed *f)
{
	memset(f, 0, sizeof *f);
}

void chr_keyed_free(struct chr_keyed *f)
{
	free(f->buf);
	f->buf = NULL;
	f->cap = 0;
}

int chr_keyed_from_reader(struct chr_keyed *f, struct chr_source *s, const char *dir,
			 const char *name, struct chr_err *e)
{
	int k = chr_queue_pos_peek(dir, name, &f->from, e);

	if (k < 0)
		return -1;
	/* no such reader: from the first record, but a consumer that held
	 * records of this queue (the refinery's clean queues) is told by the
	 * GAP what the queue no longer holds */
	if (!k)
		f->from = 0;
	s->from_seq = k ? f->from : UINT64_MAX;
	f->check = 1;
	f->known = k;
	chr_fmt_shown(f->queue, sizeof f->queue, dir);
	chr_fmt_shown(f->name, sizeof f->name, name);
	return 0;
}

const struct chr_rec *chr_keyed_restamp(struct chr_keyed *f, const struct chr_rec *rec)
{
	size_t span = chr_rec_span(rec->len);
	struct chr_rec *r;

	if (rec->src_seq == rec->seq)
		return rec;
	if (span > f->cap) {
		void *b = malloc(span);

		if (!b)
			return NULL;
		free(f->buf);
		f->buf = b;
		f->cap = span;
	}
	r = memcpy(f->buf, rec, span);
	r->src_seq = r->seq;
	r->crc = chr_rec_crc(r);
	return r;
}

/* The GAP before rec, the first record read, f->from..rec->seq - 1 lost */
static const struct chr_rec *gap_before(struct chr_keyed *f, const struct chr_rec *rec)
{
	struct chr_rec *g = &f->gap.h;

	chr_gap_before(g, rec, rec->seq, 0, 0, f->from, rec->seq, CHR_GAP_SEQ);
	f->lost_from = f->from;
	f->lost_to = rec->seq;
	f->held = rec;
	if (f->warn && f->known) {
		char msg[768];

		snprintf(msg, sizeof msg, "%s: records from seq %" PRIu64 " to %" PRIu64 " were "
			 "removed (retention) before reader '%s' read them; a GAP record marks them",
			 f->queue, f->lost_from, f->lost_to - 1, f->name);
		f->warn(f->warn_ctx, msg);
	}
	return g;
}

int chr_keyed_next_slow(struct chr_keyed *f, struct chr_merge *m, const struct chr_rec **rec)
{
	int k = 1;

	if (f->held) {
		*rec = f->held;
		f->held = NULL;
	} else if ((k = chr_merge_next(m, rec)) != 1) {
		return k;
	} else if (f->check) {
		f->check = 0;
		if ((*rec)->seq > f->from) {
			*rec = gap_before(f, *rec);
			return 1;
		}
	}
	if (f->restamp && !(*rec = chr_keyed_restamp(f, *rec))) {
		m->failed = m->last;
		return chr_err_set(&m->s[m->last].e, CHR_EX_SYS, "out of memory");
	}
	return 1;
}
