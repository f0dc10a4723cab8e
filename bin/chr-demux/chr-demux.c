/* chr-demux - pass on the records of some instruments and types: chosen by
 * venue and symbol patterns, a hash shard and record types, decided once
 * per instrument; records go out byte for byte, in input order. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chr.h"
#include "fmt.h"
#include "isel.h"
#include "merge.h"
#include "num.h"
#include "prog.h"
#include "source.h"
#include "warm.h"

static const char usage_text[] =
	"usage: chr-demux [options] [file | dir | queue | -]...\n"
	"\n"
	"options: [--venue glob]... [--symbol glob]... [--symbols file]\n"
	"         [--type type[,type...]]... [--shard i/n] [--warm clean]\n"
	"         [-v | --stats]\n"
	"         [-h | --help] [-V | --version]\n"
	"\n"
	"  several inputs are merged by ts (ties in argument order); no input or\n"
	"  '-' is standard input; DEFINE records of selected instruments and\n"
	"  HEARTBEAT records always pass\n"
	"\n";

enum { OPT_VENUE = CHR_O_OWN, OPT_SYMBOL, OPT_SHARD, OPT_WARM };

static const struct chr_opt opts[] = {
	{"venue", required_argument, OPT_VENUE, "glob",
	 "only instruments whose venue name matches (fnmatch;\nrepeatable: any of them)"},
	{"symbol", required_argument, OPT_SYMBOL, "glob",
	 "only instruments whose symbol matches (repeatable)"},
	CHR_OPT_SYMBOLS("file", "names of ids with no DEFINE record (a symbol map:\n"
			"'venue symbol venue_id market_id' lines)"),
	CHR_OPT_TYPE("only these record types (repeatable; 'book' is\nBOOK_SNAPSHOT, BOOK_DIFF and GAP)"),
	{"shard", required_argument, OPT_SHARD, "i/n",
	 "only instruments with XXH3_64(venue \\0 symbol) mod n\n= i (0 <= i < n)"},
	{"warm", required_argument, OPT_WARM, "clean",
	 "go on where the refinery's clean queues clean/{venue}/\n"
	 "{symbol}/{stream} end (docs/refinery.md): each book's\n"
	 "state first, then the input records they lack"},
	CHR_OPT_STATS("print what was passed and dropped on stderr"),
	CHR_OPT_VERBOSE(NULL),
	CHR_OPT_END,
};

/* what a record type does, before its instrument is looked at */
enum { T_DROP, T_INST, T_ALWAYS };

static int type_wanted(const struct chr_select *sel, unsigned t)
{
	return sel->all_types || (sel->types[t / 64] >> (t % 64) & 1);
}

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/* With --warm, the records dropped since the last one passed: a HEARTBEAT
 * with the last one's src_seq tells chr-sink --ack how far the input is
 * refined, also while nothing of the shard comes (every 4096 drops, when
 * the input would block, and at its end). */
static struct chr_writer w;
static struct {
	int on;
	uint64_t n, src;
	int64_t ts;
} drops;

static void beat(void)
{
	struct chr_rec hb = {0};

	if (!drops.n)
		return;
	hb.len = CHR_HDR_SIZE;
	hb.type = CHR_HEARTBEAT;
	hb.flags = CHR_F_SYNTHETIC;
	hb.seq = hb.src_seq = drops.src;
	hb.ts = drops.ts;
	chr_rec_seal(&hb);
	if (chr_writer_put(&w, &hb) < 0)
		chr_write_failed(&w);
	drops.n = 0;
}

static void dropped(const struct chr_rec *rec)
{
	if (!drops.on)
		return;
	drops.src = rec->src_seq;
	drops.ts = rec->ts;
	if (++drops.n >= 4096)
		beat();
}

static int idle(void *arg)
{
	beat();
	return chr_flush_or_exit(arg);
}

static int put(void *arg, const struct chr_rec *r)
{
	(void)arg;
	if (chr_writer_put(&w, r) < 0)
		chr_write_failed(&w);
	return 0;
}

