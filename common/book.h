/* book.h - the L2 order book of one market, with exact decimals
 * (docs/book.md). */
#ifndef CHR_BOOK_H
#define CHR_BOOK_H

#include <stddef.h>
#include <stdint.h>
#include "rec.h"

#define CHR_BID 0
#define CHR_ASK 1

/* What chr_l2_apply found. Several can be set at once. */
#define CHR_L2_TOP 0x01		/* the best bid or best ask (price or size) changed */
#define CHR_L2_NOSNAP 0x02	/* a diff before any snapshot (or after a gap): ignored */
#define CHR_L2_GAP 0x04		/* the diff does not follow the last update id: the book is
				 * now unknown (cleared) until the next snapshot */
#define CHR_L2_CROSSED 0x08	/* the book was crossed after the update (best bid >= best
				 * ask); resolved as docs/book.md says */
#define CHR_L2_STALE 0x10	/* a diff wholly older than the book (update_id_last <=
				 * the book's last id): ignored */
#define CHR_L2_IGNORED 0x20	/* some levels were ignored: a CHR_NULL price or size,
				 * or a negative size; the others were applied */

struct chr_l2;

/* A new empty book (no snapshot yet), or NULL when out of memory. */
struct chr_l2 *chr_l2_new(void);
void chr_l2_free(struct chr_l2 *b);

/* Apply a BOOK_SNAPSHOT or BOOK_DIFF record whose payload was checked
 * (chr_rec_check_payload). A snapshot replaces the book, its scales
 * included; a diff sets each level's absolute size, 0 removing it, raising
 * the book's scales first when it has more fraction digits. Update ids (all
 * 0: not tracked; a diff without ids is applied and keeps the book's id, a
 * snapshot without ids lets the next diff start them): a diff whose
 * update_id_last is at most the book's last id is stale and ignored; the first diff after a snapshot follows it when its
 * update_id_first <= last + 1 (unless the snapshot's update_id_prev is
 * nonzero and equals its update_id_last: chr_l2_snapshot's mark of a book
 * past its first diff, followed as a later diff is); a later diff follows when its update_id_prev
 * equals the book's last id, or, with prev 0, when update_id_first <=
 * last + 1. A diff that does not follow is a gap: the book is cleared and
 * unknown until the next snapshot. Levels with a CHR_NULL price or size or
 * a negative size are skipped (CHR_L2_IGNORED). Returns the CHR_L2_* bits,
 * or -1: errno ERANGE when a value cannot be represented at the book's
 * scale, EINVAL when r is not a book snapshot or diff of consistent length
 * (the book unchanged); ENOMEM when memory runs out (a snapshot leaves the
 * book unchanged, a diff leaves it cleared and unknown, as a gap does). */
int chr_l2_apply(struct chr_l2 *b, const struct chr_rec *r);

/* Forget the book: it is unknown until the next snapshot (its update id
 * and scales stay until then). */
void chr_l2_reset(struct chr_l2 *b);

/* 1 when a snapshot has been applied since the last reset or gap. */
int chr_l2_known(const struct chr_l2 *b);

/* What the update ids of the diff bk say about it, before it is applied:
 * 0 when it follows the book (or carries no ids), CHR_L2_STALE when the
 * book has it already, CHR_L2_GAP when it does not follow (the table in
 * docs/book.md). */
int chr_l2_follows(const struct chr_l2 *b, const struct chr_book *bk);

/* The book's scales (raised as records with more fraction digits arrive;
 * every level is kept exact) and the update id of the last applied record. */
int chr_l2_price_scale(const struct chr_l2 *b);
int chr_l2_size_scale(const struct chr_l2 *b);
uint64_t chr_l2_update_id(const struct chr_l2 *b);

/* Number of levels on side (CHR_BID or CHR_ASK). */
size_t chr_l2_levels(const struct chr_l2 *b, int side);

/* The best n levels of side, best first, into out (at the book's scales).
 * Returns how many were written (fewer when the side is shorter). */
size_t chr_l2_depth(const struct chr_l2 *b, int side, size_t n, struct chr_level *out);

/* The best level of side into *out; returns 0, or -1 when the side is empty. */
int chr_l2_best(const struct chr_l2 *b, int side, struct chr_level *out);

/* The book as a BOOK_SNAPSHOT payload of at most depth levels a side (0:
 * all): a struct chr_book with the last update id in update_id_first and
 * update_id_last; update_id_prev 0, or the last id too when the book has
 * applied a diff with ids since its snapshot (its next diff must then follow
 * by update_id_prev, and so must that of a book made from this payload);
 * the book's scales, bids then asks best first. Returns the payload size; writes only when it fits in cap bytes
 * (call with cap 0 to learn the size). */
size_t chr_l2_snapshot(const struct chr_l2 *b, size_t depth, void *payload, size_t cap);

#endif
