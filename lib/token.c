#include "common.h"
#include "base64.h"
#include "config.h"
#include "log.h"
#include "output.h"
#include "redact.h"
#include "timeutil.h"
#include "token.h"

#include <pthread.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

static bool is_org_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

bool org_id_valid(const char *s, size_t len)
{
	if (!len || len > 39 || s[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_org_char((unsigned char)s[i]))
			return false;
	return true;
}

bool scope_valid(const char *s)
{
	static const char *const actions[] = { "pull:", "push:", "delete:" };
	const char *org;

	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		if (skip_prefix(s, actions[i], &org))
			return org_id_valid(org, strlen(org));
	return false;
}

bool token_word_valid(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n || n > max)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return false;
	return true;
}

bool repo_valid(const char *s)
{
	static const char owner_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-";
	static const char name_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
	const char *slash = strchr(s, '/');
	size_t owner;

	if (!slash)
		return false;
	owner = slash - s;
	if (!owner || owner > 39 || strspn(s, owner_chars) != owner)
		return false;
	s = slash + 1;
	return *s && strlen(s) <= 100 && strcmp(s, ".") && strcmp(s, "..") &&
	       strspn(s, name_chars) == strlen(s);
}

static void add_optional(json_t *obj, const char *name, const char *value)
{
	if (value)
		json_object_set_new(obj, name, xjson_string(value));
}

static void new_jti(struct strbuf *sb)
{
	unsigned char raw[16];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		die("no randomness for a token id");
	base64url_encode(sb, raw, sizeof(raw));
}

int token_mint(const struct jose_key *k, const struct token_spec *spec, int64_t now,
	       struct strbuf *out)
{
	struct strbuf scope = STRBUF_INIT, jti = STRBUF_INIT;
	json_t *claims = json_object();
	char *payload;
	int rc;

	for (size_t i = 0; i < spec->scopes->nr; i++)
		strbuf_addf(&scope, "%s%s", i ? " " : "", spec->scopes->v[i]);
	new_jti(&jti);
	add_optional(claims, "iss", spec->iss);
	add_optional(claims, "sub", spec->sub);
	add_optional(claims, "aud", spec->aud);
	json_object_set_new(claims, "iat", json_integer(now));
	json_object_set_new(claims, "nbf", json_integer(now));
	json_object_set_new(claims, "exp", json_integer(now + spec->ttl));
	json_object_set_new(claims, "jti", xjson_string(jti.buf));
	json_object_set_new(claims, "scope", xjson_string(scope.buf));
	add_optional(claims, "repo", spec->repo);
	add_optional(claims, "job", spec->job);
	add_optional(claims, "runner", spec->runner);
	payload = json_dumps(claims, JSON_COMPACT);
	if (!payload)
		die("out of memory building a token");
	rc = jose_sign(k, k->jwt_header, strlen(k->jwt_header), payload, strlen(payload), out);
	if (!rc) {
		log_debug("minted token %s with key %s, expiring in %" PRId64 "s",
			  jti.buf, k->kid, spec->ttl);
	}
	free(payload);
	json_decref(claims);
	strbuf_release(&scope);
	strbuf_release(&jti);
	return rc;
}

int token_mint_ratelimit(struct kv *kv, const char *org)
{
	struct rate rate = cfg_rate("token.mint_rate");
	struct kv_limit lim;
	char *key = xstrfmt("token-mint:%s", org);
	int rc = kv_ratelimit(kv, key, &rate, cfg_int("token.mint_burst"), 1, &lim);

	free(key);
	if (rc < 0)
		return rc;
	if (!rc)
		return fail(EXIT_BUSY, "mint rate of org %s exceeded; retry in %" PRId64 " ms", org,
			    lim.retry_after_ms);
	return 0;
}

int token_mint_ratelimit_scopes(struct kv *kv, const struct strvec *scopes)
{
	struct strvec seen = STRVEC_INIT;
	int rc = 0;

	for (size_t i = 0; i < scopes->nr && !rc; i++) {
		const char *org = strchr(scopes->v[i], ':') + 1;
		bool dup = false;

		for (size_t j = 0; j < seen.nr && !dup; j++)
			dup = !strcmp(seen.v[j], org);
		if (dup)
			continue;
		strvec_push(&seen, org);
		rc = token_mint_ratelimit(kv, org);
	}
	strvec_clear(&seen);
	return rc;
}

