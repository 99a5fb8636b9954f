#!/bin/sh
test_description='the stack starts: the web server runs clawcgi, /healthz answers, unknown paths are 404'
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-123
start_upstream
write_config "$T/clawcgi.json5" <<'CONF'
{
  gateway: {
    auth: { mode: "token", token: "${OPENCLAW_GATEWAY_TOKEN}" },
    http: { endpoints: { chatCompletions: { enabled: true } } },
  },
  agents: {
    list: [
      { id: "main", default: true, model: "fake/gpt-test", systemPrompt: "You are a test." },
      { id: "beta", model: "fake/slow" },
    ],
  },
  models: {
    providers: {
      fake: { api: "openai-completions", baseUrl: "@UPSTREAM@", apiKey: "sk-test-upstream-key" },
    },
  },
  session: { store: "@T@/sessions.db" },
}
CONF
start_stack "$T/clawcgi.json5"

test_expect 'GET /healthz is 200 {"ok":true} without credentials' '
	get /healthz "" && expect_status 200 && expect_json .ok true
'
test_expect 'GET /v1/nope is 404 with an OpenAI error body, type not_found' '
	get /v1/nope "$OPENCLAW_GATEWAY_TOKEN" && expect_status 404 && expect_json .error.type not_found
'
# Each shipped server config hands only ^/(v1/|healthz) to clawcgi: any
# other path is the server's own (HTML) 404 and never reaches clawcgi.
test_expect 'GET /nope is 404 (from the web server: outside the mapped paths)' '
	get /nope "$OPENCLAW_GATEWAY_TOKEN" && expect_status 404
'
test_done
