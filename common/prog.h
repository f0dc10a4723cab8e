/* prog.h - the program kit: what every chr-* main shares. One wording for
 * help, version and misuse, one meaning per short option (docs/programs.md),
 * and the end of a record output. */
#ifndef CHR_PROG_H
#define CHR_PROG_H

#include <getopt.h>
#include <signal.h>
#include <stdint.h>

struct chr_writer;
struct chr_select;

/* One option of a program: its getopt_long entry and its entry in -h,
 * from one table (end it with CHR_OPT_END; -h and -V are the kit's and
 * come after it). id is what chr_getopt returns: the option's letter when
 * it has a short form, which has one meaning across the suite
 * (docs/programs.md), else a CHR_O_* of the kit or the program's own id
 * from CHR_O_OWN up. */
struct chr_opt {
	const char *name;	/* the long name */
	int has_arg;		/* no_argument, required_argument or optional_argument */
	int id;
	const char *arg;	/* the value's name in -h ("DIR"); NULL when none */
	const char *help;	/* what it does, for -h; '\n' starts another line;
				 * NULL: not shown (another name of one shown) */
};
#define CHR_OPT_END {NULL, 0, 0, NULL, NULL}

/* Long options that several programs have with one meaning (ids). */
enum {
	CHR_O_FORMAT = 256, CHR_O_TYPE, CHR_O_SYMBOLS, CHR_O_READER, CHR_O_ONCE, CHR_O_POLL_MS,
	CHR_O_OWN = 320		/* a program numbers its own options from here */
};

/* The options of docs/programs.md, each with its one letter, and the long
 * options shared with one meaning: a program that has one takes it from
 * here, with its value's name as its synopsis spells it and its help where
 * the program adds to the meaning. */
#define CHR_OPT_QUIET(help) {"quiet", no_argument, 'q', NULL, help}
#define CHR_OPT_VERBOSE(help) {"verbose", no_argument, 'v', NULL, help}
#define CHR_OPT_STATS(help) {"stats", no_argument, 'v', NULL, help}	/* -v where the extra is counts */
#define CHR_OPT_DRY_RUN(help) {"dry-run", no_argument, 'n', NULL, help}
#define CHR_OPT_FOLLOW(help) {"follow", no_argument, 'f', NULL, help}
#define CHR_OPT_OUT(arg, help) {"out", required_argument, 'o', arg, help}
#define CHR_OPT_SOURCE(arg, help) {"source", required_argument, 's', arg, help}
#define CHR_OPT_ARCHIVE(arg, help) {"archive", required_argument, 'a', arg, help}
#define CHR_OPT_ARCHIVE_ROOT(help) {"archive-root", required_argument, 'a', "ROOT", help}
#define CHR_OPT_ZSTD(help) {"zstd", optional_argument, 'z', "LEVEL", help}
#define CHR_OPT_FORMAT {"format", required_argument, CHR_O_FORMAT, "fmt", \
	"binary records (the default when stdout is not a\nterminal), text (on a terminal), json, csv, parquet,\narrow"}
#define CHR_OPT_TYPE(help) {"type", required_argument, CHR_O_TYPE, "list", help}
#define CHR_OPT_SYMBOLS(arg, help) {"symbols", required_argument, CHR_O_SYMBOLS, arg, help}
#define CHR_OPT_READER(arg, help) {"reader", required_argument, CHR_O_READER, arg, help}
#define CHR_OPT_ONCE(help) {"once", no_argument, CHR_O_ONCE, NULL, help}
#define CHR_OPT_POLL_MS(arg, help) {"poll-ms", required_argument, CHR_O_POLL_MS, arg, help}

/* -q/--quiet (no warnings) and -v/--verbose or --stats (more on stderr)
 * mean one thing across the suite (docs/programs.md): chr_getopt sets
 * these when the program's table has the option, and does not return it. */
extern int chr_quiet, chr_verbose;