void token_claims_release(struct token_claims *c)
{
	json_decref(c->json);
	strvec_clear(&c->scopes);
	memset(c, 0, sizeof(*c));
	c->scopes = (struct strvec)STRVEC_INIT;
}

bool token_allows(const struct token_claims *c, const char *action, const char *org)
{
	size_t alen = strlen(action);

	for (size_t i = 0; i < c->scopes.nr; i++) {
		const char *s = c->scopes.v[i];

		if (!strncmp(s, action, alen) && s[alen] == ':' && !strcmp(s + alen + 1, org))
			return true;
	}
	return false;
}

static bool has_scope(const struct token_claims *c, const char *scope)
{
	for (size_t i = 0; i < c->scopes.nr; i++)
		if (!strcmp(c->scopes.v[i], scope))
			return true;
	return false;
}

/* A NumericDate claim: absent is fine unless required; seconds, fractions dropped. */
static int numeric_date(json_t *claims, const char *name, bool required, int64_t *out)
{
	json_t *v = json_object_get(claims, name);

	if (!v && !required) {
		*out = INT64_MIN;
		return 0;
	}
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v) && json_real_value(v) > -1e15 && json_real_value(v) < 1e15) {
		*out = (int64_t)json_real_value(v);
		return 0;
	}
	return fail(EXIT_REJECTED, "malformed token: %s \"%s\"", v ? "bad" : "no", name);
}

/* An optional string claim. */
static int string_claim(json_t *claims, const char *name, const char **out)
{
	json_t *v = json_object_get(claims, name);

	*out = json_string_value(v);
	if (v && !*out)
		return fail(EXIT_REJECTED, "malformed token: \"%s\" is not a string", name);
	return 0;
}

static bool audience_matches(json_t *aud, const char *want)
{
	size_t i;
	json_t *v;

	if (json_is_string(aud))
		return !strcmp(json_string_value(aud), want);
	json_array_foreach(aud, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), want))
			return true;
	return false;
}

int token_check_claims(json_t *claims, const struct token_want *want, int64_t now,
		       struct token_claims *out)
{
	const char *iss, *scope;
	int64_t exp, nbf, iat;

	if (!json_is_object(claims))
		return fail(EXIT_REJECTED, "malformed token: the claims are not an object");
	if (numeric_date(claims, "exp", true, &exp) || numeric_date(claims, "nbf", false, &nbf) ||
	    numeric_date(claims, "iat", false, &iat) || string_claim(claims, "iss", &iss) ||
	    string_claim(claims, "scope", &scope) || string_claim(claims, "sub", &out->sub) ||
	    string_claim(claims, "jti", &out->jti) || string_claim(claims, "repo", &out->repo) ||
	    string_claim(claims, "job", &out->job) || string_claim(claims, "runner", &out->runner))
		return -EXIT_REJECTED;
	if (now - TOKEN_SKEW >= exp)
		return fail(EXIT_REJECTED, "token expired %" PRId64 "s ago", now - exp);
	if (nbf != INT64_MIN && nbf > now + TOKEN_SKEW)
		return fail(EXIT_REJECTED, "token not yet valid: nbf is %" PRId64 "s ahead", nbf - now);
	if (iat != INT64_MIN && iat > now + TOKEN_SKEW)
		return fail(EXIT_REJECTED, "token not yet valid: iat is %" PRId64 "s ahead", iat - now);
	if (want->iss && (!iss || strcmp(iss, want->iss)))
		return fail(EXIT_REJECTED, "wrong issuer: want \"%s\"", want->iss);
	if (want->aud && !audience_matches(json_object_get(claims, "aud"), want->aud))
		return fail(EXIT_REJECTED, "wrong audience: want \"%s\"", want->aud);
	if (scope)
		strvec_split(&out->scopes, scope, ' ');
	out->exp = exp;
	for (size_t i = 0; i < want->scopes_nr; i++)
		if (!has_scope(out, want->scopes[i]))
			return fail(EXIT_REJECTED, "scope missing: %s", want->scopes[i]);
	return 0;
}

static bool plain(int c)
{
	return c >= ' ' && c <= '~' && c != '"' && c != '\\';
}

