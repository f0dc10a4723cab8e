/* zsq.c - seekable zstd segments: independent frames of whole records, a
 * chronicle table (first seq, ts, flags of each frame) and the zstd
 * seekable format's seek table at the end (docs/format.md). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "err.h"
#include "fmt.h"
#include "io.h"
#include "rec.h"
#include "s3.h"
#include "zsq.h"

#define ZSTD_MAGIC 0xFD2FB528u
#define SEEK_MAGIC 0x184D2A5Eu		/* the seek table's skippable frame */
#define SEEKABLE_MAGIC 0x8F92EAB1u	/* the last 4 bytes of the file */
#define CHR_MAGIC 0x184D2A5Cu		/* chronicle's skippable frame */
#define CHR_TAG 0x5A524843u		/* "CHRZ" */
#define CHR_ZSQ_VERSION 1
#define FOOTER 9			/* Number_Of_Frames, descriptor, magic */
#define CHR_HEAD 80			/* tag .. segment header copy */
#define CHR_ENTRY 24			/* first_seq, first_ts, flags, reserved */

/* A frame that would start with a snapshot is cut there once it holds this
 * much: smaller frames cost ratio (docs/format.md, "Compressed segments"
 * gives the measurement), larger ones make "book at T" decompress more. */
#ifndef SNAP_MIN
#define SNAP_MIN (128u << 10)
#endif

/* A reader's first buffer: a frame of the usual size (it grows for a
 * larger one). */
#define ZSQ_READER_BUF (1u << 20)

/* Decoding ahead (a second thread) starts once a reader has taken this
 * many frames in a row: a look at a few frames (the book at T) stays on
 * the reader's thread alone. */
#define AHEAD_AFTER 2

/* Frames decoded ahead, at most: the ring's memory is about this many
 * frames (CHR_ZSQ_FRAME each). */
#define AHEAD_RING 4

/* Threads decoding ahead in a process, at most: one less than the cores
 * (at least one). A merge of many compressed sources decodes ahead in as
 * many; the others go on alone, as before (a thread and a ring each would
 * cost memory and gain nothing past the cores). */
static atomic_int ahead_running;

/* Output is gathered and written in blocks of about this size. */
#define OUT_BLOCK (8u << 20)

