/* rawarch.c - the raw archive: sealed queue segments checked, copied or
 * compressed, and published with their partition's meta.json under the
 * archive lock (docs/archive.md, "The raw archive"). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "archive.h"
#include "err.h"
#include "path.h"
#include "queue.h"
#include "rawarch.h"
#include "zsq.h"

int chr_raw_path(char *buf, size_t n, const char *root, const char *venue, const char *date)
{
	int k = snprintf(buf, n, "%s/raw/v1/%s/%s/raw", root, venue, date);

	if (k < 0 || (size_t)k >= n) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* ---- segments ------------------------------------------------------------- */

int chr_rawseg_check(const void *seg, size_t len, uint64_t id, const char *name,
		     struct chr_err *e)
{
	const unsigned char *b = seg;
	struct chr_seg h;
	const char *why;
	uint64_t pos = sizeof h, k = 0;
	int64_t lo = 0, hi = 0;

	if (len < sizeof h)
		return chr_err_set(e, CHR_EX_DATA, "%s: byte 0: truncated segment header", name);
	memcpy(&h, b, sizeof h);
	if ((why = chr_seg_check(&h)) != NULL)
		return chr_err_set(e, CHR_EX_DATA, "%s: byte 0: %s", name, why);
	if (!(h.flags & CHR_SEG_SEALED) || h.id != id || h.end < sizeof h || h.end % CHR_ALIGN ||
	    h.end > len)
		return chr_err_set(e, CHR_EX_DATA, "%s: byte 0: %s", name,
		    !(h.flags & CHR_SEG_SEALED) ? "segment is not sealed" :
		    h.id != id ? "segment header names another id" : "bad segment end");
	while (pos < h.end) {
		const struct chr_rec *r = (const struct chr_rec *)(b + pos);

		if (h.end - pos < CHR_HDR_SIZE || r->len < CHR_HDR_SIZE || r->len > CHR_REC_MAX ||
		    chr_rec_span(r->len) > h.end - pos)
			return chr_err_set(e, CHR_EX_DATA, "%s: byte %" PRIu64 ": %s", name, pos,
			    r->len == 0 || h.end - pos < CHR_HDR_SIZE ?
			    "unwritten space before the end of a sealed segment" :
			    "record length runs past the segment's end");
		if ((why = chr_rec_check(r)) != NULL)
			return chr_err_set(e, CHR_EX_DATA, "%s: byte %" PRIu64 ": %s", name, pos, why);
		if (r->seq != h.base_seq + k)
			return chr_err_set(e, CHR_EX_DATA, "%s: byte %" PRIu64 ": seq %" PRIu64
			    " where %" PRIu64 " was expected", name, pos, r->seq, h.base_seq + k);
		if (k == 0 || r->ts < lo)
			lo = r->ts;
		if (k == 0 || r->ts > hi)
			hi = r->ts;
		k++;
		pos += chr_rec_span(r->len);
	}
	if (k != h.count || lo != h.ts_min || hi != h.ts_max)
		return chr_err_set(e, CHR_EX_DATA, "%s: byte 0: the header's %s does not match"
		    " its records", name, k != h.count ? "count" : "time range");
	return 0;
}

static int is_seg_name(const char *s, uint64_t *id)
{
	for (int i = 0; i < 9; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	if (strcmp(s + 9, ".q") != 0)
		return 0;
	*id = strtoull(s, NULL, 10);
	return 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

ssize_t chr_qseg_list(const char *dir, uint64_t **ids)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint64_t *v = NULL, id;
	size_t n = 0, cap = 0;

	*ids = NULL;
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (!is_seg_name(e->d_name, &id))
			continue;
		if (n == cap) {
			uint64_t *nv = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof *v);

			if (nv == NULL) {
				free(v);
				closedir(d);
				errno = ENOMEM;
				return -1;
			}
			v = nv;
		}
		v[n++] = id;
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof *v, cmp_u64);
	*ids = v;
	return (ssize_t)n;
}

int chr_qseg_present(const char *dir, uint64_t id)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/%09" PRIu64 ".q", dir, id);
	return access(path, F_OK) == 0;
}

