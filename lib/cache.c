#include "common.h"
#include "cache-internal.h"
#include "config.h"
#include "escape.h"
#include "log.h"
#include "metrics.h"
#include "timeutil.h"
#include "token.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sys/stat.h>

/*
 * Local layout, under cache.dir:
 *	objects/ORG/XX/HASH	the object of ORG/KEY, HASH = hex SHA-256 of KEY
 *	tmp/ORG-RANDOM		uploads in flight
 * Hashed names hold keys of any length, and a key can never name a
 * directory that another key needs ("a" and "a/b" both exist).
 */

#define HASH_HEX 64
/* Per-key locks: a publication and a removal of one key do not interleave. */
#define KEY_LOCKS 64
/* Reads remembered between two batches; more are dropped (recency only). */
#define ACCESS_MAX (1 << 20)
/* Entries looked at per round of an eviction. */
#define EVICT_BATCH 64

struct access {
	char *id;		/* "ORG/KEY"; NULL for a free slot */
	int64_t ms;
};

struct access_table {
	struct access *v;
	size_t cap, nr;
};

struct cache {
	char *dir;
	struct cache_s3 *s3;
	uint64_t limit;
	pthread_key_t store_key;
	pthread_mutex_t key_locks[KEY_LOCKS];

	pthread_mutex_t access_lock;
	pthread_cond_t access_cond;
	struct access_table access;
	bool stop, flusher;
	pthread_t flusher_thread;

	struct metric *bytes, *evictions;
};

struct cache_upload {
	struct cache *c;
	char *org, *key;
	struct strbuf tmp;
	int fd;
	uint64_t len, got;
	char want[HASH_HEX + 1];	/* the announced digest, or "" */
	EVP_MD_CTX *md;
	int err;
};

static bool key_char(int ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-';
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

static int bad_key(const char *why)
{
	return fail(EXIT_USAGE, "bad cache key: %s", why);
}

/* The segment that ends out (after its last '/'): not empty, ".", "..". */
static int check_segment(const struct strbuf *out, size_t start)
{
	size_t n = out->len - start;
	const char *s = out->buf + start;

	if (!n)
		return bad_key("empty segment");
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return bad_key("'.' or '..' segment");
	return 0;
}

int cache_key_parse(const char *raw, struct strbuf *out)
{
	size_t seg = 0;
	int rc;

	strbuf_reset(out);
	for (const char *p = raw; *p; p++) {
		int ch = (unsigned char)*p;

		if (ch == '/') {
			if ((rc = check_segment(out, seg)))
				return rc;
			strbuf_addch(out, '/');
			seg = out->len;
			continue;
		}
		if (ch == '%') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);

			if (lo < 0)
				return bad_key("malformed percent escape");
			ch = hi << 4 | lo;
			p += 2;
		}
		/* an escaped '/' is refused too: it would make segments nobody wrote */
		if (!key_char(ch))
			return bad_key("characters outside [A-Za-z0-9._-]");
		strbuf_addch(out, ch);
		if (out->len > CACHE_KEY_MAX)
			return bad_key("longer than 1024 bytes");
	}
	return check_segment(out, seg);
}

const char *cache_key_cas(const char *key)
{
	const char *slash = strrchr(key, '/'), *hash = slash ? slash + 1 : NULL;
	size_t n;

	if (!hash || strlen(hash) != HASH_HEX)
		return NULL;
	for (n = 0; n < HASH_HEX; n++)
		if (hexval(hash[n]) < 0 || (hash[n] >= 'A' && hash[n] <= 'F'))
			return NULL;
	if (slash - key < 3 || memcmp(slash - 3, "cas", 3) || (slash - key > 3 && slash[-4] != '/'))
		return NULL;
	return hash;
}

static void sha256_hex(char out[HASH_HEX + 1], const void *data, size_t len)
{
	unsigned char md[32];

	if (!EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL))
		die("SHA-256 failed");
	hex_encode(out, md, sizeof(md));
}

/* objects/ORG/XX/HASH under the cache's directory. */
static void object_path(const struct cache *c, struct strbuf *sb, const char *org, const char *key)
{
	char h[HASH_HEX + 1];

	sha256_hex(h, key, strlen(key));
	strbuf_addf(sb, "%s/objects/%s/%.2s/%s", c->dir, org, h, h);
}

