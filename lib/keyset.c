#include "common.h"
#include "keyset.h"
#include "log.h"
#include "output.h"
#include "redact.h"
#include "timeutil.h"

#include <sys/file.h>
#include <sys/stat.h>

#define KEYSET_FILE "keyset.json"
#define KEYSET_TMP "keyset.json.tmp"
#define PEM_MAX (64 << 10)

static const char *const state_names[] = {
	[KEY_NEXT] = "next",
	[KEY_CURRENT] = "current",
	[KEY_PREVIOUS] = "previous",
	[KEY_RETIRED] = "retired",
};

const char *key_state_name(enum key_state state)
{
	return state_names[state];
}

void keyset_release(struct keyset *ks)
{
	for (size_t i = 0; i < ks->nr; i++)
		jose_key_free(ks->keys[i].key);
	free(ks->keys);
	ks->keys = NULL;
	ks->nr = ks->alloc = 0;
}

struct keyset_key *keyset_find(const struct keyset *ks, const char *kid, size_t len)
{
	if (len != JOSE_KID_LEN)
		return NULL;
	for (size_t i = 0; i < ks->nr; i++)
		if (!memcmp(ks->keys[i].key->kid, kid, len))
			return &ks->keys[i];
	return NULL;
}

static struct keyset_key *append(struct keyset *ks, struct jose_key *k)
{
	struct keyset_key *e;

	ALLOC_GROW(ks->keys, ks->nr + 1, ks->alloc);
	e = &ks->keys[ks->nr++];
	memset(e, 0, sizeof(*e));
	e->key = k;
	e->retired = e->superseded = -1;
	return e;
}

int keyset_add(struct keyset *ks, const struct jose_key *k, int64_t created, int64_t activated)
{
	json_t *jwk = jose_key_jwk(k);
	struct jose_key *pub;
	struct keyset_key *e;
	int rc;

	if (!jwk)
		return -EXIT_FAIL;
	rc = jose_key_from_jwk(jwk, &pub);
	json_decref(jwk);
	if (rc)
		return rc;
	e = append(ks, pub);
	e->created = created;
	e->activated = activated;
	return 0;
}

/* Whether key b took over from a: activated later, or at once but added later. */
static bool later(const struct keyset *ks, size_t a, size_t b)
{
	return ks->keys[b].activated > ks->keys[a].activated ||
	       (ks->keys[b].activated == ks->keys[a].activated && b > a);
}

void keyset_states(struct keyset *ks, int64_t now)
{
	size_t cur = SIZE_MAX;

	for (size_t i = 0; i < ks->nr; i++) {
		struct keyset_key *e = &ks->keys[i];

		e->superseded = -1;
		if (e->retired >= 0)
			e->state = KEY_RETIRED;
		else if (e->activated > now)
			e->state = KEY_NEXT;
		else
			e->state = KEY_PREVIOUS;
		if (e->state == KEY_PREVIOUS && (cur == SIZE_MAX || later(ks, cur, i)))
			cur = i;
	}
	if (cur == SIZE_MAX)
		return;
	ks->keys[cur].state = KEY_CURRENT;
	/* A previous key stopped signing when the next one activated. */
	for (size_t i = 0; i < ks->nr; i++) {
		if (ks->keys[i].state != KEY_PREVIOUS)
			continue;
		for (size_t j = 0; j < ks->nr; j++) {
			enum key_state s = ks->keys[j].state;

			if ((s == KEY_PREVIOUS || s == KEY_CURRENT) && later(ks, i, j) &&
			    (ks->keys[i].superseded < 0 || ks->keys[j].activated < ks->keys[i].superseded))
				ks->keys[i].superseded = ks->keys[j].activated;
		}
	}
}

struct keyset_key *keyset_current(struct keyset *ks)
{
	for (size_t i = 0; i < ks->nr; i++)
		if (ks->keys[i].state == KEY_CURRENT)
			return &ks->keys[i];
	return NULL;
}

