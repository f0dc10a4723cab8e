/* pqout.c - records as Parquet rows in the Tardis layouts (pqout.h): the
 * same datasets, columns and names as chr_tardis_write, values typed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "path.h"
#include "pqout.h"
#include "s3.h"
#include "tardis.h"
#include "tm.h"

void chr_pqout_init(struct chr_pqout *o, int fd, const char *name, const char *source)
{
	memset(o, 0, sizeof *o);
	o->names = &o->own;
	o->fd = fd;
	o->name = name;
	o->source = source;
	o->pq.fd = -1;
}

/* the schema of dataset ds (n), from its CSV header: what each column
 * holds and whether it may be null */
static int open_table(struct chr_pqout *o, int ds, int n, struct chr_err *e)
{
	char *h = chr_tardis_header_line(ds, n), *p;
	const char **names;
	enum chr_pq_kind *kinds;
	int *opt, rc = -1;
	size_t nc = 1, i;

	if (h == NULL)
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	for (p = h; *p; p++)
		nc += *p == ',';
	names = calloc(nc, sizeof *names);
	kinds = calloc(nc, sizeof *kinds);
	opt = calloc(nc, sizeof *opt);
	if (!names || !kinds || !opt) {
		rc = chr_err_set(e, CHR_EX_SYS, "out of memory");
		goto out;
	}
	for (i = 0, p = h; i < nc; i++) {
		names[i] = p;
		p += strcspn(p, ",\n");
		*p++ = '\0';
		/* exchange, symbol, timestamp (0: unknown), local_timestamp,
		 * then the dataset's own */
		if (i < 2) {
			kinds[i] = CHR_PQ_DICT;
		} else if (i < 4) {
			kinds[i] = CHR_PQ_TIME;
			opt[i] = i == 2;
		} else if (strcmp(names[i], "is_snapshot") == 0) {
			kinds[i] = CHR_PQ_BOOL;
		} else if (strcmp(names[i], "side") == 0) {
			kinds[i] = CHR_PQ_DICT;
		} else if (strcmp(names[i], "id") == 0) {
			kinds[i] = CHR_PQ_STR;
		} else {
			kinds[i] = CHR_PQ_DEC;
			opt[i] = ds == CHR_TARDIS_QUOTES || ds == CHR_TARDIS_TOPN;
		}
	}
	if ((o->arrow ? chr_arrow_open(&o->ar, &o->pq, o->fd, o->name, nc, names, kinds, opt, e)
		      : chr_pq_open(&o->pq, o->fd, o->name, nc, names, kinds, opt, e)) < 0)
		goto out;
	o->dataset = ds;
	o->n = n;
	chr_tardis_type_name(ds, n, o->table);
	chr_pq_kv(&o->pq, "chronicle.table", o->table);
	if (o->source)
		chr_pq_kv(&o->pq, "chronicle.source", o->source);
	o->cols = h;
	h = NULL;
	rc = 0;
out:
	free(h);
	free(names);
	free(kinds);
	free(opt);
	return rc;
}

/* a time column: ts_event 0 is unknown */
static void put_common(struct chr_pq *pq, const struct chr_rec *r, const char *venue,
		       const char *symbol)
{
	chr_pq_str(pq, 0, venue, strlen(venue));
	chr_pq_str(pq, 1, symbol, strlen(symbol));
	if (r->ts_event == 0)
		chr_pq_null(pq, 2);
	else
		chr_pq_time(pq, 2, r->ts_event);
	chr_pq_time(pq, 3, r->ts);
}

static void put_dec(struct chr_pq *pq, size_t c, int64_t v, int scale)
{
	if (v == CHR_NULL)
		chr_pq_null(pq, c);
	else
		chr_pq_dec(pq, c, v, scale);
}

static int mixed(const struct chr_pqout *o, const struct chr_rec *r, struct chr_err *e)
{
	char type[16], when[CHR_TIME_BUF];
	const char *t = chr_type_name(r->type);

	if (!t)
		t = (snprintf(type, sizeof type, "0x%04x", r->type), type);
	chr_time_format(when, r->ts);
	return chr_err_set(e, CHR_EX_USAGE, "%s seq %llu: a %s record after %s rows: %s holds "
			   "the rows of one Tardis dataset; select one record type (chr-tail "
			   "--type)", when, (unsigned long long)r->seq, t, o->table,
			   o->arrow ? "an Arrow stream" : "a Parquet file");
}

