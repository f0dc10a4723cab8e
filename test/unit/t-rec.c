/* t-rec.c - CRC-32C, record seal and checks, type names. */
#include <string.h>

#include "rec.h"
#include "unit.h"

int main(void)
{
	_Alignas(64) unsigned char buf[256];
	struct chr_rec *r = (struct chr_rec *)buf;
	struct chr_trade *t = chr_rec_payload(r);

	CHECK(chr_crc32c(0, "123456789", 9) == 0xE3069283u);
	CHECK(chr_crc32c(chr_crc32c(0, "1234", 4), "56789", 5) == 0xE3069283u);
	CHECK(chr_crc32c(0, "", 0) == 0);
	{
		/* short buffers (inline crc32) and long ones (ISA-L) agree at
		 * every length and cut */
		unsigned char big[700];
		unsigned i, ok = 1;

		for (i = 0; i < sizeof big; i++)
			big[i] = (unsigned char)(i * 131 + 7);
		for (i = 0; i <= 600; i += 7) {
			uint32_t whole = chr_crc32c(0, big, 600), first = chr_crc32c(0, big, i);

			ok &= chr_crc32c(first, big + i, 600 - i) == whole;
			ok &= chr_crc32c(chr_crc32c(0, big + 1, i), big + 1 + i, 3) == chr_crc32c(0, big + 1, i + 3);
		}
		CHECK(ok);
	}

	memset(buf, 0xAA, sizeof buf);
	memset(r, 0, 64 + sizeof *t);
	r->len = 64 + sizeof *t;
	r->type = CHR_TRADE;
	t->price = 618003;
	chr_rec_seal(r);
	CHECK(r->version == 1);
	CHECK(chr_rec_check(r) == NULL);
	CHECK(buf[r->len] == 0xAA || r->len % 64 == 0);
	r->len--;
	CHECK(chr_rec_check(r) != NULL);
	r->len++;
	t->price++;
	CHECK(strcmp(chr_rec_check(r), "bad crc") == 0);
	t->price--;
	t->price_scale = 19;
	chr_rec_seal(r);
	CHECK(chr_rec_check(r) != NULL);
	t->price_scale = 0;
	r->seq = 9;
	CHECK(chr_rec_check(r) != NULL);	/* header bytes are covered too */
	chr_rec_seal(r);
	CHECK(chr_rec_check(r) == NULL);

	/* padding must be zero */
	memset(r, 0, 128);
	r->len = 64 + sizeof(struct chr_gap);
	r->type = CHR_GAP;
	chr_rec_seal(r);
	CHECK(chr_rec_check(r) == NULL);
	buf[r->len + 3] = 0xff;
	CHECK(strcmp(chr_rec_check(r), "nonzero padding") == 0);

	/* a book whose counts disagree with its size */
	{
		struct chr_book *b = chr_rec_payload(r);

		memset(r, 0, 64 + sizeof *b + 32);
		r->len = 64 + sizeof *b + 32;
		r->type = CHR_BOOK_DIFF;
		b->n_bid = 1;
		b->n_ask = 1;
		chr_rec_seal(r);
		CHECK(chr_rec_check(r) == NULL);
		b->n_ask = 0xffffffffu;
		chr_rec_seal(r);
		CHECK(chr_rec_check(r) != NULL);
	}

	CHECK_STR(chr_type_name(CHR_BOOK_DIFF), "BOOK_DIFF");
	CHECK(chr_type_name(0x7777) == NULL);
	CHECK(chr_type_parse("trade") == CHR_TRADE);
	CHECK(chr_type_parse("BOOK_SNAPSHOT") == CHR_BOOK_SNAPSHOT);
	CHECK(chr_type_parse("0x8001") == 0x8001);
	CHECK(chr_type_parse("nope") == -1);
	CHECK(chr_type_parse("") == -1);
	CHECK(chr_type_parse("010") == 10);
	CHECK(chr_type_parse("-1") == -1);
	CHECK(chr_type_parse("0x") == -1);

	{
		struct chr_seg s = {.magic = CHR_SEG_MAGIC, .version = 1};

		CHECK(chr_seg_check(&s) == NULL);	/* unsealed: crc not final */
		s.flags = CHR_SEG_SEALED;
		CHECK(chr_seg_check(&s) != NULL);
		s.crc = chr_seg_crc(&s);
		CHECK(chr_seg_check(&s) == NULL);
	}
	return unit_done("t-rec");
}
