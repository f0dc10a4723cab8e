/* book.c - the L2 book of one market: per side a sorted sequence of small
 * sorted chunks, the best level last, so that an update searches two short
 * arrays and moves at most one chunk (docs/book.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "book.h"
#include "dec.h"

/* Levels a chunk holds: 32 was as fast as 16 and faster than 64 or 128 on
 * the Binance sample (bench/book.c, docs/book.md), with half the index of
 * 16. A snapshot fills chunks to 3/4, a full chunk is split in two, and a
 * chunk under 1/4 is merged into a neighbour. */
#define CH 32

/* Keys ascending. A bid's key is its price, an ask's the negated price, so
 * that both sides share one code path and the best level is the last on
 * both. A price is never INT64_MIN (that is CHR_NULL, and rescaling refuses
 * it), so the negation cannot overflow. Keys and sizes are apart so that a
 * search reads only keys; the unused keys are NOKEY, so that a search can
 * read a whole chunk without looking at n. */
#define NOKEY INT64_MAX

struct chunk {
	int64_t key[CH];
	int64_t size[CH];
	size_t n;
};

struct side {
	struct chunk **ch;	/* chunks in key order */
	int64_t *hi;		/* hi[c]: the last (highest) key of ch[c] */
	size_t nch, cap;	/* chunks, and room in ch and hi */
	size_t n;		/* levels */
};

struct chr_l2 {
	struct side s[2];	/* CHR_BID, CHR_ASK */
	int ps, ss;		/* price and size scale */
	uint64_t id;		/* update id of the last applied record */
	int known;		/* a snapshot since the last reset or gap */
	int fresh;		/* no tracked diff since that snapshot */
};

/* The best level of a side at given scales, to tell whether the top changed. */
struct top {
	int has;
	int64_t price, size;
	int ps, ss;
};

static inline int64_t price_of(int side, int64_t key)
{
	return side == CHR_ASK ? -key : key;
}

/* The first index whose key is >= k in key[0..n), n when none. */
static inline size_t lower_bound(const int64_t *key, size_t n, int64_t k)
{
	const int64_t *p = key;

	if (n == 0 || key[n - 1] < k)
		return n;
	/* halving, the answer in p[0..n); arithmetic rather than a branch,
	 * whose outcome would be unpredictable */
	while (n > 1) {
		size_t half = n / 2;

		p += (size_t)(p[half - 1] < k) * half;
		n -= half;
	}
	return (size_t)(p - key);
}

typedef int64_t v2i __attribute__((vector_size(16)));

/* lower_bound in a chunk: how many keys are < k, counted over the whole
 * chunk (NOKEY is never < k). Independent loads and compares, two keys an
 * instruction where the target has them (SSE4.2 pcmpgtq): faster than a
 * binary search, whose every step waits for the previous load. */
static inline size_t chunk_lb(const struct chunk *p, int64_t k)
{
	v2i kk = {k, k}, a0 = {0, 0}, a1 = {0, 0};

	for (size_t i = 0; i < CH; i += 4) {
		v2i x, y;

		memcpy(&x, p->key + i, sizeof x);
		memcpy(&y, p->key + i + 2, sizeof y);
		a0 += x < kk;	/* -1 where true */
		a1 += y < kk;
	}
	a0 += a1;
	return (size_t)-(a0[0] + a0[1]);
}

static struct chunk *chunk_new(void)
{
	struct chunk *p = malloc(sizeof *p);

	if (p != NULL) {
		p->n = 0;
		for (size_t i = 0; i < CH; i++)
			p->key[i] = NOKEY;
	}
	return p;
}

/* The chunk where key k is or would go (the first whose last key is >= k,
 * else the last), searched from chunk h: galloping steps 1, 2, 4, ... away
 * from h, then halving within the last step, so a chunk d places away costs
 * about 2 log2 d comparisons. h is the top for a record's first level, then
 * the previous level's chunk: a record's levels usually come in price
 * order, a few chunks apart. */
