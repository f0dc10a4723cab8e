/* book.c - the L2 book benchmark: replay the book records of a stream many
 * times through chr_l2_apply and, as a peer, through a red-black tree book
 * (glibc tsearch), and print level updates per second for both. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chr.h"
#include "book.h"

static const char usage_text[] =
	"usage: book-bench [-n PASSES] [-r RUNS] [-c CPU] FILE\n"
	"\n"
	"Reads the records of FILE (make one with\n"
	"  zcat test/data/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz \\\n"
	"    | bin/chr-csv2ev/chr-csv2ev > /tmp/l2.ev)\n"
	"and keeps the BOOK_SNAPSHOT and BOOK_DIFF records of its first market,\n"
	"from its first snapshot on. A pass applies all of them in order (the\n"
	"snapshot resets the book); each run times PASSES passes, and the best of\n"
	"RUNS is reported, for chr_l2_apply and for a peer: a book of two glibc\n"
	"red-black trees (tsearch/tfind/tdelete), one malloc'd node per level.\n"
	"Level updates/s = levels in the records (snapshot levels included) x\n"
	"passes / the process's CPU time. The peer only sets levels: it checks no\n"
	"update ids, tracks no top of book and resolves no crossing. The two books\n"
	"are compared after every run.\n"
	"\n"
	"  -n, --passes PASSES  passes per run (default 50)\n"
	"  -r, --runs RUNS      runs of each book, the fastest is reported (default 3)\n"
	"  -c, --cpu CPU        pin to this core\n"
	"  -h, --help           show this help\n"
	"      --version        show the version\n";

/* The process's CPU time: on a shared machine the wall clock also counts
 * the time other processes had the core. */
static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The records to replay, copied out of the reader's buffer. */
static const struct chr_rec **recs;
static size_t nrecs;
static uint64_t levels_per_pass;
static int max_ps, max_ss;	/* the peer keeps every value at these scales */

static void load(const char *path)
{
	struct chr_reader rd;
	const struct chr_rec *r;
	size_t cap = 0, skipped = 0, other = 0;
	int fd, rc, have = 0;
	uint16_t venue = 0;
	uint32_t market = 0;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		chr_die(CHR_EX_SYS, "cannot open '%s': %s", path, strerror(errno));
	if (chr_reader_init(&rd, fd, path) < 0)
		chr_die(CHR_EX_SYS, "out of memory");
	while ((rc = chr_reader_next(&rd, &r)) == 1) {
		const struct chr_book *bk = chr_rec_payload(r);
		struct chr_rec *copy;

		if (r->type != CHR_BOOK_SNAPSHOT && r->type != CHR_BOOK_DIFF)
			continue;
		if (!have) {
			if (r->type != CHR_BOOK_SNAPSHOT) {
				skipped++;
				continue;
			}
			venue = r->venue;
			market = r->market;
			have = 1;
		}
		if (r->venue != venue || r->market != market) {
			other++;
			continue;
		}
		if (nrecs == cap) {
			cap = cap ? cap * 2 : 4096;
			recs = realloc(recs, cap * sizeof *recs);
			if (recs == NULL)
				chr_die(CHR_EX_SYS, "out of memory");
		}
		copy = aligned_alloc(CHR_ALIGN, chr_rec_span(r->len));
		if (copy == NULL)
			chr_die(CHR_EX_SYS, "out of memory");
		memcpy(copy, r, chr_rec_span(r->len));
		recs[nrecs++] = copy;
		levels_per_pass += (uint64_t)bk->n_bid + bk->n_ask;
		if (bk->price_scale > max_ps)
			max_ps = bk->price_scale;
		if (bk->size_scale > max_ss)
			max_ss = bk->size_scale;
	}
	if (rc < 0)
		chr_die_err(&rd.e);
	chr_reader_free(&rd);
	close(fd);
	if (nrecs == 0)
		chr_die(CHR_EX_DATA, "%s: no book snapshot", path);
	if (skipped)
		chr_warn("%s: %zu diffs before the first snapshot skipped", path, skipped);
	if (other)
		chr_warn("%s: %zu book records of other markets skipped", path, other);
}

