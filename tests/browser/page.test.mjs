// The chat page (www/) in Debian's chromium, driven by playwright-core,
// against lighttpd + clawcgi + tests/fake_upstream.py as run.sh starts them:
//
//   node page.test.mjs BASE TOKEN
//   node page.test.mjs remote-user BASE
//
// The second: only the cases behind the web server's login (lighttpd's
// Basic, gateway.auth.mode "remote-user"; users alice and bob, passwords
// pw-alice and pw-bob; CONF_DIR then holds login.json5 and
// login-noother.json5).
// Environment (run.sh): CHROMIUM, CONF (the config clawcgi reads), CONF_DIR
// (its variants: base, nogone, disabled, strict, nocors .json5, copied over
// CONF to change the server between cases), WWW (the page's files, for the
// second origin), ORIGIN2_PORT, ARTIFACTS (screenshots), UPSTREAM_LOG,
// CLAWCGI_BIN.  Prints "ok - name" / "not ok - name" (tests/node/check.mjs).
import { chromium } from 'playwright-core';
import axe from 'axe-core';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { check as check0, assert, done } from '../node/check.mjs';

const check = (name, fn) => { current = name; return check0(name, fn); };

const REMOTE_USER = process.argv[2] === 'remote-user';
const [BASE, TOKEN] = process.argv.slice(REMOTE_USER ? 3 : 2);
const env = process.env;
const PAGE = BASE + '/';
const ART = env.ARTIFACTS;
const t0 = Date.now();
let current = '';  // the case running, for the reports of what the page did

const browser = await chromium.launch({
  executablePath: env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // as root (CI containers) chromium runs only without its sandbox
  args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
});

// watch(page): dialogs (none may open), page errors and CSP violations.
function watch(page) {
  const seen = { dialogs: [], errors: [], csp: [] };
  page.on('dialog', (d) => { seen.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on('pageerror', (e) => seen.errors.push(String(e)));
  page.on('console', (m) => {
    // (DOMPurify parses model output into an inert document, whose inline
    // handlers chromium reports as refused although it would never run
    // them there: the test below shows they stay inert without the CSP)
    const sanitiser = /\/vendor\/purify\.min\.js$/.test(m.location().url) &&
      /^Executing inline event handler/.test(m.text());
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text()) && !sanitiser)
      seen.csp.push(m.text().slice(0, 60) + ' at ' + JSON.stringify(m.location()) + ' during ' + current);
  });
  return seen;
}

const context = await browser.newContext({ viewport: { width: 1100, height: 780 } });
await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(BASE).origin });
const page = await context.newPage();
page.setDefaultTimeout(10000);
const seen = watch(page);
const sentBodies = [];
page.on('request', (r) => {
  if (r.url().endsWith('/v1/chat/completions') && r.method() === 'POST') sentBodies.push(r.postData());
});

const useConf = (name) => fs.copyFileSync(path.join(env.CONF_DIR, name + '.json5'), env.CONF);
const shot = async (p, name) => { if (ART) await p.screenshot({ path: path.join(ART, name + '.png') }); };
const stateOf = (p) => p.evaluate(() => {
  const a = [...document.querySelectorAll('.msg-assistant')].pop();
  return a ? a.dataset.state : null;
});
const lastAnswer = (p) => p.locator('.msg-assistant').last();
const lastText = (p) => lastAnswer(p).locator('.content').innerText();
const lastError = (p) => p.locator('.msg-error').last().innerText();
const storage = (p) => p.evaluate(() => ({
  session: Object.assign({}, sessionStorage), local: Object.assign({}, localStorage),
  cookie: document.cookie, url: location.href,
}));

