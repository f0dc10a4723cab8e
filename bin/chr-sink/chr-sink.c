/* chr-sink - write a record stream into a queue (appended in place,
 * numbered, visible to readers at once), into the queues a route template
 * names (route.h), or into the archive layout: one directory of sealed
 * segments and a meta.json per (venue, symbol, date, stream), published
 * whole or not at all (docs/archive.md). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "archive.h"
#include "chr.h"
#include "num.h"
#include "optrule.h"
#include "prog.h"
#include "queue.h"
#include "resume.h"
#include "route.h"
#include "source.h"
#include "tap.h"

static const char usage_text[] =
	"usage: chr-sink --queue DIR [--create] [--resume] [--fsync never|seal|PERIOD]\n"
	"                [--segment-size SIZE] [--roll PERIOD] [--retain AGE]\n"
	"                [--progress] [-v] [FILE...]\n"
	"       chr-sink --queue DIR --tap HOT --reader NAME [--follow] [--create]\n"
	"                [--fsync never|seal|PERIOD] [--segment-size SIZE]\n"
	"                [--roll PERIOD] [-v]\n"
	"       chr-sink --route TEMPLATE [--resume] [--max-open N]\n"
	"                [--fsync never|seal|PERIOD] [--segment-size SIZE]\n"
	"                [--roll PERIOD] [--retain AGE] [--progress] [-v] [FILE...]\n"
	"       chr-sink --archive ROOT [--append] [--source ID] [--segment-size SIZE]\n"
	"                [--stage] [--ledger VENDOR [--ledger-info FILE]]\n"
	"                [--report FILE] [--progress] [-v] [FILE...]\n"
	"       chr-sink --archive ROOT --source ID --publish\n"
	"                [--ledger VENDOR [--ledger-info FILE]] [--report FILE] [-v]\n"
	"\n"
	"Append records from FILEs (or stdin, or '-') to the queue DIR, to the queue\n"
	"that TEMPLATE names for each record, or write them into the archive at ROOT:\n"
	"ROOT/v1/VENUE/SYMBOL/DATE/STREAM/NNNNNNNNN.q and meta.json.\n"
	"\n"
	"  -q, --queue DIR         append to the queue in DIR (seq assigned here)\n"
	"      --route TEMPLATE    append each record to the queue named by TEMPLATE,\n"
	"                          with {venue} {symbol} {stream} {date} (created)\n"
	"  -c, --create            create DIR when it is missing\n"
	"      --resume            skip the input records a queue holds already\n"
	"      --tap HOT           copy the queue HOT to DIR as the named reader NAME,\n"
	"                          committing its position once DIR holds it durably\n"
	"      --reader NAME       the named reader of HOT (resumed where it stopped)\n"
	"  -f, --follow            at the end of HOT, wait for more (until SIGINT or\n"
	"                          SIGTERM)\n"
	"      --max-open N        keep at most N routed queues open (default 256)\n"
	"      --fsync POLICY      never (default), seal (each sealed segment), or a\n"
	"                          period such as 100ms (also the active segment)\n"
	"      --roll PERIOD       also start a segment every PERIOD (1h, 1d: UTC)\n"
	"      --retain AGE        remove sealed segments older than AGE that every\n"
	"                          live registered reader has passed\n"
	"  -a, --archive ROOT      the archive root directory\n"
	"  -A, --append            add segments to partitions that hold data\n"
	"  -s, --source ID         tag this import; replaces partitions of the same ID\n"
	"  -S, --segment-size SIZE roll to a new segment after SIZE bytes (default 64M;\n"
	"                          queues: a multiple of 4K)\n"
	"      --stage             stage the run as source ID, publish nothing\n"
	"      --publish           publish the run staged as source ID (reads no input)\n"
	"  -l, --ledger VENDOR     then write the import ledger entry of ID for VENDOR\n"
	"      --ledger-info FILE  a JSON object to record in it as \"input\"\n"
	"  -r, --report FILE       write a JSON summary of the partitions written\n"
	"  -p, --progress          show progress on stderr\n"
	"  -v, --verbose           print a summary on stderr\n"
	"  -h, --help              show this help\n"
	"  -V, --version           show the version\n";

enum { OPT_STAGE = 256, OPT_PUBLISH, OPT_LEDGER_INFO, OPT_FSYNC, OPT_ROLL, OPT_RETAIN, OPT_ROUTE,
	OPT_RESUME, OPT_MAX_OPEN, OPT_TAP, OPT_READER };

static const struct option longopts[] = {
	{"archive", required_argument, NULL, 'a'}, {"queue", required_argument, NULL, 'q'},
	{"route", required_argument, NULL, OPT_ROUTE}, {"resume", no_argument, NULL, OPT_RESUME},
	{"tap", required_argument, NULL, OPT_TAP}, {"reader", required_argument, NULL, OPT_READER},
	{"follow", no_argument, NULL, 'f'}, {"max-open", required_argument, NULL, OPT_MAX_OPEN},
	{"create", no_argument, NULL, 'c'}, {"fsync", required_argument, NULL, OPT_FSYNC},
	{"roll", required_argument, NULL, OPT_ROLL}, {"retain", required_argument, NULL, OPT_RETAIN},
	{"append", no_argument, NULL, 'A'}, {"source", required_argument, NULL, 's'},
	{"segment-size", required_argument, NULL, 'S'}, {"stage", no_argument, NULL, OPT_STAGE},
	{"publish", no_argument, NULL, OPT_PUBLISH}, {"ledger", required_argument, NULL, 'l'},
	{"ledger-info", required_argument, NULL, OPT_LEDGER_INFO},
	{"report", required_argument, NULL, 'r'},
	{"progress", no_argument, NULL, 'p'}, {"verbose", no_argument, NULL, 'v'},
	CHR_OPTS_STD,
	{NULL, 0, NULL, 0},
};

/* What was given, for the rules below */
enum {
	G_QUEUE = 1 << 0, G_ROUTE = 1 << 1, G_ARCHIVE = 1 << 2, G_TAP = 1 << 3,
	G_READER = 1 << 4, G_FOLLOW = 1 << 5, G_FILES = 1 << 6, G_PROGRESS = 1 << 7,
	G_MAX_OPEN = 1 << 8, G_QUEUE_OPT = 1 << 9, G_STAGE = 1 << 10, G_PUBLISH = 1 << 11,
	G_LEDGER = 1 << 12, G_INFO = 1 << 13, G_SOURCE = 1 << 14, G_ARCH_OPT = 1 << 15,
};