/* ---- chronicle's book ---------------------------------------------------- */

static void run_chr(struct chr_l2 *b, uint64_t passes)
{
	for (uint64_t p = 0; p < passes; p++)
		for (size_t i = 0; i < nrecs; i++) {
			int ret = chr_l2_apply(b, recs[i]);

			if (ret < 0 || (ret & (CHR_L2_GAP | CHR_L2_NOSNAP | CHR_L2_STALE)))
				chr_die(CHR_EX_DATA, "record %zu: chr_l2_apply returned %d", i, ret);
		}
}

/* ---- the peer: two red-black trees of malloc'd levels -------------------- */

struct node {
	int64_t price, size;
};

static void *tree[2];

static int node_cmp(const void *a, const void *b)
{
	const struct node *x = a, *y = b;

	return (x->price > y->price) - (x->price < y->price);
}

static void peer_set(void **root, int64_t price, int64_t size)
{
	struct node key = {price, 0}, *n;
	void *p = tfind(&key, root, node_cmp);

	if (p != NULL) {
		n = *(struct node **)p;
		if (size != 0) {
			n->size = size;
		} else {
			tdelete(&key, root, node_cmp);
			free(n);
		}
	} else if (size != 0) {
		n = malloc(sizeof *n);
		if (n == NULL)
			chr_die(CHR_EX_SYS, "out of memory");
		n->price = price;
		n->size = size;
		if (tsearch(n, root, node_cmp) == NULL)
			chr_die(CHR_EX_SYS, "out of memory");
	}
}

static void peer_apply(const struct chr_rec *r)
{
	const struct chr_book *bk = chr_rec_payload(r);
	int64_t mp = chr_pow10[max_ps - bk->price_scale], ms = chr_pow10[max_ss - bk->size_scale];

	if (r->type == CHR_BOOK_SNAPSHOT) {
		tdestroy(tree[0], free);
		tdestroy(tree[1], free);
		tree[0] = tree[1] = NULL;
	}
	for (uint32_t j = 0; j < bk->n_bid + bk->n_ask; j++)
		peer_set(&tree[j >= bk->n_bid], bk->levels[j].price * mp, bk->levels[j].size * ms);
}

static void run_peer(uint64_t passes)
{
	for (uint64_t p = 0; p < passes; p++)
		for (size_t i = 0; i < nrecs; i++)
			peer_apply(recs[i]);
}

/* twalk has no argument: the collector is global */
static struct chr_level *walked;
static size_t nwalked;

static void collect(const void *nodep, VISIT which, int depth)
{
	const struct node *n = *(struct node *const *)nodep;

	(void)depth;
	if (which == postorder || which == leaf)
		walked[nwalked++] = (struct chr_level){n->price, n->size};
}

static size_t tree_nodes;

static void count_node(const void *nodep, VISIT which, int depth)
{
	(void)nodep;
	(void)depth;
	tree_nodes += which == postorder || which == leaf;
}

static size_t tree_size(const void *root)
{
	tree_nodes = 0;
	twalk(root, count_node);
	return tree_nodes;
}

/* Both books hold the same levels, best first? */
static int same_books(const struct chr_l2 *b)
{
	int ok = 1;

	for (int side = 0; side < 2; side++) {
		size_t n = chr_l2_levels(b, side);
		struct chr_level *mine = malloc((n + 1) * sizeof *mine);

		walked = malloc((n + 1) * sizeof *walked);
		nwalked = 0;
		if (mine == NULL || walked == NULL)
			chr_die(CHR_EX_SYS, "out of memory");
		chr_l2_depth(b, side, n, mine);
		if (tree_size(tree[side]) != n) {
			ok = 0;
		} else {
			twalk(tree[side], collect);
			for (size_t i = 0; i < n && ok; i++) {
				/* ascending prices: bids are best last, asks best first */
				const struct chr_level *w = &walked[side == CHR_BID ? n - 1 - i : i];

				if (chr_dec_cmp(mine[i].price, chr_l2_price_scale(b), w->price, max_ps) ||
				    chr_dec_cmp(mine[i].size, chr_l2_size_scale(b), w->size, max_ss))
					ok = 0;
			}
		}
		free(mine);
		free(walked);
	}
	return ok;
}

