#ifndef FC_API_H
#define FC_API_H

#include <jansson.h>

/*
 * A client of Firecracker's API on its Unix socket (the specification is
 * shared/specs/firecracker-api-v1.16.1.yaml). A socket path too long for
 * sockaddr_un, as jails under deep directories make them, is reached
 * through a descriptor of its directory.
 */

struct fc_api {
	struct http_client *http;
	int dirfd;
	char *path;		/* what is connected to */
	char *socket;		/* as given, for messages */
	int timeout;		/* seconds per request */
};

int fc_api_open(struct fc_api *api, const char *socket, int timeout);
void fc_api_close(struct fc_api *api);

/*
 * Wait until the socket accepts connections, at most until deadline_ms
 * (mono_ms() time), and while the process of pidfd (-1: none) lives:
 * -EXIT_UNAVAILABLE on a timeout, -EXIT_FAIL when the process exits.
 */
int fc_api_wait(struct fc_api *api, int pidfd, int64_t deadline_ms);

/*
 * method path with the JSON body (may be NULL): 0 on a 2xx answer, with
 * its JSON body in *out when out is not NULL (NULL when empty); else
 * -EXIT_FAIL with Firecracker's fault_message, or -EXIT_UNAVAILABLE when
 * it cannot be reached.
 */
int fc_api_call(struct fc_api *api, const char *method, const char *path, json_t *body,
		json_t **out);

#endif
