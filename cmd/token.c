#include "common.h"
#include "builtin.h"
#include "config.h"
#include "log.h"
#include "output.h"
#include "parse-options.h"
#include "redact.h"
#include "timeutil.h"
#include "token.h"

#define DEFAULT_TTL 900

static const char *const token_mint_usage[] = {
	"nimbus token mint --scope ACTION:ORG [--scope ACTION:ORG]... [--aud AUD] [--ttl SECONDS] "
	"[--sub SUBJECT] [--repo OWNER/NAME] [--job JOB] [--runner NAME]",
	NULL,
};

static const char *const token_verify_usage[] = {
	"nimbus token verify [--aud AUD] [--scope ACTION:ORG]... [--json] [TOKEN|-]",
	NULL,
};

static bool valid_audience(const char *aud)
{
	static const char *const auds[] = { "agent", "cache", "logs", "registry" };

	for (size_t i = 0; i < ARRAY_SIZE(auds); i++)
		if (!strcmp(aud, auds[i]))
			return true;
	return false;
}

static void check_scopes(const struct strvec *scopes, const char *const *usage, const struct option *opts)
{
	for (size_t i = 0; i < scopes->nr; i++)
		if (!scope_valid(scopes->v[i]))
			usage_msg(usage, opts, "'%s' is not a scope: want pull, push or delete, a colon "
				  "and an org id ([a-z0-9][a-z0-9-]{0,38})", scopes->v[i]);
}

/* Each org of the scopes once through the mint rate limit. */
static void ratelimit(const struct strvec *scopes)
{
	struct kv *kv;
	int rc = kv_open(&kv, NULL);

	if (!rc)
		rc = token_mint_ratelimit_scopes(kv, scopes);
	kv_close(kv);
	if (rc)
		die_fail(rc);
}

static int token_mint_cmd(int argc, const char **argv)
{
	struct strvec scopes = STRVEC_INIT;
	const char *aud = NULL, *sub = NULL, *repo = NULL, *job = NULL, *runner = NULL;
	int64_t max_ttl, ttl = -1, now;
	const struct option options[] = {
		OPT_STRVEC(0, "scope", &scopes, "ACTION:ORG", "grant ACTION (pull, push, delete) on ORG"),
		OPT_STRING(0, "aud", &aud, "AUD", "the audience: cache, registry, logs or agent"),
		OPT_SECONDS(0, "ttl", &ttl, "lifetime (default 900, at most token.max_ttl)", 1, INT32_MAX),
		OPT_STRING(0, "sub", &sub, "SUBJECT", "the subject"),
		OPT_STRING(0, "repo", &repo, "OWNER/NAME", "the repository of a runner token"),
		OPT_STRING(0, "job", &job, "JOB", "the job of a runner token"),
		OPT_STRING(0, "runner", &runner, "NAME", "the runner of a runner token"),
		OPT_END(),
	};
	struct token_spec spec = { .scopes = &scopes };
	struct strbuf token = STRBUF_INIT;
	struct jose_key *k;
	int rc;

	argc = parse_options(argc, argv, options, token_mint_usage, 0);
	if (argc)
		usage_msg(token_mint_usage, options, "too many arguments");
	if (!scopes.nr)
		usage_msg(token_mint_usage, options, "missing --scope");
	check_scopes(&scopes, token_mint_usage, options);
	if (aud && !valid_audience(aud))
		usage_msg(token_mint_usage, options, "--aud wants cache, registry, logs or agent");
	if (sub && !token_word_valid(sub, 256))
		usage_msg(token_mint_usage, options, "--sub wants 1 to 256 printable characters");
	if (repo && !repo_valid(repo))
		usage_msg(token_mint_usage, options, "--repo wants OWNER/NAME");
	if (job && !token_word_valid(job, TOKEN_WORD_MAX))
		usage_msg(token_mint_usage, options, "--job wants 1 to 128 printable characters");
	if (runner && !token_word_valid(runner, TOKEN_WORD_MAX))
		usage_msg(token_mint_usage, options, "--runner wants 1 to 128 printable characters");
	max_ttl = cfg_int("token.max_ttl");
	if (ttl > max_ttl)
		usage_msg(token_mint_usage, options, "--ttl %" PRId64 " is above token.max_ttl (%" PRId64 ")",
			  ttl, max_ttl);
	if (ttl < 0)
		ttl = DEFAULT_TTL < max_ttl ? DEFAULT_TTL : max_ttl;
	ratelimit(&scopes);

	now = now_ms() / 1000;
	rc = keydir_signing_key(cfg_str("keys.dir"), now, &k);
	if (rc)
		die_fail(rc);
	spec.iss = cfg_str("token.issuer");
	spec.aud = aud;
	spec.sub = sub;
	spec.repo = repo;
	spec.job = job;
	spec.runner = runner;
	spec.ttl = ttl;
	rc = token_mint(k, &spec, now, &token);
	if (rc)
		die_fail(rc);
	redact_register_mem(token.buf, token.len);
	out_result(json_pack("{s:s, s:s, s:o}", "token", token.buf, "kid", k->kid,
			     "expires", xjson_time(now + ttl)));
	out_textf("%s\n", token.buf);
	jose_key_free(k);
	strbuf_release_secret(&token);
	strvec_clear(&scopes);
	return 0;
}

