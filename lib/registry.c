#include "common.h"
#include "blobdir.h"
#include "config.h"
#include "http-range.h"
#include "log.h"
#include "oci.h"
#include "parse-num.h"
#include "registry-internal.h"
#include "token.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sys/stat.h>

/* The most tags one answer lists; a Link leads to the rest. */
#define TAGS_MAX 1000
/* Hash states kept between the requests of upload sessions. */
#define HASHES_MAX 1024
/* Upload data is written in pieces of this size, not as the server hands it over. */
#define WRITE_CHUNK (256 * 1024)

struct registry_state reg;

/* Each worker thread has a store of its own, opened on first use. */
static void close_store(void *st)
{
	store_close(st);
}

int registry_thread_store(struct store **out)
{
	struct store *st = pthread_getspecific(reg.store_key);
	int rc;

	if (!st) {
		rc = store_open(&st, 0);
		if (rc)
			return rc;
		if (pthread_setspecific(reg.store_key, st))
			die("pthread_setspecific failed");
	}
	*out = st;
	return 0;
}

/*
 * The SHA-256 of an upload, carried from one request of its session to
 * the next, so that closing it costs no second read of the data. A
 * state hashed offset bytes; one that fell behind the data (another
 * process took a chunk, or it was evicted) is dropped and the data read
 * again at the end.
 */
struct hash_state {
	struct hash_state *next;
	char id[OCI_UPLOAD_ID_LEN + 1];
	EVP_MD_CTX *ctx;
	uint64_t offset;
};

static pthread_mutex_t hashes_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hash_state *hashes;

static struct hash_state *hash_new(const char *id)
{
	struct hash_state *h = xcalloc(1, sizeof(*h));

	memcpy(h->id, id, sizeof(h->id));
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || !EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL))
		die("SHA-256 failed");
	return h;
}

static void hash_free(struct hash_state *h)
{
	if (h) {
		EVP_MD_CTX_free(h->ctx);
		free(h);
	}
}

/* Take id's state out of the cache (the caller owns it now), or NULL. */
static struct hash_state *hash_take(const char *id)
{
	struct hash_state **p, *h = NULL;

	pthread_mutex_lock(&hashes_lock);
	for (p = &hashes; *p; p = &(*p)->next) {
		if (!strcmp((*p)->id, id)) {
			h = *p;
			*p = h->next;
			break;
		}
	}
	pthread_mutex_unlock(&hashes_lock);
	return h;
}

/* Keep a state for the next request; the oldest go beyond HASHES_MAX. */
static void hash_put(struct hash_state *h)
{
	struct hash_state *evicted = NULL, **p;
	size_t n = 0;

	pthread_mutex_lock(&hashes_lock);
	h->next = hashes;
	hashes = h;
	for (p = &hashes; *p && ++n <= HASHES_MAX; p = &(*p)->next)
		;
	evicted = *p;
	*p = NULL;
	pthread_mutex_unlock(&hashes_lock);
	while (evicted) {
		h = evicted->next;
		hash_free(evicted);
		evicted = h;
	}
}

enum body_kind {
	BODY_NONE,
	BODY_MANIFEST,
	BODY_UPLOAD,
};

/* One request under /v2/. */
struct call {
	struct oci_path path;
	struct token_claims claims;
	struct store *st;
	enum body_kind body;
	struct strbuf manifest;
	/* an upload: its data file, held locked while this request writes */
	char id[OCI_UPLOAD_ID_LEN + 1];
	int fd;
	uint64_t size;		/* received, the unwritten included */
	struct strbuf unwritten;
	struct hash_state *hash;
	bool created;		/* by this request, which must complete it */
	bool ended;		/* completed or cancelled */
};

/* An error in the spec's form, with one of its codes. */
#define oci_error(req, status, e, ...) http_reply_error(req, status, oci_error_code(e), __VA_ARGS__)

static void header_f(struct http_request *req, const char *name, const char *fmt, ...) PRINTF(3, 4);
static void header_f(struct http_request *req, const char *name, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	http_reply_header(req, name, sb.buf);
	strbuf_release(&sb);
}

