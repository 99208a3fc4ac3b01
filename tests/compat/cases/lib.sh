# Shared helpers for the compatibility cases (POSIX sh; sourced by each case,
# which defines server() and client() and ends with `main "$@"`).
#
# A case script runs twice, on two ztnc nodes joined to the same lab network:
#   sh NAME.sh server   on node A (ztnc-run -d HOME_A --nwid …)
#   sh NAME.sh client   on node B (ztnc-run -d HOME_B --nwid …)
#
# server() starts the server (in the background), waits until it answers and
# returns; main then writes $WORK/ready and keeps node A up until the harness
# stops it. client() runs once per address family in a subshell with
#   FAM  4 or 6
#   SRV  A's address in that family; SRVH the same as a URL host ([v6])
#   ME   B's own address in that family
# and must check real results (hashes, exact output). Its verdict is printed
# as "RESULT ipv4 OK" (or FAIL) for the harness.
#
# Environment from compat_test.go:
#   WORK   scratch directory shared by both nodes (root and uid 65534 can write)
#   PORT, PORT2, PORT3  ports for the case's servers
#   GOPROGS  directory with the static Go programs; MONGO  FerretDB + client
#   ZTNC_ADDRS  (from ztnc-run) this node's virtual addresses
#   A4 A6 (client only)  node A's addresses

set -u

CASE=$(basename "$0" .sh)
ROLE=${1:-}

log() { echo "[$CASE $ROLE${FAM:+ ipv$FAM}] $*" >&2; }

fail() {
	echo "[$CASE $ROLE${FAM:+ ipv$FAM}] FAIL: $*" >&2
	exit 1
}

need() {
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || fail "required program '$p' not found in PATH=$PATH"
	done
}

# addr_of 4|6 ADDRS: the address (without prefix length) of that family.
addr_of() {
	for _x in $2; do
		case $1:$_x in
		4:*.*) echo "${_x%/*}" && return 0 ;;
		6:*:*) echo "${_x%/*}" && return 0 ;;
		esac
	done
	return 1
}

# running PID: true while PID exists and is not a zombie.
running() {
	[ -r "/proc/$1/stat" ] || return 1
	_state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$_state" ] && [ "$_state" != Z ] && [ "$_state" != X ]
}

# wait_up PID TRIES CMD...: run CMD every 0.1 s until it succeeds (at most
# TRIES times and WAIT_SECS seconds, default 40); fail at once when PID (the
# server; "" for none) has died meanwhile.
wait_up() {
	_pid=$1
	_tries=$2
	shift 2
	_i=0
	_end=$(($(date +%s) + ${WAIT_SECS:-40}))
	while [ "$_i" -lt "$_tries" ] && [ "$(date +%s)" -le "$_end" ]; do
		if "$@" >/dev/null 2>&1; then
			log "answers (after $_i retries): $*"
			return 0
		fi
		[ -z "$_pid" ] || running "$_pid" || fail "server (pid $_pid) exited before answering"
		_i=$((_i + 1))
		sleep 0.1
	done
	fail "gave up after $_i tries / ${WAIT_SECS:-40} s waiting for: $*"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

check_sha() {
	_got=$(sha "$2")
	[ "$_got" = "$1" ] || fail "$3: sha256 mismatch: got $_got, want $1 ($(wc -c <"$2") bytes received)"
	log "ok: $3 (sha256 $_got)"
}

check_eq() {
	[ "$2" = "$1" ] || fail "$3: got '$2', want '$1'"
	if [ "$(printf '%s\n' "$2" | wc -l)" -gt 8 ]; then
		log "ok: $3 ($(printf '%s\n' "$2" | wc -l) lines as expected)"
	else
		log "ok: $3 = '$2'"
	fi
}

# check_has WANT TEXT WHAT: TEXT contains the line or substring WANT.
check_has() {
	case $2 in
	*"$1"*) log "ok: $3 (has '$1')" ;;
	*) fail "$3: '$1' not in: $2" ;;
	esac
}

# mkblob FILE BYTES: incompressible content.
mkblob() { head -c "$2" /dev/urandom >"$1" || fail "cannot create $1"; }