/* FNV-1a, for in-memory tables: fast, and their keys come after the token check. */
#define FNV_BASIS 14695981039346656037ULL

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static pthread_mutex_t *key_lock(struct cache *c, const char *org, const char *key)
{
	return &c->key_locks[fnv1a(fnv1a(FNV_BASIS, org), key) % KEY_LOCKS];
}

/*
 * Each thread has its own store handle (a handle serves one thread at a
 * time), opened on first use and closed when the thread ends.
 */
static void close_store(void *st)
{
	store_close(st);
}

static int thread_store(struct cache *c, struct store **out)
{
	int rc;

	*out = pthread_getspecific(c->store_key);
	if (*out)
		return 0;
	rc = store_open(out, 0);
	if (!rc)
		pthread_setspecific(c->store_key, *out);
	return rc;
}

uint64_t cache_limit(const struct cache *c)
{
	return c->limit;
}

/* mkdir -p, each new directory 0700: objects are only ever read through nimbus. */
static int make_dirs(const char *path)
{
	char *dir = xstrdup(path);
	int rc = 0;

	for (char *p = dir + 1; !rc; p++) {
		char ch = *p;

		if (ch && ch != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) && errno != EEXIST)
			rc = fail_errno(errno == EACCES ? EXIT_PERM : EXIT_FAIL,
					"cannot create directory %s", dir);
		if (!ch)
			break;
		*p = '/';
	}
	free(dir);
	return rc;
}

static void set_bytes(struct cache *c, const char *org, int64_t bytes)
{
	metric_set(c->bytes, (const char *[]){ org }, bytes);
}

/* Write a batch of reads, the newest time of each key once. */
static int write_accesses(struct cache *c, struct access_table *t)
{
	struct store *st;
	int rc = t->nr ? thread_store(c, &st) : 0;

	if (!rc && t->nr)
		rc = store_begin(st, STORE_TX_WRITE);
	for (size_t i = 0; !rc && i < t->cap; i++) {
		char *slash;

		if (!t->v[i].id)
			continue;
		slash = strchr(t->v[i].id, '/');
		*slash = '\0';
		rc = store_cache_touch(st, t->v[i].id, slash + 1, t->v[i].ms);
		*slash = '/';
	}
	if (!rc && t->nr)
		rc = store_commit(st);
	if (rc && t->nr)
		store_rollback(st);
	for (size_t i = 0; i < t->cap; i++)
		free(t->v[i].id);
	free(t->v);
	*t = (struct access_table){ NULL, 0, 0 };
	return rc;
}

static struct access_table take_accesses(struct cache *c)
{
	struct access_table t;

	pthread_mutex_lock(&c->access_lock);
	t = c->access;
	c->access = (struct access_table){ NULL, 0, 0 };
	pthread_mutex_unlock(&c->access_lock);
	return t;
}

/* Write the pending reads to the store. */
static int cache_flush(struct cache *c)
{
	struct access_table t = take_accesses(c);

	return write_accesses(c, &t);
}

static void *flusher(void *arg)
{
	struct cache *c = arg;

	pthread_mutex_lock(&c->access_lock);
	while (!c->stop) {
		struct timespec ts;
		int64_t ms;

		clock_gettime(CLOCK_REALTIME, &ts);
		ms = ts.tv_nsec / 1000000 + CACHE_FLUSH_MS;
		ts.tv_sec += ms / 1000;
		ts.tv_nsec = ms % 1000 * 1000000;
		pthread_cond_timedwait(&c->access_cond, &c->access_lock, &ts);
		pthread_mutex_unlock(&c->access_lock);
		if (cache_flush(c))
			warning("cache: read times not recorded: %s", fail_message());
		pthread_mutex_lock(&c->access_lock);
	}
	pthread_mutex_unlock(&c->access_lock);
	return NULL;
}

/* The slot of id in t (a free one when it is missing); t has room. */
static struct access *access_slot(struct access_table *t, const char *id)
{
	size_t i = fnv1a(FNV_BASIS, id) & (t->cap - 1);

	while (t->v[i].id && strcmp(t->v[i].id, id))
		i = (i + 1) & (t->cap - 1);
	return &t->v[i];
}

