/* A bump allocator for protobuf-c: decoding one batch makes hundreds of small
 * allocations; from an arena they cost a pointer bump each and are released
 * together (arena_release) instead of one free() each. Pass &ar->a as the
 * ProtobufCAllocator of unpack; never free_unpacked what it decoded. */
#ifndef CAIRN_ARENA_H
#define CAIRN_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

struct arena_chunk;

struct arena {
	ProtobufCAllocator a;
	struct arena_chunk *head;
	size_t next_cap;
};

/* An empty arena whose first chunk holds first_cap bytes (at least 4 KiB).
 * NULL when out of memory. */
struct arena *arena_new(size_t first_cap);
/* Frees the arena and everything allocated from it. NULL is fine. */
void arena_release(struct arena *ar);

#endif