/* The realm of challenges: registry.realm, or /token on the host the client asked for. */
static void add_realm(struct http_request *req, struct strbuf *sb)
{
	const char *host = http_header(req, "Host");

	if (*reg.realm)
		strbuf_addstr(sb, reg.realm);
	else if (host && *host && strspn(host, "abcdefghijklmnopqrstuvwxyz"
					 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") == strlen(host))
		strbuf_addf(sb, "http://%s/token", host);
	else
		strbuf_addstr(sb, "/token");
}

const char *const registry_actions[3] = { "pull", "push", "delete" };

/*
 * 401 with the challenge of the token flow, naming the scope the request
 * needs (Docker clients ask for pull with push).
 */
static void challenge(struct http_request *req, const char *name, unsigned actions,
		      bool insufficient, const char *why)
{
	struct strbuf ch = STRBUF_INIT;

	strbuf_addstr(&ch, "Bearer realm=\"");
	add_realm(req, &ch);
	strbuf_addstr(&ch, "\",service=\"nimbus\"");
	if (actions) {
		if (actions & OCI_PUSH)
			actions |= OCI_PULL;
		strbuf_addf(&ch, ",scope=\"repository:%s:", name);
		for (size_t i = 0, n = 0; i < ARRAY_SIZE(registry_actions); i++)
			if (actions & (1u << i))
				strbuf_addf(&ch, "%s%s", n++ ? "," : "", registry_actions[i]);
		strbuf_addch(&ch, '"');
	}
	if (insufficient)
		strbuf_addstr(&ch, ",error=\"insufficient_scope\"");
	http_reply_header(req, "WWW-Authenticate", ch.buf);
	oci_error(req, 401, OCI_UNAUTHORIZED, "%s", why);
	strbuf_release(&ch);
}

/* What each endpoint allows, and the actions on the repository's org each needs. */
static const struct {
	enum oci_endpoint ep;
	unsigned methods, actions;
} needs[] = {
	{ OCI_BASE, HTTP_GET | HTTP_HEAD, 0 },
	{ OCI_BLOB, HTTP_GET | HTTP_HEAD, OCI_PULL },
	{ OCI_BLOB, HTTP_DELETE, OCI_DELETE },
	{ OCI_MANIFEST, HTTP_GET | HTTP_HEAD, OCI_PULL },
	{ OCI_MANIFEST, HTTP_PUT, OCI_PUSH },
	{ OCI_MANIFEST, HTTP_DELETE, OCI_DELETE },
	{ OCI_TAGS, HTTP_GET | HTTP_HEAD, OCI_PULL },
	{ OCI_REFERRERS, HTTP_GET | HTTP_HEAD, OCI_PULL },
	{ OCI_UPLOADS, HTTP_POST, OCI_PUSH },
	{ OCI_UPLOAD, HTTP_GET | HTTP_PATCH | HTTP_PUT | HTTP_DELETE, OCI_PUSH },
};

/* 0 and the actions, or -1 after a 405. */
static int allowed(struct http_request *req, enum oci_endpoint ep, unsigned *actions)
{
	struct strbuf allow = STRBUF_INIT;
	unsigned methods = 0;

	for (size_t i = 0; i < ARRAY_SIZE(needs); i++) {
		if (needs[i].ep != ep)
			continue;
		if (needs[i].methods & req->method_bit) {
			*actions = needs[i].actions;
			return 0;
		}
		methods |= needs[i].methods;
	}
	http_methods_format(&allow, methods);
	http_reply_header(req, "Allow", allow.buf);
	oci_error(req, 405, OCI_UNSUPPORTED, "method %s not allowed here; allowed: %s", req->method,
		  allow.buf);
	strbuf_release(&allow);
	return -1;
}

/* The bearer token must be the registry's and grant actions on the org: 0, or -1 after a 401. */
static int authorize(struct http_request *req, struct call *c, unsigned actions)
{
	static const struct token_want want = { .aud = "registry" };
	const char *token = http_bearer(req);

	if (!token) {
		challenge(req, c->path.name, actions, false, "authentication required");
		return -1;
	}
	if (token_verify(reg.verifier, token, strlen(token), &want, &c->claims)) {
		challenge(req, c->path.name, actions, false, fail_message());
		return -1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(registry_actions); i++) {
		if ((actions & (1u << i)) && !token_allows(&c->claims, registry_actions[i], c->path.org)) {
			struct strbuf why = STRBUF_INIT;

			strbuf_addf(&why, "the token does not grant %s:%s", registry_actions[i], c->path.org);
			challenge(req, c->path.name, actions, true, why.buf);
			strbuf_release(&why);
			return -1;
		}
	}
	return 0;
}

static int path_status(enum oci_error e)
{
	return e == OCI_UNSUPPORTED || e == OCI_BLOB_UPLOAD_UNKNOWN ? 404 : 400;
}

/* Location and Range of an upload session. */
static void upload_headers(struct http_request *req, struct call *c)
{
	header_f(req, "Location", "/v2/%s/blobs/uploads/%s", c->path.name, c->id);
	header_f(req, "Range", "0-%" PRIu64, c->size ? c->size - 1 : 0);
	http_reply_header(req, "Docker-Upload-UUID", c->id);
}

/* Let go of the upload's file and hash state: before the reply, so that the next chunk may come. */
static void upload_release(struct call *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->hash && !c->ended)
		hash_put(c->hash);
	else
		hash_free(c->hash);
	c->hash = NULL;
}

/* End an upload session: its row, its data, its hash state. */
static void upload_end(struct call *c)
{
	int rc = store_reg_upload_end(c->st, c->id);

	if (!rc)
		rc = blobdir_upload_remove(&reg.dir, c->id);
	if (rc)
		error("upload %s: %s", c->id, fail_message());
	c->ended = true;
	upload_release(c);
}

static int new_upload(struct call *c)
{
	unsigned char raw[OCI_UPLOAD_ID_LEN / 2];
	int rc;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		die("no randomness for an upload id");
	for (size_t i = 0; i < sizeof(raw); i++)
		xsnprintf(c->id + 2 * i, 3, "%02x", raw[i]);
	/* the row first: gc ends sessions by their rows */
	rc = store_reg_upload_new(c->st, c->id, c->path.name);
	if (rc)
		return rc;
	c->fd = blobdir_upload_create(&reg.dir, c->id);
	if (c->fd < 0) {
		rc = c->fd;
		store_reg_upload_end(c->st, c->id);
		return rc;
	}
	c->hash = hash_new(c->id);
	return 0;
}

/* A session's next request: its data file, locked, and where it stands. */
static int open_upload(struct call *c)
{
	struct stat st;
	int rc = store_reg_upload_touch(c->st, c->path.ref, c->path.name);

	if (rc)
		return rc;
	memcpy(c->id, c->path.ref, sizeof(c->id));
	c->fd = blobdir_upload_open(&reg.dir, c->id);
	if (c->fd < 0)
		return c->fd;
	if (fstat(c->fd, &st) < 0)
		return fail_errno(EXIT_FAIL, "cannot stat upload %s", c->id);
	c->size = st.st_size;
	c->hash = hash_take(c->id);
	if (c->hash && c->hash->offset != c->size) {
		hash_free(c->hash);
		c->hash = NULL;
	}
	if (!c->hash && !c->size)
		c->hash = hash_new(c->id);
	return 0;
}

/* A chunk's Content-Range must start where the data ends: 0, or -1 after a 416. */
static int check_chunk(struct http_request *req, struct call *c)
{
	const char *range = http_header(req, "Content-Range");
	const char *cl = http_header(req, "Content-Length");
	uint64_t first, last, len;

	if (!range)
		return 0;
	if (oci_chunk_range_parse(range, &first, &last) || first != c->size ||
	    (cl && (parse_u64(cl, UINT64_MAX, &len) || len != last - first + 1))) {
		upload_release(c);
		upload_headers(req, c);
		oci_error(req, 416, OCI_BLOB_UPLOAD_INVALID,
			  "chunk %s out of order: the upload has %" PRIu64 " bytes", range, c->size);
		return -1;
	}
	return 0;
}

static void reply_fail(struct http_request *req, struct call *c, int rc)
{
	if (c->fd >= 0)
		upload_release(c);
	http_reply_fail(req, rc);
}

/* A store's answer that is not 0: a missing row as the spec's error e, anything else as a failure. */
static void store_error(struct http_request *req, int rc, enum oci_error e)
{
	if (rc == -EXIT_NOTFOUND)
		oci_error(req, 404, e, "%s", fail_message());
	else
		http_reply_fail(req, rc);
}

/* Whether more bytes after have go past max. */
static bool over(uint64_t have, uint64_t more, uint64_t max)
{
	return have > max || more > max - have;
}

/* Content-Length above the limit: 0, or -1 after a 413. */
static int check_length(struct http_request *req, struct call *c, uint64_t have, uint64_t max,
			enum oci_error e)
{
	const char *cl = http_header(req, "Content-Length");
	uint64_t len;

	if (!cl || parse_u64(cl, UINT64_MAX, &len) || !over(have, len, max))
		return 0;
	if (c->fd >= 0)
		upload_release(c);
	oci_error(req, 413, e, "larger than %" PRIu64 " bytes", max);
	return -1;
}

/*
 * An upload that cannot fit in the org's quota is refused before its
 * body comes, unless it names a blob the org has (which costs nothing):
 * 0, or -1 after a 403. Without a Content-Length, the link decides.
 */
static int check_quota(struct http_request *req, struct call *c, const char *digest)
{
	const char *cl = http_header(req, "Content-Length");
	uint64_t len;
	int64_t size;
	int rc;

	if (!cl || parse_u64(cl, INT64_MAX, &len) || (digest && !store_reg_blob(c->st, c->path.org, digest, &size)))
		return 0;
	rc = store_reg_quota_check(c->st, c->path.org, c->size + len, reg.quota);
	if (!rc)
		return 0;
	upload_release(c);
	if (rc == -EXIT_REJECTED)
		oci_error(req, 403, OCI_DENIED, "%s", fail_message());
	else
		http_reply_fail(req, rc);
	return -1;
}

/* Get ready for the body of an upload (a chunk, a last chunk, or a whole blob). */
static void start_upload(struct http_request *req, struct call *c)
{
	const char *digest = http_query(req, "digest");
	bool monolithic = c->path.endpoint == OCI_UPLOADS;
	int rc;

	if (monolithic && !digest)
		return;		/* a session starts, or a mount */
	if ((monolithic || req->method_bit == HTTP_PUT) && (!digest || !oci_digest_valid(digest))) {
		oci_error(req, 400, OCI_DIGEST_INVALID, "want ?digest=sha256:HEX");
		return;
	}
	rc = monolithic ? new_upload(c) : open_upload(c);
	c->created = monolithic && !rc;
	if (rc == -EXIT_NOTFOUND) {
		store_error(req, rc, OCI_BLOB_UPLOAD_UNKNOWN);
		return;
	}
	if (rc == -EXIT_BUSY) {
		/* another request is writing: the client asks where it stands, then goes on */
		header_f(req, "Location", "/v2/%s/blobs/uploads/%s", c->path.name, c->id);
		oci_error(req, 416, OCI_BLOB_UPLOAD_INVALID, "%s", fail_message());
		return;
	}
	if (rc) {
		reply_fail(req, c, rc);
		return;
	}
	if (check_chunk(req, c) || check_length(req, c, c->size, reg.max_blob, OCI_SIZE_INVALID) ||
	    check_quota(req, c, digest))
		return;
	c->body = BODY_UPLOAD;
}

static void v2_start(struct http_request *req)
{
	struct call *c = xcalloc(1, sizeof(*c));
	struct strbuf msg = STRBUF_INIT;
	const char *rest;
	enum oci_error e;
	unsigned actions;
	int rc;

	c->fd = -1;
	c->claims = (struct token_claims)TOKEN_CLAIMS_INIT;
	strbuf_init(&c->manifest, 0);
	strbuf_init(&c->unwritten, 0);
	req->ctx = c;
	http_reply_header(req, "Docker-Distribution-API-Version", "registry/2.0");
	/* the routes are /v2 and /v2/... */
	rest = req->path + 3;
	if (*rest == '/')
		rest++;
	if (oci_path_parse(rest, &c->path, &e, &msg)) {
		oci_error(req, path_status(e), e, "%s", msg.buf);
		strbuf_release(&msg);
		return;
	}
	if (allowed(req, c->path.endpoint, &actions) || authorize(req, c, actions))
		return;
	rc = registry_thread_store(&c->st);
	if (rc) {
		http_reply_fail(req, rc);
		return;
	}
	if (c->path.endpoint == OCI_MANIFEST && req->method_bit == HTTP_PUT) {
		if (!check_length(req, c, 0, reg.max_manifest, OCI_MANIFEST_INVALID))
			c->body = BODY_MANIFEST;
	} else if (c->path.endpoint == OCI_UPLOADS || (c->path.endpoint == OCI_UPLOAD &&
		   (req->method_bit == HTTP_PATCH || req->method_bit == HTTP_PUT))) {
		start_upload(req, c);
	}
}

static int write_unwritten(struct call *c)
{
	if (write_in_full(c->fd, c->unwritten.buf, c->unwritten.len) < 0)
		return fail_errno(EXIT_FAIL, "cannot write upload %s", c->id);
	strbuf_reset(&c->unwritten);
	return 0;
}

static void v2_body(struct http_request *req, const char *data, size_t len)
{
	struct call *c = req->ctx;
	int rc;

	switch (c->body) {
	case BODY_MANIFEST:
		if (over(c->manifest.len, len, reg.max_manifest))
			oci_error(req, 413, OCI_MANIFEST_INVALID, "larger than %" PRIu64 " bytes",
				  reg.max_manifest);
		else
			strbuf_add(&c->manifest, data, len);
		break;
	case BODY_UPLOAD:
		if (over(c->size, len, reg.max_blob)) {
			upload_release(c);
			oci_error(req, 413, OCI_SIZE_INVALID, "larger than %" PRIu64 " bytes", reg.max_blob);
		} else {
			if (c->hash && c->hash->offset == c->size) {
				if (!EVP_DigestUpdate(c->hash->ctx, data, len))
					die("SHA-256 failed");
				c->hash->offset += len;
			}
			c->size += len;
			strbuf_add(&c->unwritten, data, len);
			if (c->unwritten.len >= WRITE_CHUNK && (rc = write_unwritten(c)))
				reply_fail(req, c, rc);
		}
		break;
	case BODY_NONE:
		oci_error(req, 413, OCI_SIZE_INVALID, "%s %s takes no body", req->method, req->path);
		break;
	}
}

/* The digest of the upload's data: from the state carried along, else by reading it. */
static int upload_digest(struct call *c, char out[OCI_DIGEST_LEN + 1])
{
	unsigned char sha[EVP_MAX_MD_SIZE];
	char *buf;
	uint64_t off = 0;
	int rc = 0;

	if (c->hash && c->hash->offset == c->size) {
		if (!EVP_DigestFinal_ex(c->hash->ctx, sha, NULL))
			die("SHA-256 failed");
		oci_digest_format(sha, out);
		hash_free(c->hash);
		c->hash = NULL;
		return 0;
	}
	hash_free(c->hash);
	c->hash = hash_new(c->id);
	buf = xmalloc(1 << 20);
	while (!rc && off < c->size) {
		ssize_t n = pread(c->fd, buf, 1 << 20, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = fail_errno(EXIT_FAIL, "cannot read upload %s", c->id);
		else if (!EVP_DigestUpdate(c->hash->ctx, buf, n))
			die("SHA-256 failed");
		else
			off += n;
	}
	free(buf);
	if (!rc) {
		c->hash->offset = off;
		return upload_digest(c, out);
	}
	return rc;
}

/*
 * The upload is complete: check its digest, then make it the blob and
 * link it to the org, under the blob's shard lock, in one transaction
 * with the quota check. A blob refused for the quota is removed again
 * unless another org links it.
 */
static void finish_upload(struct http_request *req, struct call *c, const char *digest)
{
	char got[OCI_DIGEST_LEN + 1];
	int shard, rc = upload_digest(c, got);

	if (!rc && strcmp(got, digest)) {
		upload_end(c);
		oci_error(req, 400, OCI_DIGEST_INVALID, "the data's digest is %s, not %s", got, digest);
		return;
	}
	shard = rc ? rc : blobdir_lock(&reg.dir, digest);
	rc = shard < 0 ? shard : blobdir_commit(&reg.dir, shard, c->id, c->fd, digest);
	if (!rc) {
		rc = store_reg_link(c->st, c->path.org, digest, c->size, reg.quota);
		if (rc == -EXIT_REJECTED && store_reg_blob_drop(c->st, digest, false) == 1)
			blobdir_remove(&reg.dir, shard, digest);
	}
	if (shard >= 0)
		close(shard);
	if (rc < 0) {
		/* past the lock, the data is a blob now or could not become one */
		if (shard >= 0)
			upload_end(c);
		if (rc == -EXIT_REJECTED)
			oci_error(req, 403, OCI_DENIED, "%s", fail_message());
		else
			reply_fail(req, c, rc);
		return;
	}
	upload_end(c);
	header_f(req, "Location", "/v2/%s/blobs/%s", c->path.name, digest);
	http_reply_header(req, "Docker-Content-Digest", digest);
	http_reply_status(req, 201);
}

/*
 * POST ?mount=DIGEST&from=NAME: a blob the org links already, or one
 * that an org it may pull from links (another org gets its own link,
 * charged to its quota). false when it cannot be mounted: then a session
 * starts, as the spec wants, saying nothing of whether the blob exists.
 */
static bool mount(struct http_request *req, struct call *c, const char *digest)
{
	const char *from = http_query(req, "from");
	char from_org[sizeof(c->path.org)];
	int64_t size;
	int shard, rc;

	if (from && !oci_name_valid(from, strlen(from)))
		return false;
	xsnprintf(from_org, sizeof(from_org), "%.*s", (int)oci_name_org_len(from ? from : c->path.name),
		  from ? from : c->path.name);
	if (!token_allows(&c->claims, "pull", from_org))
		return false;
	rc = store_reg_blob(c->st, from_org, digest, &size);
	if (!rc && strcmp(from_org, c->path.org)) {
		shard = blobdir_lock(&reg.dir, digest);
		rc = shard < 0 ? shard : store_reg_link(c->st, c->path.org, digest, size, reg.quota);
		if (shard >= 0)
			close(shard);
	}
	if (rc == -EXIT_NOTFOUND)
		return false;
	if (rc == -EXIT_REJECTED)
		oci_error(req, 403, OCI_DENIED, "%s", fail_message());
	else if (rc < 0)
		http_reply_fail(req, rc);
	else {
		header_f(req, "Location", "/v2/%s/blobs/%s", c->path.name, digest);
		http_reply_header(req, "Docker-Content-Digest", digest);
		http_reply_status(req, 201);
	}
	return true;
}

static void post_upload(struct http_request *req, struct call *c)
{
	const char *digest = http_query(req, "mount");
	int rc;

	if (c->body == BODY_UPLOAD) {
		finish_upload(req, c, http_query(req, "digest"));
		return;
	}
	if (digest && !oci_digest_valid(digest)) {
		oci_error(req, 400, OCI_DIGEST_INVALID, "want ?mount=sha256:HEX");
		return;
	}
	if (digest && mount(req, c, digest))
		return;
	rc = new_upload(c);
	if (rc) {
		reply_fail(req, c, rc);
		return;
	}
	upload_release(c);
	upload_headers(req, c);
	http_reply_status(req, 202);
}

static void upload(struct http_request *req, struct call *c)
{
	struct stat st;
	int rc;

	switch (req->method_bit) {
	case HTTP_PATCH:
		upload_release(c);
		upload_headers(req, c);
		http_reply_status(req, 202);
		return;
	case HTTP_PUT:
		finish_upload(req, c, http_query(req, "digest"));
		return;
	}
	rc = store_reg_upload_touch(c->st, c->path.ref, c->path.name);
	if (rc) {
		store_error(req, rc, OCI_BLOB_UPLOAD_UNKNOWN);
		return;
	}
	memcpy(c->id, c->path.ref, sizeof(c->id));
	if (req->method_bit == HTTP_DELETE) {
		hash_free(hash_take(c->id));
		upload_end(c);
		http_reply_status(req, 204);
		return;
	}
	c->size = fstatat(reg.dir.uploads_fd, c->id, &st, 0) ? 0 : st.st_size;
	upload_headers(req, c);
	http_reply_status(req, 204);
}

static void get_blob(struct http_request *req, struct call *c)
{
	const char *digest = c->path.ref;
	struct strbuf cr = STRBUF_INIT;
	uint64_t first, len;
	int64_t size;
	struct stat st;
	int fd, rc = store_reg_blob(c->st, c->path.org, digest, &size);

	if (rc) {
		store_error(req, rc, OCI_BLOB_UNKNOWN);
		return;
	}
	fd = blobdir_read(&reg.dir, digest);
	/* linked, yet no file or another size: a disk lost, or someone removed it */
	if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_size != size)) {
		rc = fail(EXIT_FAIL, "blob %s on disk does not have its %" PRId64 " bytes", digest, size);
		close(fd);
		fd = rc;
	} else if (fd == -EXIT_NOTFOUND) {
		fd = fail(EXIT_FAIL, "%s", fail_message());
	}
	if (fd < 0) {
		http_reply_fail(req, fd);
		return;
	}
	http_reply_header(req, "Docker-Content-Digest", digest);
	http_reply_header(req, "Accept-Ranges", "bytes");
	switch (http_range_parse(http_header(req, "Range"), size, &first, &len)) {
	case HTTP_RANGE_NONE:
		http_reply_fd(req, 200, "application/octet-stream", fd, 0, size);
		break;
	case HTTP_RANGE_PARTIAL:
		http_content_range(&cr, first, len, size);
		http_reply_header(req, "Content-Range", cr.buf);
		http_reply_fd(req, 206, "application/octet-stream", fd, first, len);
		break;
	case HTTP_RANGE_UNSATISFIABLE:
		close(fd);
		http_content_range(&cr, 0, 0, size);
		http_reply_header(req, "Content-Range", cr.buf);
		http_reply_status(req, 416);
		break;
	}
	strbuf_release(&cr);
}

