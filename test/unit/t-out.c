/* t-out.c - the output object: --format values, binary records with each
 * instrument's DEFINE before its first record (to stdout and to a queue),
 * text with the names learnt from a DEFINE not written, JSON without DEFINE
 * lines unless asked, CSV counting what has no Tardis form and refusing a
 * second dataset, records built in place (chr_out_reserve), and a reader
 * that went away (EPIPE). */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "out.h"
#include "source.h"
#include "unit.h"

static _Alignas(64) unsigned char buf[4][256];

/* record i of buf: a DEFINE of (1, 2) named v S, or a HEARTBEAT, TRADE or
 * QUOTE (zeroed payload) of (1, 2) */
static const struct chr_rec *rec(int i, uint16_t type, uint64_t seq)
{
	struct chr_rec *r = (struct chr_rec *)buf[i];

	memset(buf[i], 0, sizeof buf[i]);
	r->type = type;
	r->seq = seq;
	r->venue = 1;
	r->market = 2;
	r->len = CHR_HDR_SIZE + (type == CHR_DEFINE ? sizeof(struct chr_define) :
				 type == CHR_TRADE ? sizeof(struct chr_trade) :
				 type == CHR_QUOTE ? sizeof(struct chr_quote) : 0);
	if (type == CHR_DEFINE) {
		struct chr_define *d = chr_rec_payload(r);

		strcpy(d->venue, "v");
		strcpy(d->symbol, "S");
	}
	chr_rec_seal(r);
	return r;
}

/* Write, in a child with stdout on file path: a DEFINE not selected, then
 * two HEARTBEATs, in kind (to queue when not NULL). Returns the child's
 * exit status: 0 when every call succeeded. */
static int run(enum chr_out_kind kind, const char *queue, const char *path)
{
	struct chr_out o;
	struct chr_err e;
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		if (!freopen(path, "w", stdout) ||
		    chr_out_open(&o, kind, queue, &e) < 0 ||
		    chr_out_skip(&o, rec(0, CHR_DEFINE, 0), &e) < 0 ||
		    chr_out_put(&o, rec(1, CHR_HEARTBEAT, 1), &e) < 0 ||
		    chr_out_flush(&o, &e) < 0 ||
		    chr_out_put(&o, rec(1, CHR_HEARTBEAT, 2), &e) < 0 ||
		    chr_out_close(&o, &e) < 0)
			_exit(1);
		_exit(kind == CHR_OUT_CSV && o.no_csv != 2 ? 2 : 0);
	}
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* In a child with stdout on path: JSON of a DEFINE put and a HEARTBEAT
 * (json_defines as given), or CSV of a TRADE then a QUOTE. Returns the
 * child's exit status: 0 when every call did what it should. */
static int views(enum chr_out_kind kind, int defines, const char *path)
{
	struct chr_out o;
	struct chr_err e;
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		if (!freopen(path, "w", stdout) || chr_out_open(&o, kind, NULL, &e) < 0)
			_exit(1);
		o.json_defines = defines;
		if (kind == CHR_OUT_JSON)
			_exit(chr_out_put(&o, rec(0, CHR_DEFINE, 0), &e) == 0 &&
			      chr_out_put(&o, rec(1, CHR_HEARTBEAT, 1), &e) == 0 &&
			      chr_out_close(&o, &e) == 0 ? 0 : 2);
		/* a second dataset: refused where its header would go */
		_exit(chr_out_put(&o, rec(0, CHR_DEFINE, 0), &e) == 0 &&
		      chr_out_put(&o, rec(1, CHR_TRADE, 1), &e) == 0 &&
		      chr_out_put(&o, rec(2, CHR_QUOTE, 2), &e) == -1 && o.err == 0 &&
		      e.status == CHR_EX_USAGE &&
		      strstr(e.msg, " seq 2: a QUOTE record after trades rows: ") &&
		      chr_out_put(&o, rec(1, CHR_TRADE, 3), &e) == 0 &&
		      chr_out_close(&o, &e) == 0 ? 0 : 3);
	}
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* In a child with stdout on path: a DEFINE and two HEARTBEATs built in
 * place (chr_out_reserve/commit; the second reservation forgotten for a
 * third), in kind (to queue when not NULL). Returns the child's status. */
