#ifndef USAGE_H
#define USAGE_H

/*
 * Reporting. Every message goes through the logger (log.h), which
 * redacts secrets and replaces control characters, as one write.
 *
 * die*() report and exit; error*() report and return -1; warning()
 * reports; BUG() reports a programming error and aborts.
 *
 * Library code that must not decide how a failure is reported records it
 * with fail(): the message is kept per thread and -code is returned, so
 * that a command can die_fail(rc) and a server can map the code to an
 * HTTP status.
 */

/* The "nimbus CMD" of messages; name is copied. */
void set_progname(const char *name);
const char *progname(void);

NORETURN void die(const char *fmt, ...) PRINTF(1, 2);
NORETURN void die_errno(const char *fmt, ...) PRINTF(1, 2);
NORETURN void die_code(int code, const char *fmt, ...) PRINTF(2, 3);
int error(const char *fmt, ...) PRINTF(1, 2);
int error_errno(const char *fmt, ...) PRINTF(1, 2);
void warning(const char *fmt, ...) PRINTF(1, 2);
NORETURN void BUG_fl(const char *file, int line, const char *fmt, ...) PRINTF(3, 4);
#define BUG(...) BUG_fl(__FILE__, __LINE__, __VA_ARGS__)

int fail(int code, const char *fmt, ...) PRINTF(2, 3);
int fail_errno(int code, const char *fmt, ...) PRINTF(2, 3);
const char *fail_message(void);
int fail_code(int rc);
NORETURN void die_fail(int rc);
/* Report a recorded failure as an error and return its exit code. */
int report_fail(int rc);

#endif
