/* chr-csv2ev - Tardis.dev CSV (plain or gzip, files or stdin) to chronicle
 * records on stdout. The dataset rules live in common/tardis.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chr.h"
#include "gzin.h"
#include "prog.h"
#include "queue.h"
#include "tardis.h"

#define BUF_SIZE (8u << 20)
#define READ_SIZE (256u << 10)
/* the parser keeps at most one unfinished line of CHR_TARDIS_LINE_MAX bytes */
_Static_assert(CHR_TARDIS_LINE_MAX + READ_SIZE <= BUF_SIZE, "read buffer");

static const char usage_text[] =
	"usage: chr-csv2ev [-t TYPE] [--venue NAME] [--symbols FILE] [--skip-bad]\n"
	"                  [--report FILE] [--progress | --no-progress] [--no-fast-path]\n"
	"                  [--out QUEUE] [FILE...]\n"
	"Convert Tardis.dev CSV files (plain or gzip; stdin when no FILE or '-')\n"
	"into chronicle records on stdout, or appended to a queue.\n"
	"\n";

enum { OPT_VENUE = CHR_O_OWN, OPT_REPORT, OPT_PROGRESS, OPT_NO_PROGRESS, OPT_SKIP_BAD,
       OPT_NO_FAST };

static const struct chr_opt opts[] = {
	{"type", required_argument, 't', "TYPE",
	 "dataset: incremental_book_L2, trades, quotes or\n"
	 "book_snapshot_N (default: from each header line)"},
	{"venue", required_argument, OPT_VENUE, "NAME", "venue name instead of the exchange column"},
	CHR_OPT_SYMBOLS("FILE", "venue and market ids from a symbol map"),
	{"skip-bad", no_argument, OPT_SKIP_BAD, NULL, "count, report and skip bad rows instead of failing"},
	{"report", required_argument, OPT_REPORT, "FILE",
	 "after success, write what was done to FILE (JSON)"},
	{"progress", no_argument, OPT_PROGRESS, NULL, "show progress on stderr (default when a terminal)"},
	{"no-progress", no_argument, OPT_NO_PROGRESS, NULL, "do not show progress"},
	{"no-fast-path", no_argument, OPT_NO_FAST, NULL, "parse every row with libcsv (for testing)"},
	CHR_OPT_OUT("QUEUE", "append to the queue QUEUE (created if missing)"),
	CHR_OPT_END,
};

static struct chr_writer w;
static struct chr_queue_writer q;	/* --out */
static const char *out;
static struct chr_tardis_in tin;
static char *buf;		/* the read buffer */
static uint64_t *bytes;		/* bytes read of each input, for --report */

/* Write what the rows before a failure made, then exit with status. */
static _Noreturn void fail(int status, const char *msg)
{
	if (status == CHR_EX_DATA)
		(void)chr_tardis_in_end(&tin);
	(void)chr_writer_flush(&w);
	if (out)
		chr_queue_writer_close(&q);
	chr_die(status, "%s", msg);
}

