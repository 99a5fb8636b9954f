#!/bin/sh
test_description='sessions: history replay across processes, dedupe of resent history, the sessions CLI'
# stores: sqlite postgresql
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-sessions
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
store_file "$T/state/sub/sessions.db"
write_config "$T/clawcgi.json5" <<'CONF'
{
  gateway: { auth: { token: "${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { defaults: { historyLimit: 40 },
    list: [ { id: "main", default: true, model: "fake/gpt-test", systemPrompt: "Sys." },
            { id: "beta", model: "fake/gpt-test", systemPrompt: "Beta." },
            { id: "short", model: "fake/gpt-test", historyLimit: 2 } ] },
  models: { providers: { fake: { api: "openai-completions", baseUrl: "@UPSTREAM@" } } },
  session: { store: "@STORE@" },
}
CONF
start_stack "$T/clawcgi.json5"
db=$T/state/sub/sessions.db
ask() { # ask USER TEXT [MODEL] [extra json]
	post /v1/chat/completions "$tok" "{\"model\":\"${3:-openclaw}\",\"user\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"$2\"}]${4:-}}"
}
# upstream_roles: "role:text|role:text|..." of the last upstream request
upstream_roles() {
	tail -n 1 "$UPSTREAM_LOG" | python3 -c '
import json, sys
b = json.load(sys.stdin)["body"]
def text(c):
    return c if isinstance(c, str) else "\n".join(p.get("text", "") for p in c or [])
print("|".join(m["role"] + ":" + text(m.get("content")) for m in b["messages"]))'
}
rows() { store_value "$1"; }
cli() { CLAWCGI_CONFIG="$T/clawcgi.json5" "$CLAWCGI_BIN" sessions "$@"; }

if [ "$STORE" = postgresql ]; then
	test_expect 'the schema is made at start' '
		for _i in $(seq 50); do [ "$(rows "select count(*) from clawcgi_schema" 2>/dev/null)" = 2 ] && break; sleep 0.2; done
		test "$(rows "select count(*) from sessions")" = 0'
else
	case $SERVER in
	fcgid | cgi)
		test_skip 'the store and its directories are created at start' \
			"$SERVER starts clawcgi with the first request (the next case checks the store then)" ;;
	*) test_expect 'the store and its directories are created at start' '
		# (a process under valgrind may still be starting when the server answers)
		for _i in $(seq 50); do test -f "$db" && break; sleep 0.2; done; test -f "$db"' ;;
	esac
fi
test_expect 'the first turn of a user reaches the upstream alone' '
	ask Alice "my name is Alice" && expect_status 200 && { [ "$STORE" = postgresql ] || test -f "$db"; } &&
	test "$(upstream_roles)" = "system:Sys.|user:my name is Alice"
'
test_expect 'the same user carries history: user and assistant turns as separate messages' '
	ask alice "what is my name" && expect_status 200 &&
	test "$(upstream_roles)" = "system:Sys.|user:my name is Alice|assistant:fake: my name is Alice|user:what is my name"
'
test_expect 'history is shared by both worker processes (several requests)' '
	for i in 1 2 3 4; do ask carol "msg $i" || return 1; done &&
	test "$(upstream_roles)" = "system:Sys.|user:msg 1|assistant:fake: msg 1|user:msg 2|assistant:fake: msg 2|user:msg 3|assistant:fake: msg 3|user:msg 4"
'
test_expect 'a different user has no history' '
	ask bob "hi" && test "$(upstream_roles)" = "system:Sys.|user:hi"
'
test_expect 'a different agent with the same user has no history' '
	ask alice "hello beta" openclaw:beta && test "$(upstream_roles)" = "system:Beta.|user:hello beta"
'
test_expect 'the x-openclaw-session-key header carries history' '
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"k1\"}]}" -H "x-openclaw-session-key: my-key-1" &&
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"k2\"}]}" -H "x-openclaw-session-key: my-key-1" &&
	test "$(upstream_roles)" = "system:Sys.|user:k1|assistant:fake: k1|user:k2"
'
test_expect 'stateless requests never grow the store' '
	before=$(rows "select count(*) from messages") &&
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"nobody\"}]}" && expect_status 200 &&
	stream /v1/chat/completions "$tok" "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"nobody\"}]}" &&
	test "$(rows "select count(*) from messages")" = "$before"
'
test_expect 'a rejected request writes nothing' '
	before=$(rows "select count(*) from messages") &&
	post /v1/chat/completions "$tok" "{\"user\":\"dave\",\"temperature\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}" &&
	expect_status 400 &&
	post /v1/chat/completions "$tok" "{\"user\":\"dave\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}" -H "x-openclaw-model: fake/error-500" &&
	expect_status 502 &&
	test "$(rows "select count(*) from messages")" = "$before"
'
test_expect 'a client resending the whole conversation sends nothing twice upstream' '
	ask erin "one" && ask erin "two" &&
	post /v1/chat/completions "$tok" "{\"user\":\"erin\",\"messages\":[{\"role\":\"user\",\"content\":\"one\"},{\"role\":\"assistant\",\"content\":\"fake:   one \"},{\"role\":\"user\",\"content\":\"two\"},{\"role\":\"assistant\",\"content\":\"fake: two\"},{\"role\":\"user\",\"content\":\"three\"}]}" &&
	expect_status 200 &&
	test "$(upstream_roles)" = "system:Sys.|user:one|assistant:fake: one|user:two|assistant:fake: two|user:three" &&
	test "$(rows "select count(*) from messages where session_key like '"'"'%:erin'"'"'")" = 6
