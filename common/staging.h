/* staging.h - the archive's staging and publication protocol
 * (docs/archive.md): the archive lock, staging directories, atomic
 * publication of partition directories, clean-up of dead runs. */
#ifndef CHR_STAGING_H
#define CHR_STAGING_H

#include <stddef.h>

#include "err.h"

#define CHR_STAGED_MAX_AGE 86400	/* seconds a staged run waits to be published */
#define CHR_STAGED "staged-"	/* ROOT/.staging/staged-<ID>: a run staged by --stage */
#define CHR_STAGING_SOURCES "sources"	/* ROOT/.staging/sources/<ID>.lock: an import's
					 * lock of its source id (chr-import-tardis) */

/* Remove the entries of ROOT/.staging of dead runs: a run's directory
 * is dead when nobody holds flock on it (its run holds it while it lives).
 * The publication a dead run had committed to (its COMMIT journal) is
 * finished first, partition by partition, where the place still holds
 * what the run found there. Staged runs ROOT/.staging/staged-<ID> not
 * touched for CHR_STAGED_MAX_AGE seconds are removed (renamed away
 * first). The archive lock and ROOT/.staging/sources are left alone.
 * The caller holds the archive lock (flock of ROOT/.staging/lock).
 * A partition a dead run's copy is not published to is reported through
 * warn(ctx, message) when warn is not NULL. Returns the number of entries
 * removed, or -1 with e. */
int chr_staging_clean(const char *root, chr_warn_fn warn, void *ctx, struct chr_err *e);

/* The partitions ("v1/...") of the dead runs' journals a clean-up
 * finished: published by those runs before they died, or by the clean-up. */
struct chr_staging_done {
	char **rel;
	size_t n;
};

/* chr_staging_clean, adding to done (when not NULL) the partitions of
 * every committed dead run it finished, each published partition it
 * completes said through warn ("'DIR' published: completing a run that
 * failed part way"). Returns as chr_staging_clean. */
int chr_staging_clean_done(const char *root, chr_warn_fn warn, void *ctx,
			   struct chr_staging_done *done, struct chr_err *e);

/* Whether rel is one of done's partitions. */
int chr_staging_done_has(const struct chr_staging_done *done, const char *rel);

/* Free what done holds (not the struct). */
void chr_staging_done_free(struct chr_staging_done *done);

/* rm -rf path (no symlinks followed). Returns 0, or -1 with errno. */
int chr_remove_tree(const char *path);

/* Take the archive lock: flock(LOCK_EX) of ROOT/.staging/lock (created,
 * with ROOT/.staging, as needed), waiting for it. Returns the lock's fd
 * (release by closing it), or -1 with errno. */
int chr_archive_lock(const char *root);

/* A new staging directory "ROOT/.staging/<pid>-XXXXXX" into path
 * (PATH_MAX bytes), locked for as long as the returned fd stays open, so
 * that chr_staging_clean leaves it alone while its run lives and removes
 * it after. Call it holding the archive lock. Returns the fd, or -1 with
 * errno. */
int chr_staging_make(const char *root, char *path);

/* chr_staging_make in any tier: a new directory
 * "ROOT/.staging/<prefix>XXXXXX" (prefix NULL: "<pid>-") into path
 * (PATH_MAX bytes), ROOT/.staging created as needed, locked for as long
 * as the returned fd stays open. Returns the fd, or -1 with errno. */
int chr_staging_dir(const char *root, const char *prefix, char *path);

/* flock(LOCK_EX | LOCK_NB) of the directory at path (no symlink
 * followed): how a run marks its staging directory as alive. Returns the
 * fd (release by closing it), or -1 with errno (EWOULDBLOCK: another
 * holds it; ENOTDIR: not a directory). */
int chr_lock_dir(const char *path);

/* Put the complete directory staged at src in place of dst atomically:
 * rename when dst is new (never over anything), else (replace) exchange
 * them (renameat2 RENAME_EXCHANGE) and remove the old one, now at src.
 * Creates dst's parents and syncs dst's parent. Returns 0, or -1 with
 * errno. */
int chr_publish_dir(const char *src, const char *dst, int replace);

/* Remove the staged run at path without ever leaving a part of it under
 * its claimable name (renamed to a dead name first). The caller holds the
 * archive lock. Returns 0 (also when there is none), or -1 with errno. */
int chr_staging_discard(const char *root, const char *path);

/* What lies at a partition's place: "new" when nothing, else the checksum
 * of its meta.json ("no meta.json" when it has none) into id (48 bytes).
 * Returns 0, or -1 with errno. */
int chr_target_id(const char *path, char *id);

#endif
