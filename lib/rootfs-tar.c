#include "common.h"
#include "rootfs-tar.h"
#include "rootfs-verity.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <zlib.h>

/*
 * Two libarchive readers in a row: the first undoes the compression
 * (format "raw"), the second parses tar from what the first produces,
 * and every byte handed from the first to the second is hashed on the
 * way, so the archive is decompressed once and checked as it is hashed.
 * gzip is undone by zlib instead: libarchive does not check the CRC-32
 * and length in a gzip member's trailer, zlib does.
 */
#define BUF_SIZE (1 << 20)

struct stream {
	int fd;
	const char *name;
	bool drop_cache;
	uint64_t in_off;		/* bytes read from the file */
	uint8_t *in;
	int read_errno;			/* a read(2) failed */
	struct archive *raw;		/* zstd, xz or none */
	const char *filter;
	z_stream z;			/* gzip */
	bool gzip, member_end, padding;
	EVP_MD_CTX *md;
	uint64_t size;			/* bytes of the uncompressed stream so far */
	uint8_t *out;
	struct strbuf err;
	uint64_t err_at;		/* where in the uncompressed stream */
};

static ssize_t fill_input(struct stream *st)
{
	ssize_t n;

	do
		n = read(st->fd, st->in, BUF_SIZE);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		st->read_errno = errno;
		return -1;
	}
	if (st->drop_cache && n)
		posix_fadvise(st->fd, st->in_off, n, POSIX_FADV_DONTNEED);
	st->in_off += n;
	return n;
}

static la_ssize_t raw_read(struct archive *a, void *data, const void **buf)
{
	struct stream *st = data;
	ssize_t n = fill_input(st);

	if (n < 0) {
		archive_set_error(a, st->read_errno, "%s", strerror(st->read_errno));
		return ARCHIVE_FATAL;
	}
	*buf = st->in;
	return n;
}

