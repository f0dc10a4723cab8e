/* catalog.c - the partitions of an archive across its tiers, from the
 * files and manifest.db, printed for people and tools, and the names that
 * exist when one asked for does not. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "catalog.h"
#include "fmt.h"
#include "manifest.h"
#include "meta.h"
#include "tier.h"
#include "tm.h"

#define SHOWN(buf, s) chr_fmt_shown(buf, sizeof buf, s)
#define LIST_MAX 8	/* names shown in a message */

/* ---- loading ------------------------------------------------------------- */

struct load {
	struct chr_catalog *c;
	const struct chr_tiers *t;
	int names;
	chr_warn_fn warn;
	void *ctx;
	int nomem;
};

static struct chr_catalog_part *add(struct load *l)
{
	struct chr_catalog *c = l->c;

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct chr_catalog_part *np = realloc(c->p, cap * sizeof *np);

		if (np == NULL) {
			l->nomem = 1;
			return NULL;
		}
		c->p = np;
		c->cap = cap;
	}
	memset(&c->p[c->n], 0, sizeof c->p[c->n]);
	c->p[c->n].ts_min = INT64_MAX;
	c->p[c->n].ts_max = INT64_MIN;
	return &c->p[c->n];
}

static int is_date(const char *s)
{
	static const char pat[] = "dddd-dd-dd";

	for (size_t i = 0; i < sizeof pat - 1; i++)
		if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pat[i])
			return 0;
	return s[sizeof pat - 1] == '\0';
}

/* the names of rel ("v1/V/S/D/K" or "raw/v1/V/D/raw") into p; 0, or -1
 * when it is not a partition's */
