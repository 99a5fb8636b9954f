#!/bin/sh
test_description='keep-alive while the model is silent, and cancelling the upstream when the client leaves'
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-cancel
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
write_config "$T/clawcgi.json5" <<'CONF'
{
  gateway: { auth: { token: "${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true, keepAliveSeconds: 1 } } } },
  agents: { list: [ { id: "main", model: "fake/think" }, { id: "drip", model: "fake/drip" } ] },
  models: { providers: { fake: { api: "openai-completions", baseUrl: "@UPSTREAM@" } } },
  session: { store: "@T@/sessions.db" },
}
CONF
start_stack "$T/clawcgi.json5"
rows() { db_value "$T/sessions.db" "$1"; }

test_expect 'a silent model gets ": keep-alive" comments before its first token' '
	stream /v1/chat/completions "$tok" "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hmm\"}]}" &&
	expect_status 200 &&
	n=$(awk -F "\t" "\$2 == \": keep-alive\"" "$T/stream.txt" | wc -l) && echo "# $n keep-alive comments" &&
	test "$n" -ge 2 &&
	python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --content "fake: hmm" --finish stop
'
test_expect 'the client leaving during the silence: the upstream sees its connection closed within ~1 s' '
	before=$(upstream_stat aborted) &&
	leave "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"bye\"}]}" headers &&
	left=$(date +%s.%N) && i=0 &&
	while [ "$(upstream_stat aborted)" = "$before" ] && [ $i -lt 40 ]; do sleep 0.05; i=$((i + 1)); done &&
	echo "# upstream saw the close $(awk "BEGIN { printf \"%.2f\", $(date +%s.%N) - $left }") s after the client left" &&
	test "$(upstream_stat aborted)" -gt "$before" && test $i -lt 30
'
# (a 6 s answer: every server notices the client gone, at its next write,
# well before the end)
test_expect 'the client leaving mid-answer: what it got is stored, marked interrupted' '
	leave "{\"model\":\"openclaw:drip\",\"stream\":true,\"user\":\"quitter\",\"messages\":[{\"role\":\"user\",\"content\":\"long\"}]}" content &&
	i=0; while [ "$(rows "select count(*) from messages where role = '"'"'assistant'"'"'")" = 0 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done &&
	test "$(rows "select interrupted from messages where role = '"'"'assistant'"'"'")" = 1 &&
	test "$(rows "select count(*) from messages where role = '"'"'assistant'"'"' and message like '"'"'%w0 %'"'"' and message not like '"'"'%w23 %'"'"'")" = 1 &&
	CLAWCGI_CONFIG="$T/clawcgi.json5" "$CLAWCGI_BIN" sessions show agent:drip:openai-user:quitter | grep -q "assistant (interrupted): w0 "
'
test_expect 'the workers live on' '
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"ok\"}]}" -H "x-openclaw-model: fake/gpt-test" &&
	expect_status 200
'
test_done
