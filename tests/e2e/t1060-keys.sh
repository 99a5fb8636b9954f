#!/bin/sh
test_description='client keys (gateway.auth.mode "keys"): the keys command, a key'"'"'s agents, its per-minute limits across processes, sessions and responses kept per key'
# servers: lighttpd cgi
# stores: sqlite postgresql
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-keys
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
# conf FILE MODE METRICS
conf() {
	write_config "$1" <<CONF
{
  gateway: { auth: { mode: "$2", token: "\${OPENCLAW_GATEWAY_TOKEN}", rateLimit: { maxAttempts: 3 } },
             http: { endpoints: { chatCompletions: { enabled: true }, responses: { enabled: true },
                                  metrics: { enabled: $3 } } } },
  agents: { list: [
    { id: "main", default: true, model: "echo/echo", embeddingModel: "echo/echo" },
    { id: "beta", model: { primary: "echo/echo", fallbacks: ["fake/gpt-fallback"] },
      embeddingModel: "fake/text-embedding-3-small" },
    { id: "up", model: "fake/gpt-test" },
  ] },
  models: { providers: {
    echo: { api: "echo" },
    fake: { api: "openai-completions", baseUrl: "@UPSTREAM@" },
  } },
  session: { store: "@STORE@" },
}
CONF
}
conf "$T/clawcgi.json5" keys false
# the same store: /metrics (in processes of its own, its segment in $T)
conf "$T/metrics.json5" keys true
# the same store in mode token
conf "$T/token.json5" token false
start_stack "$T/clawcgi.json5"

keys() { "$CLAWCGI_BIN" keys --config "$T/clawcgi.json5" "$@"; }
# mk NAME [OPTIONS]: a new key, its secret kept in $T/key.NAME
mk() {
	_n=$1
	shift
	keys create --name "$_n" "$@" >"$T/key.$_n" 2>"$T/key.$_n.err" && grep -Eq '^ck-[0-9a-f]{64}$' "$T/key.$_n" ||
		{ echo "# keys create --name $_n $*:"; sed 's/^/#   /' "$T/key.$_n" "$T/key.$_n.err"; return 1; }
}
key() { cat "$T/key.$1"; }
hash_of() { printf '%s' "$1" | sha256sum | cut -c1-64; }
# row NAME: NAME's line of keys list
row() { keys list | awk -v n="$1" '$1 == n'; }
chat() { # chat TOKEN TEXT AGENT [curl args]
	_k=$1 _text=$2 _agent=$3
	shift 3
	post /v1/chat/completions "$_k" "{\"model\":\"openclaw:$_agent\",\"messages\":[{\"role\":\"user\",\"content\":\"$_text\"}]}" "$@"
}
# upstream_roles: "role:text|role:text|..." of the last upstream request
upstream_roles() {
	tail -n 1 "$UPSTREAM_LOG" | python3 -c '
import json, sys
b = json.load(sys.stdin)["body"]
print("|".join(m["role"] + ":" + (m.get("content") or "") for m in b["messages"]))'
}
# burst N TOKEN BODY: N chat requests at once; each one's status, headers
# and body in $T/burst.I.{s,h,b}; statuses counted by count_status CODE
burst() {
	rm -f "$T"/burst.*
	_i=1
	while [ "$_i" -le "$1" ]; do
		curl -sS --max-time 30 -o "$T/burst.$_i.b" -D "$T/burst.$_i.h" -w '%{http_code}\n' \
			-H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
			--data-binary "$3" "$BASE/v1/chat/completions" >"$T/burst.$_i.s" 2>/dev/null &
		_i=$((_i + 1))
	done
	wait
}
count_status() { cat "$T"/burst.*.s | grep -c "^$1\$"; }
# first_with CODE: the number I of a burst answer with status CODE
first_with() { grep -l "^$1\$" "$T"/burst.*.s | head -n 1 | sed 's/.*burst\.\([0-9]*\)\.s$/\1/'; }
hello='{"messages":[{"role":"user","content":"hello"}]}'
# hval NAME: the value of header NAME in the last answer
hval() { tr -d '\r' <"$T/last.headers" | grep -i "^$1:" | head -n 1 | sed 's/^[^:]*: *//'; }

test_expect 'keys create prints the secret alone on stdout, one line, and a sentence on stderr' '
	keys create --name all >"$T/out" 2>"$T/err" && cp "$T/out" "$T/key.all" &&
	test "$(wc -l <"$T/out")" = 1 && grep -Eq "^ck-[0-9a-f]{64}\$" "$T/out" &&
	grep -q "created key .all." "$T/err" && ! grep -q "ck-" "$T/err"
