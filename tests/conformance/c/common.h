/* Shared helpers for the conformance programs.
 *
 * Every program prints deterministic lines (never port numbers, fds or
 * anything else that changes between runs) and checks its expectations of
 * Linux behaviour itself: a mismatch prints a "FAIL ..." line and makes the
 * program exit 1; an unexpected fatal error prints "FATAL ..." and exits 2.
 * Only the main process/thread prints, in a fixed order. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int g_failed;

static const char *en(int e)
{
	static char buf[32];
	if (e == 0)
		return "0";
	const char *s = strerrorname_np(e);
	if (s)
		return s;
	snprintf(buf, sizeof buf, "errno%d", e);
	return buf;
}

#define OUT(...) do { printf(__VA_ARGS__); putchar('\n'); fflush(stdout); } while (0)
#define DIE(...) do { int e_ = errno; printf("FATAL %s:%d: ", __FILE__, __LINE__); \
	printf(__VA_ARGS__); printf(" (errno=%s)\n", en(e_)); fflush(stdout); _exit(2); } while (0)
/* CK: the call must succeed; returns its result. */
#define CK(x) ({ long r_ = (long)(x); if (r_ < 0) DIE("%s", #x); r_; })
#define EXPECT(cond) do { if (!(cond)) { printf("FAIL %s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
	fflush(stdout); g_failed = 1; } } while (0)

/* TRY: run expr (a syscall returning <0 and setting errno on failure), print
 * "label: ok" or "label: EXXX", and check it against want (0 = success). */
static long res_(const char *label, long r, int e, int want)
{
	if (r >= 0)
		printf("%s: ok\n", label);
	else
		printf("%s: %s\n", label, en(e));
	if ((want == 0) != (r >= 0) || (r < 0 && e != want)) {
		printf("FAIL %s: expected %s\n", label, want ? en(want) : "success");
		g_failed = 1;
	}
	fflush(stdout);
	return r;
}
#define TRY(label, want, expr) ({ errno = 0; long r0_ = (long)(expr); res_(label, r0_, errno, want); })

static int finish(const char *name)
{
	OUT("%s: %s", name, g_failed ? "FAILED" : "done");
	return g_failed ? 1 : 0;
}

static void watchdog(int secs)
{
	signal(SIGALRM, SIG_DFL);
	alarm(secs);
}

static const char *famname(int f)
{
	static char buf[16];
	switch (f) {
	case AF_INET: return "AF_INET";
	case AF_INET6: return "AF_INET6";
	case AF_UNSPEC: return "AF_UNSPEC";
	case AF_UNIX: return "AF_UNIX";
	}
	snprintf(buf, sizeof buf, "AF_%d", f);
	return buf;
}

static int sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return -1;
}

/* "family=AF_INET addr=127.0.0.1" (no port) */
static const char *sa_str(const struct sockaddr_storage *ss)
{
	static char out[4][128];
	static int k;
	char a[INET6_ADDRSTRLEN] = "?";
	char *o = out[k++ & 3];
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, a, sizeof a);
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, a, sizeof a);
	snprintf(o, 128, "family=%s addr=%s", famname(ss->ss_family), a);
	return o;
}

/* Same family, address and port. */
static int sa_eq(const struct sockaddr_storage *x, const struct sockaddr_storage *y)
{
	if (x->ss_family != y->ss_family)
		return 0;
	if (x->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)x, *b = (const void *)y;
		return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
	}
	if (x->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)x, *b = (const void *)y;
		return a->sin6_port == b->sin6_port && !memcmp(&a->sin6_addr, &b->sin6_addr, 16);
	}
	return 0;
}

static socklen_t mkaddr(int fam, const char *ip, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (fam == AF_INET) {
		struct sockaddr_in *s = (void *)ss;
		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		if (inet_pton(AF_INET, ip, &s->sin_addr) != 1)
			DIE("bad ip %s", ip);
		return sizeof *s;
	}
	struct sockaddr_in6 *s = (void *)ss;
	s->sin6_family = AF_INET6;
	s->sin6_port = htons(port);
	if (inet_pton(AF_INET6, ip, &s->sin6_addr) != 1)
		DIE("bad ip %s", ip);
	return sizeof *s;
}