static int reserved(enum chr_out_kind kind, const char *queue, const char *path)
{
	struct chr_out o;
	struct chr_err e;
	struct chr_rec *r;
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		if (!freopen(path, "w", stdout) || chr_out_open(&o, kind, queue, &e) < 0)
			_exit(1);
		for (int i = 0; i < 4; i++) {
			uint16_t type = i == 0 ? CHR_DEFINE : CHR_HEARTBEAT;
			uint32_t len = CHR_HDR_SIZE + (i == 0 ? sizeof(struct chr_define) : 0);

			if ((r = chr_out_reserve(&o, len, &e)) == NULL)
				_exit(2);
			r->type = type;
			r->seq = (uint64_t)(i < 2 ? i : i - 1);
			r->venue = 1;
			r->market = 2;
			if (i == 0) {
				strcpy(((struct chr_define *)chr_rec_payload(r))->venue, "v");
				strcpy(((struct chr_define *)chr_rec_payload(r))->symbol, "S");
			}
			if (i != 2 && chr_out_commit(&o, r, &e) < 0)
				_exit(3);
		}
		_exit(chr_out_reserve(&o, 63, &e) == NULL && chr_out_close(&o, &e) == 0 ? 0 : 4);
	}
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	char *s = calloc(1, 4096);

	*n = f ? fread(s, 1, 4095, f) : 0;
	if (f)
		fclose(f);
	return s;
}

/* the records of path (a stream file or a queue): their types and seqs */
static int types(const char *path, char *got, size_t cap)
{
	struct chr_source s;
	const struct chr_rec *r;
	size_t k = 0;
	int rc;

	chr_source_init(&s, NULL);
	if (chr_source_add_path(&s, path) < 0)
		return -1;
	while ((rc = chr_source_next(&s, &r)) == 1 && k + 24 < cap)
		k += (size_t)snprintf(got + k, cap - k, "%s%s:%llu", k ? " " : "",
				      chr_type_name(r->type), (unsigned long long)r->seq);
	chr_source_free(&s);
	return rc;
}

