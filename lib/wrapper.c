#include "common.h"

#include <openssl/crypto.h>
#include <sys/stat.h>

static NORETURN void die_oom(size_t size)
{
	die("out of memory allocating %zu bytes", size);
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		die_oom(size);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		die_oom(n * size);
	return p;
}

void *xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (!p)
		die_oom(size);
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		die_oom(strlen(s) + 1);
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (!p)
		die_oom(n + 1);
	return p;
}

void *xmemdup(const void *src, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, src, n);
	p[n] = '\0';
	return p;
}

char *xstrfmt(const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	return strbuf_detach(&sb, NULL);
}

void xsnprintf(char *dst, size_t max, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, max, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= max)
		BUG("xsnprintf: buffer of %zu bytes too small", max);
}

ssize_t read_in_full(int fd, void *buf, size_t count)
{
	char *p = buf;
	size_t total = 0;

	while (total < count) {
		ssize_t n = read(fd, p + total, count - total);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		total += n;
	}
	return total;
}

ssize_t write_in_full(int fd, const void *buf, size_t count)
{
	const char *p = buf;
	size_t total = 0;

	while (total < count) {
		ssize_t n = write(fd, p + total, count - total);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		total += n;
	}
	return total;
}

int read_secret_file(const char *path, size_t max, struct strbuf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), rc = 0;
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return fail_errno(errno == ENOENT ? EXIT_NOTFOUND : errno == EACCES ? EXIT_PERM : EXIT_FAIL,
				  "cannot open %s", path);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		rc = fail(EXIT_FAIL, "%s is not a regular file", path);
	else if (st.st_mode & (S_IRWXG | S_IRWXO))
		rc = fail(EXIT_PERM, "%s has mode %04o: group or others may read it; chmod 600 it",
			  path, (unsigned)(st.st_mode & 07777));
	else if ((uint64_t)st.st_size > max)
		rc = fail(EXIT_FAIL, "%s is larger than %zu bytes", path, max);
	if (!rc) {
		strbuf_grow(out, st.st_size);
		n = read_in_full(fd, out->buf, st.st_size);
		if (n < 0)
			rc = fail_errno(EXIT_FAIL, "cannot read %s", path);
		else
			strbuf_setlen(out, n);
	}
	close(fd);
	return rc;
}

int mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	int rc = 0;

	for (char *slash = strchr(p + 1, '/'); !rc && slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(p, mode) && errno != EEXIST)
			rc = -1;
		*slash = '/';
	}
	if (!rc && mkdir(p, mode) && errno != EEXIST)
		rc = -1;
	free(p);
	return rc;
}

void free_secret(void *p, size_t len)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

void free_secret_str(char *s)
{
	if (s)
		free_secret(s, strlen(s));
}

int mkdir_parents(const char *path)
{
	char *p = xstrdup(path);
	int rc = 0;

	for (char *s = p + 1; *s && !rc; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) && errno != EEXIST)
			rc = fail_errno(errno == EACCES ? EXIT_PERM : EXIT_FAIL, "cannot create %s", p);
		*s = '/';
	}
	if (!rc && mkdir(p, 0700) && errno != EEXIST)
		rc = fail_errno(errno == EACCES ? EXIT_PERM : EXIT_FAIL, "cannot create %s", p);
	free(p);
	return rc;
}
