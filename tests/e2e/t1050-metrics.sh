#!/bin/sh
test_description='GET /metrics: the Prometheus text format, one view over every worker process, access from loopback or with the key'
# servers: lighttpd cgi
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-metrics
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
down=$(free_port)
conf() { # FILE ENABLED
	write_config "$1" <<CONF
{
  gateway: { auth: { token: "\${OPENCLAW_GATEWAY_TOKEN}",
                     rateLimit: { maxAttempts: 3, exemptLoopback: false } },
             http: { endpoints: { chatCompletions: { enabled: true }, metrics: { enabled: $2 } } } },
  agents: { list: [
    { id: "main", default: true, model: "echo/echo", embeddingModel: "echo/echo" },
    { id: "fb", model: { primary: "nowhere/x", fallbacks: ["echo/echo"] } },
    { id: "slow", model: "quick/hang" },
    { id: "up", model: "fake/gpt-test" },
  ] },
  models: { providers: {
    echo: { api: "echo" },
    nowhere: { api: "openai-completions", baseUrl: "http://127.0.0.1:$down/v1", retries: 1 },
    fake: { api: "openai-completions", baseUrl: "@UPSTREAM@" },
    quick: { api: "openai-completions", baseUrl: "@UPSTREAM@", retries: 0, timeoutSeconds: 1 },
  } },
  session: { store: "@T@/sessions.db" },
}
CONF
}
conf "$T/clawcgi.json5" true
conf "$T/off.json5" false
seg=$(CLAWCGI_CONFIG=$T/clawcgi.json5 "$CLAWCGI_BIN" check-config 2>/dev/null | sed -n 's/^metrics: enabled, segment \([^ ]*\) .*/\1/p')
chat='{"messages":[{"role":"user","content":"hi there"}]}'

# cgi CONFIG ADDR [TOKEN]: GET /metrics in a clawcgi process of its own
# (CGI), from ADDR; the answer's body in $T/cgi.body, its status in $status.
cgi() {
	env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET SCRIPT_NAME=/metrics \
		REMOTE_ADDR="$2" ${3:+HTTP_AUTHORIZATION="Bearer $3"} OPENCLAW_GATEWAY_TOKEN=$tok \
		CLAWCGI_CONFIG="$1" "$CLAWCGI_BIN" >"$T/cgi.out" 2>"$T/cgi.err" </dev/null
	status=$(sed -n 's/^Status: \([0-9]*\).*/\1/p' "$T/cgi.out" | head -n 1)
	sed '1,/^\r*$/d' "$T/cgi.out" >"$T/cgi.body"
}
# value SERIES...: each series' value in the last scrape ($T/last.body),
# after the whole scrape passed the strict format check.
value() { python3 "$LIBDIR/prom_check.py" "$T/last.body" "$@"; }
scrape() { get /metrics "" && expect_status 200; }
req() { printf 'clawcgi_http_requests_total{endpoint="%s",agent="%s",status="%s"}' "$1" "$2" "$3"; }

test_expect 'check-config names the shared segment, under /dev/shm' '
	case $seg in /dev/shm/clawcgi-metrics-????????????????) ;; *) false ;; esac
'
start_stack "$T/clawcgi.json5"

test_expect 'off (the default): /metrics is 404 like any unknown path' '
	cgi "$T/off.json5" 127.0.0.1 && [ "$status" = 404 ] &&
	python3 -c "import json,sys; assert json.load(open(sys.argv[1]))[\"error\"][\"type\"] == \"not_found\"" "$T/cgi.body"
'
test_expect 'from loopback: 200, text/plain version 0.0.4, a valid exposition' '
	scrape && expect_header Content-Type "text/plain; version=0.0.4" &&
	expect_header Cache-Control no-store && value >/dev/null &&
	grep -q "^# TYPE clawcgi_http_request_duration_seconds histogram" "$T/last.body" &&
	grep -q "^# TYPE clawcgi_open_streams gauge" "$T/last.body"
'
test_expect 'only GET and HEAD' '
	post /metrics "" "" && expect_status 405 && expect_header Allow "GET, HEAD"
'
test_expect 'requests by endpoint, agent and status, counted across the worker processes' '
	i=0 && while [ $i -lt 12 ]; do
		curl -sS -o /dev/null -H "Authorization: Bearer $tok" -H "Content-Type: application/json" \
			--data-binary "$chat" "$BASE/v1/chat/completions" & i=$((i + 1)); done && wait &&
	post /v1/chat/completions wrong "$chat" && expect_status 401 &&
	post /v1/embeddings "$tok" "{\"input\":\"abc\"}" && expect_status 200 &&
	get /v1/models "$tok" && expect_status 200 &&
	post /v1/chat/completions "$tok" "{" && expect_status 400 &&
	scrape &&
	[ "$(value "$(req chat_completions main 200)")" = 12 ] &&
	[ "$(value "$(req chat_completions "" 401)")" = 1 ] &&
	[ "$(value "$(req chat_completions "" 400)")" = 1 ] &&
	[ "$(value "$(req embeddings main 200)")" = 1 ] &&
	[ "$(value "$(req models "" 200)")" = 1 ] &&
	[ "$(value "$(req metrics "" 200)")" = 1 ] &&
	[ "$(value clawcgi_auth_failures_total)" = 1 ]
