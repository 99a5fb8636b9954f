#!/bin/sh
test_description='streaming: SSE framing, deltas arriving as they come, errors mid-stream'
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-stream
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
down=$(free_port)
write_config "$T/clawcgi.json5" <<CONF
{
  gateway: { auth: { token: "\${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [
    { id: "main", default: true, model: "fake/gpt-test" },
    { id: "slow", model: "fake/slow" },
    { id: "echo", model: "echo/echo" },
    { id: "down", model: "nowhere/m" },
    { id: "cached", model: "fake/cached" },
  ] },
  models: { providers: {
    fake: { api: "openai-completions", baseUrl: "@UPSTREAM@", apiKey: "sk-test-upstream-key" },
    nowhere: { api: "openai-completions", baseUrl: "http://127.0.0.1:$down/v1" },
    echo: { api: "echo" },
  } },
  session: { store: "@T@/sessions.db" },
}
CONF
start_stack "$T/clawcgi.json5"
req() { printf '{"model":"%s","stream":true,"messages":[{"role":"user","content":"%s"}]%s}' "$1" "$2" "${3:-}"; }

# nginx acts on X-Accel-Buffering and does not pass it on to the client.
test_expect 'stream headers: event-stream, no-cache, X-Accel-Buffering: no' '
	stream /v1/chat/completions "$tok" "$(req openclaw hello)" && expect_status 200 &&
	expect_header Content-Type text/event-stream && expect_header Cache-Control no-cache &&
	{ [ "$SERVER" = nginx ] || expect_header X-Accel-Buffering no; }
'
test_expect 'role chunk, one chunk per delta, finish chunk, [DONE]' '
	python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --content "fake: hello" --finish stop --deltas 3
'
test_expect 'all chunks share one id and created' '
	python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --same-id
'
test_expect 'streaming was asked of the upstream, with usage' '
	upstream_last_json .body.stream true && upstream_last_json .body.stream_options.include_usage true
'
test_expect 'include_usage adds a usage chunk with empty choices before [DONE]' '
	stream /v1/chat/completions "$tok" "$(req openclaw hi ",\"stream_options\":{\"include_usage\":true}")" &&
	python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --usage 11,7,18
'
test_expect 'without include_usage there is no usage chunk' '
	stream /v1/chat/completions "$tok" "$(req openclaw hi)" &&
	python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --no-usage
'
test_expect 'deltas 300 ms apart upstream reach the client spread over time' '
	stream /v1/chat/completions "$tok" "$(req openclaw:slow hi)" && expect_status 200 &&
	spread=$(stream_spread) && echo "# spread $spread s" &&
	python3 -c "import sys; sys.exit(0 if float(\"$spread\") >= 0.45 else 1)"
'
test_expect 'the echo provider streams word by word' '
	stream /v1/chat/completions "$tok" "$(req openclaw:echo "one two three")" &&
	python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --content "one two three" --deltas 3
'
test_expect 'upstream down before the stream began: a real 502' '
	stream /v1/chat/completions "$tok" "$(req openclaw:down hi)" && expect_status 502 &&
	expect_json .error.type upstream_error
'
test_expect 'upstream 500 before the stream began: a real 502 with its message' '
	stream /v1/chat/completions "$tok" "$(req openclaw hi)" -H "x-openclaw-model: fake/error-500" &&
	expect_status 502 && expect_body_contains "fake upstream exploded"
'
test_expect 'a stream cut by the upstream ends with an error event, then [DONE]' '
	stream /v1/chat/completions "$tok" "$(req openclaw hi)" -H "x-openclaw-model: fake/cut" &&
	expect_status 200 && python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --error upstream_error --content partial
'
test_expect 'garbage from the upstream mid-stream: error event, then [DONE]' '
	stream /v1/chat/completions "$tok" "$(req openclaw hi)" -H "x-openclaw-model: fake/garbage" &&
	expect_status 200 && python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --error upstream_error
'
test_expect 'the service goes on after the failures' '
	stream /v1/chat/completions "$tok" "$(req openclaw again)" &&
	python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --content "fake: again" --finish stop
'
test_expect 'the usage chunk relays prompt_tokens_details and completion_tokens_details' '
	stream /v1/chat/completions "$tok" "$(req openclaw:cached hi ",\"stream_options\":{\"include_usage\":true}")" &&
	python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --usage 2011,7,2018 --usage-json "{\"prompt_tokens\": 2011, \"completion_tokens\": 7, \"total_tokens\": 2018, \"prompt_tokens_details\": {\"cached_tokens\": 2000, \"audio_tokens\": 3}, \"completion_tokens_details\": {\"reasoning_tokens\": 5, \"audio_tokens\": 0, \"accepted_prediction_tokens\": 1, \"rejected_prediction_tokens\": 2}}"
'
test_done
