#include "common.h"
#include "builtin.h"
#include "config.h"
#include "keyset.h"
#include "log.h"
#include "output.h"
#include "parse-options.h"
#include "redact.h"
#include "timeutil.h"

#define ALG_ARGH "EdDSA|ES256|RS256"

static const char *const key_rotate_usage[] = {
	"nimbus key rotate [--alg " ALG_ARGH "] [--activate-after SECONDS]",
	NULL,
};

static const char *const key_list_usage[] = {
	"nimbus key list [--json]",
	NULL,
};

static const char *const key_jwks_usage[] = {
	"nimbus key jwks",
	NULL,
};

static const char *const key_retire_usage[] = {
	"nimbus key retire KID",
	NULL,
};

static const char *const key_prune_usage[] = {
	"nimbus key prune --older-than SECONDS [--json]",
	NULL,
};

static const char *const key_import_usage[] = {
	"nimbus key import FILE [--alg " ALG_ARGH "] [--activate-after SECONDS]",
	NULL,
};

static int opt_alg(const struct option *opt, const char *arg)
{
	enum jose_alg alg = jose_alg_parse(arg, strlen(arg));

	if (alg == JOSE_ALG_NONE || alg == JOSE_HS256)
		return error("--alg wants one of " ALG_ARGH ", not '%s'", arg);
	*(enum jose_alg *)opt->value = alg;
	return 0;
}

#define OPT_ALG(v) OPT_CALLBACK(0, "alg", (v), ALG_ARGH, "the signature algorithm", opt_alg)
#define OPT_ACTIVATE_AFTER(v) \
	OPT_SECONDS(0, "activate-after", (v), "sign with the key from then on (default: keys.activate_after)", \
		    0, 86400)

static int64_t now_s(void)
{
	return now_ms() / 1000;
}

/* Open keys.dir, locked, with its keyset loaded. */
static void open_locked(struct keydir *kd, struct keyset *ks)
{
	int rc = keydir_open(kd, cfg_str("keys.dir"), true);

	if (!rc)
		rc = keydir_lock(kd);
	if (!rc)
		rc = keydir_load(kd, ks, NULL);
	if (rc)
		die_fail(rc);
}

/* The keyset, read without the lock; no keys.dir yet is an empty one. */
static void load_keyset(struct keyset *ks)
{
	struct keydir kd;
	int rc = keydir_open(&kd, cfg_str("keys.dir"), false);

	if (!rc)
		rc = keydir_load(&kd, ks, NULL);
	keydir_close(&kd);
	if (rc && rc != -EXIT_NOTFOUND)
		die_fail(rc);
}

static void save_and_close(struct keydir *kd, struct keyset *ks, int64_t now)
{
	int rc = keydir_save(kd, ks, now);

	if (rc)
		die_fail(rc);
	keydir_remove_retired(kd, ks);
	keydir_close(kd);
}

/*
 * Add k to the keyset as the next key, activating after delay seconds;
 * at once when nothing signs yet. Prints the kid.
 */
static void add_key(struct jose_key *k, int64_t delay, bool delay_given)
{
	struct keydir kd;
	struct keyset ks = KEYSET_INIT;
	int64_t now = now_s(), max_age = cfg_int("keys.activate_after");
	struct keyset_key *e;
	int rc;

	open_locked(&kd, &ks);
	keyset_states(&ks, now);
	if (!keyset_current(&ks)) {
		if (delay_given && delay)
			log_info("no key signs yet: key %s activates at once", k->kid);
		delay = 0;
	} else if (delay < max_age) {
		warning("key %s activates in %" PRId64 "s, before the JWKS max-age of %" PRId64
			"s has passed: verifiers that cache the JWKS may refuse its tokens until then",
			k->kid, delay, max_age);
	}
	if (keyset_find(&ks, k->kid, strlen(k->kid)))
		die_code(EXIT_BUSY, "key %s is already in the keyset", k->kid);
	rc = keyset_add(&ks, k, now, now + delay);
	if (!rc)
		rc = keydir_write_private(&kd, k);
	if (rc)
		die_fail(rc);
	save_and_close(&kd, &ks, now);
	e = keyset_find(&ks, k->kid, strlen(k->kid));
	log_debug("key %s (%s) is %s", k->kid, jose_alg_name(k->alg), key_state_name(e->state));
	out_result(keyset_key_json(e));
	out_textf("%s\n", k->kid);
	keyset_release(&ks);
}

