/* archive.c - the archive writer (chr-sink --archive): records into
 * partitions by the partitioner (part.h), staged and published whole
 * (docs/archive.md), and the import ledger. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "archive.h"
#include "err.h"
#include "part.h"
#include "path.h"
#include "tm.h"

#define MAX_OPEN_SEGS 64

/* ---- the archive writer -------------------------------------------------- */

const char *chr_archive_id_check(const char *id)
{
	const char *bad = chr_name_check(id);

	return bad ? bad : strpbrk(id, "*?[]") ? "name contains a glob character (*?[])" : NULL;
}

enum { MODE_NEW, MODE_REPLACE, MODE_APPEND };
static const char *const mode_name[] = {"new", "replaced", "appended"};

struct part {
	struct chr_archive_part pub;
	char path[PATH_MAX];	/* ROOT/v1/venue/symbol/date/stream */
	const char *rel;	/* its "v1/..." part */
	char stage[PATH_MAX];
	char target[48];	/* what was in place: "new", or its meta.json's checksum */
	int64_t day;
	int mode, stream;
	struct chr_inst *inst;
	struct chr_part_defs defs;	/* its instrument's DEFINE, once written */
	struct chr_meta meta;
	struct chr_segw seg;
	int seg_open;
	uint64_t next_id, next_seq;
};

/* The partitions of an instrument (its chr_inst's user pointer). */
struct iparts {
	struct part **v;
	size_t n;
};

struct chr_archive {
	char root[PATH_MAX];
	char stage[PATH_MAX];	/* "" until the first partition */
	int stage_fd;		/* holds flock on stage while this run lives */
	struct chr_archive_opts o;
	struct chr_part part;	/* instruments, streams, days */
	struct part **parts;
	size_t nparts, partcap;
	struct chr_archive_part *pubs;
	size_t nopen;
	uint64_t archived;
	int committed;
	struct chr_staging_done done;	/* partitions of dead runs clean-up finished */
};

static int stream_index(const char *s)
{
	for (int i = 0; i < CHR_ST_APP; i++)
		if (strcmp(chr_stream_names[i], s) == 0)
			return i;
	return -1;
}

struct chr_archive *chr_archive_open(const char *root, const struct chr_archive_opts *o,
				     struct chr_err *e)
{
	struct chr_archive *a;
	struct stat st;

	e->status = CHR_EX_SYS;
	if (strlen(root) == 0 || strlen(root) > PATH_MAX - 1024) {
		chr_msg(e->msg, sizeof e->msg, "archive root '%s': bad path", root);
		e->status = CHR_EX_USAGE;
		return NULL;
	}
	if (o->stage && o->source == NULL) {
		chr_msg(e->msg, sizeof e->msg, "staging a run needs a source id");
		e->status = CHR_EX_USAGE;
		return NULL;
	}
	if (o->source && chr_archive_id_check(o->source)) {
		chr_msg(e->msg, sizeof e->msg, "source id '%s': %s", o->source, chr_archive_id_check(o->source));
		e->status = CHR_EX_USAGE;
		return NULL;
	}
	if (stat(root, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			chr_msg(e->msg, sizeof e->msg, "archive root '%s': %s", root, strerror(ENOTDIR));
			return NULL;
		}
		if (access(root, R_OK | W_OK | X_OK) < 0) {
			chr_msg(e->msg, sizeof e->msg, "archive root '%s': %s", root, strerror(errno));
			return NULL;
		}
	} else if (errno != ENOENT) {
		chr_msg(e->msg, sizeof e->msg, "archive root '%s': %s", root, strerror(errno));
		return NULL;
	}
	a = calloc(1, sizeof *a);
	if (a == NULL) {
		chr_msg(e->msg, sizeof e->msg, "%s", strerror(errno));
		return NULL;
	}
	a->stage_fd = -1;
	strcpy(a->root, root);
	a->o = *o;
	if (a->o.seg_size == 0)
		a->o.seg_size = CHR_ARCHIVE_SEG_SIZE;
	chr_part_init(&a->part, CHR_PART_VENUE | CHR_PART_SYMBOL | CHR_PART_DAYS);
	{
		char sd[PATH_MAX];

		snprintf(sd, sizeof sd, "%s/.staging", root);
		if (access(sd, F_OK) == 0) {
			int lk = chr_archive_lock(root);

			if (lk < 0) {
				chr_msg(e->msg, sizeof e->msg, "cannot lock '%s': %s", sd, strerror(errno));
				chr_archive_close(a);
				return NULL;
			}
			if (chr_staging_clean_done(root, o->warn, o->warn_ctx, &a->done, e) < 0) {
				close(lk);
				chr_archive_close(a);
				return NULL;
			}
			close(lk);
		}
	}
	return a;
}

/* This run's staging directory a->stage, made (and locked) on first use */
static int stage_dir(struct chr_archive *a, struct chr_err *e)
{
	int lk;

	if (a->stage[0])
		return 0;
	lk = chr_archive_lock(a->root);
	a->stage_fd = lk < 0 ? -1 : chr_staging_dir(a->root, NULL, a->stage);
	if (a->stage_fd < 0) {
		chr_msg(e->msg, sizeof e->msg, "cannot create a staging directory in '%s/.staging': %s", a->root,
		    strerror(errno));
		a->stage[0] = '\0';
	}
	if (lk >= 0)
		close(lk);
	return a->stage_fd < 0 ? -1 : 0;
}

static void sources_text(const struct chr_meta *m, char *buf, size_t n)
{
	size_t k = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < m->nsources && k < n; i++)
		k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? ", " : "", m->sources[i]);
	if (m->nsources == 0)
		snprintf(buf, n, "untagged");
}

