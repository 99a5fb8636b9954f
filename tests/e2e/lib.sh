# tests/e2e/lib.sh - sourced by every end-to-end test (POSIX sh, set -u safe).
#
# Starts the real parts on free 127.0.0.1 ports: the scripted fake upstream
# (tests/fake_upstream.py) and lighttpd running the SHIPPED
# etc/lighttpd/clawcgi.conf (only its paths substituted), which spawns the
# built clawcgi.  Every process started is stopped by PID when the file ends.
#
#   #!/bin/sh
#   test_description='what this file pins down'
#   . ./lib.sh
#   start_upstream
#   write_config "$T/clawcgi.json5" <<'CONF'
#   { ... baseUrl: "@UPSTREAM@" ... }
#   CONF
#   start_stack "$T/clawcgi.json5"
#   test_expect 'name of the behaviour' '
#   	get /healthz "" && expect_status 200 && expect_json .ok true
#   '
#   test_done
#
# Environment: CLAWCGI_BIN (default $builddir/clawcgi), srcdir (default two
# levels up from this file), builddir (default $srcdir), CLAWCGI_WRAPPER
# (e.g. "valgrind -q --error-exitcode=99": clawcgi runs under it), KEEP_TMP
# (keep $T), CURL_MAX_TIME (default 30).
#
# HTTP helpers set $status and leave the response in $T/last.headers and
# $T/last.body, the request in $T/last.request; expect_* helpers check them,
# say what differed and return 1.  A failing case prints its own output and
# the last request and response, each line starting with "# ".
# Every name this file sets that a test does not use starts with "_".

# ---- where things are ------------------------------------------------------
if [ -z "${LIBDIR:-}" ]; then
	if [ -n "${srcdir:-}" ] && [ -f "$srcdir/tests/e2e/lib.sh" ]; then
		LIBDIR=$srcdir/tests/e2e
	elif [ -f ./lib.sh ] && [ -f ../fake_upstream.py ]; then
		LIBDIR=.
	else
		LIBDIR=$(dirname "$0")
	fi
fi
LIBDIR=$(cd "$LIBDIR" && pwd)
_builddir_given=${builddir:+1}
srcdir=$(cd "${srcdir:-$LIBDIR/../..}" && pwd)
builddir=$(cd "${builddir:-$srcdir}" && pwd)
if [ -z "${CLAWCGI_BIN:-}" ]; then
	CLAWCGI_BIN=$builddir/clawcgi
	# Run by hand in a tree built out of place by scripts/test (build/).
	if [ -z "$_builddir_given" ] && [ ! -x "$CLAWCGI_BIN" ] && [ -x "$srcdir/build/clawcgi" ]; then
		CLAWCGI_BIN=$srcdir/build/clawcgi
	fi
fi
export LIBDIR srcdir builddir CLAWCGI_BIN

T=$(mktemp -d "${TMPDIR:-/tmp}/clawcgi-e2e.XXXXXX") || exit 1
chmod 755 "$T"
export T

# The tests start python3 thousands of times.  Where a version manager's
# shim comes first on PATH (pyenv's is a shell script that costs ~0.3 s a
# start), Debian's python3 is put first instead: the suites then take
# minutes less.  PYTHON3 names another.
_py=${PYTHON3:-/usr/bin/python3}
if [ -x "$_py" ] && [ "$(command -v python3)" != "$_py" ]; then
	mkdir "$T/.bin" && ln -s "$_py" "$T/.bin/python3" && PATH=$T/.bin:$PATH
	export PATH
fi

_pids=""             # background processes to stop at the end
UPSTREAM_PID=""
UPSTREAM_PORT=""
UPSTREAM_URL=""
UPSTREAM_LOG=""
BASE=""
status=""
_passed=0
_failed=0

if [ -n "${test_description:-}" ]; then echo "# $test_description"; fi

# ---- processes -------------------------------------------------------------

# _descendants PID: every process below PID.
_descendants() {
	for _d in $(pgrep -P "$1" 2>/dev/null); do
		echo "$_d"
		_descendants "$_d"
	done
}

_alive() { # PID: running and not a zombie
	kill -0 "$1" 2>/dev/null || return 1
	case $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) in Z | X) return 1 ;; esac
	return 0
}

