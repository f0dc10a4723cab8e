/* sym.c - venue and market ids. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "err.h"
#include "path.h"
#include "sym.h"

uint16_t chr_venue_hash(const char *venue)
{
	return (uint16_t)(1 + XXH3_64bits(venue, strlen(venue)) % 65535u);
}

uint32_t chr_market_hash(const char *symbol)
{
	return (uint32_t)(1 + XXH3_64bits(symbol, strlen(symbol)) % 4294967295u);
}

void chr_symmap_free(struct chr_symmap *m)
{
	free(m->v);
	memset(m, 0, sizeof *m);
}

static int cmp_name(const void *a, const void *b)
{
	const struct chr_sym *x = a, *y = b;
	int c = strcmp(x->venue, y->venue);

	return c ? c : strcmp(x->symbol, y->symbol);
}

static int cmp_ids(const void *a, const void *b)
{
	const struct chr_sym *x = a, *y = b;

	if (x->venue_id != y->venue_id)
		return x->venue_id < y->venue_id ? -1 : 1;
	return (x->market_id > y->market_id) - (x->market_id < y->market_id);
}

/* Every name once, one id per venue name, one venue name per venue id,
 * one symbol per (venue id, market id). Sorts the entries by id. */
static int consistent(struct chr_symmap *m, const char *path, struct chr_err *e)
{
	qsort(m->v, m->n, sizeof *m->v, cmp_name);
	for (size_t i = 1; i < m->n; i++) {
		const struct chr_sym *a = &m->v[i - 1], *b = &m->v[i];

		if (strcmp(a->venue, b->venue) != 0)
			continue;
		if (strcmp(a->symbol, b->symbol) == 0)
			return chr_err_set(e, CHR_EX_DATA, "%s: '%s %s' is listed twice", path,
					   a->venue, a->symbol);
		if (a->venue_id != b->venue_id)
			return chr_err_set(e, CHR_EX_DATA, "%s: venue '%s' has two ids, %u and %u",
					   path, a->venue, a->venue_id, b->venue_id);
	}
	qsort(m->v, m->n, sizeof *m->v, cmp_ids);
	for (size_t i = 1; i < m->n; i++) {
		const struct chr_sym *a = &m->v[i - 1], *b = &m->v[i];

		if (a->venue_id != b->venue_id)
			continue;
		if (strcmp(a->venue, b->venue) != 0)
			return chr_err_set(e, CHR_EX_DATA, "%s: venue id %u names both '%s' and '%s'",
					   path, a->venue_id, a->venue, b->venue);
		if (a->market_id == b->market_id)
			return chr_err_set(e, CHR_EX_DATA, "%s: ids %u %u name both '%s' and '%s'",
					   path, a->venue_id, a->market_id, a->symbol, b->symbol);
	}
	return 0;
}

int chr_symmap_load(struct chr_symmap *m, const char *path, struct chr_err *e)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;

	memset(m, 0, sizeof *m);
	if (f == NULL)
		return chr_err_sys(e, "cannot open '%s'", path);
	while ((len = getline(&line, &cap, f)) >= 0) {
		char venue[128], symbol[128], extra[2];
		unsigned long long vid, mid;
		char *hash = strchr(line, '#');
		const char *bad;
		int k;

		lineno++;
		if (hash)
			*hash = '\0';
		if (strlen(line) > 512) {
			chr_err_set(e, CHR_EX_DATA, "%s:%u: line too long", path, lineno);
			goto fail;
		}
		k = sscanf(line, "%127s %127s %llu %llu %1s", venue, symbol, &vid, &mid, extra);
		if (k == EOF || k == -1)
			continue;
		if (k != 4) {
			chr_err_set(e, CHR_EX_DATA, "%s:%u: expected 'venue symbol venue_id market_id'",
				    path, lineno);
			goto fail;
		}
		if ((bad = chr_name_check(venue)) || (bad = chr_name_check(symbol)) ||
		    strlen(venue) >= CHR_VENUE_MAX) {
			chr_err_set(e, CHR_EX_DATA, "%s:%u: %s", path, lineno,
				    bad ? bad : "venue longer than 31 bytes");
			goto fail;
		}
		if (vid == 0 || vid > 0xffff || mid == 0 || mid > 0xffffffffULL) {
			chr_err_set(e, CHR_EX_DATA, "%s:%u: ids must be 1..65535 and 1..4294967295",
				    path, lineno);
			goto fail;
		}
		if (m->n == m->cap) {
			size_t ncap = m->cap ? 2 * m->cap : 64;
			struct chr_sym *v = realloc(m->v, ncap * sizeof *v);

			if (v == NULL) {
				chr_err_set(e, CHR_EX_SYS, "%s: out of memory", path);
				goto fail;
			}
			m->v = v;
			m->cap = ncap;
		}
		/* lengths were checked above */
		memcpy(m->v[m->n].venue, venue, strlen(venue) + 1);
		memcpy(m->v[m->n].symbol, symbol, strlen(symbol) + 1);
		m->v[m->n].venue_id = (uint16_t)vid;
		m->v[m->n].market_id = (uint32_t)mid;
		m->n++;
	}
	if (ferror(f)) {
		chr_err_sys(e, "cannot read '%s'", path);
		goto fail;
	}
	if (consistent(m, path, e) < 0)
		goto fail;
	free(line);
	fclose(f);
	return 0;
fail:
	free(line);
	fclose(f);
	chr_symmap_free(m);
	return -1;
}

void chr_sym_ids(const struct chr_symmap *m, const char *venue, const char *symbol,
		 uint16_t *venue_id, uint32_t *market_id)
{
	*venue_id = chr_venue_hash(venue);
	*market_id = chr_market_hash(symbol);
	for (size_t i = 0; m && i < m->n; i++) {
		if (strcmp(m->v[i].venue, venue) != 0)
			continue;
		/* a listed venue keeps its id for unlisted symbols too */
		*venue_id = m->v[i].venue_id;
		if (strcmp(m->v[i].symbol, symbol) == 0) {
			*market_id = m->v[i].market_id;
			return;
		}
	}
}