static socklen_t salen(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static void sockname(int fd, struct sockaddr_storage *ss)
{
	socklen_t l = sizeof *ss;
	memset(ss, 0, sizeof *ss);
	CK(getsockname(fd, (struct sockaddr *)ss, &l));
}

static void peername(int fd, struct sockaddr_storage *ss)
{
	socklen_t l = sizeof *ss;
	memset(ss, 0, sizeof *ss);
	CK(getpeername(fd, (struct sockaddr *)ss, &l));
}

/* A listening TCP socket on ip, port 0; its address in *out. */
static int tcp_listener(int fam, const char *ip, int backlog, struct sockaddr_storage *out)
{
	struct sockaddr_storage ss;
	socklen_t l = mkaddr(fam, ip, 0, &ss);
	int fd = CK(socket(fam, SOCK_STREAM, 0));
	CK(bind(fd, (struct sockaddr *)&ss, l));
	CK(listen(fd, backlog));
	sockname(fd, out);
	return fd;
}

static int tcp_connect(const struct sockaddr_storage *to)
{
	int fd = CK(socket(to->ss_family, SOCK_STREAM, 0));
	CK(connect(fd, (const struct sockaddr *)to, salen(to)));
	return fd;
}

static int udp_socket(int fam, const char *ip, struct sockaddr_storage *out)
{
	struct sockaddr_storage ss;
	socklen_t l = mkaddr(fam, ip, 0, &ss);
	int fd = CK(socket(fam, SOCK_DGRAM, 0));
	CK(bind(fd, (struct sockaddr *)&ss, l));
	sockname(fd, out);
	return fd;
}

static void write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			DIE("write");
		c += w;
		n -= w;
	}
}

/* Reads exactly n bytes; returns the count read before EOF. */
static size_t read_full(int fd, void *p, size_t n)
{
	char *c = p;
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, c + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			DIE("read");
		if (r == 0)
			break;
		got += r;
	}
	return got;
}

static int wait_poll(int fd, short ev, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int r;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		DIE("poll");
	return r == 0 ? 0 : p.revents;
}

static const char *pollstr(int ev)
{
	static char b[128];
	b[0] = 0;
	if (ev & POLLIN) strcat(b, "|POLLIN");
	if (ev & POLLPRI) strcat(b, "|POLLPRI");
	if (ev & POLLOUT) strcat(b, "|POLLOUT");
	if (ev & POLLERR) strcat(b, "|POLLERR");
	if (ev & POLLHUP) strcat(b, "|POLLHUP");
	if (ev & POLLRDHUP) strcat(b, "|POLLRDHUP");
	if (ev & POLLNVAL) strcat(b, "|POLLNVAL");
	return b[0] ? b + 1 : "0";
}

static const char *epstr(uint32_t ev)
{
	static char b[128];
	b[0] = 0;
	if (ev & EPOLLIN) strcat(b, "|EPOLLIN");
	if (ev & EPOLLPRI) strcat(b, "|EPOLLPRI");
	if (ev & EPOLLOUT) strcat(b, "|EPOLLOUT");
	if (ev & EPOLLERR) strcat(b, "|EPOLLERR");
	if (ev & EPOLLHUP) strcat(b, "|EPOLLHUP");
	if (ev & EPOLLRDHUP) strcat(b, "|EPOLLRDHUP");
	return b[0] ? b + 1 : "0";
}

static int sockerr(int fd)
{
	int e = -1;
	socklen_t l = sizeof e;
	CK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l));
	return e;
}

static int getint(int fd, int level, int opt)
{
	int v = -1;
	socklen_t l = sizeof v;
	CK(getsockopt(fd, level, opt, &v, &l));
	return v;
}

static void set_nonblock(int fd, int on)
{
	int fl = CK(fcntl(fd, F_GETFL));
	CK(fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK));
}

/* Syscall number a thread is blocked in, from /proc (-1: running / unknown). */
static long thread_syscall(pid_t tid)
{
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		DIE("open %s", path);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	if (!strncmp(buf, "running", 7))
		return -1;
	return strtol(buf, NULL, 10);
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