'
test_expect 'keys create: bad arguments exit 2, an existing name 1, and print no secret' '
	for args in "--name bad/name" "--name ok1 --agents main,nosuch" "--name ok2 --rpm -1" \
		"--name ok3 --tpm x" "--name ok4 --expires 0" "--agents main" "--name"; do
		# shellcheck disable=SC2086
		keys create $args >"$T/out" 2>"$T/err"; rc=$?
		[ "$rc" = 2 ] && [ ! -s "$T/out" ] && [ -s "$T/err" ] ||
			{ echo "# keys create $args: exit $rc"; cat "$T/out" "$T/err"; return 1; }
	done
	keys create --name all >"$T/out" 2>"$T/err"; rc=$?
	[ "$rc" = 1 ] && [ ! -s "$T/out" ] && grep -q "exists" "$T/err" &&
	! keys list | grep -q "^ok[1-4] "
'
test_expect 'keys list: name, STATUS active, agents, limits; never the secret or its hash' '
	mk lim --agents main,beta --rpm 7 --tpm 900 &&
	keys list >"$T/list" && head -n 1 "$T/list" | grep -q "NAME *STATUS *AGENTS *RPM *TPM" &&
	row all | grep -Eq "^all +active +\(all\) +0 +0 " &&
	row lim | grep -Eq "^lim +active +main,beta +7 +900 " &&
	for k in all lim; do
		! grep -q -e "$(key $k)" -e "$(hash_of "$(key $k)")" "$T/list" || return 1
	done
'
test_expect 'the store keeps the SHA-256 of a secret, never the secret' '
	h=$(hash_of "$(key all)") &&
	test "$(store_value "select count(*) from client_keys where name = '"'"'all'"'"'")" = 1 &&
	if [ "$STORE" = sqlite ]; then
		! cat "$STORE_FILE"* | grep -aqF "$(key all)" && cat "$STORE_FILE"* | grep -aqF "$h"
	else
		! psql -X -q -At -c "select * from client_keys" "$STORE_URL" | grep -qF "$(key all)" &&
		psql -X -q -At -c "select * from client_keys" "$STORE_URL" | grep -qF "$h"
	fi
'
test_expect 'a key made while the stack runs works at once, in every worker process, with no limit headers' '
	burst 6 "$(key all)" "$hello" && test "$(count_status 200)" = 6 &&
	! grep -qi "^x-ratelimit" "$T"/burst.*.h &&
	cgi_call POST /v1/chat/completions "$hello" HTTP_AUTHORIZATION="Bearer $(key all)" &&
	expect_status 200
'
test_expect 'last use is recorded' '
	row all | grep -Eq "^all +active +\(all\) +0 +0 +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{5} +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{5} +never\$"
'
test_expect 'a wrong key: 401 with WWW-Authenticate: Bearer' '
	chat "ck-$(printf "%064d" 0)" hi main && expect_status 401 && expect_json .error.type unauthorized &&
	expect_header WWW-Authenticate Bearer &&
	chat "$(key all)x" hi main && expect_status 401 &&
	chat not-a-key hi main && expect_status 401
'
test_expect 'a wrong key counts toward the failed-auth throttle of its address' '
	for i in 1 2 3; do
		cgi_call POST /v1/chat/completions "$hello" REMOTE_ADDR=192.0.2.9 \
			HTTP_AUTHORIZATION="Bearer ck-$(printf "%063d" 0)$i" && expect_status 401 || return 1
	done &&
	cgi_call POST /v1/chat/completions "$hello" REMOTE_ADDR=192.0.2.9 HTTP_AUTHORIZATION="Bearer $(key all)" &&
	expect_status 429 && expect_json .error.type rate_limited &&
	cgi_call POST /v1/chat/completions "$hello" REMOTE_ADDR=192.0.2.10 HTTP_AUTHORIZATION="Bearer $(key all)" &&
	expect_status 200
'
test_expect 'the gateway token is still the operator'"'"'s: every agent, every model listed' '
	chat "$tok" hi beta && expect_status 200 && ! grep -qi "^x-ratelimit" "$T/last.headers" &&
	get /v1/models "$tok" && expect_status 200 &&
	test "$(json_get .data | python3 -c "import json,sys; print(\" \".join(m[\"id\"] for m in json.load(sys.stdin)))")" = \
		"openclaw:main openclaw:beta openclaw:up"
