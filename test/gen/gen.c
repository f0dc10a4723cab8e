/* gen.c - the test data generator: record streams, segment files and single
 * records for the bats suites, the same bytes for the same arguments (every
 * field follows from them; nothing depends on the clock or chance). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "num.h"
#include "recs.h"
#include "tm.h"

static const char usage_text[] =
	"usage: gen stream N [TS0 [FIRST [SEGID]]]\n"
	"       gen spec SPEC...\n"
	"       gen rec TYPE VID MID TIME SEQ FLAGS [PAYLOAD_HEX | VENUE SYMBOL]\n"
	"       gen heartbeat | huge\n"
	"       gen seal [FILE OFFSET]\n"
	"       gen -h | --help\n"
	"\n"
	"Writes records to stdout.\n"
	"  stream  records FIRST..FIRST+N-1 (default 0) of testvenue TESTSYM\n"
	"          (venue 7, market 42; seq = src_seq = the index): 0 DEFINE,\n"
	"          1 BOOK_SNAPSHOT, then BOOK_DIFF, TRADE, QUOTE in turn, one a\n"
	"          second from TS0 (default 2024-08-08); with SEGID, as one sealed\n"
	"          segment file of that id (a header, then the records)\n"
	"  spec    records of each SPEC in turn, seq and src_seq counting from 0:\n"
	"            D VID MID VENUE SYMBOL   a DEFINE (names may hold \\xNN)\n"
	"            T|Q|B|S|N VID MID TIME N N trades, quotes, book diffs,\n"
	"                                     snapshots or top-N views, 1 ms apart\n"
	"            H TIME | A TIME          a HEARTBEAT, an application record\n"
	"  rec     one record of any TYPE (a name or number): seq and src_seq\n"
	"          SEQ, header FLAGS (decimal), the payload in hex, or for a\n"
	"          DEFINE the names\n"
	"  heartbeat  one HEARTBEAT at 2024-08-08\n"
	"  huge    a BOOK_DIFF and a GAP whose unsigned fields lie above INT64_MAX\n"
	"  seal    the records of stdin with their CRCs made right (after a test\n"
	"          edited them); with FILE OFFSET, the one record at that byte of\n"
	"          FILE, in place\n"
	"TIME is a time chr-tail --from takes (2024-05-01, 2024-05-01T00:01, ns).\n";

__attribute__((format(printf, 1, 2)))
static _Noreturn void usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gen: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage_text);
	exit(2);
}

static uint64_t num(const char *s, uint64_t max)
{
	uint64_t v;

	if (chr_parse_range(s, 0, max, &v) < 0)
		usage("bad number '%s'", s);
	return v;
}

static int64_t when(const char *s)
{
	int64_t ns;

	if (chr_time_parse(s, &ns) < 0)
		usage("bad time '%s'", s);
	return ns;
}

/* Copy s into out (cap bytes, NUL-padded) decoding \xNN escapes. */
static void unescape(char *out, size_t cap, const char *s)
{
	size_t k = 0;

	memset(out, 0, cap);
	while (*s && k < cap) {
		if (s[0] == '\\' && s[1] == 'x' && s[2] && s[3]) {
			char hex[3] = {s[2], s[3], 0};

			out[k++] = (char)strtol(hex, NULL, 16);
			s += 4;
		} else {
			out[k++] = *s++;
		}
	}
}

static void put(const void *p, size_t n)
{
	if (fwrite(p, 1, n, stdout) != n) {
		fprintf(stderr, "gen: cannot write: %s\n", strerror(errno));
		exit(3);
	}
}

/* Write what o holds once it is large, or at the end. */
static void drain(struct gen_out *o, int end)
{
	if (o->n >= (1u << 20) || (end && o->n)) {
		put(o->buf, o->n);
		o->n = 0;
	}
}

static void cmd_stream(struct gen_out *o, int argc, char **argv)
{
	uint64_t n, first;
	int64_t ts0;

	if (argc < 1 || argc > 4)
		usage("stream takes N [TS0 [FIRST [SEGID]]]");
	n = num(argv[0], UINT32_MAX);
	ts0 = argc > 1 ? when(argv[1]) : GEN_TS0;
	first = argc > 2 ? num(argv[2], UINT64_MAX) : 0;
	if (argc > 3) {
		struct chr_seg s = {.magic = CHR_SEG_MAGIC, .version = 1, .flags = CHR_SEG_SEALED};

		/* the header counts the records: build them all first */
		for (uint64_t i = 0; i < n; i++)
			gen_stream_rec(o, first + i, ts0 + (int64_t)i * GEN_SEC);
		s.id = num(argv[3], UINT64_MAX);
		s.base_seq = first;
		s.count = n;
		s.ts_min = ts0;
		s.ts_max = ts0 + (int64_t)(n ? n - 1 : 0) * GEN_SEC;
		s.end = sizeof s + o->n;
		s.crc = chr_seg_crc(&s);
		put(&s, sizeof s);
	} else {
		for (uint64_t i = 0; i < n; i++) {
			gen_stream_rec(o, first + i, ts0 + (int64_t)i * GEN_SEC);
			drain(o, 0);
		}
	}
}