static inline size_t chunk_near(const struct side *sd, int64_t k, size_t h)
{
	const int64_t *hi = sd->hi;
	size_t n = sd->nch, d, lo, top;

	if (hi[h] >= k) {
		top = h;
		for (d = 1; d <= top && hi[top - d] >= k; d <<= 1)
			top -= d;
		lo = d <= top ? top - d + 1 : 0;	/* lo == 0 or hi[lo - 1] < k */
		return lo + lower_bound(hi + lo, top - lo + 1, k);
	}
	lo = h;			/* hi[lo] < k */
	for (d = 1; lo + d < n && hi[lo + d] < k; d <<= 1)
		lo += d;
	top = lo + d < n ? lo + d : n - 1;
	if (hi[top] < k)
		return n - 1;	/* above every level: the end of the last chunk */
	return lo + 1 + lower_bound(hi + lo + 1, top - lo, k);
}

/* Room for want chunks in the index; on failure the side is unchanged. */
static int index_reserve(struct side *sd, size_t want)
{
	size_t cap;
	struct chunk **c;
	int64_t *h;

	if (want <= sd->cap)
		return 0;
	cap = sd->cap ? sd->cap : 16;
	while (cap < want)
		cap *= 2;
	if (cap > SIZE_MAX / sizeof(int64_t)) {
		errno = ENOMEM;
		return -1;
	}
	c = realloc(sd->ch, cap * sizeof *c);
	if (c == NULL)
		return -1;
	sd->ch = c;
	h = realloc(sd->hi, cap * sizeof *h);
	if (h == NULL)
		return -1;
	sd->hi = h;
	sd->cap = cap;
	return 0;
}

/* Take chunk c out of the index and free it (its levels already counted
 * out of sd->n). */
static void chunk_drop(struct side *sd, size_t c)
{
	free(sd->ch[c]);
	memmove(sd->ch + c, sd->ch + c + 1, (sd->nch - c - 1) * sizeof *sd->ch);
	memmove(sd->hi + c, sd->hi + c + 1, (sd->nch - c - 1) * sizeof *sd->hi);
	sd->nch--;
}

/* Append the levels of chunk c + 1 to chunk c (they fit) and drop it. */
static void chunk_merge(struct side *sd, size_t c)
{
	struct chunk *p = sd->ch[c], *q = sd->ch[c + 1];

	memcpy(p->key + p->n, q->key, q->n * sizeof *q->key);
	memcpy(p->size + p->n, q->size, q->n * sizeof *q->size);
	p->n += q->n;
	sd->hi[c] = sd->hi[c + 1];
	chunk_drop(sd, c + 1);
}

/* Remove the level at index i of chunk c. */
static void level_del(struct side *sd, size_t c, size_t i)
{
	struct chunk *p = sd->ch[c];

	memmove(p->key + i, p->key + i + 1, (p->n - i - 1) * sizeof *p->key);
	memmove(p->size + i, p->size + i + 1, (p->n - i - 1) * sizeof *p->size);
	p->key[--p->n] = NOKEY;
	sd->n--;
	if (p->n == 0) {
		chunk_drop(sd, c);
		return;
	}
	if (i == p->n)
		sd->hi[c] = p->key[i - 1];
	if (p->n < CH / 4) {
		if (c > 0 && sd->ch[c - 1]->n + p->n <= CH * 3 / 4)
			chunk_merge(sd, c - 1);
		else if (c + 1 < sd->nch && sd->ch[c + 1]->n + p->n <= CH * 3 / 4)
			chunk_merge(sd, c);
	}
}

/* Insert the level (k, s) at index i of chunk c (c == nch: a first chunk).
 * A full chunk is split; a level above a full top chunk starts a new one,
 * since new tops keep coming. Returns 0, or -1 when out of memory (the side
 * unchanged). */
