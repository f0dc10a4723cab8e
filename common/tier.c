/* tier.c - the tier config file and the lookup of a stream's partitions
 * across the tiers (manifest first, a scan of the tiers without one). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fmt.h"
#include "manifest.h"
#include "path.h"
#include "s3.h"
#include "tier.h"
#include "tm.h"
#include "zsq.h"

void chr_tiers_init(struct chr_tiers *t, const char *root)
{
	memset(t, 0, sizeof *t);
	strcpy(t->t[0].name, "hot");
	snprintf(t->t[0].root, sizeof t->t[0].root, "%s", root);
	t->n = 1;
	t->delete_ns = -1;
}

void chr_tiers_free(struct chr_tiers *t)
{
	for (size_t i = 0; i < t->nq; i++)
		free(t->q[i].path);
	free(t->q);
	t->q = NULL;
	t->nq = 0;
}

/* dir as a tier or queue root: relative to the archive root */
static int rooted(char *out, size_t n, const char *root, const char *dir)
{
	int k = dir[0] == '/' || chr_s3_is_url(dir) ? snprintf(out, n, "%s", dir)
						     : snprintf(out, n, "%s/%s", root, dir);

	return k < 0 || (size_t)k >= n ? -1 : 0;
}

int chr_tiers_set(struct chr_tiers *t, const char *name, const char *root, int64_t after_ns,
		  int zstd)
{
	size_t i;

	for (i = 1; i < t->n; i++)
		if (strcmp(t->t[i].name, name) == 0)
			break;
	if (i == t->n) {
		if (t->n == CHR_TIERS_MAX)
			return -1;
		t->n++;
	}
	snprintf(t->t[i].name, sizeof t->t[i].name, "%s", name);
	if (rooted(t->t[i].root, sizeof t->t[i].root, t->t[0].root, root) < 0)
		return -1;
	t->t[i].after_ns = after_ns;
	t->t[i].zstd = zstd;
	return 0;
}

/* "zstd" or "zstd=LEVEL" (1..19): the level, or -1 */
static int zstd_word(const char *w)
{
	char *end;
	long v;

	if (strcmp(w, "zstd") == 0)
		return 3;
	if (strncmp(w, "zstd=", 5) != 0)
		return -1;
	errno = 0;
	v = strtol(w + 5, &end, 10);
	if (errno || end == w + 5 || *end || v < 1 || v > 19)
		return -1;
	return (int)v;
}

