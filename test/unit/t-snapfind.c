/* t-snapfind.c - the search for the book's last snapshot at or before a
 * time in one segment (chr_snap_find), plain and compressed over several
 * frames: the frames walked from the snapshot's on are handed to the
 * reader whole and in order (a snapshot at a frame boundary, T in a frame
 * after the snapshot's, T before any snapshot), or for a reader that stops
 * after T (upto) the last of them up to the record after T, and reading
 * from there gives the segment's records. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "snap.h"
#include "segbuild.h"

#define LEVELS 1000	/* a record of 16 KiB: frames of about 64 records */

/* The frame of z that holds segment offset off. */
static size_t frame_of(const struct chr_zsq_frame *f, size_t n, uint64_t off)
{
	size_t i = 0;

	while (i + 1 < n && f[i + 1].uoff <= off)
		i++;
	return i;
}

/* chr_snap_find at ts in the compressed segment zp (plain pp): the
 * snapshot at want, the data handed over the frames from its frame to
 * the one holding the last record at or before ts (at last), byte for
 * byte the segment's; a reader given them reads the segment's records
 * from want to its end. upto: the data may end sooner, after the first
 * record past ts (next, 0 none), and the reader there; returns 1 when it
 * did (less than whole frames). */
static int check_at(const struct seg *s, const char *zp, const char *pp, int64_t ts,
		    uint64_t want, uint64_t last, uint64_t next, int upto)
{
	const struct chr_zsq_frame *f;
	const struct chr_rec *rec;
	struct chr_reader rd;
	struct chr_snap at = {0};
	struct chr_err e;
	struct chr_zsq *z;
	char err[256];
	size_t n, fa, fl, whole;
	uint64_t off, end;
	int st, k, part = 0;

	CHECK(chr_snap_find(pp, pp, ts, 0, upto, &at, &e) == 1 && at.off == want && at.data == NULL);
	CHECK(chr_snap_find(zp, zp, ts, 0, upto, &at, &e) == 1 && at.off == want && at.data != NULL);
	z = chr_zsq_open(zp, err, sizeof err, &st);
	CHECK(z != NULL);
	if (!z || !at.data)
		return 0;
	f = chr_zsq_frames(z, &n);
	fa = frame_of(f, n, want);
	fl = frame_of(f, n, last);
	whole = f[fl].uoff + f[fl].usize - f[fa].uoff;
	CHECK(at.frame == fa);
	if (upto && at.len < whole) {
		/* whole frames, then the last one up to and with the record
		 * after ts */
		part = 1;
		CHECK(next && frame_of(f, n, next) == fl);
		CHECK(next && at.len == next + chr_rec_span(((const struct chr_rec *)
							     (s->buf + next))->len) - f[fa].uoff);
	} else {
		CHECK(at.len == whole);
	}
	CHECK(at.len <= s->len - f[fa].uoff &&
	      memcmp(at.data, s->buf + f[fa].uoff, at.len) == 0);
	CHECK(chr_reader_init_zsq_data(&rd, z, at.frame, at.data, at.len, at.off - f[fa].uoff,
				       "seg") == 0);
	rd.own = 1;	/* chr_reader_free closes z */
	off = want;
	end = part ? f[fa].uoff + at.len : s->len;
	while ((k = chr_reader_next(&rd, &rec)) == 1) {
		CHECK(rd.rec_off == off && memcmp(rec, s->buf + off, chr_rec_span(rec->len)) == 0);
		off += chr_rec_span(rec->len);
	}
	CHECK(k == 0 && off == end);
	chr_reader_free(&rd);	/* and z */
	free(at.data);
	return part;
}

