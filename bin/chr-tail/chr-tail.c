/* chr-tail - read records from stdin, stream and segment files, partition
 * directories, queues or the archive, merged by time, select them, and
 * write them as records (to stdout or a queue) or as text, JSON or Tardis
 * CSV. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chr.h"
#include "fmt.h"
#include "queue.h"
#include "source.h"
#include "tardis.h"

static const char usage_text[] =
	"usage: chr-tail [options] [file | dir | queue | -]...\n"
	"       chr-tail [options] --archive root --venue venue --symbol symbol\n"
	"                [--stream stream] [--date date] [--from-snapshot]\n"
	"       chr-tail [options] --archive root --venue venue --stream raw [--date date]\n"
	"\n"
	"options: [--format binary|text|json|csv] [--levels n] [--from when]\n"
	"         [--until when] [--type type[,type...]]... [--limit n]\n"
	"         [--follow] [--from-end | --from-seq n] [--reader name]\n"
	"         [--out queue] [-h | --help] [--version]\n"
	"\n"
	"  several inputs are merged by ts (ties in argument order)\n"
	"  --from when      first record: a time (2024-08-08T10:00:00Z, a date,\n"
	"                   or ns since the epoch) or seq:N; inclusive\n"
	"  --until when     end of the range, exclusive: records before it\n"
	"  --type list      only these record types (repeatable; 'book' is\n"
	"                   BOOK_SNAPSHOT, BOOK_DIFF and GAP)\n"
	"  --limit n        stop after n selected records, not counting DEFINE\n"
	"                   records\n"
	"  --format fmt     binary records (the default when stdout is not a\n"
	"                   terminal), text (on a terminal), json, csv\n"
	"  --levels n       text: book levels shown per side (default 5, 0 all)\n"
	"  -f, --follow     at the end of a queue, wait for more (until SIGINT\n"
	"                   or SIGTERM)\n"
	"  --from-end       queues: start after their last record\n"
	"  --from-seq n     queues: start at seq n (found by the index)\n"
	"  --reader name    read one queue as the named reader: start at its\n"
	"                   committed position, commit after output is written\n"
	"  --out queue      append the records to a queue (created if missing)\n"
	"  --archive root   read the archive: --venue, --symbol, --stream\n"
	"                   (default: the stream of --type, else book) and\n"
	"                   --date (default: every date, in order), in every\n"
	"                   tier (manifest.db, else root/chr-tier.conf); --stream\n"
	"                   raw reads the venue's raw partitions\n"
	"  --from-snapshot  --archive with --from TIME: start at the last snapshot\n"
	"                   at or before TIME (found by the compressed segments'\n"
	"                   seek tables), so that a book replayed from there is\n"
	"                   the book at TIME\n";

enum fmt { FMT_AUTO, FMT_BINARY, FMT_TEXT, FMT_JSON, FMT_CSV };

enum {
	OPT_VERSION = 256, OPT_FORMAT, OPT_LEVELS, OPT_FROM, OPT_UNTIL, OPT_TYPE,
	OPT_LIMIT, OPT_ARCHIVE, OPT_VENUE, OPT_SYMBOL, OPT_STREAM, OPT_DATE,
	OPT_FROM_END, OPT_FROM_SEQ, OPT_READER, OPT_OUT, OPT_FROM_SNAPSHOT,
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
	{"follow", no_argument, NULL, 'f'},
	{"from-end", no_argument, NULL, OPT_FROM_END},
	{"from-snapshot", no_argument, NULL, OPT_FROM_SNAPSHOT},
	{"from-seq", required_argument, NULL, OPT_FROM_SEQ},
	{"reader", required_argument, NULL, OPT_READER},
	{"out", required_argument, NULL, OPT_OUT},
	{NULL, 0, NULL, 0},
};

/* an option's value for a message: control and non-ASCII bytes escaped
 * (chr_fmt_shown), cut to fit buf */
#define SHOWN(buf, s) chr_fmt_shown(buf, sizeof buf, s)

