#include "common.h"
#include "output.h"
#include "parse-num.h"
#include "parse-options.h"

#define HELP_COLUMN 26

int parse_opt_json(const struct option *opt UNUSED, const char *arg UNUSED)
{
	out_set_json(true);
	return 0;
}

static bool takes_arg(const struct option *o)
{
	switch (o->type) {
	case OPTION_STRING:
	case OPTION_STRVEC:
	case OPTION_INT:
	case OPTION_SIZE:
	case OPTION_RATE:
		return true;
	case OPTION_CALLBACK:
		return o->argh != NULL;
	default:
		return false;
	}
}

static void option_name(struct strbuf *sb, const struct option *o, bool as_short)
{
	if (as_short)
		strbuf_addf(sb, "-%c", o->short_name);
	else
		strbuf_addf(sb, "--%s", o->long_name);
}

static NORETURN void bad_value(const char *const *usage, const struct option *opts,
			       const struct option *o, bool as_short, const char *arg, const char *why)
{
	struct strbuf name = STRBUF_INIT;

	option_name(&name, o, as_short);
	usage_msg(usage, opts, "option '%s': '%s' %s", name.buf, arg, why);
}

static void set_value(const char *const *usage, const struct option *opts,
		      const struct option *o, bool as_short, const char *arg)
{
	char range[96];

	switch (o->type) {
	case OPTION_BOOL:
		*(int *)o->value = 1;
		break;
	case OPTION_COUNT:
		(*(int *)o->value)++;
		break;
	case OPTION_STRING:
		*(const char **)o->value = arg;
		break;
	case OPTION_STRVEC:
		strvec_push(o->value, arg);
		break;
	case OPTION_INT:
		if (parse_i64(arg, o->min, o->max, o->value)) {
			if (errno != ERANGE)
				bad_value(usage, opts, o, as_short, arg, "is not a number");
			xsnprintf(range, sizeof(range), "is out of range (%" PRId64 "-%" PRId64 ")",
				  o->min, o->max);
			bad_value(usage, opts, o, as_short, arg, range);
		}
		break;
	case OPTION_SIZE:
		if (parse_size(arg, o->value))
			bad_value(usage, opts, o, as_short, arg,
				  errno == ERANGE ? "is out of range" : "is not a size (N, NK, NM or NG)");
		break;
	case OPTION_RATE:
		if (parse_rate(arg, o->value))
			bad_value(usage, opts, o, as_short, arg,
				  errno == ERANGE ? "is out of range" : "is not a rate (N/s, N/m or N/h)");
		break;
	case OPTION_CALLBACK:
		if (o->callback(o, arg))
			exit(EXIT_USAGE);
		break;
	default:
		BUG("option type %d cannot take a value", o->type);
	}
}

static void completion_helper(const struct option *opts)
{
	for (const struct option *o = opts; o->type != OPTION_END; o++) {
		if (o->type == OPTION_GROUP || (o->flags & PARSE_OPT_HIDDEN) || !o->long_name)
			continue;
		printf("--%s", o->long_name);
		if (takes_arg(o) || o->short_name)
			printf("\t%s", takes_arg(o) ? o->argh : "");
		if (o->short_name)
			printf("\t-%c", o->short_name);
		putchar('\n');
	}
	exit(fflush(stdout) ? EXIT_FAIL : EXIT_OK);
}

static const struct option *find_long(const struct option *opts, const char *name, size_t len)
{
	for (const struct option *o = opts; o->type != OPTION_END; o++)
		if (o->long_name && strlen(o->long_name) == len && !strncmp(o->long_name, name, len))
			return o;
	return NULL;
}

static const struct option *find_short(const struct option *opts, int c)
{
	for (const struct option *o = opts; o->type != OPTION_END; o++)
		if (o->type != OPTION_GROUP && o->short_name == c)
			return o;
	return NULL;
}

static void help_exit(const char *const *usage, const struct option *opts)
{
	print_usage(stdout, usage, opts);
	exit(fflush(stdout) ? EXIT_FAIL : EXIT_OK);
}

/* Parse one "--name[=value]"; returns how many extra argv entries it used. */
static int parse_long(int argc, const char **argv, int i, const struct option *opts,
		      const char *const *usage)
{
	const char *name = argv[i] + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct option *o = find_long(opts, name, len);

	if (!o) {
		if (len == 4 && !strncmp(name, "help", 4) && !eq)
			help_exit(usage, opts);
		if (!strcmp(name, "completion-helper"))
			completion_helper(opts);
		if (len == 4 && !strncmp(name, "json", 4) && !eq) {
			out_set_json(true);
			return 0;
		}
		usage_msg(usage, opts, "unknown option '--%.*s'", (int)len, name);
	}
	if (!takes_arg(o)) {
		if (eq)
			usage_msg(usage, opts, "option '--%s' takes no value", o->long_name);
		set_value(usage, opts, o, false, NULL);
		return 0;
	}
	if (eq) {
		set_value(usage, opts, o, false, eq + 1);
		return 0;
	}
	if (i + 1 >= argc)
		usage_msg(usage, opts, "option '--%s' requires a value", o->long_name);
	set_value(usage, opts, o, false, argv[i + 1]);
	return 1;
}

static int parse_short(int argc, const char **argv, int i, const struct option *opts,
		       const char *const *usage)
{
	for (const char *p = argv[i] + 1; *p; p++) {
		const struct option *o = find_short(opts, *p);

		if (!o) {
			if (*p == 'h')
				help_exit(usage, opts);
			usage_msg(usage, opts, "unknown option '-%c'", *p);
		}
		if (!takes_arg(o)) {
			set_value(usage, opts, o, true, NULL);
			continue;
		}
		if (p[1]) {
			set_value(usage, opts, o, true, p + 1);
			return 0;
		}
		if (i + 1 >= argc)
			usage_msg(usage, opts, "option '-%c' requires a value", o->short_name);
		set_value(usage, opts, o, true, argv[i + 1]);
		return 1;
	}
	return 0;
}