static int level_ins(struct side *sd, size_t c, size_t i, int64_t k, int64_t s)
{
	struct chunk *p = c < sd->nch ? sd->ch[c] : NULL, *q;

	if (p == NULL || p->n == CH) {
		size_t h = 0;

		if (index_reserve(sd, sd->nch + 1) < 0 || (q = chunk_new()) == NULL)
			return -1;
		if (p == NULL) {
			c = sd->nch;
		} else {
			/* q takes p's levels from h up */
			h = c == sd->nch - 1 && i == CH ? CH : CH / 2;
			memcpy(q->key, p->key + h, (CH - h) * sizeof *q->key);
			memcpy(q->size, p->size + h, (CH - h) * sizeof *q->size);
			q->n = CH - h;
			p->n = h;
			for (size_t x = h; x < CH; x++)
				p->key[x] = NOKEY;
			sd->hi[c] = p->key[h - 1];
			c++;
		}
		memmove(sd->ch + c + 1, sd->ch + c, (sd->nch - c) * sizeof *sd->ch);
		memmove(sd->hi + c + 1, sd->hi + c, (sd->nch - c) * sizeof *sd->hi);
		sd->ch[c] = q;
		sd->nch++;
		if (q->n > 0)
			sd->hi[c] = q->key[q->n - 1];
		/* the level goes at the end of p when that is its place, else into q */
		if (p != NULL && i <= h && h < CH)
			c--;
		else
			i -= h;
		p = sd->ch[c];
	}
	memmove(p->key + i + 1, p->key + i, (p->n - i) * sizeof *p->key);
	memmove(p->size + i + 1, p->size + i, (p->n - i) * sizeof *p->size);
	p->key[i] = k;
	p->size[i] = s;
	p->n++;
	sd->n++;
	if (i == p->n - 1)
		sd->hi[c] = k;
	return 0;
}

/* Set the level with key k to size s (0 removes it), searching from chunk
 * *h, which is left at the chunk found. Returns 0, or -1 when out of memory
 * (the side unchanged). */
static inline int level_set(struct side *sd, int64_t k, int64_t s, size_t *h)
{
	struct chunk *p;
	size_t c, i;

	if (sd->nch == 0)
		return s != 0 ? level_ins(sd, 0, 0, k, s) : 0;
	c = chunk_near(sd, k, *h < sd->nch ? *h : sd->nch - 1);
	*h = c;
	p = sd->ch[c];
	i = chunk_lb(p, k);
	if (i < p->n && p->key[i] == k) {
		if (s != 0)
			p->size[i] = s;
		else
			level_del(sd, c, i);
		return 0;
	}
	return s != 0 ? level_ins(sd, c, i, k, s) : 0;
}

/* Is key k on the side? */
static int level_has(const struct side *sd, int64_t k)
{
	const struct chunk *p;
	size_t i;

	if (sd->nch == 0)
		return 0;
	p = sd->ch[chunk_near(sd, k, sd->nch - 1)];
	i = chunk_lb(p, k);
	return i < p->n && p->key[i] == k;
}

static void side_clear(struct side *sd)
{
	for (size_t c = 0; c < sd->nch; c++)
		free(sd->ch[c]);
	sd->nch = 0;
	sd->n = 0;
}

static inline int64_t top_key(const struct side *sd)
{
	const struct chunk *p = sd->ch[sd->nch - 1];

	return p->key[p->n - 1];
}

/* a * m without overflow and not INT64_MIN (CHR_NULL); m >= 1 */
static inline int mul_ok(int64_t a, int64_t m, int64_t *out)
{
	return !__builtin_mul_overflow(a, m, out) && *out != INT64_MIN;
}

/* A level a record may carry but the book ignores: an absent price or size
 * (CHR_NULL) or a negative size. */
static inline int level_bad(const struct chr_level *l)
{
	return l->price == CHR_NULL || l->size == CHR_NULL || l->size < 0;
}

static struct top top_of(const struct chr_l2 *b, int side)
{
	const struct side *sd = &b->s[side];
	struct top t = {0, 0, 0, b->ps, b->ss};

	if (sd->n > 0) {
		const struct chunk *p = sd->ch[sd->nch - 1];

		t.has = 1;
		t.price = price_of(side, p->key[p->n - 1]);
		t.size = p->size[p->n - 1];
	}
	return t;
}

static int top_same(const struct top *a, const struct top *b)
{
	if (a->has != b->has)
		return 0;
	if (!a->has)
		return 1;
	if (a->ps == b->ps && a->ss == b->ss)
		return a->price == b->price && a->size == b->size;
	return chr_dec_cmp(a->price, a->ps, b->price, b->ps) == 0 &&
	       chr_dec_cmp(a->size, a->ss, b->size, b->ss) == 0;
}

