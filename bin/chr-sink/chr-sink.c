/* chr-sink - write a record stream into a queue (appended in place,
 * numbered, visible to readers at once), into the queues a route template
 * names (route.h), or into the archive layout: one directory of sealed
 * segments and a meta.json per (venue, symbol, date, stream), published
 * whole or not at all (docs/archive.md). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "archive.h"
#include "chr.h"
#include "link.h"
#include "num.h"
#include "optrule.h"
#include "prog.h"
#include "queue.h"
#include "resume.h"
#include "route.h"
#include "sink.h"
#include "source.h"
#include "tap.h"

static const char usage_text[] =
	"usage: chr-sink --queue DIR [--create] [--resume] [--fsync never|seal|PERIOD]\n"
	"                [--segment-size SIZE] [--roll PERIOD] [--retain AGE [--retain-grace D]]\n"
	"                [--seal-at-end] [--ack QUEUE --reader NAME] [--progress] [-v]\n"
	"                [FILE...]\n"
	"       chr-sink --queue DIR --replica [--link-timeout D] [--create]\n"
	"                [--fsync never|seal|PERIOD] [--segment-size SIZE] [--retain AGE]\n"
	"       chr-sink --queue DIR --tap HOT --reader NAME [--follow] [--create]\n"
	"                [--fsync never|seal|PERIOD] [--segment-size SIZE]\n"
	"                [--roll PERIOD] [-v]\n"
	"       chr-sink --route TEMPLATE [--resume] [--max-open N]\n"
	"                [--fsync never|seal|PERIOD] [--segment-size SIZE]\n"
	"                [--roll PERIOD] [--retain AGE [--retain-grace D]]\n"
	"                [--ack QUEUE --reader NAME] [--progress] [-v] [FILE...]\n"
	"       chr-sink --archive ROOT [--append] [--source ID] [--segment-size SIZE]\n"
	"                [--stage] [--ledger VENDOR [--ledger-info FILE]]\n"
	"                [--report FILE] [--progress] [-v] [FILE...]\n"
	"       chr-sink --archive ROOT --source ID --publish\n"
	"                [--ledger VENDOR [--ledger-info FILE]] [--report FILE] [-v]\n"
	"\n"
	"Append records from FILEs (or stdin, or '-') to the queue DIR, to the queue\n"
	"that TEMPLATE names for each record, or write them into the archive at ROOT:\n"
	"ROOT/v1/VENUE/SYMBOL/DATE/STREAM/NNNNNNNNN.q and meta.json.\n"
	"\n";

enum { OPT_QUEUE = CHR_O_OWN, OPT_STAGE, OPT_PUBLISH, OPT_LEDGER_INFO, OPT_FSYNC, OPT_ROLL,
	OPT_RETAIN, OPT_ROUTE, OPT_RESUME, OPT_MAX_OPEN, OPT_TAP, OPT_SEAL_AT_END, OPT_ACK,
	OPT_GRACE, OPT_REPLICA, OPT_LINK_TIMEOUT };

static const struct chr_opt opts[] = {
	{"queue", required_argument, OPT_QUEUE, "DIR", "append to the queue in DIR (seq assigned here)"},
	{"route", required_argument, OPT_ROUTE, "TEMPLATE",
	 "append each record to the queue named by TEMPLATE,\n"
	 "with {venue} {symbol} {stream} {date} (created)"},
	{"create", no_argument, 'c', NULL, "create DIR when it is missing"},
	{"resume", no_argument, OPT_RESUME, NULL, "skip the input records a queue holds already"},
	{"replica", no_argument, OPT_REPLICA, NULL,
	 "--queue, fed by chr-tail --acks over a link: resume,\n"
	 "append no link heartbeat, and write to stdout the\n"
	 "source seq below which DIR holds every record, once\n"
	 "durable, after each batch"},
	{"link-timeout", required_argument, OPT_LINK_TIMEOUT, "D",
	 "--replica: exit 3 when no input comes for D (10s)"},
	{"tap", required_argument, OPT_TAP, "HOT",
	 "copy the queue HOT to DIR as the named reader NAME,\n"
	 "committing its position once DIR holds it durably"},
	{"ack", required_argument, OPT_ACK, "QUEUE",
	 "with --resume: hold the named reader NAME of QUEUE,\n"
	 "the queue the input was read from, and commit as its\n"
	 "position how far the input's src_seq reached, once\n"
	 "written (the refinery: retention keeps the rest)"},
	CHR_OPT_READER("NAME", "the named reader of HOT (resumed where it stopped),\n"
		       "or of the --ack QUEUE"),
	CHR_OPT_FOLLOW("at the end of HOT, wait for more (until SIGINT or\nSIGTERM)"),
	{"max-open", required_argument, OPT_MAX_OPEN, "N",
	 "keep at most N routed queues open (default 256)"},
	{"fsync", required_argument, OPT_FSYNC, "POLICY",
	 "never (default), seal (each sealed segment), or a\n"
	 "period such as 100ms (also the active segment)"},
	{"roll", required_argument, OPT_ROLL, "PERIOD",
	 "also start a segment every PERIOD (1h, 1d: UTC)"},
	{"retain", required_argument, OPT_RETAIN, "AGE",
	 "remove sealed segments older than AGE that every\nregistered reader has passed (a reader that is not\nlive: until --retain-grace after its last commit)"},
	{"retain-grace", required_argument, OPT_GRACE, "D",
	 "how long retention keeps what a registered reader\nthat is not live has not passed (default 1m)"},
	{"seal-at-end", no_argument, OPT_SEAL_AT_END, NULL,
	 "seal the queue's segment when the input ends cleanly\n(for chr-seal-copy)"},
	CHR_OPT_ARCHIVE("ROOT", "the archive root directory"),
	{"append", no_argument, 'A', NULL, "add segments to partitions that hold data"},
	CHR_OPT_SOURCE("ID", "tag this import; replaces partitions of the same ID"),
	{"segment-size", required_argument, 'S', "SIZE",
	 "roll to a new segment after SIZE bytes (default 64M;\nqueues: a multiple of 4K)"},
	{"stage", no_argument, OPT_STAGE, NULL, "stage the run as source ID, publish nothing"},
	{"publish", no_argument, OPT_PUBLISH, NULL,
	 "publish the run staged as source ID (reads no input)"},
	{"ledger", required_argument, 'l', "VENDOR",
	 "then write the import ledger entry of ID for VENDOR"},
	{"ledger-info", required_argument, OPT_LEDGER_INFO, "FILE",
	 "a JSON object to record in it as \"input\""},
	{"report", required_argument, 'r', "FILE", "write a JSON summary of the partitions written"},
	{"progress", no_argument, 'p', NULL, "show progress on stderr"},
	CHR_OPT_VERBOSE("print a summary on stderr"),
	CHR_OPT_END,
};

/* What was given, for the rules below */
enum {
	G_QUEUE = 1 << 0, G_ROUTE = 1 << 1, G_ARCHIVE = 1 << 2, G_TAP = 1 << 3,
	G_READER = 1 << 4, G_FOLLOW = 1 << 5, G_FILES = 1 << 6, G_PROGRESS = 1 << 7,
	G_MAX_OPEN = 1 << 8, G_QUEUE_OPT = 1 << 9, G_STAGE = 1 << 10, G_PUBLISH = 1 << 11,
	G_LEDGER = 1 << 12, G_INFO = 1 << 13, G_SOURCE = 1 << 14, G_ARCH_OPT = 1 << 15,
	G_SEAL = 1 << 16, G_ACK = 1 << 17, G_RESUME = 1 << 18, G_RETAIN = 1 << 19,
	G_GRACE = 1 << 20, G_REPLICA = 1 << 21, G_LINK = 1 << 22,
};

