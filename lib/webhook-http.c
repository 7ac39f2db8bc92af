#include "common.h"
#include "config.h"
#include "http-server.h"
#include "log.h"
#include "metrics.h"
#include "timeutil.h"
#include "webhook.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

/*
 * POST /webhook: a delivery is checked (signature, payload, time: 401 or
 * 400), held to its org's rate limit (429), claimed once (409), then
 * its effect is done (202, or 204 when it has none). The limit comes
 * before the claim, so that a limited delivery may be sent again.
 * Nothing is queued unless the answer is 202; a claim whose effect
 * failed is given up, so that a retry can succeed.
 */

/* How often the secret file is looked at for a change. */
#define RELOAD_CHECK_MS 1000

/* A worker thread's handles (a handle serves one thread at a time). */
struct handles {
	struct store *st;
	struct kv *kv;
};

static struct {
	const char *path;		/* webhook.secret_file; "" when unset */
	pthread_rwlock_t lock;		/* of secrets */
	struct webhook_secrets *secrets;
	pthread_mutex_t reload_lock;	/* of seen */
	struct stat seen;
	_Atomic int64_t next_check;	/* mono_ms() */
	pthread_key_t handles;
	int64_t window;
	struct strvec labels;
	struct rate rate;
	int64_t burst;
	struct metric *accepted, *rejected, *replays, *limited;
} svc;

static const struct {
	int status;
	const char *code, *name;
} verdicts[] = {
	[WEBHOOK_MALFORMED] = { 400, "BAD_REQUEST", "malformed" },
	[WEBHOOK_SIGNATURE] = { 401, "UNAUTHORIZED", "signature" },
	[WEBHOOK_WINDOW] = { 400, "BAD_REQUEST", "window" },
	[WEBHOOK_REPLAY] = { 409, "REPLAY", "replay" },
	[WEBHOOK_LIMITED] = { 429, "TOO_MANY_REQUESTS", "ratelimited" },
};

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * The secret file, read as the user the service became (serve.user),
 * not as the root that started it: say so when that is why it fails.
 */
static int load_secrets(struct webhook_secrets **out)
{
	int rc = webhook_secrets_load(svc.path, out);
	char *msg;

	if (rc != -EXIT_PERM || !access(svc.path, R_OK) || errno != EACCES)
		return rc;
	msg = xstrdup(fail_message());
	rc = fail(EXIT_PERM, "%s as uid %u: the file must be serve.user's", msg,
		  (unsigned)geteuid());
	free(msg);
	return rc;
}

/*
 * Read the secret file again when it changed (a rotation), at most once
 * per RELOAD_CHECK_MS and by one thread; a file that cannot be used
 * leaves the secrets as they were.
 */
static void reload_secrets(void)
{
	int64_t now = mono_ms();
	struct webhook_secrets *fresh, *old;
	struct stat st;
	int rc;

	if (now < atomic_load(&svc.next_check) || pthread_mutex_trylock(&svc.reload_lock))
		return;
	atomic_store(&svc.next_check, now + RELOAD_CHECK_MS);
	if (stat(svc.path, &st) || same_file(&st, &svc.seen)) {
		pthread_mutex_unlock(&svc.reload_lock);
		return;
	}
	svc.seen = st;
	rc = load_secrets(&fresh);
	if (!rc) {
		pthread_rwlock_wrlock(&svc.lock);
		old = svc.secrets;
		svc.secrets = fresh;
		pthread_rwlock_unlock(&svc.lock);
		webhook_secrets_free(old);
	}
	pthread_mutex_unlock(&svc.reload_lock);
	if (rc)
		error("keeping the webhook secrets read before: %s", fail_message());
	else
		log_kv(LOG_INFO, "webhook secrets read again", "file", svc.path, NULL);
}

static const char *request_header(void *req, const char *name)
{
	return http_header(req, name);
}

static int check(struct http_request *req, struct webhook *wh)
{
	int rc;

	reload_secrets();
	pthread_rwlock_rdlock(&svc.lock);
	rc = webhook_check(wh, svc.secrets, request_header, req, req->body.buf, req->body.len,
			   svc.window, now_ms() / 1000);
	pthread_rwlock_unlock(&svc.lock);
	return rc;
}

static void close_handles(void *p)
{
	struct handles *h = p;

	kv_close(h->kv);
	store_close(h->st);
	free(h);
}

/* This thread's store and kv, opened on first use and closed when the thread ends. */
static int thread_handles(struct handles **out)
{
	struct handles *h = pthread_getspecific(svc.handles);
	int rc;

	if (h) {
		*out = h;
		return 0;
	}
	h = xcalloc(1, sizeof(*h));
	rc = store_open(&h->st, 0);
	if (!rc)
		rc = kv_open(&h->kv, h->st);
	if (rc) {
		store_close(h->st);
		free(h);
		return rc;
	}
	pthread_setspecific(svc.handles, h);
	*out = h;
	return 0;
}

static void refused(struct http_request *req, const struct webhook *wh, int64_t retry_after_ms)
{
	const char *name = verdicts[wh->verdict].name;
	char after[24];

	if (wh->verdict == WEBHOOK_REPLAY) {
		metric_add(svc.replays, NULL, 1);
	} else if (wh->verdict == WEBHOOK_LIMITED) {
		metric_add(svc.limited, (const char *[]){ *wh->org ? wh->org : "-" }, 1);
		xsnprintf(after, sizeof(after), "%" PRId64, (retry_after_ms + 999) / 1000);
		http_reply_header(req, "Retry-After", after);
	} else {
		metric_add(svc.rejected, (const char *[]){ name }, 1);
	}
	log_kv(LOG_INFO, "webhook refused", "delivery", wh->id ? wh->id : "-", "reason", name,
	       "message", fail_message(), NULL);
	http_reply_error(req, verdicts[wh->verdict].status, verdicts[wh->verdict].code, "%s",
			 fail_message());
}

