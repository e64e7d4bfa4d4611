/* Key files: mode 0600, refusal of readable keys, damage detection, ids. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys.h"

static char dir[64];
static char path[128];

static void setup(void)
{
	str_copy(dir, "/tmp/cairn-test-keys-XXXXXX", sizeof(dir));
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/agent.key", dir);
}

static void teardown(void)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(keys, .init = setup, .fini = teardown);

Test(keys, save_load_roundtrip_mode_0600)
{
	struct keypair kp, back;
	struct errbuf eb;
	cr_assert_eq(keys_generate(&kp), 0);
	cr_assert_eq(keys_save(path, &kp, &eb), 0, "%s", eb.msg);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
	cr_assert_eq(keys_load(path, &back, &eb), 0, "%s", eb.msg);
	cr_assert_eq(memcmp(kp.pk, back.pk, KEY_PUBLIC_LEN), 0);
	cr_assert_eq(memcmp(kp.sk, back.sk, KEY_SECRET_LEN), 0);
	keys_wipe(&back);
	for (size_t i = 0; i < KEY_SECRET_LEN; i++)
		cr_assert_eq(back.sk[i], 0);
}

Test(keys, group_or_world_readable_refused_with_fix)
{
	struct keypair kp;
	struct errbuf eb;
	cr_assert_eq(keys_generate(&kp), 0);
	cr_assert_eq(keys_save(path, &kp, &eb), 0);
	const mode_t bad[] = { 0644, 0640, 0604, 0660, 0600 | 0002 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(chmod(path, bad[i]), 0);
		eb.msg[0] = '\0';
		cr_assert_eq(keys_load(path, &kp, &eb), -EPERM, "mode %o accepted", bad[i]);
		char fix[200];
		snprintf(fix, sizeof(fix), "chmod 600 %s", path);
		cr_assert_not_null(strstr(eb.msg, fix), "message lacks the fix: %s", eb.msg);
	}
	cr_assert_eq(chmod(path, 0400), 0);
	cr_assert_eq(keys_load(path, &kp, &eb), 0, "0400 must be accepted: %s", eb.msg);
}

Test(keys, missing_and_malformed)
{
	struct keypair kp;
	struct errbuf eb;
	cr_assert_eq(keys_load(path, &kp, &eb), -ENOENT);
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "hello\n", 6), 6);
	close(fd);
	cr_assert_eq(keys_load(path, &kp, &eb), -EINVAL);
	cr_assert_not_null(strstr(eb.msg, path));
}

Test(keys, damaged_public_half_detected)
{
	struct keypair kp;
	struct errbuf eb;
	cr_assert_eq(keys_generate(&kp), 0);
	cr_assert_eq(keys_save(path, &kp, &eb), 0);
	char *text;
	size_t len;
	cr_assert_eq(file_read_all(path, 4096, &text, &len, &eb), 0);
	/* Last hex digit before the newline belongs to the public half. */
	text[len - 2] = text[len - 2] == '0' ? '1' : '0';
	cr_assert_eq(file_write_atomic(path, text, len, 0600, &eb), 0);
	free(text);
	cr_assert_eq(keys_load(path, &kp, &eb), -EINVAL);
	cr_assert_not_null(strstr(eb.msg, "damaged"), "%s", eb.msg);
}

Test(keys, load_or_create_creates_once)
{
	struct keypair a, b;
	bool created;
	struct errbuf eb;
	char nested[200];
	snprintf(nested, sizeof(nested), "%s/state/sub/agent.key", dir);
	cr_assert_eq(keys_load_or_create(nested, &a, &created, &eb), 0, "%s", eb.msg);
	cr_assert(created);
	cr_assert_eq(keys_load_or_create(nested, &b, &created, &eb), 0, "%s", eb.msg);
	cr_assert_not(created);
	cr_assert_eq(memcmp(a.pk, b.pk, KEY_PUBLIC_LEN), 0);
	char sub[200];
	snprintf(sub, sizeof(sub), "%s/state/sub", dir);
	struct stat st;
	cr_assert_eq(stat(sub, &st), 0);
	cr_assert_eq(st.st_mode & 077, 0, "state dir must not be open to others");
}

Test(keys, id_and_fingerprint)
{
	uint8_t pk[KEY_PUBLIC_LEN];
	for (int i = 0; i < KEY_PUBLIC_LEN; i++)
		pk[i] = (uint8_t)i;
	char id[KEY_ID_HEX_LEN + 1], fp[KEY_FINGERPRINT_HEX_LEN + 1];
	keys_id_hex(pk, id);
	cr_assert_str_eq(id, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	keys_fingerprint(pk, fp);
	/* python3: hashlib.blake2b(bytes(range(32)), digest_size=32).hexdigest()[:16] */
	cr_assert_str_eq(fp, "cb2f5160fc1f7e05");
}

Test(keys, public_from_hex)
{
	uint8_t pk[KEY_PUBLIC_LEN];
	const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
	cr_assert_eq(keys_public_from_hex(hex, pk), 0);
	cr_assert_eq(pk[31], 0x1f);
	char padded[100];
	snprintf(padded, sizeof(padded), "  %s\n", hex);
	cr_assert_eq(keys_public_from_hex(padded, pk), 0);
	cr_assert_eq(keys_public_from_hex("abcd", pk), -EINVAL);
	char bad[KEY_ID_HEX_LEN + 1];
	memcpy(bad, hex, sizeof(bad));
	bad[10] = 'g';
	cr_assert_eq(keys_public_from_hex(bad, pk), -EINVAL);
	char longer[KEY_ID_HEX_LEN + 3];
	snprintf(longer, sizeof(longer), "%s00", hex);
	cr_assert_eq(keys_public_from_hex(longer, pk), -EINVAL);
}
