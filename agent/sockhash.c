#include "sockhash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static size_t slot_of(const struct sockhash *h, uint64_t key)
{
	return (size_t)mix64(key) & (h->cap - 1);
}

static int grow(struct sockhash *h)
{
	size_t ncap = h->cap ? h->cap * 2 : 64;
	uint64_t *nk = calloc(ncap, sizeof(*nk));
	uint64_t *nv = calloc(ncap, sizeof(*nv));
	if (!nk || !nv) {
		free(nk);
		free(nv);
		return -ENOMEM;
	}
	struct sockhash old = *h;
	h->keys = nk;
	h->vals = nv;
	h->cap = ncap;
	h->n = 0;
	for (size_t i = 0; i < old.cap; i++)
		if (old.keys[i])
			sockhash_put(h, old.keys[i], old.vals[i]);
	free(old.keys);
	free(old.vals);
	return 0;
}

int sockhash_put(struct sockhash *h, uint64_t key, uint64_t val)
{
	if (!key)
		return -EINVAL; /* 0 marks an empty slot */
	if ((h->n + 1) * 2 > h->cap) {
		int rc = grow(h);
		if (rc)
			return rc;
	}
	size_t i = slot_of(h, key);
	while (h->keys[i] && h->keys[i] != key)
		i = (i + 1) & (h->cap - 1);
	if (!h->keys[i]) {
		h->keys[i] = key;
		h->n++;
	}
	h->vals[i] = val;
	return 0;
}

bool sockhash_get(const struct sockhash *h, uint64_t key, uint64_t *val)
{
	if (!h->cap)
		return false;
	size_t i = slot_of(h, key);
	while (h->keys[i]) {
		if (h->keys[i] == key) {
			if (val)
				*val = h->vals[i];
			return true;
		}
		i = (i + 1) & (h->cap - 1);
	}
	return false;
}

bool sockhash_del(struct sockhash *h, uint64_t key)
{
	if (!h->cap)
		return false;
	size_t mask = h->cap - 1;
	size_t i = slot_of(h, key);
	while (h->keys[i] && h->keys[i] != key)
		i = (i + 1) & mask;
	if (!h->keys[i])
		return false;
	/* Backward shift: pull later members of the probe run into the hole
	 * when their home slot does not lie between the hole and them. */
	size_t j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (!h->keys[j])
			break;
		size_t home = slot_of(h, h->keys[j]);
		bool between = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
		if (between)
			continue;
		h->keys[i] = h->keys[j];
		h->vals[i] = h->vals[j];
		i = j;
	}
	h->keys[i] = 0;
	h->vals[i] = 0;
	h->n--;
	return true;
}

void sockhash_clear(struct sockhash *h)
{
	if (h->cap) {
		memset(h->keys, 0, h->cap * sizeof(*h->keys));
		memset(h->vals, 0, h->cap * sizeof(*h->vals));
	}
	h->n = 0;
}

void sockhash_free(struct sockhash *h)
{
	free(h->keys);
	free(h->vals);
	memset(h, 0, sizeof(*h));
}

uint64_t sockhash_bytes(const void *data, size_t len, uint64_t seed)
{
	/* Eight bytes at a time through the mixer: the keys are small structs
	 * hashed tens of thousands of times per sample. */
	const unsigned char *p = data;
	uint64_t x = 0xcbf29ce484222325ULL ^ seed ^ len;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		x = mix64(x ^ w) + 0x9e3779b97f4a7c15ULL;
		p += 8;
		len -= 8;
	}
	if (len) {
		uint64_t w = 0;
		memcpy(&w, p, len);
		x = mix64(x ^ w ^ 0xff51afd7ed558ccdULL);
	}
	x = mix64(x);
	return x ? x : 1;
}

uint64_t sockhash_probe_key(uint64_t key, unsigned k)
{
	if (!k)
		return key;
	uint64_t x = mix64(key + 0x9e3779b97f4a7c15ULL * k);
	return x ? x : 1;
}
