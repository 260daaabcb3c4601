#!/usr/bin/env node
// One headless Chromium driven over a line-oriented JSON protocol, for the
// gateway's browser end-to-end tests (Rust: e2e/src/browser.rs).
//
//   node e2e/browser/driver.mjs
//
// stdin: one request per line  {"id":N,"op":"...",...}
// stdout: one reply per line   {"id":N,"ok":true,...} | {"id":N,"ok":false,"error":"..."}
// The first stdout line is {"ready":true,...}; stdout carries nothing else.
// Logs go to stderr. Exits (closing the browser, deleting its profile) when
// stdin closes or on SIGTERM/SIGINT. See README.md next to this file.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';

import { chromium } from 'playwright-core';

// stdout is reserved for replies.
const writeStdout = process.stdout.write.bind(process.stdout);
for (const m of ['log', 'info', 'debug']) console[m] = (...a) => console.error(...a);
const DEBUG = Boolean(process.env.DRIVER_DEBUG);
const log = (...a) => console.error('[driver]', ...a);
const debug = (...a) => { if (DEBUG) log(...a); };

const OP_TIMEOUT_MS = Number(process.env.DRIVER_OP_TIMEOUT_MS || 20_000);
const TEXT_MAX = 4000;
// After a document loads, how long no new main-frame navigation may start
// before the page counts as settled (auto-submitting forms, JS redirects).
const QUIET_MS = 200;

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function chromiumPath() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('chromium not found: install Debian chromium (scripts/test.sh does) or set CHROMIUM');
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls cond() until true; gives up (throws) past the op's deadline, so a
// timed-out op does not keep polling in the background.
async function waitUntil(cond, deadline, what) {
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(25);
  }
}

// ---------------------------------------------------------------------------
// Browser and pages.

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'oidc-e2e-chromium-'));
let context;
const pages = new Map(); // name -> { page, st }

async function getPage(name) {
  if (typeof name !== 'string' || !name) throw new Error('"page" must be a non-empty string');
  const existing = pages.get(name);
  if (existing) {
    const entry = await existing;
    if (!entry.page.isClosed()) return entry;
  }
  const created = newPage(name);
  pages.set(name, created);
  try {
    return await created;
  } catch (err) {
    pages.delete(name);
    throw err;
  }
}

async function newPage(name) {
  const page = await context.newPage();
  page.setDefaultTimeout(OP_TIMEOUT_MS);
  page.setDefaultNavigationTimeout(OP_TIMEOUT_MS);
  // st.chain: main-frame navigation request URLs since the last reset;
  // st.pending: a main-frame navigation is under way (not committed yet).
  const st = { chain: [], navCount: 0, pending: false, status: null, statusUrl: null };
  const isMainNav = (req) => req.isNavigationRequest() && req.frame() === page.mainFrame();
  page.on('request', (req) => {
    if (!isMainNav(req)) return;
    st.chain.push(req.url());
    st.navCount += 1;
    st.pending = true;
    debug(`${name}: ${req.method()} ${req.url()}`);
  });
  page.on('response', (res) => {
    if (!isMainNav(res.request())) return;
    st.status = res.status();
    st.statusUrl = res.url();
    debug(`${name}: ${res.status()} ${res.url()}`);
  });
  page.on('requestfinished', async (req) => {
    if (!isMainNav(req)) return;
    const res = await req.response().catch(() => null);
    // a redirect hop is followed by the next request; anything else ends the navigation
    if (!res || res.status() < 300 || res.status() >= 400) st.pending = false;
  });
  page.on('requestfailed', (req) => {
    if (!isMainNav(req)) return;
    st.pending = false;
    debug(`${name}: failed ${req.url()}: ${req.failure()?.errorText}`);
  });
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) st.pending = false;
  });
  page.on('console', (msg) => debug(`${name} console.${msg.type()}: ${msg.text()}`));
  return { page, st };
}

// Waits until the main frame has loaded and no further navigation started
// for QUIET_MS (covers self-submitting forms and script redirects).
async function settle({ page, st }, deadline) {
  for (;;) {
    await waitUntil(() => !st.pending, deadline, 'a navigation to commit');
    await page.waitForLoadState('load', { timeout: Math.max(1, deadline - Date.now()) });
    const n = st.navCount;
    await sleep(QUIET_MS);
    if (st.navCount === n && !st.pending) return;
  }
}

