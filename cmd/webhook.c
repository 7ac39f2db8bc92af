#include "common.h"
#include "builtin.h"
#include "config.h"
#include "output.h"
#include "parse-options.h"
#include "timeutil.h"
#include "webhook.h"

static const char *const serve_usage[] = {
	"nimbus webhook serve [--listen HOST:PORT] [--log-format text|json]",
	NULL,
};

static const char *const sign_usage[] = {
	"nimbus webhook sign --secret-file FILE [--scheme github|standard] [--id ID] "
	"[--timestamp SECONDS] [--json]",
	NULL,
};

static const char *const verify_usage[] = {
	"nimbus webhook verify --secret-file FILE [--header 'NAME: VALUE']... [--window SECONDS] "
	"[--no-replay-check] [--json]",
	NULL,
};

#define OPT_SECRET_FILE(v) \
	OPT_STRING(0, "secret-file", (v), "FILE", "the secrets, one per line (mode 0600)")

static int webhook_serve(int argc, const char **argv)
{
	return serve_main(argc, argv, serve_usage, "webhook");
}

/* The secrets of path, and the body on stdin, or exit. */
static void read_input(const char *path, struct webhook_secrets **secrets, struct strbuf *body)
{
	uint64_t max = cfg_size("webhook.max_body");
	int rc = webhook_secrets_load(path, secrets);

	if (rc)
		die_fail(rc);
	if (strbuf_read_fd(body, 0, max) < 0) {
		if (errno == E2BIG)
			die_code(EXIT_USAGE, "the body on stdin is larger than webhook.max_body "
				 "(%" PRIu64 " bytes)", max);
		die_errno("cannot read the body on stdin");
	}
}

static int webhook_sign_cmd(int argc, const char **argv)
{
	const char *path = NULL, *scheme_name = "standard", *id = NULL;
	int64_t timestamp = -1;
	const struct option options[] = {
		OPT_SECRET_FILE(&path),
		OPT_STRING(0, "scheme", &scheme_name, "github|standard",
			   "GitHub's signature or Standard Webhooks' (default)"),
		OPT_STRING(0, "id", &id, "ID", "the delivery id (default: a new one)"),
		OPT_INT(0, "timestamp", &timestamp, "SECONDS", "the time signed (standard; default: now)",
			0, WEBHOOK_TIME_MAX),
		OPT_JSON(),
		OPT_END(),
	};
	struct webhook_secrets *secrets;
	struct strvec headers = STRVEC_INIT;
	struct strbuf body = STRBUF_INIT, fresh = STRBUF_INIT, text = STRBUF_INIT;
	json_t *doc;
	int scheme, rc;

	argc = parse_options(argc, argv, options, sign_usage, 0);
	if (argc)
		usage_msg(sign_usage, options, "too many arguments");
	if (!path)
		usage_msg(sign_usage, options, "--secret-file is required");
	scheme = webhook_scheme_parse(scheme_name);
	if (scheme < 0)
		usage_msg(sign_usage, options, "option '--scheme': '%s' is not github or standard",
			  scheme_name);
	if (scheme == WEBHOOK_GITHUB && timestamp >= 0)
		usage_msg(sign_usage, options, "GitHub signs no time: --timestamp is for --scheme "
			  "standard");
	if (id && !webhook_id_valid(id))
		usage_msg(sign_usage, options, "option '--id': 1 to %d letters, digits, '.', '_', "
			  "':' or '-'", WEBHOOK_ID_MAX);
	read_input(path, &secrets, &body);
	if (!id) {
		webhook_new_id(scheme, &fresh);
		id = fresh.buf;
	}
	rc = webhook_sign(secrets, scheme, id, timestamp >= 0 ? timestamp : now_ms() / 1000,
			  body.buf, body.len, &headers);
	if (rc)
		die_fail(rc);
	doc = json_object();
	for (size_t i = 0; i + 1 < headers.nr; i += 2) {
		json_object_set_new(doc, headers.v[i], xjson_string(headers.v[i + 1]));
		strbuf_addf(&text, "%s: %s\n", headers.v[i], headers.v[i + 1]);
	}
	out_result(doc);
	out_textf("%s", text.buf);
	webhook_secrets_free(secrets);
	strvec_clear(&headers);
	strbuf_release(&body);
	strbuf_release(&fresh);
	strbuf_release(&text);
	return 0;
}

static json_t *delivery_json(const struct webhook *wh)
{
	json_t *o = json_pack("{s:s, s:s}", "scheme", webhook_scheme_names[wh->scheme],
			      "delivery", wh->id);

	json_object_set_new(o, "event", wh->event ? xjson_string(wh->event) : json_null());
	if (wh->hook_id)
		json_object_set_new(o, "hook_id", xjson_string(wh->hook_id));
	json_object_set_new(o, "time", xjson_time(wh->time));
	json_object_set_new(o, "org", *wh->org ? xjson_string(wh->org) : json_null());
	return o;
}

static int webhook_verify_cmd(int argc, const char **argv)
{
	const char *path = NULL;
	struct strvec headers = STRVEC_INIT;
	int64_t window = -1;
	int no_replay = 0;
	const struct option options[] = {
		OPT_SECRET_FILE(&path),
		OPT_STRVEC(0, "header", &headers, "'NAME: VALUE'", "a header of the delivery"),
		OPT_SECONDS(0, "window", &window, "how far its time may be from now "
			    "(default: webhook.window)", 1, 86400),
		OPT_BOOL(0, "no-replay-check", &no_replay, "do not claim the delivery in the kv"),
		OPT_JSON(),
		OPT_END(),
	};
	struct webhook_secrets *secrets;
	struct webhook wh = WEBHOOK_INIT;
	struct strbuf body = STRBUF_INIT;
	struct kv *kv = NULL;
	int rc;

	argc = parse_options(argc, argv, options, verify_usage, 0);
	if (argc)
		usage_msg(verify_usage, options, "too many arguments");
	if (!path)
		usage_msg(verify_usage, options, "--secret-file is required");
	for (size_t i = 0; i < headers.nr; i++)
		if (!strchr(headers.v[i], ':'))
			usage_msg(verify_usage, options, "option '--header': '%s' is not 'NAME: VALUE'",
				  headers.v[i]);
	if (window < 0)
		window = cfg_int("webhook.window");
	read_input(path, &secrets, &body);
	rc = webhook_check(&wh, secrets, webhook_header_in_lines, &headers, body.buf, body.len,
			   window, now_ms() / 1000);
	if (!rc && !no_replay) {
		rc = kv_open(&kv, NULL);
		if (!rc)
			rc = webhook_claim(kv, &wh, window);
		kv_close(kv);
	}
	if (rc)
		die_fail(rc);
	out_result(delivery_json(&wh));
	webhook_release(&wh);
	webhook_secrets_free(secrets);
	strvec_clear(&headers);
	strbuf_release(&body);
	return 0;
}

static const struct subcommand webhook_subcommands[] = {
	{ "serve", webhook_serve, serve_usage, "run the webhook receiver alone" },
	{ "sign", webhook_sign_cmd, sign_usage, "print the signed headers of a delivery on stdin" },
	{ "verify", webhook_verify_cmd, verify_usage,
	  "check a delivery on stdin: 0 valid, 3 bad signature or time, 5 replay" },
	{ NULL },
};

int cmd_webhook(int argc, const char **argv)
{
	return run_subcommand(argc, argv, webhook_subcommands);
}
