/* libFuzzer: read_edge_view over any stored value (an edge record from a
 * damaged or foreign store). It must never read outside the value, and
 * every string it returns must lie inside it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const struct read_str *s, const uint8_t *data, size_t size)
{
	if (!s->n)
		return;
	const uint8_t *p = (const uint8_t *)s->p;
	if (p < data || p + s->n > data + size || memchr(p, 0, s->n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes, so that ASan sees any read past it */
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	MDB_val v = { size, copy };
	struct read_edge_view e;
	if (read_edge_view(&v, &e)) {
		inside(&e.process_name, copy, size);
		inside(&e.identity, copy, size);
		inside(&e.remote_address, copy, size);
		inside(&e.peer_process_name, copy, size);
		inside(&e.peer_identity, copy, size);
	}
	free(copy);
	return 0;
}
