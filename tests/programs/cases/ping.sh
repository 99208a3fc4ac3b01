# iputils ping over ICMP datagram sockets: ADDR and the IPv4 loopback, ADDR6
# and ::1; every echo must be answered, by the address pinged.
. "$(dirname "$0")/lib.sh"
need ping cp

# Debian's /usr/bin/ping carries the file capability cap_net_raw+ep. With an
# empty capability bounding set (how the suite runs uid 65534) the kernel
# refuses to execute such a file at all (EPERM), so run a copy without the
# capability: it must then use ICMP datagram sockets (socket(AF_INET,
# SOCK_DGRAM, IPPROTO_ICMP)), which iputils tries first anyway.
PING=$WORK/ping
cp /usr/bin/ping "$PING" || fail "cannot copy ping"

pingcheck() { # COUNT ARGS... ADDRESS (last)
	_n=$1
	shift
	for _a; do :; done
	_out=$("$PING" -n -c "$_n" -i 0.2 -W 2 "$@" 2>&1)
	_st=$?
	echo "$_out" | sed "s/^/[$CASE]   /" >&2
	[ $_st -eq 0 ] || fail "ping $* exited with status $_st"
	echo "$_out" | grep -q "^$_n packets transmitted, $_n received, 0% packet loss" ||
		fail "ping $*: not all $_n echoes answered"
	_replies=$(echo "$_out" | grep -c "^[0-9]* bytes from $_a: icmp_seq=")
	check_eq "$_n" "$_replies" "echo replies from $_a"
}

pingcheck 3 "$ADDR"
pingcheck 3 127.0.0.1
pingcheck 2 -6 "$ADDR6"
pingcheck 2 -6 ::1
log PASS
