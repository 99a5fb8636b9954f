#!/bin/sh
test_description='one PostgreSQL store shared by two hosts (lighttpd + clawcgi each), its faults, store migrate, check-config'
# servers: lighttpd
# stores: postgresql
# A server of its own, whatever the run's: the faults stop and start it.
CLAWCGI_PG_ADMIN_URL=""
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-shared
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
write_config "$T/clawcgi.json5" <<'CONF'
{
  gateway: { auth: { token: "${OPENCLAW_GATEWAY_TOKEN}",
                     rateLimit: { maxAttempts: 5, windowMs: 60000, lockoutMs: 60000, exemptLoopback: false } },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [ { id: "main", default: true, model: "fake/gpt-test", systemPrompt: "Sys." },
                    { id: "slow", model: "fake/slow" }, { id: "echo", model: "echo/echo", historyLimit: 4 },
                    { id: "sleepy", model: "sleepy/x" } ] },
  models: { providers: { fake: { api: "openai-completions", baseUrl: "@UPSTREAM@" }, echo: { api: "echo" },
                         sleepy: { api: "command", command: ["/bin/sh", "-c", "cat >/dev/null; sleep 2; echo slow answer"] } } },
  session: { store: "@STORE@" },
}
CONF
start_stack "$T/clawcgi.json5"
start_stack2 "$T/clawcgi.json5"
rows() { store_value "$1"; }
pg_dir=$T/pg
ask() { # ask USER TEXT [MODEL]
	post /v1/chat/completions "$tok" "{\"model\":\"${3:-openclaw}\",\"user\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"$2\"}]}"
}
upstream_roles() {
	tail -n 1 "$UPSTREAM_LOG" | python3 -c '
import json, sys
b = json.load(sys.stdin)["body"]
print("|".join(m["role"] + ":" + (m.get("content") or "") for m in b["messages"]))'
}
cli() { CLAWCGI_CONFIG="$T/clawcgi.json5" "$CLAWCGI_BIN" "$@"; }

test_expect 'a conversation started on one host continues on the other' '
	ask ann "my name is Ann" && expect_status 200 &&
	on_stack2 ask ann "what is my name" && expect_status 200 &&
	test "$(upstream_roles)" = "system:Sys.|user:my name is Ann|assistant:fake: my name is Ann|user:what is my name" &&
	ask ann "and now" && expect_status 200 &&
	test "$(upstream_roles)" = "system:Sys.|user:my name is Ann|assistant:fake: my name is Ann|user:what is my name|assistant:fake: what is my name|user:and now"
'
test_expect 'failed attempts on both hosts add up, and the lockout holds on both' '
	for i in 1 2 3; do post /v1/chat/completions wrong "{}" && expect_status 401 || return 1; done &&
	for i in 1 2; do on_stack2 post /v1/chat/completions wrong "{}" && expect_status 401 || return 1; done &&
	post /v1/chat/completions "$tok" "{}" && expect_status 429 &&
	on_stack2 post /v1/chat/completions "$tok" "{}" && expect_status 429 &&
	expect_json .error.type rate_limited && expect_header Retry-After ""
'
store_exec "delete from auth_failures"
test_expect '8 processes x 200 turns on one session across both hosts: every turn whole and in order' '
	python3 - "$BASE" "$BASE2" "$tok" "${CONCURRENCY_TURNS:-200}" >"$T/turns.out" 2>&1 <<PY &&
