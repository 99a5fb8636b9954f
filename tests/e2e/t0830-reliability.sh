#!/bin/sh
test_description='the store survives kill -9 mid-turn, a read-only file system and a full disk'
# stores: sqlite postgresql
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-reliable
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
rows() { db_value "$1" "$2"; }
# store_rows SQL: on the store under test (the tmpfs cases are SQLite's)
store_rows() { store_value "$1"; }
# the database intact: SQLite's integrity check (PostgreSQL keeps its own)
store_intact() { [ "$STORE" = postgresql ] || [ "$(store_value "pragma integrity_check")" = ok ]; }
conf() { # conf STORE
	write_config "$T/clawcgi.json5" <<CONF
{
  gateway: { auth: { token: "\${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [ { id: "main", model: "fake/gpt-test" }, { id: "slow", model: "fake/slow" },
                    { id: "echo", model: "echo/echo" } ] },
  models: { providers: { fake: { api: "openai-completions", baseUrl: "@UPSTREAM@" }, echo: { api: "echo" } } },
  session: { store: "$1" },
}
CONF
}
ask() { post /v1/chat/completions "$tok" "{\"model\":\"${3:-openclaw}\",\"user\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"$2\"}]}"; }

conf "$STORE_URL"
start_stack "$T/clawcgi.json5"
test_expect 'kill -9 of the workers while a turn streams: the session is before the turn' '
	ask kim "first" && expect_status 200 && before=$(upstream_count) && {
		( stream /v1/chat/completions "$tok" "{\"model\":\"openclaw:slow\",\"stream\":true,\"user\":\"kim\",\"messages\":[{\"role\":\"user\",\"content\":\"second\"}]}" ) &
		upstream_wait_past "$before" && sleep 0.4 && kill -9 $(stack_pids) && wait
	} &&
	test "$(store_rows "select count(*) from messages where session_key like '"'"'%:kim'"'"'")" = 2
'
if [ "$SERVER_RESPAWNS" = yes ]; then
	test_expect "$SERVER respawns the workers and the next request on that session works" '
		sleep 0.5 && ask kim "third" && expect_status 200 &&
		test "$(store_rows "select count(*) from messages where session_key like '"'"'%:kim'"'"'")" = 4 &&
		upstream_last_json ".body.messages[0].content" first
	'
else
	test_skip 'the server respawns the workers' "$SERVER does not restart clawcgi (systemd's Restart= does)"
fi
stop_stack

test_expect 'kill -9 at random moments of 400 turns: only whole turns, the database intact' '
	export CLAWCGI_CONFIG=$T/clawcgi.json5 &&
	for p in 1 2 3 4; do
		( for i in $(seq 100); do "$CLAWCGI_BIN" agent --agent echo --user shared --message "p$p-$i" >/dev/null 2>&1; done ) &
		remember_pid $!
	done &&
	for k in $(seq 40); do
		sleep 0.05; pkill -9 -f "$CLAWCGI_BIN agent --agent echo" 2>/dev/null; true
	done && wait &&
	store_intact &&
	test "$(store_rows "select count(*) from (select run_id from messages group by run_id having count(*) != 2) t")" = 0 &&
	echo "# $(store_rows "select count(*) from messages where role = '"'"'assistant'"'"' and session_key like '"'"'%:shared'"'"'") of 400 turns completed" &&
	"$CLAWCGI_BIN" agent --agent echo --user shared --message after >/dev/null 2>&1
'

fs=$T/fs
mkdir -p "$fs"
# mode 1777: the server's user (www-data under Apache) writes there too
if [ "$STORE" = postgresql ]; then
	test_skip 'the disk-full and read-only cases' "a file of SQLite's (PostgreSQL's faults: t0840)"
elif mount -t tmpfs -o size=512k,mode=1777 tmpfs "$fs" 2>/dev/null; then
	umount_fs() { umount "$fs" 2>/dev/null; }
	trap 'stop_stack; umount_fs; _cleanup' EXIT
	conf "$fs/sessions.db"
	start_stack "$T/clawcgi.json5"
	test_expect 'with a store on a small file system, turns are stored' '
		ask lou "one" && expect_status 200 && test "$(rows "$fs/sessions.db" "select count(*) from messages")" = 2
	'
	test_expect 'the disk full: 500 api_error for that request' '
		dd if=/dev/zero of="$fs/filler" bs=4k 2>/dev/null; sync;
		ask lou "$(python3 -c "print(\"x\" * 60000)")" && expect_status 500 &&
		expect_json .error.type api_error && ! expect_body_contains "$fs"
	'
	test_expect 'stateless requests still work while the store is full' '
		post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" && expect_status 200
	'
	# checked once space is back: with no process holding the database open
	# (a CGI process exits after its request) even a reader needs room for
	# the -wal file SQLite creates beside it
	test_expect 'space returns: the file is intact and holds only the earlier turn' '
		rm -f "$fs/filler" &&
		test "$(rows "$fs/sessions.db" "pragma integrity_check")" = ok &&
		test "$(rows "$fs/sessions.db" "select count(*) from messages")" = 2
	'
	test_expect 'service resumes' '
		ask lou "two" && expect_status 200 &&
		test "$(rows "$fs/sessions.db" "select count(*) from messages")" = 4
	'
	stop_stack
	mount -o remount,ro "$fs"
	start_stack "$T/clawcgi.json5"
	test_expect 'a read-only store: 500 (stateless still 200), then service resumes when writable' '
		ask lou "three" && expect_status 500 && expect_json .error.type api_error &&
		post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" && expect_status 200 &&
		mount -o remount,rw "$fs" && ask lou "four" && expect_status 200 &&
		test "$(rows "$fs/sessions.db" "select count(*) from messages")" = 6 &&
		test "$(rows "$fs/sessions.db" "pragma integrity_check")" = ok
	'
	stop_stack
	umount_fs
else
	test_skip 'the disk-full and read-only cases' 'mounting a tmpfs needs root'
fi
test_done