/* A partition lives in one tier (docs/tiers.md, "Writers and tiers"): one
 * that a colder tier holds (chr-tier.conf's or the manifest's) is not
 * written in the hot tier, where it would become a second copy of its
 * date. Returns 0, or -1 with e naming where it lives. */
static int part_elsewhere(struct chr_archive *a, struct part *p, struct chr_err *e)
{
	struct chr_archive_tiers *w = malloc(sizeof *w);
	size_t idx[2];
	int n, rc = 0;

	if (w == NULL) {
		chr_err_set(e, CHR_EX_SYS, "%s", strerror(ENOMEM));
		return -1;
	}
	if (chr_archive_tiers(w, a->root, p->inst->venue, p->inst->symbol,
			      chr_stream_names[p->stream], e) < 0) {
		free(w);
		return -1;
	}
	if ((n = chr_archive_where(w, p->rel, idx, 2)) < 0)
		rc = chr_err_set(e, CHR_EX_SYS, "cannot look for '%s' in the tiers: %s", p->rel,
				 strerror(errno));
	for (int i = 0; i < n && rc == 0; i++)
		if (idx[i] != 0)
			rc = chr_err_set(e, CHR_EX_DATA, "partition '%s' lives in tier %s ('%s/%s'): "
					 "writing it into '%s' would split its date between two tiers; "
					 "move it back into '%s' first (docs/tiers.md, \"Writers and "
					 "tiers\")", p->rel, w->t[idx[i]].name, w->t[idx[i]].root, p->rel,
					 a->root, a->root);
	free(w);
	return rc;
}

/* Decide what to do with the partition's place in the archive: new,
 * replace (same single source) or append (--append); else refuse. */
static int part_plan(struct chr_archive *a, struct part *p, struct chr_err *e)
{
	struct chr_err e2;
	char src[256];
	struct chr_meta old;

	if (part_elsewhere(a, p, e) < 0)
		return -1;

	/* what is there first, then what it says: a change in between is
	 * seen by the check under the lock */
	if (chr_target_id(p->path, p->target) < 0) {
		chr_err_set(e, CHR_EX_SYS, "cannot read '%s': %s", p->path, strerror(errno));
		return -1;
	}
	if (strcmp(p->target, "new") == 0) {
		p->mode = MODE_NEW;
		return 0;
	}
	if (chr_meta_load(p->path, &old, &e2) < 0) {
		chr_err_set(e, errno == EPROTO || errno == ENOENT ? CHR_EX_DATA : CHR_EX_SYS,
			    "partition '%s' holds data that cannot be added to: %s", p->rel, e2.msg);
		return -1;
	}
	if (a->o.source && old.nsources == 1 && strcmp(old.sources[0], a->o.source) == 0) {
		p->mode = MODE_REPLACE;
		chr_meta_free(&old);
		return 0;
	}
	if (!a->o.append) {
		sources_text(&old, src, sizeof src);
		chr_err_set(e, CHR_EX_DATA, "partition '%s' already holds data (source %s); "
			    "--append adds this input to it, only for records it does not hold "
			    "(nothing is deduplicated)", p->rel, src);
		chr_meta_free(&old);
		return -1;
	}
	if (old.venue_id != p->inst->venue_id || old.market_id != p->inst->market_id) {
		chr_err_set(e, CHR_EX_DATA, "partition '%s' holds venue %u market %" PRIu32
			    ", the input venue %u market %" PRIu32, p->rel, old.venue_id, old.market_id,
			    p->inst->venue_id, p->inst->market_id);
		chr_meta_free(&old);
		return -1;
	}
	p->mode = MODE_APPEND;
	p->meta = old;
	return 0;
}

/* A new partition of in's stream sidx for the day of ts, planned (new,
 * replace or append) and its staging directory made. */
static struct part *part_new(struct chr_archive *a, struct chr_inst *in, int sidx, int64_t ts,
			     struct chr_err *e)
{
	struct iparts *ip = in->user;
	struct part *p;

