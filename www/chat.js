/*
 * chat.js - clawcgi's chat page: sign in with the gateway token, pick an
 * agent, talk to it through POST v1/chat/completions (streamed), keep the
 * conversations of this device.  No framework and no build step: the
 * operator's web server serves this file as it is.
 *
 * Behind the web server's own login (gateway.auth.mode "remote-user",
 * the remote-user examples in etc/) there is no token: at start, with none
 * kept, the page asks whether it is let in without one (tokenless), and
 * then goes on without a token, its requests carrying the browser's own
 * credentials for this origin (an Authorization header would replace them).
 *
 * What is kept where (README, "The chat page"):
 *   sessionStorage  the token, the chosen agent and the open conversation:
 *                   this tab only, gone when it closes; "Sign out" drops
 *                   the token
 *   localStorage    the conversations (their x-openclaw-session-key, title,
 *                   agent and messages as this page showed them): this
 *                   device, for the list and for showing a reopened one
 *   the server      each conversation's history under its session key, so
 *                   a turn sends only the new user message
 *
 * Answers are markdown, rendered by marked and then sanitised by DOMPurify
 * (www/vendor/, from Debian's libjs-marked and node-dompurify); model
 * output never becomes markup any other way.  Every URL is relative to the
 * page (or to <meta name="clawcgi-api-base">), so the page works under any
 * prefix its endpoint is mounted at.
 */
'use strict';

