/* archwalk.c - reading the archive: its partition directories in order,
 * and where a partition lives across the tiers (docs/tiers.md, "Writers
 * and tiers"). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archive.h"
#include "manifest.h"
#include "path.h"
#include "s3.h"
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

/* ---- a partition across the tiers ---------------------------------------- */

/* Add tier name at root to w unless a tier there is in w (by inode) or it
 * does not exist. */
static void tier_add(struct chr_archive_tiers *w, const char *name, const char *root)
{
	struct stat st, o;

	if (w->n == sizeof w->t / sizeof w->t[0] || strlen(root) >= sizeof w->t[0].root)
		return;
	if (chr_s3_is_url(root)) {
		/* object storage: the same tier by its URL */
		for (size_t i = 0; i < w->n; i++)
			if (strcmp(w->t[i].root, root) == 0)
				return;
		goto add;
	}
	if (stat(root, &st) < 0)
		return;
	for (size_t i = 0; i < w->n; i++)
		if (stat(w->t[i].root, &o) == 0 && o.st_dev == st.st_dev && o.st_ino == st.st_ino)
			return;
add:
	snprintf(w->t[w->n].name, sizeof w->t[0].name, "%s", name);
	strcpy(w->t[w->n].root, root);
	w->n++;
}

/* its tier's root is the row's path less "/<rel>/<file>" */
int chr_archive_tiers_row(const struct chr_mrow *r, void *ctx)
{
	char root[4096];
	size_t k, rl = strlen(r->rel);
	char *slash;

	if (strcmp(r->tier, "hot") == 0 || snprintf(root, sizeof root, "%s", r->path) >= (int)sizeof root ||
	    (slash = strrchr(root, '/')) == NULL)
		return 0;
	*slash = '\0';
	k = strlen(root);
	if (k > rl && root[k - rl - 1] == '/' && strcmp(root + k - rl, r->rel) == 0) {
		root[k - rl - 1] = '\0';
		tier_add(ctx, r->tier, root);
	}
	return 0;
}

int chr_archive_tiers_conf(struct chr_archive_tiers *w, const char *root, struct chr_err *e)
{
	struct chr_tiers t;

	w->n = 0;
	chr_tiers_init(&t, root);
	if (chr_tiers_load(&t, NULL, e) < 0) {
		chr_tiers_free(&t);
		return -1;
	}
	snprintf(w->t[0].name, sizeof w->t[0].name, "hot");
	snprintf(w->t[0].root, sizeof w->t[0].root, "%s", root);
	w->n = 1;
	for (size_t i = 1; i < t.n; i++)
		tier_add(w, t.t[i].name, t.t[i].root);
	chr_tiers_free(&t);
	return 0;
}

int chr_archive_tiers(struct chr_archive_tiers *w, const char *root, const char *venue,
		      const char *symbol, const char *stream, struct chr_err *e)
{
	struct chr_manifest *m;
	struct chr_err me;

	if (chr_archive_tiers_conf(w, root, e) < 0)
		return -1;
	/* tiers named by chr-tier's flags are known to the manifest alone */
	if ((m = chr_manifest_open(root, NULL, 0, &me)) != NULL) {
		chr_manifest_query(m, venue, symbol ? symbol : "", stream, INT64_MIN, INT64_MAX,
				   chr_archive_tiers_row, w, &me);
		chr_manifest_close(m);
	}
	return 0;
}

int chr_archive_where(const struct chr_archive_tiers *w, const char *rel, size_t *idx,
		      size_t nmax)
{
	struct stat st;
	dev_t dev[sizeof w->t / sizeof w->t[0]];
	ino_t ino[sizeof w->t / sizeof w->t[0]];
	size_t n = 0;

	for (size_t i = 0; i < w->n && n < nmax; i++) {
		char dir[PATH_MAX];
		size_t j;

		if (chr_pathf(dir, PATH_MAX, "%s/%s", w->t[i].root, rel) < 0)
			return -1;
		if (chr_s3_is_url(dir)) {
			int k = chr_s3tier_exists(dir, NULL);

			if (k < 0)
				return errno = EIO, -1;
			if (k)
				idx[n++] = i;
			continue;
		}
		if (stat(dir, &st) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			return -1;
		}
		if (!S_ISDIR(st.st_mode))
			continue;
		for (j = 0; j < n && !(dev[j] == st.st_dev && ino[j] == st.st_ino); j++)
			;
		if (j < n)
			continue;
		dev[n] = st.st_dev;
		ino[n] = st.st_ino;
		idx[n++] = i;
	}
	return (int)n;
}

int chr_archive_same(const char *a, const char *b, struct chr_err *e)
{
	struct chr_partinfo pa, pb;
	int same;

	if (chr_partinfo_load(a, &pa, e) < 0)
		return -1;
	if (chr_partinfo_load(b, &pb, e) < 0) {
		chr_partinfo_free(&pa);
		return -1;
	}
	same = pa.nsegs == pb.nsegs;
	for (size_t i = 0; same && i < pa.nsegs; i++)
		same = pa.segs[i].id == pb.segs[i].id && pa.segs[i].raw_bytes == pb.segs[i].raw_bytes &&
		       strcmp(pa.segs[i].raw_checksum, pb.segs[i].raw_checksum) == 0;
	chr_partinfo_free(&pa);
	chr_partinfo_free(&pb);
	return same;
}
