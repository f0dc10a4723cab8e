/* warm.c - where a refinery's clean queues stand (docs/refinery.md, "Warm
 * restart"): their last resume keys, and each book replayed from its
 * queue's last snapshot or GAP to the queue's end. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "books.h"
#include "path.h"
#include "queue.h"
#include "resume.h"
#include "source.h"
#include "warm.h"

/* The records of the queue in dir from seq from to end, in turn, to fn
 * (which returns 0 to go on, 1 to stop, -1 with e). Returns 0, or -1. */
static int each(const char *dir, uint64_t from, uint64_t end,
		int (*fn)(void *ctx, const struct chr_rec *rec, struct chr_err *e), void *ctx,
		uint64_t *first, struct chr_err *e)
{
	struct chr_queue_reader r;
	const struct chr_rec *rec;
	int k, f = 0, en;

	if (chr_queue_reader_open(&r, dir, from) < 0) {
		en = errno;	/* ENOENT: no segment yet */
		chr_err_set(e, r.e.status ? r.e.status : CHR_EX_SYS, "%s", r.e.msg);
		errno = en;
		return -1;
	}
	if (first)
		*first = r.first_seq;
	while ((k = chr_queue_next(&r, &rec)) > 0 && rec->seq < end)
		if ((f = fn(ctx, rec, e)) != 0)
			break;
	if (k < 0)
		chr_err_set(e, r.e.status, "%s", r.e.msg);
	chr_queue_reader_close(&r);
	return k < 0 || f < 0 ? -1 : 0;
}

static int note_state(void *ctx, const struct chr_rec *rec, struct chr_err *e)
{
	(void)e;
	if (!(rec->flags & CHR_F_REPEAT) &&
	    (rec->type == CHR_BOOK_SNAPSHOT || rec->type == CHR_GAP))
		*(uint64_t *)ctx = rec->seq;
	return 0;
}

/* A book replayed from a queue. */
struct replay {
	struct chr_mkt m;
	int started;
	uint64_t src;			/* of the record it starts at */
	int64_t ts;			/* of the last book record */
	struct chr_gap gap;		/* the last GAP's */
};

static int replay_rec(void *ctx, const struct chr_rec *rec, struct chr_err *e)
{
	struct replay *p = ctx;

	if (rec->type != CHR_BOOK_SNAPSHOT && rec->type != CHR_BOOK_DIFF && rec->type != CHR_GAP)
		return 0;
	if (!p->started) {
		p->started = 1;
		p->src = rec->src_seq;
	}
	p->ts = rec->ts;
	if (rec->type == CHR_GAP) {
		memcpy(&p->gap, chr_rec_payload(rec), sizeof p->gap);
		p->m.ts_event = rec->ts_event;
		chr_l2_reset(p->m.b);
		return 0;
	}
	return chr_books_apply(&p->m, rec, e) < 0 ? -1 : 0;
}

/* The state record of the book of the queue in dir (records before end),
 * or NULL in *out when the queue holds no snapshot or GAP. */
static int book_state(const char *dir, uint64_t end, const struct chr_rec *def,
		      struct chr_rec **out, struct chr_err *e)
{
	struct replay p = {0};
	uint64_t window = 1024, at = UINT64_MAX, first = 0;
	struct chr_rec *r;
	size_t n;

	*out = NULL;
	/* the last snapshot or GAP: in growing windows back from the end */
	while (at == UINT64_MAX) {
		uint64_t from = end > window ? end - window : 0;

		if (each(dir, from, end, note_state, &at, &first, e) < 0)
			return -1;
		if (from <= first)
			break;
		window *= 8;
	}
	if (at == UINT64_MAX)
		return 0;
	if (!chr_books_fresh(&p.m, def))
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	if (each(dir, at, end, replay_rec, &p, NULL, e) < 0) {
		chr_l2_free(p.m.b);
		return -1;
	}
	if (chr_l2_known(p.m.b)) {
		if ((n = chr_books_size(&p.m, CHR_BOOK_SNAPSHOT, 0)) > CHR_REC_MAX - CHR_HDR_SIZE) {
			chr_l2_free(p.m.b);
			return chr_err_set(e, CHR_EX_DATA, "%s: the book has too many levels for one "
					   "snapshot record", dir);
		}
		if ((r = calloc(1, chr_rec_span((uint32_t)(CHR_HDR_SIZE + n)))))
			chr_books_rec(&p.m, CHR_BOOK_SNAPSHOT, 0, r);
	} else if ((r = calloc(1, chr_rec_span(CHR_HDR_SIZE + sizeof p.gap)))) {
		r->len = CHR_HDR_SIZE + sizeof p.gap;
		r->type = CHR_GAP;
		r->flags = CHR_F_SYNTHETIC;
		r->ts_event = p.m.ts_event;
		r->venue = def->venue;
		r->market = def->market;
		memcpy(chr_rec_payload(r), &p.gap, sizeof p.gap);
	}
	chr_l2_free(p.m.b);
	if (!r)
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	/* keyed as the record it stands for, at or below the queue's last */
	r->flags |= CHR_F_LAST;
	r->seq = r->src_seq = p.src;
	r->ts = p.ts;
	chr_rec_seal(r);
	*out = r;
	return 0;
}

