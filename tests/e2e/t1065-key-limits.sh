#!/bin/sh
test_description='limits that hold: tokens reserved at admission and settled at the end, under concurrency; failed authentication logged once a minute per address; a stream its client leaves still counts'
# servers: lighttpd cgi
# stores: sqlite postgresql
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-limits
start_upstream
write_config "$T/clawcgi.json5" <<CONF
{
  gateway: { auth: { mode: "keys", token: "\${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true }, responses: { enabled: true },
                                  metrics: { enabled: true } } } },
  agents: { list: [
    { id: "main", default: true, model: "echo/echo", embeddingModel: "echo/echo" },
    { id: "think", model: "fake/think", embeddingModel: "fake/embed-hang" },
    { id: "drip", model: "fake/drip" },
    { id: "meas", model: "fake/measure" },
  ] },
  models: { providers: {
    echo: { api: "echo" },
    fake: { api: "openai-completions", baseUrl: "@UPSTREAM@" },
  } },
  session: { store: "@STORE@" },
}
CONF
start_stack "$T/clawcgi.json5"

keys() { "$CLAWCGI_BIN" keys --config "$T/clawcgi.json5" "$@"; }
mk() { # mk NAME [OPTIONS]: a new key, its secret in $T/key.NAME
	_n=$1
	shift
	keys create --name "$_n" "$@" >"$T/key.$_n" 2>"$T/key.$_n.err" ||
		{ sed 's/^/# /' "$T/key.$_n.err"; return 1; }
}
key() { cat "$T/key.$1"; }
q() { printf "'%s'" "$1"; }
rows() { store_value "select count(*) from usage${1:+ where $1}"; }
rows_reach() { # rows_reach N WHERE: wait up to 10 s for N usage rows
	for _i in $(seq 100); do
		[ "$(rows "$2" 2>/dev/null || echo 0)" -ge "$1" ] && return 0
		sleep 0.1
	done
	echo "# usage rows where $2: $(rows "$2"), wanted $1"
	return 1
}
# window CLIENT COLUMN: the column (requests, tokens) of CLIENT's newest window
window() {
	store_value "select $2 from rate_windows where client = $(q "$1") order by window_start desc limit 1"
}
# burst N TOKEN BODY [PATH]: N requests at once (chat completions unless
# PATH; each given BURST_TIME seconds [60]); statuses in $T/burst.I.s
burst() {
	rm -f "$T"/burst.*
	_i=1
	while [ "$_i" -le "$1" ]; do
		curl -sS -N --max-time "${BURST_TIME:-60}" -o "$T/burst.$_i.b" -D "$T/burst.$_i.h" \
			-w '%{http_code}\n' -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
			--data-binary "$3" "$BASE${4:-/v1/chat/completions}" >"$T/burst.$_i.s" 2>/dev/null &
		_i=$((_i + 1))
	done
	wait
}
count_status() { cat "$T"/burst.*.s | grep -c "^$1\$"; }

mk lim --tpm 100
slow='{"model":"openclaw:think","stream":true,"stream_options":{"include_usage":true},"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'
# the estimate of one: the body's bytes / 4 rounded up, and its max_tokens
est=$(( ($(printf '%s' "$slow" | wc -c) + 3) / 4 + 5 ))
# admitted while the window (used and reserved) is under tpm: the last one
# admitted passes it by less than its own estimate
bound=$(( (100 + est - 1) / est ))
test_expect 'tpm 100, 30 requests at once against a slow upstream: at most tpm / estimate (rounded up) served, the rest 429 rate_limit_exceeded' '
	minute_room 25 &&
	burst 30 "$(key lim)" "$slow" &&
	served=$(count_status 200) && refused=$(count_status 429) &&
	echo "# estimate $est, bound $bound: $served served, $refused refused" &&
	[ "$served" -ge 1 ] && [ "$served" -le "$bound" ] && [ $((served + refused)) = 30 ] &&
	i=$(grep -l "^429\$" "$T"/burst.*.s | head -n 1 | sed "s/\.s\$//") &&
	grep -q rate_limit_exceeded "$i.b" && grep -q "tokens per minute" "$i.b" &&
	tr -d "\r" <"$i.h" | grep -qi "^x-ratelimit-limit-tokens: 100\$" &&
	tr -d "\r" <"$i.h" | grep -qi "^x-ratelimit-remaining-tokens: 0\$" &&
	tr -d "\r" <"$i.h" | grep -qi "^retry-after: [0-9]"