static void delete_blob(struct http_request *req, struct call *c)
{
	int rc = store_reg_unlink(c->st, c->path.org, c->path.ref);

	if (rc == -EXIT_BUSY)
		oci_error(req, 409, OCI_DENIED, "%s", fail_message());
	else if (rc)
		store_error(req, rc, OCI_BLOB_UNKNOWN);
	else
		http_reply_status(req, 202);
}

static void get_manifest(struct http_request *req, struct call *c)
{
	struct strbuf content = STRBUF_INIT, type = STRBUF_INIT;
	char digest[OCI_DIGEST_LEN + 1];
	int rc = store_reg_manifest_get(c->st, c->path.name, c->path.ref, c->path.ref_is_digest,
					&content, &type, digest);

	if (rc) {
		store_error(req, rc, OCI_MANIFEST_UNKNOWN);
	} else {
		http_reply_header(req, "Docker-Content-Digest", digest);
		http_reply_bytes(req, 200, type.buf, content.buf, content.len);
	}
	strbuf_release(&content);
	strbuf_release(&type);
}

static void put_manifest(struct http_request *req, struct call *c)
{
	struct oci_manifest m;
	struct strbuf err = STRBUF_INIT;
	struct strvec refs = STRVEC_INIT;
	char digest[OCI_DIGEST_LEN + 1];
	int rc;

	if (oci_manifest_parse(&m, c->manifest.buf, c->manifest.len,
			       http_header(req, "Content-Type"), &err)) {
		oci_error(req, 400, OCI_MANIFEST_INVALID, "%s", err.buf);
		goto out;
	}
	oci_digest_of(c->manifest.buf, c->manifest.len, digest);
	if (c->path.ref_is_digest && strcmp(digest, c->path.ref)) {
		oci_error(req, 400, OCI_DIGEST_INVALID, "the manifest's digest is %s", digest);
		goto out;
	}
	for (size_t i = 0; i < m.blobs_nr; i++)
		strvec_push(&refs, m.blobs[i].digest);
	for (size_t i = 0; i < m.children_nr; i++)
		strvec_push(&refs, m.children[i].digest);
	if (m.has_subject)
		strvec_push(&refs, m.subject.digest);
	rc = store_reg_manifest_put(c->st, &(struct reg_manifest){
		.repo = c->path.name, .org = c->path.org, .digest = digest,
		.media_type = m.media_type, .content = c->manifest.buf, .size = c->manifest.len,
		.subject = m.has_subject ? m.subject.digest : NULL,
		.artifact_type = m.artifact_type, .annotations = m.annotations,
		.blobs = m.blobs, .blobs_nr = m.blobs_nr, .children = m.children,
		.children_nr = m.children_nr, .refs = refs.v, .refs_nr = refs.nr,
	}, c->path.ref_is_digest ? NULL : c->path.ref);
	if (rc == -EXIT_NOTFOUND) {
		oci_error(req, 400, OCI_MANIFEST_BLOB_UNKNOWN, "%s", fail_message());
	} else if (rc == -EXIT_REJECTED) {
		oci_error(req, 400, OCI_MANIFEST_INVALID, "%s", fail_message());
	} else if (rc) {
		http_reply_fail(req, rc);
	} else {
		header_f(req, "Location", "/v2/%s/manifests/%s", c->path.name, digest);
		http_reply_header(req, "Docker-Content-Digest", digest);
		if (m.has_subject)
			http_reply_header(req, "OCI-Subject", m.subject.digest);
		http_reply_status(req, 201);
	}
out:
	oci_manifest_release(&m);
	strvec_clear(&refs);
	strbuf_release(&err);
}

