/* sym.c - venue and market ids. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

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

int chr_symmap_load(struct chr_symmap *m, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	unsigned lineno = 0;

	memset(m, 0, sizeof *m);
	if (f == NULL) {
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		char venue[128], symbol[128], extra[2];
		unsigned long long vid, mid;
		char *hash = strchr(line, '#');
		const char *bad;
		int k;

		lineno++;
		if (hash)
			*hash = '\0';
		k = sscanf(line, "%127s %127s %llu %llu %1s", venue, symbol, &vid, &mid, extra);
		if (k == EOF || k == -1)
			continue;
		if (k != 4) {
			snprintf(err, errlen, "%s:%u: expected 'venue symbol venue_id market_id'",
				 path, lineno);
			goto fail;
		}
		if ((bad = chr_name_check(venue)) || (bad = chr_name_check(symbol)) ||
		    strlen(venue) > 32) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno,
				 bad ? bad : "venue longer than 32 bytes");
			goto fail;
		}
		if (vid == 0 || vid > 0xffff || mid == 0 || mid > 0xffffffffULL) {
			snprintf(err, errlen, "%s:%u: ids must be 1..65535 and 1..4294967295",
				 path, lineno);
			goto fail;
		}
		if (m->n == m->cap) {
			size_t cap = m->cap ? 2 * m->cap : 64;
			struct chr_sym *v = realloc(m->v, cap * sizeof *v);

			if (v == NULL) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			m->v = v;
			m->cap = cap;
		}
		/* lengths were checked above */
		memcpy(m->v[m->n].venue, venue, strlen(venue) + 1);
		memcpy(m->v[m->n].symbol, symbol, strlen(symbol) + 1);
		m->v[m->n].venue_id = (uint16_t)vid;
		m->v[m->n].market_id = (uint32_t)mid;
		m->n++;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
		goto fail;
	}
	fclose(f);
	return 0;
fail:
	fclose(f);
	chr_symmap_free(m);
	return -1;
}

void chr_sym_ids(const struct chr_symmap *m, const char *venue, const char *symbol,
		 uint16_t *venue_id, uint32_t *market_id)
{
	for (size_t i = 0; m && i < m->n; i++) {
		if (strcmp(m->v[i].venue, venue) == 0 && strcmp(m->v[i].symbol, symbol) == 0) {
			*venue_id = m->v[i].venue_id;
			*market_id = m->v[i].market_id;
			return;
		}
	}
	*venue_id = chr_venue_hash(venue);
	*market_id = chr_market_hash(symbol);
}
