/* meta.c - a partition's meta.json (docs/archive.md), the one module that
 * reads and writes it: archive partitions, raw partitions, and either
 * format checked for the tiers and the manifest (and against the segments'
 * headers); JSON helpers. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "err.h"
#include "fmt.h"
#include "meta.h"
#include "s3.h"
#include "path.h"
#include "segw.h"
#include "tm.h"
#include "zsq.h"

#define SHOWN(buf, s) chr_fmt_shown(buf, sizeof buf, s)

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

/* The "snapshots" member of segment s: [[ts_upto, off], ...], or NULL
 * when out of memory. */
static json_t *snaps_json(const struct chr_seginfo *s)
{
	json_t *a = json_array();

	for (size_t k = 0; a && k < s->nsnaps; k++)
		if (json_array_append_new(a, json_pack("[I, I]", (json_int_t)s->snaps[k].ts_upto,
						       (json_int_t)s->snaps[k].off)) < 0) {
			json_decref(a);
			a = NULL;
		}
	return a;
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
		json_t *e;

		snprintf(file, sizeof file, "%09" PRIu64 ".q", s->id);
		e = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
			"file", file, "id", (json_int_t)s->id, "base_seq", (json_int_t)s->base_seq,
			"count", (json_int_t)s->count, "bytes", (json_int_t)s->bytes,
			"ts_min", (json_int_t)s->ts_min, "ts_max", (json_int_t)s->ts_max,
			"checksum", s->checksum);
		if (e && s->nsnaps > 0)
			bad = chr_json_set(e, "snapshots", snaps_json(s)) < 0;
		bad |= json_array_append_new(segs, e) < 0;
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

/* The JSON of "<dir>/meta.json" (its path into path, PATH_MAX bytes), or
 * NULL with a message and errno: the system error, or EPROTO when it is
 * not JSON. */
static json_t *load_file(const char *dir, char *path, char *err, size_t errlen)
{
	json_error_t je;
	json_t *o;
	FILE *f;

	if (chr_pathf(path, PATH_MAX, "%s/meta.json", dir) < 0 || (f = fopen(path, "re")) == NULL) {
		int e = errno;

		chr_msg(err, errlen, "cannot read '%s/meta.json': %s", dir, strerror(e));
		errno = e;
		return NULL;
	}
	o = json_loadf(f, 0, &je);
	fclose(f);
	if (o == NULL) {
		chr_msg(err, errlen, "'%s': line %d: %s", path, je.line, je.text);
		errno = EPROTO;
	}
	return o;
}

/* The end of a load from the JSON o of path: o is released; bad names
 * what was found bad or missing (the message; errno EPROTO), or is NULL.
 * Returns 0, or -1 when bad. */
static int loaded_json(json_t *o, const char *path, const char *bad, char *err, size_t errlen)
{
	json_decref(o);
	if (bad == NULL)
		return 0;
	chr_msg(err, errlen, "'%s': bad or missing %s", path, bad);
	errno = EPROTO;
	return -1;
}

/* The member "snapshots" of segment entry j, when present, into v[0..*n)
 * (docs/archive.md): at most CHR_SEG_SNAPS pairs [ts_upto, off], each off
 * a record's place (a multiple of 64 past the header) within the
 * segment's bytes, in increasing order. Returns 0, or -1 when it is not. */
static int snaps_load(json_t *j, uint64_t bytes, struct chr_snapref *v, size_t *n)
{
	json_t *a = json_object_get(j, "snapshots"), *e;
	size_t i;

	*n = 0;
	if (a == NULL)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > CHR_SEG_SNAPS)
		return -1;
	json_array_foreach(a, i, e) {
		json_t *t = json_array_get(e, 0), *o = json_array_get(e, 1);
		json_int_t off;

		if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_integer(t) ||
		    !json_is_integer(o))
			return -1;
		off = json_integer_value(o);
		if (off < (json_int_t)sizeof(struct chr_seg) || off % CHR_ALIGN != 0 ||
		    (uint64_t)off + CHR_HDR_SIZE > bytes || (i > 0 && (uint64_t)off <= v[i - 1].off))
			return -1;
		v[i].ts_upto = json_integer_value(t);
		v[i].off = (uint64_t)off;
	}
	*n = i;
	return 0;
}