/* is the top of either side of b not what it was before an update? */
static inline int top_moved(const struct chr_l2 *b, const struct top before[2])
{
	struct top after[2];

	after[CHR_BID] = top_of(b, CHR_BID);
	after[CHR_ASK] = top_of(b, CHR_ASK);
	return !top_same(&before[CHR_BID], &after[CHR_BID]) ||
	       !top_same(&before[CHR_ASK], &after[CHR_ASK]);
}

static int crossed(const struct chr_l2 *b)
{
	const struct side *bid = &b->s[CHR_BID], *ask = &b->s[CHR_ASK];

	return bid->n > 0 && ask->n > 0 && top_key(bid) >= -top_key(ask);
}

struct chr_l2 *chr_l2_new(void)
{
	return calloc(1, sizeof(struct chr_l2));
}

void chr_l2_free(struct chr_l2 *b)
{
	if (b == NULL)
		return;
	for (int i = 0; i < 2; i++) {
		side_clear(&b->s[i]);
		free(b->s[i].ch);
		free(b->s[i].hi);
	}
	free(b);
}

void chr_l2_reset(struct chr_l2 *b)
{
	side_clear(&b->s[CHR_BID]);
	side_clear(&b->s[CHR_ASK]);
	b->known = 0;
	b->fresh = 0;
}

int chr_l2_known(const struct chr_l2 *b)
{
	return b->known;
}

int chr_l2_price_scale(const struct chr_l2 *b)
{
	return b->ps;
}

int chr_l2_size_scale(const struct chr_l2 *b)
{
	return b->ss;
}

uint64_t chr_l2_update_id(const struct chr_l2 *b)
{
	return b->id;
}

size_t chr_l2_levels(const struct chr_l2 *b, int side)
{
	return b->s[side != CHR_BID].n;
}

size_t chr_l2_depth(const struct chr_l2 *b, int side, size_t n, struct chr_level *out)
{
	const struct side *sd = &b->s[side != CHR_BID];
	size_t o = 0;

	side = side != CHR_BID;
	for (size_t c = sd->nch; c-- > 0 && o < n;) {
		const struct chunk *p = sd->ch[c];

		for (size_t i = p->n; i-- > 0 && o < n; o++) {
			out[o].price = price_of(side, p->key[i]);
			out[o].size = p->size[i];
		}
	}
	return o;
}

int chr_l2_best(const struct chr_l2 *b, int side, struct chr_level *out)
{
	return chr_l2_depth(b, side, 1, out) == 1 ? 0 : -1;
}

/* --- snapshots --- */

struct sortlv {
	int64_t key, size;
	size_t idx;
};

/* key ascending; for equal keys the later level first, so that it wins */
static int sortlv_cmp(const void *a, const void *b)
{
	const struct sortlv *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->idx < y->idx ? 1 : x->idx > y->idx ? -1 : 0;
}

/* Look at one side of a snapshot: how many levels it keeps (size > 0),
 * whether any is ignored, and whether the usable levels are strictly best
 * first (the normal case, copied without sorting). */
static void snap_scan(const struct chr_level *lv, size_t k, int side, size_t *keep, int *ign,
		      int *sorted)
{
	int64_t last = 0;
	int any = 0;

	*keep = 0;
	*sorted = 1;
	for (size_t j = 0; j < k; j++) {
		int64_t key;

		if (level_bad(&lv[j])) {
			*ign = 1;
			continue;
		}
		key = price_of(side, lv[j].price);
		/* best first: keys strictly descending */
		if (any && key >= last)
			*sorted = 0;
		last = key;
		any = 1;
		*keep += lv[j].size > 0;
	}
}

/* Sort the usable levels of an unsorted snapshot side into tmp, keep the
 * last of equal prices and drop zero sizes. Returns how many remain. */
static size_t snap_sort(const struct chr_level *lv, size_t k, int side, struct sortlv *tmp)
{
	size_t j, m = 0, o = 0;

	for (j = 0; j < k; j++) {
		if (level_bad(&lv[j]))
			continue;
		tmp[m].key = price_of(side, lv[j].price);
		tmp[m].size = lv[j].size;
		tmp[m].idx = j;
		m++;
	}
	qsort(tmp, m, sizeof *tmp, sortlv_cmp);
	for (j = 0; j < m; j++) {
		if ((j > 0 && tmp[j].key == tmp[j - 1].key) || tmp[j].size == 0)
			continue;
		tmp[o++] = tmp[j];
	}
	return o;
}

