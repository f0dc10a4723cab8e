/* t-fbuf.c - the FlatBuffers builder, byte for byte against buffers worked
 * out by hand from the format's rules (root offset, vtable, table, the
 * signed distance from table to vtable, padding, 8-byte alignment). */
#include <stdint.h>
#include <string.h>

#include "fbuf.h"
#include "unit.h"

static int same(const uint8_t *p, size_t n, const uint8_t *want, size_t wn)
{
	if (p == NULL || n != wn)
		return 0;
	return memcmp(p, want, n) == 0;
}

/* the little-endian value of n bytes at p */
static int64_t le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = n; i-- > 0;)
		v = v << 8 | p[i];
	return (int64_t)v;
}

int main(void)
{
	struct chr_fb b = {0};
	const uint8_t *p;
	chr_fb_ref s, v, t, at;
	size_t n;

	/* Arrow's Timestamp { unit: short = 3 (NANOSECOND), timezone: "UTC" }:
	 *  0: root offset 12                  -> the table at 12
	 *  4: vtable: size 8, table size 12, field 0 at +10, field 1 at +4
	 * 12: table: 8 back to the vtable (12 - 8 = 4)
	 * 16:   field 1: offset 8             -> the string at 24
	 * 20:   2 bytes of padding, then field 0 at 22: 3
	 * 24: string: length 3, "UTC", NUL */
	s = chr_fb_string(&b, "UTC", 3);
	chr_fb_table(&b);
	chr_fb_add_i16(&b, 0, 3);
	chr_fb_add_ref(&b, 1, s);
	t = chr_fb_table_end(&b);
	p = chr_fb_finish(&b, t, &n);
	CHECK(same(p, n, (const uint8_t[]){
		0x0c, 0, 0, 0,
		0x08, 0, 0x0c, 0, 0x0a, 0, 0x04, 0,
		0x08, 0, 0, 0,
		0x08, 0, 0, 0,
		0, 0, 0x03, 0,
		0x03, 0, 0, 0, 'U', 'T', 'C', 0}, 32));

	/* Arrow's RecordBatch { length: long = 7, nodes: [FieldNode {2, 1}] }:
	 * the long and the structs 8-aligned from the start, padding before
	 * the vtable and after the table
	 *  0: root offset 16; 4: padding
	 *  8: vtable: size 8, table size 20, field 0 at +8, field 1 at +4
	 * 16: table: 8 back; 20: field 1: offset 16 -> the vector at 36
	 * 24: field 0: 7; 32: padding
	 * 36: vector: length 1; 40: the struct {2, 1} */
	chr_fb_reset(&b);
	v = chr_fb_structs(&b, (const int64_t[]){2, 1}, 1, 16, 8);
	chr_fb_table(&b);
	at = chr_fb_add_i64(&b, 0, 7);
	chr_fb_add_ref(&b, 1, v);
	t = chr_fb_table_end(&b);
	p = chr_fb_finish(&b, t, &n);
	CHECK(same(p, n, (const uint8_t[]){
		0x10, 0, 0, 0, 0, 0, 0, 0,
		0x08, 0, 0x14, 0, 0x08, 0, 0x04, 0,
		0x08, 0, 0, 0,
		0x10, 0, 0, 0,
		0x07, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0,
		0x01, 0, 0, 0,
		0x02, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0}, 56));
	CHECK(chr_fb_at(&b, at) == 24);

	/* a vector of tables, read back as a reader follows offsets: the
	 * second table's i32 field 2 (fields 0 and 1 absent: 0 in the vtable) */
	chr_fb_reset(&b);
	{
		chr_fb_ref tabs[2], vec;
		const uint8_t *tab, *vt;
		size_t at2;

		chr_fb_table(&b);
		chr_fb_add_u8(&b, 0, 1);
		tabs[0] = chr_fb_table_end(&b);
		chr_fb_table(&b);
		chr_fb_add_i32(&b, 2, -5);
		tabs[1] = chr_fb_table_end(&b);
		vec = chr_fb_refs(&b, tabs, 2);
		chr_fb_table(&b);
		chr_fb_add_ref(&b, 0, vec);
		t = chr_fb_table_end(&b);
		p = chr_fb_finish(&b, t, &n);
		CHECK(p != NULL && n % 4 == 0);
		tab = p + le(p, 4);
		vt = tab - le(tab, 4);
		CHECK(le(vt, 2) == 6);	/* one field */
		at2 = (size_t)(tab - p) + (size_t)le(vt + 4, 2);	/* field 0: the vector */
		at2 += (size_t)le(p + at2, 4);
		CHECK(le(p + at2, 4) == 2);
		at2 += 8;		/* element 1 */
		tab = p + at2 + le(p + at2, 4);
		vt = tab - le(tab, 4);
		CHECK(le(vt, 2) == 10 && le(vt + 4, 2) == 0 && le(vt + 6, 2) == 0);
		CHECK(le(tab + le(vt + 8, 2), 4) == (uint32_t)-5);
	}
	chr_fb_free(&b);
	return unit_done("t-fbuf");
}