static int meta_load(const char *dir, struct chr_meta *m, char *err, size_t errlen)
{
	char path[PATH_MAX];
	json_t *o, *a;
	uint64_t v;
	const char *bad = NULL;
	const char *key;
	json_t *val;
	size_t i;

	memset(m, 0, sizeof *m);
	if ((o = load_file(dir, path, err, errlen)) == NULL)
		return -1;
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
		else if (snaps_load(val, s->bytes, s->snaps, &s->nsnaps) < 0)
			bad = "segment snapshots";
		else
			m->nsegs++;
	}
	if (bad)
		chr_meta_free(m);
	return loaded_json(o, path, bad, err, errlen);
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

/* ---- raw partitions (chronicle-raw-partition) ---------------------------- */

void chr_rawmeta_free(struct chr_rawmeta *m)
{
	free(m->segs);
	m->segs = NULL;
	m->nsegs = 0;
}

const struct chr_rawseg *chr_rawmeta_find(const struct chr_rawmeta *m, uint64_t id)
{
	for (size_t i = 0; i < m->nsegs; i++)
		if (m->segs[i].id == id)
			return &m->segs[i];
	return NULL;
}

int chr_rawmeta_add(struct chr_rawmeta *m, const struct chr_rawseg *s)
{
	struct chr_rawseg *v;
	size_t i;
	int any = 0;

	if (chr_rawmeta_find(m, s->id)) {
		errno = EEXIST;
		return -1;
	}
	v = realloc(m->segs, (m->nsegs + 1) * sizeof *v);
	if (v == NULL)
		return -1;
	m->segs = v;
	for (i = 0; i < m->nsegs && v[i].id < s->id; i++)
		;
	memmove(&v[i + 1], &v[i], (m->nsegs - i) * sizeof *v);
	v[i] = *s;
	m->nsegs++;
	m->records = 0;
	for (i = 0; i < m->nsegs; i++) {
		m->records += v[i].count;
		if (v[i].count == 0)
			continue;
		if (!any || v[i].ts_min < m->ts_min)
			m->ts_min = v[i].ts_min;
		if (!any || v[i].ts_max > m->ts_max)
			m->ts_max = v[i].ts_max;
		any = 1;
	}
	return 0;
}

char *chr_rawmeta_dump(const struct chr_rawmeta *m)
{
	json_t *o = json_object(), *segs = json_array();
	char tmin[CHR_TIME_BUF], tmax[CHR_TIME_BUF];
	int bad = o == NULL || segs == NULL;

	for (size_t i = 0; !bad && i < m->nsegs; i++) {
		const struct chr_rawseg *s = &m->segs[i];
		json_t *e = json_object();
		char file[32];

		snprintf(file, sizeof file, "%09" PRIu64 ".q%s", s->id, s->compressed ? ".zst" : "");
		bad = e == NULL || chr_json_set(e, "file", json_string(file)) ||
		      chr_json_set(e, "id", json_integer((json_int_t)s->id)) ||
		      chr_json_set(e, "base_seq", json_integer((json_int_t)s->base_seq)) ||
		      chr_json_set(e, "count", json_integer((json_int_t)s->count)) ||
		      chr_json_set(e, "bytes", json_integer((json_int_t)s->bytes)) ||
		      chr_json_set(e, "ts_min", json_integer(s->ts_min)) ||
		      chr_json_set(e, "ts_max", json_integer(s->ts_max)) ||
		      chr_json_set(e, "checksum", json_string(s->checksum));
		if (!bad && s->compressed)
			bad = chr_json_set(e, "raw_bytes", json_integer((json_int_t)s->raw_bytes)) ||
			      chr_json_set(e, "raw_checksum", json_string(s->raw_checksum)) ||
			      chr_json_set(e, "compressed", json_true());
		if (e != NULL && json_array_append_new(segs, e) < 0)
			bad = 1;
	}
	chr_time_format(tmin, m->ts_min);
	chr_time_format(tmax, m->ts_max);
	bad = bad || chr_json_set(o, "format", json_string("chronicle-raw-partition")) ||
	      chr_json_set(o, "version", json_integer(1)) || chr_json_set(o, "venue", json_string(m->venue)) ||
	      chr_json_set(o, "date", json_string(m->date)) || chr_json_set(o, "stream", json_string("raw")) ||
	      chr_json_set(o, "ingest_time", json_string(m->ingest_time)) ||
	      chr_json_set(o, "records", json_integer((json_int_t)m->records)) ||
	      chr_json_set(o, "ts_min", json_integer(m->ts_min)) || chr_json_set(o, "ts_max", json_integer(m->ts_max)) ||
	      chr_json_set(o, "time_min", json_string(tmin)) || chr_json_set(o, "time_max", json_string(tmax)) ||
	      chr_json_set(o, "completeness", json_string("sealed"));
	if (!bad) {
		bad = json_object_set(o, "segments", segs) < 0;
	}
	json_decref(segs);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return chr_json_text(o);
}