/* Chunks a side of keep levels is filled into, each to 3/4. */
static size_t snap_chunks(size_t keep)
{
	return (keep + CH * 3 / 4 - 1) / (CH * 3 / 4);
}

/* Make sure a side has room for need chunks, allocating the missing ones
 * past its last chunk (the index keeps them: ch[nch..need)). On failure the
 * side keeps its levels. */
static int snap_room(struct side *sd, size_t need)
{
	size_t c;

	if (index_reserve(sd, need) < 0)
		return -1;
	for (c = sd->nch; c < need; c++) {
		sd->ch[c] = chunk_new();
		if (sd->ch[c] == NULL) {
			while (c-- > sd->nch)
				free(sd->ch[c]);
			return -1;
		}
	}
	return 0;
}

/* Fill a side with keep levels in ascending key order: from the record in
 * reverse (it is best first) when tmp is NULL, else from tmp. The chunks
 * snap_room made are used, the ones left over freed. */
static void snap_fill(struct side *sd, const struct chr_level *lv, size_t k, int side,
		      size_t keep, const struct sortlv *tmp)
{
	size_t need = snap_chunks(keep), have = sd->nch > need ? sd->nch : need;
	size_t per = keep / (need ? need : 1), extra = keep - per * need, c = 0, j = k;

	for (size_t x = need; x < have; x++)
		free(sd->ch[x]);
	for (c = 0; c < need; c++) {
		struct chunk *p = sd->ch[c];
		size_t m = per + (c < extra);

		for (size_t i = 0; i < m; i++) {
			if (tmp != NULL) {
				p->key[i] = tmp->key;
				p->size[i] = tmp->size;
				tmp++;
				continue;
			}
			do
				j--;
			while (level_bad(&lv[j]) || lv[j].size == 0);
			p->key[i] = price_of(side, lv[j].price);
			p->size[i] = lv[j].size;
		}
		p->n = m;
		for (size_t i = m; i < CH; i++)
			p->key[i] = NOKEY;
		sd->hi[c] = p->key[m - 1];
	}
	sd->nch = need;
	sd->n = keep;
}

static int apply_snapshot(struct chr_l2 *b, const struct chr_book *bk)
{
	const struct chr_level *lv[2] = {bk->levels, bk->levels + bk->n_bid};
	size_t k[2] = {bk->n_bid, bk->n_ask}, keep[2];
	struct sortlv *tmp[2] = {NULL, NULL};
	struct top before[2];
	int ign = 0, sorted[2], ret = 0, side;

	before[CHR_BID] = top_of(b, CHR_BID);
	before[CHR_ASK] = top_of(b, CHR_ASK);
	for (side = 0; side < 2; side++) {
		snap_scan(lv[side], k[side], side, &keep[side], &ign, &sorted[side]);
		if (!sorted[side]) {
			tmp[side] = malloc(k[side] * sizeof *tmp[side]);
			if (tmp[side] == NULL)
				goto nomem;
			keep[side] = snap_sort(lv[side], k[side], side, tmp[side]);
		}
	}
	if (snap_room(&b->s[CHR_BID], snap_chunks(keep[CHR_BID])) < 0)
		goto nomem;
	if (snap_room(&b->s[CHR_ASK], snap_chunks(keep[CHR_ASK])) < 0) {
		for (size_t c = b->s[CHR_BID].nch; c < snap_chunks(keep[CHR_BID]); c++)
			free(b->s[CHR_BID].ch[c]);
		goto nomem;
	}
	/* nothing can fail from here */
	for (side = 0; side < 2; side++)
		snap_fill(&b->s[side], lv[side], k[side], side, keep[side], tmp[side]);
	free(tmp[0]);
	free(tmp[1]);
	b->ps = bk->price_scale;
	b->ss = bk->size_scale;
	b->id = bk->update_id_last;
	b->known = 1;
	/* prev == last: a book that had applied a diff since its own snapshot
	 * (chr_l2_snapshot), whose next diff follows by prev; a vendor's
	 * snapshot never says so */
	b->fresh = !(bk->update_id_prev != 0 && bk->update_id_prev == bk->update_id_last);
	/* a crossed snapshot is kept as it is: no level in it is newer than
	 * another, so none can be preferred */
	if (crossed(b))
		ret |= CHR_L2_CROSSED;
	if (top_moved(b, before))
		ret |= CHR_L2_TOP;
	if (ign)
		ret |= CHR_L2_IGNORED;
	return ret;
nomem:
	free(tmp[0]);
	free(tmp[1]);
	errno = ENOMEM;
	return -1;
}