static void delete_manifest(struct http_request *req, struct call *c)
{
	int rc = c->path.ref_is_digest ? store_reg_manifest_delete(c->st, c->path.name, c->path.ref) :
					 store_reg_tag_delete(c->st, c->path.name, c->path.ref);

	if (rc)
		store_error(req, rc, OCI_MANIFEST_UNKNOWN);
	else
		http_reply_status(req, 202);
}

static void list_tags(struct http_request *req, struct call *c)
{
	const char *n = http_query(req, "n"), *last = http_query(req, "last");
	struct strvec tags = STRVEC_INIT;
	int64_t limit = TAGS_MAX;
	json_t *list;
	int rc;

	if (n && parse_i64(n, 0, INT32_MAX, &limit)) {
		oci_error(req, 400, OCI_UNSUPPORTED, "n %s", parse_num_reason(errno));
		return;
	}
	if (limit > TAGS_MAX)
		limit = TAGS_MAX;
	/* one more tells whether a next page exists */
	rc = store_reg_tags(c->st, c->path.name, last, limit + 1, &tags);
	if (rc) {
		store_error(req, rc, OCI_NAME_UNKNOWN);
		return;
	}
	list = json_array();
	for (size_t i = 0; i < tags.nr && (int64_t)i < limit; i++)
		json_array_append_new(list, json_string(tags.v[i]));
	if (limit && (int64_t)tags.nr > limit)
		header_f(req, "Link", "</v2/%s/tags/list?n=%" PRId64 "&last=%s>; rel=\"next\"",
			 c->path.name, limit, tags.v[limit - 1]);
	http_reply_json(req, 200, json_pack("{s:s, s:o}", "name", c->path.name, "tags", list));
	strvec_clear(&tags);
}

