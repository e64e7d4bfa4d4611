/* Imported servers in the store; see imports.h and docs/import.md. */
#include "imports.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "store.h"
#include "util.h"

#define MIB 1048576.0

void imports_short_name(const char *name, char *out, size_t n)
{
	size_t i = 0;
	for (; name && name[i] && name[i] != '.' && i + 1 < n; i++)
		out[i] = (char)tolower((unsigned char)name[i]);
	out[i] = 0;
}

static int key_lower(enum imports_key_kind kind, const char *a, const char *b, imports_key_fn fn,
		     void *arg)
{
	char text[IMPORTS_KEY_MAX + 1];
	int len = b ? snprintf(text, sizeof(text), "%s|%s", a, b) : snprintf(text, sizeof(text), "%s", a);
	if (len <= 0 || (size_t)len >= sizeof(text))
		return 0;
	for (char *c = text; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return fn(kind, text, arg);
}

static bool mac_usable(const char *mac)
{
	return mac && *mac && strcmp(mac, "00:00:00:00:00:00") && strcasecmp(mac, "ff:ff:ff:ff:ff:ff");
}

static bool ip_usable(const char *ip)
{
	uint8_t a[16];
	return !addr_parse(ip, a) && !addr_is_loopback(a) && !addr_is_unspecified(a);
}

int imports_keys_of_facts(const Cairn__Store__ImportFacts *f, imports_key_fn fn, void *arg)
{
	int rc = 0;
	if (*f->smbios_id && (rc = key_lower(IMPORTS_KEY_SMBIOS, f->smbios_id, NULL, fn, arg)))
		return rc;
	for (size_t i = 0; i < f->n_macs; i++)
		if (mac_usable(f->macs[i]) && (rc = key_lower(IMPORTS_KEY_MAC, f->macs[i], NULL, fn, arg)))
			return rc;
	char name[256];
	imports_short_name(f->hostname, name, sizeof(name));
	for (size_t i = 0; *name && i < f->n_ips; i++)
		if (ip_usable(f->ips[i]) && (rc = key_lower(IMPORTS_KEY_NAME_IP, name, f->ips[i], fn, arg)))
			return rc;
	return 0;
}

int imports_keys_of_info(const Cairn__HostInfo *hi, imports_key_fn fn, void *arg)
{
	int rc = 0;
	if (hi->virt && *hi->virt->dmi_product_uuid &&
	    (rc = key_lower(IMPORTS_KEY_SMBIOS, hi->virt->dmi_product_uuid, NULL, fn, arg)))
		return rc;
	char name[256];
	imports_short_name(hi->hostname, name, sizeof(name));
	for (size_t i = 0; i < hi->n_nics; i++) {
		const Cairn__Nic *nic = hi->nics[i];
		if (nic->netns || !strcmp(nic->name, "lo"))
			continue;
		/* a bridge or veth MAC is not the server's: docker0 has the same on many hosts */
		if (!nic->virtual_ && mac_usable(nic->mac) &&
		    (rc = key_lower(IMPORTS_KEY_MAC, nic->mac, NULL, fn, arg)))
			return rc;
		for (size_t j = 0; *name && j < nic->n_addresses; j++) {
			const char *ip = nic->addresses[j]->address;
			if (ip_usable(ip) && (rc = key_lower(IMPORTS_KEY_NAME_IP, name, ip, fn, arg)))
				return rc;
		}
	}
	return 0;
}

int imports_host_id(const Cairn__Store__ImportFacts *f, uint8_t id[static 32])
{
	char kind;
	const char *v;
	char name[256];
	if (*f->smbios_id) {
		kind = 's', v = f->smbios_id;
	} else if (*f->external_id) {
		kind = 'e', v = f->external_id;
	} else if (f->n_macs && mac_usable(f->macs[0])) {
		kind = 'm', v = f->macs[0];
	} else {
		imports_short_name(*f->fqdn ? f->fqdn : f->hostname, name, sizeof(name));
		if (!*name)
			return -EINVAL;
		kind = 'n', v = *f->fqdn ? f->fqdn : f->hostname;
	}
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const unsigned char *)"import", 7); /* with its NUL */
	crypto_generichash_update(&st, (const unsigned char *)&kind, 1);
	char low[1024];
	size_t n = 0;
	for (; v[n] && n + 1 < sizeof(low); n++)
		low[n] = kind == 'e' ? v[n] : (char)tolower((unsigned char)v[n]);
	crypto_generichash_update(&st, (const unsigned char *)low, n);
	crypto_generichash_final(&st, id, 32);
	return 0;
}

