/* resume.c - where an exactly-once run stands in a queue: the last input
 * record it holds, found by reading its tail backwards in growing windows. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "part.h"
#include "resume.h"

/* The key's second part: a synthetic record sorts just before the record
 * whose src_seq it carries. */
static unsigned syn1(const struct chr_rec *rec)
{
	return (rec->flags & CHR_F_SYNTHETIC) ? 0 : 1;
}

static int keycmp(uint64_t a, unsigned ak, uint64_t b, unsigned bk)
{
	if (a != b)
		return a < b ? -1 : 1;
	return ak < bk ? -1 : ak > bk;
}

struct seen {
	uint64_t src;
	uint16_t type, flags;
};

/* The records of the window [from, end): scanned backwards for the last
 * counted one and the run of its key; 1 when that run starts in the window
 * (or nothing before it can matter), else 0: look further back. */
static int resume_walk(struct chr_resume *rs, struct seen *v, size_t n, int whole, int route)
{
	int found = 0;

	rs->has = 0;
	for (size_t i = n; i-- > 0;) {
		unsigned k = (v[i].flags & CHR_F_SYNTHETIC) ? 0 : 1;

		if (v[i].flags & CHR_F_REPEAT)
			continue;
		if (route && v[i].type == CHR_DEFINE)
			continue;
		if (!found) {
			found = 1;
			rs->has = 1;
			rs->src = v[i].src;
			rs->syn1 = k;
			rs->left = 1;
		} else if (keycmp(v[i].src, k, rs->src, rs->syn1) == 0) {
			rs->left++;
		} else {
			return 1;
		}
	}
	if (!whole)
		rs->has = 0;
	return whole;
}

int chr_resume_load(struct chr_resume *rs, const struct chr_queue_writer *w, int route,
		    struct chr_err *e)
{
	return chr_resume_load_dir(rs, w->dir, w->seq, route, e);
}

int chr_resume_load_dir(struct chr_resume *rs, const char *dir, uint64_t end, int route,
			struct chr_err *e)
{
	struct chr_queue_reader r;
	uint64_t window = 1024;
	struct seen *v = NULL;
	size_t n = 0, cap = 0;
	int opened = 0, rc = -1;

	memset(rs, 0, sizeof *rs);
	if (end == 0)
		return 0;
	for (;;) {
		uint64_t from = end > window ? end - window : 0;
		const struct chr_rec *rec;
		int k;

		n = 0;
		if (!opened ? chr_queue_reader_open(&r, dir, from) < 0 :
			      chr_queue_seek_seq(&r, from) < 0) {
			chr_err_set(e, r.e.status ? r.e.status : CHR_EX_SYS, "%s", r.e.msg);
			opened = 0;	/* both close it on failure */
			goto out;
		}
		opened = 1;
		while ((k = chr_queue_next(&r, &rec)) > 0 && rec->seq < end) {
			if (n == cap) {
				size_t c = cap ? 2 * cap : 1024;
				struct seen *nv = realloc(v, c * sizeof *nv);

				if (!nv) {
					chr_err_set(e, CHR_EX_SYS, "%s", strerror(ENOMEM));
					goto out;
				}
				v = nv;
				cap = c;
			}
			v[n].src = rec->src_seq;
			v[n].type = rec->type;
			v[n].flags = rec->flags;
			n++;
		}
		if (k < 0) {
			chr_err_set(e, r.e.status, "%s", r.e.msg);
			goto out;
		}
		if (resume_walk(rs, v, n, from <= r.first_seq, route))
			break;
		window = window > end ? end : window * 8;
	}
	rc = 0;
out:
	free(v);
	if (opened)
		chr_queue_reader_close(&r);
	return rc;
}

int chr_resume_skip(struct chr_resume *rs, const struct chr_rec *rec, const char *qname,
		    const char *name, uint64_t off, struct chr_err *e)
{
	unsigned k = syn1(rec);
	int c;

	/* a DEFINE repeated from further back has an older src_seq */
	if (!(rec->flags & CHR_F_REPEAT)) {
		if (rs->seen && keycmp(rec->src_seq, k, rs->last_src, rs->last_syn1) < 0)
			return chr_err_set(e, CHR_EX_DATA, "%s: byte %" PRIu64 ": src_seq %"
					   PRIu64 " after %" PRIu64 " in queue '%s': --resume needs src_seq "
					   "that never goes back in a queue", name, off, rec->src_seq,
					   rs->last_src, qname);
		rs->seen = 1;
		rs->last_src = rec->src_seq;
		rs->last_syn1 = k;
	}
	if (!rs->has)
		return 0;
	c = keycmp(rec->src_seq, k, rs->src, rs->syn1);
	if (c < 0 || (c == 0 && rs->left > 0)) {
		if (c == 0)
			rs->left--;
		rs->skipped++;
		return 1;
	}
	return 0;
}

int chr_resume_src_check(const struct chr_rec *rec, uint64_t seq, const char *qname,
			 const char *name, uint64_t off, struct chr_err *e)
{
	/* the queue would store its own seq as src_seq: a later --resume
	 * could not find this record in the input again */
	if (rec->src_seq == 0 && seq != 0 && !(rec->flags & CHR_F_REPEAT))
		return chr_err_set(e, CHR_EX_DATA, "%s: byte %" PRIu64 ": %s with src_seq 0 would "
				   "be seq %" PRIu64 " of queue '%s': --resume needs the src_seq of "
				   "each record's origin", name, off, chr_type_name(rec->type), seq,
				   qname);
	return 0;
}


int chr_resume_append(struct chr_resume *rs, struct chr_queue_writer *q, const struct chr_rec *rec,
		      const char *name, uint64_t off, struct chr_err *e)
{
	if (rs) {
		int k = chr_resume_skip(rs, rec, q->dir, name, off, e);

		if (k < 0 || (!k && chr_resume_src_check(rec, q->seq, q->dir, name, off, e) < 0))
			return -1;
		if (k)
			return 1;
	}
	if (chr_queue_append(q, rec) < 0) {
		if (errno == EINVAL)
			return chr_err_set(e, CHR_EX_DATA, "%s: byte %" PRIu64 ": record larger than a "
					   "queue segment", name, off);
		return chr_err_set(e, q->e.status, "%s", q->e.msg);
	}
	return 0;
}
