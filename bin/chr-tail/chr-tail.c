/* chr-tail - read records from stdin, stream and segment files, partition
 * directories or the archive, select them, and write them as records or
 * as text, JSON or Tardis CSV. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chr.h"
#include "fmt.h"
#include "source.h"
#include "tardis.h"

static const char usage_text[] =
	"usage: chr-tail [options] [file | dir | -]...\n"
	"       chr-tail [options] --archive root --venue venue --symbol symbol\n"
	"                [--stream stream] [--date date]\n"
	"\n"
	"options: [--format binary|text|json|csv] [--levels n] [--from when]\n"
	"         [--until when] [--type type[,type...]]... [--limit n]\n"
	"         [-h | --help] [--version]\n"
	"\n"
	"  --from when      first record: a time (2024-08-08T10:00:00Z, a date,\n"
	"                   or ns since the epoch) or seq:N; inclusive\n"
	"  --until when     end of the range, exclusive: records before it\n"
	"  --type list      only these record types (repeatable; 'book' is\n"
	"                   BOOK_SNAPSHOT, BOOK_DIFF and GAP)\n"
	"  --limit n        stop after n records written\n"
	"  --format fmt     binary records (the default when stdout is not a\n"
	"                   terminal), text (on a terminal), json, csv\n"
	"  --levels n       text: book levels shown per side (default 5, 0 all)\n"
	"  --archive root   read the archive: --venue, --symbol, --stream\n"
	"                   (default: the stream of --type, else book) and\n"
	"                   --date (default: every date, in order)\n";

enum fmt { FMT_AUTO, FMT_BINARY, FMT_TEXT, FMT_JSON, FMT_CSV };

enum {
	OPT_VERSION = 256, OPT_FORMAT, OPT_LEVELS, OPT_FROM, OPT_UNTIL, OPT_TYPE,
	OPT_LIMIT, OPT_ARCHIVE, OPT_VENUE, OPT_SYMBOL, OPT_STREAM, OPT_DATE,
};

static const struct option longopts[] = {
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"levels", required_argument, NULL, OPT_LEVELS},
	{"from", required_argument, NULL, OPT_FROM},
	{"until", required_argument, NULL, OPT_UNTIL},
	{"type", required_argument, NULL, OPT_TYPE},
	{"limit", required_argument, NULL, OPT_LIMIT},
	{"archive", required_argument, NULL, OPT_ARCHIVE},
	{"venue", required_argument, NULL, OPT_VENUE},
	{"symbol", required_argument, NULL, OPT_SYMBOL},
	{"stream", required_argument, NULL, OPT_STREAM},
	{"date", required_argument, NULL, OPT_DATE},
	{NULL, 0, NULL, 0},
};

static uint64_t parse_count(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno)
		chr_usage_error("%s '%s' is not a count", opt, s);
	return v;
}

/* --from/--until: a time, or seq:N */
static void parse_when(const char *opt, const char *s, int64_t *ts, uint64_t *seq)
{
	if (strncmp(s, "seq:", 4) == 0)
		*seq = parse_count(opt, s + 4);
	else if (chr_time_parse(s, ts) < 0)
		chr_usage_error("%s '%s' is neither a time nor seq:N", opt, s);
}

static void check_name(const char *opt, const char *s)
{
	const char *bad = chr_name_check(s);

	if (bad)
		chr_usage_error("%s '%s': %s", opt, s, bad);
}

static void write_failed(int err)
{
	/* the reader went away (SIGPIPE ignored): end quietly, as on SIGPIPE */
	if (err == EPIPE)
		exit(CHR_EX_OK);
	chr_die(CHR_EX_SYS, "cannot write to standard output: %s", strerror(err));
}

