#include "common.h"
#include "redact.h"

#include <pthread.h>

struct secret {
	char *buf;
	size_t len;
};

static pthread_rwlock_t secrets_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct secret *secrets;
static size_t secrets_nr, secrets_alloc;

void redact_register_mem(const void *p, size_t len)
{
	if (len < REDACT_MIN_LEN)
		return;
	pthread_rwlock_wrlock(&secrets_lock);
	for (size_t i = 0; i < secrets_nr; i++) {
		if (secrets[i].len == len && !memcmp(secrets[i].buf, p, len)) {
			pthread_rwlock_unlock(&secrets_lock);
			return;
		}
	}
	ALLOC_GROW(secrets, secrets_nr + 1, secrets_alloc);
	secrets[secrets_nr].buf = xmemdup(p, len);
	secrets[secrets_nr].len = len;
	secrets_nr++;
	/* Longest first, so that a secret containing another is masked whole. */
	for (size_t i = secrets_nr - 1; i > 0 && secrets[i].len > secrets[i - 1].len; i--) {
		struct secret t = secrets[i];

		secrets[i] = secrets[i - 1];
		secrets[i - 1] = t;
	}
	pthread_rwlock_unlock(&secrets_lock);
}

void redact_register(const char *secret)
{
	if (secret)
		redact_register_mem(secret, strlen(secret));
}

void redact_register_url(const char *url)
{
	const char *p = strstr(url, "://"), *at, *colon;

	if (!p)
		return;
	p += 3;
	at = strchr(p, '@');
	colon = at ? memchr(p, ':', at - p) : NULL;
	if (colon && at - colon > 1)
		redact_register_mem(colon + 1, at - colon - 1);
}

void redact_register_pem(const char *pem, size_t len)
{
	const char *p = pem, *end = pem + len;

	redact_register_mem(pem, len);
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		size_t n = (nl ? nl : end) - p;

		if (n && *p != '-')
			redact_register_mem(p, n);
		p += n + 1;
	}
}

bool redact_has_secret(const char *s)
{
	size_t len = strlen(s);
	bool found = false;

	pthread_rwlock_rdlock(&secrets_lock);
	for (size_t i = 0; i < secrets_nr && !found; i++)
		found = memmem(s, len, secrets[i].buf, secrets[i].len) != NULL;
	pthread_rwlock_unlock(&secrets_lock);
	return found;
}

void redact_forget_all(void)
{
	pthread_rwlock_wrlock(&secrets_lock);
	for (size_t i = 0; i < secrets_nr; i++)
		free_secret(secrets[i].buf, secrets[i].len);
	free(secrets);
	secrets = NULL;
	secrets_nr = secrets_alloc = 0;
	pthread_rwlock_unlock(&secrets_lock);
}

static void mask_registered(struct strbuf *sb)
{
	pthread_rwlock_rdlock(&secrets_lock);
	for (size_t i = 0; i < secrets_nr; i++) {
		size_t pos = 0;
		char *hit;

		while (pos < sb->len &&
		       (hit = memmem(sb->buf + pos, sb->len - pos, secrets[i].buf, secrets[i].len))) {
			size_t at = hit - sb->buf;

			strbuf_splice(sb, at, secrets[i].len, REDACTED, strlen(REDACTED));
			pos = at + strlen(REDACTED);
		}
	}
	pthread_rwlock_unlock(&secrets_lock);
}

static bool is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_b64url(int c)
{
	return is_alnum(c) || c == '-' || c == '_';
}

static bool is_b64(int c)
{
	return is_alnum(c) || c == '+' || c == '/' || c == '=';
}

static bool is_tokenchar(int c)
{
	return is_alnum(c) || c == '_' || c == '.' || c == '-';
}

static bool is_blank(int c)
{
	return c == ' ' || c == '\t';
}

/* Characters that end an unquoted secret value. */
static bool is_value_end(int c)
{
	return !c || c == '\n' || c == '\r' || c == ' ' || c == '\t' || c == '"' ||
	       c == '\'' || c == '&' || c == ';' || c == ',' || c == '<' || c == '>';
}

static bool match_icase(const char *s, size_t avail, const char *word)
{
	size_t n = strlen(word);

	return avail >= n && !strncasecmp(s, word, n);
}

/* Masks made by this thread: a pass that made none changed nothing. */
static _Thread_local unsigned long masks_made;

/* Replace [from, to) with the mask; return the index just past it. */
static size_t mask(struct strbuf *sb, size_t from, size_t to)
{
	if (to <= from)
		return to;
	if (to - from == strlen(REDACTED) && !memcmp(sb->buf + from, REDACTED, to - from))
		return to;
	strbuf_splice(sb, from, to - from, REDACTED, strlen(REDACTED));
	masks_made++;
	return from + strlen(REDACTED);
}

static const char *find_in(const struct strbuf *sb, size_t from, const char *needle)
{
	return memmem(sb->buf + from, sb->len - from, needle, strlen(needle));
}