/* One segment entry; NULL when good, else what is wrong. */
static const char *rawseg_load(json_t *e, struct chr_rawseg *s)
{
	char file[32], want[32];

	memset(s, 0, sizeof *s);
	if (chr_json_str(e, "file", file, sizeof file) < 0 || chr_json_u64(e, "id", &s->id) < 0 ||
	    chr_json_u64(e, "base_seq", &s->base_seq) < 0 || chr_json_u64(e, "count", &s->count) < 0 ||
	    chr_json_u64(e, "bytes", &s->bytes) < 0 || chr_json_i64(e, "ts_min", &s->ts_min) < 0 ||
	    chr_json_i64(e, "ts_max", &s->ts_max) < 0 ||
	    chr_json_str(e, "checksum", s->checksum, sizeof s->checksum) < 0)
		return "segments";
	s->compressed = json_is_true(json_object_get(e, "compressed"));
	if (s->compressed) {
		if (chr_json_u64(e, "raw_bytes", &s->raw_bytes) < 0 ||
		    chr_json_str(e, "raw_checksum", s->raw_checksum, sizeof s->raw_checksum) < 0)
			return "raw_bytes or raw_checksum of a compressed segment";
	} else {
		s->raw_bytes = s->bytes;
		strcpy(s->raw_checksum, s->checksum);
	}
	snprintf(want, sizeof want, "%09" PRIu64 ".q%s", s->id, s->compressed ? ".zst" : "");
	return strcmp(file, want) == 0 ? NULL : "file of a segment";
}

static int rawmeta_load(const char *dir, struct chr_rawmeta *m, char *err, size_t errlen)
{
	char path[PATH_MAX], fmt[64];
	json_t *o, *a, *val;
	const char *bad = NULL;
	uint64_t ver;
	size_t i;

	memset(m, 0, sizeof *m);
	if ((o = load_file(dir, path, err, errlen)) == NULL)
		return -1;
	if (chr_json_str(o, "format", fmt, sizeof fmt) < 0 ||
	    strcmp(fmt, "chronicle-raw-partition") != 0 || chr_json_u64(o, "version", &ver) < 0 ||
	    ver != 1)
		bad = "format or version";
	else if (chr_json_str(o, "venue", m->venue, sizeof m->venue) < 0 ||
		 chr_json_str(o, "date", m->date, sizeof m->date) < 0)
		bad = "venue or date";
	else if (chr_json_str(o, "ingest_time", m->ingest_time, sizeof m->ingest_time) < 0)
		bad = "ingest_time";
	else if (chr_json_u64(o, "records", &m->records) < 0 || chr_json_i64(o, "ts_min", &m->ts_min) < 0 ||
		 chr_json_i64(o, "ts_max", &m->ts_max) < 0)
		bad = "counters";
	a = json_object_get(o, "segments");
	if (bad == NULL && !json_is_array(a))
		bad = "segments";
	if (bad == NULL && json_array_size(a) > 0 &&
	    (m->segs = calloc(json_array_size(a), sizeof *m->segs)) == NULL)
		bad = "out of memory";
	json_array_foreach(a, i, val) {
		if (bad)
			break;
		bad = rawseg_load(val, &m->segs[i]);
		if (bad == NULL && i > 0 && m->segs[i].id <= m->segs[i - 1].id)
			bad = "segment order";
		if (bad == NULL)
			m->nsegs++;
	}
	if (bad)
		chr_rawmeta_free(m);
	return loaded_json(o, path, bad, err, errlen);
}

