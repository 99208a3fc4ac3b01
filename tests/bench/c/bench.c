// Micro-benchmarks run bare and under ztnc-run by `make bench` (main.go).
// Each mode prints key=value lines.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void die(const char *m) { perror(m); exit(1); }

// A trapped call: getsockopt(SO_TYPE) on an AF_INET socket.
static void trap(int n) {
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0) die("socket");
	double *t = malloc(sizeof(double) * n);
	for (int i = 0; i < n; i++) {
		int v; socklen_t l = sizeof v;
		double a = now();
		if (getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l) < 0) die("getsockopt");
		t[i] = now() - a;
	}
	qsort(t, n, sizeof(double), cmp);
	printf("trap_median_us=%.2f\ntrap_p99_us=%.2f\n", t[n / 2] * 1e6, t[n * 99 / 100] * 1e6);
}

// An untrapped call loop: getppid.
static void untrapped(int n) {
	double a = now();
	for (int i = 0; i < n; i++) syscall(SYS_getppid);
	double d = now() - a;
	printf("untrapped_ns=%.1f\nuntrapped_per_s=%.0f\n", d / n * 1e9, n / d);
}

// An untrapped call that does some work: read(4 KiB) from /dev/zero.
static void readloop(int n) {
	int fd = open("/dev/zero", O_RDONLY);
	static char buf[4096];
	double a = now();
	for (int i = 0; i < n; i++)
		if (read(fd, buf, sizeof buf) != sizeof buf) die("read");
	double d = now() - a;
	printf("read4k_per_s=%.0f\n", n / d);
}

static int listener(struct sockaddr_in *sa) {
	int l = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(l, (void *)sa, sizeof *sa) < 0) die("bind");
	socklen_t sl = sizeof *sa;
	getsockname(l, (void *)sa, &sl);
	if (listen(l, 128) < 0) die("listen");
	return l;
}

// Bulk TCP, client -> server, over 127.0.0.1.
static void bulk(int mb) {
	struct sockaddr_in sa;
	int l = listener(&sa);
	pid_t p = fork();
	if (p == 0) {
		int c = accept(l, NULL, NULL);
		static char buf[1 << 16];
		long long got = 0;
		ssize_t r;
		while ((r = read(c, buf, sizeof buf)) > 0) got += r;
		_exit(got == (long long)mb << 20 ? 0 : 1);
	}
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(s, (void *)&sa, sizeof sa) < 0) die("connect");
	static char buf[1 << 16];
	double a = now();
	for (long long left = (long long)mb << 20; left > 0;) {
		ssize_t w = write(s, buf, left < (long long)sizeof buf ? left : sizeof buf);
		if (w <= 0) die("write");
		left -= w;
	}
	shutdown(s, SHUT_WR);
	int st;
	waitpid(p, &st, 0);
	double d = now() - a;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) { fprintf(stderr, "bulk: short transfer\n"); exit(1); }
	printf("bulk_MBps=%.1f\n", mb / d);
}

// New connections: connect, 64-byte request, 64-byte answer, close.
static void connrate(double secs) {
	struct sockaddr_in sa;
	int l = listener(&sa);
	pid_t p = fork();
	if (p == 0) {
		for (;;) {
			int c = accept(l, NULL, NULL);
			if (c < 0) continue;
			char b[64];
			if (read(c, b, sizeof b) > 0) write(c, b, sizeof b);
			close(c);
		}
	}
	int n = 0;
	double a = now(), d;
	while ((d = now() - a) < secs) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(s, (void *)&sa, sizeof sa) < 0) die("connect");
		char b[64] = {0};
		write(s, b, sizeof b);
		if (read(s, b, sizeof b) != sizeof b) die("read");
		close(s);
		n++;
	}
	kill(p, 9);
	waitpid(p, NULL, 0);
	printf("conn_per_s=%.0f\n", n / d);
}

int main(int argc, char **argv) {
	if (argc < 3) { fprintf(stderr, "usage: bench trap|untrapped|bulk|connrate N\n"); return 2; }
	if (!strcmp(argv[1], "trap")) trap(atoi(argv[2]));
	else if (!strcmp(argv[1], "untrapped")) untrapped(atoi(argv[2]));
	else if (!strcmp(argv[1], "read")) readloop(atoi(argv[2]));
	else if (!strcmp(argv[1], "bulk")) bulk(atoi(argv[2]));
	else if (!strcmp(argv[1], "connrate")) connrate(atof(argv[2]));
	else return 2;
	return 0;
}
