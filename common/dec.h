/* dec.h - exact decimals: an int64 mantissa and a decimal scale
 * (value = mantissa / 10^scale). No floating point anywhere. */
#ifndef CHR_DEC_H
#define CHR_DEC_H

#include <stddef.h>
#include <stdint.h>

#define CHR_DEC_MAX_SCALE 18
#define CHR_DEC_BUF 32		/* enough for any formatted decimal + NUL */

/* Parse s[0..n): an optional '-', digits, and optionally '.' followed by
 * digits (no exponent, no '+', no spaces). Returns 0 and the value; -1 when
 * s is not a decimal; -3 when it has more than 18 fraction digits; -2 when
 * it does not fit otherwise (beyond int64). */
int chr_dec_parse(const char *s, size_t n, int64_t *mant, int *scale);

/* Raise *mant from scale from to scale to (to >= from). Returns 0, or -1 on
 * overflow (*mant unchanged). */
int chr_dec_rescale(int64_t *mant, int from, int to);

/* 10^k for 0 <= k <= 18 */
extern const int64_t chr_pow10[19];

/* Write mant/10^scale in the shortest exact form, as Tardis does: no
 * trailing fraction zeros, no '.' for whole numbers ("61800.3", "2152",
 * "0.001", "-1.5"). buf holds CHR_DEC_BUF bytes; returns the length
 * written (NUL-terminated). A scale outside 0..18 writes "?". */
size_t chr_dec_format(char *buf, int64_t mant, int scale);

/* Compare two decimals exactly: <0, 0, >0. Scales must be 0..18. */
int chr_dec_cmp(int64_t a, int as, int64_t b, int bs);

#endif
