/* archive.c - sealed archive segments, meta.json, staging and atomic
 * publication of partitions, and the archive writer (docs/archive.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <xxhash.h>

#include "archive.h"
#include "err.h"
#include "path.h"
#include "tm.h"
#include "zsq.h"

#define SEGW_BUF (256u << 10)
#define MAX_OPEN_SEGS 64
#define STAGED "staged-"	/* ROOT/.staging/staged-<ID>: a run staged by --stage */

/* ---- segment files ---------------------------------------------------- */

int chr_segw_open(struct chr_segw *w, const char *dir, uint64_t id, uint64_t base_seq)
{
	struct chr_seg *h;

	memset(w, 0, sizeof *w);
	w->fd = -1;
	if (snprintf(w->path, sizeof w->path, "%s/%09" PRIu64 ".q.tmp", dir, id) >=
	    (int)sizeof w->path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	w->cap = SEGW_BUF;
	w->buf = aligned_alloc(CHR_ALIGN, w->cap);
	if (w->buf == NULL)
		return -1;
	h = (struct chr_seg *)w->buf;
	memset(h, 0, sizeof *h);
	h->magic = CHR_SEG_MAGIC;
	h->version = CHR_VERSION;
	h->id = id;
	h->base_seq = base_seq;
	w->n = sizeof *h;
	w->info.id = id;
	w->info.base_seq = base_seq;
	w->info.bytes = sizeof *h;
	return 0;
}

static int segw_flush(struct chr_segw *w)
{
	if (w->n == 0)
		return 0;
	if (w->fd < 0) {
		w->fd = open(w->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
		if (w->fd < 0)
			return -1;
	}
	if (chr_pwrite_all(w->fd, w->buf, w->n, w->info.bytes - w->n) < 0)
		return -1;
	w->n = 0;
	return 0;
}

int chr_segw_put(struct chr_segw *w, const struct chr_rec *rec)
{
	size_t span = chr_rec_span(rec->len);
	struct chr_rec *r;

	if (w->cap - w->n < span) {
		if (segw_flush(w) < 0)
			return -1;
		if (w->cap < span) {
			unsigned char *nb = aligned_alloc(CHR_ALIGN, span);

			if (nb == NULL)
				return -1;
			free(w->buf);
			w->buf = nb;
			w->cap = span;
		}
	}
	r = (struct chr_rec *)(w->buf + w->n);
	memcpy(r, rec, span);
	r->seq = w->info.base_seq + w->info.count;
	chr_rec_seal(r);
	if (w->info.count == 0 || r->ts < w->info.ts_min)
		w->info.ts_min = r->ts;
	if (w->info.count == 0 || r->ts > w->info.ts_max)
		w->info.ts_max = r->ts;
	w->info.count++;
	w->n += span;
	w->info.bytes += span;
	return 0;
}

/* Close the file descriptor (it is reopened on the next write). */
static void segw_close_fd(struct chr_segw *w)
{
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
}

/* "xxh3-128:<32 hex digits>" of h into out (48 bytes). */
static void xxh128_text(XXH128_hash_t h, char *out)
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, h);
	strcpy(out, "xxh3-128:");
	for (int i = 0; i < 16; i++)
		sprintf(out + 9 + 2 * i, "%02x", c.digest[i]);
}

int chr_file_xxh128(const char *path, char *out, uint64_t *size)
{
	XXH3_state_t *st = XXH3_createState();
	size_t cap = 1u << 20;
	char *buf = malloc(cap);
	uint64_t total = 0;
	int fd = -1, rc = -1, e = 0;
	ssize_t k;

	if (st == NULL || buf == NULL) {
		e = ENOMEM;
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		goto out;
	}
	XXH3_128bits_reset(st);
	while ((k = chr_read(fd, buf, cap)) > 0) {
		XXH3_128bits_update(st, buf, (size_t)k);
		total += (uint64_t)k;
	}
	if (k < 0) {
		e = errno;
		goto out;
	}
	xxh128_text(XXH3_128bits_digest(st), out);
	if (size)
		*size = total;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	XXH3_freeState(st);
	if (rc < 0)
		errno = e;
	return rc;
}

void chr_mem_xxh128(const void *buf, size_t n, char *out)
{
	xxh128_text(XXH3_128bits(buf, n), out);
}

int chr_zsq_xxh128(const char *path, char *out, uint64_t *size, char *err, size_t errlen,
		   int *status)
{
	XXH3_state_t *st = XXH3_createState();
	const struct chr_zsq_frame *f;
	struct chr_zsq *z = NULL;
	void *buf = NULL;
	size_t n, cap = 0;
	int rc = -1;

	*size = 0;
	if (st == NULL) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		*status = CHR_EX_SYS;
		return -1;
	}
	if ((z = chr_zsq_open(path, err, errlen, status)) == NULL)
		goto out;
	f = chr_zsq_frames(z, &n);
	XXH3_128bits_reset(st);
	for (size_t i = 0; i < n; i++) {
		if (f[i].usize > cap) {
			free(buf);
			cap = f[i].usize;
			if ((buf = malloc(cap)) == NULL) {
				snprintf(err, errlen, "%s", strerror(ENOMEM));
				*status = CHR_EX_SYS;
				goto out;
			}
		}
		if (chr_zsq_read(z, i, buf, err, errlen, status) < 0)
			goto out;
		XXH3_128bits_update(st, buf, f[i].usize);
		*size += f[i].usize;
	}
	xxh128_text(XXH3_128bits_digest(st), out);
	rc = 0;
out:
	chr_zsq_close(z);
	free(buf);
	XXH3_freeState(st);
	return rc;
}