void chr_qseg_unmap(struct chr_qseg *q)
{
	if (q->base != NULL)
		munmap((void *)q->base, q->size);
	q->base = NULL;
	q->size = 0;
}

int chr_qseg_map(struct chr_qseg *q, const char *dir, uint64_t id, struct chr_err *e)
{
	struct stat st;
	const char *why;
	uint16_t flags;
	void *p;
	int fd;

	memset(q, 0, sizeof *q);
	q->id = id;
	if (snprintf(q->path, sizeof q->path, "%s/%09" PRIu64 ".q", dir, id) >= (int)sizeof q->path) {
		errno = ENAMETOOLONG;
		return chr_err_sys(e, "'%s'", dir);
	}
	fd = open(q->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int en = errno;

		if (fd >= 0)
			close(fd);
		errno = en;
		return chr_err_sys(e, "cannot open '%s'", q->path);
	}
	if (st.st_size < (off_t)sizeof(struct chr_seg)) {
		close(fd);
		return 0;	/* being created */
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return chr_err_sys(e, "cannot map '%s'", q->path);
	q->base = p;
	q->size = (size_t)st.st_size;
	q->mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	/* the writer stores SEALED last (release): what it covers comes after */
	flags = __atomic_load_n(&((const struct chr_seg *)p)->flags, __ATOMIC_ACQUIRE);
	memcpy(&q->h, p, sizeof q->h);
	why = chr_seg_check(&q->h);
	if (why == NULL && !(flags & CHR_SEG_SEALED) && q->h.id == id) {
		chr_qseg_unmap(q);
		/* the current segment or a spare, unless a later one is in use */
		if (q->h.base_seq == CHR_QUEUE_NO_SEQ)
			return 0;
		return chr_queue_unsealed_check(dir, id, e) == 0 ? 0 : -1;
	}
	if (why == NULL && !(flags & CHR_SEG_SEALED))
		why = "segment header names another id";	/* checked below when sealed */
	if (why == NULL && q->h.base_seq == CHR_QUEUE_NO_SEQ) {
		chr_qseg_unmap(q);
		return 0;	/* a spare */
	}
	if (why == NULL && q->h.id != id)
		why = "segment header names another id";
	if (why == NULL && (q->h.end < sizeof q->h || q->h.end > q->size))
		why = "bad segment end";
	if (why != NULL) {
		chr_err_set(e, CHR_EX_DATA, "%s: byte 0: %s", q->path, why);
		chr_qseg_unmap(q);
		errno = EPROTO;
		return -1;
	}
	return 1;
}

/* ---- the raw archiver ------------------------------------------------------ */

struct chr_sealer {
	char root[PATH_MAX];
	char venue[CHR_RAW_NAME_MAX + 1];
	char stage[PATH_MAX];		/* ROOT/.staging/<pid>-XXXXXX, ours */
	int stage_fd;			/* holds its flock */
	struct chr_sealer_opts o;
	char (*seen)[11];		/* dates whose partition this run saw in ROOT */
	size_t nseen;
	unsigned long nstaged;		/* names of staged files */
};

struct chr_sealer *chr_sealer_open(const char *root, const char *venue,
				   const struct chr_sealer_opts *o, struct chr_err *e)
{
	struct chr_sealer *s;
	int lk;

	if (strlen(root) == 0 || strlen(root) > PATH_MAX - 1024 || chr_name_check(venue)) {
		chr_err_set(e, CHR_EX_USAGE, "archive root '%s' or venue '%s': bad name", root,
			    venue);
		return NULL;
	}
	s = calloc(1, sizeof *s);
	if (s == NULL) {
		chr_err_set(e, CHR_EX_SYS, "%s", strerror(errno));
		return NULL;
	}
	s->stage_fd = -1;
	strcpy(s->root, root);
	strcpy(s->venue, venue);
	s->o = *o;
	if (chr_mkdirs(root) < 0) {
		chr_err_sys(e, "cannot create '%s'", root);
		free(s);
		return NULL;
	}
	lk = chr_archive_lock(root);
	if (lk < 0) {
		chr_err_sys(e, "cannot lock '%s/.staging/lock'", root);
		free(s);
		return NULL;
	}
	/* stray temp files of dead runs go first */
	if (chr_staging_clean(root, o->warn, o->warn_ctx, e) < 0) {
		if (e != NULL)
			e->status = CHR_EX_SYS;
		close(lk);
		free(s);
		return NULL;
	}
	s->stage_fd = chr_staging_make(root, s->stage);
	close(lk);
	if (s->stage_fd < 0) {
		chr_err_sys(e, "cannot make a staging directory in '%s/.staging'", root);
		free(s);
		return NULL;
	}
	return s;
}

void chr_sealer_close(struct chr_sealer *s)
{
	if (s == NULL)
		return;
	chr_remove_tree(s->stage);
	if (s->stage_fd >= 0)
		close(s->stage_fd);
	free(s->seen);
	free(s);
}

static int seen(const struct chr_sealer *s, const char *date)
{
	for (size_t i = 0; i < s->nseen; i++)
		if (strcmp(s->seen[i], date) == 0)
			return 1;
	return 0;
}

static void see(struct chr_sealer *s, const char *date)
{
	char (*v)[11];

	if (seen(s, date) || (v = realloc(s->seen, (s->nseen + 1) * sizeof *v)) == NULL)
		return;	/* out of memory: only a check is lost */
	s->seen = v;
	strcpy(v[s->nseen++], date);
}

/* The colder tier that holds the partition of date (chr-tier.conf's or
 * the manifest's: chr_archive_tiers): its name into tier (65 bytes) and
 * the partition directory into dir (PATH_MAX bytes). Returns 1 when one
 * does, 0 when none, -1 with e. */
static int other_tier(const struct chr_sealer *s, const char *date, char *tier, char *dir,
		      struct chr_err *e)
{
	struct chr_archive_tiers *w = malloc(sizeof *w);
	char rel[PATH_MAX];
	size_t idx[2];
	int n, found = 0;

	if (w == NULL)
		return chr_err_sys(e, "cannot look for the tiers of '%s'", s->root);
	if (chr_archive_tiers(w, s->root, s->venue, NULL, "raw", e) < 0) {
		free(w);
		return -1;
	}
	if (chr_pathf(rel, PATH_MAX, "raw/v1/%s/%s/raw", s->venue, date) < 0 ||
	    (n = chr_archive_where(w, rel, idx, 2)) < 0) {
		free(w);
		return chr_err_sys(e, "cannot look for 'raw/v1/%s/%s/raw' in the tiers", s->venue, date);
	}
	for (int i = 0; i < n && !found; i++)
		if (idx[i] != 0 && chr_pathf(dir, PATH_MAX, "%s/%s", w->t[idx[i]].root, rel) == 0) {
			snprintf(tier, 65, "%s", w->t[idx[i]].name);
			found = 1;
		}
	free(w);
	return found;
}

/* Write the bytes of q (to its end), or their compression, to path and
 * fsync it; fill the file's size and checksum into seg. */
static int stage_file(struct chr_sealer *s, const struct chr_qseg *q, const char *path,
		      struct chr_rawseg *seg, struct chr_err *e)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);

	if (fd < 0)
		return chr_err_sys(e, "cannot create '%s'", path);
	if (s->o.zstd) {
		char zerr[CHR_ERR_MAX];
		int status;

		if (chr_zsq_write(fd, q->path, q->base, q->h.end, s->o.level, zerr, sizeof zerr,
				  &status) < 0) {
			close(fd);
			return chr_err_set(e, status, "%s", zerr);
		}
	} else if (chr_write_all(fd, q->base, q->h.end) < 0) {
		chr_err_sys(e, "cannot write '%s'", path);
		close(fd);
		return -1;
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		return chr_err_sys(e, "cannot write '%s'", path);
	if (chr_file_xxh128(path, seg->checksum, &seg->bytes) < 0)
		return chr_err_sys(e, "cannot read '%s'", path);
	/* a plain copy is the segment: its bytes must read back the same */
	if (!s->o.zstd && (seg->bytes != seg->raw_bytes ||
			   strcmp(seg->checksum, seg->raw_checksum) != 0))
		return chr_err_set(e, CHR_EX_SYS, "'%s': the copy does not read back as written",
				   path);
	return 0;
}

