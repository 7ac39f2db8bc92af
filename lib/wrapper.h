#ifndef WRAPPER_H
#define WRAPPER_H

/* Allocation and I/O helpers; the x-variants die instead of failing. */

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
char *xstrfmt(const char *fmt, ...) PRINTF(1, 2);
/* snprintf into a buffer known to be large enough; truncation is a BUG. */
void xsnprintf(char *dst, size_t max, const char *fmt, ...) PRINTF(3, 4);

/* Grow an array to hold at least n elements (git's ALLOC_GROW). */
#define ALLOC_GROW(x, n, alloc) \
	do { \
		if ((n) > (alloc)) { \
			(alloc) = (n) < 16 ? 16 : (n) * 3 / 2; \
			(x) = xrealloc((x), sizeof(*(x)) * (alloc)); \
		} \
	} while (0)

/* Full reads and writes that retry on EINTR and short transfers. */
ssize_t read_in_full(int fd, void *buf, size_t count);
ssize_t write_in_full(int fd, const void *buf, size_t count);

/*
 * Read a file holding a secret into the empty out, in one allocation (no
 * stale copy left behind): -EXIT_PERM when group or others have access to
 * it, -EXIT_NOTFOUND when missing, -EXIT_FAIL above max bytes or when it
 * is not a regular file. Release out with strbuf_release_secret().
 */
struct strbuf;
int read_secret_file(const char *path, size_t max, struct strbuf *out);
/* mkdir -p, each new directory 0700: 0, or a fail() code. */
int mkdir_parents(const char *path);

/*
 * mkdir -p: create path and the directories above it that are missing,
 * each with mode. 0, or -1 with errno.
 */
int mkdir_p(const char *path, mode_t mode);

/* Zero memory that held a secret and free it. */
void free_secret(void *p, size_t len);
void free_secret_str(char *s);

static inline bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Skip prefix: on a match, *out points past it. */
static inline bool skip_prefix(const char *s, const char *prefix, const char **out)
{
	size_t n = strlen(prefix);

	if (strncmp(s, prefix, n))
		return false;
	*out = s + n;
	return true;
}

/* Whether s is one of the strings of the NULL-terminated list. */
static inline bool str_in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

static inline bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !memcmp(s + n - m, suffix, m);
}

#endif
