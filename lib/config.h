#ifndef CONFIG_H
#define CONFIG_H

#include "parse-num.h"

/*
 * Configuration: an INI file, environment variables NIMBUS_SECTION_KEY and
 * -c section.key=value overrides, in that order of increasing precedence,
 * over built-in defaults. Every key is declared in config-keys.c with its
 * type; an unknown key or a bad value is an error (exit 7) naming where it
 * came from. The file is read on first use, so -h needs no configuration.
 */

enum cfg_type {
	CFG_STRING,
	CFG_PATH,
	CFG_URL,		/* a password in it is registered for redaction */
	CFG_INT,		/* in [min, max] */
	CFG_SECONDS,		/* whole seconds in [min, max] */
	CFG_SIZE,
	CFG_RATE,
	CFG_BOOL,
	CFG_ENUM,		/* one of choices, "a|b|c" */
};

enum {
	CFG_SECRET = 1,		/* shown as <redacted>, registered for redaction */
};

enum cfg_source {
	CFG_SRC_DEFAULT,
	CFG_SRC_FILE,
	CFG_SRC_ENV,
	CFG_SRC_COMMAND_LINE,
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	const char *def;
	/* A default computed from the environment or other keys. */
	void (*def_fn)(struct strbuf *out);
	int flags;
	int64_t min, max;
	const char *choices;
	/* Extra validation; returns 0 or -1 with a reason in err. */
	int (*check)(const char *value, struct strbuf *err);
	const char *help;
};

extern const struct cfg_key cfg_keys[];
extern const size_t cfg_keys_nr;

/* -c section.key=value; exits 2 when malformed, 7 for a bad key or value. */
void cfg_add_override(const char *arg);
/* --config FILE (NULL: $NIMBUS_CONFIG, then the default path). */
void cfg_set_file(const char *path);
const char *cfg_file_path(void);
/* The directory holding the configuration file (keys.dir's default). */
void cfg_dir(struct strbuf *out);

/* Load now; 0, or -EXIT_CONFIG with the reason in fail_message(). */
int cfg_load(void);
/* Parse INI text as if it were the file called name (cfg_load's parser). */
int cfg_parse_text(const char *text, const char *name);
#define CFG_MAX_FILE (1 << 20)

const struct cfg_key *cfg_find(const char *name);
/* Getters load on first use and exit 7 when the configuration is bad. */
const char *cfg_str(const char *name);
int64_t cfg_int(const char *name);
uint64_t cfg_size(const char *name);
struct rate cfg_rate(const char *name);
bool cfg_bool(const char *name);
enum cfg_source cfg_source(const char *name);
const char *cfg_source_name(enum cfg_source src);
/* The value as it may be shown: secrets masked. */
void cfg_display(struct strbuf *out, const char *name);

/*
 * Compute every default now. Some depend on who runs nimbus
 * (core.state_dir): a service that changes user fixes them first.
 */
void cfg_resolve_defaults(void);

/* Forget everything loaded (unit tests). */
void cfg_reset(void);

/* Default-value helpers shared by config-keys.c. */
bool running_as_root(void);

#endif
