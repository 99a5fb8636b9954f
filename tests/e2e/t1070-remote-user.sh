#!/bin/sh
test_description='gateway.auth.mode "remote-user": the web server'"'"'s login from the shipped examples, REMOTE_USER only from the server, agents, limits and sessions per user'
# servers: lighttpd fcgid proxy-fcgi cgi nginx
# (nginx: only the cases without the server's login; etc/ has no example
# of nginx's own.)
# stores: sqlite postgresql
. ./lib.sh

start_upstream
write_config "$T/clawcgi.json5" <<'CONF'
{
  gateway: { auth: { mode: "remote-user",
                     users: { alice: { agents: ["main", "up"] },
                              bob: {},
                              dave: { rpm: 3 },
                              erin: { agents: ["main"] },
                              "*": { agents: ["beta", "up"] } } },
             http: { endpoints: { chatCompletions: { enabled: true }, responses: { enabled: true } } } },
  agents: { list: [
    { id: "main", default: true, model: "echo/echo" },
    { id: "beta", model: "echo/echo" },
    { id: "up", model: "fake/gpt-test" },
  ] },
  models: { providers: {
    echo: { api: "echo" },
    fake: { api: "openai-completions", baseUrl: "@UPSTREAM@" },
  } },
  session: { store: "@STORE@" },
}
CONF
# the users' passwords (apr1 hashes, which lighttpd and Apache both read)
for u in alice bob carol dave erin; do
	printf '%s:%s\n' "$u" "$(openssl passwd -apr1 "pw-$u")"
done >"$T/users.htpasswd" || _bail "openssl passwd -apr1 makes the user file"
chmod 644 "$T/users.htpasswd"

hello='{"messages":[{"role":"user","content":"hello"}]}'
chat() { # chat USER TEXT AGENT [curl args]: as USER (its right password; "" for none)
	_cu=$1 _ct=$2 _ca=$3
	shift 3
	if [ -n "$_cu" ]; then set -- -u "$_cu:pw-$_cu" "$@"; fi
	post /v1/chat/completions "" "{\"model\":\"openclaw:$_ca\",\"messages\":[{\"role\":\"user\",\"content\":\"$_ct\"}]}" "$@"
}
models() { # models USER [PATH]: GET /v1/models[PATH] as USER; the ids listed on stdout
	get "/v1/models${2:-}" "" -u "$1:pw-$1"
}
ids() { json_get .data | python3 -c 'import json,sys; print(" ".join(m["id"] for m in json.load(sys.stdin)))'; }
hval() { tr -d '\r' <"$T/last.headers" | grep -i "^$1:" | head -n 1 | sed 's/^[^:]*: *//'; }
rows() { store_value "select count(*) from usage${1:+ where $1}"; }
# rows_reach N [WHERE]: wait up to 5 s for at least N usage rows (WHERE)
rows_reach() {
	for _i in $(seq 50); do
		[ "$(rows "${2:-}" 2>/dev/null || echo 0)" -ge "$1" ] && return 0
		sleep 0.1
	done
	echo "# usage rows${2:+ where $2}: $(rows "${2:-}"), wanted at least $1"
	return 1
}
upstream_roles() {
	tail -n 1 "$UPSTREAM_LOG" | python3 -c '
import json, sys
b = json.load(sys.stdin)["body"]
print("|".join(m["role"] + ":" + (m.get("content") or "") for m in b["messages"]))'
}
sessions() { "$CLAWCGI_BIN" sessions --config "$T/clawcgi.json5" list; }

# ---- a web server that does not authenticate: clawcgi refuses every request
start_stack "$T/clawcgi.json5"
test_expect 'no login in the web server: clawcgi answers 401 itself (no REMOTE_USER)' '
	get /v1/models "" && expect_status 401 && expect_json .error.type unauthorized &&
	expect_json_match .error.message "did not authenticate" &&
	! grep -qi "^WWW-Authenticate:" "$T/last.headers" &&
	chat "" hi main && expect_status 401 &&
	for i in $(seq 20); do grep -q "passed no REMOTE_USER" "$SERVER_LOG" && break; sleep 0.1; done &&
	grep -q "passed no REMOTE_USER" "$SERVER_LOG"
'
test_expect 'no login in the web server: a Remote-User header or Basic credentials do not count' '
	chat "" hi main -H "Remote-User: alice" && expect_status 401 &&
	expect_json_match .error.message "did not authenticate" &&
	chat alice hi main && expect_status 401 && expect_json_match .error.message "did not authenticate"
'
test_expect 'CGI: REMOTE_USER is the user; HTTP_REMOTE_USER (the header) is not' '
	cgi_call POST /v1/chat/completions "$hello" HTTP_REMOTE_USER=alice && expect_status 401 &&
	expect_json_match .error.message "did not authenticate" &&
	cgi_call POST /v1/chat/completions "$hello" REMOTE_USER=alice && expect_status 200
'
stop_stack

# ---- the shipped example of the server's login
if [ "$SERVER" = nginx ]; then
	test_skip 'the web server'"'"'s login' 'etc/ has no example of it for nginx'
	test_done
