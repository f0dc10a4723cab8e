/* sink.c - the runs of chr-sink: inputs into a queue, routed queues or the
 * archive, and the tap of a queue. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "link.h"
#include "prog.h"
#include "progress.h"
#include "route.h"
#include "sink.h"
#include "source.h"
#include "tap.h"

int chr_sink_queue_open(struct chr_sink *s, const char *dir, const struct chr_queue_opts *qo,
			struct chr_err *e)
{
	if (chr_queue_writer_open(&s->q, dir, qo) < 0) {
		if (errno == ENOENT && !(qo->flags & CHR_QUEUE_CREATE))
			return chr_err_set(e, CHR_EX_SYS, "%s; --create makes it", s->q.e.msg);
		return chr_err_set(e, s->q.e.status, "%s", s->q.e.msg);
	}
	s->q_open = 1;
	s->first = s->q.seq;
	if (s->resume && chr_resume_load(&s->rs, &s->q, 0, e) < 0)
		return -1;
	return 0;
}

int chr_sink_ack_open(struct chr_sink *s, const char *dir, const char *name, int sync,
		      struct chr_err *e)
{
	if (!chr_is_queue(dir))
		return chr_err_set(e, CHR_EX_SYS, "--ack '%s' is not a queue", dir);
	if (chr_queue_pos_open(&s->ack, dir, name, sync ? CHR_QUEUE_POS_SYNC : 0) < 0)
		return chr_err_set(e, s->ack.e.status, "%s", s->ack.e.msg);
	s->ack_open = 1;
	s->ack_next = s->ack_done = s->ack.seq;
	return 0;
}

/* Records of the input between two commits of --ack's position, at most */
#define ACK_BATCH 65536

/* How far rec, processed, reaches in the --ack queue: a synthetic record
 * stands before the record whose src_seq it carries */
static inline void ack_note(struct chr_sink *s, const struct chr_rec *rec)
{
	uint64_t to = rec->src_seq + !((rec->flags & CHR_F_SYNTHETIC) && rec->type != CHR_HEARTBEAT);

	if (to > s->ack_next)
		s->ack_next = to;
}

/* --replica: how far rec, taken, reaches in the source queue: a DEFINE
 * may come from behind the sender's start and moves nothing */
static inline void replica_note(struct chr_sink *s, const struct chr_rec *rec)
{
	if (rec->type != CHR_DEFINE && rec->seq + 1 > s->ack_next)
		s->ack_next = rec->seq + 1;
}

/* Make what the run wrote durable, then commit the --ack position: never
 * the other way round (as the tap, tap.c), so that retention cannot remove
 * a record the queues written could still lose. */
static int ack_commit(struct chr_sink *s, struct chr_err *e)
{
	if (s->mode == CHR_SINK_ROUTE) {
		if (chr_route_flush(s->rt, e) < 0)
			return -1;
	} else if (chr_queue_flush(&s->q) < 0) {
		return chr_err_set(e, s->q.e.status, "%s", s->q.e.msg);
	}
	/* --replica: the sender commits it as its reader's position */
	if (s->replica ? chr_link_ack(STDOUT_FILENO, s->ack_next, e) < 0 :
	    chr_queue_pos_commit(&s->ack, s->ack_next) < 0)
		return s->replica ? -1 : chr_err_set(e, s->ack.e.status, "%s", s->ack.e.msg);
	s->ack_done = s->ack_next;
	s->beat = 0;
	return 0;
}

/* The end of a feed that read no further than src's failed input */
static int feed_failed(const struct chr_sink *s, const struct chr_source *src, uint64_t nrec,
		       struct chr_err *e)
{
	if (!src->open)		/* an input that cannot be opened */
		return chr_err_set(e, src->e.status, "%s", src->e.msg);
	if (s->mode == CHR_SINK_ARCHIVE)
		return chr_err_set(e, src->e.status, "%s; nothing was archived", src->e.msg);
	return chr_err_set(e, src->e.status, "%s; the %" PRIu64 " records before it were %s",
			   src->e.msg, s->mode == CHR_SINK_ROUTE ? nrec : s->appended,
			   s->mode == CHR_SINK_ROUTE ? "routed" : "appended");
}