'
mk mainonly --agents main
test_expect 'a key may use only its agents: 403 permission_denied naming the agent' '
	chat "$(key mainonly)" hi main && expect_status 200 && ! grep -qi "^x-ratelimit" "$T/last.headers" &&
	chat "$(key mainonly)" hi beta && expect_status 403 && expect_json .error.code permission_denied &&
	expect_json_match .error.message "beta" &&
	post /v1/chat/completions "$(key mainonly)" "$hello" -H "x-openclaw-agent-id: beta" && expect_status 403 &&
	expect_json .error.code permission_denied &&
	post /v1/responses "$(key mainonly)" "{\"model\":\"openclaw:beta\",\"input\":\"hi\"}" && expect_status 403 &&
	expect_json .error.code permission_denied &&
	post /v1/embeddings "$(key mainonly)" "{\"input\":\"abc\"}" -H "x-openclaw-agent-id: beta" && expect_status 403 &&
	expect_json .error.code permission_denied && expect_json_match .error.message "beta" &&
	post /v1/embeddings "$(key mainonly)" "{\"input\":\"abc\"}" && expect_status 200 &&
	get /v1/models/openclaw:beta "$(key mainonly)" && expect_status 403 &&
	expect_json .error.code permission_denied && expect_json_match .error.message "beta" &&
	get /v1/models/openclaw:main "$(key mainonly)" && expect_status 200 && expect_json .id openclaw:main
'
test_expect 'GET /v1/models lists only the key'"'"'s agents' '
	get /v1/models "$(key mainonly)" && expect_status 200 &&
	test "$(json_get .data | python3 -c "import json,sys; print(\" \".join(m[\"id\"] for m in json.load(sys.stdin)))")" = openclaw:main
'
# override KEY PATH BODY MODEL [curl args]: PATH with x-openclaw-model MODEL
override() {
	_ok=$1 _op=$2 _ob=$3 _om=$4
	shift 4
	post "$_op" "$_ok" "$_ob" -H "x-openclaw-model: $_om" "$@"
}
emb='{"input":"abc"}'
resp='{"input":"hi"}'
# denied_model MODEL: the last answer is 403 permission_denied naming MODEL
denied_model() {
	expect_status 403 && expect_json .error.code permission_denied &&
	expect_json .error.param x-openclaw-model && expect_json_match .error.message "$1"
}
test_expect 'x-openclaw-model beyond a key'"'"'s agents: 403 permission_denied naming the model on chat, responses and embeddings; the upstream gets nothing' '
	n=$(upstream_count) &&
	override "$(key mainonly)" /v1/chat/completions "$hello" fake/gpt-test && denied_model fake/gpt-test &&
	override "$(key mainonly)" /v1/chat/completions 		"{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" fake/gpt-test &&
	denied_model fake/gpt-test &&
	override "$(key mainonly)" /v1/responses "$resp" fake/gpt-test && denied_model fake/gpt-test &&
	override "$(key mainonly)" /v1/responses "{\"input\":\"hi\",\"stream\":true}" fake/gpt-test &&
	denied_model fake/gpt-test &&
	override "$(key mainonly)" /v1/embeddings "$emb" fake/text-embedding-3-small &&
	denied_model fake/text-embedding-3-small &&
	override "$(key mainonly)" /v1/chat/completions "$hello" fake/gpt-fallback && denied_model fake/gpt-fallback &&
	cgi_call POST /v1/chat/completions "$hello" HTTP_AUTHORIZATION="Bearer $(key mainonly)" \
		HTTP_X_OPENCLAW_MODEL=fake/gpt-test && denied_model fake/gpt-test &&
	cgi_call POST /v1/embeddings "$emb" HTTP_AUTHORIZATION="Bearer $(key mainonly)" \
		HTTP_X_OPENCLAW_MODEL=fake/gpt-test && denied_model fake/gpt-test &&
	test "$(upstream_count)" = "$n"
'
test_expect 'x-openclaw-model naming a provider that is not configured: the same 403 for a key with agents, so it cannot probe which providers exist' '
	for ep in /v1/chat/completions /v1/responses /v1/embeddings; do
		case $ep in
		*chat*) b=$hello ;; *responses) b=$resp ;; *) b=$emb ;;
		esac
		override "$(key mainonly)" $ep "$b" nosuch/gpt-test && denied_model nosuch/gpt-test || return 1
	done &&
	override "$tok" /v1/chat/completions "$hello" nosuch/gpt-test && expect_status 400 &&
	expect_body_contains "not configured"
