#include "token.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "decide.h"
#include "store.h"

static const char *const role_names[] = { "none", "viewer", "operator", "admin" };

int token_role_parse(const char *s, enum token_role *out)
{
	for (int i = TOKEN_ROLE_VIEWER; i <= TOKEN_ROLE_ADMIN; i++)
		if (!strcmp(s, role_names[i])) {
			*out = (enum token_role)i;
			return 0;
		}
	return -EINVAL;
}

const char *token_role_name(enum token_role r)
{
	return r >= TOKEN_ROLE_VIEWER && r <= TOKEN_ROLE_ADMIN ? role_names[r] : "none";
}

bool token_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n < 1 || n > TOKEN_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '@' || c == '-'))
			return false;
	}
	return true;
}

static void hash_secret(const uint8_t secret[static TOKEN_SECRET_LEN], uint8_t out[static 32])
{
	crypto_generichash(out, 32, secret, TOKEN_SECRET_LEN, NULL, 0);
}

static void info_from(const Cairn__Store__ApiToken *t, struct token_info *out)
{
	memset(out, 0, sizeof(*out));
	str_copy(out->name, t->name, sizeof(out->name));
	if (token_role_parse(t->role, &out->role))
		out->role = TOKEN_ROLE_NONE;
	out->created_ms = t->created_ms;
	str_copy(out->created_by, t->created_by, sizeof(out->created_by));
}

