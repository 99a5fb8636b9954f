#!/bin/sh
test_description='the store under concurrent writers: 8 processes x 200 turns on one session'
# servers: lighttpd
# stores: sqlite postgresql
. ./lib.sh

write_config "$T/clawcgi.json5" <<'CONF'
{
  agents: { list: [ { id: "main", model: "echo/echo", historyLimit: 4 } ] },
  models: { providers: { echo: { api: "echo" } } },
  session: { store: "@STORE@" },
}
CONF
export CLAWCGI_CONFIG=$T/clawcgi.json5
procs=8 turns=${CONCURRENCY_TURNS:-200}
rows() { store_value "$1"; }

test_expect "$procs processes x $turns turns on one session: all stored, no error" '
	start=$(date +%s.%N) &&
	for p in $(seq $procs); do
		( fails=0
		  for i in $(seq $turns); do
			"$CLAWCGI_BIN" agent --user shared --message "p$p-t$i" >/dev/null 2>>"$T/err.$p" || fails=$((fails + 1))
		  done
		  echo $fails >"$T/fails.$p" ) &
		remember_pid $!
	done &&
	wait &&
	end=$(date +%s.%N) &&
	total_fails=$(cat "$T"/fails.* | awk "{ s += \$1 } END { print s }") &&
	turns_stored=$(rows "select count(*) from messages where role = '"'"'assistant'"'"'") &&
	echo "# $((procs * turns)) turns in $(awk "BEGIN { printf \"%.1f\", $end - $start }") s: $turns_stored stored, $total_fails failed" &&
	{ [ "$total_fails" = 0 ] || cat "$T"/err.* | sort | uniq -c | sed "s/^/# /" | head -n 5; } &&
	test "$total_fails" = 0 && test "$turns_stored" = $((procs * turns)) &&
	test "$(rows "select count(*) from messages")" = $((2 * procs * turns))
'
test_expect 'every turn is whole and sequence numbers have no gaps' '
	test "$(rows "select count(distinct run_id) from messages")" = $((procs * turns)) &&
	test "$(rows "select max(seq) from messages")" = $((2 * procs * turns)) &&
	test "$(rows "select count(*) from (select run_id from messages group by run_id having count(*) != 2) t")" = 0
'
test_expect 'each turn is stored in order: the user message, then its answer' '
	test "$(rows "select count(*) from messages u join messages a on a.run_id = u.run_id and a.seq = u.seq + 1 where u.role = '"'"'user'"'"' and a.role = '"'"'assistant'"'"'")" = $((procs * turns))
'
test_done
