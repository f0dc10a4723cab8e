/* archwalk.c - reading the archive: its partition directories in order,
 * the symbols of a venue across the tiers. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archive.h"
#include "archwalk.h"
#include "fmt.h"
#include "isel.h"
#include "path.h"
#include "tier.h"

static int visible(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

static int walk(char *path, size_t len, int depth, const char *const want[3],
		int (*fn)(const char *, void *), void *ctx)
{
	struct dirent **v;
	int n, rc = 0;

	if (depth == 4) {
		struct stat st;

		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return fn(path, ctx);
		return 0;
	}
	n = scandir(path, &v, visible, alphasort);
	if (n < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	for (int i = 0; i < n; i++) {
		const char *w = depth == 0 ? want[0] : depth == 1 ? want[1] : depth == 3 ? want[2] : NULL;
		size_t k = strlen(v[i]->d_name);

		if (rc == 0 && (w == NULL || strcmp(w, v[i]->d_name) == 0) && len + k + 2 < PATH_MAX) {
			path[len] = '/';
			memcpy(path + len + 1, v[i]->d_name, k + 1);
			rc = walk(path, len + 1 + k, depth + 1, want, fn, ctx);
			path[len] = '\0';
		}
		free(v[i]);
	}
	free(v);
	return rc;
}

int chr_archive_walk(const char *root, const char *venue, const char *symbol,
		     const char *stream, int (*fn)(const char *dir, void *ctx), void *ctx)
{
	char path[PATH_MAX];
	const char *want[3] = {venue, symbol, stream};

	if (chr_pathf(path, PATH_MAX, "%s/v1", root) < 0)
		return -1;
	return walk(path, strlen(path), 0, want, fn, ctx);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void chr_archive_symbols_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* the symbols found by a walk: v[0..n) */
struct syms {
	char **v;
	size_t n, cap;
};

/* chr_archive_walk's fn: keep the symbol of dir, ".../<symbol>/<date>/<stream>" */
static int add_sym(const char *dir, void *ctx)
{
	struct syms *l = ctx;
	const char *end = strrchr(dir, '/'), *p;

	while (end > dir && *--end != '/')
		;	/* back over "<date>" to the '/' before it */
	for (p = end; p > dir && p[-1] != '/'; p--)
		;
	if (end <= p)
		return 0;
	if (l->n == l->cap) {
		char **nv = realloc(l->v, (l->cap = l->cap ? 2 * l->cap : 16) * sizeof *nv);

		if (!nv)
			return -1;
		l->v = nv;
	}
	if (!(l->v[l->n] = strndup(p, (size_t)(end - p))))
		return -1;
	l->n++;
	return 0;
}

long chr_archive_symbols(const char *root, const char *venue, const char *stream, char ***out,
			 struct chr_err *e)
{
	struct chr_tiers t;
	struct syms l = {0};
	size_t k = 0;
	int rc = 0;

	chr_tiers_init(&t, root);
	if (chr_tiers_load(&t, NULL, e) < 0) {
		chr_tiers_free(&t);
		return -1;
	}
	for (size_t i = 0; i < t.n && rc == 0; i++) {
		errno = ENOMEM;
		if (chr_archive_walk(t.t[i].root, venue, NULL, stream, add_sym, &l) != 0)
			rc = chr_err_sys(e, "cannot list '%s/v1/%s'", t.t[i].root, venue);
	}
	chr_tiers_free(&t);
	if (rc < 0) {
		chr_archive_symbols_free(l.v, l.n);
		return -1;
	}
	/* sorted, each once */
	if (l.n)
		qsort(l.v, l.n, sizeof *l.v, by_name);
	for (size_t i = 0; i < l.n; i++) {
		if (k && strcmp(l.v[k - 1], l.v[i]) == 0)
			free(l.v[i]);
		else
			l.v[k++] = l.v[i];
	}
	*out = l.v;
	return (long)k;
}

/* append a copy of name to v[0..*n) unless it is there; -1 out of memory */
static int add_once(char ***v, size_t *n, const char *name)
{
	char **nv;

	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], name) == 0)
			return 0;
	if (!(nv = realloc(*v, (*n + 1) * sizeof *nv)))
		return -1;
	*v = nv;
	return (nv[*n] = strdup(name)) ? (int)++*n : -1;
}

long chr_archive_match(const char *root, const char *venue, const char *stream,
		       const char *const *patterns, size_t n, char ***out, struct chr_err *e)
{
	char **all = NULL, **v = NULL, sh[256], shv[256];
	long na = -1;
	size_t k = 0;
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		struct chr_isel sel;
		size_t matched = 0;

		if (!strpbrk(patterns[i], "*?[")) {
			if (add_once(&v, &k, patterns[i]) < 0)
				rc = chr_err_set(e, CHR_EX_SYS, "out of memory");
			continue;
		}
		if (na < 0 && (na = chr_archive_symbols(root, venue, stream, &all, e)) < 0) {
			rc = -1;
			break;
		}
		chr_isel_init(&sel);
		if (chr_isel_add_symbol(&sel, patterns[i]) < 0)
			rc = chr_err_set(e, CHR_EX_SYS, "out of memory");
		for (long j = 0; j < na && rc == 0; j++)
			if (chr_isel_names(&sel, NULL, all[j]) == CHR_ISEL_YES &&
			    (matched++, add_once(&v, &k, all[j]) < 0))
				rc = chr_err_set(e, CHR_EX_SYS, "out of memory");
		chr_isel_free(&sel);
		if (rc == 0 && matched == 0)
			rc = chr_err_set(e, CHR_EX_DATA, "no symbol matches '%s' for venue '%s'%s%s%s",
					 chr_fmt_shown(sh, sizeof sh, patterns[i]),
					 chr_fmt_shown(shv, sizeof shv, venue), stream ? " and stream '" : "",
					 stream ? stream : "", stream ? "'" : "");
	}
	if (na > 0)
		chr_archive_symbols_free(all, (size_t)na);
	if (rc < 0) {
		chr_archive_symbols_free(v, k);
		return -1;
	}
	*out = v;
	return (long)k;
}
