/* link.c - the replication link: heartbeats and acknowledgements between
 * chr-tail --acks and chr-sink --replica, and the watchdog of each end. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "link.h"
#include "tm.h"

static _Atomic int64_t fed;	/* CLOCK_MONOTONIC ns of the last sign of life */
static int64_t limit;		/* the watchdog's timeout */
static char bark[512];		/* its message */
static size_t bark_len;

static int64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int chr_link_timeout_parse(const char *s, int64_t *ns)
{
	if (chr_duration_parse(s, ns) < 0 || *ns < 2 * INT64_C(1000000000) ||
	    *ns > 3600 * INT64_C(1000000000))
		return -1;
	return 0;
}

static void watch(int sig)
{
	(void)sig;
	if (mono_ns() - atomic_load_explicit(&fed, memory_order_relaxed) > limit) {
		ssize_t k = write(STDERR_FILENO, bark, bark_len);

		(void)k;
		_exit(CHR_EX_SYS);
	}
}

void chr_link_watchdog(int64_t timeout_ns, const char *what)
{
	struct sigaction sa;
	struct itimerval it = { { 1, 0 }, { 1, 0 } };
	int n;

	limit = timeout_ns;
	n = snprintf(bark, sizeof bark, "%s: no %s for %" PRId64 " s: the link is silent\n",
		     chr_prog, what, timeout_ns / 1000000000);
	bark_len = n < 0 ? 0 : (size_t)n < sizeof bark ? (size_t)n : sizeof bark - 1;
	chr_link_fed();
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = watch;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

void chr_link_fed(void)
{
	atomic_store_explicit(&fed, mono_ns(), memory_order_relaxed);
}

int chr_link_send_open(struct chr_link_send *s, const char *path, uint64_t done,
		       int64_t timeout_ns, struct chr_err *e)
{
	static char what[300];

	memset(s, 0, sizeof *s);
	s->path = strcmp(path, "-") == 0 ? "stdin" : path;
	s->fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0 || fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK) < 0)
		return chr_err_set(e, CHR_EX_SYS, "--acks '%s': %s", path, strerror(errno));
	s->acked = s->done = done;
	s->sent = mono_ns();
	snprintf(what, sizeof what, "acknowledgement on %s", s->path);
	chr_link_watchdog(timeout_ns, what);
	return 0;
}

/* Read what came on s->fd: 0 (the largest seq acknowledged in s->acked),
 * or -1 with e */
static int acks_read(struct chr_link_send *s, struct chr_err *e)
{
	char chunk[4096];
	ssize_t k;

	while ((k = read(s->fd, chunk, sizeof chunk)) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return chr_err_set(e, CHR_EX_SYS, "%s: %s", s->path, strerror(errno));
		}
		for (ssize_t i = 0; i < k; i++) {
			uint64_t v = 0;
			size_t j;

			if (chunk[i] != '\n') {
				if (s->n == sizeof s->buf - 1 || chunk[i] < '0' || chunk[i] > '9')
					return chr_err_set(e, CHR_EX_DATA, "%s: not a line of "
							   "acknowledged seq", s->path);
				s->buf[s->n++] = chunk[i];
				continue;
			}
			for (j = 0; j < s->n && v <= (UINT64_MAX - 9) / 10; j++)
				v = v * 10 + (uint64_t)(s->buf[j] - '0');
			if (s->n == 0 || j < s->n)
				return chr_err_set(e, CHR_EX_DATA, "%s: not a line of acknowledged "
						   "seq", s->path);
			s->n = 0;
			if (v > s->acked)
				s->acked = v;
			chr_link_fed();
		}
	}
	return chr_err_set(e, CHR_EX_SYS, "%s: the replica's end closed the link", s->path);
}

int chr_link_send_tick(struct chr_link_send *s, struct chr_out *out, struct chr_queue_pos *pos,
		       uint64_t next, int wrote, struct chr_err *e)
{
	int64_t now = mono_ns();
	uint64_t to;

	if (acks_read(s, e) < 0)
		return -1;
	/* never past what was read, never back */
	to = s->acked < next ? s->acked : next;
	if (to > s->done) {
		if (chr_queue_pos_commit(pos, to) < 0)
			return chr_err_set(e, pos->e.status, "%s", pos->e.msg);
		s->done = to;
	}
	if (wrote) {
		s->sent = now;
	} else if (now - s->sent >= CHR_LINK_BEAT_NS) {
		_Alignas(64) unsigned char b[CHR_HDR_SIZE] = {0};
		struct chr_rec *r = (struct chr_rec *)b;
		struct timespec t;

		clock_gettime(CLOCK_REALTIME, &t);
		r->len = CHR_HDR_SIZE;
		r->type = CHR_HEARTBEAT;
		r->flags = CHR_F_SYNTHETIC;
		r->seq = UINT64_MAX;
		r->src_seq = next;
		r->ts = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
		chr_rec_seal(r);
		if (chr_out_put(out, r, e) < 0 || chr_out_flush(out, e) < 0)
			return -1;
		s->sent = now;
	}
	return 0;
}

int chr_link_ack(int fd, uint64_t next, struct chr_err *e)
{
	char line[32];
	int n = snprintf(line, sizeof line, "%" PRIu64 "\n", next);
	ssize_t k;

	for (int off = 0; off < n; off += (int)k) {
		k = write(fd, line + off, (size_t)(n - off));
		if (k < 0 && errno == EINTR) {
			k = 0;
			continue;
		}
		if (k < 0)
			return chr_err_set(e, CHR_EX_SYS, "cannot write the acknowledgement: %s",
					   strerror(errno));
	}
	chr_link_fed();
	return 0;
}