static void access_grow(struct access_table *t)
{
	struct access_table n = { xcalloc(t->cap ? t->cap * 2 : 1024, sizeof(*n.v)),
				  t->cap ? t->cap * 2 : 1024, t->nr };

	for (size_t i = 0; i < t->cap; i++)
		if (t->v[i].id)
			*access_slot(&n, t->v[i].id) = t->v[i];
	free(t->v);
	*t = n;
}

void cache_accessed(struct cache *c, const char *org, const char *key)
{
	struct access_table *t = &c->access;
	int64_t ms = now_ms();
	char buf[256];
	char *id = buf;
	size_t n = strlen(org) + 1 + strlen(key) + 1;
	struct access *a;

	if (n > sizeof(buf))
		id = xmalloc(n);
	snprintf(id, n, "%s/%s", org, key);
	pthread_mutex_lock(&c->access_lock);
	/* at most half full: short probes */
	if (t->nr < ACCESS_MAX && (t->nr + 1) * 2 > t->cap)
		access_grow(t);
	a = access_slot(t, id);
	if (a->id) {
		a->ms = ms;
	} else if (t->nr < ACCESS_MAX) {
		a->id = xstrdup(id);
		a->ms = ms;
		t->nr++;
	}
	pthread_mutex_unlock(&c->access_lock);
	if (id != buf)
		free(id);
}

int cache_open(struct cache **out, unsigned flags)
{
	static const char *const org_label[] = { "org", NULL };
	struct cache *c = xcalloc(1, sizeof(*c));
	struct store *st;
	int rc;

	c->dir = xstrdup(cfg_str("cache.dir"));
	c->limit = cfg_size("cache.max_bytes_per_org");
	pthread_key_create(&c->store_key, close_store);
	for (size_t i = 0; i < KEY_LOCKS; i++)
		pthread_mutex_init(&c->key_locks[i], NULL);
	pthread_mutex_init(&c->access_lock, NULL);
	pthread_cond_init(&c->access_cond, NULL);
	c->bytes = metric_gauge("nimbus_cache_bytes", "Bytes stored per org.", org_label);
	c->evictions = metric_counter("nimbus_cache_evictions_total",
				      "Objects evicted to keep an org under its limit.", org_label);
	*out = c;

	/* the temporary files are renamed into objects/: one file system */
	rc = make_dirs(c->dir);
	if (!rc) {
		struct strbuf sb = STRBUF_INIT;

		strbuf_addf(&sb, "%s/tmp", c->dir);
		rc = make_dirs(sb.buf);
		strbuf_release(&sb);
	}
	if (!rc && strcmp(cfg_str("cache.backend"), "local") &&
	    (!strcmp(cfg_str("cache.backend"), "s3") || *cfg_str("cache.s3_endpoint")))
		rc = cache_s3_open(&c->s3);
	if (!rc)
		rc = store_open(&st, STORE_MIGRATE);
	if (!rc)
		pthread_setspecific(c->store_key, st);
	if (!rc && (flags & CACHE_SERVING)) {
		struct store_cache_org *orgs;
		size_t nr;

		rc = store_cache_orgs(st, &orgs, &nr);
		for (size_t i = 0; !rc && i < nr; i++)
			set_bytes(c, orgs[i].org, orgs[i].bytes);
		if (!rc)
			store_cache_orgs_free(orgs, nr);
		if (!rc && pthread_create(&c->flusher_thread, NULL, flusher, c))
			rc = fail_errno(EXIT_FAIL, "cannot start the cache's flusher thread");
		c->flusher = !rc;
	}
	if (rc) {
		cache_close(c);
		*out = NULL;
	}
	return rc;
}

void cache_close(struct cache *c)
{
	struct store *st;

	if (!c)
		return;
	if (c->flusher) {
		pthread_mutex_lock(&c->access_lock);
		c->stop = true;
		pthread_cond_signal(&c->access_cond);
		pthread_mutex_unlock(&c->access_lock);
		pthread_join(c->flusher_thread, NULL);
	}
	if (cache_flush(c))
		warning("cache: read times not recorded: %s", fail_message());
	st = pthread_getspecific(c->store_key);
	store_close(st);
	pthread_setspecific(c->store_key, NULL);
	pthread_key_delete(c->store_key);
	cache_s3_free(c->s3);
	for (size_t i = 0; i < KEY_LOCKS; i++)
		pthread_mutex_destroy(&c->key_locks[i]);
	pthread_mutex_destroy(&c->access_lock);
	pthread_cond_destroy(&c->access_cond);
	free(c->dir);
	free(c);
}

