/* path.h - the archive layout (docs/architecture.md), validation of names
 * that become path components, and durable file publication. */
#ifndef CHR_PATH_H
#define CHR_PATH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rec.h"

/* Why name cannot be a path component, or NULL when it can: it must be
 * 1..64 bytes of printable ASCII without '/' or '\\', not start with '.'
 * (so neither "." nor ".." nor hidden files) and contain no spaces. */
const char *chr_name_check(const char *name);

/* Copy the venue and symbol of a DEFINE payload into NUL-terminated
 * buffers (33 and 65 bytes). Returns NULL, or why the field is not a
 * NUL-padded name (bytes after the first NUL, or no NUL in the venue). */
const char *chr_define_names(const struct chr_define *d, char *venue, char *symbol);

/* The archive stream a record type belongs to: "book" (snapshots, diffs,
 * gaps), "trade", "quote", "topn"; NULL for the others. */
const char *chr_stream_of(uint16_t type);

/* "<root>/v1/<venue>/<symbol>/<date>/<stream>" into buf. Returns 0, or -1
 * when it does not fit (errno ENAMETOOLONG). The names are not checked
 * here: check them with chr_name_check first. */
int chr_path_partition(char *buf, size_t n, const char *root, const char *venue,
		       const char *symbol, const char *date, const char *stream);

/* snprintf for paths: the formatted path into buf (n bytes). Returns 0,
 * or -1 with errno ENAMETOOLONG when it does not fit (buf then holds the
 * truncated text). */
int chr_pathf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Read the whole regular file at path (a symlink is not followed: ELOOP)
 * into *buf, malloc'ed with one spare byte set to NUL (the caller frees
 * it). Returns its size, or -1 with errno (EINVAL: not a regular file;
 * EIO: it shrank while read); *buf is then NULL. */
ssize_t chr_file_read(const char *path, unsigned char **buf);

/* mkdir -p with mode 0777 (umask applies); the parent of each directory
 * it creates is fsynced, so that what it made survives a crash. Returns 0,
 * or -1 with errno. */
int chr_mkdirs(const char *path);

/* fsync the directory at path. Returns 0, or -1 with errno. */
int chr_fsync_dir(const char *path);

/* fsync the directory holding path (its dirname). Returns 0, or -1. */
int chr_fsync_parent(const char *path);

/* Publish data as path atomically: write a unique "<path>.tmp.XXXXXX",
 * fsync, rename over path, fsync the directory. Returns 0, or -1 with errno
 * (the temp file is removed). */
int chr_publish_file(const char *path, const void *data, size_t n);

/* The end of publishing: write data to the temp file tmp, open as fd, fsync
 * and close it, put it in place as path and fsync path's directory. It is
 * renamed over path, or with CHR_PUBLISH_NOREPLACE linked, which leaves a
 * path that exists alone (and returns 0). fd is closed and tmp removed in
 * every case. Returns 0, or -1 with errno. */
#define CHR_PUBLISH_NOREPLACE 0x1
int chr_publish_tmp(int fd, const char *tmp, const char *path, const void *data, size_t n,
    int flags);

#endif