async function signIn(p, tok) {
  await p.fill('#token', tok);
  await p.press('#token', 'Enter');
}
async function pick(p, agent) {
  await p.selectOption('#agent', 'openclaw:' + agent);
}
async function say(p, text) {
  await p.fill('#prompt', text);
  await p.press('#prompt', 'Enter');
}
// waitIdle(p): the turn is over (the Stop button gone).
async function waitIdle(p) {
  await p.waitForFunction(() => document.getElementById('stop').hidden, null, { timeout: 15000 });
}
async function newConversation(p) {
  await p.click('#new');
}
// runAxe(p, label): axe-core finds no serious or critical violation.
async function runAxe(p, label) {
  await p.evaluate(axe.source);
  const r = await p.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert(bad.length === 0, label + ': ' + bad.map((v) => v.id + ' (' + v.impact + '): ' +
    v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')).join('; '));
}

// ---- behind the web server's login ------------------------------------------
if (REMOTE_USER) {
  const sessions = () => execFileSync(env.CLAWCGI_BIN, ['sessions', '--config', env.CONF, 'list'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const upstreamCount = () => fs.readFileSync(env.UPSTREAM_LOG, 'utf8').split('\n').filter(Boolean).length;
  // loggedIn(user, password): a context whose browser answers the server's
  // Basic challenge (no user: none), its page, what the page did, and every
  // request with all its headers (the Authorization header among them).
  async function loggedIn(user, password) {
    const ctx = await browser.newContext(user ? { httpCredentials: { username: user, password } } : {});
    const p = await ctx.newPage();
    p.setDefaultTimeout(10000);
    const requests = [];
    p.on('request', (r) => requests.push({
      method: r.method(), url: r.url(), headers: r.allHeaders().catch(() => r.headers()),
    }));
    return { ctx, p, s: watch(p), requests };
  }
  // authOf(requests): "METHOD PATH AUTH-SCHEME" of each (AUTH-SCHEME
  // "-" without an Authorization header, "?" when its headers never came)
  const authOf = async (requests) => {
    const out = [];
    for (const r of requests) {
      const h = await Promise.race([r.headers, new Promise((res) => setTimeout(() => res(null), 2000))]);
      const scheme = h === null ? '?' : h.authorization ? h.authorization.split(' ')[0] : '-';
      out.push(r.method + ' ' + new URL(r.url).pathname + ' ' + scheme);
    }
    return out;
  };

  const alice = await loggedIn('alice', 'pw-alice');
  let aliceKey = null;
  await check('behind the web server\'s login: the page goes straight to the app, no sign-in, no Sign out, only alice\'s agents, no Bearer', async () => {
    const { p, requests } = alice;
    const res = await p.goto(PAGE);
    assert(res.status() === 200, 'status ' + res.status());
    await p.waitForSelector('#app:not([hidden])');
    assert(await p.isHidden('#signin'), 'the sign-in form is shown');
    assert(await p.isHidden('#signout'), 'Sign out is shown');
    const options = await p.$$eval('#agent option', (os) => os.map((o) => o.value));
    assert(options.join(',') === 'openclaw:main', 'agents: ' + options);
    assert(!('clawcgi.token' in (await storage(p)).session), 'a token kept: ' + JSON.stringify(await storage(p)));
    // asked first without credentials, then with the browser's login (Basic)
    const auth = await authOf(requests);
    const models = auth.filter((a) => a.startsWith('GET /v1/models '));
    assert(models.join(',') === 'GET /v1/models -,GET /v1/models Basic', 'GET v1/models: ' + auth.join(', '));
    assert(!auth.some((a) => / bearer$/i.test(a)), 'Bearer on: ' + auth.join(', '));
  });

  await check('behind the login: a message streams its answer, stored in alice\'s scope (user:alice:...)', async () => {
    const { p, requests } = alice;
    const n = requests.length;
    await say(p, 'hello from alice');
    await waitIdle(p);
    assert(await stateOf(p) !== 'error', 'state ' + await stateOf(p) + ': ' + await lastAnswer(p).innerText());
    assert(await lastText(p) === 'fake: hello from alice', 'answer: ' + await lastText(p));
    aliceKey = (await storage(p)).session['clawcgi.conversation'];
    assert(aliceKey && /^clawcgi-page-[0-9a-f]{32}$/.test(aliceKey), 'key ' + aliceKey);
    const posts = requests.slice(n).filter((r) => r.method === 'POST' && r.url.endsWith('/v1/chat/completions'));
    assert(posts.length === 1, 'chat requests: ' + posts.length);
    const auth = await authOf(requests.slice(n));
    assert(auth.includes('POST /v1/chat/completions Basic') && !auth.some((a) => / bearer$/i.test(a)),
      'requests: ' + auth.join(', '));
    let list = '';
    for (let i = 0; i < 40 && !list.includes(aliceKey); i++) {
      list = sessions();
      if (!list.includes(aliceKey)) await p.waitForTimeout(100);
    }
    const lines = list.split('\n').filter((l) => l.includes(aliceKey));
    assert(lines.length === 1 && lines[0].includes('user:alice:' + aliceKey), 'sessions list: ' + list);
    await shot(p, 'login-remote-user');
  });
  await alice.ctx.close();

  await check('behind the login: no password or a wrong one gets the web server\'s 401 and no app; nothing stored', async () => {
    const before = sessions();
    const calls = upstreamCount();
    // (lighttpd holds a refused login back for a second or two: one of them)
    for (const [user, pw] of [[null], ['alice', 'wrong']]) {
      const { ctx, p } = await loggedIn(user, pw);
      const what = (user || 'no login') + (pw ? ':' + pw : '');
      try {
        // the server's 401 page, or chromium's own error page (headless,
        // it has no login dialog to show)
        let res = null;
        try {
          res = await p.goto(PAGE);
        } catch (e) {
          assert(/ERR_INVALID_AUTH_CREDENTIALS/.test(String(e)), what + ': ' + e);
        }
        if (res)
          assert(res.status() === 401 && /^Basic/i.test(res.headers()['www-authenticate'] || ''),
            what + ': ' + res.status() + ' ' + res.headers()['www-authenticate']);
        await p.waitForTimeout(300);
        assert(!(await p.isVisible('#app')), what + ': the app is shown');
        // the same login outside the page: the web server's 401 for the API too
        const api = await ctx.request.get(BASE + '/v1/models', { failOnStatusCode: false });
        assert(api.status() === 401 && /^Basic/i.test(api.headers()['www-authenticate'] || ''),
          what + ': GET v1/models ' + api.status() + ' ' + api.headers()['www-authenticate']);
        if (user) continue;
        const chat = await ctx.request.post(BASE + '/v1/chat/completions', { failOnStatusCode: false,
          data: { model: 'openclaw:main', stream: true, messages: [{ role: 'user', content: 'let me in' }] } });
        assert(chat.status() === 401 && /^Basic/i.test(chat.headers()['www-authenticate'] || ''),
          what + ': POST v1/chat/completions ' + chat.status() + ' ' + chat.headers()['www-authenticate']);
      } finally {
        await ctx.close();
      }
    }
    assert(sessions() === before, 'sessions now: ' + sessions() + '\nbefore: ' + before);
    assert(upstreamCount() === calls, 'the upstream was asked');
  });

  await check('behind the login: bob sees only his agent; an agent he may no longer use is a 403 in words', async () => {
    const bob = await loggedIn('bob', 'pw-bob');
    const { p } = bob;
    try {
      await p.goto(PAGE);
      await p.waitForSelector('#app:not([hidden])');
      const options = await p.$$eval('#agent option', (os) => os.map((o) => o.value));
      assert(options.join(',') === 'openclaw:other', 'agents: ' + options);
      await say(p, 'echo me');
      await waitIdle(p);
      assert(await lastText(p) === 'echo me', 'answer: ' + await lastText(p));
      const key = (await storage(p)).session['clawcgi.conversation'];
      assert(sessions().includes('user:bob:' + key), 'sessions list: ' + sessions());
      fs.copyFileSync(path.join(env.CONF_DIR, 'login-noother.json5'), env.CONF);
      await say(p, 'and again');
      await waitIdle(p);
      const e = await lastError(p);
      assert(/may not use this agent/.test(e) && /403/.test(e), 'error: ' + e);
      assert(bob.s.errors.length === 0 && bob.s.csp.length === 0, 'page errors: ' + bob.s.errors.concat(bob.s.csp));
    } finally {
      fs.copyFileSync(path.join(env.CONF_DIR, 'login.json5'), env.CONF);
      await bob.ctx.close();
    }
  });

  await check('behind the login: the page broke no rule of its CSP and threw no error', async () => {
    assert(alice.s.csp.length === 0, 'CSP: ' + alice.s.csp.join('; '));
    assert(alice.s.errors.length === 0, 'errors: ' + alice.s.errors.join('; '));
  });

  await browser.close();
  console.log(`# the browser test behind the login took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  done();
}

await check('the page loads under its CSP and asks for the token, with focus in the box', async () => {
  const res = await page.goto(PAGE);
  assert(res.status() === 200, 'status ' + res.status());
  assert(/connect-src 'self'/.test(res.headers()['content-security-policy'] || ''), 'no CSP header');
  await page.waitForSelector('#signin:not([hidden])');
  assert(await page.evaluate(() => document.activeElement.id) === 'token', 'focus not in the token box');
  assert(await page.evaluate(() => typeof window.marked === 'object' && typeof window.DOMPurify === 'function'),
    'vendor/ libraries not loaded');
  await shot(page, 'signin-light');
});

await check('a wrong token says so plainly (401) and is not kept', async () => {
  await signIn(page, 'not-the-token');
  await page.waitForFunction(() => document.getElementById('signin-error').textContent.length > 0);
  const text = await page.innerText('#signin-error');
  assert(/wrong token/i.test(text) && /401/.test(text), 'error: ' + text);
  const s = await storage(page);
  assert(!JSON.stringify(s).includes('not-the-token'), 'the wrong token was stored: ' + JSON.stringify(s));
});

await check('the right token signs in; the agents come from GET v1/models', async () => {
  await signIn(page, TOKEN);
  await page.waitForSelector('#app:not([hidden])');
  const options = await page.$$eval('#agent option', (os) => os.map((o) => o.textContent));
  assert(options.join(',') === 'main,count,drip,reason,xss,tool,cut,down,slowpoke,gone', 'agents: ' + options);
});

await check('the token is in sessionStorage only: not in localStorage, a cookie or the URL', async () => {
  const s = await storage(page);
  assert(s.session['clawcgi.token'] === TOKEN, 'not in sessionStorage');
  assert(!JSON.stringify(s.local).includes(TOKEN), 'in localStorage');
  assert(!s.cookie.includes(TOKEN) && !s.url.includes(TOKEN), 'in a cookie or the URL');
});

let dripKey = null;
await check('an answer streams in delta by delta: the text grows while the upstream paces it', async () => {
  await pick(page, 'drip');
  await say(page, 'go slowly');
  await page.waitForFunction(() => {
    const c = document.querySelector('.msg-assistant:last-child .content');
    return c && c.textContent.length > 0;
  });
  const lengths = [];
  for (let i = 0; i < 10; i++) {
    lengths.push((await lastText(page)).length);
    await page.waitForTimeout(150);
  }
  const grew = lengths.filter((n, i) => i > 0 && n > lengths[i - 1]).length;
  assert(grew >= 3 && lengths[0] < lengths[9], 'lengths over 1.5 s: ' + lengths.join(' '));
  assert(await stateOf(page) === 'streaming', 'not streaming any more: ' + await stateOf(page));
  assert(await page.isVisible('#stop') && await page.isDisabled('#send'), 'Stop not offered while streaming');
});

await check('Stop ends the stream: the partial answer stays, marked stopped, and the server keeps it interrupted', async () => {
  const before = await lastText(page);
  await page.click('#stop');
  await waitIdle(page);
  assert(await stateOf(page) === 'stopped', 'state ' + await stateOf(page));
  const text = await lastText(page);
  assert(text.startsWith('w0 ') && text.length >= before.length && !text.includes('w23'), 'text: ' + text);
  const note = await lastAnswer(page).locator('.note').innerText();
  assert(/stopped/i.test(note) && /interrupted/i.test(note), 'note: ' + note);
  dripKey = (await storage(page)).session['clawcgi.conversation'];
  let shown = '';
  for (let i = 0; i < 40 && !shown.includes('(interrupted)'); i++) {
    await page.waitForTimeout(250);
    try {  // (no session yet: the server stores the turn once it notices)
      shown = execFileSync(env.CLAWCGI_BIN, ['sessions', '--config', env.CONF, 'show', dripKey],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      shown = String(e.stderr);
    }
  }
  assert(shown.includes('(interrupted)') && shown.includes('w0'), 'sessions show: ' + shown);
});

let countKey = null;
await check('a new conversation gets a new session key; each turn sends only the new message', async () => {
  await newConversation(page);
  assert(await page.locator('.msg').count() === 0, 'the old messages are still shown');
  await pick(page, 'count');
  sentBodies.length = 0;
  await say(page, 'first');
  await waitIdle(page);
  assert(await lastText(page) === 'seen 1 user messages: first', 'answer: ' + await lastText(page));
  countKey = (await storage(page)).session['clawcgi.conversation'];
  assert(countKey && countKey !== dripKey && /^clawcgi-page-[0-9a-f]{32}$/.test(countKey), 'key ' + countKey);
  const body = JSON.parse(sentBodies[0]);
  assert(body.stream === true && body.messages.length === 1 && body.model === 'openclaw:count',
    'request body: ' + sentBodies[0]);
});

await check('reload and continue: the same conversation, and the upstream sees the earlier turn', async () => {
  await page.reload();
  await page.waitForSelector('#app:not([hidden])');
  assert((await storage(page)).session['clawcgi.conversation'] === countKey, 'another conversation is open');
  assert(await page.locator('.msg-user').count() === 1, 'the history is not shown after the reload');
  assert(await page.inputValue('#agent') === 'openclaw:count', 'the agent was not kept');
  await say(page, 'second');
  await waitIdle(page);
  const text = await lastText(page);
  assert(text === 'seen 2 user messages: first | second', 'answer: ' + text);
  const log = fs.readFileSync(env.UPSTREAM_LOG, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const last = log[log.length - 1].body.messages.filter((m) => m.role === 'user').map((m) => m.content);
  assert(last.join('|') === 'first|second', 'the upstream got ' + JSON.stringify(last));
  assert(JSON.parse(sentBodies[sentBodies.length - 1]).messages.length === 1, 'the page resent history');
});

await check('the list of conversations on this device reopens one with its history', async () => {
  const items = await page.$$eval('#conversation-list button', (bs) => bs.map((b) => b.dataset.id));
  assert(items.includes(dripKey) && items.includes(countKey), 'list: ' + items);
  await page.click(`#conversation-list button[data-id="${dripKey}"]`);
  assert(await page.locator('.msg-user').first().innerText().then((t) => t.includes('go slowly')), 'not the drip one');
  assert(await stateOf(page) === 'stopped', 'the stopped answer is not shown as stopped');
  assert(await page.inputValue('#agent') === 'openclaw:drip', 'agent not restored');
  const stored = JSON.parse((await storage(page)).local['clawcgi.conversations']);
  assert(stored.length === 2 && stored.every((c) => c.id && c.title && Array.isArray(c.messages)), 'storage');
});

await check('reasoning is shown collapsed, the answer beside it', async () => {
  await newConversation(page);
  await pick(page, 'reason');
  await say(page, 'why');
  await waitIdle(page);
  const d = lastAnswer(page).locator('details.reasoning');
  assert(await d.count() === 1 && !(await d.evaluate((e) => e.open)), 'no closed <details>');
  assert((await d.innerText()).includes('Reasoning'), 'summary');
  assert(await d.locator('.reasoning-text').textContent() === 'thinking about it', 'reasoning text');
  assert(await lastText(page) === 'fake: why', 'answer: ' + await lastText(page));
});

await check('a tool call is shown as a call (name and arguments), not as text', async () => {
  await newConversation(page);
  await pick(page, 'tool');
  await say(page, 'look it up');
  await waitIdle(page);
  const call = lastAnswer(page).locator('.tool-call');
  assert(await call.count() === 1, 'no tool call box');
  assert(await call.locator('.tool-name').innerText() === 'Tool call: lookup', 'name');
  assert(await call.locator('.tool-args').innerText() === '{"q": "clawcgi"}', 'arguments');
  assert((await lastText(page)) === '', 'the call became text');
  assert(/tool/.test(await lastAnswer(page).locator('.note').innerText()), 'no note');
});

await check('markdown with HTML and script in it renders inert: no dialog, no script ran, nothing injected', async () => {
  await newConversation(page);
  await pick(page, 'xss');
  await say(page, 'be evil');
  await waitIdle(page);
  await page.waitForTimeout(500);
  const r = await page.evaluate(() => {
    const m = document.querySelector('.msg-assistant:last-child .content');
    return {
      xss: window.__xss, h1: m.querySelector('h1') && m.querySelector('h1').textContent,
      items: m.querySelectorAll('li').length,
      bad: m.querySelectorAll('script, iframe, svg, img, object, embed, [onerror], [onload]').length,
      js: [...m.querySelectorAll('a')].filter((a) => /^\s*javascript:/i.test(a.getAttribute('href') || '')).length,
      code: m.querySelector('pre code') && m.querySelector('pre code').textContent,
      copy: m.querySelectorAll('.code > button.copy').length,
    };
  });
  assert(r.xss === undefined, 'a script ran: ' + r.xss);
  assert(seen.dialogs.length === 0, 'dialogs: ' + seen.dialogs);
  assert(r.bad === 0 && r.js === 0, 'dangerous nodes: ' + JSON.stringify(r));
  assert(r.h1 === 'Inert' && r.items === 2, 'markdown not rendered: ' + JSON.stringify(r));
  assert(r.code === "print('hello')\n" && r.copy === 1, 'code block: ' + JSON.stringify(r));
});

await check('the same answer is inert without the CSP too (the sanitiser alone)', async () => {
  const ctx = await browser.newContext({ bypassCSP: true });
  const p = await ctx.newPage();
  const s = watch(p);
  try {
    await p.goto(PAGE);
    await signIn(p, TOKEN);
    await p.waitForSelector('#app:not([hidden])');
    await pick(p, 'xss');
    await say(p, 'be evil');
    await waitIdle(p);
    await p.waitForTimeout(500);
    assert(await p.evaluate(() => window.__xss) === undefined && s.dialogs.length === 0,
      'ran: ' + await p.evaluate(() => window.__xss) + ' ' + s.dialogs);
    assert(await p.locator('.msg-assistant h1').innerText() === 'Inert', 'not rendered');
  } finally {
    await ctx.close();
  }
});

await check('a code block\'s copy button copies the code', async () => {
  await lastAnswer(page).locator('button.copy').click();
  await page.waitForFunction(() => document.querySelector('.msg-assistant:last-child button.copy').textContent === 'Copied');
  const clip = await page.evaluate(() => navigator.clipboard.readText());
  assert(clip === "print('hello')\n", 'clipboard: ' + JSON.stringify(clip));
  await shot(page, 'chat-light');
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot(page, 'chat-dark');
  await page.emulateMedia({ colorScheme: 'light' });
});

// errorCase(agent, text, pattern): the turn fails with a readable error.
async function errorCase(agent, text, pattern) {
  await newConversation(page);
  if (agent) await pick(page, agent);
  await say(page, text);
  await waitIdle(page);
  const e = await lastError(page);
  assert(pattern.test(e), 'error shown: ' + e);
  assert(/not delivered/i.test(await page.locator('.msg-user').last().innerText()), 'message not marked');
  assert(await page.inputValue('#prompt') === text, 'the message was not put back');
  await page.fill('#prompt', '');
  return e;
}

await check('upstream down: 502 in words', async () => {
  await errorCase('down', 'anyone there?', /502 Bad Gateway/);
});
await check('upstream too slow: 504 in words', async () => {
  await errorCase('slowpoke', 'take your time', /504 Gateway Timeout/);
});
await check('a body over maxBodyBytes: 413 in words', async () => {
  await errorCase('main', 'x'.repeat(20000), /too large.*413/);
});
await check('an error inside the stream: the partial answer kept, the failure said', async () => {
  await newConversation(page);
  await pick(page, 'cut');
  await say(page, 'cut me off');
  await waitIdle(page);
  assert(await stateOf(page) === 'error', 'state ' + await stateOf(page));
  assert(await lastText(page) === 'partial', 'partial text: ' + await lastText(page));
  const note = await lastAnswer(page).locator('.note').innerText();
  assert(/broke off/.test(note), 'note: ' + note);
  await shot(page, 'error-light');
});
await check('an unknown agent (removed from the config): 404 model_not_found in words, the list refreshed', async () => {
  await newConversation(page);
  await pick(page, 'gone');
  useConf('nogone');
  await say(page, 'hello?');
  await waitIdle(page);
  const e = await lastError(page);
  assert(/does not exist/.test(e) && /404/.test(e), 'error: ' + e);
  await page.waitForFunction(() => ![...document.querySelectorAll('#agent option')].some((o) => o.value === 'openclaw:gone'));
  await page.fill('#prompt', '');
});
await check('the endpoint disabled: 404 in words', async () => {
  useConf('disabled');
  try {
    await errorCase('main', 'hello', /turned off.*404/);
  } finally {
    useConf('base');
  }
});
await check('at start the page asks once without a token, which the throttle does not count (strict: loopback not exempt)', async () => {
  useConf('strict');
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  const asked = [];
  p.on('response', (r) => {
    if (r.url().endsWith('/v1/models')) asked.push(r.status() + ' ' + (r.headers()['www-authenticate'] || '-'));
  });
  try {
    for (let i = 0; i < 3; i++) {  // maxAttempts is 2
      await p.goto(PAGE);
      await p.waitForSelector('#signin:not([hidden])');
      assert(await p.isHidden('#app'), 'the app is shown');
    }
    assert(asked.length === 3 && asked.every((a) => /^401 Bearer/i.test(a)), 'v1/models answered: ' + asked);
    await signIn(p, TOKEN);
    await p.waitForSelector('#app:not([hidden])', { timeout: 5000 }).catch(async () => {
      throw new Error('not signed in: ' + await p.innerText('#signin-error'));
    });
  } finally {
    useConf('base');
    await ctx.close();
  }
});
await check('rate limited: 429 with the Retry-After seconds', async () => {
  useConf('strict');
  try {
    for (let i = 0; i < 2; i++)
      await fetch(BASE + '/v1/models', { headers: { Authorization: 'Bearer wrong' } });
    const e = await errorCase('main', 'hello', /429.*Try again in \d+ seconds/);
    const secs = Number(/in (\d+) second/.exec(e)[1]);
    assert(secs > 30 && secs <= 60, 'seconds: ' + secs);
  } finally {
    useConf('base');
  }
});
// A TCP relay to the web server, whose connections the test can cut: the
// network lost (chromium's offline mode leaves a running response alone).
function relay(port) {
  const open = new Set();
  const server = net.createServer((c) => {
    const u = net.connect(port, '127.0.0.1');
    open.add(c);
    open.add(u);
    c.pipe(u);
    u.pipe(c);
    const gone = () => { open.delete(c); open.delete(u); c.destroy(); u.destroy(); };
    for (const s of [c, u]) { s.on('error', gone); s.on('close', gone); }
  });
  const cut = () => { for (const s of open) s.resetAndDestroy(); };
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () =>
    resolve({ server, cut, url: `http://127.0.0.1:${server.address().port}/` })));
}

await check('the network lost mid-stream: what arrived is kept, the loss said', async () => {
  const r = await relay(Number(new URL(BASE).port));
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  try {
    await p.goto(r.url + PAGE.slice(new URL(PAGE).origin.length + 1));
    await signIn(p, TOKEN);
    await p.waitForSelector('#app:not([hidden])');
    await pick(p, 'drip');
    await say(p, 'go');
    await p.waitForFunction(() => {
      const c = document.querySelector('.msg-assistant:last-child .content');
      return c && c.textContent.length > 6;
    });
    r.cut();
    await waitIdle(p);
    assert(await stateOf(p) === 'error', 'state ' + await stateOf(p));
    const note = await lastAnswer(p).locator('.note').innerText();
    assert(/connection was lost/.test(note) && (await lastText(p)).startsWith('w0 '), 'note: ' + note);
  } finally {
    await ctx.close();
    r.server.close();
  }
});
await check('a token that stops working: back to sign in, saying why', async () => {
  await page.evaluate(() => sessionStorage.setItem('clawcgi.token', 'revoked-token'));
  await page.reload();
  await page.waitForSelector('#signin:not([hidden])');
  assert(/401/.test(await page.innerText('#signin-error')), 'message: ' + await page.innerText('#signin-error'));
  await signIn(page, TOKEN);
  await page.waitForSelector('#app:not([hidden])');
});

await check('keyboard only: a logical tab order with a visible focus ring; Enter sends, Shift+Enter is a new line', async () => {
  await newConversation(page);
  await pick(page, 'main');
  // from the box (where the page puts the focus) Tab goes on to Send and
  // round to the top: the skip link, then the header's controls
  const order = [];
  for (let i = 0; i < 6 && !order.includes('skip'); i++) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => document.activeElement.className));
  }
  assert(order.includes('skip'), 'Tab never reaches the skip link: ' + order);
  order.length = 0;
  order.push('skip');
  for (let i = 0; i < 3; i++) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => {
      const a = document.activeElement;
      const s = getComputedStyle(a);
      return (a.id || a.className) + (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 ? '' : ' (no ring)');
    }));
  }
  assert(order.join(',') === 'skip,agent,new,signout', 'tab order: ' + order);
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Enter');        // the skip link
  assert(await page.evaluate(() => document.activeElement.id) === 'prompt', 'skip link did not reach the box');
  await page.keyboard.type('line one');
  await page.keyboard.press('Shift+Enter');
  await page.keyboard.type('line two');
  await page.keyboard.press('Enter');
  await waitIdle(page);
  const sent = await page.locator('.msg-user .content').last().innerText();
  assert(sent === 'line one\nline two', 'sent: ' + JSON.stringify(sent));
  assert(await lastText(page) === 'fake: line one\nline two', 'answer: ' + JSON.stringify(await lastText(page)));
  assert(await page.evaluate(() => document.activeElement.id) === 'prompt', 'focus left the box');
});

