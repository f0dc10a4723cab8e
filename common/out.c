/* out.c - a program's output: binary records or their views. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "out.h"
#include "path.h"
#include "prog.h"
#include "tm.h"

int chr_out_parse(const char *s, enum chr_out_kind *kind, struct chr_err *e)
{
	static const struct {
		const char *name;
		enum chr_out_kind kind;
	} formats[] = {
		{"binary", CHR_OUT_BINARY}, {"text", CHR_OUT_TEXT},
		{"json", CHR_OUT_JSON}, {"csv", CHR_OUT_CSV}, {"parquet", CHR_OUT_PARQUET},
		{"arrow", CHR_OUT_ARROW},
	};
	char sh[256];

	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
		if (strcmp(s, formats[i].name) == 0) {
			*kind = formats[i].kind;
			return 0;
		}
	return chr_err_set(e, CHR_EX_USAGE, "unknown format '%s' (binary, text, json, csv, "
			   "parquet, arrow)",
			   chr_fmt_shown(sh, sizeof sh, s));
}

int chr_out_check(enum chr_out_kind *kind, const char *dest, struct chr_err *e)
{
	int tty = dest == NULL && isatty(STDOUT_FILENO);

	if (*kind == CHR_OUT_AUTO)
		*kind = tty ? CHR_OUT_TEXT : CHR_OUT_BINARY;
	if ((*kind == CHR_OUT_BINARY || *kind == CHR_OUT_PARQUET || *kind == CHR_OUT_ARROW) &&
	    tty)
		return chr_err_set(e, CHR_EX_USAGE, "refusing to write %s to a terminal (pipe them "
				   "into a program; chr-tail --format text shows them)",
				   *kind == CHR_OUT_BINARY ? "binary records" :
				   *kind == CHR_OUT_ARROW ? "Arrow" : "Parquet");
	if (dest && *kind != CHR_OUT_BINARY && *kind != CHR_OUT_PARQUET &&
	    *kind != CHR_OUT_PARQUET_TREE && *kind != CHR_OUT_ARROW)
		return chr_err_set(e, CHR_EX_USAGE, "--out writes records (to a queue), Parquet or "
				   "Arrow (to a file): not --format text, json or csv");
	if (*kind == CHR_OUT_PARQUET_TREE && !dest)
		return chr_err_set(e, CHR_EX_USAGE, "a Parquet tree needs its directory");
	return 0;
}

int chr_out_dest(enum chr_out_kind *kind, const char **dest, const char *dir, int commits,
		 struct chr_err *e)
{
	if (commits && (*kind == CHR_OUT_PARQUET || *kind == CHR_OUT_ARROW || dir))
		return chr_err_set(e, CHR_EX_USAGE, "--reader commits what is written: %s is "
				   "written at the end", *kind == CHR_OUT_ARROW ? "Arrow" : "Parquet");
	if (dir && (*kind != CHR_OUT_PARQUET || *dest))
		return chr_err_set(e, CHR_EX_USAGE, "--out-dir goes with --format parquet, without "
				   "--out");
	if (dir) {
		*kind = CHR_OUT_PARQUET_TREE;
		*dest = dir;
	}
	return chr_out_check(kind, *dest, e);
}

/* Parquet to a file: created as dest.tmp.XXXXXX, with the umask's mode,
 * renamed onto dest at the end (a symbolic link to a regular file: beside
 * that file, onto it); a dest that is there and no regular file (a
 * device, a FIFO, a link to one such as /dev/stdout) is written in place:
 * never replaced */
