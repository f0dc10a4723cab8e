/* t-defs.c - an instrument's DEFINE before its first record: kept until a
 * record of its instrument is written, once; a repeat of the DEFINE that
 * went out is not due again, a changed one is; ids 0 0 are no instrument. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "defs.h"
#include "unit.h"

static _Alignas(64) unsigned char buf[8][256];

/* record i of buf: type, ids, and for a DEFINE the symbol */
static const struct chr_rec *rec(int i, uint16_t type, uint16_t venue, uint32_t market,
				 const char *symbol)
{
	struct chr_rec *r = (struct chr_rec *)buf[i];

	memset(buf[i], 0, sizeof buf[i]);
	r->type = type;
	r->venue = venue;
	r->market = market;
	r->len = CHR_HDR_SIZE + (type == CHR_DEFINE ? sizeof(struct chr_define) : 0);
	if (type == CHR_DEFINE) {
		struct chr_define *d = chr_rec_payload(r);

		strcpy(d->venue, "v");
		strcpy(d->symbol, symbol);
	}
	chr_rec_seal(r);
	return r;
}

int main(void)
{
	struct chr_defs d;
	struct chr_err e;
	const struct chr_rec *def, *got;
	int ok = 1;

	chr_defs_init(&d);
	/* nothing kept: nothing due */
	CHECK(chr_defs_due(&d, rec(0, CHR_TRADE, 1, 2, NULL)) == NULL);

	/* a DEFINE not written goes out before the first record, once */
	def = rec(1, CHR_DEFINE, 1, 2, "A");
	CHECK(chr_defs_note(&d, def, 0, &e) == 0);
	CHECK(chr_defs_due(&d, rec(0, CHR_TRADE, 1, 3, NULL)) == NULL);	/* another market */
	CHECK(chr_defs_due(&d, rec(0, CHR_TRADE, 2, 2, NULL)) == NULL);	/* another venue */
	got = chr_defs_due(&d, rec(0, CHR_TRADE, 1, 2, NULL));
	CHECK(got != NULL && got != def && memcmp(got, def, chr_rec_span(def->len)) == 0);
	CHECK(chr_defs_due(&d, rec(0, CHR_TRADE, 1, 2, NULL)) == NULL);
	CHECK(d.unsent == 0);

	/* the same DEFINE read again (a queue's repeat) is not due again */
	CHECK(chr_defs_note(&d, rec(1, CHR_DEFINE, 1, 2, "A"), 0, &e) == 0);
	CHECK(chr_defs_due(&d, rec(0, CHR_TRADE, 1, 2, NULL)) == NULL);
	/* a changed one is */
	CHECK(chr_defs_note(&d, rec(1, CHR_DEFINE, 1, 2, "B"), 0, &e) == 0);
	got = chr_defs_due(&d, rec(0, CHR_TRADE, 1, 2, NULL));
	CHECK(got != NULL && strcmp(((const struct chr_define *)chr_rec_payload(got))->symbol, "B") == 0);

	/* a DEFINE written is not due, nor its repeats */
	CHECK(chr_defs_note(&d, rec(1, CHR_DEFINE, 1, 5, "C"), 1, &e) == 0);
	CHECK(chr_defs_note(&d, rec(1, CHR_DEFINE, 1, 5, "C"), 0, &e) == 0);
	CHECK(chr_defs_due(&d, rec(0, CHR_TRADE, 1, 5, NULL)) == NULL);
	/* the latest one not written counts, even after one written */
	CHECK(chr_defs_note(&d, rec(1, CHR_DEFINE, 1, 5, "D"), 0, &e) == 0);
	CHECK(chr_defs_note(&d, rec(1, CHR_DEFINE, 1, 5, "E"), 0, &e) == 0);
	CHECK(d.unsent == 1);
	got = chr_defs_due(&d, rec(0, CHR_TRADE, 1, 5, NULL));
	CHECK(got != NULL && strcmp(((const struct chr_define *)chr_rec_payload(got))->symbol, "E") == 0);

	/* ids 0 0 name no instrument */
	CHECK(chr_defs_note(&d, rec(1, CHR_DEFINE, 0, 0, "Z"), 0, &e) == 0);
	CHECK(chr_defs_due(&d, rec(0, CHR_HEARTBEAT, 0, 0, NULL)) == NULL);

	/* many instruments: each due once, after the table grew */
	for (uint32_t m = 1; m <= 3000; m++)
		ok &= chr_defs_note(&d, rec(1, CHR_DEFINE, 7, m, "S"), 0, &e) == 0;
	CHECK(ok);
	for (uint32_t m = 3000; m >= 1; m--) {
		got = chr_defs_due(&d, rec(0, CHR_TRADE, 7, m, NULL));
		ok &= got != NULL && got->market == m && got->venue == 7;
		ok &= chr_defs_due(&d, rec(0, CHR_TRADE, 7, m, NULL)) == NULL;
	}
	CHECK(ok && d.unsent == 0);
	chr_defs_free(&d);
	return unit_done("t-defs");
}