# _stop_pids SECONDS PID...: TERM all, wait up to SECONDS, then KILL.
_stop_pids() {
	_grace=$1
	shift
	[ $# -gt 0 ] || return 0
	kill "$@" 2>/dev/null
	_i=0
	while [ "$_i" -lt $((_grace * 10)) ]; do
		_left=""
		for _p in "$@"; do _alive "$_p" && _left="$_left $_p"; done
		[ -n "$_left" ] || break
		sleep 0.1
		_i=$((_i + 1))
	done
	for _p in "$@"; do _alive "$_p" && kill -9 "$_p" 2>/dev/null; done
	for _p in "$@"; do wait "$_p" 2>/dev/null; done
	return 0
}

# remember_pid PID: stop this background process (and its children) when
# the file ends.
remember_pid() { _pids="$_pids $1"; }

_cleanup() {
	stop_stack
	[ -n "$UPSTREAM_PID" ] && _pids="$_pids $UPSTREAM_PID"
	_all=""
	for _p in $_pids; do _all="$_all $_p $(_descendants "$_p" | tr '\n' ' ')"; done
	# shellcheck disable=SC2086
	_stop_pids 3 $_all
	_pg_cleanup
	if [ -n "${KEEP_TMP:-}" ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}
trap '_cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE # output piped into head: still stop the stack

# npm_install DIR WHAT CHECK: the npm packages of DIR/package.json into
# DIR/node_modules, unless "CHECK DIR" (a function) says they are there.
# Sets NPM_DIR: DIR, or a copy of it in $T when DIR cannot be written (make
# distcheck's read-only tree).  Suites run side by side (scripts/test,
# TEST_JOBS) install once: two npm installs into one folder at once break
# each other.  A failed install is "not ok - npm install of WHAT" with
# npm's log, and the test ends.
npm_install() {
	NPM_DIR=$1
	"$3" "$NPM_DIR" && return 0
	if ! [ -w "$NPM_DIR" ]; then
		cp -R "$NPM_DIR" "$T/npm-copy" && NPM_DIR=$T/npm-copy
	fi
	( flock 9 && { "$3" "$NPM_DIR" || ( cd "$NPM_DIR" &&
		npm install --no-audit --no-fund --loglevel=error >"$T/npm.log" 2>&1 ); } ) \
		9>"${TMPDIR:-/tmp}/clawcgi-npm-install.lock" || {
		echo "not ok - npm install of $2"; sed 's/^/#   /' "$T/npm.log"; exit 1; }
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

_wait_file() { # _wait_file FILE SECONDS
	_i=0
	while [ ! -s "$1" ] && [ "$_i" -lt $(($2 * 20)) ]; do sleep 0.05; _i=$((_i + 1)); done
	[ -s "$1" ]
}

# _sed_repl TEXT: TEXT made safe as a sed replacement with | as delimiter.
_sed_repl() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }

# _bail MESSAGE [LOG]: a setup step failed; the file ends as one failure.
_bail() {
	echo "not ok - $1"
	if [ -n "${2:-}" ] && [ -f "$2" ]; then sed 's/^/#   /' "$2" | tail -n 30; fi
	_failed=$((_failed + 1))
	test_done
}

# ---- the fake upstream -----------------------------------------------------

# start_upstream: sets UPSTREAM_URL (http://127.0.0.1:PORT/v1), UPSTREAM_LOG.
start_upstream() {
	[ -z "$UPSTREAM_PID" ] || stop_upstream
	UPSTREAM_LOG=$T/upstream.log
	: >"$UPSTREAM_LOG"
	rm -f "$T/upstream.port"
	python3 "$srcdir/tests/fake_upstream.py" --port-file "$T/upstream.port" \
		--log "$UPSTREAM_LOG" 2>>"$T/upstream.err" &
	UPSTREAM_PID=$!
	_wait_file "$T/upstream.port" 10 || _bail "the fake upstream starts" "$T/upstream.err"
	UPSTREAM_PORT=$(cat "$T/upstream.port")
	UPSTREAM_URL=http://127.0.0.1:$UPSTREAM_PORT/v1
	export UPSTREAM_URL UPSTREAM_LOG UPSTREAM_PORT
}

stop_upstream() {
	[ -n "$UPSTREAM_PID" ] || return 0
	_stop_pids 3 "$UPSTREAM_PID"
	UPSTREAM_PID=""
}

upstream_requests() { cat "$UPSTREAM_LOG"; }
upstream_count() { wc -l <"$UPSTREAM_LOG" | tr -d ' '; }
# upstream_wait_past N [SECONDS]: wait until the upstream has got more than
# N requests (a request in flight has reached it); 1 after SECONDS [10].
upstream_wait_past() {
	_n=0
	while [ "$(upstream_count)" -le "$1" ]; do
		_n=$((_n + 1))
		[ "$_n" -gt $((${2:-10} * 20)) ] && return 1
		sleep 0.05
	done
	return 0
}

# upstream_stats: the upstream's counters as JSON; upstream_stat NAME: one
# of them (connections, requests, open, aborted).
# db_value DB SQL: the first column of the first row of SQL on a SQLite file.
db_value() {
	python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$1" "$2"
}

# ---- the session store -----------------------------------------------------
#
# STORE picks the backend a file's "@STORE@" names: sqlite (default: the
# file STORE_FILE, $T/sessions.db unless the test set it before sourcing
# this) or postgresql: a database of its own (and a role with a made-up
# password) on the run's server (CLAWCGI_PG_ADMIN_URL, started once by
# tests/run), or on a server this file starts in $T and stops at the end.
# STORE_URL is what @STORE@ becomes.  A file that runs under PostgreSQL too
# says "# stores: sqlite postgresql"; tests/run runs the others under
# SQLite only.  store_value SQL: the first column of the first row of SQL on
# the store (booleans t/f under PostgreSQL); store_exec SQL: run it.
# The database of this file dropped, and the server stopped if it was ours.
_pg_cleanup() {
	[ -n "$_pg_db" ] || return 0
	psql -q -X "$CLAWCGI_PG_ADMIN_URL" >/dev/null 2>&1 <<SQL
DROP DATABASE IF EXISTS $_pg_db WITH (FORCE);
DROP ROLE IF EXISTS $_pg_db;
SQL
	_pg_db=""
	[ -z "$_pg_own" ] || sh "$srcdir/tests/pg.sh" stop "$_pg_own"
}

STORE=${STORE:-sqlite}
STORE_FILE=${STORE_FILE:-$T/sessions.db}
STORE_URL=$STORE_FILE
_pg_own=""
_pg_db=""
case $STORE in
sqlite) ;;
postgresql)
	if [ -z "${CLAWCGI_PG_ADMIN_URL:-}" ]; then
		CLAWCGI_PG_ADMIN_URL=$(sh "$srcdir/tests/pg.sh" start "$T/pg") ||
			{ echo "not ok - a PostgreSQL server starts (tests/pg.sh)"; exit 1; }
		_pg_own=$T/pg
		export CLAWCGI_PG_ADMIN_URL
	fi
	_pg_db=claw_$(od -An -N5 -tx1 /dev/urandom | tr -d ' \n')
	_pg_pw=test-pw-$(od -An -N5 -tx1 /dev/urandom | tr -d ' \n')
	psql -q -X -v ON_ERROR_STOP=1 "$CLAWCGI_PG_ADMIN_URL" >"$T/pg-setup.log" 2>&1 <<SQL ||
