/* The web API's request parsing that is ours (collector/web/webq.h): query
 * arguments, paths below /api/v1/ and JSON bodies. The input's first byte
 * picks the parser; the rest is split as libmicrohttpd would hand it over. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webq.h"

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
	switch (data[0] % 3) {
	case 0: { /* "a=b&c&d=e": each argument in turn, as MHD gives them */
		struct webq q;
		webq_init(&q);
		char *save = NULL;
		for (char *arg = strtok_r(s, "&", &save); arg; arg = strtok_r(NULL, "&", &save)) {
			char *eq = strchr(arg, '=');
			if (eq)
				*eq = 0;
			if (webq_arg(&q, arg, eq ? eq + 1 : NULL, &eb))
				break;
		}
		break;
	}
	case 1: {
		char seg[3][WEBQ_TEXT_MAX];
		int n = webq_path(s, seg, 3);
		for (int i = 0; i < n; i++)
			if (strlen(seg[i]) >= WEBQ_TEXT_MAX)
				abort();
		break;
	}
	default: {
		json_t *j = NULL;
		if (!webq_body((const char *)data + 1, size - 1, &j, &eb)) {
			webq_body_str(j, "name", 200, &eb);
			webq_body_str(j, "state", 32, &eb);
			json_decref(j);
		}
		break;
	}
	}
	free(s);
	return 0;
}
