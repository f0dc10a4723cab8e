/* part.c - the partitioner: DEFINE binding over a chr_tab of instruments,
 * and the DEFINEs each partition holds. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "part.h"
#include "path.h"

const char *const chr_stream_names[CHR_NSTREAM] = {"book", "trade", "quote", "topn", "app"};

void chr_part_init(struct chr_part *p, unsigned flags)
{
	memset(p, 0, sizeof *p);
	chr_tab_init(&p->tab, sizeof(struct chr_inst));
	p->flags = flags;
}

void chr_part_free(struct chr_part *p)
{
	for (size_t i = 0; i < p->tab.n; i++)
		free(((struct chr_inst *)p->tab.v[i])->def);
	chr_tab_free(&p->tab);
}

struct chr_rec *chr_rec_dup(const struct chr_rec *rec)
{
	size_t span = chr_rec_span(rec->len);
	struct chr_rec *c = aligned_alloc(CHR_ALIGN, span);

	if (c)
		memcpy(c, rec, span);
	else
		errno = ENOMEM;
	return c;
}

/* name printable for a message: the field up to its last non-NUL byte,
 * other bytes than printable ASCII as \xNN */
static void show(char *out, size_t n, const char *field, size_t cap)
{
	size_t len = cap, k = 0;

	while (len > 0 && field[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < len && k + 5 < n; i++) {
		unsigned char c = (unsigned char)field[i];

		if (c >= ' ' && c < 0x7f && c != '\\' && c != '\'')
			out[k++] = (char)c;
		else
			k += (size_t)snprintf(out + k, n - k, "\\x%02x", c);
	}
	out[k] = '\0';
}

static struct chr_inst *find(struct chr_part *p, uint16_t venue, uint32_t market)
{
	uint64_t key = chr_map_key(venue, market);

	if (p->tab.last && p->tab.last_key == key)
		return p->tab.last;
	return chr_map_get(&p->tab.map, key);
}

/* Without CHR_PART_REBIND: the DEFINE of in must say what in says, and
 * new names must belong to no other instrument. */
static int check_binding(struct chr_part *p, const struct chr_inst *in, const struct chr_rec *rec,
			 const char *venue, const char *symbol, const char *name, uint64_t off,
			 struct chr_err *e)
{
	if (in) {
		if (strcmp(in->venue, venue) != 0 || strcmp(in->symbol, symbol) != 0)
			return chr_err_set(e, CHR_EX_DATA, "%s: byte %" PRIu64 ": DEFINE binds venue %u "
					   "market %" PRIu32 " to '%s/%s', bound before to '%s/%s'",
					   name, off, rec->venue, rec->market, venue, symbol,
					   in->venue, in->symbol);
		return 0;
	}
	for (size_t i = 0; i < p->tab.n; i++) {
		const struct chr_inst *o = p->tab.v[i];

		if (strcmp(o->venue, venue) == 0 && strcmp(o->symbol, symbol) == 0)
			return chr_err_set(e, CHR_EX_DATA, "%s: byte %" PRIu64 ": DEFINE binds '%s/%s' "
					   "to venue %u market %" PRIu32 ", bound before to venue %u "
					   "market %" PRIu32, name, off, venue, symbol, rec->venue,
					   rec->market, o->venue_id, o->market_id);
	}
	return 0;
}

int chr_part_define(struct chr_part *p, const struct chr_rec *rec, const char *name, uint64_t off,
		    struct chr_err *e)
{
	const struct chr_define *d = chr_rec_payload(rec);
	char venue[CHR_VENUE_MAX + 1], symbol[CHR_SYMBOL_MAX + 1], shown[512];
	const char *bad;
	struct chr_inst *in;
	struct chr_rec *c;
	int fresh;

	if ((bad = chr_define_names(d, venue, symbol))) {
		show(shown, sizeof shown, d->symbol, sizeof d->symbol);
		return chr_err_set(e, CHR_EX_DATA, "%s: byte %" PRIu64 ": DEFINE of '%s': %s", name,
				   off, shown, bad);
	}
	if ((p->flags & CHR_PART_VENUE) && (bad = chr_name_check(venue))) {
		show(shown, sizeof shown, venue, strlen(venue));
		return chr_err_set(e, CHR_EX_DATA, "%s: byte %" PRIu64 ": DEFINE venue '%s': %s", name,
				   off, shown, bad);
	}
	if ((p->flags & CHR_PART_SYMBOL) && (bad = chr_name_check(symbol))) {
		show(shown, sizeof shown, symbol, strlen(symbol));
		return chr_err_set(e, CHR_EX_DATA, "%s: byte %" PRIu64 ": DEFINE symbol '%s': %s",
				   name, off, shown, bad);
	}
	in = find(p, rec->venue, rec->market);
	if (!(p->flags & CHR_PART_REBIND)) {
		if (check_binding(p, in, rec, venue, symbol, name, off, e) < 0)
			return -1;
		if (in)
			return 0;	/* a repeat: the partitions have theirs */
	} else if (in && in->def->len == rec->len &&
		   memcmp(chr_rec_payload(in->def), d, rec->len - CHR_HDR_SIZE) == 0) {
		return 0;	/* the same again */
	}
	if (!(c = chr_rec_dup(rec)))
		return chr_err_set(e, CHR_EX_SYS, "%s", strerror(ENOMEM));
	if (p->flags & CHR_PART_REBIND)
		c->flags &= (uint16_t)~CHR_F_REPEAT;
	if (!in) {
		if (!(in = chr_tab_get(&p->tab, rec->venue, rec->market, &fresh))) {
			free(c);
			return chr_err_set(e, CHR_EX_SYS, "%s", strerror(ENOMEM));
		}
		in->venue_id = rec->venue;
		in->market_id = rec->market;
	}
	/* bound to other names: its records go where these say, after it */
	free(in->def);
	in->def = c;
	in->gen++;
	strcpy(in->venue, venue);
	strcpy(in->symbol, symbol);
	memset(in->last, 0, sizeof in->last);
	return 1;
}

int chr_part_take(struct chr_part *p, const struct chr_rec *rec, const char *name, uint64_t off,
		  struct chr_inst **in, int *stream, struct chr_err *e)
{
	int s;

	if (rec->type == CHR_DEFINE)
		return chr_part_define(p, rec, name, off, e) < 0 ? -1 : 0;
	s = chr_part_stream(rec->type);
	if (s < 0 || (s == CHR_ST_APP && !(p->flags & CHR_PART_APP))) {
		p->skipped++;
		return 0;
	}
	*in = find(p, rec->venue, rec->market);
	if (!*in) {
		if (s == CHR_ST_APP && rec->venue == 0 && rec->market == 0) {
			p->skipped++;	/* an application record of no instrument */
			return 0;
		}
		return chr_err_set(e, CHR_EX_DATA, "%s: byte %" PRIu64 ": %s of venue %u market %"
				   PRIu32 " before any DEFINE of it", name, off,
				   chr_type_name(rec->type), rec->venue, rec->market);
	}
	p->tab.last = *in;
	p->tab.last_key = chr_map_key(rec->venue, rec->market);
	*stream = s;
	return 1;
}

int chr_part_defs_find(struct chr_part_defs *d, const struct chr_inst *in)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].in == in) {
			d->last = i;
			return d->v[i].gen != in->gen;
		}
	return 1;
}

int chr_part_defs_mark(struct chr_part_defs *d, const struct chr_inst *in)
{
	if (!(d->last < d->n && d->v[d->last].in == in))
		chr_part_defs_find(d, in);
	if (!(d->last < d->n && d->v[d->last].in == in)) {
		if (d->n == d->cap) {
			size_t cap = d->cap ? 2 * d->cap : 4;
			struct chr_part_def *v = realloc(d->v, cap * sizeof *v);

			if (!v) {
				errno = ENOMEM;
				return -1;
			}
			d->v = v;
			d->cap = cap;
		}
		d->v[d->n].in = in;
		d->last = d->n++;
	}
	d->v[d->last].gen = in->gen;
	return 0;
}

void chr_part_defs_free(struct chr_part_defs *d)
{
	free(d->v);
	memset(d, 0, sizeof *d);
}
