#include "tap.h"
#include "config.h"
#include "redact.h"

static char dir[] = "/tmp/nimbus-config-test-XXXXXX";

static const char *write_conf(const char *name, const char *text)
{
	static struct strbuf path = STRBUF_INIT;
	FILE *fp;

	strbuf_reset(&path);
	strbuf_addf(&path, "%s/%s", dir, name);
	fp = fopen(path.buf, "w");
	if (!fp || fputs(text, fp) < 0 || fclose(fp))
		die_errno("writing %s", path.buf);
	return path.buf;
}

static void fresh(const char *file)
{
	cfg_reset();
	unsetenv("NIMBUS_SERVE_LISTEN");
	unsetenv("NIMBUS_SERVE_TIMEOUT");
	unsetenv("NIMBUS_CORE_STATE_DIR");
	unsetenv("NIMBUS_CONFIG");
	cfg_set_file(file);
}

static void test_precedence(void)
{
	const char *f = write_conf("a.conf", "; comment\n[serve]\nlisten = 10.0.0.1:1\ntimeout = 7\n"
					     "max_connections = 9\n[core]\nstate_dir = /srv/n\n");

	fresh(f);
	setenv("NIMBUS_SERVE_LISTEN", "10.0.0.2:2", 1);
	setenv("NIMBUS_SERVE_TIMEOUT", "8", 1);
	cfg_add_override("serve.timeout=9");
	ok(cfg_load() == 0, "a valid file loads");
	is_str(cfg_str("serve.listen"), "10.0.0.2:2", "environment beats the file");
	is_int(cfg_int("serve.timeout"), 9, "-c beats the environment");
	is_int(cfg_int("serve.max_connections"), 9, "the file beats the default");
	is_int(cfg_int("serve.threads"), 0, "the default");
	is_str(cfg_source_name(cfg_source("serve.timeout")), "command line", "source: command line");
	is_str(cfg_source_name(cfg_source("serve.listen")), "environment", "source: environment");
	is_str(cfg_source_name(cfg_source("serve.max_connections")), "file", "source: file");
	is_str(cfg_source_name(cfg_source("serve.threads")), "default", "source: default");
	is_str(cfg_str("store.url"), "sqlite:/srv/n/nimbus.db", "store.url follows core.state_dir");
	is_int(cfg_size("serve.max_body"), 1 << 20, "a size default");
}

static void expect_fail(const char *text, const char *want, const char *what)
{
	const char *f = write_conf("bad.conf", text);
	int rc;

	fresh(f);
	rc = cfg_load();
	ok(rc == -EXIT_CONFIG && strstr(fail_message(), want), "%s: exit 7 and '%s'", what, want);
	if (rc != -EXIT_CONFIG || !strstr(fail_message(), want))
		printf("#   rc %d: %s\n", rc, fail_message());
}

static void test_errors(void)
{
	struct strbuf want = STRBUF_INIT;

	strbuf_addf(&want, "%s/bad.conf:3: unknown key 'serve.nope'", dir);
	expect_fail("[serve]\nlisten = 1.2.3.4:5\nnope = 1\n", want.buf, "unknown key with file and line");
	expect_fail("[serve]\n\ntimeout = abc\n", "bad.conf:3: serve.timeout: 'abc' is not a number", "bad number");
	expect_fail("[serve]\ntimeout = 0\n", "'0' is out of range (1-3600)", "out of range");
	expect_fail("[serve]\nmax_body = 1KB\n", "is not a size", "bad size");
	expect_fail("[log]\nformat = xml\n", "'xml' is not one of text|json", "bad choice");
	expect_fail("[store]\nurl = mysql://x\n", "store.url: wants sqlite:PATH", "bad store URL");
	expect_fail("[nosuch]\nkey = 1\n", "unknown key 'nosuch.key'", "unknown section");
	expect_fail("listen = 1\n", "outside any [section]", "no section");
	expect_fail("[serve\n", "bad.conf:1: syntax error", "syntax error");
	expect_fail("[serve]\njust words\n", "bad.conf:2: syntax error", "a line without =");

	strbuf_reset(&want);
	strbuf_addf(&want, "%s/missing.conf", dir);
	fresh(want.buf);
	ok(cfg_load() == -EXIT_CONFIG && strstr(fail_message(), "missing.conf"), "a missing named file");
	fresh(NULL);
	setenv("NIMBUS_CONFIG", want.buf, 1);
	ok(cfg_load() == -EXIT_CONFIG, "a missing file named by NIMBUS_CONFIG");
	fresh(NULL);
	setenv("HOME", dir, 1);
	unsetenv("XDG_CONFIG_HOME");
	if (!running_as_root())
		ok(cfg_load() == 0, "a missing default file is fine");
	else
		ok(1, "a missing default file is fine # SKIP root reads /etc/nimbus");
	fresh(dir);
	ok(cfg_load() == -EXIT_CONFIG && strstr(fail_message(), "not a regular file"), "a directory");
	fresh(write_conf("ok.conf", ""));
	setenv("NIMBUS_SERVE_TIMEOUT", "x", 1);
	ok(cfg_load() == -EXIT_CONFIG && strstr(fail_message(), "environment NIMBUS_SERVE_TIMEOUT"),
	   "a bad environment value names the variable");
	strbuf_release(&want);
}

static void test_secrets(void)
{
	struct strbuf sb = STRBUF_INIT;

	fresh(write_conf("s.conf", "[redis]\nurl = redis://:Sup3rSecretPw@127.0.0.1:6379/0\n"));
	ok(cfg_load() == 0, "a Redis URL with a password");
	cfg_display(&sb, "redis.url");
	is_str(sb.buf, "redis://:<redacted>@127.0.0.1:6379/0", "shown with the password masked");
	strbuf_reset(&sb);
	strbuf_addstr(&sb, "connecting with Sup3rSecretPw");
	redact(&sb);
	is_str(sb.buf, "connecting with <redacted>", "and registered for redaction");
	strbuf_release(&sb);
}

int main(void)
{
	char *rm;

	if (!mkdtemp(dir))
		die_errno("mkdtemp");
	test_precedence();
	test_errors();
	test_secrets();
	cfg_reset();
	rm = xstrfmt("rm -rf '%s'", dir);
	(void)!system(rm);
	free(rm);
	return done_testing();
}
