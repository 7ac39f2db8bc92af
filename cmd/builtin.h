#ifndef BUILTIN_H
#define BUILTIN_H

/* One entry point per top-level command, cmd/<name>.c. */
int cmd_audit(int argc, const char **argv);
int cmd_boot(int argc, const char **argv);
int cmd_cache(int argc, const char **argv);
int cmd_config(int argc, const char **argv);
int cmd_db(int argc, const char **argv);
int cmd_fc(int argc, const char **argv);
int cmd_github(int argc, const char **argv);
int cmd_help(int argc, const char **argv);
int cmd_host(int argc, const char **argv);
int cmd_job(int argc, const char **argv);
int cmd_key(int argc, const char **argv);
int cmd_lease(int argc, const char **argv);
int cmd_logs(int argc, const char **argv);
int cmd_ratelimit(int argc, const char **argv);
int cmd_reap(int argc, const char **argv);
int cmd_redact(int argc, const char **argv);
int cmd_registry(int argc, const char **argv);
int cmd_rootfs(int argc, const char **argv);
int cmd_serve(int argc, const char **argv);
int cmd_snapshot(int argc, const char **argv);
int cmd_token(int argc, const char **argv);
int cmd_verify(int argc, const char **argv);
int cmd_vm(int argc, const char **argv);
int cmd_webhook(int argc, const char **argv);

/*
 * cmd/serve.c: run the HTTP services until SIGTERM or SIGINT, all of
 * them (only NULL), or the one named only and those every server has
 * (`nimbus SERVICE serve`). usage is the caller's.
 */
int serve_main(int argc, const char **argv, const char *const *usage, const char *only);

/*
 * Teardown actions (cmd/vm.c): the ones done printed one a line (an
 * array with --json), the failures reported as errors.
 */
struct teardown_actions;
void print_actions(const struct teardown_actions *acts);
/* Returns the exit code of rc. */
int report_actions(const struct teardown_actions *acts, int rc);

#endif