/* ---- either format, checked for the tiers and the manifest --------------- */

void chr_partinfo_free(struct chr_partinfo *p)
{
	free(p->segs);
	p->segs = NULL;
	p->nsegs = 0;
}

/* an integer member: 1 and *v, 0 when absent, -1 when not an integer */
static int num(json_t *o, const char *k, int64_t *v)
{
	json_t *j = json_object_get(o, k);

	if (j == NULL || json_is_null(j))
		return 0;
	if (!json_is_integer(j))
		return -1;
	*v = json_integer_value(j);
	return 1;
}

static int unum(json_t *o, const char *k, uint64_t *v)
{
	int64_t x;
	int r = num(o, k, &x);

	if (r > 0 && x < 0)
		return -1;
	if (r > 0)
		*v = (uint64_t)x;
	return r;
}

/* a string member into buf: 1, 0 when absent, -1 when not a string or too long */
static int str(json_t *o, const char *k, char *buf, size_t n)
{
	json_t *j = json_object_get(o, k);

	if (j == NULL || json_is_null(j))
		return 0;
	if (!json_is_string(j) || json_string_length(j) >= n ||
	    strlen(json_string_value(j)) != json_string_length(j))
		return -1;
	memcpy(buf, json_string_value(j), json_string_length(j) + 1);
	return 1;
}

static int flag(json_t *o, const char *k, int dflt)
{
	json_t *j = json_object_get(o, k);

	return json_is_boolean(j) ? json_is_true(j) : dflt;
}

static int is_date(const char *s)
{
	int64_t ns;

	return chr_date_parse(s, &ns) == 0;
}

/* "NNNNNNNNN.q" or "NNNNNNNNN.q.zst" naming segment id */
static int seg_file_ok(const char *f, uint64_t id, int *zst)
{
	char want[32];

	snprintf(want, sizeof want, "%09" PRIu64 ".q", id);
	if (strncmp(f, want, strlen(want)) != 0)
		return 0;
	f += strlen(want);
	*zst = strcmp(f, ".zst") == 0;
	return *f == '\0' || *zst;
}