'
mk betaonly --agents beta
test_expect 'x-openclaw-model naming a key'"'"'s own agents'"'"' models (model, fallback, embeddingModel) is served, another agent'"'"'s is not' '
	override "$(key mainonly)" /v1/chat/completions "$hello" echo/echo && expect_status 200 &&
	override "$(key mainonly)" /v1/embeddings "$emb" echo/echo && expect_status 200 &&
	n=$(upstream_count) &&
	override "$(key betaonly)" /v1/chat/completions "{\"model\":\"openclaw:beta\",\"messages\":[{\"role\":\"user\",\"content\":\"fb\"}]}" \
		fake/gpt-fallback && expect_status 200 && expect_json .choices[0].message.content "fake: fb" &&
	test "$(upstream_count)" = $((n + 1)) && upstream_last_json .body.model gpt-fallback &&
	override "$(key betaonly)" /v1/responses "{\"model\":\"openclaw:beta\",\"input\":\"fb\"}" fake/gpt-fallback &&
	expect_status 200 && upstream_last_json .body.model gpt-fallback &&
	override "$(key betaonly)" /v1/embeddings "{\"model\":\"openclaw:beta\",\"input\":\"e\"}" \
		fake/text-embedding-3-small && expect_status 200 && upstream_last_json .body.model text-embedding-3-small &&
	override "$(key betaonly)" /v1/embeddings "{\"model\":\"openclaw:beta\",\"input\":\"e\"}" fake/gpt-fallback &&
	expect_status 200 && upstream_last_json .body.model gpt-fallback &&
	override "$(key betaonly)" /v1/chat/completions "{\"model\":\"openclaw:beta\",\"messages\":[{\"role\":\"user\",\"content\":\"fb\"}]}" \
		fake/gpt-test && denied_model fake/gpt-test
'
test_expect 'the operator and a key without agents may still name any model' '
	n=$(upstream_count) &&
	override "$tok" /v1/chat/completions "$hello" fake/gpt-test && expect_status 200 &&
	upstream_last_json .body.model gpt-test &&
	override "$(key all)" /v1/chat/completions "$hello" fake/gpt-other && expect_status 200 &&
	upstream_last_json .body.model gpt-other &&
	cgi_call POST /v1/chat/completions "$hello" HTTP_AUTHORIZATION="Bearer $tok" \
		HTTP_X_OPENCLAW_MODEL=fake/gpt-test && expect_status 200 &&
	test "$(upstream_count)" = $((n + 3))
'
mk uponly --agents up
test_expect 'a key with agents may not send a field that has the upstream pick the model (model in another case, models, fallbacks)' '
	n=$(upstream_count) &&
	for f in "\"Model\":\"gpt-4o\"" "\"models\":[\"gpt-4o\"]" "\"FALLBACKS\":[\"gpt-4o\"]"; do
		post /v1/chat/completions "$(key uponly)" "{\"model\":\"openclaw:up\",$f,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" &&
		expect_status 403 && expect_json .error.code permission_denied || return 1
	done &&
	test "$(upstream_count)" = "$n" &&
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:up\",\"models\":[\"gpt-4o\"],\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" &&
	expect_status 200 && upstream_last_json .body.models[0] gpt-4o
'
test_expect 'nor any other field by which a router picks the model (LiteLLM'"'"'s context_window_fallbacks, content_policy_fallbacks, model_list, user_config; Azure'"'"'s engine, deployment_id)' '
	n=$(upstream_count) &&
	for f in "\"context_window_fallbacks\":[\"gpt-4o\"]" "\"content_policy_fallbacks\":[\"gpt-4o\"]" \
		"\"model_list\":[{\"model_name\":\"x\"}]" "\"user_config\":{\"model_list\":[]}" \
		"\"engine\":\"gpt-4o\"" "\"Deployment_Id\":\"gpt-4o\"" "\"default_model\":\"gpt-4o\""; do
		post /v1/chat/completions "$(key uponly)" "{\"model\":\"openclaw:up\",$f,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" &&
		expect_status 403 && expect_json .error.code permission_denied || return 1
	done &&
	test "$(upstream_count)" = "$n" &&
	post /v1/chat/completions "$(key uponly)" "{\"model\":\"openclaw:up\",\"modalities\":[\"text\"],\"temperature\":0.5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" &&
	expect_status 200