static int names_of(struct chr_catalog_part *p, const char *rel)
{
	char buf[512], *w[6], *save = NULL;
	size_t n = 0;

	if (snprintf(buf, sizeof buf, "%s", rel) >= (int)sizeof buf)
		return -1;
	for (char *s = strtok_r(buf, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
		if (n == 6)
			return -1;
		w[n++] = s;
	}
	if (n == 5 && strcmp(w[0], "raw") == 0) {
		p->raw = 1;
		memmove(w + 1, w + 2, 3 * sizeof *w);	/* V D raw */
		if (strlen(w[1]) >= sizeof p->venue || !is_date(w[2]))
			return -1;
		snprintf(p->venue, sizeof p->venue, "%s", w[1]);
		snprintf(p->date, sizeof p->date, "%s", w[2]);
		snprintf(p->stream, sizeof p->stream, "raw");
		return 0;
	}
	if (n != 5 || strlen(w[1]) >= sizeof p->venue || strlen(w[2]) >= sizeof p->symbol ||
	    !is_date(w[3]) || strlen(w[4]) >= sizeof p->stream)
		return -1;
	snprintf(p->venue, sizeof p->venue, "%s", w[1]);
	snprintf(p->symbol, sizeof p->symbol, "%s", w[2]);
	snprintf(p->date, sizeof p->date, "%s", w[3]);
	snprintf(p->stream, sizeof p->stream, "%s", w[4]);
	return 0;
}

/* a partition directory of tier i found by the walk */
static int from_file(size_t i, const char *dir, const char *rel, void *ctx)
{
	struct load *l = ctx;
	struct chr_catalog_part *p;
	struct chr_partinfo pi;
	struct chr_err e;

	if ((p = add(l)) == NULL)
		return 1;
	if (l->names) {
		if (names_of(p, rel) < 0)
			return 0;
	} else {
		if (chr_partinfo_load(dir, &pi, &e) < 0) {
			/* no meta.json: not a partition (one being made is staged) */
			if (errno != ENOENT) {
				if (l->warn)
					l->warn(l->ctx, e.msg);
				l->c->skipped++;
			}
			return 0;
		}
		p->raw = pi.raw;
		snprintf(p->venue, sizeof p->venue, "%s", pi.venue);
		snprintf(p->symbol, sizeof p->symbol, "%s", pi.symbol);
		snprintf(p->date, sizeof p->date, "%s", pi.date);
		snprintf(p->stream, sizeof p->stream, "%s", pi.stream);
		p->segments = pi.nsegs;
		for (size_t k = 0; k < pi.nsegs; k++) {
			const struct chr_pseg *s = &pi.segs[k];

			p->records += s->count;
			p->bytes += s->bytes;
			p->raw_bytes += s->raw_bytes;
			p->compressed += s->compressed != 0;
		}
		p->ts_min = pi.ts_min;
		p->ts_max = pi.ts_max;
		chr_partinfo_free(&pi);
	}
	snprintf(p->tier, sizeof p->tier, "%s", l->t->t[i].name);
	p->rank = (int)i;
	if ((p->dir = strdup(dir)) == NULL) {
		l->nomem = 1;
		return 1;
	}
	l->c->n++;
	return 0;
}

/* a partition of a colder tier that the manifest holds */
static int from_manifest(const struct chr_mpart *m, void *ctx)
{
	struct load *l = ctx;
	struct chr_catalog_part *p;

	if (strcmp(m->tier, "hot") == 0)
		return 0;	/* the hot tier is read from its files */
	if ((p = add(l)) == NULL)
		return 1;
	if (names_of(p, m->rel) < 0)
		return 0;
	snprintf(p->tier, sizeof p->tier, "%s", m->tier);
	p->rank = 1;
	p->segments = m->segments;
	p->records = m->records;
	p->bytes = m->bytes;
	p->raw_bytes = m->raw_bytes;
	p->compressed = m->compressed;
	p->ts_min = m->ts_min;
	p->ts_max = m->ts_max;
	if (asprintf(&p->dir, "%s/%s", m->root, m->rel) < 0) {
		p->dir = NULL;
		l->nomem = 1;
		return 1;
	}
	l->c->n++;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	const struct chr_catalog_part *x = a, *y = b;
	int k;

	if ((k = strcmp(x->venue, y->venue)) || (k = strcmp(x->symbol, y->symbol)) ||
	    (k = strcmp(x->date, y->date)) || (k = strcmp(x->stream, y->stream)))
		return k;
	return (x->rank > y->rank) - (x->rank < y->rank);
}

/* 0 when root is an archive, else -1 with e */
static int archive_root(const char *root, struct chr_err *e)
{
	static const char *const marks[] = {"v1", "raw", CHR_MANIFEST, CHR_TIER_CONF, ".staging"};
	char p[PATH_MAX], sh[512];
	struct stat st;

	if (stat(root, &st) < 0)
		return chr_err_sys(e, "cannot open '%s'", SHOWN(sh, root));
	if (!S_ISDIR(st.st_mode))
		return chr_err_set(e, CHR_EX_DATA, "'%s' is not an archive: not a directory",
				   SHOWN(sh, root));
	for (size_t i = 0; i < sizeof marks / sizeof *marks; i++)
		if ((size_t)snprintf(p, sizeof p, "%s/%s", root, marks[i]) < sizeof p &&
		    access(p, F_OK) == 0)
			return 0;
	return chr_err_set(e, CHR_EX_DATA, "'%s' is not an archive: it holds no v1/, raw/, %s or %s",
			   SHOWN(sh, root), CHR_MANIFEST, CHR_TIER_CONF);
}

int chr_catalog_load(struct chr_catalog *c, const char *root, int flags, chr_warn_fn warn,
		     void *ctx, struct chr_err *e)
{
	struct chr_tiers t;
	struct chr_manifest *m;
	struct load l = {c, &t, flags & CHR_CATALOG_NAMES, warn, ctx, 0};
	struct chr_err me;
	char sh[512];
	size_t keep, scan = 1;

	memset(c, 0, sizeof *c);
	c->root = root;
	if (archive_root(root, e) < 0)
		return -1;
	chr_tiers_init(&t, root);
	if (chr_tiers_load(&t, NULL, e) < 0) {
		chr_tiers_free(&t);
		return -1;
	}
	if (chr_tier_walk(&t, 0, from_file, &l) < 0 && !l.nomem) {
		chr_err_sys(e, "cannot read '%s'", SHOWN(sh, root));
		goto fail;
	}
	if ((m = chr_manifest_open(root, NULL, 0, &me)) != NULL) {
		keep = c->n;
		if (chr_manifest_summary(m, from_manifest, &l, &me) < 0) {
			/* what it gave cannot be trusted either: the files then */
			for (size_t i = keep; i < c->n; i++)
				free(c->p[i].dir);
			c->n = keep;
			if (warn) {
				char msg[sizeof me.msg + 64];

				snprintf(msg, sizeof msg, "%s; the files of every tier are read instead", me.msg);
				warn(ctx, msg);
			}
		} else if (!l.nomem) {
			c->manifest = 1;
		}
		chr_manifest_close(m);
	} else if (errno != ENOENT && warn) {
		char msg[sizeof me.msg + 64];

		snprintf(msg, sizeof msg, "%s; the files of every tier are read instead", me.msg);
		warn(ctx, msg);
	}
	if (!c->manifest)
		scan = t.n;
	for (size_t i = 1; i < scan && !l.nomem; i++)
		if (chr_tier_walk(&t, i, from_file, &l) < 0 && !l.nomem) {
			chr_err_sys(e, "cannot read tier '%s' ('%s')", t.t[i].name, SHOWN(sh, t.t[i].root));
			goto fail;
		}
	if (l.nomem) {
		chr_err_set(e, CHR_EX_SYS, "out of memory");
		goto fail;
	}
	chr_tiers_free(&t);
	/* one entry per partition: the warmest copy */
	if (c->n)
		qsort(c->p, c->n, sizeof *c->p, by_name);
	keep = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (keep && strcmp(c->p[keep - 1].venue, c->p[i].venue) == 0 &&
		    strcmp(c->p[keep - 1].symbol, c->p[i].symbol) == 0 &&
		    strcmp(c->p[keep - 1].date, c->p[i].date) == 0 &&
		    strcmp(c->p[keep - 1].stream, c->p[i].stream) == 0) {
			free(c->p[i].dir);
			continue;
		}
		c->p[keep++] = c->p[i];
	}
	c->n = keep;
	return 0;
fail:
	chr_tiers_free(&t);
	chr_catalog_free(c);
	return -1;
}