static void add_referrer(void *data, const char *digest, const char *media_type, int64_t size,
			 const char *artifact_type, const char *annotations)
{
	json_t *d = json_pack("{s:s, s:I, s:s}", "mediaType", media_type, "size", (json_int_t)size,
			      "digest", digest);

	if (artifact_type)
		json_object_set_new(d, "artifactType", json_string(artifact_type));
	if (annotations)
		json_object_set_new(d, "annotations", json_loads(annotations, 0, NULL));
	json_array_append_new(data, d);
}

static void list_referrers(struct http_request *req, struct call *c)
{
	const char *type = http_query(req, "artifactType");
	json_t *list = json_array(), *doc;
	char *text;
	int rc = store_reg_referrers(c->st, c->path.name, c->path.ref, type, add_referrer, list);

	if (rc) {
		json_decref(list);
		http_reply_fail(req, rc);
		return;
	}
	doc = json_pack("{s:i, s:s, s:o}", "schemaVersion", 2, "mediaType", OCI_INDEX_TYPE,
			"manifests", list);
	text = json_dumps(doc, JSON_COMPACT);
	if (!text)
		die("out of memory");
	if (type)
		http_reply_header(req, "OCI-Filters-Applied", "artifactType");
	http_reply_bytes(req, 200, OCI_INDEX_TYPE, text, strlen(text));
	free(text);
	json_decref(doc);
}