/* --- diffs --- */

int chr_l2_follows(const struct chr_l2 *b, const struct chr_book *bk)
{
	if (bk->update_id_first == 0 && bk->update_id_last == 0 && bk->update_id_prev == 0)
		return 0;	/* not tracked */
	if (b->id == 0)
		return 0;	/* the snapshot was not tracked: this diff starts the ids */
	if (bk->update_id_last <= b->id)
		return CHR_L2_STALE;
	/* right after a snapshot a diff may straddle its id, or follow it by
	 * prev (Binance futures: the diff whose u is the snapshot's id was
	 * taken as stale, and the next one's pu is that id) */
	if (b->fresh || bk->update_id_prev == 0)
		return bk->update_id_first <= b->id + 1 ||
		       (bk->update_id_prev != 0 && bk->update_id_prev == b->id) ? 0 : CHR_L2_GAP;
	return bk->update_id_prev == b->id ? 0 : CHR_L2_GAP;
}

/* Can every usable level of lv[0..k) be raised by mp and ms? */
static int levels_fit(const struct chr_level *lv, size_t k, int64_t mp, int64_t ms)
{
	int64_t x;

	for (size_t j = 0; j < k; j++) {
		if (level_bad(&lv[j]))
			continue;
		if (!mul_ok(lv[j].price, mp, &x) || !mul_ok(lv[j].size, ms, &x))
			return 0;
	}
	return 1;
}

/* Can the book's levels be raised by mp and ms? Keys are sorted, so their
 * extremes are at the ends; sizes are scanned (scales rise rarely). */
static int book_fits(const struct chr_l2 *b, int64_t mp, int64_t ms)
{
	int64_t x;

	for (int side = 0; side < 2; side++) {
		const struct side *sd = &b->s[side];

		if (sd->n == 0)
			continue;
		if (!mul_ok(sd->ch[0]->key[0], mp, &x) || !mul_ok(top_key(sd), mp, &x))
			return 0;
		if (ms > 1)
			for (size_t c = 0; c < sd->nch; c++)
				for (size_t i = 0; i < sd->ch[c]->n; i++)
					if (!mul_ok(sd->ch[c]->size[i], ms, &x))
						return 0;
	}
	return 1;
}

static void book_raise(struct chr_l2 *b, int64_t mp, int64_t ms)
{
	for (int side = 0; side < 2; side++) {
		struct side *sd = &b->s[side];

		for (size_t c = 0; c < sd->nch; c++) {
			struct chunk *p = sd->ch[c];

			for (size_t i = 0; i < p->n; i++) {
				p->key[i] *= mp;
				p->size[i] *= ms;
			}
			sd->hi[c] *= mp;
		}
	}
}

/* Set the levels lv[0..k) of one side, their values multiplied by mp and ms
 * to the book's scales (checked to fit). Returns 0, or -1 when out of
 * memory. */
static int set_levels(struct side *sd, const struct chr_level *lv, size_t k, int side,
		      int64_t mp, int64_t ms, int *ign)
{
	size_t h = SIZE_MAX;	/* the top */

	for (size_t j = 0; j < k; j++) {
		if (level_bad(&lv[j])) {
			*ign = 1;
			continue;
		}
		if (level_set(sd, price_of(side, lv[j].price) * mp, lv[j].size * ms, &h) < 0)
			return -1;
	}
	return 0;
}

