/* Once a program holds a host socket (here a UDP one that fell through),
 * ztnc-run no longer lets the kernel run connect, listen and the sends on
 * sockets it judged safe: it does them itself (the fd-number race). This
 * program checks those calls still behave as the kernel's: run on the host
 * kernel and under `ztnc-run --fallthrough 127.0.0.0/8`, the outputs must
 * be the same.
 * argv: <UDP echo port on 127.0.0.1> <TCP echo port on 127.0.0.1> <a temporary directory> */
#include "common.h"
#include <grp.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/un.h>

static socklen_t unaddr(const char *path, int abstract, struct sockaddr_un *a)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	strcpy(a->sun_path + (abstract ? 1 : 0), path);
	return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1; /* the NUL, or the leading 0 of an abstract name */
}

static void unix_stream(const char *label, const char *path, int abstract)
{
	struct sockaddr_un a;
	socklen_t l = unaddr(path, abstract, &a);
	int ls = CK(socket(AF_UNIX, SOCK_STREAM, 0));
	char what[96];
	snprintf(what, sizeof what, "%s bind", label);
	TRY(what, 0, bind(ls, (struct sockaddr *)&a, l));
	snprintf(what, sizeof what, "%s listen", label);
	TRY(what, 0, listen(ls, 4));
	int c = CK(socket(AF_UNIX, SOCK_STREAM, 0));
	snprintf(what, sizeof what, "%s connect", label);
	TRY(what, 0, connect(c, (struct sockaddr *)&a, l));
	int s = CK(accept(ls, NULL, NULL));
	struct sockaddr_un p;
	socklen_t pl = sizeof p;
	CK(getpeername(c, (struct sockaddr *)&p, &pl));
	OUT("%s peername: len=%d same=%d", label, (int)pl, pl == l && !memcmp(&p, &a, l));
	/* sendmsg with an fd: the receiver gets a working copy */
	int pr[2];
	CK(pipe(pr));
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr a; } cb;
	memset(&cb, 0, sizeof cb);
	struct iovec v = {"F", 1};
	struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = cb.buf, .msg_controllen = sizeof cb.buf};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET, cm->cmsg_type = SCM_RIGHTS, cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &pr[1], sizeof(int));
	snprintf(what, sizeof what, "%s sendmsg SCM_RIGHTS", label);
	TRY(what, 0, sendmsg(c, &m, 0));
	char b[8] = {0};
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr a; } rb;
	struct iovec rv = {b, sizeof b};
	struct msghdr rm = {.msg_iov = &rv, .msg_iovlen = 1, .msg_control = rb.buf, .msg_controllen = sizeof rb.buf};
	long n = recvmsg(s, &rm, 0);
	int got = -1;
	struct cmsghdr *rc = CMSG_FIRSTHDR(&rm);
	if (rc && rc->cmsg_type == SCM_RIGHTS)
		memcpy(&got, CMSG_DATA(rc), sizeof(int));
	OUT("%s received: %ld %s fd=%s", label, n, b, got >= 0 ? "yes" : "no");
	if (got >= 0) {
		TRY("write to the passed pipe", 0, write(got, "P", 1));
		char pb = 0;
		CK(read(pr[0], &pb, 1));
		OUT("pipe got %c", pb);
		close(got);
	}
	close(pr[0]), close(pr[1]);
	/* a blocking sendmsg bigger than the buffers: all of it arrives */
	size_t big = 4 << 20;
	char *buf = malloc(big);
	for (size_t i = 0; i < big; i++)
		buf[i] = (char)(i * 7);
	pid_t kid = fork();
	if (kid == 0) {
		char *in = malloc(big);
		size_t got2 = 0;
		while (got2 < big) {
			long r = read(s, in + got2, big - got2);
			if (r <= 0)
				_exit(3);
			got2 += r;
		}
		_exit(memcmp(in, buf, big) ? 4 : 0);
	}
	struct iovec bv = {buf, big};
	struct msghdr bm = {.msg_iov = &bv, .msg_iovlen = 1};
	long sent = sendmsg(c, &bm, 0);
	OUT("%s big blocking sendmsg: %s", label, sent == (long)big ? "all" : "short");
	int st;
	waitpid(kid, &st, 0);
	OUT("%s big data intact: %d", label, WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* non-blocking: a short count or EAGAIN, never more than fits */
	fcntl(c, F_SETFL, O_NONBLOCK);
	long total = 0, r;
	while ((r = sendmsg(c, &bm, MSG_DONTWAIT)) > 0)
		total += r;
	OUT("%s non-blocking fill: %s then %s", label, total > 0 ? "some" : "none", en(errno));
	free(buf);
	close(s);
	/* EPIPE, and SIGPIPE unless MSG_NOSIGNAL */
	signal(SIGPIPE, SIG_IGN);
	snprintf(what, sizeof what, "%s sendmsg after peer closed", label);
	shutdown(c, SHUT_RDWR);
	struct msghdr one = {.msg_iov = &v, .msg_iovlen = 1};
	TRY(what, EPIPE, sendmsg(c, &one, MSG_NOSIGNAL));
	close(c), close(ls);
}

