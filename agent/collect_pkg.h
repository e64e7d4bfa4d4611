/* Package database parsers behind collect_pkg() (collect.h), exposed for the
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

/* Package inventories: dpkg (<root>/var/lib/dpkg/status), rpm (`rpm -qa
 * --queryformat` run read-only with a timeout, --dbpath <root>/var/lib/rpm
 * under a fixture root), apk (<root>/lib/apk/db/installed). Managers are
 * detected by what is present; every one found is reported.
 *
 * State lets the daemon avoid re-reading unchanged databases: when the
 * database's files did not change (inode, size, mtime) or the content hash
 * equals the last one, the inventory is sent with unchanged = true and no
 * packages. A zeroed struct pkg_state (or NULL) means "nothing sent yet". */
enum { PKG_DPKG, PKG_RPM, PKG_APK, PKG_NMANAGERS };

struct pkg_state {
	struct pkg_manager_state {
		bool have_hash;
		uint8_t hash[32];
		uint64_t sig[4];            /* dev, inode, size, mtime ns of the database */
	} m[PKG_NMANAGERS];
};

/* out: malloc'd array of *n inventories (free each with
 * cairn__package_inventory__free_unpacked(x, NULL), then free(array)).
 * Packages are sorted by name, version, architecture. */
int collect_pkg(struct collect_ctx *ctx, struct pkg_state *st,
		Cairn__PackageInventory ***out, size_t *n);

#define PKG_RPM_QUERYFORMAT \
	"%{NAME}\\t%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{SIZE}\\n"

int collect_pkg_parse_dpkg_status(struct collect_ctx *ctx, const char *text, size_t len,
			  Cairn__PackageInventory *inv);
int collect_pkg_parse_apk_installed(struct collect_ctx *ctx, const char *text, size_t len,
			    Cairn__PackageInventory *inv);
int collect_pkg_parse_rpm_output(struct collect_ctx *ctx, const char *text, size_t len,
			 Cairn__PackageInventory *inv);

#endif
