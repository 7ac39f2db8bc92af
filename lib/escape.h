#ifndef ESCAPE_H
#define ESCAPE_H

/* Append s as a JSON string (quoted); invalid UTF-8 becomes U+FFFD. */
void strbuf_add_json_string(struct strbuf *sb, const char *s, size_t len);
/*
 * Append s for a terminal or a log line: \n, \r, \t as escapes, other
 * control characters and DEL as \xNN, invalid UTF-8 as \xNN.
 */
void strbuf_add_printable(struct strbuf *sb, const char *s, size_t len);
/* Append s percent-encoded for a URL's query: all but A-Z a-z 0-9 - . _ ~ */
void strbuf_add_urlencoded(struct strbuf *sb, const char *s, size_t len);
/* len bytes as 2 * len lower-case hex digits and a NUL, into out. */
void hex_encode(char *out, const void *in, size_t len);
/* Length of the valid UTF-8 sequence at s (1-4), or 0 when invalid. */
size_t utf8_seq_len(const unsigned char *s, size_t avail);

/* Append a path from /proc/mounts or mountinfo, undoing their \ooo escapes of blanks. */
void strbuf_add_mount_path(struct strbuf *sb, const char *s);

#endif