json_t *keyset_jwks(const struct keyset *ks)
{
	json_t *keys = json_array();

	for (size_t i = 0; i < ks->nr; i++) {
		json_t *jwk;

		if (ks->keys[i].retired >= 0)
			continue;
		jwk = jose_key_jwk(ks->keys[i].key);
		if (!jwk) {
			json_decref(keys);
			return NULL;
		}
		json_array_append_new(keys, jwk);
	}
	return json_pack("{s:o}", "keys", keys);
}

json_t *keyset_key_json(const struct keyset_key *e)
{
	json_t *v = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}",
			      "kid", e->key->kid, "alg", jose_alg_name(e->key->alg),
			      "state", key_state_name(e->state), "created", xjson_time(e->created),
			      "activated", xjson_time(e->activated), "retired", xjson_time(e->retired));

	if (!v)
		die("out of memory");
	return v;
}

void keyset_format(const struct keyset *ks, struct strbuf *out)
{
	json_t *keys = json_array(), *doc;
	char *text;

	for (size_t i = 0; i < ks->nr; i++) {
		json_t *entry = keyset_key_json(&ks->keys[i]), *jwk = jose_key_jwk(ks->keys[i].key);

		if (!jwk)
			die_fail(-EXIT_FAIL);
		json_object_set_new(entry, "jwk", jwk);
		json_array_append_new(keys, entry);
	}
	doc = json_pack("{s:o}", "keys", keys);
	text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
	if (!text)
		die("out of memory formatting the keyset");
	strbuf_addstr(out, text);
	strbuf_addch(out, '\n');
	free(text);
	json_decref(doc);
}

static int get_time(json_t *entry, const char *name, bool nullable, int64_t *out)
{
	json_t *v = json_object_get(entry, name);

	if (nullable && json_is_null(v)) {
		*out = -1;
		return 0;
	}
	if (!json_is_string(v) || parse_rfc3339(json_string_value(v), out) || *out < 0)
		return -1;
	return 0;
}

static int parse_entry(struct keyset *ks, json_t *entry, const char *name, size_t i)
{
	const char *kid = json_string_value(json_object_get(entry, "kid"));
	const char *alg = json_string_value(json_object_get(entry, "alg"));
	int64_t created, activated, retired;
	struct keyset_key *e;
	struct jose_key *k;
	int rc;

	if (!json_is_object(entry) || !kid || !alg)
		return fail(EXIT_FAIL, "%s: key %zu lacks kid or alg", name, i);
	if (get_time(entry, "created", false, &created) ||
	    get_time(entry, "activated", false, &activated) ||
	    get_time(entry, "retired", true, &retired))
		return fail(EXIT_FAIL, "%s: key %zu has a malformed time", name, i);
	rc = jose_key_from_jwk(json_object_get(entry, "jwk"), &k);
	if (rc) {
		/* fail() overwrites the message it would quote */
		char *why = xstrdup(fail_message());

		rc = fail(EXIT_FAIL, "%s: key %zu: %s", name, i, why);
		free(why);
		return rc;
	}
	if (k->has_private || k->alg == JOSE_HS256 || strcmp(jose_alg_name(k->alg), alg) ||
	    strcmp(k->kid, kid)) {
		jose_key_free(k);
		return fail(EXIT_FAIL, "%s: key %zu: kid or alg does not match its JWK", name, i);
	}
	if (keyset_find(ks, kid, strlen(kid))) {
		jose_key_free(k);
		return fail(EXIT_FAIL, "%s: key %s is listed twice", name, kid);
	}
	e = append(ks, k);
	e->created = created;
	e->activated = activated;
	e->retired = retired;
	return 0;
}

int keyset_parse(struct keyset *ks, const char *text, size_t len, const char *name)
{
	json_error_t err;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err), *keys;
	int rc = 0;

	if (!doc)
		return fail(EXIT_FAIL, "%s: line %d: %s", name, err.line, err.text);
	keys = json_object_get(doc, "keys");
	if (!json_is_array(keys))
		rc = fail(EXIT_FAIL, "%s: no \"keys\" array", name);
	for (size_t i = 0; !rc && i < json_array_size(keys); i++)
		rc = parse_entry(ks, json_array_get(keys, i), name, i);
	json_decref(doc);
	if (rc)
		keyset_release(ks);
	return rc;
}