static uint16_t spec_type(char k)
{
	switch (k) {
	case 'T': return CHR_TRADE;
	case 'Q': return CHR_QUOTE;
	case 'B': return CHR_BOOK_DIFF;
	case 'S': return CHR_BOOK_SNAPSHOT;
	default: return CHR_BOOK_TOPN;
	}
}

/* N records of type (a spec letter's) of instrument vid, mid from t on */
static void spec_run(struct gen_out *o, uint16_t type, char **a, uint64_t *seq)
{
	uint16_t vid = (uint16_t)num(a[0], UINT16_MAX);
	uint32_t mid = (uint32_t)num(a[1], UINT32_MAX);
	int64_t t = when(a[2]);
	long n = (long)num(a[3], UINT32_MAX);

	for (long j = 0; j < n; j++) {
		uint32_t len = CHR_HDR_SIZE + (type == CHR_TRADE ? sizeof(struct chr_trade) :
			type == CHR_QUOTE ? sizeof(struct chr_quote) :
			sizeof(struct chr_book) + 2 * sizeof(struct chr_level));
		struct chr_rec *r = gen_reserve(o, len);

		r->type = type;
		r->venue = vid;
		r->market = mid;
		r->ts = t + j * 1000000;
		r->ts_event = r->ts - 5;
		r->seq = r->src_seq = (*seq)++;
		if (type == CHR_TRADE) {
			struct chr_trade *tr = chr_rec_payload(r);

			tr->price = 6000000 + j;
			tr->size = 1 + j % 7;
			tr->price_scale = 1;
			tr->side = CHR_SIDE_BUY;
			snprintf(tr->id, sizeof tr->id, "%ld", j);
		} else if (type != CHR_QUOTE) {
			struct chr_book *b = chr_rec_payload(r);

			b->n_bid = b->n_ask = 1;
			b->update_id_first = b->update_id_last = (uint64_t)j + 1;
			b->levels[0].price = 100 + j;
			b->levels[1].price = 101 + j;
			b->levels[0].size = b->levels[1].size = 3;
		}
		gen_commit(o, r);
		drain(o, 0);
	}
}

static void cmd_spec(struct gen_out *o, int argc, char **argv)
{
	uint64_t seq = 0;

	for (int i = 0; i < argc;) {
		const char *k = argv[i];
		struct chr_rec *r;

		if (strcmp(k, "D") == 0 && i + 4 < argc) {
			struct chr_define *d;

			r = gen_reserve(o, CHR_HDR_SIZE + sizeof *d);
			r->type = CHR_DEFINE;
			r->venue = (uint16_t)num(argv[i + 1], UINT16_MAX);
			r->market = (uint32_t)num(argv[i + 2], UINT32_MAX);
			d = chr_rec_payload(r);
			unescape(d->venue, sizeof d->venue, argv[i + 3]);
			unescape(d->symbol, sizeof d->symbol, argv[i + 4]);
			r->seq = r->src_seq = seq++;
			gen_commit(o, r);
			i += 5;
		} else if (strchr("TQBSN", k[0]) && k[0] && k[1] == '\0' && i + 4 < argc) {
			spec_run(o, spec_type(k[0]), argv + i + 1, &seq);
			i += 5;
		} else if ((strcmp(k, "H") == 0 || strcmp(k, "A") == 0) && i + 1 < argc) {
			r = gen_reserve(o, CHR_HDR_SIZE + (k[0] == 'A' ? 8 : 0));
			r->type = k[0] == 'A' ? 0x8001 : CHR_HEARTBEAT;
			r->ts = when(argv[i + 1]);
			r->seq = r->src_seq = seq++;
			gen_commit(o, r);
			i += 2;
		} else {
			usage("bad spec at '%s'", k);
		}
	}
}

