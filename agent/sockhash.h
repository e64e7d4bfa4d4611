/* Open-addressing hash map from a non-zero 64-bit key to a 64-bit value, used
 * by the socket collector and the window aggregator (inode -> owner,
 * pid -> process, tuple hash -> entry index).
 *
 * Linear probing with backward-shift deletion (no tombstones); grows at 50 %
 * load. Key 0 is reserved for "empty": callers map 0 to something else.
 * Keys that are themselves hashes of larger keys (tuples, strings) are
 * disambiguated by the caller with sockhash_probe_key(): the k-th alternative
 * key for the same item, tried until an exact match or a free key is found. */
#ifndef CAIRN_AGENT_SOCKHASH_H
#define CAIRN_AGENT_SOCKHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockhash {
	uint64_t *keys;
	uint64_t *vals;
	size_t cap;     /* power of two, or 0 before the first insert */
	size_t n;
};

#define SOCKHASH_INIT {NULL, NULL, 0, 0}

/* Inserts or replaces. 0, -ENOMEM, or -EINVAL for key 0 (reserved). */
int sockhash_put(struct sockhash *h, uint64_t key, uint64_t val);
/* True and *val (may be NULL) when key is present. */
bool sockhash_get(const struct sockhash *h, uint64_t key, uint64_t *val);
/* True when key was present (and is now removed). */
bool sockhash_del(struct sockhash *h, uint64_t key);
/* Removes everything, keeps the memory. */
void sockhash_clear(struct sockhash *h);
void sockhash_free(struct sockhash *h);

/* 64-bit hash of bytes (never 0), and the k-th alternative of a hash key. */
uint64_t sockhash_bytes(const void *data, size_t len, uint64_t seed);
uint64_t sockhash_probe_key(uint64_t key, unsigned k);

/* Iteration: for (size_t i = 0; i < h->cap; i++) if (h->keys[i]) ... */

#endif
