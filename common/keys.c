#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_FILE_TAG "cairn-ed25519-v1"
/* tag, space, 128 hex digits, newline */
#define KEY_FILE_LEN (sizeof(KEY_FILE_TAG) - 1 + 1 + 2 * KEY_SECRET_LEN + 1)

int keys_generate(struct keypair *kp)
{
	if (sodium_init() < 0)
		return -EIO;
	if (crypto_sign_keypair(kp->pk, kp->sk))
		return -EIO;
	return 0;
}

void keys_wipe(struct keypair *kp)
{
	sodium_memzero(kp->sk, sizeof(kp->sk));
}

static void key_file_format(char buf[static KEY_FILE_LEN + 1], const struct keypair *kp)
{
	memcpy(buf, KEY_FILE_TAG " ", sizeof(KEY_FILE_TAG));
	hex_encode(buf + sizeof(KEY_FILE_TAG), kp->sk, KEY_SECRET_LEN);
	buf[KEY_FILE_LEN - 1] = '\n';
	buf[KEY_FILE_LEN] = '\0';
}

int keys_save(const char *path, const struct keypair *kp, struct errbuf *eb)
{
	char buf[KEY_FILE_LEN + 1];
	key_file_format(buf, kp);
	int rc = file_write_atomic(path, buf, KEY_FILE_LEN, 0600, eb);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

/* Like keys_save, but never replaces an existing file: the key is published
 * with link(2), which fails with EEXIST when another process won the race. */
static int keys_save_new(const char *path, const struct keypair *kp, struct errbuf *eb)
{
	char tmp[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new.%ld", path, (long)getpid()) >= sizeof(tmp))
		return errbuf_set(eb, -ENAMETOOLONG, "%s: path too long", path);
	int rc = keys_save(tmp, kp, eb);
	if (rc) {
		unlink(tmp);
		return rc;
	}
	if (link(tmp, path)) {
		rc = -errno;
		unlink(tmp);
		if (rc == -EEXIST)
			return rc;
		return errbuf_set(eb, rc, "cannot create key file %s: %s", path, strerror(-rc));
	}
	unlink(tmp);
	return 0;
}

static int keys_parse(const char *path, char *text, size_t len, struct keypair *kp,
		      struct errbuf *eb)
{
	const size_t tag_len = sizeof(KEY_FILE_TAG) - 1;
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		text[--len] = '\0';
	if (len != tag_len + 1 + 2 * KEY_SECRET_LEN || memcmp(text, KEY_FILE_TAG, tag_len) ||
	    text[tag_len] != ' ')
		return errbuf_set(eb, -EINVAL,
				  "%s: not a cairn key file (expected '%s' and %d hex digits); "
				  "move it away and run keygen to create a new key",
				  path, KEY_FILE_TAG, 2 * KEY_SECRET_LEN);
	if (hex_decode(kp->sk, KEY_SECRET_LEN, text + tag_len + 1)) {
		keys_wipe(kp); /* the digits decoded before the bad one */
		return errbuf_set(eb, -EINVAL,
				  "%s: key is not valid hex; move it away and run keygen to "
				  "create a new key",
				  path);
	}
	/* The secret key is seed | public key; re-deriving both from the seed
	 * detects a damaged file instead of signing with garbage. */
	uint8_t pk[KEY_PUBLIC_LEN], sk[KEY_SECRET_LEN];
	crypto_sign_seed_keypair(pk, sk, kp->sk);
	int same = sodium_memcmp(sk, kp->sk, KEY_SECRET_LEN) == 0;
	sodium_memzero(sk, sizeof(sk));
	if (!same) {
		keys_wipe(kp);
		return errbuf_set(eb, -EINVAL,
				  "%s: public half does not match the secret seed (damaged file)",
				  path);
	}
	memcpy(kp->pk, pk, KEY_PUBLIC_LEN);
	return 0;
}

int keys_load(const char *path, struct keypair *kp, struct errbuf *eb)
{
	if (sodium_init() < 0)
		return errbuf_set(eb, -EIO, "libsodium failed to initialise");
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int rc = -errno;
		return errbuf_set(eb, rc, "cannot open key file %s: %s", path, strerror(-rc));
	}
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st)) {
		rc = errbuf_set(eb, -errno, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = errbuf_set(eb, -EINVAL, "%s is not a regular file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		rc = errbuf_set(eb, -EPERM,
				"key file %s is accessible by group or others (mode %04o); "
				"refusing to use it: run 'chmod 600 %s'",
				path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	char buf[KEY_FILE_LEN + 16];
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = errbuf_set(eb, -errno, "cannot read %s: %s", path, strerror(errno));
			goto wipe;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf) - 1)
			break;
	}
	buf[len] = '\0';
	rc = keys_parse(path, buf, len, kp, eb);
wipe:
	sodium_memzero(buf, sizeof(buf));
out:
	close(fd);
	return rc;
}

int keys_load_or_create(const char *path, struct keypair *kp, bool *created, struct errbuf *eb)
{
	if (created)
		*created = false;
	int rc = keys_load(path, kp, eb);
	if (rc != -ENOENT)
		return rc;

	char dir[PATH_MAX];
	str_copy(dir, path, sizeof(dir));
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		rc = dir_make(dir, 0700, eb);
		if (rc)
			return rc;
	}
	rc = keys_generate(kp);
	if (rc)
		return errbuf_set(eb, rc, "cannot generate a key pair");
	rc = keys_save_new(path, kp, eb);
	if (rc == -EEXIST) {
		/* Another process created it first: use theirs. */
		keys_wipe(kp);
		return keys_load(path, kp, eb);
	}
	if (rc) {
		keys_wipe(kp);
		return rc;
	}
	if (created)
		*created = true;
	return 0;
}

void keys_id_hex(const uint8_t pk[static KEY_PUBLIC_LEN], char out[static KEY_ID_HEX_LEN + 1])
{
	hex_encode(out, pk, KEY_PUBLIC_LEN);
}

void keys_fingerprint(const uint8_t pk[static KEY_PUBLIC_LEN],
		      char out[static KEY_FINGERPRINT_HEX_LEN + 1])
{
	uint8_t h[crypto_generichash_BYTES];
	crypto_generichash(h, sizeof(h), pk, KEY_PUBLIC_LEN, NULL, 0);
	hex_encode(out, h, KEY_FINGERPRINT_HEX_LEN / 2);
}

int keys_public_from_hex(const char *hex, uint8_t pk[static KEY_PUBLIC_LEN])
{
	while (*hex == ' ' || *hex == '\t' || *hex == '\n' || *hex == '\r')
		hex++;
	size_t len = strlen(hex);
	while (len && (hex[len - 1] == ' ' || hex[len - 1] == '\t' || hex[len - 1] == '\n' ||
		       hex[len - 1] == '\r'))
		len--;
	if (len != KEY_ID_HEX_LEN)
		return -EINVAL;
	char buf[KEY_ID_HEX_LEN + 1];
	memcpy(buf, hex, KEY_ID_HEX_LEN);
	buf[KEY_ID_HEX_LEN] = '\0';
	return hex_decode(pk, KEY_PUBLIC_LEN, buf);
}