int main(int argc, char **argv)
{
	const char *symbols = NULL, *report = NULL, *stdin_only[] = { "-" }, **files;
	int c, progress = -1, nfiles, i, status = CHR_EX_OK;
	struct chr_symmap map = { 0 };
	struct chr_progress pr;
	uint64_t total = 0, done = 0;
	size_t have;
	struct chr_err e;

	chr_prog_start(argv, usage_text, opts);
	if (chr_tardis_in_init(&tin, &w) < 0)
		chr_die(CHR_EX_SYS, "out of memory");
	tin.note = chr_warn_cb;
	while ((c = chr_getopt(argc, argv)) != -1) {
		switch (c) {
		case 't':
			tin.force_type = chr_tardis_type_parse(optarg, &tin.force_n);
			if (tin.force_type == CHR_TARDIS_NONE)
				chr_usage_error("unknown dataset '%s'", optarg);
			break;
		case OPT_VENUE: {
			/* a DEFINE venue field holds the name and its NUL */
			const char *why = chr_name_check(optarg);

			if (why == NULL && strlen(optarg) > CHR_VENUE_MAX - 1)
				why = "name longer than 31 bytes";
			if (why != NULL)
				chr_usage_error("venue '%s': %s", optarg, why);
			tin.venue = optarg;
			break;
		}
		case CHR_O_SYMBOLS:
			symbols = optarg;
			break;
		case OPT_SKIP_BAD:
			tin.skip_bad = 1;
			break;
		case OPT_REPORT:
			report = optarg;
			break;
		case OPT_PROGRESS:
			progress = 1;
			break;
		case OPT_NO_PROGRESS:
			progress = 0;
			break;
		case OPT_NO_FAST:
			tin.fast = 0;
			break;
		case 'o':
			out = optarg;
			break;
		}
	}
	nfiles = argc - optind;
	files = (const char **)argv + optind;
	if (nfiles == 0) {
		files = stdin_only;
		nfiles = 1;
	}
	if (!out)
		chr_refuse_tty(STDOUT_FILENO);
	if (symbols != NULL) {
		/* any failure, an unreadable map too, is bad input here */
		if (chr_symmap_load(&map, symbols, &e) < 0)
			chr_die(CHR_EX_DATA, "%s", e.msg);
		tin.map = &map;
	}
	for (i = 0; i < nfiles; i++) {
		struct stat sb;

		if (strcmp(files[i], "-") != 0 && stat(files[i], &sb) == 0 && S_ISREG(sb.st_mode))
			total += (uint64_t)sb.st_size;
	}
	if (out) {
		struct chr_queue_opts qo = { .flags = CHR_QUEUE_CREATE };

		if (chr_queue_writer_open(&q, out, &qo) < 0)
			chr_die_err(&q.e);
	}
	if ((out ? chr_writer_init_queue(&w, &q, out) :
	     chr_writer_init(&w, STDOUT_FILENO, "stdout", BUF_SIZE)) < 0 ||
	    (buf = malloc(BUF_SIZE + CHR_TARDIS_PAD)) == NULL ||
	    (bytes = calloc((size_t)nfiles, sizeof *bytes)) == NULL)
		chr_die(CHR_EX_SYS, "out of memory");
	chr_progress_init(&pr, progress, total, "rows");

	for (i = 0; i < nfiles; i++) {
		struct chr_gzin g;
		ssize_t k;
		long used;

		if (chr_gzin_open(&g, files[i]) < 0) {
			chr_warn("%s", g.err);
			status = CHR_EX_SYS;
			continue;
		}
		chr_tardis_in_file(&tin, g.name);
		have = 0;
		for (;;) {
			/* small reads keep the text in the cache for the parser;
			 * have <= CHR_TARDIS_LINE_MAX here */
			k = chr_gzin_read(&g, buf + have, READ_SIZE);
			if (k < 0)
				fail(g.status, g.err);
			have += (size_t)k;
			used = chr_tardis_in_parse(&tin, buf, have, k == 0);
			if (used < 0)
				fail(tin.status, tin.err);
			memmove(buf, buf + used, have - (size_t)used);
			have -= (size_t)used;
			if (pr.on)
				chr_progress_print(&pr, tin.rows, done + g.in_bytes, 0);
			if (k == 0)
				break;
		}
		done += g.in_bytes;
		bytes[i] = g.in_bytes;
		chr_gzin_close(&g);
		if (chr_tardis_in_end(&tin) < 0)
			fail(tin.status, tin.err);
	}
	chr_progress_end(&pr, tin.rows, done);
	if (tin.bad > 0)
		chr_warn("skipped %llu bad rows of %llu%s", (unsigned long long)tin.bad,
			 (unsigned long long)tin.rows,
			 tin.bad > tin.report_max ? " (only the first ones are shown)" : "");
	if (chr_writer_close(&w) < 0) {
		if (out)
			chr_die_err(&q.e);
		chr_write_failed(&w);
	}
	if (out)
		chr_queue_writer_close(&q);
	if (report != NULL && status == CHR_EX_OK) {
		char *text = chr_tardis_in_report(&tin, files, bytes, (size_t)nfiles);

		if (text == NULL || chr_publish_file(report, text, strlen(text)) < 0)
			chr_die(CHR_EX_SYS, "cannot write '%s': %s", report,
				strerror(text == NULL ? ENOMEM : errno));
		free(text);
	}
	free(bytes);
	free(buf);
	chr_tardis_in_free(&tin);
	chr_symmap_free(&map);
	return status;
}
