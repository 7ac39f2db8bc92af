#include "common.h"
#include "config.h"
#include "redact.h"

#include <ini.h>
#include <sys/stat.h>

struct cfg_value {
	char *value;		/* NULL: the default */
	enum cfg_source src;
};

static struct cfg_value *values;
static struct strvec overrides = STRVEC_INIT;
static const char *file_arg;
static char *file_path;
static bool file_named;
static bool loaded;

bool running_as_root(void)
{
	return geteuid() == 0;
}

const struct cfg_key *cfg_find(const char *name)
{
	for (size_t i = 0; i < cfg_keys_nr; i++)
		if (!strcmp(cfg_keys[i].name, name))
			return &cfg_keys[i];
	return NULL;
}

static size_t key_index(const struct cfg_key *k)
{
	return k - cfg_keys;
}

static const char *truthy[] = { "true", "yes", "on", "1" };
static const char *falsy[] = { "false", "no", "off", "0" };

static int parse_bool_value(const char *v, bool *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(truthy); i++) {
		if (!strcasecmp(v, truthy[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(v, falsy[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static bool in_choices(const char *choices, const char *v)
{
	size_t n = strlen(v);

	for (const char *p = choices; p; p = strchr(p, '|'), p = p ? p + 1 : NULL)
		if (!strncmp(p, v, n) && (p[n] == '|' || !p[n]))
			return n > 0;
	return false;
}

/* Check value against k's type; 0, or -1 with the reason in err. */
static int validate(const struct cfg_key *k, const char *v, struct strbuf *err)
{
	int64_t i;
	uint64_t u;
	struct rate r;
	bool b;

	switch (k->type) {
	case CFG_INT:
	case CFG_SECONDS:
		if (parse_i64(v, k->min, k->max, &i)) {
			strbuf_addf(err, "'%s' %s", v, parse_num_reason(errno));
			if (errno == ERANGE)
				strbuf_addf(err, " (%" PRId64 "-%" PRId64 ")", k->min, k->max);
			return -1;
		}
		break;
	case CFG_SIZE:
		if (parse_size(v, &u)) {
			strbuf_addf(err, "'%s' is not a size (N, NK, NM or NG)", v);
			return -1;
		}
		break;
	case CFG_RATE:
		if (parse_rate(v, &r)) {
			strbuf_addf(err, "'%s' is not a rate (N/s, N/m or N/h)", v);
			return -1;
		}
		break;
	case CFG_BOOL:
		if (parse_bool_value(v, &b)) {
			strbuf_addf(err, "'%s' is not a boolean (true or false)", v);
			return -1;
		}
		break;
	case CFG_ENUM:
		if (!in_choices(k->choices, v)) {
			strbuf_addf(err, "'%s' is not one of %s", v, k->choices);
			return -1;
		}
		break;
	default:
		break;
	}
	if (k->check && k->check(v, err))
		return -1;
	return 0;
}

static void register_secret(const struct cfg_key *k, const char *v)
{
	if (k->flags & CFG_SECRET)
		redact_register(v);
	else if (k->type == CFG_URL)
		redact_register_url(v);
}

static void set_value(const struct cfg_key *k, const char *v, enum cfg_source src)
{
	struct cfg_value *cv = &values[key_index(k)];

	if (cv->value)
		free_secret_str(cv->value);
	cv->value = xstrdup(v);
	cv->src = src;
	register_secret(k, v);
}

void cfg_add_override(const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct strbuf err = STRBUF_INIT;
	const struct cfg_key *k;
	char *name;

	if (!eq || eq == arg)
		die_code(EXIT_USAGE, "-c wants section.key=value, not '%s'", arg);
	name = xstrndup(arg, eq - arg);
	k = cfg_find(name);
	if (!k)
		die_code(EXIT_CONFIG, "-c %s: unknown configuration key", name);
	if (validate(k, eq + 1, &err))
		die_code(EXIT_CONFIG, "-c %s: %s", name, err.buf);
	free(name);
	strvec_push(&overrides, arg);
	register_secret(k, eq + 1);
}

void cfg_set_file(const char *path)
{
	file_arg = path;
}

static void compute_file_path(void)
{
	const char *env = getenv("NIMBUS_CONFIG"), *xdg, *home;

	free(file_path);
	file_named = true;
	if (file_arg) {
		file_path = xstrdup(file_arg);
		return;
	}
	if (env && *env) {
		file_path = xstrdup(env);
		return;
	}
	file_named = false;
	if (running_as_root()) {
		file_path = xstrdup("/etc/nimbus/nimbus.conf");
		return;
	}
	xdg = getenv("XDG_CONFIG_HOME");
	home = getenv("HOME");
	if (xdg && *xdg == '/')
		file_path = xstrfmt("%s/nimbus/nimbus.conf", xdg);
	else
		file_path = xstrfmt("%s/.config/nimbus/nimbus.conf", home && *home ? home : "/");
}

const char *cfg_file_path(void)
{
	if (!file_path)
		compute_file_path();
	return file_path;
}

void cfg_dir(struct strbuf *out)
{
	const char *path = cfg_file_path(), *slash = strrchr(path, '/');

	if (!slash)
		strbuf_addch(out, '.');
	else if (slash == path)
		strbuf_addch(out, '/');
	else
		strbuf_add(out, path, slash - path);
}

struct ini_ctx {
	struct strbuf err;
	int rc;
};

static int on_ini_entry(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *ctx = user;
	struct strbuf key = STRBUF_INIT;
	struct strbuf why = STRBUF_INIT;
	const struct cfg_key *k;
	int ok = 1;

	strbuf_addf(&key, "%s.%s", section, name);
	k = cfg_find(key.buf);
	if (!k) {
		ok = 0;
		if (!ctx->err.len) {
			if (!*section)
				strbuf_addf(&ctx->err, "'%s' is outside any [section]", name);
			else
				strbuf_addf(&ctx->err, "unknown key '%s'", key.buf);
		}
	} else if (validate(k, value, &why)) {
		ok = 0;
		if (!ctx->err.len)
			strbuf_addf(&ctx->err, "%s: %s", key.buf, why.buf);
	} else {
		set_value(k, value, CFG_SRC_FILE);
	}
	strbuf_release(&key);
	strbuf_release(&why);
	return ok;
}

/* Parse INI text as the configuration file called name. */
int cfg_parse_text(const char *text, const char *name)
{
	struct ini_ctx ctx = { STRBUF_INIT, 0 };
	int line, rc = 0;

	if (!values)
		values = xcalloc(cfg_keys_nr, sizeof(*values));
	line = ini_parse_string(text, on_ini_entry, &ctx);
	if (line > 0)
		rc = fail(EXIT_CONFIG, "%s:%d: %s", name, line, ctx.err.len ? ctx.err.buf : "syntax error");
	else if (line < 0)
		rc = fail(EXIT_CONFIG, "cannot parse configuration file %s", name);
	strbuf_release(&ctx.err);
	return rc;
}

static int load_file(void)
{
	const char *path = cfg_file_path();
	struct strbuf text = STRBUF_INIT;
	struct stat st;
	int rc;

	if (stat(path, &st) < 0) {
		if (errno == ENOENT && !file_named)
			return 0;
		return fail_errno(EXIT_CONFIG, "cannot read configuration file %s", path);
	}
	if (!S_ISREG(st.st_mode))
		return fail(EXIT_CONFIG, "configuration file %s is not a regular file", path);
	if (strbuf_read_file(&text, path, CFG_MAX_FILE) < 0) {
		if (errno == E2BIG)
			return fail(EXIT_CONFIG, "configuration file %s is larger than %d bytes",
				    path, CFG_MAX_FILE);
		return fail_errno(EXIT_CONFIG, "cannot read configuration file %s", path);
	}
	if (memchr(text.buf, '\0', text.len))
		rc = fail(EXIT_CONFIG, "configuration file %s contains a NUL byte", path);
	else
		rc = cfg_parse_text(text.buf, path);
	strbuf_release_secret(&text);
	return rc;
}

static void env_name(struct strbuf *sb, const char *key)
{
	strbuf_addstr(sb, "NIMBUS_");
	for (; *key; key++)
		strbuf_addch(sb, *key == '.' ? '_' : (*key >= 'a' && *key <= 'z') ? *key - 32 : *key);
}

static int load_env(void)
{
	struct strbuf name = STRBUF_INIT, err = STRBUF_INIT;
	int rc = 0;

	for (size_t i = 0; i < cfg_keys_nr && !rc; i++) {
		const char *v;

		strbuf_reset(&name);
		env_name(&name, cfg_keys[i].name);
		v = getenv(name.buf);
		if (!v)
			continue;
		if (validate(&cfg_keys[i], v, &err))
			rc = fail(EXIT_CONFIG, "environment %s: %s", name.buf, err.buf);
		else
			set_value(&cfg_keys[i], v, CFG_SRC_ENV);
	}
	strbuf_release(&name);
	strbuf_release(&err);
	return rc;
}

static void load_overrides(void)
{
	for (size_t i = 0; i < overrides.nr; i++) {
		const char *arg = overrides.v[i], *eq = strchr(arg, '=');
		char *name = xstrndup(arg, eq - arg);

		set_value(cfg_find(name), eq + 1, CFG_SRC_COMMAND_LINE);
		free(name);
	}
}

int cfg_load(void)
{
	int rc;

	if (loaded)
		return 0;
	if (!values)
		values = xcalloc(cfg_keys_nr, sizeof(*values));
	rc = load_file();
	if (!rc)
		rc = load_env();
	if (rc)
		return rc;
	load_overrides();
	loaded = true;
	return 0;
}

void cfg_reset(void)
{
	if (values)
		for (size_t i = 0; i < cfg_keys_nr; i++)
			free_secret_str(values[i].value);
	free(values);
	values = NULL;
	strvec_clear(&overrides);
	free(file_path);
	file_path = NULL;
	file_arg = NULL;
	loaded = false;
}

static const struct cfg_key *need(const char *name, int type)
{
	const struct cfg_key *k = cfg_find(name);
	int rc;

	if (!k)
		BUG("unknown configuration key '%s'", name);
	if (type >= 0 && (int)k->type != type)
		BUG("configuration key '%s' read with the wrong type", name);
	rc = cfg_load();
	if (rc)
		die_fail(rc);
	return k;
}

static const char *raw_value(const struct cfg_key *k)
{
	struct cfg_value *cv = &values[key_index(k)];

	if (!cv->value && k->def_fn) {
		struct strbuf sb = STRBUF_INIT;

		k->def_fn(&sb);
		cv->value = strbuf_detach(&sb, NULL);
		cv->src = CFG_SRC_DEFAULT;
	}
	if (cv->value)
		return cv->value;
	return k->def ? k->def : "";
}

void cfg_resolve_defaults(void)
{
	for (size_t i = 0; i < cfg_keys_nr; i++)
		cfg_str(cfg_keys[i].name);
}

const char *cfg_str(const char *name)
{
	return raw_value(need(name, -1));
}

int64_t cfg_int(const char *name)
{
	const struct cfg_key *k = need(name, -1);
	const char *v = raw_value(k);
	int64_t n;

	if (k->type != CFG_INT && k->type != CFG_SECONDS)
		BUG("configuration key '%s' is not a number", name);
	if (parse_i64(v, k->min, k->max, &n))
		BUG("default of '%s' is not valid", name);
	return n;
}

uint64_t cfg_size(const char *name)
{
	uint64_t n;

	if (parse_size(raw_value(need(name, CFG_SIZE)), &n))
		BUG("default of '%s' is not valid", name);
	return n;
}

struct rate cfg_rate(const char *name)
{
	struct rate r;

	if (parse_rate(raw_value(need(name, CFG_RATE)), &r))
		BUG("default of '%s' is not valid", name);
	return r;
}

bool cfg_bool(const char *name)
{
	bool b;

	if (parse_bool_value(raw_value(need(name, CFG_BOOL)), &b))
		BUG("default of '%s' is not valid", name);
	return b;
}

enum cfg_source cfg_source(const char *name)
{
	const struct cfg_key *k = need(name, -1);

	return values[key_index(k)].value ? values[key_index(k)].src : CFG_SRC_DEFAULT;
}

const char *cfg_source_name(enum cfg_source src)
{
	switch (src) {
	case CFG_SRC_FILE: return "file";
	case CFG_SRC_ENV: return "environment";
	case CFG_SRC_COMMAND_LINE: return "command line";
	default: return "default";
	}
}

void cfg_display(struct strbuf *out, const char *name)
{
	const struct cfg_key *k = need(name, -1);
	const char *v = raw_value(k);
	size_t start = out->len;

	if ((k->flags & CFG_SECRET) && *v) {
		strbuf_addstr(out, REDACTED);
		return;
	}
	strbuf_addstr(out, v);
	if (k->type == CFG_URL) {
		struct strbuf tmp = STRBUF_INIT;

		strbuf_addstr(&tmp, out->buf + start);
		redact(&tmp);
		strbuf_setlen(out, start);
		strbuf_addbuf(out, &tmp);
		strbuf_release(&tmp);
	}
}