static uint64_t parse_count(const char *opt, const char *s)
{
	char *end, sh[256];
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno)
		chr_usage_error("%s '%s' is not a count", opt, SHOWN(sh, s));
	return v;
}

/* --from/--until: a time, or seq:N */
static void parse_when(const char *opt, const char *s, int64_t *ts, uint64_t *seq)
{
	char sh[256];

	if (strncmp(s, "seq:", 4) == 0)
		*seq = parse_count(opt, s + 4);
	else if (chr_time_parse(s, ts) < 0)
		chr_usage_error("%s '%s' is neither a time nor seq:N", opt, SHOWN(sh, s));
}

static void check_name(const char *opt, const char *s)
{
	const char *bad = chr_name_check(s);
	char sh[256];

	if (bad)
		chr_usage_error("%s '%s': %s", opt, SHOWN(sh, s), bad);
}

/* ---- the DEFINE records to pass on --------------------------------------- */

/* Binary output is a stream of its own: the DEFINE of an instrument must
 * precede its first record there, also when --type leaves DEFINE records
 * out. The latest DEFINE of each instrument is kept, and goes out just
 * before the instrument's next selected record unless it went out already. */
struct def {
	uint64_t key;		/* venue << 32 | market; 0: an empty slot */
	struct chr_rec *rec;	/* a copy of the latest DEFINE read */
	int sent;		/* rec (or one with its payload) went out */
};

struct defs {
	struct def *v;
	size_t n, cap;		/* cap: 0 or a power of two */
};

static struct def *def_find(const struct defs *d, uint64_t key)
{
	uint64_t h = (key ^ key >> 29) * 0x9e3779b97f4a7c15u;
	size_t i;

	if (d->cap == 0)
		return NULL;
	for (i = (size_t)(h >> 17) & (d->cap - 1); d->v[i].key != 0; i = (i + 1) & (d->cap - 1))
		if (d->v[i].key == key)
			return &d->v[i];
	return &d->v[i];
}

static uint64_t def_key(const struct chr_rec *rec)
{
	return (uint64_t)rec->venue << 32 | rec->market;
}

/* Keep DEFINE rec of its instrument; sent: it goes out now. A DEFINE
 * that repeats the payload of the one that went out changes nothing. */
static void def_note(struct defs *d, const struct chr_rec *rec, int sent)
{
	uint64_t key = def_key(rec);
	size_t span = chr_rec_span(rec->len);
	struct def *e;

	if (key == 0)
		return;
	if ((d->n + 1) * 2 > d->cap) {
		struct defs nd = {NULL, d->n, d->cap ? 2 * d->cap : 64};

		nd.v = calloc(nd.cap, sizeof *nd.v);
		if (nd.v == NULL)
			chr_die(CHR_EX_SYS, "out of memory");
		for (size_t i = 0; i < d->cap; i++)
			if (d->v[i].key != 0)
				*def_find(&nd, d->v[i].key) = d->v[i];
		free(d->v);
		*d = nd;
	}
	e = def_find(d, key);
	if (e->key != 0 && e->sent && !sent && e->rec->len == rec->len &&
	    memcmp(chr_rec_payload(e->rec), chr_rec_payload(rec), chr_rec_payload_len(rec)) == 0)
		return;
	if (e->key == 0) {
		d->n++;
		e->key = key;
	}
	free(e->rec);
	e->rec = aligned_alloc(64, span);
	if (e->rec == NULL)
		chr_die(CHR_EX_SYS, "out of memory");
	memcpy(e->rec, rec, span);
	e->sent = sent;
}

/* The DEFINE that must go out before rec, a selected record, or NULL;
 * it counts as sent from now on. */
static const struct chr_rec *def_due(struct defs *d, const struct chr_rec *rec)
{
	struct def *e = def_key(rec) ? def_find(d, def_key(rec)) : NULL;

	if (e == NULL || e->key == 0 || e->sent)
		return NULL;
	e->sent = 1;
	return e->rec;
}

static void defs_free(struct defs *d)
{
	for (size_t i = 0; i < d->cap; i++)
		free(d->v[i].rec);
	free(d->v);
}

