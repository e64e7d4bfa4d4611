/* libFuzzer harness for the inventory parsers of outside bytes: the first
 * byte picks the parser, the rest is its input (a dpkg status file, an apk
 * installed file, rpm -qa output, a raw /proc/PID/cmdline, a cgroup file, an
 * os-release file, /proc/cpuinfo). Records built from the input are also
 * turned into JSON, which must always be valid. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collect.h"
#include "collect_host.h"
#include "collect_pkg.h"
#include "collect_proc.h"
#include "log.h"
#include "pbjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_json(const ProtobufCMessage *m)
{
	char *s = pbjson_dumps(m, PBJSON_EMIT_DEFAULTS, 0);
	if (!s)
		abort();
	json_t *j = json_loads(s, 0, NULL);
	if (!j)
		abort();
	json_decref(j);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	if (!quiet) {
		log_init("fuzz", LOGL_ERR);
		quiet = true;
	}
	if (size < 1)
		return 0;
	unsigned which = data[0] % 7;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	char *text = malloc(len + 1); /* NUL-terminated copy for the text parsers */
	memcpy(text, in, len);
	text[len] = '\0';
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, "/nonexistent");

	if (which <= 2) {
		Cairn__PackageInventory inv = CAIRN__PACKAGE_INVENTORY__INIT;
		if (which == 0)
			collect_pkg_parse_dpkg_status(&ctx, in, len, &inv);
		else if (which == 1)
			collect_pkg_parse_apk_installed(&ctx, in, len, &inv);
		else
			collect_pkg_parse_rpm_output(&ctx, in, len, &inv);
		check_json(&inv.base);
		for (size_t i = 0; i < inv.n_packages; i++)
			cairn__package__free_unpacked(inv.packages[i], NULL);
		free(inv.packages);
	} else if (which == 3) {
		char out[PROC_CMDLINE_MAX], id[PROC_IDENTITY_MAX];
		collect_proc_cmdline_format(in, len, false, "mysql", out, sizeof(out));
		if (strlen(out) >= sizeof(out) || !pbjson_utf8_valid(out, strlen(out)))
			abort();
		for (const unsigned char *c = (const unsigned char *)out; *c; c++)
			if (*c < 0x20 || *c == 0x7f || (c[0] == 0xc2 && c[1] <= 0x9f))
				abort(); /* one printable line, as documented */
		collect_proc_identity("/usr/bin/java", "java", in, len, id, sizeof(id));
		collect_proc_identity("", "x", in, len, id, sizeof(id));
		if (!pbjson_utf8_valid(id, strlen(id)))
			abort();
	} else if (which == 4) {
		char cid[PROC_CONTAINER_ID_MAX];
		if (collect_proc_container_id(text, cid) && strlen(cid) != 64)
			abort();
	} else if (which == 5) {
		Cairn__OsRelease os = CAIRN__OS_RELEASE__INIT;
		collect_host_parse_os_release(text, &os);
		check_json(&os.base);
		char **f[] = { &os.name, &os.id, &os.id_like, &os.version_id, &os.pretty_name,
			       &os.version_codename };
		for (size_t i = 0; i < 6; i++)
			if (*f[i] != protobuf_c_empty_string)
				free(*f[i]);
	} else {
		struct host_cpu cpu;
		collect_host_parse_cpuinfo(text, &cpu);
		if (!pbjson_utf8_valid(cpu.model, strlen(cpu.model)))
			abort();
	}
	free(text);
	return 0;
}