static int key_rotate(int argc, const char **argv)
{
	enum jose_alg alg = JOSE_EDDSA;
	int64_t delay = -1;
	const struct option options[] = {
		OPT_ALG(&alg),
		OPT_ACTIVATE_AFTER(&delay),
		OPT_END(),
	};
	struct jose_key *k;
	int rc;

	argc = parse_options(argc, argv, options, key_rotate_usage, 0);
	if (argc)
		usage_msg(key_rotate_usage, options, "too many arguments");
	rc = jose_key_generate(alg, &k);
	if (rc)
		die_fail(rc);
	add_key(k, delay < 0 ? cfg_int("keys.activate_after") : delay, delay >= 0);
	jose_key_free(k);
	return 0;
}

static int key_import(int argc, const char **argv)
{
	enum jose_alg alg = JOSE_ALG_NONE;
	int64_t delay = -1;
	const struct option options[] = {
		OPT_ALG(&alg),
		OPT_ACTIVATE_AFTER(&delay),
		OPT_END(),
	};
	struct strbuf pem = STRBUF_INIT;
	struct jose_key *k;
	int fd, rc;

	argc = parse_options(argc, argv, options, key_import_usage, 0);
	if (argc != 1)
		usage_msg(key_import_usage, options, argc ? "too many arguments" : "missing FILE");
	fd = strcmp(argv[0], "-") ? open(argv[0], O_RDONLY | O_CLOEXEC) : 0;
	if (fd < 0)
		die_code(errno == ENOENT ? EXIT_NOTFOUND : errno == EACCES ? EXIT_PERM : EXIT_FAIL,
			 "cannot open %s: %s", argv[0], strerror(errno));
	strbuf_grow(&pem, 64 << 10);
	if (strbuf_read_fd(&pem, fd, 64 << 10) < 0)
		die_errno("cannot read %s", argv[0]);
	if (fd)
		close(fd);
	redact_register_mem(pem.buf, pem.len);
	rc = jose_key_from_pem(pem.buf, pem.len, alg, &k);
	strbuf_release_secret(&pem);
	if (rc)
		die_fail(rc);
	add_key(k, delay < 0 ? cfg_int("keys.activate_after") : delay, delay >= 0);
	jose_key_free(k);
	return 0;
}

static int key_list(int argc, const char **argv)
{
	const struct option options[] = { OPT_JSON(), OPT_END() };
	struct keyset ks = KEYSET_INIT;
	json_t *list = json_array();

	argc = parse_options(argc, argv, options, key_list_usage, 0);
	if (argc)
		usage_msg(key_list_usage, options, "too many arguments");
	load_keyset(&ks);
	keyset_states(&ks, now_s());
	for (size_t i = 0; i < ks.nr; i++)
		json_array_append_new(list, keyset_key_json(&ks.keys[i]));
	out_result(list);
	keyset_release(&ks);
	return 0;
}

static int key_jwks(int argc, const char **argv)
{
	const struct option options[] = { OPT_END() };
	struct keyset ks = KEYSET_INIT;
	json_t *doc;
	char *text;

	argc = parse_options(argc, argv, options, key_jwks_usage, 0);
	if (argc)
		usage_msg(key_jwks_usage, options, "too many arguments");
	load_keyset(&ks);
	doc = keyset_jwks(&ks);
	if (!doc)
		die_fail(-EXIT_FAIL);
	/* a JWK set is JSON whatever the output mode */
	text = json_dumps(doc, JSON_INDENT(2));
	if (!text)
		die("out of memory");
	out_textf("%s\n", text);
	out_result(doc);
	free(text);
	keyset_release(&ks);
	return 0;
}