/* Compare the file at path (compressed or not) with the segment seg
 * describes (raw_bytes, raw_checksum); on a match fill its bytes and
 * checksum into seg. Returns 0 when it holds the same bytes, or -1 with e
 * (CHR_EX_DATA when it does not, CHR_EX_SYS on a system error). */
static int verify(const char *path, int compressed, struct chr_rawseg *seg, struct chr_err *e)
{
	char sum[48];
	uint64_t size;

	if (chr_file_xxh128(path, seg->checksum, &seg->bytes) < 0)
		return chr_err_sys(e, "cannot read '%s'", path);
	if (!compressed) {
		strcpy(sum, seg->checksum);
		size = seg->bytes;
	} else if (chr_zsq_xxh128(path, sum, &size, e) < 0) {
		if (e != NULL && e->status != CHR_EX_DATA)
			e->status = CHR_EX_SYS;
		return -1;
	}
	if (size != seg->raw_bytes || strcmp(sum, seg->raw_checksum) != 0)
		return chr_err_set(e, CHR_EX_DATA, "'%s' holds other bytes than the segment (%"
		    PRIu64 " bytes, %s; the segment: %" PRIu64 " bytes, %s)", path, size, sum,
		    seg->raw_bytes, seg->raw_checksum);
	return 0;
}

