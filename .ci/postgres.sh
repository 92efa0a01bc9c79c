#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests: its own directory, its own
# loopback port, tuned for speed over durability. Never touches another cluster.
#
# Usage: postgres.sh start DIR   prints the DSN on stdout
#        postgres.sh stop DIR    stops that cluster and removes DIR
set -euo pipefail

PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
MARKER=".gateway-test-postgres" # stop removes only directories that start made

usage() {
	echo "usage: $0 start|stop DIR" >&2
	exit 2
}
[ "$#" -eq 2 ] || usage
cmd="$1"
dir="$2"

# initdb refuses to run as root, so root runs the cluster as postgres.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# port_free PORT: nothing accepts connections on 127.0.0.1:PORT.
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
	[ -x "$PGBIN/initdb" ] || {
		echo "postgres: $PGBIN/initdb not found (run .ci/deps.sh)" >&2
		exit 1
	}
	mkdir -p "$dir"
	dir="$(cd "$dir" && pwd)"
	if [ -e "$dir/data" ]; then
		echo "postgres: $dir/data already exists" >&2
		exit 1
	fi
	touch "$dir/$MARKER"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres: "$dir"
	fi

	# trust: the cluster listens on loopback and a private socket only, and
	# lives as long as one test run.
	as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
		>"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		exit 1
	}
	cat >>"$dir/data/postgresql.conf" <<EOF

# Test cluster: durability off for speed; many connections for parallel tests.
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
EOF

	# Another process may take a port between the check and the bind, so a
	# failed start is retried on a new port.
	local port="" tries
	for tries in 1 2 3 4 5 6 7 8 9 10; do
		port=$((20000 + RANDOM % 40000))
		port_free "$port" || continue
		if as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
			-o "-p $port" start >/dev/null 2>&1; then
			break
		fi
		port=""
	done
	if [ -z "$port" ]; then
		echo "postgres: could not start the cluster in $dir; server log:" >&2
		tail -n 30 "$dir/postgres.log" >&2 || true
		exit 1
	fi
	echo "$port" >"$dir/port"

	local i
	for i in $(seq 1 60); do
		if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; then
			echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
			return 0
		fi
		sleep 0.5
	done
	echo "postgres: cluster on port $port does not accept connections; server log:" >&2
	tail -n 30 "$dir/postgres.log" >&2 || true
	stop
	exit 1
}

stop() {
	[ -d "$dir" ] || return 0
	if [ ! -e "$dir/$MARKER" ]; then
		echo "postgres: $dir was not made by '$0 start'; leaving it alone" >&2
		exit 1
	fi
	if [ -f "$dir/data/postmaster.pid" ]; then
		if ! as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1; then
			# The first line of postmaster.pid is this cluster's postmaster.
			local pid
			pid="$(head -n1 "$dir/data/postmaster.pid" 2>/dev/null || true)"
			if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
				echo "postgres: pg_ctl stop failed; sending SIGQUIT to postmaster $pid" >&2
				kill -QUIT "$pid" 2>/dev/null || true
				sleep 1
			fi
		fi
	fi
	rm -rf "$dir"
}

case "$cmd" in
start) start ;;
stop) stop ;;
*) usage ;;
esac
