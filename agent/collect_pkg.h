/* Package database parsers behind pkg_collect() (collect.h), exposed for the
 * tests and fuzzers. Each appends the installed packages of text[0..len) to
 * inv (unsorted, no hash) and counts malformed entries in
 * ctx->stats[COLLECT_PKG]; they never fail on bad input.
 *
 * dpkg: paragraphs of the status file; a package counts as installed when
 *       the third word of Status is "installed" ("install ok installed",
 *       "hold ok installed"); source = Source: without its "(version)", or the
 *       package name when there is none (as dpkg-query's ${source:Package});
 *       installed_size = Installed-Size KiB x 1024.
 * apk:  entries of lib/apk/db/installed: P name, V version, A arch, o origin
 *       (source; the name when absent), I installed size in bytes.
 * rpm:  lines of `rpm -qa --queryformat PKG_RPM_QUERYFORMAT`: name, [epoch:]
 *       version-release, arch, source rpm, size, tab-separated; "(none)"
 *       becomes "". */
#ifndef CAIRN_AGENT_COLLECT_PKG_H
#define CAIRN_AGENT_COLLECT_PKG_H

#include <stddef.h>

#include "collect.h"

#define PKG_RPM_QUERYFORMAT \
	"%{NAME}\\t%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{SIZE}\\n"

int pkg_parse_dpkg_status(struct collect_ctx *ctx, const char *text, size_t len,
			  Cairn__PackageInventory *inv);
int pkg_parse_apk_installed(struct collect_ctx *ctx, const char *text, size_t len,
			    Cairn__PackageInventory *inv);
int pkg_parse_rpm_output(struct collect_ctx *ctx, const char *text, size_t len,
			 Cairn__PackageInventory *inv);

#endif