CREATE ROLE $_pg_db LOGIN PASSWORD '$_pg_pw';
CREATE DATABASE $_pg_db OWNER $_pg_db;
SQL
		{ echo "not ok - a database for this file on the PostgreSQL server"; cat "$T/pg-setup.log"; exit 1; }
	_pg_hostport=${CLAWCGI_PG_ADMIN_URL#*@}
	_pg_hostport=${_pg_hostport%%/*}
	STORE_URL=postgresql://$_pg_db:$_pg_pw@$_pg_hostport/$_pg_db
	STORE_DB=$_pg_db
	;;
*) echo "not ok - STORE=$STORE: use sqlite or postgresql"; exit 1 ;;
esac
export STORE STORE_URL STORE_FILE

# pg_admin SQL: SQL as the PostgreSQL server's superuser (STORE_DB: the
# database and role of this file).
pg_admin() {
	psql -X -q -At -v ON_ERROR_STOP=1 -c "$1" "$CLAWCGI_PG_ADMIN_URL"
}

# store_file PATH: the SQLite store is PATH instead (before write_config).
store_file() {
	STORE_FILE=$1
	[ "$STORE" = postgresql ] || STORE_URL=$1
}

store_value() {
	if [ "$STORE" = postgresql ]; then
		psql -X -q -At -v ON_ERROR_STOP=1 -c "$1" "$STORE_URL" | head -n 1
	else
		db_value "$STORE_FILE" "$1"
	fi
}
store_exec() {
	if [ "$STORE" = postgresql ]; then
		psql -X -q -v ON_ERROR_STOP=1 -c "$1" "$STORE_URL" >/dev/null
	else
		python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()" "$STORE_FILE" "$1"
	fi
}


upstream_stats() { curl -sS --max-time 5 "http://127.0.0.1:$UPSTREAM_PORT/stats"; }
upstream_stat() {
	upstream_stats >"$T/upstream.stats" && _json "$T/upstream.stats" ".$1"
}

# upstream_last_json PATH [VALUE]: print PATH of the last request the
# upstream got (.body.model, .headers.authorization, ...), or check it.
upstream_last_json() {
	tail -n 1 "$UPSTREAM_LOG" >"$T/upstream.last"
	_got=$(_json "$T/upstream.last" "$1")
	if [ "$#" -lt 2 ]; then
		printf '%s\n' "$_got"
		return 0
	fi
	[ "$_got" = "$2" ] || { echo "# upstream $1 is '$_got', wanted '$2'"; return 1; }
}

# write_config FILE <<'CONF' ... CONF: @UPSTREAM@, @T@ and @STORE@ (the
# session store this run tests, see "the session store" above) are replaced.
write_config() {
	sed -e "s|@UPSTREAM@|$(_sed_repl "${UPSTREAM_URL:-}")|g" \
		-e "s|@STORE@|$(_sed_repl "$STORE_URL")|g" \
		-e "s|@T@|$(_sed_repl "$T")|g" >"$1"
}

# ---- the web server + clawcgi ----------------------------------------------
#
# SERVER picks the web server, each started from the shipped files with only
# ports and paths substituted:
#   lighttpd    etc/lighttpd/clawcgi.conf; lighttpd spawns clawcgi
#   fcgid       etc/apache/clawcgi-fcgid.conf; Apache mod_fcgid spawns it
#   proxy-fcgi  etc/apache/clawcgi-proxy-fcgi.conf, to `clawcgi serve
#               --listen` as etc/systemd/clawcgi.service runs it
#   nginx       etc/nginx/clawcgi.conf, to two processes from spawn-fcgi as
#               that file's comment starts them
#   cgi         www/.htaccess and clawcgi.cgi in a directory, as on a shared
#               host (Apache mod_cgid)
# Apache started as root runs as www-data: $T is then given to www-data (a
# store created there, and the empty $T/sessions.db made for it, are its).
SERVER=${SERVER:-lighttpd}
case $SERVER in
lighttpd | fcgid | proxy-fcgi | nginx | cgi) ;;
*) echo "not ok - SERVER=$SERVER: use lighttpd, fcgid, proxy-fcgi, nginx or cgi"; exit 1 ;;
esac
# SERVER_RESPAWNS: the server restarts a clawcgi process that exits
# (spawn-fcgi and a bare `clawcgi serve` leave that to systemd's Restart=).
case $SERVER in lighttpd | fcgid | cgi) SERVER_RESPAWNS=yes ;; *) SERVER_RESPAWNS=no ;; esac
SERVER_LOG=$T/server-error.log
# stdout and stderr of a clawcgi the server does not start (proxy-fcgi,
# nginx): its request's log lines must still reach SERVER_LOG, through
# the FastCGI connection
APP_LOG=$T/app.log
SERVER_PID=""
SERVER_PORT=""
export SERVER SERVER_RESPAWNS SERVER_LOG

# The user clawcgi runs as under this server, when the tests run as root.
_run_as=""
if [ "$(id -u)" = 0 ] && [ "$SERVER" != lighttpd ]; then
	_run_as=www-data
	chown www-data:www-data "$T"
	: >"$T/sessions.db"
	chown www-data:www-data "$T/sessions.db"
	if [ "$SERVER" = nginx ] || [ "$SERVER" = proxy-fcgi ]; then
		# the spawned processes' stderr does not reach the server's log
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$T/sanitizer"
		UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$T/sanitizer"
		export ASAN_OPTIONS UBSAN_OPTIONS
	fi
fi

# _stack_bin: the clawcgi the server runs, a copy in $T (so the server's
# user can read it and stack_pids can tell it from the CLI's clawcgi), or a
# script running it under CLAWCGI_WRAPPER.
_stack_bin() {
	mkdir -p "$T/bin"
	rm -f "$T/bin/clawcgi" "$T/bin/clawcgi.real"
	if [ -n "${CLAWCGI_WRAPPER:-}" ]; then
		cp "$CLAWCGI_BIN" "$T/bin/clawcgi.real"
		printf '#!/bin/sh\nexec %s "%s" "$@"\n' "$CLAWCGI_WRAPPER" "$T/bin/clawcgi.real" >"$T/bin/clawcgi"
	else
		cp "$CLAWCGI_BIN" "$T/bin/clawcgi"
	fi
	chmod 755 "$T/bin" "$T/bin/"*
}

# _wait_port PORT PID: PORT accepts connections while PID lives (10 s).
_wait_port() {
	python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
end = time.monotonic() + 10
while time.monotonic() < end:
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        sys.exit(0)
    except OSError:
        pass
    try:
        state = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()[0]
    except OSError:
        state = "X"
    if state in ("Z", "X"):
        sys.exit(2)
    time.sleep(0.05)
sys.exit(1)
PY
}

# _start_app PORT: clawcgi on 127.0.0.1:PORT for the servers that do not
# spawn it (proxy-fcgi: `clawcgi serve`; nginx: spawn-fcgi); sets _app_pid
# to the process to wait on (spawn-fcgi's children are found by stack_pids).
_start_app() {
	_app_pid=""
	case $SERVER in
	proxy-fcgi)
		if [ -n "$_run_as" ]; then
			set -- setpriv --reuid="$_run_as" --regid="$_run_as" --init-groups -- \
				"$T/bin/clawcgi" serve --listen "127.0.0.1:$1"
		else
			set -- "$T/bin/clawcgi" serve --listen "127.0.0.1:$1"
		fi
		CLAWCGI_CONFIG=$_conf "$@" </dev/null >>"$APP_LOG" 2>&1 &
		_app_pid=$!
		remember_pid "$_app_pid"
		;;
	nginx)
		# the invocation in etc/nginx/clawcgi.conf's comment, port and paths substituted
		_spawn=$(sed -n '/^#   CLAWCGI_CONFIG=/,/-- \/usr\/local\/bin\/clawcgi$/p' "$srcdir/etc/nginx/clawcgi.conf" |
			sed -e 's/^#   *//' -e 's/\\$//' | tr '\n' ' ')
		case $_spawn in *spawn-fcgi*' -- /usr/local/bin/clawcgi '*) ;;
		*) _bail "start_stack: etc/nginx/clawcgi.conf no longer has the spawn-fcgi invocation lib.sh runs" ;;
		esac
		_spawn=$(printf '%s' "$_spawn" | sed -e "s|/usr/local/etc/clawcgi/clawcgi.json5|$_conf|" \
			-e "s|127.0.0.1 -p 9000|127.0.0.1 -p $1|" -e "s|/run/clawcgi.pid|$T/spawn-fcgi.pid|" \
			-e "s|/usr/local/bin/clawcgi|$T/bin/clawcgi|")
		[ -n "$_run_as" ] || _spawn=$(printf '%s' "$_spawn" | sed -e 's/ -u www-data -g www-data//')
		rm -f "$T/spawn-fcgi.pid"
		eval "$_spawn" >>"$APP_LOG" 2>&1 || _bail "start_stack: spawn-fcgi starts clawcgi" "$APP_LOG"
		;;
	esac
}

