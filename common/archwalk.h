/* archwalk.h - the symbols that --symbol globs name in an archive, across
 * its tiers (chr_archive_walk, the partitions, is declared in archive.h;
 * the listing is catalog.h's). */
#ifndef CHR_ARCHWALK_H
#define CHR_ARCHWALK_H

#include <stddef.h>

#include "err.h"

/* The symbols that patterns[0..n) name for venue and stream (NULL: any) in
 * the archive at root: a pattern holding a glob character (*, ?, [)
 * stands for each symbol it matches (fnmatch(3), as chr-demux --symbol;
 * chr_isel) that has partitions of that venue and stream in some tier
 * (chr_catalog_load), sorted; another stands for itself, found or not (its
 * reader says). In the order of the patterns, each symbol once. Returns
 * the number in *out (malloc'd strings in a malloc'd array; free with
 * chr_archive_names_free), or -1 with e set: a glob that matches nothing
 * is CHR_EX_DATA, "no symbol matches 'X' for venue 'V' and stream 'S';
 * symbols: a, b" (those there are); else as chr_catalog_load. */
long chr_archive_match(const char *root, const char *venue, const char *stream,
		       const char *const *patterns, size_t n, char ***out, struct chr_err *e);
void chr_archive_names_free(char **v, size_t n);

#endif
