/* segdir.c - listing the segment files of a directory in id order, the one
 * place that knows their names. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "num.h"
#include "segdir.h"

/* The id of a segment file name, or -1 when name is not one under flags;
 * *zst is set for "ID.q.zst". */
static int64_t seg_id(const char *name, unsigned flags, int *zst)
{
	size_t k = strspn(name, "0123456789");
	char digits[sizeof ((struct chr_segdir_ent *)0)->name];
	const char *p = name + k;
	uint64_t id;

	if (k == 0 || k >= sizeof digits || (!(flags & CHR_SEGDIR_ANYLEN) && k != 9))
		return -1;
	*zst = 0;
	if ((flags & CHR_SEGDIR_ZST) && strcmp(p, ".q.zst") == 0)
		*zst = 1;
	else if (strcmp(p, ".q") != 0)
		return -1;
	memcpy(digits, name, k);
	digits[k] = '\0';
	if (chr_parse_u64(digits, &id) < 0 || id > INT64_MAX)
		return -1;
	return (int64_t)id;
}

/* A queue writer's leftover: a temp segment or index of a crashed
 * creation, or a crashed writer's pool of recycled segments. */
static int is_leftover(const char *s)
{
	size_t len = strlen(s);

	if (strncmp(s, ".recycle.", 9) == 0)
		return 1;
	if (len < 11 || strspn(s, "0123456789") < 9)
		return 0;
	return (len == 15 && strcmp(s + 9, ".q.tmp") == 0) ||
	       (len == 17 && strcmp(s + 9, ".idx.tmp") == 0);
}

static int ent_cmp(const void *a, const void *b)
{
	const struct chr_segdir_ent *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	if (x->zst != y->zst)
		return x->zst - y->zst;
	return strcmp(x->name, y->name);
}

ssize_t chr_segdir_list(int dfd, const char *dir, unsigned flags,
			struct chr_segdir_ent **out, struct chr_err *e)
{
	struct chr_segdir_ent *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd, err;

	*out = NULL;
	fd = dfd >= 0 ? dup(dfd) : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		err = errno;
		if (fd >= 0)
			close(fd);
		chr_err_set(e, CHR_EX_SYS, "cannot open '%s': %s", dir, strerror(err));
		errno = err;
		return -1;
	}
	rewinddir(d);	/* a dup shares the position of dirfd */
	while ((errno = 0, de = readdir(d))) {
		const char *s = de->d_name;
		int zst;
		int64_t id;

		if ((flags & CHR_SEGDIR_RMTMP) && is_leftover(s)) {
			unlinkat(dirfd(d), s, 0);
			continue;
		}
		if ((id = seg_id(s, flags, &zst)) < 0 || strlen(s) >= sizeof v->name)
			continue;
		if (n == cap) {
			struct chr_segdir_ent *nv = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof *v);

			if (!nv) {
				free(v);
				closedir(d);
				chr_err_set(e, CHR_EX_SYS, "out of memory");
				errno = ENOMEM;
				return -1;
			}
			v = nv;
		}
		v[n].id = (uint64_t)id;
		v[n].zst = zst;
		strcpy(v[n].name, s);
		n++;
	}
	if (errno) {
		err = errno;
		free(v);
		closedir(d);
		chr_err_set(e, CHR_EX_SYS, "cannot read '%s': %s", dir, strerror(err));
		errno = err;
		return -1;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof *v, ent_cmp);
	*out = v;
	return (ssize_t)n;
}

const struct chr_segdir_ent *chr_segdir_dup(const struct chr_segdir_ent *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (v[i].id == v[i - 1].id)
			return &v[i];
	return NULL;
}
