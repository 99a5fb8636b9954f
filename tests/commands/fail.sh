#!/bin/sh
# A command provider that writes a little, complains on stderr and fails.
cat >/dev/null
printf 'partial'
echo "fail.sh: something went wrong" >&2
exit 3
