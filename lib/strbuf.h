#ifndef STRBUF_H
#define STRBUF_H

/*
 * A growable, always NUL-terminated byte buffer (after git's strbuf).
 * buf is never NULL: an empty strbuf points at a shared "" until it grows.
 */
struct strbuf {
	size_t alloc;
	size_t len;
	char *buf;
};

extern char strbuf_slopbuf[];
#define STRBUF_INIT { 0, 0, strbuf_slopbuf }

void strbuf_init(struct strbuf *sb, size_t hint);
void strbuf_release(struct strbuf *sb);
/* Wipe the contents (they held a secret), then release. */
void strbuf_release_secret(struct strbuf *sb);
char *strbuf_detach(struct strbuf *sb, size_t *len);
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_setlen(struct strbuf *sb, size_t len);
#define strbuf_reset(sb) strbuf_setlen((sb), 0)

void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, int c);
void strbuf_addchars(struct strbuf *sb, int c, size_t n);
void strbuf_addbuf(struct strbuf *sb, const struct strbuf *other);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) PRINTF(2, 3);
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
void strbuf_insert(struct strbuf *sb, size_t pos, const void *data, size_t len);
void strbuf_remove(struct strbuf *sb, size_t pos, size_t len);
void strbuf_splice(struct strbuf *sb, size_t pos, size_t len, const void *data, size_t dlen);

void strbuf_trim(struct strbuf *sb);
void strbuf_rtrim(struct strbuf *sb);
void strbuf_tolower(struct strbuf *sb);

/* Append the whole of fd (or at most max bytes; -1 and errno E2BIG above). */
ssize_t strbuf_read_fd(struct strbuf *sb, int fd, size_t max);
int strbuf_read_file(struct strbuf *sb, const char *path, size_t max);
/* Read one line without its newline; returns -1 at EOF. */
int strbuf_getline(struct strbuf *sb, FILE *fp);

/* A NULL-terminated vector of strings. */
struct strvec {
	const char **v;
	size_t nr;
	size_t alloc;
};
extern const char *empty_strvec[];
#define STRVEC_INIT { empty_strvec, 0, 0 }
void strvec_push(struct strvec *sv, const char *s);
void strvec_pushf(struct strvec *sv, const char *fmt, ...) PRINTF(2, 3);
void strvec_clear(struct strvec *sv);
/* Wipe the strings (they held secrets), then clear. */
void strvec_clear_secret(struct strvec *sv);
/* Split s at each sep into sv, dropping empty fields. */
void strvec_split(struct strvec *sv, const char *s, int sep);

#endif
