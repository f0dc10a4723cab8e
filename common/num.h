/* num.h - the suite's number and size parsers for options and files. */
#ifndef CHR_NUM_H
#define CHR_NUM_H

#include <stdint.h>

/* Parse a whole decimal string of digits (no sign, no space) as a count.
 * Returns 0, or -1 when s is empty, holds anything else, or overflows. */
int chr_parse_u64(const char *s, uint64_t *v);

/* chr_parse_u64, and the value must lie in [min, max]. Returns 0, or -1. */
int chr_parse_range(const char *s, uint64_t min, uint64_t max, uint64_t *v);

/* Parse a shard "i/n": two counts with 0 <= i < n <= UINT32_MAX.
 * Returns 0, or -1 when s is not one. */
int chr_parse_shard(const char *s, uint32_t *i, uint32_t *n);

/* Parse a size: a count optionally followed by K, M or G (binary, either
 * case). Returns 0, or -1 when s is not one or the value overflows. */
int chr_parse_size(const char *s, uint64_t *v);

#endif
