/* map.c - open addressing with linear probing; the table is kept at most
 * half full. */
#include <errno.h>
#include <stdlib.h>

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
