/* t-qpos.c - named reader positions: resume, exclusive holders across
 * processes (also SIGKILLed ones), listing, torn slots and crashes. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "queue.h"
#include "rec.h"
#include "unit.h"

static void rmdir_r(const char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "t-qpos: cannot remove %s\n", dir);
}

static void put_file(const char *path, const void *buf, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);

	CHECK(fd >= 0 && chr_write_all(fd, buf, n) == 0);
	close(fd);
}

static size_t get_file(const char *path, void *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	ssize_t k = fd >= 0 ? read(fd, buf, n) : -1;

	if (fd >= 0)
		close(fd);
	return k < 0 ? 0 : (size_t)k;
}

static uint64_t u64_at(const unsigned char *b, size_t off)
{
	uint64_t v;

	memcpy(&v, b + off, 8);
	return v;
}

/* The one reader of dir by chr_queue_pos_list: its seq, or -1 after
 * printing why not. */
static int64_t listed_seq(const char *dir, const char *name)
{
	struct chr_queue_pos_info *v;
	struct chr_err err;
	ssize_t n = chr_queue_pos_list(dir, &v, &err);
	int64_t seq = -1;

	if (n < 0)
		fprintf(stderr, "t-qpos: %s\n", err.msg);
	else if (n == 1 && strcmp(v[0].name, name) == 0)
		seq = (int64_t)v[0].seq;
	if (n >= 0)
		free(v);
	return seq;
}

