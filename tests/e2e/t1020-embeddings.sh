#!/bin/sh
test_description='POST /v1/embeddings: agents, inputs, encodings, the echo vectors, upstream failures, every 400'
# the mapping is clawcgi's own, the same behind every server; nginx for
# its client-leaves case, which only nginx reports for a non-streamed request
# servers: lighttpd nginx cgi
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-embeddings
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
down=$(free_port)
write_config "$T/clawcgi.json5" <<CONF
{
  gateway: { auth: { token: "\${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [
    { id: "main", default: true, model: "fake/gpt-test", systemPrompt: "Not for embeddings.",
      embeddingModel: "fake/embed-test" },
    { id: "echo", model: "echo/echo", embeddingModel: "echo/echo" },
    { id: "plain", model: "fake/gpt-test" },
    { id: "claude", model: "claude/c", embeddingModel: "claude/embed" },
    { id: "cmd", model: "echo/echo", embeddingModel: "cmd/embed" },
    { id: "down", model: "echo/echo", embeddingModel: "nowhere/embed" },
    { id: "slow", model: "echo/echo", embeddingModel: "quick/embed-hang" },
  ] },
  models: { providers: {
    fake: { api: "openai-completions", baseUrl: "@UPSTREAM@", apiKey: "sk-test-upstream-key",
            headers: { "X-Test-Header": "from-config" } },
    other: { api: "openai-completions", baseUrl: "@UPSTREAM@", apiKey: "sk-other" },
    claude: { api: "anthropic-messages", baseUrl: "@UPSTREAM@", apiKey: "sk-ant" },
    cmd: { api: "command", command: ["/bin/cat"] },
    nowhere: { api: "openai-completions", baseUrl: "http://127.0.0.1:$down/v1", connectTimeoutSeconds: 2 },
    quick: { api: "openai-completions", baseUrl: "@UPSTREAM@", timeoutSeconds: 1, retries: 0 },
    echo: { api: "echo" },
  } },
  session: { store: "@T@/sessions.db" },
}
CONF
start_stack "$T/clawcgi.json5"

emb() { _b=$1; shift; post /v1/embeddings "$tok" "$_b" "$@"; }