/* A string without escapes at *s, up to end; NULL when there is none. */
static const char *plain_string(const char **s, const char *end, size_t *len)
{
	const char *start = *s + 1, *p = start;

	if (**s != '"')
		return NULL;
	while (p < end && plain((unsigned char)*p))
		p++;
	if (p >= end || *p != '"')
		return NULL;
	*len = p - start;
	*s = p + 1;
	return start;
}

/* An integer of at most 15 digits, no leading zero; NULL when there is none. */
static json_t *plain_integer(const char **s, const char *end)
{
	bool negative = **s == '-';
	const char *p = *s + negative, *digits = p;
	int64_t n = 0;

	while (p < end && *p >= '0' && *p <= '9' && p - digits < 16)
		n = n * 10 + (*p++ - '0');
	if (p == digits || p - digits > 15 || (*digits == '0' && p - digits > 1))
		return NULL;
	*s = p;
	return json_integer(negative ? -n : n);
}

/*
 * The claims nimbus mints are a flat object of plain strings and
 * integers. Build the json_t of such a text directly: jansson's parser
 * costs a fifth of an RS256 verification. Anything else (blanks,
 * escapes, non-ASCII, reals, literals, nested values, duplicate names)
 * is NULL, and then jansson parses it, so the two never disagree.
 */
static json_t *flat_object(const char *s, size_t len)
{
	const char *end = s + len - 1;
	json_t *obj, *v;

	if (len < 2 || *s != '{' || *end != '}')
		return NULL;
	obj = json_object();
	if (++s == end)
		return obj;
	for (;;) {
		size_t klen, vlen;
		const char *k = plain_string(&s, end, &klen), *str;

		if (!k || s >= end || *s++ != ':' || s >= end || json_object_getn(obj, k, klen))
			break;
		if (*s == '"')
			v = (str = plain_string(&s, end, &vlen)) ? json_stringn_nocheck(str, vlen) : NULL;
		else
			v = plain_integer(&s, end);
		if (!v || json_object_setn_new_nocheck(obj, k, klen, v))
			break;
		if (s == end)
			return obj;
		if (*s++ != ',')
			break;
	}
	json_decref(obj);
	return NULL;
}

