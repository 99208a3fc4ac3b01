/* Run only under ztnc-run: nothing may reach the host's network.
 * argv: <host TCP port on 127.0.0.1> <host UDP port on 127.0.0.1>
 * The Go test runs servers on those host ports and checks they saw nothing. */
#include "common.h"
#include <linux/net.h>

static long int80(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c)
			 : "memory", "r8", "r9", "r10", "r11");
	return ret;
}

static struct sockaddr_storage host_tcp;

/* Runs one way around the filter in a child; the child reports through its
 * exit status: 0 error returned, 1 got a socket (connect to the host port
 * failed), 2 got a socket that reached the host. */
static void attempt(const char *label, int how)
{
	int pfd[2];
	CK(pipe(pfd));
	pid_t pid = CK(fork());
	if (pid == 0) {
		close(pfd[0]);
		long r = -ENOSYS;
		if (how == 0) { /* i386 socketcall(SYS_SOCKET, {AF_INET, SOCK_STREAM, 0}) */
			uint32_t *args = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
			if (args == MAP_FAILED)
				_exit(9);
			args[0] = AF_INET, args[1] = SOCK_STREAM, args[2] = 0;
			r = int80(102, SYS_SOCKET, (long)(uintptr_t)args, 0);
		} else if (how == 1) { /* i386 socket(AF_INET, SOCK_STREAM, 0) = 359 */
			r = int80(359, AF_INET, SOCK_STREAM, 0);
		} else { /* x32 socket = __X32_SYSCALL_BIT | 41 */
			r = syscall(0x40000000L | 41, AF_INET, SOCK_STREAM, 0);
			if (r < 0)
				r = -errno;
		}
		char msg[64];
		int n = snprintf(msg, sizeof msg, "%s", r < 0 ? en((int)-r) : "fd");
		write(pfd[1], msg, n);
		if (r < 0)
			_exit(0);
		/* a real socket: does it reach the host? */
		if (connect((int)r, (struct sockaddr *)&host_tcp, sizeof(struct sockaddr_in)) == 0)
			_exit(2);
		_exit(1);
	}
	close(pfd[1]);
	char msg[64] = { 0 };
	read(pfd[0], msg, sizeof msg - 1);
	close(pfd[0]);
	int st;
	CK(waitpid(pid, &st, 0));
	if (WIFSIGNALED(st)) {
		OUT("%s: blocked (killed by signal %d)", label, WTERMSIG(st));
	} else if (WEXITSTATUS(st) == 0) {
		OUT("%s: blocked (%s)", label, msg);
	} else {
		OUT("%s: NOT BLOCKED: returned %s, reached_host=%d", label, msg, WEXITSTATUS(st) == 2);
		g_failed = 1;
	}
}

int main(int argc, char **argv)
{
	watchdog(25);
	signal(SIGPIPE, SIG_IGN);
	if (argc != 3)
		DIE("usage: isolation TCPPORT UDPPORT");
	int tport = atoi(argv[1]), uport = atoi(argv[2]);
	mkaddr(AF_INET, "127.0.0.1", tport, &host_tcp);
	struct sockaddr_storage host_udp, ss;
	mkaddr(AF_INET, "127.0.0.1", uport, &host_udp);

	/* 0. other syscall ABIs */
	attempt("int80_socketcall_socket", 0);
	attempt("int80_socket", 1);
	attempt("x32_socket", 2);

	/* 1. the host's 127.0.0.1 TCP server is not reachable */
	int c = CK(socket(AF_INET, SOCK_STREAM, 0));
	TRY("connect_host_loopback_tcp", ECONNREFUSED, connect(c, (struct sockaddr *)&host_tcp, sizeof(struct sockaddr_in)));
	close(c);
	c = CK(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
	connect(c, (struct sockaddr *)&host_tcp, sizeof(struct sockaddr_in));
	wait_poll(c, POLLOUT, 10000);
	int e = sockerr(c);
	OUT("connect_host_loopback_tcp_nonblocking: so_error=%s", en(e));
	EXPECT(e == ECONNREFUSED);
	close(c);

	/* 2. datagrams to the host's 127.0.0.1 UDP server (must not arrive) */
	int u = CK(socket(AF_INET, SOCK_DGRAM, 0));
	for (int i = 0; i < 3; i++)
		sendto(u, "LEAK", 4, 0, (struct sockaddr *)&host_udp, sizeof(struct sockaddr_in));
	struct iovec iov = { "LEAK", 4 };
	struct mmsghdr mm = { .msg_hdr = { .msg_name = &host_udp, .msg_namelen = sizeof(struct sockaddr_in), .msg_iov = &iov, .msg_iovlen = 1 } };
	sendmmsg(u, &mm, 1, 0);
	sendmsg(u, &mm.msg_hdr, 0);
	close(u);
	u = CK(socket(AF_INET, SOCK_DGRAM, 0));
	if (connect(u, (struct sockaddr *)&host_udp, sizeof(struct sockaddr_in)) == 0)
		send(u, "LEAK", 4, 0);
	close(u);
	OUT("udp_to_host_loopback: sent");

	/* 3. the same port numbers are free on the private loopback */
	int l = CK(socket(AF_INET, SOCK_STREAM, 0));
	if (TRY("bind_same_port_as_host_tcp", 0, bind(l, (struct sockaddr *)&host_tcp, sizeof(struct sockaddr_in))) == 0) {
		CK(listen(l, 4));
		c = CK(socket(AF_INET, SOCK_STREAM, 0));
		if (TRY("connect_private_loopback", 0, connect(c, (struct sockaddr *)&host_tcp, sizeof(struct sockaddr_in))) == 0)
			close(CK(accept(l, NULL, NULL)));
		close(c);
	}
	close(l);
	u = CK(socket(AF_INET, SOCK_DGRAM, 0));
	TRY("bind_same_port_as_host_udp", 0, bind(u, (struct sockaddr *)&host_udp, sizeof(struct sockaddr_in)));
	close(u);

	/* 4. the --local addresses are ours */
	u = CK(socket(AF_INET, SOCK_DGRAM, 0));
	socklen_t sl = mkaddr(AF_INET, "10.9.0.1", 0, &ss);
	TRY("bind_10.9.0.1", 0, bind(u, (struct sockaddr *)&ss, sl));
	close(u);
	u = CK(socket(AF_INET6, SOCK_DGRAM, 0));
	sl = mkaddr(AF_INET6, "fd00:9::1", 0, &ss);
	TRY("bind_fd00:9::1", 0, bind(u, (struct sockaddr *)&ss, sl));
	close(u);

	/* 5. io_uring would bypass the filter */
	char params[120] = { 0 };
	TRY("io_uring_setup", ENOSYS, syscall(425, 8, params));

	/* 6. packet and raw sockets */
	TRY("socket_packet_raw", EPERM, socket(AF_PACKET, SOCK_RAW, 0));
	TRY("socket_packet_dgram", EPERM, socket(AF_PACKET, SOCK_DGRAM, 0));
	TRY("socket_inet_raw_icmp", EPERM, socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
	TRY("socket_inet_raw_raw", EPERM, socket(AF_INET, SOCK_RAW, IPPROTO_RAW));
	TRY("socket_inet6_raw_icmpv6", EPERM, socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6));

	return finish("isolation");
}
