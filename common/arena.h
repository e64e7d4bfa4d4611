/* A bump allocator for protobuf-c: decoding one batch makes hundreds of small
 * allocations; from an arena they cost a pointer bump each and are released
 * together (arena_release) instead of one free() each. Pass &ar->a as the
 * ProtobufCAllocator of unpack; never free_unpacked what it decoded. */
#ifndef CAIRN_ARENA_H
#define CAIRN_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

struct arena_chunk;

struct arena {
	ProtobufCAllocator a;
	struct arena_chunk *head;
	size_t next_cap;
	size_t total;     /* bytes of all chunks (what the arena holds from malloc) */
	size_t max_total; /* 0 = unbounded */
	bool refused;     /* an allocation was refused because of max_total */
};

/* An empty arena whose first chunk holds first_cap bytes (at least 4 KiB).
 * NULL when out of memory. */
struct arena *arena_new(size_t first_cap);
/* The same with a cap: an allocation that would take the arena's chunks
 * above max_total bytes fails (returns NULL, so protobuf-c's unpack fails)
 * and sets ar->refused. Bounds what decoding untrusted bytes may cost. */
struct arena *arena_new_capped(size_t first_cap, size_t max_total);
/* Bytes the arena holds (its chunks, used or not). */
size_t arena_total(const struct arena *ar);
/* Frees the arena and everything allocated from it. NULL is fine. */
void arena_release(struct arena *ar);

#endif