/* A strong validator of a local object: each publication is a new file (inode, time). */
static void local_etag(char *etag, const struct stat *st)
{
	xsnprintf(etag, CACHE_ETAG_MAX, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"",
		  (uint64_t)st->st_ino, (uint64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
		  (uint64_t)st->st_size);
}

static int local_get(struct cache *c, const char *org, const char *key, struct cache_object *obj)
{
	struct strbuf path = STRBUF_INIT;
	struct stat st;
	int fd;

	object_path(c, &path, org, key);
	fd = open(path.buf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	strbuf_release(&path);
	if (fd < 0)
		return errno == ENOENT ? fail(EXIT_NOTFOUND, "no such cache entry") :
		       fail_errno(EXIT_FAIL, "cannot open the object of %s/%s", org, key);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(EXIT_FAIL, "the object of %s/%s is not a file", org, key);
	}
	obj->fd = fd;
	obj->size = st.st_size;
	local_etag(obj->etag, &st);
	return 0;
}

/* An unnamed file in tmp/ for a download from S3: nothing to clean after a crash. */
static int spool_file(struct cache *c, int *fd)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "%s/tmp", c->dir);
	*fd = open(sb.buf, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	strbuf_release(&sb);
	return *fd < 0 ? fail_errno(EXIT_FAIL, "cannot create a file in %s/tmp", c->dir) : 0;
}

int cache_get(struct cache *c, const char *org, const char *key, bool content,
	      struct cache_object *obj)
{
	int rc;

	obj->fd = -1;
	if (!c->s3)
		return local_get(c, org, key, obj);
	if (content && (rc = spool_file(c, &obj->fd)))
		return rc;
	rc = cache_s3_get(c->s3, org, key, obj->fd, obj);
	if (!rc && obj->fd >= 0 && lseek(obj->fd, 0, SEEK_SET))
		rc = fail_errno(EXIT_FAIL, "cannot rewind the download of %s/%s", org, key);
	if (rc && obj->fd >= 0) {
		close(obj->fd);
		obj->fd = -1;
	}
	return rc;
}

/* Remove the object of org/key; the key's lock is held. 0 also when it was gone. */
static int remove_object(struct cache *c, const char *org, const char *key)
{
	struct strbuf path = STRBUF_INIT;
	int rc = 0;

	if (c->s3)
		return cache_s3_delete(c->s3, org, key);
	object_path(c, &path, org, key);
	if (unlink(path.buf) && errno != ENOENT)
		rc = fail_errno(EXIT_FAIL, "cannot remove %s", path.buf);
	strbuf_release(&path);
	return rc;
}

/* Entry, then object: an object without an entry is only ever an orphan for gc. */
static int remove_entry(struct cache *c, const char *org, const char *key, int64_t *org_bytes)
{
	pthread_mutex_t *lock = key_lock(c, org, key);
	struct store *st;
	int rc = thread_store(c, &st);

	if (rc)
		return rc;
	pthread_mutex_lock(lock);
	rc = store_cache_delete(st, org, key, org_bytes);
	if (rc > 0) {
		int r = remove_object(c, org, key);

		if (r)
			rc = r;
	}
	pthread_mutex_unlock(lock);
	if (rc >= 0)
		set_bytes(c, org, *org_bytes);
	return rc;
}

int cache_delete(struct cache *c, const char *org, const char *key)
{
	int64_t bytes;
	int rc = remove_entry(c, org, key, &bytes);

	if (rc < 0)
		return rc;
	if (!rc) {
		/* an orphan (a crash after the rename) goes too */
		pthread_mutex_lock(key_lock(c, org, key));
		rc = remove_object(c, org, key);
		pthread_mutex_unlock(key_lock(c, org, key));
		return rc ? rc : fail(EXIT_NOTFOUND, "no such cache entry");
	}
	return 0;
}