/* The os-release ID the lifecycle table knows, guessed from a product name. */
static void os_id_of(const char *name, char *out, size_t n)
{
	static const struct { const char *word, *id; } ids[] = {
		{ "windows", "windows" }, { "ubuntu", "ubuntu" }, { "debian", "debian" },
		{ "red hat", "rhel" }, { "rhel", "rhel" }, { "centos", "centos" },
		{ "rocky", "rocky" }, { "alma", "almalinux" }, { "suse", "sles" },
		{ "oracle linux", "ol" }, { "amazon linux", "amzn" }, { "alpine", "alpine" },
		{ "fedora", "fedora" },
	};
	char low[256];
	size_t i = 0;
	for (; name[i] && i + 1 < sizeof(low); i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[i] = 0;
	out[0] = 0;
	for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++)
		if (strstr(low, ids[k].word)) {
			str_copy(out, ids[k].id, n);
			return;
		}
}

static const char *const nic_names[16] = {
	"nic0", "nic1", "nic2", "nic3", "nic4", "nic5", "nic6", "nic7",
	"nic8", "nic9", "nic10", "nic11", "nic12", "nic13", "nic14", "nic15",
};

void imports_info_build(const Cairn__Store__ImportFacts *f, int64_t now_ms, struct imports_info *o)
{
	memset(o, 0, sizeof(*o));
	cairn__host_info__init(&o->hi);
	cairn__os_release__init(&o->os);
	cairn__virtualization__init(&o->virt);
	Cairn__HostInfo *hi = &o->hi;
	hi->hostname = *f->hostname ? f->hostname : f->vm_name;
	hi->fqdn = f->fqdn;
	hi->collected_ms = now_ms;
	o->os.name = f->os_name;
	o->os.version_id = f->os_version;
	os_id_of(f->os_name, o->os_id, sizeof(o->os_id));
	o->os.id = o->os_id;
	snprintf(o->pretty, sizeof(o->pretty), "%s%s%s", f->os_name,
		 *f->os_version && !strstr(f->os_name, f->os_version) ? " " : "",
		 strstr(f->os_name, f->os_version) ? "" : f->os_version);
	o->os.pretty_name = o->pretty;
	hi->os = &o->os;
	hi->architecture = strstr(f->os_name, "32-bit") ? "i686" : "x86_64";
	hi->cpu_sockets = f->cpu_sockets;
	hi->cpu_cores = f->cpu_cores;
	hi->cpu_threads = f->cpu_threads ? f->cpu_threads : f->cpu_cores ? f->cpu_cores : f->cpu_sockets;
	hi->mem_total_bytes = (uint64_t)(f->ram_mib * MIB + 0.5);
	o->virt.kind = *f->virt ? f->virt : "";
	o->virt.hypervisor = !strcmp(f->virt, "vm") && (*f->vmware_moref || *f->vcenter_id || *f->esx_host)
			     ? "vmware" : "";
	o->virt.dmi_product_uuid = f->smbios_id;
	hi->virt = &o->virt;
	/* MACs one per NIC in the file's order, every address on the first:
	 * the template does not say which address is on which NIC */
	size_t nnics = f->n_macs ? f->n_macs : f->n_ips ? 1 : 0;
	if (nnics > 16)
		nnics = 16;
	size_t nips = f->n_ips > 32 ? 32 : f->n_ips;
	for (size_t i = 0; i < nnics; i++) {
		Cairn__Nic *nic = &o->nic_store[i];
		cairn__nic__init(nic);
		nic->name = (char *)nic_names[i];
		nic->mac = i < f->n_macs ? f->macs[i] : "";
		nic->up = !f->powered_off;
		nic->speed_mbps = -1;
		o->nics[i] = nic;
	}
	for (size_t j = 0; j < nips && nnics; j++) {
		Cairn__IpAddress *ip = &o->ip_store[j];
		cairn__ip_address__init(ip);
		ip->address = f->ips[j];
		ip->family = strchr(f->ips[j], ':') ? 6 : 4;
		ip->scope = !strncasecmp(f->ips[j], "fe80", 4) ? "link" : "global";
		o->ips[j] = ip;
	}
	if (nnics) {
		o->nic_store[0].addresses = o->ips;
		o->nic_store[0].n_addresses = nips;
	}
	hi->nics = o->nics;
	hi->n_nics = nnics;
	size_t ndisks = f->n_disk_names < f->n_disk_sizes_mib ? f->n_disk_names : f->n_disk_sizes_mib;
	if (ndisks > 16)
		ndisks = 16;
	for (size_t i = 0; i < ndisks; i++) {
		Cairn__BlockDevice *d = &o->disk_store[i];
		cairn__block_device__init(d);
		d->name = f->disk_names[i];
		d->size_bytes = (uint64_t)(f->disk_sizes_mib[i] * MIB);
		d->kind = "disk";
		o->disks[i] = d;
	}
	hi->disks = o->disks;
	hi->n_disks = ndisks;
	if (f->disk_mib > 0) {
		/* one filesystem of the provisioned size: what sizing prices as allocated */
		Cairn__Filesystem *fs = &o->fs;
		cairn__filesystem__init(fs);
		fs->mountpoint = "(imported)";
		fs->device = "imported";
		fs->fstype = "imported";
		fs->size_bytes = (uint64_t)(f->disk_mib * MIB);
		fs->used_bytes = (uint64_t)((f->disk_used_mib > 0 ? f->disk_used_mib : f->disk_mib) * MIB);
		o->fss[0] = fs;
		hi->filesystems = o->fss;
		hi->n_filesystems = 1;
	}
}