static void v2_handler(struct http_request *req)
{
	struct call *c = req->ctx;
	unsigned m = req->method_bit;
	int rc;

	if (c->body == BODY_UPLOAD && (rc = write_unwritten(c))) {
		reply_fail(req, c, rc);
		return;
	}
	switch (c->path.endpoint) {
	case OCI_BASE:
		http_reply_bytes(req, 200, "application/json", "{}", 2);
		break;
	case OCI_BLOB:
		if (m == HTTP_DELETE)
			delete_blob(req, c);
		else
			get_blob(req, c);
		break;
	case OCI_MANIFEST:
		if (m == HTTP_PUT)
			put_manifest(req, c);
		else if (m == HTTP_DELETE)
			delete_manifest(req, c);
		else
			get_manifest(req, c);
		break;
	case OCI_TAGS:
		list_tags(req, c);
		break;
	case OCI_REFERRERS:
		list_referrers(req, c);
		break;
	case OCI_UPLOADS:
		post_upload(req, c);
		break;
	case OCI_UPLOAD:
		upload(req, c);
		break;
	}
}

static void v2_done(struct http_request *req)
{
	struct call *c = req->ctx;

	if (!c)
		return;
	/* a blob pushed in one request that did not complete leaves nothing */
	if (c->created && !c->ended)
		upload_end(c);
	upload_release(c);
	token_claims_release(&c->claims);
	strbuf_release(&c->manifest);
	strbuf_release(&c->unwritten);
	free(c);
}