static void put16(unsigned char *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint16_t get16(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

__attribute__((format(printf, 5, 6)))
static int say(char *err, size_t errlen, int *status, int st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	*status = st;
	return -1;
}

/* the frames being cut: what the chronicle table stores, plus sizes */
struct wframe {
	uint64_t uoff, usize, csize;
	uint64_t first_seq;
	int64_t first_ts;
	uint32_t flags;
};

struct wctx {
	int fd;
	const char *name;
	char *err;
	size_t errlen;
	int *status;
	ZSTD_CCtx *cctx;
	unsigned char *out;	/* gathered output */
	size_t n, cap;
	struct wframe *f;
	size_t nf, fcap;
};

static int wflush(struct wctx *w)
{
	if (w->n && chr_write_all(w->fd, w->out, w->n) < 0)
		return say(w->err, w->errlen, w->status, CHR_EX_SYS, "%s: %s", w->name,
			   strerror(errno));
	w->n = 0;
	return 0;
}

/* Room for need more output bytes in w->out. */
static int wroom(struct wctx *w, size_t need)
{
	if (w->cap - w->n >= need)
		return 0;
	if (wflush(w) < 0)
		return -1;
	if (w->cap < need) {
		unsigned char *b = realloc(w->out, need);

		if (!b)
			return say(w->err, w->errlen, w->status, CHR_EX_SYS, "%s: out of memory",
				   w->name);
		w->out = b;
		w->cap = need;
	}
	return 0;
}

/* Compress seg[uoff..uoff+usize) as one frame and record it. */
static int wframe(struct wctx *w, const unsigned char *seg, struct wframe *fr)
{
	size_t bound = ZSTD_compressBound(fr->usize), k;

	if (wroom(w, bound) < 0)
		return -1;
	k = ZSTD_compress2(w->cctx, w->out + w->n, w->cap - w->n, seg + fr->uoff, fr->usize);
	if (ZSTD_isError(k))
		return say(w->err, w->errlen, w->status, CHR_EX_SYS, "%s: zstd: %s", w->name,
			   ZSTD_getErrorName(k));
	w->n += k;
	fr->csize = k;
	if (w->nf == w->fcap) {
		size_t cap = w->fcap ? 2 * w->fcap : 64;
		struct wframe *v = realloc(w->f, cap * sizeof *v);

		if (!v)
			return say(w->err, w->errlen, w->status, CHR_EX_SYS, "%s: out of memory",
				   w->name);
		w->f = v;
		w->fcap = cap;
	}
	w->f[w->nf++] = *fr;
	return 0;
}

/* The chronicle frame and the seek table, after the data frames. */
static int wtables(struct wctx *w, const struct chr_seg *h)
{
	size_t nf = w->nf, chr = 8 + CHR_HEAD + CHR_ENTRY * nf;
	size_t seek = 8 + 8 * (nf + 1) + FOOTER;
	unsigned char *p;

	if (wroom(w, chr + seek) < 0)
		return -1;
	p = w->out + w->n;
	memset(p, 0, chr + seek);
	put32(p, CHR_MAGIC);
	put32(p + 4, (uint32_t)(chr - 8));
	put32(p + 8, CHR_TAG);
	put16(p + 12, CHR_ZSQ_VERSION);
	put16(p + 14, CHR_ENTRY);
	put32(p + 16, (uint32_t)nf);
	memcpy(p + 24, h, sizeof *h);
	for (size_t i = 0; i < nf; i++) {
		unsigned char *e = p + 8 + CHR_HEAD + CHR_ENTRY * i;

		put64(e, w->f[i].first_seq);
		put64(e + 8, (uint64_t)w->f[i].first_ts);
		put32(e + 16, w->f[i].flags);
	}
	put32(p + 20, chr_crc32c(0, p + 24, chr - 24));
	p += chr;
	put32(p, SEEK_MAGIC);
	put32(p + 4, (uint32_t)(seek - 8));
	for (size_t i = 0; i <= nf; i++) {
		put32(p + 8 + 8 * i, (uint32_t)(i < nf ? w->f[i].csize : chr));
		put32(p + 12 + 8 * i, (uint32_t)(i < nf ? w->f[i].usize : 0));
	}
	p += 8 + 8 * (nf + 1);
	put32(p, (uint32_t)(nf + 1));
	p[4] = 0;		/* no checksums: each zstd frame has its own */
	put32(p + 5, SEEKABLE_MAGIC);
	w->n += chr + seek;
	return wflush(w);
}

/* Cut, check and compress the records of seg (header already checked). */
static int wsegment(struct wctx *w, const unsigned char *seg, size_t len)
{
	const struct chr_seg *h = (const struct chr_seg *)seg;
	struct wframe fr = {0, CHR_HDR_SIZE, 0, h->base_seq, h->ts_min, 0};
	uint64_t count = 0;
	size_t nrec = 0;	/* records in the current frame */
	int boundary = 0;	/* the previous record ended an event */
	size_t off = CHR_HDR_SIZE;

	while (off < len) {
		const struct chr_rec *r = (const struct chr_rec *)(seg + off);
		const char *bad;
		size_t span;
		int snap;

		if (len - off < CHR_HDR_SIZE)
			return say(w->err, w->errlen, w->status, CHR_EX_DATA,
				   "%s: byte %zu: truncated record header", w->name, off);
		if (r->len < CHR_HDR_SIZE || r->len > CHR_REC_MAX)
			return say(w->err, w->errlen, w->status, CHR_EX_DATA,
				   "%s: byte %zu: record length %" PRIu32 " outside 64..16 MiB",
				   w->name, off, r->len);
		span = chr_rec_span(r->len);
		if (span > len - off)
			return say(w->err, w->errlen, w->status, CHR_EX_DATA,
				   "%s: byte %zu: truncated record", w->name, off);
		bad = chr_rec_check(r);
		if (bad)
			return say(w->err, w->errlen, w->status, CHR_EX_DATA, "%s: byte %zu: %s",
				   w->name, off, bad);
		snap = r->type == CHR_BOOK_SNAPSHOT && !(r->flags & CHR_F_REPEAT) && boundary;
		if (nrec > 0 && (fr.usize + span > CHR_ZSQ_FRAME || (snap && fr.usize >= SNAP_MIN))) {
			if (wframe(w, seg, &fr) < 0)
				return -1;
			fr.uoff = off;
			fr.usize = 0;
			nrec = 0;
		}
		if (nrec == 0) {
			fr.first_seq = r->seq;
			fr.first_ts = r->ts;
			fr.flags = snap ? CHR_ZSQ_SNAPSHOT : 0;
		}
		/* a DEFINE precedes an instrument's first record: what follows
		 * it starts an event; repeats say nothing of where we are */
		if (!(r->flags & CHR_F_REPEAT))
			boundary = (r->flags & CHR_F_LAST) || r->type == CHR_DEFINE;
		fr.usize += span;
		nrec++;
		count++;
		off += span;
	}
	if (count != h->count)
		return say(w->err, w->errlen, w->status, CHR_EX_DATA,
			   "%s: byte 32: the segment header counts %" PRIu64 " records, it holds %"
			   PRIu64, w->name, h->count, count);
	if (wframe(w, seg, &fr) < 0)
		return -1;
	return wtables(w, h);
}

int chr_zsq_write(int fd, const char *name, const void *seg, size_t len, int level,
		  char *err, size_t errlen, int *status)
{
	const struct chr_seg *h = seg;
	struct wctx w = {fd, name, err, errlen, status, NULL, NULL, 0, 0, NULL, 0, 0};
	const char *bad;
	int rc = -1;

	if (len < sizeof *h)
		return say(err, errlen, status, CHR_EX_DATA, "%s: byte 0: %zu bytes: not a segment",
			   name, len);
	bad = chr_seg_check(h);
	if (bad)
		return say(err, errlen, status, CHR_EX_DATA, "%s: byte 0: %s", name, bad);
	if (!(h->flags & CHR_SEG_SEALED))
		return say(err, errlen, status, CHR_EX_DATA, "%s: byte 6: segment is not sealed",
			   name);
	if (h->end != len)
		return say(err, errlen, status, CHR_EX_DATA,
			   "%s: byte 24: segment end %" PRIu64 " is not its length %zu", name,
			   h->end, len);
	if (len % CHR_ALIGN)
		return say(err, errlen, status, CHR_EX_DATA,
			   "%s: byte 24: segment end %zu is not a multiple of 64", name, len);
	/* one context for every frame: its tables are allocated once */
	w.cctx = ZSTD_createCCtx();
	w.cap = OUT_BLOCK;
	w.out = malloc(w.cap);
	if (!w.cctx || !w.out) {
		say(err, errlen, status, CHR_EX_SYS, "%s: out of memory", name);
		goto out;
	}
	if (ZSTD_isError(ZSTD_CCtx_setParameter(w.cctx, ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(w.cctx, ZSTD_c_checksumFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(w.cctx, ZSTD_c_contentSizeFlag, 1))) {
		say(err, errlen, status, CHR_EX_SYS, "%s: zstd level %d refused", name, level);
		goto out;
	}
	rc = wsegment(&w, seg, len);
out:
	ZSTD_freeCCtx(w.cctx);
	free(w.out);
	free(w.f);
	return rc;
}

struct chr_zsq {
	int fd;
	char *shown;		/* the path, for messages */
	uint64_t fsize;		/* of the file */
	char *url;		/* an object (s3://...) read by ranges, or NULL */
	unsigned char *tail;	/* its last bytes, fetched at open (the tables) */
	size_t tail_len;
	struct chr_seg seg;	/* the copy of the segment header */
	struct chr_zsq_frame *f;
	size_t n;
	size_t *snap;		/* indices of the frames flagged SNAPSHOT */
	size_t nsnap;
	unsigned char *cbuf;	/* a compressed frame */
	size_t ccap;
	ZSTD_DCtx *dctx;
	struct ahead *ahead;	/* a second thread decoding ahead, or NULL */
	size_t run;		/* frames a reader has taken in a row */
	int no_ahead;		/* a thread could not be started: none is tried again */
};

static void ahead_stop(struct chr_zsq *z);

void chr_zsq_close(struct chr_zsq *z)
{
	if (!z)
		return;
	ahead_stop(z);
	if (z->fd >= 0)
		close(z->fd);
	free(z->url);
	free(z->tail);
	free(z->shown);
	free(z->f);
	free(z->snap);
	free(z->cbuf);
	ZSTD_freeDCtx(z->dctx);
	free(z);
}

/* pread all n bytes at off: 0, or -1 with the message */
static int zpread(struct chr_zsq *z, void *buf, size_t n, uint64_t off, char *err,
		  size_t errlen, int *status)
{
	size_t got = 0;

	if (z->url) {
		struct chr_err e;
		ssize_t k;

		if (off >= z->fsize - z->tail_len && off + n <= z->fsize) {
			memcpy(buf, z->tail + (off - (z->fsize - z->tail_len)), n);
			return 0;
		}
		if ((k = chr_s3_get_range(z->url, off, n, buf, NULL, &e)) < 0)
			return say(err, errlen, status, CHR_EX_SYS, "%s", e.msg);
		if ((size_t)k < n)
			return say(err, errlen, status, CHR_EX_DATA,
				   "%s: byte %" PRIu64 ": unexpected end of file", z->shown, off + (uint64_t)k);
		return 0;
	}
	while (got < n) {
		ssize_t k = pread(z->fd, (char *)buf + got, n - got, (off_t)(off + got));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return say(err, errlen, status, CHR_EX_SYS, "%s: byte %" PRIu64 ": %s",
				   z->shown, off + got, strerror(errno));
		if (k == 0)
			return say(err, errlen, status, CHR_EX_DATA,
				   "%s: byte %" PRIu64 ": unexpected end of file", z->shown, off + got);
		got += (size_t)k;
	}
	return 0;
}

#define BAD(off, ...) do {                                                    \
		char m_[256];                                                 \
		snprintf(m_, sizeof m_, __VA_ARGS__);                         \
		say(err, errlen, status, CHR_EX_DATA, "%s: byte %" PRIu64 ": %s", \
		    z->shown, (uint64_t)(off), m_);                           \
		goto fail;                                                    \
	} while (0)

/* The skippable frame of size bytes at off that holds the seek table or
 * chronicle's table (what, for messages), its magic and frame size
 * checked. Returns it (the caller frees it), or NULL with err and *status. */
static unsigned char *zframe(struct chr_zsq *z, uint64_t off, uint64_t size, uint32_t magic,
			     const char *what, char *err, size_t errlen, int *status)
{
	unsigned char *b = malloc(size);

	if (!b) {
		say(err, errlen, status, CHR_EX_SYS, "%s: out of memory", z->shown);
		return NULL;
	}
	if (zpread(z, b, size, off, err, errlen, status) < 0)
		goto fail;
	if (get32(b) != magic)
		BAD(off, "bad %s frame magic", what);
	if (get32(b + 4) != size - 8)
		BAD(off + 4, "%s frame size %" PRIu32 " is not %" PRIu64, what, get32(b + 4), size - 8);
	return b;
fail:
	free(b);
	return NULL;
}

/* Read and check both tables; the frames' offsets follow from them. */
static int zload(struct chr_zsq *z, char *err, size_t errlen, int *status)
{
	unsigned char foot[FOOTER], *t = NULL, *c = NULL;
	uint64_t nall, es, tsize, toff, coff, choff, csz, uoff;
	uint32_t desc;

	if (z->fsize < 8 + FOOTER)
		BAD(0, "%" PRIu64 " bytes: too short for a compressed segment", z->fsize);
	if (zpread(z, foot, FOOTER, z->fsize - FOOTER, err, errlen, status) < 0)
		goto fail;
	if (get32(foot + 5) != SEEKABLE_MAGIC)
		BAD(z->fsize - 4, "no zstd seek table at the end (not a compressed segment)");
	desc = foot[4];
	if (desc & 0x7c)
		BAD(z->fsize - 5, "seek table descriptor 0x%02" PRIx32 " has reserved bits set", desc);
	es = desc & 0x80 ? 12 : 8;
	nall = get32(foot);
	if (nall < 2 || (z->fsize - 8 - FOOTER) / es < nall)
		BAD(z->fsize - FOOTER, "seek table of %" PRIu64 " frames does not fit", nall);
	tsize = 8 + nall * es + FOOTER;
	toff = z->fsize - tsize;
	if ((t = zframe(z, toff, tsize, SEEK_MAGIC, "seek table", err, errlen, status)) == NULL)
		goto fail;
	/* the frames' compressed sizes add up to where the seek table is */
	coff = 0;
	for (uint64_t i = 0; i < nall; i++) {
		csz = get32(t + 8 + es * i);
		if (csz == 0 || csz > toff - coff)
			BAD(toff + 8 + es * i, "frame %" PRIu64 " of %" PRIu64
			    " bytes goes past the seek table", i, csz);
		coff += csz;
	}
	if (coff != toff)
		BAD(toff + 8, "frame sizes add up to %" PRIu64 ", the seek table is at %" PRIu64,
		    coff, toff);
	/* the last frame is chronicle's table */
	z->n = nall - 1;
	csz = get32(t + 8 + es * z->n);
	coff = choff = toff - csz;
	if (get32(t + 12 + es * z->n) != 0)
		BAD(toff + 12 + es * z->n, "the chronicle frame has a decompressed size");
	if (csz != 8 + CHR_HEAD + CHR_ENTRY * z->n)
		BAD(toff + 8 + es * z->n, "chronicle frame of %" PRIu64 " bytes for %zu frames", csz,
		    z->n);
	z->f = calloc(z->n, sizeof *z->f);
	z->snap = calloc(z->n, sizeof *z->snap);
	if (!z->f || !z->snap) {
		say(err, errlen, status, CHR_EX_SYS, "%s: out of memory", z->shown);
		goto fail;
	}
	if ((c = zframe(z, coff, csz, CHR_MAGIC, "chronicle", err, errlen, status)) == NULL)
		goto fail;
	if (get32(c + 8) != CHR_TAG)
		BAD(coff + 8, "bad chronicle frame tag");
	if (get16(c + 12) != CHR_ZSQ_VERSION)
		BAD(coff + 12, "unknown compressed segment version %" PRIu16, get16(c + 12));
	if (get16(c + 14) != CHR_ENTRY)
		BAD(coff + 14, "chronicle table entries of %" PRIu16 " bytes", get16(c + 14));
	if (get32(c + 16) != z->n)
		BAD(coff + 16, "chronicle table of %" PRIu32 " frames, seek table of %zu",
		    get32(c + 16), z->n);
	if (get32(c + 20) != chr_crc32c(0, c + 24, csz - 24))
		BAD(coff + 20, "bad chronicle table crc");
	memcpy(&z->seg, c + 24, sizeof z->seg);
	/* a CRC-valid table from a writer that erred: still check it */
	if (chr_seg_check(&z->seg) || !(z->seg.flags & CHR_SEG_SEALED))
		BAD(coff + 24, "bad segment header copy");
	uoff = 0;
	coff = 0;
	for (size_t i = 0; i < z->n; i++) {
		const unsigned char *e = c + 8 + CHR_HEAD + CHR_ENTRY * i;
		struct chr_zsq_frame *f = &z->f[i];

		f->coff = coff;
		f->csize = get32(t + 8 + es * i);
		f->uoff = uoff;
		f->usize = get32(t + 12 + es * i);
		f->first_seq = get64(e);
		f->first_ts = (int64_t)get64(e + 8);
		f->flags = get32(e + 16);
		if (f->usize == 0 || f->usize % CHR_ALIGN)
			BAD(toff + 12 + es * i, "frame %zu decompresses to %" PRIu64
			    " bytes, not a positive multiple of 64", i, f->usize);
		if ((f->flags & ~CHR_ZSQ_SNAPSHOT) || get32(e + 20))
			BAD(choff + 8 + CHR_HEAD + CHR_ENTRY * i + 16,
			    "unknown frame flags");
		if (f->flags & CHR_ZSQ_SNAPSHOT)
			z->snap[z->nsnap++] = i;
		coff += f->csize;
		uoff += f->usize;
	}
	if (uoff != z->seg.end)
		BAD(toff + 12, "frames decompress to %" PRIu64 " bytes, the segment is %" PRIu64,
		    uoff, z->seg.end);
	free(t);
	free(c);
	return 0;
fail:
	free(t);
	free(c);
	return -1;
}

struct chr_zsq *chr_zsq_open(const char *path, char *err, size_t errlen, int *status)
{
	struct chr_zsq *z = calloc(1, sizeof *z);
	struct stat st;

	if (!z) {
		say(err, errlen, status, CHR_EX_SYS, "out of memory");
		return NULL;
	}
	z->fd = -1;
	z->shown = malloc(4 * strlen(path) + 1);
	if (!z->shown) {
		say(err, errlen, status, CHR_EX_SYS, "out of memory");
		goto fail;
	}
	chr_fmt_shown(z->shown, 4 * strlen(path) + 1, path);
	if (chr_s3_is_url(path)) {
		/* one ranged GET of the object's tail holds its tables */
		struct chr_err e;
		ssize_t k;

		if ((z->url = strdup(path)) == NULL || (z->tail = malloc(CHR_ZSQ_TAIL)) == NULL) {
			say(err, errlen, status, CHR_EX_SYS, "out of memory");
			goto fail;
		}
		if ((k = chr_s3_get_tail(path, CHR_ZSQ_TAIL, z->tail, &z->fsize, &e)) < 0) {
			say(err, errlen, status, CHR_EX_SYS, "%s", e.msg);
			goto fail;
		}
		z->tail_len = (size_t)k;
		goto load;
	}
	z->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (z->fd < 0 || fstat(z->fd, &st) < 0) {
		say(err, errlen, status, CHR_EX_SYS, "cannot open '%s': %s", z->shown,
		    strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		say(err, errlen, status, CHR_EX_SYS, "cannot read '%s': %s", z->shown,
		    strerror(S_ISDIR(st.st_mode) ? EISDIR : EINVAL));
		goto fail;
	}
	z->fsize = (uint64_t)st.st_size;
load:
	if (zload(z, err, errlen, status) < 0)
		goto fail;
	z->dctx = ZSTD_createDCtx();
	if (!z->dctx) {
		say(err, errlen, status, CHR_EX_SYS, "%s: out of memory", z->shown);
		goto fail;
	}
	return z;
fail:
	chr_zsq_close(z);
	return NULL;
}

const struct chr_zsq_frame *chr_zsq_frames(const struct chr_zsq *z, size_t *n)
{
	*n = z->n;
	return z->f;
}

uint64_t chr_zsq_size(const struct chr_zsq *z)
{
	return z->seg.end;
}

const struct chr_seg *chr_zsq_seg(const struct chr_zsq *z)
{
	return &z->seg;
}

/* A frame's compressed bytes: z's own, or a decoding thread's. */
struct cbuf {
	unsigned char *b;
	size_t cap;
};

/* Read frame i's compressed bytes into c and check that they are one zstd
 * frame of the sizes the tables say. Returns 0, or -1. */
static int load_into(struct chr_zsq *z, struct cbuf *c, size_t i, char *err, size_t errlen,
		     int *status)
{
	const struct chr_zsq_frame *f;
	unsigned long long cs;
	size_t k;

	if (i >= z->n)
		return say(err, errlen, status, CHR_EX_DATA, "%s: no frame %zu (it has %zu)",
			   z->shown, i, z->n);
	f = &z->f[i];
	if (c->cap < f->csize) {
		unsigned char *b = realloc(c->b, f->csize);

		if (!b)
			return say(err, errlen, status, CHR_EX_SYS, "%s: out of memory", z->shown);
		c->b = b;
		c->cap = f->csize;
	}
	if (zpread(z, c->b, f->csize, f->coff, err, errlen, status) < 0)
		return -1;
	/* exactly one frame, of the size the table says, else a decompressor
	 * would go on into the next frame's bytes */
	if (f->csize < 4 || get32(c->b) != ZSTD_MAGIC)
		return say(err, errlen, status, CHR_EX_DATA,
			   "%s: byte %" PRIu64 ": frame %zu: not a zstd frame", z->shown, f->coff, i);
	k = ZSTD_findFrameCompressedSize(c->b, f->csize);
	if (ZSTD_isError(k) || k != f->csize)
		return say(err, errlen, status, CHR_EX_DATA,
			   "%s: byte %" PRIu64 ": frame %zu: %s", z->shown, f->coff, i,
			   ZSTD_isError(k) ? ZSTD_getErrorName(k) :
			   "its size differs from the seek table's");
	cs = ZSTD_getFrameContentSize(c->b, f->csize);
	if (cs != f->usize)
		return say(err, errlen, status, CHR_EX_DATA,
			   "%s: byte %" PRIu64 ": frame %zu: content size differs from the seek "
			   "table's", z->shown, f->coff, i);
	return 0;
}

/* Read frame i's compressed bytes into z->cbuf, checked. */
static int load(struct chr_zsq *z, size_t i, char *err, size_t errlen, int *status)
{
	struct cbuf c = { z->cbuf, z->ccap };
	int rc = load_into(z, &c, i, err, errlen, status);

	z->cbuf = c.b;
	z->ccap = c.cap;
	return rc;
}

/* Decompress frame i into buf with dctx and the compressed buffer c: what
 * chr_zsq_read does, on any thread (z's tables and fd are only read). */
static int read_frame(struct chr_zsq *z, ZSTD_DCtx *dctx, struct cbuf *c, size_t i, void *buf,
		      char *err, size_t errlen, int *status)
{
	const struct chr_zsq_frame *f = &z->f[i < z->n ? i : 0];
	size_t k;

	if (load_into(z, c, i, err, errlen, status) < 0)
		return -1;
	k = ZSTD_decompressDCtx(dctx, buf, f->usize, c->b, f->csize);
	if (ZSTD_isError(k) || k != f->usize)
		return say(err, errlen, status, CHR_EX_DATA,
			   "%s: byte %" PRIu64 ": frame %zu: %s", z->shown, f->coff, i,
			   ZSTD_isError(k) ? ZSTD_getErrorName(k) : "short frame");
	if (i == 0 && memcmp(buf, &z->seg, sizeof z->seg) != 0)
		return say(err, errlen, status, CHR_EX_DATA,
			   "%s: byte %" PRIu64 ": frame 0: the segment header differs from the "
			   "table's copy", z->shown, f->coff);
	return 0;
}

int chr_zsq_read(struct chr_zsq *z, size_t i, void *buf, char *err, size_t errlen, int *status)
{
	struct cbuf c = { z->cbuf, z->ccap };
	int rc = read_frame(z, z->dctx, &c, i, buf, err, errlen, status);

	z->cbuf = c.b;
	z->ccap = c.cap;
	return rc;
}

int chr_zsq_read_some(struct chr_zsq *z, size_t i, void *buf, size_t n, char *err,
		      size_t errlen, int *status)
{
	const struct chr_zsq_frame *f = &z->f[i < z->n ? i : 0];
	ZSTD_outBuffer out = { buf, n, 0 };
	ZSTD_inBuffer in;
	size_t k = 1;

	if (load(z, i, err, errlen, status) < 0)
		return -1;
	if (n > f->usize)
		n = out.size = f->usize;
	in = (ZSTD_inBuffer){ z->cbuf, f->csize, 0 };
	ZSTD_DCtx_reset(z->dctx, ZSTD_reset_session_only);
	while (out.pos < n && k != 0) {
		k = ZSTD_decompressStream(z->dctx, &out, &in);
		if (ZSTD_isError(k) || (k != 0 && out.pos < n && in.pos == in.size))
			return say(err, errlen, status, CHR_EX_DATA,
				   "%s: byte %" PRIu64 ": frame %zu: %s", z->shown, f->coff, i,
				   ZSTD_isError(k) ? ZSTD_getErrorName(k) : "short frame");
	}
	ZSTD_DCtx_reset(z->dctx, ZSTD_reset_session_only);
	if (out.pos < n)
		return say(err, errlen, status, CHR_EX_DATA, "%s: byte %" PRIu64 ": frame %zu: "
			   "short frame", z->shown, f->coff, i);
	if (i == 0 && (n < sizeof z->seg || memcmp(buf, &z->seg, sizeof z->seg) != 0))
		return say(err, errlen, status, CHR_EX_DATA,
			   "%s: byte %" PRIu64 ": frame 0: the segment header differs from the "
			   "table's copy", z->shown, f->coff);
	return 0;
}

long chr_zsq_snapshot_at(const struct chr_zsq *z, int64_t ts)
{
	size_t lo = 0, hi = z->nsnap;

	/* the first snapshot frame with first_ts > ts; the one before it */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (z->f[z->snap[mid]].first_ts <= ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == 0 ? -1 : (long)z->snap[lo - 1];
}

int chr_zsq_is_zstd(int fd)
{
	unsigned char m[4];
	ssize_t k;

	do
		k = pread(fd, m, sizeof m, 0);
	while (k < 0 && errno == EINTR);
	return k == (ssize_t)sizeof m && get32(m) == ZSTD_MAGIC;
}

/* Decoding ahead. Frames are independent: while a reader goes through a
 * segment in order, a second thread decodes every other frame (the 2nd,
 * 4th, ... from where it started) into a ring of AHEAD_RING buffers, up
 * to 2 * AHEAD_RING frames ahead (ahead_lead), while the reader decodes
 * the frames in between itself: two decoders, the records handed out in
 * order. The thread has its own zstd context and compressed buffer; z's
 * tables and fd are only read. A frame that fails keeps its message, given
 * when the reader comes to it, where a single thread would have failed;
 * the thread stops there. */
struct slot {
	unsigned char *buf;
	size_t cap;
	int state;		/* EMPTY, BUSY (being decoded), READY, FAILED */
	char err[CHR_ERR_MAX];
	int status;
};

enum { EMPTY, BUSY, READY, FAILED };

struct ahead {
	struct chr_zsq *z;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t ready;	/* a slot is READY or FAILED */
	pthread_cond_t room;	/* the reader took a frame, or stop */
	size_t start;		/* the first frame: the reader's; start + 1 the thread's */
	size_t claim;		/* the thread's next frame */
	size_t need;		/* the reader's next frame: those before are taken */
	int stop, failed;
	ZSTD_DCtx *dctx;
	struct cbuf c;
	struct slot s[AHEAD_RING];
};

/* How far ahead of the reader the thread may decode: 2 frames at first,
 * 2 more for every 2 the reader takes, up to the ring's 2 * AHEAD_RING. A
 * reader that stops soon (the book at T, read up to a time: the frames
 * after it are not wanted) leaves little decoded for nothing; one that goes
 * on has the whole ring after a few frames. */
static size_t ahead_lead(const struct ahead *a)
{
	size_t k = 1 + (a->need - a->start) / 2;

	return 2 * (k < AHEAD_RING ? k : AHEAD_RING);
}

static void *ahead_main(void *arg)
{
	struct ahead *a = arg;
	struct chr_zsq *z = a->z;

	pthread_mutex_lock(&a->mu);
	while (!a->stop && !a->failed && a->claim < z->n) {
		size_t i;
		struct slot *sl;
		int rc;

		if (a->claim - a->need >= ahead_lead(a)) {
			pthread_cond_wait(&a->room, &a->mu);
			continue;
		}
		i = a->claim;
		a->claim += 2;
		sl = &a->s[(i - a->start) / 2 % AHEAD_RING];
		sl->state = BUSY;
		pthread_mutex_unlock(&a->mu);
		rc = -1;
		if (sl->cap < z->f[i].usize) {
			free(sl->buf);
			sl->cap = 0;
			sl->buf = malloc(z->f[i].usize);
			if (sl->buf)
				sl->cap = z->f[i].usize;
			else
				say(sl->err, sizeof sl->err, &sl->status, CHR_EX_SYS,
				    "%s: out of memory", z->shown);
		}
		if (sl->buf)
			rc = read_frame(z, a->dctx, &a->c, i, sl->buf, sl->err, sizeof sl->err,
					&sl->status);
		pthread_mutex_lock(&a->mu);
		sl->state = rc < 0 ? FAILED : READY;
		a->failed |= rc < 0;
		pthread_cond_signal(&a->ready);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

static void ahead_free(struct ahead *a)
{
	for (size_t k = 0; k < AHEAD_RING; k++)
		free(a->s[k].buf);
	free(a->c.b);
	ZSTD_freeDCtx(a->dctx);
	free(a);
}

/* Start decoding ahead from frame `from` on. Returns 0, or -1 (nothing
 * started: the reader goes on alone). */
static int ahead_start(struct chr_zsq *z, size_t from)
{
	static atomic_int most;
	struct ahead *a;
	sigset_t all, old;
	int rc;

	if (!most) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);

		most = cores > 2 ? (int)cores - 1 : 1;
	}
	if (atomic_fetch_add(&ahead_running, 1) >= most) {
		atomic_fetch_sub(&ahead_running, 1);
		return -1;	/* tried again at the next frame */
	}
	a = calloc(1, sizeof *a);
	if (!a)
		goto fail;
	a->z = z;
	a->start = a->need = from;
	a->claim = from + 1;
	a->dctx = ZSTD_createDCtx();
	if (!a->dctx) {
		ahead_free(a);
		goto fail;
	}
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->ready, NULL);
	pthread_cond_init(&a->room, NULL);
	/* the thread takes no signal: a follower's wait ends on them */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&a->th, NULL, ahead_main, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_mutex_destroy(&a->mu);
		pthread_cond_destroy(&a->ready);
		pthread_cond_destroy(&a->room);
		ahead_free(a);
		goto fail;
	}
	z->ahead = a;
	return 0;
fail:
	atomic_fetch_sub(&ahead_running, 1);
	z->no_ahead = 1;
	return -1;
}

/* Stop the thread (a frame it is decoding is finished first) and free the
 * ring. */
static void ahead_stop(struct chr_zsq *z)
{
	struct ahead *a = z->ahead;

	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = 1;
	pthread_cond_signal(&a->room);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->th, NULL);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->ready);
	pthread_cond_destroy(&a->room);
	ahead_free(a);
	z->ahead = NULL;
	atomic_fetch_sub(&ahead_running, 1);
}

/* Frame i (the reader's next) into buf: decoded here, or from the ring
 * when it is the thread's. Returns 0, or -1 with err and *status. */
static int ahead_take(struct chr_zsq *z, size_t i, void *buf, char *err, size_t errlen,
		      int *status)
{
	struct ahead *a = z->ahead;
	struct slot *sl = &a->s[(i - a->start) / 2 % AHEAD_RING];
	int rc = 0;

	pthread_mutex_lock(&a->mu);
	if ((i - a->start) % 2 == 0) {
		a->need = i;
		pthread_cond_signal(&a->room);
		pthread_mutex_unlock(&a->mu);
		return chr_zsq_read(z, i, buf, err, errlen, status);
	}
	while (sl->state == BUSY || (sl->state == EMPTY && !a->failed))
		pthread_cond_wait(&a->ready, &a->mu);
	pthread_mutex_unlock(&a->mu);
	if (sl->state == EMPTY) {
		/* the thread stopped before it (it cannot: it stops at a frame
		 * that fails, which comes first); decode it here */
		rc = chr_zsq_read(z, i, buf, err, errlen, status);
	} else if (sl->state == FAILED) {
		snprintf(err, errlen, "%s", sl->err);
		*status = sl->status;
		rc = -1;
	} else {
		memcpy(buf, sl->buf, z->f[i].usize);
	}
	pthread_mutex_lock(&a->mu);
	if (rc == 0)
		sl->state = EMPTY;
	a->need = i + 1;
	pthread_cond_signal(&a->room);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int chr_zsq_reading_ahead(const struct chr_zsq *z)
{
	return z->ahead != NULL;
}

/* The reader's compressed-segment backend: a frame at a time into the
 * reader's buffer, which grows to hold a frame after what is unread. */
static int zsq_fill(struct chr_reader *r, size_t need)
{
	struct chr_zsq *z = r->in;
	size_t usize, i = r->next_frame;
	int rc;

	(void)need;	/* a frame holds whole records: one is enough */
	if (i >= z->n) {
		r->eof = 1;
		return 0;
	}
	usize = (size_t)z->f[i].usize;
	if (chr_reader_room(r, r->hi - r->lo + usize) < 0)
		return -1;
	/* a reader going on through the segment: decode ahead (a local
	 * file: an object's ranged GETs stay on this thread) */
	if (!z->ahead && !z->url && !z->no_ahead && ++z->run > AHEAD_AFTER && z->n - i > 1)
		ahead_start(z, i);
	rc = z->ahead ? ahead_take(z, i, r->buf + r->hi, r->e.msg, sizeof r->e.msg, &r->e.status)
		      : chr_zsq_read(z, i, r->buf + r->hi, r->e.msg, sizeof r->e.msg,
				     &r->e.status);
	if (rc < 0)
		return -1;
	r->hi += usize;
	r->next_frame++;
	return 1;
}

static void zsq_close(struct chr_reader *r)
{
	chr_zsq_close(r->in);
	r->in = NULL;
}

static const struct chr_reader_ops zsq_ops = {
	.fill = zsq_fill,
	.close = zsq_close,
	.blocks = 1,	/* a frame takes a while to decode: what waits goes first */
};

int chr_reader_init_zsq(struct chr_reader *r, struct chr_zsq *z, size_t first_frame,
			const char *name)
{
	chr_reader_setup(r, &zsq_ops, 0, name);
	r->in = z;	/* closed by chr_reader_free when owned, even on failure */
	ahead_stop(z);	/* a previous reader's */
	z->run = 0;
	if (first_frame > z->n) {
		errno = EINVAL;
		return -1;
	}
	r->next_frame = first_frame;
	r->off = first_frame < z->n ? z->f[first_frame].uoff : chr_zsq_size(z);
	return chr_reader_room(r, ZSQ_READER_BUF);
}

int chr_reader_init_zsq_data(struct chr_reader *r, struct chr_zsq *z, size_t frame,
			     const void *data, size_t len, size_t skip, const char *name)
{
	size_t next = frame, have = 0;
	int whole;

	/* whole frames from frame on, then the next follow; else whole frames
	 * and a part of the next (none at all: len 0), and nothing after */
	while (next < z->n && have < len)
		have += z->f[next++].usize;
	whole = have == len && len > 0;
	if (frame >= z->n || have < len || skip > len || skip % 64 || len % 64) {
		chr_reader_setup(r, &zsq_ops, 0, name);
		r->in = z;
		errno = EINVAL;
		return -1;
	}
	if (chr_reader_init_zsq(r, z, whole ? next : z->n, name) < 0 ||
	    chr_reader_room(r, len) < 0)
		return -1;
	memcpy(r->buf, data, len);
	r->lo = skip;
	r->hi = len;
	r->off = z->f[frame].uoff + skip;
	return 0;
}
