/* path.c - name checks, archive paths and durable publication. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "path.h"

const char *chr_name_check(const char *name)
{
	size_t n = strlen(name);

	if (n == 0)
		return "empty name";
	if (n > CHR_SYMBOL_MAX)
		return "name longer than 64 bytes";
	if (name[0] == '.')
		return "name starts with '.'";
	for (const char *p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '/' || c == '\\')
			return "name contains a path separator";
		if (c <= ' ' || c >= 0x7f)
			return "name contains a space, control or non-ASCII byte";
	}
	return NULL;
}

static const char *field(const char *f, size_t cap, char *out)
{
	size_t n = strnlen(f, cap);

	if (n == cap)
		return "name field is not NUL-terminated";
	for (size_t i = n; i < cap; i++)
		if (f[i] != '\0')
			return "name field has bytes after its NUL";
	memcpy(out, f, n + 1);
	return NULL;
}

const char *chr_define_names(const struct chr_define *d, char *venue, char *symbol)
{
	const char *bad = field(d->venue, sizeof d->venue, venue);

	if (bad == NULL && strnlen(d->symbol, sizeof d->symbol) == sizeof d->symbol) {
		/* a 64-byte symbol fills its field exactly */
		memcpy(symbol, d->symbol, sizeof d->symbol);
		symbol[sizeof d->symbol] = '\0';
		return NULL;
	}
	return bad ? bad : field(d->symbol, sizeof d->symbol, symbol);
}

const char *chr_stream_of(uint16_t type)
{
	switch (type) {
	case CHR_BOOK_SNAPSHOT:
	case CHR_BOOK_DIFF:
	case CHR_GAP:
		return "book";
	case CHR_BOOK_TOPN:
		return "topn";
	case CHR_TRADE:
		return "trade";
	case CHR_QUOTE:
		return "quote";
	}
	return NULL;
}

int chr_path_partition(char *buf, size_t n, const char *root, const char *venue,
		       const char *symbol, const char *date, const char *stream)
{
	int k = snprintf(buf, n, "%s/v1/%s/%s/%s/%s", root, venue, symbol, date, stream);

	if (k < 0 || (size_t)k >= n) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int chr_pathf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= n)
		return errno = ENAMETOOLONG, -1;
	return 0;
}

ssize_t chr_file_read(const char *path, unsigned char **buf)
{
	struct stat st;
	size_t got = 0;
	ssize_t k;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), e;

	*buf = NULL;
	if (fd < 0 || fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if ((*buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto fail;
	errno = 0;
	while (got < (size_t)st.st_size && (k = chr_read(fd, *buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)k;
	if (got != (size_t)st.st_size) {
		errno = errno ? errno : EIO;
		goto fail;
	}
	(*buf)[got] = '\0';
	close(fd);
	return (ssize_t)got;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	free(*buf);
	*buf = NULL;
	errno = e;
	return -1;
}

int chr_mkdirs(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0) {
		errno = ENOENT;
		return -1;
	}
	if (n >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			struct stat st;

			*p = '\0';
			if (mkdir(buf, 0777) == 0) {
				if (chr_fsync_parent(buf) < 0)	/* its name is durable */
					return -1;
			} else {
				if (errno != EEXIST)
					return -1;
				if (stat(buf, &st) < 0)
					return -1;
				if (!S_ISDIR(st.st_mode)) {
					errno = ENOTDIR;
					return -1;
				}
			}
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

int chr_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	if (rc < 0 && errno == EINVAL)	/* some file systems refuse; nothing to do */
		rc = 0;
	close(fd);
	return rc;
}

int chr_fsync_parent(const char *path)
{
	char buf[PATH_MAX];
	const char *s = strrchr(path, '/');
	size_t n;

	if (s == NULL)
		return chr_fsync_dir(".");
	n = (size_t)(s - path);
	if (n == 0)
		return chr_fsync_dir("/");
	if (n >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n);
	buf[n] = '\0';
	return chr_fsync_dir(buf);
}

int chr_publish_tmp(int fd, const char *tmp, const char *path, const void *data, size_t n,
    int flags)
{
	int e;

	if (chr_write_all(fd, data, n) < 0 || fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (flags & CHR_PUBLISH_NOREPLACE) {
		if (link(tmp, path) < 0 && errno != EEXIST)
			goto fail;
		unlink(tmp);
	} else if (rename(tmp, path) < 0)
		goto fail;
	return chr_fsync_parent(path);
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = e;
	return -1;
}

int chr_publish_file(const char *path, const void *data, size_t n)
{
	char tmp[PATH_MAX];
	int fd, e;
	mode_t um;

	if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* a unique temp name: concurrent publishers never share one */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -1;
	um = umask(0);
	umask(um);
	if (fchmod(fd, 0666 & ~um) < 0) {
		e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
		return -1;
	}
	return chr_publish_tmp(fd, tmp, path, data, n, 0);
}
