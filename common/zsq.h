/* zsq.h - seekable zstd segments (docs/format.md, "Compressed segments"):
 * a sealed segment as independent zstd frames of whole records, with a
 * seek table that maps each frame to its first seq and ts. Plain `zstd -d`
 * gives back the segment's bytes. */
#ifndef CHR_ZSQ_H
#define CHR_ZSQ_H

#include <stddef.h>
#include <stdint.h>

#define CHR_ZSQ_LEVEL 3			/* default zstd level */
#define CHR_ZSQ_FRAME (1u << 20)	/* input bytes a frame aims at */

/* A frame begins with a BOOK_SNAPSHOT record (the start of an event). */
#define CHR_ZSQ_SNAPSHOT 0x1u

/* One frame of a compressed segment. */
struct chr_zsq_frame {
	uint64_t coff, csize;	/* compressed offset and size in the file */
	uint64_t uoff, usize;	/* uncompressed offset and size in the segment */
	uint64_t first_seq;	/* seq of the frame's first record */
	int64_t first_ts;	/* ts of its first record */
	uint32_t flags;		/* CHR_ZSQ_SNAPSHOT */
};

/* Compress the sealed segment image seg[0..len) (its 64-byte header and
 * records, len = the header's end) into fd, at the file's current offset,
 * at zstd level `level`. Frames are cut at record boundaries, after about
 * CHR_ZSQ_FRAME input bytes, and before a snapshot when that helps seeking.
 * Writes everything or fails; does not fsync. Returns 0, or -1 with a
 * message in err naming `name` and what is wrong (a segment that is not
 * valid is CHR_EX_DATA, a write error CHR_EX_SYS, in *status). */
int chr_zsq_write(int fd, const char *name, const void *seg, size_t len, int level,
		  char *err, size_t errlen, int *status);

struct chr_zsq;

#define CHR_ZSQ_TAIL (4u << 10)	/* an object's tail fetched to read its tables */

/* Open a compressed segment and read its seek table (not its frames). A
 * path s3://bucket/key is an object read by ranged GETs (common/s3.h):
 * one of its last CHR_ZSQ_TAIL bytes for the tables, one per frame read.
 * Returns NULL with a message in err ("path: byte N: why", CHR_EX_DATA for
 * a file that is not a valid compressed segment, CHR_EX_SYS for an I/O
 * error, in *status). */
struct chr_zsq *chr_zsq_open(const char *path, char *err, size_t errlen, int *status);
void chr_zsq_close(struct chr_zsq *z);

/* The frames, in file order (valid until chr_zsq_close). */
const struct chr_zsq_frame *chr_zsq_frames(const struct chr_zsq *z, size_t *n);

/* The uncompressed size: the segment's end. */
uint64_t chr_zsq_size(const struct chr_zsq *z);

struct chr_seg;

/* The segment's 64-byte header, from the copy the table keeps (checked by
 * chr_zsq_open: valid and sealed; chr_zsq_read of frame 0 checks that the
 * frame starts with the same bytes): lets a reader prune the segment by
 * its count, seq and ts range without decompressing anything. */
const struct chr_seg *chr_zsq_seg(const struct chr_zsq *z);

/* Decompress frame i into buf (at least its usize bytes). Returns 0, or -1
 * with a message as chr_zsq_open. */
int chr_zsq_read(struct chr_zsq *z, size_t i, void *buf, char *err, size_t errlen,
		 int *status);

/* Decompress the first n bytes of frame i (all of it when n is larger)
 * into buf: a look at its first records without decompressing the rest.
 * The frame's checksum is not checked. Returns 0, or -1 as chr_zsq_read. */
int chr_zsq_read_some(struct chr_zsq *z, size_t i, void *buf, size_t n, char *err,
		      size_t errlen, int *status);

/* The last frame flagged CHR_ZSQ_SNAPSHOT whose first_ts <= ts, or -1 when
 * there is none. Bisection over the seek table: no frame is read. */
long chr_zsq_snapshot_at(const struct chr_zsq *z, int64_t ts);

/* 1 while a second thread decodes z's frames ahead of a reader (one
 * that has taken a few frames in a row from chr_reader_init_zsq on: see
 * docs/archive.md, "Compressed segments"), else 0. */
int chr_zsq_reading_ahead(const struct chr_zsq *z);

/* 1 when the file at fd starts with a zstd frame's magic number, else 0
 * (the offset is left unchanged). */
int chr_zsq_is_zstd(int fd);

#endif