# _server_conf PORT APP-PORT: the server's config for this test on stdout
# (with SERVER_CONF_EXTRA's file).
_server_conf() {
	case $SERVER in
	lighttpd)
		# before the shipped file, as Debian reads a lower-numbered
		# conf-enabled/ file first: lighttpd runs its modules in the
		# order they are loaded
		[ -z "${SERVER_CONF_EXTRA:-}" ] || cat "$SERVER_CONF_EXTRA"
		sh "$srcdir/scripts/lighttpd-conf" "$1" "$T" "$T/bin/clawcgi" "$_conf" "$_prefix" ;;
	fcgid | cgi) sh "$srcdir/scripts/apache-conf" "$SERVER" "$1" "$T" "$T/bin/clawcgi" "$_conf" "$_prefix" ;;
	proxy-fcgi) sh "$srcdir/scripts/apache-conf" proxy-fcgi "$1" "$T" "127.0.0.1:$2" "$_conf" "$_prefix" ;;
	nginx) sh "$srcdir/scripts/nginx-conf" "$1" "$T" "127.0.0.1:$2" "$_prefix" ;;
	esac || return 1
	[ -z "${SERVER_CONF_EXTRA:-}" ] || [ "$SERVER" = lighttpd ] || cat "$SERVER_CONF_EXTRA"
}

