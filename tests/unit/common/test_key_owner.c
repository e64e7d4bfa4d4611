/* key_owner_adopt: a key created by root in a service user's state directory
 * goes to that user; nothing else is ever re-owned. Needs root (CI runs the
 * tests as root); skipped otherwise. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "key_owner.h"
#include "keys.h"

#define SERVICE_UID 65534u
#define SERVICE_GID 65533u

static char dir[64];
static char path[128];
static char victim[128];

static void setup(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to create files for another user");
	str_copy(dir, "/tmp/cairn-test-keyown-XXXXXX", sizeof(dir));
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chmod(dir, 0711), 0); /* the service user must reach state/ */
	snprintf(path, sizeof(path), "%s/state/agent.key", dir);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	FILE *f = fopen(victim, "w");
	cr_assert_not_null(f);
	fputs("root's file\n", f);
	cr_assert_eq(fclose(f), 0);
	char state[96];
	snprintf(state, sizeof(state), "%s/state", dir);
	cr_assert_eq(mkdir(state, 0700), 0);
	cr_assert_eq(chown(state, SERVICE_UID, SERVICE_GID), 0);
}

static void teardown(void)
{
	if (!dir[0])
		return;
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(key_owner, .init = setup, .fini = teardown);

static void assert_owner(const char *p, uid_t uid, gid_t gid)
{
	struct stat st;
	cr_assert_eq(lstat(p, &st), 0, "%s: %s", p, strerror(errno));
	cr_assert_eq(st.st_uid, uid, "%s: uid %u, expected %u", p, (unsigned)st.st_uid, (unsigned)uid);
	cr_assert_eq(st.st_gid, gid, "%s: gid %u, expected %u", p, (unsigned)st.st_gid, (unsigned)gid);
}

Test(key_owner, new_key_goes_to_the_state_dir_owner)
{
	struct keypair kp;
	bool created;
	struct errbuf eb;
	cr_assert_eq(keys_load_or_create(path, &kp, &created, &eb), 0, "%s", eb.msg);
	cr_assert(created);
	assert_owner(path, 0, 0);
	cr_assert_eq(key_owner_adopt(path, &eb), 0, "%s", eb.msg);
	assert_owner(path, SERVICE_UID, SERVICE_GID);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
	/* The service user can load it now. */
	if (fork() == 0) {
		if (setgid(SERVICE_GID) || setuid(SERVICE_UID))
			_exit(3);
		struct keypair back;
		_exit(keys_load(path, &back, &eb) == 0 && !memcmp(back.pk, kp.pk, KEY_PUBLIC_LEN) ? 0 : 1);
	}
	int status;
	cr_assert_neq(wait(&status), -1);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "service user cannot load the key");
	keys_wipe(&kp);
}

Test(key_owner, root_owned_dir_leaves_the_key_alone)
{
	char p[160];
	snprintf(p, sizeof(p), "%s/collector.key", dir);
	struct keypair kp;
	bool created;
	struct errbuf eb;
	cr_assert_eq(keys_load_or_create(p, &kp, &created, &eb), 0, "%s", eb.msg);
	cr_assert_eq(key_owner_adopt(p, &eb), 0, "%s", eb.msg);
	assert_owner(p, 0, 0);
	keys_wipe(&kp);
}

Test(key_owner, symlink_in_place_of_the_key_is_not_followed)
{
	cr_assert_eq(symlink(victim, path), 0);
	struct errbuf eb;
	cr_assert_eq(key_owner_adopt(path, &eb), -ELOOP);
	cr_assert_neq(strstr(eb.msg, path), NULL, "%s", eb.msg);
	assert_owner(victim, 0, 0);
	assert_owner(path, 0, 0);
}

Test(key_owner, hard_link_in_place_of_the_key_is_refused)
{
	cr_assert_eq(link(victim, path), 0);
	struct errbuf eb;
	cr_assert_eq(key_owner_adopt(path, &eb), -EPERM);
	cr_assert_neq(strstr(eb.msg, "one link"), NULL, "%s", eb.msg);
	assert_owner(victim, 0, 0);
}

Test(key_owner, file_of_another_user_is_refused)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fchown(fd, 1234, 1234), 0);
	close(fd);
	struct errbuf eb;
	cr_assert_eq(key_owner_adopt(path, &eb), -EPERM);
	assert_owner(path, 1234, 1234);
}
