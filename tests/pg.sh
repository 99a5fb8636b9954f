#!/bin/sh
# tests/pg.sh - a throwaway PostgreSQL server for the tests (Debian's
# postgresql package): initdb into DIR as an unprivileged user (nobody when
# run as root), listening on a free 127.0.0.1 port only (no Unix socket),
# password authentication (scram-sha-256) with a made-up password.
#
#   sh tests/pg.sh start DIR   prints the admin URL, also in DIR/admin.url;
#                              the server's PID is in DIR/postgres.pid
#   sh tests/pg.sh stop DIR    stops that PID (fast shutdown), waits for it
#   sh tests/pg.sh resume DIR  starts the stopped server again, same port
#   sh tests/pg.sh available   exit 0 when the server binaries are installed
#
# tests/run starts one per run for everything that needs it and stops it at
# the end (CLAWCGI_PG_ADMIN_URL); a test run alone starts its own.
# PG_FSYNC=on: durable commits (bench/); the tests turn fsync off.
set -u

pg_bin() {
	for _d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		[ -x "$_d/postgres" ] && [ -x "$_d/initdb" ] && { echo "$_d"; return 0; }
	done
	return 1
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# as_user CMD...: CMD as the server's user (nobody when root).
run_as=""
[ "$(id -u)" = 0 ] && run_as="setpriv --reuid=nobody --regid=nogroup --clear-groups --"
as_user() {
	# shellcheck disable=SC2086
	$run_as "$@"
}

start() {
	dir=$1
	bin=$(pg_bin) || { echo "tests/pg.sh: no PostgreSQL server (Debian package postgresql)" >&2; return 1; }
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	data=$dir/data
	# made up for the tests, never used elsewhere
	pw=test-admin-pw-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
	printf '%s\n' "$pw" >"$dir/pwfile"
	if [ "$(id -u)" = 0 ]; then
		chown nobody "$dir" "$dir/pwfile"
	fi
	chmod 700 "$dir"
	as_user "$bin/initdb" -D "$data" -U claw_admin --pwfile="$dir/pwfile" \
		--auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; return 1; }
	for _try in 1 2 3; do
		run "$dir" "$bin" "$(free_port)" "postgresql://claw_admin:$pw@127.0.0.1:%s/postgres" && return 0
		stop "$dir"
	done
	tail -n 20 "$dir/postgres.log" >&2
	return 1
}

# run DIR BIN PORT URL-FORMAT: the server on PORT; ready: its URL printed
# and in DIR/admin.url.
run() {
	dir=$1 bin=$2 port=$3
	data=$dir/data
	# exec in a subshell: a redirected function call would leave the
	# shell's saved copies of its descriptors (a caller's pipe) open
	# in the server, and whoever reads that pipe would wait for it
	(
		exec </dev/null >>"$dir/postgres.log" 2>&1
		# shellcheck disable=SC2086
		exec $run_as "$bin/postgres" -D "$data" -p "$port" -c listen_addresses=127.0.0.1 \
			-c unix_socket_directories= -c fsync="${PG_FSYNC:-off}" \
			-c max_connections=200 -c log_min_messages=warning
	) &
	echo $! >"$dir/postgres.pid"
	# shellcheck disable=SC2059
	url=$(printf "$4" "$port")
	_i=0
	while [ "$_i" -lt 100 ]; do
		if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1; then
			printf '%s\n' "$url" >"$dir/admin.url"
			chmod 600 "$dir/admin.url"
			echo "$url"
			return 0
		fi
		kill -0 "$(cat "$dir/postgres.pid")" 2>/dev/null || break
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

resume() {
	dir=$(cd "$1" && pwd)
	url=$(cat "$dir/admin.url")
	port=${url##*:}
	port=${port%%/*}
	run "$dir" "$(pg_bin)" "$port" "$(printf '%s' "$url" | sed "s/:$port\//:%s\//")" >/dev/null
}

stop() {
	dir=$1
	[ -f "$dir/postgres.pid" ] || return 0
	pid=$(cat "$dir/postgres.pid")
	rm -f "$dir/postgres.pid"
	kill -INT "$pid" 2>/dev/null || return 0
	_i=0
	while kill -0 "$pid" 2>/dev/null && [ "$_i" -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
	kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

case ${1:-} in
start) start "$2" ;;
stop) stop "$2" ;;
resume) resume "$2" ;;
available) pg_bin >/dev/null ;;
*) echo "usage: sh tests/pg.sh start DIR | stop DIR | resume DIR | available" >&2; exit 2 ;;
esac
