/* chr-tier - the librarian: moves archive partitions from the hot root to
 * warmer-to-colder tiers by age (renamed, or copied, compressed and
 * verified), deletes the oldest, applies queue retention, and keeps
 * manifest.db in step with the files (docs/tiers.md). The options, the
 * tier lock and the service loop; the pass is chr_tier_pass (tiermove.c). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "chr.h"
#include "fmt.h"
#include "manifest.h"
#include "num.h"
#include "prog.h"
#include "tier.h"

static const char usage_text[] =
	"usage: chr-tier --root root [-c | --create] [--config file]\n"
	"                [--warm dir --warm-after age] [--cold dir --cold-after age]\n"
	"                [--zstd[=level]] [--delete-after age] [--now time]\n"
	"                [--once | --poll-ms n] [-n | --dry-run] [-v]\n"
	"       chr-tier --root root [-c | --create] [--config file]\n"
	"                [--warm dir --warm-after age] [--cold dir --cold-after age]\n"
	"                --rebuild-manifest\n"
	"       chr-tier --root root --dump-manifest\n"
	"       chr-tier -h | --help | -V | --version\n"
	"\n";

enum { OPT_ROOT = CHR_O_OWN, OPT_CONFIG, OPT_WARM, OPT_WARM_AFTER, OPT_COLD, OPT_COLD_AFTER,
       OPT_ZSTD, OPT_DELETE, OPT_NOW, OPT_REBUILD, OPT_DUMP };

static const struct chr_opt opts[] = {
	{"root", required_argument, OPT_ROOT, "root",
	 "the archive root: the hot tier, where manifest.db lives;\nit must exist"},
	{"create", no_argument, 'c', NULL, "create the archive root when it does not exist"},
	{"config", required_argument, OPT_CONFIG, "file",
	 "tiers, ages and retention (default root/chr-tier.conf)"},
	{"warm", required_argument, OPT_WARM, "dir",
	 "tier 'warm': partitions whose ts_max is --warm-after\nold move there"},
	{"warm-after", required_argument, OPT_WARM_AFTER, "age",
	 "the age of tier 'warm' (ages: 90s, 6h, 7d)"},
	{"cold", required_argument, OPT_COLD, "dir", "tier 'cold', the same with --cold-after"},
	{"cold-after", required_argument, OPT_COLD_AFTER, "age", "the age of tier 'cold'"},
	{"zstd", optional_argument, OPT_ZSTD, "level",
	 "compress segments moved into the coldest tier (level\n1-19, default 3)"},
	{"delete-after", required_argument, OPT_DELETE, "age", "remove partitions this old"},
	{"now", required_argument, OPT_NOW, "time",
	 "the time ages are measured from (default: the clock)"},
	CHR_OPT_ONCE("one pass, then exit (default: a pass every --poll-ms)"),
	CHR_OPT_POLL_MS("n", "milliseconds between passes (default 60000)"),
	CHR_OPT_DRY_RUN("say what would be moved or deleted; change nothing"),
	CHR_OPT_VERBOSE("also say what else a pass does"),
	{"rebuild-manifest", no_argument, OPT_REBUILD, NULL,
	 "rebuild root/manifest.db from the files and exit"},
	{"dump-manifest", no_argument, OPT_DUMP, NULL, "print root/manifest.db as sorted text and exit"},
	CHR_OPT_END,
};

/* p made absolute (relative to the working directory), in place */
static void absolute(char *p, size_t n)
{
	char cwd[PATH_MAX], tmp[PATH_MAX];

	if (p[0] == '/')
		return;
	if (getcwd(cwd, sizeof cwd) == NULL)
		chr_die(CHR_EX_SYS, "cannot get the working directory: %s", strerror(errno));
	if (chr_pathf(tmp, sizeof tmp, "%s/%s", cwd, p) < 0 || strlen(tmp) >= n)
		chr_usage_error("path too long: '%s'", p);
	strcpy(p, tmp);
}

static int64_t age_arg(const char *opt, const char *s)
{
	int64_t ns;
	char sh[256];

	if (chr_duration_parse(s, &ns) < 0 || ns <= 0)
		chr_usage_error("%s '%s' is not a duration (90s, 6h, 7d)", opt, CHR_SHOWN(sh, s));
	return ns;
}

