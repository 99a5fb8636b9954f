#!/bin/sh
test_description='usage rows survive a store blip: a batch the store refuses is kept and tried again; past the bound rows are dropped, counted in /metrics and logged'
# servers: lighttpd
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-retry
tok=$OPENCLAW_GATEWAY_TOKEN
write_config "$T/clawcgi.json5" <<'CONF'
{
  gateway: { auth: { mode: "token", token: "${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true }, metrics: { enabled: true } } } },
  agents: { list: [ { id: "main", default: true, model: "echo/echo" } ] },
  models: { providers: { echo: { api: "echo" } } },
  session: { store: "@STORE@" },
}
CONF
start_stack "$T/clawcgi.json5"

rows() { db_value "$STORE_FILE" "select count(*) from usage where endpoint = 'models'"; }
# hold_lock SECONDS: another writer holds the SQLite file's write lock
# (BEGIN IMMEDIATE) for SECONDS, longer than clawcgi's busy timeout (15 s);
# $T/locked appears once it holds it
hold_lock() {
	rm -f "$T/locked"
	python3 -c 'import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[3], "w").write("locked")
time.sleep(float(sys.argv[2]))
c.execute("ROLLBACK")' "$STORE_FILE" "$1" "$T/locked" &
	lock_pid=$!
	remember_pid "$lock_pid"
	_wait_file "$T/locked" 10
}
# models N THREADS: N GET /v1/models over keep-alive connections
models() {
	python3 - "$BASE/v1/models" "$tok" "$1" "$2" <<'PY'
import http.client, sys, threading, urllib.parse
url, tok, n, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
u = urllib.parse.urlparse(url)
bad = []
def run(k):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    for _ in range(k):
        c.request("GET", u.path, headers={"Authorization": "Bearer " + tok})
        r = c.getresponse()
        r.read()
        if r.status != 200:
            bad.append(r.status)
ts = [threading.Thread(target=run, args=(n // threads,)) for _ in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
sys.exit(1 if bad else 0)
PY
}
dropped() {
	get /metrics "" >/dev/null && sed -n 's/^clawcgi_usage_rows_dropped_total //p' "$T/last.body"
}

test_expect 'the store locked past its busy timeout: the rows of 40 requests are kept, tried again, and written once it is free' '
	get /v1/models "$tok" && expect_status 200 && sleep 1.5 && before=$(rows) && echo "# before $before" &&
	hold_lock 19 && echo "# locked" && models 40 2 && echo "# sent; rows $before, now $(rows)" &&
	test "$(rows)" = "$before" &&
	wait "$lock_pid" &&
	for i in $(seq 100); do [ "$(rows)" -ge $((before + 40)) ] && break; sleep 0.1; done &&
	echo "# rows: $before before, $(rows) after" &&
	test "$(rows)" = $((before + 40)) &&
	grep -q "usage log: [0-9]* rows not written, kept to try again each second" "$SERVER_LOG" &&
	grep -q "usage log: [0-9]* rows written after the store refused them for" "$SERVER_LOG" &&
	test "$(dropped)" = 0
'
test_expect 'past the bound (4096 rows a process) rows are dropped: counted in clawcgi_usage_rows_dropped_total, and the log says so' '
	before=$(rows) &&
	hold_lock 19 && models 12000 4 &&
	wait "$lock_pid" && sleep 3 &&
	d=$(dropped) && after=$(rows) &&
	echo "# rows written $((after - before)), dropped $d" &&
	[ "$d" -gt 0 ] && [ $((after - before + d)) = 12000 ] &&
	grep -q "usage log: [0-9]* rows dropped: the queue was full" "$SERVER_LOG"
'

test_done
