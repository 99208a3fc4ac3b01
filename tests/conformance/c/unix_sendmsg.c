/* One sendmsg on an AF_UNIX pair, nothing else: under ztnc-run -v its
 * statistics tell whether the supervisor let it through (the fast path) or
 * did it itself (a host socket may be in the program: checked.go). */
#include "common.h"

int main(void)
{
	int p[2];
	CK(socketpair(AF_UNIX, SOCK_STREAM, 0, p));
	struct iovec v = {"x", 1};
	struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
	TRY("unix sendmsg", 0, sendmsg(p[0], &m, 0));
	char b;
	TRY("unix recv", 0, recv(p[1], &b, 1, 0));
	return finish("unix_sendmsg");
}
