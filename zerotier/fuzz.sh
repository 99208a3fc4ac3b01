#!/bin/sh
# Runs every Go fuzz target under zerotier/, cmd/ztnc, supervisor/, runsvc/ and netstack/ for the given time
# (or count, e.g. 3000x) each (default 3s). Targets are found by grep, so new ones are picked up.
# Usage: zerotier/fuzz.sh [FUZZTIME]   (GO names the go command)
set -eu
t=${1:-3s}
GO=${GO:-go}
cd "$(dirname "$0")/.."
for f in $(grep -rl --include='*_test.go' '^func Fuzz' zerotier cmd/ztnc supervisor runsvc netstack | sort); do
	for n in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$f"); do
		echo "fuzz ./$(dirname "$f") $n ($t)"
		"$GO" test -run='^$' -fuzz="^$n\$" -fuzztime="$t" "./$(dirname "$f")"
	done
done
