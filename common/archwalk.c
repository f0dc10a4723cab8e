/* archwalk.c - reading the archive: its partition directories in order. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archive.h"
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
