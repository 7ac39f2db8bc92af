#ifndef BLOBDIR_H
#define BLOBDIR_H

#include <sys/stat.h>

/*
 * The registry's files, under registry.dir:
 *
 *	blobs/sha256/XX/HEX	each blob once, by digest (XX: HEX's first two digits)
 *	uploads/ID		the data of an upload session
 *
 * A blob file appears whole or not at all: an upload is written under
 * uploads/, checked, fsynced and renamed into blobs/, and the directory
 * is fsynced. Who links a blob to an org (the store) and who removes a
 * blob file (gc) hold the lock of the blob's shard, XX, meanwhile: flock
 * on its directory, so that processes on one host, and threads, take
 * turns. Everything returns 0 (or a descriptor) or -code after fail().
 */

struct blobdir {
	char *path;
	int fd, blobs_fd, uploads_fd;	/* registry.dir, blobs/sha256, uploads */
};

/* Open path, creating what is missing (directories 0700). */
int blobdir_open(struct blobdir *bd, const char *path);
void blobdir_close(struct blobdir *bd);

/* The file of a blob, to read: a descriptor, or -EXIT_NOTFOUND. */
int blobdir_read(const struct blobdir *bd, const char *digest);

/*
 * Upload files, held under an exclusive lock until closed: create a new
 * one, or open one to append to (-EXIT_NOTFOUND when missing,
 * -EXIT_BUSY while another request holds it).
 */
int blobdir_upload_create(const struct blobdir *bd, const char *id);
int blobdir_upload_open(const struct blobdir *bd, const char *id);
/* Remove an upload's data; a missing file is fine. */
int blobdir_upload_remove(const struct blobdir *bd, const char *id);

/* Lock the shard of digest (creating it): a descriptor to unlock with close(). */
int blobdir_lock(const struct blobdir *bd, const char *digest);
/* With the shard locked: upload id, whose data fd holds, becomes the blob digest. */
int blobdir_commit(const struct blobdir *bd, int shard, const char *id, int fd, const char *digest);
/* With the shard locked: remove the file of digest (a missing one is fine). */
int blobdir_remove(const struct blobdir *bd, int shard, const char *digest);

/*
 * Walk the blob files (name: their digest) or the upload files (name:
 * the id), for gc; names of another form are skipped. fn returns 0 to go
 * on, or -code to stop with it.
 */
typedef int blobdir_fn(void *data, const char *name, const struct stat *st);
int blobdir_each_blob(const struct blobdir *bd, blobdir_fn *fn, void *data);
int blobdir_each_upload(const struct blobdir *bd, blobdir_fn *fn, void *data);

#endif