int main(int argc, char **argv)
{
	struct chr_select sel;
	struct chr_source src;
	struct chr_writer w;
	struct chr_fmt fmt;
	struct chr_tardis_out csv;
	const char *archive = NULL, *venue = NULL, *symbol = NULL, *stream = NULL;
	const char *date = NULL, *bad;
	const struct chr_rec *rec;
	enum fmt format = FMT_AUTO;
	uint64_t limit = UINT64_MAX, written = 0, levels = CHR_FMT_LEVELS, no_csv = 0;
	int c, k;

	chr_setprog(argv[0]);
	chr_select_init(&sel);
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			chr_close_stdout();
			return CHR_EX_OK;
		case OPT_VERSION:
			printf("chr-tail %s\n", CHR_VERSION_STRING);
			chr_close_stdout();
			return CHR_EX_OK;
		case OPT_FORMAT:
			if (strcmp(optarg, "binary") == 0)
				format = FMT_BINARY;
			else if (strcmp(optarg, "text") == 0)
				format = FMT_TEXT;
			else if (strcmp(optarg, "json") == 0)
				format = FMT_JSON;
			else if (strcmp(optarg, "csv") == 0)
				format = FMT_CSV;
			else
				chr_usage_error("unknown format '%s' (binary, text, json, csv)", optarg);
			break;
		case OPT_LEVELS:
			levels = parse_count("--levels", optarg);
			if (levels > UINT32_MAX)
				levels = 0;
			break;
		case OPT_FROM:
			parse_when("--from", optarg, &sel.ts_from, &sel.seq_from);
			break;
		case OPT_UNTIL:
			parse_when("--until", optarg, &sel.ts_until, &sel.seq_until);
			break;
		case OPT_TYPE:
			if (chr_select_types(&sel, optarg, &bad) < 0)
				chr_usage_error("--type '%.*s' is not a record type",
						(int)strcspn(bad, ","), bad);
			break;
		case OPT_LIMIT:
			limit = parse_count("--limit", optarg);
			break;
		case OPT_ARCHIVE:
			archive = optarg;
			break;
		case OPT_VENUE:
			check_name("--venue", venue = optarg);
			break;
		case OPT_SYMBOL:
			check_name("--symbol", symbol = optarg);
			break;
		case OPT_STREAM:
			stream = optarg;
			if (strcmp(stream, "book") && strcmp(stream, "trade") &&
			    strcmp(stream, "quote") && strcmp(stream, "topn"))
				chr_usage_error("unknown stream '%s' (book, trade, quote, topn)",
						stream);
			break;
		case OPT_DATE: {
			int64_t day;
			char buf[16];

			date = optarg;
			if (chr_time_parse(date, &day) < 0 || (chr_date_format(buf, day),
							       strcmp(buf, date) != 0))
				chr_usage_error("--date '%s' is not a date YYYY-MM-DD", date);
			break;
		}
		default:
			chr_usage_error("unknown option");
		}
	}
	if (archive) {
		if (optind < argc)
			chr_usage_error("--archive reads no file arguments");
		if (venue == NULL || symbol == NULL)
			chr_usage_error("--archive needs --venue and --symbol");
		if (stream == NULL)
			stream = chr_select_stream(&sel);
		if (stream == NULL)
			stream = "book";
	} else if (venue || symbol || stream || date) {
		chr_usage_error("--venue, --symbol, --stream and --date need --archive");
	}
	if (format == FMT_AUTO)
		format = isatty(STDOUT_FILENO) ? FMT_TEXT : FMT_BINARY;
	if (format == FMT_BINARY)
		chr_refuse_tty(STDOUT_FILENO);

	chr_source_init(&src, &sel);
	if (archive)
		k = chr_source_add_archive(&src, archive, venue, symbol, stream, date);
	else if (optind == argc)
		k = chr_source_add_fd(&src, STDIN_FILENO, "stdin");
	else
		for (k = 0; k == 0 && optind < argc; optind++)
			k = chr_source_add_path(&src, argv[optind]);
	if (k < 0)
		chr_die(src.status, "%s", src.err);

	if (format == FMT_BINARY) {
		if (chr_writer_init(&w, STDOUT_FILENO, "stdout", 0) < 0)
			chr_die(CHR_EX_SYS, "out of memory");
	} else if (format == FMT_CSV) {
		chr_tardis_out_init(&csv);
	} else {
		chr_fmt_init(&fmt, stdout, format == FMT_JSON ? CHR_FMT_JSON : CHR_FMT_TEXT);
		fmt.levels = (unsigned)levels;
	}

	while (written < limit) {
		if (chr_source_may_block(&src)) {
			if (format == FMT_BINARY ? chr_writer_flush(&w) < 0 : fflush(stdout) != 0)
				write_failed(format == FMT_BINARY ? w.err : errno);
		}
		k = chr_source_next(&src, &rec);
		if (k <= 0)
			break;
		if ((format == FMT_TEXT || format == FMT_JSON) && chr_fmt_learn(&fmt, rec) < 0)
			chr_die(CHR_EX_SYS, "out of memory");
		if (!chr_select_match(&sel, rec)) {
			/* the CSV writer learns names from DEFINE records too */
			if (format == FMT_CSV && rec->type == CHR_DEFINE &&
			    chr_tardis_write(&csv, rec, stdout) == -1)
				write_failed(errno ? errno : ENOMEM);
			continue;
		}
		if (format == FMT_BINARY) {
			if (chr_writer_put(&w, rec) < 0)
				write_failed(w.err);
		} else if (format == FMT_CSV) {
			int rows;

			errno = 0;
			rows = chr_tardis_write(&csv, rec, stdout);
			if (rows == -1)
				write_failed(errno ? errno : ENOMEM);
			if (rows == CHR_TARDIS_SKIPPED)
				no_csv++;
		} else {
			errno = 0;
			if (chr_fmt_rec(&fmt, rec) < 0)
				write_failed(errno ? errno : ENOMEM);
		}
		written++;
	}

	/* what was read before an error is good: write it, then report */
	if (format == FMT_BINARY) {
		if (chr_writer_close(&w) < 0)
			write_failed(w.err);
	} else {
		if (format == FMT_CSV)
			chr_tardis_out_free(&csv);
		else
			chr_fmt_free(&fmt);
		if (fflush(stdout) != 0)
			write_failed(errno);
	}
	if (no_csv)
		chr_warn("%" PRIu64 " record%s with no Tardis CSV form (GAP, HEARTBEAT, ...) "
			 "not written", no_csv, no_csv == 1 ? "" : "s");
	if (k < 0)
		chr_die(src.status, "%s", src.err);
	chr_source_free(&src);
	if (format != FMT_BINARY)
		chr_close_stdout();
	return CHR_EX_OK;
}
