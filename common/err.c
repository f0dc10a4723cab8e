/* err.c - messages, exit codes and EINTR-safe I/O. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

const char *chr_prog = "chr";

void chr_setprog(const char *argv0)
{
	const char *s;

	if (argv0 == NULL || *argv0 == '\0')
		return;
	s = strrchr(argv0, '/');
	chr_prog = s ? s + 1 : argv0;
}

void chr_msg(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* fill e (when not NULL): status, and the message from fmt and ap, then
 * ": strerror(errnum)" when errnum is not negative */
static void vset(struct chr_err *e, int status, int errnum, const char *fmt, va_list ap)
{
	size_t n;

	if (e == NULL)
		return;
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	if (errnum >= 0) {
		n = strlen(e->msg);
		snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror(errnum));
	}
	e->status = status;
}

int chr_err_set(struct chr_err *e, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(e, status, -1, fmt, ap);
	va_end(ap);
	return -1;
}

int chr_err_sys(struct chr_err *e, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vset(e, CHR_EX_SYS, saved, fmt, ap);
	va_end(ap);
	errno = saved;
	return -1;
}

void chr_die_err(const struct chr_err *e)
{
	chr_die(e->status ? e->status : CHR_EX_SYS, "%s", e->msg);
}

static void vwarn(const char *fmt, va_list ap)
{
	char buf[4096];
	int n = snprintf(buf, sizeof buf, "%s: ", chr_prog);

	if (n < 0 || (size_t)n >= sizeof buf)
		n = 0;
	vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
	n = (int)strlen(buf);
	buf[n++] = '\n';
	/* one write, so that messages of concurrent programs do not interleave */
	(void)chr_write_all(STDERR_FILENO, buf, (size_t)n);
}

void chr_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void chr_warn_cb(void *ctx, const char *msg)
{
	(void)ctx;
	chr_warn("%s", msg);
}

void chr_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	exit(code);
}

void chr_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", chr_prog);
	exit(CHR_EX_USAGE);
}

/* all of buf[0..n) by write, or by pwrite at *at when at is not NULL;
 * EINTR is retried */
static int put_all(int fd, const char *p, size_t n, const uint64_t *at)
{
	uint64_t off = at ? *at : 0;

	while (n > 0) {
		ssize_t k = at ? pwrite(fd, p, n, (off_t)off) : write(fd, p, n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

int chr_write_all(int fd, const void *buf, size_t n)
{
	return put_all(fd, buf, n, NULL);
}

int chr_pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
	return put_all(fd, buf, n, &off);
}

ssize_t chr_read(int fd, void *buf, size_t n)
{
	ssize_t k;

	do
		k = read(fd, buf, n);
	while (k < 0 && errno == EINTR);
	return k;
}

int chr_pipe_grow(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode))
		return 0;
	(void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
	return 1;
}

void chr_refuse_tty(int fd)
{
	if (isatty(fd))
		chr_die(CHR_EX_USAGE, "refusing to write binary records to a terminal "
			"(pipe them into a program; chr-tail --format text shows them)");
}

void chr_close_stdout(void)
{
	errno = EIO;	/* what ferror() alone means */
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
		if (errno == EPIPE)
			exit(CHR_EX_OK);
		chr_die(CHR_EX_SYS, "cannot write to standard output: %s", strerror(errno));
	}
}