/* Evict the least recently used entries of org until it holds at most c->limit. */
static int evict(struct cache *c, const char *org, int64_t bytes, struct cache_gc_result *res)
{
	struct store *st;
	int rc = thread_store(c, &st);

	while (!rc && c->limit && (uint64_t)bytes > c->limit) {
		struct store_cache_entry *v;
		size_t nr;

		rc = store_cache_list(st, org, EVICT_BATCH, &v, &nr);
		if (rc || !nr) {
			free(v);
			break;
		}
		for (size_t i = 0; !rc && i < nr && (uint64_t)bytes > c->limit; i++) {
			rc = remove_entry(c, org, v[i].key, &bytes);
			if (rc > 0) {
				metric_add(c->evictions, (const char *[]){ org }, 1);
				log_kv(LOG_INFO, "evicted", "org", org, "key", v[i].key, NULL);
				if (res) {
					res->evicted++;
					res->evicted_bytes += v[i].size;
				}
				rc = 0;
			}
		}
		store_cache_entries_free(v, nr);
	}
	return rc < 0 ? rc : 0;
}

int cache_upload_begin(struct cache *c, const char *org, const char *key, uint64_t len,
		       const char *sha256, struct cache_upload **out)
{
	struct cache_upload *u;
	unsigned char rnd[12];
	char r[25];

	*out = NULL;
	if (c->limit && len > c->limit)
		return fail(EXIT_USAGE, "%" PRIu64 " bytes is over the org's limit of %" PRIu64,
			    len, c->limit);
	if (sha256) {
		size_t n = strlen(sha256);

		for (size_t i = 0; i < n; i++)
			if (hexval(sha256[i]) < 0)
				n = 0;
		if (n != HASH_HEX)
			return fail(EXIT_USAGE, "X-Content-SHA256 is not 64 hex digits");
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return fail(EXIT_FAIL, "no random bytes for a temporary name");
	hex_encode(r, rnd, sizeof(rnd));
	u = xcalloc(1, sizeof(*u));
	u->c = c;
	u->org = xstrdup(org);
	u->key = xstrdup(key);
	u->len = len;
	strbuf_init(&u->tmp, 0);
	strbuf_addf(&u->tmp, "%s/tmp/%s-%s", c->dir, org, r);
	for (size_t i = 0; sha256 && i < HASH_HEX; i++)
		u->want[i] = sha256[i] | 0x20;
	u->md = EVP_MD_CTX_new();
	if (!u->md || !EVP_DigestInit_ex(u->md, EVP_sha256(), NULL))
		die("SHA-256 failed");
	/* read back for S3 */
	u->fd = open(u->tmp.buf, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (u->fd < 0) {
		int rc = fail_errno(EXIT_FAIL, "cannot create %s", u->tmp.buf);

		cache_upload_free(u);
		return rc;
	}
	*out = u;
	return 0;
}

int cache_upload_write(struct cache_upload *u, const void *data, size_t len)
{
	if (u->err)
		return u->err;
	u->got += len;
	if (u->got > u->len)
		return u->err = fail(EXIT_USAGE, "more than the %" PRIu64 " bytes announced", u->len);
	if (!EVP_DigestUpdate(u->md, data, len))
		die("SHA-256 failed");
	if (write_in_full(u->fd, data, len) < 0)
		u->err = fail_errno(errno == ENOSPC || errno == EDQUOT ? EXIT_UNAVAILABLE : EXIT_FAIL,
				    "cannot write %s", u->tmp.buf);
	return u->err;
}

/* Verified content only: its length, its announced digest, a CAS key's digest. */
static int verify(struct cache_upload *u)
{
	unsigned char md[32];
	char got[HASH_HEX + 1];
	const char *cas = cache_key_cas(u->key);

	if (u->got != u->len)
		return fail(EXIT_USAGE, "%" PRIu64 " bytes received, %" PRIu64 " announced", u->got, u->len);
	if (!EVP_DigestFinal_ex(u->md, md, NULL))
		die("SHA-256 failed");
	hex_encode(got, md, sizeof(md));
	if (*u->want && strcmp(got, u->want))
		return fail(EXIT_REJECTED, "content SHA-256 %s, not the %s announced", got, u->want);
	if (cas && strcmp(got, cas))
		return fail(EXIT_REJECTED, "content SHA-256 %s does not match its CAS key", got);
	memcpy(u->want, got, sizeof(got));
	return 0;
}

/* Make the verified temporary file the object; the key's lock is held. */
static int publish(struct cache_upload *u)
{
	struct cache *c = u->c;
	struct strbuf path = STRBUF_INIT;
	int rc = 0;

	if (c->s3) {
		if (lseek(u->fd, 0, SEEK_SET))
			return fail_errno(EXIT_FAIL, "cannot rewind %s", u->tmp.buf);
		return cache_s3_put(c->s3, u->org, u->key, u->fd, u->len, u->want);
	}
	object_path(c, &path, u->org, u->key);
	/* the data reaches the disk before the name: a crash never shows a torn object */
	if (fdatasync(u->fd))
		rc = fail_errno(EXIT_FAIL, "cannot sync %s", u->tmp.buf);
	if (!rc) {
		char *slash = strrchr(path.buf, '/');

		*slash = '\0';
		rc = make_dirs(path.buf);
		*slash = '/';
	}
	if (!rc && rename(u->tmp.buf, path.buf))
		rc = fail_errno(EXIT_FAIL, "cannot rename %s to %s", u->tmp.buf, path.buf);
	strbuf_release(&path);
	return rc;
}

int cache_upload_commit(struct cache_upload *u)
{
	struct cache *c = u->c;
	pthread_mutex_t *lock = key_lock(c, u->org, u->key);
	struct store *st;
	int64_t bytes;
	int rc = u->err ? u->err : verify(u);

	if (!rc)
		rc = thread_store(c, &st);
	if (rc)
		return rc;
	pthread_mutex_lock(lock);
	rc = publish(u);
	if (!rc) {
		rc = store_cache_put(st, u->org, u->key, u->len, now_ms(), &bytes);
		/* unindexed, it would escape the limit: take it back */
		if (rc)
			remove_object(c, u->org, u->key);
	}
	pthread_mutex_unlock(lock);
	if (rc)
		return rc;
	set_bytes(c, u->org, bytes);
	if (c->limit && (uint64_t)bytes > c->limit) {
		/* the reads since the last batch count */
		if (cache_flush(c))
			warning("cache: read times not recorded: %s", fail_message());
		rc = evict(c, u->org, bytes, NULL);
		if (rc)
			warning("cache: eviction in %s failed: %s", u->org, fail_message());
	}
	return 0;
}

void cache_upload_free(struct cache_upload *u)
{
	if (!u)
		return;
	if (u->fd >= 0) {
		close(u->fd);
		/* gone already when it was renamed into place */
		unlink(u->tmp.buf);
	}
	EVP_MD_CTX_free(u->md);
	strbuf_release(&u->tmp);
	free(u->org);
	free(u->key);
	free(u);
}

static bool old_enough(const struct stat *st, int64_t now)
{
	return st->st_mtim.tv_sec + CACHE_GC_GRACE <= now;
}

static int cmp_hash(const void *a, const void *b)
{
	return memcmp(a, b, HASH_HEX);
}

/* Remove path when it is a file older than the grace; count it. */
static void sweep_file(int dirfd, const char *name, int64_t now, struct cache_gc_result *res)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode) ||
	    !old_enough(&st, now))
		return;
	if (unlinkat(dirfd, name, 0)) {
		warning("cache gc: cannot remove %s: %s", name, strerror(errno));
		return;
	}
	res->orphans++;
	res->orphan_bytes += st.st_size;
}

