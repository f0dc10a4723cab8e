/* prog.c - the program kit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chr.h"
#include "fmt.h"
#include "num.h"
#include "out.h"
#include "prog.h"
#include "source.h"

static const char *prog_usage = "";
static const struct chr_opt *prog_opts;

/* What every program has, after its own options */
static const struct chr_opt std_opts[] = {
	{"help", no_argument, 'h', NULL, "show this help"},
	{"version", no_argument, 'V', NULL, "show the version"},
	CHR_OPT_END,
};

#define MAX_OPTS 48

volatile sig_atomic_t chr_stop;
int chr_quiet, chr_verbose;

static void on_stop(int sig)
{
	(void)sig;
	chr_stop = 1;
}

void chr_stop_on_signals(int flags)
{
	struct sigaction sa = {.sa_handler = on_stop, .sa_flags = flags};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static char cmdline[4096];

void chr_prog_start(char **argv, const char *usage, const struct chr_opt *opts)
{
	size_t k = 0;

	chr_setprog(argv[0]);
	/* as given, before getopt_long reorders argv; cut short when long */
	for (char **a = argv; *a && k + 1 < sizeof cmdline; a++)
		k += (size_t)snprintf(cmdline + k, sizeof cmdline - k, "%s%s", k ? " " : "",
				      a == argv ? chr_prog : *a);
	prog_usage = usage;
	prog_opts = opts;
}

const char *chr_prog_cmdline(void)
{
	return cmdline;
}

/* An option's name in -h: "-q, --quiet", "    --root DIR", "--zstd[=LEVEL]" */
static int opt_shown(const struct chr_opt *o, char *buf, size_t n)
{
	return snprintf(buf, n, "%c%c%c --%s%s%s%s", o->id < 256 ? '-' : ' ',
			o->id < 256 ? o->id : ' ', o->id < 256 ? ',' : ' ', o->name,
			o->has_arg == optional_argument ? "[=" : o->arg ? " " : "",
			o->arg ? o->arg : "", o->has_arg == optional_argument ? "]" : "");
}

/* -h: the usage, then one entry per option with its help at one column
 * (past the longest name, up to 28: a longer name has its help below) */
static void print_help(void)
{
	const struct chr_opt *tabs[] = {prog_opts, std_opts};
	char name[128];
	int col = 0;

	fputs(prog_usage, stdout);
	for (int t = 0; t < 2; t++)
		for (const struct chr_opt *o = tabs[t]; o->name; o++) {
			int w = opt_shown(o, name, sizeof name) + 4;

			if (o->help)
				col = w > col && w <= 28 ? w : col;
		}
	for (int t = 0; t < 2; t++)
		for (const struct chr_opt *o = tabs[t]; o->name; o++) {
			const char *h = o->help;
			int w = opt_shown(o, name, sizeof name) + 2;
			size_t len;

			if (!h)
				continue;	/* another name of an option shown */
			printf("  %s", name);
			if (w + 2 > col)
				printf("\n%*s", col, "");
			else
				printf("%*s", col - w, "");
			while ((len = strcspn(h, "\n")), h[len] == '\n') {
				printf("%.*s\n%*s", (int)len, h, col, "");
				h += len + 1;
			}
			printf("%s\n", h);
		}
}

/* What getopt_long found wrong with word, an option it returned '?' for:
 * a short option it does not know (optopt its letter), a value given to a
 * long option that takes none (optopt its id), or a long option it does not
 * know, or knows by several names (an abbreviation). */
_Noreturn static void misuse(const char *word, const struct option *lo)
{
	char name[256], sh[256];
	size_t n, hits = 0;

	if (word[0] == '-' && word[1] != '-' && optopt > 0 && optopt < 256)
		chr_usage_error("unknown option '-%c'", optopt);
	n = strcspn(word, "=");
	snprintf(name, sizeof name, "%.*s", (int)n, word);
	chr_fmt_shown(sh, sizeof sh, name);
	if (strncmp(word, "--", 2) == 0 && optopt != 0)
		chr_usage_error("option '%s' takes no value", sh);
	for (; strncmp(word, "--", 2) == 0 && lo->name; lo++)
		hits += n > 2 && strncmp(lo->name, word + 2, n - 2) == 0;
	if (hits > 1)
		chr_usage_error("option '%s' is ambiguous", sh);
	chr_usage_error("unknown option '%s'", sh);
}

int chr_getopt(int argc, char **argv)
{
	static struct option lo[MAX_OPTS + 3];
	static char opts[3 * MAX_OPTS + 4];
	char sh[256];
	int c;

	if (opts[0] == '\0') {
		size_t n = 0, k = (size_t)snprintf(opts, sizeof opts, ":hV");

		for (const struct chr_opt *o = prog_opts; o->name; o++, n++) {
			if (n == MAX_OPTS)
				chr_die(CHR_EX_SYS, "more than %d options: raise MAX_OPTS", MAX_OPTS);
			lo[n] = (struct option){o->name, o->has_arg, NULL, o->id};
			if (o->id >= 256)
				continue;
			opts[k++] = (char)o->id;
			if (o->has_arg != no_argument)
				opts[k++] = ':';
			if (o->has_arg == optional_argument)
				opts[k++] = ':';
		}
		lo[n++] = (struct option){"help", no_argument, NULL, 'h'};
		lo[n++] = (struct option){"version", no_argument, NULL, 'V'};
	}
	opterr = 0;
	for (;;) {
		switch ((c = getopt_long(argc, argv, opts, lo, NULL))) {
		case 'q':
			chr_quiet = 1;
			break;
		case 'v':
			chr_verbose = 1;
			break;
		case 'h':
			print_help();
			chr_close_stdout();
			exit(CHR_EX_OK);
		case 'V':
			printf("%s %s\n", chr_prog, CHR_VERSION_STRING);
			chr_close_stdout();
			exit(CHR_EX_OK);
		case ':':
			chr_usage_error("option '%s' needs a value",
					chr_fmt_shown(sh, sizeof sh, argv[optind - 1]));
		case '?':
			misuse(argv[optind - 1], lo);
		default:
			return c;
		}
	}
}

void chr_opt_types(struct chr_select *sel, const char *list)
{
	const char *bad;
	char name[64], sh[256];

	if (chr_select_types(sel, list, &bad) < 0) {
		snprintf(name, sizeof name, "%.*s", (int)strcspn(bad, ","), bad);
		chr_usage_error("--type '%s' is not a record type", CHR_SHOWN(sh, name));
	}
}

void chr_opt_time(const char *opt, const char *s, int64_t *ns, uint64_t *seq)
{
	const char *why;
	char sh[256];

	if (seq && strncmp(s, "seq:", 4) == 0) {
		if (chr_parse_u64(s + 4, seq) < 0)
			chr_usage_error("%s '%s' is not a count", opt, CHR_SHOWN(sh, s + 4));
		return;
	}
	if (chr_time_parse_why(s, ns, &why) == 0)
		return;
	if (why)
		chr_usage_error("%s '%s' is not a time: %s", opt, CHR_SHOWN(sh, s), why);
	chr_usage_error(seq ? "%s '%s' is neither a time nor seq:N" : "%s '%s' is not a time", opt,
			CHR_SHOWN(sh, s));
}

uint64_t chr_opt_count(const char *opt, const char *s)
{
	uint64_t v;
	char sh[256];

	if (chr_parse_u64(s, &v) < 0)
		chr_usage_error("%s '%s' is not a count", opt, CHR_SHOWN(sh, s));
	return v;
}

void chr_opt_name(const char *opt, const char *s)
{
	const char *bad = chr_name_check(s);
	char sh[256];

	if (bad)
		chr_usage_error("%s '%s': %s", opt, CHR_SHOWN(sh, s), bad);
}

void chr_opt_date(const char *opt, const char *s)
{
	int64_t day;
	char sh[256];

	if (chr_date_parse(s, &day) < 0)
		chr_usage_error("%s '%s' is not a date YYYY-MM-DD", opt, CHR_SHOWN(sh, s));
}

void chr_opt_stream(const char *s)
{
	static const char *const streams[] = {"book", "trade", "quote", "topn", "raw"};
	char sh[256];

	for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++)
		if (strcmp(s, streams[i]) == 0)
			return;
	chr_usage_error("unknown stream '%s' (book, trade, quote, topn, raw)", CHR_SHOWN(sh, s));
}

/* the end of a program whose output called name failed with errno err */
static _Noreturn void write_failed(const char *name, int err)
{
	char sh[256];

	if (err == EPIPE)
		exit(CHR_EX_OK);
	if (strcmp(name, "stdout") == 0)
		chr_die(CHR_EX_SYS, "cannot write to standard output: %s", strerror(err));
	chr_die(CHR_EX_SYS, "cannot write to '%s': %s", chr_fmt_shown(sh, sizeof sh, name),
		strerror(err));
}

void chr_write_failed(const struct chr_writer *w)
{
	write_failed(w->name, w->err);
}

int chr_flush_or_exit(void *w)
{
	if (chr_writer_flush(w) < 0)
		chr_write_failed(w);
	return 0;
}

int chr_out_flush_or_exit(void *o)
{
	struct chr_err e;

	if (chr_out_flush(o, &e) < 0)
		chr_out_failed(o, &e);
	return 0;
}

int chr_out_flush_commit(void *c)
{
	struct chr_out_commit *oc = c;

	chr_out_flush_or_exit(oc->out);
	if (oc->pos && chr_queue_pos_commit(oc->pos, oc->seq) < 0)
		chr_die_err(&oc->pos->e);
	return 0;
}