static int first_rec(void *ctx, const struct chr_rec *rec, struct chr_err *e)
{
	if (!(*(struct chr_rec **)ctx = chr_rec_dup(rec)))
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	return 1;
}

/* The same names (the scale hints of two DEFINEs may differ) */
static int same_names(const struct chr_rec *a, const struct chr_rec *b)
{
	const struct chr_define *x = chr_rec_payload(a), *y = chr_rec_payload(b);

	return memcmp(x->venue, y->venue, sizeof x->venue) == 0 &&
		memcmp(x->symbol, y->symbol, sizeof x->symbol) == 0;
}

/* One clean queue of stream s in dir. */
static int queue_load(struct chr_warm *w, const char *dir, int s, struct chr_isel *sel,
		      struct chr_err *e)
{
	char venue[CHR_VENUE_MAX + 1], symbol[CHR_SYMBOL_MAX + 1];
	struct chr_queue_reader r;
	struct chr_resume rs;
	struct chr_warm_inst *in;
	struct chr_rec *def = NULL;
	uint64_t end;
	const char *bad;
	int fresh, rc = -1;

	if (each(dir, 0, UINT64_MAX, first_rec, &def, NULL, e) < 0)
		return errno == ENOENT ? 0 : -1;	/* no segment yet */
	if (def == NULL)
		return 0;	/* no record yet */
	if (def->type != CHR_DEFINE) {
		chr_err_set(e, CHR_EX_DATA, "%s: its first record is %s, not a DEFINE: not a queue "
			    "of chr-sink --route", dir, chr_type_name(def->type) ?
			    chr_type_name(def->type) : "of an unknown type");
		goto out;
	}
	if ((bad = chr_define_names(chr_rec_payload(def), venue, symbol)) != NULL) {
		chr_err_set(e, CHR_EX_DATA, "%s: DEFINE %s", dir, bad);
		goto out;
	}
	if (chr_isel_names(sel, venue, symbol) != CHR_ISEL_YES) {
		rc = 0;
		goto out;
	}
	if (!(in = chr_tab_get(&w->tab, def->venue, def->market, &fresh))) {
		chr_err_set(e, CHR_EX_SYS, "out of memory");
		goto out;
	}
	if (!fresh && !same_names(in->def, def)) {
		chr_err_set(e, CHR_EX_DATA, "%s: venue %u market %" PRIu32 " is '%s %s' here, "
			    "another instrument in another queue", dir, def->venue, def->market,
			    venue, symbol);
		goto out;
	}
	if (fresh) {
		def->flags &= (uint16_t)~CHR_F_REPEAT;
		chr_rec_seal(def);
		in->def = def;
		def = NULL;
	}
	if (chr_queue_reader_open(&r, dir, 0) < 0 || chr_queue_seek_end(&r) < 0) {
		chr_err_set(e, r.e.status ? r.e.status : CHR_EX_SYS, "%s", r.e.msg);
		goto out;
	}
	end = chr_queue_end_seq(&r);
	chr_queue_reader_close(&r);
	if (chr_resume_load_dir(&rs, dir, end, 1, e) < 0)
		goto out;
	if (rs.has) {
		in->last[s].has = 1;
		w->pending++;
		in->last[s].src = rs.src;
		in->last[s].syn1 = rs.syn1;
		if (rs.src + rs.syn1 > w->next)
			w->next = rs.src + rs.syn1;
	}
	if (s == CHR_ST_BOOK && book_state(dir, end, in->def, &in->state, e) < 0)
		goto out;
	w->queues++;
	rc = 0;
out:
	free(def);
	return rc;
}

