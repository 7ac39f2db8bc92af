#ifndef SIGNER_H
#define SIGNER_H

#include "token.h"

/*
 * Privilege separation for the services that mint (the registry's
 * /token): the private keys stay root's, readable by no service. Before
 * `nimbus serve` becomes serve.user it forks a signer, which stays root
 * but keeps no capability, takes no_new_privs and the services' seccomp
 * filter, and answers one request at a time over a socket pair: the
 * claims in, a token signed with the key current then out. A service
 * taken over can have tokens signed while it runs, but never read a key.
 */

/* Start the signer for keys_dir: 0, or a fail() code. Single-threaded callers only. */
int signer_start(const char *keys_dir);

/*
 * Append a token for spec, issued at now, signed with the current key
 * of keys_dir: by the signer when one runs, else here. 0, or a fail()
 * code (-EXIT_UNAVAILABLE when the signer is gone). Thread-safe.
 */
int signer_mint(const char *keys_dir, const struct token_spec *spec, int64_t now,
		struct strbuf *out);

/*
 * What the signer answers to a request (the JSON text of len bytes a
 * service sent): {"token": ...} or {"code": N, "error": ...}. For the
 * tests and the fuzz harness.
 */
json_t *signer_answer(const char *keys_dir, const char *req, size_t len);

/* Stop the signer and wait for it. */
void signer_stop(void);

#endif