int keydir_open(struct keydir *kd, const char *path, bool create)
{
	struct stat st;
	int rc;

	kd->fd = -1;
	kd->path = xstrdup(path);
	if (create && (rc = mkdir_parents(path)))
		return rc;
	kd->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (kd->fd < 0 && errno == ENOENT)
		return fail(EXIT_NOTFOUND, "no keys in %s; create one with 'nimbus key rotate'", path);
	if (kd->fd < 0)
		return fail_errno(errno == EACCES ? EXIT_PERM : EXIT_FAIL, "cannot open keys.dir %s", path);
	if (fstat(kd->fd, &st))
		return fail_errno(EXIT_FAIL, "cannot stat %s", path);
	/* whoever may write here may plant a key */
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return fail(EXIT_PERM, "%s is writable by group or others (mode %04o); chmod go-w it",
			    path, (unsigned)(st.st_mode & 07777));
	return 0;
}

void keydir_close(struct keydir *kd)
{
	if (kd->fd >= 0)
		close(kd->fd);
	kd->fd = -1;
	free(kd->path);
	kd->path = NULL;
}

int keydir_lock(struct keydir *kd)
{
	while (flock(kd->fd, LOCK_EX)) {
		if (errno != EINTR)
			return fail_errno(EXIT_FAIL, "cannot lock %s", kd->path);
	}
	return 0;
}

/* Read name in the directory (not through a symbolic link) into sb. */
static int read_at(struct keydir *kd, const char *name, size_t max, struct strbuf *sb, struct stat *st)
{
	int fd = openat(kd->fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return fail_errno(errno == ENOENT ? EXIT_NOTFOUND : errno == EACCES ? EXIT_PERM : EXIT_FAIL,
				  "cannot open %s/%s", kd->path, name);
	if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
		close(fd);
		return fail(EXIT_FAIL, "%s/%s is not a regular file", kd->path, name);
	}
	/* one allocation: no stale copy of a secret left behind by growing */
	strbuf_grow(sb, st->st_size < (off_t)max ? (size_t)st->st_size + 1 : max);
	n = strbuf_read_fd(sb, fd, max);
	close(fd);
	if (n < 0)
		return fail_errno(EXIT_FAIL, "cannot read %s/%s", kd->path, name);
	return 0;
}

int keydir_load(struct keydir *kd, struct keyset *ks, struct stat *st)
{
	struct strbuf sb = STRBUF_INIT, name = STRBUF_INIT;
	struct stat ignored;
	int rc = read_at(kd, KEYSET_FILE, KEYSET_MAX_FILE, &sb, st ? st : &ignored);

	if (rc == -EXIT_NOTFOUND) {
		if (st)
			memset(st, 0, sizeof(*st));
		return 0;
	}
	if (!rc) {
		strbuf_addf(&name, "%s/%s", kd->path, KEYSET_FILE);
		rc = keyset_parse(ks, sb.buf, sb.len, name.buf);
		log_debug("loaded %s: %zu keys", name.buf, ks->nr);
	}
	strbuf_release(&sb);
	strbuf_release(&name);
	return rc;
}

/* Create name exclusively (0600 unless mode says otherwise), write data, fsync. */
static int write_new(struct keydir *kd, const char *name, mode_t mode, const char *data, size_t len)
{
	int fd = openat(kd->fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0)
		return fail_errno(errno == EACCES ? EXIT_PERM : EXIT_FAIL, "cannot create %s/%s",
				  kd->path, name);
	if (fchmod(fd, mode) || write_in_full(fd, data, len) < 0 || fsync(fd)) {
		int rc = fail_errno(EXIT_FAIL, "cannot write %s/%s", kd->path, name);

		close(fd);
		unlinkat(kd->fd, name, 0);
		return rc;
	}
	if (close(fd))
		return fail_errno(EXIT_FAIL, "cannot write %s/%s", kd->path, name);
	return 0;
}

