/* source.c - inputs read in order as one record stream: descriptors, files,
 * partition directories, archive selections pruned by segment headers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "catalog.h"
#include "err.h"
#include "fmt.h"
#include "isel.h"
#include "manifest.h"
#include "path.h"
#include "segdir.h"
#include "snap.h"
#include "s3.h"
#include "source.h"
#include "tier.h"
#include "tm.h"
#include "zsq.h"


void chr_select_init(struct chr_select *sel)
{
	memset(sel, 0, sizeof *sel);
	sel->ts_from = INT64_MIN;
	sel->ts_until = INT64_MAX;
	sel->seq_from = 0;
	sel->seq_until = UINT64_MAX;
	sel->all_types = 1;
}

static void type_set(struct chr_select *sel, unsigned t)
{
	sel->types[t / 64] |= (uint64_t)1 << (t % 64);
}

static int type_has(const struct chr_select *sel, unsigned t)
{
	return (sel->types[t / 64] >> (t % 64)) & 1;
}

int chr_select_types(struct chr_select *sel, const char *list, const char **bad)
{
	const char *p = list;

	sel->all_types = 0;
	for (;;) {
		size_t n = strcspn(p, ",");
		char name[64];
		int t;

		if (n == 0 || n >= sizeof name) {
			*bad = p;
			return -1;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		if (strcmp(name, "book") == 0) {
			type_set(sel, CHR_BOOK_SNAPSHOT);
			type_set(sel, CHR_BOOK_DIFF);
			type_set(sel, CHR_GAP);
		} else if ((t = chr_type_parse(name)) >= 0) {
			type_set(sel, (unsigned)t);
		} else {
			*bad = p;
			return -1;
		}
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

int chr_select_match(const struct chr_select *sel, const struct chr_rec *rec)
{
	if (!sel->all_types && !type_has(sel, rec->type))
		return 0;
	if (rec->type == CHR_DEFINE)
		return 1;
	/* INT64_MAX and UINT64_MAX are open ends: they hold the largest values */
	return rec->ts >= sel->ts_from && (rec->ts < sel->ts_until || sel->ts_until == INT64_MAX) &&
		rec->seq >= sel->seq_from &&
		(rec->seq < sel->seq_until || sel->seq_until == UINT64_MAX);
}

const char *chr_select_stream(const struct chr_select *sel)
{
	const char *stream = NULL;

	if (sel->all_types)
		return NULL;
	for (unsigned t = 0; t < 65536; t++) {
		const char *k;

		if (!type_has(sel, t) || t == CHR_DEFINE)
			continue;
		k = chr_stream_of((uint16_t)t);
		if (k == NULL || (stream && strcmp(k, stream) != 0))
			return NULL;
		stream = k;
	}
	return stream;
}

/* A raw read's instruments: the --symbol selection, and with
 * --from-snapshot where each one's records start. */
struct chr_rawsel {
	struct chr_isel isel;
	int by_name;		/* patterns given */
	const char *const *pat;	/* the patterns (kept), and which of them a */
	unsigned char *hit;	/* DEFINE passed matched */
	size_t npat;
	struct chr_tab gate;	/* struct gate by (venue, market) */
	size_t head;		/* in[head] (head 0: none) starts at offset from:
				 * a compressed one at its frame, whose DEFINEs
				 * before that in[head - 1] passed */
	uint64_t from;
	char seen[256];		/* the first symbols read, for a message */
};

/* One instrument of a raw read. */
struct gate {
	int want;		/* -1 not decided, 0 left out, 1 passed */
	int from;		/* its records pass from in[idx] offset off on */
	size_t idx;
	uint64_t off;
};

void chr_source_init(struct chr_source *s, const struct chr_select *sel)
{
	memset(s, 0, sizeof *s);
	s->sel = sel;
	s->from_seq = UINT64_MAX;
	chr_tab_init(&s->seen, sizeof(uint32_t));
}

static void close_cur(struct chr_source *s)
{
	if (s->open)
		chr_reader_free(&s->rd);
	s->open = 0;
	s->limit = 0;
	s->defs_only = 0;
	s->repeats = 0;
}

void chr_source_free(struct chr_source *s)
{
	close_cur(s);
	for (size_t i = 0; i < s->n; i++) {
		free(s->in[i].path);
		free(s->in[i].shown);
		free(s->in[i].zdata);
	}
	free(s->in);
	s->in = NULL;
	s->n = s->cap = s->cur = 0;
	chr_tab_free(&s->seen);
	chr_tab_init(&s->seen, sizeof(uint32_t));
	if (s->raw) {
		chr_isel_free(&s->raw->isel);
		free(s->raw->hit);
		chr_tab_free(&s->raw->gate);
		free(s->raw);
		s->raw = NULL;
	}
}

__attribute__((format(printf, 3, 4)))
static int fail(struct chr_source *s, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->e.msg, sizeof s->e.msg, fmt, ap);
	va_end(ap);
	s->e.status = status;
	return -1;
}

/* The raw selection of s, made when missing. NULL when out of memory. */
static struct chr_rawsel *rawsel(struct chr_source *s)
{
	if (!s->raw && (s->raw = calloc(1, sizeof *s->raw)) != NULL) {
		chr_isel_init(&s->raw->isel);
		chr_tab_init(&s->raw->gate, sizeof(struct gate));
	}
	return s->raw;
}