static void test_basic(void)
{
	char dir[] = "/tmp/t-qpos.XXXXXX", path[256], msg[600];
	struct chr_err err;
	unsigned char b[256];
	struct chr_queue_pos p, q;
	struct chr_queue_pos_info *v;
	struct timespec t0, t1;
	struct stat st;
	uint64_t gen, start;
	ssize_t n;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/readers/r1", dir);

	/* no readers/ yet: none; a missing queue is an error */
	CHECK(chr_queue_pos_list(dir, &v, &err) == 0 && v == NULL);
	CHECK(chr_queue_pos_list("/nonexistent/q", &v, &err) == -1 && errno == ENOENT);
	CHECK(strncmp(err.msg, "/nonexistent/q: ", 16) == 0);
	CHECK(chr_queue_pos_open(&p, "/nonexistent/q", "r1", 0) == -1 && errno == ENOENT);
	CHECK(p.e.status == CHR_EX_SYS && p.fd == -1);
	chr_queue_pos_close(&p);
	CHECK(stat("/nonexistent", &st) == -1);

	/* bad names are refused before anything is created */
	const char *bad[] = { "", ".x", "..", "a/b", "a b", "x.tmp", "tab\there",
		"12345678901234567890123456789012345678901234567890123456789012345" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		CHECK(chr_queue_pos_open(&p, dir, bad[i], 0) == -1 && errno == EINVAL);
		CHECK(p.e.status == CHR_EX_USAGE && p.fd == -1);
		chr_queue_pos_close(&p);
	}
	CHECK(chr_queue_pos_open(&p, dir, "a/b", 0) == -1);
	chr_queue_pos_close(&p);
	snprintf(msg, sizeof msg, "%s: bad reader name 'a/b': name contains a path separator", dir);
	CHECK_STR(p.e.msg, msg);
	CHECK(chr_queue_pos_list(dir, &v, &err) == 0);

	/* register: seq 0, a 192-byte file */
	clock_gettime(CLOCK_REALTIME, &t0);
	CHECK(chr_queue_pos_open(&p, dir, "r1", CHR_QUEUE_POS_SYNC) == 0);
	CHECK(p.seq == 0 && p.gen >= 1 && p.fd >= 0 && p.sync == 1);
	CHECK_STR(p.name, "r1");
	CHECK(stat(path, &st) == 0 && st.st_size == 192);
	CHECK(get_file(path, b, sizeof b) == 192 && u64_at(b, 0) == 0x534f5051 + (1ull << 32));

	/* commits: gen +1 each, the newest slot holds the seq */
	gen = p.gen;
	for (uint64_t s = 1; s <= 10; s++) {
		CHECK(chr_queue_pos_commit(&p, s * 100) == 0);
		CHECK(p.gen == ++gen && p.seq == s * 100);
		CHECK(get_file(path, b, sizeof b) == 192);
		CHECK(u64_at(b, 64 + 64 * ((gen - 1) & 1)) == gen);
		CHECK(u64_at(b, 64 + 64 * ((gen - 1) & 1) + 8) == s * 100);
		CHECK(u64_at(b, 64 + 64 * (gen & 1)) == gen - 1);
		CHECK(listed_seq(dir, "r1") == (int64_t)(s * 100));
	}
	CHECK(chr_queue_pos_beat(&p) == 0 && p.gen == gen + 1 && p.seq == 1000);

	/* peek: the position of a reader held by another, without taking it */
	{
		uint64_t seq = 7;

		CHECK(chr_queue_pos_peek(dir, "r1", &seq, &err) == 1 && seq == 1000);
		CHECK(chr_queue_pos_peek(dir, "r2", &seq, &err) == 0 && seq == 1000);
		CHECK(chr_queue_pos_peek("/nonexistent/q", "r1", &seq, &err) == -1 &&
		      errno == ENOENT);
	}

	/* held: a second open, even in this process, is refused */
	CHECK(chr_queue_pos_open(&q, dir, "r1", 0) == -1 && errno == EBUSY);
	CHECK(q.e.status == CHR_EX_SYS && q.fd == -1);
	chr_queue_pos_close(&q);
	snprintf(msg, sizeof msg, "%s: reader 'r1' is in use by pid %ld", path, (long)getpid());
	CHECK_STR(q.e.msg, msg);

	/* list: live, our pid and start time, a fresh heartbeat */
	CHECK(chr_queue_pos_open(&q, dir, "r0", 0) == 0);
	chr_queue_pos_close(&q);
	n = chr_queue_pos_list(dir, &v, &err);
	clock_gettime(CLOCK_REALTIME, &t1);
	CHECK(n == 2);
	if (n == 2) {
		CHECK_STR(v[0].name, "r0");
		CHECK_STR(v[1].name, "r1");
		CHECK(v[0].live == 0 && v[0].seq == 0);
		CHECK(v[1].live == 1 && v[1].seq == 1000);
		CHECK(v[1].pid == (uint64_t)getpid());
		CHECK(chr_proc_start(getpid(), &start) == 0 && v[1].start == start && start > 0);
		CHECK(v[1].beat >= (int64_t)t0.tv_sec * 1000000000 + t0.tv_nsec);
		CHECK(v[1].beat <= (int64_t)t1.tv_sec * 1000000000 + t1.tv_nsec);
	}
	if (n >= 0)
		free(v);

	/* resume */
	chr_queue_pos_close(&p);
	CHECK(p.fd == -1);
	CHECK(chr_queue_pos_commit(&p, 5) == -1 && errno == EBADF);
	n = chr_queue_pos_list(dir, &v, &err);
	CHECK(n == 2 && v[1].live == 0);
	if (n >= 0)
		free(v);
	CHECK(chr_queue_pos_open(&p, dir, "r1", 0) == 0 && p.seq == 1000 && p.gen > gen);
	chr_queue_pos_close(&p);

	/* list skips temp and hidden files and names that are no reader's */
	snprintf(path, sizeof path, "%s/readers/x.tmp", dir);
	put_file(path, "junk", 4);
	snprintf(path, sizeof path, "%s/readers/.r1.123.0", dir);
	put_file(path, "junk", 4);
	snprintf(path, sizeof path, "%s/readers/a b", dir);
	put_file(path, "junk", 4);
	n = chr_queue_pos_list(dir, &v, &err);
	CHECK(n == 2);
	if (n >= 0)
		free(v);

	/* but a bad reader file is an error: it may hold back retention */
	snprintf(path, sizeof path, "%s/readers/r2", dir);
	put_file(path, "junk", 4);
	CHECK(chr_queue_pos_list(dir, &v, &err) == -1 && errno == EPROTO && v == NULL);
	snprintf(msg, sizeof msg, "%s: truncated file", path);
	CHECK_STR(err.msg, msg);
	CHECK(chr_queue_pos_open(&p, dir, "r2", 0) == -1 && errno == EPROTO);
	chr_queue_pos_close(&p);
	CHECK(p.e.status == CHR_EX_DATA);
	CHECK_STR(p.e.msg, msg);
	memset(b, 0, 192);
	put_file(path, b, 192);
	CHECK(chr_queue_pos_open(&p, dir, "r2", 0) == -1 && errno == EPROTO);
	chr_queue_pos_close(&p);
	snprintf(msg, sizeof msg, "%s: not a reader position file (bad magic)", path);
	CHECK_STR(p.e.msg, msg);
	put_file(path, b, 0);
	CHECK(chr_queue_pos_open(&p, dir, "r2", 0) == -1 && errno == EPROTO);
	chr_queue_pos_close(&p);
	snprintf(msg, sizeof msg, "%s: empty file", path);
	CHECK_STR(p.e.msg, msg);
	rmdir_r(dir);
}