dump_logs() {
	for f in "$@"; do
		[ -f "$f" ] || continue
		echo "----- $f (last 40 lines) -----" >&2
		tail -n 40 "$f" >&2
	done
}

# figure TEXT: a measured figure for the summary (iperf3 rates, benchmark
# results); one line, units included.
figure() { echo "FIGURE ipv${FAM:-?} $*"; }

# timed WHAT CMD...: run CMD, log how long it took (ms).
timed() {
	_what=$1
	shift
	_t0=$(date +%s%N)
	"$@"
	_st=$?
	log "time: $_what: $(((($(date +%s%N) - _t0) / 1000000))) ms (status $_st)"
	return $_st
}

fetch() { curl --noproxy '*' -sS --fail --max-time 30 "$@"; }
probe() { curl --noproxy '*' -sS --fail --max-time 3 "$@"; }

# Server-side cleanup: on_exit registers commands run when node A's script
# ends (the harness sends SIGTERM).
_on_exit_cmds=""
on_exit() { _on_exit_cmds="$_on_exit_cmds
$*"; }
_run_exit() {
	_st=$?
	set +e
	# The servers' logs (every *.log under WORK) for the result files.
	dump_logs $(find "$WORK" -name "*.log" 2>/dev/null | sort)
	eval "$_on_exit_cmds"
	exit $_st
}

stop_pid() {
	[ -n "${1:-}" ] || return 0
	kill -TERM "$1" 2>/dev/null || return 0
	_i=0
	while running "$1" && [ $_i -lt 50 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	return 0
}

stop_pidfile() {
	[ -s "$1" ] && stop_pid "$(cat "$1")"
	return 0
}

# wait_file FILE SECS: wait until FILE exists (written by the other node).
wait_file() {
	_n=0
	while [ ! -e "$1" ] && [ $_n -lt $(($2 * 10)) ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	[ -e "$1" ]
}

main() {
	: "${WORK:?WORK not set}" "${ZTNC_ADDRS:?not under ztnc-run --nwid (no ZTNC_ADDRS)}"
	case $ROLE in
	server)
		trap _run_exit EXIT
		trap 'exit 0' INT TERM
		A4=$(addr_of 4 "$ZTNC_ADDRS") || fail "no IPv4 address in ZTNC_ADDRS=$ZTNC_ADDRS"
		A6=$(addr_of 6 "$ZTNC_ADDRS") || fail "no IPv6 address in ZTNC_ADDRS=$ZTNC_ADDRS"
		log "node A: $A4 $A6 as uid $(id -u)"
		server
		log "server ready"
		: >"$WORK/ready"
		# Until the harness stops node A (sleep in the background so the
		# TERM trap runs at once).
		while :; do
			sleep 1 &
			wait $!
		done
		;;
	client)
		: "${A4:?A4 not set}" "${A6:?A6 not set}"
		B4=$(addr_of 4 "$ZTNC_ADDRS") || fail "no IPv4 address in ZTNC_ADDRS=$ZTNC_ADDRS"
		B6=$(addr_of 6 "$ZTNC_ADDRS") || fail "no IPv6 address in ZTNC_ADDRS=$ZTNC_ADDRS"
		echo "$B4 $B6" >"$WORK/b.addrs.tmp" && mv "$WORK/b.addrs.tmp" "$WORK/b.addrs"
		log "node B: $B4 $B6 as uid $(id -u); node A: $A4 $A6"
		_all=0
		for FAM in 4 6; do
			if [ $FAM = 4 ]; then SRV=$A4 SRVH=$A4 ME=$B4; else SRV=$A6 SRVH="[$A6]" ME=$B6; fi
			echo "===== ipv$FAM: server $SRV, client $ME ====="
			_t0=$(date +%s%N)
			(client) 2>&1
			_st=$?
			_ms=$((($(date +%s%N) - _t0) / 1000000))
			if [ $_st -eq 0 ]; then
				echo "RESULT ipv$FAM OK ${_ms}ms"
			else
				echo "RESULT ipv$FAM FAIL ${_ms}ms (status $_st)"
				_all=1
			fi
		done
		unset FAM
		exit $_all
		;;
	*) fail "usage: $0 server|client" ;;
	esac
}