/* What each option given is, for the rules */
static const unsigned given_by[OPT_READER + 1] = {
	['a'] = G_ARCHIVE, ['q'] = G_QUEUE, [OPT_ROUTE] = G_ROUTE, [OPT_TAP] = G_TAP,
	[OPT_READER] = G_READER, ['f'] = G_FOLLOW, ['p'] = G_PROGRESS, [OPT_MAX_OPEN] = G_MAX_OPEN,
	['c'] = G_QUEUE_OPT, [OPT_RESUME] = G_QUEUE_OPT, [OPT_FSYNC] = G_QUEUE_OPT,
	[OPT_ROLL] = G_QUEUE_OPT, [OPT_RETAIN] = G_QUEUE_OPT, ['A'] = G_ARCH_OPT,
	['s'] = G_SOURCE | G_ARCH_OPT, [OPT_STAGE] = G_STAGE | G_ARCH_OPT,
	[OPT_PUBLISH] = G_PUBLISH | G_ARCH_OPT, ['l'] = G_LEDGER | G_ARCH_OPT,
	[OPT_LEDGER_INFO] = G_INFO | G_ARCH_OPT, ['r'] = G_ARCH_OPT,
};

/* Which options go together, in the order they are checked; '%s' is the
 * first FILE. */
static const struct chr_opt_rule rules[] = {
	{G_READER, G_TAP, 0, "--reader is for --tap"},
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

/* The writers of a run, closed by the one clean-up path (at exit). */
static struct {
	enum { M_QUEUE, M_TAP, M_ROUTE, M_ARCHIVE, M_PUBLISH } mode;
	struct chr_queue_writer q;
	int q_open, resume;
	struct chr_resume rs;
	uint64_t first, appended;	/* --queue: its seq at the start, records appended */
	struct chr_route *rt;
	struct chr_archive *a;
	json_t *info;
} sk;

static void cleanup(void)
{
	if (sk.q_open)
		chr_queue_writer_close(&sk.q);
	sk.q_open = 0;
	chr_route_free(sk.rt);
	sk.rt = NULL;
	chr_archive_close(sk.a);
	sk.a = NULL;
	json_decref(sk.info);
	sk.info = NULL;
}

static void warn_cb(void *ctx, const char *msg)
{
	(void)ctx;
	chr_warn("%s", msg);
}

/* Write the records of files (in order) as the mode says, or die. */
static void feed(char *const *files, int nfiles, int progress)
{
	struct chr_source src;
	struct chr_progress pg;
	const struct chr_rec *rec;
	struct chr_err e;
	uint64_t total = 0, nrec = 0, done = 0, off = 0;
	size_t cur = 0;
	int k;

	chr_source_init(&src, NULL);
	for (int i = 0; i < nfiles; i++) {
		struct stat st;

		if (chr_source_add_path(&src, files[i]) < 0)
			chr_die_err(&src.e);
		if (sk.mode == M_ARCHIVE && strcmp(files[i], "-") != 0 && stat(files[i], &st) == 0 &&
		    S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	chr_progress_init(&pg, progress, total, "records");
	while ((k = chr_source_next(&src, &rec)) > 0) {
		if (src.cur != cur) {
			done += off;
			cur = src.cur;
		}
		off = src.rd.off;
		k = sk.mode == M_ARCHIVE ? chr_archive_put(sk.a, rec, src.rd.name, src.rd.rec_off, &e) :
		    sk.mode == M_ROUTE ? chr_route_put(sk.rt, rec, src.rd.name, src.rd.rec_off, &e) :
		    chr_resume_append(sk.resume ? &sk.rs : NULL, &sk.q, rec, src.rd.name,
				      src.rd.rec_off, &e);
		if (k < 0)
			chr_die_err(&e);
		sk.appended += sk.mode == M_QUEUE && k == 0;
		chr_progress(&pg, ++nrec, done + off);
	}
	if (k < 0 && !src.open)
		chr_die_err(&src.e);	/* an input that cannot be opened */
	if (k < 0 && sk.mode == M_ARCHIVE)
		chr_die(src.e.status, "%s; nothing was archived", src.e.msg);
	if (k < 0)
		chr_die(src.e.status, "%s; the %" PRIu64 " records before it were %s", src.e.msg,
			sk.mode == M_ROUTE ? nrec : sk.appended,
			sk.mode == M_ROUTE ? "routed" : "appended");
	chr_progress_end(&pg, nrec, done + off);
	chr_source_free(&src);
}

/* Open the writer of the queue in dir (--queue), or die. */
static void queue_open(const char *dir, const struct chr_queue_opts *qo)
{
	struct chr_err e;

	if (chr_queue_writer_open(&sk.q, dir, qo) < 0) {
		if (errno == ENOENT && !(qo->flags & CHR_QUEUE_CREATE))
			chr_die(CHR_EX_SYS, "%s; --create makes it", sk.q.e.msg);
		chr_die_err(&sk.q.e);
	}
	sk.q_open = 1;
	sk.first = sk.q.seq;
	if (sk.resume && chr_resume_load(&sk.rs, &sk.q, 0, NULL, NULL, &e) < 0)
		chr_die_err(&e);
}

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

/* --tap: copy the queue t->hot to the queue dir, or die. */
static void tap(const char *dir, const struct chr_queue_opts *qo, struct chr_tap *t, int verbose)
{
	struct stat sh, sd;
	struct chr_err e;

	if (!chr_is_queue(t->hot))
		chr_die(CHR_EX_SYS, "'%s' is not a queue", t->hot);
	/* it would copy its own appends forever */
	if (stat(t->hot, &sh) == 0 && stat(dir, &sd) == 0 && sh.st_dev == sd.st_dev &&
	    sh.st_ino == sd.st_ino)
		chr_usage_error("--tap '%s' is the queue --queue '%s' writes", t->hot, dir);
	queue_open(dir, qo);
	if (t->follow) {
		struct sigaction sa = { .sa_handler = on_stop };

		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	t->stop = &stop;
	t->sync = qo->sync != CHR_SYNC_NEVER;
	if (chr_tap_run(t, &sk.q, &e) < 0)
		chr_die_err(&e);
	if (verbose)
		chr_warn("%s: %" PRIu64 " records appended, seq %" PRIu64 " to %" PRIu64 ", %" PRIu64
			 " skipped (held already); reader '%s' of '%s' at seq %" PRIu64, dir,
			 t->appended, t->first, sk.q.seq, t->skipped, t->reader, t->hot, t->next);
}

/* Segment size of routed queues: there may be hundreds, each with a spare. */
#define ROUTE_SEG_SIZE (4u << 20)

int main(int argc, char **argv)
{
	struct chr_archive_opts o = { .warn = warn_cb };
	struct chr_route_opts ro = {0};
	struct chr_tap t = {0};
	struct chr_err e;
	const char *root = NULL, *queue = NULL, *report = NULL, *ledger = NULL, *info = NULL, *bad;
	char buf[256], *stdin_only[] = {(char *)"-"}, **files;
	int verbose = 0, progress = -1, c, nfiles;
	unsigned given = 0;
	uint64_t v;

	chr_prog_start(argv, usage_text);
	atexit(cleanup);
	while ((c = chr_getopt(argc, argv, "a:q:cfAs:S:l:r:pv", longopts)) != -1) {
		given |= given_by[c];
		switch (c) {
		case 'a': root = optarg; break;
		case 'q': queue = optarg; break;
		case 'c': ro.qo.flags |= CHR_QUEUE_CREATE; break;
		case OPT_ROUTE:
			if (chr_route_template_check(optarg, buf, sizeof buf))
				chr_usage_error("route template '%s': %s", optarg, buf);
			ro.tmpl = optarg;
			break;
		case OPT_RESUME: ro.resume = 1; break;
		case OPT_TAP: t.hot = optarg; break;
		case OPT_READER:
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
		case 'v': verbose = 1; break;
		}
	}
	nfiles = argc - optind;
	given |= nfiles > 0 ? G_FILES : 0;
	files = nfiles > 0 ? argv + optind : stdin_only;
	nfiles = nfiles > 0 ? nfiles : 1;
	chr_opt_rules(rules, sizeof rules / sizeof *rules, given, argv[optind]);
	sk.mode = t.hot ? M_TAP : queue ? M_QUEUE : ro.tmpl ? M_ROUTE :
		  (given & G_PUBLISH) ? M_PUBLISH : M_ARCHIVE;
	if (sk.mode <= M_ROUTE && o.seg_size && (o.seg_size < 4096 || o.seg_size % 4096))
		chr_usage_error("a queue segment size is a multiple of 4K");
	ro.qo.seg_size = o.seg_size;
	switch (sk.mode) {
	case M_TAP:
		tap(queue, &ro.qo, &t, verbose);
		return CHR_EX_OK;
	case M_QUEUE:
		sk.resume = ro.resume;
		queue_open(queue, &ro.qo);
		feed(files, nfiles, progress);
		if (verbose && sk.resume)
			chr_warn("%s: %" PRIu64 " records appended, seq %" PRIu64 " to %" PRIu64 ", %"
				 PRIu64 " skipped (--resume)", queue, sk.appended,
				 sk.first, sk.q.seq, sk.rs.skipped);
		else if (verbose)
			chr_warn("%s: %" PRIu64 " records appended, seq %" PRIu64 " to %" PRIu64, queue,
				 sk.appended, sk.first, sk.q.seq);
		return CHR_EX_OK;
	case M_ROUTE:
		if (!ro.qo.seg_size)
			ro.qo.seg_size = ROUTE_SEG_SIZE;
		if (ro.max_open && chr_route_fd_room(ro.max_open) < ro.max_open)
			chr_usage_error("--max-open %zu: the limit of open files is too low (ulimit -n)",
					ro.max_open);
		if (!ro.max_open)
			ro.max_open = chr_route_fd_room(CHR_ROUTE_MAX_OPEN);
		if (!(sk.rt = chr_route_new(&ro)))
			chr_die(CHR_EX_SYS, "%s", strerror(ENOMEM));
		feed(files, nfiles, progress);
		chr_route_end(sk.rt, verbose, warn_cb, NULL);
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
	if (sk.mode == M_PUBLISH) {
		if (!(sk.a = chr_archive_publish(root, &o, &e)))
			chr_die_err(&e);
	} else {
		if (!(sk.a = chr_archive_open(root, &o, &e)))
			chr_die_err(&e);
		feed(files, nfiles, progress);
		if (chr_archive_commit(sk.a, &e) < 0)
			chr_die_err(&e);
	}
	if (report && chr_archive_report_file(sk.a, report, &e) < 0)
		chr_die_err(&e);
	if (ledger && (c = chr_archive_ledger(sk.a, ledger, sk.info, &e)) < 0)
		chr_die_err(&e);
	if (ledger && c > 0)
		chr_warn("no records of source '%s': no ledger entry", o.source);
	if (verbose)
		chr_archive_tell(sk.a, warn_cb, NULL);
	return CHR_EX_OK;
}