int chr_sink_feed(struct chr_sink *s, char *const *files, int nfiles, int progress,
		  struct chr_err *e)
{
	struct chr_source src;
	struct chr_progress pg;
	const struct chr_rec *rec;
	uint64_t total = 0, nrec = 0, done = 0, off = 0, acked = 0;
	size_t cur = 0;
	int k;

	chr_source_init(&src, NULL);
	/* a queue copied into a queue: record for record, its repeats too */
	src.keep_repeats = s->mode == CHR_SINK_QUEUE;
	for (int i = 0; i < nfiles; i++) {
		struct stat st;

		if (chr_source_add_path(&src, files[i]) < 0) {
			chr_err_set(e, src.e.status, "%s", src.e.msg);
			chr_source_free(&src);
			return -1;
		}
		/* the archive's progress knows its total: the regular files' size */
		if (s->mode == CHR_SINK_ARCHIVE && strcmp(files[i], "-") != 0 &&
		    stat(files[i], &st) == 0 && S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	chr_progress_init(&pg, progress, total, "records");
	for (;;) {
		if ((s->ack_open || s->replica) && (s->ack_next != s->ack_done || s->beat) &&
		    (nrec - acked >= ACK_BATCH || chr_source_may_block(&src))) {
			if (ack_commit(s, e) < 0) {
				chr_source_free(&src);
				return -1;
			}
			acked = nrec;
		}
		if ((k = chr_source_next(&src, &rec)) <= 0)
			break;
		if (src.cur != cur) {
			done += off;
			cur = src.cur;
		}
		off = src.rd.off;
		if (s->replica && chr_link_is_beat(rec)) {
			if (rec->src_seq > s->ack_next)
				s->ack_next = rec->src_seq;
			s->beat = 1;
			continue;
		}
		k = s->mode == CHR_SINK_ARCHIVE ?
		    chr_archive_put(s->a, rec, src.rd.name, src.rd.rec_off, e) :
		    s->mode == CHR_SINK_ROUTE ?
		    chr_route_put(s->rt, rec, src.rd.name, src.rd.rec_off, e) :
		    chr_resume_append(s->resume ? &s->rs : NULL, &s->q, rec, src.rd.name,
				      src.rd.rec_off, e);
		if (k < 0) {
			chr_source_free(&src);
			return -1;
		}
		s->appended += s->mode == CHR_SINK_QUEUE && k == 0;
		if (s->ack_open)
			ack_note(s, rec);
		else if (s->replica)
			replica_note(s, rec);
		chr_progress(&pg, ++nrec, done + off);
	}
	/* what was read before a bad input is in the queues: it counts */
	if ((s->ack_open || s->replica) && (s->ack_next != s->ack_done || s->beat) &&
	    ack_commit(s, e) < 0) {
		chr_source_free(&src);
		return -1;
	}
	if (k < 0) {
		feed_failed(s, &src, nrec, e);
		chr_source_free(&src);
		return -1;
	}
	chr_progress_end(&pg, nrec, done + off);
	chr_source_free(&src);
	if (s->mode == CHR_SINK_QUEUE && s->seal_at_end && chr_queue_seal(&s->q) < 0)
		return chr_err_set(e, s->q.e.status, "%s", s->q.e.msg);
	return 0;
}

int chr_sink_tap(struct chr_sink *s, const char *dir, const struct chr_queue_opts *qo,
		 struct chr_tap *t, struct chr_err *e)
{
	/* first: a stop while it opens the queues ends it cleanly too */
	if (t->follow)
		chr_stop_on_signals(0);	/* the wait for more ends with EINTR */
	if (chr_sink_queue_open(s, dir, qo, e) < 0)
		return -1;
	t->stop = &chr_stop;
	t->sync = qo->sync != CHR_SYNC_NEVER;
	return chr_tap_run(t, &s->q, e);
}

void chr_sink_close(struct chr_sink *s)
{
	if (s->q_open)
		chr_queue_writer_close(&s->q);
	s->q_open = 0;
	chr_route_free(s->rt);
	s->rt = NULL;
	chr_archive_close(s->a);
	s->a = NULL;
	json_decref(s->info);
	s->info = NULL;
	if (s->ack_open)
		chr_queue_pos_close(&s->ack);
	s->ack_open = 0;
}
