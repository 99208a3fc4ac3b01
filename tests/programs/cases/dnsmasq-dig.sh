# dnsmasq (UDP and TCP DNS, on IPv4 and IPv6) <-> dig: A, AAAA and TXT
# answers with exact content, NXDOMAIN for an unknown name, and the same
# over TCP (+tcp; dnsmasq forks a child per TCP connection).
. "$(dirname "$0")/lib.sh"
need dnsmasq dig

D=$WORK/dnsmasq
mkdir -p "$D" || fail "mkdir"
# As root dnsmasq drops privileges by itself (to user dnsmasq if it exists,
# else nobody); unprivileged it keeps its uid.
dnsmasq --no-daemon --port="$PORT" --listen-address="$ADDR" --listen-address="$ADDR6" \
	--bind-interfaces --no-resolv --no-hosts --conf-file=/dev/null \
	--pid-file="$D/dnsmasq.pid" --log-queries --log-facility=- \
	--address=/example.test/10.9.0.77 --address=/example.test/fd00:9::77 \
	--txt-record=txt.example.test,"hello ztnc" --local=/test/ \
	>"$D/dnsmasq.log" 2>&1 &
srv=$!
on_exit stop_pid $srv
on_exit '[ $_st -eq 0 ] || dump_logs "$D/dnsmasq.log"'

q() { dig +time=2 +tries=1 -p "$PORT" "$@"; }
answers() { [ "$(q @"$ADDR" example.test +short)" = 10.9.0.77 ]; }
wait_up $srv 100 answers

for mode in +notcp +tcp; do
	check_eq 10.9.0.77 "$(q @"$ADDR" example.test A +short $mode)" "A example.test via $ADDR $mode"
	check_eq fd00:9::77 "$(q @"$ADDR" example.test AAAA +short $mode)" "AAAA example.test via $ADDR $mode"
	check_eq '"hello ztnc"' "$(q @"$ADDR" txt.example.test TXT +short $mode)" "TXT txt.example.test $mode"
	check_eq 10.9.0.77 "$(q @"$ADDR6" www.example.test A +short $mode)" "A www.example.test via $ADDR6 $mode"
	status=$(q @"$ADDR" nope.test A $mode | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')
	check_eq NXDOMAIN "$status" "status for nope.test $mode"
done

# Several queries from one dig process (one socket, sequential ids).
got=$(q @"$ADDR" +short example.test A a.example.test A b.example.test A | sort | uniq -c | tr -s ' ')
check_eq " 3 10.9.0.77" "$got" "3 answers from one dig"

# dnsmasq logged the queries with the client address.
grep -q "query\[A\] example.test from $ADDR\$" "$D/dnsmasq.log" ||
	fail "dnsmasq did not log a query from $ADDR"
log PASS
