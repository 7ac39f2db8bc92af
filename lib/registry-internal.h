#ifndef REGISTRY_INTERNAL_H
#define REGISTRY_INTERNAL_H

#include "blobdir.h"
#include "registry.h"
#include "token.h"

#include <pthread.h>

/* What the registry's files share: registry.c (/v2) and registry-token.c (/token). */
struct registry_state {
	struct blobdir dir;
	struct token_verifier *verifier;
	pthread_key_t store_key;
	uint64_t max_blob, max_manifest;
	int64_t quota, token_ttl;
	const char *realm, *issuer, *keys_dir;
};
extern struct registry_state reg;

/* "pull", "push", "delete": the names of OCI_PULL, OCI_PUSH, OCI_DELETE, bit by bit. */
extern const char *const registry_actions[3];

/* The calling worker thread's store, opened on first use. */
int registry_thread_store(struct store **out);

/* GET and POST /token. */
void registry_token_endpoint(struct http_request *req);

#endif