int chr_segw_seal(struct chr_segw *w)
{
	char final[sizeof w->path];
	struct chr_seg h;
	size_t n = strlen(w->path) - 4;	/* without ".tmp" */

	if (segw_flush(w) < 0)
		return -1;
	memset(&h, 0, sizeof h);
	h.magic = CHR_SEG_MAGIC;
	h.version = CHR_VERSION;
	h.flags = CHR_SEG_SEALED;
	h.id = w->info.id;
	h.base_seq = w->info.base_seq;
	h.end = w->info.bytes;
	h.count = w->info.count;
	h.ts_min = w->info.ts_min;
	h.ts_max = w->info.ts_max;
	h.crc = chr_seg_crc(&h);
	if (w->fd < 0) {
		w->fd = open(w->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
		if (w->fd < 0)
			return -1;
	}
	if (chr_pwrite_all(w->fd, &h, sizeof h, 0) < 0 || ftruncate(w->fd, (off_t)h.end) < 0 ||
	    fsync(w->fd) < 0)
		return -1;
	if (close(w->fd) < 0) {
		w->fd = -1;
		return -1;
	}
	w->fd = -1;
	memcpy(final, w->path, n);
	final[n] = '\0';
	if (rename(w->path, final) < 0)
		return -1;
	memcpy(w->path, final, n + 1);
	free(w->buf);
	w->buf = NULL;
	return chr_file_xxh128(final, w->info.checksum, NULL);
}

/* Drop an unsealed segment: free it and unlink the temp file. */
static void segw_abort(struct chr_segw *w)
{
	segw_close_fd(w);
	free(w->buf);
	w->buf = NULL;
	unlink(w->path);
}

/* ---- meta.json ---------------------------------------------------------- */

void chr_meta_free(struct chr_meta *m)
{
	for (size_t i = 0; i < m->nsources; i++)
		free(m->sources[i]);
	free(m->sources);
	free(m->segs);
	m->sources = NULL;
	m->segs = NULL;
	m->nsources = m->nsegs = 0;
}

int chr_meta_count(struct chr_meta *m, uint16_t type, uint64_t n)
{
	size_t i;

	for (i = 0; i < m->ncounts && m->counts[i].type < type; i++)
		;
	if (i < m->ncounts && m->counts[i].type == type) {
		m->counts[i].n += n;
		return 0;
	}
	if (m->ncounts == CHR_META_TYPES)
		return -1;
	memmove(&m->counts[i + 1], &m->counts[i], (m->ncounts - i) * sizeof m->counts[0]);
	m->counts[i].type = type;
	m->counts[i].n = n;
	m->ncounts++;
	return 0;
}

int chr_meta_add_source(struct chr_meta *m, const char *id)
{
	size_t i;
	char **nv, *s;

	for (i = 0; i < m->nsources && strcmp(m->sources[i], id) < 0; i++)
		;
	if (i < m->nsources && strcmp(m->sources[i], id) == 0)
		return 0;
	nv = realloc(m->sources, (m->nsources + 1) * sizeof *nv);
	if (nv == NULL)
		return -1;
	m->sources = nv;
	s = strdup(id);
	if (s == NULL)
		return -1;
	memmove(&nv[i + 1], &nv[i], (m->nsources - i) * sizeof *nv);
	nv[i] = s;
	m->nsources++;
	return 0;
}

static int set(json_t *o, const char *k, json_t *v)
{
	return v == NULL || json_object_set_new(o, k, v) < 0 ? -1 : 0;
}

/* o as text (indent 2, a final newline), o released; NULL when out of memory */
static char *dump(json_t *o)
{
	char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL, *out = NULL;

	if (text != NULL && (out = malloc(strlen(text) + 2)) != NULL)
		strcat(strcpy(out, text), "\n");
	free(text);
	json_decref(o);
	return out;
}

char *chr_meta_dump(const struct chr_meta *m)
{
	json_t *counts = json_object(), *src = json_array(), *segs = json_array();
	char tmin[CHR_TIME_BUF], tmax[CHR_TIME_BUF];
	int bad = counts == NULL || src == NULL || segs == NULL;

	for (size_t i = 0; !bad && i < m->ncounts; i++) {
		const char *name = chr_type_name(m->counts[i].type);
		char num[16];

		if (name == NULL) {
			snprintf(num, sizeof num, "0x%04x", m->counts[i].type);
			name = num;
		}
		bad = set(counts, name, json_integer((json_int_t)m->counts[i].n));
	}
	for (size_t i = 0; !bad && i < m->nsources; i++)
		bad = json_array_append_new(src, json_string(m->sources[i])) < 0;
	for (size_t i = 0; !bad && i < m->nsegs; i++) {
		const struct chr_seginfo *s = &m->segs[i];
		char file[32];

		snprintf(file, sizeof file, "%09" PRIu64 ".q", s->id);
		bad = json_array_append_new(segs, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
			"file", file, "id", (json_int_t)s->id, "base_seq", (json_int_t)s->base_seq,
			"count", (json_int_t)s->count, "bytes", (json_int_t)s->bytes,
			"ts_min", (json_int_t)s->ts_min, "ts_max", (json_int_t)s->ts_max,
			"checksum", s->checksum)) < 0;
	}
	if (bad) {
		json_decref(counts);
		json_decref(src);
		json_decref(segs);
		return NULL;
	}
	chr_time_format(tmin, m->ts_min);
	chr_time_format(tmax, m->ts_max);
	/* "o" steals the references, also when json_pack fails */
	return dump(json_pack("{s:s, s:i, s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I,"
			      " s:s, s:s, s:o, s:o, s:o}",
		"format", "chronicle-archive-partition", "version", 1,
		"venue", m->venue, "symbol", m->symbol,
		"venue_id", (json_int_t)m->venue_id, "market_id", (json_int_t)m->market_id,
		"date", m->date, "stream", m->stream, "records", (json_int_t)m->records,
		"first_seq", (json_int_t)m->first_seq, "last_seq", (json_int_t)m->last_seq,
		"ts_min", (json_int_t)m->ts_min, "ts_max", (json_int_t)m->ts_max,
		"time_min", tmin, "time_max", tmax,
		"record_counts", counts, "sources", src, "segments", segs));
}

int chr_json_u64(json_t *o, const char *k, uint64_t *v)
{
	json_t *j = json_object_get(o, k);

	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return -1;
	*v = (uint64_t)json_integer_value(j);
	return 0;
}

int chr_json_i64(json_t *o, const char *k, int64_t *v)
{
	json_t *j = json_object_get(o, k);

	if (!json_is_integer(j))
		return -1;
	*v = json_integer_value(j);
	return 0;
}

int chr_json_str(json_t *o, const char *k, char *buf, size_t n)
{
	const char *s = json_string_value(json_object_get(o, k));

	if (s == NULL || strlen(s) >= n)
		return -1;
	strcpy(buf, s);
	return 0;
}

int chr_meta_checksum(const char *dir, char *sum)
{
	char p[PATH_MAX];

	if (chr_pathf(p, sizeof p, "%s/meta.json", dir) < 0)
		return -1;
	return chr_file_xxh128(p, sum, NULL);
}

int chr_meta_load(const char *dir, struct chr_meta *m, char *err, size_t errlen)
{
	char path[PATH_MAX];
	json_error_t je;
	json_t *o, *a;
	FILE *f;
	uint64_t v;
	const char *bad = NULL;
	const char *key;
	json_t *val;
	size_t i;

	memset(m, 0, sizeof *m);
	if (chr_pathf(path, PATH_MAX, "%s/meta.json", dir) < 0 || (f = fopen(path, "re")) == NULL) {
		int e = errno;

		chr_msg(err, errlen, "cannot read '%s/meta.json': %s", dir, strerror(e));
		errno = e;
		return -1;
	}
	o = json_loadf(f, 0, &je);
	fclose(f);
	if (o == NULL) {
		chr_msg(err, errlen, "'%s': line %d: %s", path, je.line, je.text);
		errno = EPROTO;
		return -1;
	}
	if (chr_json_str(o, "venue", m->venue, sizeof m->venue) < 0 ||
	    chr_json_str(o, "symbol", m->symbol, sizeof m->symbol) < 0 ||
	    chr_json_str(o, "date", m->date, sizeof m->date) < 0 ||
	    chr_json_str(o, "stream", m->stream, sizeof m->stream) < 0)
		bad = "names";
	else if (chr_json_u64(o, "venue_id", &v) < 0 || v > UINT16_MAX)
		bad = "venue_id";
	else if ((m->venue_id = (uint16_t)v, chr_json_u64(o, "market_id", &v) < 0) || v > UINT32_MAX)
		bad = "market_id";
	else if ((m->market_id = (uint32_t)v, chr_json_u64(o, "records", &m->records) < 0) ||
		 chr_json_u64(o, "first_seq", &m->first_seq) < 0 ||
		 chr_json_u64(o, "last_seq", &m->last_seq) < 0 ||
		 chr_json_i64(o, "ts_min", &m->ts_min) < 0 || chr_json_i64(o, "ts_max", &m->ts_max) < 0)
		bad = "counters";
	if (bad == NULL) {
		json_object_foreach(json_object_get(o, "record_counts"), key, val) {
			int t = chr_type_parse(key);

			if (t < 0 || !json_is_integer(val) ||
			    chr_meta_count(m, (uint16_t)t, (uint64_t)json_integer_value(val)) < 0)
				bad = "record_counts";
		}
	}
	a = json_object_get(o, "sources");
	if (bad == NULL && !json_is_array(a))
		bad = "sources";
	json_array_foreach(a, i, val) {
		if (bad == NULL && (!json_is_string(val) ||
				    chr_meta_add_source(m, json_string_value(val)) < 0))
			bad = "sources";
	}
	a = json_object_get(o, "segments");
	if (bad == NULL && !json_is_array(a))
		bad = "segments";
	if (bad == NULL && json_array_size(a) > 0) {
		m->segs = calloc(json_array_size(a), sizeof *m->segs);
		if (m->segs == NULL)
			bad = "out of memory";
	}
	json_array_foreach(a, i, val) {
		struct chr_seginfo *s = &m->segs[i];

		if (bad)
			break;
		if (chr_json_u64(val, "id", &s->id) < 0 || chr_json_u64(val, "base_seq", &s->base_seq) < 0 ||
		    chr_json_u64(val, "count", &s->count) < 0 || chr_json_u64(val, "bytes", &s->bytes) < 0 ||
		    chr_json_i64(val, "ts_min", &s->ts_min) < 0 || chr_json_i64(val, "ts_max", &s->ts_max) < 0 ||
		    chr_json_str(val, "checksum", s->checksum, sizeof s->checksum) < 0)
			bad = "segments";
		else
			m->nsegs++;
	}
	json_decref(o);
	if (bad) {
		chr_meta_free(m);
		chr_msg(err, errlen, "'%s': bad or missing %s", path, bad);
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* ---- staging and publication ------------------------------------------ */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if (flag == FTW_DP)
		return rmdir(p);
	return unlink(p);
}

int chr_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Put the complete directory staged at src in place of dst atomically:
 * rename when dst is new (never over anything), else exchange them
 * (renameat2 RENAME_EXCHANGE: Linux 3.15, ext4, xfs, btrfs, tmpfs) and
 * remove the old one, now at src. Creates dst's parents (chr_mkdirs syncs
 * them) and syncs dst's parent. Returns 0, or -1 with errno. */
