/* The web API's own parsing (webq) and the bearer tokens (token.h) in a real
 * LMDB store. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "read.h"
#include "token.h"
#include "web.h"
#include "webq.h"

Test(webq, arguments)
{
	struct webq q;
	struct errbuf eb = { { 0 } };
	webq_init(&q);
	cr_assert_eq(webq_arg(&q, "level", "app", &eb), 0);
	cr_assert_eq(q.level, DOCS_LEVEL_APP);
	cr_assert_eq(webq_arg(&q, "since", "12h", &eb), 0);
	cr_assert_eq(q.since_ms, 12 * 3600 * 1000ULL);
	cr_assert_eq(webq_arg(&q, "limit", "25", &eb), 0);
	cr_assert(q.has_limit && q.limit == 25);
	cr_assert_eq(webq_arg(&q, "app", "shop", &eb), 0);
	cr_assert_str_eq(q.app, "shop");
	cr_assert_eq(webq_arg(&q, "pending", NULL, &eb), 0);
	cr_assert(q.pending);
	/* refused, each naming the argument */
	const char *bad[][2] = { { "level", "planet" }, { "limit", "0" }, { "limit", "-1" },
				 { "limit", "100001" }, { "offset", "1x" }, { "since", "yesterday" },
				 { "app", "" }, { "host", "a\tb" }, { "colour", "red" }, { "pending", "2" } };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		eb.msg[0] = 0;
		cr_assert_eq(webq_arg(&q, bad[i][0], bad[i][1], &eb), -EINVAL, "%s=%s", bad[i][0], bad[i][1]);
		cr_assert(strstr(eb.msg, bad[i][0]), "%s", eb.msg);
	}
	char longv[WEBQ_TEXT_MAX + 10];
	memset(longv, 'x', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = 0;
	cr_assert_eq(webq_arg(&q, "host", longv, &eb), -EINVAL);
}

Test(webq, paths)
{
	char seg[3][WEBQ_TEXT_MAX];
	cr_assert_eq(webq_path("hosts", seg, 3), 1);
	cr_assert_eq(webq_path("hosts/", seg, 3), 1);
	cr_assert_eq(webq_path("apps/shop/rename", seg, 3), 3);
	cr_assert_str_eq(seg[1], "shop");
	cr_assert_eq(webq_path("", seg, 3), 0);
	cr_assert_eq(webq_path("a/b/c/d", seg, 3), -EINVAL);
	cr_assert_eq(webq_path("hosts//x", seg, 3), -EINVAL);
	cr_assert_eq(webq_path("hosts/../x", seg, 3), -EINVAL);
	cr_assert_eq(webq_path("hosts/\x01", seg, 3), -EINVAL);
}

Test(webq, bodies)
{
	struct errbuf eb = { { 0 } };
	json_t *j = NULL;
	const char ok[] = "{\"name\": \"webshop\"}";
	cr_assert_eq(webq_body(ok, strlen(ok), &j, &eb), 0);
	cr_assert_str_eq(webq_body_str(j, "name", 200, &eb), "webshop");
	cr_assert_null(webq_body_str(j, "state", 32, &eb));
	cr_assert(strstr(eb.msg, "state"));
	json_decref(j);
	const char *bad[] = { "", "{", "[1]", "\"x\"", "{\"a\":1,\"a\":2}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(webq_body(bad[i], strlen(bad[i]), &j, &eb), -EINVAL, "%s", bad[i]);
	char *big = malloc(WEBQ_BODY_MAX + 2);
	memset(big, ' ', WEBQ_BODY_MAX + 1);
	cr_assert_eq(webq_body(big, WEBQ_BODY_MAX + 1, &j, &eb), -E2BIG);
	free(big);
	const char ctl[] = "{\"name\": \"a\\u0007b\"}";
	cr_assert_eq(webq_body(ctl, strlen(ctl), &j, &eb), 0);
	cr_assert_null(webq_body_str(j, "name", 200, &eb), "a control character is not a name");
	json_decref(j);
}

Test(web, loopback)
{
	cr_assert(web_addr_is_loopback("127.0.0.1"));
	cr_assert(web_addr_is_loopback("127.3.4.5"));
	cr_assert(web_addr_is_loopback("::1"));
	cr_assert(web_addr_is_loopback("::ffff:127.0.0.1"));
	cr_assert_not(web_addr_is_loopback("0.0.0.0"));
	cr_assert_not(web_addr_is_loopback("::"));
	cr_assert_not(web_addr_is_loopback("10.0.0.1"));
	cr_assert_not(web_addr_is_loopback("localhost"));
}

Test(token, create_verify_revoke)
{
	char dir[] = "/tmp/cairn-token-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	struct read_ctx r;
	struct errbuf eb = { { 0 } };
	struct collector_config cfg;
	config_collector_defaults(&cfg);
	str_copy(cfg.state_dir, dir, sizeof(cfg.state_dir));
	cr_assert_eq(read_open_config(&r, &cfg, true, &eb), 0, "%s", eb.msg);
	char a[TOKEN_TEXT_LEN + 1], b[TOKEN_TEXT_LEN + 1];
	cr_assert_eq(token_create(&r, "alice", TOKEN_ROLE_OPERATOR, a, &eb), 0, "%s", eb.msg);
	cr_assert_eq(token_create(&r, "bob", TOKEN_ROLE_VIEWER, b, &eb), 0, "%s", eb.msg);
	cr_assert_eq(strlen(a), TOKEN_TEXT_LEN);
	cr_assert_str_neq(a, b);
	cr_assert_eq(token_create(&r, "alice", TOKEN_ROLE_ADMIN, b, &eb), -EEXIST);
	cr_assert_eq(token_create(&r, "no spaces", TOKEN_ROLE_ADMIN, b, &eb), -EINVAL);
	struct read_txn t;
	struct token_info who;
	cr_assert_eq(read_begin(&r, &t, &eb), 0);
	cr_assert_eq(token_verify(&t, a, strlen(a), &who), 0);
	cr_assert_str_eq(who.name, "alice");
	cr_assert_eq(who.role, TOKEN_ROLE_OPERATOR);
	char wrong[TOKEN_TEXT_LEN + 1];
	memcpy(wrong, a, sizeof(wrong));
	wrong[TOKEN_TEXT_LEN - 1] = wrong[TOKEN_TEXT_LEN - 1] == '0' ? '1' : '0';
	cr_assert_eq(token_verify(&t, wrong, strlen(wrong), &who), -EACCES);
	cr_assert_eq(token_verify(&t, a, strlen(a) - 1, &who), -EACCES);
	cr_assert_eq(token_verify(&t, "cairn_zz", 8, &who), -EACCES);
	struct token_info *v;
	size_t n;
	cr_assert_eq(token_list(&t, &v, &n, &eb), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[0].name, "alice");
	cr_assert_str_eq(v[1].name, "bob");
	free(v);
	read_end(&t);
	cr_assert_eq(token_revoke(&r, "alice", &eb), 0, "%s", eb.msg);
	cr_assert_eq(token_revoke(&r, "alice", &eb), -ENOENT);
	cr_assert_eq(read_begin(&r, &t, &eb), 0);
	cr_assert_eq(token_verify(&t, a, strlen(a), &who), -EACCES, "a revoked token still works");
	cr_assert_eq(token_verify(&t, b, strlen(b), &who), 0);
	read_end(&t);
	read_close(&r);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}
