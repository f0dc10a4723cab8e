/* fuzz-queue.c - libFuzzer harness of queue opening and writer recovery:
 * the input cut into 1 + byte 0 % 3 segment files, read, opened by a
 * writer that appends a record, read again (test/fuzz/README.md). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "queue.h"

static volatile uint64_t sink;	/* what was read, so that reading stays */

static char dir[64];

/* Empty the queue directory (and its readers/). */
static void clean(const char *path)
{
	DIR *dp = opendir(path);
	struct dirent *de;
	char p[256];

	if (!dp)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
			continue;
		snprintf(p, sizeof p, "%s/%s", path, de->d_name);
		if (unlink(p) < 0) {
			clean(p);
			rmdir(p);
		}
	}
	closedir(dp);
}

/* At exit: remove the directory (a crash leaves it, for a look). */
static void bye(void)
{
	clean(dir);
	rmdir(dir);
}

static void read_all(void)
{
	struct chr_queue_reader r;
	const struct chr_rec *rec;

	if (chr_queue_reader_open(&r, dir, 0) < 0)
		return;
	while (chr_queue_next(&r, &rec) == 1)
		sink += rec->seq + rec->len;
	chr_queue_reader_close(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct chr_queue_opts o = {.seg_size = 65536, .sync = CHR_SYNC_NEVER};
	struct chr_queue_writer w;
	_Alignas(64) unsigned char hb[CHR_HDR_SIZE] = {0};
	struct chr_rec *rec = (struct chr_rec *)hb;
	size_t k, part;
	unsigned char *b;

	if (n < 1)
		return 0;
	if (!dir[0]) {
		snprintf(dir, sizeof dir, "%s/chr-fuzz-queue.XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		if (!mkdtemp(dir))
			abort();
		atexit(bye);
	}
	clean(dir);
	k = 1 + d[0] % 3;
	part = (n - 1) / k;
	if ((b = malloc(part ? part : 1)) == NULL)
		return 0;
	for (size_t i = 0; i < k; i++) {
		char p[128];
		int fd;

		memcpy(b, d + 1 + i * part, part);
		fuzz_fix_crcs(b, part, 0);
		snprintf(p, sizeof p, "%s/%09zu.q", dir, i);
		if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
			abort();
		if (write(fd, b, part) != (ssize_t)part ||
		    ftruncate(fd, (off_t)((part + 4095) / 4096 * 4096)) < 0)
			abort();
		close(fd);
	}
	free(b);
	read_all();
	if (chr_queue_writer_open(&w, dir, &o) == 0) {
		rec->len = CHR_HDR_SIZE;
		rec->type = chr_type_parse("heartbeat");
		(void)chr_queue_append(&w, rec);
		chr_queue_writer_close(&w);
		read_all();
	}
	return 0;
}
