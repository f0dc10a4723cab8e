/* gzin.c - plain or gzip input from a file or stdin (ISA-L inflate). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <isa-l/igzip_lib.h>

#include "err.h"
#include "gzin.h"

#define GZIN_BUF (1u << 20)

int chr_gzin_open(struct chr_gzin *g, const char *path)
{
	struct stat sb;

	memset(g, 0, sizeof *g);
	g->gz = -1;
	if (path == NULL || strcmp(path, "-") == 0) {
		g->fd = 0;
		g->name = "stdin";
	} else {
		g->name = path;
		g->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (g->fd < 0) {
			snprintf(g->err, sizeof g->err, "cannot open '%s': %s", path, strerror(errno));
			g->status = CHR_EX_SYS;
			return -1;
		}
		g->own = 1;
	}
	if (fstat(g->fd, &sb) == 0 && S_ISREG(sb.st_mode))
		g->size = (uint64_t)sb.st_size;
	chr_pipe_grow(g->fd);
	g->in_cap = GZIN_BUF;
	g->in = malloc(g->in_cap);
	if (g->in == NULL) {
		snprintf(g->err, sizeof g->err, "%s: out of memory", g->name);
		g->status = CHR_EX_SYS;
		chr_gzin_close(g);
		return -1;
	}
	return 0;
}

void chr_gzin_close(struct chr_gzin *g)
{
	if (g->own && g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	free(g->in);
	free(g->st);
	g->in = NULL;
	g->st = NULL;
}

static ssize_t fail(struct chr_gzin *g, int status, const char *what, const char *why)
{
	snprintf(g->err, sizeof g->err, "%s: %s%s", g->name, what, why);
	g->status = status;
	g->pend = 1;
	return -1;
}

/* Read more raw input after in[in_hi] (compacting first when asked).
 * Returns bytes read, 0 at EOF, -1 on a read error. */
static ssize_t fill(struct chr_gzin *g, size_t keep_from)
{
	ssize_t k;

	if (keep_from > 0) {
		memmove(g->in, g->in + keep_from, g->in_hi - keep_from);
		g->in_base += keep_from;
		g->in_hi -= keep_from;
		g->in_lo -= keep_from < g->in_lo ? keep_from : g->in_lo;
	}
	if (g->eof)
		return 0;
	k = chr_read(g->fd, g->in + g->in_hi, g->in_cap - g->in_hi);
	if (k < 0)
		return fail(g, CHR_EX_SYS, "read error: ", strerror(errno));
	if (k == 0)
		g->eof = 1;
	g->in_hi += (size_t)k;
	g->in_bytes += (uint64_t)k;
	return k;
}

/* Decide plain or gzip from the first two bytes. */
static int sniff(struct chr_gzin *g)
{
	while (g->in_hi < 2 && !g->eof)
		if (fill(g, 0) < 0)
			return -1;
	g->gz = g->in_hi >= 2 && g->in[0] == 0x1f && g->in[1] == 0x8b;
	if (g->gz) {
		g->st = malloc(sizeof *g->st);
		if (g->st == NULL)
			return (int)fail(g, CHR_EX_SYS, "out of memory", "");
	}
	return 0;
}

static ssize_t read_plain(struct chr_gzin *g, void *buf, size_t n)
{
	ssize_t k;

	if (g->in_lo < g->in_hi) {
		size_t m = g->in_hi - g->in_lo;

		if (m > n)
			m = n;
		memcpy(buf, g->in + g->in_lo, m);
		g->in_lo += m;
		return (ssize_t)m;
	}
	if (g->eof)
		return 0;
	k = chr_read(g->fd, buf, n);
	if (k < 0)
		return fail(g, CHR_EX_SYS, "read error: ", strerror(errno));
	if (k == 0)
		g->eof = 1;
	g->in_bytes += (uint64_t)k;
	return k;
}

