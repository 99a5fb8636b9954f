#!/bin/sh
test_description='the command line: check-config and agent'
# servers: lighttpd
. ./lib.sh

start_upstream
export CLAW_TEST_SECRET=sk-very-secret-upstream-key-123
write_config "$T/ok.json5" <<'CONF'
{
  gateway: { auth: { token: "tok-secret-gateway-456" } },
  session: { store: "@T@/sessions.db" },
  agents: { list: [ { id: "main", default: true, model: "fake/gpt-test", systemPrompt: "CLI agent." },
                    { id: "echo", model: "echo/echo" } ] },
  models: { providers: {
    fake: { api: "openai-completions", baseUrl: "@UPSTREAM@", apiKey: "${CLAW_TEST_SECRET}" },
    echo: { api: "echo" } } },
}
CONF

test_expect 'check-config prints agents and providers and exits 0' '
	"$CLAWCGI_BIN" check-config "$T/ok.json5" >"$T/out" 2>&1 &&
	grep -q "main (default): model fake/gpt-test" "$T/out" &&
	grep -q "fake: openai-completions" "$T/out" && grep -q "configuration OK" "$T/out"
'
test_expect 'check-config masks secrets' '
	! grep -q "very-secret" "$T/out" && ! grep -q "gateway-456" "$T/out"
'
test_expect 'check-config uses $CLAWCGI_CONFIG when no file is given' '
	CLAWCGI_CONFIG="$T/ok.json5" "$CLAWCGI_BIN" check-config >/dev/null 2>&1
'
test_expect 'check-config on an invalid file exits non-zero with file:line: reason' '
	printf "{\n  agents: { list: [ { id: \"a\", model: \"ghost/m\" } ] },\n}\n" >"$T/bad.json5" &&
	! "$CLAWCGI_BIN" check-config "$T/bad.json5" >"$T/out" 2>&1 &&
	grep -q "bad.json5:2: agent .a.: model .ghost/m. names unknown provider .ghost." "$T/out"
'
test_expect 'check-config names the store file'"'"'s schema: its own, an older one opening upgrades (left as it is), a newer one it refuses' '
	"$CLAWCGI_BIN" agent --config "$T/ok.json5" --agent echo --user schema-check --message "make the store" >/dev/null 2>&1 &&
	"$CLAWCGI_BIN" check-config "$T/ok.json5" >"$T/out" 2>&1 &&
	grep -q "session store check: the file exists and is writable, at schema version 7$" "$T/out" &&
	python3 -c "import sqlite3,sys; d=sqlite3.connect(sys.argv[1]); d.execute(\"pragma user_version = 5\"); d.commit()" "$T/sessions.db" &&
	"$CLAWCGI_BIN" check-config "$T/ok.json5" >"$T/out" 2>&1 &&
	grep -q "at schema version 5: opening it upgrades it to 7, which older releases refuse" "$T/out" &&
	test "$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"pragma user_version\").fetchone()[0])" "$T/sessions.db")" = 5 &&
	python3 -c "import sqlite3,sys; d=sqlite3.connect(sys.argv[1]); d.execute(\"pragma user_version = 99\"); d.commit()" "$T/sessions.db" &&
	"$CLAWCGI_BIN" check-config "$T/ok.json5" >"$T/out" 2>&1 &&
	grep -q "schema version 99 is newer than this clawcgi.s (7): it will refuse the file" "$T/out" &&
	rm -f "$T/sessions.db" "$T/sessions.db-wal" "$T/sessions.db-shm"
'
test_expect 'check-config on a missing file exits non-zero' '
	! "$CLAWCGI_BIN" check-config "$T/none.json5" >/dev/null 2>&1
'
test_expect 'agent runs a turn through the provider and prints the answer' '
	"$CLAWCGI_BIN" agent --config "$T/ok.json5" --agent main --message "from the cli" >"$T/out" 2>"$T/err" &&
	grep -q "^fake: from the cli$" "$T/out" &&
	upstream_last_json ".body.messages[0].content" "CLI agent." &&
	upstream_last_json ".body.stream" true
'
test_expect 'agent --user derives the same session key as the endpoint' '
	"$CLAWCGI_BIN" agent --config "$T/ok.json5" --agent echo --user Alice --message hi >"$T/out" 2>"$T/err" &&
	grep -q "session agent:echo:openai-user:alice" "$T/err" && grep -q "^hi$" "$T/out"
'
test_expect 'agent with an unknown agent exits non-zero' '
	! "$CLAWCGI_BIN" agent --config "$T/ok.json5" --agent ghost --message hi >/dev/null 2>&1
'
test_expect 'agent with the upstream failing exits non-zero with the reason' '
	! "$CLAWCGI_BIN" agent --config "$T/ok.json5" --model fake/error-500 --message hi >"$T/out" 2>"$T/err" &&
	grep -q "fake upstream exploded" "$T/err"
'
test_expect 'serve refuses a thread count that cannot fit under 1024 descriptors' '
	! "$CLAWCGI_BIN" serve --listen 127.0.0.1:$(free_port) --threads 500 >/dev/null 2>"$T/err" &&
	grep -q "threads" "$T/err"
'
test_expect 'serve with a store too new for it logs why, not a folder hint' '
	sed "s|@T@/sessions.db|$T/new.db|; s|\"$T/sessions.db\"|\"$T/new.db\"|" "$T/ok.json5" >"$T/new.json5" &&
	grep -q "new.db" "$T/new.json5" &&
	python3 -c "import sqlite3,sys; d=sqlite3.connect(sys.argv[1]); d.execute(\"pragma user_version = 99\"); d.commit()" "$T/new.db" &&
	start_serve "$T/new.json5" &&
	for i in 1 2 3 4 5 6 7 8 9 10; do grep -q "cannot be used" "$T/serve.log" && break; sleep 0.5; done &&
	kill $_serve_pid &&
	grep -q "cannot be used (requests with a session key will get 500): Session store error: schema too new. (the file.s schema version 99 is newer than this clawcgi.s (7): it will refuse the file)" "$T/serve.log" &&
	! grep -q "directory exists" "$T/serve.log"
'
test_done
