#!/bin/sh
test_description='the chat page (www/) served beside the endpoint by the shipped configs, with its Content-Security-Policy'
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-page
tok=$OPENCLAW_GATEWAY_TOKEN
write_config "$T/clawcgi.json5" <<'CONF'
{
  gateway: { auth: { token: "${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [ { id: "main", model: "echo/echo" } ] },
  models: { providers: { echo: { api: "echo" } } },
  session: { store: "@T@/sessions.db" },
}
CONF
chat='{"model":"openclaw:main","messages":[{"role":"user","content":"hi page"}]}'

# expect_page_headers TYPE: the answer is 200, of that content type, with
# the page's CSP (only its own files, connect-src 'self', nothing inline).
expect_page_headers() {
	expect_status 200 && expect_header Content-Type "$1" &&
		expect_header Content-Security-Policy "default-src 'none'" &&
		expect_header Content-Security-Policy "script-src 'self';" &&
		expect_header Content-Security-Policy "style-src 'self';" &&
		expect_header Content-Security-Policy "connect-src 'self'" &&
		expect_header Content-Security-Policy "frame-ancestors 'none'" &&
		! grep -qi '^Content-Security-Policy:.*unsafe' "$T/last.headers"
}

# page_checks PREFIX: the page, its files and the endpoint under PREFIX
# (BASE holds it).
page_checks() {
	p=$1
	test_expect "GET $p/ is the page: text/html with the CSP" '
		get "/" "" && expect_page_headers text/html &&
		expect_body_contains "<meta name=\"clawcgi-api-base\"" &&
		expect_body_contains "src=\"chat.js\"" && ! grep -qi "<script>" "$T/last.body" &&
		! grep -qi " style=" "$T/last.body"
	'
	test_expect "GET $p/chat.js, $p/chat.css and $p/vendor/purify.min.js: their types, the CSP" '
		get /chat.js "" && expect_page_headers javascript && expect_body_contains "v1/chat/completions" &&
		get /chat.css "" && expect_page_headers text/css &&
		get /vendor/purify.min.js "" && expect_page_headers javascript && expect_body_contains DOMPurify &&
		get /vendor/marked.min.js "" && expect_status 200 && expect_body_contains marked
	'
	test_expect "the endpoint still answers beside the page under \"$p\"" '
		get /healthz "" && expect_status 200 && expect_json .ok true &&
		get /v1/models "$tok" && expect_status 200 && expect_json .data[0].id openclaw:main &&
		post /v1/chat/completions "$tok" "$chat" && expect_status 200 &&
		expect_json .choices[0].message.content "hi page"
	'
}

start_stack "$T/clawcgi.json5"
page_checks ""
test_expect 'only the page'"'"'s own files: www/README is not served' '
	get /README "" && ! expect_status 200 >/dev/null
'
stop_stack

# Shared hosting puts the page beside clawcgi.cgi in a directory such as
# /chat/; the others mount both under a prefix the same way.
start_stack "$T/clawcgi.json5" /chat
page_checks /chat
test_done