int chr_source_symbols(struct chr_source *s, const char *const *patterns, size_t n)
{
	struct chr_rawsel *x = rawsel(s);

	if (!x || (n && !(x->hit = calloc(n, 1))))
		return fail(s, CHR_EX_SYS, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (chr_isel_add_symbol(&x->isel, patterns[i]) < 0)
			return fail(s, CHR_EX_SYS, "out of memory");
	x->by_name = chr_isel_by_name(&x->isel);
	x->pat = patterns;
	x->npat = n;
	return 0;
}

const char *chr_source_unmatched(const struct chr_source *s, const char **seen)
{
	for (size_t i = 0; s->raw && i < s->raw->npat; i++)
		if (!s->raw->hit[i]) {
			*seen = s->raw->seen;
			return s->raw->pat[i];
		}
	return NULL;
}

static int add(struct chr_source *s, enum chr_input_kind kind, const char *path, int fd,
	       int part_first)
{
	struct chr_input *in;

	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;

		in = realloc(s->in, cap * sizeof *in);
		if (in == NULL)
			return fail(s, CHR_EX_SYS, "out of memory");
		s->in = in;
		s->cap = cap;
	}
	in = &s->in[s->n];
	in->path = strdup(path);
	in->shown = malloc(4 * strlen(path) + 1);
	if (in->path == NULL || in->shown == NULL) {
		free(in->path);
		free(in->shown);
		return fail(s, CHR_EX_SYS, "out of memory");
	}
	chr_fmt_shown(in->shown, 4 * strlen(path) + 1, path);
	in->kind = kind;
	in->fd = fd;
	in->part_first = part_first;
	in->frame = 0;
	in->off = 0;
	in->zdata = NULL;
	in->defs_only = 0;
	in->defs_all = 0;
	in->upto = 0;
	in->ts_min = INT64_MIN;
	in->walk_from = 0;
	s->n++;
	return 0;
}

int chr_source_add_fd(struct chr_source *s, int fd, const char *name)
{
	return add(s, CHR_IN_FD, name, fd, 0);
}

/* path for a message (chr_fmt_shown, cut to fit a message) */
#define SHOWN(buf, path) chr_fmt_shown(buf, sizeof buf, path)

/* what a segment read for its leading DEFINE records reads at a time */
#define DEFS_READ (64u << 10)

/* the hints of a struct chr_input (source.h) */
struct hint {
	int64_t ts_min;
	uint64_t walk_from;
};

/* The hints of segment ps of a partition's meta.json: its ts_min, and the
 * last snapshot it lists that a walk from the segment's start to the
 * selection's ts_from reaches. */
static struct hint hints(const struct chr_source *s, const struct chr_pseg *ps)
{
	int64_t ts = s->sel ? s->sel->ts_from : INT64_MIN;
	struct hint h = { ps->count > 0 ? ps->ts_min : INT64_MIN, 0 };

	for (size_t i = 0; i < ps->nsnaps && ps->snaps[i].ts_upto <= ts; i++)
		h.walk_from = ps->snaps[i].off;
	return h;
}

/* in, just added: with hints h */
static void hinted(struct chr_input *in, struct hint h)
{
	in->ts_min = h.ts_min;
	in->walk_from = h.walk_from;
}

/* The segments v[0..n) listed in directory dir (open at fd) against what
 * a partition's meta.json lists: a listed segment that is missing, or a
 * directory where a segment should be, is bad data. A directory without
 * a readable meta.json is not checked. h[i] is set to the hints meta.json
 * gives of segment v[i] (else none). Returns 0, or -1 (failed). */
static int part_check(struct chr_source *s, int fd, const char *dir,
		      const struct chr_segdir_ent *v, ssize_t n, struct hint *h)
{
	struct chr_partinfo pi;
	struct chr_err e;
	struct stat st;
	char sh[512], shn[512];
	int rc = 0;

	for (ssize_t i = 0; i < n; i++)
		h[i] = (struct hint){ INT64_MIN, 0 };
	for (ssize_t i = 0; i < n; i++)
		if (fstatat(fd, v[i].name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
			return fail(s, CHR_EX_DATA, "'%s/%s' is a directory, not a segment",
				    SHOWN(sh, dir), SHOWN(shn, v[i].name));
	if (faccessat(fd, "meta.json", F_OK, 0) < 0 || chr_partinfo_load(dir, &pi, &e) < 0)
		return 0;
	/* by id: a segment compressed in place (N.q.zst for N.q) is there */
	for (size_t k = 0, j = 0; rc == 0 && k < pi.nsegs; k++) {
		while (j < (size_t)n && v[j].id < pi.segs[k].id)
			j++;
		if (j == (size_t)n || v[j].id != pi.segs[k].id)
			rc = fail(s, CHR_EX_DATA, "partition '%s': segment '%s' is listed in meta.json "
				  "but missing", SHOWN(sh, dir), pi.segs[k].file);
		else
			h[j] = hints(s, &pi.segs[k]);
	}
	chr_partinfo_free(&pi);
	return rc;
}

/* Append the segments that the meta.json of a partition in an
 * object-storage tier (dir: s3://bucket/prefix/REL) lists, in id order.
 * Returns the number added, or -1. */
static int add_object_dir(struct chr_source *s, const char *dir)
{
	struct chr_partinfo pi;
	char path[4096];
	int rc = 0, n;

	if (chr_partinfo_load(dir, &pi, &s->e) < 0)
		return -1;
	for (size_t i = 0; rc == 0 && i < pi.nsegs; i++)
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, pi.segs[i].file) >= sizeof path)
			rc = fail(s, CHR_EX_SYS, "'%s': %s", dir, strerror(ENAMETOOLONG));
		else if (add(s, CHR_IN_SEG, path, -1, i == 0) < 0)
			rc = -1;
		else
			hinted(&s->in[s->n - 1], hints(s, &pi.segs[i]));
	n = (int)pi.nsegs;
	chr_partinfo_free(&pi);
	return rc < 0 ? -1 : n;
}

/* Append the segments of directory dir in id order. Returns the number
 * added, or -1. missing_ok: a directory that does not exist adds 0. */
