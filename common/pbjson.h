/* protobuf-c message -> JSON (jansson), driven by the message descriptors.
 *
 * Mapping (stable; exports and `--json` output depend on it):
 *   - keys are the .proto field names (snake_case), in field-number order;
 *   - enums are their value names ("TCP"); a value the schema does not know
 *     is written as its number;
 *   - bytes are lower-case hex strings;
 *   - 32- and 64-bit integers are JSON numbers (a uint64 above 2^63-1 becomes
 *     a double, the one case where precision can be lost);
 *   - float/double are numbers; NaN and infinities become null;
 *   - repeated fields are arrays; unset sub-messages and unset oneof members
 *     are skipped; a proto2/proto3-optional field without has_ is skipped;
 *   - proto3 scalars equal to their default (0, false, "", empty bytes) and
 *     empty repeated fields are omitted, unless PBJSON_EMIT_DEFAULTS is given,
 *     in which case every singular scalar and every repeated field appears;
 *   - strings that are not valid UTF-8 have each bad byte replaced by U+FFFD,
 *     so the output is always valid JSON.
 */
#ifndef CAIRN_PBJSON_H
#define CAIRN_PBJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

enum pbjson_flags {
	PBJSON_EMIT_DEFAULTS = 1 << 0,
};

/* Maximum nesting of messages converted; deeper input yields NULL. */
#define PBJSON_MAX_DEPTH 32

/* New reference to a JSON object, or NULL (out of memory, nesting too deep). */
json_t *pbjson_from_message(const ProtobufCMessage *msg, unsigned flags);

/* Dumps msg as compact (indent 0) or indented JSON text: malloc'd, NUL-terminated,
 * or NULL on failure. */
char *pbjson_dumps(const ProtobufCMessage *msg, unsigned flags, int indent);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool pbjson_utf8_valid(const char *s, size_t len);

/* Copies s[0..len) into out (size n, always NUL-terminated) replacing every
 * byte that does not start a well-formed UTF-8 sequence (and NUL bytes) by
 * U+FFFD; never cuts a character. Returns the bytes written (without NUL). */
size_t pbjson_utf8_sanitize(char *out, size_t n, const char *s, size_t len);

/* A uint64 as JSON by the mapping above: an integer, or a double above
 * 2^63-1 (never a negative number). */
json_t *pbjson_u64(uint64_t v);

/* A JSON string of s (NULL = ""): agents' strings are not checked for UTF-8
 * when stored and jansson refuses invalid UTF-8 (a value would silently go
 * missing), so bytes that do not form UTF-8 become U+FFFD. NULL only when
 * out of memory. */
json_t *pbjson_string(const char *s);

#endif