static int visible(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* The names in dir, sorted, so that the books come out in one order. */
static int names(const char *dir, struct dirent ***v, struct chr_err *e)
{
	int n = scandir(dir, v, visible, alphasort);

	if (n < 0 && errno != ENOENT && errno != ENOTDIR)
		return chr_err_set(e, CHR_EX_SYS, "cannot read '%s': %s", dir, strerror(errno));
	return n < 0 ? 0 : n;
}

static void names_free(struct dirent **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int chr_warm_load(struct chr_warm *w, const char *root, struct chr_isel *sel,
		  struct chr_err *e)
{
	struct dirent **vs = NULL, **ss = NULL, **ts = NULL;
	int nv, ns = 0, nt = 0, rc = -1;
	char path[PATH_MAX];

	memset(w, 0, sizeof *w);
	chr_tab_init(&w->tab, sizeof(struct chr_warm_inst));
	if ((nv = names(root, &vs, e)) < 0)
		return -1;
	for (int i = 0; i < nv; i++) {
		if (chr_pathf(path, sizeof path, "%s/%s", root, vs[i]->d_name) < 0 ||
		    (ns = names(path, &ss, e)) < 0)
			goto out;
		for (int j = 0; j < ns; j++) {
			if (chr_pathf(path, sizeof path, "%s/%s/%s", root, vs[i]->d_name,
				      ss[j]->d_name) < 0 || (nt = names(path, &ts, e)) < 0)
				goto out;
			for (int k = 0; k < nt; k++) {
				int s;

				for (s = 0; s < CHR_NSTREAM; s++)
					if (strcmp(ts[k]->d_name, chr_stream_names[s]) == 0)
						break;
				if (chr_pathf(path, sizeof path, "%s/%s/%s/%s", root, vs[i]->d_name,
					      ss[j]->d_name, ts[k]->d_name) < 0)
					goto out;
				if (s < CHR_NSTREAM && chr_is_queue(path) &&
				    queue_load(w, path, s, sel, e) < 0)
					goto out;
			}
			names_free(ts, nt);
			ts = NULL;
			nt = 0;
		}
		names_free(ss, ns);
		ss = NULL;
		ns = 0;
	}
	rc = 0;
out:
	if (rc < 0 && !*e->msg)
		chr_err_set(e, CHR_EX_SYS, "'%s': %s", path, strerror(errno));
	names_free(ts, nt);
	names_free(ss, ns);
	names_free(vs, nv);
	return rc;
}

void chr_warm_free(struct chr_warm *w)
{
	for (size_t i = 0; i < w->tab.n; i++) {
		struct chr_warm_inst *in = w->tab.v[i];

		free(in->def);
		free(in->state);
	}
	chr_tab_free(&w->tab);
}

int chr_warm_held(struct chr_warm *w, const struct chr_rec *rec)
{
	struct chr_warm_inst *in;
	int s = chr_part_stream(rec->type);
	unsigned k = (rec->flags & CHR_F_SYNTHETIC) ? 0 : 1;

	/* once every queue's end is passed, nothing is held: no lookup */
	if (!w->pending || s < 0 || !(in = chr_map_get(&w->tab.map, chr_map_key(rec->venue, rec->market))) ||
	    !in->last[s].has || in->last[s].passed)
		return 0;
	/* An equal key of a synthetic record may be one more of the queue's
	 * run of that key (chr-sink counts them); of any other record it is
	 * the record itself. */
	if (rec->src_seq < in->last[s].src ||
	    (rec->src_seq == in->last[s].src && k == 1 && in->last[s].syn1 == 1))
		return 1;
	in->last[s].passed = 1;
	w->pending--;
	return 0;
}

int chr_warm_define(struct chr_warm *w, const struct chr_rec *def, struct chr_err *e)
{
	char venue[CHR_VENUE_MAX + 1], symbol[CHR_SYMBOL_MAX + 1];

	for (size_t i = 0; i < w->tab.n; i++) {
		const struct chr_warm_inst *in = w->tab.v[i];

		if ((in->def->venue != def->venue || in->def->market != def->market) &&
		    same_names(in->def, def)) {
			chr_define_names(chr_rec_payload(def), venue, symbol);
			return chr_err_set(e, CHR_EX_DATA, "'%s %s' is venue %u market %" PRIu32
					   " in the input but venue %u market %" PRIu32 " in the "
					   "clean queues: a restart cannot continue them", venue,
					   symbol, def->venue, def->market, in->def->venue,
					   in->def->market);
		}
	}
	return 0;
}

long chr_warm_hole(struct chr_warm *w, const struct chr_rec *gap,
		   int (*put)(void *ctx, const struct chr_rec *r), void *ctx)
{
	const struct chr_gap *g = chr_rec_payload(gap);
	uint64_t from = g->expected > w->next ? g->expected : w->next;
	_Alignas(64) unsigned char buf[CHR_GAP_SPAN];
	struct chr_rec *r = (struct chr_rec *)buf;
	long n = 0;

	w->lost = 0;
	if (g->got <= from)
		return 0;
	w->lost = g->got - from;
	for (size_t i = 0; i < w->tab.n; i++) {
		const struct chr_warm_inst *in = w->tab.v[i];

		if (!in->state)
			continue;
		chr_gap_before(r, gap, g->got, in->def->venue, in->def->market, from, g->got,
			       CHR_GAP_SEQ);
		if (put(ctx, r) < 0)
			return -1;
		n++;
	}
	return n;
}
