#!/bin/sh
test_description='the command provider: a local program as the model'
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-command
tok=$OPENCLAW_GATEWAY_TOKEN
cmds=$srcdir/tests/commands
# Under valgrind, on a loaded machine, forking the shell took over a second
# once, and the timeout came before it had written its PID.
sleepy_timeout=1
[ -z "${CLAWCGI_WRAPPER:-}" ] || sleepy_timeout=3
write_config "$T/clawcgi.json5" <<CONF
{
  gateway: { auth: { token: "\${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [
    { id: "main", model: "words/w1", systemPrompt: "Be a command." },
    { id: "fail", model: "fail/x" },
    { id: "sleepy", model: "sleepy/x" },
    { id: "missing", model: "missing/x" },
    { id: "fds", model: "fds/x" },
  ] },
  models: { providers: {
    words: { api: "command", command: ["/usr/bin/python3", "$cmds/words.py"], env: { NAMED: "a-value" } },
    fail: { api: "command", command: ["$cmds/fail.sh"], retries: 0 },
    sleepy: { api: "command", command: ["$cmds/sleepy.sh", "@T@/sleepy.pid"], timeoutSeconds: $sleepy_timeout, retries: 0 },
    missing: { api: "command", command: ["/nonexistent/llm"], retries: 0 },
    fds: { api: "command", retries: 0,
           command: ["sh", "-c", "cat >/dev/null; ls /proc/\$\$/fd; grep SigIgn /proc/\$\$/status"] },
  } },
  session: { store: "@T@/sessions.db" },
}
CONF
start_stack "$T/clawcgi.json5"
msg() { printf '{"model":"openclaw:%s","stream":%s,"messages":[{"role":"user","content":"%s"}]%s}' "$1" "$2" "$3" "${4:-}"; }

test_expect 'non-streaming: the command output is the answer' '
	post /v1/chat/completions "$tok" "$(msg main false "hello there")" && expect_status 200 &&
	expect_json ".choices[0].message.content" "cmd: hello there" && expect_json .usage.total_tokens 0
'
test_expect 'streaming: output is relayed as it comes' '
	stream /v1/chat/completions "$tok" "$(msg main true "one two three")" && expect_status 200 &&
	python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --content "cmd: one two three" --finish stop &&
	spread=$(stream_spread) && echo "# spread $spread s" &&
	python3 -c "import sys; sys.exit(0 if float(\"$spread\") >= 0.6 else 1)"
'
test_expect 'the request arrives on stdin: system text and parameters' '
	post /v1/chat/completions "$tok" "$(msg main false system ",\"temperature\":0.5")" && expect_status 200 &&
	expect_json ".choices[0].message.content" "system=Be a command. params={\"temperature\": 0.5}"
'
test_expect 'the environment holds PATH and what the config names, not the server'"'"'s' '
	post /v1/chat/completions "$tok" "$(msg main false env)" && expect_status 200 &&
	env=$(json_get ".choices[0].message.content") && echo "# the command saw: $env" &&
	case " $env " in *" NAMED "*) ;; *) false ;; esac &&
	case " $env " in *" PATH "*) ;; *) false ;; esac &&
	case "$env" in *OPENCLAW*|*CLAWCGI*|*HOME*) false ;; esac
'
test_expect 'output split inside a UTF-8 character is relayed whole' '
	stream /v1/chat/completions "$tok" "$(msg main true utf8)" &&
	python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --content "é€😀"
'
test_expect 'stderr goes to the log, not to the client' '
	grep -q "words.py got 1 messages" "$SERVER_LOG" && ! grep -q "words.py" "$T/last.body"
'
test_expect 'a non-zero exit: 502 (non-streaming)' '
	post /v1/chat/completions "$tok" "$(msg fail false x)" && expect_status 502 &&
	expect_body_contains "exited with status 3" && grep -q "fail.sh: something went wrong" "$SERVER_LOG"
'
test_expect 'a non-zero exit while streaming: error event, then [DONE]' '
	stream /v1/chat/completions "$tok" "$(msg fail true x)" && expect_status 200 &&
	python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --error upstream_error --content partial
'
test_expect 'a program that cannot be run: 502' '
	post /v1/chat/completions "$tok" "$(msg missing false x)" && expect_status 502
'
if [ -n "${CLAWCGI_WRAPPER:-}" ]; then
	test_skip 'the reason it could not be run goes to the log' \
		"under a wrapper (valgrind) posix_spawn runs as a fork: the exec error comes back as the child's exit, not from posix_spawn"
else
	test_expect 'the reason it could not be run goes to the log' '
		grep -q "command provider missing: cannot run /nonexistent/llm: No such file" "$SERVER_LOG"
	'
fi
# SigIgn is a hex mask, bit N-1 for signal N: SIGHUP 1, SIGINT 2, SIGQUIT 3,
# SIGPIPE 13, SIGTERM 15 must not be ignored (the server ignores SIGPIPE)
test_expect 'found in PATH; only stdin, stdout and stderr open; default signals' '
	post /v1/chat/completions "$tok" "$(msg fds false x)" && expect_status 200 &&
	out=$(json_get ".choices[0].message.content") && echo "# the command saw:" $out &&
	test "$(printf "%s\n" "$out" | grep -v SigIgn | tr "\n" " ")" = "0 1 2 " &&
	ign=$(printf "%s\n" "$out" | sed -n "s/^SigIgn:[[:space:]]*//p") &&
	test -n "$ign" && test $((0x$ign & 0x5007)) -eq 0
'
# what is left of the command's process group (zombies waiting for a
# reaper do not count)
group_alive() {
	for p in $(pgrep -g "$1"); do _alive "$p" && echo "$p"; done
}
test_expect 'timeoutSeconds: 504, and the whole process group is killed' '
	rm -f "$T/sleepy.pid" &&
	post /v1/chat/completions "$tok" "$(msg sleepy false x)" && expect_status 504 &&
	pgid=$(cat "$T/sleepy.pid") && echo "# the group was $pgid" && sleep 0.3 &&
	test -z "$(group_alive "$pgid")"
'
test_expect 'a client leaving mid-answer kills the command within about a second' '
	leave "$(msg main true "a b c d e f g h i j k l m n o p")" content &&
	i=0 && while pgrep -f "$cmds/words.py" >/dev/null && [ $i -lt 40 ]; do sleep 0.05; i=$((i + 1)); done &&
	echo "# gone $((i * 50)) ms after the client left" && test $i -lt 30
'
test_done