static void cmd_rec(struct gen_out *o, int argc, char **argv)
{
	const char *hex = argc == 7 ? argv[6] : "";
	int type = argc > 0 ? chr_type_parse(argv[0]) : -1;
	size_t plen = type == CHR_DEFINE ? sizeof(struct chr_define) : strlen(hex) / 2;
	struct chr_rec *r;

	if (argc < 6 || argc > 8 || (type == CHR_DEFINE) != (argc == 8))
		usage("rec takes TYPE VID MID TIME SEQ FLAGS [PAYLOAD_HEX | VENUE SYMBOL]");
	if (type < 0)
		usage("bad type '%s'", argv[0]);
	if (strlen(hex) % 2 || strspn(hex, "0123456789abcdefABCDEF") != strlen(hex))
		usage("bad payload '%s'", hex);
	r = gen_reserve(o, (uint32_t)(CHR_HDR_SIZE + plen));
	r->type = (uint16_t)type;
	r->venue = (uint16_t)num(argv[1], UINT16_MAX);
	r->market = (uint32_t)num(argv[2], UINT32_MAX);
	r->ts = when(argv[3]);
	r->seq = r->src_seq = num(argv[4], UINT64_MAX);
	r->flags = (uint16_t)num(argv[5], UINT16_MAX);
	if (type == CHR_DEFINE) {
		struct chr_define *d = chr_rec_payload(r);

		unescape(d->venue, sizeof d->venue, argv[6]);
		unescape(d->symbol, sizeof d->symbol, argv[7]);
	} else {
		unsigned char *p = chr_rec_payload(r);

		for (size_t k = 0; k < plen; k++) {
			char b[3] = {hex[2 * k], hex[2 * k + 1], 0};

			p[k] = (unsigned char)strtoul(b, NULL, 16);
		}
	}
	gen_commit(o, r);
}

static void cmd_heartbeat(struct gen_out *o)
{
	struct chr_rec *r = gen_reserve(o, CHR_HDR_SIZE);

	r->type = CHR_HEARTBEAT;
	r->ts = GEN_TS0;
	gen_commit(o, r);
}

/* The records of buf[0..n) sealed again; exits 1 at a length that does
 * not fit. */
static void seal_all(unsigned char *buf, size_t n)
{
	for (size_t pos = 0; pos < n;) {
		struct chr_rec *r = (struct chr_rec *)(buf + pos);

		if (n - pos < CHR_HDR_SIZE || r->len < CHR_HDR_SIZE || r->len > CHR_REC_MAX ||
		    chr_rec_span(r->len) > n - pos) {
			fprintf(stderr, "gen: stdin: byte %llu: no whole record\n",
				(unsigned long long)pos);
			exit(1);
		}
		chr_rec_seal(r);
		pos += chr_rec_span(r->len);
	}
}

static int cmd_seal(struct gen_out *o, int argc, char **argv)
{
	ssize_t got;

	if (argc == 0) {
		/* stdin whole, in an aligned buffer: room as for a record */
		for (;;) {
			struct chr_rec *r = gen_reserve(o, 1 << 16);

			got = read(STDIN_FILENO, r, 1 << 16);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0) {
				fprintf(stderr, "gen: cannot read stdin: %s\n", strerror(errno));
				return 3;
			}
			o->n += (size_t)got;
			if (got == 0)
				break;
		}
		seal_all(o->buf, o->n);
	} else if (argc == 2) {
		uint64_t off = num(argv[1], INT64_MAX);
		int fd = open(argv[0], O_RDWR);
		struct chr_rec h, *r;

		if (fd < 0 || pread(fd, &h, sizeof h, (off_t)off) != (ssize_t)sizeof h) {
			fprintf(stderr, "gen: cannot read '%s' at byte %llu\n", argv[0],
				(unsigned long long)off);
			return 3;
		}
		if (h.len < CHR_HDR_SIZE || h.len > CHR_REC_MAX) {
			fprintf(stderr, "gen: %s: byte %llu: no record\n", argv[0],
				(unsigned long long)off);
			return 1;
		}
		r = gen_reserve(o, h.len);
		if (pread(fd, r, chr_rec_span(h.len), (off_t)off) != (ssize_t)chr_rec_span(h.len)) {
			fprintf(stderr, "gen: %s: byte %llu: no whole record\n", argv[0],
				(unsigned long long)off);
			return 1;
		}
		chr_rec_seal(r);
		if (pwrite(fd, r, chr_rec_span(h.len), (off_t)off) != (ssize_t)chr_rec_span(h.len) ||
		    close(fd) < 0) {
			fprintf(stderr, "gen: cannot write '%s': %s\n", argv[0], strerror(errno));
			return 3;
		}
	} else {
		usage("seal takes no operand, or FILE OFFSET");
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	struct gen_out o = {0};
	int rc = 0;

	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(cmd, "stream") == 0)
		cmd_stream(&o, argc - 2, argv + 2);
	else if (strcmp(cmd, "spec") == 0)
		cmd_spec(&o, argc - 2, argv + 2);
	else if (strcmp(cmd, "rec") == 0)
		cmd_rec(&o, argc - 2, argv + 2);
	else if (strcmp(cmd, "heartbeat") == 0 && argc == 2)
		cmd_heartbeat(&o);
	else if (strcmp(cmd, "huge") == 0 && argc == 2)
		gen_huge(&o);
	else if (strcmp(cmd, "seal") == 0)
		rc = cmd_seal(&o, argc - 2, argv + 2);
	else
		usage("unknown command '%s'", cmd);
	drain(&o, 1);
	free(o.buf);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "gen: cannot write: %s\n", strerror(errno));
		return 3;
	}
	return rc;
}
