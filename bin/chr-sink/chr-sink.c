/* chr-sink - write a record stream into a queue (appended in place,
 * numbered, visible to readers at once), into the queues a route template
 * names (route.c), or into the archive layout: one directory of sealed
 * segments and a meta.json per (venue, symbol, date, stream), published
 * whole or not at all (docs/archive.md). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "archive.h"
#include "chr.h"
#include "queue.h"
#include "route.h"
#include "source.h"

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
	"      --version           show the version\n";

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (*end != '\0' || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

/* One input: a stream file, stdin ("-"), or a queue read to its end. */
struct input {
	const char *name;
	int fd;
	struct chr_queue_reader q;
	int queue;
	struct chr_reader r;
};

/* Open path, or return -1 with errno (the caller dies, after its own
 * clean-up); a bad queue dies here. */
static int input_open(struct input *in, const char *path)
{
	memset(in, 0, sizeof *in);
	in->name = strcmp(path, "-") == 0 ? "stdin" : path;
	in->fd = -1;
	if (chr_is_queue(path)) {
		if (chr_queue_reader_open(&in->q, path, 0) < 0)
			chr_die(in->q.status, "%s", in->q.err);
		in->queue = 1;
		chr_reader_init_queue(&in->r, &in->q, in->name, 0);
		return 0;
	}
	in->fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (in->fd < 0)
		return -1;
	if (chr_reader_init(&in->r, in->fd, in->name) < 0)
		chr_die(CHR_EX_SYS, "%s", strerror(ENOMEM));
	return 0;
}

static void input_close(struct input *in)
{
	chr_reader_free(&in->r);
	if (in->queue)
		chr_queue_reader_close(&in->q);
	if (in->fd > STDIN_FILENO)
		close(in->fd);
}

/* Write text (NULL: out of memory) to path atomically, or die. */
static void write_json(const char *path, char *text, struct chr_archive *a)
{
	if (text == NULL || chr_publish_file(path, text, strlen(text)) < 0) {
		int e = text ? errno : ENOMEM;

		chr_archive_close(a);
		chr_die(CHR_EX_SYS, "cannot write '%s': %s", path, strerror(e));
	}
	free(text);
}

/* The JSON object in file path (--ledger-info), or die. */
static json_t *load_info(const char *path)
{
	json_error_t je;
	json_t *o;

	if (access(path, R_OK) < 0)
		chr_die(CHR_EX_SYS, "cannot read '%s': %s", path, strerror(errno));
	o = json_load_file(path, 0, &je);
	if (o == NULL)
		chr_die(CHR_EX_DATA, "%s:%d: %s", path, je.line, je.text);
	if (!json_is_object(o)) {
		json_decref(o);
		chr_die(CHR_EX_DATA, "%s: not a JSON object", path);
	}
	return o;
}

/* Archive the records of files and commit (publish, or stage): the
 * writer, or die. */