/* ------------------------------------------------------------ writing */

static void key_id(struct db_key *k, const uint8_t id[static 32])
{
	db_key_init(k);
	db_key_bytes(k, id, 32);
}

static int claims(MDB_txn *txn, const struct db_env *env, const uint8_t id[static 32],
		  const Cairn__Store__ImportFacts *f, bool add, int64_t now_ms)
{
	for (size_t i = 0; i < f->n_ips; i++) {
		uint8_t a[16];
		if (addr_parse(f->ips[i], a))
			continue;
		struct db_key k;
		db_key_init(&k);
		db_key_bytes(&k, a, 16);
		db_key_bytes(&k, id, 32);
		int rc;
		if (!add) {
			MDB_val kv = db_key_val(&k);
			rc = mdb_del(txn, env->dbi[STORE_ADDRS], &kv, NULL);
			if (rc && rc != MDB_NOTFOUND)
				return rc;
			continue;
		}
		Cairn__Store__AddrClaim c = CAIRN__STORE__ADDR_CLAIM__INIT;
		c.nic = "nic0";
		c.last_seen_ms = now_ms;
		c.loopback = addr_is_loopback(a);
		if ((rc = store_put_msg(txn, env->dbi[STORE_ADDRS], &k, &c.base)))
			return rc;
	}
	return 0;
}

struct key_write {
	MDB_txn *txn;
	const struct db_env *env;
	const uint8_t *id;
	bool add;
};

