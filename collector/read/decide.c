#include "decide.h"

#include <errno.h>

struct call {
	decide_fn fn;
	void *arg;
	const struct db_env *env;
};

static int run(MDB_txn *txn, void *arg)
{
	struct call *c = arg;
	return c->fn(txn, c->env, c->arg);
}

int decide_write(struct read_ctx *r, decide_fn fn, void *arg, struct errbuf *eb)
{
	if (!r->opened)
		return errbuf_set(eb, -EBADF, "the store is not open");
	struct call c = { fn, arg, &r->db };
	int rc = db_write(&r->db, run, &c);
	if (rc && eb && !eb->msg[0])
		errbuf_set(eb, rc, "writing the decision to %s: %s", r->cfg.state_dir,
			   db_strerror(rc));
	return rc;
}
