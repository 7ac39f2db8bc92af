#include "tap.h"
#include "output.h"
#include "parse-num.h"
#include "parse-options.h"

#include <sys/wait.h>

static int flag, count;
static const char *str;
static int64_t num;
static uint64_t size;
static struct rate rate;
static struct strvec vec = STRVEC_INIT;

static const char *const usage[] = { "nimbus test [--flag] [--str S] ARG...", NULL };

static const struct option opts[] = {
	OPT_BOOL('f', "flag", &flag, "a flag"),
	OPT_COUNT('v', "verbose", &count, "a count"),
	OPT_STRING('s', "str", &str, "S", "a string"),
	OPT_INT('n', "num", &num, "N", "a number", -5, 100),
	OPT_SIZE(0, "size", &size, "SIZE", "a size"),
	OPT_RATE(0, "rate", &rate, "a rate"),
	OPT_STRVEC(0, "item", &vec, "X", "repeatable"),
	OPT_END(),
};

static void reset(void)
{
	flag = count = 0;
	str = NULL;
	num = 0;
	size = 0;
	strvec_clear(&vec);
	out_set_json(false);
}

static int parse(int flags, const char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	reset();
	return parse_options(argc, argv, opts, usage, flags);
}

/* Run parse in a child; return its exit status and what it wrote. */
static int child(const char **argv, struct strbuf *out, struct strbuf *err)
{
	int o[2], e[2], status;
	pid_t pid;

	if (pipe(o) || pipe(e))
		die_errno("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die_errno("fork");
	if (!pid) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		parse(0, argv);
		fflush(stdout);
		_exit(99);
	}
	close(o[1]);
	close(e[1]);
	strbuf_read_fd(out, o[0], 0);
	strbuf_read_fd(err, e[0], 0);
	close(o[0]);
	close(e[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_values(void)
{
	const char *a1[] = { "test", "-f", "--str", "x", "pos1", "--num=-5", "-vv", "pos2",
			     "--size", "4K", "--rate=3/m", "--item", "a", "--item=b", NULL };
	int n = parse(0, a1);

	ok(flag == 1 && count == 2, "bool and bundled count");
	is_str(str, "x", "string with a separate value");
	is_int(num, -5, "int with =, negative");
	is_int(size, 4096, "size");
	ok(rate.count == 3 && rate.period == 60, "rate");
	ok(vec.nr == 2 && !strcmp(vec.v[1], "b"), "repeatable option");
	is_int(n, 2, "two arguments left");
	ok(!strcmp(a1[0], "pos1") && !strcmp(a1[1], "pos2") && !a1[2], "in order, NULL-terminated");
}

static void test_forms(void)
{
	const char *a1[] = { "test", "-sabc", "-n7", "--", "--flag", "-", NULL };
	const char *a2[] = { "test", "--flag", "cmd", "--str", "x", NULL };
	const char *a3[] = { "test", "--json", NULL };
	int n;

	n = parse(0, a1);
	is_str(str, "abc", "short option with attached value");
	is_int(num, 7, "short number attached");
	ok(n == 2 && !strcmp(a1[0], "--flag") && !strcmp(a1[1], "-") && !flag,
	   "-- ends options; - is an argument");
	n = parse(PARSE_OPT_STOP_AT_NON_OPTION, a2);
	ok(flag && !str && n == 3 && !strcmp(a2[0], "cmd"), "stop at the first non-option");
	parse(0, a3);
	ok(out_is_json(), "--json is accepted everywhere");
}

static void expect_usage_error(const char **argv, const char *msg, const char *what)
{
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	int rc = child(argv, &out, &err);

	ok(rc == EXIT_USAGE && strstr(err.buf, msg) && strstr(err.buf, "usage: nimbus test") && !out.len,
	   "%s: exit 2 and '%s'", what, msg);
	if (rc != EXIT_USAGE || !strstr(err.buf, msg))
		printf("#   rc %d, stderr: %s", rc, err.buf);
	strbuf_release(&out);
	strbuf_release(&err);
}

static void test_errors(void)
{
	expect_usage_error((const char *[]){ "test", "--nope", NULL }, "unknown option '--nope'", "unknown long");
	expect_usage_error((const char *[]){ "test", "-x", NULL }, "unknown option '-x'", "unknown short");
	expect_usage_error((const char *[]){ "test", "--str", NULL }, "requires a value", "missing value");
	expect_usage_error((const char *[]){ "test", "--flag=1", NULL }, "takes no value", "value for a flag");
	expect_usage_error((const char *[]){ "test", "--num", "abc", NULL }, "'abc' is not a number", "bad number");
	expect_usage_error((const char *[]){ "test", "--num", "101", NULL }, "out of range (-5-100)", "range");
	expect_usage_error((const char *[]){ "test", "--num", "12abc", NULL }, "is not a number", "garbage");
	expect_usage_error((const char *[]){ "test", "--size", "4k", NULL }, "is not a size", "bad size");
	expect_usage_error((const char *[]){ "test", "--rate", "4", NULL }, "is not a rate", "bad rate");
	expect_usage_error((const char *[]){ "test", "--fla", NULL }, "unknown option '--fla'", "no abbreviations");
}

static void test_help(void)
{
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	int rc = child((const char *[]){ "test", "--help", NULL }, &out, &err);

	ok(rc == 0 && starts_with(out.buf, "usage: nimbus test [--flag] [--str S] ARG...\n") && !err.len,
	   "--help: usage on stdout, exit 0");
	ok(strstr(out.buf, "    -s, --str S ") && strstr(out.buf, "    -h, --help "),
	   "the option list comes from the table");
	strbuf_reset(&out);
	rc = child((const char *[]){ "test", "-h", NULL }, &out, &err);
	ok(rc == 0 && starts_with(out.buf, "usage:"), "-h");
	strbuf_reset(&out);
	rc = child((const char *[]){ "test", "--completion-helper", NULL }, &out, &err);
	ok(rc == 0 && strstr(out.buf, "--flag\t\t-f\n") && strstr(out.buf, "--str\tS\t-s\n") &&
	   strstr(out.buf, "--item\tX\n"), "the completion helper lists the options");
	strbuf_release(&out);
	strbuf_release(&err);
}

static void test_suggest(void)
{
	const char *words[] = { "lease", "job", "serve", "config" };

	is_str(suggest_word("leas", words, 4), "lease", "a prefix");
	is_str(suggest_word("srve", words, 4), "serve", "a missing letter");
	is_str(suggest_word("cnofig", words, 4), "config", "a swap");
	ok(!suggest_word("xyz", words, 4), "nothing close");
	ok(!suggest_word("j", words, 4), "too short to guess");
}

int main(void)
{
	test_values();
	test_forms();
	test_errors();
	test_help();
	test_suggest();
	return done_testing();
}