# SERVER_CONF_EXTRA=FILE (set before start_stack): FILE goes into the
# server's config, e.g. remote_user_conf's: for lighttpd before the shipped
# file (its modules load first), for Apache after it (its sections merge
# last); not for nginx, whose config ends inside http {}.
#
# remote_user_conf USERFILE: on stdout, the shipped example of the web
# server's own login for SERVER (gateway.auth.mode "remote-user"; HTTP
# Basic): etc/lighttpd/clawcgi-remote-user.conf, or for fcgid and
# proxy-fcgi etc/apache/clawcgi-remote-user.conf with the LoadModule lines
# Debian's a2enmod would add (for cgi its lines in a <Directory> of the
# document root, as in a shared host's .htaccess, where its comment puts
# them: the whole directory, /healthz too); its user file replaced by
# USERFILE (htpasswd lines, readable by the server's user).  1 for nginx.
remote_user_conf() {
	case $SERVER in
	lighttpd)
		sed -e "s|/etc/lighttpd/clawcgi.htpasswd|$(_sed_repl "$1")|" \
			"$srcdir/etc/lighttpd/clawcgi-remote-user.conf" >"$T/remote-user.conf.tmp" ;;
	fcgid | proxy-fcgi | cgi)
		for _m in auth_basic authn_core authn_file authz_user; do
			printf 'LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so\n' "$_m" "$_m"
		done >"$T/remote-user.conf.tmp"
		sed -e "s|/etc/apache2/clawcgi.htpasswd|$(_sed_repl "$1")|" \
			"$srcdir/etc/apache/clawcgi-remote-user.conf" >"$T/remote-user.conf.sed"
		if [ "$SERVER" = cgi ]; then
			# as the example says for a shared host: its lines for the
			# directory of clawcgi.cgi and .htaccess (the whole directory)
			{
				printf '<Directory "%s/htdocs">\n' "$T"
				sed -n '/^<LocationMatch /,/^<\/LocationMatch>/p' "$T/remote-user.conf.sed" | sed '1d;$d'
				printf '</Directory>\n'
			} >>"$T/remote-user.conf.tmp"
		else
			cat "$T/remote-user.conf.sed" >>"$T/remote-user.conf.tmp"
		fi ;;
	*) return 1 ;;
	esac
	grep -qF "$1" "$T/remote-user.conf.tmp" ||
		_bail "remote_user_conf: the shipped $SERVER example no longer names the user file lib.sh substitutes"
	cat "$T/remote-user.conf.tmp"
}

_server_run() { # the server in the foreground
	case $SERVER in
	lighttpd) exec lighttpd -D -f "$T/server.conf" ;;
	fcgid | cgi | proxy-fcgi) exec apache2 -D FOREGROUND -f "$T/server.conf" ;;
	nginx) exec nginx -p "$T" -c "$T/server.conf" -g 'daemon off;' ;;
	esac
}

# start_stack CONFIG [PREFIX]: the web server (SERVER) from the shipped
# config, serving clawcgi with CLAWCGI_CONFIG=CONFIG;
# BASE=http://127.0.0.1:PORT[PREFIX].  Environment variables named in the
# shipped configs (OPENCLAW_GATEWAY_TOKEN, ...) reach clawcgi when exported
# before this.
start_stack() {
	[ -z "$SERVER_PID" ] || stop_stack
	_conf=$1
	_prefix=${2:-}
	case $_conf in /*) ;; *) _conf=$(pwd)/$_conf ;; esac
	case $_prefix in
	'') ;;
	/*[!A-Za-z0-9/_.-]* | */ | [!/]*) _bail "start_stack: prefix '$_prefix' is not like /api" ;;
	esac
	[ -x "$CLAWCGI_BIN" ] || _bail "start_stack: $CLAWCGI_BIN is not built"
	_stack_bin
	# keep the log of an earlier stack of this file
	if [ -s "$SERVER_LOG" ]; then
		cat "$SERVER_LOG" >>"$T/server-error.old.log"
	fi
	_try=0
	while :; do
		_try=$((_try + 1))
		: >"$SERVER_LOG"
		rm -f "$T/clawcgi.sock"*
		_port=$(free_port)
		_app_port=$(free_port)
		_server_conf "$_port" "$_app_port" >"$T/server.conf" || _bail "start_stack: the $SERVER config" "$T/server.conf"
		if grep -q -e /usr/local/bin/clawcgi -e /usr/local/etc/clawcgi -e /etc/clawcgi/clawcgi.json5 \
			-e /run/lighttpd/clawcgi.sock -e 127.0.0.1:9000 -e /home/USER "$T/server.conf" "$T/htdocs$_prefix/.htaccess" 2>/dev/null ||
			{ [ -n "$_prefix" ] && [ "$SERVER" != cgi ] && ! grep -qF "$_prefix/" "$T/server.conf"; } ||
			{ [ "$SERVER" = cgi ] && [ ! -f "$T/htdocs$_prefix/.htaccess" ]; }; then
			_bail "start_stack: the shipped $SERVER config no longer has the paths lib.sh substitutes" "$T/server.conf"
		fi
		_start_app "$_app_port"
		( _server_run ) </dev/null >>"$SERVER_LOG" 2>&1 &
		SERVER_PID=$!
		if _wait_port "$_port" "$SERVER_PID"; then
			if [ "$SERVER" = nginx ] || [ "$SERVER" = proxy-fcgi ]; then
				_wait_port "$_app_port" "${_app_pid:-$SERVER_PID}" ||
					_bail "start_stack: clawcgi answers on its port" "$APP_LOG"
			fi
			break
		fi
		# shellcheck disable=SC2046
		_stop_pids 3 "$SERVER_PID" $(_descendants "$SERVER_PID") $(stack_pids)
		SERVER_PID=""
		if [ "$_try" -lt 3 ] && grep -q -e 'Address already in use' -e 'could not bind' "$SERVER_LOG"; then
			continue
		fi
		_bail "start_stack: $SERVER answers on its port" "$SERVER_LOG"
	done
	SERVER_PORT=$_port
	BASE=http://127.0.0.1:$_port$_prefix
	export BASE SERVER_PORT
}

