/* A program that dropped root (setpriv, as servers' workers do) and holds a
 * host socket: the AF_UNIX calls the supervisor then does for it (the
 * checked mode) must carry the program's ids to the peer, as the kernel's
 * would (SO_PEERCRED, SCM_CREDENTIALS), not those of a root ztnc-run.
 * argv: <UDP echo port on 127.0.0.1> <a directory the program may write> */
#include "common.h"
#include <stddef.h>
#include <sys/un.h>

static socklen_t unaddr(const char *dir, const char *name, struct sockaddr_un *a)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof a->sun_path, "%s/%s", dir, name);
	return offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: peercred UDP-PORT DIR\n");
		return 2;
	}
	/* A host UDP socket (it falls through under ztnc-run). */
	int u = CK(socket(AF_INET, SOCK_DGRAM, 0));
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CK(sendto(u, "x", 1, 0, (struct sockaddr *)&in, sizeof in));
	char b[8];
	CK(recv(u, b, sizeof b, 0));
	printf("euid %d egid %d\n", (int)geteuid(), (int)getegid());

	struct sockaddr_un a;
	socklen_t l = unaddr(argv[2], "stream", &a);
	int ls = CK(socket(AF_UNIX, SOCK_STREAM, 0));
	CK(bind(ls, (struct sockaddr *)&a, l));
	CK(listen(ls, 1));
	int c = CK(socket(AF_UNIX, SOCK_STREAM, 0));
	CK(connect(c, (struct sockaddr *)&a, l));
	int s = CK(accept(ls, NULL, NULL));
	struct ucred cr;
	socklen_t crl = sizeof cr;
	CK(getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &crl));
	printf("stream peer uid %d gid %d\n", (int)cr.uid, (int)cr.gid);

	/* The other way: what a client sees of a listener the program made. */
	int cl = CK(socket(AF_UNIX, SOCK_STREAM, 0));
	CK(connect(cl, (struct sockaddr *)&a, l));
	crl = sizeof cr;
	CK(getsockopt(cl, SOL_SOCKET, SO_PEERCRED, &cr, &crl));
	printf("listener uid %d gid %d\n", (int)cr.uid, (int)cr.gid);

	l = unaddr(argv[2], "dgram", &a);
	int d = CK(socket(AF_UNIX, SOCK_DGRAM, 0));
	CK(bind(d, (struct sockaddr *)&a, l));
	int on = 1;
	CK(setsockopt(d, SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
	int ds = CK(socket(AF_UNIX, SOCK_DGRAM, 0));
	CK(sendto(ds, "y", 1, 0, (struct sockaddr *)&a, l));
	char cbuf[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = {.iov_base = b, .iov_len = sizeof b};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	CK(recvmsg(d, &m, 0));
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	if (!h || h->cmsg_type != SCM_CREDENTIALS) {
		printf("FAIL no SCM_CREDENTIALS\n");
		return 1;
	}
	memcpy(&cr, CMSG_DATA(h), sizeof cr);
	printf("datagram sender uid %d gid %d\n", (int)cr.uid, (int)cr.gid);
	return 0;
}
