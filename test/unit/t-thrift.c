/* t-thrift.c - the Thrift compact protocol encoder, byte for byte as the
 * protocol's specification spells each form. */
#include <stdint.h>
#include <string.h>

#include "thrift.h"
#include "unit.h"

static int bytes(const struct chr_th *t, const uint8_t *want, size_t n)
{
	return !t->oom && t->n == n && memcmp(t->p, want, n) == 0;
}

int main(void)
{
	struct chr_th t = {0};

	/* field 1 i32 1 (delta 1, type 5, zigzag 2), field 3 i64 -1 (delta 2,
	 * type 6, zigzag 1), field 20 string "ab" (long form: type 8, zigzag
	 * id 40), STOP */
	chr_th_i32(&t, 1, 1);
	chr_th_i64(&t, 3, -1);
	chr_th_str(&t, 20, "ab");
	chr_th_end(&t);
	CHECK(bytes(&t, (const uint8_t[]){0x15, 0x02, 0x26, 0x01, 0x08, 0x28, 0x02, 'a', 'b', 0x00},
		    10));

	/* bools in the type nibble; a nested struct counts ids from 0 again;
	 * varints of 300 (0xac 0x02) */
	chr_th_reset(&t);
	chr_th_bool(&t, 1, 1);
	chr_th_bool(&t, 2, 0);
	chr_th_struct(&t, 5);
	chr_th_i32(&t, 1, 150);
	chr_th_end(&t);
	chr_th_i16(&t, 7, -2);
	chr_th_end(&t);
	CHECK(bytes(&t, (const uint8_t[]){0x11, 0x12, 0x3c, 0x15, 0xac, 0x02, 0x00, 0x24, 0x03, 0x00},
		    10));

	/* lists: a short one (size in the high nibble), a long one (0xf0 |
	 * type, then the size), elements without field headers */
	chr_th_reset(&t);
	chr_th_list(&t, 1, CHR_TH_I32, 2);
	chr_th_elem_i32(&t, 0);
	chr_th_elem_i32(&t, -1);
	chr_th_list(&t, 2, CHR_TH_STRUCT, 16);
	for (int i = 0; i < 16; i++) {
		chr_th_struct(&t, 0);
		chr_th_end(&t);
	}
	chr_th_list(&t, 3, CHR_TH_BINARY, 1);
	chr_th_elem_str(&t, "x");
	chr_th_end(&t);
	{
		uint8_t want[64] = {0x19, 0x25, 0x00, 0x01, 0x19, 0xfc, 0x10};
		size_t n = 7;

		memset(want + n, 0, 16);
		n += 16;
		memcpy(want + n, (const uint8_t[]){0x19, 0x18, 0x01, 'x', 0x00}, 5);
		n += 5;
		CHECK(bytes(&t, want, n));
	}
	chr_th_free(&t);
	return unit_done("t-thrift");
}