/* What each option given is, for the rules */
static const unsigned given_by[OPT_LINK_TIMEOUT + 1] = {
	['a'] = G_ARCHIVE, [OPT_QUEUE] = G_QUEUE, [OPT_ROUTE] = G_ROUTE, [OPT_TAP] = G_TAP,
	[CHR_O_READER] = G_READER, ['f'] = G_FOLLOW, ['p'] = G_PROGRESS, [OPT_MAX_OPEN] = G_MAX_OPEN,
	['c'] = G_QUEUE_OPT, [OPT_RESUME] = G_QUEUE_OPT | G_RESUME, [OPT_ACK] = G_ACK, [OPT_FSYNC] = G_QUEUE_OPT,
	[OPT_ROLL] = G_QUEUE_OPT, [OPT_RETAIN] = G_QUEUE_OPT | G_RETAIN, [OPT_GRACE] = G_GRACE,
	['A'] = G_ARCH_OPT,
	['s'] = G_SOURCE | G_ARCH_OPT, [OPT_STAGE] = G_STAGE | G_ARCH_OPT,
	[OPT_REPLICA] = G_REPLICA, [OPT_LINK_TIMEOUT] = G_LINK,
	[OPT_PUBLISH] = G_PUBLISH | G_ARCH_OPT, ['l'] = G_LEDGER | G_ARCH_OPT,
	[OPT_LEDGER_INFO] = G_INFO | G_ARCH_OPT, ['r'] = G_ARCH_OPT, [OPT_SEAL_AT_END] = G_SEAL,
};

