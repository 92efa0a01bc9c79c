#!/usr/bin/env bash
# A real SMTP server that keeps what it receives (maildev), on loopback ports
# of its own, for the email tests. Received mail is JSON at
# GET http://127.0.0.1:WEB_PORT/email.
#
# Usage: maildev.sh start DIR   prints "SMTP_PORT WEB_PORT" on stdout
#        maildev.sh stop DIR    stops that maildev and removes DIR
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
MAILDEV="${GATEWAY_TEST_MAILDEV:-$root/.cache/npm/node_modules/.bin/maildev}"
MARKER=".gateway-test-maildev" # stop removes only directories that start made

usage() {
	echo "usage: $0 start|stop DIR" >&2
	exit 2
}
[ "$#" -eq 2 ] || usage
cmd="$1"
dir="$2"

# port_free PORT / port_open PORT: whether something accepts on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_free() { ! port_open "$1"; }

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		if port_free "$p"; then
			echo "$p"
			return
		fi
	done
}

start() {
	[ -x "$MAILDEV" ] || {
		echo "maildev: $MAILDEV not found (run .ci/deps.sh)" >&2
		exit 1
	}
	mkdir -p "$dir"
	dir="$(cd "$dir" && pwd)"
	if [ -f "$dir/maildev.pid" ]; then
		echo "maildev: $dir/maildev.pid exists; stop that one first" >&2
		exit 1
	fi
	touch "$dir/$MARKER"
	mkdir -p "$dir/mail"

	# Ports are picked before maildev binds them, so a lost race is retried.
	local tries smtp web pid i
	for tries in 1 2 3 4 5; do
		smtp="$(free_port)"
		web="$(free_port)"
		[ "$smtp" != "$web" ] || continue
		# stdin/stdout/stderr detached, so a caller reading this script's
		# output is not held open by maildev.
		"$MAILDEV" --ip 127.0.0.1 --smtp "$smtp" --web "$web" \
			--mail-directory "$dir/mail" </dev/null >"$dir/maildev.log" 2>&1 &
		pid=$!
		echo "$pid" >"$dir/maildev.pid"
		for i in $(seq 1 100); do
			if ! kill -0 "$pid" 2>/dev/null; then
				break # exited: most likely a port was taken
			fi
			if port_open "$smtp" && port_open "$web"; then
				echo "$smtp $web" >"$dir/ports"
				echo "$smtp $web"
				return 0
			fi
			sleep 0.2
		done
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		rm -f "$dir/maildev.pid"
	done
	echo "maildev: could not start; log:" >&2
	tail -n 30 "$dir/maildev.log" >&2 || true
	exit 1
}

stop() {
	[ -d "$dir" ] || return 0
	if [ ! -e "$dir/$MARKER" ]; then
		echo "maildev: $dir was not made by '$0 start'; leaving it alone" >&2
		exit 1
	fi
	local pid i
	pid="$(cat "$dir/maildev.pid" 2>/dev/null || true)"
	# Only the process this directory started; a recycled PID is left alone.
	if [ -n "$pid" ] && grep -q maildev "/proc/$pid/cmdline" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}

case "$cmd" in
start) start ;;
stop) stop ;;
*) usage ;;
esac
