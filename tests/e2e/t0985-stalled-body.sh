#!/bin/sh
test_description='bodies that stall never take every worker (each server reads ahead; t0986 drives the 408 directly)'
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-stall
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
write_config "$T/clawcgi.json5" <<'CONF'
{
  gateway: { auth: { token: "${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true, bodyTimeoutSeconds: 2 } } } },
  agents: { list: [ { id: "main", default: true, model: "fake/gpt-test" } ] },
  models: { providers: { fake: { api: "openai-completions", baseUrl: "@UPSTREAM@" } } },
  server: { threads: 1 },
}
CONF
start_stack "$T/clawcgi.json5"
stalled=6 # more than the workers a process count of 2 (or 1) with one thread gives

# stall N SECONDS: N clients each send the headers and 200 KB of a 1 MB
# body (more than a server reads ahead before it passes the request on),
# then wait; after SECONDS, each one's status line (or "none") in $T/stall.N
stall() {
	python3 - "$BASE" "$tok" "$1" "$2" "$T/stall" <<'PY' &
import socket, sys, threading, time, urllib.parse
base, tok, n, secs, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
u = urllib.parse.urlparse(base)
def one(i):
    s = socket.create_connection((u.hostname, u.port), 10)
    s.sendall(("POST %s/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
               "{\"messages\":[{\"role\":\"user\",\"content\":\"%s"
               % (u.path, tok, "a" * 200000)).encode())
    s.settimeout(secs)
    got = b""
    try:
        while b"\r\n" not in got:
            b = s.recv(4096)
            if not b:
                break
            got += b
    except OSError:
        pass
    open("%s.%d" % (out, i), "w").write(got.split(b"\r\n")[0].decode() or "none")
    s.close()
ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in ts: t.start()
for t in ts: t.join()
PY
	_stall_pid=$!
	remember_pid $_stall_pid
}

test_expect "$stalled stalled bodies do not keep a normal request from an answer" '
	stall $stalled 3 && sleep 0.5 &&
	t0=$(date +%s) &&
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"still here\"}]}" &&
	expect_status 200 && expect_json ".choices[0].message.content" "fake: still here" &&
	echo "# answered after $(($(date +%s) - t0)) s" && test $(($(date +%s) - t0)) -le 5 &&
	wait $_stall_pid
'
test_done
