# tests/e2e/lib.sh - sourced by every end-to-end test (POSIX sh).
#
# Starts the real parts on free 127.0.0.1 ports: the scripted fake upstream
# (tests/fake_upstream.py) and lighttpd configured from the shipped
# etc/lighttpd/clawcgi.conf (scripts/lighttpd-conf substitutes only ports
# and paths), which spawns the built clawcgi.  Every process started is
# stopped by PID when the test file ends.
#
#   test_expect 'what it pins down' 'shell commands'   one named case
#   test_done                                          summary, exit status
#
# HTTP helpers set $status and leave the response in $T/last.headers and
# $T/last.body; expect_* helpers check them and say what differed.

LIBDIR=$(cd "$(dirname "$0")" && pwd)
: "${srcdir:=$(cd "$LIBDIR/../.." && pwd)}"
: "${builddir:=$srcdir}"
: "${CLAWCGI_BIN:=$builddir/clawcgi}"
export srcdir builddir CLAWCGI_BIN
T=$(mktemp -d "${TMPDIR:-/tmp}/clawcgi-e2e.XXXXXX")
chmod 755 "$T"
PIDS=""
LIGHTTPD_PID=""
BASE=""
status=""
_passed=0
_failed=0

_cleanup() {
	stop_stack
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$p" 2>/dev/null
	done
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$T"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

_wait_file() { # _wait_file FILE SECONDS
	i=0
	while [ ! -s "$1" ] && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	[ -s "$1" ]
}

start_upstream() {
	UPSTREAM_LOG=$T/upstream.log
	: >"$UPSTREAM_LOG"
	python3 "$srcdir/tests/fake_upstream.py" --port-file "$T/upstream.port" \
		--log "$UPSTREAM_LOG" 2>"$T/upstream.err" &
	PIDS="$PIDS $!"
	_wait_file "$T/upstream.port" 10 || { echo "# fake upstream did not start"; cat "$T/upstream.err"; exit 1; }
	UPSTREAM_URL=http://127.0.0.1:$(cat "$T/upstream.port")/v1
	export UPSTREAM_URL UPSTREAM_LOG
}

# write_config FILE < text: @UPSTREAM@ and @T@ are replaced.
write_config() {
	sed -e "s|@UPSTREAM@|${UPSTREAM_URL:-}|g" -e "s|@T@|$T|g" >"$1"
}

# start_stack CONFIG [PREFIX]: lighttpd + clawcgi from the shipped config.
start_stack() {
	_port=$(free_port)
	_bin=$CLAWCGI_BIN
	if [ -n "${CLAWCGI_WRAPPER:-}" ] && [ "${WRAP_UNIT:-}" != 1 ]; then
		_bin=$T/clawcgi-wrapped
		printf '#!/bin/sh\nexec %s %s "$@"\n' "$CLAWCGI_WRAPPER" "$CLAWCGI_BIN" >"$_bin"
		chmod +x "$_bin"
	fi
	: >"$T/lighttpd-error.log"
	sh "$srcdir/scripts/lighttpd-conf" "$_port" "$T" "$_bin" "$1" "${2:-}" >"$T/lighttpd.conf"
	lighttpd -D -f "$T/lighttpd.conf" 2>>"$T/lighttpd-error.log" &
	LIGHTTPD_PID=$!
	BASE=http://127.0.0.1:$_port${2:-}
	i=0
	until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$_port),0.2)" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$LIGHTTPD_PID" 2>/dev/null; then
			echo "# lighttpd did not start:"; sed 's/^/#   /' "$T/lighttpd-error.log"; exit 1
		fi
		sleep 0.1
	done
}

# The PIDs of the clawcgi processes lighttpd spawned, sorted.
stack_pids() {
	[ -n "$LIGHTTPD_PID" ] && pgrep -P "$LIGHTTPD_PID" | sort | tr '\n' ' '
}