# start_stack2 CONFIG: a second lighttpd + clawcgi ("another host"), from
# the same shipped config, in $T/b with a port of its own; BASE2 is its
# URL.  Stopped with everything else at the end.  on_stack2 CMD...: CMD
# (post, get, stream ...) against it.
start_stack2() {
	[ "$SERVER" = lighttpd ] || _bail "start_stack2: lighttpd only"
	mkdir -p "$T/b"
	: >"$T/b/server-error.log"
	_port2=$(free_port)
	sh "$srcdir/scripts/lighttpd-conf" "$_port2" "$T/b" "$T/bin/clawcgi" "$1" >"$T/b/server.conf" ||
		_bail "start_stack2: the lighttpd config"
	( exec lighttpd -D -f "$T/b/server.conf" ) </dev/null >>"$T/b/server-error.log" 2>&1 &
	SERVER2_PID=$!
	remember_pid "$SERVER2_PID"
	_wait_port "$_port2" "$SERVER2_PID" || _bail "start_stack2: lighttpd answers" "$T/b/server-error.log"
	BASE2=http://127.0.0.1:$_port2
	export BASE2
}
on_stack2() {
	_base1=$BASE
	BASE=$BASE2
	"$@"
	_rc=$?
	BASE=$_base1
	return $_rc
}

# stack_pids: the PIDs of the clawcgi processes serving the stack now,
# sorted (under cgi, the ones answering a request at this moment).
stack_pids() {
	pgrep -f "$T/(bin/clawcgi|htdocs/.*clawcgi\\.cgi)" 2>/dev/null | sort -n | tr '\n' ' '
}

# stop_stack: the server, every process below it and every clawcgi of the
# stack; then the logs are checked for sanitizer and valgrind reports (any
# is one failure).
stop_stack() {
	[ -n "$SERVER_PID" ] || return 0
	_kids=$(_descendants "$SERVER_PID" | tr '\n' ' ')
	_grace=5
	[ -n "${CLAWCGI_WRAPPER:-}" ] && _grace=20
	# the server first: it stops and reaps the processes it spawned
	_stop_pids "$_grace" "$SERVER_PID"
	# shellcheck disable=SC2046,SC2086
	_stop_pids "$_grace" $_kids $(stack_pids)
	SERVER_PID=""
	_check_sanitizers
}

_check_sanitizers() {
	for _f in "$SERVER_LOG" "$APP_LOG" "$T"/sanitizer* "$T/b/server-error.log"; do
		[ -f "$_f" ] || continue
		if grep -qE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|==[0-9]+== (Invalid|Conditional jump|Use of uninitialised|Syscall param|Mismatched|.*are definitely lost)' "$_f"; then
			echo "not ok - no sanitizer or memory errors in $(basename "$_f")"
			sed 's/^/#   /' "$_f" | head -n 80
			_failed=$((_failed + 1))
			mv "$_f" "$_f.reported"
		fi
	done
}

# start_serve CONFIG: `clawcgi serve` alone on a free 127.0.0.1 port (log
# $T/serve.log), for a test that speaks FastCGI to it itself: sets
# SERVE_PORT.
start_serve() {
	SERVE_PORT=$(free_port)
	CLAWCGI_CONFIG=$1 "$CLAWCGI_BIN" serve --listen "127.0.0.1:$SERVE_PORT" >"$T/serve.log" 2>&1 &
	_serve_pid=$!
	remember_pid $_serve_pid
	_wait_port "$SERVE_PORT" "$_serve_pid" || _bail "clawcgi serve listens" "$T/serve.log"
}

# fcgi_chat BODY-BYTES SEND-BYTES WAIT: POST /v1/chat/completions to
# start_serve's clawcgi over FastCGI (tests/e2e/fcgi_client.py: its
# arguments, and FCGI_BODY, FCGI_TRAILER, FCGI_HOLD from the environment),
# with OPENCLAW_GATEWAY_TOKEN as the bearer token; the CGI response on
# stdout.
fcgi_chat() {
	python3 "$srcdir/tests/e2e/fcgi_client.py" "127.0.0.1:$SERVE_PORT" "$1" "$2" "$3" \
		REQUEST_METHOD=POST SCRIPT_NAME= PATH_INFO=/v1/chat/completions \
		"HTTP_AUTHORIZATION=Bearer $OPENCLAW_GATEWAY_TOKEN" CONTENT_TYPE=application/json
}

# ---- HTTP ------------------------------------------------------------------

_curl() { # _curl METHOD PATH TOKEN BODY [curl args]
	_m=$1 _path=$2 _tok=$3 _body=$4
	shift 4
	{
		printf '%s %s%s\n' "$_m" "$BASE" "$_path"
		[ -n "$_tok" ] && printf 'Authorization: Bearer %s\n' "$_tok"
		[ $# -gt 0 ] && printf 'curl args: %s\n' "$*"
		case $_body in
		'') ;;
		@*) printf '(body from %s)\n' "${_body#@}" ;;
		*) printf '%s\n' "$_body" | head -c 2000 ;;
		esac
	} >"$T/last.request"
	_ctype=yes
	case "$*" in *[Cc][Oo][Nn][Tt][Ee][Nn][Tt]-[Tt][Yy][Pp][Ee]:*) _ctype="" ;; esac
	set -- -sS --max-time "${CURL_MAX_TIME:-30}" -o "$T/last.body" -D "$T/last.headers" \
		-w '%{http_code}' -X "$_m" "$@"
	if [ -n "$_tok" ]; then set -- -H "Authorization: Bearer $_tok" "$@"; fi
	if [ "$_m" != GET ]; then
		set -- --data-binary "$_body" "$@"
		if [ -n "$_ctype" ]; then set -- -H 'Content-Type: application/json' "$@"; fi
	fi
	: >"$T/last.body"
	: >"$T/last.headers"
	status=$(curl "$@" "$BASE$_path" 2>"$T/last.curl") || status=${status:-000}
	[ -n "$status" ] || status=000
	echo "$status" >"$T/last.status"
}

