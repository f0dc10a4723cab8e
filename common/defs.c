/* defs.c - the DEFINE records to pass on, on the per-instrument table. */
#include <stdlib.h>
#include <string.h>

#include "defs.h"

struct chr_def {
	struct chr_rec *rec;	/* a copy of the latest DEFINE (64-byte aligned) */
	int sent;		/* rec, or one with its payload, went out */
};

void chr_defs_init(struct chr_defs *d)
{
	chr_tab_init(&d->tab, sizeof(struct chr_def));
	d->unsent = 0;
}

void chr_defs_free(struct chr_defs *d)
{
	for (size_t i = 0; i < d->tab.n; i++)
		free(((struct chr_def *)d->tab.v[i])->rec);
	chr_tab_free(&d->tab);
}

int chr_defs_note(struct chr_defs *d, const struct chr_rec *def, int sent, struct chr_err *e)
{
	size_t span = chr_rec_span(def->len);
	struct chr_def *x;
	int due;

	if (def->venue == 0 && def->market == 0)
		return 0;
	if ((x = chr_tab_get(&d->tab, def->venue, def->market, NULL)) == NULL)
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	if (x->rec && x->sent && !sent && x->rec->len == def->len &&
	    memcmp(chr_rec_payload(x->rec), chr_rec_payload(def), chr_rec_payload_len(def)) == 0)
		return 0;
	due = x->rec && !x->sent;
	if (x->rec == NULL || chr_rec_span(x->rec->len) != span) {
		struct chr_rec *copy = aligned_alloc(64, span);

		if (copy == NULL)
			return chr_err_set(e, CHR_EX_SYS, "out of memory");
		free(x->rec);
		x->rec = copy;
	}
	memcpy(x->rec, def, span);
	if (due && sent)
		d->unsent--;
	else if (!due && !sent)
		d->unsent++;
	x->sent = sent;
	return 0;
}

const struct chr_rec *chr_defs_find(struct chr_defs *d, const struct chr_rec *rec)
{
	struct chr_def *x;

	if (rec->venue == 0 && rec->market == 0)
		return NULL;
	x = chr_map_get(&d->tab.map, chr_map_key(rec->venue, rec->market));
	if (x == NULL || x->rec == NULL || x->sent)
		return NULL;
	x->sent = 1;
	d->unsent--;
	return x->rec;
}