'
mk rpm4 --rpm 4
test_expect 'rpm: exactly rpm requests a minute across the worker processes, then 429 rate_limit_exceeded' '
	minute_room 15 &&
	burst 6 "$(key rpm4)" "$hello" &&
	test "$(count_status 200)" = 4 && test "$(count_status 429)" = 2 &&
	cgi_call POST /v1/chat/completions "$hello" HTTP_AUTHORIZATION="Bearer $(key rpm4)" &&
	expect_status 429 && expect_json .error.code rate_limit_exceeded
'
test_expect 'a 429 of rpm: Retry-After to the window'"'"'s end and the x-ratelimit headers' '
	i=$(first_with 429) && cp "$T/burst.$i.h" "$T/last.headers" && cp "$T/burst.$i.b" "$T/last.body" &&
	expect_json .error.type rate_limited && expect_json .error.code rate_limit_exceeded &&
	expect_json_match .error.message "requests" &&
	ra=$(hval Retry-After) && [ "$ra" -ge 1 ] && [ "$ra" -le 60 ] &&
	[ "$(hval x-ratelimit-limit-requests)" = 4 ] && [ "$(hval x-ratelimit-remaining-requests)" = 0 ] &&
	tr -d "\r" <"$T/last.headers" | grep -Eqi "^x-ratelimit-reset-requests: [0-9]+(s|ms)\$" &&
	! grep -qi "^x-ratelimit-limit-tokens" "$T/last.headers"
'
test_expect 'every answer to a limited key carries them: remaining counts down' '
	for i in 1 2 3 4 5 6; do
		[ "$(cat "$T/burst.$i.s")" = 200 ] || continue
		tr -d "\r" <"$T/burst.$i.h" | grep -i "^x-ratelimit-remaining-requests:" | sed "s/.*: //"
		tr -d "\r" <"$T/burst.$i.h" | grep -Eqi "^x-ratelimit-reset-requests: [0-9]+(s|ms)\$" || return 1
		tr -d "\r" <"$T/burst.$i.h" | grep -qi "^x-ratelimit-limit-requests: 4\$" || return 1
	done | sort | tr "\n" " " >"$T/remaining" &&
	test "$(cat "$T/remaining")" = "0 1 2 3 "
'
mk tpm --agents up --tpm 40
test_expect 'tpm: the request that crosses the limit is served, the next one is 429' '
	minute_room 15 &&
	chat "$(key tpm)" t1 up && expect_status 200 && expect_json .usage.total_tokens 18 &&
	[ "$(hval x-ratelimit-limit-tokens)" = 40 ] && [ "$(hval x-ratelimit-remaining-tokens)" = 40 ] &&
	tr -d "\r" <"$T/last.headers" | grep -Eqi "^x-ratelimit-reset-tokens: [0-9]+(s|ms)\$" &&
	! grep -qi "^x-ratelimit-limit-requests" "$T/last.headers" &&
	sleep 0.5 && chat "$(key tpm)" t2 up && expect_status 200 && [ "$(hval x-ratelimit-remaining-tokens)" = 22 ] &&
	sleep 0.5 && chat "$(key tpm)" t3 up && expect_status 200 && [ "$(hval x-ratelimit-remaining-tokens)" = 4 ] &&
	sleep 0.5 && n=$(upstream_count) && chat "$(key tpm)" t4 up && expect_status 429 &&
	expect_json .error.code rate_limit_exceeded && expect_json_match .error.message "tokens" &&
	[ "$(hval x-ratelimit-remaining-tokens)" = 0 ] && [ "$(hval Retry-After)" -ge 1 ] &&
	test "$(upstream_count)" = "$n"
'
mk sa
mk sb
ask() { # ask KEY TEXT [curl args]: agent up, session key "shared"
	_ak=$1 _at=$2
	shift 2
	chat "$_ak" "$_at" up -H "x-openclaw-session-key: shared" "$@"
}
test_expect 'one x-openclaw-session-key under two keys: two sessions, each its own history' '
	ask "$(key sa)" A1 && expect_status 200 && test "$(upstream_roles)" = "user:A1" &&
	ask "$(key sb)" B1 && expect_status 200 && test "$(upstream_roles)" = "user:B1" &&
	ask "$(key sa)" A2 && expect_status 200 && test "$(upstream_roles)" = "user:A1|assistant:fake: A1|user:A2" &&
	ask "$(key sb)" B2 && expect_status 200 && test "$(upstream_roles)" = "user:B1|assistant:fake: B1|user:B2" &&
	ask "$tok" O1 && expect_status 200 && test "$(upstream_roles)" = "user:O1"