stop_stack() {
	[ -n "$LIGHTTPD_PID" ] || return 0
	_kids=$(pgrep -P "$LIGHTTPD_PID")
	kill "$LIGHTTPD_PID" 2>/dev/null
	wait "$LIGHTTPD_PID" 2>/dev/null
	for _k in $_kids; do
		_i=0
		while kill -0 "$_k" 2>/dev/null && [ $_i -lt 30 ]; do sleep 0.1; _i=$((_i + 1)); done
		kill -9 "$_k" 2>/dev/null
	done
	_check_sanitizers
	LIGHTTPD_PID=""
}

# A sanitizer report or a crash in the server log fails the test file.
_check_sanitizers() {
	if grep -qE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|==[0-9]+== (Invalid|Conditional|.*definitely lost)' "$T/lighttpd-error.log" 2>/dev/null; then
		echo "not ok - no sanitizer or memory errors in the server log"
		sed 's/^/#   /' "$T/lighttpd-error.log" | head -60
		_failed=$((_failed + 1))
	fi
}

_curl() { # _curl METHOD PATH TOKEN BODY [args]
	_m=$1 _path=$2 _tok=$3 _body=$4
	shift 4
	set -- -sS --max-time 60 -o "$T/last.body" -D "$T/last.headers" -w '%{http_code}' -X "$_m" "$@"
	[ -n "$_tok" ] && set -- -H "Authorization: Bearer $_tok" "$@"
	[ "$_m" = POST ] && set -- -H 'Content-Type: application/json' --data-binary "$_body" "$@"
	printf '%s %s%s\n' "$_m" "$BASE" "$_path" >"$T/last.request"
	case $_body in @*) echo "(body from ${_body#@})" ;; *) printf '%s\n' "$_body" | head -c 2000 ;; esac >>"$T/last.request"
	status=$(curl "$@" "$BASE$_path" 2>"$T/last.curl") || status=000
}
post() { _curl POST "$@"; }
get() { _a=$1 _b=$2; shift 2; _curl GET "$_a" "$_b" "" "$@"; }

# raw_request TEXT: send TEXT (printf escapes) as is; status from the reply.
raw_request() {
	printf "$1" >"$T/raw.req"
	python3 - "$BASE" "$T/raw.req" "$T/last.headers" "$T/last.body" <<'PY' >"$T/raw.status"
import socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
s = socket.create_connection((u.hostname, u.port), 10)
s.sendall(open(sys.argv[2], "rb").read())
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
head, _, body = data.partition(b"\r\n\r\n")
open(sys.argv[3], "wb").write(head)
open(sys.argv[4], "wb").write(body)
print(head.split(b" ")[1].decode() if head else "000")
PY
	status=$(cat "$T/raw.status")
}

# stream PATH TOKEN BODY [header args for curl style -H "k: v"]: records each
# line with its arrival time in $T/stream.txt ("SECONDS<TAB>LINE").
stream() {
	_p=$1 _tok=$2 _body=$3
	shift 3
	printf 'POST %s%s (stream)\n%s\n' "$BASE" "$_p" "$_body" >"$T/last.request"
	status=$(python3 - "$BASE$_p" "$_tok" "$_body" "$T" "$@" <<'PY'
import http.client, json, sys, time, urllib.parse
url, tok, body, t = sys.argv[1:5]
extra = sys.argv[5:]
u = urllib.parse.urlparse(url)
h = {"Content-Type": "application/json"}
if tok:
    h["Authorization"] = "Bearer " + tok
i = 0
while i < len(extra):
    if extra[i] == "-H":
        k, _, v = extra[i + 1].partition(":")
        h[k.strip()] = v.strip()
        i += 2
    else:
        i += 1
c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
t0 = time.monotonic()
c.request("POST", u.path, body=body.encode(), headers=h)
r = c.getresponse()
with open(t + "/last.headers", "w") as f:
    f.write("HTTP/1.1 %d\r\n" % r.status)
    for k, v in r.getheaders():
        f.write("%s: %s\r\n" % (k, v))
out = open(t + "/stream.txt", "w")
raw = open(t + "/last.body", "wb")
while True:
    line = r.fp.readline()
    if not line:
        break
    raw.write(line)
    out.write("%.3f\t%s\n" % (time.monotonic() - t0, line.decode("utf-8", "replace").rstrip("\r\n")))
    out.flush()
print(r.status)
PY
) || status=000
}

