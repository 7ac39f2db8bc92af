#include "tap.h"
#include "keyset.h"
#include "signer.h"

#include <pthread.h>

/*
 * The signer: what it answers to malformed requests, tokens minted
 * through it (from several threads at once) verify against the keyset,
 * and with no signer running the same call signs in-process.
 */

static char keys_dir[] = "/tmp/nimbus-unit-signer-XXXXXX";
static struct strvec scopes = STRVEC_INIT;

static void make_keys(int64_t now)
{
	struct keyset ks = KEYSET_INIT;
	struct jose_key *k;
	struct keydir kd;

	if (!mkdtemp(keys_dir) || jose_key_generate(JOSE_EDDSA, &k))
		die("cannot make a key");
	keyset_add(&ks, k, now, now);
	if (keydir_open(&kd, keys_dir, true) || keydir_lock(&kd) || keydir_write_private(&kd, k) ||
	    keydir_save(&kd, &ks, now))
		die("cannot save the keyset");
	keydir_close(&kd);
	keyset_release(&ks);
	jose_key_free(k);
}

static int answer_code(const char *req)
{
	json_t *reply = signer_answer(keys_dir, req, strlen(req));
	int code = json_object_get(reply, "token") ? 0 :
		   json_is_integer(json_object_get(reply, "code")) ?
		   (int)json_integer_value(json_object_get(reply, "code")) : -1;

	json_decref(reply);
	return code;
}

static void test_answers(void)
{
	is_int(answer_code(""), EXIT_FAIL, "an empty request is refused");
	is_int(answer_code("[1]"), EXIT_FAIL, "an array is refused");
	is_int(answer_code("{\"ttl\":300}"), EXIT_FAIL, "a request without now is refused");
	is_int(answer_code("{\"now\":\"1\",\"ttl\":300}"), EXIT_FAIL, "now as a string is refused");
	is_int(answer_code("{\"now\":1800000000,\"ttl\":300,\"scopes\":[1,\"pull:acme\"]}"), 0,
	       "a request with claims is signed");
}

static int mint_verify(struct token_verifier *v, int64_t now)
{
	struct token_want want = { .aud = "registry", .iss = "nimbus" };
	struct token_claims c = TOKEN_CLAIMS_INIT;
	struct strbuf tok = STRBUF_INIT;
	int rc = signer_mint(keys_dir, &(struct token_spec){ .iss = "nimbus", .aud = "registry",
				.sub = "ci", .scopes = &scopes, .ttl = 300 }, now, &tok);

	if (!rc)
		rc = token_verify(v, tok.buf, tok.len, &want, &c);
	if (!rc && (!c.sub || strcmp(c.sub, "ci") || !token_allows(&c, "pull", "acme")))
		rc = -EXIT_FAIL;
	token_claims_release(&c);
	strbuf_release(&tok);
	return rc;
}

struct worker {
	struct token_verifier *v;
	int64_t now;
	int failures;
};

static void *mint_loop(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 25; i++)
		if (mint_verify(w->v, w->now))
			w->failures++;
	return NULL;
}

static void test_signer(int64_t now)
{
	struct token_verifier *v = token_verifier_new(keys_dir);
	struct worker w[4];
	pthread_t th[4];
	int failures = 0;

	is_int(mint_verify(v, now), 0, "without a signer, the call signs in-process");
	is_int(signer_start(keys_dir), 0, "the signer starts");
	is_int(mint_verify(v, now), 0, "a token minted through the signer verifies");
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ v, now, 0 };
		pthread_create(&th[i], NULL, mint_loop, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		failures += w[i].failures;
	}
	is_int(failures, 0, "four threads mint through one signer");
	signer_stop();
	is_int(mint_verify(v, now), 0, "once stopped, the call signs in-process again");
	token_verifier_free(v);
}

int main(void)
{
	char conf[] = "/tmp/nimbus-unit-conf-XXXXXX";
	int64_t now = time(NULL);
	int fd = mkstemp(conf);
	struct strbuf cmd = STRBUF_INIT;

	if (fd < 0)
		die_errno("mkstemp");
	close(fd);
	setenv("NIMBUS_CONFIG", conf, 1);
	strvec_push(&scopes, "pull:acme");
	make_keys(now);
	test_answers();
	test_signer(now);
	strbuf_addf(&cmd, "rm -rf '%s' '%s'", keys_dir, conf);
	if (system(cmd.buf))
		warning("cannot remove %s", keys_dir);
	strbuf_release(&cmd);
	strvec_clear(&scopes);
	return done_testing();
}
