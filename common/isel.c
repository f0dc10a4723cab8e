/* isel.c - instrument selection by name, cached per (venue, market) ids. */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY	/* XXH3_state_t on the stack */
#include <xxhash.h>

#include "isel.h"
#include "rec.h"

uint32_t chr_shard_of(const char *venue, const char *symbol, uint32_t n)
{
	char buf[CHR_VENUE_MAX + 1 + CHR_SYMBOL_MAX + 1];
	size_t nv = strlen(venue), ns = strlen(symbol);
	XXH64_hash_t h;

	if (nv + 1 + ns <= sizeof buf) {
		memcpy(buf, venue, nv);
		buf[nv] = '\0';
		memcpy(buf + nv + 1, symbol, ns);
		h = XXH3_64bits(buf, nv + 1 + ns);
	} else {
		/* longer than a DEFINE holds: hashed in pieces, the same value */
		XXH3_state_t st;

		XXH3_64bits_reset(&st);
		XXH3_64bits_update(&st, venue, nv + 1);
		XXH3_64bits_update(&st, symbol, ns);
		h = XXH3_64bits_digest(&st);
	}
	return (uint32_t)(h % (n ? n : 1));
}

void chr_isel_init(struct chr_isel *s)
{
	memset(s, 0, sizeof *s);
	chr_tab_init(&s->made, sizeof(int));
}

void chr_isel_free(struct chr_isel *s)
{
	free(s->venues);
	free(s->symbols);
	chr_tab_free(&s->made);
	memset(s, 0, sizeof *s);
}

static int add(const char ***v, size_t *n, const char *pattern)
{
	const char **nv = realloc(*v, (*n + 1) * sizeof **v);

	if (nv == NULL)
		return -1;
	nv[(*n)++] = pattern;
	*v = nv;
	return 0;
}

int chr_isel_add_venue(struct chr_isel *s, const char *pattern)
{
	return add(&s->venues, &s->n_venues, pattern);
}

int chr_isel_add_symbol(struct chr_isel *s, const char *pattern)
{
	return add(&s->symbols, &s->n_symbols, pattern);
}

int chr_isel_by_name(const struct chr_isel *s)
{
	return s->n_venues || s->n_symbols || s->shards;
}

static int any_match(const char **pat, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(pat[i], name, 0) == 0)
			return 1;
	return 0;
}

/* The decision from the names known (NULL: unknown). A name that fails
 * decides NO even when another one is unknown. */
static int decide(const struct chr_isel *s, const char *venue, const char *symbol)
{
	int unknown = 0;

	if (s->n_venues) {
		if (venue == NULL)
			unknown = 1;
		else if (!any_match(s->venues, s->n_venues, venue))
			return CHR_ISEL_NO;
	}
	if (s->n_symbols) {
		if (symbol == NULL)
			unknown = 1;
		else if (!any_match(s->symbols, s->n_symbols, symbol))
			return CHR_ISEL_NO;
	}
	if (s->shards) {
		if (venue == NULL || symbol == NULL)
			unknown = 1;
		else if (chr_shard_of(venue, symbol, s->shards) != s->shard)
			return CHR_ISEL_NO;
	}
	return unknown ? CHR_ISEL_UNNAMED : CHR_ISEL_YES;
}

int chr_isel_names(const struct chr_isel *s, const char *venue, const char *symbol)
{
	return decide(s, venue, symbol);
}

/* The decision of (venue, market), -1 when new. NULL when out of memory. */
static int *entry(struct chr_isel *s, uint16_t venue, uint32_t market)
{
	int fresh, *e = chr_tab_get(&s->made, venue, market, &fresh);

	if (e && fresh)
		*e = -1;
	return e;
}

int chr_isel_get(struct chr_isel *s, uint16_t venue, uint32_t market)
{
	const char *vname = NULL, *sname = NULL;
	int *e;

	if (venue == 0 && market == 0)
		return CHR_ISEL_YES;	/* no instrument: not selected by name */
	if ((e = entry(s, venue, market)) == NULL)
		return -1;
	if (*e >= 0)
		return *e;
	for (size_t i = 0; s->map && i < s->map->n; i++) {
		const struct chr_sym *m = &s->map->v[i];

		if (m->venue_id != venue)
			continue;
		vname = m->venue;
		if (m->market_id == market) {
			sname = m->symbol;
			break;
		}
	}
	*e = decide(s, vname, sname);
	if (*e == CHR_ISEL_UNNAMED)
		s->unnamed++;
	return *e;
}

int chr_isel_define(struct chr_isel *s, uint16_t venue, uint32_t market, const char *vname,
		    const char *sname)
{
	int *e;

	if (venue == 0 && market == 0)
		return CHR_ISEL_YES;
	if ((e = entry(s, venue, market)) == NULL)
		return -1;
	return *e = decide(s, vname, sname);
}

void chr_isel_count(const struct chr_isel *s, uint64_t *seen, uint64_t *selected)
{
	*seen = s->made.n;
	*selected = 0;
	for (size_t i = 0; i < s->made.n; i++)
		*selected += *(const int *)s->made.v[i] == CHR_ISEL_YES;
}