import http.client, json, os, sys, urllib.parse
bases, tok, turns = sys.argv[1:3], sys.argv[3], int(sys.argv[4])
pids = []
for p in range(8):
    pid = os.fork()
    if pid == 0:
        u = urllib.parse.urlparse(bases[p % 2])
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        bad = 0
        for i in range(turns):
            body = json.dumps({"model": "openclaw:echo", "user": "shared",
                               "messages": [{"role": "user", "content": "p%d-t%d" % (p, i)}]})
            try:
                c.request("POST", "/v1/chat/completions", body,
                          {"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                bad += r.status != 200
            except Exception:
                bad += 1
                c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        os._exit(min(bad, 100))
    pids.append(pid)
bad = sum(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids)
print("failed requests: %d" % bad)
sys.exit(1 if bad else 0)
PY
	n=$((8 * ${CONCURRENCY_TURNS:-200})) &&
	k="session_key = '"'"'agent:echo:openai-user:shared'"'"'" &&
	echo "# $(rows "select count(*) from messages where $k and role = '"'"'assistant'"'"'") of $n turns stored" &&
	test "$(rows "select count(*) from messages where $k")" = $((2 * n)) &&
	test "$(rows "select max(seq) from messages where $k")" = $((2 * n)) &&
	test "$(rows "select count(*) from messages u join messages a on a.session_key = u.session_key and a.seq = u.seq + 1 and a.run_id = u.run_id where u.$k and u.role = '"'"'user'"'"' and a.role = '"'"'assistant'"'"'")" = $n
' || cat "$T/turns.out"
test_expect 'pg_terminate_backend of the workers connections: the next request reconnects' '
	ask tom "one" && on_stack2 ask tom "two" &&
	test "$(pg_admin "select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = '"'"'$STORE_DB'"'"' and application_name = '"'"'clawcgi'"'"'")" -ge 1 &&
	ask tom "three" && expect_status 200 && on_stack2 ask tom "four" && expect_status 200 &&
	test "$(rows "select count(*) from messages where session_key like '"'"'%:tom'"'"'")" = 8
'
test_expect 'the database stopped mid-turn: that request 500, no half turn' '
	ask dan "first" openclaw:sleepy && expect_status 200 && {
		( sleep 0.8 && sh "$srcdir/tests/pg.sh" stop "$pg_dir" ) &
		ask dan "second" openclaw:sleepy; wait
	} && expect_status 500 && expect_json .error.type api_error &&
	! grep -q -e "test-pw-" -e "$STORE_DB" "$T/last.body"
'
test_expect 'while it is down: 500 for session turns, stateless requests still 200' '
	ask dan "third" openclaw:sleepy && expect_status 500 &&
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" && expect_status 200
'
test_expect 'the database back: service resumes on both hosts, the session without a half turn' '
	sh "$srcdir/tests/pg.sh" resume "$pg_dir" &&
	ask dan "fourth" openclaw:sleepy && expect_status 200 && on_stack2 ask dan "fifth" openclaw:sleepy && expect_status 200 &&
	test "$(rows "select count(*) from messages where session_key like '"'"'%:dan'"'"'")" = 6 &&
	test "$(rows "select string_agg(message::json->>'"'"'content'"'"', '"'"','"'"' order by seq) from messages where session_key like '"'"'%:dan'"'"' and role = '"'"'user'"'"'")" = "first,fourth,fifth"
'
test_expect 'a stream whose turn cannot be stored ends with an error event' '
	before=$(upstream_count) &&
	{ ( sleep 0.1; upstream_wait_past "$before" && sleep 0.3 && sh "$srcdir/tests/pg.sh" stop "$pg_dir" ) &
	  stream /v1/chat/completions "$tok" "{\"model\":\"openclaw:slow\",\"stream\":true,\"user\":\"eve\",\"messages\":[{\"role\":\"user\",\"content\":\"s\"}]}"; wait; } &&
	expect_status 200 && grep -q "\"error\"" "$T/last.body" && grep -q "data: \[DONE\]" "$T/last.body" &&
	sh "$srcdir/tests/pg.sh" resume "$pg_dir" &&
	test "$(rows "select count(*) from messages where session_key like '"'"'%:eve'"'"'")" = 0 &&
	ask eve "again" && expect_status 200
'
test_expect 'a migration raced by 8 processes on a new database runs once' '
	race=${STORE_DB}_race &&
	pg_admin "create database $race owner $STORE_DB" &&
	sed "s|/$STORE_DB\"|/$race\"|" "$T/clawcgi.json5" >"$T/race.json5" &&
	for i in 1 2 3 4 5 6 7 8; do
		( CLAWCGI_CONFIG="$T/race.json5" "$CLAWCGI_BIN" sessions list >"$T/race.$i" 2>&1; echo $? >"$T/race.$i.rc" ) &
	done && wait &&
	test "$(cat "$T"/race.*.rc | sort -u)" = 0 &&
	test "$(psql -X -At -c "select count(*) || '"'"' '"'"'|| max(version) from clawcgi_schema" "$(sed -n "s|.*store: \"\(.*\)\".*|\1|p" "$T/race.json5")")" = "3 3"
'
test_expect 'check-config shows the store masked and that it connects' '
	cli check-config "$T/clawcgi.json5" >"$T/cc.out" 2>&1 &&
	grep -q "session store: PostgreSQL postgresql://$STORE_DB:\*\*\*\*\*\*@" "$T/cc.out" &&
	grep -q "session store check: connects" "$T/cc.out" && ! grep -q "test-pw-" "$T/cc.out"
'
test_expect 'check-config of a wrong password: cannot connect, and no password shown' '
	sed "s|$STORE_DB:test-pw-[0-9a-f]*@|$STORE_DB:made-up-wrong@|" "$T/clawcgi.json5" >"$T/wrong.json5" &&
	cli check-config "$T/wrong.json5" >"$T/cc.out" 2>&1 &&
	grep -q "session store check: cannot connect" "$T/cc.out" && ! grep -q "made-up-wrong" "$T/cc.out"
'
test_expect 'an unknown scheme is a config error naming session.store, without the password' '
	sed "s|store: \"postgresql://|store: \"mysql://|" "$T/clawcgi.json5" >"$T/bad.json5" &&
	! cli check-config "$T/bad.json5" >"$T/cc.out" 2>&1 &&
	grep -q "session.store has an unknown scheme" "$T/cc.out" && ! grep -q "test-pw-" "$T/cc.out"
'
test_expect 'sessions list, show, delete work on PostgreSQL' '
	cli sessions list >"$T/out" && grep -q "agent:main:openai-user:ann" "$T/out" &&
	cli sessions show agent:main:openai-user:ann >"$T/out" && grep -q "user: my name is Ann" "$T/out" &&
	cli sessions delete agent:main:openai-user:tom >/dev/null && ! cli sessions show agent:main:openai-user:tom >/dev/null 2>&1
'
test_expect 'store migrate copies a SQLite store (sessions, turns, response ids), idempotent, with counts' '
	sed "s|store: \".*\"|store: \"$T/old.db\"|" "$T/clawcgi.json5" >"$T/old.json5" &&
	CLAWCGI_CONFIG="$T/old.json5" "$CLAWCGI_BIN" agent --agent echo --user zoe --message "old one" >/dev/null 2>&1 &&
	CLAWCGI_CONFIG="$T/old.json5" "$CLAWCGI_BIN" agent --agent echo --user zoe --message "old two" >/dev/null 2>&1 &&
	"$CLAWCGI_BIN" keys --config "$T/old.json5" create --name old-key >/dev/null 2>&1 &&
	cli store migrate --from "sqlite:$T/old.db" --to "$STORE_URL" >"$T/mig.out" 2>&1 &&
	grep -q "^copied 1 sessions, 4 messages, 0 responses from .* (0, 0 and 0 were already there)" "$T/mig.out" &&
	grep -q "^copied 1 client keys (0 were already there) and 0 usage rows" "$T/mig.out" &&
	! grep -q "test-pw-" "$T/mig.out" &&
	cli store migrate --from "sqlite:$T/old.db" --to "$STORE_URL" >"$T/mig.out" 2>&1 &&
	grep -q "^copied 0 sessions, 0 messages, 0 responses .* (1, 4 and 0 were already there)" "$T/mig.out" &&
	grep -q "^copied 0 client keys (1 were already there) and 0 usage rows" "$T/mig.out" &&
	on_stack2 ask zoe "new" openclaw:echo && expect_status 200 &&
	test "$(rows "select count(*) from messages where session_key = '"'"'agent:echo:openai-user:zoe'"'"'")" = 6
'
test_expect 'store migrate refuses what it cannot do, clearly' '
	! cli store migrate --from "sqlite:$T/old.db" --to "$T/x.db" >"$T/mig.out" 2>&1 &&
	grep -q "must be a PostgreSQL store" "$T/mig.out" &&
	! cli store migrate --from "$STORE_URL" --to "$STORE_URL" >"$T/mig.out" 2>&1 &&
	grep -q "must be a SQLite store" "$T/mig.out" && ! grep -q "test-pw-" "$T/mig.out"
'
test_done
