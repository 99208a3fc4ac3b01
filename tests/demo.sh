#!/bin/sh
# `make demo`: the 2015 Network Containers walkthrough, offline. A lab (a ztnc
# root + controller + network on this machine), node A serving this repository
# over HTTP under ztnc-run, node B (its own HOME and identity) fetching
# README.md from A's virtual address. Nothing touches the host's network.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
run=$top/bin/ztnc-run
ztnc=$top/bin/ztnc
tmp=$(mktemp -d /tmp/ztnc-demo.XXXXXX)
srv=
cleanup() {
	st=$?
	set +e # everything below must run, whatever fails
	if [ -n "$srv" ]; then
		kill "$srv" 2>/dev/null
		wait "$srv" 2>/dev/null
	fi
	"$ztnc" lab down --dir "$tmp/lab" >/dev/null 2>&1
	rm -rf "$tmp"
	exit "$st"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== ztnc lab up"
eval "$("$ztnc" lab up --dir "$tmp/lab")"
export ZTNC_PLANET ZT_NC_NWID
echo "   network $ZT_NC_NWID, planet $ZTNC_PLANET"

echo "== node A: python3 -m http.server, serving $top"
cd "$top"
"$run" -d "$tmp/home-a" -- sh -c 'echo "$ZTNC_ADDRS" > "$0.tmp" && mv "$0.tmp" "$0"; exec python3 -m http.server 8080 >/dev/null 2>&1' "$tmp/a.addrs" 2>"$tmp/a.log" &
srv=$!
for i in $(seq 600); do [ -s "$tmp/a.addrs" ] && break; kill -0 "$srv" 2>/dev/null || { cat "$tmp/a.log"; exit 1; }; sleep 0.1; done
[ -s "$tmp/a.addrs" ] || { echo "node A did not come up:"; cat "$tmp/a.log"; exit 1; }
a=
for x in $(cat "$tmp/a.addrs"); do case $x in *.*) a=${x%/*} ;; esac; done
echo "   node A's virtual addresses: $(cat "$tmp/a.addrs")"

echo "== node B: curl http://$a:8080/README.md"
"$run" -d "$tmp/home-b" -- sh -c '
	echo "   node B'"'"'s virtual addresses: $ZTNC_ADDRS"
	for i in $(seq 100); do curl -sf -o /dev/null "http://$0:8080/" && break; sleep 0.1; done
	echo "----- what curl got -----"
	curl -sS "http://$0:8080/README.md"' "$a"
