/* t-segdir.c - listing segment files: names kept and ignored, id order,
 * compressed segments, leftovers removed, duplicates found. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "segdir.h"
#include "unit.h"

static void touch(const char *dir, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
}

static int exists(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

int main(void)
{
	char dir[] = "/tmp/t-segdir.XXXXXX";
	const char *names[] = { "000000002.q", "000000000.q", "000000010.q", "000000002.q.zst",
				"000000001.idx", "000000003.q.tmp", "000000004.idx.tmp",
				".recycle.000000005", "control", "lock", "12.q", "00000000x.q",
				"000000007.qq", "000000008.q.zst.tmp",
				"99999999999999999999.q", ".q", "0000000000000000000000000000000000000001.q" };
	struct chr_segdir_ent *v;
	struct chr_err e = { 0 };
	ssize_t n;
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		touch(dir, names[i]);

	/* a queue's view: nine digits and ".q" only */
	n = chr_segdir_list(-1, dir, 0, &v, &e);
	CHECK(n == 3);
	if (n == 3) {
		CHECK(v[0].id == 0 && v[1].id == 2 && v[2].id == 10);
		CHECK_STR(v[1].name, "000000002.q");
		CHECK(!v[0].zst && !v[1].zst && !v[2].zst);
		CHECK(chr_segdir_dup(v, (size_t)n) == NULL);
	}
	free(v);
	CHECK(exists(dir, "000000003.q.tmp") && exists(dir, ".recycle.000000005"));

	/* an archive partition's: any digits, compressed segments, duplicates */
	n = chr_segdir_list(-1, dir, CHR_SEGDIR_ZST | CHR_SEGDIR_ANYLEN, &v, &e);
	CHECK(n == 5);
	if (n == 5) {
		const struct chr_segdir_ent *d = chr_segdir_dup(v, (size_t)n);

		CHECK(v[1].id == 2 && !v[1].zst && v[2].id == 2 && v[2].zst);
		CHECK_STR(v[2].name, "000000002.q.zst");
		CHECK(v[3].id == 10 && v[4].id == 12);
		CHECK_STR(v[4].name, "12.q");
		CHECK(d == &v[2]);
	}
	free(v);

	/* the queue writer's: by descriptor, leftovers removed */
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0);
	n = chr_segdir_list(fd, dir, CHR_SEGDIR_RMTMP, &v, &e);
	CHECK(n == 3);
	free(v);
	CHECK(!exists(dir, "000000003.q.tmp") && !exists(dir, "000000004.idx.tmp"));
	CHECK(!exists(dir, ".recycle.000000005"));
	CHECK(exists(dir, "000000008.q.zst.tmp") && exists(dir, "000000001.idx"));
	/* twice by the same descriptor: the listing starts at the top again */
	n = chr_segdir_list(fd, dir, 0, &v, &e);
	CHECK(n == 3);
	free(v);
	close(fd);

	/* no such directory */
	n = chr_segdir_list(-1, "/nonexistent/t-segdir", 0, &v, &e);
	CHECK(n == -1 && errno == ENOENT && v == NULL);
	CHECK_STR(e.msg, "cannot open '/nonexistent/t-segdir': No such file or directory");
	CHECK(e.status == 3);

	/* an empty one */
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char path[512];

		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
	n = chr_segdir_list(-1, dir, CHR_SEGDIR_ZST, &v, &e);
	CHECK(n == 0 && v == NULL);
	CHECK(rmdir(dir) == 0);
	return unit_done("t-segdir");
}