fi
remote_user_conf "$T/users.htpasswd" >"$T/login.conf" || _bail "remote_user_conf for $SERVER"
SERVER_CONF_EXTRA=$T/login.conf
start_stack "$T/clawcgi.json5"

test_expect 'the right password: 200, and the request is the user'"'"'s' '
	chat alice hi main -H "x-openclaw-session-key: s1" && expect_status 200 &&
	expect_json .choices[0].message.content hi &&
	sessions >"$T/out" && grep -q "user:alice:s1" "$T/out" &&
	rows_reach 1 "auth_kind = '"'"'user'"'"' and auth_name = '"'"'alice'"'"' and session_key = '"'"'user:alice:s1'"'"'"
'
test_expect 'a wrong password or none: the web server'"'"'s 401 (Basic), clawcgi never runs' '
	sleep 1.5 && n=$(rows) &&
	get /v1/models "" -u alice:wrong && expect_status 401 && expect_header WWW-Authenticate Basic &&
	chat "" hi main && expect_status 401 && expect_header WWW-Authenticate Basic &&
	chat "" hi main -H "Remote-User: alice" && expect_status 401 && expect_header WWW-Authenticate Basic &&
	get /v1/models "" -u nobody:pw-nobody && expect_status 401 &&
	sleep 2.5 && test "$(rows)" = "$n"
'
test_expect 'the chat page is behind the login too' '
	get / "" && expect_status 401 && expect_header WWW-Authenticate Basic &&
	get /chat.js "" && expect_status 401 &&
	get / "" -u carol:pw-carol && expect_status 200 && expect_body_contains "<html" &&
	get /chat.js "" -u carol:pw-carol && expect_status 200
'
if [ "$SERVER" = cgi ]; then
	test_expect '/healthz is behind the login too (the .htaccess covers the directory)' '
		get /healthz "" && expect_status 401 && get /healthz "" -u bob:pw-bob && expect_status 200
	'
else
	test_expect '/healthz stays open' '
		get /healthz "" && expect_status 200 && expect_json .ok true
	'
fi
test_expect 'a forged Remote-User header is ignored: the request is the logged-in user'"'"'s' '
	chat bob hi main -H "Remote-User: alice" -H "x-openclaw-session-key: forged" && expect_status 200 &&
	sessions >"$T/out" && grep -q "user:bob:forged" "$T/out" && ! grep -q "user:alice:forged" "$T/out" &&
	rows_reach 1 "auth_name = '"'"'bob'"'"' and session_key = '"'"'user:bob:forged'"'"'" &&
	test "$(rows "session_key like '"'"'%forged'"'"' and auth_name <> '"'"'bob'"'"'")" = 0
'
test_expect 'gateway.auth.users: a user may use only its agents (403 permission_denied naming the agent)' '
	chat alice hi beta && expect_status 403 && expect_json .error.code permission_denied &&
	expect_json_match .error.message "alice" && expect_json_match .error.message "beta" &&
	models alice /openclaw:beta && expect_status 403 && expect_json .error.code permission_denied &&
	models alice /openclaw:main && expect_status 200 &&
	models alice && expect_status 200 && test "$(ids)" = "openclaw:main openclaw:up"
'
# as USER: PATH with x-openclaw-model MODEL
override() { # override USER PATH BODY MODEL
	post "$2" "" "$3" -u "$1:pw-$1" -H "x-openclaw-model: $4"
}
denied_model() {
	expect_status 403 && expect_json .error.code permission_denied &&
	expect_json .error.param x-openclaw-model && expect_json_match .error.message "$1"
}
test_expect 'x-openclaw-model beyond a user'"'"'s agents: 403 permission_denied naming the model on chat, responses and embeddings; the upstream gets nothing' '
	n=$(upstream_count) &&
	override erin /v1/chat/completions "$hello" fake/gpt-test && denied_model fake/gpt-test &&
	expect_json_match .error.message erin &&
	override erin /v1/responses "{\"input\":\"hi\"}" fake/gpt-test && denied_model fake/gpt-test &&
	override erin /v1/embeddings "{\"input\":\"hi\"}" fake/gpt-test && denied_model fake/gpt-test &&
	cgi_call POST /v1/chat/completions "$hello" REMOTE_USER=erin HTTP_X_OPENCLAW_MODEL=fake/gpt-test &&
	denied_model fake/gpt-test &&
	cgi_call POST /v1/chat/completions "{\"model\":\"openclaw:beta\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" \
		REMOTE_USER=nobody-listed HTTP_X_OPENCLAW_MODEL=fake/gpt-other &&
	denied_model fake/gpt-other &&
	test "$(upstream_count)" = "$n"
'
test_expect 'x-openclaw-model naming one of the user'"'"'s agents'"'"' models is served; a user without agents names any' '
	override erin /v1/chat/completions "$hello" echo/echo && expect_status 200 &&
	n=$(upstream_count) &&
	override alice /v1/chat/completions "$hello" fake/gpt-test && expect_status 200 &&
	upstream_last_json .body.model gpt-test &&
	override bob /v1/chat/completions "$hello" fake/gpt-other && expect_status 200 &&
	upstream_last_json .body.model gpt-other &&
	test "$(upstream_count)" = $((n + 2))
