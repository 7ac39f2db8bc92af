#ifndef WEBHOOK_H
#define WEBHOOK_H

#include "job.h"

/*
 * Webhook deliveries (issue 5), in two schemes:
 *
 *   github    X-Hub-Signature-256: sha256=HEX, the HMAC-SHA256 of the
 *             body, with X-GitHub-Event, X-GitHub-Delivery and
 *             X-GitHub-Hook-ID. GitHub signs no time: the event's time
 *             is read from the payload (webhook_event_time()).
 *   standard  Standard Webhooks, for nimbus' own hops: webhook-id,
 *             webhook-timestamp and webhook-signature, one or more
 *             space-separated "v1,BASE64" entries, each an HMAC-SHA256
 *             of "ID.TIMESTAMP.BODY" under the key of a whsec_ secret.
 *             X-GitHub-Event, when present, names the event.
 *
 * A delivery is accepted once: when a secret of the file signed it, its
 * time lies within the window of now, and its replay keys were not
 * claimed before. github has two (the hook and delivery ids; the body's
 * SHA-256, since a captured body re-sent under a fresh delivery id is a
 * replay), standard one (its id). They are claimed together, only after
 * the signature checked out (no one can burn another's nonces), for
 * twice the window: as long as the same delivery could pass the window.
 *
 * Functions return 0 or -code after fail(); those that take a struct
 * webhook * record a refusal in wh->verdict (other failures, a kv or
 * store that cannot be reached, leave it WEBHOOK_OK).
 */

/* Delivery and hook ids, event names: 1 to WEBHOOK_ID_MAX bytes of [A-Za-z0-9._:-]. */
#define WEBHOOK_ID_MAX 128
bool webhook_id_valid(const char *s);
/* The latest time a delivery may carry (year 10000), in seconds. */
#define WEBHOOK_TIME_MAX 253402300800LL
/* The longest secret file, and the longest secret line in it. */
#define WEBHOOK_SECRETS_MAX (64 << 10)

enum webhook_scheme {
	WEBHOOK_GITHUB,
	WEBHOOK_STANDARD,
};
extern const char *const webhook_scheme_names[];
/* The scheme called name, or -1. */
int webhook_scheme_parse(const char *name);

/*
 * Secrets, one per line of a file (a CR before the newline is dropped,
 * empty lines are skipped): whsec_BASE64 is a Standard Webhooks key,
 * any other line a GitHub secret. Several of a kind let a secret be
 * rotated: each is tried. Every secret is registered for redaction.
 */
struct webhook_secrets;
/*
 * Read path with read_secret_file(): EXIT_PERM when group or others may
 * read it, EXIT_NOTFOUND when missing; EXIT_CONFIG for a whsec_ line
 * that is not base64 or a file without any secret.
 */
int webhook_secrets_load(const char *path, struct webhook_secrets **out);
/* The same from text, whose name is path in messages. */
int webhook_secrets_parse(const char *text, size_t len, const char *path,
			  struct webhook_secrets **out);
void webhook_secrets_free(struct webhook_secrets *s);

/*
 * The headers of a delivery of body, as name, value pairs appended to
 * headers. github: X-Hub-Signature-256 with the file's first GitHub
 * secret and X-GitHub-Delivery: id. standard: webhook-id: id,
 * webhook-timestamp: timestamp and a signature with every whsec_ key
 * (receivers that know any of them accept it). -EXIT_NOTFOUND when the
 * file has no secret of the scheme.
 */
int webhook_sign(const struct webhook_secrets *s, enum webhook_scheme scheme, const char *id,
		 int64_t timestamp, const char *body, size_t len, struct strvec *headers);
/* A fresh delivery id: a UUID (github), msg_ and 22 base64url characters (standard). */
void webhook_new_id(enum webhook_scheme scheme, struct strbuf *out);

/* Why a delivery is refused; each has its HTTP status and exit code. */
enum webhook_verdict {
	WEBHOOK_OK,
	WEBHOOK_MALFORMED,	/* 400, exit 2: a header missing or malformed, no JSON object */
	WEBHOOK_SIGNATURE,	/* 401, exit 3: no secret of the file signed it */
	WEBHOOK_WINDOW,		/* 400, exit 3: its time is outside the window */
	WEBHOOK_REPLAY,		/* 409, exit 5: its replay keys are claimed */
	WEBHOOK_LIMITED,	/* 429, exit 5: its org is over its rate limit */
};

