#!/usr/bin/env bash
# `make bench [BENCH=name]`: runs the benchmarks, Go tests named
# TestBench_<name> in files built only with `//go:build bench`, against the
# same real parts as the tests. Each benchmark prints one or more lines
# "bench <name>: ..." which are repeated together at the end.
#
# Usage: bench.sh [NAME]   (no NAME: every benchmark)
set -euo pipefail
cd "$(dirname "$0")/.."

name="${1:-}"

echo "==> install dependencies"
bash .ci/deps.sh

pgdir="$(mktemp -d "${TMPDIR:-/tmp}/gateway-bench-pg.XXXXXX")"
log="$(mktemp "${TMPDIR:-/tmp}/gateway-bench-log.XXXXXX")"
cleanup() {
	bash .ci/postgres.sh stop "$pgdir" || true
	rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "==> start PostgreSQL"
dsn="$(bash .ci/postgres.sh start "$pgdir")"
echo "PostgreSQL at $dsn"

export GATEWAY_TEST_POSTGRES="$dsn"
export GATEWAY_TEST_CHROMIUM=/usr/bin/chromium
export GATEWAY_TEST_MAILDEV="$PWD/.cache/npm/node_modules/.bin/maildev"
export GATEWAY_TEST_OIDC_PROVIDER="$PWD/.cache/npm/node_modules"
export GATEWAY_TEST_SLAPD=/usr/sbin/slapd
export GATEWAY_TEST_SCIM_NODE_MODULES="$PWD/.cache/npm/node_modules"
gopath="$(go env GOPATH)"
export PATH="${gopath%%:*}/bin:$PATH"

# One package at a time (-p 1): benchmarks measure throughput on a 2-core
# machine, and two at once would each measure the other.
echo "==> go test -tags bench -run '^TestBench_${name}'"
status=0
go test -tags bench -count=1 -p 1 -timeout 60m -run "^TestBench_${name}" -v ./... 2>&1 | tee "$log" || status=$?

# A name that matches nothing would otherwise "pass" silently.
if ! grep -Eq '^=== RUN[[:space:]]+TestBench_' "$log"; then
	echo "FAIL: no benchmark matches TestBench_${name} (benchmarks live in files with //go:build bench)" >&2
	exit 1
fi

echo
echo "==> summary"
# t.Log output carries a "file_test.go:NN: " prefix; it is dropped here.
grep -E '(^|[[:space:]])bench [^[:space:]]+:' "$log" |
	sed -E 's/^[[:space:]]*//; s/^[^[:space:]]+\.go:[0-9]+: //' || echo "(no 'bench <name>:' lines printed)"

if [ "$status" -ne 0 ]; then
	echo "FAIL: benchmarks failed (go test exit $status)" >&2
	exit "$status"
fi
echo "PASS: benchmarks"