static int add_dir(struct chr_source *s, const char *dir, int missing_ok)
{
	struct chr_segdir_ent *v;
	const struct chr_segdir_ent *d;
	struct chr_err e;
	char sh[512], shn[512];
	struct hint *hint;
	ssize_t n;
	int rc, fd;

	if (chr_s3_is_url(dir))
		return add_object_dir(s, dir);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return missing_ok && errno == ENOENT ? 0 :
			fail(s, CHR_EX_SYS, "cannot open '%s': %s", SHOWN(sh, dir), strerror(errno));
	/* listed by fd, named in messages as shown */
	n = chr_segdir_list(fd, SHOWN(sh, dir), CHR_SEGDIR_ZST | CHR_SEGDIR_ANYLEN, &v, &e);
	if (n < 0) {
		close(fd);
		return fail(s, CHR_EX_SYS, "%s", e.msg);
	}
	if (!(hint = malloc(((size_t)n + 1) * sizeof *hint))) {
		free(v);
		close(fd);
		return fail(s, CHR_EX_SYS, "out of memory");
	}
	rc = part_check(s, fd, dir, v, n, hint) < 0 ? -1 : (int)n;
	close(fd);
	/* the same segment plain and compressed: which is the right one? */
	if ((d = chr_segdir_dup(v, (size_t)n)) != NULL && d->zst != d[-1].zst)
		rc = fail(s, CHR_EX_DATA, "%s: segment %" PRIu64 " is there twice, as '%s' and '%s'",
			  sh, d->id, d[-1].name, d->name);
	for (ssize_t i = 0; rc >= 0 && i < n; i++) {
		char path[4096];

		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, v[i].name) >= sizeof path)
			rc = fail(s, CHR_EX_SYS, "'%s/%s': %s", sh, SHOWN(shn, v[i].name),
				  strerror(ENAMETOOLONG));
		else if (add(s, CHR_IN_SEG, path, -1, i == 0) < 0)
			rc = -1;
		else
			hinted(&s->in[s->n - 1], hint[i]);
	}
	free(hint);
	free(v);
	return rc;
}

int chr_is_queue(const char *path)
{
	char f[4096];
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	for (int i = 0; i < 2; i++)
		if ((size_t)snprintf(f, sizeof f, "%s/%s", path, i ? "lock" : "control") < sizeof f &&
		    access(f, F_OK) == 0)
			return 1;
	return 0;
}

/* dir holds name (any kind of file). */
static int holds(const char *dir, const char *name)
{
	char p[4096];

	return (size_t)snprintf(p, sizeof p, "%s/%s", dir, name) < sizeof p && access(p, F_OK) == 0;
}

/* dir, neither a queue nor a directory of segments: say what it is. */
static int not_readable_dir(struct chr_source *s, const char *dir)
{
	static const char *const roots[] = {"v1", "raw", CHR_MANIFEST, CHR_TIER_CONF, ".staging"};
	const char *what = "an empty directory";
	char sh[512], buf[1200];
	DIR *d;
	struct dirent *de;

	SHOWN(sh, dir);
	for (size_t i = 0; i < sizeof roots / sizeof *roots; i++)
		if (holds(dir, roots[i]))
			return fail(s, CHR_EX_USAGE, "'%s' is an archive root, not a partition or a"
				    " queue (chr-tail reads an archive with --archive)", sh);
	if (holds(dir, "meta.json"))
		return fail(s, CHR_EX_DATA, "'%s': a partition without segment files (it holds"
			    " meta.json)", sh);
	if ((d = opendir(dir)) == NULL)
		return fail(s, CHR_EX_SYS, "cannot open '%s': %s", sh, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		char p[4096];

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, de->d_name) < sizeof p &&
		    stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			char shp[512];

			what = "a directory of directories";
			if (!holds(p, "meta.json"))
				continue;
			snprintf(buf, sizeof buf, "a directory of partitions, such as '%s'",
				 SHOWN(shp, p));
			what = buf;
			break;
		}
		if (strcmp(what, "an empty directory") != 0)
			continue;
		what = "a directory without segment files";
	}
	closedir(d);
	return fail(s, CHR_EX_USAGE, "'%s' is %s: not a queue, a partition (NNNNNNNNN.q"
		    " files) or a record file", sh, what);
}

int chr_source_add_path(struct chr_source *s, const char *path)
{
	struct stat st;
	int n;

	if (strcmp(path, "-") == 0)
		return chr_source_add_fd(s, STDIN_FILENO, "stdin");
	if (chr_is_queue(path))
		return add(s, CHR_IN_QUEUE, path, -1, 0);
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		if ((n = add_dir(s, path, 0)) < 0)
			return -1;
		return n ? 0 : not_readable_dir(s, path);
	}
	/* a file that cannot be opened is reported when its turn comes */
	return add(s, CHR_IN_FILE, path, -1, 0);
}

/* Find in in, a segment of an archive partition, the last snapshot at or
 * before ts that starts an event, and start in there. Returns 1 when
 * found, 0 when not, -1 on error. */
static int snapshot_at(struct chr_source *s, struct chr_input *in, int64_t ts)
{
	struct chr_snap at;
	int k = chr_snap_find(in->path, in->shown, ts, in->walk_from, s->snap_upto, &at, &s->e);

	s->snap_opened++;
	if (k > 0) {
		in->frame = at.frame;
		in->off = at.off;
		in->zdata = at.data;
		in->zlen = at.len;
	}
	return k;
}

/* in, a segment read for its leading DEFINE records only: a compressed
 * one's prefix that holds them is decompressed now (chr_snap_defs_prefix).
 * Returns 0, or -1. */
static int defs_prefix(struct chr_source *s, struct chr_input *in)
{
	struct chr_snap at;
	int k = chr_snap_defs_prefix(in->path, in->shown, &at, &s->e);

	if (k > 0) {
		in->zdata = at.data;
		in->zlen = at.len;
		in->frame = at.frame;
		in->off = at.off;
	}
	return k < 0 ? -1 : 0;
}