/* s shown in a message (chr_fmt_shown) through the char array buf */
#define CHR_SHOWN(buf, s) chr_fmt_shown(buf, sizeof buf, s)

/* Set by SIGINT and SIGTERM once chr_stop_on_signals is called: a service
 * ends at its next safe point. */
extern volatile sig_atomic_t chr_stop;

/* Catch SIGINT and SIGTERM into chr_stop, with sigaction flags (SA_RESTART:
 * interrupted system calls go on; 0: a blocking wait ends with EINTR). */
void chr_stop_on_signals(int flags);

/* Start a program: its name for messages from argv[0], its usage (the
 * synopsis and what comes before the options in -h) and its options
 * (both kept, not copied). */
void chr_prog_start(char **argv, const char *usage, const struct chr_opt *opts);

/* The command line chr_prog_start was given, words joined by spaces, the
 * program by its name (at most 4095 bytes): what made an output, for its
 * metadata. "" before chr_prog_start. */
const char *chr_prog_cmdline(void);

/* getopt_long over the options of chr_prog_start, with the suite's
 * handling of what every program shares: -h/--help prints the usage and
 * the options, one entry each, on stdout and exits 0, -V/--version prints
 * "prog VERSION" and exits 0, -q and -v set chr_quiet and chr_verbose, an
 * unknown option or a missing value is a usage error ("unknown option
 * '--x'", "option '--x' needs a value", exit 2). Returns the id of the
 * next option of the program's own, or -1 at the end. */
int chr_getopt(int argc, char **argv);

/* --type LIST: select the record types of the comma-separated list in sel
 * (chr_select_types), or a usage error naming the first that is not one
 * ("--type 'x' is not a record type"). */
void chr_opt_types(struct chr_select *sel, const char *list);

/* An option's time (chr_time_parse, docs/programs.md "Times") into *ns, or
 * with seq not NULL also "seq:N" into *seq; or a usage error: "OPT 'x' is
 * not a time" ("is neither a time nor seq:N"), with why when it looks like
 * one ("...: a bare integer is read by its digits ..."). */
void chr_opt_time(const char *opt, const char *s, int64_t *ns, uint64_t *seq);

/* An option's value checked, or a usage error naming the option and the
 * value (shown escaped): a count (chr_parse_u64; "OPT 'x' is not a
 * count"), a name that chr_name_check takes ("OPT 'x': why"), a date
 * YYYY-MM-DD (chr_date_parse; "OPT 'x' is not a date YYYY-MM-DD"), an
 * archive stream a reader names: book, trade, quote, topn or raw ("unknown
 * stream 'x' (book, ...)"). */
uint64_t chr_opt_count(const char *opt, const char *s);
void chr_opt_name(const char *opt, const char *s);
void chr_opt_date(const char *opt, const char *s);
void chr_opt_stream(const char *s);

/* A record output failed with errno err: a reader that went away (EPIPE,
 * SIGPIPE ignored) ends the program quietly with exit 0, as SIGPIPE would;
 * anything else is "cannot write to NAME: why", exit 3. */
_Noreturn void chr_write_failed(const struct chr_writer *w);

/* For chr_merge_set_flush: flush the chr_writer w before the input may
 * block; a failed flush ends the program at once by the rule of
 * chr_write_failed, so that a stage with a dead output does not wait for
 * input it can never pass on. Returns 0. */
int chr_flush_or_exit(void *w);

/* chr_flush_or_exit for the struct chr_out o (chr_out_failed). Returns 0. */
int chr_out_flush_or_exit(void *o);

/* For chr_pace's flush (a sleep may be long): out flushed as above, then,
 * when pos is set, seq committed to it (the record held; every one before
 * it is out), so that a reader killed while it sleeps resumes where its
 * output ends; a failed commit ends the program (chr_die_err). Returns 0. */
struct chr_queue_pos;
struct chr_out_commit {
	struct chr_out *out;
	struct chr_queue_pos *pos;
	uint64_t seq;
};
int chr_out_flush_commit(void *c);

#endif