int chr_pqout_put(struct chr_pqout *o, const struct chr_rec *r, struct chr_err *e)
{
	const struct chr_name_ent *nm;
	struct chr_pq *pq = &o->pq;
	char vb[16], sb[16];
	const char *venue, *symbol;
	int ds, n;

	if (r->type == CHR_DEFINE) {
		if (o->names == &o->own && chr_names_learn(&o->own, r) < 0)
			return chr_err_set(e, CHR_EX_SYS, "out of memory");
		return 0;
	}
	if ((ds = chr_tardis_dataset(r, &n)) == CHR_TARDIS_NONE)
		return CHR_TARDIS_SKIPPED;
	if (o->dataset == CHR_TARDIS_NONE && open_table(o, ds, n, e) < 0)
		return -1;
	if (ds != o->dataset || n != o->n)
		return mixed(o, r, e);
	if ((nm = chr_tardis_names(o->names, r)) != NULL) {
		venue = nm->venue;
		symbol = nm->symbol;
	} else {
		snprintf(vb, sizeof vb, "%u", (unsigned)r->venue);
		snprintf(sb, sizeof sb, "%u", (unsigned)r->market);
		venue = vb;
		symbol = sb;
	}
	switch (r->type) {
	case CHR_BOOK_SNAPSHOT:
	case CHR_BOOK_DIFF: {
		const struct chr_book *b = chr_rec_payload(r);

		/* an empty snapshot (the book cleared) has no rows to say it */
		if (b->n_bid + b->n_ask == 0)
			return r->type == CHR_BOOK_SNAPSHOT ? CHR_TARDIS_SKIPPED : 0;
		for (size_t i = 0; i < (size_t)b->n_bid + b->n_ask; i++) {
			put_common(pq, r, venue, symbol);
			chr_pq_bool(pq, 4, r->type == CHR_BOOK_SNAPSHOT);
			if (chr_pq_str(pq, 5, i < b->n_bid ? "bid" : "ask", 3) < 0)
				return chr_err_set(e, CHR_EX_SYS, "out of memory");
			chr_pq_dec(pq, 6, b->levels[i].price, b->price_scale);
			chr_pq_dec(pq, 7, b->levels[i].size, b->size_scale);
			if (chr_pq_row(pq, e) < 0)
				return -1;
		}
		return 0;
	}
	case CHR_TRADE: {
		const struct chr_trade *tr = chr_rec_payload(r);
		const char *side = chr_tardis_side(tr->side);

		put_common(pq, r, venue, symbol);
		if (chr_pq_str(pq, 4, tr->id, strnlen(tr->id, CHR_TRADE_ID_MAX)) < 0 ||
		    chr_pq_str(pq, 5, side, strlen(side)) < 0)
			return chr_err_set(e, CHR_EX_SYS, "out of memory");
		chr_pq_dec(pq, 6, tr->price, tr->price_scale);
		chr_pq_dec(pq, 7, tr->size, tr->size_scale);
		return chr_pq_row(pq, e);
	}
	case CHR_QUOTE: {
		const struct chr_quote *q = chr_rec_payload(r);

		put_common(pq, r, venue, symbol);
		put_dec(pq, 4, q->ask_sz, q->size_scale);
		put_dec(pq, 5, q->ask_px, q->price_scale);
		put_dec(pq, 6, q->bid_px, q->price_scale);
		put_dec(pq, 7, q->bid_sz, q->size_scale);
		return chr_pq_row(pq, e);
	}
	default: {		/* BOOK_TOPN: asks[i] then bids[i], per level */
		const struct chr_book *b = chr_rec_payload(r);
		size_t k = b->n_bid;

		put_common(pq, r, venue, symbol);
		for (size_t i = 0; i < k; i++) {
			const struct chr_level *a = &b->levels[k + i], *bd = &b->levels[i];

			put_dec(pq, 4 + 4 * i, a->price, b->price_scale);
			put_dec(pq, 5 + 4 * i, a->size, b->size_scale);
			put_dec(pq, 6 + 4 * i, bd->price, b->price_scale);
			put_dec(pq, 7 + 4 * i, bd->size, b->size_scale);
		}
		return chr_pq_row(pq, e);
	}
	}
}

int chr_pqout_close(struct chr_pqout *o, struct chr_err *e)
{
	if (o->dataset == CHR_TARDIS_NONE)
		return chr_err_set(e, CHR_EX_DATA, "'%s': no record with rows (trades, quotes, book, "
				   "top-N) was selected: %s needs one to set its columns", o->name,
				   o->arrow ? "an Arrow stream" : "a Parquet file");
	return o->arrow ? chr_arrow_close(&o->ar, e) : chr_pq_close(&o->pq, e);
}

void chr_pqout_free(struct chr_pqout *o)
{
	chr_pq_free(&o->pq);
	if (o->arrow)
		chr_arrow_free(&o->ar);
	chr_names_free(&o->own);
	free(o->cols);
	o->cols = NULL;
}

/* ---- the tree ---- */

