/* Bearer tokens of the web console and API: `cairn-collector token create
 * NAME --role viewer|operator|admin`, `token list`, `token revoke NAME`.
 *
 * A token is 32 random bytes (randombytes_buf) shown once as "cairn_" + 64
 * hex digits. The store keeps only its BLAKE2b-256 hash (crypto_generichash)
 * as the key of DB tokens, with the name and role beside it. A fast hash is
 * enough here: a slow password hash (crypto_pwhash) protects secrets people
 * choose, which are guessable; 256 random bits are not, so a stolen store
 * does not give the tokens back either way, and a fast hash keeps checking a
 * token on every request to about a microsecond. Creating and revoking are
 * decisions (decide.h): stored durably with their audit entry. */
#ifndef CAIRN_TOKEN_H
#define CAIRN_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "read.h"
#include "util.h"

#define TOKEN_SECRET_LEN 32
#define TOKEN_PREFIX "cairn_"
#define TOKEN_TEXT_LEN (sizeof(TOKEN_PREFIX) - 1 + 2 * TOKEN_SECRET_LEN)
#define TOKEN_NAME_MAX 63

/* Ordered: a higher role may do everything a lower one may. */
enum token_role {
	TOKEN_ROLE_NONE = 0,
	TOKEN_ROLE_VIEWER = 1,    /* reads */
	TOKEN_ROLE_OPERATOR = 2,  /* + decisions on applications, migration status */
	TOKEN_ROLE_ADMIN = 3,     /* + enrollment (agents accept, reject, revoke) */
};

/* "viewer" | "operator" | "admin": 0 or -EINVAL. */
int token_role_parse(const char *s, enum token_role *out);
const char *token_role_name(enum token_role r);

/* Names: 1..63 of [A-Za-z0-9._@-] (they appear in the audit log). */
bool token_name_valid(const char *name);

struct token_info {
	char name[TOKEN_NAME_MAX + 1];
	enum token_role role;
	int64_t created_ms;
	char created_by[64];
};

/* Creates a token (r opened writable): text receives it (NUL-terminated),
 * shown once. -EINVAL for a bad name, -EEXIST when the name is taken. */
int token_create(struct read_ctx *r, const char *name, enum token_role role,
		 char text[static TOKEN_TEXT_LEN + 1], struct errbuf *eb);
/* Removes the token called name. -ENOENT when there is none. */
int token_revoke(struct read_ctx *r, const char *name, struct errbuf *eb);

/* Every token, by name. *out is malloc'd (free()). */
int token_list(const struct read_txn *t, struct token_info **out, size_t *n, struct errbuf *eb);

/* The token text presents (exactly TOKEN_TEXT_LEN characters): 0 with *out
 * filled, -EACCES when it is malformed or not stored (revoked or never
 * created). */
int token_verify(const struct read_txn *t, const char *text, size_t len, struct token_info *out);

#endif