/* ---- how far from the top the updates land -------------------------------- */

/* Replays once, ranking each level against the book before its record: how
 * many levels of its side are better (0: at or beyond the top). */
static void distances(void)
{
	static const size_t edge[] = {1, 10, 100, 1000, 10000};
	uint64_t count[6] = {0}, total = 0, sizes[2] = {0}, top = 0, crossed = 0;
	struct chr_l2 *b = chr_l2_new();
	struct chr_level *side[2] = {NULL, NULL};
	size_t cap = 0;

	if (b == NULL)
		chr_die(CHR_EX_SYS, "out of memory");
	for (size_t i = 0; i < nrecs; i++) {
		const struct chr_book *bk = chr_rec_payload(recs[i]);
		size_t n[2];
		int ret;

		if (recs[i]->type == CHR_BOOK_DIFF) {
			int ps = chr_l2_price_scale(b);

			n[0] = chr_l2_levels(b, CHR_BID);
			n[1] = chr_l2_levels(b, CHR_ASK);
			if (n[0] + n[1] > cap) {
				cap = 2 * (n[0] + n[1]);
				side[0] = realloc(side[0], cap * sizeof **side);
				side[1] = realloc(side[1], cap * sizeof **side);
				if (side[0] == NULL || side[1] == NULL)
					chr_die(CHR_EX_SYS, "out of memory");
			}
			chr_l2_depth(b, CHR_BID, n[0], side[0]);
			chr_l2_depth(b, CHR_ASK, n[1], side[1]);
			for (uint32_t j = 0; j < bk->n_bid + bk->n_ask; j++) {
				int s = j >= bk->n_bid;
				const struct chr_level *l = &bk->levels[j];
				size_t lo = 0, hi = n[s], k;

				/* levels better than l: a prefix of the best-first side */
				while (lo < hi) {
					size_t mid = lo + (hi - lo) / 2;
					int c = chr_dec_cmp(side[s][mid].price, ps, l->price,
							    bk->price_scale);

					if (s == CHR_BID ? c > 0 : c < 0)
						lo = mid + 1;
					else
						hi = mid;
				}
				for (k = 0; k < 5 && lo >= edge[k]; k++)
					;
				count[k]++;
				total++;
			}
		}
		ret = chr_l2_apply(b, recs[i]);
		if (ret < 0)
			chr_die(CHR_EX_DATA, "record %zu: chr_l2_apply failed", i);
		top += (ret & CHR_L2_TOP) != 0;
		crossed += (ret & CHR_L2_CROSSED) != 0;
		sizes[0] += chr_l2_levels(b, CHR_BID);
		sizes[1] += chr_l2_levels(b, CHR_ASK);
	}
	printf("records: %" PRIu64 " changed the top of book, %" PRIu64 " left it crossed\n",
	       top, crossed);
	printf("book: %" PRIu64 " levels a side on average (bids %" PRIu64 ", asks %" PRIu64
	       ", end %zu/%zu)\n", (sizes[0] + sizes[1]) / 2 / nrecs, sizes[0] / nrecs,
	       sizes[1] / nrecs, chr_l2_levels(b, CHR_BID), chr_l2_levels(b, CHR_ASK));
	if (total)
		printf("diff levels by rank from the top: 0: %.1f%%, 1-9: %.1f%%, 10-99: %.1f%%, "
		       "100-999: %.1f%%, 1000-9999: %.1f%%, more: %.1f%%\n",
		       100.0 * count[0] / total, 100.0 * count[1] / total, 100.0 * count[2] / total,
		       100.0 * count[3] / total, 100.0 * count[4] / total, 100.0 * count[5] / total);
	free(side[0]);
	free(side[1]);
	chr_l2_free(b);
}