int parse_options(int argc, const char **argv, const struct option *opts,
		  const char *const *usage, int flags)
{
	int nr = 0, i;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!strcmp(arg, "--")) {
			if (flags & PARSE_OPT_KEEP_DASHDASH)
				argv[nr++] = arg;
			i++;
			break;
		}
		if (arg[0] != '-' || !arg[1]) {
			if (flags & PARSE_OPT_STOP_AT_NON_OPTION)
				break;
			argv[nr++] = arg;
			continue;
		}
		if (arg[1] == '-')
			i += parse_long(argc, argv, i, opts, usage);
		else
			i += parse_short(argc, argv, i, opts, usage);
	}
	while (i < argc)
		argv[nr++] = argv[i++];
	argv[nr] = NULL;
	return nr;
}

static void print_option(FILE *fp, const struct option *o)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, "    ");
	if (o->short_name && o->long_name)
		strbuf_addf(&sb, "-%c, --%s", o->short_name, o->long_name);
	else if (o->short_name)
		strbuf_addf(&sb, "-%c", o->short_name);
	else
		strbuf_addf(&sb, "--%s", o->long_name);
	if (takes_arg(o))
		strbuf_addf(&sb, " %s", o->argh);
	if (sb.len + 2 > HELP_COLUMN) {
		strbuf_addch(&sb, '\n');
		strbuf_addchars(&sb, ' ', HELP_COLUMN);
	} else {
		strbuf_addchars(&sb, ' ', HELP_COLUMN - sb.len);
	}
	fprintf(fp, "%s%s\n", sb.buf, o->help ? o->help : "");
	strbuf_release(&sb);
}

void print_usage(FILE *fp, const char *const *usage, const struct option *opts)
{
	static const struct option help = OPT_BOOL('h', "help", NULL, "show this help");

	for (size_t i = 0; usage[i]; i++)
		fprintf(fp, "%s%s\n", i ? "   or: " : "usage: ", usage[i]);
	fputc('\n', fp);
	for (const struct option *o = opts; o->type != OPTION_END; o++) {
		if (o->flags & PARSE_OPT_HIDDEN)
			continue;
		if (o->type == OPTION_GROUP) {
			fprintf(fp, "\n%s\n", o->help);
			continue;
		}
		print_option(fp, o);
	}
	if (!find_long(opts, "help", 4))
		print_option(fp, &help);
}

void usage_with_options(const char *const *usage, const struct option *opts)
{
	print_usage(stderr, usage, opts);
	exit(EXIT_USAGE);
}

void usage_msg(const char *const *usage, const struct option *opts, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	error("%s", sb.buf);
	strbuf_release(&sb);
	for (size_t i = 0; usage[i]; i++)
		fprintf(stderr, "%s%s\n", i ? "   or: " : "usage: ", usage[i]);
	(void)opts;
	exit(EXIT_USAGE);
}

void print_subcommand_usage(FILE *fp, const struct subcommand *subs)
{
	size_t lines = 0, width = 0;

	for (const struct subcommand *s = subs; s->name; s++) {
		for (size_t i = 0; s->usage[i]; i++)
			fprintf(fp, "%s%s\n", lines++ ? "   or: " : "usage: ", s->usage[i]);
		if (strlen(s->name) > width)
			width = strlen(s->name);
	}
	fprintf(fp, "\nCommands:\n");
	for (const struct subcommand *s = subs; s->name; s++)
		fprintf(fp, "    %-*s  %s\n", (int)width, s->name, s->summary);
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = xcalloc(lb + 1, sizeof(*row)), result;

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	result = row[lb];
	free(row);
	return result;
}

const char *suggest_word(const char *word, const char *const *cands, size_t nr)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;

	for (size_t i = 0; i < nr; i++) {
		size_t d = edit_distance(word, cands[i]);

		if (strlen(word) >= 2 && starts_with(cands[i], word))
			d = 1;
		if (d < best_d) {
			best_d = d;
			best = cands[i];
		}
	}
	if (best && best_d <= 2 && best_d < strlen(word))
		return best;
	return NULL;
}

int run_subcommand(int argc, const char **argv, const struct subcommand *subs)
{
	const char *names[64];
	const char *hint;
	size_t nr = 0;

	if (argc < 2) {
		error("missing subcommand");
		print_subcommand_usage(stderr, subs);
		exit(EXIT_USAGE);
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		print_subcommand_usage(stdout, subs);
		exit(fflush(stdout) ? EXIT_FAIL : EXIT_OK);
	}
	for (const struct subcommand *s = subs; s->name; s++) {
		if (!strcmp(argv[1], "--completion-helper"))
			printf("%s\n", s->name);
		else if (!strcmp(argv[1], s->name))
			return s->fn(argc - 1, argv + 1);
		if (nr < ARRAY_SIZE(names))
			names[nr++] = s->name;
	}
	if (!strcmp(argv[1], "--completion-helper"))
		exit(fflush(stdout) ? EXIT_FAIL : EXIT_OK);
	hint = suggest_word(argv[1], names, nr);
	if (hint)
		error("unknown subcommand '%s'; did you mean '%s'?", argv[1], hint);
	else
		error("unknown subcommand '%s'", argv[1]);
	print_subcommand_usage(stderr, subs);
	exit(EXIT_USAGE);
}
