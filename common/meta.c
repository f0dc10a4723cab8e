/* meta.c - a partition's meta.json (docs/archive.md): the one reader and
 * writer of it, and the JSON helpers the archive's other files use. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "err.h"
#include "meta.h"
#include "path.h"
#include "segw.h"
#include "tm.h"

void chr_meta_free(struct chr_meta *m)
{
	for (size_t i = 0; i < m->nsources; i++)
		free(m->sources[i]);
	free(m->sources);
	free(m->segs);
	m->sources = NULL;
	m->segs = NULL;
	m->nsources = m->nsegs = 0;
}

int chr_meta_count(struct chr_meta *m, uint16_t type, uint64_t n)
{
	size_t i;

	for (i = 0; i < m->ncounts && m->counts[i].type < type; i++)
		;
	if (i < m->ncounts && m->counts[i].type == type) {
		m->counts[i].n += n;
		return 0;
	}
	if (m->ncounts == CHR_META_TYPES)
		return -1;
	memmove(&m->counts[i + 1], &m->counts[i], (m->ncounts - i) * sizeof m->counts[0]);
	m->counts[i].type = type;
	m->counts[i].n = n;
	m->ncounts++;
	return 0;
}

int chr_meta_add_source(struct chr_meta *m, const char *id)
{
	size_t i;
	char **nv, *s;

	for (i = 0; i < m->nsources && strcmp(m->sources[i], id) < 0; i++)
		;
	if (i < m->nsources && strcmp(m->sources[i], id) == 0)
		return 0;
	nv = realloc(m->sources, (m->nsources + 1) * sizeof *nv);
	if (nv == NULL)
		return -1;
	m->sources = nv;
	s = strdup(id);
	if (s == NULL)
		return -1;
	memmove(&nv[i + 1], &nv[i], (m->nsources - i) * sizeof *nv);
	nv[i] = s;
	m->nsources++;
	return 0;
}

int chr_json_set(json_t *o, const char *k, json_t *v)
{
	return v == NULL || json_object_set_new(o, k, v) < 0 ? -1 : 0;
}

char *chr_json_text(json_t *o)
{
	char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL, *out = NULL;

	if (text != NULL && (out = malloc(strlen(text) + 2)) != NULL)
		strcat(strcpy(out, text), "\n");
	free(text);
	json_decref(o);
	return out;
}

char *chr_meta_dump(const struct chr_meta *m)
{
	json_t *counts = json_object(), *src = json_array(), *segs = json_array();
	char tmin[CHR_TIME_BUF], tmax[CHR_TIME_BUF];
	int bad = counts == NULL || src == NULL || segs == NULL;

	for (size_t i = 0; !bad && i < m->ncounts; i++) {
		const char *name = chr_type_name(m->counts[i].type);
		char num[16];

		if (name == NULL) {
			snprintf(num, sizeof num, "0x%04x", m->counts[i].type);
			name = num;
		}
		bad = chr_json_set(counts, name, json_integer((json_int_t)m->counts[i].n));
	}
	for (size_t i = 0; !bad && i < m->nsources; i++)
		bad = json_array_append_new(src, json_string(m->sources[i])) < 0;
	for (size_t i = 0; !bad && i < m->nsegs; i++) {
		const struct chr_seginfo *s = &m->segs[i];
		char file[32];

		snprintf(file, sizeof file, "%09" PRIu64 ".q", s->id);
		bad = json_array_append_new(segs, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
			"file", file, "id", (json_int_t)s->id, "base_seq", (json_int_t)s->base_seq,
			"count", (json_int_t)s->count, "bytes", (json_int_t)s->bytes,
			"ts_min", (json_int_t)s->ts_min, "ts_max", (json_int_t)s->ts_max,
			"checksum", s->checksum)) < 0;
	}
	if (bad) {
		json_decref(counts);
		json_decref(src);
		json_decref(segs);
		return NULL;
	}
	chr_time_format(tmin, m->ts_min);
	chr_time_format(tmax, m->ts_max);
	/* "o" steals the references, also when json_pack fails */
	return chr_json_text(json_pack("{s:s, s:i, s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I,"
			      " s:s, s:s, s:o, s:o, s:o}",
		"format", "chronicle-archive-partition", "version", 1,
		"venue", m->venue, "symbol", m->symbol,
		"venue_id", (json_int_t)m->venue_id, "market_id", (json_int_t)m->market_id,
		"date", m->date, "stream", m->stream, "records", (json_int_t)m->records,
		"first_seq", (json_int_t)m->first_seq, "last_seq", (json_int_t)m->last_seq,
		"ts_min", (json_int_t)m->ts_min, "ts_max", (json_int_t)m->ts_max,
		"time_min", tmin, "time_max", tmax,
		"record_counts", counts, "sources", src, "segments", segs));
}

int chr_json_u64(json_t *o, const char *k, uint64_t *v)
{
	json_t *j = json_object_get(o, k);

	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return -1;
	*v = (uint64_t)json_integer_value(j);
	return 0;
}