/* A request header by case-insensitive name: its value, or NULL. */
typedef const char *webhook_header_fn(void *ctx, const char *name);
/* A webhook_header_fn over a strvec of "Name: value" lines. */
const char *webhook_header_in_lines(void *lines, const char *name);

struct webhook {
	enum webhook_scheme scheme;
	enum webhook_verdict verdict;
	const char *event;		/* X-GitHub-Event, or NULL */
	const char *id;			/* X-GitHub-Delivery or webhook-id */
	const char *hook_id;		/* X-GitHub-Hook-ID (github) */
	int64_t time;			/* the event's, in seconds; -1 when it has none */
	json_t *payload;		/* an object */
	char org[40];			/* lower case; "" when the payload names none */
	char *keys[2];			/* the replay keys */
	size_t keys_nr;
};
#define WEBHOOK_INIT { WEBHOOK_GITHUB, WEBHOOK_OK, NULL, NULL, NULL, -1, NULL, "", { NULL, NULL }, 0 }
void webhook_release(struct webhook *wh);

/*
 * Check a delivery of body, whose headers header() looks up, at now
 * (seconds) with a window of window seconds: the signature first,
 * then the payload (a JSON object), its time and org. The strings of
 * wh point into the headers.
 */
int webhook_check(struct webhook *wh, const struct webhook_secrets *s, webhook_header_fn *header,
		  void *ctx, const char *body, size_t len, int64_t window, int64_t now);

/*
 * The time of an event: for workflow_job, created_at, started_at or
 * completed_at of the workflow_job as the action is queued, in_progress
 * or completed; otherwise the newest time in the payload (fields named
 * timestamp or ending in _at, RFC 3339 strings or seconds since the
 * epoch). 1 with *secs, 0 when the payload has none, -EXIT_USAGE when
 * the field a workflow_job names is missing or malformed.
 */
int webhook_event_time(const char *event, const json_t *payload, int64_t *secs);

/*
 * Take one from the bucket webhook:ORG of the delivery's org (webhook:-
 * when it names none): 0, or -EXIT_BUSY with the wait in *retry_after_ms.
 */
int webhook_ratelimit(struct kv *kv, struct webhook *wh, const struct rate *rate, int64_t burst,
		      int64_t *retry_after_ms);

/* Claim the replay keys of a checked delivery: 0, or -EXIT_BUSY for a replay. */
int webhook_claim(struct kv *kv, struct webhook *wh, int64_t window);
/* Give them up: what the delivery asked for did not happen, a retry may. */
int webhook_unclaim(struct kv *kv, const struct webhook *wh);

/*
 * What a delivery asks of the job queue: a workflow_job whose labels
 * include every one of labels (lower case) adds the job gh-ID when
 * queued and finishes it when completed (success: succeeded, cancelled:
 * cancelled, anything else: failed, with the conclusion as reason).
 */
enum webhook_action {
	WEBHOOK_IGNORE,
	WEBHOOK_QUEUE,
	WEBHOOK_FINISH,
};
struct webhook_effect {
	enum webhook_action action;
	struct job job;			/* QUEUE: the job to add; FINISH: its id */
	int64_t run_id;
	enum job_state status;		/* FINISH */
	const char *reason;		/* FINISH: the conclusion, or NULL */
};
#define WEBHOOK_EFFECT_INIT { WEBHOOK_IGNORE, JOB_INIT, 0, JOB_QUEUED, NULL }
void webhook_effect_release(struct webhook_effect *e);

/* Read the effect of a checked delivery of body; WEBHOOK_MALFORMED when its job would be. */
int webhook_effect(struct webhook *wh, const struct strvec *labels, const char *body,
		   size_t len, struct webhook_effect *out);

/*
 * Do it. *result says what was done: "queued", "exists" (the job was
 * there), "finished", "finished_already", "unknown_job" (completed, but
 * never queued here), or "ignored". queue may be NULL (job_add()).
 */
int webhook_apply(struct store *st, struct kv *queue, struct webhook_effect *e,
		  const char **result);

struct http_server;
/*
 * POST /webhook on srv, for nimbus serve and nimbus webhook serve:
 * webhook.secret_file (read again when it changes), webhook.window,
 * webhook.labels, webhook.max_body, and the per-org limit
 * ratelimit.webhook with bursts of ratelimit.webhook_burst on the key
 * webhook:ORG. Fini after the server stopped.
 */
int webhook_service_init(struct http_server *srv);
void webhook_service_fini(void);

#endif