'
test_expect 'the same `user` under two keys: two sessions' '
	post /v1/chat/completions "$(key sa)" "{\"model\":\"openclaw:up\",\"user\":\"ann\",\"messages\":[{\"role\":\"user\",\"content\":\"U1\"}]}" &&
	expect_status 200 &&
	post /v1/chat/completions "$(key sb)" "{\"model\":\"openclaw:up\",\"user\":\"ann\",\"messages\":[{\"role\":\"user\",\"content\":\"U2\"}]}" &&
	expect_status 200 && test "$(upstream_roles)" = "user:U2"
'
test_expect 'sessions list: the keys'"'"' sessions prefixed key:NAME:, the operator'"'"'s not' '
	"$CLAWCGI_BIN" sessions --config "$T/clawcgi.json5" list >"$T/out" &&
	grep -q "key:sa:shared" "$T/out" && grep -q "key:sb:shared" "$T/out" &&
	grep -Eq "(^|[[:space:]])shared([[:space:]]|\$)" "$T/out" &&
	grep -q "key:sa:agent:up:openai-user:ann" "$T/out" && grep -q "key:sb:agent:up:openai-user:ann" "$T/out"
'
test_expect 'rotate: a new secret, the old one 401, the key'"'"'s sessions stay its own' '
	old=$(key sa) && keys rotate sa >"$T/out" 2>"$T/err" &&
	test "$(wc -l <"$T/out")" = 1 && grep -Eq "^ck-[0-9a-f]{64}\$" "$T/out" && ! grep -q ck- "$T/err" &&
	! grep -qF "$old" "$T/out" && cp "$T/out" "$T/key.sa" &&
	ask "$old" A3 && expect_status 401 &&
	ask "$(key sa)" A3 && expect_status 200 &&
	test "$(upstream_roles)" = "user:A1|assistant:fake: A1|user:A2|assistant:fake: A2|user:A3" &&
	row sa | grep -Eq "^sa +active "
'
test_expect 'Responses: another key'"'"'s stored response is 404, by GET, DELETE and previous_response_id' '
	post /v1/responses "$(key sa)" "{\"model\":\"openclaw:main\",\"input\":\"r1\"}" && expect_status 200 &&
	id=$(json_get .id) && case $id in resp_*) ;; *) false ;; esac &&
	get "/v1/responses/$id" "$(key sa)" && expect_status 200 && expect_json .id "$id" &&
	get "/v1/responses/$id" "$(key all)" && expect_status 404 &&
	post /v1/responses "$(key all)" "{\"model\":\"openclaw:main\",\"input\":\"r2\",\"previous_response_id\":\"$id\"}" &&
	expect_status 404 && expect_json .error.param previous_response_id &&
	_curl DELETE "/v1/responses/$id" "$(key all)" "" && expect_status 404 &&
	get "/v1/responses/$id" "$tok" && expect_status 200 &&
	post /v1/responses "$(key sa)" "{\"model\":\"openclaw:main\",\"input\":\"r2\",\"previous_response_id\":\"$id\"}" &&
	expect_status 200
'
test_expect 'revoke: 401 "This API key was revoked.", list says revoked' '
	keys revoke sb >"$T/out" && grep -q "revoked key .sb." "$T/out" &&
	ask "$(key sb)" B3 && expect_status 401 && expect_json .error.message "This API key was revoked." &&
	row sb | grep -Eq "^sb +revoked " &&
	keys revoke sb >"$T/out" && grep -q "already revoked" "$T/out" &&
	! keys rotate sb >"$T/out" 2>/dev/null && [ ! -s "$T/out" ] &&
	! keys revoke nosuch 2>/dev/null
'
test_expect 'expiry: a key works until --expires, then 401 "This API key has expired.", list says expired' '
	mk exp --expires 0.00007 && t0=$(date +%s) &&
	chat "$(key exp)" hi main && expect_status 200 && row exp | grep -Eq "^exp +active " &&
	grep -q "expires 20" "$T/key.exp.err" &&
	d=$((t0 + 8 - $(date +%s))) && { [ "$d" -le 0 ] || sleep "$d"; } &&
	chat "$(key exp)" hi main && expect_status 401 && expect_json .error.message "This API key has expired." &&
	row exp | grep -Eq "^exp +expired "
