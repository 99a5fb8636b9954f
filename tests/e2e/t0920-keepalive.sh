#!/bin/sh
test_description='upstream connections are reused by each worker thread'
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-reuse
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
write_config "$T/clawcgi.json5" <<'CONF'
{
  gateway: { auth: { token: "${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [ { id: "main", model: "fake/gpt-test" } ] },
  models: { providers: { fake: { api: "openai-completions", baseUrl: "@UPSTREAM@" } } },
  session: { store: "@T@/sessions.db" },
  server: { threads: 1 },
}
CONF
if [ "$SERVER" = cgi ]; then
	test_skip 'upstream connections are reused' 'a CGI process answers one request and exits with its connection'
	test_done
fi
start_stack "$T/clawcgi.json5"

test_expect '20 sequential requests, streaming and not: one connection per worker process' '
	before=$(upstream_stat connections) &&
	for i in $(seq 10); do
		post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"n$i\"}]}" && expect_status 200 || return 1
		stream /v1/chat/completions "$tok" "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"s$i\"}]}" && expect_status 200 || return 1
	done &&
	used=$(( $(upstream_stat connections) - before - 1 )) && echo "# $used upstream connections for 20 requests (behind $SERVER: at most 2 processes x 1 thread)" &&
	test "$used" -ge 1 && test "$used" -le 2
'
test_done