/* ---- several inputs, merged by ts --------------------------------------- */

enum { HEAD_NEED, HEAD_HAVE, HEAD_DONE };

struct inputs {
	struct chr_source *s;
	const struct chr_rec **head;
	int *state;
	size_t n;
	size_t failed;		/* after -1: which one */
};

/* The next record of the inputs: the head with the smallest ts (ties: the
 * first input). Following queues, a record goes out as soon as it is the
 * earliest of the heads there are. Returns as chr_source_next. */
static int inputs_next(struct inputs *in, const struct chr_rec **rec)
{
	size_t best = SIZE_MAX;
	int idle = 0;

	if (in->n == 1)
		return chr_source_next(&in->s[0], rec);
	for (size_t i = 0; i < in->n; i++) {
		if (in->state[i] == HEAD_NEED) {
			int k = chr_source_next(&in->s[i], &in->head[i]);

			if (k < 0) {
				in->failed = i;
				return -1;
			}
			if (k == 2)
				idle = 1;
			else
				in->state[i] = k ? HEAD_HAVE : HEAD_DONE;
		}
		if (in->state[i] == HEAD_HAVE &&
		    (best == SIZE_MAX || in->head[i]->ts < in->head[best]->ts))
			best = i;
	}
	if (best == SIZE_MAX)
		return idle ? 2 : 0;
	in->state[best] = HEAD_NEED;
	*rec = in->head[best];
	return 1;
}

static int inputs_may_block(const struct inputs *in)
{
	for (size_t i = 0; i < in->n; i++)
		if ((in->n == 1 || in->state[i] == HEAD_NEED) && chr_source_may_block(&in->s[i]))
			return 1;
	return 0;
}

/* Following: wait for the first idle queue (a short wait when there are
 * several, so that each is looked at). */
static void inputs_wait(struct inputs *in)
{
	for (size_t i = 0; i < in->n; i++)
		if (in->n == 1 || in->state[i] == HEAD_NEED) {
			chr_source_wait(&in->s[i], in->n == 1 ? 1000 : 10);
			return;
		}
}

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static struct chr_queue_writer *outq;	/* --out */

static void write_failed(int err)
{
	if (outq)
		chr_die(outq->status, "%s", outq->err);
	/* the reader went away (SIGPIPE ignored): end quietly, as on SIGPIPE */
	if (err == EPIPE)
		exit(CHR_EX_OK);
	chr_die(CHR_EX_SYS, "cannot write to standard output: %s", strerror(err));
}

