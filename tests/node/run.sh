#!/bin/sh
# Real clients of clawcgi behind the web server: the official OpenAI Node
# SDK (client.test.mjs, on the machine's Node) and the Vercel AI SDK
# (ai-sdk.test.mjs, on Node 22 from the npm package "node", as the SDK
# needs).  Installs them into tests/node/node_modules (from npm) on first use.
test_description='the OpenAI Node SDK and the Vercel AI SDK against the stack'
cd "$(dirname "$0")/../e2e" || exit 1
. ./lib.sh

NODE_DIR=$srcdir/tests/node
if ! command -v node >/dev/null 2>&1; then
	echo "not ok - node is installed (apt-get install nodejs npm)"
	exit 1
fi
installed() {
	[ -d "$1/node_modules/openai" ] && [ -d "$1/node_modules/ai" ] &&
		[ -d "$1/node_modules/@ai-sdk/openai" ] && [ -x "$1/node_modules/.bin/node" ]
}
npm_install "$NODE_DIR" "the clients" installed
NODE_DIR=$NPM_DIR

export OPENCLAW_GATEWAY_TOKEN=test-token-node-123
start_upstream
write_config "$T/clawcgi.json5" <<'CONF'
{
  gateway: { auth: { mode: "token", token: "${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true }, responses: { enabled: true } } } },
  agents: { list: [ { id: "main", default: true, model: "fake/gpt-test", systemPrompt: "You are a test.",
                      embeddingModel: "fake/embed-test" },
                    { id: "echo", model: "echo/echo", embeddingModel: "echo/echo" },
                    { id: "beta", model: "fake/slow" },
                    { id: "tools", model: "fake/tools" }, { id: "tools2", model: "fake/tools2" },
                    { id: "reason", model: "fake/reason" },
                    { id: "claude", model: "claude/claude-test" }, { id: "claudetools", model: "claude/tools" } ] },
  models: { providers: {
    fake: { api: "openai-completions", baseUrl: "@UPSTREAM@", apiKey: "sk-test-upstream-key" },
    // the fake answers the Messages API at any path ending in /v1/messages
    claude: { api: "anthropic-messages", baseUrl: "@UPSTREAM@", apiKey: "sk-ant-test-key" },
    echo: { api: "echo" },
  } },
  session: { store: "@T@/sessions.db" },
}
CONF
start_stack "$T/clawcgi.json5"
rc=0
node "$NODE_DIR/client.test.mjs" "$BASE" "$OPENCLAW_GATEWAY_TOKEN" || rc=1
node "$NODE_DIR/responses.test.mjs" "$BASE" "$OPENCLAW_GATEWAY_TOKEN" || rc=1
node "$NODE_DIR/embeddings.test.mjs" "$BASE" "$OPENCLAW_GATEWAY_TOKEN" || rc=1
"$NODE_DIR/node_modules/.bin/node" "$NODE_DIR/ai-sdk.test.mjs" "$BASE" "$OPENCLAW_GATEWAY_TOKEN" || rc=1
"$NODE_DIR/node_modules/.bin/node" "$NODE_DIR/ai-sdk-responses.test.mjs" "$BASE" "$OPENCLAW_GATEWAY_TOKEN" || rc=1
stop_stack
exit $rc