int main(int argc, char **argv)
{
	if (argc != 4)
		DIE("usage: fallthrough_checked UPORT TPORT DIR");
	watchdog(60);
	struct sockaddr_storage ok_u, ok_t;
	socklen_t l = mkaddr(AF_INET, "127.0.0.1", atoi(argv[1]), &ok_u);
	mkaddr(AF_INET, "127.0.0.1", atoi(argv[2]), &ok_t);
	int u = CK(socket(AF_INET, SOCK_DGRAM, 0));
	TRY("udp sendto the host", 0, sendto(u, "u", 1, 0, (struct sockaddr *)&ok_u, l));
	char rb[8] = {0};
	struct pollfd pf = {u, POLLIN, 0};
	int ready = poll(&pf, 1, 5000);
	OUT("udp echo: %d %ld", ready, recv(u, rb, sizeof rb, 0));

	CK(chdir(argv[3]));
	char abs[256];
	snprintf(abs, sizeof abs, "%s/abs.sock", argv[3]);
	unix_stream("unix path", abs, 0);
	unix_stream("unix relative path", "rel.sock", 0);
	char ab[64];
	snprintf(ab, sizeof ab, "ztnc-checked-%d", getpid());
	unix_stream("unix abstract", ab, 1);

	struct sockaddr_un a;
	socklen_t al = unaddr("nobody.sock", 0, &a);
	int x = CK(socket(AF_UNIX, SOCK_STREAM, 0));
	TRY("unix connect to no socket", ENOENT, connect(x, (struct sockaddr *)&a, al));
	TRY("unix listen unbound", EINVAL, listen(x, 1));
	/* a socket file nobody may write: refused unless the program may anyway */
	struct sockaddr_un ro;
	socklen_t rol = unaddr("ro.sock", 0, &ro);
	int rs = CK(socket(AF_UNIX, SOCK_STREAM, 0));
	CK(bind(rs, (struct sockaddr *)&ro, rol));
	CK(listen(rs, 1));
	CK(chmod("ro.sock", 0444));
	int may = geteuid() == 0;
	TRY("unix connect read-only socket", may ? 0 : EACCES, connect(x, (struct sockaddr *)&ro, rol));
	/* and a root program that dropped its privileges may not either */
	pid_t kid = fork();
	if (kid == 0) {
		if (geteuid() == 0 && (setgroups(0, NULL) || setgid(65534) || setuid(65534)))
			_exit(9);
		int y = socket(AF_UNIX, SOCK_STREAM, 0);
		_exit(connect(y, (struct sockaddr *)&ro, rol) == 0 ? 0 : errno == EACCES ? 1 : 2);
	}
	int st;
	waitpid(kid, &st, 0);
	OUT("unprivileged connect read-only socket: %s", WIFEXITED(st) && WEXITSTATUS(st) == 1 ? "EACCES" : "not refused");
	close(rs);
	close(x);
	TRY("connect on a pipe", ENOTSOCK, connect(0, (struct sockaddr *)&a, al));
	TRY("sendmsg on a closed fd", EBADF, sendto(999, "x", 1, 0, (struct sockaddr *)&a, al));

	/* SO_SNDTIMEO bounds a blocking send: what went, then EAGAIN */
	{
		int sp[2];
		CK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
		struct timeval to = {0, 200000};
		CK(setsockopt(sp[0], SOL_SOCKET, SO_SNDTIMEO, &to, sizeof to));
		size_t big = 4 << 20;
		char *buf = calloc(1, big);
		struct iovec bv = {buf, big};
		struct msghdr bm = {.msg_iov = &bv, .msg_iovlen = 1};
		long r = sendmsg(sp[0], &bm, 0);
		OUT("sndtimeo sendmsg: %s", r > 0 && r < (long)big ? "partial" : r < 0 ? en(errno) : "all");
		r = sendmsg(sp[0], &bm, 0);
		OUT("sndtimeo sendmsg when full: %s", r > 0 ? "some" : en(errno));
		free(buf);
		close(sp[0]), close(sp[1]);
	}

	/* AF_UNIX datagrams to a path, one by one and in a batch */
	int d = CK(socket(AF_UNIX, SOCK_DGRAM, 0));
	al = unaddr("dgram.sock", 0, &a);
	CK(bind(d, (struct sockaddr *)&a, al));
	int ds = CK(socket(AF_UNIX, SOCK_DGRAM, 0));
	TRY("unix dgram sendto path", 0, sendto(ds, "one", 3, 0, (struct sockaddr *)&a, al));
	struct iovec v2[2] = {{"tw", 2}, {"o", 1}};
	struct mmsghdr mm[2] = {{.msg_hdr = {.msg_name = &a, .msg_namelen = al, .msg_iov = v2, .msg_iovlen = 2}},
				{.msg_hdr = {.msg_name = &a, .msg_namelen = al, .msg_iov = v2, .msg_iovlen = 1}}};
	long k = sendmmsg(ds, mm, 2, 0);
	OUT("unix dgram sendmmsg: %ld lens %u %u", k, mm[0].msg_len, mm[1].msg_len);
	for (int i = 0; i < 3; i++) {
		char b[16] = {0};
		long r = recv(d, b, sizeof b, MSG_DONTWAIT);
		OUT("unix dgram got %ld %s", r, b);
	}
	close(d), close(ds);

	/* TCP through the host, with sendmsg */
	int t = CK(socket(AF_INET, SOCK_STREAM, 0));
	TRY("tcp connect the host", 0, connect(t, (struct sockaddr *)&ok_t, l));
	struct iovec tv[2] = {{"hel", 3}, {"lo", 2}};
	struct msghdr tm = {.msg_iov = tv, .msg_iovlen = 2};
	TRY("tcp sendmsg", 0, sendmsg(t, &tm, 0));
	char tb[16] = {0};
	size_t got = 0;
	while (got < 5) {
		long r = read(t, tb + got, sizeof tb - 1 - got);
		if (r <= 0)
			break;
		got += r;
	}
	OUT("tcp echo: %s", tb);
	close(t), close(u);
	return finish("fallthrough_checked");
}