static int pseg_load(json_t *j, struct chr_pseg *s, const char **bad)
{
	int64_t ts;
	uint64_t last;
	int r, zst, hl;

	memset(s, 0, sizeof *s);
	s->sealed = 1;
	if (!json_is_object(j) || unum(j, "id", &s->id) <= 0) {
		*bad = "segment id";
		return -1;
	}
	if ((r = str(j, "file", s->file, sizeof s->file)) < 0) {
		*bad = "segment file";
		return -1;
	}
	if (r == 0)
		snprintf(s->file, sizeof s->file, "%09" PRIu64 ".q", s->id);
	if (!seg_file_ok(s->file, s->id, &zst)) {
		*bad = "segment file name";
		return -1;
	}
	if (unum(j, "first_seq", &s->first_seq) < 0 ||
	    (json_object_get(j, "first_seq") == NULL && unum(j, "base_seq", &s->first_seq) < 0) ||
	    unum(j, "count", &s->count) < 0 || (hl = unum(j, "last_seq", &last)) < 0) {
		*bad = "segment seq";
		return -1;
	}
	if (json_object_get(j, "count") == NULL) {
		if (unum(j, "records", &s->count) < 0) {
			*bad = "segment seq";
			return -1;
		}
		if (json_object_get(j, "records") == NULL && hl > 0 && last >= s->first_seq)
			s->count = last - s->first_seq + 1;
	}
	s->last_seq = hl > 0 ? last : s->first_seq + s->count - 1;
	if (unum(j, "bytes", &s->bytes) <= 0 || str(j, "checksum", s->checksum, sizeof s->checksum) <= 0) {
		*bad = "segment bytes or checksum";
		return -1;
	}
	s->ts_min = INT64_MAX;
	s->ts_max = INT64_MIN;
	if (num(j, "ts_min", &ts) < 0 || (num(j, "ts_min", &ts) > 0 && (s->ts_min = ts, 0)) ||
	    num(j, "ts_max", &ts) < 0 || (num(j, "ts_max", &ts) > 0 && (s->ts_max = ts, 0))) {
		*bad = "segment ts";
		return -1;
	}
	s->compressed = flag(j, "compressed", zst);
	if (s->compressed != zst) {
		*bad = "segment compressed flag";
		return -1;
	}
	s->sealed = flag(j, "sealed", 1);
	s->raw_bytes = s->bytes;
	snprintf(s->raw_checksum, sizeof s->raw_checksum, "%s", s->checksum);
	if (unum(j, "raw_bytes", &s->raw_bytes) < 0 ||
	    str(j, "raw_checksum", s->raw_checksum, sizeof s->raw_checksum) < 0 ||
	    (s->compressed && (json_object_get(j, "raw_bytes") == NULL ||
			       json_object_get(j, "raw_checksum") == NULL))) {
		*bad = "segment raw_bytes or raw_checksum";
		return -1;
	}
	if (snaps_load(j, s->raw_bytes, s->snaps, &s->nsnaps) < 0) {
		*bad = "segment snapshots";
		return -1;
	}
	return 0;
}

