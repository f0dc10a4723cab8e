/* optrule.h - which options of a program go together, as a table of rules
 * checked in order, instead of hand-written exclusions in its main. */
#ifndef CHR_OPTRULE_H
#define CHR_OPTRULE_H

#include <stddef.h>

/* When all of `when` (bits of the program's own) are given, one of `need`
 * (when not 0) must be, and none of `forbid`; else msg is the usage error.
 * A "%s" in msg stands for the rule's argument (a FILE given, say). */
struct chr_opt_rule {
	unsigned when, need, forbid;
	const char *msg;
};

/* Check given against rules[0..n) in order: the first broken one is a
 * usage error (chr_usage_error, exit 2) with arg in place of its "%s". */
void chr_opt_rules(const struct chr_opt_rule *rules, size_t n, unsigned given, const char *arg);

#endif
