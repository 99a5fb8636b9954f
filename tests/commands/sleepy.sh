#!/bin/sh
# A command provider that never answers: it and its child sleep (for
# timeouts).  With an argument, it first writes its PID there: it leads
# the process group clawcgi made for it, so a test can look for what is
# left of that group.
[ -z "${1:-}" ] || echo $$ >"$1"
cat >/dev/null
sleep 300 &
sleep 300
