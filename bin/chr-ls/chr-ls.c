/* chr-ls - list what an archive holds: a line per partition (venue,
 * symbol, date, stream, tier, segments, records, bytes, compression, first
 * and last ts) across the tiers, from manifest.db or the files (catalog.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "chr.h"
#include "fmt.h"
#include "prog.h"

static const char usage_text[] =
	"usage: chr-ls [--venue glob]... [--symbol glob]... [--format text|json|csv]\n"
	"              [-q] [-v] root\n"
	"       chr-ls -h | --help | -V | --version\n"
	"\n"
	"  one line per partition of the archive at root, its raw partitions\n"
	"  (symbol '-', stream raw) included, in every tier\n"
	"\n";

enum { OPT_VENUE = CHR_O_OWN, OPT_SYMBOL };

static const struct chr_opt opts[] = {
	{"venue", required_argument, OPT_VENUE, "glob",
	 "only partitions of venues that match (fnmatch;\nrepeatable: any of them)"},
	{"symbol", required_argument, OPT_SYMBOL, "glob",
	 "only instruments whose symbol matches (repeatable);\nraw partitions have none"},
	{"format", required_argument, CHR_O_FORMAT, "fmt",
	 "text (columns for people, the default), json (an\nobject per line), csv (a header, then rows)"},
	CHR_OPT_QUIET("no warnings about partitions that cannot be read"),
	CHR_OPT_VERBOSE("say where the listing came from"),
	CHR_OPT_END,
};

/* a glob option's value, kept */
static void push(char ***v, size_t *n, char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof **v);

	if (nv == NULL)
		chr_die(CHR_EX_SYS, "out of memory");
	nv[(*n)++] = s;
	*v = nv;
}

static void warn_unless_quiet(void *ctx, const char *msg)
{
	(void)ctx;
	if (!chr_quiet)
		chr_warn("%s", msg);
}

int main(int argc, char **argv)
{
	struct chr_catalog c;
	struct chr_err e;
	char **venues = NULL, **symbols = NULL, sh[256];
	size_t nv = 0, ns = 0;
	int ch, format = CHR_CATALOG_TEXT;

	chr_prog_start(argv, usage_text, opts);
	while ((ch = chr_getopt(argc, argv)) != -1) {
		switch (ch) {
		case OPT_VENUE:
			push(&venues, &nv, optarg);
			break;
		case OPT_SYMBOL:
			push(&symbols, &ns, optarg);
			break;
		case CHR_O_FORMAT:
			if (strcmp(optarg, "text") == 0)
				format = CHR_CATALOG_TEXT;
			else if (strcmp(optarg, "json") == 0)
				format = CHR_CATALOG_JSON;
			else if (strcmp(optarg, "csv") == 0)
				format = CHR_CATALOG_CSV;
			else
				chr_usage_error("unknown format '%s' (text, json, csv)", CHR_SHOWN(sh, optarg));
			break;
		}
	}
	if (optind == argc)
		chr_usage_error("no archive root given");
	if (argc - optind > 1)
		chr_usage_error("one archive root only ('%s' is another)", CHR_SHOWN(sh, argv[optind + 1]));

	if (chr_catalog_load(&c, argv[optind], 0, warn_unless_quiet, NULL, &e) < 0)
		chr_die_err(&e);
	if (chr_catalog_filter(&c, venues, nv, symbols, ns, &e) < 0)
		chr_die_err(&e);
	if (chr_catalog_print(&c, stdout, format) < 0)
		chr_die(CHR_EX_SYS, "cannot write to standard output: %s", strerror(errno));
	chr_close_stdout();
	if (chr_verbose)
		chr_warn("%zu partition%s; %s", c.n, c.n == 1 ? "" : "s",
			 c.manifest ? "the tiers after hot from manifest.db, the hot tier from its files"
				    : "from the files of every tier");
	if (c.skipped)
		chr_die(CHR_EX_DATA, "%zu partition%s could not be read (%s)", c.skipped,
			c.skipped == 1 ? "" : "s", chr_quiet ? "--quiet hid why" : "above");
	chr_catalog_free(&c);
	free(venues);
	free(symbols);
	return CHR_EX_OK;
}