/* Which options go together, in the order they are checked; '%s' is the
 * first FILE. */
static const struct chr_opt_rule rules[] = {
	{G_REPLICA, G_QUEUE, G_TAP | G_ACK | G_SEAL, "--replica is for --queue, without --tap, --ack "
	 "and --seal-at-end"},
	{G_LINK, G_REPLICA, 0, "--link-timeout goes with --replica"},
	{G_ACK, 0, G_TAP, "--ack and --tap exclude each other"},
	{G_ACK, G_QUEUE | G_ROUTE, 0, "--ack is for --queue and --route"},
	{G_ACK, G_RESUME, 0, "--ack needs --resume"},
	{G_ACK, G_READER, 0, "--ack needs --reader NAME"},
	{G_READER, G_TAP | G_ACK, 0, "--reader is for --tap and --ack"},
	{G_FOLLOW, G_TAP, 0, "--follow is for --tap"},
	{G_TAP, G_QUEUE, 0, "--tap needs --queue DIR, the archive queue"},
	{G_TAP, G_READER, 0, "--tap needs --reader NAME"},
	{G_TAP, 0, G_ROUTE, "--tap and --route exclude each other"},
	{G_TAP, 0, G_ARCHIVE, "--tap and --archive exclude each other"},
	{G_TAP, 0, G_FILES, "--tap reads no FILE, but '%s' is given"},
	{G_TAP, 0, G_PROGRESS, "--progress is not for --tap"},
	{G_QUEUE, 0, G_ROUTE, "--queue and --route exclude each other"},
	{G_QUEUE, 0, G_ARCHIVE, "--queue and --archive exclude each other"},
	{G_ROUTE, 0, G_ARCHIVE, "--route and --archive exclude each other"},
	{G_QUEUE, 0, G_ARCH_OPT, "--queue takes none of the archive options"},
	{G_ROUTE, 0, G_ARCH_OPT, "--route takes none of the archive options"},
	{G_MAX_OPEN, G_ROUTE, 0, "--max-open is for --route"},
	{G_GRACE, G_RETAIN, 0, "--retain-grace goes with --retain"},
	{G_SEAL, G_QUEUE, 0, "--seal-at-end is for --queue"},
	{G_SEAL, 0, G_TAP, "--seal-at-end is not for --tap"},
	{G_QUEUE_OPT, G_QUEUE | G_ROUTE, 0,
	 "--create, --resume, --fsync, --roll and --retain are for --queue and --route"},
	{0, G_ARCHIVE | G_QUEUE | G_ROUTE, 0,
	 "--archive ROOT, --queue DIR or --route TEMPLATE is required"},
	{G_STAGE, 0, G_PUBLISH, "--stage and --publish exclude each other"},
	{G_STAGE, G_SOURCE, 0, "--stage needs --source ID"},
	{G_PUBLISH, G_SOURCE, 0, "--publish needs --source ID"},
	{G_LEDGER, G_SOURCE, 0, "--ledger needs --source ID"},
	{G_PUBLISH, 0, G_FILES, "--publish reads no input, but FILE '%s' is given"},
	{G_LEDGER, 0, G_STAGE, "--ledger is written by --publish, not by --stage"},
	{G_INFO, G_LEDGER, 0, "--ledger-info needs --ledger VENDOR"},
};

static struct chr_sink sk;	/* the run, closed by the one clean-up path (at exit) */

static void cleanup(void)
{
	chr_sink_close(&sk);
}

/* Segment size of routed queues: there may be hundreds, each with a spare. */
#define ROUTE_SEG_SIZE (4u << 20)