async function describe({ page, st }) {
  const [title, text] = await Promise.all([
    page.title().catch(() => ''),
    page.evaluate(() => (document.body ? document.body.innerText : '')).catch(() => ''),
  ]);
  return {
    status: st.status,
    url: page.url(),
    title,
    text: String(text).slice(0, TEXT_MAX),
    chain: [...st.chain],
  };
}

function resetNav(st) {
  st.chain = [];
  st.status = null;
  st.statusUrl = null;
}

const benign = (err) => /interrupted by another navigation|net::ERR_ABORTED|frame was detached/i.test(String(err?.message ?? err));

// ---------------------------------------------------------------------------
// Operations.

async function opOpen({ page: name, url, deadline }) {
  if (typeof url !== 'string') throw new Error('"url" must be a string');
  const entry = await getPage(name);
  resetNav(entry.st);
  try {
    await entry.page.goto(url, { waitUntil: 'load' });
  } catch (err) {
    if (!benign(err)) throw err;
    debug(`goto ${url}: ${err.message} (continuing)`);
  }
  await settle(entry, deadline);
  return describe(entry);
}

async function opState({ page: name }) {
  const entry = await getPage(name);
  return describe(entry);
}

async function loginFormOn(page) {
  return page.evaluate(() => Boolean(
    document.querySelector('form input[name="login"]')
    && document.querySelector('form input[name="password"]')
    && document.querySelector('#submit'),
  )).catch(() => false);
}

async function opLogin({ page: name, username, password, deadline }) {
  if (typeof username !== 'string' || typeof password !== 'string') {
    throw new Error('"username" and "password" must be strings');
  }
  const entry = await getPage(name);
  const { page, st } = entry;
  await settle(entry, deadline);
  if (!(await loginFormOn(page))) throw new Error(`no login form on ${page.url()}`);
  const idpOrigin = new URL(page.url()).origin;
  await page.fill('input[name="login"]', username);
  await page.fill('input[name="password"]', password);
  resetNav(st);
  const before = st.navCount;
  await page.click('#submit', { noWaitAfter: true });
  // Wait until the browser has left the IdP (IdP -> gateway callback ->
  // original URL), or the IdP answered the form with the form again (wrong
  // password).
  for (;;) {
    await waitUntil(() => st.navCount !== before, deadline, 'the login form to be submitted');
    await settle(entry, deadline);
    let origin = null;
    try { origin = new URL(page.url()).origin; } catch { /* about:blank */ }
    if (origin !== idpOrigin) return describe(entry);
    if (await loginFormOn(page)) {
      const error = await page.evaluate(() => document.querySelector('#error')?.innerText ?? null).catch(() => null);
      return { ...(await describe(entry)), login_error: error ?? 'login form shown again' };
    }
    // still on the IdP, something else (e.g. an error page): report it
    return { ...(await describe(entry)), login_error: 'still on the IdP after login' };
  }
}

async function opClick({ page: name, selector, deadline }) {
  if (typeof selector !== 'string') throw new Error('"selector" must be a string');
  const entry = await getPage(name);
  resetNav(entry.st);
  await entry.page.click(selector);
  await sleep(50);
  await settle(entry, deadline);
  return describe(entry);
}

async function opFetch({ page: name, url, method = 'GET', headers = {}, body }) {
  if (typeof url !== 'string') throw new Error('"url" must be a string');
  const { page } = await getPage(name);
  return page.evaluate(async ({ url: u, method: m, headers: h, body: b, max }) => {
    try {
      const r = await fetch(u, { method: m, headers: h, body: b, credentials: 'include', redirect: 'manual' });
      const text = await r.text();
      return {
        status: r.status,
        type: r.type,
        url: r.url,
        redirected: r.redirected,
        headers: Object.fromEntries(r.headers.entries()),
        body: text.slice(0, max),
      };
    } catch (e) {
      return { status: 0, type: 'error', error: String(e), headers: {}, body: '' };
    }
  }, { url, method, headers, body, max: TEXT_MAX });
}

async function opCookies() {
  const cookies = await context.cookies();
  return {
    cookies: cookies.map(({ name, value, domain, path: p, httpOnly, secure, sameSite, expires }) => ({
      name, value, domain, path: p, httpOnly, secure, sameSite, expires,
    })),
  };
}

async function opAddCookies({ cookies }) {
  if (!Array.isArray(cookies)) throw new Error('"cookies" must be a list');
  await context.addCookies(cookies);
  return {};
}

async function opClearCookies() {
  await context.clearCookies();
  return {};
}