static struct chr_archive *archive_input(const char *root, const struct chr_archive_opts *o,
					 char *const *files, int nfiles, int progress)
{
	char err[CHR_ARCHIVE_ERR];
	struct chr_archive *a;
	struct chr_progress pg;
	uint64_t total = 0, nrec = 0, done = 0, archived, skipped;
	int status;

	a = chr_archive_open(root, o, err, sizeof err, &status);
	if (a == NULL)
		chr_die(status, "%s", err);
	for (int i = 0; i < nfiles; i++) {
		struct stat st;

		if (strcmp(files[i], "-") != 0 && stat(files[i], &st) == 0 && S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	chr_progress_init(&pg, progress, total, "records");

	for (int i = 0; i < nfiles; i++) {
		struct input in;
		const struct chr_rec *rec;
		int k;

		if (input_open(&in, files[i]) < 0) {
			int e = errno;

			chr_archive_close(a);
			chr_die(CHR_EX_SYS, "cannot open '%s': %s", files[i], strerror(e));
		}
		while ((k = chr_reader_next(&in.r, &rec)) > 0) {
			if (chr_archive_put(a, rec, in.name, in.r.rec_off, err, sizeof err, &status) < 0) {
				chr_archive_close(a);
				chr_die(status, "%s", err);
			}
			chr_progress(&pg, ++nrec, done + in.r.off);
		}
		if (k < 0) {
			chr_archive_close(a);
			chr_die(in.r.status, "%s; nothing was archived", in.r.err);
		}
		done += in.r.off;
		input_close(&in);
	}
	chr_progress_end(&pg, nrec, done);

	if (chr_archive_commit(a, err, sizeof err, &status) < 0) {
		chr_archive_close(a);
		chr_die(status, "%s", err);
	}
	chr_archive_totals(a, &archived, &skipped);
	if (skipped > 0)
		chr_warn("%" PRIu64 " records of no archive stream (HEARTBEAT, application types) not archived",
			 skipped);
	return a;
}

/* Append the records of files to the queue in dir; with resume, not those
 * it holds already. */
static void queue_input(const char *dir, const struct chr_queue_opts *qo, char *const *files,
			int nfiles, int resume, int progress, int verbose)
{
	struct chr_queue_writer q;
	struct chr_progress pg;
	struct resume rs;
	uint64_t nrec = 0, done = 0, first, appended = 0;
	char err[512];
	int status;

	if (chr_queue_writer_open(&q, dir, qo) < 0) {
		if (errno == ENOENT && !(qo->flags & CHR_QUEUE_CREATE))
			chr_die(CHR_EX_SYS, "%s; --create makes it", q.err);
		chr_die(q.status, "%s", q.err);
	}
	first = q.seq;
	if (resume && resume_load(&rs, &q, 0, NULL, NULL, err, &status) < 0) {
		chr_queue_writer_close(&q);
		chr_die(status, "%s", err);
	}
	chr_progress_init(&pg, progress, 0, "records");
	for (int i = 0; i < nfiles; i++) {
		struct input in;
		const struct chr_rec *rec;
		int k;

		if (input_open(&in, files[i]) < 0) {
			int e = errno;

			chr_queue_writer_close(&q);
			chr_die(CHR_EX_SYS, "cannot open '%s': %s", files[i], strerror(e));
		}
		while ((k = chr_reader_next(&in.r, &rec)) > 0) {
			chr_progress(&pg, ++nrec, done + in.r.off);
			if (resume) {
				int skip = resume_skip(&rs, rec, dir, in.name, in.r.rec_off, err);

				if (skip < 0 ||
				    (!skip && resume_src_check(rec, q.seq, dir, in.name, in.r.rec_off,
							       err) < 0)) {
					chr_queue_writer_close(&q);
					chr_die(CHR_EX_DATA, "%s", err);
				}
				if (skip)
					continue;
			}
			if (chr_queue_append(&q, rec) < 0) {
				chr_queue_writer_close(&q);
				if (errno == EINVAL)
					chr_die(CHR_EX_DATA, "%s: byte %" PRIu64 ": record larger than a "
						"queue segment", in.name, in.r.rec_off);
				chr_die(q.status, "%s", q.err);
			}
			appended++;
		}
		if (k < 0) {
			chr_queue_writer_close(&q);
			chr_die(in.r.status, "%s; the %" PRIu64 " records before it were appended",
				in.r.err, appended);
		}
		done += in.r.off;
		input_close(&in);
	}
	chr_progress_end(&pg, nrec, done);
	if (verbose && resume)
		chr_warn("%s: %" PRIu64 " records appended, seq %" PRIu64 " to %" PRIu64 ", %" PRIu64
			 " skipped (--resume)", dir, appended, first, q.seq, rs.skipped);
	else if (verbose)
		chr_warn("%s: %" PRIu64 " records appended, seq %" PRIu64 " to %" PRIu64, dir,
			 appended, first, q.seq);
	chr_queue_writer_close(&q);
}

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

/* Records of the hot queue between two commits of the tap's position,
 * at most: a commit costs an fsync of the archive queue. */
#define TAP_BATCH 65536

/* Make what the tap appended durable in q, then commit next as the named
 * reader's position in the hot queue: never the other way round, so that
 * retention cannot remove a record the archive queue could still lose. */
static void tap_commit(struct chr_queue_writer *q, struct chr_queue_pos *pos, uint64_t next)
{
	if (chr_queue_flush(q) < 0) {
		chr_queue_writer_close(q);
		chr_die(q->status, "%s", q->err);
	}
	if (chr_queue_pos_commit(pos, next) < 0) {
		chr_queue_writer_close(q);
		chr_die(pos->status, "%s", pos->err);
	}
}

/* The archive tap: copy the queue hot, read as the named reader name from
 * its committed position, to the queue dir, and commit the position after
 * each batch is durable there. What a killed tap appended after its last
 * commit comes again and is skipped as --resume does. */
static void tap_input(const char *dir, const struct chr_queue_opts *qo, const char *hot,
		      const char *name, int follow, int verbose)
{
	struct chr_queue_writer q;
	struct chr_queue_pos pos;
	struct chr_source src;
	struct resume rs;
	const struct chr_rec *rec;
	uint64_t next, done, first, pending = 0, appended = 0;
	char err[512];
	int status, k = 0;

	struct stat sh, sd;

	if (!chr_is_queue(hot))
		chr_die(CHR_EX_SYS, "'%s' is not a queue", hot);
	/* it would copy its own appends forever */
	if (stat(hot, &sh) == 0 && stat(dir, &sd) == 0 && sh.st_dev == sd.st_dev &&
	    sh.st_ino == sd.st_ino)
		chr_usage_error("--tap '%s' is the queue --queue '%s' writes", hot, dir);
	if (chr_queue_writer_open(&q, dir, qo) < 0) {
		if (errno == ENOENT && !(qo->flags & CHR_QUEUE_CREATE))
			chr_die(CHR_EX_SYS, "%s; --create makes it", q.err);
		chr_die(q.status, "%s", q.err);
	}
	first = q.seq;
	if (resume_load(&rs, &q, 0, NULL, NULL, err, &status) < 0) {
		chr_queue_writer_close(&q);
		chr_die(status, "%s", err);
	}
	if (chr_queue_pos_open(&pos, hot, name,
			       qo->sync == CHR_SYNC_NEVER ? 0 : CHR_QUEUE_POS_SYNC) < 0) {
		chr_queue_writer_close(&q);
		chr_die(pos.status, "%s", pos.err);
	}
	chr_source_init(&src, NULL);
	src.follow = follow;
	src.from_seq = pos.seq;
	src.exact = 1;
	if (chr_source_add_path(&src, hot) < 0) {
		chr_queue_writer_close(&q);
		chr_die(src.status, "%s", src.err);
	}
	if (follow) {
		struct sigaction sa = { .sa_handler = on_stop };

		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	next = done = pos.seq;
	for (;;) {
		if (next != done && (pending >= TAP_BATCH || stop || chr_source_may_block(&src))) {
			tap_commit(&q, &pos, next);
			done = next;
			pending = 0;
		}
		if (stop)
			break;
		k = chr_source_next(&src, &rec);
		if (k == 2) {
			chr_source_wait(&src, 1000);
			if (chr_queue_pos_beat(&pos) < 0) {
				chr_queue_writer_close(&q);
				chr_die(pos.status, "%s", pos.err);
			}
			continue;
		}
		if (k <= 0)
			break;
		pending++;
		/* a DEFINE may come from behind the start: it does not move
		 * the position (resume skips it when it comes again) */
		if (rec->type != CHR_DEFINE)
			next = rec->seq + 1;
		/* the records after the last commit that reached dir before a
		 * kill come again: skip them */
		k = resume_skip(&rs, rec, dir, src.rd.name, src.rd.rec_off, err);
		if (k < 0 || (!k && resume_src_check(rec, q.seq, dir, src.rd.name, src.rd.rec_off,
						     err) < 0)) {
			chr_queue_writer_close(&q);
			chr_die(CHR_EX_DATA, "%s", err);
		}
		if (k)
			continue;
		if (chr_queue_append(&q, rec) < 0) {
			chr_queue_writer_close(&q);
			if (errno == EINVAL)
				chr_die(CHR_EX_DATA, "%s: seq %" PRIu64 ": record larger than a "
					"queue segment", hot, rec->seq);
			chr_die(q.status, "%s", q.err);
		}
		appended++;
	}
	/* what was read before an error is good: archive it, then report */
	if (next != done)
		tap_commit(&q, &pos, next);
	if (k < 0) {
		chr_queue_writer_close(&q);
		chr_die(src.status, "%s; the %" PRIu64 " records before it were appended",
			src.err, appended);
	}
	if (verbose)
		chr_warn("%s: %" PRIu64 " records appended, seq %" PRIu64 " to %" PRIu64 ", %"
			 PRIu64 " skipped (held already); reader '%s' of '%s' at seq %" PRIu64,
			 dir, appended, first, q.seq, rs.skipped, name, hot, next);
	chr_queue_pos_close(&pos);
	chr_source_free(&src);
	chr_queue_writer_close(&q);
}

/* Append the records of files to the queues of the route o. */
static void route_input(const struct route_opts *o, char *const *files, int nfiles,
			int progress, int verbose)
{
	struct route *rt = route_new(o);
	struct chr_progress pg;
	uint64_t nrec = 0, done = 0;
	char err[512];
	int status;

	if (rt == NULL)
		chr_die(CHR_EX_SYS, "%s", strerror(ENOMEM));
	chr_progress_init(&pg, progress, 0, "records");
	for (int i = 0; i < nfiles; i++) {
		struct input in;
		const struct chr_rec *rec;
		int k;

		if (input_open(&in, files[i]) < 0) {
			int e = errno;

			route_free(rt);
			chr_die(CHR_EX_SYS, "cannot open '%s': %s", files[i], strerror(e));
		}
		while ((k = chr_reader_next(&in.r, &rec)) > 0) {
			if (route_put(rt, rec, in.name, in.r.rec_off, err, &status) < 0) {
				route_free(rt);
				chr_die(status, "%s", err);
			}
			chr_progress(&pg, ++nrec, done + in.r.off);
		}
		if (k < 0) {
			route_free(rt);
			chr_die(in.r.status, "%s; the %" PRIu64 " records before it were routed",
				in.r.err, nrec);
		}
		done += in.r.off;
		input_close(&in);
	}
	chr_progress_end(&pg, nrec, done);
	route_end(rt, verbose);
}

/* Room for n open queue writers (two descriptors each): raise the soft
 * limit of open files when needed. Returns how many fit. */
static size_t fd_room(size_t n)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)n * 2 + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return n;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		rlim_t cur = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			rl.rlim_cur = cur;
		if (rl.rlim_cur < need)
			return rl.rlim_cur > 66 ? (size_t)(rl.rlim_cur - 64) / 2 : 1;
	}
	return n;
}

