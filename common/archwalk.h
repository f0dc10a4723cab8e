/* archwalk.h - what the archive holds, found by listing it: the symbols of
 * a venue across the tiers (chr_archive_walk, the partitions, is declared
 * in archive.h). */
#ifndef CHR_ARCHWALK_H
#define CHR_ARCHWALK_H

#include <stddef.h>

#include "err.h"

/* The symbols of venue in the archive at root that hold a partition of
 * stream (NULL: of any stream): the names of <tier>/v1/<venue>/<symbol>/
 * <date>/<stream> directories, for the root and every tier of
 * root/chr-tier.conf, sorted (strcmp), each once. A venue found nowhere
 * has none. Returns the number in *out (malloc'd strings in a malloc'd
 * array, or NULL when none; chr_archive_symbols_free), or -1 with e set
 * (the config cannot be read, CHR_EX_DATA or CHR_EX_SYS; a directory
 * cannot be listed or out of memory, CHR_EX_SYS). */
long chr_archive_symbols(const char *root, const char *venue, const char *stream, char ***out,
			 struct chr_err *e);
void chr_archive_symbols_free(char **v, size_t n);

/* The symbols that patterns[0..n) name for venue and stream (NULL: any) in
 * the archive at root: a pattern holding a glob character (*, ?, [)
 * stands for each symbol with that stream it matches (fnmatch(3), as
 * chr-demux --symbol; chr_isel), sorted; another stands for itself, found
 * or not (its reader says). In the order of the patterns, each symbol
 * once. Returns the number in *out (free with chr_archive_symbols_free),
 * or -1 with e set: a glob that matches nothing is CHR_EX_DATA, "no symbol
 * matches 'X' for venue 'V' and stream 'S'"; else as chr_archive_symbols. */
long chr_archive_match(const char *root, const char *venue, const char *stream,
		       const char *const *patterns, size_t n, char ***out, struct chr_err *e);

#endif