int main(int argc, char **argv)
{
	struct chr_tier_run r = {.say = chr_warn_cb};
	const char *config = NULL, *dirs[2] = {NULL, NULL}, *root_arg;
	int64_t afters[2] = {0, 0}, del = -1, now = INT64_MIN, poll_ms = 60000;
	int c, once = 0, rebuild = 0, dump = 0, zstd = 0, lockfd, polled = 0, create = 0;
	struct stat st;
	char sh[512], lockp[PATH_MAX];
	struct chr_err e;
	static const char *const names[2] = {"warm", "cold"};

	chr_prog_start(argv, usage_text, opts);
	while ((c = chr_getopt(argc, argv)) != -1) {
		switch (c) {
		case 'n':
			r.dry = 1;
			break;
		case 'c':
			create = 1;
			break;
		case OPT_ROOT:
			r.root = optarg;
			break;
		case OPT_CONFIG:
			config = optarg;
			break;
		case OPT_WARM:
		case OPT_COLD:
			if (*optarg == '\0')
				chr_usage_error("--%s needs a directory", names[c == OPT_COLD]);
			if (strncmp(optarg, "s3://", 5) == 0)
				chr_usage_error("--%s: a tier in object storage is a line of %s (with "
						"its options)", names[c == OPT_COLD], CHR_TIER_CONF);
			dirs[c == OPT_COLD] = optarg;
			break;
		case OPT_WARM_AFTER:
			afters[0] = age_arg("--warm-after", optarg);
			break;
		case OPT_COLD_AFTER:
			afters[1] = age_arg("--cold-after", optarg);
			break;
		case OPT_ZSTD: {
			uint64_t v = 3;

			if (optarg && chr_parse_range(optarg, 1, 19, &v) < 0)
				chr_usage_error("--zstd=%s: the level is 1 to 19", CHR_SHOWN(sh, optarg));
			zstd = (int)v;
			break;
		}
		case OPT_DELETE:
			del = age_arg("--delete-after", optarg);
			break;
		case OPT_NOW:
			chr_opt_time("--now", optarg, &now, NULL);
			break;
		case CHR_O_ONCE:
			once = 1;
			break;
		case CHR_O_POLL_MS: {
			uint64_t v;

			if (chr_parse_range(optarg, 1, 86400000, &v) < 0)
				chr_usage_error("--poll-ms '%s' is not 1 to 86400000", CHR_SHOWN(sh, optarg));
			poll_ms = (int64_t)v;
			polled = 1;
			break;
		}
		case OPT_REBUILD:
			rebuild = 1;
			break;
		case OPT_DUMP:
			dump = 1;
			break;
		}
	}
	r.verbose = chr_verbose;
	if (optind < argc)
		chr_usage_error("no arguments are taken ('%s')", CHR_SHOWN(sh, argv[optind]));
	if (r.root == NULL || *r.root == '\0')
		chr_usage_error("--root is required");
	if (once && polled)
		chr_usage_error("--once and --poll-ms exclude each other");
	if (create && r.dry)
		chr_usage_error("--create and --dry-run exclude each other");
	if (dump) {
		if (once || polled || r.dry || rebuild || config || dirs[0] || dirs[1] || afters[0] ||
		    afters[1] || zstd || del >= 0 || now != INT64_MIN || create)
			chr_usage_error("--dump-manifest takes only --root");
		if ((r.m = chr_manifest_open(r.root, NULL, 0, &e)) == NULL)
			chr_die_err(&e);
		if (chr_manifest_dump(r.m, stdout, &e) < 0)
			chr_die_err(&e);
		chr_manifest_close(r.m);
		chr_close_stdout();
		return CHR_EX_OK;
	}
	if (rebuild && (once || polled || r.dry || now != INT64_MIN))
		chr_usage_error("--rebuild-manifest takes no --once, --poll-ms, --dry-run or --now");
	/* tiers and queues are kept by absolute paths (the manifest holds them) */
	{
		static char abs_root[PATH_MAX];

		if (strlen(r.root) >= sizeof abs_root)
			chr_usage_error("--root: path too long");
		root_arg = r.root;
		strcpy(abs_root, r.root);
		absolute(abs_root, sizeof abs_root);
		r.root = abs_root;
	}
	for (int k = 0; k < 2; k++)
		if (dirs[k]) {
			static char abs[2][PATH_MAX];

			if (strlen(dirs[k]) >= sizeof abs[k])
				chr_usage_error("--%s: path too long", names[k]);
			strcpy(abs[k], dirs[k]);
			absolute(abs[k], sizeof abs[k]);
			dirs[k] = abs[k];
		}
	if (stat(root_arg, &st) == 0 && !S_ISDIR(st.st_mode))
		chr_usage_error("--root '%s' is not a directory", CHR_SHOWN(sh, root_arg));
	chr_tiers_init(&r.t, r.root);
	if (chr_tiers_load(&r.t, config, &e) < 0) {
		chr_tiers_free(&r.t);
		chr_usage_error("%s", e.msg);
	}
	for (int k = 0; k < 2; k++) {
		size_t i;

		for (i = 1; i < r.t.n && strcmp(r.t.t[i].name, names[k]) != 0; i++)
			;
		if (i == r.t.n && (dirs[k] || afters[k]) && !(dirs[k] && afters[k]))
			chr_usage_error("--%s and --%s-after go together", names[k], names[k]);
		if (dirs[k] || afters[k]) {
			char dir[sizeof r.t.t[0].root];

			/* the tier's own root may be what is set again */
			snprintf(dir, sizeof dir, "%s", dirs[k] ? dirs[k] : r.t.t[i].root);
			if (chr_tiers_set(&r.t, names[k], dir, afters[k] ? afters[k] : r.t.t[i].after_ns,
					  i < r.t.n ? r.t.t[i].zstd : 0) < 0)
				chr_usage_error("too many tiers or a path too long");
		}
	}
	if (del >= 0)
		r.t.delete_ns = del;
	if (chr_tiers_check(&r.t, &e) < 0)
		chr_usage_error("%s", e.msg);
	if (zstd) {
		size_t i;

		if (r.t.n == 1)
			chr_usage_error("--zstd needs a tier to compress into (--cold, --warm or the config)");
		for (i = 1; i < r.t.n && strcmp(r.t.t[i].name, "cold") != 0; i++)
			;
		r.t.t[i < r.t.n ? i : r.t.n - 1].zstd = zstd;
	}

	/* a mistyped root is not a new archive; chr-sink --archive, which
	 * writes the data, creates its root */
	if (stat(root_arg, &st) < 0 && errno == ENOENT && !create)
		chr_usage_error("no archive at '%s' (--create makes one)", CHR_SHOWN(sh, root_arg));
	if (!once && !rebuild) {
		/* a service ends between partitions */
		r.stop = &chr_stop;
		chr_stop_on_signals(0);
	}
	/* one chr-tier at a time per archive */
	if (r.dry)
		snprintf(lockp, sizeof lockp, "%s/.staging", r.root);
	else if (chr_mkdirs(r.root) < 0 ||
	    (size_t)snprintf(lockp, sizeof lockp, "%s/.staging", r.root) >= sizeof lockp ||
	    chr_mkdirs(lockp) < 0)
		chr_die(CHR_EX_SYS, "cannot create '%s': %s", CHR_SHOWN(sh, lockp), strerror(errno));
	strcat(lockp, "/.tier-lock");
	/* a dry run creates nothing: it locks only when there is a lock */
	if ((lockfd = open(lockp, O_RDWR | (r.dry ? 0 : O_CREAT) | O_CLOEXEC, 0666)) < 0 &&
	    !(r.dry && errno == ENOENT))
		chr_die(CHR_EX_SYS, "cannot open '%s': %s", CHR_SHOWN(sh, lockp), strerror(errno));
	if (lockfd >= 0 && flock(lockfd, LOCK_EX | LOCK_NB) < 0)
		chr_die(CHR_EX_SYS, "another chr-tier works on '%s' (%s is locked)", CHR_SHOWN(sh, r.root),
			strerror(errno));
	/* a tier that held data before must be given: without it its
	 * partitions would leave the manifest */
	if (chr_manifest_tiers_check(r.root, &r.t, &e) < 0) {
		if (e.status == CHR_EX_USAGE)
			chr_usage_error("%s", e.msg);
		chr_die_err(&e);
	}
	if (rebuild) {
		size_t n, skipped;

		if (chr_manifest_rebuild(r.root, &r.t, &n, &skipped, chr_warn_cb, NULL, &e) < 0)
			chr_die_err(&e);
		if (r.verbose)
			chr_warn("manifest rebuilt: %zu partition%s", n, n == 1 ? "" : "s");
		if (skipped)
			chr_die(CHR_EX_DATA, "manifest rebuilt without %zu partition%s that could not "
				"be read (above)", skipped, skipped == 1 ? "" : "s");
		return CHR_EX_OK;
	}
	if (!r.dry) {
		if ((r.m = chr_manifest_open(r.root, NULL, 1, &e)) == NULL)
			chr_die_err(&e);
		if (chr_manifest_set_tiers(r.m, &r.t, &e) < 0)
			chr_die_err(&e);
	}
	for (;;) {
		chr_tier_pass(&r, now);
		if (once || chr_stop)
			break;
		for (int64_t left = poll_ms; left > 0 && !chr_stop; left -= 100) {
			struct timespec ts = {0, (long)(left < 100 ? left : 100) * 1000000};

			nanosleep(&ts, NULL);
		}
		if (chr_stop)
			break;
		r.status = CHR_EX_OK;	/* a service reports each pass's errors, and goes on */
	}
	chr_manifest_close(r.m);
	chr_tiers_free(&r.t);
	if (lockfd >= 0)
		close(lockfd);
	return r.status;
}
