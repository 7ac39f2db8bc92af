#include "common.h"
#include "builtin.h"
#include "parse-options.h"
#include "redact.h"

static const char *const redact_usage[] = {
	"nimbus redact [--secret-file FILE]...",
	NULL,
};

static void load_secrets(const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	char *line, *save = NULL;

	if (strbuf_read_file(&sb, path, 1 << 20) < 0)
		die_code(errno == ENOENT ? EXIT_NOTFOUND : EXIT_FAIL, "cannot read %s: %s",
			 path, strerror(errno));
	for (line = strtok_r(sb.buf, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save))
		redact_register(line);
	strbuf_release_secret(&sb);
}

int cmd_redact(int argc, const char **argv)
{
	struct strvec files = STRVEC_INIT;
	const struct option options[] = {
		OPT_STRVEC(0, "secret-file", &files, "FILE", "also mask each line of FILE"),
		OPT_END(),
	};
	struct redact_state st = REDACT_STATE_INIT;
	struct strbuf line = STRBUF_INIT;
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	argc = parse_options(argc, argv, options, redact_usage, 0);
	if (argc)
		usage_msg(redact_usage, options, "too many arguments");
	for (size_t i = 0; i < files.nr; i++)
		load_secrets(files.v[i]);
	while ((n = getline(&buf, &cap, stdin)) > 0) {
		bool nl = buf[n - 1] == '\n';

		strbuf_reset(&line);
		strbuf_add(&line, buf, n - nl);
		redact_line(&st, &line);
		if (nl)
			strbuf_addch(&line, '\n');
		if (fwrite(line.buf, 1, line.len, stdout) != line.len)
			die_errno("write error on stdout");
	}
	if (ferror(stdin))
		die_errno("read error on stdin");
	free(buf);
	strbuf_release(&line);
	strvec_clear(&files);
	return 0;
}
