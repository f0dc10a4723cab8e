/* out.c - a program's record output: binary, text, JSON or CSV. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "out.h"

enum chr_out_kind chr_out_kind_parse(const char *s)
{
	static const char *const names[] = {
		[CHR_OUT_BINARY] = "binary", [CHR_OUT_TEXT] = "text",
		[CHR_OUT_JSON] = "json", [CHR_OUT_CSV] = "csv",
	};

	for (int k = CHR_OUT_BINARY; k <= CHR_OUT_CSV; k++)
		if (strcmp(s, names[k]) == 0)
			return (enum chr_out_kind)k;
	return CHR_OUT_AUTO;
}

int chr_out_open(struct chr_out *o, enum chr_out_kind kind, unsigned levels)
{
	memset(o, 0, sizeof *o);
	if (kind == CHR_OUT_AUTO)
		kind = isatty(STDOUT_FILENO) ? CHR_OUT_TEXT : CHR_OUT_BINARY;
	o->kind = kind;
	if (kind == CHR_OUT_BINARY)
		return chr_writer_init(&o->w, STDOUT_FILENO, "stdout", 0);
	if (kind == CHR_OUT_CSV) {
		chr_tardis_out_init(&o->csv);
	} else {
		chr_fmt_init(&o->text, stdout, kind == CHR_OUT_JSON ? CHR_FMT_JSON : CHR_FMT_TEXT);
		o->text.levels = levels;
	}
	return 0;
}

/* -1 with o->err: errno, or ENOMEM when the failure left none */
static int failed(struct chr_out *o)
{
	o->err = errno ? errno : ENOMEM;
	return -1;
}

int chr_out_view(struct chr_out *o, const struct chr_rec *rec)
{
	errno = 0;
	if (o->kind == CHR_OUT_CSV) {
		int rows = chr_tardis_write(&o->csv, rec, stdout);

		o->no_csv += rows == CHR_TARDIS_SKIPPED;
		return rows == -1 ? failed(o) : 0;
	}
	if (chr_fmt_learn(&o->text, rec) < 0) {
		errno = ENOMEM;
		return failed(o);
	}
	errno = 0;
	return chr_fmt_rec(&o->text, rec) < 0 ? failed(o) : 0;
}

int chr_out_learn(struct chr_out *o, const struct chr_rec *def)
{
	errno = 0;
	if (o->kind == CHR_OUT_CSV)
		return chr_tardis_write(&o->csv, def, stdout) == -1 ? failed(o) : 0;
	if (o->kind != CHR_OUT_BINARY && chr_fmt_learn(&o->text, def) < 0) {
		errno = ENOMEM;
		return failed(o);
	}
	return 0;
}

int chr_out_flush(struct chr_out *o)
{
	if (o->kind == CHR_OUT_BINARY) {
		if (chr_writer_flush(&o->w) == 0)
			return 0;
		o->err = o->w.err;
		return -1;
	}
	return fflush(stdout) != 0 ? failed(o) : 0;
}

int chr_out_close(struct chr_out *o)
{
	int k;

	switch (o->kind) {
	case CHR_OUT_BINARY:
		if ((k = chr_writer_close(&o->w)) < 0)
			o->err = o->w.err;
		return k;
	case CHR_OUT_CSV:
		chr_tardis_out_free(&o->csv);
		break;
	default:
		chr_fmt_free(&o->text);
	}
	errno = 0;
	return fflush(stdout) != 0 ? failed(o) : 0;
}
