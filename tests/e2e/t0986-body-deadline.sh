#!/bin/sh
test_description='the body deadline on both transports, driven directly: FastCGI (clawcgi serve) and CGI'
# servers: lighttpd
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-deadline
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
write_config "$T/clawcgi.json5" <<'CONF'
{
  gateway: { auth: { token: "${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true, bodyTimeoutSeconds: 2 } } } },
  agents: { list: [ { id: "main", default: true, model: "fake/gpt-test" } ] },
  models: { providers: { fake: { api: "openai-completions", baseUrl: "@UPSTREAM@" } } },
  server: { threads: 1 },
}
CONF
start_serve "$T/clawcgi.json5"
fcgi() { fcgi_chat "$@" >"$T/fcgi.out"; } # BODY-BYTES SEND-BYTES WAIT

test_expect 'FastCGI: a body that stops coming is 408 after bodyTimeoutSeconds, naming it' '
	t0=$(date +%s%N) && fcgi 1000 10 8 && t1=$(date +%s%N) &&
	head -n 3 "$T/fcgi.out" | sed "s/^/# /" &&
	grep -q "^Status: 408" "$T/fcgi.out" && grep -q "bodyTimeoutSeconds" "$T/fcgi.out" &&
	ms=$(( (t1 - t0) / 1000000 )) && echo "# after $ms ms" && test "$ms" -ge 1800 && test "$ms" -lt 5000
'
test_expect 'FastCGI: the one worker is free again at once for the next request' '
	fcgi 10 10 5 && grep -q "^Status: 400" "$T/fcgi.out" && grep -q "not valid JSON" "$T/fcgi.out"
'
test_expect 'CGI: a body that stops coming is 408 after bodyTimeoutSeconds' '
	rm -f "$T/in.fifo" && mkfifo "$T/in.fifo" &&
	{ { printf "{\"messages\"" && sleep 6; } >"$T/in.fifo" & } &&
	writer=$! && remember_pid $writer &&
	t0=$(date +%s%N) &&
	env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST SCRIPT_NAME=/clawcgi PATH_INFO=/v1/chat/completions \
		CONTENT_LENGTH=1000 CONTENT_TYPE=application/json "HTTP_AUTHORIZATION=Bearer $tok" \
		CLAWCGI_CONFIG="$T/clawcgi.json5" "$CLAWCGI_BIN" <"$T/in.fifo" >"$T/cgi.out" 2>"$T/cgi.err" &&
	t1=$(date +%s%N) && { kill $writer 2>/dev/null || :; } &&
	head -n 3 "$T/cgi.out" | sed "s/^/# /" &&
	grep -q "^Status: 408" "$T/cgi.out" &&
	ms=$(( (t1 - t0) / 1000000 )) && echo "# after $ms ms" && test "$ms" -ge 1800 && test "$ms" -lt 5000
'
test_done
