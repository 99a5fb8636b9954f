#!/bin/sh
test_description='more streams than the workers hold: the web server queues the rest, every one is answered whole, no descriptor reaches 1024'
# servers: lighttpd
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-capacity
tok=$OPENCLAW_GATEWAY_TOKEN
# an upstream that holds hundreds of streams at once (asyncio)
python3 "$srcdir/bench/stream_upstream.py" --port-file "$T/up.port" 2>"$T/up.err" &
remember_pid $!
_wait_file "$T/up.port" 10 || _bail "the stream upstream did not start" "$T/up.err"
up=$(cat "$T/up.port")
write_config "$T/clawcgi.json5" <<CONF
{
  gateway: { auth: { token: "\${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [ { id: "main", default: true, model: "up/ticks-8-250" } ] },
  models: { providers: { up: { api: "openai-completions", baseUrl: "http://127.0.0.1:$up/v1" } } },
}
CONF
start_stack "$T/clawcgi.json5"
# lighttpd starts its processes with it: wait for both
for _i in $(seq 50); do [ "$(stack_pids | wc -w)" -ge 2 ] && break; sleep 0.1; done
# max-procs 2 in the shipped lighttpd config, 124 threads each by default
capacity=248
streams=400

test_expect "$streams streams of 2 s at once: all 200 and whole" '
	python3 "$srcdir/bench/streams.py" --port "$SERVER_PORT" --token "$tok" --count $streams \
		--model openclaw --sample-after 1 --pids "$(stack_pids)" >"$T/streams.json" &&
	_json "$T/streams.json" .whole >"$T/whole" && test "$(cat "$T/whole")" = $streams
'
test_expect "no more than the workers hold ever reached the model at once (the rest waited)" '
	max=$(curl -sS "http://127.0.0.1:$up/v1/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)[\"max_open\"])") &&
	echo "# at most $max streams open upstream at once" &&
	test "$max" -le $capacity && test "$max" -ge $((capacity / 2))
'
if [ -n "${CLAWCGI_WRAPPER:-}" ]; then
	test_skip "while busy, no worker had a descriptor past 1023" \
		"under a wrapper (valgrind) the process also holds the wrapper's own descriptors, at the top of the range"
else
test_expect "while busy, no worker had a descriptor past 1023" '
	_json "$T/streams.json" .sample.max_fd >"$T/maxfd" &&
	echo "# highest descriptor: $(cat "$T/maxfd")" &&
	test "$(cat "$T/maxfd")" -gt 100 && test "$(cat "$T/maxfd")" -lt 1024
'
fi
test_expect "no worker failed to accept or stopped" '
	! grep -E "accept failed|cannot accept|thread stops" "$T"/*.log 2>/dev/null
'
test_done
