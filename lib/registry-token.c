#include "common.h"
#include "oci.h"
#include "registry-internal.h"
#include "secret-hash.h"
#include "timeutil.h"
#include "token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

/*
 * The Docker token flow: GET /token?service=...&scope=... with Basic
 * credentials, or POST /token with the OAuth2 password grant as a form.
 * The password is a nimbus token for the registry, or the secret of a
 * robot account ORG+NAME; the answer is a registry token for what was
 * asked and is granted.
 */
struct token_request {
	struct strvec scopes;		/* as asked: repository:NAME:ACTIONS */
	struct strbuf user, password;
	bool form;			/* POST: the form has the credentials */
	bool grant_password;
};

static int token_param(void *data, const char *name, const char *value)
{
	struct token_request *t = data;

	if (!strcmp(name, "scope")) {
		/* the form separates scopes with blanks; a query repeats the parameter */
		if (t->form)
			strvec_split(&t->scopes, value, ' ');
		else
			strvec_push(&t->scopes, value);
	} else if (t->form && !strcmp(name, "username")) {
		strbuf_reset(&t->user);
		strbuf_addstr(&t->user, value);
	} else if (t->form && !strcmp(name, "password")) {
		strbuf_reset(&t->password);
		strbuf_addstr(&t->password, value);
	} else if (t->form && !strcmp(name, "grant_type")) {
		t->grant_password = !strcmp(value, "password");
	}
	return 0;
}

/* Authorization: Basic base64(user:password): 0, or -1. */
static int basic_credentials(struct http_request *req, struct token_request *t)
{
	const char *v = http_header(req, "Authorization"), *colon;
	size_t len;
	unsigned char *raw;
	int n, rc = -1;

	if (!v || strncasecmp(v, "Basic ", 6))
		return -1;
	for (v += 6; *v == ' '; v++)
		;
	len = strlen(v);
	if (!len || len % 4 || len > 4 * TOKEN_MAX_LEN)
		return -1;
	raw = xmalloc(len / 4 * 3 + 1);
	n = EVP_DecodeBlock(raw, (const unsigned char *)v, len);
	/* EVP_DecodeBlock counts the padding as zero bytes */
	if (n > 0 && v[len - 1] == '=')
		n -= 1 + (v[len - 2] == '=');
	if (n > 0 && !memchr(raw, '\0', n) && (colon = memchr(raw, ':', n))) {
		strbuf_add(&t->user, raw, colon - (char *)raw);
		strbuf_add(&t->password, colon + 1, n - (colon - (char *)raw) - 1);
		rc = 0;
	}
	OPENSSL_cleanse(raw, len / 4 * 3 + 1);
	free(raw);
	return rc;
}

/*
 * ORG+NAME and a secret matching its hash: the robot's scopes. The org's
 * mint rate limit comes before the hash, which is slow on purpose.
 */
static int robot_grants(struct store *st, struct kv *kv, struct token_request *t,
			struct strvec *granted)
{
	struct strbuf hash = STRBUF_INIT, actions = STRBUF_INIT;
	const char *plus = strchr(t->user.buf, '+');
	char *org;
	int rc;

	if (!plus || !org_id_valid(t->user.buf, plus - t->user.buf))
		return fail(EXIT_REJECTED, "bad credentials");
	org = xstrndup(t->user.buf, plus - t->user.buf);
	rc = store_reg_robot_get(st, org, plus + 1, &hash, &actions);
	if (!rc)
		rc = token_mint_ratelimit(kv, org);
	if (rc == -EXIT_NOTFOUND || (!rc && !secret_hash_check(hash.buf, t->password.buf, t->password.len)))
		rc = fail(EXIT_REJECTED, "bad credentials");
	if (!rc) {
		struct strvec words = STRVEC_INIT;

		strvec_split(&words, actions.buf, ' ');
		for (size_t i = 0; i < words.nr; i++)
			strvec_pushf(granted, "%s:%s", words.v[i], org);
		strvec_clear(&words);
	}
	free(org);
	strbuf_release(&hash);
	strbuf_release(&actions);
	return rc;
}

/*
 * What the credentials grant, as scopes ACTION:ORG; *sub says who they
 * are, *robot whether a robot's org went through the mint rate limit.
 */
static int credentials_grant(struct store *st, struct kv *kv, struct token_request *t,
			     struct strvec *granted, char **sub, bool *robot)
{
	static const struct token_want want = { .aud = "registry" };
	struct token_claims claims = TOKEN_CLAIMS_INIT;
	int rc;

	*robot = strchr(t->user.buf, '+') != NULL;
	if (*robot) {
		*sub = xstrdup(t->user.buf);
		return robot_grants(st, kv, t, granted);
	}
	rc = token_verify(reg.verifier, t->password.buf, t->password.len, &want, &claims);
	if (rc)
		return rc;
	for (size_t i = 0; i < claims.scopes.nr; i++)
		strvec_push(granted, claims.scopes.v[i]);
	*sub = claims.sub ? xstrdup(claims.sub) : NULL;
	token_claims_release(&claims);
	return 0;
}