int main(int argc, char **argv)
{
	struct chr_select sel;
	struct inputs in = {0};
	struct chr_writer w;
	struct chr_queue_writer qw;
	struct chr_queue_pos pos;
	const char *reader = NULL, *out = NULL;
	int follow = 0, from_end = 0, from_snapshot = 0;
	uint64_t from_seq = UINT64_MAX, next_seq = 0, done_seq = 0;
	struct chr_fmt fmt;
	struct chr_tardis_out csv;
	struct defs defs = {NULL, 0, 0};
	const char *archive = NULL, *venue = NULL, *symbol = NULL, *stream = NULL;
	const char *date = NULL, *bad;
	char sh[256];
	const struct chr_rec *rec;
	enum fmt format = FMT_AUTO;
	uint64_t limit = UINT64_MAX, written = 0, levels = CHR_FMT_LEVELS, no_csv = 0;
	int c, k;

	chr_setprog(argv[0]);
	chr_select_init(&sel);
	while ((c = getopt_long(argc, argv, "hf", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			follow = 1;
			break;
		case OPT_FROM_SNAPSHOT:
			from_snapshot = 1;
			break;
		case OPT_FROM_END:
			from_end = 1;
			break;
		case OPT_FROM_SEQ:
			from_seq = parse_count("--from-seq", optarg);
			break;
		case OPT_READER:
			check_name("--reader", reader = optarg);
			break;
		case OPT_OUT:
			out = optarg;
			break;
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
				chr_usage_error("unknown format '%s' (binary, text, json, csv)",
						SHOWN(sh, optarg));
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
			if (chr_select_types(&sel, optarg, &bad) < 0) {
				char name[64];

				snprintf(name, sizeof name, "%.*s", (int)strcspn(bad, ","), bad);
				chr_usage_error("--type '%s' is not a record type", SHOWN(sh, name));
			}
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
			    strcmp(stream, "quote") && strcmp(stream, "topn") && strcmp(stream, "raw"))
				chr_usage_error("unknown stream '%s' (book, trade, quote, topn, raw)",
						SHOWN(sh, stream));
			break;
		case OPT_DATE: {
			int64_t day;
			char buf[16];

			date = optarg;
			if (chr_time_parse(date, &day) < 0 || (chr_date_format(buf, day),
							       strcmp(buf, date) != 0))
				chr_usage_error("--date '%s' is not a date YYYY-MM-DD",
						SHOWN(sh, date));
			break;
		}
		default:
			chr_usage_error("unknown option");
		}
	}
	if (archive) {
		if (optind < argc)
			chr_usage_error("--archive reads no file arguments");
		if (stream && strcmp(stream, "raw") == 0 ? venue == NULL || symbol != NULL
							     : venue == NULL || symbol == NULL)
			chr_usage_error("--archive needs --venue and --symbol (--stream raw: --venue alone)");
		if (stream == NULL)
			stream = chr_select_stream(&sel);
		if (stream == NULL)
			stream = "book";
	} else if (venue || symbol || stream || date) {
		chr_usage_error("--venue, --symbol, --stream and --date need --archive");
	}
	if (from_snapshot && (!archive || sel.ts_from == INT64_MIN))
		chr_usage_error("--from-snapshot needs --archive and --from TIME");
	if (from_end && from_seq != UINT64_MAX)
		chr_usage_error("--from-end and --from-seq exclude each other");
	if (reader && (archive || argc - optind != 1))
		chr_usage_error("--reader reads exactly one queue");
	if (out && format != FMT_AUTO && format != FMT_BINARY)
		chr_usage_error("--out writes records: no --format");
	if (format == FMT_AUTO)
		format = out || !isatty(STDOUT_FILENO) ? FMT_BINARY : FMT_TEXT;
	if (format == FMT_BINARY && !out)
		chr_refuse_tty(STDOUT_FILENO);

	in.n = archive || optind == argc ? 1 : (size_t)(argc - optind);
	in.s = calloc(in.n, sizeof *in.s);
	in.head = calloc(in.n, sizeof *in.head);
	in.state = calloc(in.n, sizeof *in.state);
	if (!in.s || !in.head || !in.state)
		chr_die(CHR_EX_SYS, "out of memory");
	for (size_t i = 0; i < in.n; i++) {
		struct chr_source *src = &in.s[i];

		chr_source_init(src, &sel);
		src->follow = follow;
		src->from_end = from_end;
		src->from_seq = from_seq;
		src->from_snapshot = from_snapshot;
		if (archive)
			k = chr_source_add_archive(src, archive, venue, symbol, stream, date);
		else if (optind == argc)
			k = chr_source_add_fd(src, STDIN_FILENO, "stdin");
		else
			k = chr_source_add_path(src, argv[optind + (int)i]);
		if (k < 0)
			chr_die(src->status, "%s", src->err);
	}
	if (from_snapshot)
		sel.ts_from = INT64_MIN;	/* every record from the snapshot on */
	if (reader) {
		if (in.s[0].n != 1 || in.s[0].in[0].kind != CHR_IN_QUEUE)
			chr_usage_error("--reader needs a queue, not '%s'", SHOWN(sh, argv[optind]));
		if (chr_queue_pos_open(&pos, argv[optind], reader, 0) < 0)
			chr_die(pos.status, "%s", pos.err);
		if (!from_end && from_seq == UINT64_MAX && sel.ts_from == INT64_MIN) {
			in.s[0].from_seq = pos.seq;
			in.s[0].exact = 1;
		}
		next_seq = done_seq = pos.seq;
	}
	if (follow) {
		struct sigaction sa = { .sa_handler = on_stop };

		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}

	if (out) {
		struct chr_queue_opts qo = { .flags = CHR_QUEUE_CREATE };

		if (chr_queue_writer_open(&qw, out, &qo) < 0)
			chr_die(qw.status, "%s", qw.err);
		if (chr_writer_init_queue(&w, &qw, out) < 0)
			chr_die(CHR_EX_SYS, "out of memory");
		outq = &qw;
	} else if (format == FMT_BINARY) {
		if (chr_writer_init(&w, STDOUT_FILENO, "stdout", 0) < 0)
			chr_die(CHR_EX_SYS, "out of memory");
	} else if (format == FMT_CSV) {
		chr_tardis_out_init(&csv);
	} else {
		chr_fmt_init(&fmt, stdout, format == FMT_JSON ? CHR_FMT_JSON : CHR_FMT_TEXT);
		fmt.levels = (unsigned)levels;
	}

	while (written < limit && !stop) {
		/* a named reader also commits every 64K records of a backlog */
		if (inputs_may_block(&in) || (reader && next_seq - done_seq >= 65536)) {
			if (format == FMT_BINARY ? chr_writer_flush(&w) < 0 : fflush(stdout) != 0)
				write_failed(format == FMT_BINARY ? w.err : errno);
			if (reader && next_seq != done_seq) {
				if (chr_queue_pos_commit(&pos, next_seq) < 0)
					chr_die(pos.status, "%s", pos.err);
				done_seq = next_seq;
			}
		}
		k = inputs_next(&in, &rec);
		if (k == 2) {
			inputs_wait(&in);
			if (reader && chr_queue_pos_beat(&pos) < 0)
				chr_die(pos.status, "%s", pos.err);
			continue;
		}
		if (k <= 0)
			break;
		/* a DEFINE may come from behind the start (a seek passes them
		 * on): it does not move the position, and comes again */
		if (rec->type != CHR_DEFINE)
			next_seq = rec->seq + 1;
		if ((format == FMT_TEXT || format == FMT_JSON) && chr_fmt_learn(&fmt, rec) < 0)
			chr_die(CHR_EX_SYS, "out of memory");
		if (!chr_select_match(&sel, rec)) {
			/* the CSV writer learns names from DEFINE records too;
			 * binary output passes them on when they are due */
			if (format == FMT_CSV && rec->type == CHR_DEFINE &&
			    chr_tardis_write(&csv, rec, stdout) == -1)
				write_failed(errno ? errno : ENOMEM);
			if (format == FMT_BINARY && rec->type == CHR_DEFINE)
				def_note(&defs, rec, 0);
			continue;
		}
		if (format == FMT_BINARY) {
			const struct chr_rec *def;

			if (rec->type == CHR_DEFINE)
				def_note(&defs, rec, 1);
			else if ((def = def_due(&defs, rec)) != NULL && chr_writer_put(&w, def) < 0)
				write_failed(w.err);	/* not counted by --limit */
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
		if (rec->type != CHR_DEFINE)
			written++;
	}

	/* what was read before an error is good: write it, then report */
	if (format == FMT_BINARY) {
		if (chr_writer_close(&w) < 0)
			write_failed(w.err);
		defs_free(&defs);
		if (out)
			chr_queue_writer_close(&qw);
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
	if (reader) {
		if (next_seq != done_seq && chr_queue_pos_commit(&pos, next_seq) < 0)
			chr_die(pos.status, "%s", pos.err);
		chr_queue_pos_close(&pos);
	}
	if (k < 0)
		chr_die(in.s[in.failed].status, "%s", in.s[in.failed].err);
	for (size_t i = 0; i < in.n; i++)
		chr_source_free(&in.s[i]);
	free(in.s);
	free(in.head);
	free(in.state);
	if (format != FMT_BINARY)
		chr_close_stdout();
	return CHR_EX_OK;
}