/* Drop the inputs in[first..s->n). */
static void drop_inputs(struct chr_source *s, size_t first)
{
	while (s->n > first) {
		s->n--;
		free(s->in[s->n].path);
		free(s->in[s->n].shown);
		free(s->in[s->n].zdata);
	}
}

/* in[first..s->n) are the segments of one partition: keep what a replay
 * from its last snapshot at or before ts needs, the partition's leading
 * DEFINE records and the records from that snapshot on. Returns 1 when it
 * holds such a snapshot, 0 when not (the inputs are left as they are), or
 * -1. */
static int keep_from_snapshot(struct chr_source *s, size_t first, int64_t ts)
{
	size_t j = s->n;
	int k = 0;

	/* a segment that begins after ts holds no snapshot at or before it:
	 * meta.json says so without opening it (a wrong hint only makes the
	 * search start from an earlier snapshot, which gives the same book) */
	while (j-- > first && (s->in[j].ts_min > ts || (k = snapshot_at(s, &s->in[j], ts)) == 0))
		;
	if (k <= 0)
		return k;
	if (j == first) {
		/* the first segment twice: its DEFINEs, then from the snapshot */
		if (add(s, s->in[first].kind, s->in[first].path, -1, 1) < 0)
			return -1;
		struct chr_input dup = s->in[s->n - 1];

		memmove(&s->in[first + 1], &s->in[first], (s->n - 1 - first) * sizeof dup);
		s->in[first] = dup;
		j = first + 1;
	}
	s->in[first].defs_only = 1;
	if (defs_prefix(s, &s->in[first]) < 0)
		return -1;
	s->in[j].part_first = 0;
	for (size_t i = first + 1; i < j; i++) {
		free(s->in[i].path);
		free(s->in[i].shown);
		free(s->in[i].zdata);
	}
	memmove(&s->in[first + 1], &s->in[j], (s->n - j) * sizeof *s->in);
	s->n -= j - first - 1;
	return 1;
}

/* want() of the raw search: the --symbol selection by the DEFINE's names */
static int raw_want(void *ctx, uint16_t venue_id, uint32_t market, const char *venue,
		    const char *symbol)
{
	struct chr_rawsel *x = ctx;
	int d = chr_isel_define(&x->isel, venue_id, market, venue, symbol);

	return d < 0 ? -1 : d == CHR_ISEL_YES;
}

/* in[j] of in[first..) is where a raw read starts, at offset off (frame
 * frame): drop in[first..j), and read in[j] twice, its DEFINEs before off
 * (the head), then from off (a compressed one from its frame). Returns 0,
 * or -1. */
static int raw_head(struct chr_source *s, size_t first, size_t j, uint64_t off, size_t frame)
{
	struct chr_input head;

	for (size_t i = first; i < j; i++) {
		free(s->in[i].path);
		free(s->in[i].shown);
		free(s->in[i].zdata);
	}
	memmove(&s->in[first], &s->in[j], (s->n - j) * sizeof *s->in);
	s->n -= j - first;
	if (add(s, s->in[first].kind, s->in[first].path, -1, 0) < 0)
		return -1;
	head = s->in[s->n - 1];
	memmove(&s->in[first + 1], &s->in[first], (s->n - 1 - first) * sizeof head);
	s->in[first] = head;
	s->in[first].defs_all = 1;
	s->in[first].upto = off;
	s->raw->head = first + 1;
	s->raw->from = off;
	s->in[first + 1].part_first = 0;
	if (frame > 0)
		s->in[first + 1].frame = frame;
	else
		s->in[first + 1].off = off;
	return 0;
}

/* in[first..s->n) are the segments of a venue's raw partitions in order,
 * those of in[first..last) dated at or before ts. Find each selected
 * instrument's last snapshot at or before ts (chr_snap_each_seg, from
 * in[last - 1] backwards until every instrument met has one or is known to
 * start later); read from the earliest of them, preceded by the DEFINEs
 * before it (raw_head), and pass each instrument's records from its own
 * snapshot on (raw_pass), those of an instrument with none from where the
 * read starts (s->warn is told). With no snapshot at all the inputs stay
 * as they are. Returns 0, or -1. */
static int raw_from_snapshot(struct chr_source *s, size_t first, size_t last, int64_t ts)
{
	struct chr_rawsel *x = rawsel(s);
	struct chr_snap_each each;
	struct chr_snap_inst *m = NULL;
	size_t j;
	long k = 0;
	int rc = 0;

	if (!x)
		return fail(s, CHR_EX_SYS, "out of memory");
	chr_snap_each_init(&each, ts, x->by_name ? raw_want : NULL, x);
	for (j = last; j-- > first;)
		if ((k = chr_snap_each_seg(&each, s->in[j].path, s->in[j].shown, j, &s->e)) < 0 ||
		    (k == 0 && each.inst.n > 0))
			break;
	/* the earliest snapshot: where the read starts */
	for (size_t i = 0; k >= 0 && i < each.inst.n; i++) {
		struct chr_snap_inst *in = each.inst.v[i];

		if (in->want == 1 && in->done == 1 &&
		    (!m || in->seg < m->seg || (in->seg == m->seg && in->off < m->off)))
			m = in;
	}
	j = m ? m->seg : first;
	if (k < 0 || (m && raw_head(s, first, j, m->off, m->frame) < 0))
		rc = -1;
	/* an input's index moved by first + 1 - j */
	for (size_t i = 0; i < each.inst.n && rc == 0; i++) {
		struct chr_snap_inst *in = each.inst.v[i];
		char msg[CHR_ERR_MAX], when[CHR_TIME_BUF], sh[4 * CHR_SYMBOL_MAX + 1];
		struct gate *g;

		if (in->want != 1)
			continue;
		if (m) {
			if (!(g = chr_tab_get(&x->gate, in->venue_id, in->market, NULL))) {
				rc = fail(s, CHR_EX_SYS, "out of memory");
				break;
			}
			g->want = 1;
			g->from = 1;
			g->idx = (in->done == 1 ? in->seg : m->seg) + first + 1 - j;
			g->off = in->done == 1 ? in->off : m->off;
		}
		if (in->done == 1 || !s->warn)
			continue;
		chr_time_format(when, ts);
		snprintf(msg, sizeof msg, "no snapshot of '%s' at or before %s: its book is not "
			 "known then", chr_fmt_shown(sh, sizeof sh, in->symbol), when);
		s->warn(s->warn_ctx, msg);
	}
	chr_snap_each_free(&each);
	return rc;
}