enum { OPT_STAGE = 256, OPT_PUBLISH, OPT_LEDGER_INFO, OPT_FSYNC, OPT_ROLL, OPT_RETAIN, OPT_ROUTE,
	OPT_RESUME, OPT_MAX_OPEN, OPT_TAP, OPT_READER };

/* Segment size of routed queues: there may be hundreds, each with a spare. */
#define ROUTE_SEG_SIZE (4u << 20)

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"archive", required_argument, NULL, 'a'},
		{"queue", required_argument, NULL, 'q'},
		{"route", required_argument, NULL, OPT_ROUTE},
		{"resume", no_argument, NULL, OPT_RESUME},
		{"tap", required_argument, NULL, OPT_TAP},
		{"reader", required_argument, NULL, OPT_READER},
		{"follow", no_argument, NULL, 'f'},
		{"max-open", required_argument, NULL, OPT_MAX_OPEN},
		{"create", no_argument, NULL, 'c'},
		{"fsync", required_argument, NULL, OPT_FSYNC},
		{"roll", required_argument, NULL, OPT_ROLL},
		{"retain", required_argument, NULL, OPT_RETAIN},
		{"append", no_argument, NULL, 'A'},
		{"source", required_argument, NULL, 's'},
		{"segment-size", required_argument, NULL, 'S'},
		{"stage", no_argument, NULL, OPT_STAGE},
		{"publish", no_argument, NULL, OPT_PUBLISH},
		{"ledger", required_argument, NULL, 'l'},
		{"ledger-info", required_argument, NULL, OPT_LEDGER_INFO},
		{"report", required_argument, NULL, 'r'},
		{"progress", no_argument, NULL, 'p'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct chr_archive_opts o = {0};
	struct chr_queue_opts qo = {0};
	const char *queue = NULL, *fsync_opt = NULL, *route = NULL;
	struct route_opts ro = {0};
	const char *tap = NULL, *reader = NULL;
	int resume = 0, follow = 0;
	char buf[256];
	const char *root = NULL, *report = NULL, *ledger = NULL, *info_path = NULL, *bad;
	int verbose = 0, progress = -1, publish = 0, c, status, nfiles;
	static json_t *info;	/* static: still reachable when dying */
	char err[CHR_ARCHIVE_ERR];
	struct chr_archive *a;
	uint64_t archived, skipped;
	char *const stdin_only[] = {(char *)"-"};
	char *const *files;

	chr_setprog(argv[0]);
	while ((c = getopt_long(argc, argv, "a:q:cfAs:S:l:r:pvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': root = optarg; break;
		case 'q': queue = optarg; break;
		case 'c': qo.flags |= CHR_QUEUE_CREATE; break;
		case OPT_ROUTE:
			if (route_template_check(optarg, buf, sizeof buf))
				chr_usage_error("route template '%s': %s", optarg, buf);
			route = optarg;
			break;
		case OPT_RESUME: resume = 1; break;
		case OPT_TAP: tap = optarg; break;
		case OPT_READER:
			if (chr_name_check(optarg) != NULL)
				chr_usage_error("reader name '%s': %s", optarg, chr_name_check(optarg));
			reader = optarg;
			break;
		case 'f': follow = 1; break;
		case OPT_MAX_OPEN:
			if (strspn(optarg, "0123456789") != strlen(optarg) || strlen(optarg) > 7 ||
			    atol(optarg) < 1 || atol(optarg) > 1000000)
				chr_usage_error("--max-open '%s' is not a number of 1 to 1000000", optarg);
			ro.max_open = (size_t)atol(optarg);
			break;
		case OPT_FSYNC:
			fsync_opt = optarg;
			if (chr_queue_sync_parse(optarg, &qo.sync, &qo.sync_ms) < 0)
				chr_usage_error("--fsync '%s' is not never, seal or a period of 1ms..1h",
						optarg);
			break;
		case OPT_ROLL:
			if (chr_duration_parse(optarg, &qo.roll_ns) < 0 || qo.roll_ns < 1000000000)
				chr_usage_error("--roll '%s' is not a period of at least 1s", optarg);
			break;
		case OPT_RETAIN:
			if (chr_duration_parse(optarg, &qo.retain_ns) < 0)
				chr_usage_error("--retain '%s' is not an age (0, 90s, 2h, 7d)", optarg);
			qo.flags |= CHR_QUEUE_RETAIN;
			break;
		case 'A': o.append = 1; break;
		case 's': o.source = optarg; break;
		case 'S':
			if (parse_size(optarg, &o.seg_size) < 0 || o.seg_size < 128)
				chr_usage_error("segment size '%s' is not a size of at least 128 bytes", optarg);
			break;
		case OPT_STAGE: o.stage = 1; break;
		case OPT_PUBLISH: publish = 1; break;
		case 'l': ledger = optarg; break;
		case OPT_LEDGER_INFO: info_path = optarg; break;
		case 'r': report = optarg; break;
		case 'p': progress = 1; break;
		case 'v': verbose = 1; break;
		case 'h':
			fputs(usage_text, stdout);
			chr_close_stdout();
			return CHR_EX_OK;
		case 'V':
			puts("chr-sink " CHR_VERSION_STRING);
			chr_close_stdout();
			return CHR_EX_OK;
		default:
			fprintf(stderr, "Try '%s --help' for more information.\n", chr_prog);
			return CHR_EX_USAGE;
		}
	}
	if (tap || reader || follow) {
		if (!tap)
			chr_usage_error("--%s is for --tap", reader ? "reader" : "follow");
		if (!queue)
			chr_usage_error("--tap needs --queue DIR, the archive queue");
		if (!reader)
			chr_usage_error("--tap needs --reader NAME");
		if (route || root)
			chr_usage_error("--tap and --%s exclude each other", route ? "route" : "archive");
		if (optind < argc)
			chr_usage_error("--tap reads no FILE, but '%s' is given", argv[optind]);
		if (progress == 1)
			chr_usage_error("--progress is not for --tap");
	}
	if (queue || route) {
		if (queue && route)
			chr_usage_error("--queue and --route exclude each other");
		if (root)
			chr_usage_error("--%s and --archive exclude each other", queue ? "queue" : "route");
		if (o.append || o.source || o.stage || publish || ledger || info_path || report)
			chr_usage_error("--%s takes none of the archive options", queue ? "queue" : "route");
		if (o.seg_size && (o.seg_size < 4096 || o.seg_size % 4096))
			chr_usage_error("a queue segment size is a multiple of 4K");
		qo.seg_size = o.seg_size;
		nfiles = argc - optind;
		files = nfiles > 0 ? argv + optind : stdin_only;
		if (nfiles == 0)
			nfiles = 1;
		if (queue) {
			if (ro.max_open)
				chr_usage_error("--max-open is for --route");
			if (tap)
				tap_input(queue, &qo, tap, reader, follow, verbose);
			else
				queue_input(queue, &qo, files, nfiles, resume, progress, verbose);
			return CHR_EX_OK;
		}
		ro.tmpl = route;
		ro.qo = qo;
		if (!ro.qo.seg_size)
			ro.qo.seg_size = ROUTE_SEG_SIZE;
		ro.resume = resume;
		if (ro.max_open) {
			if (fd_room(ro.max_open) < ro.max_open)
				chr_usage_error("--max-open %zu: the limit of open files is too low "
						"(ulimit -n)", ro.max_open);
		} else {
			ro.max_open = fd_room(ROUTE_MAX_OPEN);
		}
		route_input(&ro, files, nfiles, progress, verbose);
		return CHR_EX_OK;
	}
	if (ro.max_open)
		chr_usage_error("--max-open is for --route");
	if (fsync_opt || qo.flags || qo.roll_ns || resume)
		chr_usage_error("--create, --resume, --fsync, --roll and --retain are for --queue and "
				"--route");
	if (root == NULL)
		chr_usage_error("--archive ROOT, --queue DIR or --route TEMPLATE is required");
	if (o.stage && publish)
		chr_usage_error("--stage and --publish exclude each other");
	if ((o.stage || publish || ledger) && o.source == NULL)
		chr_usage_error("%s needs --source ID", o.stage ? "--stage" : publish ? "--publish" : "--ledger");
	if (publish && optind < argc)
		chr_usage_error("--publish reads no input, but FILE '%s' is given", argv[optind]);
	if (ledger && o.stage)
		chr_usage_error("--ledger is written by --publish, not by --stage");
	if (info_path && !ledger)
		chr_usage_error("--ledger-info needs --ledger VENDOR");
	if (o.source && (bad = chr_archive_id_check(o.source)) != NULL)
		chr_usage_error("source id '%s': %s", o.source, bad);
	if (ledger && (bad = chr_archive_id_check(ledger)) != NULL)
		chr_usage_error("ledger vendor '%s': %s", ledger, bad);
	if (info_path)
		info = load_info(info_path);
	nfiles = argc - optind;
	files = nfiles > 0 ? argv + optind : stdin_only;
	if (nfiles == 0)
		nfiles = 1;
	a = publish ? chr_archive_publish(root, &o, err, sizeof err, &status) :
	    archive_input(root, &o, files, nfiles, progress);
	if (a == NULL)
		chr_die(status, "%s", err);
	chr_archive_totals(a, &archived, &skipped);
	if (report)
		write_json(report, chr_archive_report(a), a);
	if (ledger) {
		int k = chr_archive_ledger(a, ledger, info, err, sizeof err, &status);

		if (k < 0) {
			chr_archive_close(a);
			chr_die(status, "%s", err);
		}
		if (k > 0)
			chr_warn("no records of source '%s': no ledger entry", o.source);
	}
	if (verbose) {
		size_t n;
		const struct chr_archive_part *p = chr_archive_parts(a, &n);

		for (size_t i = 0; i < n; i++)
			chr_warn("%s: %" PRIu64 " records, %" PRIu64 " segments (%s)", p[i].path,
				 p[i].records, p[i].segments, p[i].action);
		chr_warn("%" PRIu64 " input records %s into %zu partitions", archived,
			 o.stage ? "staged" : "archived", n);
	}
	json_decref(info);
	chr_archive_close(a);
	return CHR_EX_OK;
}