struct chr_pqtree_part {
	uint16_t venue;
	uint32_t market;
	int ds, n;
	char date[16];
	char path[PATH_MAX], tmp[PATH_MAX + 16];
	char source[PATH_MAX];
	int fd;
	struct chr_pqout w;
};

void chr_pqtree_init(struct chr_pqtree *t, const char *root)
{
	memset(t, 0, sizeof *t);
	t->root = root;
}

/* the file at path holds exactly the n bytes of fd (at offset 0) */
static int same_file(int fd, const char *path)
{
	enum { BUF = 1 << 16 };
	struct stat sa, sb;
	int pf = open(path, O_RDONLY | O_CLOEXEC);
	char *a = NULL, *b;
	off_t off = 0;
	int same = 0;

	if (pf < 0)
		return 0;
	if (fstat(fd, &sa) < 0 || fstat(pf, &sb) < 0 || sa.st_size != sb.st_size ||
	    (a = malloc(2 * BUF)) == NULL)
		goto out;	/* out of memory: written again, which is never wrong */
	b = a + BUF;
	for (;;) {
		ssize_t k = pread(fd, a, BUF, off), m;

		if (k <= 0) {
			same = k == 0;
			break;
		}
		if ((m = pread(pf, b, (size_t)k, off)) != k || memcmp(a, b, (size_t)k) != 0)
			break;
		off += k;
	}
out:
	free(a);
	close(pf);
	return same;
}

/* Put the finished file fd as the object url, unless the object holds the
 * same bytes already (its size and ETag). Returns 1 when put, 0 when the
 * same, -1 with e. */
