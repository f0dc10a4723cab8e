/* err.h - messages in one grammar, the suite's exit codes, and EINTR-safe
 * I/O wrappers. */
#ifndef CHR_ERR_H
#define CHR_ERR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit status, one table for the suite */
#define CHR_EX_OK 0
#define CHR_EX_DATA 1		/* bad input data */
#define CHR_EX_USAGE 2		/* misuse */
#define CHR_EX_SYS 3		/* system or I/O failure */

/* The library's one error convention: a function that can fail takes a
 * struct chr_err * last, and on failure fills it and returns -1 (or NULL).
 * msg is the whole message without the program's name ("cannot open 'x':
 * why", "x: byte N: what"); status is CHR_EX_DATA or CHR_EX_SYS. The
 * library never prints: the program decides (chr_die_err). A function
 * whose only failure is running out of memory (a map, a book, an
 * instrument selection) returns -1 or NULL with errno ENOMEM, as malloc
 * does. */
#define CHR_ERR_MAX 1024
struct chr_err {
	int status;
	char msg[CHR_ERR_MAX];
};

/* Fill e (when not NULL) with status and the formatted message. Returns -1,
 * so that a failing function can `return chr_err_set(e, ...)`. */
int chr_err_set(struct chr_err *e, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* chr_err_set with strerror(errno) appended after ": ". Returns -1. */
int chr_err_sys(struct chr_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print e's message and exit with its status (CHR_EX_SYS when unset). */
_Noreturn void chr_die_err(const struct chr_err *e);

extern const char *chr_prog;

/* Set the program name used in messages from argv[0]'s last component. */
void chr_setprog(const char *argv0);

/* "prog: message\n" on stderr. */
void chr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* How a long library operation reports what the program may print: a
 * whole message without the program's name. */
typedef void (*chr_warn_fn)(void *ctx, const char *msg);

/* A chr_warn_fn for programs: chr_warn's line on stderr (ctx unused). */
void chr_warn_cb(void *ctx, const char *msg);

/* chr_warn, then exit(code). */
_Noreturn void chr_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "prog: message\nTry 'prog --help' for more information.\n", exit 2. */
_Noreturn void chr_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* vsnprintf into a caller's message buffer err (errlen bytes): how the
 * library's functions hand back "cannot read 'x': why". Cut short when
 * it does not fit; err is always NUL-terminated (errlen > 0). */
void chr_msg(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* write(2) all n bytes, retrying on EINTR and short writes.
 * Returns 0, or -1 with errno set. */
int chr_write_all(int fd, const void *buf, size_t n);

/* pwrite(2) all n bytes at offset off, retrying on EINTR and short
 * writes. Returns 0, or -1 with errno set. */
int chr_pwrite_all(int fd, const void *buf, size_t n, uint64_t off);

/* read(2) retrying on EINTR. Returns bytes read, 0 at EOF, -1 with errno. */
ssize_t chr_read(int fd, void *buf, size_t n);

/* When fd is a pipe, ask for a 1 MiB pipe buffer (the default 64 KiB
 * costs a context switch per 64 KiB between the stages of a pipeline).
 * Best effort: failure changes nothing. Returns 1 when fd is a pipe. */
int chr_pipe_grow(int fd);

/* Die with status 2 when fd is a terminal: binary records are never
 * written to one. */
void chr_refuse_tty(int fd);

/* Flush and check stdout, then close it; on failure die with status 3.
 * Call before a successful exit of a program that prints text. */
void chr_close_stdout(void);

#endif
