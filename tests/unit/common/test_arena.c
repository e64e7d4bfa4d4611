/* common/arena.c: protobuf-c allocations from chunks, released together, and
 * the byte cap that bounds what decoding untrusted bytes may cost. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "arena.h"

Test(arena, allocations_are_aligned_and_usable)
{
	struct arena *ar = arena_new(0);
	cr_assert_not_null(ar);
	for (size_t i = 1; i < 5000; i += 7) {
		uint8_t *p = ar->a.alloc(ar->a.allocator_data, i);
		cr_assert_not_null(p);
		cr_assert_eq((uintptr_t)p % sizeof(max_align_t), 0);
		memset(p, 0xab, i);
	}
	cr_assert_gt(arena_total(ar), 0);
	cr_assert_not(ar->refused);
	arena_release(ar);
}

Test(arena, cap_refuses_past_max_total)
{
	struct arena *ar = arena_new_capped(4096, 64 << 10);
	size_t got = 0;
	void *p;
	while ((p = ar->a.alloc(ar->a.allocator_data, 1000)))
		got += 1000;
	cr_assert(ar->refused);
	cr_assert_leq(arena_total(ar), 64 << 10, "total %zu", arena_total(ar));
	cr_assert_geq(got, 48 << 10, "the cap is used, not wasted: %zu", got);
	cr_assert_null(ar->a.alloc(ar->a.allocator_data, 1 << 20));
	arena_release(ar);
}