/* meta.json already lists seg's id: it must be the same segment. */
static int listed(const struct chr_rawseg *have, const struct chr_rawseg *seg, const char *dir,
		  struct chr_err *e)
{
	if (have->base_seq == seg->base_seq && have->count == seg->count &&
	    have->raw_bytes == seg->raw_bytes && strcmp(have->raw_checksum, seg->raw_checksum) == 0)
		return 0;
	return chr_err_set(e, CHR_EX_DATA, "'%s/meta.json' lists another segment %09" PRIu64
	    " (base_seq %" PRIu64 ", %s) than the queue's (base_seq %" PRIu64 ", %s)", dir,
	    seg->id, have->base_seq, have->raw_checksum, seg->base_seq, seg->raw_checksum);
}

/* Write meta.json text for m to ROOT/.staging/... and rename it to
 * dir/meta.json (or, new, into the staged partition dir), synced. */
static int put_meta(struct chr_sealer *s, struct chr_rawmeta *m, const char *dir,
		    struct chr_err *e)
{
	char tmp[PATH_MAX], dst[PATH_MAX], *text;
	struct timespec now;
	int rc;

	clock_gettime(CLOCK_REALTIME, &now);
	{
		char t[CHR_TIME_BUF];

		/* to the second, as the import ledger's import_time */
		chr_time_format(t, (int64_t)now.tv_sec * 1000000000);
		memcpy(t + 19, "Z", 2);
		strcpy(m->ingest_time, t);
	}
	text = chr_rawmeta_dump(m);
	if (text == NULL)
		return chr_err_set(e, CHR_EX_SYS, "%s", strerror(ENOMEM));
	rc = chr_pathf(tmp, PATH_MAX, "%s/meta.json", s->stage) < 0 || chr_pathf(dst, PATH_MAX, "%s/meta.json", dir) < 0 ||
	     chr_publish_file(tmp, text, strlen(text)) < 0 || rename(tmp, dst) < 0 ||
	     chr_fsync_dir(dir) < 0 ? -1 : 0;
	if (rc < 0) {
		chr_err_sys(e, "cannot write '%s/meta.json'", dir);
		unlink(tmp);
	}
	free(text);
	return rc;
}