# post PATH TOKEN BODY [curl args]: TOKEN "" sends no Authorization header;
# BODY "@file" sends a file.  get PATH TOKEN [curl args].
post() { _a=$1 _b=$2 _c=$3; shift 3; _curl POST "$_a" "$_b" "$_c" "$@"; }
get() { _a=$1 _b=$2; shift 2; _curl GET "$_a" "$_b" "" "$@"; }

# cgi_call METHOD PATH BODY [NAME=VALUE...]: one request answered by a
# clawcgi process of its own, started by hand as a web server starts a CGI
# program (CLAWCGI_BIN with the config CGI_CONFIG, else $T/clawcgi.json5,
# and OPENCLAW_GATEWAY_TOKEN when set), from REMOTE_ADDR 127.0.0.1; each
# NAME=VALUE adds or replaces a variable (HTTP_AUTHORIZATION="Bearer ...",
# REMOTE_ADDR=..., REMOTE_USER=..., HTTP_X_OPENCLAW_SESSION_KEY=...).  Sets
# $status, $T/last.headers and $T/last.body as post and get do; the
# process's stderr is in $T/cgi.err.
cgi_call() {
	_m=$1 _path=$2 _body=$3
	shift 3
	{
		printf '%s %s (CGI)\n' "$_m" "$_path"
		for _v in "$@"; do printf '  %s\n' "$_v"; done
		printf '%s\n' "$_body" | head -c 2000
	} >"$T/last.request"
	_len=$(printf '%s' "$_body" | wc -c | tr -d ' ')
	printf '%s' "$_body" | env -i PATH="$PATH" GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD="$_m" \
		SCRIPT_NAME="$_path" REMOTE_ADDR=127.0.0.1 CONTENT_LENGTH="$_len" \
		CONTENT_TYPE=application/json CLAWCGI_CONFIG="${CGI_CONFIG:-$T/clawcgi.json5}" \
		${OPENCLAW_GATEWAY_TOKEN:+OPENCLAW_GATEWAY_TOKEN="$OPENCLAW_GATEWAY_TOKEN"} \
		"$@" "$CLAWCGI_BIN" >"$T/cgi.out" 2>"$T/cgi.err"
	status=$(sed -n '1,/^\r*$/s/^Status: \([0-9]*\).*/\1/p' "$T/cgi.out" | head -n 1)
	[ -n "$status" ] || status=000
	{ printf 'HTTP/1.1 %s\r\n' "$status"; sed -n '1,/^\r*$/p' "$T/cgi.out"; } >"$T/last.headers"
	sed '1,/^\r*$/d' "$T/cgi.out" >"$T/last.body"
	echo "$status" >"$T/last.status"
}