/* Did this record set the level with key kk on its side (a usable level
 * with a non-zero size)? Asked only of levels present after the record, for
 * which a non-zero size anywhere in the record means the last one was. */
static int set_by(const struct chr_level *lv, size_t k, int side, int64_t mp, int64_t kk)
{
	for (size_t j = 0; j < k; j++)
		if (!level_bad(&lv[j]) && lv[j].size != 0 && price_of(side, lv[j].price) * mp == kk)
			return 1;
	return 0;
}

/* The highest key among this record's levels of a side that are in the book
 * after it (INT64_MIN when none). */
static int64_t set_top(const struct side *sd, const struct chr_level *lv, size_t k, int side,
		       int64_t mp)
{
	int64_t top = INT64_MIN;

	for (size_t j = 0; j < k; j++) {
		int64_t kk;

		if (level_bad(&lv[j]) || lv[j].size == 0)
			continue;
		kk = price_of(side, lv[j].price) * mp;
		if (kk > top && level_has(sd, kk))
			top = kk;
	}
	return top;
}

/* Remove the levels of side sd with keys >= from (those that a level the
 * record set on the other side crosses), except levels the record set
 * itself on this side (lv[0..k); only possible when it crosses itself). */
static void drop_crossed(struct side *sd, int64_t from, const struct chr_level *lv, size_t k,
			 int side, int64_t mp, int self)
{
	while (!self && sd->nch > 0 && top_key(sd) >= from) {
		size_t c = sd->nch - 1;
		struct chunk *p = sd->ch[c];
		size_t i = chunk_lb(p, from);

		if (i == 0) {
			sd->n -= p->n;
			chunk_drop(sd, c);
		} else {
			sd->n -= p->n - i;
			for (size_t x = i; x < p->n; x++)
				p->key[x] = NOKEY;
			p->n = i;
			sd->hi[c] = p->key[i - 1];
		}
	}
	if (!self)
		return;
	/* the record crossed itself: remove the others one by one, from the top */
	for (;;) {
		size_t c = sd->nch, i = 0;
		int found = 0;

		while (!found && c-- > 0) {
			const struct chunk *p = sd->ch[c];

			for (i = p->n; i-- > 0;) {
				if (p->key[i] < from)
					return;
				if (!set_by(lv, k, side, mp, p->key[i])) {
					found = 1;
					break;
				}
			}
		}
		if (!found)
			return;
		level_del(sd, c, i);
	}
}

/* The book is crossed after the diff: the levels it set are the newest truth,
 * so older levels of the other side that they cross are removed: asks at or
 * below the highest bid it set, bids at or above the lowest ask it set. */
static void uncross(struct chr_l2 *b, const struct chr_level *const lv[2], const size_t k[2],
		    int64_t mp)
{
	int64_t hb = set_top(&b->s[CHR_BID], lv[CHR_BID], k[CHR_BID], CHR_BID, mp);
	int64_t la = set_top(&b->s[CHR_ASK], lv[CHR_ASK], k[CHR_ASK], CHR_ASK, mp);
	/* both exist and the highest bid set reaches the lowest ask set */
	int self = hb != INT64_MIN && la != INT64_MIN && hb >= -la;

	/* an ask's key is -price: asks at price <= hb have keys >= -hb */
	if (hb != INT64_MIN)
		drop_crossed(&b->s[CHR_ASK], -hb, lv[CHR_ASK], k[CHR_ASK], CHR_ASK, mp, self);
	if (la != INT64_MIN)
		drop_crossed(&b->s[CHR_BID], -la, lv[CHR_BID], k[CHR_BID], CHR_BID, mp, self);
}

