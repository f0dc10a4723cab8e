/* s3tier.c - a tier in object storage (docs/tiers.md, "Object storage"):
 * its partitions are the keys PREFIX/REL/meta.json, found by listing;
 * objects under a REL without meta.json are what a dead move left. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "path.h"
#include "s3.h"
#include "tier.h"

/* 1 when rel (no trailing '/') is v1/V/S/D/K or raw/v1/V/D/raw */
static int is_rel(const char *rel)
{
	const char *c[6];
	size_t n = 0;

	for (const char *p = rel; n < 6; p++) {
		c[n++] = p;
		if ((p = strchr(p, '/')) == NULL)
			break;
	}
	if (n != 5)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (*c[i] == '.' || *c[i] == '/' || *c[i] == '\0')
			return 0;
	if (strncmp(rel, "v1/", 3) == 0)
		return 1;
	return strncmp(rel, "raw/v1/", 7) == 0 && strcmp(strrchr(rel, '/'), "/raw") == 0;
}

struct listing {
	size_t skip;		/* the prefix's length in keys */
	const char *root;
	size_t tier;
	int (*fn)(size_t, const char *, const char *, void *);
	void *ctx;
	/* orphans: the keys, and the published partitions */
	char **keys, **parts;
	size_t nkeys, nparts;
	int nomem;
};

static int push(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof **v);

	if (nv == NULL)
		return -1;
	*v = nv;
	if ((nv[*n] = strdup(s)) == NULL)
		return -1;
	(*n)++;
	return 0;
}

/* rel of key (less the prefix) when it is REL/meta.json, into rel */
static int meta_key(const char *key, char *rel, size_t n)
{
	size_t k = strlen(key);

	if (k < 10 || k - 10 >= n || strcmp(key + k - 10, "/meta.json") != 0)
		return 0;
	memcpy(rel, key, k - 10);
	rel[k - 10] = '\0';
	return is_rel(rel);
}

static int walk_key(const char *key, uint64_t size, void *ctx)
{
	struct listing *l = ctx;
	char rel[1024], dir[4096];

	(void)size;
	if (strlen(key) < l->skip || !meta_key(key + l->skip, rel, sizeof rel) ||
	    (size_t)snprintf(dir, sizeof dir, "%s/%s", l->root, rel) >= sizeof dir)
		return 0;
	return l->fn(l->tier, dir, rel, l->ctx);
}

/* the list prefix of root: "s3://b/p" -> "s3://b/p/" ("s3://b" -> "s3://b/") */
static int list_prefix(const char *root, char *out, size_t n, size_t *skip)
{
	char bucket[256], key[1024];

	if (chr_s3_split(root, bucket, sizeof bucket, key, sizeof key) < 0 ||
	    (size_t)snprintf(out, n, "%s/", root) >= n)
		return -1;
	*skip = *key ? strlen(key) + 1 : 0;
	return 0;
}

int chr_s3tier_walk(const char *root, size_t tier,
		    int (*fn)(size_t tier, const char *dir, const char *rel, void *ctx), void *ctx,
		    struct chr_err *e)
{
	char pre[4096];
	struct listing l = {0};

	if (list_prefix(root, pre, sizeof pre, &l.skip) < 0)
		return chr_err_set(e, CHR_EX_SYS, "'%.300s' is not s3://bucket[/prefix]", root);
	l.root = root;
	l.tier = tier;
	l.fn = fn;
	l.ctx = ctx;
	return chr_s3_list(pre, walk_key, &l, e);
}

static int orphan_key(const char *key, uint64_t size, void *ctx)
{
	struct listing *l = ctx;
	char rel[1024];

	(void)size;
	if (strlen(key) < l->skip)
		return 0;
	if ((meta_key(key + l->skip, rel, sizeof rel) && push(&l->parts, &l->nparts, rel) < 0) ||
	    push(&l->keys, &l->nkeys, key + l->skip) < 0) {
		l->nomem = 1;
		return 1;
	}
	return 0;
}

long chr_s3tier_orphans(const char *root, chr_warn_fn say, void *ctx, struct chr_err *e)
{
	char pre[4096], url[4096];
	struct listing l = {0};
	long removed = 0;
	int rc;

	if (list_prefix(root, pre, sizeof pre, &l.skip) < 0)
		return chr_err_set(e, CHR_EX_SYS, "'%.300s' is not s3://bucket[/prefix]", root);
	/* uploads in parts that a killed pass left open */
	if ((removed = chr_s3_abort_uploads(pre, e)) < 0)
		return -1;
	if (removed && say) {
		char m[4200];

		snprintf(m, sizeof m, "aborted %ld upload%s below '%s', left by a move that died",
			 removed, removed == 1 ? "" : "s", pre);
		say(ctx, m);
	}
	rc = chr_s3_list(pre, orphan_key, &l, e);
	if (rc > 0 || l.nomem)
		rc = chr_err_set(e, CHR_EX_SYS, "out of memory");
	for (size_t i = 0; rc == 0 && i < l.nkeys; i++) {
		const char *k = l.keys[i], *sl = strrchr(k, '/');
		size_t j, dl = sl ? (size_t)(sl - k) : 0;

		/* under a published partition (its meta.json, its segments) */
		for (j = 0; j < l.nparts; j++)
			if (strlen(l.parts[j]) == dl && strncmp(l.parts[j], k, dl) == 0)
				break;
		if (j < l.nparts || !sl)
			continue;
		/* a data key of the layout's shape only: nothing else is ours */
		{
			char rel[1024];

			if (dl >= sizeof rel)
				continue;
			memcpy(rel, k, dl);
			rel[dl] = '\0';
			if (!is_rel(rel))
				continue;
		}
		snprintf(url, sizeof url, "%s%s", pre, k);
		if (chr_s3_delete(url, e) < 0) {
			rc = -1;
			break;
		}
		if (say) {
			char m[4200];

			snprintf(m, sizeof m, "removed '%s', left by a move that died", url);
			say(ctx, m);
		}
		removed++;
	}
	for (size_t i = 0; i < l.nkeys; i++)
		free(l.keys[i]);
	for (size_t i = 0; i < l.nparts; i++)
		free(l.parts[i]);
	free(l.keys);
	free(l.parts);
	return rc < 0 ? -1 : removed;
}

int chr_s3tier_exists(const char *dir, struct chr_err *e)
{
	char url[4096];
	uint64_t size;
	struct chr_err own;
	int k;

	if (e == NULL)
		e = &own;	/* the failure is kept in chr_s3_last_error() */
	if ((size_t)snprintf(url, sizeof url, "%s/meta.json", dir) >= sizeof url)
		return chr_err_set(e, CHR_EX_SYS, "'%.300s': %s", dir, strerror(ENAMETOOLONG));
	k = chr_s3_head(url, &size, NULL, e);
	return k < 0 ? -1 : !k;
}