'
test_expect 'latency and time-to-first-token histograms' '
	[ "$(value "clawcgi_http_request_duration_seconds_count{endpoint=\"chat_completions\"}")" = 14 ] &&
	[ "$(value "clawcgi_http_request_duration_seconds_bucket{endpoint=\"chat_completions\",le=\"+Inf\"}")" = 14 ] &&
	[ "$(value "clawcgi_time_to_first_token_seconds_count{agent=\"main\"}")" = 12 ]
'
test_expect 'tokens in and out by agent, as the answers reported them' '
	ptok=0 ctok=0 && up="{\"model\":\"openclaw:up\",\"messages\":[{\"role\":\"user\",\"content\":\"a b c\"}]}" &&
	for i in 1 2 3; do
		post /v1/chat/completions "$tok" "$up" && expect_status 200 || return 1
		ptok=$((ptok + $(json_get .usage.prompt_tokens))) && ctok=$((ctok + $(json_get .usage.completion_tokens)))
	done &&
	post /v1/embeddings "$tok" "{\"input\":\"one two three four\"}" && expect_status 200 &&
	etok=$(json_get .usage.prompt_tokens) &&
	scrape && [ "$ptok" -gt 0 ] && [ "$ctok" -gt 0 ] &&
	[ "$(value "clawcgi_input_tokens_total{agent=\"up\"}")" = "$ptok" ] &&
	[ "$(value "clawcgi_output_tokens_total{agent=\"up\"}")" = "$ctok" ] &&
	[ "$(value "clawcgi_input_tokens_total{agent=\"main\"}")" = $((etok + 1)) ]
'
test_expect 'open streams: a gauge, back to 0 when they end' '
	stream /v1/chat/completions "$tok" "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" &&
	expect_status 200 && scrape && [ "$(value clawcgi_open_streams)" = 0 ] &&
	[ "$(value "$(req chat_completions main 200)")" = 13 ]
'
test_expect 'upstream errors, retries and the fallback taken, by provider' '
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:fb\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}" &&
	expect_status 200 && scrape &&
	[ "$(value "clawcgi_upstream_errors_total{provider=\"nowhere\"}")" = 2 ] &&
	[ "$(value "clawcgi_upstream_retries_total{provider=\"nowhere\"}")" = 1 ] &&
	[ "$(value "clawcgi_upstream_fallbacks_total{provider=\"echo\"}")" = 1 ] &&
	[ "$(value "$(req chat_completions fb 200)")" = 1 ]
'
test_expect 'an upstream timeout' '
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:slow\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}" &&
	expect_status 504 && scrape &&
	[ "$(value "clawcgi_upstream_timeouts_total{provider=\"quick\"}")" = 1 ] &&
	[ "$(value "clawcgi_upstream_errors_total{provider=\"quick\"}")" = 1 ] &&
	[ "$(value "$(req chat_completions slow 504)")" = 1 ]
'
test_expect 'another address without the key: 401 with an OpenAI error body' '
	cgi "$T/clawcgi.json5" 192.0.2.7 && [ "$status" = 401 ] &&
	python3 -c "import json,sys; assert json.load(open(sys.argv[1]))[\"error\"][\"type\"] == \"unauthorized\"" "$T/cgi.body" &&
	cgi "$T/clawcgi.json5" 192.0.2.7 wrong-key && [ "$status" = 401 ]
'
test_expect 'with the key from another address, in a process of its own: the same view' '
	cgi "$T/clawcgi.json5" 192.0.2.7 "$tok" && [ "$status" = 200 ] &&
	cp "$T/cgi.body" "$T/last.body" &&
	[ "$(value "$(req chat_completions main 200)")" = 13 ] &&
	[ "$(value "$(req metrics "" 401)")" = 2 ] &&
	[ "$(value clawcgi_auth_failures_total)" = 3 ]
'
# maxAttempts is 3; the request without a key tried no secret and was not
# counted by the throttle (only by the metrics): wrong-key was the first.
test_expect 'lockouts are counted' '
	cgi "$T/clawcgi.json5" 192.0.2.7 wrong-again && [ "$status" = 401 ] &&
	cgi "$T/clawcgi.json5" 192.0.2.7 wrong-third && [ "$status" = 401 ] &&
	cgi "$T/clawcgi.json5" 192.0.2.7 "$tok" && [ "$status" = 429 ] &&
	scrape && [ "$(value clawcgi_auth_lockouts_total)" = 1 ] &&
	[ "$(value "$(req metrics "" 429)")" = 1 ]
'
test_expect 'no secret in any label' '
	scrape && ! grep -q -e "$tok" -e wrong-key -e agent:main "$T/last.body"
'
test_expect 'a segment that cannot be used: requests still served, /metrics 503' '
	rm -f "$seg" && mkdir "$seg" && cgi "$T/clawcgi.json5" 127.0.0.1 && [ "$status" = 503 ] &&
	grep -q "serving without metrics" "$T/cgi.err" &&
	printf "%s" "$chat" | env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
		SCRIPT_NAME=/v1/chat/completions REMOTE_ADDR=127.0.0.1 CONTENT_LENGTH=${#chat} \
		HTTP_AUTHORIZATION="Bearer $tok" OPENCLAW_GATEWAY_TOKEN=$tok \
		CLAWCGI_CONFIG="$T/clawcgi.json5" "$CLAWCGI_BIN" 2>/dev/null | grep -q "^Status: 200"
'
rmdir "$seg" 2>/dev/null
stop_stack
rm -f "$seg"
test_done