/* 1 when path exists, 0 when not, -1 with errno. */
static int exists(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

int chr_sealer_put(struct chr_sealer *s, const struct chr_qseg *q, struct chr_seal_result *res,
		   struct chr_err *e)
{
	struct chr_rawseg *seg = &res->seg;
	struct chr_rawmeta m;
	char part[PATH_MAX], file[32], alt[32], fpath[PATH_MAX], apath[PATH_MAX];
	char staged[PATH_MAX], where[PATH_MAX], date[11], tier[65];
	const struct chr_rawseg *have;
	int lk = -1, rc = -1, have_file = 0, have_alt = 0, adopt = 0, k;

	memset(res, 0, sizeof *res);
	memset(&m, 0, sizeof m);
	staged[0] = '\0';
	if (chr_rawseg_check(q->base, q->size, q->id, q->path, e) < 0)
		return -1;
	seg->id = q->h.id;
	seg->base_seq = q->h.base_seq;
	seg->count = q->h.count;
	seg->ts_min = q->h.ts_min;
	seg->ts_max = q->h.ts_max;
	seg->raw_bytes = q->h.end;
	seg->compressed = s->o.zstd;
	chr_mem_xxh128(q->base, q->h.end, seg->raw_checksum);
	chr_date_format(date, q->h.count ? q->h.ts_min : q->mtime);
	snprintf(file, sizeof file, "%09" PRIu64 ".q%s", seg->id, s->o.zstd ? ".zst" : "");
	snprintf(alt, sizeof alt, "%09" PRIu64 ".q%s", seg->id, s->o.zstd ? "" : ".zst");
	snprintf(res->rel, sizeof res->rel, "raw/v1/%s/%s/raw/%s", s->venue, date, file);
	if (chr_raw_path(part, sizeof part, s->root, s->venue, date) < 0 ||
	    chr_pathf(fpath, PATH_MAX, "%s/%s", part, file) < 0 || chr_pathf(apath, PATH_MAX, "%s/%s", part, alt) < 0)
		return chr_err_sys(e, "'%s'", s->root);

	/* Before any work, without the lock: is it there already? The
	 * answer is checked again under the lock. */
	if (chr_rawmeta_load(part, &m, e) == 0) {
		if ((have = chr_rawmeta_find(&m, seg->id)) != NULL) {
			rc = listed(have, seg, part, e);
			*seg = *have;
			res->action = CHR_SEAL_PRESENT;
			see(s, date);
			goto out;
		}
	} else if (errno != ENOENT && errno != ENOTDIR) {
		if (e != NULL)
			e->status = errno == EPROTO ? CHR_EX_DATA : CHR_EX_SYS;
		goto out;
	}
	chr_rawmeta_free(&m);
	if ((have_file = exists(fpath)) < 0 || (have_alt = exists(apath)) < 0) {
		chr_err_sys(e, "cannot look at '%s'", part);
		goto out;
	}
	if (!have_file && !have_alt) {
		if (chr_pathf(staged, PATH_MAX, "%s/%lu-%s", s->stage, s->nstaged++, file) < 0) {
			chr_err_sys(e, "'%s'", s->stage);
			goto out;
		}
		if (stage_file(s, q, staged, seg, e) < 0)
			goto out;
	}

	lk = chr_archive_lock(s->root);
	if (lk < 0) {
		chr_err_sys(e, "cannot lock '%s/.staging/lock'", s->root);
		goto out;
	}
	k = exists(part);
	if (k < 0) {
		chr_err_sys(e, "cannot look at '%s'", part);
		goto out;
	}
	if (k == 0) {
		char pdir[PATH_MAX], parent[PATH_MAX], dst[PATH_MAX];

		/* a partition this run saw, or one another tier holds, was
		 * moved away by chr-tier: a second copy of it here would make
		 * a partition that lives in two tiers */
		if (seen(s, date) || have_file || have_alt) {
			chr_err_set(e, CHR_EX_DATA, "partition 'raw/v1/%s/%s/raw' is no longer in '%s'"
			    " (moved to another tier?); segment %09" PRIu64 " is not archived",
			    s->venue, date, s->root, seg->id);
			goto out;
		}
		if ((k = other_tier(s, date, tier, where, e)) < 0)
			goto out;
		/* a colder tier holds the date: the segment is there already
		 * (archived, then moved), or it cannot go anywhere without
		 * splitting the date between two tiers */
		if (k > 0 && chr_rawmeta_load(where, &m, e) == 0 &&
		    (have = chr_rawmeta_find(&m, seg->id)) != NULL) {
			rc = listed(have, seg, where, e);
			*seg = *have;
			res->action = CHR_SEAL_PRESENT;
			goto out;
		}
		if (k > 0) {
			chr_err_set(e, CHR_EX_DATA, "partition 'raw/v1/%s/%s/raw' lives in tier %s ('%s'),"
			    " not in '%s': segment %09" PRIu64 " is not archived; move the partition back"
			    " into '%s' (docs/tiers.md, \"Writers and tiers\")", s->venue, date, tier,
			    where, s->root, seg->id, s->root);
			goto out;
		}
		/* a new partition comes whole: its directory, segment and
		 * meta.json staged, then renamed into place */
		if (chr_pathf(pdir, PATH_MAX, "%s/p%lu", s->stage, s->nstaged++) < 0 || mkdir(pdir, 0777) < 0 ||
		    chr_pathf(dst, PATH_MAX, "%s/%s", pdir, file) < 0 || rename(staged, dst) < 0) {
			chr_err_sys(e, "cannot stage '%s'", res->rel);
			goto out;
		}
		strcpy(staged, dst);
		strcpy(m.venue, s->venue);
		strcpy(m.date, date);
		if (q->h.count == 0)
			m.ts_min = m.ts_max = q->mtime;
		if (chr_rawmeta_add(&m, seg) < 0 || put_meta(s, &m, pdir, e) < 0) {
			if (errno == ENOMEM)
				chr_err_set(e, CHR_EX_SYS, "%s", strerror(ENOMEM));
			goto out;
		}
		strcpy(parent, part);
		*strrchr(parent, '/') = '\0';
		if (chr_mkdirs(parent) < 0 ||
		    renameat2(AT_FDCWD, pdir, AT_FDCWD, part, RENAME_NOREPLACE) < 0 ||
		    chr_fsync_dir(parent) < 0) {
			chr_err_sys(e, "cannot publish '%s'", part);
			goto out;
		}
		staged[0] = '\0';
		res->action = CHR_SEAL_COPIED;
		see(s, date);
		rc = 0;
		goto out;
	}

	if (chr_rawmeta_load(part, &m, e) < 0) {
		if (e != NULL)
			e->status = errno == EPROTO || errno == ENOENT ? CHR_EX_DATA : CHR_EX_SYS;
		goto out;
	}
	if ((have = chr_rawmeta_find(&m, seg->id)) != NULL) {
		rc = listed(have, seg, part, e);
		*seg = *have;
		res->action = CHR_SEAL_PRESENT;
		see(s, date);
		goto out;
	}
	if ((have_file = exists(fpath)) < 0 || (have_alt = exists(apath)) < 0) {
		chr_err_sys(e, "cannot look at '%s'", part);
		goto out;
	}
	if (have_file && have_alt) {
		chr_err_set(e, CHR_EX_DATA, "'%s' and '%s' both hold segment %09" PRIu64, fpath,
			    apath, seg->id);
		goto out;
	}
	if (have_file || have_alt) {
		/* a run killed before its meta.json: the file is ours if it
		 * holds the same bytes */
		seg->compressed = have_alt ? !s->o.zstd : s->o.zstd;
		if (verify(have_alt ? apath : fpath, seg->compressed, seg, e) < 0)
			goto out;
		if (have_alt)
			snprintf(res->rel, sizeof res->rel, "raw/v1/%s/%s/raw/%s", s->venue, date, alt);
		adopt = 1;
	} else if (staged[0] == '\0') {
		/* the file we saw in place went away under us */
		chr_err_set(e, CHR_EX_SYS, "'%s' changed while it was read; try again", part);
		goto out;
	} else if (renameat2(AT_FDCWD, staged, AT_FDCWD, fpath, RENAME_NOREPLACE) < 0 ||
		   chr_fsync_dir(part) < 0) {
		chr_err_sys(e, "cannot publish '%s'", fpath);
		goto out;
	} else {
		staged[0] = '\0';
	}
	if (chr_rawmeta_add(&m, seg) < 0) {
		chr_err_set(e, CHR_EX_SYS, "%s", strerror(errno));
		goto out;
	}
	if (put_meta(s, &m, part, e) < 0)
		goto out;
	res->action = adopt ? CHR_SEAL_ADOPTED : CHR_SEAL_COPIED;
	see(s, date);
	rc = 0;
out:
	if (lk >= 0)
		close(lk);
	if (staged[0] != '\0')
		unlink(staged);
	chr_rawmeta_free(&m);
	return rc;
}