static void accepted(struct http_request *req, const struct webhook *wh,
		     const struct webhook_effect *e, const char *result)
{
	bool none = e->action == WEBHOOK_IGNORE || !strcmp(result, "unknown_job");
	json_t *doc;

	metric_add(svc.accepted, (const char *[]){ result }, 1);
	log_kv(none ? LOG_DEBUG : LOG_INFO, "webhook", "delivery", wh->id, "event",
	       wh->event ? wh->event : "-", "result", result, e->job.id ? "job" : NULL, e->job.id,
	       NULL);
	if (none) {
		http_reply_status(req, 204);
		return;
	}
	doc = json_pack("{s:s, s:s, s:s, s:s, s:s}", "delivery", wh->id,
			"scheme", webhook_scheme_names[wh->scheme], "event", wh->event,
			"job", e->job.id, "result", result);
	if (e->run_id)
		json_object_set_new(doc, "run_id", json_integer(e->run_id));
	http_reply_json(req, 202, doc);
}

static void webhook_post(struct http_request *req)
{
	struct webhook wh = WEBHOOK_INIT;
	struct webhook_effect e = WEBHOOK_EFFECT_INIT;
	struct handles *h = NULL;
	const char *result = NULL;
	int64_t retry_after_ms = 0;
	bool claimed;
	int rc;

	if (!*svc.path) {
		http_reply_error(req, 503, "UNAVAILABLE", "no webhook secrets: webhook.secret_file "
				 "is not set");
		return;
	}
	rc = check(req, &wh);
	if (!rc)
		rc = webhook_effect(&wh, &svc.labels, req->body.buf, req->body.len, &e);
	if (!rc)
		rc = thread_handles(&h);
	if (!rc)
		rc = webhook_ratelimit(h->kv, &wh, &svc.rate, svc.burst, &retry_after_ms);
	claimed = !rc && !(rc = webhook_claim(h->kv, &wh, svc.window));
	if (claimed)
		rc = webhook_apply(h->st, kv_has_queue(h->kv) ? h->kv : NULL, &e, &result);
	if (!rc)
		accepted(req, &wh, &e, result);
	else if (wh.verdict)
		refused(req, &wh, retry_after_ms);
	else
		http_reply_fail(req, rc);
	/* claimed, but not done: a retry may do it */
	if (rc && claimed && webhook_unclaim(h->kv, &wh) < 0)
		error("delivery %s stays claimed: %s", wh.id, fail_message());
	webhook_effect_release(&e);
	webhook_release(&wh);
}

int webhook_service_init(struct http_server *srv)
{
	static const char *const result_labels[] = { "result", NULL };
	static const char *const reason_labels[] = { "reason", NULL };
	static const char *const org_labels[] = { "org", NULL };
	struct http_route route = {
		.path = "/webhook", .methods = HTTP_POST, .name = "webhook",
		.max_body = cfg_size("webhook.max_body"), .handler = webhook_post,
	};
	pthread_rwlockattr_t attr;
	int rc;

	if (job_labels_parse(cfg_str("webhook.labels"), &svc.labels))
		BUG("webhook.labels passed its check but does not parse");
	svc.path = cfg_str("webhook.secret_file");
	svc.window = cfg_int("webhook.window");
	svc.rate = cfg_rate("ratelimit.webhook");
	svc.burst = cfg_int("ratelimit.webhook_burst");
	if (!*svc.path) {
		log_info("webhook.secret_file is not set: /webhook refuses every delivery");
	} else {
		/* first: a change while it is read is seen by the next check */
		if (stat(svc.path, &svc.seen))
			memset(&svc.seen, 0, sizeof(svc.seen));
		rc = load_secrets(&svc.secrets);
		if (rc)
			return rc;
	}
	atomic_init(&svc.next_check, mono_ms() + RELOAD_CHECK_MS);
	/* a reload waits for the checks under way, not for a stream of them */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&svc.lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&svc.reload_lock, NULL);
	pthread_key_create(&svc.handles, close_handles);
	svc.accepted = metric_counter("nimbus_webhook_accepted_total",
				      "Webhook deliveries accepted, by what they did.", result_labels);
	svc.rejected = metric_counter("nimbus_webhook_rejected_total",
				      "Webhook deliveries refused, by reason.", reason_labels);
	svc.replays = metric_counter("nimbus_webhook_replays_total",
				     "Webhook deliveries refused as replays.", NULL);
	svc.limited = metric_counter("nimbus_webhook_ratelimited_total",
				     "Webhook deliveries refused by the rate limit, by org.", org_labels);
	http_server_add_routes(srv, &route, 1);
	return 0;
}

void webhook_service_fini(void)
{
	pthread_key_delete(svc.handles);
	pthread_rwlock_destroy(&svc.lock);
	pthread_mutex_destroy(&svc.reload_lock);
	webhook_secrets_free(svc.secrets);
	strvec_clear(&svc.labels);
	memset(&svc, 0, sizeof(svc));
}