int main(int argc, char **argv)
{
	static unsigned char tclass[65536];
	struct chr_select sel;
	struct chr_isel isel;
	struct chr_symmap map = {0};
	struct chr_merge m;
	struct chr_warm wm = {0};
	struct chr_err e;
	const struct chr_rec *rec;
	const char *symbols = NULL, *bad, *warm = NULL;
	char sh[256], names[256] = "";	/* the first instruments' names, for a message */
	uint64_t n_in = 0, n_out = 0, drop_inst = 0, drop_type = 0, drop_unnamed = 0, n_inst = 0;
	uint64_t drop_held = 0;
	int c, k, by_name;

	chr_prog_start(argv, usage_text, opts);
	chr_select_init(&sel);
	chr_isel_init(&isel);
	while ((c = chr_getopt(argc, argv)) != -1) {
		switch (c) {
		case OPT_VENUE:
			if (chr_isel_add_venue(&isel, optarg) < 0)
				chr_die(CHR_EX_SYS, "out of memory");
			break;
		case OPT_SYMBOL:
			if (chr_isel_add_symbol(&isel, optarg) < 0)
				chr_die(CHR_EX_SYS, "out of memory");
			break;
		case CHR_O_SYMBOLS:
			symbols = optarg;
			break;
		case CHR_O_TYPE:
			chr_opt_types(&sel, optarg);
			break;
		case OPT_WARM:
			warm = optarg;
			break;
		case OPT_SHARD:
			if (chr_parse_shard(optarg, &isel.shard, &isel.shards) < 0)
				chr_usage_error("--shard '%s' is not i/n with 0 <= i < n",
						CHR_SHOWN(sh, optarg));
			break;
		}
	}
	chr_refuse_tty(STDOUT_FILENO);
	if (symbols) {
		if (chr_symmap_load(&map, symbols, &e) < 0)
			chr_die_err(&e);
		isel.map = &map;
	}
	by_name = chr_isel_by_name(&isel);

	/* GAP goes with the book types; HEARTBEAT moves time forward for all */
	for (unsigned t = 0; t < 65536; t++) {
		int want = type_wanted(&sel, t);

		if (t == CHR_GAP)
			want = want || type_wanted(&sel, CHR_BOOK_SNAPSHOT) ||
				type_wanted(&sel, CHR_BOOK_DIFF);
		tclass[t] = t == CHR_HEARTBEAT ? T_ALWAYS : t == CHR_DEFINE || want ? T_INST : T_DROP;
	}

	if (chr_merge_open(&m, argv + optind, (size_t)(argc - optind), NULL, &e) < 0)
		chr_die_err(&e);
	if (chr_writer_init(&w, STDOUT_FILENO, "stdout", 0) < 0)
		chr_die(CHR_EX_SYS, "out of memory");
	chr_tab_init(&wm.tab, sizeof(struct chr_warm_inst));
	if (warm) {
		if (chr_warm_load(&wm, warm, &isel, &e) < 0)
			chr_die_err(&e);
		/* each book's state where its queue ends, named first */
		for (size_t i = 0; i < wm.tab.n; i++) {
			const struct chr_warm_inst *in = wm.tab.v[i];
			char venue[CHR_VENUE_MAX + 1], symbol[CHR_SYMBOL_MAX + 1];

			put(NULL, in->def);
			if (by_name && !chr_define_names(chr_rec_payload(in->def), venue, symbol) &&
			    chr_isel_define(&isel, in->def->venue, in->def->market, venue, symbol) < 0)
				chr_die(CHR_EX_SYS, "out of memory");
			if (in->state)
				put(NULL, in->state);
			n_inst++;
		}
		drops.on = 1;
	}

	chr_merge_set_flush(&m, idle, &w);
	for (;;) {
		int d = CHR_ISEL_YES;

		if ((k = chr_merge_next(&m, &rec)) <= 0)
			break;
		n_in++;
		if (warm && chr_warm_is_hole(rec)) {
			long nb = chr_warm_hole(&wm, rec, put, NULL);

			if (wm.lost) {
				char marks[64] = "no book queue to mark";

				if (nb > 0)
					snprintf(marks, sizeof marks, "a GAP record marks the hole in "
						 "%ld book%s", nb, plural((uint64_t)nb));
				chr_warn("the input lost %" PRIu64 " record%s (seq %" PRIu64 " to %"
					 PRIu64 ") that the clean queues lack: %s; the other streams "
					 "may lack records there too", wm.lost, plural(wm.lost),
					 rec->src_seq - wm.lost, rec->src_seq - 1, marks);
			}
			continue;
		}
		if (tclass[rec->type] == T_DROP) {
			drop_type++;
			dropped(rec);
			continue;
		}
		if (rec->type == CHR_DEFINE && warm && chr_warm_define(&wm, rec, &e) < 0) {
			k = -2;
			break;
		}
		if (rec->type == CHR_DEFINE && by_name) {
			char venue[CHR_VENUE_MAX + 1], symbol[CHR_SYMBOL_MAX + 1];
			const struct chr_reader *r = &m.s[m.last].rd;

			if ((bad = chr_define_names(chr_rec_payload(rec), venue, symbol)) != NULL) {
				chr_err_set(&e, CHR_EX_DATA, "%s: byte %" PRIu64 ": DEFINE %s", r->name,
					    r->rec_off, bad);
				k = -2;	/* e says what */
				break;
			}
			d = chr_isel_define(&isel, rec->venue, rec->market, venue, symbol);
			if (strlen(names) + strlen(venue) + strlen(symbol) + 3 < sizeof names &&
			    !strstr(names, symbol))
				snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s %s",
					 *names ? ", " : "", venue, symbol);
		} else if (by_name && tclass[rec->type] == T_INST) {
			d = chr_isel_get(&isel, rec->venue, rec->market);
		}
		if (d != CHR_ISEL_YES) {
			if (d < 0)
				chr_die(CHR_EX_SYS, "out of memory");
			if (d == CHR_ISEL_UNNAMED)
				drop_unnamed++;
			else
				drop_inst++;
			dropped(rec);
			continue;
		}
		if (warm && chr_warm_held(&wm, rec)) {
			drop_held++;
			dropped(rec);
			continue;
		}
		drops.n = 0;
		if (chr_writer_put(&w, rec) < 0)
			chr_write_failed(&w);
		n_out++;
		n_inst += rec->venue != 0 || rec->market != 0;
	}

	/* what was read before an error is good: write it, then report */
	if (k == 0)
		beat();
	if (chr_writer_close(&w) < 0)
		chr_write_failed(&w);
	if (k == -2)
		chr_die_err(&e);
	if (k < 0)
		chr_die_err(&m.s[m.failed].e);
	if (drop_unnamed)
		chr_warn("%" PRIu64 " record%s of %" PRIu64 " instrument%s with no name dropped "
			 "(no DEFINE record before them%s)", drop_unnamed, plural(drop_unnamed),
			 isel.unnamed, plural(isel.unnamed), symbols ? ", not in the symbol map" : "");
	if (chr_verbose) {
		char held[64] = "";

		if (warm)
			snprintf(held, sizeof held, ", %" PRIu64 " held by the clean queues", drop_held);
		chr_warn("%" PRIu64 " record%s read, %" PRIu64 " passed, %" PRIu64 " dropped: %"
			 PRIu64 " by instrument, %" PRIu64 " by type, %" PRIu64 " with no name%s",
			 n_in, plural(n_in), n_out, n_in - n_out, drop_inst, drop_type, drop_unnamed,
			 held);
		if (by_name) {
			uint64_t seen, selected;

			chr_isel_count(&isel, &seen, &selected);
			chr_warn("%" PRIu64 " of %" PRIu64 " instrument%s selected", selected, seen,
				 plural(seen));
		}
	}
	/* patterns that select nothing of what was read are a mistake, not a
	 * question whose answer is nothing */
	if ((isel.n_venues || isel.n_symbols) && n_inst == 0) {
		uint64_t seen, selected;

		chr_isel_count(&isel, &seen, &selected);
		if (seen)
			chr_die(CHR_EX_DATA, "no instrument read matches --venue and --symbol (names are "
				"case-sensitive; %" PRIu64 " read%s%s)", seen, *names ? ": " : "", names);
	}
	chr_merge_free(&m);
	chr_warm_free(&wm);
	chr_isel_free(&isel);
	chr_symmap_free(&map);
	return CHR_EX_OK;
}