static const char *inflate_error(int rc)
{
	switch (rc) {
	case ISAL_INVALID_BLOCK: return "corrupt gzip data (invalid deflate block)";
	case ISAL_INVALID_SYMBOL: return "corrupt gzip data (invalid deflate symbol)";
	case ISAL_INVALID_LOOKBACK: return "corrupt gzip data (invalid lookback distance)";
	case ISAL_INVALID_WRAPPER: return "corrupt gzip header";
	case ISAL_UNSUPPORTED_METHOD: return "unsupported gzip compression method";
	case ISAL_INCORRECT_CHECKSUM: return "gzip checksum mismatch (corrupt data)";
	default: return "corrupt gzip data";
	}
}

static ssize_t fail_at(struct chr_gzin *g, const char *what)
{
	snprintf(g->err, sizeof g->err, "%s: byte %llu of the compressed input: %s", g->name,
		 (unsigned long long)(g->in_base + g->in_lo), what);
	g->status = CHR_EX_DATA;
	g->pend = 1;
	return -1;
}

static ssize_t read_gz(struct chr_gzin *g, void *buf, size_t n)
{
	struct inflate_state *st = g->st;
	uint32_t want = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	int rc;

	st->next_out = buf;
	st->avail_out = want;
	while (st->avail_out == want) {
		if (!g->member) {
			/* between members: the end of the input, or another member */
			if (g->in_lo == g->in_hi) {
				if (fill(g, g->in_lo) < 0)
					return -1;
				if (g->in_lo == g->in_hi)
					return 0;
			}
			while (g->in_hi - g->in_lo < 4 && !g->eof)
				if (fill(g, g->in_lo) < 0)
					return -1;
			if (g->in_hi - g->in_lo < 2 || g->in[g->in_lo] != 0x1f ||
			    g->in[g->in_lo + 1] != 0x8b)
				return fail_at(g, "trailing bytes after the gzip stream are not gzip");
			/* RFC 1952: reserved FLG bits set means a header we cannot
			 * read (zlib and gzip refuse it; ISA-L would not) */
			if (g->in_hi - g->in_lo >= 4 && (g->in[g->in_lo + 3] & 0xe0))
				return fail_at(g, "corrupt gzip header (reserved flags set)");
			/* init clears next_out and avail_out: keep them */
			{
				uint8_t *o = st->next_out;
				uint32_t a = st->avail_out;

				isal_inflate_init(st);
				st->next_out = o;
				st->avail_out = a;
			}
			st->crc_flag = ISAL_GZIP;
			g->member = 1;
		}
		if (g->in_lo == g->in_hi) {
			if (fill(g, g->in_lo) < 0)
				return -1;
			if (g->in_lo == g->in_hi && g->eof) {
				if (st->avail_out != want)
					break;
				return fail_at(g, "unexpected end of input (truncated gzip stream)");
			}
		}
		st->next_in = g->in + g->in_lo;
		st->avail_in = (uint32_t)(g->in_hi - g->in_lo);
		rc = isal_inflate(st);
		g->in_lo = (size_t)(st->next_in - g->in);
		if (rc < 0) {
			if (st->avail_out != want) {
				/* hand out what came before the damage first */
				fail_at(g, inflate_error(rc));
				break;
			}
			return fail_at(g, inflate_error(rc));
		}
		if (st->block_state == ISAL_BLOCK_FINISH)
			g->member = 0;
	}
	return (ssize_t)(want - st->avail_out);
}

ssize_t chr_gzin_read(struct chr_gzin *g, void *buf, size_t n)
{
	/* after an error (set by fail or fail_at), every call reports it; data
	 * returned with it (k > 0) came before the damage */
	if (g->pend)
		return -1;
	if (n == 0)
		return 0;
	if (g->gz < 0 && sniff(g) < 0)
		return -1;
	if (!g->gz)
		return read_plain(g, buf, n);
	return read_gz(g, buf, n);
}
