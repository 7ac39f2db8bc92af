#include "tap.h"
#include "redact.h"

static const char *r(const char *in)
{
	static struct strbuf sb = STRBUF_INIT;

	strbuf_reset(&sb);
	strbuf_addstr(&sb, in);
	redact(&sb);
	return sb.buf;
}

static void test_authorization(void)
{
	is_str(r("Authorization: Bearer abc.def.ghi"), "Authorization: Bearer <redacted>",
	       "Authorization keeps the scheme");
	is_str(r("authorization:   token ghp_x"), "authorization:   token <redacted>",
	       "any case, any scheme");
	is_str(r("Proxy-Authorization: Basic dXNlcjpwYXNz\r\nHost: x"),
	       "Proxy-Authorization: Basic <redacted>\r\nHost: x", "stops at the end of the line");
	is_str(r("Authorization: opaquevalue"), "Authorization: <redacted>", "a value without scheme");
	is_str(r("{\"Authorization\":\"Bearer abc\",\"x\":1}"),
	       "{\"Authorization\":\"Bearer <redacted>\",\"x\":1}", "in JSON, up to the quote");
	is_str(r("no authorization here"), "no authorization here", "the word alone is left");
}

static void test_tokens(void)
{
	is_str(r("t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl end"),
	       "t=<redacted> end", "a JWT");
	is_str(r("x eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0. y"), "x <redacted> y",
	       "an unsigned JWT");
	is_str(r("eyJ alone"), "eyJ alone", "eyJ without dots is not a JWT");
	is_str(r("ghp_abcdefghijklmnopqrstuvwxyz0123456789"), "ghp_<redacted>", "ghp_");
	is_str(r("gho_abcdefghij gho_short"), "gho_<redacted> gho_short", "gho_, too short left");
	is_str(r("(ghu_0123456789abcdef)"), "(ghu_<redacted>)", "ghu_ in parentheses");
	is_str(r("token ghs_16C7e42F292c6912E7710c838347Ae178B4a"), "token ghs_<redacted>", "ghs_");
	is_str(r("ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498"),
	       "ghr_<redacted>", "ghr_");
	is_str(r("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"), "github_pat_<redacted>",
	       "github_pat_");
	is_str(r("ghs_12345_eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjF9.c2ln x"), "ghs_<redacted> x",
	       "ghs_<appid>_<jwt>");
	is_str(r("xghp_abcdefghijklmnop"), "xghp_abcdefghijklmnop", "only at a word start");
	is_str(r("secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "secret whsec_<redacted>", "whsec_");
	is_str(r("curl -H 'bearer sk-abc'"), "curl -H 'bearer <redacted>'", "a bare Bearer token");
}

static void test_pem(void)
{
	is_str(r("k=-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\nkqhkiG9w0B\n-----END PRIVATE KEY-----\nnext"),
	       "k=-----BEGIN PRIVATE KEY-----<redacted>-----END PRIVATE KEY-----\nnext",
	       "a PKCS#8 block");
	is_str(r("-----BEGIN RSA PRIVATE KEY-----\\nMIIE\\n-----END RSA PRIVATE KEY-----"),
	       "-----BEGIN RSA PRIVATE KEY-----<redacted>-----END RSA PRIVATE KEY-----",
	       "an escaped block in JSON");
	is_str(r("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE"),
	       "-----BEGIN EC PRIVATE KEY-----<redacted>", "a truncated block to the end");
	is_str(r("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----"),
	       "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----",
	       "public keys are left");
}

static void test_pem_lines(void)
{
	struct redact_state st = REDACT_STATE_INIT;
	struct strbuf line = STRBUF_INIT;
	const char *in[] = { "before", "-----BEGIN OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXk",
			     "AAAA", "-----END OPENSSH PRIVATE KEY-----", "after" };
	const char *want[] = { "before", "-----BEGIN OPENSSH PRIVATE KEY-----", "<redacted>",
			       "<redacted>", "-----END OPENSSH PRIVATE KEY-----", "after" };

	for (size_t i = 0; i < ARRAY_SIZE(in); i++) {
		strbuf_reset(&line);
		strbuf_addstr(&line, in[i]);
		redact_line(&st, &line);
		is_str(line.buf, want[i], "PEM across lines, line %zu", i + 1);
	}
	strbuf_release(&line);
}

static void test_urls_and_params(void)
{
	is_str(r("postgres://nimbus:s3cret@127.0.0.1:5432/db"), "postgres://nimbus:<redacted>@127.0.0.1:5432/db",
	       "a URL password");
	is_str(r("redis://:pw@localhost:6379/0"), "redis://:<redacted>@localhost:6379/0",
	       "a password without user");
	is_str(r("https://user@example.com/x"), "https://user@example.com/x", "a user without password");
	is_str(r("http://example.com:8080/a"), "http://example.com:8080/a", "a port is not a password");
	is_str(r("host=db password=hunter2 user=x"), "host=db password=<redacted> user=x",
	       "a conninfo password");
	is_str(r("/x?access_token=abc&b=1"), "/x?access_token=<redacted>&b=1", "a query token");
	is_str(r("remote_storage=http://h/c|bearer-token=abcdef"),
	       "remote_storage=http://h/c|bearer-token=<redacted>", "ccache's bearer-token");
	is_str(r("{\"password\":\"p@ss w\",\"user\":\"u\"}"), "{\"password\":\"<redacted>\",\"user\":\"u\"}",
	       "a JSON password");
	is_str(r("tokens=5 secrets: none"), "tokens=5 secrets: none", "similar words are left");
}

static void test_registered(void)
{
	redact_register("abc");
	is_str(r("abc"), "abc", "a too-short secret is not registered");
	redact_register("hunter2-is-my-pass");
	redact_register("hunter2");
	is_str(r("a hunter2-is-my-pass and hunter2 b"), "a <redacted> and <redacted> b",
	       "registered secrets, the longer first");
	redact_register_mem("\x01\x02\x03\x04", 4);
	is_str(r("x\x01\x02\x03\x04y"), "x<redacted>y", "binary secrets");
	redact_forget_all();
	is_str(r("hunter2"), "hunter2", "forget_all");
	is_str(r(""), "", "empty input");
	is_str(r("<redacted>"), "<redacted>", "idempotent");
}

int main(void)
{
	test_authorization();
	test_tokens();
	test_pem();
	test_pem_lines();
	test_urls_and_params();
	test_registered();
	return done_testing();
}
