/* staging.c - the archive's staging and publication protocol: the archive
 * lock, staging directories kept alive by flock, atomic publication of a
 * partition directory, and the clean-up of dead runs (docs/archive.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "meta.h"
#include "path.h"
#include "staging.h"

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if (flag == FTW_DP)
		return rmdir(p);
	return unlink(p);
}

int chr_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Put the complete directory staged at src in place of dst atomically:
 * rename when dst is new (never over anything), else exchange them
 * (renameat2 RENAME_EXCHANGE: Linux 3.15, ext4, xfs, btrfs, tmpfs) and
 * remove the old one, now at src. Creates dst's parents (chr_mkdirs syncs
 * them) and syncs dst's parent. Returns 0, or -1 with errno. */
int chr_publish_dir(const char *src, const char *dst, int replace)
{
	char parent[PATH_MAX];

	if (chr_pathf(parent, PATH_MAX, "%s", dst) < 0)
		return -1;
	*strrchr(parent, '/') = '\0';
	if (chr_mkdirs(parent) < 0 ||
	    renameat2(AT_FDCWD, src, AT_FDCWD, dst, replace ? RENAME_EXCHANGE : RENAME_NOREPLACE) < 0 ||
	    chr_fsync_dir(parent) < 0)
		return -1;
	return replace ? chr_remove_tree(src) : 0;
}

/* Take the archive's publication lock (flock of ROOT/.staging/lock,
 * created as needed). Returns the lock fd, or -1 with errno. Release by
 * closing it. */
int chr_archive_lock(const char *root)
{
	char path[PATH_MAX];
	int fd;

	if (chr_pathf(path, PATH_MAX, "%s/.staging/lock", root) < 0)
		return -1;
	*strrchr(path, '/') = '\0';
	if (chr_mkdirs(path) < 0)
		return -1;
	strcat(path, "/lock");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int e = errno;

			close(fd);
			errno = e;
			return -1;
		}
	}
	return fd;
}

int chr_lock_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int chr_staging_dir(const char *root, const char *prefix, char *path)
{
	int fd, k;

	if (chr_pathf(path, PATH_MAX, "%s/.staging", root) < 0 || chr_mkdirs(path) < 0)
		return -1;
	k = prefix ? snprintf(path, PATH_MAX, "%s/.staging/%sXXXXXX", root, prefix)
		   : snprintf(path, PATH_MAX, "%s/.staging/%ld-XXXXXX", root, (long)getpid());
	if (k < 0 || k >= PATH_MAX)
		return errno = ENAMETOOLONG, -1;
	if (mkdtemp(path) == NULL)
		return -1;
	fd = chr_lock_dir(path);
	if (fd < 0 || chr_fsync_parent(path) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		rmdir(path);
		errno = e;
		return -1;
	}
	return fd;
}

/* Remove the staged run at path without ever leaving a part of it under
 * its claimable name: rename it to a fresh unlocked (dead) name, then
 * remove that; a crash leaves what cleanup removes. The caller holds the
 * archive lock. Returns 0 (also when there is none), or -1 with errno. */
int chr_staging_discard(const char *root, const char *path)
{
	char trash[PATH_MAX];

	if (chr_pathf(trash, PATH_MAX, "%s/.staging/%ld-XXXXXX", root, (long)getpid()) < 0 ||
	    mkdtemp(trash) == NULL)
		return -1;
	if (rename(path, trash) < 0) {
		int e = errno;

		rmdir(trash);
		errno = e;
		return e == ENOENT ? 0 : -1;
	}
	if (chr_fsync_parent(trash) < 0)
		return -1;
	return chr_remove_tree(trash);
}

/* What lies at a partition's place: "new" when nothing, else the
 * checksum of its meta.json ("no meta.json" when it has none) into id
 * (48 bytes). Returns 0, or -1 with errno. */
int chr_target_id(const char *path, char *id)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		strcpy(id, "new");
		return errno == ENOENT ? 0 : -1;
	}
	if (chr_meta_checksum(path, id) < 0) {
		strcpy(id, "no meta.json");
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	}
	return 0;
}

int chr_staging_done_has(const struct chr_staging_done *done, const char *rel)
{
	for (size_t i = 0; done && i < done->n; i++)
		if (strcmp(done->rel[i], rel) == 0)
			return 1;
	return 0;
}

void chr_staging_done_free(struct chr_staging_done *done)
{
	for (size_t i = 0; i < done->n; i++)
		free(done->rel[i]);
	free(done->rel);
	done->rel = NULL;
	done->n = 0;
}

/* rel into done (when not NULL and not there yet); out of memory only
 * loses a better message */
static void done_add(struct chr_staging_done *done, const char *rel)
{
	char **v, *r;

	if (done == NULL || chr_staging_done_has(done, rel))
		return;
	v = realloc(done->rel, (done->n + 1) * sizeof *v);
	if (v == NULL)
		return;
	done->rel = v;
	if ((r = strdup(rel)) != NULL)
		done->rel[done->n++] = r;
}

