/* chr-seal-copy - the raw archiver: copy each sealed segment of a queue,
 * as a named reader of it, to ROOT/raw/v1/<venue>/<date>/raw/ (plain or
 * seekable zstd), and only then let the queue's retention have it. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "chr.h"
#include "fmt.h"
#include "num.h"
#include "prog.h"
#include "queue.h"
#include "rawarch.h"
#include "source.h"
#include "zsq.h"

static const char usage_text[] =
	"usage: chr-seal-copy --source QUEUE --archive-root ROOT --venue VENUE\n"
	"                     [--zstd[=LEVEL]] [--once | --poll-ms N] [--retain-q]\n"
	"                     [--reader NAME]\n"
	"\n"
	"Copy every sealed segment of the queue QUEUE, in order, to\n"
	"ROOT/raw/v1/VENUE/DATE/raw/NNNNNNNNN.q and the partition's meta.json,\n"
	"as the named reader NAME of QUEUE, whose position moves past a segment\n"
	"only once its copy is durable.\n"
	"\n";

enum { OPT_VENUE = CHR_O_OWN, OPT_RETAIN };

static const struct chr_opt opts[] = {
	CHR_OPT_SOURCE("QUEUE", "the queue to archive"),
	CHR_OPT_ARCHIVE_ROOT("the archive root (its hot tier)"),
	{"venue", required_argument, OPT_VENUE, "VENUE", "the venue: a path component of the partitions"},
	CHR_OPT_ZSTD("write NNNNNNNNN.q.zst, seekable zstd at LEVEL\n(1 to 19, default 3)"),
	CHR_OPT_ONCE("archive the sealed segments there are, then exit"),
	CHR_OPT_POLL_MS("N", "else look for new ones every N ms (default 1000)\nuntil SIGINT or SIGTERM"),
	{"retain-q", no_argument, OPT_RETAIN, NULL,
	 "after each segment, remove the queue's segments\nevery live registered reader has passed"},
	CHR_OPT_READER("NAME", "the named reader (default seal-copy)"),
	CHR_OPT_END,
};

/* A decimal number in [lo, hi], or a usage error naming the option. */
static long number(const char *opt, const char *s, long lo, long hi)
{
	uint64_t v;

	if (chr_parse_range(s, (uint64_t)lo, (uint64_t)hi, &v) < 0)
		chr_usage_error("--%s '%s' is not a number from %ld to %ld", opt, s, lo, hi);
	return (long)v;
}

struct run {
	const char *source, *reader;
	struct chr_queue_pos pos;
	struct chr_sealer *sealer;
	int retain;
	uint64_t archived;	/* segments copied or adopted by this run */
	uint64_t warned_gap;	/* the seq up to which a gap was reported */
	uint64_t active;	/* the segment being written: its id + 1 (0 none) */
	uint64_t active_seq;	/* and its first seq */
};

static _Noreturn void fail(struct run *r, const struct chr_err *e)
{
	chr_warn("%s", e->msg);
	chr_sealer_close(r->sealer);
	chr_queue_pos_close(&r->pos);
	exit(e->status);
}

/* A sealed segment is done when the reader's position is past its last
 * record; an empty one at the position may not be (meta.json says). */
static int done(const struct chr_seg *h, uint64_t pos)
{
	return h->count ? h->base_seq + h->count <= pos : h->base_seq < pos;
}

/* 1 when the queue in dir holds a record from seq on that is not a DEFINE
 * repeat (one a writer put at a segment's head). */
static int holds_records(const char *dir, uint64_t seq)
{
	struct chr_queue_reader qr;
	const struct chr_rec *rec;
	int k;

	if (chr_queue_reader_open(&qr, dir, seq) < 0)
		return 0;
	while ((k = chr_queue_next(&qr, &rec)) == 1 && (rec->flags & CHR_F_REPEAT))
		;
	chr_queue_reader_close(&qr);
	return k == 1;
}

