#!/bin/sh
# The chat page (www/) in a real browser: Debian's chromium, headless,
# driven by playwright-core (page.test.mjs) against lighttpd + clawcgi +
# the scripted upstream, with axe-core's accessibility check.  Installs the
# two npm packages into tests/browser/node_modules on first use.  Without
# /usr/bin/chromium (CHROMIUM names another) it fails under CI (CI set and
# not "false") and is one SKIP by hand.  Then a second stack behind the web
# server's own login (gateway.auth.mode "remote-user"; page.test.mjs
# remote-user BASE).  Screenshots go to $builddir/test-artifacts/browser/.
test_description='the chat page in chromium: sign in, stream, stop, conversations, errors, XSS, keyboard, phone, axe-core, CORS, behind the web server'"'"'s login'
cd "$(dirname "$0")/../e2e" || exit 1
. ./lib.sh

BROWSER_DIR=$srcdir/tests/browser
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CHROMIUM
if ! [ -x "$CHROMIUM" ]; then
	case ${CI:-} in
	'' | false | 0)
		echo "ok - the chat page in a browser # SKIP $CHROMIUM is missing (apt-get install chromium, or sh scripts/deps)"
		exit 0
		;;
	esac
	echo "not ok - chromium is installed ($CHROMIUM; sh scripts/deps installs it)"
	exit 1
fi
if ! command -v node >/dev/null 2>&1; then
	echo "not ok - node is installed (apt-get install nodejs npm)"
	exit 1
fi
if ! [ -f "$srcdir/www/vendor/marked.min.js" ] || ! [ -f "$srcdir/www/vendor/purify.min.js" ]; then
	echo "not ok - www/vendor/ is built (make copies marked and DOMPurify there)"
	exit 1
fi
installed() {
	[ -d "$1/node_modules/playwright-core" ] && [ -d "$1/node_modules/axe-core" ]
}
npm_install "$BROWSER_DIR" "playwright-core and axe-core" installed
BROWSER_DIR=$NPM_DIR

export OPENCLAW_GATEWAY_TOKEN=test-token-browser-42
ORIGIN2_PORT=$(free_port)
export ORIGIN2_PORT
start_upstream
# conf FILE [gone] [disabled] [strict] [nocors]: the config, with the agent
# "gone" listed or not, chat enabled or not, loopback exempt from the auth
# throttle or not, the second origin allowed or not.
conf() {
	_f=$1
	shift
	_gone='{ id: "gone", model: "fake/gpt-test" },' _on=true _exempt=true
	_cors="cors: { allowedOrigins: [\"http://127.0.0.1:$ORIGIN2_PORT\"] },"
	for _o in "$@"; do
		case $_o in
		nogone) _gone='' ;;
		disabled) _on=false ;;
		strict) _exempt=false ;;
		nocors) _cors='' ;;
		esac
	done
	write_config "$_f" <<CONF
{
  gateway: { auth: { mode: "token", token: "\${OPENCLAW_GATEWAY_TOKEN}",
                     rateLimit: { maxAttempts: 2, windowMs: 60000, lockoutMs: 60000, exemptLoopback: $_exempt } },
             http: { endpoints: { chatCompletions: { enabled: $_on, maxBodyBytes: 16384, keepAliveSeconds: 1 } },
                     $_cors } },
  agents: { list: [ { id: "main", default: true, model: "fake/gpt-test" },
                    { id: "count", model: "fake/count" }, { id: "drip", model: "fake/drip" },
                    { id: "reason", model: "fake/reason" }, { id: "xss", model: "fake/xss" },
                    { id: "tool", model: "fake/calltool" }, { id: "cut", model: "fake/cut" },
                    { id: "down", model: "dead/gpt-test" }, { id: "slowpoke", model: "fake1s/hang" },
                    $_gone ] },
  models: { providers: {
    fake: { api: "openai-completions", baseUrl: "@UPSTREAM@", apiKey: "sk-test-upstream-key" },
    fake1s: { api: "openai-completions", baseUrl: "@UPSTREAM@", timeoutSeconds: 1, retries: 0 },
    dead: { api: "openai-completions", baseUrl: "http://127.0.0.1:1/v1", retries: 0 },
  } },
  session: { store: "@T@/sessions.db" },
}
CONF
}
conf "$T/base.json5"
conf "$T/nogone.json5" nogone
conf "$T/disabled.json5" disabled
conf "$T/strict.json5" strict
conf "$T/nocors.json5" nocors
cp "$T/base.json5" "$T/clawcgi.json5"
start_stack "$T/clawcgi.json5"

ARTIFACTS=$builddir/test-artifacts/browser
mkdir -p "$ARTIFACTS"
export ARTIFACTS
CONF=$T/clawcgi.json5 CONF_DIR=$T WWW=$srcdir/www \
	node "$BROWSER_DIR/page.test.mjs" "$BASE" "$OPENCLAW_GATEWAY_TOKEN"
rc=$?
stop_stack

# ---- behind the web server's login (gateway.auth.mode "remote-user"): a
# second stack, after the first, with the shipped
# etc/lighttpd/clawcgi-remote-user.conf (lib.sh's remote_user_conf) and a
# store of its own.  alice may use "main", bob "other" (login.json5); in
# login-noother.json5 bob may no longer use "other" (a 403).
login_conf() { # login_conf FILE BOB-AGENT
	write_config "$1" <<CONF
{
  gateway: { auth: { mode: "remote-user",
                     users: { alice: { agents: ["main"] }, bob: { agents: ["$2"] } } },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [ { id: "main", default: true, model: "fake/gpt-test" },
                    { id: "other", model: "echo/echo" } ] },
  models: { providers: {
    fake: { api: "openai-completions", baseUrl: "@UPSTREAM@" },
    echo: { api: "echo" },
  } },
  session: { store: "@T@/login-sessions.db" },
}
CONF
}
login_conf "$T/login.json5" other
login_conf "$T/login-noother.json5" main
cp "$T/login.json5" "$T/login-live.json5"
for u in alice bob; do
	printf '%s:%s\n' "$u" "$(openssl passwd -apr1 "pw-$u")"
done >"$T/users.htpasswd" || { echo "not ok - openssl passwd -apr1 makes the user file"; exit 1; }
chmod 644 "$T/users.htpasswd"
if remote_user_conf "$T/users.htpasswd" >"$T/login.conf"; then
	SERVER_CONF_EXTRA=$T/login.conf
	start_stack "$T/login-live.json5"
	CONF=$T/login-live.json5 CONF_DIR=$T \
		node "$BROWSER_DIR/page.test.mjs" remote-user "$BASE"
	rc2=$?
	stop_stack
	[ "$rc2" = 0 ] || rc=$rc2
else
	echo "ok - the chat page behind the web server's login # SKIP no example of its login for $SERVER"
fi
exit $rc