/* Objects of org that no entry names (hashes: sorted, nr of them). */
static void sweep_objects(struct cache *c, const char *org, const char *hashes, size_t nr,
			  int64_t now, struct cache_gc_result *res)
{
	struct strbuf path = STRBUF_INIT;
	DIR *top, *sub;
	struct dirent *d, *e;

	strbuf_addf(&path, "%s/objects/%s", c->dir, org);
	top = opendir(path.buf);
	while (top && (d = readdir(top))) {
		if (strlen(d->d_name) != 2 || hexval(d->d_name[0]) < 0 || hexval(d->d_name[1]) < 0)
			continue;
		strbuf_setlen(&path, strlen(c->dir) + strlen("/objects/") + strlen(org));
		strbuf_addf(&path, "/%s", d->d_name);
		sub = opendir(path.buf);
		while (sub && (e = readdir(sub))) {
			if (*e->d_name == '.')
				continue;
			if (strlen(e->d_name) == HASH_HEX &&
			    bsearch(e->d_name, hashes, nr, HASH_HEX, cmp_hash))
				continue;
			sweep_file(dirfd(sub), e->d_name, now, res);
		}
		if (sub)
			closedir(sub);
	}
	if (top)
		closedir(top);
	strbuf_release(&path);
}

/* Uploads of org that a crash left in tmp/. */
static void sweep_tmp(struct cache *c, const char *org, int64_t now, struct cache_gc_result *res)
{
	struct strbuf path = STRBUF_INIT;
	size_t n = strlen(org);
	struct dirent *d;
	DIR *dir;

	strbuf_addf(&path, "%s/tmp", c->dir);
	dir = opendir(path.buf);
	while (dir && (d = readdir(dir)))
		if (!strncmp(d->d_name, org, n) && d->d_name[n] == '-')
			sweep_file(dirfd(dir), d->d_name, now, res);
	if (dir)
		closedir(dir);
	strbuf_release(&path);
}

