/* prog.h - the program kit: what every chr-* main shares. One wording for
 * help, version and misuse, one meaning per short option (docs/programs.md),
 * and the end of a record output. */
#ifndef CHR_PROG_H
#define CHR_PROG_H

#include <getopt.h>
#include <signal.h>

struct chr_writer;
struct chr_select;

/* The long options every program has; end a program's option table with
 * CHR_OPTS_STD, { NULL, 0, NULL, 0 } */
#define CHR_OPTS_STD \
	{"help", no_argument, NULL, 'h'}, \
	{"version", no_argument, NULL, 'V'}

/* The options of docs/programs.md that have a short form, each with its
 * one letter: a program that has one of them takes it from here, so that
 * a letter keeps its meaning across the suite. */
#define CHR_OPT_QUIET {"quiet", no_argument, NULL, 'q'}
#define CHR_OPT_VERBOSE {"verbose", no_argument, NULL, 'v'}
#define CHR_OPT_STATS {"stats", no_argument, NULL, 'v'}	/* -v where the extra is counts */
#define CHR_OPT_DRY_RUN {"dry-run", no_argument, NULL, 'n'}
#define CHR_OPT_FOLLOW {"follow", no_argument, NULL, 'f'}
#define CHR_OPT_OUT {"out", required_argument, NULL, 'o'}
#define CHR_OPT_SOURCE {"source", required_argument, NULL, 's'}
#define CHR_OPT_ARCHIVE {"archive", required_argument, NULL, 'a'}
#define CHR_OPT_ARCHIVE_ROOT {"archive-root", required_argument, NULL, 'a'}
#define CHR_OPT_ZSTD {"zstd", optional_argument, NULL, 'z'}

/* s shown in a message (chr_fmt_shown) through the char array buf */
#define CHR_SHOWN(buf, s) chr_fmt_shown(buf, sizeof buf, s)

/* Set by SIGINT and SIGTERM once chr_stop_on_signals is called: a service
 * ends at its next safe point. */
extern volatile sig_atomic_t chr_stop;

/* Catch SIGINT and SIGTERM into chr_stop, with sigaction flags (SA_RESTART:
 * interrupted system calls go on; 0: a blocking wait ends with EINTR). */
void chr_stop_on_signals(int flags);

/* Start a program: its name for messages from argv[0], and usage, the text
 * -h prints (kept, not copied). */
void chr_prog_start(char **argv, const char *usage);

/* getopt_long with the suite's handling of what every program shares:
 * -h/--help prints the usage on stdout and exits 0, -V/--version prints
 * "prog VERSION" and exits 0, an unknown option or a missing value is a
 * usage error ("unknown option '--x'", "option '--x' needs a value",
 * exit 2). shortopts are the program's own (without h, V or a leading
 * ':'). Returns the next option of the program's own, or -1 at the end. */
int chr_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);

/* --type LIST: select the record types of the comma-separated list in sel
 * (chr_select_types), or a usage error naming the first that is not one
 * ("--type 'x' is not a record type"). */
void chr_opt_types(struct chr_select *sel, const char *list);

/* A record output failed with errno err: a reader that went away (EPIPE,
 * SIGPIPE ignored) ends the program quietly with exit 0, as SIGPIPE would;
 * anything else is "cannot write to NAME: why", exit 3. */
_Noreturn void chr_write_failed(const struct chr_writer *w);

#endif