int main(int argc, char **argv)
{
	struct chr_archive_opts o = { .warn = chr_warn_cb };
	struct chr_route_opts ro = { .qo.grace_ns = CHR_QUEUE_GRACE_NS };
	struct chr_tap t = {0};
	struct chr_err e;
	struct stat sh, sd;
	const char *root = NULL, *queue = NULL, *ack = NULL, *report = NULL, *ledger = NULL, *info = NULL, *bad;
	char buf[256], *stdin_only[] = {(char *)"-"}, **files;
	int progress = -1, c, nfiles;
	unsigned given = 0;
	uint64_t v;
	int64_t link_ns = CHR_LINK_TIMEOUT_NS;

	chr_prog_start(argv, usage_text, opts);
	atexit(cleanup);
	while ((c = chr_getopt(argc, argv)) != -1) {
		given |= given_by[c];
		switch (c) {
		case 'a': root = optarg; break;
		case OPT_QUEUE: queue = optarg; break;
		case 'c': ro.qo.flags |= CHR_QUEUE_CREATE; break;
		case OPT_ROUTE:
			if (chr_route_template_check(optarg, buf, sizeof buf))
				chr_usage_error("route template '%s': %s", optarg, buf);
			ro.tmpl = optarg;
			break;
		case OPT_RESUME: ro.resume = 1; break;
		case OPT_REPLICA: sk.replica = ro.resume = 1; break;
		case OPT_LINK_TIMEOUT:
			if (chr_link_timeout_parse(optarg, &link_ns) < 0)
				chr_usage_error("--link-timeout '%s' is not a duration of 2s to 1h",
						optarg);
			break;
		case OPT_SEAL_AT_END: sk.seal_at_end = 1; break;
		case OPT_TAP: t.hot = optarg; break;
		case OPT_ACK: ack = optarg; break;
		case CHR_O_READER:
			if ((bad = chr_name_check(optarg)) != NULL)
				chr_usage_error("reader name '%s': %s", optarg, bad);
			t.reader = optarg;
			break;
		case 'f': t.follow = 1; break;
		case OPT_MAX_OPEN:
			if (chr_parse_range(optarg, 1, 1000000, &v) < 0)
				chr_usage_error("--max-open '%s' is not a number of 1 to 1000000", optarg);
			ro.max_open = (size_t)v;
			break;
		case OPT_FSYNC:
			if (chr_queue_sync_parse(optarg, &ro.qo.sync, &ro.qo.sync_ms) < 0)
				chr_usage_error("--fsync '%s' is not never, seal or a period of 1ms..1h",
						optarg);
			break;
		case OPT_ROLL:
			if (chr_duration_parse(optarg, &ro.qo.roll_ns) < 0 || ro.qo.roll_ns < 1000000000)
				chr_usage_error("--roll '%s' is not a period of at least 1s", optarg);
			break;
		case OPT_RETAIN:
			if (chr_duration_parse(optarg, &ro.qo.retain_ns) < 0)
				chr_usage_error("--retain '%s' is not an age (0, 90s, 2h, 7d)", optarg);
			ro.qo.flags |= CHR_QUEUE_RETAIN;
			break;
		case OPT_GRACE:
			if (chr_duration_parse(optarg, &ro.qo.grace_ns) < 0)
				chr_usage_error("--retain-grace '%s' is not a duration (0, 30s, 5m)",
						optarg);
			break;
		case 'A': o.append = 1; break;
		case 's': o.source = optarg; break;
		case 'S':
			if (chr_parse_size(optarg, &o.seg_size) < 0 || o.seg_size < 128)
				chr_usage_error("segment size '%s' is not a size of at least 128 bytes",
						optarg);
			break;
		case OPT_STAGE: o.stage = 1; break;
		case 'l': ledger = optarg; break;
		case OPT_LEDGER_INFO: info = optarg; break;
		case 'r': report = optarg; break;
		case 'p': progress = 1; break;
		}
	}
	nfiles = argc - optind;
	given |= nfiles > 0 ? G_FILES : 0;
	files = nfiles > 0 ? argv + optind : stdin_only;
	nfiles = nfiles > 0 ? nfiles : 1;
	chr_opt_rules(rules, sizeof rules / sizeof *rules, given, argv[optind]);
	sk.mode = t.hot ? CHR_SINK_TAP : queue ? CHR_SINK_QUEUE : ro.tmpl ? CHR_SINK_ROUTE :
		  (given & G_PUBLISH) ? CHR_SINK_PUBLISH : CHR_SINK_ARCHIVE;
	if (sk.mode <= CHR_SINK_ROUTE && o.seg_size && (o.seg_size < 4096 || o.seg_size % 4096))
		chr_usage_error("a queue segment size is a multiple of 4K");
	ro.qo.seg_size = o.seg_size;
	/* held before anything is written: a reader in use ends the run first */
	if (ack && chr_sink_ack_open(&sk, ack, t.reader, ro.qo.sync != CHR_SYNC_NEVER, &e) < 0)
		chr_die_err(&e);
	ro.durable = ack != NULL;
	switch (sk.mode) {
	case CHR_SINK_TAP:
		if (!chr_is_queue(t.hot))
			chr_die(CHR_EX_SYS, "'%s' is not a queue", t.hot);
		/* it would copy its own appends forever */
		if (stat(t.hot, &sh) == 0 && stat(queue, &sd) == 0 && sh.st_dev == sd.st_dev &&
		    sh.st_ino == sd.st_ino)
			chr_usage_error("--tap '%s' is the queue --queue '%s' writes", t.hot, queue);
		if (chr_sink_tap(&sk, queue, &ro.qo, &t, &e) < 0)
			chr_die_err(&e);
		if (chr_verbose)
			chr_warn("%s: %" PRIu64 " records appended, seq %" PRIu64 " to %" PRIu64 ", %"
				 PRIu64 " skipped (held already); reader '%s' of '%s' at seq %" PRIu64,
				 queue, t.appended, t.first, sk.q.seq, t.skipped, t.reader, t.hot,
				 t.next);
		return CHR_EX_OK;
	case CHR_SINK_QUEUE:
		sk.resume = ro.resume;
		/* a silent link ends the run: the sender connects again */
		if (sk.replica)
			chr_link_watchdog(link_ns, "input");
		if (chr_sink_queue_open(&sk, queue, &ro.qo, &e) < 0 ||
		    chr_sink_feed(&sk, files, nfiles, progress, &e) < 0)
			chr_die_err(&e);
		if (chr_verbose && sk.resume)
			chr_warn("%s: %" PRIu64 " records appended, seq %" PRIu64 " to %" PRIu64 ", %"
				 PRIu64 " skipped (--resume)", queue, sk.appended,
				 sk.first, sk.q.seq, sk.rs.skipped);
		else if (chr_verbose)
			chr_warn("%s: %" PRIu64 " records appended, seq %" PRIu64 " to %" PRIu64, queue,
				 sk.appended, sk.first, sk.q.seq);
		if (chr_verbose && ack)
			chr_warn("reader '%s' of '%s' at seq %" PRIu64, t.reader, ack, sk.ack_done);
		return CHR_EX_OK;
	case CHR_SINK_ROUTE:
		if (!ro.qo.seg_size)
			ro.qo.seg_size = ROUTE_SEG_SIZE;
		if (ro.max_open && chr_route_fd_room(ro.max_open) < ro.max_open)
			chr_usage_error("--max-open %zu: the limit of open files is too low (ulimit -n)",
					ro.max_open);
		if (!ro.max_open)
			ro.max_open = chr_route_fd_room(CHR_ROUTE_MAX_OPEN);
		if (!(sk.rt = chr_route_new(&ro)))
			chr_die(CHR_EX_SYS, "%s", strerror(ENOMEM));
		if (chr_sink_feed(&sk, files, nfiles, progress, &e) < 0)
			chr_die_err(&e);
		chr_route_end(sk.rt, chr_verbose, chr_warn_cb, NULL);
		if (chr_verbose && ack)
			chr_warn("reader '%s' of '%s' at seq %" PRIu64, t.reader, ack, sk.ack_done);
		return CHR_EX_OK;
	default:
		break;
	}
	if (o.source && (bad = chr_archive_id_check(o.source)) != NULL)
		chr_usage_error("source id '%s': %s", o.source, bad);
	if (ledger && (bad = chr_archive_id_check(ledger)) != NULL)
		chr_usage_error("ledger vendor '%s': %s", ledger, bad);
	if (info && !(sk.info = chr_json_load_object(info, &e)))
		chr_die_err(&e);
	if (sk.mode == CHR_SINK_PUBLISH) {
		if (!(sk.a = chr_archive_publish(root, &o, &e)))
			chr_die_err(&e);
	} else {
		if (!(sk.a = chr_archive_open(root, &o, &e)))
			chr_die_err(&e);
		if (chr_sink_feed(&sk, files, nfiles, progress, &e) < 0 ||
		    chr_archive_commit(sk.a, &e) < 0)
			chr_die_err(&e);
	}
	if (report && chr_archive_report_file(sk.a, report, &e) < 0)
		chr_die_err(&e);
	if (ledger && chr_archive_ledger(sk.a, ledger, sk.info, &e) < 0)
		chr_die_err(&e);
	if (chr_verbose)
		chr_archive_tell(sk.a, chr_warn_cb, NULL);
	return CHR_EX_OK;
}