/*
 * "-----BEGIN ... PRIVATE KEY-----": mask the body up to the matching
 * END marker, or to the end when there is none (and say so in *open).
 */
static size_t try_pem(struct strbuf *sb, size_t i, bool *open)
{
	const char *p = sb->buf + i, *label_end, *end;
	size_t body;

	if (strncmp(p, "-----BEGIN ", 11))
		return 0;
	label_end = strstr(p + 11, "-----");
	if (!label_end || label_end - p > 80)
		return 0;
	if (label_end - (p + 11) < 11 || strncmp(label_end - 11, "PRIVATE KEY", 11))
		return 0;
	for (const char *c = p + 11; c < label_end; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == ' '))
			return 0;
	body = label_end + 5 - sb->buf;
	end = find_in(sb, body, "-----END ");
	if (!end) {
		*open = true;
		return mask(sb, body, sb->len);
	}
	return mask(sb, body, end - sb->buf) + 9;
}

/* A JWS/JWE compact serialisation: eyJ... with at least two dots. */
static size_t try_jwt(struct strbuf *sb, size_t i)
{
	size_t j = i, dots = 0;

	if (i && is_b64url((unsigned char)sb->buf[i - 1]))
		return 0;
	if (strncmp(sb->buf + i, "eyJ", 3))
		return 0;
	for (;;) {
		size_t seg = j;

		while (j < sb->len && is_b64url((unsigned char)sb->buf[j]))
			j++;
		if (j == seg && dots < 2)
			return 0;
		if (j < sb->len && sb->buf[j] == '.' && dots < 4) {
			dots++;
			j++;
			continue;
		}
		break;
	}
	if (dots < 2)
		return 0;
	return mask(sb, i, j);
}

/* ghp_ gho_ ghu_ ghs_ ghr_ github_pat_ (and ghs_<appid>_<jwt>). */
static size_t try_github(struct strbuf *sb, size_t i)
{
	static const char *const prefixes[] = {
		"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
	};
	const char *p = sb->buf + i;

	if (i && is_alnum((unsigned char)sb->buf[i - 1]))
		return 0;
	for (size_t k = 0; k < ARRAY_SIZE(prefixes); k++) {
		size_t n = strlen(prefixes[k]), j;

		if (strncmp(p, prefixes[k], n))
			continue;
		j = i + n;
		while (j < sb->len && is_tokenchar((unsigned char)sb->buf[j]))
			j++;
		if (j - (i + n) < 8)
			return 0;
		return mask(sb, i + n, j);
	}
	return 0;
}

static size_t try_whsec(struct strbuf *sb, size_t i)
{
	size_t j = i + 6;

	if (strncmp(sb->buf + i, "whsec_", 6))
		return 0;
	while (j < sb->len && is_b64((unsigned char)sb->buf[j]))
		j++;
	if (j == i + 6)
		return 0;
	return mask(sb, i + 6, j);
}

/*
 * Skip from just after a key name over an optional closing quote, blanks,
 * the separator (':' or '=', as allowed) and an optional opening quote.
 * Returns the value's start, or 0; *quote is the opening quote or 0.
 */
static size_t skip_separator(const struct strbuf *sb, size_t j, bool colon, bool equals, int *quote)
{
	if (j < sb->len && (sb->buf[j] == '"' || sb->buf[j] == '\''))
		j++;
	while (j < sb->len && is_blank(sb->buf[j]))
		j++;
	if (j >= sb->len || !((colon && sb->buf[j] == ':') || (equals && sb->buf[j] == '=')))
		return 0;
	j++;
	while (j < sb->len && is_blank(sb->buf[j]))
		j++;
	*quote = 0;
	if (j < sb->len && (sb->buf[j] == '"' || sb->buf[j] == '\''))
		*quote = sb->buf[j++];
	return j;
}

static size_t value_end(const struct strbuf *sb, size_t j, int quote)
{
	if (quote) {
		while (j < sb->len && sb->buf[j] != quote && sb->buf[j] != '\n' && sb->buf[j] != '\r')
			j++;
		return j;
	}
	while (j < sb->len && !is_value_end((unsigned char)sb->buf[j]))
		j++;
	return j;
}

/* Authorization: SCHEME VALUE -> keep the scheme, mask the rest of the value. */
static size_t try_authorization(struct strbuf *sb, size_t i)
{
	size_t j, scheme_end, end;
	int quote;

	if (i && is_alnum((unsigned char)sb->buf[i - 1]))
		return 0;
	if (!match_icase(sb->buf + i, sb->len - i, "authorization"))
		return 0;
	j = skip_separator(sb, i + 13, true, true, &quote);
	if (!j)
		return 0;
	end = j;
	while (end < sb->len && sb->buf[end] != '\n' && sb->buf[end] != '\r' &&
	       (!quote || sb->buf[end] != quote))
		end++;
	scheme_end = j;
	while (scheme_end < end && (is_alnum((unsigned char)sb->buf[scheme_end]) || sb->buf[scheme_end] == '-'))
		scheme_end++;
	if (scheme_end < end && is_blank(sb->buf[scheme_end])) {
		while (scheme_end < end && is_blank(sb->buf[scheme_end]))
			scheme_end++;
		return mask(sb, scheme_end, end);
	}
	return mask(sb, j, end);
}

