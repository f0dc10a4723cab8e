/* map.c - open addressing with linear probing; the table is kept at most
 * half full. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"

static size_t slot(const struct chr_map *m, uint64_t k)
{
	size_t i = (size_t)((k * 0x9e3779b97f4a7c15u) >> 20) & (m->cap - 1);

	while (m->v[i].key != 0 && m->v[i].key != k)
		i = (i + 1) & (m->cap - 1);
	return i;
}

void *chr_map_get(const struct chr_map *m, uint64_t key)
{
	return m->cap ? m->v[slot(m, key + 1)].val : NULL;
}

int chr_map_put(struct chr_map *m, uint64_t key, void *val)
{
	size_t i;

	if (2 * (m->n + 1) > m->cap) {
		struct chr_map nm = { NULL, m->n, m->cap ? 2 * m->cap : 64 };

		if (!(nm.v = calloc(nm.cap, sizeof *nm.v))) {
			errno = ENOMEM;
			return -1;
		}
		for (size_t j = 0; j < m->cap; j++)
			if (m->v[j].key)
				nm.v[slot(&nm, m->v[j].key)] = m->v[j];
		free(m->v);
		*m = nm;
	}
	i = slot(m, key + 1);
	if (!m->v[i].key) {
		m->v[i].key = key + 1;
		m->n++;
	}
	m->v[i].val = val;
	return 0;
}

void chr_map_free(struct chr_map *m)
{
	free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
}

void chr_tab_init(struct chr_tab *t, size_t size)
{
	memset(t, 0, sizeof *t);
	t->size = (size + 63) & ~(size_t)63;
}

void *chr_tab_get(struct chr_tab *t, uint16_t venue, uint32_t market, int *fresh)
{
	uint64_t key = chr_map_key(venue, market);
	void *o, **v;

	if (fresh)
		*fresh = 0;
	if (t->last && t->last_key == key)
		return t->last;
	if (!(o = chr_map_get(&t->map, key))) {
		if (!(o = aligned_alloc(64, t->size)) ||
		    !(v = realloc(t->v, (t->n + 1) * sizeof *t->v))) {
			free(o);
			errno = ENOMEM;
			return NULL;
		}
		t->v = v;
		memset(o, 0, t->size);
		if (chr_map_put(&t->map, key, o) < 0) {
			free(o);
			return NULL;
		}
		t->v[t->n++] = o;
		if (fresh)
			*fresh = 1;
	}
	t->last = o;
	t->last_key = key;
	return o;
}

void chr_tab_free(struct chr_tab *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i]);
	free(t->v);
	chr_map_free(&t->map);
	memset(t, 0, sizeof *t);
}