	e->status = CHR_EX_SYS;
	if (a->nparts == a->partcap) {
		size_t cap = a->partcap ? a->partcap * 2 : 16;
		struct part **np = realloc(a->parts, cap * sizeof *np);

		if (np == NULL)
			goto nomem;
		a->parts = np;
		a->partcap = cap;
	}
	if (!ip && !(ip = in->user = calloc(1, sizeof *ip)))
		goto nomem;
	{
		struct part **np = realloc(ip->v, (ip->n + 1) * sizeof *np);

		if (np == NULL)
			goto nomem;
		ip->v = np;
	}
	p = calloc(1, sizeof *p);
	if (p == NULL)
		goto nomem;
	p->inst = in;
	p->stream = sidx;
	p->day = chr_part_day(&a->part, ts);
	chr_date_format(p->meta.date, ts);
	if (chr_path_partition(p->path, sizeof p->path, a->root, in->venue, in->symbol,
			       p->meta.date, chr_stream_names[sidx]) < 0) {
		chr_msg(e->msg, sizeof e->msg, "partition 'v1/%s/%s/%s/%s': %s", in->venue, in->symbol,
		    p->meta.date, chr_stream_names[sidx], strerror(errno));
		free(p);
		return NULL;
	}
	p->rel = p->path + strlen(a->root) + 1;
	if (part_plan(a, p, e) < 0) {
		/* its data came from a run this one's clean-up completed: never
		 * advise adding what may be that run's input again */
		if (e->status == CHR_EX_DATA && chr_staging_done_has(&a->done, p->rel))
			chr_msg(e->msg, sizeof e->msg, "partition '%s' already holds data, published by an "
			    "earlier run that failed part way and that this run completed: if this input "
			    "is that run's, it is archived already; nothing done", p->rel);
		free(p);
		return NULL;
	}
	if (p->mode != MODE_APPEND) {
		strcpy(p->meta.venue, in->venue);
		strcpy(p->meta.symbol, in->symbol);
		strcpy(p->meta.stream, chr_stream_names[sidx]);
		p->meta.venue_id = in->venue_id;
		p->meta.market_id = in->market_id;
	}
	if (a->o.source && chr_meta_add_source(&p->meta, a->o.source) < 0) {
		chr_meta_free(&p->meta);
		free(p);
		goto nomem;
	}
	if (p->mode == MODE_APPEND && chr_part_defs_mark(&p->defs, in) < 0) {
		chr_meta_free(&p->meta);
		free(p);
		goto nomem;	/* the partition has its DEFINE */
	}
	ip->v[ip->n++] = p;
	a->parts[a->nparts++] = p;
	if (stage_dir(a, e) < 0)
		return NULL;
	chr_pathf(p->stage, PATH_MAX, "%s/p%zu", a->stage, a->nparts - 1);
	if (mkdir(p->stage, 0777) < 0) {
		chr_msg(e->msg, sizeof e->msg, "cannot create '%s': %s", p->stage, strerror(errno));
		return NULL;
	}
	if (p->mode == MODE_APPEND) {
		/* the new directory holds the old segments too (hard links), so
		 * that appending is published like a replacement */
		for (size_t i = 0; i < p->meta.nsegs; i++) {
			char from[PATH_MAX], to[PATH_MAX];

			chr_pathf(from, PATH_MAX, "%s/%09" PRIu64 ".q", p->path, p->meta.segs[i].id);
			chr_pathf(to, PATH_MAX, "%s/%09" PRIu64 ".q", p->stage, p->meta.segs[i].id);
			if (link(from, to) < 0) {
				chr_msg(e->msg, sizeof e->msg, "cannot link '%s': %s", from, strerror(errno));
				return NULL;
			}
		}
		if (p->meta.nsegs > 0)
			p->next_id = p->meta.segs[p->meta.nsegs - 1].id + 1;
		p->next_seq = p->meta.records ? p->meta.last_seq + 1 : 0;
	}
	p->pub.path = p->rel;
	p->pub.venue = p->meta.venue;
	p->pub.symbol = p->meta.symbol;
	p->pub.date = p->meta.date;
	p->pub.stream = chr_stream_names[sidx];
	p->pub.action = mode_name[p->mode];
	return p;
nomem:
	chr_msg(e->msg, sizeof e->msg, "%s", strerror(ENOMEM));
	return NULL;
}

static int seg_seal(struct part *p)
{
	struct chr_seginfo *ns;

	if (!p->seg_open)
		return 0;
	if (chr_segw_seal(&p->seg) < 0)
		return -1;	/* still open: chr_archive_close drops it */
	p->seg_open = 0;
	ns = realloc(p->meta.segs, (p->meta.nsegs + 1) * sizeof *ns);
	if (ns == NULL)
		return -1;
	p->meta.segs = ns;
	ns[p->meta.nsegs++] = p->seg.info;
	p->pub.segments++;
	return 0;
}

static int part_write(struct chr_archive *a, struct part *p, const struct chr_rec *rec)
{
	size_t span = chr_rec_span(rec->len);
	int was_open;

	if (p->seg_open && p->seg.info.count > 0 && p->seg.info.bytes + span > a->o.seg_size) {
		if (seg_seal(p) < 0)
			return -1;
		a->nopen--;
	}
	if (!p->seg_open) {
		if (chr_segw_open(&p->seg, p->stage, p->next_id, p->next_seq, a->o.seg_size) < 0)
			return -1;
		p->seg_open = 1;
		p->next_id++;
		a->nopen++;
	}
	was_open = p->seg.fd >= 0;
	if (chr_segw_put(&p->seg, rec) < 0)
		return -1;
	if (!was_open && p->seg.fd >= 0 && a->nopen > MAX_OPEN_SEGS)
		for (size_t i = 0; i < a->nparts; i++)
			if (a->parts[i] != p && a->parts[i]->seg_open)
				chr_segw_close_fd(&a->parts[i]->seg);
	if (p->meta.records == 0) {
		p->meta.first_seq = p->next_seq;
		p->meta.ts_min = p->meta.ts_max = rec->ts;
	}
	if (rec->ts < p->meta.ts_min)
		p->meta.ts_min = rec->ts;
	if (rec->ts > p->meta.ts_max)
		p->meta.ts_max = rec->ts;
	if (p->pub.records == 0 || rec->ts < p->pub.ts_min)
		p->pub.ts_min = rec->ts;
	if (p->pub.records == 0 || rec->ts > p->pub.ts_max)
		p->pub.ts_max = rec->ts;
	p->meta.last_seq = p->next_seq++;
	p->meta.records++;
	p->pub.records++;
	if (chr_meta_count(&p->meta, rec->type, 1) < 0) {
		errno = EOVERFLOW;
		return -1;
	}
	return 0;
}

/* The partition of in's stream s for the day of ts: the last one, one
 * of this run, or a new one. */
static struct part *part_of(struct chr_archive *a, struct chr_inst *in, int s, int64_t ts,
			    struct chr_err *e)
{
	int64_t day = chr_part_day(&a->part, ts);
	struct part *p = chr_part_cached(in, s, day);