int chr_tiers_load(struct chr_tiers *t, const char *file, struct chr_err *e)
{
	char path[4096], line[8192], sh[512];
	int must = file != NULL, rc = -1;
	unsigned lno = 0;
	FILE *f;

	if (file == NULL) {
		if (rooted(path, sizeof path, t->t[0].root, CHR_TIER_CONF) < 0) {
			chr_err_set(e, CHR_EX_SYS, "archive root too long");
			return -1;
		}
		file = path;
	}
	f = fopen(file, "re");
	if (f == NULL) {
		if (errno == ENOENT && !must)
			return 0;
		chr_err_sys(e, "cannot read '%s'", chr_fmt_shown(sh, sizeof sh, file));
		return -1;
	}
	chr_fmt_shown(sh, sizeof sh, file);
	while (fgets(line, sizeof line, f)) {
		char *w[12], *save = NULL, *p;
		const char *usage;
		size_t nw = 0, lo, hi, ai;
		int64_t age;

		lno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			chr_err_set(e, CHR_EX_DATA, "%s:%u: line too long", sh, lno);
			goto out;
		}
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		for (p = strtok_r(line, " \t\r\n", &save); p; p = strtok_r(NULL, " \t\r\n", &save)) {
			if (nw == 11) {
				chr_err_set(e, CHR_EX_DATA, "%s:%u: too many words", sh, lno);
				goto out;
			}
			w[nw++] = p;
		}
		if (nw == 0)
			continue;
		/* the words each directive takes, and which of them is its age */
		if (strcmp(w[0], "delete") == 0) {
			usage = "delete AGE", lo = hi = 2, ai = 1;
		} else if (strcmp(w[0], "queue") == 0) {
			usage = "queue DIR AGE", lo = hi = 3, ai = 2;
		} else {
			const char *why = chr_name_check(w[0]);

			if (why == NULL && strcmp(w[0], "hot") == 0)
				why = "'hot' is the archive root";
			if (why) {
				chr_err_set(e, CHR_EX_DATA, "%s:%u: tier name '%s': %s", sh, lno, w[0], why);
				goto out;
			}
			usage = "NAME DIR AGE [zstd[=LEVEL]]", lo = 3, hi = 4, ai = 2;
			if (nw > 1 && chr_s3_is_url(w[1]))
				usage = "NAME s3://BUCKET[/PREFIX] AGE [zstd[=LEVEL]] [OPTION=VALUE...]", hi = 11;
		}
		if (nw < lo || nw > hi) {
			chr_err_set(e, CHR_EX_DATA, "%s:%u: expected '%s'", sh, lno, usage);
			goto out;
		}
		if (chr_duration_parse(w[ai], &age) < 0 || age <= 0) {
			chr_err_set(e, CHR_EX_DATA, "%s:%u: '%s' is not a duration", sh, lno, w[ai]);
			goto out;
		}
		if (strcmp(w[0], "delete") == 0) {
			t->delete_ns = age;
		} else if (strcmp(w[0], "queue") == 0) {
			struct chr_tier_queue *nq;
			char qp[4096];

			nq = realloc(t->q, (t->nq + 1) * sizeof *t->q);
			if (nq == NULL || rooted(qp, sizeof qp, t->t[0].root, w[1]) < 0) {
				chr_err_set(e, nq ? CHR_EX_DATA : CHR_EX_SYS, "%s:%u: %s", sh, lno,
				    nq ? "path too long" : "out of memory");
				if (nq)
					t->q = nq;
				goto out;
			}
			t->q = nq;
			if ((t->q[t->nq].path = strdup(qp)) == NULL) {
				chr_err_set(e, CHR_EX_SYS, "out of memory");
				goto out;
			}
			t->q[t->nq++].age_ns = age;
		} else {
			int z = 0;

			if (chr_s3_is_url(w[1])) {
				/* an object-storage tier: its segments are always
				 * compressed (read by ranges through the seek table) */
				char bucket[256], key[1024];
				const char *why = NULL;
				size_t o = 3;

				z = CHR_ZSQ_LEVEL;
				if (nw > 3 && strncmp(w[3], "zstd", 4) == 0 && (z = zstd_word(w[o++])) < 0) {
					chr_err_set(e, CHR_EX_DATA, "%s:%u: '%s' is not zstd or zstd=LEVEL (1-19)", sh, lno, w[3]);
					goto out;
				}
				if (chr_s3_split(w[1], bucket, sizeof bucket, key, sizeof key) < 0 ||
				    strstr(w[1] + 5, "//") || w[1][strlen(w[1]) - 1] == '/') {
					chr_err_set(e, CHR_EX_DATA, "%s:%u: '%s' is not s3://BUCKET[/PREFIX] "
						    "(no '/' at the end)", sh, lno, w[1]);
					goto out;
				}
				if (chr_s3_configure(bucket, w + o, nw - o, &why) < 0) {
					chr_err_set(e, CHR_EX_DATA, "%s:%u: %s", sh, lno, why);
					goto out;
				}
			} else if (nw == 4 && (z = zstd_word(w[3])) < 0) {
				chr_err_set(e, CHR_EX_DATA, "%s:%u: '%s' is not zstd or zstd=LEVEL (1-19)", sh, lno, w[3]);
				goto out;
			}
			if (chr_tiers_set(t, w[0], w[1], age, z) < 0) {
				chr_err_set(e, CHR_EX_DATA, "%s:%u: too many tiers or path too long", sh, lno);
				goto out;
			}
		}
	}
	if (ferror(f)) {
		chr_err_sys(e, "cannot read '%s'", sh);
		goto out;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

static int by_age(const void *a, const void *b)
{
	const struct chr_tier *x = a, *y = b;

	return (x->after_ns > y->after_ns) - (x->after_ns < y->after_ns);
}

int chr_tiers_check(struct chr_tiers *t, struct chr_err *e)
{
	char sh[512];

	qsort(t->t + 1, t->n - 1, sizeof t->t[0], by_age);
	for (size_t i = 1; i < t->n; i++) {
		if (t->t[i].after_ns == t->t[i - 1].after_ns) {
			chr_err_set(e, CHR_EX_DATA, "tiers '%s' and '%s' have the same age",
			    t->t[i - 1].name, t->t[i].name);
			return -1;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(t->t[i].root, t->t[j].root) == 0) {
				chr_err_set(e, CHR_EX_DATA, "tiers '%s' and '%s' have the same directory '%s'",
				    t->t[j].name, t->t[i].name,
				    chr_fmt_shown(sh, sizeof sh, t->t[i].root));
				return -1;
			}
	}
	for (size_t i = 1; i + 1 < t->n; i++)
		if (chr_s3_is_url(t->t[i].root)) {
			chr_err_set(e, CHR_EX_DATA, "tier '%s' ('%s') is in object storage: it must be "
				    "the coldest", t->t[i].name, chr_fmt_shown(sh, sizeof sh, t->t[i].root));
			return -1;
		}
	if (t->delete_ns >= 0 && t->delete_ns <= t->t[t->n - 1].after_ns) {
		chr_err_set(e, CHR_EX_DATA, "the delete age is not above tier '%s's age",
			    t->t[t->n - 1].name);
		return -1;
	}
	return 0;
}

/* ---- finding partitions ------------------------------------------------ */

struct found {
	struct chr_tier_part *v;
	size_t n, cap;
	int err;
};

static int have(const struct found *f, const char *date)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].date, date) == 0)
			return 1;
	return 0;
}

