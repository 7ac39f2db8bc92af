/*
 * libFuzzer: the checks of job input that may come from the network
 * (webhook payloads): labels, job ids, orgs and repositories, on any
 * bytes. What they accept must be what they promise.
 */
#include "common.h"
#include "job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool in_set(const char *s, const char *set)
{
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

#define LOWER "abcdefghijklmnopqrstuvwxyz0123456789"
#define NAME_SET LOWER "ABCDEFGHIJKLMNOPQRSTUVWXYZ._:-"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xmemdup(data, size);
	struct strvec labels = STRVEC_INIT;
	const char *slash;

	if (!job_labels_parse(s, &labels)) {
		for (size_t i = 0; i < labels.nr; i++) {
			size_t len = strlen(labels.v[i]);

			if (!len || len > LABEL_MAX_LEN || !in_set(labels.v[i], LOWER "._:-") ||
			    (i && strcmp(labels.v[i - 1], labels.v[i]) >= 0))
				abort();
		}
	}
	strvec_clear(&labels);
	if (!job_id_check(s) && (!*s || strlen(s) > NAME_MAX_LEN || !in_set(s, NAME_SET)))
		abort();
	if (!job_org_check(s) && (!*s || strlen(s) > 39 || *s == '-' || !in_set(s, LOWER "-")))
		abort();
	slash = strchr(s, '/');
	if (!job_repo_check(s) && (!slash || slash == s || !slash[1] || strchr(slash + 1, '/')))
		abort();
	free(s);
	return 0;
}