static bool has_word(const struct strvec *sv, const char *s)
{
	for (size_t i = 0; i < sv->nr; i++)
		if (!strcmp(sv->v[i], s))
			return true;
	return false;
}

/* Each action asked for on a repository, if granted on its org, once. */
static void intersect(const struct strvec *asked, const struct strvec *granted, struct strvec *out)
{
	char name[OCI_NAME_MAX + 1];
	unsigned actions;

	for (size_t i = 0; i < asked->nr; i++) {
		if (oci_scope_parse(asked->v[i], name, &actions))
			continue;
		name[oci_name_org_len(name)] = '\0';
		for (size_t a = 0; a < ARRAY_SIZE(registry_actions); a++) {
			char *scope;

			if (!(actions & (1u << a)))
				continue;
			scope = xstrfmt("%s:%s", registry_actions[a], name);
			if (has_word(granted, scope) && !has_word(out, scope))
				strvec_push(out, scope);
			free(scope);
		}
	}
}

static void mint_reply(struct http_request *req, const struct strvec *scopes, const char *sub)
{
	struct strbuf token = STRBUF_INIT, issued = STRBUF_INIT;
	struct jose_key *k;
	int64_t now = now_ms() / 1000;
	int rc = keydir_signing_key(reg.keys_dir, now, &k);

	if (!rc) {
		rc = token_mint(k, &(struct token_spec){ .iss = reg.issuer, .aud = "registry", .sub = sub,
			       .scopes = scopes, .ttl = reg.token_ttl }, now, &token);
		jose_key_free(k);
	}
	if (rc) {
		/* as a keyset missing at verification */
		http_reply_fail(req, fail(EXIT_UNAVAILABLE, "cannot mint: %s", fail_message()));
		return;
	}
	fmt_rfc3339(&issued, now);
	http_reply_header(req, "Cache-Control", "no-store");
	http_reply_json(req, 200, json_pack("{s:s, s:s, s:I, s:s}", "token", token.buf,
					    "access_token", token.buf, "expires_in",
					    (json_int_t)reg.token_ttl, "issued_at", issued.buf));
	strbuf_release_secret(&token);
	strbuf_release(&issued);
}

void registry_token_endpoint(struct http_request *req)
{
	struct token_request t = { STRVEC_INIT, STRBUF_INIT, STRBUF_INIT, false, false };
	struct strvec granted = STRVEC_INIT, scopes = STRVEC_INIT;
	const char *type = http_header(req, "Content-Type");
	struct kv *kv = NULL;
	struct store *st;
	char *sub = NULL;
	bool robot;
	int rc;

	t.form = req->method_bit == HTTP_POST;
	if (t.form && (!type || strncasecmp(type, "application/x-www-form-urlencoded", 33))) {
		http_reply_error(req, 400, "UNSUPPORTED", "want an application/x-www-form-urlencoded form");
		goto out;
	}
	rc = oci_form_parse(t.form ? req->body.buf : req->query, t.form ? req->body.len : strlen(req->query),
			    token_param, &t);
	if (rc || (t.form && !t.grant_password)) {
		http_reply_error(req, 400, "UNSUPPORTED",
				 rc ? "malformed parameters" : "only the password grant is supported");
		goto out;
	}
	if (!t.form && basic_credentials(req, &t)) {
		http_reply_header(req, "WWW-Authenticate", "Basic realm=\"nimbus\"");
		http_reply_error(req, 401, "UNAUTHORIZED", "want Basic credentials");
		goto out;
	}
	rc = registry_thread_store(&st);
	if (!rc)
		rc = kv_open(&kv, st);
	if (!rc)
		rc = credentials_grant(st, kv, &t, &granted, &sub, &robot);
	if (!rc) {
		intersect(&t.scopes, &granted, &scopes);
		if (!robot)
			rc = token_mint_ratelimit_scopes(kv, &scopes);
	}
	if (rc == -EXIT_REJECTED) {
		http_reply_header(req, "WWW-Authenticate", "Basic realm=\"nimbus\"");
		http_reply_error(req, 401, "UNAUTHORIZED", "%s", fail_message());
	} else if (rc == -EXIT_BUSY) {
		http_reply_error(req, 429, oci_error_code(OCI_TOOMANYREQUESTS), "%s", fail_message());
	} else if (rc == -EXIT_NOTFOUND) {
		/* no keyset to verify with is the operator's to fix, not the client's */
		http_reply_fail(req, fail(EXIT_UNAVAILABLE, "%s", fail_message()));
	} else if (rc) {
		http_reply_fail(req, rc);
	} else {
		mint_reply(req, &scopes, sub);
	}
out:
	kv_close(kv);
	free(sub);
	strvec_clear(&granted);
	strvec_clear(&scopes);
	strvec_clear(&t.scopes);
	strbuf_release_secret(&t.user);
	strbuf_release_secret(&t.password);
	strbuf_release_secret(&req->body);
}