int main(void)
{
	static struct seg s;
	const struct chr_zsq_frame *f;
	struct chr_snap at;
	struct chr_zsq *z;
	struct chr_err e;
	char zp[64], pp[64], err[256];
	uint64_t snap1, snap2, off[400];
	int64_t ts = 1;
	size_t n, f2;
	int st;

	seg_init(&s, 8u << 20, LEVELS);
	/* a DEFINE; diffs (no snapshot before ts 3); a snapshot; 150 diffs
	 * (frames cut by size after it); a snapshot (a frame starts with it);
	 * 150 diffs */
	put(&s, CHR_DEFINE, 0, 1, ts++);
	for (int i = 0; i < 2; i++)
		put(&s, CHR_BOOK_DIFF, CHR_F_LAST, 1, ts++);
	snap1 = put(&s, CHR_BOOK_SNAPSHOT, CHR_F_LAST, 1, ts++);
	for (int i = 0; i < 150; i++)
		off[i] = put(&s, CHR_BOOK_DIFF, CHR_F_LAST, 1, ts++);
	snap2 = put(&s, CHR_BOOK_SNAPSHOT, CHR_F_LAST, 1, ts++);
	for (int i = 150; i < 300; i++)
		off[i] = put(&s, CHR_BOOK_DIFF, CHR_F_LAST, 1, ts++);
	snprintf(zp, sizeof zp, "/tmp/t-snapfind.%d.zst", (int)getpid());
	snprintf(pp, sizeof pp, "/tmp/t-snapfind.%d.q", (int)getpid());
	write_seg(&s, zp, 0, 1);
	write_seg(&s, pp, 0, 0);

	/* the frames this test is about: the second snapshot starts one,
	 * the first is followed by frames without one */
	z = chr_zsq_open(zp, err, sizeof err, &st);
	CHECK(z != NULL);
	f = chr_zsq_frames(z, &n);
	f2 = frame_of(f, n, snap2);
	CHECK(n >= 5 && f[f2].uoff == snap2 && (f[f2].flags & CHR_ZSQ_SNAPSHOT));
	CHECK(frame_of(f, n, snap1) == 0 && f2 >= 3 && frame_of(f, n, off[299]) >= f2 + 2);
	/* data past the segment's end: refused */
	{
		struct chr_reader rd;

		errno = 0;
		CHECK(chr_reader_init_zsq_data(&rd, z, 0, s.buf, s.len + 64, 64, "seg") < 0 &&
		      errno == EINVAL);
		chr_reader_free(&rd);	/* not z: the reader does not own it */
	}
	chr_zsq_close(z);

	/* before any snapshot: none */
	CHECK(chr_snap_find(zp, zp, 2, 0, 0, &at, &e) == 0);
	CHECK(chr_snap_find(pp, pp, 2, 0, 1, &at, &e) == 0);
	for (int upto = 0; upto < 2; upto++) {
		int parts = 0;

		/* at the first snapshot; in its frame */
		parts += check_at(&s, zp, pp, 4, snap1, snap1, off[0], upto);
		parts += check_at(&s, zp, pp, 10, snap1, off[5], off[6], upto);
		/* in the frame after the snapshot's, and two frames after */
		parts += check_at(&s, zp, pp, 4 + 80, snap1, off[79], off[80], upto);
		parts += check_at(&s, zp, pp, 4 + 140, snap1, off[139], off[140], upto);
		/* at the last record before a snapshot that starts a frame */
		parts += check_at(&s, zp, pp, 4 + 150, snap1, off[149], snap2, upto);
		/* at that snapshot (a frame boundary), just after, a frame after */
		parts += check_at(&s, zp, pp, 4 + 151, snap2, snap2, off[150], upto);
		parts += check_at(&s, zp, pp, 4 + 152, snap2, off[150], off[151], upto);
		parts += check_at(&s, zp, pp, 4 + 151 + 100, snap2, off[249], off[250], upto);
		/* after the last record */
		parts += check_at(&s, zp, pp, 1000, snap2, off[299], 0, upto);
		/* upto: a T early in its frame is handed over in part */
		CHECK(upto ? parts >= 4 : parts == 0);
	}

	unlink(zp);
	unlink(pp);
	free(s.buf);
	return unit_done("t-snapfind");
}