/* A date in two tiers with different segments (written in hot while a
 * colder tier held it): either copy alone is part of the date, so neither
 * is read (docs/tiers.md, "Writers and tiers"). Two copies with the same
 * segments (a move cut short) are one. Returns 0, or -1 (said in s->e). */
static int split_check(struct chr_source *s, const struct chr_archive_tiers *w, const char *venue,
		       const char *symbol, const char *stream, const char *date)
{
	char rel[512], a[PATH_MAX], b[PATH_MAX], sa[512], sb[512];
	size_t idx[2];
	int n, k;

	if ((symbol && *symbol ? snprintf(rel, sizeof rel, "v1/%s/%s/%s/%s", venue, symbol, date, stream)
			       : snprintf(rel, sizeof rel, "raw/v1/%s/%s/raw", venue, date)) >= (int)sizeof rel)
		return fail(s, CHR_EX_SYS, "archive path: %s", strerror(ENAMETOOLONG));
	if ((n = chr_archive_where(w, rel, idx, 2)) < 0)
		return fail(s, CHR_EX_SYS, "cannot look for '%s' in the tiers: %s", rel,
			    errno == EIO && *chr_s3_last_error() ? chr_s3_last_error() : strerror(errno));
	if (n < 2)
		return 0;
	if (chr_pathf(a, PATH_MAX, "%s/%s", w->t[idx[0]].root, rel) < 0 ||
	    chr_pathf(b, PATH_MAX, "%s/%s", w->t[idx[1]].root, rel) < 0)
		return fail(s, CHR_EX_SYS, "archive path: %s", strerror(ENAMETOOLONG));
	if ((k = chr_archive_same(a, b, &s->e)) != 0)
		return k < 0 ? -1 : 0;
	return fail(s, CHR_EX_DATA, "partition '%s' is in tiers %s ('%s') and %s ('%s') with "
		    "different segments: either alone is part of its date, so neither is read "
		    "(docs/tiers.md, \"Writers and tiers\")", rel, w->t[idx[0]].name,
		    chr_fmt_shown(sa, sizeof sa, a), w->t[idx[1]].name, chr_fmt_shown(sb, sizeof sb, b));
}

int chr_source_add_archive(struct chr_source *s, const char *root, const char *venue,
			   const char *symbol, const char *stream, const char *date)
{
	struct chr_archive_tiers *w;
	struct chr_tier_part *p;
	const struct chr_select *sel = s->sel;
	char inst[4096], sh[512];
	struct stat st;
	struct chr_err we;
	int found, dated = 0, rc = 0, wc;
	int from_snap = s->from_snapshot && sel && sel->ts_from != INT64_MIN;
	int raw = !symbol || !*symbol;
	size_t first, raw_first = s->n, raw_last = s->n;
	long n, start = 0;

	/* the partitions across the tiers (docs/tiers.md), and the tiers
	 * that may hold them, from one read of the manifest */
	if ((w = malloc(sizeof *w)) == NULL)
		return fail(s, CHR_EX_SYS, "%s", strerror(ENOMEM));
	wc = chr_archive_tiers_conf(w, root, &we);
	n = chr_tier_parts_with(root, venue, symbol, stream, date, &p, &found,
				wc < 0 ? NULL : chr_archive_tiers_row, w, &s->e);
	if (n < 0) {
		free(w);
		return -1;
	}
	if (wc < 0) {
		s->e = we;
		rc = -1;
	}
	if ((symbol && *symbol ? snprintf(inst, sizeof inst, "%s/v1/%s/%s", root, venue, symbol)
			       : snprintf(inst, sizeof inst, "%s/raw/v1/%s", root, venue)) >= (int)sizeof inst)
		rc = fail(s, CHR_EX_SYS, "archive path: %s", strerror(ENAMETOOLONG));
	/* --from-snapshot: the last snapshot at or before ts_from is looked
	 * for in the last partition dated at or before it, then in the ones
	 * before (a book not snapshotted since midnight); the read starts in
	 * the partition that holds it, and at the first one when none does */
	for (long i = n - 1; from_snap && !raw && rc == 0 && i >= 0; i--) {
		int64_t day = 0;
		int k;

		if ((!date && chr_date_parse(p[i].date, &day) < 0) || day > sel->ts_from)
			continue;
		first = s->n;
		if (split_check(s, w, venue, symbol, stream, p[i].date) < 0 || add_dir(s, p[i].dir, 0) < 0 ||
		    (k = keep_from_snapshot(s, first, sel->ts_from)) < 0) {
			rc = -1;
		} else if (k == 1) {
			start = i + 1;
			dated = 1;
			break;
		}
		drop_inputs(s, first);
	}
	for (long i = start; rc == 0 && i < n; i++) {
		int64_t day = 0;

		if (!date && chr_date_parse(p[i].date, &day) < 0)
			continue;	/* names that are not dates are passed over */
		dated = 1;
		/* a date holds the records with day <= ts < day + 1 day; a raw
		 * partition's date is that of its segments' first records, so
		 * its last segment may run into the next day */
		if (!date && sel && (day >= sel->ts_until ||
				     (!from_snap && !raw && sel->ts_from > INT64_MIN + CHR_DAY_NS &&
				      day + CHR_DAY_NS <= sel->ts_from)))
			continue;
		if (split_check(s, w, venue, symbol, stream, p[i].date) < 0 || add_dir(s, p[i].dir, 0) < 0)
			rc = -1;
		else if (day <= (sel ? sel->ts_from : 0))
			raw_last = s->n;
	}
	chr_tier_parts_free(p, n);
	free(w);
	/* a raw stream holds many instruments: each one's own snapshot */
	if (rc == 0 && from_snap && raw)
		rc = raw_from_snapshot(s, raw_first, raw_last, sel->ts_from);
	if (rc < 0 || dated)
		return rc;
	/* a name that does not exist: say which do */
	if (chr_catalog_missing(root, venue, symbol, stream, date, &s->e) < 0)
		return -1;
	if (date) {
		/* say what is missing where it would be written */
		if (symbol && *symbol)
			rc = chr_path_partition(inst, sizeof inst, root, venue, symbol, date, stream);
		else
			rc = snprintf(inst, sizeof inst, "%s/raw/v1/%s/%s/raw", root, venue, date) >= (int)sizeof inst ? -1 : 0;
		if (rc < 0)
			return fail(s, CHR_EX_SYS, "archive path: %s", strerror(ENAMETOOLONG));
		return fail(s, CHR_EX_SYS, "cannot open '%s': %s", SHOWN(sh, inst), strerror(ENOENT));
	}
	if (!found) {
		if (stat(inst, &st) < 0)
			return fail(s, CHR_EX_SYS, "cannot open '%s': %s", SHOWN(sh, inst), strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return fail(s, CHR_EX_SYS, "cannot open '%s': %s", SHOWN(sh, inst), strerror(ENOTDIR));
	}
	return fail(s, CHR_EX_SYS, "no '%s' partitions in '%s'", stream, SHOWN(sh, inst));
}

/* append a copy of name to v[0..*n) unless it is there; -1 out of memory */
static int add_once(char ***v, size_t *n, const char *name)
{
	char **nv;

	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], name) == 0)
			return 0;
	if (!(nv = realloc(*v, (*n + 1) * sizeof *nv)))
		return -1;
	*v = nv;
	return (nv[*n] = strdup(name)) ? (int)++*n : -1;
}

