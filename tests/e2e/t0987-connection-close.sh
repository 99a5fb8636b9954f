#!/bin/sh
test_description='the end of a FastCGI connection (clawcgi serve, driven directly): closed at once when the server has sent everything, libfcgi'"'"'s careful close when it has not'
# servers: lighttpd
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-close
write_config "$T/clawcgi.json5" <<'CONF'
{
  gateway: { auth: { token: "${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [ { id: "main", default: true, model: "echo/echo" } ] },
  models: { providers: { echo: { api: "echo" } } },
  server: { threads: 1 },
}
CONF
start_serve "$T/clawcgi.json5"
chat='{"model":"openclaw","messages":[{"role":"user","content":"hello over a bare socket"}]}'
fcgi() { FCGI_BODY=$chat fcgi_chat 0 0 10 >"$1"; } # OUT: one chat request's CGI response
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# The one worker thread answers A, whose server keeps its end open 4 s.
# libfcgi's own close waits (2 s) for that end to close before the thread
# takes the next connection; the request was read to its end, so nothing
# can come that a plain close would answer with a reset.
test_expect 'a server that keeps its end open after the answer does not hold the worker' '
	{ FCGI_HOLD=4 fcgi "$T/a.out" & } && remember_pid $! &&
	n=0 && until grep -q "^Status: 200" "$T/a.out" 2>/dev/null; do
		n=$((n + 1)) && test $n -lt 200 && sleep 0.05 || return 1
	done &&
	t0=$(date +%s%N) && fcgi "$T/b.out" && ms=$(ms_since $t0) &&
	echo "# the next request answered in $ms ms" &&
	grep -q "^Status: 200" "$T/b.out" && grep -q "hello over a bare socket" "$T/b.out" &&
	test "$ms" -lt 1500
'
# Bytes the application never read are still in its socket when it is
# done (60,000 of them: more than libfcgi reads ahead): a plain close would
# send a TCP reset, which may make the server drop the answer; libfcgi
# shuts down, reads them away, then closes.
test_expect 'bytes left unread after the request: the answer still comes whole' '
	FCGI_TRAILER=$(head -c 60000 /dev/zero | tr "\\0" x) fcgi "$T/c.out" &&
	grep -q "^Status: 200" "$T/c.out" && grep -q "hello over a bare socket" "$T/c.out" &&
	grep -q "\"finish_reason\":\"stop\"" "$T/c.out"
'
test_expect 'after both, the worker answers at once' '
	t0=$(date +%s%N) && fcgi "$T/d.out" && ms=$(ms_since $t0) && echo "# $ms ms" &&
	grep -q "^Status: 200" "$T/d.out" && test "$ms" -lt 3000
'
test_done