'
test_expect 'the window settles to the real usage: the reservations are replaced by the tokens reported, a refused request is not counted' '
	rows_reach 30 "auth_name = $(q lim)" &&
	real=$(store_value "select sum(prompt_tokens + completion_tokens) from usage where auth_name = $(q lim)") &&
	echo "# real $real, window $(window key:lim tokens), $(window key:lim requests) requests, $(rows "auth_name = $(q lim) and status = 429") rows of 429" &&
	[ "$real" -gt 0 ] && test "$(window key:lim tokens)" = "$real" &&
	test "$(window key:lim requests)" = "$(count_status 200)" &&
	test "$(rows "auth_name = $(q lim) and status = 429")" = "$(count_status 429)"
'
mk rsp --tpm 100
mk emb --tpm 100
rbody='{"model":"openclaw:think","stream":true,"max_output_tokens":5,"input":"hi"}'
rbound=$(( (100 + ($(printf '%s' "$rbody" | wc -c) + 3) / 4 + 5 - 1) / (($(printf '%s' "$rbody" | wc -c) + 3) / 4 + 5) ))
ebody='{"model":"openclaw:think","input":"one two three"}'
ebound=$(( (100 + ($(printf '%s' "$ebody" | wc -c) + 3) / 4 - 1) / (($(printf '%s' "$ebody" | wc -c) + 3) / 4) ))
test_expect 'responses and embeddings reserve at the same point: 20 at once on tpm 100 serve at most the bound' '
	minute_room 25 &&
	burst 20 "$(key rsp)" "$rbody" /v1/responses &&
	echo "# responses: bound $rbound, $(count_status 200) served, $(count_status 429) refused" &&
	[ "$(count_status 200)" -ge 1 ] && [ "$(count_status 200)" -le "$rbound" ] &&
	[ $(($(count_status 200) + $(count_status 429))) = 20 ] &&
	BURST_TIME=4 burst 20 "$(key emb)" "$ebody" /v1/embeddings &&
	echo "# embeddings (an upstream that hangs): bound $ebound, $(count_status 429) refused" &&
	[ "$(count_status 429)" -ge $((20 - ebound)) ]
'

test_expect '20 bad-token requests from one address: at most one usage row' '
	minute_room 15 &&
	before=$(rows "status = 401") &&
	for i in $(seq 20); do
		post /v1/chat/completions "ck-$(printf "%064d" "$i")" "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}" || return 1
		expect_status 401 || return 1
	done &&
	sleep 1.5 && after=$(rows "status = 401") &&
	echo "# 401 rows: $before before, $after after" &&
	[ $((after - before)) -le 1 ]
'
test_expect 'across processes (CGI) too: another address gets its one row, the next of its minute none' '
	minute_room 10 &&
	before=$(rows "status in (401, 429)") &&
	for i in 1 2 3 4 5; do
		cgi_call POST /v1/chat/completions "{}" REMOTE_ADDR=192.0.2.65 HTTP_AUTHORIZATION="Bearer nope-$i" || return 1
	done &&
	after=$(rows "status in (401, 429)") && echo "# rows: $before before, $after after" &&
	test $((after - before)) = 1