static uint64_t count_arg(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v == 0 || s[0] == '-')
		chr_usage_error("%s '%s' is not a count", opt, s);
	return v;
}

enum { OPT_VERSION = 256 };

static const struct option longopts[] = {
	{"passes", required_argument, NULL, 'n'},
	{"runs", required_argument, NULL, 'r'},
	{"cpu", required_argument, NULL, 'c'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
	uint64_t passes = 50, runs = 3, best_chr = UINT64_MAX, best_peer = UINT64_MAX;
	double chr_rate, peer_rate;
	int opt, cpu = -1;

	chr_setprog("book-bench");
	while ((opt = getopt_long(argc, argv, "n:r:c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			passes = count_arg("--passes", optarg);
			break;
		case 'r':
			runs = count_arg("--runs", optarg);
			break;
		case 'c':
			cpu = strcmp(optarg, "0") == 0 ? 0 : (int)count_arg("--cpu", optarg);
			break;
		case 'h':
			fputs(usage_text, stdout);
			chr_close_stdout();
			return 0;
		case OPT_VERSION:
			puts("book-bench (chronicle) " CHR_VERSION_STRING);
			chr_close_stdout();
			return 0;
		default:
			chr_usage_error("bad option");
		}
	}
	if (optind != argc - 1)
		chr_usage_error("give one record file");
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) < 0)
			chr_die(CHR_EX_SYS, "cannot pin to cpu %d: %s", cpu, strerror(errno));
	}
	load(argv[optind]);
	printf("input: %s: %zu book records, %" PRIu64 " levels a pass\n", argv[optind], nrecs,
	       levels_per_pass);
	distances();
	fflush(stdout);

	for (uint64_t run = 0; run < runs; run++) {
		struct chr_l2 *b = chr_l2_new();
		uint64_t t0, t1, t2;

		if (b == NULL)
			chr_die(CHR_EX_SYS, "out of memory");
		run_chr(b, 1);	/* warm up: caches, and the arrays at full size */
		run_peer(1);
		t0 = now_ns();
		run_chr(b, passes);
		t1 = now_ns();
		run_peer(passes);
		t2 = now_ns();
		if (!same_books(b))
			chr_die(CHR_EX_DATA, "the books differ after run %" PRIu64, run + 1);
		if (t1 - t0 < best_chr)
			best_chr = t1 - t0;
		if (t2 - t1 < best_peer)
			best_peer = t2 - t1;
		chr_l2_free(b);
	}
	chr_rate = (double)levels_per_pass * (double)passes / ((double)best_chr / 1e9);
	peer_rate = (double)levels_per_pass * (double)passes / ((double)best_peer / 1e9);
	printf("chr_l2_apply: %.1f M level updates/s (%.1f ns a level)\n", chr_rate / 1e6,
	       (double)best_chr / ((double)levels_per_pass * (double)passes));
	printf("tsearch book: %.1f M level updates/s (%.1f ns a level)\n", peer_rate / 1e6,
	       (double)best_peer / ((double)levels_per_pass * (double)passes));
	printf("ratio chr/tsearch: %.2f (books compared after each run: equal)\n",
	       chr_rate / peer_rate);
	printf("RESULT levels_per_pass=%" PRIu64 " passes=%" PRIu64 " runs=%" PRIu64
	       " chr_levels_per_s=%.0f tsearch_levels_per_s=%.0f ratio=%.2f\n",
	       levels_per_pass, passes, runs, chr_rate, peer_rate, chr_rate / peer_rate);
	tdestroy(tree[0], free);
	tdestroy(tree[1], free);
	for (size_t i = 0; i < nrecs; i++)
		free((void *)recs[i]);
	free(recs);
	chr_close_stdout();
	return 0;
}
