/* merge.h - several record sources read as one stream merged by ts, ties
 * in the order of the sources (the rule chr-tail documents), for programs
 * that take several inputs. */
#ifndef CHR_MERGE_H
#define CHR_MERGE_H

#include <stddef.h>

#include "err.h"
#include "source.h"

struct chr_merge {
	struct chr_source *s;	/* n sources: the caller adds the inputs */
	const struct chr_rec **head;
	int *state;
	size_t n;
	size_t last;		/* after 1: the source of the record returned */
	size_t failed;		/* after -1: the source that failed */
};

/* n (at least 1) empty sources, each chr_source_init(sel). Returns 0, or
 * -1 when out of memory. */
int chr_merge_init(struct chr_merge *m, size_t n, const struct chr_select *sel);
void chr_merge_free(struct chr_merge *m);

/* chr_merge_init, and one source a path of paths[0..n) (chr_source_add_path:
 * "-" is stdin), or stdin alone when n is 0: what a program that takes
 * several inputs does with its operands. Returns 0, or -1 with e set
 * (nothing left to free). */
int chr_merge_open(struct chr_merge *m, char *const *paths, size_t n,
		   const struct chr_select *sel, struct chr_err *e);

/* chr_merge_init and the sources of an archive selection, what `chr-tail
 * --archive root --venue venue --stream stream [--date date] --symbol
 * S...` reads: one source for each symbol that syms[0..nsym) name
 * (chr_source_match_symbols: globs too) in that stream of venue,
 * chr_source_add_archive of stream and date (NULL: every date); the raw
 * stream ("raw") in one source, its instruments those syms name
 * (chr_source_symbols; all when nsym is 0). With CHR_MERGE_SNAPSHOT in
 * flags each source starts at its last snapshot at or before sel's
 * ts_from (chr_source_add_archive), and sel's ts_from is set open then:
 * every record from there on; with CHR_MERGE_UPTO too, only those up to
 * each source's first record after ts_from are wanted (snap_upto: some
 * after it may be left out). warn (may be NULL) is each source's (a raw
 * --from-snapshot's instrument without a snapshot). sel is kept, so it
 * must outlive m. Returns 0, or -1 with e set (nothing left to free). */
enum { CHR_MERGE_SNAPSHOT = 1, CHR_MERGE_UPTO = 2 };
int chr_merge_open_archive(struct chr_merge *m, const char *root, const char *venue,
			   const char *stream, const char *date, const char *const *syms,
			   size_t nsym, int flags, chr_warn_fn warn, struct chr_select *sel,
			   struct chr_err *e);

/* chr_merge_open_archive of the book stream, every date, CHR_MERGE_SNAPSHOT
 * and CHR_MERGE_UPTO: one source for each symbol that syms[0..nsym) name
 * (chr_source_match_symbols: globs too) in the book stream of venue in the
 * archive at root, each read from its last snapshot at or before sel's
 * ts_from (chr_source_add_archive with from_snapshot): the records `chr-tail
 * --archive root --venue venue --symbol S --from T --from-snapshot` writes,
 * up to at least each source's first record after ts_from (the book at
 * ts_from: a reader that stops there). sel (its ts_from set; kept, and set
 * open again, so it must outlive m) selects nothing else. Returns 0, or -1
 * with e set (nothing left to free). */
int chr_merge_open_snapshot(struct chr_merge *m, const char *root, const char *venue,
			    const char *const *syms, size_t nsym, struct chr_select *sel,
			    struct chr_err *e);

/* The next record: of the sources' next records, the one with the smallest
 * ts, the first source's on ties; one source is read in its own order.
 * Every source is opened and its first record read before the first
 * record is returned. Following queues, a record goes out as soon as it is
 * the earliest of the next records there are. Returns as chr_source_next:
 * 1 (*rec valid until the next call, m->last its source), 0 at the end of
 * all, 2 when followed queues have nothing yet (chr_merge_wait), -1 with
 * m->failed the index of the source that failed (m->s[m->failed].e says
 * what). */
int chr_merge_next(struct chr_merge *m, const struct chr_rec **rec);

/* Flush before block (chr_reader_set_flush) for every source: flush(arg)
 * is called before each read that may block and before each wait for a
 * followed queue, so that output leaves before the program waits for
 * input. Set it before the first chr_merge_next; then chr_merge_may_block
 * need not be asked. */
void chr_merge_set_flush(struct chr_merge *m, int (*flush)(void *), void *arg);

/* 1 when the next chr_merge_next may block on input: what a program that
 * did not set chr_merge_set_flush flushes its output on. */
int chr_merge_may_block(const struct chr_merge *m);

/* After 2: flush (chr_merge_set_flush), then wait for a followed queue that
 * had nothing (briefly when there are several sources, so that each is
 * looked at). */
void chr_merge_wait(struct chr_merge *m);

#endif