	if (p == NULL) {
		const struct iparts *ip = in->user;

		for (size_t i = 0; ip && i < ip->n; i++)
			if (ip->v[i]->day == day && ip->v[i]->stream == s)
				p = ip->v[i];
		if (p == NULL && (p = part_new(a, in, s, ts, e)) == NULL)
			return NULL;
		chr_part_keep(in, s, day, p);
	}
	return p;
}

int chr_archive_put(struct chr_archive *a, const struct chr_rec *rec, const char *name,
		    uint64_t off, struct chr_err *e)
{
	struct chr_inst *in;
	struct part *p;
	int s, k;

	if ((k = chr_part_take(&a->part, rec, name, off, &in, &s, e)) <= 0)
		return k;
	if ((p = part_of(a, in, s, rec->ts, e)) == NULL)
		return -1;
	if (chr_part_needs_define(&p->defs, in)) {
		/* the partition begins with its instrument's DEFINE, at the
		 * time of its first record */
		int64_t ts0 = in->def->ts;

		in->def->ts = rec->ts;
		k = part_write(a, p, in->def);
		in->def->ts = ts0;
		if (k < 0 || chr_part_defs_mark(&p->defs, in) < 0)
			goto sys;
	}
	if (part_write(a, p, rec) < 0)
		goto sys;
	a->archived++;
	return 0;
sys:
	return chr_err_set(e, CHR_EX_SYS, "cannot write to '%s': %s", p->stage, strerror(errno));
}

/* Whether the file system of dir can exchange two directories (renameat2
 * RENAME_EXCHANGE), probed on two new ones in dir. Returns 0, or -1 with
 * a message. */
static int probe_exchange(const char *dir, struct chr_err *e)
{
	char x[PATH_MAX], y[PATH_MAX];
	int rc = -1;

	if (chr_pathf(x, PATH_MAX, "%s/x", dir) < 0 || chr_pathf(y, PATH_MAX, "%s/y", dir) < 0 || mkdir(x, 0700) < 0 ||
	    mkdir(y, 0700) < 0)
		chr_msg(e->msg, sizeof e->msg, "cannot create '%s': %s", x, strerror(errno));
	else if (renameat2(AT_FDCWD, x, AT_FDCWD, y, RENAME_EXCHANGE) < 0)
		chr_msg(e->msg, sizeof e->msg, "the file system of '%s' cannot exchange directories (renameat2"
		    " RENAME_EXCHANGE: %s); replacing a partition needs Linux 3.15 or later and"
		    " ext4, xfs, btrfs or tmpfs", dir, strerror(errno));
	else
		rc = 0;
	rmdir(x);
	rmdir(y);
	return rc;
}

/* Whether the partition staged at p->stage is whole: every segment its
 * meta.json lists is there, with its size. Returns 0, or -1 with a message. */
static int staged_whole(const struct part *p, struct chr_err *e)
{
	struct chr_err e2;
	char q[PATH_MAX];
	struct chr_meta m;
	struct stat st;
	int rc = 0;

	if (chr_meta_load(p->stage, &m, &e2) < 0) {
		chr_msg(e->msg, sizeof e->msg, "staged partition '%s' is incomplete: %s", p->rel, e2.msg);
		return -1;
	}
	for (size_t i = 0; rc == 0 && i < m.nsegs; i++) {
		chr_pathf(q, PATH_MAX, "%s/%09" PRIu64 ".q", p->stage, m.segs[i].id);
		if (stat(q, &st) < 0 || (uint64_t)st.st_size != m.segs[i].bytes) {
			chr_msg(e->msg, sizeof e->msg, "staged partition '%s' is incomplete: '%s' is missing or not %"
			    PRIu64 " bytes", p->rel, q, m.segs[i].bytes);
			rc = -1;
		}
	}
	chr_meta_free(&m);
	return rc;
}

/* Publish the sealed partitions of a (its journal first), holding the
 * archive lock: steps 3 to 5 of docs/archive.md. */
