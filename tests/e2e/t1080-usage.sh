#!/bin/sh
test_description='the usage log: one row per request with what it did, clawcgi usage over it, usage.enabled and retentionDays'
# servers: lighttpd cgi
# stores: sqlite postgresql
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-usage
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
conf() { # FILE USAGE-SECTION
	write_config "$1" <<CONF
{
  gateway: { auth: { mode: "keys", token: "\${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true }, responses: { enabled: true } } } },
  agents: { list: [
    { id: "main", default: true, model: "echo/echo", embeddingModel: "echo/echo" },
    { id: "up", model: "fake/gpt-test" },
    { id: "drip", model: "fake/drip" },
    { id: "cache", model: "claude/cached" },
  ] },
  models: { providers: {
    echo: { api: "echo" },
    fake: { api: "openai-completions", baseUrl: "@UPSTREAM@" },
    claude: { api: "anthropic-messages", baseUrl: "@UPSTREAM@", apiKey: "sk-ant-test-key" },
  } },
  session: { store: "@STORE@" },
  $2
}
CONF
}
conf "$T/clawcgi.json5" ""
conf "$T/off.json5" "usage: { enabled: false },"
conf "$T/keep30.json5" "usage: { retentionDays: 30 },"
start_stack "$T/clawcgi.json5"
k1=$("$CLAWCGI_BIN" keys --config "$T/clawcgi.json5" create --name k1 2>"$T/k1.err") ||
	_bail "keys create" "$T/k1.err"

q() { printf "'%s'" "$1"; } # an SQL string
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
# usage ARGS: clawcgi usage --json ARGS into $T/last.body (for expect_json)
usage() { "$CLAWCGI_BIN" usage --config "$T/clawcgi.json5" "$@" --json >"$T/last.body" 2>"$T/usage.err"; }
# groups: "group:requests:errors:prompt:completion ..." of the last usage
groups() {
	python3 -c 'import json,sys
o = json.load(open(sys.argv[1]))
print(" ".join("%s:%d:%d:%d:%d" % (g["group"], g["requests"], g["errors"], g["prompt_tokens"], g["completion_tokens"]) for g in o["groups"]))' "$T/last.body"
}
ask() { # ask TOKEN TEXT [curl args]: a chat to agent up (the fake upstream: 11 + 7 tokens)
	_qk=$1 _qt=$2
	shift 2
	post /v1/chat/completions "$_qk" "{\"model\":\"openclaw:up\",\"messages\":[{\"role\":\"user\",\"content\":\"$_qt\"}]}" "$@"
}
now_ms() { date +%s%3N; }
today=$(date -u +%Y-%m-%d)
t_start=$(now_ms)

test_expect 'a scripted run: 3 stateless chats, 2 turns of a session, a 400, a models list' '
	ask "$tok" one && expect_status 200 && ask "$tok" two && expect_status 200 &&
	ask "$tok" three && expect_status 200 &&
	ask "$k1" s-one -H "x-openclaw-session-key: s1" && expect_status 200 &&
	ask "$k1" s-two -H "x-openclaw-session-key: s1" && expect_status 200 &&
	post /v1/chat/completions "$tok" "{" && expect_status 400 &&
	get /v1/models "$k1" && expect_status 200 &&
	rows_reach 7 && sleep 1 && test "$(rows)" = 7
'
done_ms=$(($(now_ms) + 1000))
common="latency_ms > 0 and time >= $((t_start - 1000)) and time <= $done_ms"
answered="endpoint = $(q chat_completions) and agent_id = $(q up) and model = $(q fake/gpt-test) and status = 200 and prompt_tokens = 11 and completion_tokens = 7 and ttft_ms is not null and ttft_ms >= 0 and ttft_ms <= latency_ms and interrupted is not true"
test_expect 'the stateless chats: the operator'"'"'s, no session, model, tokens, latency and time to first token' '
	test "$(rows "$common and $answered and auth_kind = $(q operator) and auth_name is null and session_key is null")" = 3
'
test_expect 'the session turns: the key'"'"'s, its session key' '
	test "$(rows "$common and $answered and auth_kind = $(q key) and auth_name = $(q k1) and session_key = $(q key:k1:s1)")" = 2
'
test_expect 'the 400: no agent, model, tokens or first token' '
	test "$(rows "$common and endpoint = $(q chat_completions) and status = 400 and auth_kind = $(q operator) and agent_id is null and model is null and session_key is null and prompt_tokens = 0 and completion_tokens = 0 and ttft_ms is null")" = 1
'
test_expect 'the models list' '
	test "$(rows "$common and endpoint = $(q models) and status = 200 and auth_kind = $(q key) and auth_name = $(q k1) and agent_id is null and session_key is null and ttft_ms is null")" = 1
'
test_expect 'clawcgi usage --json: the totals' '
	usage && expect_json .by total && expect_json .groups "[]" &&
	expect_json .total.group total && expect_json .total.requests 7 && expect_json .total.errors 1 &&
	expect_json .total.prompt_tokens 55 && expect_json .total.completion_tokens 35 &&
	expect_json_match .total.p50_ms "^[0-9.]+\$" && expect_json_match .total.p95_ms "^[0-9.]+\$" &&
	python3 -c "import json,sys; t = json.load(open(sys.argv[1]))[\"total\"]; assert 0 < t[\"p50_ms\"] <= t[\"p95_ms\"]" "$T/last.body"
'
test_expect 'p50 and p95 are nearest-rank: of 7 latencies the 4th and the 7th' '
	p50=$(store_value "select latency_ms from usage order by latency_ms limit 1 offset 3") &&
	p95=$(store_value "select max(latency_ms) from usage") &&
	python3 -c "import json,sys; t = json.load(open(sys.argv[1]))[\"total\"]
assert abs(t[\"p50_ms\"] - float(sys.argv[2])) < 0.01 and abs(t[\"p95_ms\"] - float(sys.argv[3])) < 0.01, (t, sys.argv[2:])" \
		"$T/last.body" "$p50" "$p95"
'
test_expect 'clawcgi usage --by agent, key, model, day' '
	usage --by agent && expect_json .by agent && test "$(groups)" = "-:2:1:0:0 up:5:0:55:35" &&
	usage --by key && test "$(groups)" = "(operator):4:1:33:21 k1:3:0:22:14" &&
	usage --by model && test "$(groups)" = "-:2:1:0:0 fake/gpt-test:5:0:55:35" &&
	usage --by day && test "$(groups)" = "$today:7:1:55:35" &&
	usage --by user && test "$(groups)" = "(key):3:0:22:14 (operator):4:1:33:21"
'
test_expect 'clawcgi usage --since/--until: a range without the requests is empty, a bare --until day includes it' '
	usage --since "$(date -u -d tomorrow +%Y-%m-%d)" && expect_json .total.requests 0 && expect_json .groups "[]" &&
	usage --until "$(date -u -d yesterday +%Y-%m-%d)" && expect_json .total.requests 0 &&
	usage --since "$(date -u -d "+2 minutes" +%Y-%m-%dT%H:%M)" && expect_json .total.requests 0 &&
	usage --until "$(date -u -d @$((t_start / 1000 - 120)) +%Y-%m-%dT%H:%M:%S)" && expect_json .total.requests 0 &&
	usage --since "$today" --until "$today" && expect_json .total.requests 7 &&
	usage --since "$(date -u -d @$((t_start / 1000 - 120)) +%Y-%m-%dT%H:%M)" && expect_json .total.requests 7
'
test_expect 'clawcgi usage: a table with a total line' '
	"$CLAWCGI_BIN" usage --config "$T/clawcgi.json5" --by agent >"$T/out" &&
	head -n 1 "$T/out" | grep -q "REQUESTS *ERRORS *PROMPT_TOKENS *COMPL_TOKENS *P50_MS *P95_MS" &&
	grep -Eq "^up +5 +0 +55 +35 " "$T/out" && grep -Eq "^total +7 +1 +55 +35 " "$T/out"
'
test_expect 'clawcgi usage: bad arguments exit 2' '
	for args in "--by nothing" "--by" "--since 2026-13-40" "--until yesterday" "--since 2026-01-01T25:00" "--what"; do
		# shellcheck disable=SC2086
		"$CLAWCGI_BIN" usage --config "$T/clawcgi.json5" $args >"$T/out" 2>"$T/err"; rc=$?
		[ "$rc" = 2 ] && [ -s "$T/err" ] || { echo "# usage $args: exit $rc"; cat "$T/out" "$T/err"; return 1; }
	done
'

# ---- more requests: each kind's row
"$CLAWCGI_BIN" keys --config "$T/clawcgi.json5" create --name one --rpm 1 >"$T/key.one" 2>"$T/key.one.err" ||
	_bail "keys create" "$T/key.one.err"
t2=$(now_ms)
since2="time >= $((t2 - 1000))"
test_expect '/healthz and /metrics leave no row; an unknown path does (other, 404)' '
	get /healthz "" && expect_status 200 && get /metrics "" && expect_status 404 &&
	get /v1/nothing "$tok" && expect_status 404 &&
	rows_reach 1 "$since2 and endpoint = $(q other) and status = 404" && sleep 1 &&
	test "$(rows "$since2 and endpoint in ($(q healthz), $(q metrics))")" = 0 &&
	test "$(rows "$since2")" = 1
'
test_expect 'a streamed turn: its tokens, a first token before its end' '
	stream /v1/chat/completions "$k1" "{\"model\":\"openclaw:up\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"st\"}]}" \
		-H "x-openclaw-session-key: st" && expect_status 200 &&
	rows_reach 1 "$since2 and session_key = $(q key:k1:st)" &&
	test "$(rows "$since2 and session_key = $(q key:k1:st) and $answered and auth_name = $(q k1)")" = 1
'
test_expect 'a client that left mid-stream: its row says interrupted' '
	leave "{\"model\":\"openclaw:drip\",\"stream\":true,\"user\":\"quitter\",\"messages\":[{\"role\":\"user\",\"content\":\"go\"}]}" content &&
	rows_reach 1 "$since2 and agent_id = $(q drip) and interrupted is true and status = 200 and ttft_ms is not null and session_key = $(q agent:drip:openai-user:quitter)"
'
test_expect 'embeddings and responses: their endpoints, model and tokens' '
	post /v1/embeddings "$tok" "{\"input\":\"one two three\"}" && expect_status 200 &&
	post /v1/responses "$k1" "{\"model\":\"openclaw:up\",\"input\":\"re\"}" && expect_status 200 &&
	rows_reach 1 "$since2 and endpoint = $(q embeddings) and agent_id = $(q main) and model = $(q echo/echo) and prompt_tokens = 3 and completion_tokens = 0 and status = 200 and auth_kind = $(q operator)" &&
	rows_reach 1 "$since2 and endpoint = $(q responses) and agent_id = $(q up) and model = $(q fake/gpt-test) and prompt_tokens = 11 and completion_tokens = 7 and status = 200 and auth_name = $(q k1)"
'
test_expect 'refused requests: a wrong key (401, no one) and a key over its rpm (429, the key)' '
	ask "ck-$(printf "%064d" 0)" nope && expect_status 401 &&
	minute_room 5 && ask "$(cat "$T/key.one")" a && expect_status 200 &&
	ask "$(cat "$T/key.one")" b && expect_status 429 &&
	rows_reach 1 "$since2 and status = 401 and auth_kind = $(q none) and auth_name is null and agent_id is null" &&
	rows_reach 1 "$since2 and status = 429 and auth_kind = $(q key) and auth_name = $(q one) and model is null and prompt_tokens = 0"
'
# the model "cached" of the Messages API: 13 input tokens, 2000 read from the
# prompt cache, 500 written to it, 9 output tokens
test_expect 'an Anthropic turn on a cached prompt: its row counts the whole prompt' '
	post /v1/chat/completions "$k1" "{\"model\":\"openclaw:cache\",\"messages\":[{\"role\":\"user\",\"content\":\"c\"}]}" &&
	expect_status 200 &&
	rows_reach 1 "$since2 and agent_id = $(q cache) and model = $(q claude/cached) and status = 200 and prompt_tokens = 2513 and completion_tokens = 9 and auth_name = $(q k1)"
'
"$CLAWCGI_BIN" keys --config "$T/clawcgi.json5" create --name heavy --tpm 1000 >"$T/key.heavy" 2>"$T/key.heavy.err" ||
	_bail "keys create" "$T/key.heavy.err"
test_expect 'a key'"'"'s tpm is charged the whole cached prompt' '
	minute_room 10 &&
	post /v1/chat/completions "$(cat "$T/key.heavy")" "{\"model\":\"openclaw:cache\",\"messages\":[{\"role\":\"user\",\"content\":\"c\"}]}" &&
	expect_status 200 && sleep 0.5 &&
	post /v1/chat/completions "$(cat "$T/key.heavy")" "{\"model\":\"openclaw:cache\",\"messages\":[{\"role\":\"user\",\"content\":\"c\"}]}" &&
	expect_status 429
'

# ---- usage.enabled: false
stop_stack
start_stack "$T/off.json5"
test_expect 'usage.enabled false: no rows, and clawcgi usage says so' '
	n=$(rows) && ask "$tok" off && expect_status 200 && get /v1/models "$tok" && expect_status 200 &&
	post /v1/chat/completions "$tok" "{" && expect_status 400 &&
	ask "$k1" off2 -H "x-openclaw-session-key: s2" && expect_status 200 &&
	CGI_CONFIG=$T/off.json5 cgi_call GET /v1/models "" HTTP_AUTHORIZATION="Bearer $tok" && expect_status 200 &&
	sleep 2.5 && test "$(rows)" = "$n" &&
	"$CLAWCGI_BIN" usage --config "$T/off.json5" >/dev/null 2>"$T/err" && grep -q "usage.enabled is false" "$T/err"
'

# ---- retentionDays: 30 (old rows put in while no clawcgi runs)
stop_stack
day=86400000
inserted=0
insert() { # insert AGE-DAYS AGENT
	t=$(($(now_ms) - $1 * day)) id= idv= inserted=$((inserted + 1))
	# SQLite keeps the log in id order, an id being its time (ms) x 1024
	# plus the rows before it in that ms (two rows put in one ms: seen on
	# a host up for less than an hour, where old40 is not pruned before
	# young40 goes in)
	[ "$STORE" = postgresql ] || id="id, " idv="$((t * 1024 + inserted)), "
	store_exec "insert into usage (${id}time, endpoint, agent_id, auth_kind, auth_name, session_key, model, status, prompt_tokens, completion_tokens, latency_ms, ttft_ms, interrupted) values ($idv$t, $(q chat_completions), $(q "$2"), $(q operator), null, null, $(q echo/echo), 200, 1, 1, 5, null, false)"
}
insert 40 old40 && insert 400 old400 && insert 10 old10 ||
	_bail "old usage rows put in the store"
start_stack "$T/keep30.json5"
# A FastCGI process's writer prunes at its first round with rows; a CGI
# process at its request's end, once its monotonic clock (the host's time
# since boot) is past an hour.
if [ "$SERVER" = cgi ] && [ "$(cut -d. -f1 /proc/uptime)" -lt 3700 ]; then
	test_skip 'rows older than retentionDays are deleted once the log is written, younger ones kept' \
		'a CGI process prunes only on a host up for more than an hour'
else
	test_expect 'rows older than retentionDays are deleted once the log is written, younger ones kept' '
		test "$(rows "agent_id like $(q "old%")")" = 3 &&
		get /v1/models "$tok" && expect_status 200 &&
		for i in $(seq 50); do [ "$(rows "agent_id like $(q "old4%")")" = 0 ] && break; sleep 0.1; done &&
		test "$(rows "agent_id like $(q "old4%")")" = 0 && test "$(rows "agent_id = $(q old10)")" = 1 &&
		rows_reach 1 "endpoint = $(q models) and time >= $(($(now_ms) - 60000))"
	'
fi
# CGI: a process of its own per request.  Its pruning must not depend on
# how long the host has been up: its monotonic clock is set to 10 minutes
# since boot in a time namespace (unshare --time, root only).
up=$(cut -d. -f1 /proc/uptime)
if [ "$up" -gt 700 ] && unshare --time --monotonic 0 true 2>/dev/null; then
	printf '#!/bin/sh\nexec unshare --time --monotonic -%s --boottime -%s %s "$@"\n' \
		$((up - 600)) $((up - 600)) "$CLAWCGI_BIN" >"$T/young-host"
	chmod 755 "$T/young-host"
	test_expect 'CGI: rows older than retentionDays are deleted on a host up for 10 minutes too' '
		insert 40 young40 && test "$(rows "agent_id = $(q young40)")" = 1 &&
		CLAWCGI_BIN=$T/young-host CGI_CONFIG=$T/keep30.json5 cgi_call GET /v1/models "" \
			HTTP_AUTHORIZATION="Bearer $tok" && expect_status 200 &&
		{ test "$(rows "agent_id = $(q young40)")" = 0 || { echo "# the 40-day-old row is still there"; false; }; }
	'
else
	test_skip 'CGI: rows older than retentionDays are deleted on a host up for 10 minutes too' \
		'no time namespace here (unshare --time needs root and Linux 5.6)'
fi
test_done
