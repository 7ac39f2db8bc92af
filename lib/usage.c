#include "common.h"
#include "log.h"

#include <pthread.h>

static struct strbuf prog = STRBUF_INIT;
static _Thread_local struct strbuf fail_sb = STRBUF_INIT;
static _Thread_local int fail_last;
static pthread_key_t fail_key;
static pthread_once_t fail_once = PTHREAD_ONCE_INIT;

static void release_fail_sb(void *sb)
{
	strbuf_release(sb);
}

static void make_fail_key(void)
{
	if (pthread_key_create(&fail_key, release_fail_sb))
		BUG("pthread_key_create");
}

void set_progname(const char *name)
{
	strbuf_reset(&prog);
	strbuf_addstr(&prog, name);
}

const char *progname(void)
{
	return prog.len ? prog.buf : "nimbus";
}

static void vreport(int level, int with_errno, const char *fmt, va_list ap)
{
	int saved = errno;
	struct strbuf sb = STRBUF_INIT;

	strbuf_vaddf(&sb, fmt, ap);
	if (with_errno)
		strbuf_addf(&sb, ": %s", strerror(saved));
	log_line(level, sb.buf, NULL);
	strbuf_release(&sb);
	errno = saved;
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(LOG_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(EXIT_FAIL);
}

void die_errno(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(LOG_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(EXIT_FAIL);
}

void die_code(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(LOG_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(code);
}

int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(LOG_ERROR, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int error_errno(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(LOG_ERROR, 1, fmt, ap);
	va_end(ap);
	return -1;
}

void warning(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void BUG_fl(const char *file, int line, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	strbuf_addf(&sb, "BUG: %s:%d: ", file, line);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	log_line(LOG_ERROR, sb.buf, NULL);
	abort();
}

static int vfail(int code, int with_errno, const char *fmt, va_list ap)
{
	int saved = errno;

	if (code <= 0 || code > 255)
		BUG("fail() with exit code %d", code);
	if (!fail_sb.alloc) {
		/* a server's worker threads come and go: free their message with them */
		pthread_once(&fail_once, make_fail_key);
		pthread_setspecific(fail_key, &fail_sb);
	}
	strbuf_reset(&fail_sb);
	strbuf_vaddf(&fail_sb, fmt, ap);
	if (with_errno)
		strbuf_addf(&fail_sb, ": %s", strerror(saved));
	fail_last = code;
	errno = saved;
	return -code;
}

int fail(int code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail(code, 0, fmt, ap);
	va_end(ap);
	return rc;
}

int fail_errno(int code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail(code, 1, fmt, ap);
	va_end(ap);
	return rc;
}

const char *fail_message(void)
{
	return fail_sb.len ? fail_sb.buf : "unknown failure";
}

/* The exit code a negative return value stands for. */
int fail_code(int rc)
{
	if (rc >= 0)
		return EXIT_OK;
	if (rc < -255)
		return EXIT_FAIL;
	return -rc;
}

int report_fail(int rc)
{
	if (rc < 0)
		log_line(LOG_ERROR, fail_message(), NULL);
	return fail_code(rc);
}

void die_fail(int rc)
{
	exit(report_fail(rc < 0 ? rc : -EXIT_FAIL));
}