void chr_source_names_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* the symbols of c's partitions of venue and stream (NULL: any) that sel
 * selects (every one when sel is NULL), each once, sorted, onto v[0..*k)
 * (the catalog is sorted by venue and symbol). Returns how many partitions
 * matched, or -1 when out of memory. */
static long symbols_of(const struct chr_catalog *c, const char *venue, const char *stream,
		       const char *date, const struct chr_isel *sel, char ***v, size_t *k)
{
	long matched = 0;

	for (size_t j = 0; j < c->n; j++) {
		const struct chr_catalog_part *p = &c->p[j];

		if (p->raw || strcmp(p->venue, venue) != 0 || (stream && strcmp(p->stream, stream)) ||
		    (date && strcmp(p->date, date)) ||
		    (sel && chr_isel_names(sel, NULL, p->symbol) != CHR_ISEL_YES))
			continue;
		matched++;
		/* a symbol's partitions follow each other */
		if ((!*k || strcmp((*v)[*k - 1], p->symbol) != 0) && add_once(v, k, p->symbol) < 0)
			return -1;
	}
	return matched;
}

/* "no symbol matches 'X' for venue 'V' and stream 'S'; symbols: a, b"
 * into e */
static int no_match(struct chr_err *e, const struct chr_catalog *c, const char *venue,
		    const char *stream, const char *date, const char *pattern)
{
	char **v = NULL, list[CHR_ERR_MAX / 2] = "none", sh[256], shv[256];
	size_t n = 0, k = 0;

	if (symbols_of(c, venue, stream, date, NULL, &v, &n) < 0) {
		chr_source_names_free(v, n);
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	}
	for (size_t i = 0; i < n && i < 10 && k < sizeof list; i++)
		k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "",
				      chr_fmt_shown(sh, sizeof sh, v[i]));
	if (n > 10 && k < sizeof list)
		snprintf(list + k, sizeof list - k, ", ... (%zu in all)", n);
	chr_source_names_free(v, n);
	return chr_err_set(e, CHR_EX_DATA, "no symbol matches '%s' for venue '%s'%s%s%s%s%s; "
			   "symbols: %s", chr_fmt_shown(sh, sizeof sh, pattern),
			   chr_fmt_shown(shv, sizeof shv, venue), stream ? " and stream '" : "",
			   stream ? stream : "", stream ? "'" : "", date ? " on " : "", date ? date : "",
			   list);
}

long chr_source_match_symbols(const char *root, const char *venue, const char *stream,
			      const char *date, const char *const *patterns, size_t n, char ***out,
			      struct chr_err *e)
{
	struct chr_catalog c;
	char **v = NULL;
	size_t k = 0;
	int rc = 0, loaded = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		struct chr_isel sel;
		long matched;

		if (!strpbrk(patterns[i], "*?[")) {
			if (add_once(&v, &k, patterns[i]) < 0)
				rc = chr_err_set(e, CHR_EX_SYS, "out of memory");
			continue;
		}
		/* the partitions there are, across the tiers */
		if (!loaded && chr_catalog_load(&c, root, CHR_CATALOG_NAMES, NULL, NULL, e) < 0) {
			rc = -1;
			break;
		}
		loaded = 1;
		chr_isel_init(&sel);
		if (chr_isel_add_symbol(&sel, patterns[i]) < 0 ||
		    (matched = symbols_of(&c, venue, stream, date, &sel, &v, &k)) < 0)
			rc = chr_err_set(e, CHR_EX_SYS, "out of memory");
		else if (matched == 0)
			rc = no_match(e, &c, venue, stream, date, patterns[i]);
		chr_isel_free(&sel);
	}
	if (loaded)
		chr_catalog_free(&c);
	if (rc < 0) {
		chr_source_names_free(v, k);
		return -1;
	}
	*out = v;
	return (long)k;
}