void chr_catalog_free(struct chr_catalog *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->p[i].dir);
	free(c->p);
	c->p = NULL;
	c->n = c->cap = 0;
}

/* ---- selecting and printing ------------------------------------------------ */

static int matches(char *const *pat, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(pat[i], s, 0) == 0)
			return 1;
	return n == 0;
}

static long distinct(const struct chr_catalog *c, int f, int raw, const char *venue,
		     const char *symbol, const char *stream, const char ***out);
static int say_missing(struct chr_err *e, const char *root, const char *what, const char *want,
		       const char *where, const char **v, long n, int dates, const char *hint);

/* the error of pattern pat of field f (0 venue, 1 symbol) matching nothing */
static int unmatched(const struct chr_catalog *c, int f, const char *pat, char *const *venues,
		     size_t nv, struct chr_err *e)
{
	const char **v = malloc((c->n + 1) * sizeof *v);
	char where[256] = "", sh[128];
	long n = 0;

	if (v == NULL)
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	for (size_t i = 0; i < c->n; i++) {
		const char *s = f ? c->p[i].symbol : c->p[i].venue;
		long k;

		if (f && (c->p[i].raw || !matches(venues, nv, c->p[i].venue)))
			continue;
		for (k = 0; k < n && strcmp(v[k], s); k++)
			;
		if (k == n)
			v[n++] = s;
	}
	if (f && nv == 1)
		snprintf(where, sizeof where, " for venue %s", SHOWN(sh, venues[0]));
	say_missing(e, c->root, f ? "symbol" : "venue", pat, where, v, n, 0, "");
	free(v);
	return -1;
}

int chr_catalog_filter(struct chr_catalog *c, char *const *venues, size_t nv,
		       char *const *symbols, size_t ns, struct chr_err *e)
{
	size_t keep = 0;

	for (size_t k = 0; k < nv; k++) {
		size_t i;

		for (i = 0; i < c->n && fnmatch(venues[k], c->p[i].venue, 0) != 0; i++)
			;
		if (i == c->n)
			return unmatched(c, 0, venues[k], NULL, 0, e);
	}
	for (size_t k = 0; k < ns; k++) {
		size_t i;

		for (i = 0; i < c->n; i++)
			if (!c->p[i].raw && matches(venues, nv, c->p[i].venue) &&
			    fnmatch(symbols[k], c->p[i].symbol, 0) == 0)
				break;
		if (i == c->n)
			return unmatched(c, 1, symbols[k], venues, nv, e);
	}
	for (size_t i = 0; i < c->n; i++) {
		if (matches(venues, nv, c->p[i].venue) &&
		    (ns == 0 || (!c->p[i].raw && matches(symbols, ns, c->p[i].symbol))))
			c->p[keep++] = c->p[i];
		else
			free(c->p[i].dir);
	}
	c->n = keep;
	return 0;
}

