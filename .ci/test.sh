#!/usr/bin/env bash
# `make test`: install what the tests need, start a private PostgreSQL on
# loopback, run every check and test, tear the cluster down whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

# stage NAME CMD...: runs one check and names it if it fails, so the end of
# the log says what broke.
stage() {
	local name="$1"
	shift
	echo "==> $name"
	if ! "$@"; then
		echo "FAIL: stage '$name' failed" >&2
		exit 1
	fi
}

# gofmt over tracked and untracked (not ignored) Go files: new files count too.
check_gofmt() {
	local files=() f bad
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		while IFS= read -r -d '' f; do
			[ -f "$f" ] && files+=("$f")
		done < <(git ls-files -z --cached --others --exclude-standard -- '*.go')
	else
		while IFS= read -r -d '' f; do
			files+=("$f")
		done < <(find . -name '*.go' -not -path './.cache/*' -print0)
	fi
	[ "${#files[@]}" -gt 0 ] || return 0
	# gofmt also fails on files that do not parse; that must not pass as "clean".
	bad="$(gofmt -l "${files[@]}")" || return 1
	if [ -n "$bad" ]; then
		echo "these files need gofmt (run: make fmt):" >&2
		echo "$bad" | sed 's/^/  /' >&2
		return 1
	fi
}

stage "install test dependencies" bash .ci/deps.sh

pgdir="$(mktemp -d "${TMPDIR:-/tmp}/gateway-test-pg.XXXXXX")"
cleanup() { bash .ci/postgres.sh stop "$pgdir" || true; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "==> start PostgreSQL"
if ! dsn="$(bash .ci/postgres.sh start "$pgdir")"; then
	echo "FAIL: stage 'start PostgreSQL' failed" >&2
	exit 1
fi
echo "PostgreSQL at $dsn"

export GATEWAY_TEST_POSTGRES="$dsn"
export GATEWAY_TEST_CHROMIUM=/usr/bin/chromium
export GATEWAY_TEST_MAILDEV="$PWD/.cache/npm/node_modules/.bin/maildev"
export GATEWAY_TEST_OIDC_PROVIDER="$PWD/.cache/npm/node_modules"
export GATEWAY_TEST_SLAPD=/usr/sbin/slapd
export GATEWAY_TEST_SCIM_NODE_MODULES="$PWD/.cache/npm/node_modules"
gopath="$(go env GOPATH)"
export PATH="${gopath%%:*}/bin:$PATH"

stage "gofmt" check_gofmt
stage "go vet" go vet ./...
# The benchmarks build only with the bench tag; vetting them here keeps
# `make bench` compiling between runs of it.
stage "go vet -tags bench" go vet -tags bench ./...
stage "go build" go build ./...
stage "go test -race ./core/..." go test -race -count=1 ./core/...
stage "go test ./..." go test -count=1 -p 2 -timeout 25m ./...

echo "PASS: all stages"