/* 1 when the segment whose header is h holds no record the selection can
 * match. Only a valid sealed header is trusted; a bad one is left for the
 * reader to report. */
static int prunable(const struct chr_select *sel, const struct chr_seg *h)
{
	if (sel == NULL || chr_seg_check(h) != NULL || !(h->flags & CHR_SEG_SEALED))
		return 0;
	if (h->count == 0)
		return 1;
	if (h->ts_max < sel->ts_from || (h->ts_min >= sel->ts_until && sel->ts_until != INT64_MAX))
		return 1;
	if (h->base_seq + h->count <= sel->seq_from ||
	    (h->base_seq >= sel->seq_until && sel->seq_until != UINT64_MAX))
		return 1;
	return 0;
}

/* Open the queue of in where the options and the selection say. */
static int open_queue(struct chr_source *s, const struct chr_input *in)
{
	struct chr_queue_from from = {
		.end = s->from_end,
		.seq = s->from_seq,
		.exact = s->exact,
		.ts = s->sel ? s->sel->ts_from : INT64_MIN,
		.seq_min = s->sel ? s->sel->seq_from : 0,
	};

	if (chr_reader_open_queue(&s->rd, in->path, in->shown, &from, s->follow, &s->e) < 0) {
		chr_reader_free(&s->rd);
		return -1;
	}
	s->rd.spin_us = s->spin_us;
	s->repeats = !s->keep_repeats;
	s->open = 1;
	return 1;
}

/* Open the compressed segment of in, pruned as a segment file is. */
static int open_zsq(struct chr_source *s, struct chr_input *in)
{
	struct chr_zsq *z = chr_zsq_open(in->path, s->e.msg, sizeof s->e.msg, &s->e.status);
	const struct chr_zsq_frame *f;
	size_t n;
	int k;

	if (!z)
		return -1;
	f = chr_zsq_frames(z, &n);
	if (in->frame >= n) {
		chr_zsq_close(z);
		return fail(s, CHR_EX_DATA, "%s: no frame %zu (it has %zu)", in->shown, in->frame, n);
	}
	if (in->kind == CHR_IN_SEG && prunable(s->sel, chr_zsq_seg(z))) {
		s->pruned++;
		if (!in->part_first) {
			chr_zsq_close(z);
			return 1;
		}
		s->defs_only = 1;
	}
	k = in->zdata ? chr_reader_init_zsq_data(&s->rd, z, in->frame, in->zdata, in->zlen,
						 in->off - f[in->frame].uoff, in->shown)
		      : chr_reader_init_zsq(&s->rd, z, in->frame, in->shown);
	s->rd.own = 1;
	if (k < 0) {
		int en = errno;

		chr_reader_free(&s->rd);	/* and z */
		if (en == EINVAL)	/* a part of a frame that is not one */
			return fail(s, CHR_EX_DATA, "%s: frame %zu: the part to read (from byte %"
				    PRIu64 ") is not within the frame", in->shown, in->frame,
				    in->off);
		return fail(s, CHR_EX_SYS, "out of memory");
	}
	s->open = 1;
	s->repeats = !s->keep_repeats;
	free(in->zdata);
	in->zdata = NULL;
	s->defs_only |= in->defs_only;
	return 1;
}

/* Open in[cur]. Returns 1 when it is open (or to be skipped: s->open
 * stays 0), -1 on error. */