async function opEval({ page: name, js }) {
  if (typeof js !== 'string') throw new Error('"js" must be a string');
  const { page } = await getPage(name);
  const value = await page.evaluate(js);
  return { value: value === undefined ? null : value };
}

async function opClose({ page: name }) {
  const entry = await pages.get(name)?.catch(() => null);
  pages.delete(name);
  if (entry && !entry.page.isClosed()) await entry.page.close();
  return { closed: Boolean(entry) };
}

async function opParallel({ ops }) {
  if (!Array.isArray(ops)) throw new Error('"ops" must be a list');
  if (ops.some((o) => o?.op === 'parallel')) throw new Error('parallel cannot nest');
  const results = await Promise.all(ops.map(async (o) => {
    try {
      return { ok: true, ...(await runOp(o)) };
    } catch (err) {
      return { ok: false, error: errText(err) };
    }
  }));
  return { results };
}

const OPS = {
  open: opOpen,
  state: opState,
  login: opLogin,
  click: opClick,
  fetch: opFetch,
  cookies: opCookies,
  add_cookies: opAddCookies,
  clear_cookies: opClearCookies,
  eval: opEval,
  close: opClose,
  parallel: opParallel,
};

function errText(err) {
  return String(err?.message ?? err).split('\n')[0];
}

// Runs one op with the op timeout (never hangs longer).
// Ops on the same page run one after the other (in arrival order); ops on
// different pages, and page-less ops, run concurrently.
const pageQueues = new Map(); // name -> promise of the last queued op's end

async function runOp(req) {
  if (!req || typeof req !== 'object') throw new Error('request must be a JSON object');
  const fn = OPS[req.op];
  if (!fn) throw new Error(`unknown op ${JSON.stringify(req.op)}`);
  if (typeof req.page !== 'string') return runTimed(req, fn);
  const previous = pageQueues.get(req.page) ?? Promise.resolve();
  const mine = previous.then(() => runTimed(req, fn));
  const tail = mine.catch(() => {});
  pageQueues.set(req.page, tail);
  tail.then(() => { if (pageQueues.get(req.page) === tail) pageQueues.delete(req.page); });
  return mine;
}

async function runTimed(req, fn) {
  // per-request "timeout_ms" may shorten (never lengthen) the op timeout
  const ms = Number.isFinite(req.timeout_ms) && req.timeout_ms > 0
    ? Math.min(req.timeout_ms, OP_TIMEOUT_MS) : OP_TIMEOUT_MS;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`op ${req.op} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([fn({ ...req, deadline: Date.now() + ms }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------
// Main loop.

let closing = false;
async function shutdown(why) {
  if (closing) return;
  closing = true;
  log(`${why}: closing the browser`);
  const hard = setTimeout(() => {
    fs.rmSync(userDataDir, { recursive: true, force: true });
    process.exit(0);
  }, 5000);
  hard.unref();
  try {
    await context?.close();
  } catch (err) {
    log('close:', errText(err));
  }
  fs.rmSync(userDataDir, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGHUP', () => shutdown('SIGHUP'));

function reply(obj) {
  writeStdout(`${JSON.stringify(obj)}\n`);
}

async function main() {
  const executablePath = chromiumPath();
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: FLAGS,
    ignoreHTTPSErrors: true,
    timeout: 30_000,
  });
  context.setDefaultTimeout(OP_TIMEOUT_MS);
  const version = context.browser()?.version() ?? null;
  log(`ready: ${executablePath} ${version ?? ''} profile ${userDataDir}`);
  reply({ ready: true, chromium: version });

  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  let inflight = 0;
  let ended = false;
  const maybeExit = () => { if (ended && inflight === 0) shutdown('stdin closed'); };
  rl.on('line', async (line) => {
    if (!line.trim()) return;
    let req;
    try {
      req = JSON.parse(line);
    } catch {
      reply({ id: null, ok: false, error: 'request is not valid JSON' });
      return;
    }
    inflight += 1;
    const id = req?.id ?? null;
    try {
      const out = await runOp(req);
      reply({ id, ok: true, ...out });
    } catch (err) {
      log(`op ${req?.op} failed: ${errText(err)}`);
      reply({ id, ok: false, error: errText(err) });
    } finally {
      inflight -= 1;
      maybeExit();
    }
  });
  rl.on('close', () => {
    ended = true;
    maybeExit();
  });
}

main().catch((err) => {
  console.error('[driver] fatal:', err);
  fs.rmSync(userDataDir, { recursive: true, force: true });
  process.exit(1);
});
