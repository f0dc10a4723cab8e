/* out.h - a program's record output on stdout, one object for the four
 * forms: binary records, or a view of them as text, JSON or Tardis CSV
 * (--format, docs/programs.md). */
#ifndef CHR_OUT_H
#define CHR_OUT_H

#include <stdint.h>

#include "fmt.h"
#include "io.h"
#include "rec.h"
#include "tardis.h"

enum chr_out_kind { CHR_OUT_AUTO, CHR_OUT_BINARY, CHR_OUT_TEXT, CHR_OUT_JSON, CHR_OUT_CSV };

struct chr_out {
	enum chr_out_kind kind;
	struct chr_writer w;		/* binary */
	struct chr_fmt text;		/* text and json */
	struct chr_tardis_out csv;	/* csv */
	int err;			/* after -1: errno (EPIPE, ENOMEM, ...) */
	uint64_t no_csv;		/* csv: records left out, with no Tardis form */
};

/* The kind a --format value names ("binary", "text", "json", "csv"), or
 * CHR_OUT_AUTO when it names none. */
enum chr_out_kind chr_out_kind_parse(const char *s);

/* Start output on stdout as kind: CHR_OUT_AUTO is text on a terminal and
 * binary records elsewhere (o->kind says which); levels is the book levels
 * text shows per side (0 all). The caller refuses binary output on a
 * terminal (chr_refuse_tty). Returns 0, or -1 when out of memory. */
int chr_out_open(struct chr_out *o, enum chr_out_kind kind, unsigned levels);

/* Write a view of rec (text, json or csv; a record with no CSV form is
 * left out and counted in o->no_csv). Returns 0, or -1 with o->err. */
int chr_out_view(struct chr_out *o, const struct chr_rec *rec);

/* Write rec (checked, sealed) in the output's form. Returns 0, or -1 with
 * o->err. */
static inline int chr_out_rec(struct chr_out *o, const struct chr_rec *rec)
{
	if (o->kind != CHR_OUT_BINARY)
		return chr_out_view(o, rec);
	if (chr_writer_put(&o->w, rec) == 0)
		return 0;
	o->err = o->w.err;
	return -1;
}

/* A view learns the names of the instruments from a DEFINE record without
 * showing it (binary output: nothing). Returns 0, or -1 with o->err. */
int chr_out_learn(struct chr_out *o, const struct chr_rec *def);

/* Write out what is buffered. Returns 0, or -1 with o->err. */
int chr_out_flush(struct chr_out *o);

/* Flush, then free the output (stdout stays open). Returns 0, or -1 with
 * o->err (freed all the same). */
int chr_out_close(struct chr_out *o);

#endif