static int publish_dir(const char *src, const char *dst, int replace)
{
	char parent[PATH_MAX];

	if (chr_pathf(parent, PATH_MAX, "%s", dst) < 0)
		return -1;
	*strrchr(parent, '/') = '\0';
	if (chr_mkdirs(parent) < 0 ||
	    renameat2(AT_FDCWD, src, AT_FDCWD, dst, replace ? RENAME_EXCHANGE : RENAME_NOREPLACE) < 0 ||
	    chr_fsync_dir(parent) < 0)
		return -1;
	return replace ? chr_remove_tree(src) : 0;
}

/* Take the archive's publication lock (flock of ROOT/.staging/lock,
 * created as needed). Returns the lock fd, or -1 with errno. Release by
 * closing it. */
static int archive_lock(const char *root)
{
	char path[PATH_MAX];
	int fd;

	if (chr_pathf(path, PATH_MAX, "%s/.staging/lock", root) < 0)
		return -1;
	*strrchr(path, '/') = '\0';
	if (chr_mkdirs(path) < 0)
		return -1;
	strcat(path, "/lock");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int e = errno;

			close(fd);
			errno = e;
			return -1;
		}
	}
	return fd;
}

int chr_archive_lock(const char *root)
{
	return archive_lock(root);
}

int chr_lock_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int chr_staging_dir(const char *root, const char *prefix, char *path)
{
	int fd, k;

	if (chr_pathf(path, PATH_MAX, "%s/.staging", root) < 0 || chr_mkdirs(path) < 0)
		return -1;
	k = prefix ? snprintf(path, PATH_MAX, "%s/.staging/%sXXXXXX", root, prefix)
		   : snprintf(path, PATH_MAX, "%s/.staging/%ld-XXXXXX", root, (long)getpid());
	if (k < 0 || k >= PATH_MAX)
		return errno = ENAMETOOLONG, -1;
	if (mkdtemp(path) == NULL)
		return -1;
	fd = chr_lock_dir(path);
	if (fd < 0 || chr_fsync_parent(path) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		rmdir(path);
		errno = e;
		return -1;
	}
	return fd;
}

/* Remove the staged run at path without ever leaving a part of it under
 * its claimable name: rename it to a fresh unlocked (dead) name, then
 * remove that; a crash leaves what cleanup removes. The caller holds the
 * archive lock. Returns 0 (also when there is none), or -1 with errno. */
static int discard(const char *root, const char *path)
{
	char trash[PATH_MAX];

	if (chr_pathf(trash, PATH_MAX, "%s/.staging/%ld-XXXXXX", root, (long)getpid()) < 0 ||
	    mkdtemp(trash) == NULL)
		return -1;
	if (rename(path, trash) < 0) {
		int e = errno;

		rmdir(trash);
		errno = e;
		return e == ENOENT ? 0 : -1;
	}
	if (chr_fsync_parent(trash) < 0)
		return -1;
	return chr_remove_tree(trash);
}

/* What lies at a partition's place: "new" when nothing, else the
 * checksum of its meta.json ("no meta.json" when it has none) into id
 * (48 bytes). Returns 0, or -1 with errno. */
static int target_id(const char *path, char *id)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		strcpy(id, "new");
		return errno == ENOENT ? 0 : -1;
	}
	if (chr_meta_checksum(path, id) < 0) {
		strcpy(id, "no meta.json");
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	}
	return 0;
}

/* Finish the publication a dead run committed to (its COMMIT journal):
 * every staged partition still in staging (same inode) goes in place,
 * when its place holds what the run found there; else it is skipped,
 * with a warning. */
static int repair(const char *root, const char *sdir)
{
	char path[PATH_MAX], line[PATH_MAX + 128];
	FILE *f;
	int rc = 0;

	chr_pathf(path, PATH_MAX, "%s/COMMIT", sdir);
	f = fopen(path, "re");
	if (f == NULL)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	while (fgets(line, sizeof line, f)) {
		char name[32], rel[PATH_MAX], want[48], now[48], src[PATH_MAX], dst[PATH_MAX];
		unsigned long long ino;
		struct stat st;

		if (sscanf(line, "%31s %llu %4095s %47s", name, &ino, rel, want) != 4 ||
		    strstr(rel, "..") || strncmp(rel, "v1/", 3) != 0 || strchr(name, '/') ||
		    chr_pathf(src, PATH_MAX, "%s/%s", sdir, name) < 0 || chr_pathf(dst, PATH_MAX, "%s/%s", root, rel) < 0)
			continue;
		if (lstat(src, &st) < 0 || (unsigned long long)st.st_ino != ino)
			continue;	/* published already */
		if (target_id(dst, now) < 0) {
			rc = -1;
			continue;
		}
		if (strcmp(now, want) != 0) {
			chr_warn("'%s' changed after a dead run committed to it; that run's copy is not published",
				 dst);
			continue;
		}
		if (publish_dir(src, dst, strcmp(want, "new") != 0) < 0)
			rc = -1;
	}
	fclose(f);
	return rc;
}

