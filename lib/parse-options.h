#ifndef PARSE_OPTIONS_H
#define PARSE_OPTIONS_H

/*
 * Option tables (after git's parse-options). One table per command gives
 * the parsing, the option list of -h and the words of the completion
 * helper. Every command accepts -h/--help (usage on stdout, exit 0),
 * --json (JSON output) and the hidden --completion-helper.
 */

enum parse_opt_type {
	OPTION_END,
	OPTION_GROUP,
	OPTION_BOOL,		/* int *: set to 1 */
	OPTION_COUNT,		/* int *: incremented each time */
	OPTION_STRING,		/* const char ** */
	OPTION_STRVEC,		/* struct strvec *: repeatable */
	OPTION_INT,		/* int64_t *, in [min, max] */
	OPTION_SIZE,		/* uint64_t *, K/M/G suffixes */
	OPTION_RATE,		/* struct rate * */
	OPTION_CALLBACK,	/* callback(opt, arg); arg NULL when argh is NULL */
};

enum {
	PARSE_OPT_HIDDEN = 1,
};

struct option {
	enum parse_opt_type type;
	int short_name;
	const char *long_name;
	void *value;
	const char *argh;
	const char *help;
	int flags;
	int64_t min, max;
	int (*callback)(const struct option *opt, const char *arg);
};

#define OPT_END() { .type = OPTION_END }
#define OPT_GROUP(h) { .type = OPTION_GROUP, .help = (h) }
#define OPT_BOOL(s, l, v, h) \
	{ .type = OPTION_BOOL, .short_name = (s), .long_name = (l), .value = (v), .help = (h) }
#define OPT_COUNT(s, l, v, h) \
	{ .type = OPTION_COUNT, .short_name = (s), .long_name = (l), .value = (v), .help = (h) }
#define OPT_STRING(s, l, v, a, h) \
	{ .type = OPTION_STRING, .short_name = (s), .long_name = (l), .value = (v), .argh = (a), .help = (h) }
#define OPT_STRVEC(s, l, v, a, h) \
	{ .type = OPTION_STRVEC, .short_name = (s), .long_name = (l), .value = (v), .argh = (a), .help = (h) }
#define OPT_INT(s, l, v, a, h, lo, hi) \
	{ .type = OPTION_INT, .short_name = (s), .long_name = (l), .value = (v), .argh = (a), \
	  .help = (h), .min = (lo), .max = (hi) }
#define OPT_SECONDS(s, l, v, h, lo, hi) OPT_INT(s, l, v, "SECONDS", h, lo, hi)
#define OPT_SIZE(s, l, v, a, h) \
	{ .type = OPTION_SIZE, .short_name = (s), .long_name = (l), .value = (v), .argh = (a), .help = (h) }
#define OPT_RATE(s, l, v, h) \
	{ .type = OPTION_RATE, .short_name = (s), .long_name = (l), .value = (v), .argh = "N/s|N/m|N/h", .help = (h) }
#define OPT_CALLBACK(s, l, v, a, h, cb) \
	{ .type = OPTION_CALLBACK, .short_name = (s), .long_name = (l), .value = (v), .argh = (a), \
	  .help = (h), .callback = (cb) }
/* Declares --json in -h; it is accepted by every command anyway. */
#define OPT_JSON() \
	{ .type = OPTION_CALLBACK, .long_name = "json", .help = "print JSON", .callback = parse_opt_json }

enum {
	/* Stop at the first non-option (a command and its arguments follow). */
	PARSE_OPT_STOP_AT_NON_OPTION = 1,
	/* Leave a "--" in the returned arguments. */
	PARSE_OPT_KEEP_DASHDASH = 2,
};

/*
 * argv[0] is the command's own name; options may be mixed with arguments
 * unless STOP_AT_NON_OPTION. Returns the number of arguments left, moved
 * to argv[0..n-1]. Bad options print the usage and exit 2.
 */
int parse_options(int argc, const char **argv, const struct option *opts,
		  const char *const *usage, int flags);

int parse_opt_json(const struct option *opt, const char *arg);

/* Usage (the synopsis lines, then the options) to stdout or stderr. */
void print_usage(FILE *fp, const char *const *usage, const struct option *opts);
NORETURN void usage_with_options(const char *const *usage, const struct option *opts);
/* "nimbus CMD: MESSAGE", the usage, exit 2. */
NORETURN void usage_msg(const char *const *usage, const struct option *opts, const char *fmt, ...) PRINTF(3, 4);

/* A command's subcommands, dispatched by run_subcommand(). */
struct subcommand {
	const char *name;
	int (*fn)(int argc, const char **argv);
	const char *const *usage;
	const char *summary;
};

/*
 * argv[0] is the command; argv[1] names the subcommand, which is run with
 * argv + 1. Handles -h, --completion-helper, a missing or unknown
 * subcommand (exit 2, with a "did you mean" hint).
 */
int run_subcommand(int argc, const char **argv, const struct subcommand *subs);
void print_subcommand_usage(FILE *fp, const struct subcommand *subs);

/* The closest candidate to word (edit distance), or NULL. */
const char *suggest_word(const char *word, const char *const *candidates, size_t nr);

#endif