/* Everything under /v2 is the registry's, so that every error has the spec's form. */
#define V2_ROUTE(p, pre) \
	{ .path = (p), .prefix = (pre), \
	  .methods = HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE, \
	  .name = "registry", .max_body = UINT64_MAX, .start = v2_start, .body = v2_body, \
	  .handler = v2_handler, .done = v2_done }

static const struct http_route routes[] = {
	V2_ROUTE("/v2", false),
	V2_ROUTE("/v2/", true),
	{ .path = "/token", .methods = HTTP_GET | HTTP_POST, .name = "registry_token",
	  .max_body = 64 * 1024, .handler = registry_token_endpoint },
};

int64_t registry_default_quota(void)
{
	uint64_t q = cfg_size("registry.quota");

	return q > INT64_MAX ? INT64_MAX : (int64_t)q;
}

int registry_service_init(struct http_server *srv)
{
	int rc;

	if (reg.verifier)
		BUG("registry_service_init called twice");
	rc = blobdir_open(&reg.dir, cfg_str("registry.dir"));
	if (rc)
		return rc;
	if (pthread_key_create(&reg.store_key, close_store))
		die("pthread_key_create failed");
	reg.keys_dir = cfg_str("keys.dir");
	reg.verifier = token_verifier_new(reg.keys_dir);
	reg.max_blob = cfg_size("registry.max_blob");
	reg.max_manifest = cfg_size("registry.max_manifest");
	reg.quota = registry_default_quota();
	reg.token_ttl = cfg_int("registry.token_ttl");
	reg.realm = cfg_str("registry.realm");
	reg.issuer = cfg_str("token.issuer");
	http_server_add_routes(srv, routes, ARRAY_SIZE(routes));
	return 0;
}