json_t *token_parse_object(const char *s, size_t len)
{
	json_t *v = flat_object(s, len);

	if (!v && (v = json_loadb(s, len, JSON_REJECT_DUPLICATES, NULL)) && !json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

/* Decode a segment and parse it as a JSON object. */
static json_t *segment_json(const char *s, size_t len, const char *what)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *v = NULL;

	if (base64url_decode(&sb, s, len))
		fail(EXIT_REJECTED, "malformed token: the %s is not base64url", what);
	else if (!(v = token_parse_object(sb.buf, sb.len)))
		fail(EXIT_REJECTED, "malformed token: the %s is not a JSON object", what);
	strbuf_release(&sb);
	return v;
}

/* The header: a known alg, a kid of a usable key of that alg. */
static int check_header(const struct keyset *ks, json_t *hdr, struct keyset_key **key)
{
	const char *alg = json_string_value(json_object_get(hdr, "alg"));
	const char *kid = json_string_value(json_object_get(hdr, "kid"));
	const char *typ = json_string_value(json_object_get(hdr, "typ"));
	enum jose_alg a;

	if (!alg)
		return fail(EXIT_REJECTED, "malformed token: no alg");
	a = jose_alg_parse(alg, strlen(alg));
	if (a == JOSE_ALG_NONE || a == JOSE_HS256)
		return fail(EXIT_REJECTED, "alg \"%.20s\" is not accepted", alg);
	if (json_object_get(hdr, "crit"))
		return fail(EXIT_REJECTED, "malformed token: crit is not supported");
	if ((json_object_get(hdr, "typ") && !typ) || (typ && strcasecmp(typ, "JWT")))
		return fail(EXIT_REJECTED, "malformed token: typ is not JWT");
	if (!kid)
		return fail(EXIT_REJECTED, "malformed token: no kid");
	*key = keyset_find(ks, kid, strlen(kid));
	if (!*key)
		return fail(EXIT_REJECTED, "unknown kid \"%.64s\"", kid);
	if ((*key)->retired >= 0)
		return fail(EXIT_REJECTED, "key %s is retired", kid);
	if ((*key)->key->alg != a)
		return fail(EXIT_REJECTED, "alg %s does not match key %s, which is %s", alg, kid,
			    jose_alg_name((*key)->key->alg));
	return 0;
}

/*
 * The key whose minted header the token has, byte for byte, when it is
 * not retired: what check_header() would find, without decoding and
 * parsing the header of every token.
 */
static struct keyset_key *minted_header(const struct keyset *ks, const struct jose_parts *p)
{
	for (size_t i = 0; i < ks->nr; i++) {
		const char *h = ks->keys[i].key->jwt_header;

		if (ks->keys[i].retired < 0 && strlen(h) == p->header_len &&
		    !memcmp(h, p->header, p->header_len))
			return &ks->keys[i];
	}
	return NULL;
}

/*
 * Tokens whose signature one keyset snapshot has verified, by the SHA-256
 * of the whole token: a service sees the same token on every request of
 * a job, and an Ed25519 or RSA check costs far more than the rest of a
 * request. Direct-mapped (a collision forgets the older token); the
 * claims, expiry included, are still checked on every call, and a new
 * snapshot (a key retired or added) starts with an empty memo.
 */
#define SIG_MEMO_SLOTS 4096

struct sig_memo {
	pthread_mutex_t lock;
	unsigned char digest[SIG_MEMO_SLOTS][32];
};

static size_t memo_slot(const unsigned char *d)
{
	return ((size_t)d[0] << 8 | d[1]) % SIG_MEMO_SLOTS;
}

static bool memo_has(struct sig_memo *m, const unsigned char *d)
{
	bool hit;

	pthread_mutex_lock(&m->lock);
	hit = !memcmp(m->digest[memo_slot(d)], d, 32);
	pthread_mutex_unlock(&m->lock);
	return hit;
}

static void memo_add(struct sig_memo *m, const unsigned char *d)
{
	pthread_mutex_lock(&m->lock);
	memcpy(m->digest[memo_slot(d)], d, 32);
	pthread_mutex_unlock(&m->lock);
}

/* The signature check, skipped for a token in memo (which may be NULL). */
static int verify_signature(struct sig_memo *memo, struct jose_key *key, const char *jwt,
			    size_t input_len, size_t len, const unsigned char *sig, size_t sig_len)
{
	unsigned char d[32];
	int rc;

	if (memo && !EVP_Digest(jwt, len, d, NULL, EVP_sha256(), NULL))
		die("SHA-256 failed");
	if (memo && memo_has(memo, d))
		return 0;
	rc = jose_verify(key, jwt, input_len, sig, sig_len);
	if (!rc && memo)
		memo_add(memo, d);
	return rc;
}

static int check_token(const struct keyset *ks, struct sig_memo *memo, const char *jwt, size_t len,
		       const struct token_want *want, int64_t now, struct token_claims *out)
{
	unsigned char sig[BASE64URL_DECODED_MAX(1024)];
	struct jose_parts p;
	struct keyset_key *key = NULL;
	json_t *hdr;
	ssize_t sig_len;
	int rc;

	if (len > TOKEN_MAX_LEN)
		return fail(EXIT_REJECTED, "malformed token: longer than %d bytes", TOKEN_MAX_LEN);
	rc = jose_split(jwt, len, &p);
	if (rc)
		return rc;
	key = minted_header(ks, &p);
	if (!key) {
		hdr = segment_json(p.header, p.header_len, "header");
		if (!hdr)
			return -EXIT_REJECTED;
		rc = check_header(ks, hdr, &key);
		json_decref(hdr);
		if (rc)
			return rc;
	}
	if (p.sig_len > 1024 || (sig_len = base64url_decode_mem(sig, p.sig, p.sig_len)) < 0)
		return fail(EXIT_REJECTED, "malformed token: bad signature encoding");
	rc = verify_signature(memo, key->key, jwt, p.input_len, len, sig, sig_len);
	if (rc)
		return rc;
	out->json = segment_json(p.payload, p.payload_len, "payload");
	if (!out->json)
		return -EXIT_REJECTED;
	memcpy(out->kid, key->key->kid, sizeof(out->kid));
	rc = token_check_claims(out->json, want, now, out);
	if (rc)
		token_claims_release(out);
	return rc;
}

int token_check(const struct keyset *ks, const char *jwt, size_t len,
		const struct token_want *want, int64_t now, struct token_claims *out)
{
	return check_token(ks, NULL, jwt, len, want, now, out);
}

/* A loaded keyset, shared by the requests that use it. */
struct snapshot {
	int refs;
	struct keyset ks;
	struct sig_memo memo;
};

static void snapshot_free(struct snapshot *s)
{
	keyset_release(&s->ks);
	pthread_mutex_destroy(&s->memo.lock);
	free(s);
}

struct token_verifier {
	pthread_mutex_t lock;
	char *dir, *file, *issuer;
	int64_t max_age;
	struct snapshot *snap;
	struct stat st;
	int64_t checked_ms;	/* when st was last compared */
};

static void snapshot_put(struct token_verifier *v, struct snapshot *s)
{
	bool last;

	if (!s)
		return;
	pthread_mutex_lock(&v->lock);
	last = !--s->refs;
	pthread_mutex_unlock(&v->lock);
	if (last)
		snapshot_free(s);
}

struct token_verifier *token_verifier_new(const char *keys_dir)
{
	struct token_verifier *v = xcalloc(1, sizeof(*v));

	pthread_mutex_init(&v->lock, NULL);
	v->dir = xstrdup(keys_dir);
	v->file = xstrfmt("%s/keyset.json", keys_dir);
	v->issuer = xstrdup(cfg_str("token.issuer"));
	v->max_age = cfg_int("keys.activate_after");
	return v;
}

void token_verifier_free(struct token_verifier *v)
{
	if (!v)
		return;
	snapshot_put(v, v->snap);
	pthread_mutex_destroy(&v->lock);
	free(v->dir);
	free(v->file);
	free(v->issuer);
	free(v);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Load the keyset anew; with v->lock held. */
static int reload(struct token_verifier *v)
{
	struct snapshot *s = xcalloc(1, sizeof(*s));
	struct keydir kd;
	struct stat st;
	int rc = keydir_open(&kd, v->dir, false);

	if (!rc)
		rc = keydir_load(&kd, &s->ks, &st);
	keydir_close(&kd);
	if (rc) {
		free(s);
		return rc;
	}
	s->refs = 1;
	pthread_mutex_init(&s->memo.lock, NULL);
	if (v->snap && !--v->snap->refs)
		snapshot_free(v->snap);
	v->snap = s;
	v->st = st;
	log_debug("verifier: %zu keys from %s", s->ks.nr, v->file);
	return 0;
}

/* The current snapshot, reloaded first when keyset.json changed. */
static int snapshot_get(struct token_verifier *v, struct snapshot **out)
{
	int64_t now = mono_ms();
	struct stat st;
	int rc = 0;

	pthread_mutex_lock(&v->lock);
	/* a stat costs as much as the rest of an RS256 check: not on every call */
	if (!v->snap || now - v->checked_ms >= TOKEN_RELOAD_MS) {
		v->checked_ms = now;
		if (stat(v->file, &st))
			memset(&st, 0, sizeof(st));
		if (!v->snap || !same_file(&st, &v->st))
			rc = reload(v);
	}
	if (!rc) {
		*out = v->snap;
		v->snap->refs++;
	}
	pthread_mutex_unlock(&v->lock);
	return rc;
}

int token_verify(struct token_verifier *v, const char *jwt, size_t len,
		 const struct token_want *want, struct token_claims *out)
{
	struct token_want w = *want;
	struct snapshot *s;
	int rc = snapshot_get(v, &s);

	if (rc)
		return rc;
	if (!w.iss)
		w.iss = v->issuer;
	rc = check_token(&s->ks, &s->memo, jwt, len, &w, now_ms() / 1000, out);
	snapshot_put(v, s);
	return rc;
}

int token_verifier_jwks(struct token_verifier *v, json_t **doc, int64_t *max_age)
{
	struct snapshot *s;
	int rc = snapshot_get(v, &s);

	if (rc)
		return rc;
	*doc = keyset_jwks(&s->ks);
	*max_age = v->max_age;
	snapshot_put(v, s);
	return *doc ? 0 : -EXIT_FAIL;
}