/* Fork a child that holds reader name of dir (after committing 42 when
 * commit) until it reads a byte from *go (or dies). Returns its pid once it
 * holds it, or -1. */
static pid_t holder(const char *dir, const char *name, int commit, int *go)
{
	int up[2], down[2];
	char c = 1;
	pid_t pid;

	if (pipe(up) < 0 || pipe(down) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct chr_queue_pos p;

		close(up[0]);
		close(down[1]);
		c = chr_queue_pos_open(&p, dir, name, 0) == 0 &&
		    (!commit || chr_queue_pos_commit(&p, 42) == 0);
		if (write(up[1], &c, 1) != 1 || !c)
			_exit(1);
		if (read(down[0], &c, 1) < 0)
			_exit(1);
		chr_queue_pos_close(&p);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	if (pid < 0 || read(up[0], &c, 1) != 1 || !c) {
		close(up[0]);
		close(down[1]);
		return -1;
	}
	close(up[0]);
	*go = down[1];
	return pid;
}

static void test_processes(void)
{
	char dir[] = "/tmp/t-qpos.XXXXXX", msg[600];
	struct chr_err err;
	struct chr_queue_pos p;
	struct chr_queue_pos_info *v;
	uint64_t s1, s2, me;
	int go, st;
	ssize_t n;
	pid_t pid;

	CHECK(mkdtemp(dir) != NULL);
	for (int how = 0; how < 2; how++) {
		/* the second time, opening alone makes the file name it */
		pid = holder(dir, "c", how == 0, &go);
		CHECK(pid > 0);
		if (pid < 0)
			break;
		CHECK(chr_queue_pos_open(&p, dir, "c", 0) == -1 && errno == EBUSY);
		chr_queue_pos_close(&p);
		snprintf(msg, sizeof msg, "%s/readers/c: reader 'c' is in use by pid %ld", dir,
			 (long)pid);
		CHECK_STR(p.e.msg, msg);
		n = chr_queue_pos_list(dir, &v, &err);
		CHECK(n == 1 && v[0].live == 1 && v[0].pid == (uint64_t)pid && v[0].seq == 42);
		CHECK(chr_proc_start(pid, &s1) == 0 && n == 1 && v[0].start == s1);
		if (n >= 0)
			free(v);
		/* listing never takes the lock: still held */
		CHECK(chr_queue_pos_open(&p, dir, "c", 0) == -1 && errno == EBUSY);
		chr_queue_pos_close(&p);
		if (how == 0)
			CHECK(write(go, "x", 1) == 1);	/* it closes and exits */
		else
			kill(pid, SIGKILL);	/* the kernel drops the lock */
		CHECK(waitpid(pid, &st, 0) == pid);
		CHECK(how ? WIFSIGNALED(st) : WIFEXITED(st) && WEXITSTATUS(st) == 0);
		close(go);
		n = chr_queue_pos_list(dir, &v, &err);
		CHECK(n == 1 && v[0].live == 0 && v[0].seq == 42);
		if (n >= 0)
			free(v);
		CHECK(chr_queue_pos_open(&p, dir, "c", 0) == 0 && p.seq == 42);
		chr_queue_pos_close(&p);
	}

	/* the start time names a process whatever its comm holds */
	CHECK(chr_proc_start(getpid(), &me) == 0);
	CHECK(chr_proc_start(-1, &s1) == -1 && errno == ENOENT);
	CHECK(chr_proc_start(0, &s1) == -1 && errno == ENOENT);
	int up[2], down[2];
	char c;

	CHECK(pipe(up) == 0 && pipe(down) == 0);
	pid = fork();
	if (pid == 0) {
		if (read(down[0], &c, 1) != 1)
			_exit(1);
		prctl(PR_SET_NAME, "a) 1 2 (b) 3 4");
		if (write(up[1], "x", 1) != 1 || read(down[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	CHECK(pid > 0);
	CHECK(chr_proc_start(pid, &s1) == 0 && s1 >= me);
	CHECK(write(down[1], "x", 1) == 1 && read(up[0], &c, 1) == 1);
	CHECK(chr_proc_start(pid, &s2) == 0 && s2 == s1);
	CHECK(write(down[1], "x", 1) == 1);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(chr_proc_start(pid, &s2) == -1 && errno == ENOENT);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
	rmdir_r(dir);
}

/* Processes registering the same new name at once: one holds it, the
 * others get EBUSY, and the file is whole. */
static void test_race(void)
{
	char dir[] = "/tmp/t-qpos.XXXXXX", name[32], path[256];
	enum { KIDS = 8 };
	pid_t kids[KIDS];
	uint64_t bad = 0;

	CHECK(mkdtemp(dir) != NULL);
	for (int r = 0; r < 20; r++) {
		int gate[2], res[2], held = 0, busy = 0, st;
		char c;

		snprintf(name, sizeof name, "new%d", r);
		if (pipe(gate) < 0 || pipe(res) < 0) {
			bad++;
			break;
		}
		for (int k = 0; k < KIDS; k++) {
			kids[k] = fork();
			if (kids[k] == 0) {
				struct chr_queue_pos p;

				close(gate[1]);
				c = 'x';
				if (read(gate[0], &c, 1) == 0) {	/* all go when it closes */
					c = chr_queue_pos_open(&p, dir, name, 0) == 0 ? 'h' :
					    errno == EBUSY ? 'b' : 'x';
					if (c == 'x')
						fprintf(stderr, "t-qpos: %s\n", p.e.msg);
				}
				if (write(res[1], &c, 1) != 1)
					_exit(1);
				pause();	/* holding it until killed */
				_exit(0);
			}
		}
		close(gate[0]);
		close(res[1]);
		close(gate[1]);
		for (int k = 0; k < KIDS; k++) {
			if (read(res[0], &c, 1) != 1)
				c = 'x';
			held += c == 'h';
			busy += c == 'b';
		}
		if (held != 1 || busy != KIDS - 1)
			bad++;
		for (int k = 0; k < KIDS; k++) {
			if (kids[k] > 0)
				kill(kids[k], SIGKILL);
			if (kids[k] > 0 && waitpid(kids[k], &st, 0) != kids[k])
				bad++;
		}
		close(res[0]);
		if (listed_seq(dir, name) != 0)
			bad++;
		snprintf(path, sizeof path, "%s/readers/new%d", dir, r);
		if (unlink(path) < 0)
			bad++;
	}
	CHECK(bad == 0);
	rmdir_r(dir);
}

/* Torn writes: the newer slot half rewritten (a prefix of the new bytes
 * over the slot's old bytes) or one byte damaged: the older slot is used. */
static void test_torn(void)
{
	char dir[] = "/tmp/t-qpos.XXXXXX", path[256], msg[600];
	struct chr_err err;
	unsigned char good[192], old[64], b[192];
	struct chr_queue_pos p;
	struct chr_queue_pos_info *v;
	uint64_t gen, bad = 0;
	size_t ns, os;
	int k;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/readers/t", dir);
	CHECK(chr_queue_pos_open(&p, dir, "t", 0) == 0);
	CHECK(chr_queue_pos_commit(&p, 7) == 0 && chr_queue_pos_commit(&p, 8) == 0);
	CHECK(get_file(path, b, sizeof b) == 192);
	gen = p.gen;
	ns = 64 + 64 * ((gen - 1) & 1);	/* the slot that gets gen + 1 */
	os = 64 + 64 * (gen & 1);
	memcpy(old, b + os, 64);	/* its bytes before: seq 7 */
	CHECK(u64_at(old, 8) == 7);
	CHECK(chr_queue_pos_commit(&p, 9) == 0);
	chr_queue_pos_close(&p);
	CHECK(get_file(path, good, sizeof good) == 192);
	CHECK(u64_at(good, os) == gen + 1 && u64_at(good, os + 8) == 9);
	CHECK(u64_at(good, ns + 8) == 8);

	for (k = 0; k <= 64; k++) {
		memcpy(b, good, 192);
		memcpy(b + os + k, old + k, (size_t)(64 - k));
		put_file(path, b, 192);
		/* k = 0: the write never happened, 64: complete */
		if (listed_seq(dir, "t") != (k == 64 ? 9 : 8))
			bad++;
		if (chr_queue_pos_open(&p, dir, "t", 0) < 0 || p.seq != (k == 64 ? 9u : 8u))
			bad++;
		chr_queue_pos_close(&p);
	}
	CHECK(bad == 0);
	for (k = 0; k < 64; k++) {
		memcpy(b, good, 192);
		b[os + k] ^= 1u << (k % 8);
		put_file(path, b, 192);
		if (listed_seq(dir, "t") != 8)
			bad++;
		if (chr_queue_pos_open(&p, dir, "t", 0) < 0 || p.seq != 8)
			bad++;
		chr_queue_pos_close(&p);
		/* the older damaged instead: the newer stands */
		memcpy(b, good, 192);
		b[ns + k] ^= 0x80;
		put_file(path, b, 192);
		if (listed_seq(dir, "t") != 9)
			bad++;
	}
	CHECK(bad == 0);

	/* a valid slot in the wrong place (gen g belongs in slot (g-1) % 2) */
	memcpy(b, good, 192);
	memcpy(b + ns, good + os, 64);
	memset(b + os, 0, 64);
	put_file(path, b, 192);
	CHECK(chr_queue_pos_open(&p, dir, "t", 0) == -1 && errno == EPROTO);
	chr_queue_pos_close(&p);

	/* both bad */
	memcpy(b, good, 192);
	b[os + 20] ^= 1;
	b[ns + 40] ^= 1;
	put_file(path, b, 192);
	CHECK(chr_queue_pos_open(&p, dir, "t", 0) == -1 && errno == EPROTO);
	CHECK(p.e.status == CHR_EX_DATA && p.fd == -1);
	chr_queue_pos_close(&p);
	snprintf(msg, sizeof msg, "%s: both slots are bad", path);
	CHECK_STR(p.e.msg, msg);
	CHECK(chr_queue_pos_list(dir, &v, &err) == -1 && errno == EPROTO && v == NULL);
	CHECK_STR(err.msg, msg);

	/* a bad version */
	memcpy(b, good, 192);
	b[4] = 2;
	put_file(path, b, 192);
	CHECK(chr_queue_pos_open(&p, dir, "t", 0) == -1 && errno == EPROTO);
	chr_queue_pos_close(&p);
	rmdir_r(dir);
}

/* A child commits 1, 2, 3, ... (no fdatasync) until SIGKILLed at a random
 * moment; the position read after each kill is valid and never goes back. */
static void test_crash(void)
{
	char dir[] = "/tmp/t-qpos.XXXXXX";
	struct chr_queue_pos p;
	uint64_t last = 0, bad = 0, moved = 0;
	int64_t seen;
	int st, registered = 0;
	pid_t pid;

	CHECK(mkdtemp(dir) != NULL);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (int i = 0; i < 300; i++) {
		pid = fork();
		if (pid == 0) {
			if (chr_queue_pos_open(&p, dir, "k", 0) < 0)
				_exit(1);
			for (uint64_t s = p.seq + 1; ; s++)
				if (chr_queue_pos_commit(&p, s) < 0)
					_exit(2);
		}
		if (pid < 0) {
			bad++;
			break;
		}
		usleep((useconds_t)(rand() % 3000));
		kill(pid, SIGKILL);
		if (waitpid(pid, &st, 0) != pid || !WIFSIGNALED(st)) {
			bad++;
			break;
		}
		seen = listed_seq(dir, "k");
		if (seen == -1 && !registered)	/* killed before it registered */
			continue;
		registered = 1;
		if (seen < (int64_t)last)
			bad++;
		if (chr_queue_pos_open(&p, dir, "k", 0) < 0) {
			fprintf(stderr, "t-qpos: %s\n", p.e.msg);
			bad++;
			continue;
		}
		if (p.seq != (uint64_t)seen)
			bad++;
		if (p.seq > last)
			moved++;
		last = p.seq;
		chr_queue_pos_close(&p);
	}
	CHECK(bad == 0);
	CHECK(moved > 10);
	rmdir_r(dir);
}

int main(void)
{
	test_basic();
	test_processes();
	test_race();
	test_torn();
	test_crash();
	return unit_done("t-qpos");
}