# Seconds between the first and the last content chunk of the last stream.
stream_spread() {
	python3 - "$T/stream.txt" <<'PY'
import sys
ts = [float(l.split("\t", 1)[0]) for l in open(sys.argv[1]) if '"content"' in l]
print("%.3f" % (max(ts) - min(ts) if ts else 0))
PY
}

_fail_detail() {
	echo "#   request: $(head -c 600 "$T/last.request" 2>/dev/null | tr '\n' ' ')"
	echo "#   status: $status"
	sed 's/^/#   < /' "$T/last.headers" 2>/dev/null | tr -d '\r' | head -20
	echo "#   body: $(head -c 1500 "$T/last.body" 2>/dev/null)"
}

expect_status() {
	[ "$status" = "$1" ] || { echo "#   status $status, wanted $1"; return 1; }
}

expect_header() { # NAME VALUE-PART (name case-insensitive)
	grep -i "^$1:" "$T/last.headers" | grep -qF "$2" ||
		{ echo "#   header $1 lacks '$2'"; return 1; }
}

expect_body_contains() {
	grep -qF -- "$1" "$T/last.body" || { echo "#   body lacks '$1'"; return 1; }
}

# _json FILE PATH: the value at PATH (.a.b[0]["x-y"]) printed as text;
# strings raw, others as JSON.  Exit 2 when absent.
_json() {
	python3 - "$1" "$2" <<'PY'
import json, re, sys
try:
    v = json.load(open(sys.argv[1]))
except Exception as e:
    print("(not JSON: %s)" % e); sys.exit(2)
for key, idx, q in re.findall(r'\.([A-Za-z_][\w-]*)|\[(\d+)\]|\["([^"]+)"\]', sys.argv[2]):
    try:
        v = v[int(idx)] if idx else v[key or q]
    except (KeyError, IndexError, TypeError):
        print("(absent)"); sys.exit(2)
print(v if isinstance(v, str) else json.dumps(v))
PY
}

json_get() { _json "$T/last.body" "$1"; }

expect_json() { # PATH VALUE
	_got=$(_json "$T/last.body" "$1")
	[ "$_got" = "$2" ] || { echo "#   $1 is '$_got', wanted '$2'"; return 1; }
}

expect_json_match() { # PATH EXTENDED-REGEX
	_got=$(_json "$T/last.body" "$1")
	printf '%s' "$_got" | grep -Eq -- "$2" || { echo "#   $1 is '$_got', wanted /$2/"; return 1; }
}

upstream_requests() { cat "$UPSTREAM_LOG"; }
upstream_count() { wc -l <"$UPSTREAM_LOG" | tr -d ' '; }

upstream_last_json() { # PATH VALUE: in the last request the upstream got
	tail -n 1 "$UPSTREAM_LOG" >"$T/upstream.last"
	_got=$(_json "$T/upstream.last" "$1")
	if [ "$#" -lt 2 ]; then printf '%s\n' "$_got"; return; fi
	[ "$_got" = "$2" ] || { echo "#   upstream $1 is '$_got', wanted '$2'"; return 1; }
}

test_expect() { # NAME SCRIPT
	if ( eval "$2" ) >"$T/case.out" 2>&1; then
		_passed=$((_passed + 1))
		echo "ok - $1"
	else
		_failed=$((_failed + 1))
		echo "not ok - $1"
		sed 's/^/#   /' "$T/case.out" | grep -v '^#   #' | head -20
		grep '^#' "$T/case.out" | head -20
		_fail_detail
	fi
}

test_skip() { echo "ok - $1 # SKIP $2"; _passed=$((_passed + 1)); }

test_done() {
	stop_stack
	echo "# $_passed passed, $_failed failed"
	[ "$_failed" = 0 ] && exit 0
	exit 1
}