(function () {
  const KEY_TOKEN = 'clawcgi.token';
  const KEY_AGENT = 'clawcgi.agent';
  const KEY_OPEN = 'clawcgi.conversation';
  const KEY_CONVERSATIONS = 'clawcgi.conversations';
  const RENDER_EVERY_MS = 40;

  const $ = (id) => document.getElementById(id);
  const el = {
    signin: $('signin'), signinForm: $('signin-form'), token: $('token'),
    signinButton: $('signin-button'), signinError: $('signin-error'),
    app: $('app'), agent: $('agent'), newConv: $('new'), signout: $('signout'),
    toggleList: $('toggle-list'), conversations: $('conversations'),
    list: $('conversation-list'), noConversations: $('no-conversations'),
    title: $('chat-title'), messages: $('messages'), status: $('status'),
    composer: $('composer'), prompt: $('prompt'), send: $('send'), stop: $('stop'),
  };

  // ---- where the endpoint is ----------------------------------------------

  const baseMeta = document.querySelector('meta[name="clawcgi-api-base"]');
  const apiBase = new URL((baseMeta && baseMeta.content.trim()) || '.', document.baseURI);
  const api = (path) => new URL(path, apiBase).href;

  // ---- storage ------------------------------------------------------------

  function sessionGet(key) {
    try { return sessionStorage.getItem(key); } catch (e) { return null; }
  }
  function sessionSet(key, value) {
    try {
      if (value === null) sessionStorage.removeItem(key);
      else sessionStorage.setItem(key, value);
    } catch (e) { /* storage refused: the page still works for this view */ }
  }

  function loadConversations() {
    try {
      const list = JSON.parse(localStorage.getItem(KEY_CONVERSATIONS) || '[]');
      return Array.isArray(list) ? list.filter((c) => c && typeof c.id === 'string') : [];
    } catch (e) {
      return [];
    }
  }

  // saveConversation(conv): this conversation into the device's list (read
  // again first, so that another tab's conversations are kept).
  function saveConversation(conv) {
    const list = loadConversations().filter((c) => c.id !== conv.id);
    list.unshift(conv);
    list.sort((a, b) => (b.updated || 0) - (a.updated || 0));
    try {
      localStorage.setItem(KEY_CONVERSATIONS, JSON.stringify(list));
    } catch (e) {
      setStatus('This device\'s storage is full: the conversation is not kept here ' +
        '(the server still has it).');
    }
    renderList();
  }

  // A session key nobody can guess: 128 random bits.  (crypto.randomUUID
  // exists only in secure contexts; getRandomValues everywhere.)
  function newSessionKey() {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return 'clawcgi-page-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  // ---- state --------------------------------------------------------------

  let token = sessionGet(KEY_TOKEN);
  let agents = [];
  let conv = null;           // the open conversation (null: a new one, not yet sent)
  let controller = null;     // the running request's AbortController
  let renderTimer = null;

  function setStatus(text) { el.status.textContent = text || ''; }
  const agentLabel = (id) => String(id || '').replace(/^openclaw:/, '');

  // ---- markdown -----------------------------------------------------------

  const haveLibraries = typeof window.marked === 'object' && typeof window.DOMPurify === 'function';
  const PURIFY = {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'option', 'dialog'],
    FORBID_ATTR: ['style', 'id', 'name', 'formaction', 'srcset'],
    RETURN_DOM_FRAGMENT: true,
  };
  if (haveLibraries) {
    window.marked.setOptions({ gfm: true, breaks: true, headerIds: false, mangle: false });
    window.DOMPurify.addHook('afterSanitizeAttributes', (node) => {
      if (node.tagName === 'A' && node.hasAttribute('href')) {
        node.setAttribute('target', '_blank');
        node.setAttribute('rel', 'noopener noreferrer nofollow');
      }
    });
  }

  // renderMarkdown(target, text): text as sanitised HTML in target.  Images
  // other than data: ones become links (nothing is fetched from elsewhere),
  // code blocks get a copy button.  Without the libraries: plain text.
  function renderMarkdown(target, text) {
    if (!haveLibraries) {
      target.textContent = text;
      return;
    }
    const frag = window.DOMPurify.sanitize(window.marked.parse(text), PURIFY);
    for (const img of frag.querySelectorAll('img')) {
      const src = img.getAttribute('src') || '';
      if (/^data:image\//i.test(src)) continue;
      const label = '[image: ' + (img.getAttribute('alt') || src) + ']';
      let repl;
      if (/^https?:/i.test(src)) {
        repl = document.createElement('a');
        repl.href = src;
        repl.target = '_blank';
        repl.rel = 'noopener noreferrer nofollow';
      } else {
        repl = document.createElement('span');
      }
      repl.textContent = label;
      img.replaceWith(repl);
    }
    for (const pre of frag.querySelectorAll('pre')) {
      const box = document.createElement('div');
      box.className = 'code';
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'copy';
      button.textContent = 'Copy';
      button.setAttribute('aria-label', 'Copy code');
      pre.replaceWith(box);
      box.append(button, pre);
    }
    target.replaceChildren(frag);
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'offscreen';
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    if (!ok) throw new Error('copy refused');
  }

  el.messages.addEventListener('click', (ev) => {
    const button = ev.target.closest('button.copy');
    if (!button) return;
    const code = button.parentElement.querySelector('pre');
    copyText(code ? code.textContent : '').then(
      () => { button.textContent = 'Copied'; setStatus('Code copied.'); },
      () => { button.textContent = 'Copy failed'; });
    setTimeout(() => { button.textContent = 'Copy'; }, 2000);
  });

  // ---- rendering messages ---------------------------------------------------

  const NOTES = {
    stopped: 'Stopped: the answer is incomplete (the server keeps it as interrupted).',
    length: 'The answer was cut at the model\'s length limit.',
    tool_calls: 'The model asked to call a tool. This page does not run tools.',
  };

  function messageElement(m) {
    const art = document.createElement('article');
    art.className = 'msg msg-' + m.role;
    art.dataset.state = m.state || 'done';
    const who = document.createElement('p');
    who.className = 'who';
    who.textContent = m.role === 'user' ? 'You' : m.role === 'error' ? 'Error'
      : agentLabel(m.agent || (conv && conv.agent)) || 'Assistant';
    art.append(who);
    if (m.role === 'user') {
      const body = document.createElement('div');
      body.className = 'content plain';
      body.textContent = m.text;
      art.append(body);
      if (m.unsent) {
        const note = document.createElement('p');
        note.className = 'note';
        note.textContent = 'Not delivered.';
        art.append(note);
      }
      return art;
    }
    if (m.role === 'error') {
      art.setAttribute('role', 'alert');
      const body = document.createElement('p');
      body.className = 'content';
      body.textContent = m.text;
      art.append(body);
      return art;
    }
    fillAssistant(art, m);
    return art;
  }

  // fillAssistant(art, m): an assistant message's parts: reasoning (closed
  // unless the reader opened it), tool calls as calls, the markdown answer,
  // and a note on how it ended.
  function fillAssistant(art, m) {
    art.dataset.state = m.state || 'done';
    let details = art.querySelector('details.reasoning');
    if (m.reasoning) {
      if (!details) {
        details = document.createElement('details');
        details.className = 'reasoning';
        const summary = document.createElement('summary');
        summary.textContent = 'Reasoning';
        const body = document.createElement('div');
        body.className = 'reasoning-text';
        details.append(summary, body);
        art.querySelector('.who').after(details);
      }
      details.querySelector('.reasoning-text').textContent = m.reasoning;
    }
    let tools = art.querySelector('.tool-calls');
    if (m.tools && m.tools.length) {
      if (!tools) {
        tools = document.createElement('div');
        tools.className = 'tool-calls';
        (details || art.querySelector('.who')).after(tools);
      }
      tools.replaceChildren(...m.tools.map((t) => {
        const box = document.createElement('div');
        box.className = 'tool-call';
        const head = document.createElement('p');
        head.className = 'tool-name';
        head.textContent = 'Tool call: ' + (t.name || '(unnamed)');
        const args = document.createElement('pre');
        args.className = 'tool-args';
        args.textContent = t.arguments || '';
        box.append(head, args);
        return box;
      }));
    }
    let content = art.querySelector('.content');
    if (!content) {
      content = document.createElement('div');
      content.className = 'content markdown';
      art.append(content);
    }
    renderMarkdown(content, m.text || '');
    let note = art.querySelector('.note');
    const text = m.note || NOTES[m.state] || NOTES[m.finish] || '';
    if (text && !note) {
      note = document.createElement('p');
      note.className = 'note';
      art.append(note);
    }
    if (note) note.textContent = text;
    if (m.state === 'streaming' && !art.querySelector('.typing')) {
      const t = document.createElement('span');
      t.className = 'typing';
      t.textContent = 'writing…';
      art.append(t);
    } else if (m.state !== 'streaming') {
      const t = art.querySelector('.typing');
      if (t) t.remove();
    }
  }

  function nearBottom() {
    const m = el.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
  }

  function renderConversation() {
    el.title.textContent = conv ? conv.title : 'New conversation';
    el.messages.replaceChildren(...(conv ? conv.messages.map(messageElement) : []));
    el.messages.scrollTop = el.messages.scrollHeight;
    renderList();
  }

  // The last message again, at most every RENDER_EVERY_MS while streaming.
  function renderLast(now) {
    const flush = () => {
      renderTimer = null;
      const m = conv && conv.messages[conv.messages.length - 1];
      const art = el.messages.lastElementChild;
      if (!m || !art || m.role !== 'assistant') return;
      const stick = nearBottom();
      fillAssistant(art, m);
      if (stick) el.messages.scrollTop = el.messages.scrollHeight;
    };
    if (now) {
      clearTimeout(renderTimer);
      flush();
    } else if (!renderTimer) {
      renderTimer = setTimeout(flush, RENDER_EVERY_MS);
    }
  }

  function renderList() {
    const list = loadConversations();
    el.noConversations.hidden = list.length > 0;
    el.list.replaceChildren(...list.map((c) => {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'conversation';
      b.dataset.id = c.id;
      const t = document.createElement('span');
      t.className = 'conv-title';
      t.textContent = c.title || 'Untitled';
      const meta = document.createElement('span');
      meta.className = 'conv-meta';
      meta.textContent = agentLabel(c.agent) + ' · ' + new Date(c.updated || 0).toLocaleString();
      b.append(t, meta);
      if (conv && conv.id === c.id) b.setAttribute('aria-current', 'true');
      li.append(b);
      return li;
    }));
  }

  // ---- the endpoint ---------------------------------------------------------

  // The token as a header; none behind the web server's login (token '').
  function authHeaders(tok) {
    return tok ? { Authorization: 'Bearer ' + tok } : {};
  }

  // With a token, no cookies or HTTP credentials go along; without one the
  // browser's login to this origin does.
  function credentialsFor(tok) {
    return tok ? 'omit' : 'same-origin';
  }

  // errorOf(res): the OpenAI error object of a failed answer ({} when the
  // body is not one, e.g. a web server's own HTML page).
  async function errorOf(res) {
    try {
      const body = await res.json();
      return body && typeof body.error === 'object' && body.error ? body.error : {};
    } catch (e) {
      return {};
    }
  }

  function retryAfter(res) {
    const v = res.headers.get('Retry-After');
    if (!v) return null;
    if (/^\d+$/.test(v.trim())) return Number(v.trim());
    const when = Date.parse(v);
    return Number.isNaN(when) ? null : Math.max(0, Math.ceil((when - Date.now()) / 1000));
  }

  // explain(status, err, wait): what a failed request means, in words.
  function explain(status, err, wait) {
    const said = err.message ? ' The server said: “' + err.message + '”' : '';
    switch (status) {
    case 401:
      return token === ''
        ? 'The server no longer lets this page in (401 Unauthorized). Reload the page to log in again.'
        : 'The server does not accept this token (401 Unauthorized). Sign in again.';
    case 403:
      return 'You may not use this agent (403).' + said + ' Pick another agent.';
    case 404:
      if (err.code === 'model_not_found')
        return 'This agent does not exist on the server (any more) (404).' + said +
          ' Pick another agent: the list has been refreshed.';
      return 'The chat endpoint is turned off on this server (404 Not Found). Its operator can ' +
        'enable it (gateway.http.endpoints.chatCompletions.enabled).';
    case 408:
      return 'The message did not reach the server in time (408). Send it again.';
    case 413:
      return 'The message is too large for this server (413 Payload Too Large). Shorten it and send again.';
    case 429:
      return 'Too many requests (429).' + said + (wait !== null
        ? ' Try again in ' + wait + ' second' + (wait === 1 ? '' : 's') + '.' : ' Try again later.');
    case 502:
      return 'The model could not be reached or failed (502 Bad Gateway).' + said + ' Try again later.';
    case 503:
      return 'The server is busy or down (503 Service Unavailable). Try again later.';
    case 504:
      return 'The model took too long to answer (504 Gateway Timeout).' + said;
    default:
      return 'The server answered ' + status + '.' + said;
    }
  }

  const NETWORK = 'Could not reach the chat endpoint (' + api('v1/') +
    '): the network is down, the server is not running, or it does not allow this page\'s origin.';

  // fetchAgents(tok): GET v1/models with the token ('': the web server's
  // login); {ok} or {status, text}.
  async function fetchAgents(tok) {
    let res;
    try {
      res = await fetch(api('v1/models'), {
        headers: authHeaders(tok), cache: 'no-store', credentials: credentialsFor(tok),
      });
    } catch (e) {
      return { status: 0, text: NETWORK };
    }
    if (!res.ok) {
      const err = await errorOf(res);
      if (res.status === 401)
        return { status: 401, text: 'Wrong token: the server did not accept it (401 Unauthorized).' };
      if (res.status === 429)
        return { status: 429, text: explain(429, err, retryAfter(res)) };
      return { status: res.status, text: explain(res.status, err, retryAfter(res)) };
    }
    let body;
    try {
      body = await res.json();
    } catch (e) {
      return { status: res.status, text: 'The server\'s list of agents is not JSON: is this the clawcgi endpoint?' };
    }
    agents = (Array.isArray(body && body.data) ? body.data : [])
      .map((m) => m && m.id).filter((id) => typeof id === 'string');
    return { ok: true };
  }

  // tokenless(): whether this page may use the endpoint without a token,
  // its agents then fetched: gateway.auth.mode "none", or the web server's
  // own login.  First asked with no credentials at all (a request without
  // a token is not counted as a failed attempt): clawcgi's own refusal
  // challenges for a Bearer token, and then the page asks for one; a web
  // server's login challenges otherwise (Basic, Digest, ...) or redirects,
  // and the page asks again with the browser's login to this origin.
  async function tokenless() {
    let res = null;
    try {
      res = await fetch(api('v1/models'), { cache: 'no-store', credentials: 'omit' });
    } catch (e) {
    }
    if (res && res.status === 401 && /^\s*bearer\b/i.test(res.headers.get('WWW-Authenticate') || ''))
      return false;
    return (await fetchAgents('')).ok;
  }

  function fillAgents() {
    const want = (conv && conv.agent) || sessionGet(KEY_AGENT);
    el.agent.replaceChildren(...agents.map((id) => {
      const o = document.createElement('option');
      o.value = id;
      o.textContent = agentLabel(id);
      return o;
    }));
    if (want && agents.includes(want)) el.agent.value = want;
    sessionSet(KEY_AGENT, el.agent.value || null);
  }

  // ---- views ----------------------------------------------------------------

  function showSignin(message) {
    el.app.hidden = true;
    el.signin.hidden = false;
    el.signinError.textContent = message || '';
    el.token.value = '';
    el.token.focus();
  }

  function showApp() {
    el.signin.hidden = true;
    el.app.hidden = false;
    const open = sessionGet(KEY_OPEN);
    conv = open ? loadConversations().find((c) => c.id === open) || null : null;
    fillAgents();
    renderConversation();
    el.prompt.focus();
  }

  el.signinForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const tok = el.token.value.trim();
    if (!tok) {
      el.signinError.textContent = 'Enter the gateway token.';
      el.token.focus();
      return;
    }
    el.signinButton.disabled = true;
    el.signinError.textContent = '';
    setStatus('Signing in…');
    const r = await fetchAgents(tok);
    el.signinButton.disabled = false;
    setStatus('');
    if (!r.ok) {
      el.signinError.textContent = r.text;
      el.token.select();
      el.token.focus();
      return;
    }
    token = tok;
    sessionSet(KEY_TOKEN, tok);
    showApp();
  });

  function signOut(message) {
    if (controller) controller.abort();
    token = null;
    agents = [];
    sessionSet(KEY_TOKEN, null);
    showSignin(message);
  }
  el.signout.addEventListener('click', () => signOut('Signed out. The conversations on this device stay in the list.'));

  el.newConv.addEventListener('click', () => {
    if (controller) return;
    conv = null;
    sessionSet(KEY_OPEN, null);
    renderConversation();
    setStatus('New conversation.');
    el.prompt.focus();
  });

  el.agent.addEventListener('change', () => {
    sessionSet(KEY_AGENT, el.agent.value);
    // The server keeps a conversation per agent and session key: another
    // agent would not see this one's history, so it gets a new conversation.
    if (conv && conv.messages.length && conv.agent !== el.agent.value && !controller) {
      conv = null;
      sessionSet(KEY_OPEN, null);
      renderConversation();
      setStatus('New conversation with ' + agentLabel(el.agent.value) + '.');
    }
  });

  el.list.addEventListener('click', (ev) => {
    const b = ev.target.closest('button.conversation');
    if (!b || controller) return;
    const found = loadConversations().find((c) => c.id === b.dataset.id);
    if (!found) return;
    conv = found;
    sessionSet(KEY_OPEN, conv.id);
    if (agents.includes(conv.agent)) {
      el.agent.value = conv.agent;
      sessionSet(KEY_AGENT, conv.agent);
    }
    renderConversation();
    setNarrowList(false);
    setStatus('Opened “' + conv.title + '”.');
    el.prompt.focus();
  });

  function setNarrowList(open) {
    el.toggleList.setAttribute('aria-expanded', String(open));
    el.conversations.classList.toggle('open', open);
  }
  el.toggleList.addEventListener('click', () => {
    setNarrowList(el.toggleList.getAttribute('aria-expanded') !== 'true');
  });

  // ---- sending ----------------------------------------------------------------

  el.prompt.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.ctrlKey && !ev.altKey && !ev.metaKey &&
        !ev.isComposing) {
      ev.preventDefault();
      el.composer.requestSubmit();
    }
  });
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && controller) controller.abort();
  });
  el.composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = el.prompt.value;
    if (!text.trim() || controller) return;
    el.prompt.value = '';
    send(text);
  });
  el.stop.addEventListener('click', () => { if (controller) controller.abort(); });

  function setBusy(busy) {
    el.send.disabled = busy;
    el.stop.hidden = !busy;
    el.newConv.disabled = busy;
    el.agent.disabled = busy;
  }

  // send(text): one turn.  Only the new user message goes out: the server
  // holds the conversation's history under its session key.
  async function send(text) {
    const agent = el.agent.value;
    if (!agent) {
      setStatus('No agent to talk to: the server lists none.');
      return;
    }
    if (!conv) {
      const title = text.trim().replace(/\s+/g, ' ');
      conv = {
        id: newSessionKey(), agent, created: Date.now(), updated: Date.now(), messages: [],
        title: title.length > 60 ? title.slice(0, 57) + '…' : title,
      };
      sessionSet(KEY_OPEN, conv.id);
    }
    conv.agent = agent;
    const user = { role: 'user', text };
    const answer = { role: 'assistant', agent, text: '', reasoning: '', tools: [], state: 'streaming' };
    conv.messages.push(user, answer);
    conv.updated = Date.now();
    saveConversation(conv);
    renderConversation();
    const mine = conv;
    controller = new AbortController();
    const signal = controller.signal;
    setBusy(true);
    setStatus('Waiting for ' + agentLabel(agent) + '…');

    let res;
    try {
      res = await fetch(api('v1/chat/completions'), {
        method: 'POST',
        headers: Object.assign(authHeaders(token), {
          'Content-Type': 'application/json',
          Accept: 'text/event-stream',
          'x-openclaw-session-key': mine.id,
        }),
        body: JSON.stringify({ model: agent, stream: true, messages: [{ role: 'user', content: text }] }),
        signal, cache: 'no-store', credentials: credentialsFor(token),
      });
    } catch (e) {
      return finish(mine, user, answer, signal.aborted ? 'stopped-early' : 'failed', NETWORK);
    }
    if (!res.ok) {
      const err = await errorOf(res);
      const why = explain(res.status, err, retryAfter(res));
      finish(mine, user, answer, 'failed', why);
      if (res.status === 401) signOut(why);
      else if (res.status === 404 && err.code === 'model_not_found') {
        if ((await fetchAgents(token)).ok) fillAgents();
      }
      return;
    }
    setStatus(agentLabel(agent) + ' is answering…');
    try {
      const outcome = await readStream(res, answer, signal);
      finish(mine, user, answer, outcome.state, outcome.note);
    } catch (e) {
      finish(mine, user, answer, signal.aborted ? 'stopped' : 'error',
        signal.aborted ? '' : 'The connection was lost before the answer finished. ' +
          'What arrived is shown; send again to go on.');
    }
  }

  // finish(c, user, answer, state, note): the end of a turn.  "failed" and
  // "stopped-early": nothing of it reached the model's history (the request
  // was refused, or stopped before an answer began), so the message is
  // marked not delivered and put back into the box.
  function finish(c, user, answer, state, note) {
    controller = null;
    setBusy(false);
    if (state === 'failed' || state === 'stopped-early') {
      c.messages.splice(c.messages.indexOf(answer), 1);
      user.unsent = true;
      if (state === 'failed') c.messages.push({ role: 'error', text: note });
      if (!el.prompt.value) el.prompt.value = user.text;
      setStatus(state === 'failed' ? note : 'Stopped before the answer began.');
    } else {
      answer.state = state;
      if (note) answer.note = note;
      setStatus(state === 'done' ? 'Answered.' : state === 'stopped' ? 'Stopped.' : note);
    }
    c.updated = Date.now();
    saveConversation(c);
    if (conv === c) renderConversation();
    el.prompt.focus();
  }

  // readStream(res, answer, signal): the SSE body into answer, delta by
  // delta; resolves {state, note}; rejects when the connection breaks or
  // the reader stops it.
  async function readStream(res, answer, signal) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    const onAbort = () => reader.cancel().catch(() => {});
    signal.addEventListener('abort', onAbort);
    let buf = '';
    let result = null;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (signal.aborted) throw new DOMException('stopped', 'AbortError');
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut).replace(/^\r?\n\r?\n/, '');
          result = onEvent(block, answer) || result;
          if (result) break;
        }
        if (result) break;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    if (signal.aborted) throw new DOMException('stopped', 'AbortError');
    reader.cancel().catch(() => {});
    renderLast(true);
    return result || {
      state: 'error',
      note: 'The connection was lost before the answer finished. What arrived is shown; send again to go on.',
    };
  }

  // onEvent(block, answer): one SSE event; a result when the stream ends.
  function onEvent(block, answer) {
    const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, '')).join('\n');
    if (!data) return null;             // a ": keep-alive" comment
    if (data === '[DONE]')
      return { state: 'done' };
    let ev;
    try {
      ev = JSON.parse(data);
    } catch (e) {
      return null;
    }
    if (ev && ev.error) {
      return {
        state: 'error',
        note: 'The answer broke off: ' + (ev.error.message || 'the model failed') +
          '. What arrived is shown.',
      };
    }
    const choice = ev && Array.isArray(ev.choices) ? ev.choices.find((c) => (c.index || 0) === 0) : null;
    if (!choice) return null;
    const d = choice.delta || {};
    if (typeof d.content === 'string') answer.text += d.content;
    const r = typeof d.reasoning_content === 'string' ? d.reasoning_content
      : typeof d.reasoning === 'string' ? d.reasoning : '';
    if (r) answer.reasoning += r;
    if (Array.isArray(d.tool_calls)) {
      for (const tc of d.tool_calls) {
        const i = Number.isInteger(tc.index) ? tc.index : answer.tools.length;
        const t = answer.tools[i] || (answer.tools[i] = { id: '', name: '', arguments: '' });
        if (tc.id) t.id = tc.id;
        if (tc.function && tc.function.name) t.name += tc.function.name;
        if (tc.function && typeof tc.function.arguments === 'string') t.arguments += tc.function.arguments;
      }
    }
    if (choice.finish_reason) answer.finish = choice.finish_reason;
    renderLast(false);
    return null;
  }

  // ---- start ------------------------------------------------------------------

  async function start() {
    if (!haveLibraries)
      setStatus('The page\'s markdown libraries (vendor/) did not load: answers are shown as plain text.');
    if (!token) {
      if (await tokenless()) {
        token = '';
        el.signout.hidden = true; /* the browser holds that login */
        showApp();
      } else {
        showSignin('');
      }
      return;
    }
    const r = await fetchAgents(token);
    if (r.ok) {
      showApp();
    } else if (r.status === 401) {
      sessionSet(KEY_TOKEN, null);
      token = null;
      showSignin('The server no longer accepts the token of this tab (401). Sign in again.');
    } else {
      showSignin(r.text);
    }
  }

  window.addEventListener('storage', (ev) => {
    if (ev.key === KEY_CONVERSATIONS && !el.app.hidden) renderList();
  });
  start();
}());