int main(void)
{
	char dir[] = "/tmp/t-out.XXXXXX", path[64], q[64], got[256];
	enum chr_out_kind kind;
	struct chr_err e;
	struct chr_out o;
	char *s;
	const char *d;
	size_t n;
	int p[2];

	/* --format values, and one wording for the others */
	CHECK(chr_out_parse("binary", &kind, &e) == 0 && kind == CHR_OUT_BINARY);
	CHECK(chr_out_parse("text", &kind, &e) == 0 && kind == CHR_OUT_TEXT);
	CHECK(chr_out_parse("json", &kind, &e) == 0 && kind == CHR_OUT_JSON);
	CHECK(chr_out_parse("csv", &kind, &e) == 0 && kind == CHR_OUT_CSV);
	CHECK(chr_out_parse("parquet", &kind, &e) == 0 && kind == CHR_OUT_PARQUET);
	CHECK(chr_out_parse("arrow", &kind, &e) == 0 && kind == CHR_OUT_ARROW);
	CHECK(chr_out_parse("x\033", &kind, &e) == -1 && e.status == CHR_EX_USAGE);
	CHECK_STR(e.msg, "unknown format 'x\\x1b' (binary, text, json, csv, parquet, arrow)");
	/* --out is a queue or a Parquet file; a tree needs its directory */
	kind = CHR_OUT_CSV;
	CHECK(chr_out_check(&kind, "f", &e) == -1 && e.status == CHR_EX_USAGE);
	kind = CHR_OUT_PARQUET;
	CHECK(chr_out_check(&kind, "f", &e) == 0 && kind == CHR_OUT_PARQUET);
	kind = CHR_OUT_PARQUET_TREE;
	CHECK(chr_out_check(&kind, NULL, &e) == -1 && e.status == CHR_EX_USAGE);
	/* --out-dir makes a tree of Parquet alone; a committing reader takes none */
	kind = CHR_OUT_PARQUET;
	d = NULL;
	CHECK(chr_out_dest(&kind, &d, "dir", 0, &e) == 0 && kind == CHR_OUT_PARQUET_TREE &&
	      d && strcmp(d, "dir") == 0);
	kind = CHR_OUT_CSV;
	d = NULL;
	CHECK(chr_out_dest(&kind, &d, "dir", 0, &e) == -1 && e.status == CHR_EX_USAGE);
	kind = CHR_OUT_PARQUET;
	d = "f";
	CHECK(chr_out_dest(&kind, &d, "dir", 0, &e) == -1 && e.status == CHR_EX_USAGE);
	CHECK(chr_out_dest(&kind, &d, NULL, 1, &e) == -1 && e.status == CHR_EX_USAGE);
	kind = CHR_OUT_BINARY;
	CHECK(chr_out_dest(&kind, &d, NULL, 1, &e) == 0 && kind == CHR_OUT_BINARY);
	/* records to a queue are binary, whatever stdout is */
	kind = CHR_OUT_AUTO;
	CHECK(chr_out_check(&kind, "q", &e) == 0 && kind == CHR_OUT_BINARY);
	kind = CHR_OUT_JSON;
	CHECK(chr_out_check(&kind, NULL, &e) == 0 && kind == CHR_OUT_JSON);

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof path, "%s/out", dir);
	snprintf(q, sizeof q, "%s/q", dir);

	/* binary: the DEFINE not selected goes out before its instrument's
	 * first record, once */
	CHECK(run(CHR_OUT_BINARY, NULL, path) == 0);
	CHECK(types(path, got, sizeof got) == 0);
	CHECK_STR(got, "DEFINE:0 HEARTBEAT:1 HEARTBEAT:2");
	/* the same to a queue (created; it numbers the records itself) */
	CHECK(run(CHR_OUT_AUTO, q, path) == 0);
	CHECK(types(q, got, sizeof got) == 0);
	CHECK_STR(got, "DEFINE:0 HEARTBEAT:1 HEARTBEAT:2");

	/* records built in place: to stdout, to a queue, as text */
	CHECK(reserved(CHR_OUT_BINARY, NULL, path) == 0);
	CHECK(types(path, got, sizeof got) == 0);
	CHECK_STR(got, "DEFINE:0 HEARTBEAT:1 HEARTBEAT:2");
	snprintf(q, sizeof q, "%s/q2", dir);
	CHECK(reserved(CHR_OUT_AUTO, q, path) == 0);
	CHECK(types(q, got, sizeof got) == 0);
	CHECK_STR(got, "DEFINE:0 HEARTBEAT:1 HEARTBEAT:2");
	snprintf(q, sizeof q, "%s/q", dir);
	CHECK(reserved(CHR_OUT_TEXT, NULL, path) == 0);
	s = slurp(path, &n);
	CHECK_STR(s, "1970-01-01T00:00:00.000000000Z DEFINE v S seq=0 src_seq=0 flags=- venue=v "
		     "symbol=S price_scale_hint=0 size_scale_hint=0\n"
		     "1970-01-01T00:00:00.000000000Z HEARTBEAT v S seq=1 src_seq=0 flags=-\n"
		     "1970-01-01T00:00:00.000000000Z HEARTBEAT v S seq=2 src_seq=0 flags=-\n");
	free(s);

	/* text: names from the DEFINE, which is not printed */
	CHECK(run(CHR_OUT_TEXT, NULL, path) == 0);
	s = slurp(path, &n);
	CHECK_STR(s, "1970-01-01T00:00:00.000000000Z HEARTBEAT v S seq=1 src_seq=0 flags=-\n"
		     "1970-01-01T00:00:00.000000000Z HEARTBEAT v S seq=2 src_seq=0 flags=-\n");
	free(s);
	/* CSV: a HEARTBEAT has no Tardis form: counted, nothing written */
	CHECK(run(CHR_OUT_CSV, NULL, path) == 0);
	s = slurp(path, &n);
	CHECK(n == 0);
	free(s);

	/* JSON is one table: the DEFINE only when asked for */
	CHECK(views(CHR_OUT_JSON, 0, path) == 0);
	s = slurp(path, &n);
	CHECK(strstr(s, "DEFINE") == NULL && strstr(s, "\"type_name\":\"HEARTBEAT\"") &&
	      strchr(s, '\n') == s + n - 1 && strstr(s, "\"symbol\":\"S\""));
	free(s);
	CHECK(views(CHR_OUT_JSON, 1, path) == 0);
	s = slurp(path, &n);
	d = strstr(s, "\"type_name\":\"DEFINE\"");
	CHECK(d && d < strchr(s, '\n') && strstr(s, "HEARTBEAT"));
	free(s);
	/* CSV: trades under one header, the quote refused, trades go on */
	CHECK(views(CHR_OUT_CSV, 0, path) == 0);
	s = slurp(path, &n);
	CHECK_STR(s, "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
		     "v,S,0,0,,unknown,0,0\nv,S,0,0,,unknown,0,0\n");
	free(s);

	/* a reader that went away: EPIPE, for the quiet end */
	signal(SIGPIPE, SIG_IGN);
	CHECK(pipe(p) == 0);
	close(p[0]);
	if (fork() == 0) {
		dup2(p[1], STDOUT_FILENO);
		_exit(chr_out_open(&o, CHR_OUT_BINARY, NULL, &e) == 0 &&
		      chr_out_put(&o, rec(1, CHR_HEARTBEAT, 1), &e) == 0 &&
		      chr_out_flush(&o, &e) == -1 && o.err == EPIPE && e.status == CHR_EX_SYS &&
		      strcmp(e.msg, "cannot write to standard output: Broken pipe") == 0 ? 0 : 1);
	}
	{
		int st;

		CHECK(wait(&st) > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	close(p[1]);
	snprintf(got, sizeof got, "rm -rf %s", dir);
	CHECK(system(got) == 0);
	return unit_done("t-out");
}
