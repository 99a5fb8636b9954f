#!/bin/sh
# A command provider that never answers: it and its child sleep (for timeouts).
cat >/dev/null
sleep 300 &
sleep 300