'
test_expect 'rotate of an expired key: refused, or its new secret works (never a secret that cannot)' '
	row exp | grep -Eq "^exp +expired " &&
	keys rotate exp >"$T/out" 2>"$T/err"; rc=$?
	if [ "$rc" = 0 ]; then
		grep -Eq "^ck-[0-9a-f]{64}\$" "$T/out" && chat "$(cat "$T/out")" hi main &&
		{ expect_status 200 || { echo "# keys rotate exp: exit 0, printed a secret that gets:"; cat "$T/last.body"; false; }; }
	else
		[ "$rc" = 1 ] && [ ! -s "$T/out" ] && [ -s "$T/err" ]
	fi
'
test_expect 'rotate --expires renews an expired key: a new secret that works, a new expiry, list says active' '
	row exp | grep -Eq "^exp +expired " && old=$(key exp) &&
	keys rotate exp --expires 1 >"$T/out" 2>"$T/err" && grep -Eq "^ck-[0-9a-f]{64}\$" "$T/out" &&
	! grep -q ck- "$T/err" && grep -q "expires 20" "$T/err" && cp "$T/out" "$T/key.exp" &&
	chat "$(key exp)" hi main && expect_status 200 &&
	chat "$old" hi main && expect_status 401 &&
	row exp | grep -Eq "^exp +active " &&
	rc=$(keys rotate exp --expires 0 >"$T/out" 2>"$T/err"; echo $?) &&
	[ "$rc" = 2 ] && [ ! -s "$T/out" ] &&
	rc=$(keys rotate exp --rpm 3 >"$T/out" 2>"$T/err"; echo $?) &&
	[ "$rc" = 2 ] && [ ! -s "$T/out" ]
'
test_expect 'keys create takes a revoked key'"'"'s name again; the new key reaches the sessions of that name' '
	row sb | grep -Eq "^sb +revoked " && old=$(key sb) &&
	mk sb --agents up && row sb | grep -Eq "^sb +active +up " &&
	test "$(row sb | wc -l)" = 1 &&
	ask "$(key sb)" B3 && expect_status 200 &&
	test "$(upstream_roles)" = "user:B1|assistant:fake: B1|user:B2|assistant:fake: B2|user:B3" &&
	ask "$old" B4 && expect_status 401 &&
	rc=$(keys create --name sb >"$T/out" 2>"$T/err"; echo $?) &&
	[ "$rc" = 1 ] && [ ! -s "$T/out" ] && grep -q exists "$T/err"
'
test_expect 'keys create takes an expired key'"'"'s name again' '
	mk gone --expires 0.00002 && t0=$(date +%s) &&
	d=$((t0 + 3 - $(date +%s))) && { [ "$d" -le 0 ] || sleep "$d"; } &&
	row gone | grep -Eq "^gone +expired " &&
	mk gone && row gone | grep -Eq "^gone +active " && chat "$(key gone)" hi main && expect_status 200
'
test_expect 'key names compare in any case: create, list, revoke, rotate, the sessions'"'"' scope' '
	mk MiXed && row mixed | grep -Eq "^mixed +active " && ! keys list | grep -q "^MiXed " &&
	grep -q "created key .mixed." "$T/key.MiXed.err" &&
	rc=$(keys create --name MIXED >"$T/out" 2>"$T/err"; echo $?) &&
	[ "$rc" = 1 ] && [ ! -s "$T/out" ] && grep -q exists "$T/err" &&
	chat "$(key MiXed)" M1 up -H "x-openclaw-session-key: mx" && expect_status 200 &&
	"$CLAWCGI_BIN" sessions --config "$T/clawcgi.json5" list >"$T/out" && grep -q "key:mixed:mx" "$T/out" &&
	keys rotate MIXED >"$T/key.MiXed" 2>/dev/null && grep -Eq "^ck-[0-9a-f]{64}\$" "$T/key.MiXed" &&
	chat "$(key MiXed)" M2 up -H "x-openclaw-session-key: mx" && expect_status 200 &&
	test "$(upstream_roles)" = "user:M1|assistant:fake: M1|user:M2" &&
	keys revoke Mixed >"$T/out" && grep -q "revoked key .mixed." "$T/out" && row mixed | grep -Eq "^mixed +revoked " &&
	mk mIxEd && chat "$(key mIxEd)" M3 up -H "x-openclaw-session-key: mx" && expect_status 200 &&
	test "$(upstream_roles)" = "user:M1|assistant:fake: M1|user:M2|assistant:fake: M2|user:M3" &&
	test "$(keys list | grep -ci "^mixed ")" = 1
