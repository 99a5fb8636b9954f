#!/bin/sh
test_description='no configured secret leaves the process: upstream errors, command stderr, config syntax errors'
# the error log is written two ways (FastCGI's error stream, a CGI
# process's stderr)
# servers: lighttpd cgi
. ./lib.sh

# made-up secrets, each masked as its first 4 characters and an ellipsis
export OPENCLAW_GATEWAY_TOKEN=test-token-secrets-5f6e7d8c9b
# (the provider's written into the file: the web server passes on only some
# of its environment)
PROVIDER_KEY=sk-made-up-provider-key-0a1b2c3d4e5f
ANTHROPIC_KEY=sk-ant-made-up-key-6g7h8i9j0k
ORG_SECRET=org-secret-header-value-112233
# a credential configured as a whole Authorization header: an upstream
# quotes the token without its scheme
BEARER_SECRET=sk-made-up-bearer-in-header-44556677
tok=$OPENCLAW_GATEWAY_TOKEN
ell=$(printf '\342\200\246')
start_upstream
write_config "$T/clawcgi.json5" <<CONF
{
  gateway: { auth: { token: "\${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true },
                                  responses: { enabled: true } } } },
  agents: { list: [
    { id: "main", default: true, model: "fake/gpt-test", embeddingModel: "fake/embed-leak" },
    { id: "leak", model: "fake/leak-key" },
    { id: "leakmid", model: "fake/leak-key-mid" },
    { id: "claude", model: "claude/leak-key" },
    { id: "cmd", model: "cmd/x" },
    { id: "hdr", model: "hdr/leak-key" },
    { id: "utf16", model: "fake/leak-key-utf16" },
  ] },
  models: { providers: {
    fake: { api: "openai-completions", baseUrl: "@UPSTREAM@", apiKey: "$PROVIDER_KEY",
            headers: { "X-Org-Secret": "$ORG_SECRET" }, retries: 0 },
    hdr: { api: "openai-completions", baseUrl: "@UPSTREAM@", retries: 0,
           headers: { Authorization: "Bearer $BEARER_SECRET" } },
    claude: { api: "anthropic-messages", baseUrl: "@UPSTREAM@", apiKey: "$ANTHROPIC_KEY", retries: 0 },
    cmd: { api: "command", retries: 0, env: { LEAK: "\${OPENCLAW_GATEWAY_TOKEN}" },
           command: ["sh", "-c", "cat >/dev/null; echo \\"cmd says the token is \$LEAK\\" >&2; exit 4"] },
  } },
  session: { store: "@T@/sessions.db" },
}
CONF
start_stack "$T/clawcgi.json5"
msg() { printf '{"model":"openclaw:%s","stream":%s,"messages":[{"role":"user","content":"hi"}]}' "$1" "$2"; }
rq() { printf '{"model":"openclaw:%s","stream":%s,"input":"hi"}' "$1" "$2"; }

# no_secret FILE...: none of the configured secrets, nor their second
# halves, is in FILE
no_secret() {
	for _s in "$OPENCLAW_GATEWAY_TOKEN" "$PROVIDER_KEY" "$ANTHROPIC_KEY" "$ORG_SECRET" \
		"$BEARER_SECRET" made-up-provider-key made-up-key-6g7 secret-header-value \
		token-secrets-5f bearer-in-header; do
		if grep -qF -- "$_s" "$@"; then
			echo "# '$_s' is in $*:" && grep -F -- "$_s" "$@" | head -3
			return 1
		fi
	done
}
# masked_in PREFIX FILE: PREFIX and the ellipsis are in FILE (lighttpd
# writes a log line's non-ASCII bytes as \xHH)
masked_in() {
	grep -qF -e "$1$ell" -e "$1\\xe2\\x80\\xa6" "$2" || { echo "# no '$1$ell' in $2"; return 1; }
}

test_expect 'chat: an upstream 401 quoting the key is a 502 that shows only its masked form' '
	post /v1/chat/completions "$tok" "$(msg leak false)" && expect_status 502 &&
	expect_body_contains "Incorrect API key provided" && no_secret "$T/last.body" &&
	masked_in sk-m "$T/last.body" && masked_in org- "$T/last.body"
'
test_expect 'chat streamed: the 401 before the stream began is masked the same' '
	stream /v1/chat/completions "$tok" "$(msg leak true)" && expect_status 502 &&
	no_secret "$T/last.body" && masked_in sk-m "$T/last.body"
