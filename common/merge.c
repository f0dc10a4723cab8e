/* merge.c - record sources merged by ts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "merge.h"

enum { HEAD_NEED, HEAD_HAVE, HEAD_DONE };

/* free the per-source arrays (the sources in them are already freed or
 * were never opened) */
static void free_arrays(struct chr_merge *m)
{
	free(m->s);
	free(m->head);
	free(m->state);
	m->s = NULL;
	m->head = NULL;
	m->state = NULL;
}

int chr_merge_init(struct chr_merge *m, size_t n, const struct chr_select *sel)
{
	m->n = n ? n : 1;
	m->last = m->failed = 0;
	m->s = calloc(m->n, sizeof *m->s);
	m->head = calloc(m->n, sizeof *m->head);
	m->state = calloc(m->n, sizeof *m->state);
	if (!m->s || !m->head || !m->state) {
		free_arrays(m);
		return -1;
	}
	for (size_t i = 0; i < m->n; i++)
		chr_source_init(&m->s[i], sel);
	return 0;
}

void chr_merge_free(struct chr_merge *m)
{
	for (size_t i = 0; m->s && i < m->n; i++)
		chr_source_free(&m->s[i]);
	free_arrays(m);
}

int chr_merge_open(struct chr_merge *m, char *const *paths, size_t n,
		   const struct chr_select *sel, struct chr_err *e)
{
	if (chr_merge_init(m, n, sel) < 0)
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	for (size_t i = 0; i < m->n; i++) {
		struct chr_source *s = &m->s[i];

		if ((n ? chr_source_add_path(s, paths[i]) : chr_source_add_fd(s, 0, "stdin")) < 0) {
			*e = s->e;
			chr_merge_free(m);
			return -1;
		}
	}
	return 0;
}

int chr_merge_next(struct chr_merge *m, const struct chr_rec **rec)
{
	size_t best = SIZE_MAX;
	int idle = 0;

	if (m->n == 1) {
		int k = chr_source_next(&m->s[0], rec);

		m->last = m->failed = 0;
		return k;
	}
	for (size_t i = 0; i < m->n; i++) {
		if (m->state[i] == HEAD_NEED) {
			int k = chr_source_next(&m->s[i], &m->head[i]);

			if (k < 0) {
				m->failed = i;
				return -1;
			}
			if (k == 2)
				idle = 1;
			else
				m->state[i] = k ? HEAD_HAVE : HEAD_DONE;
		}
		if (m->state[i] == HEAD_HAVE &&
		    (best == SIZE_MAX || m->head[i]->ts < m->head[best]->ts))
			best = i;
	}
	if (best == SIZE_MAX)
		return idle ? 2 : 0;
	m->state[best] = HEAD_NEED;
	m->last = best;
	*rec = m->head[best];
	return 1;
}

void chr_merge_set_flush(struct chr_merge *m, int (*flush)(void *), void *arg)
{
	for (size_t i = 0; i < m->n; i++)
		chr_source_set_flush(&m->s[i], flush, arg);
}

int chr_merge_may_block(const struct chr_merge *m)
{
	for (size_t i = 0; i < m->n; i++)
		if ((m->n == 1 || m->state[i] == HEAD_NEED) && chr_source_may_block(&m->s[i]))
			return 1;
	return 0;
}

void chr_merge_wait(struct chr_merge *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->n == 1 || m->state[i] == HEAD_NEED) {
			chr_source_wait(&m->s[i], m->n == 1 ? 1000 : 10);
			return;
		}
}

int chr_merge_open_archive(struct chr_merge *m, const char *root, const char *venue,
			   const char *stream, const char *date, const char *const *syms,
			   size_t nsym, int flags, chr_warn_fn warn, struct chr_select *sel,
			   struct chr_err *e)
{
	char **names = NULL;
	int raw = strcmp(stream, "raw") == 0;
	long n = raw ? 1 : chr_source_match_symbols(root, venue, stream, date, syms, nsym, &names,
						     e);

	if (n < 0)
		return -1;
	if (chr_merge_init(m, (size_t)n, sel) < 0) {
		chr_source_names_free(names, names ? (size_t)n : 0);
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	}
	for (size_t i = 0; i < m->n; i++) {
		struct chr_source *s = &m->s[i];

		s->from_snapshot = (flags & CHR_MERGE_SNAPSHOT) != 0;
		s->snap_upto = (flags & CHR_MERGE_UPTO) != 0;
		s->warn = warn;
		/* the raw stream once, its instruments selected by name */
		if ((raw && nsym && chr_source_symbols(s, syms, nsym) < 0) ||
		    chr_source_add_archive(s, root, venue, raw ? NULL : names[i], stream, date) < 0) {
			*e = s->e;
			chr_source_names_free(names, names ? (size_t)n : 0);
			chr_merge_free(m);
			return -1;
		}
	}
	chr_source_names_free(names, names ? (size_t)n : 0);
	if (flags & CHR_MERGE_SNAPSHOT)
		sel->ts_from = INT64_MIN;	/* every record from the snapshot on */
	return 0;
}

int chr_merge_open_snapshot(struct chr_merge *m, const char *root, const char *venue,
			    const char *const *syms, size_t nsym, struct chr_select *sel,
			    struct chr_err *e)
{
	return chr_merge_open_archive(m, root, venue, "book", NULL, syms, nsym,
				      CHR_MERGE_SNAPSHOT | CHR_MERGE_UPTO, NULL, sel, e);
}