/* Archive every sealed segment the reader has not passed, in order. */
static void pass(struct run *r)
{
	struct chr_seal_result res;
	struct chr_qseg q;
	uint64_t *ids;
	struct chr_err e;
	ssize_t n;
	int k;

	n = chr_qseg_list(r->source, &ids);
	if (n < 0) {
		chr_err_sys(&e, "cannot read '%s'", r->source);
		fail(r, &e);
	}
	for (ssize_t i = 0; i < n && !chr_stop; i++) {
		k = chr_qseg_map(&q, r->source, ids[i], &e);
		if (k < 0 && errno == ENOENT)
			continue;	/* removed by retention: passed */
		if (k < 0) {
			free(ids);
			fail(r, &e);
		}
		if (k == 0) {
			/* the current segment: nothing sealed after it */
			if (q.h.base_seq != CHR_QUEUE_NO_SEQ)
				r->active = ids[i] + 1, r->active_seq = q.h.base_seq;
			break;
		}
		if (done(&q.h, r->pos.seq)) {
			chr_qseg_unmap(&q);
			continue;
		}
		if (q.h.base_seq > r->pos.seq && i > 0 && ids[i - 1] + 1 != ids[i] &&
		    chr_qseg_present(r->source, ids[i - 1])) {
			/* retention removes from the front: a hole is damage */
			chr_err_set(&e, CHR_EX_DATA, "%s/%09" PRIu64 ".q: missing, but later"
				    " segments follow it; seq %" PRIu64 " to %" PRIu64 " are not"
				    " archived", r->source, ids[i - 1] + 1, r->pos.seq,
				    q.h.base_seq - 1);
			chr_qseg_unmap(&q);
			free(ids);
			fail(r, &e);
		}
		if (q.h.base_seq > r->pos.seq && r->pos.seq >= r->warned_gap) {
			/* a registered reader that is not live holds nothing back */
			chr_warn("%s: seq %" PRIu64 " to %" PRIu64 " left the queue before they were"
				 " archived", r->source, r->pos.seq, q.h.base_seq - 1);
			r->warned_gap = q.h.base_seq;
		}
		if (chr_sealer_put(r->sealer, &q, &res, &e) < 0) {
			chr_qseg_unmap(&q);
			free(ids);
			fail(r, &e);
		}
		chr_qseg_unmap(&q);
		if (res.action != CHR_SEAL_PRESENT) {
			char extra[64] = "";

			if (res.seg.compressed)
				snprintf(extra, sizeof extra, ", %" PRIu64 " compressed", res.seg.bytes);
			chr_warn("%s: %" PRIu64 " records, %" PRIu64 " bytes%s%s", res.rel,
				 res.seg.count, res.seg.raw_bytes, extra,
				 res.action == CHR_SEAL_ADOPTED ? " (found in place, verified)" : "");
			r->archived++;
		}
		/* the copy and meta.json are durable: only now move past it */
		if (res.seg.base_seq + res.seg.count > r->pos.seq &&
		    chr_queue_pos_commit(&r->pos, res.seg.base_seq + res.seg.count) < 0) {
			free(ids);
			fail(r, &r->pos.e);
		}
		if (r->retain && chr_queue_retain(r->source, 0, CHR_QUEUE_GRACE_NS, &e) < 0) {
			free(ids);
			fail(r, &e);
		}
	}
	free(ids);
}

int main(int argc, char **argv)
{
	struct run r = {.reader = "seal-copy"};
	struct chr_sealer_opts so = {.level = CHR_ZSQ_LEVEL, .warn = chr_warn_cb};
	const char *root = NULL, *venue = NULL, *bad;
	char sh[256];
	struct chr_err e;
	long poll_ms = 1000;
	int c, once = 0, poll_given = 0;

	chr_prog_start(argv, usage_text, opts);
	while ((c = chr_getopt(argc, argv)) != -1) {
		switch (c) {
		case 's': r.source = optarg; break;
		case 'a': root = optarg; break;
		case OPT_VENUE: venue = optarg; break;
		case 'z':
			so.zstd = 1;
			if (optarg)
				so.level = (int)number("zstd", optarg, 1, 19);
			break;
		case CHR_O_ONCE: once = 1; break;
		case CHR_O_POLL_MS:
			poll_ms = number("poll-ms", optarg, 1, 3600000);
			poll_given = 1;
			break;
		case OPT_RETAIN: r.retain = 1; break;
		case CHR_O_READER: r.reader = optarg; break;
		}
	}
	if (optind < argc)
		chr_usage_error("unexpected argument '%s'", CHR_SHOWN(sh, argv[optind]));
	if (!r.source || !root || !venue)
		chr_usage_error("--%s is required", !r.source ? "source" : !root ? "archive-root" : "venue");
	if (once && poll_given)
		chr_usage_error("--once and --poll-ms exclude each other");
	if ((bad = chr_name_check(venue)) != NULL)
		chr_usage_error("--venue '%s': %s", CHR_SHOWN(sh, venue), bad);
	if ((bad = chr_name_check(r.reader)) != NULL)
		chr_usage_error("--reader '%s': %s", CHR_SHOWN(sh, r.reader), bad);
	if (*root == '\0')
		chr_usage_error("--archive-root is empty");
	if (!chr_is_queue(r.source))
		chr_die(CHR_EX_SYS, "'%s' is not a queue", r.source);

	/* first: a stop while it opens ends it cleanly too */
	if (!once)
		chr_stop_on_signals(SA_RESTART);
	if (chr_queue_pos_open(&r.pos, r.source, r.reader, CHR_QUEUE_POS_SYNC) < 0)
		chr_die_err(&r.pos.e);
	r.warned_gap = r.pos.seq;
	r.sealer = chr_sealer_open(root, venue, &so, &e);
	if (r.sealer == NULL) {
		chr_queue_pos_close(&r.pos);
		chr_die_err(&e);
	}
	for (;;) {
		pass(&r);
		if (once || chr_stop)
			break;
		{
			struct timespec ts = {poll_ms / 1000, poll_ms % 1000 * 1000000};

			/* a signal cuts the sleep short (nanosleep is never restarted) */
			nanosleep(&ts, NULL);
		}
		if (chr_stop)
			break;
		if (chr_queue_pos_beat(&r.pos) < 0)
			fail(&r, &r.pos.e);
	}
	if (once && r.archived == 0)
		chr_warn("nothing to archive: reader '%s' of '%s' is at seq %" PRIu64
			 ", past every sealed segment", r.reader, r.source, r.pos.seq);
	/* a finished capture whose writer did not seal its last segment */
	if (once && r.active && holds_records(r.source, r.active_seq))
		chr_warn("%s/%09" PRIu64 ".q, the segment being written, holds records from seq %"
			 PRIu64 " on: they are archived once it seals (a finished feed: chr-sink "
			 "--queue --seal-at-end)", r.source, r.active - 1, r.active_seq);
	chr_sealer_close(r.sealer);
	chr_queue_pos_close(&r.pos);
	return CHR_EX_OK;
}