/* Entries whose object is gone (removed by hand, a crash between the two removals). */
static int drop_missing(struct cache *c, const char *org, struct store_cache_entry *v, size_t nr,
			char *hashes, struct cache_gc_result *res)
{
	struct strbuf path = STRBUF_INIT;
	int rc = 0;

	for (size_t i = 0; !rc && i < nr; i++) {
		int64_t bytes;

		strbuf_reset(&path);
		object_path(c, &path, org, v[i].key);
		memcpy(hashes + i * HASH_HEX, path.buf + path.len - HASH_HEX, HASH_HEX);
		if (!access(path.buf, F_OK) || errno != ENOENT)
			continue;
		rc = remove_entry(c, org, v[i].key, &bytes);
		if (rc > 0) {
			res->missing++;
			v[i].size = -1;
			rc = 0;
		}
	}
	strbuf_release(&path);
	return rc;
}

int cache_gc(struct cache *c, const char *org, struct cache_gc_result *res)
{
	struct store_cache_entry *v = NULL;
	struct store_cache_org *orgs = NULL;
	size_t nr = 0, norgs = 0;
	int64_t bytes = 0, now = now_ms() / 1000;
	char *hashes = NULL;
	struct store *st;
	int rc = thread_store(c, &st);

	memset(res, 0, sizeof(*res));
	if (!rc)
		rc = store_cache_orgs(st, &orgs, &norgs);
	for (size_t i = 0; !rc && i < norgs; i++)
		if (!strcmp(orgs[i].org, org))
			bytes = orgs[i].bytes;
	store_cache_orgs_free(orgs, norgs);
	if (!rc)
		rc = evict(c, org, bytes, res);
	if (!rc)
		rc = store_cache_list(st, org, 0, &v, &nr);
	if (!rc && !c->s3) {
		hashes = xmalloc(nr * HASH_HEX + 1);
		rc = drop_missing(c, org, v, nr, hashes, res);
		qsort(hashes, nr, HASH_HEX, cmp_hash);
		if (!rc) {
			sweep_objects(c, org, hashes, nr, now, res);
			sweep_tmp(c, org, now, res);
		}
	}
	for (size_t i = 0; !rc && i < nr; i++) {
		if (v[i].size < 0)
			continue;
		res->entries++;
		res->bytes += v[i].size;
	}
	free(hashes);
	store_cache_entries_free(v, nr);
	return rc;
}

int cache_orgs(struct cache *c, struct strvec *out)
{
	struct store_cache_org *orgs;
	struct strbuf path = STRBUF_INIT;
	struct dirent *d;
	size_t nr;
	struct store *st;
	DIR *dir;
	int rc = thread_store(c, &st);

	if (!rc)
		rc = store_cache_orgs(st, &orgs, &nr);
	if (rc)
		return rc;
	for (size_t i = 0; i < nr; i++)
		strvec_push(out, orgs[i].org);
	store_cache_orgs_free(orgs, nr);
	if (c->s3)
		return 0;
	strbuf_addf(&path, "%s/objects", c->dir);
	dir = opendir(path.buf);
	while (dir && (d = readdir(dir))) {
		bool known = false;

		if (!org_id_valid(d->d_name, strlen(d->d_name)))
			continue;
		for (size_t i = 0; i < out->nr && !known; i++)
			known = !strcmp(out->v[i], d->d_name);
		if (!known)
			strvec_push(out, d->d_name);
	}
	if (dir)
		closedir(dir);
	strbuf_release(&path);
	return 0;
}

int cache_stats(struct cache *c, struct store_cache_org **out, size_t *nr)
{
	struct store *st;
	int rc = thread_store(c, &st);

	return rc ? rc : store_cache_orgs(st, out, nr);
}