static int push(struct found *f, const char *date, const char *dir)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 16;
		struct chr_tier_part *nv = realloc(f->v, cap * sizeof *nv);

		if (nv == NULL)
			return -1;
		f->v = nv;
		f->cap = cap;
	}
	snprintf(f->v[f->n].date, sizeof f->v[f->n].date, "%s", date);
	if ((f->v[f->n].dir = strdup(dir)) == NULL)
		return -1;
	f->n++;
	return 0;
}

/* "<tier>/v1/<venue>/<symbol>" or "<tier>/raw/v1/<venue>" into buf */
static int inst_dir(char *buf, size_t n, const char *tier, const char *venue, const char *symbol)
{
	int k = symbol ? snprintf(buf, n, "%s/v1/%s/%s", tier, venue, symbol)
		       : snprintf(buf, n, "%s/raw/v1/%s", tier, venue);

	return k < 0 || (size_t)k >= n ? -1 : 0;
}

struct s3scan {
	struct found *f;
	const char *inst, *stream, *date;
	size_t skip;		/* the bucket's part of inst/ in keys */
	int *exists;
};

/* a key of inst/: DATE/STREAM/meta.json adds DATE */
static int s3_date(const char *key, uint64_t size, void *ctx)
{
	struct s3scan *x = ctx;
	const char *k = key + x->skip;
	char d[11], dir[PATH_MAX];

	(void)size;
	if (strlen(key) < x->skip)
		return 0;
	*x->exists = 1;
	if (strlen(k) < 11 || k[10] != '/' || strncmp(k + 11, x->stream, strlen(x->stream)) != 0 ||
	    strcmp(k + 11 + strlen(x->stream), "/meta.json") != 0)
		return 0;
	memcpy(d, k, 10);
	d[10] = '\0';
	if ((x->date && strcmp(d, x->date) != 0) || have(x->f, d) ||
	    (size_t)snprintf(dir, sizeof dir, "%s/%s/%s", x->inst, d, x->stream) >= sizeof dir)
		return 0;
	return push(x->f, d, dir) < 0 ? -1 : 0;
}

