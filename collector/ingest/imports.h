/* Imported servers in the store (DB hosts, addrs, imports, import_keys).
 *
 * The store-level half of `cairn-collector import` (docs/import.md): an
 * imported server that no agent host matched is a host of its own, with a
 * synthesized HostFacts in DB hosts (so the map, the host view and every list
 * see it like an agent host), address claims in DB addrs (so a connection of
 * an agent host to one of its addresses resolves to it), its ImportedServer
 * in DB imports and its match keys in DB import_keys. An imported row merged
 * into an agent host only has its ImportedServer, under the agent's id: the
 * agent's facts win.
 *
 * Match keys are one definition for both sides (an imported row and an
 * agent's HostInfo): "s" + SMBIOS uuid (lower case), "m" + MAC, "n" + short
 * host name | IP. ingest.c calls imports_fold_agent with every HostInfo, so
 * an agent that arrives after its server was imported takes the import over
 * (the imported-only host disappears, its import record and tags move).
 *
 * Everything here runs inside the caller's write transaction; nothing
 * commits. Functions return 0 or an LMDB / negative errno error. */
#ifndef CAIRN_IMPORTS_H
#define CAIRN_IMPORTS_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "cairn.pb-c.h"
#include "store.pb-c.h"

#define IMPORTS_KEY_MAX 320

enum imports_key_kind {
	IMPORTS_KEY_SMBIOS = 's',
	IMPORTS_KEY_MAC = 'm',
	IMPORTS_KEY_NAME_IP = 'n',
};

/* Calls fn(kind, text, arg) for every match key of a row's facts / of an
 * agent's HostInfo (text is NUL-terminated, at most IMPORTS_KEY_MAX bytes).
 * A non-zero return stops and is returned. */
typedef int (*imports_key_fn)(enum imports_key_kind kind, const char *text, void *arg);
int imports_keys_of_facts(const Cairn__Store__ImportFacts *f, imports_key_fn fn, void *arg);
int imports_keys_of_info(const Cairn__HostInfo *hi, imports_key_fn fn, void *arg);

/* The id of a new imported-only host: BLAKE2b-256 of "import\0" + identity
 * (SMBIOS uuid, else ExternalId, else first MAC, else host name; with its
 * kind letter, so an ExternalId never collides with a MAC). -EINVAL when the
 * facts have no identity at all. */
int imports_host_id(const Cairn__Store__ImportFacts *f, uint8_t id[static 32]);

/* The HostInfo an imported-only host is shown with, built from the facts into
 * caller storage (the strings point into f; valid while f is). */
struct imports_info {
	Cairn__HostInfo hi;
	Cairn__OsRelease os;
	Cairn__Virtualization virt;
	Cairn__Nic nic_store[16];
	Cairn__Nic *nics[16];
	Cairn__IpAddress ip_store[32];
	Cairn__IpAddress *ips[32];
	Cairn__BlockDevice disk_store[16];
	Cairn__BlockDevice *disks[16];
	Cairn__Filesystem fs;
	Cairn__Filesystem *fss[1];
	char os_id[32];
	char pretty[256];
};
void imports_info_build(const Cairn__Store__ImportFacts *f, int64_t now_ms,
			struct imports_info *out);

/* Writes an imported-only host: hosts[id] (synthesized), addrs claims,
 * import_keys, imports[id] = rec. prev (may be NULL) is the record stored
 * before: its claims and keys are removed first. */
int imports_put_own(MDB_txn *txn, const struct db_env *env, const uint8_t id[static 32],
		    const Cairn__Store__ImportedServer *rec, const Cairn__Store__ImportedServer *prev,
		    int64_t now_ms);
/* Writes the record of a row merged into agent host id (imports[id] only). */
int imports_put_merged(MDB_txn *txn, const struct db_env *env, const uint8_t id[static 32],
		       const Cairn__Store__ImportedServer *rec);
/* Removes an imported-only host (hosts, addrs, import_keys, imports), given
 * its stored record. */
int imports_remove_own(MDB_txn *txn, const struct db_env *env, const uint8_t id[static 32],
		       const Cairn__Store__ImportedServer *rec);
/* Moves imported-only host from into agent host to: its record (marked
 * merged, matched_by) and its tag set when the agent has none. The caller
 * checked that `to` has no import record of its own. */
int imports_fold(MDB_txn *txn, const struct db_env *env, const uint8_t from[static 32],
		 const uint8_t to[static 32], const char *matched_by);

/* From ingest (apply_host): when the agent's HostInfo matches exactly one
 * imported-only host by a match key and the agent has no import record yet,
 * folds that host into the agent. *folded (may be NULL) says whether. */
int imports_fold_agent(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		       const Cairn__HostInfo *hi, bool *folded);

/* imports[id], malloc'd (free with cairn__store__imported_server__free_unpacked),
 * MDB_NOTFOUND when none. */
int imports_get(MDB_txn *txn, const struct db_env *env, const uint8_t id[static 32],
		Cairn__Store__ImportedServer **out);

/* Lower-case short host name of name (up to the first dot) into out. */
void imports_short_name(const char *name, char *out, size_t n);

#endif
