/* prog.c - the program kit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chr.h"
#include "fmt.h"
#include "prog.h"
#include "source.h"

static const char *prog_usage = "";

volatile sig_atomic_t chr_stop;

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

void chr_prog_start(char **argv, const char *usage)
{
	chr_setprog(argv[0]);
	prog_usage = usage;
}

int chr_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	static char opts[128];
	char sh[256];
	int c;

	if (opts[0] == '\0')
		snprintf(opts, sizeof opts, ":hV%s", shortopts);
	opterr = 0;
	switch ((c = getopt_long(argc, argv, opts, longopts, NULL))) {
	case 'h':
		fputs(prog_usage, stdout);
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
		if (optopt != 0)
			chr_usage_error("unknown option '-%c'", optopt);
		chr_usage_error("unknown option '%s'", chr_fmt_shown(sh, sizeof sh, argv[optind - 1]));
	default:
		return c;
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