static const char *compression(const struct chr_catalog_part *p)
{
	return p->compressed == 0 ? "none" : p->compressed == p->segments ? "zstd" : "mixed";
}

/* s as a CSV field (RFC 4180) */
static void csv_str(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* the columns of the text view */
enum { C_VENUE, C_SYMBOL, C_DATE, C_STREAM, C_TIER, C_SEGS, C_RECORDS, C_BYTES, C_ZSTD,
       C_FIRST, C_LAST, NCOL };

static void cells(const struct chr_catalog_part *p, char v[NCOL][CHR_TIME_BUF + 64])
{
	snprintf(v[C_VENUE], sizeof v[0], "%s", p->venue);
	snprintf(v[C_SYMBOL], sizeof v[0], "%s", p->raw ? "-" : p->symbol);
	snprintf(v[C_DATE], sizeof v[0], "%s", p->date);
	snprintf(v[C_STREAM], sizeof v[0], "%s", p->stream);
	snprintf(v[C_TIER], sizeof v[0], "%s", p->tier);
	snprintf(v[C_SEGS], sizeof v[0], "%" PRIu64, p->segments);
	snprintf(v[C_RECORDS], sizeof v[0], "%" PRIu64, p->records);
	snprintf(v[C_BYTES], sizeof v[0], "%" PRIu64, p->bytes);
	snprintf(v[C_ZSTD], sizeof v[0], "%s", compression(p));
	if (p->ts_min <= p->ts_max) {
		chr_time_format(v[C_FIRST], p->ts_min);
		chr_time_format(v[C_LAST], p->ts_max);
	} else {
		strcpy(v[C_FIRST], "-");
		strcpy(v[C_LAST], "-");
	}
}

static void print_text(const struct chr_catalog *c, FILE *f)
{
	static const char *const head[NCOL] = {"VENUE", "SYMBOL", "DATE", "STREAM", "TIER",
		"SEGS", "RECORDS", "BYTES", "COMPRESSION", "FIRST", "LAST"};
	char v[NCOL][CHR_TIME_BUF + 64], sh[256];
	int w[NCOL];

	for (int k = 0; k < NCOL; k++)
		w[k] = (int)strlen(head[k]);
	for (size_t i = 0; i < c->n; i++) {
		cells(&c->p[i], v);
		for (int k = 0; k < NCOL; k++) {
			int len = (int)strlen(chr_fmt_shown(sh, sizeof sh, v[k]));

			if (len > w[k])
				w[k] = len;
		}
	}
	for (size_t i = 0; i <= c->n; i++) {
		if (i > 0)
			cells(&c->p[i - 1], v);
		for (int k = 0; k < NCOL; k++) {
			const char *s = i ? chr_fmt_shown(sh, sizeof sh, v[k]) : head[k];
			int right = k >= C_SEGS && k <= C_BYTES;

			if (k == NCOL - 1)
				fprintf(f, "%s\n", s);
			else
				fprintf(f, right ? "%*s  " : "%-*s  ", w[k], s);
		}
	}
}

int chr_catalog_print(const struct chr_catalog *c, FILE *f, int format)
{
	static const char csv_head[] = "venue,symbol,date,stream,tier,segments,records,bytes,"
				       "raw_bytes,compression,ts_min,ts_max,first,last,path\n";
	char first[CHR_TIME_BUF], last[CHR_TIME_BUF];

	if (format == CHR_CATALOG_TEXT)
		print_text(c, f);
	else if (format == CHR_CATALOG_CSV)
		fputs(csv_head, f);
	for (size_t i = 0; format != CHR_CATALOG_TEXT && i < c->n; i++) {
		const struct chr_catalog_part *p = &c->p[i];
		const char *sym = p->raw ? "-" : p->symbol;
		int has = p->ts_min <= p->ts_max;

		chr_time_format(first, has ? p->ts_min : 0);
		chr_time_format(last, has ? p->ts_max : 0);
		if (format == CHR_CATALOG_JSON) {
			/* a raw partition holds many symbols: null */
			json_t *o = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s,"
					      " s:o, s:o, s:o, s:o, s:s}",
					      "venue", p->venue, "symbol", p->raw ? NULL : sym,
					      "date", p->date, "stream", p->stream, "tier", p->tier,
					      "segments", (json_int_t)p->segments,
					      "records", (json_int_t)p->records,
					      "bytes", (json_int_t)p->bytes,
					      "raw_bytes", (json_int_t)p->raw_bytes,
					      "compression", compression(p),
					      "ts_min", has ? json_integer(p->ts_min) : json_null(),
					      "ts_max", has ? json_integer(p->ts_max) : json_null(),
					      "first", has ? json_string(first) : json_null(),
					      "last", has ? json_string(last) : json_null(),
					      "path", p->dir);

			int bad = o == NULL || json_dumpf(o, f, JSON_COMPACT) < 0;

			json_decref(o);
			if (bad)
				return -1;
			fputc('\n', f);
		} else {
			csv_str(f, p->venue);
			fputc(',', f);
			csv_str(f, p->raw ? "" : sym);
			fprintf(f, ",%s,", p->date);
			csv_str(f, p->stream);
			fputc(',', f);
			csv_str(f, p->tier);
			fprintf(f, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%s,", p->segments,
				p->records, p->bytes, p->raw_bytes, compression(p));
			if (has)
				fprintf(f, "%" PRId64 ",%" PRId64 ",%s,%s,", p->ts_min, p->ts_max, first, last);
			else
				fputs(",,,,", f);
			csv_str(f, p->dir);
			fputc('\n', f);
		}
	}
	return ferror(f) ? -1 : 0;
}