int chr_json_i64(json_t *o, const char *k, int64_t *v)
{
	json_t *j = json_object_get(o, k);

	if (!json_is_integer(j))
		return -1;
	*v = json_integer_value(j);
	return 0;
}

int chr_json_str(json_t *o, const char *k, char *buf, size_t n)
{
	const char *s = json_string_value(json_object_get(o, k));

	if (s == NULL || strlen(s) >= n)
		return -1;
	strcpy(buf, s);
	return 0;
}

int chr_meta_checksum(const char *dir, char *sum)
{
	char p[PATH_MAX];

	if (chr_pathf(p, sizeof p, "%s/meta.json", dir) < 0)
		return -1;
	return chr_file_xxh128(p, sum, NULL);
}

int chr_meta_load(const char *dir, struct chr_meta *m, char *err, size_t errlen)
{
	char path[PATH_MAX];
	json_error_t je;
	json_t *o, *a;
	FILE *f;
	uint64_t v;
	const char *bad = NULL;
	const char *key;
	json_t *val;
	size_t i;

	memset(m, 0, sizeof *m);
	if (chr_pathf(path, PATH_MAX, "%s/meta.json", dir) < 0 || (f = fopen(path, "re")) == NULL) {
		int e = errno;

		chr_msg(err, errlen, "cannot read '%s/meta.json': %s", dir, strerror(e));
		errno = e;
		return -1;
	}
	o = json_loadf(f, 0, &je);
	fclose(f);
	if (o == NULL) {
		chr_msg(err, errlen, "'%s': line %d: %s", path, je.line, je.text);
		errno = EPROTO;
		return -1;
	}
	if (chr_json_str(o, "venue", m->venue, sizeof m->venue) < 0 ||
	    chr_json_str(o, "symbol", m->symbol, sizeof m->symbol) < 0 ||
	    chr_json_str(o, "date", m->date, sizeof m->date) < 0 ||
	    chr_json_str(o, "stream", m->stream, sizeof m->stream) < 0)
		bad = "names";
	else if (chr_json_u64(o, "venue_id", &v) < 0 || v > UINT16_MAX)
		bad = "venue_id";
	else if ((m->venue_id = (uint16_t)v, chr_json_u64(o, "market_id", &v) < 0) || v > UINT32_MAX)
		bad = "market_id";
	else if ((m->market_id = (uint32_t)v, chr_json_u64(o, "records", &m->records) < 0) ||
		 chr_json_u64(o, "first_seq", &m->first_seq) < 0 ||
		 chr_json_u64(o, "last_seq", &m->last_seq) < 0 ||
		 chr_json_i64(o, "ts_min", &m->ts_min) < 0 || chr_json_i64(o, "ts_max", &m->ts_max) < 0)
		bad = "counters";
	if (bad == NULL) {
		json_object_foreach(json_object_get(o, "record_counts"), key, val) {
			int t = chr_type_parse(key);

			if (t < 0 || !json_is_integer(val) ||
			    chr_meta_count(m, (uint16_t)t, (uint64_t)json_integer_value(val)) < 0)
				bad = "record_counts";
		}
	}
	a = json_object_get(o, "sources");
	if (bad == NULL && !json_is_array(a))
		bad = "sources";
	json_array_foreach(a, i, val) {
		if (bad == NULL && (!json_is_string(val) ||
				    chr_meta_add_source(m, json_string_value(val)) < 0))
			bad = "sources";
	}
	a = json_object_get(o, "segments");
	if (bad == NULL && !json_is_array(a))
		bad = "segments";
	if (bad == NULL && json_array_size(a) > 0) {
		m->segs = calloc(json_array_size(a), sizeof *m->segs);
		if (m->segs == NULL)
			bad = "out of memory";
	}
	json_array_foreach(a, i, val) {
		struct chr_seginfo *s = &m->segs[i];

		if (bad)
			break;
		if (chr_json_u64(val, "id", &s->id) < 0 || chr_json_u64(val, "base_seq", &s->base_seq) < 0 ||
		    chr_json_u64(val, "count", &s->count) < 0 || chr_json_u64(val, "bytes", &s->bytes) < 0 ||
		    chr_json_i64(val, "ts_min", &s->ts_min) < 0 || chr_json_i64(val, "ts_max", &s->ts_max) < 0 ||
		    chr_json_str(val, "checksum", s->checksum, sizeof s->checksum) < 0)
			bad = "segments";
		else
			m->nsegs++;
	}
	json_decref(o);
	if (bad) {
		chr_meta_free(m);
		chr_msg(err, errlen, "'%s': bad or missing %s", path, bad);
		errno = EPROTO;
		return -1;
	}
	return 0;
}


json_t *chr_json_load_object(const char *path, struct chr_err *e)
{
	json_error_t je;
	json_t *o;

	if (access(path, R_OK) < 0) {
		chr_err_sys(e, "cannot read '%s'", path);
		return NULL;
	}
	if ((o = json_load_file(path, 0, &je)) == NULL) {
		chr_err_set(e, CHR_EX_DATA, "%s:%d: %s", path, je.line, je.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		chr_err_set(e, CHR_EX_DATA, "%s: not a JSON object", path);
		return NULL;
	}
	return o;
}
