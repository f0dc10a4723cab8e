/* pqout.h - records as Parquet tables in the Tardis CSV layouts
 * (docs/parquet.md): one file of one dataset, or a Hive-style tree of
 * files, one per dataset, venue, symbol and date. */
#ifndef CHR_PQOUT_H
#define CHR_PQOUT_H

#include <stdint.h>

#include "arrow.h"
#include "err.h"
#include "fmt.h"
#include "parquet.h"
#include "rec.h"

/* One Parquet file: the rows of one Tardis dataset (docs/tardis.md), its
 * schema set by the first record that has rows; or, with arrow set after
 * chr_pqout_init, the same rows as an Arrow IPC stream (arrow.h). */
struct chr_pqout {
	struct chr_pq pq;
	int arrow;
	struct chr_arrow ar;
	struct chr_names own;
	struct chr_names *names;	/* &own, or the tree's */
	int dataset, n;		/* the file's dataset; CHR_TARDIS_NONE before */
	int fd;
	const char *name;	/* the output, for messages */
	const char *source;	/* the chronicle.source metadata; kept */
	char table[32];		/* the dataset's name */
	char *cols;		/* the column names, NUL-separated */
};

/* Start a file on fd (kept, not closed; name for messages), with source
 * as its chronicle.source metadata (kept; NULL: none). Nothing is written
 * until the first record with rows. */
void chr_pqout_init(struct chr_pqout *o, int fd, const char *name, const char *source);

/* Write record r (checked) as rows: as chr_tardis_write would in CSV
 * (docs/parquet.md has the columns). A DEFINE is learnt (it names the
 * exchange and symbol of its instrument); a record with no Tardis form is
 * not written: returns CHR_TARDIS_SKIPPED. A record of another dataset
 * than the file's is an error (CHR_EX_USAGE: "a QUOTE record after trades
 * rows ..."). Returns 0, or -1 with e (the writer's errors, parquet.h). */
int chr_pqout_put(struct chr_pqout *o, const struct chr_rec *r, struct chr_err *e);

/* Write the rest and the footer. A file that got no rows has no schema:
 * -1 with e (CHR_EX_DATA) and nothing written. Returns 0, or -1 with e. */
int chr_pqout_close(struct chr_pqout *o, struct chr_err *e);
void chr_pqout_free(struct chr_pqout *o);

/* A Hive-style tree under root: root/type=DATASET/venue=V/symbol=S/
 * date=D/part-0.parquet, D the UTC date of the records' ts. Each file is
 * written under a temporary name and put in place when its partition is
 * done (fsync, rename, fsync of the directory), or left untouched when it
 * holds the same bytes already. */
struct chr_pqtree_part;
struct chr_pqtree {
	const char *root;
	struct chr_names names;
	struct chr_pqtree_part **p;	/* each on its own: its writer points into it */
	size_t np, pcap;
	uint64_t written, unchanged;	/* files put in place, files left alone */
	uint64_t skipped;		/* records with no Tardis form */
};

void chr_pqtree_init(struct chr_pqtree *t, const char *root);

/* Write record r into the file of its partition; a DEFINE is learnt (its
 * names make the path: without one, CHR_EX_DATA). The partition of an
 * instrument and dataset ends at the first record of a later date; a
 * record of an earlier one is an error (CHR_EX_DATA). Returns 0 (also for
 * a record with no Tardis form: counted in skipped), or -1 with e. */
int chr_pqtree_put(struct chr_pqtree *t, const struct chr_rec *r, struct chr_err *e);

/* End every partition still open. Returns 0, or -1 with e. */
int chr_pqtree_close(struct chr_pqtree *t, struct chr_err *e);

/* Remove the temporary files of the partitions not ended (before an
 * exit on error). */
void chr_pqtree_unlink(const struct chr_pqtree *t);

/* Free t; the temporary files of partitions not ended are removed. */
void chr_pqtree_free(struct chr_pqtree *t);

#endif