static int open_cur(struct chr_source *s)
{
	struct chr_input *in = &s->in[s->cur];
	struct chr_seg h;
	struct stat st;
	int fd;
	ssize_t k;

	if (in->kind == CHR_IN_FD) {
		if (chr_reader_init(&s->rd, in->fd, in->shown) < 0)
			return fail(s, CHR_EX_SYS, "out of memory");
		s->open = 1;
		return 1;
	}
	if (in->kind == CHR_IN_QUEUE)
		return open_queue(s, in);
	if (chr_s3_is_url(in->path))	/* an object-storage tier's segments are compressed */
		return open_zsq(s, in);
	fd = open(in->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(s, CHR_EX_SYS, "cannot open '%s': %s", in->shown, strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return fail(s, CHR_EX_SYS, "cannot read '%s': %s", in->shown, strerror(EISDIR));
	}
	if (chr_zsq_is_zstd(fd) || in->frame > 0) {
		close(fd);
		return open_zsq(s, in);
	}
	k = pread(fd, &h, sizeof h, 0);
	if (k == (ssize_t)sizeof h && h.magic == CHR_SEG_MAGIC && chr_seg_check(&h) == NULL &&
	    (h.flags & CHR_SEG_SEALED)) {
		uint32_t word = 1;

		if (in->kind == CHR_IN_SEG && prunable(s->sel, &h)) {
			s->pruned++;
			if (!in->part_first) {
				close(fd);
				return 1;
			}
			s->defs_only = 1;
		}
		/* a sealed queue segment keeps its preallocated size: its
		 * records end at `end`, where unwritten (zero) space begins */
		if (h.end >= sizeof h && (uint64_t)st.st_size > h.end &&
		    pread(fd, &word, sizeof word, (off_t)h.end) == (ssize_t)sizeof word && word == 0)
			s->limit = h.end;
		/* segments of a queue (the raw archive) are read as the queue is */
		s->repeats = !s->keep_repeats;
	}
	if (in->off && lseek(fd, (off_t)in->off, SEEK_SET) < 0) {
		k = fail(s, CHR_EX_SYS, "cannot seek in '%s': %s", in->shown, strerror(errno));
		close(fd);
		return (int)k;
	}
	k = chr_reader_init(&s->rd, fd, in->shown);
	s->rd.own = 1;
	if (k < 0) {
		chr_reader_free(&s->rd);	/* and fd */
		return fail(s, CHR_EX_SYS, "out of memory");
	}
	s->open = 1;
	s->rd.off = in->off;
	s->defs_only |= in->defs_only;
	/* read for its leading DEFINEs only: they are in its first bytes, so
	 * the reader reads DEFS_READ at a time, not its whole buffer (a
	 * larger record still grows it: chr_reader_room) */
	if (s->defs_only && s->rd.cap > DEFS_READ)
		s->rd.cap = DEFS_READ;
	return 1;
}

/* 1 when rec, a DEFINE repeat, repeats the DEFINE last passed for its
 * instrument; else 0, and rec is the one passed (out of memory, repeats
 * are passed again, which is harmless). */
static int def_seen(struct chr_source *s, const struct chr_rec *rec)
{
	uint32_t crc = chr_crc32c(0, chr_rec_payload(rec), chr_rec_payload_len(rec));
	int fresh;
	uint32_t *seen = chr_tab_get(&s->seen, rec->venue, rec->market, &fresh);

	if (!seen)
		return 0;
	if (!fresh && (rec->flags & CHR_F_REPEAT) && *seen == crc)
		return 1;
	*seen = crc;
	return 0;
}

/* chr_source_next without a raw read's selection */
static int next_rec(struct chr_source *s, const struct chr_rec **rec)
{
	while (s->cur < s->n) {
		int k;

		if (!s->open) {
			if (open_cur(s) < 0)
				return -1;
			if (!s->open) {
				s->cur++;
				continue;
			}
			if (s->in[s->cur].upto)
				s->limit = s->in[s->cur].upto;
			chr_reader_set_flush(&s->rd, s->flush, s->flush_arg);
		}
		if (s->limit && s->rd.off >= s->limit)
			k = 0;
		else
			k = chr_reader_next(&s->rd, rec);
		if (k > 0 && s->defs_only && (*rec)->type != CHR_DEFINE)
			k = 0;
		if (k == 1 && s->repeats && (*rec)->type == CHR_DEFINE && def_seen(s, *rec))
			continue;
		if (k > 0)
			return k;
		if (k < 0) {
			s->e = s->rd.e;
			return -1;
		}
		close_cur(s);
		s->cur++;
	}
	return 0;
}

/* 1 when name is an item of list ("a, b, c") */
static int listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ','))
			return 1;
	return 0;
}

/* 1 when rec, of a raw read, is passed: the DEFINEs and records of the
 * selected instruments (a record before its instrument's snapshot is not,
 * nor anything but a DEFINE in a head input, nor a repeat of a DEFINE
 * passed), and records of no instrument. -1 when out of memory, or a
 * DEFINE's names are bad (s->e). */
static int raw_pass(struct chr_source *s, const struct chr_rec *rec)
{
	struct chr_rawsel *x = s->raw;
	const struct chr_input *in = &s->in[s->cur];
	struct gate *g;
	int fresh;

	if (in->defs_all && rec->type != CHR_DEFINE)
		return 0;
	if (rec->venue == 0 && rec->market == 0)
		return 1;
	if (!(g = chr_tab_get(&x->gate, rec->venue, rec->market, &fresh)))
		return fail(s, CHR_EX_SYS, "out of memory");
	if (fresh)
		g->want = -1;
	if (rec->type == CHR_DEFINE) {
		char venue[CHR_VENUE_MAX + 1], symbol[CHR_SYMBOL_MAX + 1];
		const char *bad = chr_define_names(chr_rec_payload(rec), venue, symbol);

		if (bad)
			return fail(s, CHR_EX_DATA, "%s: byte %" PRIu64 ": DEFINE %s", in->shown,
				    s->rd.rec_off, bad);
		if (!listed(x->seen, symbol) && strlen(x->seen) + strlen(symbol) + 8 < sizeof x->seen)
			snprintf(x->seen + strlen(x->seen), sizeof x->seen - strlen(x->seen), "%s%s",
				 *x->seen ? ", " : "", symbol);
		if (x->head && s->cur == x->head && s->rd.rec_off < x->from)
			return 0;	/* passed by the head already */
		g->want = chr_isel_names(&x->isel, venue, symbol) == CHR_ISEL_YES;
		/* the same matcher as chr_isel's */
		for (size_t i = 0; g->want && i < x->npat; i++)
			x->hit[i] |= fnmatch(x->pat[i], symbol, 0) == 0;
		/* next_rec left out the repeats already when s->repeats */
		return g->want && (s->repeats || !def_seen(s, rec));
	}
	if (g->want < 0)
		g->want = !x->by_name;	/* no name: selected only by no selection */
	if (!g->want)
		return 0;
	return !g->from || s->cur > g->idx || (s->cur == g->idx && s->rd.rec_off >= g->off);
}

int chr_source_next(struct chr_source *s, const struct chr_rec **rec)
{
	int k;

	if (!s->raw)
		return next_rec(s, rec);
	while ((k = next_rec(s, rec)) == 1 && (k = raw_pass(s, *rec)) == 0)
		;
	return k;
}

int chr_source_wait(struct chr_source *s, int timeout_ms)
{
	return s->open ? chr_reader_wait(&s->rd, timeout_ms) : 1;
}

void chr_source_set_flush(struct chr_source *s, int (*flush)(void *), void *arg)
{
	s->flush = flush;
	s->flush_arg = arg;
	if (s->open)
		chr_reader_set_flush(&s->rd, flush, arg);
}

int chr_source_may_block(const struct chr_source *s)
{
	return s->open && chr_reader_may_block(&s->rd);
}