'
test_expect 'a key made with capitals before names were lower-cased: found in any case, its name and sessions kept' '
	mk legacy && store_exec "update client_keys set name = '"'"'LeGacy'"'"' where name = '"'"'legacy'"'"'" &&
	chat "$(key legacy)" L1 up -H "x-openclaw-session-key: lg" && expect_status 200 &&
	rc=$(keys create --name legacy >"$T/out" 2>"$T/err"; echo $?) &&
	[ "$rc" = 1 ] && grep -q exists "$T/err" &&
	keys revoke LEGACY >"$T/out" && row LeGacy | grep -Eq "^LeGacy +revoked " &&
	mk legacy && row LeGacy | grep -Eq "^LeGacy +active " &&
	chat "$(key legacy)" L2 up -H "x-openclaw-session-key: lg" && expect_status 200 &&
	test "$(upstream_roles)" = "user:L1|assistant:fake: L1|user:L2"
'
test_expect 'a name taken again with fewer agents: its stored responses of another agent are 403, the others its own' '
	mk re --agents main,beta &&
	post /v1/responses "$(key re)" "{\"model\":\"openclaw:main\",\"input\":\"m\"}" && expect_status 200 &&
	idm=$(json_get .id) &&
	post /v1/responses "$(key re)" "{\"model\":\"openclaw:beta\",\"input\":\"b\"}" && expect_status 200 &&
	idb=$(json_get .id) &&
	keys revoke re >/dev/null && mk re --agents main &&
	get "/v1/responses/$idm" "$(key re)" && expect_status 200 && expect_json .id "$idm" &&
	get "/v1/responses/$idb" "$(key re)" && expect_status 403 && expect_json .error.code permission_denied &&
	expect_json_match .error.message beta &&
	_curl DELETE "/v1/responses/$idb" "$(key re)" "" && expect_status 403 &&
	get "/v1/responses/$idb" "$tok" && expect_status 200 &&
	post /v1/responses "$(key re)" "{\"model\":\"openclaw:main\",\"input\":\"m2\",\"previous_response_id\":\"$idm\"}" &&
	expect_status 200
'
test_expect 'a forged Remote-User header changes nothing, in mode keys and in mode token' '
	chat "" hi main -H "Remote-User: admin" && expect_status 401 &&
	cgi_call POST /v1/chat/completions "$hello" HTTP_REMOTE_USER=admin && expect_status 401 &&
	cgi_call POST /v1/chat/completions "$hello" REMOTE_USER=admin && expect_status 401 &&
	CGI_CONFIG=$T/token.json5 cgi_call POST /v1/chat/completions "$hello" HTTP_REMOTE_USER=admin &&
	expect_status 401 &&
	CGI_CONFIG=$T/token.json5 cgi_call POST /v1/chat/completions "$hello" REMOTE_USER=admin &&
	expect_status 401 &&
	CGI_CONFIG=$T/token.json5 cgi_call POST /v1/chat/completions "$hello" HTTP_AUTHORIZATION="Bearer $tok" \
		HTTP_REMOTE_USER=admin && expect_status 200 &&
	ask "$(key sa)" F1 -H "Remote-User: admin" && expect_status 200 &&
	"$CLAWCGI_BIN" sessions --config "$T/clawcgi.json5" list >"$T/out" &&
	! grep -q "user:admin" "$T/out"
'
test_expect '/metrics from another address: the operator'"'"'s key only (403 for a client key)' '
	CGI_CONFIG=$T/metrics.json5 cgi_call GET /metrics "" CLAWCGI_METRICS_DIR="$T" REMOTE_ADDR=192.0.2.7 \
		HTTP_AUTHORIZATION="Bearer $(key all)" &&
	expect_status 403 && expect_json .error.code permission_denied &&
	CGI_CONFIG=$T/metrics.json5 cgi_call GET /metrics "" CLAWCGI_METRICS_DIR="$T" REMOTE_ADDR=192.0.2.7 \
		HTTP_AUTHORIZATION="Bearer $tok" && expect_status 200 &&
	CGI_CONFIG=$T/metrics.json5 cgi_call GET /metrics "" CLAWCGI_METRICS_DIR="$T" REMOTE_ADDR=127.0.0.1 \
		HTTP_AUTHORIZATION="Bearer $(key all)" && expect_status 200
'
test_done