/* The token from the command line, or standard input for "-" or none. */
static void read_token(struct strbuf *sb, int argc, const char **argv)
{
	if (argc && strcmp(argv[0], "-")) {
		strbuf_addstr(sb, argv[0]);
	} else if (strbuf_read_fd(sb, 0, TOKEN_MAX_LEN + 1024) < 0) {
		if (errno == E2BIG)
			die_code(EXIT_REJECTED, "malformed token: longer than %d bytes", TOKEN_MAX_LEN);
		die_errno("cannot read the token from standard input");
	}
	strbuf_trim(sb);
	redact_register_mem(sb->buf, sb->len);
}

static int token_verify_cmd(int argc, const char **argv)
{
	struct strvec scopes = STRVEC_INIT;
	const char *aud = NULL;
	const struct option options[] = {
		OPT_STRING(0, "aud", &aud, "AUD", "require this audience"),
		OPT_STRVEC(0, "scope", &scopes, "ACTION:ORG", "require this scope (repeatable)"),
		OPT_JSON(),
		OPT_END(),
	};
	struct token_claims claims = TOKEN_CLAIMS_INIT;
	struct token_want want = { 0 };
	struct token_verifier *v;
	struct strbuf token = STRBUF_INIT;
	int rc;

	argc = parse_options(argc, argv, options, token_verify_usage, 0);
	if (argc > 1)
		usage_msg(token_verify_usage, options, "too many arguments");
	check_scopes(&scopes, token_verify_usage, options);
	if (aud && !valid_audience(aud))
		usage_msg(token_verify_usage, options, "--aud wants cache, registry, logs or agent");
	read_token(&token, argc, argv);
	want.aud = aud;
	want.scopes = scopes.v;
	want.scopes_nr = scopes.nr;
	v = token_verifier_new(cfg_str("keys.dir"));
	rc = token_verify(v, token.buf, token.len, &want, &claims);
	token_verifier_free(v);
	strbuf_release_secret(&token);
	if (rc)
		die_fail(rc);
	log_debug("token %s signed by %s is valid", claims.jti ? claims.jti : "(no jti)", claims.kid);
	out_result(json_incref(claims.json));
	token_claims_release(&claims);
	strvec_clear(&scopes);
	return 0;
}

static const struct subcommand token_subcommands[] = {
	{ "mint", token_mint_cmd, token_mint_usage, "print a token signed with the current key" },
	{ "verify", token_verify_cmd, token_verify_usage, "check a token and print its claims" },
	{ NULL },
};

int cmd_token(int argc, const char **argv)
{
	return run_subcommand(argc, argv, token_subcommands);
}