static int seg_by_id(const void *a, const void *b)
{
	const struct chr_pseg *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static int partinfo_load(const char *dir, struct chr_partinfo *p, char *err, size_t errlen)
{
	char path[PATH_MAX], fmt[64] = "", sh[512], *buf = NULL;
	const char *bad = NULL, *why;
	json_error_t je;
	json_t *o = NULL, *a, *v;
	struct stat st;
	size_t i, dl, rl;
	int fd = -1, e, r;
	ssize_t k;

	memset(p, 0, sizeof *p);
	if ((size_t)snprintf(path, sizeof path, "%s/meta.json", dir) >= sizeof path) {
		errno = ENAMETOOLONG;
		goto sys;
	}
	if (chr_s3_is_url(path)) {
		/* a partition in an object-storage tier: its meta.json object */
		struct chr_err se;
		ssize_t n = chr_s3_get(path, (unsigned char **)&buf, &se);

		if (n < 0) {
			chr_msg(err, errlen, "%s", se.msg);
			errno = n == -2 ? ENOENT : EIO;
			return -1;
		}
		i = (size_t)n;
		goto parse;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0)
		goto sys;
	if (st.st_size > (64 << 20)) {
		bad = "size (over 64 MiB)";
		goto proto;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto sys;
	for (i = 0; i < (size_t)st.st_size; i += (size_t)k) {
		k = chr_read(fd, buf + i, (size_t)st.st_size - i);
		if (k < 0)
			goto sys;
		if (k == 0)
			break;
	}
parse:
	chr_mem_xxh128(buf, i, p->meta_checksum);
	o = json_loadb(buf, i, 0, &je);
	if (o == NULL) {
		chr_msg(err, errlen, "'%s': line %d: %s", SHOWN(sh, path), je.line, je.text);
		goto eproto;
	}
	if (str(o, "format", fmt, sizeof fmt) <= 0) {
		bad = "format";
		goto proto;
	}
	if (strcmp(fmt, "chronicle-raw-partition") == 0)
		p->raw = 1;
	else if (strcmp(fmt, "chronicle-archive-partition") != 0) {
		bad = "format";
		goto proto;
	}
	if (str(o, "venue", p->venue, sizeof p->venue) <= 0 || (why = chr_name_check(p->venue))) {
		bad = "venue";
		goto proto;
	}
	if (p->raw) {
		r = str(o, "stream", p->stream, sizeof p->stream);
		if (r == 0)
			strcpy(p->stream, "raw");
		if (r < 0 || strcmp(p->stream, "raw") != 0) {
			bad = "stream";
			goto proto;
		}
	} else if (str(o, "symbol", p->symbol, sizeof p->symbol) <= 0 || chr_name_check(p->symbol)) {
		bad = "symbol";
		goto proto;
	} else if (str(o, "stream", p->stream, sizeof p->stream) <= 0 || chr_name_check(p->stream) ||
		   strcmp(p->stream, "raw") == 0) {
		bad = "stream";
		goto proto;
	}
	if (str(o, "date", p->date, sizeof p->date) <= 0 || !is_date(p->date)) {
		bad = "date";
		goto proto;
	}
	if (p->raw)
		snprintf(p->rel, sizeof p->rel, "raw/v1/%s/%s/raw", p->venue, p->date);
	else
		snprintf(p->rel, sizeof p->rel, "v1/%s/%s/%s/%s", p->venue, p->symbol, p->date, p->stream);
	/* the names must be where the file lies */
	dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	rl = strlen(p->rel);
	if (dl < rl || memcmp(dir + dl - rl, p->rel, rl) != 0 || (dl > rl && dir[dl - rl - 1] != '/')) {
		chr_msg(err, errlen, "'%s': it names partition '%s', which is not where it lies",
		    SHOWN(sh, path), p->rel);
		goto eproto;
	}
	a = json_object_get(o, "segments");
	if (!json_is_array(a)) {
		bad = "segments";
		goto proto;
	}
	if (json_array_size(a) && (p->segs = calloc(json_array_size(a), sizeof *p->segs)) == NULL)
		goto sys;
	json_array_foreach(a, i, v) {
		if (pseg_load(v, &p->segs[i], &bad) < 0)
			goto proto;
		p->nsegs++;
	}
	qsort(p->segs, p->nsegs, sizeof *p->segs, seg_by_id);
	for (i = 1; i < p->nsegs; i++)
		if (p->segs[i].id == p->segs[i - 1].id) {
			bad = "segments (an id twice)";
			goto proto;
		}
	p->ts_min = INT64_MAX;
	p->ts_max = INT64_MIN;
	for (i = 0; i < p->nsegs; i++) {
		if (p->segs[i].ts_min < p->ts_min)
			p->ts_min = p->segs[i].ts_min;
		if (p->segs[i].ts_max > p->ts_max && p->segs[i].ts_max != INT64_MIN)
			p->ts_max = p->segs[i].ts_max;
	}
	if (num(o, "ts_min", &p->ts_min) < 0 || num(o, "ts_max", &p->ts_max) < 0) {
		bad = "ts_min or ts_max";
		goto proto;
	}
	if (p->ts_max == INT64_MIN) {
		bad = "ts_max";
		goto proto;
	}
	{
		char c[32];

		if (str(o, "completeness", c, sizeof c) > 0 && strcmp(c, "sealed") != 0)
			for (i = 0; i < p->nsegs; i++)
				p->segs[i].sealed = 0;
	}
	json_decref(o);
	free(buf);
	close(fd);
	return 0;
proto:
	chr_msg(err, errlen, "'%s': bad or missing %s", SHOWN(sh, path), bad);
eproto:
	json_decref(o);
	free(buf);
	close(fd);
	chr_partinfo_free(p);
	errno = EPROTO;
	return -1;
sys:
	e = errno;
	chr_msg(err, errlen, "cannot read '%s': %s", SHOWN(sh, path), strerror(e));
	free(buf);
	if (fd >= 0)
		close(fd);
	chr_partinfo_free(p);
	errno = e;
	return -1;
}

/* ---- the loaders' error convention ---------------------------------------- */

/* rc, with e's status from errno after a failed load (errno kept). */
static int loaded(int rc, struct chr_err *e)
{
	if (rc < 0)
		e->status = errno == EPROTO ? CHR_EX_DATA : CHR_EX_SYS;
	return rc;
}

int chr_meta_load(const char *dir, struct chr_meta *m, struct chr_err *e)
{
	struct chr_err tmp, *t = e ? e : &tmp;

	return loaded(meta_load(dir, m, t->msg, sizeof t->msg), t);
}

int chr_rawmeta_load(const char *dir, struct chr_rawmeta *m, struct chr_err *e)
{
	struct chr_err tmp, *t = e ? e : &tmp;

	return loaded(rawmeta_load(dir, m, t->msg, sizeof t->msg), t);
}

int chr_partinfo_load(const char *dir, struct chr_partinfo *p, struct chr_err *e)
{
	struct chr_err tmp, *t = e ? e : &tmp;

	return loaded(partinfo_load(dir, p, t->msg, sizeof t->msg), t);
}

/* ---- meta.json against the segments' headers ------------------------------ */

/* The 64-byte header of segment s of the partition at dir into h. Returns
 * 0, or -1 with e. */
static int seg_header(const char *dir, const struct chr_pseg *s, struct chr_seg *h, struct chr_err *e)
{
	char path[PATH_MAX], err[512], sh[512];
	const char *why;
	ssize_t k;
	int fd, st;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, s->file) >= sizeof path) {
		errno = ENAMETOOLONG;
		return chr_err_sys(e, "'%s/%s'", SHOWN(sh, dir), s->file);
	}
	if (s->compressed) {
		struct chr_zsq *z = chr_zsq_open(path, err, sizeof err, &st);

		if (z == NULL)
			return chr_err_set(e, st, "%s", err);
		memcpy(h, chr_zsq_seg(z), sizeof *h);
		chr_zsq_close(z);
		return 0;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return chr_err_sys(e, "cannot read '%s'", SHOWN(sh, path));
	k = pread(fd, h, sizeof *h, 0);
	st = errno;
	close(fd);
	if (k < 0) {
		errno = st;
		return chr_err_sys(e, "cannot read '%s'", SHOWN(sh, path));
	}
	if ((size_t)k < sizeof *h)
		return chr_err_set(e, CHR_EX_DATA, "'%s': not a segment (%zd bytes)", SHOWN(sh, path), k);
	if ((why = chr_seg_check(h)) != NULL || h->id != s->id)
		return chr_err_set(e, CHR_EX_DATA, "'%s': not a segment (%s)", SHOWN(sh, path),
				   why ? why : "its id is not its name's");
	return 0;
}

/* Member k of meta.json o, when present, must be want: else an error. */
static int same_i64(json_t *o, const char *k, int64_t want, const char *path, struct chr_err *e)
{
	int64_t v;
	char sh[512];

	if (num(o, k, &v) <= 0 || v == want)
		return 0;
	return chr_err_set(e, CHR_EX_DATA, "'%s': %s %" PRId64 ", but the segment headers say %" PRId64,
			   SHOWN(sh, path), k, v, want);
}

static int same_time(json_t *o, const char *k, int64_t want, const char *path, struct chr_err *e)
{
	char buf[64], t[CHR_TIME_BUF], sh[512];

	if (str(o, k, buf, sizeof buf) == 0)
		return 0;
	chr_time_format(t, want);
	if (json_is_string(json_object_get(o, k)) && strcmp(buf, t) == 0)
		return 0;
	return chr_err_set(e, CHR_EX_DATA, "'%s': %s '%s', but the segment headers say '%s'",
			   SHOWN(sh, path), k, json_is_string(json_object_get(o, k)) ? buf : "?", t);
}

int chr_partinfo_check(const char *dir, const struct chr_partinfo *p, struct chr_err *e)
{
	char path[PATH_MAX], sum[48], sh[512];
	unsigned char *buf = NULL;
	struct chr_seg h;
	json_t *o = NULL;
	ssize_t n;
	uint64_t records = 0, first = 0, last = 0;
	int64_t tmin = INT64_MAX, tmax = INT64_MIN;
	int rc = -1, any = 0;

	if ((size_t)snprintf(path, sizeof path, "%s/meta.json", dir) >= sizeof path) {
		errno = ENAMETOOLONG;
		return chr_err_sys(e, "'%s'", SHOWN(sh, dir));
	}
	if ((n = chr_file_read(path, &buf)) < 0)
		return chr_err_sys(e, "cannot read '%s'", SHOWN(sh, path));
	chr_mem_xxh128(buf, (size_t)n, sum);
	if (strcmp(sum, p->meta_checksum) != 0) {
		free(buf);
		return 1;
	}
	if ((o = json_loadb((char *)buf, (size_t)n, 0, NULL)) == NULL) {
		chr_err_set(e, CHR_EX_DATA, "'%s': not JSON", SHOWN(sh, path));
		goto out;
	}
	for (size_t i = 0; i < p->nsegs; i++) {
		const struct chr_pseg *s = &p->segs[i];
		const char *bad = NULL;
		uint64_t want = 0, have = 0;

		if (seg_header(dir, s, &h, e) < 0)
			goto out;
		if (s->first_seq != h.base_seq)
			bad = "first_seq", have = s->first_seq, want = h.base_seq;
		else if (s->count != h.count)
			bad = "count", have = s->count, want = h.count;
		else if (h.count && s->last_seq != h.base_seq + h.count - 1)
			bad = "last_seq", have = s->last_seq, want = h.base_seq + h.count - 1;
		else if (s->raw_bytes != h.end)
			bad = "raw_bytes", have = s->raw_bytes, want = h.end;
		else if (s->ts_min != INT64_MAX && s->ts_min != h.ts_min)
			bad = "ts_min", have = (uint64_t)s->ts_min, want = (uint64_t)h.ts_min;
		else if (s->ts_max != INT64_MIN && s->ts_max != h.ts_max)
			bad = "ts_max", have = (uint64_t)s->ts_max, want = (uint64_t)h.ts_max;
		if (bad && !strncmp(bad, "ts_", 3)) {
			chr_err_set(e, CHR_EX_DATA, "'%s': segment %s: %s %" PRId64 ", but its header says %" PRId64,
				    SHOWN(sh, path), s->file, bad, (int64_t)have, (int64_t)want);
			goto out;
		}
		if (bad) {
			chr_err_set(e, CHR_EX_DATA, "'%s': segment %s: %s %" PRIu64 ", but its header says %" PRIu64,
				    SHOWN(sh, path), s->file, bad, have, want);
			goto out;
		}
		records += h.count;
		if (h.count) {
			if (!any)
				first = h.base_seq;
			last = h.base_seq + h.count - 1;
			if (h.ts_min < tmin)
				tmin = h.ts_min;
			if (h.ts_max > tmax)
				tmax = h.ts_max;
			any = 1;
		}
	}
	if (same_i64(o, "records", (int64_t)records, path, e) < 0)
		goto out;
	if (any && (same_i64(o, "first_seq", (int64_t)first, path, e) < 0 ||
		    same_i64(o, "last_seq", (int64_t)last, path, e) < 0 ||
		    same_i64(o, "ts_min", tmin, path, e) < 0 ||
		    same_i64(o, "ts_max", tmax, path, e) < 0 ||
		    same_time(o, "time_min", tmin, path, e) < 0 ||
		    same_time(o, "time_max", tmax, path, e) < 0))
		goto out;
	rc = 0;
out:
	json_decref(o);
	free(buf);
	return rc;
}