await check('axe-core: no serious or critical violations, light and dark, signed in and out', async () => {
  await runAxe(page, 'chat, light');
  await page.emulateMedia({ colorScheme: 'dark' });
  await runAxe(page, 'chat, dark');
  await page.click('#signout');
  await page.waitForSelector('#signin:not([hidden])');
  assert(!(await storage(page)).session['clawcgi.token'], 'sign out left the token');
  await runAxe(page, 'sign in, dark');
  await shot(page, 'signin-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  await runAxe(page, 'sign in, light');
});

await check('the page itself broke no rule of its CSP and threw no error', async () => {
  assert(seen.csp.length === 0, 'CSP: ' + seen.csp.join('; '));
  assert(seen.errors.length === 0, 'errors: ' + seen.errors.join('; '));
});

await check('phone width (375 px): no sideways scrolling, the list behind a button, a turn works', async () => {
  const phone = await browser.newContext({ viewport: { width: 375, height: 740 } });
  const p = await phone.newPage();
  const s = watch(p);
  try {
    await p.goto(PAGE);
    await signIn(p, TOKEN);
    await p.waitForSelector('#app:not([hidden])');
    await say(p, 'hello from a phone');
    await waitIdle(p);
    assert(await lastText(p) === 'fake: hello from a phone', 'answer: ' + await lastText(p));
    const wide = await p.evaluate(() => document.documentElement.scrollWidth);
    assert(wide <= 375, 'the page is ' + wide + ' px wide');
    assert(!(await p.isVisible('#conversations')) && await p.isVisible('#toggle-list'), 'list layout');
    await shot(p, 'phone-light');
    await p.click('#toggle-list');
    assert(await p.isVisible('#conversation-list button'), 'the list does not open');
    await runAxe(p, 'phone, list open');
    await p.click('#conversation-list button');
    assert(!(await p.isVisible('#conversations')), 'the list stays over the chat');
    await p.emulateMedia({ colorScheme: 'dark' });
    await runAxe(p, 'phone, dark');
    await shot(p, 'phone-dark');
    assert(s.csp.length === 0 && s.errors.length === 0, 'CSP or errors: ' + s.csp.concat(s.errors));
  } finally {
    await phone.close();
  }
});

// A second origin: the page's files served by this test on ORIGIN2_PORT,
// its meta clawcgi-api-base naming the endpoint on the first.
function serveSecondOrigin() {
  const api = new URL(PAGE);
  const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css' };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const name = u.pathname === '/' ? 'index.html' : u.pathname.slice(1);
    if (!/^(index\.html|chat\.(css|js)|vendor\/[a-z.]+\.js)$/.test(name)) {
      res.writeHead(404).end();
      return;
    }
    let body = fs.readFileSync(path.join(env.WWW, name));
    if (name === 'index.html')
      body = body.toString().replace('<meta name="clawcgi-api-base" content="">',
        `<meta name="clawcgi-api-base" content="${api.href}">`);
    res.writeHead(200, {
      'Content-Type': types[path.extname(name)],
      'Content-Security-Policy': `default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ${api.origin}`,
    });
    res.end(body);
  });
  return new Promise((resolve) => server.listen(Number(env.ORIGIN2_PORT), '127.0.0.1', () => resolve(server)));
}

await check('another origin: allowed by gateway.http.cors.allowedOrigins, blocked without it', async () => {
  const server = await serveSecondOrigin();
  const other = await browser.newContext();
  const p = await other.newPage();
  try {
    const origin2 = `http://127.0.0.1:${env.ORIGIN2_PORT}/`;
    await p.goto(origin2);
    await signIn(p, TOKEN);
    await p.waitForSelector('#app:not([hidden])');
    await pick(p, 'drip');
    await say(p, 'across origins');
    await p.waitForFunction(() => (document.querySelector('.msg-assistant:last-child .content') || {}).textContent);
    await p.click('#stop');
    await waitIdle(p);
    assert(await stateOf(p) === 'stopped' && (await lastText(p)).startsWith('w0'), 'cross-origin stream');
    useConf('nocors');
    await p.click('#signout');
    await signIn(p, TOKEN);
    await p.waitForFunction(() => document.getElementById('signin-error').textContent.includes('Could not reach'));
    assert(!(await p.isVisible('#app')), 'signed in without CORS');
  } finally {
    useConf('base');
    await other.close();
    server.close();
  }
});

await browser.close();
console.log(`# the browser test took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
done();
