/* zsq.c - zsq-bench: compress one segment file with chr_zsq_write (the
 * file read in, then compressed into OUT), and read the result back
 * through chr_reader; prints a RESULT line (bench/archive-zsq). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "io.h"
#include "zsq.h"

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *seg, *out;
	int level = CHR_ZSQ_LEVEL, runs = 3, opt;
	double wbest = 1e9, rbest = 1e9;
	uint64_t rbytes = 0, nrec = 0, zbytes = 0, segsize = 0;
	size_t nframes = 0, nsnap = 0;
	struct stat st;
	char err[1024];
	int status;

	chr_setprog(argv[0]);
	while ((opt = getopt(argc, argv, "l:r:h")) != -1) {
		switch (opt) {
		case 'l':
			level = atoi(optarg);
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		case 'h':
			printf("usage: zsq-bench [-l LEVEL] [-r RUNS] SEGMENT OUT\n");
			return 0;
		default:
			return 2;
		}
	}
	if (argc - optind != 2 || runs < 1)
		chr_usage_error("usage: zsq-bench [-l LEVEL] [-r RUNS] SEGMENT OUT");
	seg = argv[optind];
	out = argv[optind + 1];
	for (int i = 0; i < runs; i++) {
		int in = open(seg, O_RDONLY), fd;
		unsigned char *buf;
		double t0 = now(), t;
		size_t got = 0;

		if (in < 0 || fstat(in, &st) < 0)
			chr_die(CHR_EX_SYS, "cannot open '%s'", seg);
		/* as an archiver would: read the segment, compress, write */
		buf = malloc((size_t)st.st_size);
		while (got < (size_t)st.st_size) {
			ssize_t k = chr_read(in, buf + got, (size_t)st.st_size - got);

			if (k <= 0)
				chr_die(CHR_EX_SYS, "%s: short read", seg);
			got += (size_t)k;
		}
		close(in);
		segsize = got;
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			chr_die(CHR_EX_SYS, "cannot open '%s'", out);
		if (chr_zsq_write(fd, seg, buf, got, level, err, sizeof err, &status) < 0)
			chr_die(status, "%s", err);
		close(fd);
		t = now() - t0;
		if (t < wbest)
			wbest = t;
		free(buf);
	}
	for (int i = 0; i < runs; i++) {
		struct chr_zsq *z;
		struct chr_reader r;
		const struct chr_rec *rec;
		double t0 = now(), t;
		uint64_t bytes = 0, n = 0;
		int k;

		z = chr_zsq_open(out, err, sizeof err, &status);
		if (!z)
			chr_die(status, "%s", err);
		if (chr_reader_init_zsq(&r, z, 0, out) < 0)
			chr_die(CHR_EX_SYS, "out of memory");
		while ((k = chr_reader_next(&r, &rec)) == 1) {
			bytes += chr_rec_span(rec->len);
			n++;
		}
		if (k < 0)
			chr_die_err(&r.e);
		t = now() - t0;
		if (t < rbest)
			rbest = t;
		rbytes = bytes;
		nrec = n;
		{
			const struct chr_zsq_frame *f = chr_zsq_frames(z, &nframes);

			nsnap = 0;
			for (size_t j = 0; j < nframes; j++)
				nsnap += f[j].flags & CHR_ZSQ_SNAPSHOT;
		}
		chr_reader_free(&r);
		chr_zsq_close(z);
	}
	if (stat(out, &st) == 0)
		zbytes = (uint64_t)st.st_size;
	printf("RESULT level=%d seg_bytes=%" PRIu64 " zsq_bytes=%" PRIu64 " frames=%zu snapshot_frames=%zu"
	       " write_s=%.4f read_s=%.4f records=%" PRIu64 " record_bytes=%" PRIu64 "\n",
	       level, segsize, zbytes, nframes, nsnap,
	       wbest, rbest, nrec, rbytes);
	return 0;
}
