#!/bin/sh
test_description='a client that gave up while its request was queued costs no model call'
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-queue
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
write_config "$T/clawcgi.json5" <<'CONF'
{
  gateway: { auth: { token: "${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [ { id: "main", default: true, model: "fake/gpt-test" },
                    { id: "think", model: "fake/think" } ] },
  models: { providers: { fake: { api: "openai-completions", baseUrl: "@UPSTREAM@" } } },
  server: { threads: 1 },
}
CONF
start_stack "$T/clawcgi.json5"
# the workers the shipped config gives with one thread a process
case $SERVER in
lighttpd | nginx) workers=2 ;; # max-procs 2, spawn-fcgi -F 2
proxy-fcgi) workers=1 ;;       # one `clawcgi serve`
esac
# ABANDONED: how many give up (default 50)
abandoned=${ABANDONED:-50}

case $SERVER in
fcgid | cgi)
	test_skip 'requests abandoned in the queue never reach the model' \
		"$SERVER starts clawcgi per waiting request: nothing waits at clawcgi's door" ;;
proxy-fcgi)
	test_skip 'requests abandoned in the queue never reach the model' \
		"mod_proxy_fcgi does not watch the client while the backend has the request, so it never tells clawcgi" ;;
lighttpd)
	test_skip 'requests abandoned in the queue never reach the model' \
		"lighttpd (tcp-fin-propagate) passes most closes on, not all: measured 2 of 10 and 22 of 50 still reached the model" ;;
*)
	test_expect "$workers slow streams busy every worker; $abandoned requests queued behind them give up; the upstream sees none of those" '
		n=$(upstream_count) &&
		for i in $(seq $workers); do
			curl -sS -N --max-time 20 -o "$T/busy.$i" -H "Authorization: Bearer $tok" \
				-H "Content-Type: application/json" \
				--data-binary "{\"model\":\"openclaw:think\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"busy $i\"}]}" \
				"$BASE/v1/chat/completions" &
			echo $! >>"$T/busy.pids"; remember_pid $!
		done &&
		upstream_wait_past $((n + workers - 1)) &&
		for i in $(seq $abandoned); do
			curl -sS --max-time 1 -o /dev/null -H "Authorization: Bearer $tok" \
				-H "Content-Type: application/json" \
				--data-binary "{\"messages\":[{\"role\":\"user\",\"content\":\"queued $i\"}]}" \
				"$BASE/v1/chat/completions" 2>/dev/null &
			echo $! >>"$T/queued.pids"; remember_pid $!
		done &&
		for p in $(cat "$T/queued.pids"); do wait $p || :; done &&
		for p in $(cat "$T/busy.pids"); do wait $p; done &&
		grep -q "data: \[DONE\]" "$T/busy.1" &&
		sleep 2 && post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"after\"}]}" &&
		expect_status 200 && expect_json ".choices[0].message.content" "fake: after" &&
		echo "# upstream calls: $(($(upstream_count) - n)) (the $workers busy streams and the one after)" &&
		test "$(upstream_count)" = $((n + workers + 1)) &&
		upstream_last_json ".body.messages[0].content" after
	' ;;
esac
test_done
