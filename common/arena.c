#include "arena.h"

#include <stddef.h>
#include <stdlib.h>

#define ARENA_CHUNK_GROWTH_MAX ((size_t)1 << 20)

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
		if (ar->max_total) {
			size_t room = ar->max_total > ar->total ? ar->max_total - ar->total : 0;
			if (cap > room)
				cap = room; /* a last, smaller chunk */
			if (cap < n) {
				ar->refused = true;
				return NULL;
			}
		}
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		ar->total += cap;
		c->next = ar->head;
		c->used = 0;
		c->cap = cap;
		ar->head = c;
		/* Capped arenas grow linearly past ARENA_CHUNK_GROWTH_MAX, so what
		 * they hold stays close to what was asked (the cap means bytes
		 * decoded, not doubling slack). */
		ar->next_cap = cap * 2;
		if (ar->max_total && ar->next_cap > ARENA_CHUNK_GROWTH_MAX)
			ar->next_cap = cap > ARENA_CHUNK_GROWTH_MAX ? cap : ARENA_CHUNK_GROWTH_MAX;
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

struct arena *arena_new_capped(size_t first_cap, size_t max_total)
{
	struct arena *ar = arena_new(first_cap);
	if (ar)
		ar->max_total = max_total;
	return ar;
}

size_t arena_total(const struct arena *ar)
{
	return ar ? ar->total : 0;
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
