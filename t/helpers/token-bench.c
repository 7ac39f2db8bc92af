/*
 * token-bench [N]: mint and verify N tokens per algorithm in this one
 * process, through the calls services make (token_mint, and
 * token_verify on a verifier over a keys.dir); one line per algorithm:
 *	ALG MINT_PER_S VERIFY_PER_S
 * Used by t/perf/token.sh.
 */
#include "common.h"
#include "parse-num.h"
#include "timeutil.h"
#include "token.h"

static void bench(enum jose_alg alg, int64_t n, const char *dir)
{
	struct strvec scopes = STRVEC_INIT;
	struct token_spec spec = { .iss = "nimbus", .aud = "cache", .sub = "bench", .scopes = &scopes,
				   .repo = "acme/widgets", .job = "4242", .runner = "nimbus-0a1b2c3d",
				   .ttl = 900 };
	struct token_want want = { .aud = "cache" };
	struct keyset ks = KEYSET_INIT;
	struct strbuf token = STRBUF_INIT;
	struct token_verifier *v;
	struct jose_key *k;
	struct keydir kd;
	int64_t now = now_ms() / 1000;
	double t, mint, verify;
	const char *const pull[] = { "pull:acme" };

	strvec_push(&scopes, "pull:acme");
	strvec_push(&scopes, "push:acme");
	want.scopes = pull;
	want.scopes_nr = 1;
	if (jose_key_generate(alg, &k) || keyset_add(&ks, k, now, now) ||
	    keydir_open(&kd, dir, true) || keydir_lock(&kd) || keydir_save(&kd, &ks, now))
		die_fail(-EXIT_FAIL);
	keydir_close(&kd);
	v = token_verifier_new(dir);

	t = mono_seconds();
	for (int64_t i = 0; i < n; i++) {
		strbuf_reset(&token);
		if (token_mint(k, &spec, now, &token))
			die_fail(-EXIT_FAIL);
	}
	mint = n / (mono_seconds() - t);

	t = mono_seconds();
	for (int64_t i = 0; i < n; i++) {
		struct token_claims c = TOKEN_CLAIMS_INIT;

		if (token_verify(v, token.buf, token.len, &want, &c))
			die_fail(-EXIT_FAIL);
		token_claims_release(&c);
	}
	verify = n / (mono_seconds() - t);
	printf("%s %.0f %.0f\n", jose_alg_name(alg), mint, verify);
	fflush(stdout);

	token_verifier_free(v);
	keyset_release(&ks);
	jose_key_free(k);
	strbuf_release(&token);
	strvec_clear(&scopes);
}

int main(int argc, const char **argv)
{
	char dir[] = "/tmp/nimbus-bench-XXXXXX";
	int64_t n = 20000;
	char *cmd;

	set_progname("token-bench");
	if (argc > 1 && parse_i64(argv[1], 1, INT32_MAX, &n))
		die_code(EXIT_USAGE, "usage: token-bench [N]");
	if (!mkdtemp(dir))
		die_errno("mkdtemp");
	bench(JOSE_EDDSA, n, dir);
	bench(JOSE_ES256, n, dir);
	bench(JOSE_RS256, n / 4, dir);
	cmd = xstrfmt("rm -rf '%s'", dir);
	if (system(cmd))
		warning("cannot remove %s", dir);
	free(cmd);
	return 0;
}
