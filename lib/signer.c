#include "common.h"
#include "signer.h"

#include "keyset.h"
#include "log.h"
#include "sandbox.h"
#include "spawn.h"

#include <pthread.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

/* A request or a reply, one datagram each: claims are small, tokens too. */
#define SIGNER_MSG_MAX (64 * 1024)

static struct {
	int fd;
	pid_t pid;
	pthread_mutex_t lock;	/* one request in flight */
} signer = { -1, 0, PTHREAD_MUTEX_INITIALIZER };

static void set_str(json_t *o, const char *name, const char *v)
{
	if (v)
		json_object_set_new(o, name, json_string(v));
}

static json_t *request_json(const struct token_spec *spec, int64_t now)
{
	json_t *o = json_pack("{s:I, s:I}", "now", (json_int_t)now, "ttl", (json_int_t)spec->ttl);
	json_t *scopes = json_array();

	set_str(o, "iss", spec->iss);
	set_str(o, "aud", spec->aud);
	set_str(o, "sub", spec->sub);
	set_str(o, "repo", spec->repo);
	set_str(o, "job", spec->job);
	set_str(o, "runner", spec->runner);
	for (size_t i = 0; spec->scopes && i < spec->scopes->nr; i++)
		json_array_append_new(scopes, json_string(spec->scopes->v[i]));
	json_object_set_new(o, "scopes", scopes);
	return o;
}

static const char *get_str(json_t *o, const char *name)
{
	return json_string_value(json_object_get(o, name));
}

static int mint_here(const char *keys_dir, const struct token_spec *spec, int64_t now,
		     struct strbuf *out)
{
	struct jose_key *k;
	int rc = keydir_signing_key(keys_dir, now, &k);

	if (!rc) {
		rc = token_mint(k, spec, now, out);
		jose_key_free(k);
	}
	return rc;
}

json_t *signer_answer(const char *keys_dir, const char *buf, size_t len)
{
	struct strvec scopes = STRVEC_INIT;
	struct strbuf token = STRBUF_INIT;
	json_t *req = json_loadb(buf, len, 0, NULL), *v, *reply;
	json_int_t now, ttl;
	size_t i;
	int rc;

	if (!json_is_object(req) || json_unpack(req, "{s:I, s:I}", "now", &now, "ttl", &ttl)) {
		json_decref(req);
		return json_pack("{s:i, s:s}", "code", EXIT_FAIL, "error", "a malformed request");
	}
	json_array_foreach(json_object_get(req, "scopes"), i, v)
		if (json_is_string(v))
			strvec_push(&scopes, json_string_value(v));
	rc = mint_here(keys_dir, &(struct token_spec){
		.iss = get_str(req, "iss"), .aud = get_str(req, "aud"), .sub = get_str(req, "sub"),
		.repo = get_str(req, "repo"), .job = get_str(req, "job"),
		.runner = get_str(req, "runner"), .scopes = &scopes, .ttl = ttl }, now, &token);
	if (rc)
		reply = json_pack("{s:i, s:s}", "code", fail_code(rc), "error", fail_message());
	else
		reply = json_pack("{s:s%}", "token", token.buf, token.len);
	strbuf_release_secret(&token);
	strvec_clear(&scopes);
	json_decref(req);
	return reply;
}

static NORETURN void run_signer(int fd, const char *keys_dir)
{
	char *buf = xmalloc(SIGNER_MSG_MAX);
	int rc;

	/* with its server gone, nothing to sign for */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "nimbus-signer");
	if (dup2(fd, 3) < 0)
		_exit(EXIT_FAIL);
	close_fds_except(3);
	rc = sandbox_drop(NULL);
	if (!rc)
		rc = sandbox_seccomp_serve();
	if (rc) {
		report_fail(rc);
		_exit(fail_code(rc));
	}
	for (;;) {
		ssize_t n = recv(3, buf, SIGNER_MSG_MAX, 0);
		json_t *reply;
		char *text;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		reply = signer_answer(keys_dir, buf, n);
		text = json_dumps(reply, JSON_COMPACT);
		if (send(3, text, strlen(text), MSG_NOSIGNAL) < 0)
			break;
		free_secret_str(text);
		json_decref(reply);
	}
	_exit(0);
}

int signer_start(const char *keys_dir)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return fail_errno(EXIT_FAIL, "cannot make the signer's socket pair");
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return fail_errno(EXIT_FAIL, "cannot fork the signer");
	}
	if (!pid)
		run_signer(sv[1], keys_dir);
	close(sv[1]);
	signer.fd = sv[0];
	signer.pid = pid;
	log_debug("signer started: pid %d", (int)pid);
	return 0;
}

static int parse_reply(const char *buf, size_t len, struct strbuf *out)
{
	json_t *reply = json_loadb(buf, len, 0, NULL);
	const char *token = get_str(reply, "token");
	int rc = 0;

	if (token)
		strbuf_addstr(out, token);
	else if (json_is_integer(json_object_get(reply, "code")))
		rc = fail((int)json_integer_value(json_object_get(reply, "code")), "%s",
			  get_str(reply, "error") ? get_str(reply, "error") : "the signer failed");
	else
		rc = fail(EXIT_FAIL, "the signer's reply is malformed");
	json_decref(reply);
	return rc;
}

int signer_mint(const char *keys_dir, const struct token_spec *spec, int64_t now,
		struct strbuf *out)
{
	json_t *req;
	char *text, *buf;
	ssize_t n = -1;
	int rc;

	if (signer.fd < 0)
		return mint_here(keys_dir, spec, now, out);
	req = request_json(spec, now);
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	buf = xmalloc(SIGNER_MSG_MAX);
	pthread_mutex_lock(&signer.lock);
	if (send(signer.fd, text, strlen(text), MSG_NOSIGNAL) >= 0) {
		do
			n = recv(signer.fd, buf, SIGNER_MSG_MAX, 0);
		while (n < 0 && errno == EINTR);
	}
	pthread_mutex_unlock(&signer.lock);
	rc = n > 0 ? parse_reply(buf, n, out) : fail(EXIT_UNAVAILABLE, "the signer is gone");
	free_secret(buf, SIGNER_MSG_MAX);
	free(text);
	return rc;
}

void signer_stop(void)
{
	if (signer.fd < 0)
		return;
	close(signer.fd);
	signer.fd = -1;
	while (waitpid(signer.pid, NULL, 0) < 0 && errno == EINTR)
		;
	signer.pid = 0;
}