/* ---- names that exist ------------------------------------------------------ */

/* edit distance of a and b ignoring case (each cut at 127 bytes) */
static unsigned distance(const char *a, const char *b)
{
	unsigned row[128], prev, tmp;
	size_t na = strnlen(a, 127), nb = strnlen(b, 127);

	for (size_t j = 0; j <= nb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= na; i++) {
		prev = row[0];
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= nb; j++) {
			unsigned best = prev + (tolower((unsigned char)a[i - 1]) !=
						tolower((unsigned char)b[j - 1]));

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[nb];
}

struct near {
	const char *name;
	uint64_t key;
};

static int by_key(const void *a, const void *b)
{
	const struct near *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int64_t day_of(const char *date)
{
	int64_t ns = 0;

	return chr_date_parse(date, &ns) == 0 ? ns / CHR_DAY_NS : 0;
}

void chr_catalog_closest(const char *want, const char **v, size_t n, int dates)
{
	struct near *w = malloc(n * sizeof *w + 1);

	if (w == NULL)
		return;	/* left in their order */
	for (size_t i = 0; i < n; i++) {
		w[i].name = v[i];
		if (dates) {
			int64_t d = day_of(v[i]) - day_of(want);

			w[i].key = (uint64_t)(d < 0 ? -d : d);
		} else {
			/* the same but for case, then one holding the other
			 * ("huobi" in "huobi-dm-swap"), then by edits */
			w[i].key = strcasecmp(want, v[i]) == 0 ? 0
				 : strcasestr(v[i], want) || strcasestr(want, v[i]) ? 1
				 : 2 + (uint64_t)distance(want, v[i]);
		}
	}
	qsort(w, n, sizeof *w, by_key);
	for (size_t i = 0; i < n; i++)
		v[i] = w[i].name;
	free(w);
}

/* The distinct values of field f (0 venue, 1 symbol, 2 stream, 3 date) of
 * the partitions of c that match (raw, venue, symbol, stream; NULL: any),
 * into *out (n returned, pointers into c; -1 when out of memory). */
static long distinct(const struct chr_catalog *c, int f, int raw, const char *venue,
		     const char *symbol, const char *stream, const char ***out)
{
	const char **v = malloc((c->n + 1) * sizeof *v);
	size_t n = 0;

	if ((*out = v) == NULL)
		return -1;
	for (size_t i = 0; i < c->n; i++) {
		const struct chr_catalog_part *p = &c->p[i];
		const char *s = f == 0 ? p->venue : f == 1 ? p->symbol : f == 2 ? p->stream : p->date;
		size_t k;

		if (p->raw != raw || (venue && strcmp(venue, p->venue)) ||
		    (symbol && strcmp(symbol, p->symbol)) || (stream && strcmp(stream, p->stream)))
			continue;
		for (k = 0; k < n && strcmp(v[k], s); k++)
			;
		if (k == n)
			v[n++] = s;
	}
	return (long)n;
}

/* "what 'want' in 'root'; whats: a, b, ..." into e: the n names v,
 * closest to want first, at most LIST_MAX of them */
static int say_missing(struct chr_err *e, const char *root, const char *what, const char *want,
		       const char *where, const char **v, long n, int dates, const char *hint)
{
	char list[CHR_ERR_MAX / 2], sh[256], shw[256];
	size_t k = 0;

	if (n <= 0) {
		snprintf(list, sizeof list, "%ss: none", what);
	} else {
		chr_catalog_closest(want, v, (size_t)n, dates);
		k = (size_t)snprintf(list, sizeof list, "%ss: ", what);
		for (long i = 0; i < n && i < LIST_MAX && k < sizeof list; i++)
			k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "",
					      chr_fmt_shown(sh, sizeof sh, v[i]));
		if (n > LIST_MAX && k < sizeof list)
			snprintf(list + k, sizeof list - k, ", ... (%ld in all)", n);
	}
	return chr_err_set(e, CHR_EX_DATA, "no %s '%s'%s in '%s'; %s%s", what, SHOWN(shw, want),
			   where, chr_fmt_shown(sh, sizeof sh, root), list, hint);
}

static int listed(const char **v, long n, const char *name)
{
	for (long i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return 1;
	return 0;
}

int chr_catalog_missing(const char *root, const char *venue, const char *symbol,
			const char *stream, const char *date, struct chr_err *e)
{
	struct chr_catalog c;
	const char **v = NULL, **o = NULL;
	char where[512], hint[256] = "", sv[128], ss[160];
	int raw = (!symbol || !*symbol) && strcmp(stream, "raw") == 0, rc = 0;
	long n, no = 0;

	if (chr_catalog_load(&c, root, CHR_CATALOG_NAMES, NULL, NULL, e) < 0)
		return -1;
	if (raw)
		symbol = NULL;
	SHOWN(sv, venue);
	if ((n = distinct(&c, 0, raw, NULL, NULL, NULL, &v)) >= 0 && !listed(v, n, venue)) {
		/* the venue may have partitions of the other kind */
		if ((no = distinct(&c, 0, !raw, NULL, NULL, NULL, &o)) > 0 && listed(o, no, venue))
			snprintf(hint, sizeof hint, raw ? " ('%s' has instrument partitions only)"
							: " ('%s' has raw partitions only: --stream raw)", sv);
		rc = say_missing(e, root, raw ? "raw venue" : "venue", venue, "", v, n, 0, hint);
		goto out;
	}
	if (!raw && n >= 0) {
		free(v);
		snprintf(where, sizeof where, " for venue %s", sv);
		if ((n = distinct(&c, 1, 0, venue, NULL, NULL, &v)) >= 0 && !listed(v, n, symbol)) {
			rc = say_missing(e, root, "symbol", symbol, where, v, n, 0, "");
			goto out;
		}
		SHOWN(ss, symbol);
		if (n >= 0) {
			free(v);
			snprintf(where, sizeof where, " for %s %s", sv, ss);
			if ((n = distinct(&c, 2, 0, venue, symbol, NULL, &v)) >= 0 && !listed(v, n, stream)) {
				rc = say_missing(e, root, "stream", stream, where, v, n, 0, "");
				goto out;
			}
		}
	}
	if (date && n >= 0) {
		free(v);
		if (raw)
			snprintf(where, sizeof where, " for raw venue %s", sv);
		else
			snprintf(where, sizeof where, " for %s %s %s", sv, ss, stream);
		if ((n = distinct(&c, 3, raw, venue, symbol, stream, &v)) >= 0 && !listed(v, n, date))
			rc = say_missing(e, root, "date", date, where, v, n, 1, "");
	}
out:
	if (n < 0 || no < 0)
		rc = chr_err_set(e, CHR_EX_SYS, "out of memory");
	free(v);
	free(o);
	chr_catalog_free(&c);
	return rc;
}