static int publish_parts(struct chr_archive *a, struct chr_err *e)
{
	char path[PATH_MAX], now[48], *journal = NULL;
	size_t jn = 0;
	FILE *j = NULL;
	int rc = -1, replace = 0;

	e->status = CHR_EX_SYS;
	/* dead runs first: one that committed publishes before we look */
	if (chr_staging_clean_done(a->root, a->o.warn, a->o.warn_ctx, &a->done, e) < 0)
		return -1;
	j = open_memstream(&journal, &jn);
	if (j == NULL) {
		chr_msg(e->msg, sizeof e->msg, "%s", strerror(errno));
		return -1;
	}
	/* the places may have changed since we looked: look again, under the lock */
	for (size_t i = 0; i < a->nparts; i++) {
		struct part *p = a->parts[i];
		struct stat st;

		if (chr_target_id(p->path, now) < 0) {
			chr_msg(e->msg, sizeof e->msg, "cannot read '%s': %s", p->path, strerror(errno));
			goto out;
		}
		e->status = CHR_EX_DATA;
		if (strcmp(now, p->target) != 0) {
			chr_msg(e->msg, sizeof e->msg, "partition '%s' changed while this run wrote it", p->rel);
			goto out;
		}
		if (staged_whole(p, e) < 0)
			goto out;
		e->status = CHR_EX_SYS;
		if (lstat(p->stage, &st) < 0) {
			chr_msg(e->msg, sizeof e->msg, "cannot stat '%s': %s", p->stage, strerror(errno));
			goto out;
		}
		fprintf(j, "%s %llu %s %s\n", strrchr(p->stage, '/') + 1,
			(unsigned long long)st.st_ino, p->rel, p->target);
		replace |= p->mode != MODE_NEW;
	}
	rc = fclose(j);
	j = NULL;
	if (rc != 0) {
		chr_msg(e->msg, sizeof e->msg, "%s", strerror(ENOMEM));
		rc = -1;
		goto out;
	}
	rc = -1;
	if (replace && probe_exchange(a->stage, e) < 0)
		goto out;
	chr_pathf(path, PATH_MAX, "%s/COMMIT", a->stage);
	if (chr_publish_file(path, journal, jn) < 0) {
		chr_msg(e->msg, sizeof e->msg, "cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	/* from here on the run is committed: a crash is finished by the next run */
	for (size_t i = 0; i < a->nparts; i++) {
		struct part *p = a->parts[i];

		if (chr_publish_dir(p->stage, p->path, p->mode != MODE_NEW) < 0) {
			chr_msg(e->msg, sizeof e->msg, "cannot publish '%s': %s; this run is committed (%zu of "
			    "%zu partitions published): the next chr-sink run on '%s' publishes the rest "
			    "once that is fixed", p->path, strerror(errno), i, a->nparts, a->root);
			goto out;
		}
	}
	a->committed = 1;
	if (chr_remove_tree(a->stage) < 0) {
		chr_msg(e->msg, sizeof e->msg, "cannot remove '%s': %s", a->stage, strerror(errno));
		goto out;
	}
	a->stage[0] = '\0';
	rc = 0;
out:
	if (j)
		fclose(j);
	free(journal);
	return rc;
}

/* The totals and partitions of this run into o, with what publishing a
 * staged run needs when plan. Returns 0, or -1 when out of memory. */
static int summary(struct chr_archive *a, json_t *o, int plan)
{
	json_t *arr = json_array();
	uint64_t written = 0, segs = 0;
	int64_t lo = 0, hi = 0;
	int bad = arr == NULL;

	for (size_t i = 0; !bad && i < a->nparts; i++) {
		const struct part *p = a->parts[i];
		const struct chr_archive_part *q = &p->pub;
		json_t *e = json_object();

		bad |= e == NULL || json_array_append_new(arr, e) < 0;
		bad |= bad || chr_json_set(e, "path", json_string(q->path));
		bad |= bad || chr_json_set(e, "venue", json_string(q->venue));
		bad |= bad || chr_json_set(e, "symbol", json_string(q->symbol));
		bad |= bad || chr_json_set(e, "date", json_string(q->date));
		bad |= bad || chr_json_set(e, "stream", json_string(q->stream));
		bad |= bad || chr_json_set(e, "action", json_string(q->action));
		bad |= bad || chr_json_set(e, "records", json_integer((json_int_t)q->records));
		bad |= bad || chr_json_set(e, "segments", json_integer((json_int_t)q->segments));
		bad |= bad || chr_json_set(e, "ts_min", json_integer(q->ts_min));
		bad |= bad || chr_json_set(e, "ts_max", json_integer(q->ts_max));
		if (plan) {
			bad |= bad || chr_json_set(e, "target", json_string(p->target));
		}
		written += q->records;
		segs += q->segments;
		lo = i == 0 || q->ts_min < lo ? q->ts_min : lo;
		hi = i == 0 || q->ts_max > hi ? q->ts_max : hi;
	}
	bad |= bad || chr_json_set(o, "records", json_integer((json_int_t)a->archived));
	bad |= bad || chr_json_set(o, "records_written", json_integer((json_int_t)written));
	bad |= bad || chr_json_set(o, "skipped", json_integer((json_int_t)a->part.skipped));
	bad |= bad || chr_json_set(o, "segments", json_integer((json_int_t)segs));
	if (a->nparts > 0) {
		bad |= bad || chr_json_set(o, "ts_min", json_integer(lo));
		bad |= bad || chr_json_set(o, "ts_max", json_integer(hi));
	}
	bad |= chr_json_set(o, "partitions", arr);	/* takes arr, also on failure */
	return bad ? -1 : 0;
}

/* The summary of this run as text; NULL when out of memory */
static char *summary_text(struct chr_archive *a, int plan)
{
	json_t *o = json_object();

	if (o == NULL || summary(a, o, plan) < 0) {
		json_decref(o);
		return NULL;
	}
	return chr_json_text(o);
}

char *chr_archive_report(struct chr_archive *a)
{
	return summary_text(a, 0);
}

/* --stage: keep the sealed run as ROOT/.staging/staged-<ID>, with the plan
 * that chr_archive_publish needs, in place of an older one of that ID. */
static int stage_keep(struct chr_archive *a, struct chr_err *e)
{
	char path[PATH_MAX], staged[PATH_MAX], *plan;
	int lk, rc = -1;

	if (stage_dir(a, e) < 0)
		return -1;
	plan = summary_text(a, 1);
	chr_pathf(path, PATH_MAX, "%s/plan.json", a->stage);
	if (plan == NULL || chr_publish_file(path, plan, strlen(plan)) < 0) {
		chr_msg(e->msg, sizeof e->msg, "cannot write '%s': %s", path, strerror(plan ? errno : ENOMEM));
		free(plan);
		return -1;
	}
	free(plan);
	chr_pathf(staged, PATH_MAX, "%s/.staging/" CHR_STAGED "%s", a->root, a->o.source);
	lk = chr_archive_lock(a->root);
	if (lk < 0) {
		chr_msg(e->msg, sizeof e->msg, "cannot lock '%s/.staging': %s", a->root, strerror(errno));
		return -1;
	}
	/* the older run is renamed away before it is removed: a crash never
	 * leaves a part of it under the name --publish claims */
	if (chr_staging_discard(a->root, staged) < 0 || rename(a->stage, staged) < 0 ||
	    chr_fsync_parent(staged) < 0) {
		chr_msg(e->msg, sizeof e->msg, "cannot stage '%s': %s", staged, strerror(errno));
	} else {
		a->committed = 1;
		a->stage[0] = '\0';
		close(a->stage_fd);	/* a staged run has no owner */
		a->stage_fd = -1;
		rc = 0;
	}
	close(lk);
	return rc;
}

/* Seal, write the meta.json files, and stage or publish the run. */
static int commit(struct chr_archive *a, struct chr_err *e)
{
	char path[PATH_MAX];
	int lk, rc;

	e->status = CHR_EX_SYS;
	for (size_t i = 0; i < a->nparts; i++) {
		struct part *p = a->parts[i];
		char *text;

		if (seg_seal(p) < 0) {
			chr_msg(e->msg, sizeof e->msg, "cannot seal '%s': %s", p->seg.path, strerror(errno));
			return -1;
		}
		text = chr_meta_dump(&p->meta);
		chr_pathf(path, PATH_MAX, "%s/meta.json", p->stage);
		if (text == NULL || chr_publish_file(path, text, strlen(text)) < 0) {
			chr_msg(e->msg, sizeof e->msg, "cannot write '%s': %s", path, strerror(errno));
			free(text);
			return -1;
		}
		free(text);
	}
	if (a->o.stage)
		return stage_keep(a, e);
	if (a->nparts == 0) {
		a->committed = 1;
		return 0;
	}
	lk = chr_archive_lock(a->root);
	if (lk < 0) {
		chr_msg(e->msg, sizeof e->msg, "cannot lock '%s/.staging': %s", a->root, strerror(errno));
		return -1;
	}
	rc = publish_parts(a, e);
	close(lk);
	return rc;
}

int chr_archive_commit(struct chr_archive *a, struct chr_err *e)
{
	char msg[160];

	if (commit(a, e) < 0)
		return -1;
	if (a->part.skipped > 0 && a->o.warn) {
		snprintf(msg, sizeof msg, "%" PRIu64 " records of no archive stream (HEARTBEAT, "
			 "application types) not archived", a->part.skipped);
		a->o.warn(a->o.warn_ctx, msg);
	}
	return 0;
}

static int mode_index(const char *s)
{
	for (int i = 0; s && i < 3; i++)
		if (strcmp(mode_name[i], s) == 0)
			return i;
	return -1;
}

/* Read the plan of the claimed staged run a->stage: its partitions. */
static int plan_load(struct chr_archive *a, struct chr_err *e)
{
	char path[PATH_MAX], rel[PATH_MAX];
	const char *bad = NULL;
	json_error_t je;
	json_t *o, *arr, *pe;
	size_t i;

	chr_pathf(path, PATH_MAX, "%s/plan.json", a->stage);
	o = json_load_file(path, 0, &je);
	if (o == NULL) {
		chr_msg(e->msg, sizeof e->msg, "'%s': line %d: %s", path, je.line, je.text);
		return -1;
	}
	arr = json_object_get(o, "partitions");
	if (chr_json_u64(o, "records", &a->archived) < 0 || chr_json_u64(o, "skipped", &a->part.skipped) < 0 ||
	    !json_is_array(arr))
		bad = "totals";
	else if ((a->parts = calloc(json_array_size(arr) + 1, sizeof *a->parts)) == NULL)
		bad = "out of memory";
	json_array_foreach(arr, i, pe) {
		struct part *p;
		int sidx, mode;

		if (bad || (p = calloc(1, sizeof *p)) == NULL) {
			bad = bad ? bad : "out of memory";
			break;
		}
		a->parts[a->nparts++] = p;
		if (chr_json_str(pe, "venue", p->meta.venue, sizeof p->meta.venue) < 0 ||
		    chr_json_str(pe, "symbol", p->meta.symbol, sizeof p->meta.symbol) < 0 ||
		    chr_json_str(pe, "date", p->meta.date, sizeof p->meta.date) < 0 ||
		    chr_json_str(pe, "stream", p->meta.stream, sizeof p->meta.stream) < 0 ||
		    chr_json_str(pe, "path", rel, sizeof rel) < 0 ||
		    chr_name_check(p->meta.venue) || chr_name_check(p->meta.symbol) ||
		    chr_name_check(p->meta.date) || (sidx = stream_index(p->meta.stream)) < 0 ||
		    (mode = mode_index(json_string_value(json_object_get(pe, "action")))) < 0 ||
		    chr_json_u64(pe, "records", &p->pub.records) < 0 ||
		    chr_json_u64(pe, "segments", &p->pub.segments) < 0 ||
		    chr_json_i64(pe, "ts_min", &p->pub.ts_min) < 0 || chr_json_i64(pe, "ts_max", &p->pub.ts_max) < 0 ||
		    chr_json_str(pe, "target", p->target, sizeof p->target) < 0 ||
		    (mode == MODE_NEW) != (strcmp(p->target, "new") == 0) ||
		    chr_path_partition(p->path, sizeof p->path, a->root, p->meta.venue,
				       p->meta.symbol, p->meta.date, p->meta.stream) < 0 ||
		    strcmp(p->path + strlen(a->root) + 1, rel) != 0) {
			bad = "partitions";
			break;
		}
		p->rel = p->path + strlen(a->root) + 1;
		chr_pathf(p->stage, PATH_MAX, "%s/p%zu", a->stage, i);
		p->mode = mode;
		p->pub.path = p->rel;
		p->pub.venue = p->meta.venue;
		p->pub.symbol = p->meta.symbol;
		p->pub.date = p->meta.date;
		p->pub.stream = chr_stream_names[sidx];
		p->pub.action = mode_name[mode];
	}
	json_decref(o);
	if (bad) {
		chr_msg(e->msg, sizeof e->msg, "'%s': bad or missing %s", path, bad);
		return -1;
	}
	return 0;
}

struct chr_archive *chr_archive_publish(const char *root, const struct chr_archive_opts *o,
					struct chr_err *e)
{
	struct chr_archive_opts po = *o;
	char staged[PATH_MAX];
	struct chr_archive *a;
	int lk;

	po.stage = 0;
	if (o->source == NULL) {
		chr_err_set(e, CHR_EX_USAGE, "publishing a staged run needs its source id");
		return NULL;
	}
	a = chr_archive_open(root, &po, e);
	if (a == NULL)
		return NULL;
	e->status = CHR_EX_SYS;
	chr_pathf(staged, PATH_MAX, "%s/.staging/" CHR_STAGED "%s", a->root, o->source);
	/* claim it under the lock (not even created when there is nothing to
	 * claim): renamed to a locked directory of this run, it is cleaned up
	 * (or, once committed, finished) as any run's if we die */
	lk = access(staged, F_OK) == 0 ? chr_archive_lock(a->root) : -1;
	if (lk < 0 || (a->stage_fd = chr_lock_dir(staged)) < 0) {
		if (errno == ENOENT) {
			chr_err_set(e, CHR_EX_DATA, "no staged run of source '%s' in '%s/.staging' "
				    "(chr-sink --stage makes one)", o->source, root);
		} else {
			chr_msg(e->msg, sizeof e->msg, "cannot claim '%s': %s", staged, strerror(errno));
		}
		goto fail;
	}
	if (chr_pathf(a->stage, PATH_MAX, "%s/.staging/%ld-XXXXXX", a->root, (long)getpid()) < 0 ||
	    mkdtemp(a->stage) == NULL) {
		chr_msg(e->msg, sizeof e->msg, "cannot claim '%s': %s", staged, strerror(errno));
		a->stage[0] = '\0';
		goto fail;
	}
	if (rename(staged, a->stage) < 0 || chr_fsync_parent(a->stage) < 0) {
		chr_msg(e->msg, sizeof e->msg, "cannot claim '%s': %s", staged, strerror(errno));
		goto fail;
	}
	if (plan_load(a, e) < 0) {
		e->status = CHR_EX_DATA;
		goto fail;
	}
	if (a->nparts > 0 ? publish_parts(a, e) < 0 :
	    chr_remove_tree(a->stage) < 0) {
		if (a->nparts == 0)
			chr_msg(e->msg, sizeof e->msg, "cannot remove '%s': %s", a->stage, strerror(errno));
		goto fail;
	}
	a->committed = 1;
	a->stage[0] = '\0';
	close(lk);
	return a;
fail:
	if (lk >= 0)
		close(lk);
	chr_archive_close(a);
	return NULL;
}

const struct chr_archive_part *chr_archive_parts(struct chr_archive *a, size_t *n)
{
	free(a->pubs);
	a->pubs = calloc(a->nparts + 1, sizeof *a->pubs);
	*n = a->pubs ? a->nparts : 0;
	for (size_t i = 0; a->pubs && i < a->nparts; i++)
		a->pubs[i] = a->parts[i]->pub;
	return a->pubs;
}

int chr_archive_report_file(struct chr_archive *a, const char *path, struct chr_err *e)
{
	char *text = chr_archive_report(a);

	if (text == NULL || chr_publish_file(path, text, strlen(text)) < 0) {
		chr_err_set(e, CHR_EX_SYS, "cannot write '%s': %s", path,
			    strerror(text ? errno : ENOMEM));
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

void chr_archive_tell(struct chr_archive *a, chr_warn_fn warn, void *ctx)
{
	char msg[PATH_MAX + 128];

	for (size_t i = 0; i < a->nparts; i++) {
		const struct chr_archive_part *p = &a->parts[i]->pub;

		snprintf(msg, sizeof msg, "%s: %" PRIu64 " records, %" PRIu64 " segments (%s)",
			 p->path, p->records, p->segments, p->action);
		warn(ctx, msg);
	}
	snprintf(msg, sizeof msg, "%" PRIu64 " input records %s into %zu partitions", a->archived,
		 a->o.stage ? "staged" : "archived", a->nparts);
	warn(ctx, msg);
}

void chr_archive_totals(const struct chr_archive *a, uint64_t *archived, uint64_t *skipped)
{
	*archived = a->archived;
	*skipped = a->part.skipped;
}

/* Remove "<dir>/<venue>/<symbol>/<date>/<file>" but keep (depth counts
 * the levels above): exact names, never patterns. With keep NULL remove
 * nothing. Returns how many such files there are (keep not counted). */
static size_t ledger_prune(const char *dir, int depth, const char *file, const char *keep)
{
	char path[PATH_MAX];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	if (depth == 3) {
		if (chr_pathf(path, PATH_MAX, "%s/%s", dir, file) < 0 ||
		    (keep && strcmp(path, keep) == 0) || access(path, F_OK) < 0)
			return 0;
		if (keep && unlink(path) == 0)
			chr_fsync_dir(dir);
		return 1;
	}
	d = opendir(dir);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && chr_pathf(path, PATH_MAX, "%s/%s", dir, e->d_name) == 0)
			n += ledger_prune(path, depth + 1, file, keep);
	closedir(d);
	return n;
}

int chr_archive_ledger(struct chr_archive *a, const char *vendor, struct json_t *info,
		       struct chr_err *e)
{
	char path[PATH_MAX], dir[PATH_MAX], tmp[PATH_MAX], stamp[32], *text;
	/* an import of no records names no partition: "none" is no date */
	const struct part *p0 = a->nparts ? a->parts[0] : NULL;
	json_t *o = json_object();
	time_t now = time(NULL);
	struct tm tm;
	int bad = o == NULL, lk, synced;

	e->status = CHR_EX_SYS;
	if (a->o.source == NULL) {
		json_decref(o);
		return 1;
	}
	if (chr_pathf(path, PATH_MAX, "%s/imports/v1/%s/%s/%s/%s/%s.json", a->root, vendor,
		      p0 ? p0->meta.venue : "none", p0 ? p0->meta.symbol : "none",
		      p0 ? p0->meta.date : "none", a->o.source) < 0 ||
	    chr_pathf(tmp, PATH_MAX, "%s/.staging/%ld-ledger.json", a->root, (long)getpid()) < 0) {
		chr_msg(e->msg, sizeof e->msg, "ledger entry of '%s': %s", a->o.source, strerror(errno));
		json_decref(o);
		return -1;
	}
	/* A partition replaced though this source has no entry held only
	 * what an unfinished run of it published (killed before its entry
	 * was written): for the ledger, this import is its first, and new. */
	if (chr_pathf(dir, PATH_MAX, "%s/imports/v1/%s", a->root, vendor) == 0 &&
	    chr_pathf(tmp, PATH_MAX, "%s.json", a->o.source) == 0 && ledger_prune(dir, 0, tmp, NULL) == 0)
		for (size_t i = 0; i < a->nparts; i++)
			if (a->parts[i]->mode == MODE_REPLACE)
				a->parts[i]->pub.action = mode_name[MODE_NEW];
	if (chr_pathf(tmp, PATH_MAX, "%s/.staging/%ld-ledger.json", a->root, (long)getpid()) < 0) {
		chr_msg(e->msg, sizeof e->msg, "ledger entry of '%s': %s", a->o.source, strerror(errno));
		json_decref(o);
		return -1;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	bad |= bad || chr_json_set(o, "format", json_string("chronicle-import-ledger"));
	bad |= bad || chr_json_set(o, "version", json_integer(1));
	bad |= bad || chr_json_set(o, "vendor", json_string(vendor));
	bad |= bad || chr_json_set(o, "source", json_string(a->o.source));
	bad |= bad || chr_json_set(o, "import_time", json_string(stamp));
	bad |= bad || summary(a, o, 0);
	if (info != NULL)
		bad |= bad || chr_json_set(o, "input", json_incref(info));
	if (bad) {
		json_decref(o);
		text = NULL;
	} else {
		text = chr_json_text(o);
	}
	strcpy(dir, path);
	*strrchr(dir, '/') = '\0';
	/* the temp file lies in staging, written under the lock: a crash
	 * leaves nothing in the ledger that the next run does not remove */
	lk = text ? chr_archive_lock(a->root) : -1;
	if (lk < 0 || chr_mkdirs(dir) < 0 || chr_publish_file(tmp, text, strlen(text)) < 0 ||
	    rename(tmp, path) < 0) {
		chr_msg(e->msg, sizeof e->msg, "cannot write '%s': %s", path, strerror(text ? errno : ENOMEM));
		unlink(tmp);
		free(text);
		if (lk >= 0)
			close(lk);
		return -1;
	}
	free(text);
	/* the entry is in place: a failed sync says so, not that it is missing */
	synced = chr_fsync_dir(dir) == 0;
	if (!synced)
		chr_msg(e->msg, sizeof e->msg,
			"ledger entry '%s' is in place, but syncing its directory failed: %s; "
			"it may not survive a crash of the machine: sync the file system",
			path, strerror(errno));
	/* one entry per source id: remove one left under other names */
	if (chr_pathf(dir, PATH_MAX, "%s/imports/v1/%s", a->root, vendor) == 0 &&
	    chr_pathf(tmp, PATH_MAX, "%s.json", a->o.source) == 0)
		ledger_prune(dir, 0, tmp, path);
	close(lk);
	return synced ? 0 : -1;
}

void chr_archive_close(struct chr_archive *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->nparts; i++) {
		struct part *p = a->parts[i];

		if (p->seg_open)
			chr_segw_abort(&p->seg);
		chr_meta_free(&p->meta);
		chr_part_defs_free(&p->defs);
		free(p);
	}
	/* an uncommitted run leaves nothing behind; a committed one that failed
	 * to publish leaves its journal for the next run to finish */
	if (a->stage[0] && !a->committed) {
		char j[PATH_MAX];

		chr_pathf(j, PATH_MAX, "%s/COMMIT", a->stage);
		if (access(j, F_OK) < 0)
			chr_remove_tree(a->stage);
	}
	if (a->stage_fd >= 0)
		close(a->stage_fd);	/* a committed run's journal: cleanup finishes it */
	for (size_t i = 0; i < a->part.tab.n; i++) {
		struct iparts *ip = ((struct chr_inst *)a->part.tab.v[i])->user;

		if (ip)
			free(ip->v);
		free(ip);
	}
	chr_part_free(&a->part);
	chr_staging_done_free(&a->done);
	free(a->parts);
	free(a->pubs);
	free(a);
}