int chr_staging_clean(const char *root, char *err, size_t errlen)
{
	char dir[PATH_MAX], sdir[PATH_MAX];
	DIR *d;
	struct dirent *e;
	int n = 0;

	chr_pathf(dir, PATH_MAX, "%s/.staging", root);
	d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		chr_msg(err, errlen, "cannot open '%s': %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		int fd, rc;

		if (e->d_name[0] == '.' || strcmp(e->d_name, "lock") == 0 ||
		    chr_pathf(sdir, PATH_MAX, "%s/%s", dir, e->d_name) < 0 || lstat(sdir, &st) < 0)
			continue;
		if (strncmp(e->d_name, STAGED, strlen(STAGED)) == 0) {
			/* a staged run nobody published */
			if (time(NULL) - st.st_mtime <= CHR_STAGED_MAX_AGE)
				continue;
			rc = discard(root, sdir);
		} else if (S_ISDIR(st.st_mode)) {
			/* a run's directory: its owner holds its lock while it lives */
			if ((fd = chr_lock_dir(sdir)) < 0) {
				if (errno == EWOULDBLOCK || errno == ENOENT)
					continue;
				chr_msg(err, errlen, "cannot lock '%s': %s", sdir, strerror(errno));
				closedir(d);
				return -1;
			}
			rc = repair(root, sdir) < 0 || chr_remove_tree(sdir) < 0 ? -1 : 0;
			close(fd);
		} else {
			rc = unlink(sdir);	/* a ledger entry's temp file, written under the lock */
		}
		if (rc < 0) {
			chr_msg(err, errlen, "cannot clean up '%s': %s", sdir, strerror(errno));
			closedir(d);
			return -1;
		}
		n++;
	}
	closedir(d);
	if (n > 0 && chr_fsync_dir(dir) < 0) {
		chr_msg(err, errlen, "cannot sync '%s': %s", dir, strerror(errno));
		return -1;
	}
	return n;
}

int chr_staging_make(const char *root, char *path)
{
	return chr_staging_dir(root, NULL, path);
}

/* ---- the archive writer -------------------------------------------------- */

const char *chr_archive_id_check(const char *id)
{
	const char *bad = chr_name_check(id);

	return bad ? bad : strpbrk(id, "*?[]") ? "name contains a glob character (*?[])" : NULL;
}

enum { MODE_NEW, MODE_REPLACE, MODE_APPEND };
static const char *const mode_name[] = {"new", "replaced", "appended"};
static const char *const streams[] = {"book", "trade", "quote", "topn"};
#define NSTREAMS 4

struct inst;

struct part {
	struct chr_archive_part pub;
	char path[PATH_MAX];	/* ROOT/v1/venue/symbol/date/stream */
	const char *rel;	/* its "v1/..." part */
	char stage[PATH_MAX];
	char target[48];	/* what was in place: "new", or its meta.json's checksum */
	int64_t day;
	int mode;
	struct inst *inst;
	struct chr_meta meta;
	struct chr_segw seg;
	int seg_open;
	uint64_t next_id, next_seq;
};

struct inst {
	uint16_t vid;
	uint32_t mid;
	char venue[CHR_VENUE_MAX + 1], symbol[CHR_SYMBOL_MAX + 1];
	struct chr_rec *define;	/* its DEFINE record (a span) */
	struct part *last[NSTREAMS];
	struct part **parts;
	size_t nparts;
};

struct chr_archive {
	char root[PATH_MAX];
	char stage[PATH_MAX];	/* "" until the first partition */
	int stage_fd;		/* holds flock on stage while this run lives */
	struct chr_archive_opts o;
	struct inst **tab;	/* open addressing by (venue, market) */
	size_t tabcap, ninst;
	struct part **parts;
	size_t nparts, partcap;
	struct chr_archive_part *pubs;
	size_t nopen;
	uint64_t archived, skipped;
	int committed;
};

static int stream_index(const char *s)
{
	for (int i = 0; i < NSTREAMS; i++)
		if (strcmp(streams[i], s) == 0)
			return i;
	return -1;
}