/* Retire e now; say what signs instead when it was the current key. */
static void retire(struct keyset *ks, struct keyset_key *e, int64_t now)
{
	struct keyset_key *cur;
	bool was_current = e->state == KEY_CURRENT;

	e->retired = now;
	keyset_states(ks, now);
	log_debug("retired key %s", e->key->kid);
	if (!was_current)
		return;
	cur = keyset_current(ks);
	if (cur)
		warning("retired the current key; %s signs from now on", cur->key->kid);
	else
		warning("retired the current key; no key is left to sign with: run 'nimbus key rotate'");
}

static int key_retire(int argc, const char **argv)
{
	const struct option options[] = { OPT_END() };
	struct keydir kd;
	struct keyset ks = KEYSET_INIT;
	struct keyset_key *e;
	int64_t now = now_s();

	argc = parse_options(argc, argv, options, key_retire_usage, 0);
	if (argc != 1)
		usage_msg(key_retire_usage, options, argc ? "too many arguments" : "missing KID");
	open_locked(&kd, &ks);
	e = keyset_find(&ks, argv[0], strlen(argv[0]));
	if (!e)
		die_code(EXIT_NOTFOUND, "no key %s in %s", argv[0], kd.path);
	keyset_states(&ks, now);
	if (e->state == KEY_RETIRED)
		log_debug("key %s was retired already", e->key->kid);
	else
		retire(&ks, e, now);
	save_and_close(&kd, &ks, now);
	keyset_release(&ks);
	return 0;
}

static int key_prune(int argc, const char **argv)
{
	int64_t older_than = -1;
	const struct option options[] = {
		OPT_SECONDS(0, "older-than", &older_than,
			    "retire previous keys that stopped signing this long ago", 0, INT32_MAX),
		OPT_JSON(),
		OPT_END(),
	};
	struct keydir kd;
	struct keyset ks = KEYSET_INIT;
	json_t *retired = json_array();
	int64_t now = now_s();

	argc = parse_options(argc, argv, options, key_prune_usage, 0);
	if (argc)
		usage_msg(key_prune_usage, options, "too many arguments");
	if (older_than < 0)
		usage_msg(key_prune_usage, options, "missing --older-than");
	open_locked(&kd, &ks);
	keyset_states(&ks, now);
	for (size_t i = 0; i < ks.nr; i++) {
		struct keyset_key *e = &ks.keys[i];

		if (e->state != KEY_PREVIOUS || now - e->superseded < older_than)
			continue;
		e->retired = now;
		log_debug("retired key %s, previous since %" PRId64 "s", e->key->kid, now - e->superseded);
		json_array_append_new(retired, xjson_string(e->key->kid));
	}
	if (json_array_size(retired))
		save_and_close(&kd, &ks, now);
	else
		keydir_close(&kd);
	out_result(retired);
	keyset_release(&ks);
	return 0;
}

static const struct subcommand key_subcommands[] = {
	{ "import", key_import, key_import_usage, "add an existing PEM private key as the next key" },
	{ "jwks", key_jwks, key_jwks_usage, "print the public keys as a JWK set" },
	{ "list", key_list, key_list_usage, "list the keys with their states and times" },
	{ "prune", key_prune, key_prune_usage, "retire previous keys that stopped signing long ago" },
	{ "retire", key_retire, key_retire_usage, "retire a key: its tokens are refused from now on" },
	{ "rotate", key_rotate, key_rotate_usage, "create the next signing key" },
	{ NULL },
};

int cmd_key(int argc, const char **argv)
{
	return run_subcommand(argc, argv, key_subcommands);
}