static int apply_diff(struct chr_l2 *b, const struct chr_book *bk)
{
	const struct chr_level *const lv[2] = {bk->levels, bk->levels + bk->n_bid};
	const size_t k[2] = {bk->n_bid, bk->n_ask};
	int ps = bk->price_scale > b->ps ? bk->price_scale : b->ps;
	int ss = bk->size_scale > b->ss ? bk->size_scale : b->ss;
	int64_t mp = chr_pow10[ps - bk->price_scale], ms = chr_pow10[ss - bk->size_scale];
	struct top before[2];
	int ret = 0, ign = 0, f;

	if (!b->known)
		return CHR_L2_NOSNAP;
	f = chr_l2_follows(b, bk);
	if (f == CHR_L2_STALE)
		return f;
	if (f == CHR_L2_GAP) {
		if (b->s[CHR_BID].n > 0 || b->s[CHR_ASK].n > 0)
			f |= CHR_L2_TOP;
		chr_l2_reset(b);
		return f;
	}
	/* a value that does not fit is found before the book changes */
	if ((mp > 1 || ms > 1) && !levels_fit(bk->levels, k[0] + k[1], mp, ms))
		goto range;
	if (ps > b->ps || ss > b->ss) {
		if (!book_fits(b, chr_pow10[ps - b->ps], chr_pow10[ss - b->ss]))
			goto range;
		book_raise(b, chr_pow10[ps - b->ps], chr_pow10[ss - b->ss]);
		b->ps = ps;
		b->ss = ss;
	}
	before[CHR_BID] = top_of(b, CHR_BID);
	before[CHR_ASK] = top_of(b, CHR_ASK);
	if (set_levels(&b->s[CHR_BID], lv[CHR_BID], k[CHR_BID], CHR_BID, mp, ms, &ign) < 0 ||
	    set_levels(&b->s[CHR_ASK], lv[CHR_ASK], k[CHR_ASK], CHR_ASK, mp, ms, &ign) < 0) {
		/* half applied: the book is not known any more */
		chr_l2_reset(b);
		errno = ENOMEM;
		return -1;
	}
	if (bk->update_id_first != 0 || bk->update_id_last != 0 || bk->update_id_prev != 0) {
		b->id = bk->update_id_last;
		b->fresh = 0;
	}
	if (crossed(b)) {
		ret |= CHR_L2_CROSSED;
		uncross(b, lv, k, mp);
	}
	if (top_moved(b, before))
		ret |= CHR_L2_TOP;
	if (ign)
		ret |= CHR_L2_IGNORED;
	return ret;
range:
	errno = ERANGE;
	return -1;
}

int chr_l2_apply(struct chr_l2 *b, const struct chr_rec *r)
{
	const struct chr_book *bk = chr_rec_payload(r);
	size_t n;

	/* the caller checked the payload; refuse what would read out of bounds */
	if ((r->type != CHR_BOOK_SNAPSHOT && r->type != CHR_BOOK_DIFF) ||
	    r->len < CHR_HDR_SIZE + sizeof *bk)
		goto inval;
	n = chr_rec_payload_len(r) - sizeof *bk;
	if (n % sizeof(struct chr_level) != 0 ||
	    (uint64_t)bk->n_bid + bk->n_ask != n / sizeof(struct chr_level) ||
	    bk->price_scale < 0 || bk->price_scale > CHR_DEC_MAX_SCALE ||
	    bk->size_scale < 0 || bk->size_scale > CHR_DEC_MAX_SCALE)
		goto inval;
	if (r->type == CHR_BOOK_SNAPSHOT)
		return apply_snapshot(b, bk);
	return apply_diff(b, bk);
inval:
	errno = EINVAL;
	return -1;
}

size_t chr_l2_snapshot(const struct chr_l2 *b, size_t depth, void *payload, size_t cap)
{
	size_t nb = b->s[CHR_BID].n, na = b->s[CHR_ASK].n, size;
	struct chr_book *bk = payload;

	if (depth > 0) {
		nb = nb < depth ? nb : depth;
		na = na < depth ? na : depth;
	}
	size = sizeof *bk + (nb + na) * sizeof(struct chr_level);
	if (size > cap)
		return size;
	memset(bk, 0, sizeof *bk);
	bk->update_id_first = b->id;
	bk->update_id_last = b->id;
	if (!b->fresh && b->id != 0)
		bk->update_id_prev = b->id;	/* the next diff follows by prev */
	bk->n_bid = (uint32_t)nb;
	bk->n_ask = (uint32_t)na;
	bk->price_scale = (int8_t)b->ps;
	bk->size_scale = (int8_t)b->ss;
	chr_l2_depth(b, CHR_BID, nb, bk->levels);
	chr_l2_depth(b, CHR_ASK, na, bk->levels + nb);
	return size;
}