struct chr_archive *chr_archive_open(const char *root, const struct chr_archive_opts *o,
				     char *err, size_t errlen, int *status)
{
	struct chr_archive *a;
	struct stat st;

	*status = CHR_EX_SYS;
	if (strlen(root) == 0 || strlen(root) > PATH_MAX - 1024) {
		chr_msg(err, errlen, "archive root '%s': bad path", root);
		*status = CHR_EX_USAGE;
		return NULL;
	}
	if (o->stage && o->source == NULL) {
		chr_msg(err, errlen, "staging a run needs a source id");
		*status = CHR_EX_USAGE;
		return NULL;
	}
	if (o->source && chr_archive_id_check(o->source)) {
		chr_msg(err, errlen, "source id '%s': %s", o->source, chr_archive_id_check(o->source));
		*status = CHR_EX_USAGE;
		return NULL;
	}
	if (stat(root, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			chr_msg(err, errlen, "archive root '%s': %s", root, strerror(ENOTDIR));
			return NULL;
		}
		if (access(root, R_OK | W_OK | X_OK) < 0) {
			chr_msg(err, errlen, "archive root '%s': %s", root, strerror(errno));
			return NULL;
		}
	} else if (errno != ENOENT) {
		chr_msg(err, errlen, "archive root '%s': %s", root, strerror(errno));
		return NULL;
	}
	a = calloc(1, sizeof *a);
	if (a == NULL) {
		chr_msg(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	a->stage_fd = -1;
	strcpy(a->root, root);
	a->o = *o;
	if (a->o.seg_size == 0)
		a->o.seg_size = CHR_ARCHIVE_SEG_SIZE;
	a->tabcap = 64;
	a->tab = calloc(a->tabcap, sizeof *a->tab);
	if (a->tab == NULL) {
		free(a);
		chr_msg(err, errlen, "%s", strerror(ENOMEM));
		return NULL;
	}
	{
		char sd[PATH_MAX];

		snprintf(sd, sizeof sd, "%s/.staging", root);
		if (access(sd, F_OK) == 0) {
			int lk = archive_lock(root);

			if (lk < 0) {
				chr_msg(err, errlen, "cannot lock '%s': %s", sd, strerror(errno));
				chr_archive_close(a);
				return NULL;
			}
			if (chr_staging_clean(root, err, errlen) < 0) {
				close(lk);
				chr_archive_close(a);
				return NULL;
			}
			close(lk);
		}
	}
	return a;
}

static size_t slot(const struct chr_archive *a, uint16_t vid, uint32_t mid)
{
	uint64_t k = ((uint64_t)vid << 32 | mid) * 0x9e3779b97f4a7c15ull;
	size_t i = (size_t)(k >> 20) & (a->tabcap - 1);

	while (a->tab[i] && (a->tab[i]->vid != vid || a->tab[i]->mid != mid))
		i = (i + 1) & (a->tabcap - 1);
	return i;
}

static struct inst *inst_find(struct chr_archive *a, uint16_t vid, uint32_t mid)
{
	return a->tab[slot(a, vid, mid)];
}

static int inst_add(struct chr_archive *a, struct inst *in)
{
	if ((a->ninst + 1) * 2 > a->tabcap) {
		struct inst **old = a->tab;
		size_t oldcap = a->tabcap;

		a->tab = calloc(oldcap * 2, sizeof *a->tab);
		if (a->tab == NULL) {
			a->tab = old;
			return -1;
		}
		a->tabcap = oldcap * 2;
		for (size_t i = 0; i < oldcap; i++)
			if (old[i])
				a->tab[slot(a, old[i]->vid, old[i]->mid)] = old[i];
		free(old);
	}
	a->tab[slot(a, in->vid, in->mid)] = in;
	a->ninst++;
	return 0;
}

/* name printable for a message: non-printable bytes as \xNN */
static void show(char *out, size_t n, const char *field, size_t cap)
{
	size_t len = cap, k = 0;

	while (len > 0 && field[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < len && k + 5 < n; i++) {
		unsigned char c = (unsigned char)field[i];

		if (c >= ' ' && c < 0x7f && c != '\\' && c != '\'')
			out[k++] = (char)c;
		else
			k += (size_t)snprintf(out + k, n - k, "\\x%02x", c);
	}
	out[k] = '\0';
}

static int define(struct chr_archive *a, const struct chr_rec *rec, const char *name,
		  uint64_t off, char *err, size_t errlen, int *status)
{
	const struct chr_define *d = chr_rec_payload(rec);
	char venue[CHR_VENUE_MAX + 1], symbol[CHR_SYMBOL_MAX + 1], shown[512];
	const char *bad;
	struct inst *in;

	*status = CHR_EX_DATA;
	bad = chr_define_names(d, venue, symbol);
	if (bad) {
		show(shown, sizeof shown, d->symbol, sizeof d->symbol);
		chr_msg(err, errlen, "%s: byte %" PRIu64 ": DEFINE of '%s': %s", name, off, shown, bad);
		return -1;
	}
	if ((bad = chr_name_check(venue)) != NULL) {
		show(shown, sizeof shown, venue, strlen(venue));
		chr_msg(err, errlen, "%s: byte %" PRIu64 ": DEFINE venue '%s': %s", name, off, shown, bad);
		return -1;
	}
	if ((bad = chr_name_check(symbol)) != NULL) {
		show(shown, sizeof shown, symbol, strlen(symbol));
		chr_msg(err, errlen, "%s: byte %" PRIu64 ": DEFINE symbol '%s': %s", name, off, shown, bad);
		return -1;
	}
	in = inst_find(a, rec->venue, rec->market);
	if (in) {
		if (strcmp(in->venue, venue) != 0 || strcmp(in->symbol, symbol) != 0) {
			chr_msg(err, errlen, "%s: byte %" PRIu64 ": DEFINE binds venue %u market %" PRIu32
			    " to '%s/%s', bound before to '%s/%s'", name, off, rec->venue,
			    rec->market, venue, symbol, in->venue, in->symbol);
			return -1;
		}
		return 0;	/* a repeated DEFINE: the partitions have theirs */
	}
	for (size_t i = 0; i < a->tabcap; i++) {
		struct inst *o = a->tab[i];

		if (o && strcmp(o->venue, venue) == 0 && strcmp(o->symbol, symbol) == 0) {
			chr_msg(err, errlen, "%s: byte %" PRIu64 ": DEFINE binds '%s/%s' to venue %u market %"
			    PRIu32 ", bound before to venue %u market %" PRIu32, name, off, venue,
			    symbol, rec->venue, rec->market, o->vid, o->mid);
			return -1;
		}
	}
	*status = CHR_EX_SYS;
	in = calloc(1, sizeof *in);
	if (in == NULL || (in->define = aligned_alloc(CHR_ALIGN, chr_rec_span(rec->len))) == NULL) {
		free(in);
		chr_msg(err, errlen, "%s", strerror(ENOMEM));
		return -1;
	}
	memcpy(in->define, rec, chr_rec_span(rec->len));
	in->vid = rec->venue;
	in->mid = rec->market;
	strcpy(in->venue, venue);
	strcpy(in->symbol, symbol);
	if (inst_add(a, in) < 0) {
		free(in->define);
		free(in);
		chr_msg(err, errlen, "%s", strerror(ENOMEM));
		return -1;
	}
	return 0;
}

static int64_t day_of(int64_t ts)
{
	const int64_t d = 86400000000000LL;

	return ts / d - (ts % d < 0);	/* floor, without overflow */
}

/* This run's staging directory a->stage, made (and locked) on first use */
static int stage_dir(struct chr_archive *a, char *err, size_t errlen)
{
	int lk;

	if (a->stage[0])
		return 0;
	lk = archive_lock(a->root);
	a->stage_fd = lk < 0 ? -1 : chr_staging_dir(a->root, NULL, a->stage);
	if (a->stage_fd < 0) {
		chr_msg(err, errlen, "cannot create a staging directory in '%s/.staging': %s", a->root,
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

/* Decide what to do with the partition's place in the archive: new,
 * replace (same single source) or append (--append); else refuse. */
static int part_plan(struct chr_archive *a, struct part *p, char *err, size_t errlen,
		     int *status)
{
	char e2[CHR_ARCHIVE_ERR], src[256];
	struct chr_meta old;

	/* what is there first, then what it says: a change in between is
	 * seen by the check under the lock */
	if (target_id(p->path, p->target) < 0) {
		*status = CHR_EX_SYS;
		chr_msg(err, errlen, "cannot read '%s': %s", p->path, strerror(errno));
		return -1;
	}
	if (strcmp(p->target, "new") == 0) {
		p->mode = MODE_NEW;
		return 0;
	}
	if (chr_meta_load(p->path, &old, e2, sizeof e2) < 0) {
		*status = errno == EPROTO || errno == ENOENT ? CHR_EX_DATA : CHR_EX_SYS;
		chr_msg(err, errlen, "partition '%s' holds data that cannot be added to: %s", p->rel, e2);
		return -1;
	}
	if (a->o.source && old.nsources == 1 && strcmp(old.sources[0], a->o.source) == 0) {
		p->mode = MODE_REPLACE;
		chr_meta_free(&old);
		return 0;
	}
	if (!a->o.append) {
		sources_text(&old, src, sizeof src);
		*status = CHR_EX_DATA;
		chr_msg(err, errlen, "partition '%s' already holds data (source %s); use --append to add to it",
		    p->rel, src);
		chr_meta_free(&old);
		return -1;
	}
	if (old.venue_id != p->inst->vid || old.market_id != p->inst->mid) {
		*status = CHR_EX_DATA;
		chr_msg(err, errlen, "partition '%s' holds venue %u market %" PRIu32
		    ", the input venue %u market %" PRIu32, p->rel, old.venue_id, old.market_id,
		    p->inst->vid, p->inst->mid);
		chr_meta_free(&old);
		return -1;
	}
	p->mode = MODE_APPEND;
	p->meta = old;
	return 0;
}

static struct part *part_new(struct chr_archive *a, struct inst *in, int sidx, int64_t ts,
			     char *err, size_t errlen, int *status)
{
	struct part *p;

	*status = CHR_EX_SYS;
	if (a->nparts == a->partcap) {
		size_t cap = a->partcap ? a->partcap * 2 : 16;
		struct part **np = realloc(a->parts, cap * sizeof *np);

		if (np == NULL)
			goto nomem;
		a->parts = np;
		a->partcap = cap;
	}
	{
		struct part **np = realloc(in->parts, (in->nparts + 1) * sizeof *np);

		if (np == NULL)
			goto nomem;
		in->parts = np;
	}
	p = calloc(1, sizeof *p);
	if (p == NULL)
		goto nomem;
	p->inst = in;
	p->day = day_of(ts);
	chr_date_format(p->meta.date, ts);
	if (chr_path_partition(p->path, sizeof p->path, a->root, in->venue, in->symbol,
			       p->meta.date, streams[sidx]) < 0) {
		chr_msg(err, errlen, "partition 'v1/%s/%s/%s/%s': %s", in->venue, in->symbol,
		    p->meta.date, streams[sidx], strerror(errno));
		free(p);
		return NULL;
	}
	p->rel = p->path + strlen(a->root) + 1;
	if (part_plan(a, p, err, errlen, status) < 0) {
		free(p);
		return NULL;
	}
	if (p->mode != MODE_APPEND) {
		strcpy(p->meta.venue, in->venue);
		strcpy(p->meta.symbol, in->symbol);
		strcpy(p->meta.stream, streams[sidx]);
		p->meta.venue_id = in->vid;
		p->meta.market_id = in->mid;
	}
	if (a->o.source && chr_meta_add_source(&p->meta, a->o.source) < 0) {
		chr_meta_free(&p->meta);
		free(p);
		goto nomem;
	}
	in->parts[in->nparts++] = p;
	a->parts[a->nparts++] = p;
	if (stage_dir(a, err, errlen) < 0)
		return NULL;
	chr_pathf(p->stage, PATH_MAX, "%s/p%zu", a->stage, a->nparts - 1);
	if (mkdir(p->stage, 0777) < 0) {
		chr_msg(err, errlen, "cannot create '%s': %s", p->stage, strerror(errno));
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
				chr_msg(err, errlen, "cannot link '%s': %s", from, strerror(errno));
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
	p->pub.stream = streams[sidx];
	p->pub.action = mode_name[p->mode];
	return p;
nomem:
	chr_msg(err, errlen, "%s", strerror(ENOMEM));
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
		if (chr_segw_open(&p->seg, p->stage, p->next_id, p->next_seq) < 0)
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
				segw_close_fd(&a->parts[i]->seg);
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

int chr_archive_put(struct chr_archive *a, const struct chr_rec *rec, const char *name,
		    uint64_t off, char *err, size_t errlen, int *status)
{
	const char *stream;
	struct inst *in;
	struct part *p;
	int sidx;
	int64_t day;

	if (rec->type == CHR_DEFINE)
		return define(a, rec, name, off, err, errlen, status);
	stream = chr_stream_of(rec->type);
	if (stream == NULL) {
		a->skipped++;
		return 0;
	}
	sidx = stream_index(stream);
	in = inst_find(a, rec->venue, rec->market);
	if (in == NULL) {
		*status = CHR_EX_DATA;
		chr_msg(err, errlen, "%s: byte %" PRIu64 ": %s of venue %u market %" PRIu32
		    " before any DEFINE of it", name, off, chr_type_name(rec->type), rec->venue,
		    rec->market);
		return -1;
	}
	day = day_of(rec->ts);
	p = in->last[sidx];
	if (p == NULL || p->day != day) {
		p = NULL;
		for (size_t i = 0; i < in->nparts; i++)
			if (in->parts[i]->day == day && strcmp(in->parts[i]->pub.stream, stream) == 0)
				p = in->parts[i];
		if (p == NULL) {
			p = part_new(a, in, sidx, rec->ts, err, errlen, status);
			if (p == NULL)
				return -1;
			if (p->mode != MODE_APPEND) {
				/* the partition begins with its instrument's DEFINE */
				int64_t ts0 = in->define->ts;

				in->define->ts = rec->ts;
				if (part_write(a, p, in->define) < 0) {
					in->define->ts = ts0;
					goto sys;
				}
				in->define->ts = ts0;
			}
		}
		in->last[sidx] = p;
	}
	if (part_write(a, p, rec) < 0)
		goto sys;
	a->archived++;
	return 0;
sys:
	*status = CHR_EX_SYS;
	chr_msg(err, errlen, "cannot write to '%s': %s", p->stage, strerror(errno));
	return -1;
}

/* Whether the file system of dir can exchange two directories (renameat2
 * RENAME_EXCHANGE), probed on two new ones in dir. Returns 0, or -1 with
 * a message. */
static int probe_exchange(const char *dir, char *err, size_t errlen)
{
	char x[PATH_MAX], y[PATH_MAX];
	int rc = -1;

	if (chr_pathf(x, PATH_MAX, "%s/x", dir) < 0 || chr_pathf(y, PATH_MAX, "%s/y", dir) < 0 || mkdir(x, 0700) < 0 ||
	    mkdir(y, 0700) < 0)
		chr_msg(err, errlen, "cannot create '%s': %s", x, strerror(errno));
	else if (renameat2(AT_FDCWD, x, AT_FDCWD, y, RENAME_EXCHANGE) < 0)
		chr_msg(err, errlen, "the file system of '%s' cannot exchange directories (renameat2"
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
static int staged_whole(const struct part *p, char *err, size_t errlen)
{
	char e2[CHR_ARCHIVE_ERR], q[PATH_MAX];
	struct chr_meta m;
	struct stat st;
	int rc = 0;

	if (chr_meta_load(p->stage, &m, e2, sizeof e2) < 0) {
		chr_msg(err, errlen, "staged partition '%s' is incomplete: %s", p->rel, e2);
		return -1;
	}
	for (size_t i = 0; rc == 0 && i < m.nsegs; i++) {
		chr_pathf(q, PATH_MAX, "%s/%09" PRIu64 ".q", p->stage, m.segs[i].id);
		if (stat(q, &st) < 0 || (uint64_t)st.st_size != m.segs[i].bytes) {
			chr_msg(err, errlen, "staged partition '%s' is incomplete: '%s' is missing or not %"
			    PRIu64 " bytes", p->rel, q, m.segs[i].bytes);
			rc = -1;
		}
	}
	chr_meta_free(&m);
	return rc;
}

/* Publish the sealed partitions of a (its journal first), holding the
 * archive lock: steps 3 to 5 of docs/archive.md. */
static int publish_parts(struct chr_archive *a, char *err, size_t errlen, int *status)
{
	char path[PATH_MAX], now[48], *journal = NULL;
	size_t jn = 0;
	FILE *j = NULL;
	int rc = -1, replace = 0;

	*status = CHR_EX_SYS;
	/* dead runs first: one that committed publishes before we look */
	if (chr_staging_clean(a->root, err, errlen) < 0)
		return -1;
	j = open_memstream(&journal, &jn);
	if (j == NULL) {
		chr_msg(err, errlen, "%s", strerror(errno));
		return -1;
	}
	/* the places may have changed since we looked: look again, under the lock */
	for (size_t i = 0; i < a->nparts; i++) {
		struct part *p = a->parts[i];
		struct stat st;

		if (target_id(p->path, now) < 0) {
			chr_msg(err, errlen, "cannot read '%s': %s", p->path, strerror(errno));
			goto out;
		}
		*status = CHR_EX_DATA;
		if (strcmp(now, p->target) != 0) {
			chr_msg(err, errlen, "partition '%s' changed while this run wrote it", p->rel);
			goto out;
		}
		if (staged_whole(p, err, errlen) < 0)
			goto out;
		*status = CHR_EX_SYS;
		if (lstat(p->stage, &st) < 0) {
			chr_msg(err, errlen, "cannot stat '%s': %s", p->stage, strerror(errno));
			goto out;
		}
		fprintf(j, "%s %llu %s %s\n", strrchr(p->stage, '/') + 1,
			(unsigned long long)st.st_ino, p->rel, p->target);
		replace |= p->mode != MODE_NEW;
	}
	rc = fclose(j);
	j = NULL;
	if (rc != 0) {
		chr_msg(err, errlen, "%s", strerror(ENOMEM));
		rc = -1;
		goto out;
	}
	rc = -1;
	if (replace && probe_exchange(a->stage, err, errlen) < 0)
		goto out;
	chr_pathf(path, PATH_MAX, "%s/COMMIT", a->stage);
	if (chr_publish_file(path, journal, jn) < 0) {
		chr_msg(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	/* from here on the run is committed: a crash is finished by the next run */
	for (size_t i = 0; i < a->nparts; i++) {
		struct part *p = a->parts[i];

		if (publish_dir(p->stage, p->path, p->mode != MODE_NEW) < 0) {
			chr_msg(err, errlen, "cannot publish '%s': %s", p->path, strerror(errno));
			goto out;
		}
	}
	a->committed = 1;
	if (chr_remove_tree(a->stage) < 0) {
		chr_msg(err, errlen, "cannot remove '%s': %s", a->stage, strerror(errno));
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
		bad |= bad || set(e, "path", json_string(q->path));
		bad |= bad || set(e, "venue", json_string(q->venue));
		bad |= bad || set(e, "symbol", json_string(q->symbol));
		bad |= bad || set(e, "date", json_string(q->date));
		bad |= bad || set(e, "stream", json_string(q->stream));
		bad |= bad || set(e, "action", json_string(q->action));
		bad |= bad || set(e, "records", json_integer((json_int_t)q->records));
		bad |= bad || set(e, "segments", json_integer((json_int_t)q->segments));
		bad |= bad || set(e, "ts_min", json_integer(q->ts_min));
		bad |= bad || set(e, "ts_max", json_integer(q->ts_max));
		if (plan) {
			bad |= bad || set(e, "target", json_string(p->target));
		}
		written += q->records;
		segs += q->segments;
		lo = i == 0 || q->ts_min < lo ? q->ts_min : lo;
		hi = i == 0 || q->ts_max > hi ? q->ts_max : hi;
	}
	bad |= bad || set(o, "records", json_integer((json_int_t)a->archived));
	bad |= bad || set(o, "records_written", json_integer((json_int_t)written));
	bad |= bad || set(o, "skipped", json_integer((json_int_t)a->skipped));
	bad |= bad || set(o, "segments", json_integer((json_int_t)segs));
	if (a->nparts > 0) {
		bad |= bad || set(o, "ts_min", json_integer(lo));
		bad |= bad || set(o, "ts_max", json_integer(hi));
	}
	bad |= set(o, "partitions", arr);	/* takes arr, also on failure */
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
	return dump(o);
}

char *chr_archive_report(struct chr_archive *a)
{
	return summary_text(a, 0);
}

/* --stage: keep the sealed run as ROOT/.staging/staged-<ID>, with the plan
 * that chr_archive_publish needs, in place of an older one of that ID. */
static int stage_keep(struct chr_archive *a, char *err, size_t errlen)
{
	char path[PATH_MAX], staged[PATH_MAX], *plan;
	int lk, rc = -1;

	if (stage_dir(a, err, errlen) < 0)
		return -1;
	plan = summary_text(a, 1);
	chr_pathf(path, PATH_MAX, "%s/plan.json", a->stage);
	if (plan == NULL || chr_publish_file(path, plan, strlen(plan)) < 0) {
		chr_msg(err, errlen, "cannot write '%s': %s", path, strerror(plan ? errno : ENOMEM));
		free(plan);
		return -1;
	}
	free(plan);
	chr_pathf(staged, PATH_MAX, "%s/.staging/" STAGED "%s", a->root, a->o.source);
	lk = archive_lock(a->root);
	if (lk < 0) {
		chr_msg(err, errlen, "cannot lock '%s/.staging': %s", a->root, strerror(errno));
		return -1;
	}
	/* the older run is renamed away before it is removed: a crash never
	 * leaves a part of it under the name --publish claims */
	if (discard(a->root, staged) < 0 || rename(a->stage, staged) < 0 ||
	    chr_fsync_parent(staged) < 0) {
		chr_msg(err, errlen, "cannot stage '%s': %s", staged, strerror(errno));
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

int chr_archive_commit(struct chr_archive *a, char *err, size_t errlen, int *status)
{
	char path[PATH_MAX];
	int lk, rc;

	*status = CHR_EX_SYS;
	for (size_t i = 0; i < a->nparts; i++) {
		struct part *p = a->parts[i];
		char *text;

		if (seg_seal(p) < 0) {
			chr_msg(err, errlen, "cannot seal '%s': %s", p->seg.path, strerror(errno));
			return -1;
		}
		text = chr_meta_dump(&p->meta);
		chr_pathf(path, PATH_MAX, "%s/meta.json", p->stage);
		if (text == NULL || chr_publish_file(path, text, strlen(text)) < 0) {
			chr_msg(err, errlen, "cannot write '%s': %s", path, strerror(errno));
			free(text);
			return -1;
		}
		free(text);
	}
	if (a->o.stage)
		return stage_keep(a, err, errlen);
	if (a->nparts == 0) {
		a->committed = 1;
		return 0;
	}
	lk = archive_lock(a->root);
	if (lk < 0) {
		chr_msg(err, errlen, "cannot lock '%s/.staging': %s", a->root, strerror(errno));
		return -1;
	}
	rc = publish_parts(a, err, errlen, status);
	close(lk);
	return rc;
}

static int mode_index(const char *s)
{
	for (int i = 0; s && i < 3; i++)
		if (strcmp(mode_name[i], s) == 0)
			return i;
	return -1;
}

/* Read the plan of the claimed staged run a->stage: its partitions. */
static int plan_load(struct chr_archive *a, char *err, size_t errlen)
{
	char path[PATH_MAX], rel[PATH_MAX];
	const char *bad = NULL;
	json_error_t je;
	json_t *o, *arr, *e;
	size_t i;

	chr_pathf(path, PATH_MAX, "%s/plan.json", a->stage);
	o = json_load_file(path, 0, &je);
	if (o == NULL) {
		chr_msg(err, errlen, "'%s': line %d: %s", path, je.line, je.text);
		return -1;
	}
	arr = json_object_get(o, "partitions");
	if (chr_json_u64(o, "records", &a->archived) < 0 || chr_json_u64(o, "skipped", &a->skipped) < 0 ||
	    !json_is_array(arr))
		bad = "totals";
	else if ((a->parts = calloc(json_array_size(arr) + 1, sizeof *a->parts)) == NULL)
		bad = "out of memory";
	json_array_foreach(arr, i, e) {
		struct part *p;
		int sidx, mode;

		if (bad || (p = calloc(1, sizeof *p)) == NULL) {
			bad = bad ? bad : "out of memory";
			break;
		}
		a->parts[a->nparts++] = p;
		if (chr_json_str(e, "venue", p->meta.venue, sizeof p->meta.venue) < 0 ||
		    chr_json_str(e, "symbol", p->meta.symbol, sizeof p->meta.symbol) < 0 ||
		    chr_json_str(e, "date", p->meta.date, sizeof p->meta.date) < 0 ||
		    chr_json_str(e, "stream", p->meta.stream, sizeof p->meta.stream) < 0 ||
		    chr_json_str(e, "path", rel, sizeof rel) < 0 ||
		    chr_name_check(p->meta.venue) || chr_name_check(p->meta.symbol) ||
		    chr_name_check(p->meta.date) || (sidx = stream_index(p->meta.stream)) < 0 ||
		    (mode = mode_index(json_string_value(json_object_get(e, "action")))) < 0 ||
		    chr_json_u64(e, "records", &p->pub.records) < 0 ||
		    chr_json_u64(e, "segments", &p->pub.segments) < 0 ||
		    chr_json_i64(e, "ts_min", &p->pub.ts_min) < 0 || chr_json_i64(e, "ts_max", &p->pub.ts_max) < 0 ||
		    chr_json_str(e, "target", p->target, sizeof p->target) < 0 ||
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
		p->pub.stream = streams[sidx];
		p->pub.action = mode_name[mode];
	}
	json_decref(o);
	if (bad) {
		chr_msg(err, errlen, "'%s': bad or missing %s", path, bad);
		return -1;
	}
	return 0;
}

struct chr_archive *chr_archive_publish(const char *root, const struct chr_archive_opts *o,
					char *err, size_t errlen, int *status)
{
	struct chr_archive_opts po = *o;
	char staged[PATH_MAX];
	struct chr_archive *a;
	int lk;

	po.stage = 0;
	if (o->source == NULL) {
		*status = CHR_EX_USAGE;
		chr_msg(err, errlen, "publishing a staged run needs its source id");
		return NULL;
	}
	a = chr_archive_open(root, &po, err, errlen, status);
	if (a == NULL)
		return NULL;
	*status = CHR_EX_SYS;
	chr_pathf(staged, PATH_MAX, "%s/.staging/" STAGED "%s", a->root, o->source);
	/* claim it under the lock (not even created when there is nothing to
	 * claim): renamed to a locked directory of this run, it is cleaned up
	 * (or, once committed, finished) as any run's if we die */
	lk = access(staged, F_OK) == 0 ? archive_lock(a->root) : -1;
	if (lk < 0 || (a->stage_fd = chr_lock_dir(staged)) < 0) {
		if (errno == ENOENT) {
			*status = CHR_EX_DATA;
			chr_msg(err, errlen, "no staged run of source '%s' in '%s/.staging' (chr-sink --stage makes one)",
			    o->source, root);
		} else {
			chr_msg(err, errlen, "cannot claim '%s': %s", staged, strerror(errno));
		}
		goto fail;
	}
	if (chr_pathf(a->stage, PATH_MAX, "%s/.staging/%ld-XXXXXX", a->root, (long)getpid()) < 0 ||
	    mkdtemp(a->stage) == NULL) {
		chr_msg(err, errlen, "cannot claim '%s': %s", staged, strerror(errno));
		a->stage[0] = '\0';
		goto fail;
	}
	if (rename(staged, a->stage) < 0 || chr_fsync_parent(a->stage) < 0) {
		chr_msg(err, errlen, "cannot claim '%s': %s", staged, strerror(errno));
		goto fail;
	}
	if (plan_load(a, err, errlen) < 0) {
		*status = CHR_EX_DATA;
		goto fail;
	}
	if (a->nparts > 0 ? publish_parts(a, err, errlen, status) < 0 :
	    chr_remove_tree(a->stage) < 0) {
		if (a->nparts == 0)
			chr_msg(err, errlen, "cannot remove '%s': %s", a->stage, strerror(errno));
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

void chr_archive_totals(const struct chr_archive *a, uint64_t *archived, uint64_t *skipped)
{
	*archived = a->archived;
	*skipped = a->skipped;
}

/* Remove "<dir>/<venue>/<symbol>/<date>/<file>" but keep (depth counts
 * the levels above): exact names, never patterns. */
static void ledger_prune(const char *dir, int depth, const char *file, const char *keep)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;

	if (depth == 3) {
		if (chr_pathf(path, PATH_MAX, "%s/%s", dir, file) == 0 && strcmp(path, keep) != 0 &&
		    unlink(path) == 0)
			chr_fsync_dir(dir);
		return;
	}
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && chr_pathf(path, PATH_MAX, "%s/%s", dir, e->d_name) == 0)
			ledger_prune(path, depth + 1, file, keep);
	closedir(d);
}

int chr_archive_ledger(struct chr_archive *a, const char *vendor, struct json_t *info,
		       char *err, size_t errlen, int *status)
{
	char path[PATH_MAX], dir[PATH_MAX], tmp[PATH_MAX], stamp[32], *text;
	const struct part *p0;
	json_t *o = json_object();
	time_t now = time(NULL);
	struct tm tm;
	int bad = o == NULL, lk;

	*status = CHR_EX_SYS;
	if (a->nparts == 0 || a->o.source == NULL) {
		json_decref(o);
		return 1;
	}
	p0 = a->parts[0];
	if (chr_pathf(path, PATH_MAX, "%s/imports/v1/%s/%s/%s/%s/%s.json", a->root, vendor, p0->meta.venue,
		  p0->meta.symbol, p0->meta.date, a->o.source) < 0 ||
	    chr_pathf(tmp, PATH_MAX, "%s/.staging/%ld-ledger.json", a->root, (long)getpid()) < 0) {
		chr_msg(err, errlen, "ledger entry of '%s': %s", a->o.source, strerror(errno));
		json_decref(o);
		return -1;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	bad |= bad || set(o, "format", json_string("chronicle-import-ledger"));
	bad |= bad || set(o, "version", json_integer(1));
	bad |= bad || set(o, "vendor", json_string(vendor));
	bad |= bad || set(o, "source", json_string(a->o.source));
	bad |= bad || set(o, "import_time", json_string(stamp));
	bad |= bad || summary(a, o, 0);
	if (info != NULL)
		bad |= bad || set(o, "input", json_incref(info));
	if (bad) {
		json_decref(o);
		text = NULL;
	} else {
		text = dump(o);
	}
	strcpy(dir, path);
	*strrchr(dir, '/') = '\0';
	/* the temp file lies in staging, written under the lock: a crash
	 * leaves nothing in the ledger that the next run does not remove */
	lk = text ? archive_lock(a->root) : -1;
	if (lk < 0 || chr_mkdirs(dir) < 0 || chr_publish_file(tmp, text, strlen(text)) < 0 ||
	    rename(tmp, path) < 0 || chr_fsync_dir(dir) < 0) {
		chr_msg(err, errlen, "cannot write '%s': %s", path, strerror(text ? errno : ENOMEM));
		unlink(tmp);
		free(text);
		if (lk >= 0)
			close(lk);
		return -1;
	}
	free(text);
	/* one entry per source id: remove one left under other names */
	if (chr_pathf(dir, PATH_MAX, "%s/imports/v1/%s", a->root, vendor) == 0 &&
	    chr_pathf(tmp, PATH_MAX, "%s.json", a->o.source) == 0)
		ledger_prune(dir, 0, tmp, path);
	close(lk);
	return 0;
}

void chr_archive_close(struct chr_archive *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->nparts; i++) {
		struct part *p = a->parts[i];

		if (p->seg_open)
			segw_abort(&p->seg);
		chr_meta_free(&p->meta);
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
	for (size_t i = 0; i < a->tabcap; i++) {
		if (a->tab[i]) {
			free(a->tab[i]->define);
			free(a->tab[i]->parts);
			free(a->tab[i]);
		}
	}
	free(a->tab);
	free(a->parts);
	free(a->pubs);
	free(a);
}

/* ---- reading ------------------------------------------------------------- */

static int visible(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

static int walk(char *path, size_t len, int depth, const char *const want[3],
		int (*fn)(const char *, void *), void *ctx)
{
	struct dirent **v;
	int n, rc = 0;

	if (depth == 4) {
		struct stat st;

		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return fn(path, ctx);
		return 0;
	}
	n = scandir(path, &v, visible, alphasort);
	if (n < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	for (int i = 0; i < n; i++) {
		const char *w = depth == 0 ? want[0] : depth == 1 ? want[1] : depth == 3 ? want[2] : NULL;
		size_t k = strlen(v[i]->d_name);

		if (rc == 0 && (w == NULL || strcmp(w, v[i]->d_name) == 0) && len + k + 2 < PATH_MAX) {
			path[len] = '/';
			memcpy(path + len + 1, v[i]->d_name, k + 1);
			rc = walk(path, len + 1 + k, depth + 1, want, fn, ctx);
			path[len] = '\0';
		}
		free(v[i]);
	}
	free(v);
	return rc;
}

int chr_archive_walk(const char *root, const char *venue, const char *symbol,
		     const char *stream, int (*fn)(const char *dir, void *ctx), void *ctx)
{
	char path[PATH_MAX];
	const char *want[3] = {venue, symbol, stream};

	if (chr_pathf(path, PATH_MAX, "%s/v1", root) < 0)
		return -1;
	return walk(path, strlen(path), 0, want, fn, ctx);
}