'
test_expect 'gateway.auth.users "*": every user not listed' '
	chat carol hi main && expect_status 403 && expect_json .error.code permission_denied &&
	chat carol hi beta && expect_status 200 &&
	models carol && expect_status 200 && test "$(ids)" = "openclaw:beta openclaw:up"
'
test_expect 'a listed user without agents or limits: every agent, no x-ratelimit headers' '
	chat bob hi main && expect_status 200 && chat bob hi beta && expect_status 200 &&
	! grep -qi "^x-ratelimit" "$T/last.headers" &&
	models bob && test "$(ids)" = "openclaw:main openclaw:beta openclaw:up"
'
test_expect 'rpm of a user: rpm requests a minute across the worker processes, then 429 with the headers' '
	minute_room 15 && rm -f "$T"/burst.* &&
	for i in 1 2 3 4 5; do
		curl -sS --max-time 30 -o "$T/burst.$i.b" -D "$T/burst.$i.h" -w "%{http_code}\n" -u dave:pw-dave \
			-H "Content-Type: application/json" --data-binary "$hello" "$BASE/v1/chat/completions" \
			>"$T/burst.$i.s" 2>/dev/null &
	done && wait &&
	test "$(cat "$T"/burst.*.s | grep -c "^200\$")" = 3 && test "$(cat "$T"/burst.*.s | grep -c "^429\$")" = 2 &&
	i=$(grep -l "^429\$" "$T"/burst.*.s | head -n 1 | sed "s/.*burst\.\([0-9]*\)\.s\$/\1/") &&
	cp "$T/burst.$i.h" "$T/last.headers" && cp "$T/burst.$i.b" "$T/last.body" &&
	expect_json .error.type rate_limited && expect_json .error.code rate_limit_exceeded &&
	expect_json_match .error.message "dave" &&
	[ "$(hval Retry-After)" -ge 1 ] && [ "$(hval Retry-After)" -le 60 ] &&
	[ "$(hval x-ratelimit-limit-requests)" = 3 ] && [ "$(hval x-ratelimit-remaining-requests)" = 0 ] &&
	hval x-ratelimit-reset-requests | grep -Eq "^[0-9]+(s|ms)\$" &&
	cgi_call POST /v1/chat/completions "$hello" REMOTE_USER=dave && expect_status 429 &&
	chat bob hi main && expect_status 200
'
test_expect 'the same session key under two users: two sessions, each its own history' '
	chat alice A1 up -H "x-openclaw-session-key: shared" && expect_status 200 &&
	chat carol C1 up -H "x-openclaw-session-key: shared" && expect_status 200 &&
	test "$(upstream_roles)" = "user:C1" &&
	chat alice A2 up -H "x-openclaw-session-key: shared" && expect_status 200 &&
	test "$(upstream_roles)" = "user:A1|assistant:fake: A1|user:A2" &&
	sessions >"$T/out" && grep -q "user:alice:shared" "$T/out" && grep -q "user:carol:shared" "$T/out"
'
test_expect 'the usage log names the user' '
	rows_reach 1 "auth_kind = '"'"'user'"'"' and auth_name = '"'"'carol'"'"' and status = 403" &&
	rows_reach 2 "auth_kind = '"'"'user'"'"' and auth_name = '"'"'dave'"'"' and status = 429" &&
	test "$(rows "auth_kind in ('"'"'operator'"'"', '"'"'key'"'"')")" = 0
'
# Basic cannot send a user name with ":", but other logins can (a
# certificate's subject, an OpenID Connect issuer and subject): each user's
# sessions are still its own.  (CGI, any server: the web server's REMOTE_USER
# given directly.)
test_expect 'users "eve:x" and "eve": one user'"'"'s session is not the other'"'"'s' '
	cgi_call POST /v1/chat/completions "{\"model\":\"openclaw:up\",\"messages\":[{\"role\":\"user\",\"content\":\"secret\"}]}" \
		REMOTE_USER=eve:x HTTP_X_OPENCLAW_SESSION_KEY=s && expect_status 200 &&
	cgi_call POST /v1/chat/completions "{\"model\":\"openclaw:up\",\"messages\":[{\"role\":\"user\",\"content\":\"mine\"}]}" \
		REMOTE_USER=eve HTTP_X_OPENCLAW_SESSION_KEY=x:s && expect_status 200 &&
	r=$(upstream_roles) && { [ "$r" = "user:mine" ] || { echo "# the upstream got eve:x'"'"'s history: $r"; false; }; }
'
test_expect 'users "eve:x" and "eve": one user'"'"'s stored response is 404 to the other' '
	cgi_call POST /v1/responses "{\"model\":\"openclaw:beta\",\"input\":\"r1\"}" REMOTE_USER=eve:x && expect_status 200 &&
	id=$(json_get .id) && cgi_call GET "/v1/responses/$id" "" REMOTE_USER=eve:x && expect_status 200 &&
	cgi_call GET "/v1/responses/$id" "" REMOTE_USER=eve && expect_status 404
'
test_done