'
test_expect 'a streamed turn is stored too' '
	stream /v1/chat/completions "$tok" "{\"stream\":true,\"user\":\"frank\",\"messages\":[{\"role\":\"user\",\"content\":\"s1\"}]}" &&
	ask frank "s2" && test "$(upstream_roles)" = "system:Sys.|user:s1|assistant:fake: s1|user:s2"
'
test_expect 'historyLimit keeps only the last messages' '
	ask gina "g1" openclaw:short && ask gina "g2" openclaw:short && ask gina "g3" openclaw:short &&
	test "$(upstream_roles)" = "user:g2|assistant:fake: g2|user:g3"
'
test_expect 'sessions list shows what the endpoint wrote' '
	cli list >"$T/out" && grep -q "agent:main:openai-user:alice" "$T/out" &&
	grep -q "my-key-1" "$T/out" && ! grep -q "openai:[0-9a-f]\{8\}-" "$T/out"
'
test_expect 'sessions list --agent filters' '
	cli list --agent beta >"$T/out" && grep -q "agent:beta:openai-user:alice" "$T/out" &&
	! grep -q "agent:main:" "$T/out"
'
test_expect 'sessions show prints the conversation' '
	cli show agent:main:openai-user:alice >"$T/out" &&
	grep -q "user: my name is Alice" "$T/out" && grep -q "assistant: fake: what is my name" "$T/out"
'
test_expect 'sessions show of an unknown key fails clearly' '
	! cli show no-such-key >"$T/out" 2>&1 && grep -q "no session" "$T/out"
'
test_expect 'sessions delete removes a session and its messages' '
	cli delete my-key-1 >/dev/null &&
	test "$(rows "select count(*) from messages where session_key = '"'"'my-key-1'"'"'")" = 0 &&
	! cli delete my-key-1 >/dev/null 2>&1 &&
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"k3\"}]}" -H "x-openclaw-session-key: my-key-1" &&
	test "$(upstream_roles)" = "system:Sys.|user:k3"
'
test_expect 'sessions purge --older-than removes idle sessions only' '
	store_exec "update sessions set last_used = last_used - 40*86400 where session_key like '"'"'%:bob'"'"'" &&
	cli purge --older-than 30 >"$T/out" && grep -q "deleted 1 session" "$T/out" &&
	test "$(rows "select count(*) from sessions where session_key like '"'"'%:bob'"'"'")" = 0 &&
	test "$(rows "select count(*) from sessions where session_key like '"'"'%:alice'"'"'")" = 2
'
test_expect 'sessions with a bad command exits non-zero' '
	! cli frobnicate >/dev/null 2>&1
'
if [ "$STORE" = postgresql ]; then
	test_skip 'the store deleted or replaced while serving, a relative path' 'a file of SQLite only'
	test_done
fi
test_expect 'a relative store path is taken from the config file'"'"'s folder, not the working directory' '
	mkdir -p "$T/conf" && sed "s|store: \".*\"|store: \"rel/sessions.db\"|" "$T/clawcgi.json5" >"$T/conf/rel.json5" &&
	( cd / && CLAWCGI_CONFIG="$T/conf/rel.json5" "$CLAWCGI_BIN" sessions list >/dev/null ) &&
	test -f "$T/conf/rel/sessions.db" && test ! -e /rel &&
	( cd / && "$CLAWCGI_BIN" check-config "$T/conf/rel.json5" ) | grep -q "session store: SQLite $T/conf/rel/sessions.db"
'
test_expect 'an unknown scheme is a config error naming session.store' '
	sed "s|store: \".*\"|store: \"mysql://u:made-up-pw@h/db\"|" "$T/clawcgi.json5" >"$T/conf/bad.json5" &&
	! "$CLAWCGI_BIN" check-config "$T/conf/bad.json5" >"$T/out" 2>&1 &&
	grep -q "session.store has an unknown scheme" "$T/out" && ! grep -q "made-up-pw" "$T/out" && test ! -e "$T/conf/mysql:"
'

test_expect 'the store deleted while serving: every process notices and writes the new file' '
	ask gone "before" && expect_status 200 &&
	rm -f "$db" "$db-wal" "$db-shm" &&
	for i in 1 2 3 4 5 6; do ask gone "after $i" && expect_status 200 || return 1; done &&
	test -f "$db" &&
	test "$(rows "select count(*) from messages where session_key like '"'"'%:gone'"'"'")" = 12 &&
	test "$(upstream_roles)" = "system:Sys.|user:after 1|assistant:fake: after 1|user:after 2|assistant:fake: after 2|user:after 3|assistant:fake: after 3|user:after 4|assistant:fake: after 4|user:after 5|assistant:fake: after 5|user:after 6" &&
	{ [ "$SERVER" = cgi ] || # a CGI process is new each request: nothing to notice
	  grep -q "was deleted or replaced while open" "$SERVER_LOG" "$APP_LOG" 2>/dev/null; }
'
test_expect 'the store replaced by another file: served from the new one' '
	python3 -c "import sqlite3,sys; s=sqlite3.connect(sys.argv[1]); d=sqlite3.connect(sys.argv[2]); s.backup(d); d.execute(\"delete from sessions\"); d.commit()" "$db" "$T/other.db" &&
	chown --reference="$db" "$T/other.db" && chmod --reference="$db" "$T/other.db" &&
	mv "$T/other.db" "$db" && rm -f "$db-wal" "$db-shm" &&
	for i in 1 2 3 4; do ask gone "new $i" && expect_status 200 || return 1; done &&
	test "$(rows "select count(*) from messages")" = 8
'
test_done