static size_t try_bearer(struct strbuf *sb, size_t i)
{
	size_t j = i + 6, end;

	if (i && is_alnum((unsigned char)sb->buf[i - 1]))
		return 0;
	if (!match_icase(sb->buf + i, sb->len - i, "bearer") || j >= sb->len || !is_blank(sb->buf[j]))
		return 0;
	while (j < sb->len && is_blank(sb->buf[j]))
		j++;
	end = value_end(sb, j, 0);
	if (end == j)
		return 0;
	return mask(sb, j, end);
}

/* scheme://user:password@host */
static size_t try_url_password(struct strbuf *sb, size_t i)
{
	size_t start = i + 3, end = start, at = 0, colon = 0;

	if (strncmp(sb->buf + i, "://", 3) || !i || !is_alnum((unsigned char)sb->buf[i - 1]))
		return 0;
	while (end < sb->len) {
		/* an already masked password is part of the URL */
		if (!strncmp(sb->buf + end, REDACTED, strlen(REDACTED))) {
			end += strlen(REDACTED);
			continue;
		}
		if (is_value_end((unsigned char)sb->buf[end]))
			break;
		if (sb->buf[end] == '@')
			at = end;
		end++;
	}
	if (!at)
		return 0;
	for (size_t k = start; k < at; k++) {
		if (sb->buf[k] == ':') {
			colon = k;
			break;
		}
		if (sb->buf[k] == '/')
			return 0;
	}
	if (!colon)
		return 0;
	mask(sb, colon + 1, at);
	return start; /* the user name may be a token too */
}

/* password=..., token=..., "password":"..." and friends. */
static size_t try_param(struct strbuf *sb, size_t i)
{
	static const char *const keys[] = {
		"password", "passwd", "access_token", "refresh_token",
		"client_secret", "private_key", "secret", "token",
	};
	bool json = i && sb->buf[i - 1] == '"';

	if (i && is_alnum((unsigned char)sb->buf[i - 1]))
		return 0;
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		size_t n, j, end;
		int quote;

		/* the first letter rules out most keys without a string compare */
		if ((sb->buf[i] | 0x20) != keys[k][0] || !match_icase(sb->buf + i, sb->len - i, keys[k]))
			continue;
		n = strlen(keys[k]);
		if (i + n < sb->len && (is_alnum((unsigned char)sb->buf[i + n]) || sb->buf[i + n] == '_'))
			continue;
		if (json && (i + n >= sb->len || sb->buf[i + n] != '"'))
			continue;
		j = skip_separator(sb, i + n, json, true, &quote);
		if (!j)
			continue;
		end = value_end(sb, j, quote);
		if (end == j)
			return 0;
		return mask(sb, j, end);
	}
	return 0;
}

static void mask_patterns(struct strbuf *sb, bool *pem_open)
{
	size_t i = 0;

	while (i < sb->len) {
		size_t next = 0;

		switch (sb->buf[i]) {
		case '-':
			next = try_pem(sb, i, pem_open);
			break;
		case 'e':
			next = try_jwt(sb, i);
			break;
		case 'g':
			next = try_github(sb, i);
			break;
		case 'w':
			next = try_whsec(sb, i);
			break;
		case 'A': case 'a':
			next = try_authorization(sb, i);
			if (!next)
				next = try_param(sb, i);
			break;
		case 'B': case 'b':
			next = try_bearer(sb, i);
			break;
		case ':':
			next = try_url_password(sb, i);
			break;
		case 'P': case 'p': case 'C': case 'c': case 'R': case 'r':
		case 'S': case 's': case 'T': case 't':
			next = try_param(sb, i);
			break;
		}
		i = next > i ? next : i + 1;
	}
}

/*
 * Masking can join pieces into a new match (a shorter text brings a PEM
 * label or a URL's '@' within reach), so repeat until a pass masks
 * nothing: the result is then stable under redaction. Every pass that
 * masks something masks bytes that were not masked, so this ends. Most
 * text has nothing to mask and costs one pass without a copy (the log
 * service redacts every line it stores).
 */
static void mask_all(struct strbuf *sb, bool *pem_open)
{
	unsigned long before;

	do {
		before = masks_made;
		mask_patterns(sb, pem_open);
	} while (masks_made != before);
}

void redact(struct strbuf *sb)
{
	bool pem_open = false;

	mask_registered(sb);
	mask_all(sb, &pem_open);
}

void redact_line(struct redact_state *st, struct strbuf *line)
{
	mask_registered(line);
	if (st->in_pem) {
		const char *end = find_in(line, 0, "-----END ");

		if (!end) {
			strbuf_reset(line);
			strbuf_addstr(line, REDACTED);
			return;
		}
		st->in_pem = false;
		mask(line, 0, end - line->buf);
	}
	mask_all(line, &st->in_pem);
}