'
test_expect 'IPv6: the addresses of one /64 are one address (a host there has 2^64 of them): one row a minute' '
	minute_room 10 &&
	before=$(rows "status in (401, 429)") &&
	for i in 1 2 3 4 5; do
		cgi_call POST /v1/chat/completions "{}" REMOTE_ADDR=2001:db8:7:9::$i HTTP_AUTHORIZATION="Bearer nope-$i" || return 1
	done &&
	cgi_call POST /v1/chat/completions "{}" REMOTE_ADDR=2001:db8:7:a::1 HTTP_AUTHORIZATION="Bearer nope" &&
	after=$(rows "status in (401, 429)") && echo "# rows: $before before, $after after" &&
	test $((after - before)) = 2
'

# A long session, made by a key without limits; the name then taken again
# by a key with a tpm, which reaches that session (README "Client keys").
big=$(python3 -c 'print("x" * 4000)')
mk longs
test_expect 'a stored history counts against tpm before the model is called: 30 one-line turns at once on a long session serve one, the window holds its real count' '
	for i in 1 2 3 4 5 6 7 8 9 10; do
		post /v1/chat/completions "$(key longs)" \
			"{\"model\":\"openclaw:meas\",\"messages\":[{\"role\":\"user\",\"content\":\"$i $big\"}]}" \
			-H "x-openclaw-session-key: long" && expect_status 200 || return 1
	done &&
	keys revoke longs >/dev/null && mk longs --tpm 2000 &&
	minute_room 30 &&
	rm -f "$T"/lb.* &&
	for i in $(seq 30); do
		curl -sS --max-time 60 -o "$T/lb.$i.b" -w "%{http_code}\n" -H "Authorization: Bearer $(key longs)" \
			-H "Content-Type: application/json" -H "x-openclaw-session-key: long" \
			--data-binary "{\"model\":\"openclaw:meas\",\"messages\":[{\"role\":\"user\",\"content\":\"more $i\"}]}" \
			"$BASE/v1/chat/completions" >"$T/lb.$i.s" 2>/dev/null &
	done &&
	wait &&
	served=$(cat "$T"/lb.*.s | grep -c "^200\$") && refused=$(cat "$T"/lb.*.s | grep -c "^429\$") &&
	used=$(window key:longs tokens) &&
	echo "# $served served, $refused refused, the window at $used tokens" &&
	test "$served" = 1 && test $((served + refused)) = 30 &&
	[ "$used" -gt 2000 ] && [ "$used" -lt 40000 ]
'

mk gone --tpm 100000
drip='{"model":"openclaw:drip","stream":true,"messages":[{"role":"user","content":"a long answer please"}]}'
test_expect 'two streams their client leaves cost the key tokens: estimated usage rows, the window, /metrics' '
	minute_room 20 &&
	OPENCLAW_GATEWAY_TOKEN=$(key gone) leave "$drip" content &&
	OPENCLAW_GATEWAY_TOKEN=$(key gone) leave "$drip" content &&
	rows_reach 2 "auth_name = $(q gone)" &&
	test "$(rows "auth_name = $(q gone) and estimated and interrupted")" = 2 &&
	test "$(rows "auth_name = $(q gone) and prompt_tokens > 0 and completion_tokens > 0")" = 2 &&
	sum=$(store_value "select sum(prompt_tokens + completion_tokens) from usage where auth_name = $(q gone)") &&
	echo "# estimated $sum, window $(window key:gone tokens)" &&
	test "$(window key:gone tokens)" = "$sum" &&
	get /metrics "" && expect_status 200 &&
	grep -Eq "^clawcgi_output_tokens_total\{agent=\"drip\"\} [1-9]" "$T/last.body"
'
test_expect 'clawcgi usage counts the estimated tokens, and says how many requests were estimated' '
	"$CLAWCGI_BIN" usage --config "$T/clawcgi.json5" --by key --json >"$T/last.body" &&
	python3 -c "import json,sys
g = [x for x in json.load(open(sys.argv[1]))[\"groups\"] if x[\"group\"] == \"gone\"]
sys.exit(0 if g and g[0][\"prompt_tokens\"] > 0 and g[0][\"completion_tokens\"] > 0 and g[0][\"estimated\"] == 2 else 1)" "$T/last.body"
'

test_done
