#!/bin/sh
test_description='turns that keep their order: a turn holds its session, a second waits or gets 409 conversation_locked'
# a session is held across processes: lighttpd runs two FastCGI processes,
# CGI one process a request; SQLite by file locks, PostgreSQL by advisory
# locks
# servers: lighttpd cgi
# stores: sqlite postgresql
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-session-lock
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
conf() { # conf LOCK_WAIT_SECONDS
	write_config "$T/clawcgi.json5" <<CONF
{
  gateway: { auth: { token: "\${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true },
                                  responses: { enabled: true } } } },
  agents: { list: [
    { id: "main", default: true, model: "fake/gpt-test" },
    { id: "slow", model: "fake/slow" },
    { id: "drip", model: "fake/drip" },
  ] },
  models: { providers: { fake: { api: "openai-completions", baseUrl: "@UPSTREAM@", retries: 0 } } },
  session: { store: "@STORE@", lockWaitSeconds: $1 },
}
CONF
}
conf 3
start_stack "$T/clawcgi.json5"

# bg NAME PATH BODY [SESSION]: POST BODY in the background, streamed
# as it comes; the status in $T/NAME.status, the body in $T/NAME.body.
bg() {
	set -- "$1" "$2" "$3" ${4:+-H "x-openclaw-session-key: $4"}
	_n=$1 _p=$2 _b=$3
	shift 3
	(curl -sS -N --max-time 30 -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
		"$@" -o "$T/$_n.body" -w '%{http_code}' --data-binary "$_b" "$BASE$_p" \
		>"$T/$_n.status" 2>"$T/$_n.curl") &
	remember_pid $!
}
# chat_body AGENT TEXT [STREAM]
chat_body() {
	printf '{"model":"openclaw:%s","stream":%s,"messages":[{"role":"user","content":"%s"}]}' \
		"$1" "${3:-true}" "$2"
}
# bg_wait NAME...: the background requests done, each 200
bg_wait() {
	wait
	for _n in "$@"; do
		[ "$(cat "$T/$_n.status")" = 200 ] || { echo "# $_n: status $(cat "$T/$_n.status")"; head -c 600 "$T/$_n.body"; return 1; }
	done
}
# seen TEXT: "role:text|..." of the upstream request whose last message says TEXT
seen() {
	python3 - "$UPSTREAM_LOG" "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    ms = json.loads(line)["body"]["messages"]
    if ms and ms[-1].get("content") == sys.argv[2]:
        print("|".join(m["role"] + ":" + str(m.get("content")) for m in ms if m["role"] != "system"))
PY
}
# stored KEY: "role:text|..." of the session KEY, in order (clawcgi sessions show)
stored() {
	CLAWCGI_CONFIG=$T/clawcgi.json5 "$CLAWCGI_BIN" sessions show "$1" |
		sed -n 's/^\[[0-9]*\] \([a-z]*\): /\1:/p' | paste -sd '|'
}
rows() { store_value "$1"; }
n_messages() { rows "select count(*) from messages"; }