static int key_write(enum imports_key_kind kind, const char *text, void *arg)
{
	struct key_write *w = arg;
	struct db_key k;
	db_key_init(&k);
	uint8_t kb = (uint8_t)kind;
	db_key_bytes(&k, &kb, 1);
	db_key_bytes(&k, text, strlen(text));
	if (k.overflow)
		return 0;
	MDB_val kv = db_key_val(&k);
	if (!w->add) {
		/* only our own entry: another host may hold the key now */
		MDB_val v;
		int rc = mdb_get(w->txn, w->env->dbi[STORE_IMPORT_KEYS], &kv, &v);
		if (rc == MDB_NOTFOUND)
			return 0;
		if (rc)
			return rc;
		if (v.mv_size != 32 || memcmp(v.mv_data, w->id, 32))
			return 0;
		rc = mdb_del(w->txn, w->env->dbi[STORE_IMPORT_KEYS], &kv, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	MDB_val v = { 32, (void *)w->id };
	return mdb_put(w->txn, w->env->dbi[STORE_IMPORT_KEYS], &kv, &v, 0);
}

static int keys(MDB_txn *txn, const struct db_env *env, const uint8_t id[static 32],
		const Cairn__Store__ImportFacts *f, bool add)
{
	struct key_write w = { txn, env, id, add };
	return imports_keys_of_facts(f, key_write, &w);
}

int imports_put_own(MDB_txn *txn, const struct db_env *env, const uint8_t id[static 32],
		    const Cairn__Store__ImportedServer *rec, const Cairn__Store__ImportedServer *prev,
		    int64_t now_ms)
{
	int rc;
	if (prev && prev->facts && ((rc = claims(txn, env, id, prev->facts, false, now_ms)) ||
				    (rc = keys(txn, env, id, prev->facts, false))))
		return rc;
	struct imports_info *info = malloc(sizeof(*info));
	if (!info)
		return -ENOMEM;
	imports_info_build(rec->facts, now_ms, info);
	Cairn__Store__HostFacts hf = CAIRN__STORE__HOST_FACTS__INIT;
	hf.info = &info->hi;
	hf.updated_ms = now_ms;
	struct db_key k;
	key_id(&k, id);
	rc = store_put_msg(txn, env->dbi[STORE_HOSTS], &k, &hf.base);
	free(info);
	if (!rc)
		rc = claims(txn, env, id, rec->facts, true, now_ms);
	if (!rc)
		rc = keys(txn, env, id, rec->facts, true);
	if (!rc)
		rc = store_put_msg(txn, env->dbi[STORE_IMPORTS], &k, &rec->base);
	return rc;
}

int imports_put_merged(MDB_txn *txn, const struct db_env *env, const uint8_t id[static 32],
		       const Cairn__Store__ImportedServer *rec)
{
	struct db_key k;
	key_id(&k, id);
	return store_put_msg(txn, env->dbi[STORE_IMPORTS], &k, &rec->base);
}

static int del_id(MDB_txn *txn, const struct db_env *env, enum store_db db, const uint8_t id[static 32])
{
	MDB_val k = { 32, (void *)id };
	int rc = mdb_del(txn, env->dbi[db], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int imports_remove_own(MDB_txn *txn, const struct db_env *env, const uint8_t id[static 32],
		       const Cairn__Store__ImportedServer *rec)
{
	int rc = 0;
	if (rec->facts && ((rc = claims(txn, env, id, rec->facts, false, 0)) ||
			   (rc = keys(txn, env, id, rec->facts, false))))
		return rc;
	if ((rc = del_id(txn, env, STORE_HOSTS, id)))
		return rc;
	return del_id(txn, env, STORE_IMPORTS, id);
}

int imports_get(MDB_txn *txn, const struct db_env *env, const uint8_t id[static 32],
		Cairn__Store__ImportedServer **out)
{
	struct db_key k;
	key_id(&k, id);
	return store_get_msg(txn, env->dbi[STORE_IMPORTS], &k,
			     &cairn__store__imported_server__descriptor, (ProtobufCMessage **)out);
}

static int cmp_tag_key(const void *a, const void *b)
{
	const Cairn__Store__Tag *const *x = a, *const *y = b;
	return strcmp((*x)->key, (*y)->key);
}

/* The imported host's tags join the agent host's: a key the agent host
 * already has keeps its value (a person set it there, or the agent's own
 * import), the others move. */
static int move_tags(MDB_txn *txn, const struct db_env *env, const char *fh, const char *th)
{
	struct db_key fk, tk;
	db_key_init(&fk);
	db_key_str(&fk, fh);
	db_key_init(&tk);
	db_key_str(&tk, th);
	ProtobufCMessage *fm = NULL, *tm = NULL;
	int rc = store_get_msg(txn, env->dbi[STORE_TAGS], &fk, &cairn__store__tag_set__descriptor, &fm);
	if (rc == MDB_NOTFOUND || rc == -EBADMSG)
		return 0;
	if (rc)
		return rc;
	rc = store_get_msg(txn, env->dbi[STORE_TAGS], &tk, &cairn__store__tag_set__descriptor, &tm);
	if (rc && rc != MDB_NOTFOUND && rc != -EBADMSG) {
		protobuf_c_message_free_unpacked(fm, NULL);
		return rc;
	}
	const Cairn__Store__TagSet *from = (const Cairn__Store__TagSet *)fm;
	const Cairn__Store__TagSet *to = rc ? NULL : (const Cairn__Store__TagSet *)tm;
	size_t nto = to ? to->n_tags : 0, n = 0;
	Cairn__Store__Tag **all = calloc(nto + from->n_tags + 1, sizeof(*all));
	rc = all ? 0 : -ENOMEM;
	for (size_t i = 0; all && i < nto; i++)
		all[n++] = to->tags[i];
	for (size_t i = 0; all && i < from->n_tags; i++) {
		bool have = false;
		for (size_t j = 0; j < nto && !have; j++)
			have = !strcmp(to->tags[j]->key, from->tags[i]->key);
		if (!have && n < 64)
			all[n++] = from->tags[i];
	}
	if (!rc) {
		qsort(all, n, sizeof(*all), cmp_tag_key);
		Cairn__Store__TagSet ts = CAIRN__STORE__TAG_SET__INIT;
		ts.subject = (char *)th;
		ts.tags = all;
		ts.n_tags = n;
		rc = store_put_msg(txn, env->dbi[STORE_TAGS], &tk, &ts.base);
	}
	free(all);
	protobuf_c_message_free_unpacked(fm, NULL);
	if (tm)
		protobuf_c_message_free_unpacked(tm, NULL);
	if (rc)
		return rc;
	MDB_val fv = db_key_val(&fk);
	rc = mdb_del(txn, env->dbi[STORE_TAGS], &fv, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

enum move_kind { MOVE_MIGRATION, MOVE_DECISION };

/* A value of dbi under key from moves to key to unless to has one (then it
 * is dropped); the host id inside it (MigrationStatus.target,
 * Decision.subject) becomes th. */
static int move_value(MDB_txn *txn, MDB_dbi dbi, MDB_val *from, MDB_val *to, enum move_kind kind,
		      const char *th)
{
	MDB_val v, probe;
	int rc = mdb_get(txn, dbi, from, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	rc = mdb_get(txn, dbi, to, &probe);
	if (rc == MDB_NOTFOUND) {
		const ProtobufCMessageDescriptor *d = kind == MOVE_MIGRATION
			? &cairn__store__migration_status__descriptor
			: &cairn__store__decision__descriptor;
		ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, v.mv_size, v.mv_data);
		if (m) {
			char **field = kind == MOVE_MIGRATION ? &((Cairn__Store__MigrationStatus *)m)->target
							      : &((Cairn__Store__Decision *)m)->subject;
			char *old = *field;
			*field = (char *)th;
			size_t len = protobuf_c_message_get_packed_size(m);
			MDB_val nv = { len, NULL };
			rc = mdb_put(txn, dbi, to, &nv, MDB_RESERVE);
			if (!rc)
				protobuf_c_message_pack(m, nv.mv_data);
			*field = old;
			protobuf_c_message_free_unpacked(m, NULL);
		} else {
			rc = 0; /* undecodable: dropped with the imported host */
		}
	} else if (rc) {
		return rc;
	}
	if (rc)
		return rc;
	rc = mdb_del(txn, dbi, from, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* What people recorded under the imported host's id goes to the agent host:
 * its migration status and history, its application pin and validation
 * target (an agent host's own record of the same kind wins), its tags. */
static int move_host_records(MDB_txn *txn, const struct db_env *env,
			     const uint8_t from[static 32], const uint8_t to[static 32])
{
	char fh[65], th[65];
	hex_encode(fh, from, 32);
	hex_encode(th, to, 32);
	MDB_val fk = { 64, fh }, tk = { 64, th };
	int rc = move_value(txn, env->dbi[STORE_MIGRATION], &fk, &tk, MOVE_MIGRATION, th);
	/* history: fh | 0x00 | time_ms */
	MDB_cursor *c = NULL;
	if (!rc)
		rc = mdb_cursor_open(txn, env->dbi[STORE_MIGRATION_HIST], &c);
	uint8_t pk[65 + 8];
	memcpy(pk, fh, 64);
	pk[64] = 0;
	MDB_val k, v;
	for (int more = !rc; more;) {
		k.mv_size = 65;
		k.mv_data = pk;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc || k.mv_size != 73 || memcmp(k.mv_data, pk, 65)) {
			rc = rc == MDB_NOTFOUND ? 0 : rc;
			break;
		}
		uint8_t nk[73];
		memcpy(nk, th, 64);
		memcpy(nk + 64, (const uint8_t *)k.mv_data + 64, 9);
		MDB_val from_k = { 73, NULL }, to_k = { 73, nk };
		uint8_t ok[73];
		memcpy(ok, k.mv_data, 73);
		from_k.mv_data = ok;
		if ((rc = move_value(txn, env->dbi[STORE_MIGRATION_HIST], &from_k, &to_k, MOVE_MIGRATION, th)))
			break;
		/* when the agent host has an entry at that time, the imported one stays: drop it */
		rc = mdb_del(txn, env->dbi[STORE_MIGRATION_HIST], &from_k, NULL);
		if (rc && rc != MDB_NOTFOUND)
			break;
		rc = 0;
	}
	if (c)
		mdb_cursor_close(c);
	/* decisions: kind(u8) | subject */
	static const Cairn__Store__DecisionKind kinds[] = { CAIRN__STORE__DECISION_KIND__HOST_PIN,
							    CAIRN__STORE__DECISION_KIND__HOST_TARGET };
	for (size_t i = 0; !rc && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct db_key dk, dt;
		db_key_init(&dk);
		db_key_u8(&dk, (uint8_t)kinds[i]);
		db_key_str(&dk, fh);
		db_key_init(&dt);
		db_key_u8(&dt, (uint8_t)kinds[i]);
		db_key_str(&dt, th);
		MDB_val a = db_key_val(&dk), b = db_key_val(&dt);
		rc = move_value(txn, env->dbi[STORE_DECISIONS], &a, &b, MOVE_DECISION, th);
	}
	if (!rc)
		rc = move_tags(txn, env, fh, th);
	return rc;
}

int imports_fold(MDB_txn *txn, const struct db_env *env, const uint8_t from[static 32],
		 const uint8_t to[static 32], const char *matched_by)
{
	Cairn__Store__ImportedServer *rec = NULL;
	int rc = imports_get(txn, env, from, &rec);
	if (rc)
		return rc == -EBADMSG ? 0 : rc;
	if ((rc = imports_remove_own(txn, env, from, rec)) || (rc = move_host_records(txn, env, from, to)))
		goto out;
	char *old = rec->matched_by;
	rec->matched_by = (char *)matched_by;
	rec->merged = true;
	rc = imports_put_merged(txn, env, to, rec);
	rec->matched_by = old;
out:
	cairn__store__imported_server__free_unpacked(rec, NULL);
	return rc;
}

struct fold_find {
	MDB_txn *txn;
	const struct db_env *env;
	const uint8_t *agent;
	uint8_t found[32];
	char how[IMPORTS_KEY_MAX + 32];
	int nfound;   /* distinct imported hosts matched */
};

static int fold_probe(enum imports_key_kind kind, const char *text, void *arg)
{
	struct fold_find *f = arg;
	struct db_key k;
	db_key_init(&k);
	uint8_t kb = (uint8_t)kind;
	db_key_bytes(&k, &kb, 1);
	db_key_bytes(&k, text, strlen(text));
	if (k.overflow)
		return 0;
	MDB_val kv = db_key_val(&k), v;
	int rc = mdb_get(f->txn, f->env->dbi[STORE_IMPORT_KEYS], &kv, &v);
	if (rc == MDB_NOTFOUND || (!rc && v.mv_size != 32))
		return 0;
	if (rc)
		return rc;
	if (!memcmp(v.mv_data, f->agent, 32))
		return 0;
	if (f->nfound && !memcmp(f->found, v.mv_data, 32))
		return 0;
	if (!f->nfound) {
		memcpy(f->found, v.mv_data, 32);
		const char *what = kind == IMPORTS_KEY_SMBIOS ? "SMBIOS id" : kind == IMPORTS_KEY_MAC
				 ? "MAC" : "hostname+IP";
		snprintf(f->how, sizeof(f->how), "%s %s", what, text);
	}
	f->nfound++;
	return 0;
}

int imports_fold_agent(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		       const Cairn__HostInfo *hi, bool *folded)
{
	if (folded)
		*folded = false;
	MDB_stat st;
	/* the common case, a store without imports, costs one stat */
	if (mdb_stat(txn, env->dbi[STORE_IMPORT_KEYS], &st) || !st.ms_entries)
		return 0;
	struct fold_find f = { .txn = txn, .env = env, .agent = agent_id };
	int rc = imports_keys_of_info(hi, fold_probe, &f);
	if (rc || f.nfound != 1)
		return rc; /* none, or ambiguous: `import` reports it on the next run */
	MDB_val k = { 32, (void *)agent_id }, v;
	rc = mdb_get(txn, env->dbi[STORE_IMPORTS], &k, &v);
	if (!rc)
		return 0; /* the agent already carries an import */
	if (rc != MDB_NOTFOUND)
		return rc;
	rc = imports_fold(txn, env, f.found, agent_id, f.how);
	if (!rc && folded)
		*folded = true;
	return rc;
}
