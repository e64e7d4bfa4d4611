#include "arena.h"

#include <stddef.h>
#include <stdlib.h>

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

static void *arena_alloc_fn(void *ctx, size_t n)
{
	struct arena *ar = ctx;
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	struct arena_chunk *c = ar->head;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > ar->next_cap ? n : ar->next_cap;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->next = ar->head;
		c->used = 0;
		c->cap = cap;
		ar->head = c;
		ar->next_cap = cap * 2;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

static void arena_free_fn(void *ctx, void *p)
{
	(void)ctx;
	(void)p; /* released with the arena */
}

struct arena *arena_new(size_t first_cap)
{
	struct arena *ar = calloc(1, sizeof(*ar));
	if (!ar)
		return NULL;
	ar->a.alloc = arena_alloc_fn;
	ar->a.free = arena_free_fn;
	ar->a.allocator_data = ar;
	ar->next_cap = first_cap < 4096 ? 4096 : first_cap;
	return ar;
}

void arena_release(struct arena *ar)
{
	if (!ar)
		return;
	for (struct arena_chunk *c = ar->head, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(ar);
}
