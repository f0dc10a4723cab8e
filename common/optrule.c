/* optrule.c - option rules: the first one broken is a usage error. */
#include <string.h>

#include "err.h"
#include "optrule.h"

void chr_opt_rules(const struct chr_opt_rule *rules, size_t n, unsigned given, const char *arg)
{
	for (size_t i = 0; i < n; i++) {
		const struct chr_opt_rule *r = &rules[i];
		const char *p = strstr(r->msg, "%s");

		if ((given & r->when) != r->when ||
		    !((r->need && !(given & r->need)) || (given & r->forbid)))
			continue;
		if (p)
			chr_usage_error("%.*s%s%s", (int)(p - r->msg), r->msg, arg ? arg : "", p + 2);
		chr_usage_error("%s", r->msg);
	}
}
