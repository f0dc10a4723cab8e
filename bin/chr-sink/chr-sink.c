/* chr-sink - write a record stream into the archive layout: one directory
 * of sealed segments and a meta.json per (venue, symbol, date, stream),
 * published whole or not at all (docs/archive.md). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "archive.h"
#include "chr.h"

static const char usage_text[] =
	"usage: chr-sink --archive ROOT [--append] [--source ID] [--segment-size SIZE]\n"
	"                [--report FILE] [--progress] [-v] [FILE...]\n"
	"\n"
	"Write records from FILEs (or stdin, or '-') into the archive at ROOT:\n"
	"ROOT/v1/VENUE/SYMBOL/DATE/STREAM/NNNNNNNNN.q and meta.json.\n"
	"\n"
	"  -a, --archive ROOT      the archive root directory\n"
	"  -A, --append            add segments to partitions that hold data\n"
	"  -s, --source ID         tag this import; replaces partitions of the same ID\n"
	"  -S, --segment-size SIZE roll to a new segment after SIZE bytes (default 64M)\n"
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

static int write_report(const char *path, struct chr_archive *a)
{
	size_t n;
	const struct chr_archive_part *p = chr_archive_parts(a, &n);
	json_t *o = json_object(), *arr = json_array();
	uint64_t archived, skipped, written = 0, segs = 0;
	char *text;
	int rc;

	chr_archive_totals(a, &archived, &skipped);
	if (o == NULL || arr == NULL)
		return -1;
	if (n > 0) {
		json_object_set_new(o, "venue", json_string(p[0].venue));
		json_object_set_new(o, "symbol", json_string(p[0].symbol));
		json_object_set_new(o, "date", json_string(p[0].date));
	}
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_object();

		json_object_set_new(e, "path", json_string(p[i].path));
		json_object_set_new(e, "venue", json_string(p[i].venue));
		json_object_set_new(e, "symbol", json_string(p[i].symbol));
		json_object_set_new(e, "date", json_string(p[i].date));
		json_object_set_new(e, "stream", json_string(p[i].stream));
		json_object_set_new(e, "action", json_string(p[i].action));
		json_object_set_new(e, "records", json_integer((json_int_t)p[i].records));
		json_object_set_new(e, "segments", json_integer((json_int_t)p[i].segments));
		json_object_set_new(e, "ts_min", json_integer(p[i].ts_min));
		json_object_set_new(e, "ts_max", json_integer(p[i].ts_max));
		json_array_append_new(arr, e);
		written += p[i].records;
		segs += p[i].segments;
	}
	json_object_set_new(o, "records", json_integer((json_int_t)archived));
	json_object_set_new(o, "records_written", json_integer((json_int_t)written));
	json_object_set_new(o, "skipped", json_integer((json_int_t)skipped));
	json_object_set_new(o, "segments", json_integer((json_int_t)segs));
	if (n > 0) {
		int64_t lo = p[0].ts_min, hi = p[0].ts_max;

		for (size_t i = 1; i < n; i++) {
			lo = p[i].ts_min < lo ? p[i].ts_min : lo;
			hi = p[i].ts_max > hi ? p[i].ts_max : hi;
		}
		json_object_set_new(o, "ts_min", json_integer(lo));
		json_object_set_new(o, "ts_max", json_integer(hi));
	}
	json_object_set_new(o, "partitions", arr);
	text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (text == NULL)
		return -1;
	rc = chr_publish_file(path, text, strlen(text));
	free(text);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"archive", required_argument, NULL, 'a'},
		{"append", no_argument, NULL, 'A'},
		{"source", required_argument, NULL, 's'},
		{"segment-size", required_argument, NULL, 'S'},
		{"report", required_argument, NULL, 'r'},
		{"progress", no_argument, NULL, 'p'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct chr_archive_opts o = {0};
	const char *root = NULL, *report = NULL;
	int verbose = 0, progress = -1, c, status, nfiles;
	char err[CHR_ARCHIVE_ERR];
	struct chr_archive *a;
	struct chr_progress pg;
	uint64_t total = 0, nrec = 0, done = 0, archived, skipped;
	char *const stdin_only[] = {(char *)"-"};
	char *const *files;

	chr_setprog(argv[0]);
	while ((c = getopt_long(argc, argv, "a:As:S:r:pvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': root = optarg; break;
		case 'A': o.append = 1; break;
		case 's': o.source = optarg; break;
		case 'S':
			if (parse_size(optarg, &o.seg_size) < 0 || o.seg_size < 128)
				chr_usage_error("segment size '%s' is not a size of at least 128 bytes", optarg);
			break;
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
	if (root == NULL)
		chr_usage_error("--archive ROOT is required (--queue and --route are not implemented)");
	nfiles = argc - optind;
	files = nfiles > 0 ? argv + optind : stdin_only;
	if (nfiles == 0)
		nfiles = 1;

	a = chr_archive_open(root, &o, err, sizeof err, &status);
	if (a == NULL)
		chr_die(status, "%s", err);
	for (int i = 0; i < nfiles; i++) {
		struct stat st;

		if (strcmp(files[i], "-") != 0 && stat(files[i], &st) == 0 && S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	chr_progress_init(&pg, progress, total, "records");

	for (int i = 0; i < nfiles; i++) {
		const char *name = strcmp(files[i], "-") == 0 ? "stdin" : files[i];
		int fd = strcmp(files[i], "-") == 0 ? STDIN_FILENO : open(files[i], O_RDONLY | O_CLOEXEC);
		struct chr_reader r;
		const struct chr_rec *rec;
		int k;

		if (fd < 0) {
			int e = errno;

			chr_archive_close(a);
			chr_die(CHR_EX_SYS, "cannot open '%s': %s", files[i], strerror(e));
		}
		if (chr_reader_init(&r, fd, name) < 0)
			chr_die(CHR_EX_SYS, "%s", strerror(ENOMEM));
		while ((k = chr_reader_next(&r, &rec)) > 0) {
			if (chr_archive_put(a, rec, name, r.rec_off, err, sizeof err, &status) < 0) {
				chr_archive_close(a);
				chr_die(status, "%s", err);
			}
			chr_progress(&pg, ++nrec, done + r.off);
		}
		if (k < 0) {
			chr_archive_close(a);
			chr_die(r.status, "%s; nothing was archived", r.err);
		}
		done += r.off;
		chr_reader_free(&r);
		if (fd != STDIN_FILENO)
			close(fd);
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
	if (report && write_report(report, a) < 0) {
		int e = errno;

		chr_archive_close(a);
		chr_die(CHR_EX_SYS, "cannot write '%s': %s", report, strerror(e));
	}
	if (verbose) {
		size_t n;
		const struct chr_archive_part *p = chr_archive_parts(a, &n);

		for (size_t i = 0; i < n; i++)
			chr_warn("%s: %" PRIu64 " records, %" PRIu64 " segments (%s)", p[i].path,
				 p[i].records, p[i].segments, p[i].action);
		chr_warn("%" PRIu64 " records archived into %zu partitions", archived, n);
	}
	chr_archive_close(a);
	return CHR_EX_OK;
}
