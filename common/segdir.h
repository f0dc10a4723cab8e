/* segdir.h - the segment files of a directory ("NNNNNNNNN.q", and where
 * asked "NNNNNNNNN.q.zst") in id order: queues, raw archives and archive
 * partitions list them with this one function. */
#ifndef CHR_SEGDIR_H
#define CHR_SEGDIR_H

#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define CHR_SEGDIR_ZST 0x1	/* also list "ID.q.zst" (compressed segments) */
#define CHR_SEGDIR_ANYLEN 0x2	/* ids of any number of digits, not only 9 */
#define CHR_SEGDIR_RMTMP 0x4	/* remove a queue writer's leftovers: "ID.q.tmp",
				 * "ID.idx.tmp" and ".recycle.*" */

struct chr_segdir_ent {
	uint64_t id;
	int zst;		/* the name ends in ".q.zst" */
	char name[40];		/* the file's name in the directory */
};

/* The segment files of the directory open at dfd (or, when dfd < 0,
 * of the directory dir; dir names it in messages either way), sorted by
 * id and, for one id, the plain file before the compressed one. Every
 * other name (temp files, indexes, "control", a name too long to be a
 * segment's) is ignored. The entries are malloc'd into *out (NULL when
 * none; the caller frees it). Returns the count, or -1 with errno and e
 * ("cannot open 'dir': why", "cannot read 'dir': why", "out of memory"). */
ssize_t chr_segdir_list(int dfd, const char *dir, unsigned flags,
			struct chr_segdir_ent **out, struct chr_err *e);

/* The first entry of a sorted list v of n whose id its predecessor has
 * too (the same segment as "ID.q" and "ID.q.zst", or under two spellings
 * of its id), or NULL when every id is there once. */
const struct chr_segdir_ent *chr_segdir_dup(const struct chr_segdir_ent *v, size_t n);

#endif
