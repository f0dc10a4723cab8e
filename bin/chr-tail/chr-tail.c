/* chr-tail - read records from stdin, stream and segment files, partition
 * directories, queues or the archive, merged by time, select them, and
 * write them as records (to stdout or a queue) or as text, JSON or Tardis
 * CSV. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chr.h"
#include "keyed.h"
#include "link.h"
#include "fmt.h"
#include "merge.h"
#include "num.h"
#include "out.h"
#include "pace.h"
#include "prog.h"
#include "queue.h"
#include "s3.h"
#include "source.h"

static const char usage_text[] =
	"usage: chr-tail [options] [file | dir | queue | -]...\n"
	"       chr-tail [options] --archive root --venue venue --symbol symbol...\n"
	"                [--stream stream] [--date date] [--from-snapshot]\n"
	"       chr-tail [options] --archive root --venue venue --stream raw\n"
	"                [--symbol symbol]... [--date date] [--from-snapshot]\n"
	"\n"
	"options: [--format binary|text|json|csv|parquet|arrow] [--defines]\n"
	"         [--levels n] [--from when] [--until when] [--type type[,type...]]...\n"
	"         [--limit n] [--follow] [--spin-us n] [--from-end | --from-seq n]\n"
	"         [--reader name [--acks file [--link-timeout d]]] [--from-reader name]\n"
	"         [--restamp] [-o queue | file] [--out-dir dir] [--pace speed] [-v]\n"
	"         [-h | --help] [-V | --version]\n"
	"\n"
	"  several inputs are merged by ts (ties in argument order)\n"
	"\n";

enum {
	OPT_LEVELS = CHR_O_OWN, OPT_FROM, OPT_UNTIL, OPT_LIMIT, OPT_ARCHIVE, OPT_VENUE,
	OPT_SYMBOL, OPT_STREAM, OPT_DATE, OPT_FROM_END, OPT_FROM_SEQ, OPT_FROM_SNAPSHOT,
	OPT_DEFINES, OPT_FROM_READER, OPT_RESTAMP, OPT_SPIN_US, OPT_PACE, OPT_OUT_DIR,
	OPT_ACKS, OPT_LINK_TIMEOUT,
};

static const struct chr_opt opts[] = {
	{"from", required_argument, OPT_FROM, "when",
	 "first record: a time (2024-08-08T10:00:00Z, +02:00,\n"
	 "a date, 1723111200s, ms, us, ns, or 10/13/16/19\n"
	 "digits for s/ms/us/ns) or seq:N; inclusive"},
	{"until", required_argument, OPT_UNTIL, "when",
	 "end of the range, exclusive: records before it"},
	CHR_OPT_TYPE("only these record types (repeatable; 'book' is\nBOOK_SNAPSHOT, BOOK_DIFF and GAP)"),
	{"limit", required_argument, OPT_LIMIT, "n",
	 "stop after n selected records, not counting DEFINE\nrecords"},
	CHR_OPT_FORMAT,
	{"defines", no_argument, OPT_DEFINES, NULL,
	 "json: write the DEFINE records too (without it, or\n"
	 "--type define, their names are only in every line)"},
	{"levels", required_argument, OPT_LEVELS, "n",
	 "text: book levels shown per side (default 5, 0 all)"},
	CHR_OPT_FOLLOW("at the end of a queue, wait for more (until SIGINT\nor SIGTERM)"),
	{"spin-us", required_argument, OPT_SPIN_US, "n",
	 "--follow: at the end of a queue, spin n us (0 to\n"
	 "1000000) before sleeping until the writer wakes us\n"
	 "(default 0: a spinning reader takes a core of its own)"},
	{"from-end", no_argument, OPT_FROM_END, NULL, "queues: start after their last record"},
	{"from-seq", required_argument, OPT_FROM_SEQ, "n",
	 "queues: start at seq n (found by the index)"},
	CHR_OPT_READER("name", "read one queue as the named reader: start at its\n"
		       "committed position, commit after output is written"),
	{"acks", required_argument, OPT_ACKS, "file",
	 "--reader --follow, replicating: commit only the seqs\n"
	 "file ('-': stdin) acknowledges, one a line; send a\n"
	 "link heartbeat each second when idle"},
	{"link-timeout", required_argument, OPT_LINK_TIMEOUT, "d",
	 "--acks: exit 3 when none comes for d (default 10s)"},
	{"from-reader", required_argument, OPT_FROM_READER, "name",
	 "read one queue from the committed position of its\n"
	 "named reader name, without taking the reader; a GAP\n"
	 "record of no instrument first if retention removed\n"
	 "records from there"},
	{"restamp", no_argument, OPT_RESTAMP, NULL,
	 "set each record's src_seq to its seq (for a consumer\n"
	 "keyed by positions in the queue read: the refinery)"},
	CHR_OPT_OUT("queue | file", "append the records to a queue (created if\n"
		    "missing); --format parquet or arrow: write the file"),
	{"out-dir", required_argument, OPT_OUT_DIR, "dir", "--format parquet: a file per type,\n"
	 "venue, symbol and date under dir (type=T/venue=V/\nsymbol=S/date=D/part-0.parquet)"},
	{"pace", required_argument, OPT_PACE, "speed",
	 "write each record when its ts is due, speed times\n"
	 "as fast as recorded (1, 10, 0.5); report lateness"},
	{"archive", required_argument, OPT_ARCHIVE, "root",
	 "read the archive: --venue, --symbol, --stream\n"
	 "(default: the stream of --type, else book) and\n"
	 "--date (default: every date, in order), in every\n"
	 "tier (manifest.db, else root/chr-tier.conf); --stream\n"
	 "raw reads the venue's raw partitions"},
	{"venue", required_argument, OPT_VENUE, "venue", "--archive: the venue"},
	{"symbol", required_argument, OPT_SYMBOL, "symbol",
	 "--archive: the symbol, or a glob (BTC*) of them;\n"
	 "repeatable: the symbols merged by ts; with --stream\n"
	 "raw, only these instruments' records"},
	{"stream", required_argument, OPT_STREAM, "stream",
	 "--archive: book, trade, quote, topn or raw"},
	{"date", required_argument, OPT_DATE, "date", "--archive: one UTC day, YYYY-MM-DD"},
	{"from-snapshot", no_argument, OPT_FROM_SNAPSHOT, NULL,
	 "--archive with --from TIME: start at the last snapshot\n"
	 "at or before TIME (found by the compressed segments'\n"
	 "seek tables), so that a book replayed from there is\n"
	 "the book at TIME; --stream raw: each instrument's own"},
	CHR_OPT_VERBOSE("at the end, say what was fetched from object storage\n"
			"(requests, bytes)"),
	CHR_OPT_END,
};

int main(int argc, char **argv)
{
	struct chr_select sel;
	struct chr_merge in;
	struct chr_out out;
	struct chr_err e;
	struct chr_queue_pos pos;
	struct chr_keyed keyed;
	struct chr_pace pace = {0};
	struct chr_out_commit oc;
	struct chr_link_send ls;
	int64_t link_ns = CHR_LINK_TIMEOUT_NS;
	const char *acks = NULL, *reader = NULL, *from_reader = NULL, *outq = NULL, *outdir = NULL, *archive = NULL;
	const char *venue = NULL, *stream = NULL, *date = NULL, **syms = calloc((size_t)argc, sizeof *syms);
	long nsym = 0;
	char sh[256];
	const char *bad, *seen;
	const struct chr_rec *rec;
	enum chr_out_kind format = CHR_OUT_AUTO;
	uint64_t from_seq = UINT64_MAX, next_seq = 0, done_seq = 0, mark = 0;
	uint64_t limit = UINT64_MAX, written = 0, levels = CHR_FMT_LEVELS, spin = 0;
	int c, k = 0, follow = 0, from_end = 0, from_snapshot = 0, defines = 0;

	chr_prog_start(argv, usage_text, opts);
	if (!syms)
		chr_die(CHR_EX_SYS, "out of memory");
	chr_select_init(&sel);
	chr_keyed_init(&keyed);
	while ((c = chr_getopt(argc, argv)) != -1) {
		switch (c) {
		case 'f':
			follow = 1;
			break;
		case OPT_FROM_SNAPSHOT:
			from_snapshot = 1;
			break;
		case OPT_DEFINES:
			defines = 1;
			break;
		case OPT_FROM_END:
			from_end = 1;
			break;
		case OPT_FROM_SEQ:
			from_seq = chr_opt_count("--from-seq", optarg);
			break;
		case CHR_O_READER:
			chr_opt_name("--reader", reader = optarg);
			break;
		case OPT_ACKS:
			acks = optarg;
			break;
		case OPT_LINK_TIMEOUT:
			if (chr_link_timeout_parse(optarg, &link_ns) < 0)
				chr_usage_error("--link-timeout '%s' is not a duration of 2s to 1h",
						CHR_SHOWN(sh, optarg));
			break;
		case OPT_FROM_READER:
			chr_opt_name("--from-reader", from_reader = optarg);
			break;
		case OPT_RESTAMP:
			keyed.restamp = 1;
			break;
		case OPT_SPIN_US:
			if (chr_parse_range(optarg, 0, 1000000, &spin))
				chr_usage_error("--spin-us '%s' is not a number of us from 0 to "
						"1000000", CHR_SHOWN(sh, optarg));
			break;
		case 'o':
			outq = optarg;
			break;
		case OPT_OUT_DIR:
			outdir = optarg;
			break;
		case OPT_PACE:
			if (chr_pace_parse(&pace, optarg, &e) < 0)
				chr_usage_error("%s", e.msg);
			break;
		case CHR_O_FORMAT:
			if (chr_out_parse(optarg, &format, &e) < 0)
				chr_usage_error("%s", e.msg);
			break;
		case OPT_LEVELS:
			levels = chr_opt_count("--levels", optarg);
			if (levels > UINT32_MAX)
				levels = 0;
			break;
		case OPT_FROM:
			chr_opt_time("--from", optarg, &sel.ts_from, &sel.seq_from);
			break;
		case OPT_UNTIL:
			chr_opt_time("--until", optarg, &sel.ts_until, &sel.seq_until);
			break;
		case CHR_O_TYPE:
			chr_opt_types(&sel, optarg);
			break;
		case OPT_LIMIT:
			limit = chr_opt_count("--limit", optarg);
			break;
		case OPT_ARCHIVE:
			archive = optarg;
			break;
		case OPT_VENUE:
			chr_opt_name("--venue", venue = optarg);
			break;
		case OPT_SYMBOL:
			chr_opt_name("--symbol", syms[nsym++] = optarg);
			break;
		case OPT_STREAM:
			chr_opt_stream(stream = optarg);
			break;
		case OPT_DATE:
			chr_opt_date("--date", date = optarg);
			break;
		}
	}
	if (archive) {
		if (optind < argc)
			chr_usage_error("--archive reads no file arguments");
		if (venue == NULL || (nsym == 0 && !(stream && strcmp(stream, "raw") == 0)))
			chr_usage_error("--archive needs --venue and --symbol (--stream raw: --venue alone)");
		if (stream == NULL)
			stream = chr_select_stream(&sel);
		if (stream == NULL)
			stream = "book";
	} else if (venue || nsym || stream || date) {
		chr_usage_error("--venue, --symbol, --stream and --date need --archive");
	}
	/* an inverted range is a mistake, not a question whose answer is
	 * nothing (an empty one still passes the DEFINE records) */
	if (sel.ts_from > sel.ts_until || sel.seq_from > sel.seq_until)
		chr_usage_error("--from is after --until");
	if (from_snapshot && (!archive || sel.ts_from == INT64_MIN))
		chr_usage_error("--from-snapshot needs --archive and --from TIME");
	if (from_end && from_seq != UINT64_MAX)
		chr_usage_error("--from-end and --from-seq exclude each other");
	if (from_reader && (reader || from_end || from_seq != UINT64_MAX ||
			    sel.ts_from != INT64_MIN || sel.seq_from != 0))
		chr_usage_error("--from-reader excludes --reader, --from-seq, --from-end and --from");
	if ((reader || from_reader) && (archive || argc - optind != 1))
		chr_usage_error("%s reads exactly one queue", reader ? "--reader" : "--from-reader");
	if (acks && (!reader || !follow || outq ||
		     (format != CHR_OUT_AUTO && format != CHR_OUT_BINARY)))
		chr_usage_error("--acks needs --reader and --follow, and writes records to stdout");
	if (acks && pace.mant)	/* its sleeps would commit, and read no acknowledgement */
		chr_usage_error("--acks goes without --pace");
	if (link_ns != CHR_LINK_TIMEOUT_NS && !acks)
		chr_usage_error("--link-timeout goes with --acks");
	if (spin && !follow)
		chr_usage_error("--spin-us goes with --follow");
	if (defines && format != CHR_OUT_JSON)
		chr_usage_error("--defines goes with --format json");
	if (chr_out_dest(&format, &outq, outdir, reader != NULL, &e) < 0)
		chr_die_err(&e);

	/* several inputs are merged by ts (ties in argument order); an
	 * instrument's stream is read for each symbol the globs name, the raw
	 * stream once, filtered: the library path chr-book --archive takes */
	if (archive) {
		if (chr_merge_open_archive(&in, archive, venue, stream, date, syms, (size_t)nsym,
					   from_snapshot ? CHR_MERGE_SNAPSHOT : 0, chr_warn_cb, &sel,
					   &e) < 0)
			chr_die_err(&e);
	} else if (chr_merge_init(&in, (size_t)(argc - optind), &sel) < 0) {
		chr_die(CHR_EX_SYS, "out of memory");
	}
	for (size_t i = 0; !archive && i < in.n; i++) {
		struct chr_source *src = &in.s[i];

		src->follow = follow;
		src->spin_us = (unsigned)spin;
		src->from_end = from_end;
		src->from_seq = from_seq;
		if ((optind == argc ? chr_source_add_fd(src, STDIN_FILENO, "stdin")
				    : chr_source_add_path(src, argv[optind + (int)i])) < 0)
			chr_die_err(&src->e);
	}
	if ((reader || from_reader) && !chr_is_queue(argv[optind]))
		chr_usage_error("%s needs a queue, not '%s'", reader ? "--reader" : "--from-reader",
				CHR_SHOWN(sh, argv[optind]));
	keyed.warn = chr_warn_cb;
	if (from_reader && chr_keyed_from_reader(&keyed, &in.s[0], argv[optind], from_reader, &e) < 0)
		chr_die_err(&e);
	if (reader) {
		if (chr_queue_pos_open(&pos, argv[optind], reader, 0) < 0)
			chr_die_err(&pos.e);
		if (!from_end && from_seq == UINT64_MAX && sel.ts_from == INT64_MIN) {
			in.s[0].from_seq = pos.seq;
			in.s[0].exact = 1;
		}
		next_seq = done_seq = mark = pos.seq;
	}
	if (follow)
		chr_stop_on_signals(0);	/* a wait ends on them (no SA_RESTART) */
	if (chr_out_open(&out, format, outq, &e) < 0 ||
	    (acks && chr_link_send_open(&ls, acks, pos.seq, link_ns, &e) < 0))
		chr_die_err(&e);
	out.fmt.levels = (unsigned)levels;
	oc.out = &out, oc.pos = reader ? &pos : NULL;
	pace.flush = chr_out_flush_commit, pace.flush_ctx = &oc;
	pace.warn = chr_warn_cb, pace.stop = &chr_stop;
	/* JSON lines are one table (names in every line): DEFINE records
	 * only when asked for */
	out.json_defines = defines || (!sel.all_types &&
		chr_select_match(&sel, &(struct chr_rec){ .type = CHR_DEFINE }));

	while (written < limit && !chr_stop) {
		/* a named reader also commits every 64K records of a backlog */
		if (chr_merge_may_block(&in) || (reader && next_seq - mark >= 65536)) {
			if (chr_out_flush(&out, &e) < 0)
				chr_out_failed(&out, &e);
			/* --acks: what the replica holds, not what went out */
			if (acks && chr_link_send_tick(&ls, &out, &pos, next_seq, next_seq != mark,
						       &e) < 0)
				chr_die_err(&e);
			mark = next_seq;
			if (reader && !acks && next_seq != done_seq) {
				if (chr_queue_pos_commit(&pos, next_seq) < 0)
					chr_die_err(&pos.e);
				done_seq = next_seq;
			}
		}
		k = chr_keyed_next(&keyed, &in, &rec);
		if (k == 2) {
			chr_merge_wait(&in);
			if (acks ? chr_link_send_tick(&ls, &out, &pos, next_seq, 0, &e) < 0 :
			    reader && chr_queue_pos_beat(&pos) < 0)
				chr_die_err(acks ? &e : &pos.e);
			continue;
		}
		if (k <= 0)
			break;
		/* a DEFINE may come from behind the start (a seek passes them
		 * on): it does not move the position, and comes again */
		if (rec->type != CHR_DEFINE)
			next_seq = rec->seq + 1;
		if (!chr_select_match(&sel, rec)) {
			if (chr_out_skip(&out, rec, &e) < 0)
				chr_out_failed(&out, &e);
			continue;
		}
		/* --pace: a DEFINE is no time of the stream's */
		oc.seq = rec->seq;
		if (pace.mant && rec->type != CHR_DEFINE && chr_pace_wait(&pace, rec->ts) != 0)
			break;
		if (chr_out_put(&out, rec, &e) < 0)
			chr_out_failed(&out, &e);
		if (rec->type != CHR_DEFINE)
			written++;	/* --limit counts no DEFINE */
	}

	/* what was read before an error is good: write it, then report */
	if (chr_out_close(&out, &e) < 0)
		chr_out_failed(&out, &e);
	chr_pace_end(&pace);
	if (out.no_csv)
		chr_warn("%" PRIu64 " record%s with no Tardis CSV form (GAP, HEARTBEAT, ...) "
			 "not written", out.no_csv, out.no_csv == 1 ? "" : "s");
	if (reader) {
		if (!acks && next_seq != done_seq && chr_queue_pos_commit(&pos, next_seq) < 0)
			chr_die_err(&pos.e);
		chr_queue_pos_close(&pos);
	}
	if (k < 0)
		chr_die_err(&in.s[in.failed].e);
	/* a raw read's --symbol that names nothing read is no empty answer */
	if (k == 0 && archive && strcmp(stream, "raw") == 0 &&
	    (bad = chr_source_unmatched(&in.s[0], &seen)))
		chr_die(CHR_EX_DATA, "no symbol matches '%s' in the raw stream of venue '%s' read "
			"(the range read decides); symbols read: %s", CHR_SHOWN(sh, bad), venue,
			*seen ? seen : "none");
	if (chr_verbose) {
		uint64_t req, got, opened = 0;

		for (size_t i = 0; from_snapshot && i < in.n; i++)
			opened += in.s[i].snap_opened;
		if (from_snapshot)
			chr_warn("the snapshot search opened %" PRIu64 " segment%s", opened,
				 opened == 1 ? "" : "s");
		chr_s3_stats(&req, &got, NULL);
		chr_warn("object storage: %" PRIu64 " request%s, %" PRIu64 " bytes fetched", req,
			 req == 1 ? "" : "s", got);
	}
	chr_merge_free(&in);
	chr_keyed_free(&keyed);
	free(syms);
	return CHR_EX_OK;
}