# minute_room SECONDS: when fewer than SECONDS are left in the wall clock's
# minute, wait for the next one (per-minute rate windows start at the
# minute, so a case counting requests in one window starts with room).
minute_room() {
	_sec=$(date -u +%S)
	_sec=${_sec#0}
	[ $((60 - _sec)) -ge "$1" ] || sleep $((60 - _sec))
}

# raw_request TEXT: send TEXT (printf escapes) as is; status from the reply.
raw_request() {
	# shellcheck disable=SC2059
	printf "$1" >"$T/raw.req"
	{ echo "(raw request)"; head -c 2000 "$T/raw.req"; } >"$T/last.request"
	status=$(python3 - "$BASE" "$T/raw.req" "$T/last.headers" "$T/last.body" <<'PY'
import socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
s = socket.create_connection((u.hostname, u.port), 10)
s.settimeout(30)
s.sendall(open(sys.argv[2], "rb").read())
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
head, _, body = data.partition(b"\r\n\r\n")
open(sys.argv[3], "wb").write(head + b"\r\n")
open(sys.argv[4], "wb").write(body)
print(head.split(b" ")[1].decode() if head.count(b" ") else "000")
PY
) || status=000
	echo "$status" >"$T/last.status"
}

# stream PATH TOKEN BODY [-H "Name: value"]...: POST and record every line
# received, with its arrival time in seconds since the request was sent, in
# $T/stream.txt as "SECONDS<TAB>LINE"; the raw body goes to $T/last.body.
stream() {
	_p=$1 _tok=$2 _body=$3
	shift 3
	{
		printf 'POST %s%s (stream)\n' "$BASE" "$_p"
		[ -n "$_tok" ] && printf 'Authorization: Bearer %s\n' "$_tok"
		[ $# -gt 0 ] && printf 'args: %s\n' "$*"
		printf '%s\n' "$_body" | head -c 2000
	} >"$T/last.request"
	: >"$T/stream.txt"
	: >"$T/last.body"
	: >"$T/last.headers"
	status=$(python3 - "$BASE$_p" "$_tok" "$_body" "$T" "${CURL_MAX_TIME:-30}" "$@" <<'PY'
import http.client, sys, time, urllib.parse
url, tok, body, t, timeout = sys.argv[1:6]
extra = sys.argv[6:]
u = urllib.parse.urlparse(url)
h = {"Content-Type": "application/json", "Accept": "text/event-stream"}
if tok:
    h["Authorization"] = "Bearer " + tok
i = 0
while i < len(extra):
    if extra[i] == "-H" and i + 1 < len(extra):
        k, _, v = extra[i + 1].partition(":")
        h[k.strip()] = v.strip()
        i += 2
    else:
        i += 1
try:
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=float(timeout))
    t0 = time.monotonic()
    c.request("POST", u.path or "/", body=body.encode(), headers=h)
    r = c.getresponse()
except Exception as e:
    sys.stderr.write("stream: %s\n" % e)
    print("000")
    sys.exit(0)
with open(t + "/last.headers", "w") as f:
    f.write("HTTP/1.1 %d %s\r\n" % (r.status, r.reason))
    for k, v in r.getheaders():
        f.write("%s: %s\r\n" % (k, v))
out = open(t + "/stream.txt", "w")
raw = open(t + "/last.body", "wb")
try:
    while True:
        line = r.readline()  # de-chunked, one line as soon as it is complete
        if not line:
            break
        now = time.monotonic() - t0
        raw.write(line)
        raw.flush()
        out.write("%.3f\t%s\n" % (now, line.decode("utf-8", "replace").rstrip("\r\n")))
        out.flush()
except Exception as e:
    out.write("%.3f\t(stream ended: %s)\n" % (time.monotonic() - t0, e))
print(r.status)
PY
) 2>"$T/last.curl" || status=000
	[ -n "$status" ] || status=000
	echo "$status" >"$T/last.status"
}

# leave BODY WHEN: POST BODY to $LEAVE_PATH (/v1/chat/completions unless set) as a client that closes its connection once WHEN is
# "headers" (1 s after the headers), "content" (after the first delta) or
# "after1" (1 s after sending, whatever came).
leave() {
	python3 - "$BASE${LEAVE_PATH:-/v1/chat/completions}" "${OPENCLAW_GATEWAY_TOKEN:-}" "$1" "$2" <<'PY'
import socket, sys, time, urllib.parse
url, tok, body, when = sys.argv[1:5]
u = urllib.parse.urlparse(url)
s = socket.create_connection((u.hostname, u.port), 10)
req = ("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
       "Content-Length: %d\r\n\r\n%s" % (u.path, tok, len(body), body))
s.sendall(req.encode())
got = b""
deadline = time.monotonic() + 10
if when == "after1":
    time.sleep(1)
    deadline = 0
while time.monotonic() < deadline:
    got += s.recv(65536)
    if when == "headers" and b"\r\n\r\n" in got:
        time.sleep(1)
        break
    if when == "content" and b'"content"' in got:
        break
s.close()
PY
}

# stream_spread: seconds between the first and the last content chunk of
# the last stream.
stream_spread() {
	python3 - "$T/stream.txt" <<'PY'
import sys
ts = [float(l.split("\t", 1)[0]) for l in open(sys.argv[1]) if '"content"' in l]
print("%.3f" % (max(ts) - min(ts) if ts else 0))
PY
}

# ---- checks ----------------------------------------------------------------

# _json FILE PATH: the value at PATH (.a.b[0]["x-y"]) of the JSON in FILE;
# strings raw, anything else as JSON (true, null, 11, {...}).
# "(absent)" and status 2 when there is no such value.
_json() {
	python3 - "$1" "$2" <<'PY'
import json, re, sys
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        v = json.load(f)
except Exception as e:
    print("(not JSON: %s)" % e)
    sys.exit(2)
for key, idx, q in re.findall(r'\.([A-Za-z_$][\w$-]*)|\[(-?\d+)\]|\["([^"]+)"\]', sys.argv[2]):
    try:
        v = v[int(idx)] if idx else v[key or q]
    except (KeyError, IndexError, TypeError):
        print("(absent)")
        sys.exit(2)
print(v if isinstance(v, str) else json.dumps(v))
PY
}

json_get() { _json "$T/last.body" "$1"; }

expect_status() {
	[ "$status" = "$1" ] || { echo "# status $status, wanted $1"; return 1; }
}

expect_header() { # NAME VALUE-PART (name case-insensitive)
	tr -d '\r' <"$T/last.headers" | grep -i "^$1:" | grep -qF -- "$2" ||
		{ echo "# header $1 lacks '$2'"; return 1; }
}

expect_body_contains() {
	grep -qF -- "$1" "$T/last.body" || { echo "# body lacks '$1'"; return 1; }
}

expect_json() { # PATH VALUE
	_got=$(_json "$T/last.body" "$1")
	[ "$_got" = "$2" ] || { echo "# $1 is '$_got', wanted '$2'"; return 1; }
}

expect_json_match() { # PATH EXTENDED-REGEX
	_got=$(_json "$T/last.body" "$1")
	printf '%s' "$_got" | grep -Eq -- "$2" || { echo "# $1 is '$_got', wanted /$2/"; return 1; }
}

# ---- cases -----------------------------------------------------------------

_fail_detail() {
	[ -s "$T/last.request" ] || return 0
	echo "# request:"
	sed 's/^/#   /' "$T/last.request" | head -n 20
	echo "# response status: $(cat "$T/last.status" 2>/dev/null)"
	[ -s "$T/last.curl" ] && sed 's/^/#   curl: /' "$T/last.curl" | head -n 5
	tr -d '\r' <"$T/last.headers" 2>/dev/null | sed '/^$/d; s/^/#   < /' | head -n 25
	if [ -s "$T/last.body" ]; then
		echo "# body:"
		head -c 3000 "$T/last.body" | sed 's/^/#   /'
		echo
	fi
	return 0
}

# test_expect NAME SCRIPT: run SCRIPT in a subshell; "ok - NAME" or "not ok".
test_expect() {
	rm -f "$T/last.request" "$T/last.curl" "$T/last.status"
	if (eval "$2") >"$T/case.out" 2>&1; then
		_passed=$((_passed + 1))
		echo "ok - $1"
		grep '^# ' "$T/case.out"
	else
		_failed=$((_failed + 1))
		echo "not ok - $1"
		sed -e '/^#/!s/^/# /' "$T/case.out" | head -n 40
		_fail_detail
	fi
	return 0
}
test_expect_success() { test_expect "$@"; }

# test_skip NAME REASON
test_skip() {
	echo "ok - $1 # SKIP $2"
	_passed=$((_passed + 1))
}

# test_done: stop the stack, print the summary, exit 1 if a case failed.
test_done() {
	stop_stack
	echo "# $_passed passed, $_failed failed"
	[ "$_failed" = 0 ] && exit 0
	exit 1
}