# vector N: data[N].embedding of the last body as a JSON list of floats
# (a base64 string decoded as little-endian float32s).
vector() {
	python3 - "$T/last.body" "$1" <<'PY'
import base64, json, struct, sys
e = json.load(open(sys.argv[1]))["data"][int(sys.argv[2])]["embedding"]
if isinstance(e, str):
    raw = base64.b64decode(e, validate=True)
    e = struct.unpack("<%df" % (len(raw) // 4), raw)
else:  # the float32 each number stands for, as base64 would give it
    e = [struct.unpack("<f", struct.pack("<f", x))[0] for x in e]
print(json.dumps([float(x) for x in e]))
PY
}

# echo_check DIMS TEXT...: the last body holds one vector per TEXT, in
# order, each the echo provider's recipe (README, "POST /v1/embeddings")
# for that text with DIMS numbers, as numbers or base64.
echo_check() {
	python3 - "$T/last.body" "$@" <<'PY'
import base64, json, math, struct, sys
M = (1 << 64) - 1
def recipe(text, n):
    h = 0xcbf29ce484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001b3) & M
    state, xs = h, []
    for _ in range(n):
        state = (state + 0x9e3779b97f4a7c15) & M
        z = state
        z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
        z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
        z ^= z >> 31
        xs.append((z >> 40) / 8388608.0 - 1.0)
    norm = math.sqrt(sum(x * x for x in xs))
    return [x / norm for x in xs]
data = json.load(open(sys.argv[1]))["data"]
dims, texts = int(sys.argv[2]), sys.argv[3:]
if len(data) != len(texts):
    sys.exit("# %d vectors, wanted %d" % (len(data), len(texts)))
for i, (d, text) in enumerate(zip(data, texts)):
    e = d["embedding"]
    if isinstance(e, str):
        raw = base64.b64decode(e, validate=True)
        e = struct.unpack("<%df" % (len(raw) // 4), raw)
    want = recipe(text, dims)
    if d["index"] != i or d["object"] != "embedding" or len(e) != dims or \
            any(abs(a - b) > 1e-6 for a, b in zip(e, want)):
        sys.exit("# data[%d] is %s, wanted index %d and %s" % (i, json.dumps(d), i, want))
    if abs(math.sqrt(sum(x * x for x in e)) - 1) > 1e-5:
        sys.exit("# data[%d] is not of length 1" % i)
PY
}

# leave_embeddings BODY MODEL: POST BODY with x-openclaw-model MODEL, and
# close the connection once the upstream has the request (at most 10 s).
leave_embeddings() {
	python3 - "$BASE/v1/embeddings" "$tok" "$1" "$2" "$UPSTREAM_LOG" "$(upstream_count)" <<'PY'
import socket, sys, time, urllib.parse
url, tok, body, model, log, before = sys.argv[1:7]
u = urllib.parse.urlparse(url)
s = socket.create_connection((u.hostname, u.port), 10)
s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/json\r\nx-openclaw-model: %s\r\n"
           "Content-Length: %d\r\n\r\n%s" % (u.path, tok, model, len(body), body)).encode())
end = time.monotonic() + 10
while sum(1 for _ in open(log)) <= int(before) and time.monotonic() < end:
    time.sleep(0.05)
time.sleep(0.2)
s.close()
PY
}

# many N ITEM: a body whose input is an array of N copies of ITEM (JSON).
many() {
	python3 -c 'import sys; print("{\"input\":[" + ",".join([sys.argv[2]] * int(sys.argv[1])) + "]%s}" % sys.argv[3])' "$1" "$2" "${3:-}" >"$T/many.json"
}

test_expect 'a string: the OpenAI embedding list, the upstream vector, its usage' '
	emb "{\"model\":\"openclaw\",\"input\":\"hello\"}" && expect_status 200 &&
	expect_header Content-Type application/json &&
	expect_json .object list && expect_json .model openclaw &&
	expect_json ".data[0].object" embedding && expect_json ".data[0].index" 0 &&
	test "$(vector 0)" = "[0.5, 5.0, 0.25, -1.0]" &&
	expect_json ".data[1]" "(absent)" &&
	expect_json .usage.prompt_tokens 9 && expect_json .usage.total_tokens 9
'
test_expect 'upstream: POST .../embeddings with the model id, the input, the key and the headers, nothing more' '
	upstream_last_json .path /v1/embeddings && upstream_last_json .body.model embed-test &&
	upstream_last_json .body.input hello &&
	upstream_last_json .headers.authorization "Bearer sk-test-upstream-key" &&
	upstream_last_json ".headers[\"x-test-header\"]" from-config &&
	upstream_last_json .body "{\"model\": \"embed-test\", \"input\": \"hello\"}"
'
test_expect 'an array of strings: one vector per string, by index' '
	emb "{\"input\":[\"a\",\"bb\",\"ccc\"]}" && expect_status 200 &&
	expect_json ".data[2].index" 2 && expect_json ".data[3]" "(absent)" &&
	test "$(vector 0)" = "[0.5, 1.0, 0.25, -1.0]" && test "$(vector 2)" = "[2.5, 3.0, 0.25, -1.0]" &&
	upstream_last_json .body.input "[\"a\", \"bb\", \"ccc\"]"
'
test_expect 'an array of token ids is one input' '
	emb "{\"input\":[11,22,33]}" && expect_status 200 && expect_json ".data[1]" "(absent)" &&
	test "$(vector 0)" = "[0.5, 3.0, 0.25, -1.0]" && upstream_last_json .body.input "[11, 22, 33]"
'
test_expect 'an array of token arrays: one vector each' '
	emb "{\"input\":[[1,2],[3,4,5]]}" && expect_status 200 &&
	test "$(vector 0)" = "[0.5, 2.0, 0.25, -1.0]" && test "$(vector 1)" = "[1.5, 3.0, 0.25, -1.0]" &&
	upstream_last_json .body.input "[[1, 2], [3, 4, 5]]"
'
test_expect 'encoding_format base64: asked upstream, its base64 passed on' '
	emb "{\"input\":[\"hello\",\"hi\"],\"encoding_format\":\"base64\"}" && expect_status 200 &&
	upstream_last_json .body.encoding_format base64 &&
	expect_json ".data[1].embedding" "$(python3 -c "import base64,struct; print(base64.b64encode(struct.pack(\"<4f\", 1.5, 2, 0.25, -1)).decode())")" &&
	test "$(vector 0)" = "[0.5, 5.0, 0.25, -1.0]"
'
test_expect 'encoding_format base64 of an upstream that sends numbers: encoded here' '
	emb "{\"input\":\"hello\",\"encoding_format\":\"base64\"}" -H "x-openclaw-model: fake/embed-float" &&
	expect_status 200 && expect_json_match ".data[0].embedding" "^[A-Za-z0-9+/]+=*$" &&
	test "$(vector 0)" = "[0.5, 5.0, 0.25, -1.0]"
'
test_expect 'encoding_format float and dimensions are passed upstream, user is not' '
	emb "{\"input\":[\"a\",\"b\"],\"encoding_format\":\"float\",\"dimensions\":6,\"user\":\"alice\"}" \
		-H "x-openclaw-model: fake/embed-echo" && expect_status 200 &&
	test "$(vector 1)" = "[2.0, 6.0, 1.0, 0.0]" &&
	upstream_last_json .body.dimensions 6 && upstream_last_json .body.encoding_format float &&
	upstream_last_json .body.user "(absent)"
'
test_expect 'dimensions shape the upstream vector' '
	emb "{\"input\":\"abc\",\"dimensions\":6}" && expect_status 200 &&
	test "$(vector 0)" = "[0.5, 3.0, 0.25, -1.0, 0.125, 0.125]"
'
test_expect 'model openclaw:echo picks the echo agent; model is echoed' '
	emb "{\"model\":\"openclaw:echo\",\"input\":\"hello world\"}" && expect_status 200 &&
	expect_json .model openclaw:echo && echo_check 8 "hello world"
'
test_expect 'the x-openclaw-agent-id header picks the agent, over the model' '
	n=$(upstream_count) &&
	emb "{\"model\":\"openclaw:main\",\"input\":\"hello world\"}" -H "x-openclaw-agent-id: echo" &&
	expect_status 200 && echo_check 8 "hello world" && test "$(upstream_count)" = "$n"
'
test_expect 'echo: the same text gives the same vector, another text another' '
	emb "{\"model\":\"openclaw:echo\",\"input\":\"same text\"}" && v1=$(vector 0) &&
	emb "{\"model\":\"openclaw:echo\",\"input\":\"same text\"}" && v2=$(vector 0) &&
	emb "{\"model\":\"openclaw:echo\",\"input\":\"other text\"}" && v3=$(vector 0) &&
	test "$v1" = "$v2" && test "$v1" != "$v3" && echo "# $v1"
'
test_expect 'echo: the documented recipe, for several inputs, with dimensions' '
	emb "{\"model\":\"openclaw:echo\",\"input\":[\"one\",\"two\",\"three four\"],\"dimensions\":3}" &&
	expect_status 200 && echo_check 3 one two "three four" &&
	emb "{\"model\":\"openclaw:echo\",\"input\":\"x\",\"dimensions\":1536}" &&
	expect_status 200 && echo_check 1536 x
'
test_expect 'echo: base64 holds the same float32 values as the numbers' '
	emb "{\"model\":\"openclaw:echo\",\"input\":\"hello\"}" && v1=$(vector 0) &&
	emb "{\"model\":\"openclaw:echo\",\"input\":\"hello\",\"encoding_format\":\"base64\"}" &&
	expect_status 200 && expect_json_match ".data[0].embedding" "^[A-Za-z0-9+/]{43}=$" &&
	test "$(vector 0)" = "$v1" && echo_check 8 hello
'
test_expect 'echo: a token array is hashed as its ids joined by spaces' '
	emb "{\"model\":\"openclaw:echo\",\"input\":[[1,2,3],[40]]}" && expect_status 200 &&
	echo_check 8 "1 2 3" 40 && v1=$(vector 0) &&
	emb "{\"model\":\"openclaw:echo\",\"input\":\"1 2 3\"}" && test "$(vector 0)" = "$v1"
'
test_expect 'echo: usage counts words, and token ids' '
	emb "{\"model\":\"openclaw:echo\",\"input\":[\" one  two\tthree \",\"four\"]}" &&
	expect_json .usage.prompt_tokens 4 && expect_json .usage.total_tokens 4 &&
	emb "{\"model\":\"openclaw:echo\",\"input\":[[1,2],[3]]}" && expect_json .usage.prompt_tokens 3
'
test_expect 'echo: 2048 inputs are fine' '
	many 2048 "\"w\"" ",\"model\":\"openclaw:echo\"" && emb "@$T/many.json" && expect_status 200 &&
	expect_json ".data[2047].index" 2047 && expect_json .usage.prompt_tokens 2048
'
test_expect 'echo: more than 2^20 numbers in one answer is a 400' '
	many 2048 "\"w\"" ",\"model\":\"openclaw:echo\",\"dimensions\":1024" && emb "@$T/many.json" &&
	expect_status 400 && expect_body_contains "echo provider" && expect_body_contains "dimensions"
'
test_expect 'x-openclaw-model names the embedding model, also for an agent without one' '
	emb "{\"model\":\"openclaw:plain\",\"input\":\"hi\"}" -H "x-openclaw-model: other/embed-x" &&
	expect_status 200 && upstream_last_json .body.model embed-x &&
	upstream_last_json .headers.authorization "Bearer sk-other"
'
test_expect 'x-openclaw-model naming an unknown provider, or malformed: 400' '
	emb "{\"input\":\"hi\"}" -H "x-openclaw-model: ghost/m" && expect_status 400 &&
	expect_json .error.type invalid_request_error && expect_body_contains "provider '"'"'ghost'"'"'" &&
	emb "{\"input\":\"hi\"}" -H "x-openclaw-model: no-slash" && expect_status 400 &&
	expect_body_contains "provider/model-id"
'
test_expect 'an agent without embeddingModel: 400 saying so' '
	emb "{\"model\":\"openclaw:plain\",\"input\":\"hi\"}" && expect_status 400 &&
	expect_json .error.type invalid_request_error &&
	expect_body_contains "'"'"'plain'"'"' has no embeddingModel"
'
test_expect 'an unknown agent: 404 model_not_found' '
	emb "{\"model\":\"openclaw:ghost\",\"input\":\"hi\"}" && expect_status 404 &&
	expect_json .error.code model_not_found && expect_body_contains ghost
'
test_expect 'an anthropic-messages embedding model: 400 naming the kind' '
	n=$(upstream_count) &&
	emb "{\"model\":\"openclaw:claude\",\"input\":\"hi\"}" && expect_status 400 &&
	expect_json .error.type invalid_request_error && expect_body_contains anthropic-messages &&
	test "$(upstream_count)" = "$n"
'
test_expect 'a command embedding model: 400 naming the kind' '
	emb "{\"model\":\"openclaw:cmd\",\"input\":\"hi\"}" && expect_status 400 &&
	expect_body_contains "kind command"
'
test_expect 'upstream HTTP 500: 502 upstream_error with its message, after the retry' '
	n=$(upstream_count) &&
	emb "{\"input\":\"hi\"}" -H "x-openclaw-model: fake/embed-fail" && expect_status 502 &&
	expect_json .error.type upstream_error && expect_body_contains "fake embeddings exploded" &&
	test "$(upstream_count)" = $((n + 2))
'
test_expect 'upstream refusing connections: 502' '
	emb "{\"model\":\"openclaw:down\",\"input\":\"hi\"}" && expect_status 502 &&
	expect_json .error.type upstream_error && ! expect_body_contains 127.0.0.1
'
# A web server closes the FastCGI connection when a client leaves before
# the answer has begun only behind nginx (lighttpd and Apache notice at
# their first write): the same for chat (README, "Using the endpoint").
if [ "$SERVER" = nginx ]; then
	test_expect 'the client leaving while the upstream works: the upstream request is cancelled' '
		before=$(upstream_stat aborted) && leave_embeddings "{\"input\":\"bye\"}" fake/embed-hang &&
		i=0 && while [ "$(upstream_stat aborted)" = "$before" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done &&
		echo "# the upstream saw the close after $i polls" &&
		test "$(upstream_stat aborted)" -gt "$before"
	'
else
	test_skip 'the client leaving while the upstream works: the upstream request is cancelled' \
		"$SERVER closes the FastCGI connection only at its first write (nginx runs it)"
fi
test_expect 'upstream past timeoutSeconds: 504' '
	emb "{\"model\":\"openclaw:slow\",\"input\":\"hi\"}" && expect_status 504 &&
	expect_json .error.type upstream_error
'
test_expect 'upstream answering fewer vectors than inputs: 502 saying so' '
	emb "{\"input\":[\"a\",\"b\"]}" -H "x-openclaw-model: fake/embed-short" && expect_status 502 &&
	expect_body_contains "1 embeddings for 2 inputs"
'
# every 400 of the body, each naming its field; none reaches the upstream
n0=$(upstream_count)
bad() { # BODY WANTED-TEXT: a 400 whose message holds WANTED-TEXT
	emb "$1" && expect_status 400 && expect_json .error.type invalid_request_error || return 1
	json_get .error.message | grep -qF -- "$2" || { echo "# .error.message lacks '$2'"; return 1; }
}
test_expect 'no input, or null: 400' '
	bad "{\"model\":\"openclaw\"}" "Missing \`input\`" && bad "{\"input\":null}" "Missing \`input\`"
'
test_expect 'an empty string: 400' 'bad "{\"input\":\"\"}" "\`input\` must not be an empty string"'
test_expect 'an empty array: 400' 'bad "{\"input\":[]}" "\`input\` must not be an empty array"'
test_expect 'an empty string in the array: 400 naming it' '
	bad "{\"input\":[\"a\",\"\"]}" "\`input[1]\` must not be an empty string"
'
test_expect 'an empty token array: 400 naming it' '
	bad "{\"input\":[[1],[]]}" "\`input[1]\` must not be an empty array"
'
test_expect 'more than 2048 strings: 400' '
	many 2049 "\"w\"" && emb "@$T/many.json" && expect_status 400 &&
	expect_body_contains "\`input\` must have at most 2048 items"
'
test_expect 'more than 2048 token ids: 400' '
	python3 -c "import json; print(json.dumps({\"input\": list(range(2049))}))" >"$T/ids.json" &&
	emb "@$T/ids.json" && expect_status 400 && expect_body_contains "\`input\` must have at most 2048 items"
'
test_expect 'a token array of more than 2048 ids: 400 naming it' '
	python3 -c "import json; print(json.dumps({\"input\": [[1], list(range(2049))]}))" >"$T/ids.json" &&
	emb "@$T/ids.json" && expect_status 400 && expect_body_contains "\`input[1]\` must have at most 2048 items"
'
test_expect 'input neither string nor array: 400' '
	bad "{\"input\":42}" "\`input\` must be a string, an array of strings, or an array of token ids" &&
	bad "{\"input\":{\"text\":\"a\"}}" "\`input\` must be a string" &&
	bad "{\"input\":true}" "\`input\` must be a string"
'
test_expect 'an item neither string nor token array: 400 naming it' '
	bad "{\"input\":[\"a\",\"b\",\"c\",{}]}" "\`input[3]\` must be a string or an array of token ids." &&
	bad "{\"input\":[\"a\",null]}" "\`input[1]\` must be a string or an array of token ids."
'
test_expect 'strings and token arrays mixed: 400 naming the item' '
	bad "{\"input\":[\"a\",[1]]}" "\`input[1]\` must be a string, as \`input[0]\` is" &&
	bad "{\"input\":[[1],\"a\"]}" "\`input[1]\` must be an array of token ids"
'
test_expect 'a token id that is none: 400 naming it' '
	bad "{\"input\":[1,-1]}" "\`input[1]\` must be a token id" &&
	bad "{\"input\":[1.5]}" "\`input[0]\` must be a token id" &&
	bad "{\"input\":[1,\"a\"]}" "\`input[1]\` must be a token id" &&
	bad "{\"input\":[[1],[2,2147483648]]}" "\`input[1][1]\` must be a token id" &&
	bad "{\"input\":[[\"a\"]]}" "\`input[0][0]\` must be a token id"
'
test_expect 'a bad encoding_format: 400' '
	bad "{\"input\":\"a\",\"encoding_format\":\"int8\"}" "\`encoding_format\` must be \"float\" or \"base64\"" &&
	bad "{\"input\":\"a\",\"encoding_format\":1}" "\`encoding_format\`"
'
test_expect 'a bad dimensions: 400' '
	for d in 0 -3 1.5 "\"8\"" true 65537 1e300; do
		bad "{\"input\":\"a\",\"dimensions\":$d}" "\`dimensions\` must be an integer from 1 to 65536" || exit 1
	done
'
test_expect 'a model or user that is no string: 400' '
	bad "{\"input\":\"a\",\"model\":5}" "\`model\` must be a string" &&
	bad "{\"input\":\"a\",\"user\":5}" "\`user\` must be a string"
'
test_expect 'a body that is no JSON object: 400' '
	bad "{\"input\":\"a\"" "not valid JSON" && bad "[\"a\"]" "must be a JSON object" &&
	bad "{\"input\":\"a\",\"input\":\"b\"}" "\`input\` appears twice"
'
test_expect 'none of those reached the upstream' 'test "$(upstream_count)" = "$n0"'

test_expect 'no credentials, or wrong ones: 401' '
	post /v1/embeddings "" "{\"input\":\"a\"}" && expect_status 401 &&
	expect_json .error.type unauthorized && expect_header WWW-Authenticate Bearer &&
	post /v1/embeddings "nope" "{\"input\":\"a\"}" && expect_status 401
'
test_expect 'GET is 405' '
	get /v1/embeddings "$tok" && expect_status 405 && expect_header Allow POST
'
test_expect 'GET /v1/models is as before' '
	get /v1/models "$tok" && expect_status 200 && expect_json .object list &&
	expect_body_contains "openclaw:echo"
'

write_config "$T/off.json5" <<'CONF'
{
  gateway: { auth: { token: "${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: false } } } },
  agents: { list: [ { id: "echo", model: "echo/echo", embeddingModel: "echo/echo" } ] },
  models: { providers: { echo: { api: "echo" } } },
  session: { store: "@T@/sessions.db" },
}
CONF
start_stack "$T/off.json5"
test_expect 'chatCompletions disabled: 404, as if absent' '
	emb "{\"input\":\"a\"}" && expect_status 404 && expect_json .error.type not_found
'
test_done
