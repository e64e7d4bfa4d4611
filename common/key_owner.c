/* Hands a key file created by root to the owner of its directory; see key_owner.h. */
#include "key_owner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int key_owner_adopt(const char *path, struct errbuf *eb)
{
	if (geteuid() != 0)
		return 0;
	char dir[PATH_MAX];
	if (path_dirname(path, dir, sizeof(dir)))
		return errbuf_set(eb, -ENAMETOOLONG, "%s: path too long", path);
	struct stat ds;
	if (stat(dir, &ds))
		return errbuf_set(eb, -errno, "cannot stat %s: %s", dir, strerror(errno));
	if (ds.st_uid == 0)
		return 0; /* root's directory: root's key (systemd re-owns both on start) */

	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return errbuf_set(eb, -errno, "cannot open %s to hand it to uid %u: %s", path,
				  (unsigned)ds.st_uid, strerror(errno));
	struct stat fs;
	int rc = 0;
	if (fstat(fd, &fs)) {
		rc = errbuf_set(eb, -errno, "cannot stat %s: %s", path, strerror(errno));
	} else if (!S_ISREG(fs.st_mode) || fs.st_uid != 0 || fs.st_nlink != 1) {
		/* Not the file this process just wrote: never chown what another
		 * user may have linked in its place. */
		rc = errbuf_set(eb, -EPERM,
				"%s is not a regular root-owned file with one link; not changing its "
				"owner (check who else writes to %s)",
				path, dir);
	} else if (fchown(fd, ds.st_uid, ds.st_gid)) {
		rc = errbuf_set(eb, -errno, "cannot give %s to uid %u gid %u (the owner of %s): %s",
				path, (unsigned)ds.st_uid, (unsigned)ds.st_gid, dir, strerror(errno));
	}
	close(fd);
	return rc;
}
