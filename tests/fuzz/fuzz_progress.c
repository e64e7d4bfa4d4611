/* Task reports of migration tools (collector/plan/progress.h): the body of
 * PUT /api/v1/progress-streams/S/tasks/T and the ISO 8601 times in it. The
 * input's first byte picks the parser; a time that parses must format and
 * parse back to the same instant. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	char *s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = 0;
	struct errbuf eb = { { 0 } };
	if (data[0] % 2) {
		int64_t ms, back;
		if (!progress_time_parse(s, &ms)) {
			char text[40];
			progress_time_format(ms, text, sizeof(text));
			if (progress_time_parse(text, &back) || back != ms)
				abort();
		}
	} else {
		static struct progress_update u;
		json_t *j = json_loadb(s, size - 1, JSON_DECODE_ANY, NULL);
		if (j && !progress_update_init(&u, "s", "t", &eb))
			progress_update_from_json(j, &u, &eb);
		json_decref(j);
	}
	free(s);
	return 0;
}