static int pq_file(struct chr_out *o, const char *dest, struct chr_err *e)
{
	struct stat st, to;
	size_t n;
	mode_t um;
	int fd;

	if (lstat(dest, &st) == 0 && S_ISLNK(st.st_mode) && stat(dest, &to) == 0 &&
	    S_ISREG(to.st_mode)) {
		if ((o->real = realpath(dest, NULL)) == NULL)
			return chr_err_sys(e, "cannot resolve '%s'", dest);
		dest = o->real;
	} else if (lstat(dest, &st) == 0 && !S_ISREG(st.st_mode)) {
		if ((fd = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0)
			return chr_err_sys(e, "cannot open '%s'", dest);
		return fd;
	}
	n = strlen(dest) + 12;
	if ((o->tmp = malloc(n)) == NULL)
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	snprintf(o->tmp, n, "%s.tmp.XXXXXX", dest);
	if ((fd = mkostemp(o->tmp, O_CLOEXEC)) < 0) {
		chr_err_sys(e, "cannot create '%s'", dest);
		free(o->tmp);
		o->tmp = NULL;
		return -1;
	}
	um = umask(0);
	umask(um);
	if (fchmod(fd, 0666 & ~um) < 0) {
		chr_err_sys(e, "cannot create '%s'", dest);
		close(fd);
		unlink(o->tmp);
		free(o->tmp);
		o->tmp = NULL;
		return -1;
	}
	return fd;
}

int chr_out_open(struct chr_out *o, enum chr_out_kind kind, const char *dest,
		 struct chr_err *e)
{
	const char *queue = dest;
	int fd = STDOUT_FILENO;

	memset(o, 0, sizeof *o);
	if (chr_out_check(&kind, dest, e) < 0)
		return -1;
	o->kind = kind;
	switch (kind) {
	case CHR_OUT_PARQUET:
	case CHR_OUT_ARROW:
		if (dest && (fd = pq_file(o, dest, e)) < 0)
			return -1;
		if ((o->pq = malloc(sizeof *o->pq)) == NULL) {
			if (dest)
				close(fd);
			if (o->tmp) {
				unlink(o->tmp);
				free(o->tmp);
			}
			return chr_err_set(e, CHR_EX_SYS, "out of memory");
		}
		o->dest = dest;
		chr_pqout_init(o->pq, fd, dest ? dest : "stdout", chr_prog_cmdline());
		o->pq->arrow = kind == CHR_OUT_ARROW;
		break;
	case CHR_OUT_PARQUET_TREE:
		if ((o->tree = malloc(sizeof *o->tree)) == NULL)
			return chr_err_set(e, CHR_EX_SYS, "out of memory");
		chr_pqtree_init(o->tree, dest);
		break;
	case CHR_OUT_BINARY:
		if (queue) {
			struct chr_queue_opts qo = { .flags = CHR_QUEUE_CREATE };

			if (chr_queue_writer_open(&o->q, queue, &qo) < 0)
				return chr_err_set(e, o->q.e.status, "%s", o->q.e.msg);
			if (chr_writer_init_queue(&o->w, &o->q, queue) < 0) {
				chr_queue_writer_close(&o->q);
				return chr_err_set(e, CHR_EX_SYS, "out of memory");
			}
			o->to_queue = 1;
		} else if (chr_writer_init(&o->w, STDOUT_FILENO, "stdout", 0) < 0) {
			return chr_err_set(e, CHR_EX_SYS, "out of memory");
		}
		chr_defs_init(&o->defs);
		break;
	case CHR_OUT_CSV:
		chr_tardis_out_init(&o->csv);
		break;
	default:
		chr_fmt_init(&o->fmt, stdout, kind == CHR_OUT_JSON ? CHR_FMT_JSON : CHR_FMT_TEXT);
	}
	return 0;
}

/* A write failed with errno err (0: as ENOMEM, what a view's failure
 * without errno means). Returns -1. */
static int failed(struct chr_out *o, int err, struct chr_err *e)
{
	if (o->to_queue) {
		o->err = 0;	/* the queue says why; never the quiet end */
		return chr_err_set(e, o->q.e.status, "%s", o->q.e.msg);
	}
	o->err = err ? err : ENOMEM;
	return chr_err_set(e, CHR_EX_SYS, "cannot write to standard output: %s", strerror(o->err));
}

/* a Parquet writer's error in e: a failed write keeps its errno, for
 * chr_out_failed */
static int pq_failed(struct chr_out *o, struct chr_err *e)
{
	o->err = e->status == CHR_EX_SYS && errno ? errno : 0;
	return -1;
}

static int oom(struct chr_err *e)
{
	return chr_err_set(e, CHR_EX_SYS, "out of memory");
}

/* CSV: rec would start rows of another dataset than those written. */
static int csv_mixed(struct chr_out *o, const struct chr_rec *rec, struct chr_err *e)
{
	char was[32], type[16], when[CHR_TIME_BUF];
	const char *t = chr_type_name(rec->type);

	o->err = 0;
	if (!t)
		t = (snprintf(type, sizeof type, "0x%04x", rec->type), type);
	chr_time_format(when, rec->ts);
	return chr_err_set(e, CHR_EX_USAGE, "%s seq %llu: a %s record after %s rows: a CSV "
			   "file holds the rows of one Tardis dataset under one header; select "
			   "one record type (chr-tail --type)", when, (unsigned long long)rec->seq,
			   t, chr_tardis_type_name(o->csv.dataset, o->csv.n, was));
}

int chr_out_put(struct chr_out *o, const struct chr_rec *rec, struct chr_err *e)
{
	const struct chr_rec *def;
	int rows, ds, n;

	switch (o->kind) {
	case CHR_OUT_BINARY:
		if (rec->type == CHR_DEFINE) {
			if (chr_defs_note(&o->defs, rec, 1, e) < 0)
				return -1;
		} else if ((def = chr_defs_due(&o->defs, rec)) != NULL &&
			   chr_writer_put(&o->w, def) < 0) {
			return failed(o, o->w.err, e);
		}
		if (chr_writer_put(&o->w, rec) < 0)
			return failed(o, o->w.err, e);
		return 0;
	case CHR_OUT_CSV:
		if (o->csv.dataset != CHR_TARDIS_NONE && (ds = chr_tardis_dataset(rec, &n)) != CHR_TARDIS_NONE &&
		    (ds != o->csv.dataset || n != o->csv.n))
			return csv_mixed(o, rec, e);
		errno = 0;
		rows = chr_tardis_write(&o->csv, rec, stdout);
		if (rows == -1)
			return failed(o, errno, e);
		if (rows == CHR_TARDIS_SKIPPED)
			o->no_csv++;
		return 0;
	case CHR_OUT_PARQUET:
	case CHR_OUT_PARQUET_TREE:
	case CHR_OUT_ARROW:
		errno = 0;
		rows = o->pq ? chr_pqout_put(o->pq, rec, e) : chr_pqtree_put(o->tree, rec, e);
		if (rows == CHR_TARDIS_SKIPPED)
			o->no_csv++;
		else if (rows < 0)
			return pq_failed(o, e);
		return 0;
	default:
		if (chr_fmt_learn(&o->fmt, rec) < 0)
			return oom(e);
		if (rec->type == CHR_DEFINE && o->kind == CHR_OUT_JSON && !o->json_defines)
			return 0;
		errno = 0;
		if (chr_fmt_rec(&o->fmt, rec) < 0)
			return failed(o, errno, e);
		return 0;
	}
}

struct chr_rec *chr_out_reserve(struct chr_out *o, uint32_t len, struct chr_err *e)
{
	size_t span = chr_rec_span(len);
	struct chr_rec *r;

	if (len < CHR_HDR_SIZE || len > CHR_REC_MAX) {
		o->err = 0;
		return chr_err_set(e, CHR_EX_SYS, "a record of %u bytes: not a legal length",
				   len), NULL;
	}
	if (o->kind == CHR_OUT_BINARY) {
		if (o->to_queue) {
			if ((r = chr_queue_reserve(&o->q, len)) == NULL)
				return failed(o, errno, e), NULL;
			return r;
		}
		if ((r = chr_writer_reserve(&o->w, len)) == NULL)
			return failed(o, o->w.err, e), NULL;
		return r;
	}
	if (span > o->scratch_cap) {
		size_t nc = o->scratch_cap ? o->scratch_cap : 4096;
		void *p;

		while (nc < span)
			nc *= 2;
		if ((p = aligned_alloc(CHR_ALIGN, nc)) == NULL)
			return oom(e), NULL;
		free(o->scratch);
		o->scratch = p;
		o->scratch_cap = nc;
	}
	r = (struct chr_rec *)o->scratch;
	memset(r, 0, span);
	r->len = len;
	return r;
}

int chr_out_commit(struct chr_out *o, struct chr_rec *rec, struct chr_err *e)
{
	if (o->kind == CHR_OUT_BINARY) {
		if (o->to_queue) {
			/* the queue repeats its DEFINEs itself */
			chr_queue_commit(&o->q, rec);
			return 0;
		}
		chr_writer_commit(&o->w, rec);
		/* sealed now: a chr_out_put of the instrument need not repeat it */
		return rec->type == CHR_DEFINE ? chr_defs_note(&o->defs, rec, 1, e) : 0;
	}
	chr_rec_seal(rec);
	return chr_out_put(o, rec, e);
}

int chr_out_skip(struct chr_out *o, const struct chr_rec *rec, struct chr_err *e)
{
	if (rec->type != CHR_DEFINE)
		return 0;
	switch (o->kind) {
	case CHR_OUT_BINARY:
		return chr_defs_note(&o->defs, rec, 0, e);
	case CHR_OUT_CSV:
		/* the CSV writer learns the names, and writes nothing */
		errno = 0;
		return chr_tardis_write(&o->csv, rec, stdout) == -1 ? failed(o, errno, e) : 0;
	case CHR_OUT_PARQUET:
	case CHR_OUT_PARQUET_TREE:
	case CHR_OUT_ARROW:
		return chr_out_put(o, rec, e);
	default:
		return chr_fmt_learn(&o->fmt, rec) < 0 ? oom(e) : 0;
	}
}

int chr_out_flush(struct chr_out *o, struct chr_err *e)
{
	if (o->kind == CHR_OUT_PARQUET || o->kind == CHR_OUT_PARQUET_TREE ||
	    o->kind == CHR_OUT_ARROW)
		return 0;	/* a row group is written whole */
	if (o->kind == CHR_OUT_BINARY)
		return chr_writer_flush(&o->w) < 0 ? failed(o, o->w.err, e) : 0;
	return fflush(stdout) != 0 ? failed(o, errno, e) : 0;
}

/* Parquet: the footer, then the file in place; a tree's last files */
static int pq_close(struct chr_out *o, struct chr_err *e)
{
	int rc;

	errno = 0;
	if (o->tree) {
		rc = chr_pqtree_close(o->tree, e) < 0 ? pq_failed(o, e) : 0;
		chr_pqtree_free(o->tree);
		free(o->tree);
		o->tree = NULL;
		return rc;
	}
	rc = chr_pqout_close(o->pq, e) < 0 ? pq_failed(o, e) : 0;
	if (o->dest && !o->tmp && close(o->pq->fd) < 0 && rc == 0)
		rc = (chr_err_sys(e, "cannot write '%s'", o->dest), pq_failed(o, e));
	if (o->tmp) {
		if (rc == 0 && chr_publish_tmp(o->pq->fd, o->tmp, o->real ? o->real : o->dest,
						 NULL, 0, 0) < 0)
			rc = (chr_err_sys(e, "cannot write '%s'", o->dest), pq_failed(o, e));
		else if (rc < 0) {
			close(o->pq->fd);
			unlink(o->tmp);
		}
		free(o->tmp);
		o->tmp = NULL;
	}
	free(o->real);
	o->real = NULL;
	chr_pqout_free(o->pq);
	free(o->pq);
	o->pq = NULL;
	return rc;
}

int chr_out_close(struct chr_out *o, struct chr_err *e)
{
	int rc = 0;

	if (o->kind == CHR_OUT_BINARY) {
		if (chr_writer_close(&o->w) < 0)
			rc = failed(o, o->w.err, e);
		chr_defs_free(&o->defs);
		if (o->to_queue)
			chr_queue_writer_close(&o->q);
		return rc;
	}
	free(o->scratch);
	o->scratch = NULL;
	if (o->kind == CHR_OUT_PARQUET || o->kind == CHR_OUT_PARQUET_TREE ||
	    o->kind == CHR_OUT_ARROW)
		return pq_close(o, e);
	if (o->kind == CHR_OUT_CSV)
		chr_tardis_out_free(&o->csv);
	else
		chr_fmt_free(&o->fmt);
	errno = EIO;	/* what ferror() alone means */
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0)
		rc = failed(o, errno, e);
	return rc;
}

void chr_out_failed(const struct chr_out *o, const struct chr_err *e)
{
	/* a Parquet file not finished is not left behind */
	if (o->tmp)
		unlink(o->tmp);
	if (o->tree)
		chr_pqtree_unlink(o->tree);
	if (o->err == EPIPE)
		exit(CHR_EX_OK);
	chr_die_err(e);
}
