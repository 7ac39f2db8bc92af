#ifndef KEYSET_H
#define KEYSET_H

#include "jose.h"

/*
 * The signing keys in keys.dir: one PKCS#8 PEM file per private key,
 * KID.pem (0600, created with O_EXCL|O_NOFOLLOW), and keyset.json, which
 * lists every key with its public JWK and its times:
 *
 *	{"keys":[{"kid":"...","alg":"EdDSA","state":"current",
 *		  "created":"2026-11-28T22:06:12Z","activated":"...",
 *		  "retired":null,"jwk":{...}}]}
 *
 * A key's state follows from its times, so that a key activates without
 * anyone writing the file: retired once retired; next until its
 * activation time; then the newest activated key is current and the
 * others are previous. "state" in the file is as of the last write.
 * Verifiers need only keyset.json; only signing reads a private key.
 *
 * Writers lock the directory (flock) around load, change and save, and
 * keyset.json is replaced atomically (write, fsync, rename, fsync the
 * directory), so readers never lock and always see a whole keyset.
 */

enum key_state {
	KEY_NEXT,
	KEY_CURRENT,
	KEY_PREVIOUS,
	KEY_RETIRED,
};

const char *key_state_name(enum key_state state);

struct keyset_key {
	struct jose_key *key;		/* the public key */
	int64_t created, activated;	/* seconds since the epoch */
	int64_t retired;		/* -1 while not retired */
	/* Derived by keyset_states(): */
	enum key_state state;
	int64_t superseded;		/* a previous key: when it stopped signing */
};

struct keyset {
	struct keyset_key *keys;
	size_t nr, alloc;
};
#define KEYSET_INIT { NULL, 0, 0 }
#define KEYSET_MAX_FILE (1 << 20)

void keyset_release(struct keyset *ks);
/* Parse keyset.json (name is for messages); -EXIT_FAIL when malformed. */
int keyset_parse(struct keyset *ks, const char *text, size_t len, const char *name);
void keyset_format(const struct keyset *ks, struct strbuf *out);
/* A key's id, algorithm, state and times (keyset.json's entry less the JWK). */
json_t *keyset_key_json(const struct keyset_key *e);
/* Add the public half of k. */
int keyset_add(struct keyset *ks, const struct jose_key *k, int64_t created, int64_t activated);
/* Set each key's state and superseded time as of now. */
void keyset_states(struct keyset *ks, int64_t now);
/* After keyset_states(): the signing key, or NULL. */
struct keyset_key *keyset_current(struct keyset *ks);
struct keyset_key *keyset_find(const struct keyset *ks, const char *kid, size_t len);
/* The RFC 7517 JWK set of the keys that are not retired; NULL after fail(). */
json_t *keyset_jwks(const struct keyset *ks);

/* keys.dir, opened. */
struct keydir {
	int fd;
	char *path;
};

/*
 * Open path (with create, make it 0700 when missing). A directory that
 * group or others may write is refused with -EXIT_PERM; a missing one
 * without create is -EXIT_NOTFOUND.
 */
int keydir_open(struct keydir *kd, const char *path, bool create);
void keydir_close(struct keydir *kd);
/* Hold the directory's lock until keydir_close(). */
int keydir_lock(struct keydir *kd);
/* Load keyset.json (a missing one is an empty keyset); st gets its identity. */
int keydir_load(struct keydir *kd, struct keyset *ks, struct stat *st);
int keydir_save(struct keydir *kd, struct keyset *ks, int64_t now);
/*
 * Write KID.pem, with the lock held and k not yet saved in the keyset: a
 * file by that name is a leftover of a crash before the save, replaced.
 */
int keydir_write_private(struct keydir *kd, const struct jose_key *k);
/* Read KID.pem: -EXIT_PERM when group or others may read it. */
int keydir_read_private(struct keydir *kd, const struct keyset_key *e, struct jose_key **out);
/* The private key of the key current at now in dir: -EXIT_NOTFOUND when there is none. */
int keydir_signing_key(const char *dir, int64_t now, struct jose_key **out);
/* Remove the private key files of retired keys (they never sign again). */
void keydir_remove_retired(struct keydir *kd, const struct keyset *ks);

#endif
