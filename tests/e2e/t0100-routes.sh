#!/bin/sh
test_description='routing on the path suffix, /healthz, /v1/models, 404 and 405'
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-routes
start_upstream
write_config "$T/clawcgi.json5" <<'CONF'
{
  gateway: { auth: { mode: "token", token: "${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [ { id: "main", default: true, model: "fake/gpt-test" },
                    { id: "beta", model: "fake/gpt-test" } ] },
  models: { providers: { fake: { api: "openai-completions", baseUrl: "@UPSTREAM@", apiKey: "sk-test-upstream" } } },
  session: { store: "@T@/sessions.db" },
}
CONF
start_stack "$T/clawcgi.json5"
tok=$OPENCLAW_GATEWAY_TOKEN

test_expect 'GET /healthz needs no auth and answers {"ok":true}' '
	get /healthz "" && expect_status 200 && expect_json .ok true
'
test_expect 'unknown path is 404 with an OpenAI error body' '
	get /v1/nope "$tok" && expect_status 404 && expect_json .error.type not_found &&
	expect_json .error.code null
'
test_expect 'a path that only starts like the endpoint is 404' '
	post /v1/chat/completions/extra "$tok" "{}" && expect_status 404
'
test_expect 'GET /v1/chat/completions is 405 with Allow: POST' '
	get /v1/chat/completions "$tok" && expect_status 405 && expect_header Allow POST &&
	expect_json .error.type invalid_request_error
'
test_expect 'PUT /v1/chat/completions is 405' '
	post /v1/chat/completions "$tok" "{}" -X PUT && expect_status 405 && expect_header Allow POST
'
test_expect 'GET /v1/models needs auth' '
	get /v1/models "" && expect_status 401 && expect_header WWW-Authenticate Bearer
'
test_expect 'GET /v1/models lists every agent' '
	get /v1/models "$tok" && expect_status 200 && expect_json .object list &&
	expect_json ".data[0].id" openclaw:main && expect_json ".data[1].id" openclaw:beta &&
	expect_json ".data[0].object" model
'
test_expect 'GET /v1/models/{id} finds an agent by its listed id' '
	get /v1/models/openclaw:beta "$tok" && expect_status 200 && expect_json .id openclaw:beta
'
test_expect 'GET /v1/models/{id} for an unknown agent is 404 model_not_found' '
	get /v1/models/openclaw:nosuch "$tok" && expect_status 404 &&
	expect_json .error.code model_not_found
'
test_expect 'POST /v1/models is 405' '
	post /v1/models "$tok" "{}" && expect_status 405
'
test_done
