/* archwalk.c - reading the archive: its partition directories in order,
 * the symbols that --symbol globs name. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archive.h"
#include "archwalk.h"
#include "catalog.h"
#include "fmt.h"
#include "isel.h"
#include "path.h"

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

void chr_archive_names_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* the symbols of c's partitions of venue and stream (NULL: any) that sel
 * selects (every one when sel is NULL), each once, sorted, onto v[0..*k)
 * (the catalog is sorted by venue and symbol). Returns how many partitions
 * matched, or -1 when out of memory. */
static long symbols_of(const struct chr_catalog *c, const char *venue, const char *stream,
		       const struct chr_isel *sel, char ***v, size_t *k)
{
	long matched = 0;

	for (size_t j = 0; j < c->n; j++) {
		const struct chr_catalog_part *p = &c->p[j];

		if (p->raw || strcmp(p->venue, venue) != 0 || (stream && strcmp(p->stream, stream)) ||
		    (sel && chr_isel_names(sel, NULL, p->symbol) != CHR_ISEL_YES))
			continue;
		matched++;
		/* a symbol's partitions follow each other */
		if ((!*k || strcmp((*v)[*k - 1], p->symbol) != 0) && add_once(v, k, p->symbol) < 0)
			return -1;
	}
	return matched;
}

/* "no symbol matches 'X' for venue 'V' and stream 'S'; symbols: a, b"
 * into e */
static int no_match(struct chr_err *e, const struct chr_catalog *c, const char *venue,
		    const char *stream, const char *pattern)
{
	char **v = NULL, list[CHR_ERR_MAX / 2] = "none", sh[256], shv[256];
	size_t n = 0, k = 0;

	if (symbols_of(c, venue, stream, NULL, &v, &n) < 0) {
		chr_archive_names_free(v, n);
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	}
	for (size_t i = 0; i < n && i < 10 && k < sizeof list; i++)
		k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "",
				      chr_fmt_shown(sh, sizeof sh, v[i]));
	if (n > 10 && k < sizeof list)
		snprintf(list + k, sizeof list - k, ", ... (%zu in all)", n);
	chr_archive_names_free(v, n);
	return chr_err_set(e, CHR_EX_DATA, "no symbol matches '%s' for venue '%s'%s%s%s; symbols: %s",
			   chr_fmt_shown(sh, sizeof sh, pattern), chr_fmt_shown(shv, sizeof shv, venue),
			   stream ? " and stream '" : "", stream ? stream : "", stream ? "'" : "", list);
}

long chr_archive_match(const char *root, const char *venue, const char *stream,
		       const char *const *patterns, size_t n, char ***out, struct chr_err *e)
{
	struct chr_catalog c;
	char **v = NULL;
	size_t k = 0;
	int rc = 0, loaded = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		struct chr_isel sel;
		long matched;

		if (!strpbrk(patterns[i], "*?[")) {
			if (add_once(&v, &k, patterns[i]) < 0)
				rc = chr_err_set(e, CHR_EX_SYS, "out of memory");
			continue;
		}
		/* the partitions there are, across the tiers */
		if (!loaded && chr_catalog_load(&c, root, CHR_CATALOG_NAMES, NULL, NULL, e) < 0) {
			rc = -1;
			break;
		}
		loaded = 1;
		chr_isel_init(&sel);
		if (chr_isel_add_symbol(&sel, patterns[i]) < 0 ||
		    (matched = symbols_of(&c, venue, stream, &sel, &v, &k)) < 0)
			rc = chr_err_set(e, CHR_EX_SYS, "out of memory");
		else if (matched == 0)
			rc = no_match(e, &c, venue, stream, patterns[i]);
		chr_isel_free(&sel);
	}
	if (loaded)
		chr_catalog_free(&c);
	if (rc < 0) {
		chr_archive_names_free(v, k);
		return -1;
	}
	*out = v;
	return (long)k;
}