static int s3_put_file(int fd, const char *url, struct chr_err *e)
{
	char bucket[256], key[PATH_MAX], want[80], have[80];
	struct chr_s3_conf conf;
	struct stat st;
	uint64_t size;
	void *p = NULL;
	int k, rc = -1;

	if (chr_s3_split(url, bucket, sizeof bucket, key, sizeof key) < 0)
		return chr_err_set(e, CHR_EX_USAGE, "'%s': not an object URL", url);
	if (fstat(fd, &st) < 0 || st.st_size == 0 ||
	    (p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
		return chr_err_sys(e, "cannot read the file made for '%s'", url);
	chr_s3_conf_of(bucket, &conf);
	chr_s3_etag(p, (size_t)st.st_size, conf.part_size, want);
	if ((k = chr_s3_head(url, &size, have, e)) < 0)
		goto out;
	if (k == 0 && size == (uint64_t)st.st_size && strcmp(want, have) == 0)
		rc = 0;
	else if (chr_s3_put(url, p, (size_t)st.st_size, have, e) == 0)
		rc = 1;
out:
	munmap(p, (size_t)st.st_size);
	return rc;
}

/* End partition p: its footer, then in place, or dropped when the same */
static int part_end(struct chr_pqtree *t, struct chr_pqtree_part *p, struct chr_err *e)
{
	int rc = p->w.dataset == CHR_TARDIS_NONE ? 1 : chr_pqout_close(&p->w, e);

	chr_pqout_free(&p->w);
	if (rc == 0 && chr_s3_is_url(p->path)) {	/* a local file, then its object */
		if ((rc = s3_put_file(p->fd, p->path, e)) >= 0) {
			t->written += rc;
			t->unchanged += !rc;
			rc = 0;
		}
		close(p->fd);
		unlink(p->tmp);
	} else if (rc == 1) {		/* no rows (an empty snapshot alone): no file */
		rc = 0;
		close(p->fd);
		unlink(p->tmp);
	} else if (rc == 0 && same_file(p->fd, p->path)) {
		t->unchanged++;
		close(p->fd);
		unlink(p->tmp);
	} else if (rc == 0) {
		if (chr_publish_tmp(p->fd, p->tmp, p->path, NULL, 0, 0) < 0)
			rc = chr_err_sys(e, "cannot write '%s'", p->path);
		else
			t->written++;
	} else {
		close(p->fd);
		unlink(p->tmp);
	}
	p->fd = -1;
	return rc;
}

static int part_start(struct chr_pqtree *t, struct chr_pqtree_part *p, const struct chr_rec *r,
		      int ds, int n, struct chr_err *e)
{
	const struct chr_name_ent *nm = chr_tardis_names(&t->names, r);
	char table[32], dir[PATH_MAX];
	mode_t um;

	if (nm == NULL || chr_name_check(nm->venue) || chr_name_check(nm->symbol))
		return chr_err_set(e, CHR_EX_DATA, "seq %llu: no DEFINE record names venue %u market "
				   "%u as a path can: its partition has no name",
				   (unsigned long long)r->seq, (unsigned)r->venue, (unsigned)r->market);
	p->venue = r->venue;
	p->market = r->market;
	p->ds = ds;
	p->n = n;
	chr_date_format(p->date, r->ts);
	chr_tardis_type_name(ds, n, table);
	if (chr_pathf(dir, sizeof dir, "%s/type=%s/venue=%s/symbol=%s/date=%s", t->root, table,
		      nm->venue, nm->symbol, p->date) < 0 ||
	    chr_pathf(p->path, sizeof p->path, "%s/part-0.parquet", dir) < 0)
		return chr_err_set(e, CHR_EX_USAGE, "'%s': path too long", t->root);
	snprintf(p->source, sizeof p->source, "type=%s/venue=%s/symbol=%s/date=%s", table,
		 nm->venue, nm->symbol, p->date);
	if (chr_s3_is_url(t->root)) {
		/* made here, then put whole (s3_put_file) */
		const char *tmpdir = getenv("TMPDIR");

		snprintf(p->tmp, sizeof p->tmp, "%s/chr-parquet.XXXXXX",
			 tmpdir && *tmpdir ? tmpdir : "/tmp");
	} else {
		snprintf(p->tmp, sizeof p->tmp, "%s.tmp.XXXXXX", p->path);
		if (chr_mkdirs(dir) < 0)
			return chr_err_sys(e, "cannot create '%s'", dir);
	}
	if ((p->fd = mkostemp(p->tmp, O_CLOEXEC)) < 0)
		return chr_err_sys(e, "cannot create '%s'", p->tmp);
	um = umask(0);
	umask(um);
	if (fchmod(p->fd, 0666 & ~um) < 0) {
		close(p->fd);
		unlink(p->tmp);
		p->fd = -1;
		return chr_err_sys(e, "cannot create '%s'", p->tmp);
	}
	chr_pqout_init(&p->w, p->fd, p->path, p->source);
	p->w.names = &t->names;
	return 0;
}

int chr_pqtree_put(struct chr_pqtree *t, const struct chr_rec *r, struct chr_err *e)
{
	struct chr_pqtree_part *p = NULL;
	char date[16];
	int ds, n, k;
	size_t i;

	if (r->type == CHR_DEFINE)
		return chr_names_learn(&t->names, r) < 0 ? chr_err_set(e, CHR_EX_SYS, "out of memory") : 0;
	if ((ds = chr_tardis_dataset(r, &n)) == CHR_TARDIS_NONE) {
		t->skipped++;
		return 0;
	}
	for (i = 0; i < t->np; i++) {
		p = t->p[i];
		if (p->venue == r->venue && p->market == r->market && p->ds == ds && p->n == n)
			break;
	}
	if (i < t->np) {
		chr_date_format(date, r->ts);
		if ((k = strcmp(date, p->date)) < 0)
			return chr_err_set(e, CHR_EX_DATA, "seq %llu: a record of %s after those of %s: "
					   "not in time order", (unsigned long long)r->seq, date,
					   p->date);
		if (k > 0 && (part_end(t, p, e) < 0 || part_start(t, p, r, ds, n, e) < 0))
			return -1;
	} else {
		if (t->np == t->pcap) {
			size_t nc = t->pcap ? 2 * t->pcap : 8;
			struct chr_pqtree_part **q = realloc(t->p, nc * sizeof *q);

			if (!q)
				return chr_err_set(e, CHR_EX_SYS, "out of memory");
			t->p = q;
			t->pcap = nc;
		}
		if ((p = calloc(1, sizeof *p)) == NULL)
			return chr_err_set(e, CHR_EX_SYS, "out of memory");
		p->fd = -1;
		t->p[t->np++] = p;
		if (part_start(t, p, r, ds, n, e) < 0)
			return -1;
	}
	k = chr_pqout_put(&p->w, r, e);
	if (k == CHR_TARDIS_SKIPPED)
		t->skipped++;
	return k < 0 && k != CHR_TARDIS_SKIPPED ? -1 : 0;
}

int chr_pqtree_close(struct chr_pqtree *t, struct chr_err *e)
{
	for (size_t i = 0; i < t->np; i++)
		if (t->p[i]->fd >= 0 && part_end(t, t->p[i], e) < 0)
			return -1;
	return 0;
}

void chr_pqtree_unlink(const struct chr_pqtree *t)
{
	for (size_t i = 0; i < t->np; i++)
		if (t->p[i]->fd >= 0)
			unlink(t->p[i]->tmp);
}

void chr_pqtree_free(struct chr_pqtree *t)
{
	for (size_t i = 0; i < t->np; i++) {
		if (t->p[i]->fd >= 0) {
			chr_pqout_free(&t->p[i]->w);
			close(t->p[i]->fd);
			unlink(t->p[i]->tmp);
		}
		free(t->p[i]);
	}
	free(t->p);
	chr_names_free(&t->names);
	memset(t, 0, sizeof *t);
}