static ssize_t stream_error(struct stream *st, uint64_t at, const char *fmt, ...)
{
	va_list ap;

	if (!st->err.len) {
		st->err_at = at;
		va_start(ap, fmt);
		strbuf_vaddf(&st->err, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* After a gzip member: another member, zero padding, or the end. */
static int gzip_between_members(struct stream *st)
{
	z_stream *z = &st->z;

	for (; z->avail_in; z->next_in++, z->avail_in--) {
		if (!st->padding && *z->next_in == 0x1f) {
			inflateReset(z);
			st->member_end = false;
			return 0;
		}
		if (*z->next_in)
			return stream_error(st, st->size + BUF_SIZE - z->avail_out,
					    "garbage after the last member at byte %" PRIu64 " of the file",
					    st->in_off - z->avail_in);
		st->padding = true;
	}
	return 0;
}

static ssize_t gzip_read(struct stream *st)
{
	z_stream *z = &st->z;
	int ret;

	z->next_out = st->out;
	z->avail_out = BUF_SIZE;
	while (z->avail_out) {
		if (!z->avail_in) {
			ssize_t n = fill_input(st);

			if (n < 0)
				return -1;
			z->next_in = st->in;
			z->avail_in = n;
			if (!n && st->member_end)
				break;
			if (!n)
				return stream_error(st, st->size + BUF_SIZE - z->avail_out,
						    "unexpected end of file");
		}
		if (st->member_end) {
			if (gzip_between_members(st) < 0)
				return -1;
			continue;
		}
		ret = inflate(z, Z_NO_FLUSH);
		if (ret == Z_STREAM_END)
			st->member_end = true;
		else if (ret != Z_OK)
			return stream_error(st, st->size + BUF_SIZE - z->avail_out, "%s",
					    z->msg ? z->msg : zError(ret));
	}
	return BUF_SIZE - z->avail_out;
}

/* The next piece of the uncompressed stream, hashed: its length, 0 at the end, -1. */
static ssize_t stream_next(struct stream *st)
{
	ssize_t n;

	if (st->gzip) {
		n = gzip_read(st);
	} else {
		n = archive_read_data(st->raw, st->out, BUF_SIZE);
		if (n < 0)
			stream_error(st, st->size, "%s", archive_error_string(st->raw));
	}
	if (n > 0) {
		if (!EVP_DigestUpdate(st->md, st->out, n))
			die("SHA-256 failed in OpenSSL");
		st->size += n;
	}
	return n < 0 ? -1 : n;
}

static la_ssize_t tar_read(struct archive *a, void *data, const void **buf)
{
	struct stream *st = data;
	ssize_t n = stream_next(st);

	if (n < 0) {
		archive_set_error(a, -1 /* ARCHIVE_ERRNO_MISC */, "%s", st->err.buf);
		return ARCHIVE_FATAL;
	}
	*buf = st->out;
	return n;
}

/* A failure of the uncompressed stream: an I/O error or corrupt data. */
static int stream_fail(struct stream *st)
{
	if (st->read_errno) {
		errno = st->read_errno;
		return fail_errno(EXIT_FAIL, "cannot read %s", st->name);
	}
	return fail(EXIT_REJECTED, "%s: corrupt %s data at byte %" PRIu64 " of the uncompressed stream: %s",
		    st->name, st->filter, st->err_at, st->err.len ? st->err.buf : "unknown error");
}

static int open_raw(struct stream *st)
{
	struct archive_entry *e;
	int rc;

	st->raw = archive_read_new();
	if (!st->raw)
		die("out of memory");
	/* Built-in decoders only: a missing one would run an external program. */
	if (archive_read_support_filter_gzip(st->raw) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(st->raw) != ARCHIVE_OK ||
	    archive_read_support_filter_xz(st->raw) != ARCHIVE_OK ||
	    archive_read_support_format_raw(st->raw) != ARCHIVE_OK)
		return fail(EXIT_FAIL, "libarchive lacks built-in gzip, zstd or xz support");
	rc = archive_read_open(st->raw, st, NULL, raw_read, NULL);
	if (rc == ARCHIVE_OK)
		rc = archive_read_next_header(st->raw, &e);
	if (rc != ARCHIVE_OK && st->read_errno)
		return stream_fail(st);
	if (rc != ARCHIVE_OK && !st->in_off) {	/* an empty file */
		archive_read_free(st->raw);
		st->raw = NULL;
		return 0;
	}
	if (rc != ARCHIVE_OK) {
		/* raw takes anything: only a decoder can have failed */
		stream_error(st, 0, "%s", archive_error_string(st->raw));
		st->filter = "compressed";
		return stream_fail(st);
	}
	st->filter = archive_filter_name(st->raw, 0);
	if (archive_filter_code(st->raw, 0) != ARCHIVE_FILTER_GZIP)
		return 0;
	archive_read_free(st->raw);
	st->raw = NULL;
	if (lseek(st->fd, 0, SEEK_SET) < 0)
		return fail_errno(EXIT_FAIL, "cannot seek in %s", st->name);
	st->in_off = 0;
	if (inflateInit2(&st->z, 16 + MAX_WBITS) != Z_OK)
		die("cannot set up zlib");
	st->gzip = true;
	st->filter = "gzip";
	return 0;
}

static bool compressed(struct stream *st)
{
	return st->gzip || (st->raw && archive_filter_code(st->raw, 0) != ARCHIVE_FILTER_NONE);
}

/* Read every entry header; the data flows through (and into the hash). */
static int walk_tar(struct stream *st, struct archive *tar)
{
	struct archive_entry *e;
	int64_t pos;
	int rc;

	do {
		pos = archive_read_header_position(tar);
		rc = archive_read_data_skip(tar);
		if (rc == ARCHIVE_OK || rc == ARCHIVE_WARN) {
			rc = archive_read_next_header(tar, &e);
			if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN && rc != ARCHIVE_EOF &&
			    archive_read_header_position(tar) >= 0)
				pos = archive_read_header_position(tar);
		}
	} while (rc == ARCHIVE_OK || rc == ARCHIVE_WARN);
	if (rc == ARCHIVE_EOF)
		return 0;
	if (st->read_errno || st->err.len)
		return stream_fail(st);
	return fail(EXIT_REJECTED, "%s: corrupt tar archive at byte %" PRId64 ": %s",
		    st->name, pos, archive_error_string(tar));
}

int tar_digest_fd(int fd, const char *name, bool must_be_tar, bool drop_cache,
		  uint8_t *digest, uint64_t *size)
{
	struct stream st = {
		.fd = fd, .name = name, .drop_cache = drop_cache, .filter = "none",
		.err = STRBUF_INIT,
	};
	struct archive *tar = NULL;
	struct archive_entry *e;
	int rc, first;

	st.in = xmalloc(BUF_SIZE);
	st.out = xmalloc(BUF_SIZE);
	st.md = EVP_MD_CTX_new();
	if (!st.md || !EVP_DigestInit_ex(st.md, EVP_sha256(), NULL))
		die("cannot set up SHA-256 in OpenSSL");
	rc = open_raw(&st);
	if (rc)
		goto out;
	if (!st.gzip && !st.raw) {	/* empty */
		rc = must_be_tar ? fail(EXIT_REJECTED, "%s is empty, not a tar archive", name) : 0;
		goto out;
	}
	tar = archive_read_new();
	if (!tar || archive_read_support_format_tar(tar) != ARCHIVE_OK)
		die("out of memory");
	first = archive_read_open(tar, &st, NULL, tar_read, NULL);
	if (first == ARCHIVE_OK)
		first = archive_read_next_header(tar, &e);
	if (st.read_errno || st.err.len) {
		rc = stream_fail(&st);
		goto out;
	}
	/* An uncompressed run of zero blocks is an image (ext4 starts so), not an empty tar. */
	if (first == ARCHIVE_EOF && !compressed(&st) && !must_be_tar)
		first = ARCHIVE_FATAL;
	if (first != ARCHIVE_OK && first != ARCHIVE_WARN && first != ARCHIVE_EOF) {
		if (compressed(&st))
			rc = fail(EXIT_REJECTED, "%s holds %s-compressed data that is not a tar archive",
				  name, st.filter);
		else
			rc = must_be_tar ? fail(EXIT_REJECTED, "%s is not a tar archive", name) : 0;
		goto out;
	}
	rc = first == ARCHIVE_EOF ? 0 : walk_tar(&st, tar);
	if (!rc) {
		ssize_t n;

		/* What follows the end-of-archive blocks is part of the stream. */
		while ((n = stream_next(&st)) > 0)
			;
		if (n < 0)
			rc = stream_fail(&st);
	}
	if (!rc) {
		if (!EVP_DigestFinal_ex(st.md, digest, NULL))
			die("SHA-256 failed in OpenSSL");
		*size = st.size;
		rc = 1;
	}
out:
	if (tar)
		archive_read_free(tar);
	if (st.raw)
		archive_read_free(st.raw);
	if (st.gzip)
		inflateEnd(&st.z);
	EVP_MD_CTX_free(st.md);
	strbuf_release(&st.err);
	free(st.in);
	free(st.out);
	return rc;
}
