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

static int move_tags(MDB_txn *txn, const struct db_env *env, const uint8_t from[static 32],
		     const uint8_t to[static 32])
{
	char fh[65], th[65];
	hex_encode(fh, from, 32);
	hex_encode(th, to, 32);
	struct db_key fk, tk;
	db_key_init(&fk);
	db_key_str(&fk, fh);
	db_key_init(&tk);
	db_key_str(&tk, th);
	ProtobufCMessage *m = NULL;
	int rc = store_get_msg(txn, env->dbi[STORE_TAGS], &fk, &cairn__store__tag_set__descriptor, &m);
	if (rc == MDB_NOTFOUND || rc == -EBADMSG)
		return 0;
	if (rc)
		return rc;
	MDB_val tv, probe;
	tv = db_key_val(&tk);
	rc = mdb_get(txn, env->dbi[STORE_TAGS], &tv, &probe);
	if (rc == MDB_NOTFOUND) {
		/* the agent host has no tags of its own: the imported ones move */
		Cairn__Store__TagSet *ts = (Cairn__Store__TagSet *)m;
		char *old = ts->subject;
		ts->subject = th;
		rc = store_put_msg(txn, env->dbi[STORE_TAGS], &tk, &ts->base);
		ts->subject = old;
	}
	protobuf_c_message_free_unpacked(m, NULL);
	if (rc)
		return rc;
	MDB_val fv = db_key_val(&fk);
	rc = mdb_del(txn, env->dbi[STORE_TAGS], &fv, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int imports_fold(MDB_txn *txn, const struct db_env *env, const uint8_t from[static 32],
		 const uint8_t to[static 32], const char *matched_by)
{
	Cairn__Store__ImportedServer *rec = NULL;
	int rc = imports_get(txn, env, from, &rec);
	if (rc)
		return rc == -EBADMSG ? 0 : rc;
	if ((rc = imports_remove_own(txn, env, from, rec)) || (rc = move_tags(txn, env, from, to)))
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