/* Finish the publication a dead run committed to (its COMMIT journal):
 * every staged partition still in staging (same inode) goes in place,
 * when its place holds what the run found there; else it is skipped,
 * with a warning. The run's published partitions go into done. */
static int repair(const char *root, const char *sdir, chr_warn_fn warn, void *ctx,
		  struct chr_staging_done *done)
{
	char path[PATH_MAX], line[PATH_MAX + 128];
	FILE *f;
	int rc = 0;

	chr_pathf(path, PATH_MAX, "%s/COMMIT", sdir);
	f = fopen(path, "re");
	if (f == NULL)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	while (fgets(line, sizeof line, f)) {
		char name[32], rel[PATH_MAX], want[48], now[48], src[PATH_MAX], dst[PATH_MAX];
		unsigned long long ino;
		struct stat st;

		if (sscanf(line, "%31s %llu %4095s %47s", name, &ino, rel, want) != 4 ||
		    strstr(rel, "..") || strncmp(rel, "v1/", 3) != 0 || strchr(name, '/') ||
		    chr_pathf(src, PATH_MAX, "%s/%s", sdir, name) < 0 || chr_pathf(dst, PATH_MAX, "%s/%s", root, rel) < 0)
			continue;
		if (lstat(src, &st) < 0 || (unsigned long long)st.st_ino != ino) {
			done_add(done, rel);
			continue;	/* published already */
		}
		if (chr_target_id(dst, now) < 0) {
			rc = -1;
			continue;
		}
		if (strcmp(now, want) != 0) {
			char msg[PATH_MAX + 128];

			snprintf(msg, sizeof msg, "'%s' changed after a dead run committed to it; that "
				 "run's copy is not published", dst);
			if (warn)
				warn(ctx, msg);
			continue;
		}
		if (chr_publish_dir(src, dst, strcmp(want, "new") != 0) < 0) {
			rc = -1;
		} else {
			char msg[PATH_MAX + 64];

			done_add(done, rel);
			snprintf(msg, sizeof msg, "'%s' published: completing a run that failed part way", dst);
			if (warn)
				warn(ctx, msg);
		}
	}
	fclose(f);
	return rc;
}

int chr_staging_clean(const char *root, chr_warn_fn warn, void *ctx, struct chr_err *e)
{
	return chr_staging_clean_done(root, warn, ctx, NULL, e);
}

int chr_staging_clean_done(const char *root, chr_warn_fn warn, void *ctx,
			   struct chr_staging_done *done, struct chr_err *e)
{
	char dir[PATH_MAX], sdir[PATH_MAX];
	DIR *d;
	struct dirent *de;
	int n = 0;

	chr_pathf(dir, PATH_MAX, "%s/.staging", root);
	d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		chr_err_set(e, CHR_EX_SYS, "cannot open '%s': %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		int fd, rc;

		if (de->d_name[0] == '.' || strcmp(de->d_name, "lock") == 0 ||
		    strcmp(de->d_name, CHR_STAGING_SOURCES) == 0 ||
		    chr_pathf(sdir, PATH_MAX, "%s/%s", dir, de->d_name) < 0 || lstat(sdir, &st) < 0)
			continue;
		if (strncmp(de->d_name, CHR_STAGED, strlen(CHR_STAGED)) == 0) {
			/* a staged run nobody published */
			if (time(NULL) - st.st_mtime <= CHR_STAGED_MAX_AGE)
				continue;
			rc = chr_staging_discard(root, sdir);
		} else if (S_ISDIR(st.st_mode)) {
			/* a run's directory: its owner holds its lock while it lives */
			if ((fd = chr_lock_dir(sdir)) < 0) {
				if (errno == EWOULDBLOCK || errno == ENOENT)
					continue;
				chr_err_set(e, CHR_EX_SYS, "cannot lock '%s': %s", sdir, strerror(errno));
				closedir(d);
				return -1;
			}
			rc = repair(root, sdir, warn, ctx, done) < 0 || chr_remove_tree(sdir) < 0 ? -1 : 0;
			close(fd);
		} else {
			rc = unlink(sdir);	/* a ledger entry's temp file, written under the lock */
		}
		if (rc < 0) {
			chr_err_set(e, CHR_EX_SYS, "cannot clean up '%s': %s", sdir, strerror(errno));
			closedir(d);
			return -1;
		}
		n++;
	}
	closedir(d);
	if (n > 0 && chr_fsync_dir(dir) < 0) {
		chr_err_set(e, CHR_EX_SYS, "cannot sync '%s': %s", dir, strerror(errno));
		return -1;
	}
	return n;
}

int chr_staging_make(const char *root, char *path)
{
	return chr_staging_dir(root, NULL, path);
}

