/* gzin.h - an input source for text: a file or stdin, plain or gzip
 * (detected by the magic bytes 1f 8b, not by the name), multi-member gzip
 * decompressed with ISA-L, byte offsets of the compressed input for errors. */
#ifndef CHR_GZIN_H
#define CHR_GZIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct inflate_state;

struct chr_gzin {
	int fd;
	int own;		/* fd was opened here */
	const char *name;	/* for messages: the path, or "stdin" */
	int gz;			/* -1 not known yet, 0 plain, 1 gzip */
	uint64_t size;		/* bytes of a regular file, else 0 */
	uint64_t in_bytes;	/* bytes read from fd so far */
	unsigned char *in;	/* read buffer of the raw input */
	size_t in_cap, in_lo, in_hi;	/* plain: in[in_lo..in_hi) is unread */
	uint64_t in_base;	/* file offset of in[0] */
	struct inflate_state *st;
	int member;		/* 1 inside a gzip member, 0 between members */
	int eof;		/* fd reached EOF */
	int pend;		/* an error happened: every later read returns -1 */
	int status;		/* after -1: CHR_EX_DATA or CHR_EX_SYS */
	char err[512];		/* after -1: the message, without the program name */
};

/* Open path for reading (NULL or "-" is stdin, named "stdin" in messages;
 * path is kept, not copied). Returns 0, or -1 with g->err ("cannot open
 * 'x': reason") and g->status CHR_EX_SYS. */
int chr_gzin_open(struct chr_gzin *g, const char *path);

/* Read up to n bytes of plain text (decompressed when the input starts with
 * the gzip magic; concatenated gzip members are one stream). Returns the
 * number of bytes (> 0), 0 at the end of the input, or -1 with g->status
 * and g->err set: a read error is CHR_EX_SYS ("x: read error: ..."); a
 * corrupt or truncated gzip stream is CHR_EX_DATA ("x: byte N of the
 * compressed input: ..."). Bytes decompressed before a damage are returned
 * first; the error comes with the next call. */
ssize_t chr_gzin_read(struct chr_gzin *g, void *buf, size_t n);

/* Close the file (not stdin) and free the buffers. */
void chr_gzin_close(struct chr_gzin *g);

#endif