'
test_expect 'chat streamed: an error event quoting the key mid-stream, cut across two reads, is masked' '
	stream /v1/chat/completions "$tok" "$(msg leakmid true)" && expect_status 200 &&
	python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --error upstream_error --content partial &&
	no_secret "$T/stream.txt" && masked_in sk-m "$T/stream.txt"
'
test_expect 'responses: the 502 and the streamed failure show only the masked key' '
	post /v1/responses "$tok" "$(rq leak false)" && expect_status 502 &&
	no_secret "$T/last.body" && masked_in sk-m "$T/last.body" &&
	stream /v1/responses "$tok" "$(rq leakmid true)" && expect_status 200 &&
	grep -q "response.failed\|\"error\"" "$T/stream.txt" &&
	no_secret "$T/stream.txt" && masked_in sk-m "$T/stream.txt"
'
test_expect 'embeddings: an upstream 401 quoting the key is a masked 502' '
	post /v1/embeddings "$tok" "{\"input\":\"hi\"}" && expect_status 502 &&
	no_secret "$T/last.body" && masked_in sk-m "$T/last.body"
'
test_expect 'anthropic: a 401 quoting the x-api-key is a masked 502' '
	post /v1/chat/completions "$tok" "$(msg claude false)" && expect_status 502 &&
	no_secret "$T/last.body" && masked_in sk-a "$T/last.body"
'
test_expect 'a header value "Bearer TOKEN": an upstream 401 quoting the token alone is masked' '
	post /v1/chat/completions "$tok" "$(msg hdr false)" && expect_status 502 &&
	expect_body_contains "Incorrect API key provided" && no_secret "$T/last.body" &&
	masked_in sk-m "$T/last.body"
'
test_expect 'an upstream 401 in UTF-16 (a NUL byte after each letter of the key) shows no key' '
	post /v1/chat/completions "$tok" "$(msg utf16 false)" && expect_status 502 &&
	tr -d " " <"$T/last.body" >"$T/squeezed" && no_secret "$T/squeezed" &&
	expect_body_contains "Incorrect API key provided" && masked_in sk-m "$T/last.body"
'
test_expect 'a command provider that prints the gateway token on stderr: the log has it masked' '
	post /v1/chat/completions "$tok" "$(msg cmd false)" && expect_status 502 &&
	no_secret "$T/last.body" &&
	grep "cmd says the token is" "$SERVER_LOG" >"$T/cmd.log" && masked_in "token is test" "$T/cmd.log"
'
test_expect "the $SERVER error log holds none of the secrets" '
	grep -q "Incorrect API key provided" "$SERVER_LOG" && no_secret "$SERVER_LOG"
'

# a password in a baseUrl's user part (libcurl sends it as Basic credentials)
sed -e "s|baseUrl: \"$UPSTREAM_URL\", retries: 0,|baseUrl: \"http://proxyuser:pw-made-up-in-url-99887766@127.0.0.1:1/v1\", retries: 0,|" \
	"$T/clawcgi.json5" >"$T/userinfo.json5"
test_expect 'check-config shows a baseUrl with its password masked' '
	grep -q pw-made-up-in-url "$T/userinfo.json5" &&
	{ "$CLAWCGI_BIN" check-config "$T/userinfo.json5" >"$T/ui.out" 2>&1 || { cat "$T/ui.out"; false; }; } &&
	grep -q "baseUrl http://proxyuser:\*\*\*\*\*\*@127.0.0.1:1/v1" "$T/ui.out" &&
	! grep -q "pw-made-up-in-url" "$T/ui.out"
'

# An unquoted key in an edited file: the serving process re-reads it.
sed -e "s|apiKey: \"$PROVIDER_KEY\"|apiKey: sk_live_madeup0123456789abcdef|" \
	"$T/clawcgi.json5" >"$T/edited.json5"
test_expect 'check-config on an unquoted apiKey names line, column and kind, not the text' '
	! "$CLAWCGI_BIN" check-config "$T/edited.json5" >"$T/out" 2>&1 &&
	cat "$T/out" && grep -q "edited.json5:[0-9]*:[0-9]*: unexpected bare word" "$T/out" &&
	! grep -q "sk_live\|madeup0123" "$T/out"
'
test_expect 'the serving process that re-reads the edited file logs no part of it' '
	cp "$T/edited.json5" "$T/clawcgi.json5" && touch -d "@$(( $(date +%s) + 2 ))" "$T/clawcgi.json5" &&
	post /v1/chat/completions "$tok" "$(msg main false)" &&
	grep -q "clawcgi.json5:[0-9]*:[0-9]*: unexpected bare word" "$SERVER_LOG" &&
	! grep -q "sk_live\|madeup0123" "$SERVER_LOG"
'
test_done