/* Add the dates of inst (a date directory holding stream) not yet found. */
static int scan(struct found *f, const char *inst, const char *stream, const char *date, int *exists)
{
	struct dirent **v;
	int n;

	if (chr_s3_is_url(inst)) {
		char pre[PATH_MAX], bucket[256], key[1024];
		struct s3scan x = {f, inst, stream, date, 0, exists};
		struct chr_err e;

		if ((size_t)snprintf(pre, sizeof pre, "%s/", inst) >= sizeof pre ||
		    chr_s3_split(pre, bucket, sizeof bucket, key, sizeof key) < 0)
			return errno = ENAMETOOLONG, -1;
		x.skip = strlen(key);
		if (chr_s3_list(pre, s3_date, &x, &e) != 0)
			return errno = EIO, -1;
		return 0;
	}
	n = scandir(inst, &v, NULL, alphasort);

	if (n < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	*exists = 1;
	for (int i = 0; i < n; i++) {
		char dir[PATH_MAX];
		struct stat st;
		const char *d = v[i]->d_name;

		if (d[0] != '.' && strlen(d) == 10 && (date == NULL || strcmp(d, date) == 0) &&
		    !have(f, d) && (size_t)snprintf(dir, sizeof dir, "%s/%s/%s", inst, d, stream) < sizeof dir &&
		    stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && push(f, d, dir) < 0)
			f->err = 1;
		free(v[i]);
	}
	free(v);
	return f->err ? -1 : 0;
}

struct q {
	struct found *f;
	const struct chr_tiers *t;
	const char *date;
	char last[256];
	int (*also)(const struct chr_mrow *row, void *ctx);	/* chr_tier_parts_with */
	void *also_ctx;
};

static int exists_dir(const char *dir)
{
	char p[PATH_MAX];

	if (chr_s3_is_url(dir))
		return chr_s3tier_exists(dir, NULL) == 1;
	return (size_t)snprintf(p, sizeof p, "%s/meta.json", dir) < sizeof p && access(p, F_OK) == 0;
}

/* a segment row: the first of its partition adds the partition, where it is */
static int row(const struct chr_mrow *r, void *ctx)
{
	struct q *q = ctx;
	char dir[PATH_MAX];

	if (q->also && q->also(r, q->also_ctx) != 0)
		return -1;
	if (strcmp(q->last, r->rel) == 0 || (q->date && strcmp(q->date, r->date) != 0) ||
	    have(q->f, r->date))
		return 0;
	snprintf(q->last, sizeof q->last, "%s", r->rel);
	/* the hot tier is the root the reader was given */
	if ((strcmp(r->tier, "hot") == 0 ? snprintf(dir, sizeof dir, "%s/%s", q->t->t[0].root, r->rel)
					  : snprintf(dir, sizeof dir, "%s", r->path)) >= (int)sizeof dir)
		return 0;
	if (strcmp(r->tier, "hot") != 0)
		*strrchr(dir, '/') = '\0';
	if (!exists_dir(dir)) {
		/* moved since the manifest was written: find it */
		for (size_t i = 0; i < q->t->n; i++)
			if ((size_t)snprintf(dir, sizeof dir, "%s/%s", q->t->t[i].root, r->rel) < sizeof dir &&
			    exists_dir(dir))
				break;
	}
	if (exists_dir(dir) && push(q->f, r->date, dir) < 0)
		return -1;
	return 0;
}

static int by_date(const void *a, const void *b)
{
	return strcmp(((const struct chr_tier_part *)a)->date, ((const struct chr_tier_part *)b)->date);
}

/* e for a scan of inst that failed */
static void scan_fail(struct chr_err *e, const char *inst)
{
	char sh[512];

	if (chr_s3_is_url(inst))
		chr_err_set(e, CHR_EX_SYS, "%s", chr_s3_last_error());
	else
		chr_err_sys(e, "cannot read '%s'", chr_fmt_shown(sh, sizeof sh, inst));
}

long chr_tier_parts(const char *root, const char *venue, const char *symbol, const char *stream,
		    const char *date, struct chr_tier_part **out, int *found,
		    struct chr_err *e)
{
	return chr_tier_parts_with(root, venue, symbol, stream, date, out, found, NULL, NULL, e);
}

long chr_tier_parts_with(const char *root, const char *venue, const char *symbol,
			 const char *stream, const char *date, struct chr_tier_part **out,
			 int *found, int (*also)(const struct chr_mrow *row, void *ctx),
			 void *also_ctx, struct chr_err *e)
{
	struct chr_tiers t;
	struct found f = {0};
	struct chr_manifest *m;
	char inst[PATH_MAX];
	size_t scan_tiers;

	*out = NULL;
	*found = 0;
	if (symbol && *symbol == '\0')
		symbol = NULL;
	chr_tiers_init(&t, root);
	if (chr_tiers_load(&t, NULL, e) < 0) {
		if (e != NULL)
			e->status = CHR_EX_SYS;
		chr_tiers_free(&t);
		return -1;
	}
	scan_tiers = t.n;
	/* the files are the truth: without a usable manifest (none yet, one
	 * being made by a process that was killed, or damaged) they are
	 * scanned */
	m = chr_manifest_open(root, NULL, 0, e);
	if (m) {
		struct q q = {&f, &t, date, "", also, also_ctx};
		int rc = chr_manifest_query(m, venue, symbol ? symbol : "", stream, INT64_MIN,
					    INT64_MAX, row, &q, e);

		chr_manifest_close(m);
		if (rc != 0) {
			if (rc > 0)
				chr_err_set(e, CHR_EX_SYS, "out of memory");
			goto fail;
		}
		if (f.n)
			*found = 1;
		scan_tiers = 1;	/* the manifest does not know what came since */
	}
	for (size_t i = 0; i < scan_tiers; i++) {
		if (inst_dir(inst, sizeof inst, t.t[i].root, venue, symbol) < 0) {
			chr_err_set(e, CHR_EX_SYS, "archive path: %s", strerror(ENAMETOOLONG));
			goto fail;
		}
		if (scan(&f, inst, stream, date, found) < 0) {
			scan_fail(e, inst);
			goto fail;
		}
	}
	if (!*found && m) {
		/* the manifest knows nothing and the hot tier has nothing: maybe
		 * the manifest is stale; scan the colder tiers as well */
		for (size_t i = 1; i < t.n; i++)
			if (inst_dir(inst, sizeof inst, t.t[i].root, venue, symbol) == 0 &&
			    scan(&f, inst, stream, date, found) < 0) {
				scan_fail(e, inst);
				goto fail;
			}
	}
	chr_tiers_free(&t);
	if (f.n)
		qsort(f.v, f.n, sizeof *f.v, by_date);
	*out = f.v;
	return (long)f.n;
fail:
	chr_tiers_free(&t);
	chr_tier_parts_free(f.v, f.n);
	return -1;
}

void chr_tier_parts_free(struct chr_tier_part *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i].dir);
	free(p);
}
