/* defs.h - an instrument's DEFINE before its first record, for a program
 * whose output is a record stream of its own but that writes only some of
 * the records it reads (a type selection leaves DEFINE records out). */
#ifndef CHR_DEFS_H
#define CHR_DEFS_H

#include "err.h"
#include "map.h"
#include "rec.h"

/* The latest DEFINE of each instrument, and whether it went out. */
struct chr_defs {
	struct chr_tab tab;	/* struct chr_def by (venue, market) */
	size_t unsent;		/* instruments whose DEFINE is due: while 0,
				 * chr_defs_due returns NULL at once */
};

/* No DEFINE kept. */
void chr_defs_init(struct chr_defs *d);

/* Free every DEFINE kept. */
void chr_defs_free(struct chr_defs *d);

/* Keep a copy of def, a DEFINE record, as its instrument's latest. sent:
 * 1 when the program writes def now, 0 when it does not (then it is due
 * before the instrument's next record written), except that a DEFINE not
 * written that repeats the payload of the one that went out changes
 * nothing. A DEFINE of ids 0 0 names no instrument and is not kept.
 * Returns 0, or -1 with e (out of memory; CHR_EX_SYS). */
int chr_defs_note(struct chr_defs *d, const struct chr_rec *def, int sent, struct chr_err *e);

/* The DEFINE to write before rec, a record the program writes that is not
 * a DEFINE: its instrument's latest DEFINE when that has not gone out, else
 * NULL. It counts as gone out from now on. The record returned is d's,
 * valid until the next chr_defs_note of its instrument or chr_defs_free.
 * Call chr_defs_due, which looks only while some DEFINE is due. */
const struct chr_rec *chr_defs_find(struct chr_defs *d, const struct chr_rec *rec);

/* chr_defs_find, but NULL at once while no DEFINE is due: a program that
 * writes every DEFINE it reads pays one test a record. */
static inline const struct chr_rec *chr_defs_due(struct chr_defs *d, const struct chr_rec *rec)
{
	return d->unsent ? chr_defs_find(d, rec) : NULL;
}

#endif
