#ifndef BUILTIN_H
#define BUILTIN_H

/* One entry point per top-level command, cmd/<name>.c. */
int cmd_config(int argc, const char **argv);
int cmd_db(int argc, const char **argv);
int cmd_help(int argc, const char **argv);
int cmd_key(int argc, const char **argv);
int cmd_ratelimit(int argc, const char **argv);
int cmd_redact(int argc, const char **argv);
int cmd_registry(int argc, const char **argv);
int cmd_rootfs(int argc, const char **argv);
int cmd_serve(int argc, const char **argv);
int cmd_token(int argc, const char **argv);
int cmd_verify(int argc, const char **argv);


/*
 * Run the HTTP services of cmd/serve.c called names (NULL-terminated;
 * NULL: all of them) until SIGTERM or SIGINT, with serve's options and
 * the caller's usage: `nimbus serve` and `nimbus SERVICE serve`.
 */
int serve_services(int argc, const char **argv, const char *const *usage, const char *const *names);

#endif