/* Calls fn for every stored token until it returns non-zero (returned). */
static int each_token(MDB_txn *txn, const struct db_env *env,
		      int (*fn)(const MDB_val *k, const Cairn__Store__ApiToken *t, void *arg), void *arg)
{
	MDB_cursor *c;
	int rc = mdb_cursor_open(txn, env->dbi[STORE_TOKENS], &c);
	if (rc)
		return rc;
	MDB_val k, v;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		Cairn__Store__ApiToken *t = cairn__store__api_token__unpack(NULL, v.mv_size, v.mv_data);
		if (!t)
			continue; /* undecodable: never matches a name or a secret */
		int r = fn(&k, t, arg);
		cairn__store__api_token__free_unpacked(t, NULL);
		if (r) {
			mdb_cursor_close(c);
			return r;
		}
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

struct by_name {
	const char *name;
	uint8_t key[32];
	bool found;
};

static int match_name(const MDB_val *k, const Cairn__Store__ApiToken *t, void *arg)
{
	struct by_name *b = arg;
	if (strcmp(t->name, b->name) || k->mv_size != 32)
		return 0;
	memcpy(b->key, k->mv_data, 32);
	b->found = true;
	return 1;
}

struct create_arg {
	const char *name;
	enum token_role role;
	uint8_t hash[32];
	struct errbuf *eb;
};

static int create_txn(MDB_txn *txn, const struct db_env *env, void *arg)
{
	struct create_arg *a = arg;
	struct by_name b = { .name = a->name };
	int rc = each_token(txn, env, match_name, &b);
	if (rc && rc != 1)
		return rc;
	if (b.found)
		return errbuf_set(a->eb, -EEXIST,
				  "a token named '%s' exists already (revoke it first, or pick another name)",
				  a->name);
	Cairn__Store__ApiToken t = CAIRN__STORE__API_TOKEN__INIT;
	int64_t now = time_now_ms();
	t.name = (char *)a->name;
	t.role = (char *)token_role_name(a->role);
	t.hash.data = a->hash;
	t.hash.len = 32;
	t.created_ms = now;
	t.created_by = (char *)os_user_name();
	struct db_key key;
	db_key_init(&key);
	db_key_bytes(&key, a->hash, 32);
	if ((rc = store_put_msg(txn, env->dbi[STORE_TOKENS], &key, &t.base)))
		return rc;
	return audit_append(txn, env, now, os_user_name(), "token.create", a->name, t.role);
}

int token_create(struct read_ctx *r, const char *name, enum token_role role,
		 char text[static TOKEN_TEXT_LEN + 1], struct errbuf *eb)
{
	if (!token_name_valid(name))
		return errbuf_set(eb, -EINVAL,
				  "token name '%s': use 1 to %d of letters, digits, '.', '_', '@', '-'",
				  name, TOKEN_NAME_MAX);
	if (role < TOKEN_ROLE_VIEWER || role > TOKEN_ROLE_ADMIN)
		return errbuf_set(eb, -EINVAL, "token role: use viewer, operator or admin");
	if (sodium_init() < 0)
		return errbuf_set(eb, -EIO, "libsodium did not initialize");
	uint8_t secret[TOKEN_SECRET_LEN];
	randombytes_buf(secret, sizeof(secret));
	struct create_arg a = { .name = name, .role = role, .eb = eb };
	hash_secret(secret, a.hash);
	int rc = decide_write(r, create_txn, &a, eb);
	if (!rc) {
		memcpy(text, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
		sodium_bin2hex(text + sizeof(TOKEN_PREFIX) - 1, 2 * TOKEN_SECRET_LEN + 1, secret,
			       sizeof(secret));
	}
	sodium_memzero(secret, sizeof(secret));
	return rc;
}

struct revoke_arg {
	const char *name;
	struct errbuf *eb;
};

static int revoke_txn(MDB_txn *txn, const struct db_env *env, void *arg)
{
	struct revoke_arg *a = arg;
	struct by_name b = { .name = a->name };
	int rc = each_token(txn, env, match_name, &b);
	if (rc && rc != 1)
		return rc;
	if (!b.found)
		return errbuf_set(a->eb, -ENOENT, "no token named '%s' ('token list' shows them)",
				  a->name);
	MDB_val k = { .mv_size = 32, .mv_data = b.key };
	if ((rc = mdb_del(txn, env->dbi[STORE_TOKENS], &k, NULL)))
		return rc;
	return audit_append(txn, env, time_now_ms(), os_user_name(), "token.revoke", a->name, NULL);
}

int token_revoke(struct read_ctx *r, const char *name, struct errbuf *eb)
{
	struct revoke_arg a = { name, eb };
	return decide_write(r, revoke_txn, &a, eb);
}

struct list_arg {
	struct token_info *v;
	size_t n, cap;
};

static int add_info(const MDB_val *k, const Cairn__Store__ApiToken *t, void *arg)
{
	struct list_arg *l = arg;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		struct token_info *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	info_from(t, &l->v[l->n++]);
	return 0;
}

static int cmp_info(const void *a, const void *b)
{
	return strcmp(((const struct token_info *)a)->name, ((const struct token_info *)b)->name);
}

int token_list(const struct read_txn *t, struct token_info **out, size_t *n, struct errbuf *eb)
{
	struct list_arg l = { 0 };
	int rc = each_token(t->txn, t->db, add_info, &l);
	if (rc) {
		free(l.v);
		return errbuf_set(eb, rc, "reading DB tokens: %s", db_strerror(rc));
	}
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), cmp_info);
	*out = l.v;
	*n = l.n;
	return 0;
}

int token_verify(const struct read_txn *t, const char *text, size_t len, struct token_info *out)
{
	size_t plen = sizeof(TOKEN_PREFIX) - 1;
	uint8_t secret[TOKEN_SECRET_LEN], hash[32];
	size_t got = 0;
	if (len != TOKEN_TEXT_LEN || memcmp(text, TOKEN_PREFIX, plen) ||
	    sodium_hex2bin(secret, sizeof(secret), text + plen, len - plen, NULL, &got, NULL) ||
	    got != sizeof(secret))
		return -EACCES;
	hash_secret(secret, hash);
	sodium_memzero(secret, sizeof(secret));
	/* the lookup is by the hash: timing says nothing about the secret */
	MDB_val k = { .mv_size = sizeof(hash), .mv_data = hash }, v;
	if (mdb_get(t->txn, t->db->dbi[STORE_TOKENS], &k, &v))
		return -EACCES;
	Cairn__Store__ApiToken *tok = cairn__store__api_token__unpack(NULL, v.mv_size, v.mv_data);
	if (!tok)
		return -EACCES;
	info_from(tok, out);
	cairn__store__api_token__free_unpacked(tok, NULL);
	return out->role == TOKEN_ROLE_NONE ? -EACCES : 0;
}