# the first streams (0.9 s from the slow upstream), the second does not (an
# answer at once): unheld, the second would be stored first
test_expect 'two turns on one session at once: the second waits, its model call has the first answer' '
	n=$(upstream_count) &&
	bg first /v1/chat/completions "$(chat_body slow "one")" order1 &&
	upstream_wait_past "$n" &&
	bg second /v1/chat/completions "$(chat_body slow "two" false)" order1 &&
	bg_wait first second &&
	test "$(seen two)" = "user:one|assistant:fake: one|user:two" || {
		echo "# the second turn'"'"'s upstream request: $(seen two)"; false; } &&
	grep -q "two" "$T/second.body"
'
test_expect 'the stored history is in order: each turn whole, the waiting one after' '
	test "$(stored order1)" = "user:one|assistant:fake: one|user:two|assistant:fake: two" || {
		echo "# stored: $(stored order1)"; false; }
'
test_expect 'stateless requests in parallel are not held: both reach the upstream at once' '
	n=$(upstream_count) &&
	bg s1 /v1/chat/completions "$(chat_body drip "free one")" &&
	bg s2 /v1/chat/completions "$(chat_body drip "free two")" &&
	upstream_wait_past $((n + 1)) 4 &&
	bg_wait s1 s2
'
test_expect 'two sessions at once are not held by each other' '
	n=$(upstream_count) &&
	bg d1 /v1/chat/completions "$(chat_body drip "apart one")" apart1 &&
	bg d2 /v1/chat/completions "$(chat_body drip "apart two")" apart2 &&
	upstream_wait_past $((n + 1)) 4 &&
	bg_wait d1 d2
'
test_expect 'past session.lockWaitSeconds a turn gets 409 conversation_locked; nothing stored changes' '
	n=$(upstream_count) &&
	bg hold /v1/chat/completions "$(chat_body drip "holding")" busy &&
	upstream_wait_past "$n" &&
	before=$(n_messages) && t0=$(date +%s) &&
	post /v1/chat/completions "$tok" "$(chat_body drip "refused" false)" -H "x-openclaw-session-key: busy" &&
	waited=$(($(date +%s) - t0)) &&
	expect_status 409 && expect_json .error.code conversation_locked &&
	expect_json .error.type invalid_request_error &&
	expect_json_match .error.message "Another request is currently using this conversation" &&
	expect_json_match .error.param "^(null|\(absent\))$" &&
	echo "# answered 409 after $waited s (lockWaitSeconds 3)" &&
	test "$waited" -ge 2 && test "$waited" -le 5 &&
	test "$(n_messages)" = "$before" && test "$(upstream_count)" = $((n + 1)) &&
	bg_wait hold &&
	test "$(stored busy)" = "user:holding|assistant:$(printf "w%d " $(seq 0 23))" &&
	test -z "$(seen refused)"
'
test_expect '/v1/responses on a held session key: 409 conversation_locked' '
	n=$(upstream_count) &&
	bg hold2 /v1/chat/completions "$(chat_body drip "held for responses")" busy2 &&
	upstream_wait_past "$n" &&
	post /v1/responses "$tok" "{\"model\":\"openclaw:drip\",\"input\":\"refused here\"}" -H "x-openclaw-session-key: busy2" &&
	expect_status 409 && expect_json .error.code conversation_locked &&
	bg_wait hold2 && test -z "$(seen "refused here")" &&
	test "$(stored busy2)" = "user:held for responses|assistant:$(printf "w%d " $(seq 0 23))"
'
test_expect 'previous_response_id twice at once: the second waits, then branches from the response it named' '
	post /v1/responses "$tok" "{\"model\":\"openclaw:slow\",\"input\":\"root\"}" && expect_status 200 &&
	root=$(json_get .id) &&
	n=$(upstream_count) &&
	bg ra /v1/responses "{\"model\":\"openclaw:slow\",\"stream\":true,\"previous_response_id\":\"$root\",\"input\":\"branch a\"}" &&
	upstream_wait_past "$n" &&
	bg rb /v1/responses "{\"model\":\"openclaw:slow\",\"stream\":true,\"previous_response_id\":\"$root\",\"input\":\"branch b\"}" &&
	bg_wait ra rb &&
	test "$(seen "branch a")" = "user:root|assistant:fake: root|user:branch a" &&
	test "$(seen "branch b")" = "user:root|assistant:fake: root|user:branch b" &&
	root_key=$(rows "select session_key from responses where id = '"'"'$root'"'"'") &&
	test "$(stored "$root_key")" = "user:root|assistant:fake: root|user:branch a|assistant:fake: branch a" || {
		echo "# the root session holds: $(stored "$root_key")"; false; }
'
test_expect 'a client that leaves while waiting stops waiting: its turn never reaches the upstream' '
	n=$(upstream_count) &&
	bg hold3 /v1/chat/completions "$(chat_body drip "held while one leaves")" busy3 &&
	upstream_wait_past "$n" &&
	python3 - "$BASE" "$tok" <<-PY &&
	import socket, sys, time, urllib.parse
	u = urllib.parse.urlparse(sys.argv[1])
	body = "{\"model\":\"openclaw:drip\",\"messages\":[{\"role\":\"user\",\"content\":\"gave up\"}]}"
	s = socket.create_connection((u.hostname, u.port), 10)
	s.sendall(("POST %s/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
	           "Content-Type: application/json\r\nx-openclaw-session-key: busy3\r\n"
	           "Content-Length: %d\r\n\r\n%s" % (u.path, sys.argv[2], len(body), body)).encode())
	time.sleep(1)
	s.close()
	PY
	bg_wait hold3 && sleep 1 &&
	test -z "$(seen "gave up")" && test "$(upstream_count)" = $((n + 1)) &&
	test "$(stored busy3)" = "user:held while one leaves|assistant:$(printf "w%d " $(seq 0 23))"
'
conf 0
start_stack "$T/clawcgi.json5"
test_expect 'session.lockWaitSeconds 0: a held session answers 409 at once, JSON to a stream request too' '
	n=$(upstream_count) &&
	bg hold4 /v1/chat/completions "$(chat_body drip "held, no wait")" busy4 &&
	upstream_wait_past "$n" &&
	t0=$(date +%s) &&
	post /v1/chat/completions "$tok" "$(chat_body drip "not waiting" false)" -H "x-openclaw-session-key: busy4" &&
	expect_status 409 && expect_json .error.code conversation_locked &&
	test $(($(date +%s) - t0)) -le 1 &&
	post /v1/chat/completions "$tok" "$(chat_body drip "streamed, not waiting")" -H "x-openclaw-session-key: busy4" &&
	expect_status 409 && expect_json .error.code conversation_locked &&
	expect_header Content-Type application/json &&
	bg_wait hold4 && test "$(stored busy4)" = "user:held, no wait|assistant:$(printf "w%d " $(seq 0 23))"
'
test_expect 'check-config shows session.lockWaitSeconds' '
	CLAWCGI_CONFIG=$T/clawcgi.json5 "$CLAWCGI_BIN" check-config >"$T/check.out" 2>&1 &&
	grep -q "lockWaitSeconds 0" "$T/check.out"
'
test_done