int keydir_save(struct keydir *kd, struct keyset *ks, int64_t now)
{
	struct strbuf sb = STRBUF_INIT;
	int rc;

	keyset_states(ks, now);
	keyset_format(ks, &sb);
	/* a leftover of a crash; we hold the lock */
	if (unlinkat(kd->fd, KEYSET_TMP, 0) && errno != ENOENT) {
		strbuf_release(&sb);
		return fail_errno(EXIT_FAIL, "cannot remove %s/%s", kd->path, KEYSET_TMP);
	}
	rc = write_new(kd, KEYSET_TMP, 0644, sb.buf, sb.len);
	strbuf_release(&sb);
	if (rc)
		return rc;
	if (renameat(kd->fd, KEYSET_TMP, kd->fd, KEYSET_FILE) || fsync(kd->fd))
		return fail_errno(EXIT_FAIL, "cannot replace %s/%s", kd->path, KEYSET_FILE);
	log_debug("saved %s/%s: %zu keys", kd->path, KEYSET_FILE, ks->nr);
	return 0;
}

static void pem_name(struct strbuf *sb, const char *kid)
{
	strbuf_addf(sb, "%s.pem", kid);
}

int keydir_write_private(struct keydir *kd, const struct jose_key *k)
{
	struct strbuf pem = STRBUF_INIT, name = STRBUF_INIT;
	int rc;

	pem_name(&name, k->kid);
	/* not in the keyset: left by a crash between this and the save */
	if (unlinkat(kd->fd, name.buf, 0) && errno != ENOENT) {
		rc = fail_errno(EXIT_FAIL, "cannot remove %s/%s", kd->path, name.buf);
		goto out;
	}
	rc = jose_key_private_pem(k, &pem);
	if (!rc) {
		redact_register_pem(pem.buf, pem.len);
		rc = write_new(kd, name.buf, 0600, pem.buf, pem.len);
	}
out:
	strbuf_release_secret(&pem);
	strbuf_release(&name);
	return rc;
}

int keydir_read_private(struct keydir *kd, const struct keyset_key *e, struct jose_key **out)
{
	struct strbuf pem = STRBUF_INIT, name = STRBUF_INIT;
	struct stat st;
	int rc;

	pem_name(&name, e->key->kid);
	rc = read_at(kd, name.buf, PEM_MAX, &pem, &st);
	if (!rc && (st.st_mode & (S_IRWXG | S_IRWXO)))
		rc = fail(EXIT_PERM, "%s/%s has mode %04o: group or others may read it; chmod 600 it",
			  kd->path, name.buf, (unsigned)(st.st_mode & 07777));
	if (!rc) {
		redact_register_pem(pem.buf, pem.len);
		rc = jose_key_from_pem(pem.buf, pem.len, e->key->alg, out);
	}
	if (!rc && strcmp((*out)->kid, e->key->kid)) {
		jose_key_free(*out);
		rc = fail(EXIT_FAIL, "%s/%s does not hold key %s", kd->path, name.buf, e->key->kid);
	}
	strbuf_release_secret(&pem);
	strbuf_release(&name);
	return rc;
}

int keydir_signing_key(const char *dir, int64_t now, struct jose_key **out)
{
	struct keydir kd;
	struct keyset ks = KEYSET_INIT;
	struct keyset_key *cur;
	int rc = keydir_open(&kd, dir, false);

	*out = NULL;
	if (!rc)
		rc = keydir_load(&kd, &ks, NULL);
	if (!rc) {
		keyset_states(&ks, now);
		cur = keyset_current(&ks);
		if (cur)
			rc = keydir_read_private(&kd, cur, out);
		else
			rc = fail(EXIT_NOTFOUND, "no current key in %s; run 'nimbus key rotate'", kd.path);
	}
	keydir_close(&kd);
	keyset_release(&ks);
	return rc;
}

void keydir_remove_retired(struct keydir *kd, const struct keyset *ks)
{
	struct strbuf name = STRBUF_INIT;

	for (size_t i = 0; i < ks->nr; i++) {
		if (ks->keys[i].retired < 0)
			continue;
		strbuf_reset(&name);
		pem_name(&name, ks->keys[i].key->kid);
		if (unlinkat(kd->fd, name.buf, 0) && errno != ENOENT)
			warning("cannot remove %s/%s: %s", kd->path, name.buf, strerror(errno));
	}
	if (fsync(kd->fd))
		warning("cannot sync %s: %s", kd->path, strerror(errno));
	strbuf_release(&name);
}
