#ifndef EXIT_CODES_H
#define EXIT_CODES_H

/*
 * The one table of exit codes. nimbus.1's EXIT STATUS section lists the
 * same codes (t/0010-meta-docs.bats keeps the two in sync).
 */
#define EXIT_CODE_TABLE(X) \
	X(0, OK, "success") \
	X(1, FAIL, "failure not covered below") \
	X(2, USAGE, "usage error") \
	X(3, REJECTED, "rejected: a clear no") \
	X(4, NOTFOUND, "not found") \
	X(5, BUSY, "busy or conflict") \
	X(6, UNAVAILABLE, "unavailable: a dependency is down or timed out") \
	X(7, CONFIG, "configuration invalid") \
	X(8, PERM, "permission denied")

enum exit_code {
#define EXIT_CODE_ENUM(n, name, desc) EXIT_##name = n,
	EXIT_CODE_TABLE(EXIT_CODE_ENUM)
#undef EXIT_CODE_ENUM
};

#endif
