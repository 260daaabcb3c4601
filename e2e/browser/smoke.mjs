#!/usr/bin/env node
// Browser smoke test without the gateway: the e2e IdP (e2e/idp/idp.mjs), a
// tiny relying party written here (authorization code + PKCE S256 + nonce +
// state, code exchange, refresh, userinfo, revocation, RP-initiated logout),
// and one Chromium driven through driver.mjs's stdin/stdout protocol exactly
// as the Rust tests do. Exits non-zero on the first failed check.
//
//   bash e2e/browser/smoke.sh      (or: node e2e/browser/smoke.mjs)

import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const IDP_SCRIPT = path.join(HERE, '..', 'idp', 'idp.mjs');
const DRIVER_SCRIPT = path.join(HERE, 'driver.mjs');
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'oidc-browser-smoke-'));
const T0 = Date.now();

let passed = 0;
const children = [];
let idpErr = '';
let driverErr = '';

function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  fs.rmSync(WORK, { recursive: true, force: true });
}
function ok(desc) {
  passed += 1;
  console.log(`ok   - ${desc}`);
}
function fail(desc, detail) {
  console.log(`FAIL - ${desc}`);
  if (detail !== undefined) console.log(`       got: ${typeof detail === 'string' ? detail : JSON.stringify(detail, null, 1)}`.slice(0, 3000));
  console.log('---- idp stderr (tail) ----');
  console.log(idpErr.split('\n').slice(-25).join('\n'));
  console.log('---- driver stderr (tail) ----');
  console.log(driverErr.split('\n').slice(-25).join('\n'));
  console.log(`${passed} passed, 1 failed`);
  cleanup();
  process.exit(1);
}
function check(desc, cond, detail) {
  if (cond) ok(desc);
  else fail(desc, detail);
}
process.on('unhandledRejection', (err) => fail('unexpected error', String(err?.stack ?? err)));

const b64json = (s) => JSON.parse(Buffer.from(s, 'base64url').toString());
const rand = (n = 16) => crypto.randomBytes(n).toString('base64url');

// ---------------------------------------------------------------------------
// The IdP.

function startIdp() {
  const child = spawn(process.execPath, [IDP_SCRIPT, '--port', '0', '--admin-port', '0', '--exit-with-stdin', '--tls-dir', path.join(WORK, 'tls')], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  child.stderr.on('data', (d) => { idpErr += d; });
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.once('line', (line) => resolve(JSON.parse(line)));
    child.once('exit', (code) => reject(new Error(`idp exited with ${code} during startup: ${idpErr}`)));
  });
}

async function admin(idp, method, p, body) {
  const r = await fetch(`${idp.admin}${p}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, json: await r.json() };
}

// HTTPS to the IdP, trusting its throwaway CA.
function idpRequest(idp, method, url, { form, auth, bearer } = {}) {
  const u = new URL(url);
  const body = form ? new URLSearchParams(form).toString() : undefined;
  const headers = { accept: 'application/json', host: u.host };
  if (body !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    headers['content-length'] = Buffer.byteLength(body);
  }
  if (auth) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(auth[0])}:${encodeURIComponent(auth[1])}`).toString('base64')}`;
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port: u.port, servername: 'localhost', path: u.pathname + u.search,
      method, headers, ca: idp.caPem, agent: false,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json;
        try { json = text ? JSON.parse(text) : {}; } catch { json = { raw: text }; }
        resolve({ status: res.statusCode, json, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// Verifies a JWS against the IdP's JWKS with node:crypto; returns the payload
// or throws.
async function verifyJwt(idp, jwt) {
  const [h, p, s] = jwt.split('.');
  const header = b64json(h);
  const jwks = (await idpRequest(idp, 'GET', idp.discovery.jwks_uri)).json;
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`no key ${header.kid} in the JWKS`);
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, 'base64url');
  const good = header.alg === 'RS256'
    ? crypto.verify('sha256', data, key, sig)
    : crypto.verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
  if (!good) throw new Error('bad signature');
  return { header, payload: b64json(p) };
}

// ---------------------------------------------------------------------------
// The relying party (plain http on 127.0.0.1).

function startRp(idp) {
  const flows = new Map(); // state -> flow
  const sessions = new Map(); // sid -> session
  const events = []; // what the callback saw, for the checks
  let base;
  const clients = {}; // name -> { client_id, client_secret }

  const send = (res, status, type, body, headers = {}) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
    res.end(body);
  };
  const page = (res, status, title, text, headers) => send(res, status, 'text/html; charset=utf-8',
    `<!DOCTYPE html><html><head><title>${title}</title></head><body><pre>${text.replace(/</g, '&lt;')}</pre></body></html>`, headers);
  const json = (res, status, obj) => send(res, status, 'application/json', JSON.stringify(obj));
  const sessionOf = (req) => {
    const m = /(?:^|;\s*)rp_session=([^;]+)/.exec(req.headers.cookie ?? '');
    return m ? sessions.get(m[1]) : undefined;
  };
  const tokenCall = (client, form) => idpRequest(idp, 'POST', idp.discovery.token_endpoint, {
    form, auth: [client.client_id, client.client_secret],
  });

  async function handle(req, res) {
    const url = new URL(req.url, base);
    const q = url.searchParams;
    if (url.pathname.startsWith('/app/')) {
      const session = sessionOf(req);
      // ?fresh forces a new authorization unless this session came from one
      // started at this very URL (the redirect back after the callback)
      if (session && (!q.has('fresh') || session.original === `${url.pathname}${url.search}`)) {
        return page(res, 200, 'RP app', `hello ${session.claims.sub} at ${url.pathname}${url.search}`);
      }
      // start an authorization code flow
      const name = q.get('client') ?? 'rp';
      const client = clients[name];
      const state = rand();
      const nonce = rand();
      const verifier = rand(32);
      const usePkce = !q.has('nopkce');
      flows.set(state, { name, nonce, verifier: usePkce ? verifier : undefined, original: `${url.pathname}${url.search}` });
      const auth = new URL(idp.discovery.authorization_endpoint);
      auth.search = new URLSearchParams({
        client_id: client.client_id,
        response_type: 'code',
        redirect_uri: `${base}/callback`,
        scope: 'openid email profile',
        state,
        nonce,
        ...(usePkce ? {
          code_challenge: crypto.createHash('sha256').update(verifier).digest('base64url'),
          code_challenge_method: 'S256',
        } : {}),
      }).toString();
      // two marker cookies: which SameSite survives the IdP -> callback redirect?
      res.writeHead(302, {
        location: auth.toString(),
        'cache-control': 'no-store',
        'set-cookie': [
          `rp_flow_lax=${state}; Path=/; HttpOnly; Secure; SameSite=Lax`,
          `rp_flow_strict=${state}; Path=/; HttpOnly; Secure; SameSite=Strict`,
        ],
      });
      return res.end();
    }
    if (url.pathname === '/callback') {
      const flow = flows.get(q.get('state'));
      const ev = {
        query: Object.fromEntries(q),
        flow: flow ? { name: flow.name, original: flow.original } : null,
        cookie: req.headers.cookie ?? '',
      };
      events.push(ev);
      if (!flow) return page(res, 400, 'RP error', 'unknown state');
      flows.delete(q.get('state'));
      if (q.get('error')) {
        return page(res, 400, 'RP error', `authorization error: ${q.get('error')}: ${q.get('error_description')}`);
      }
      if (q.get('iss') !== idp.issuer) return page(res, 400, 'RP error', `iss parameter ${q.get('iss')} is not ${idp.issuer}`);
      const client = clients[flow.name];
      const tr = await tokenCall(client, {
        grant_type: 'authorization_code',
        code: q.get('code'),
        redirect_uri: `${base}/callback`,
        ...(flow.verifier ? { code_verifier: flow.verifier } : {}),
      });
      ev.token = tr;
      if (tr.status !== 200) return page(res, 400, 'RP error', `token endpoint: ${JSON.stringify(tr.json)}`);
      let id;
      try {
        id = await verifyJwt(idp, tr.json.id_token);
      } catch (err) {
        ev.idTokenError = String(err.message);
        return page(res, 400, 'RP error', `id token: ${err.message}`);
      }
      ev.idToken = id;
      ev.expectedNonce = flow.nonce;
      if (id.payload.iss !== idp.issuer || id.payload.aud !== client.client_id) {
        return page(res, 400, 'RP error', 'id token iss/aud mismatch');
      }
      if (id.payload.nonce !== flow.nonce) {
        ev.nonceMismatch = true;
        return page(res, 400, 'RP error', `nonce mismatch: expected ${flow.nonce}, got ${id.payload.nonce}`);
      }
      const sid = rand();
      sessions.set(sid, {
        client: flow.name,
        original: flow.original,
        claims: id.payload,
        idToken: tr.json.id_token,
        accessToken: tr.json.access_token,
        refreshToken: tr.json.refresh_token,
        expiresIn: tr.json.expires_in,
      });
      res.writeHead(302, {
        location: flow.original,
        'set-cookie': `rp_session=${sid}; Path=/; HttpOnly; SameSite=Lax`,
        'cache-control': 'no-store',
      });
      return res.end();
    }
    const session = sessionOf(req);
    if (url.pathname === '/session') {
      if (!session) return json(res, 401, { error: 'no session' });
      return json(res, 200, {
        client: session.client, sub: session.claims.sub, expires_in: session.expiresIn,
        access_token: session.accessToken, refresh_token: session.refreshToken,
      });
    }
    if (url.pathname === '/userinfo') {
      if (!session) return json(res, 401, { error: 'no session' });
      const r = await idpRequest(idp, 'GET', idp.discovery.userinfo_endpoint, { bearer: session.accessToken });
      return json(res, 200, r);
    }
    if (url.pathname === '/refresh') {
      // refresh, then replay the old refresh token (must be refused: rotation)
      if (!session) return json(res, 401, { error: 'no session' });
      const client = clients[session.client];
      const old = session.refreshToken;
      const first = await tokenCall(client, { grant_type: 'refresh_token', refresh_token: old });
      if (first.status === 200) {
        session.refreshToken = first.json.refresh_token;
        session.accessToken = first.json.access_token;
      }
      const replay = await tokenCall(client, { grant_type: 'refresh_token', refresh_token: old });
      return json(res, 200, { old, first, replay });
    }
    if (url.pathname === '/revoke') {
      // revoke the access and refresh tokens, then try to use them
      if (!session) return json(res, 401, { error: 'no session' });
      const client = clients[session.client];
      const rev = idp.discovery.revocation_endpoint;
      const auth = [client.client_id, client.client_secret];
      const ra = await idpRequest(idp, 'POST', rev, { form: { token: session.accessToken, token_type_hint: 'access_token' }, auth });
      const rr = await idpRequest(idp, 'POST', rev, { form: { token: session.refreshToken, token_type_hint: 'refresh_token' }, auth });
      const ui = await idpRequest(idp, 'GET', idp.discovery.userinfo_endpoint, { bearer: session.accessToken });
      const rf = await tokenCall(client, { grant_type: 'refresh_token', refresh_token: session.refreshToken });
      return json(res, 200, { revoke_access: ra.status, revoke_refresh: rr.status, userinfo: ui, refresh: rf });
    }
    if (url.pathname === '/logout') {
      if (!session) return page(res, 400, 'RP error', 'no session');
      const client = clients[session.client];
      for (const [k, v] of sessions) if (v === session) sessions.delete(k);
      const end = new URL(idp.discovery.end_session_endpoint);
      end.search = new URLSearchParams({
        id_token_hint: session.idToken,
        post_logout_redirect_uri: `${base}/logged-out`,
        client_id: client.client_id,
        state: 'bye',
      }).toString();
      res.writeHead(302, { location: end.toString(), 'set-cookie': 'rp_session=; Path=/; Max-Age=0' });
      return res.end();
    }
    if (url.pathname === '/logged-out') return page(res, 200, 'RP logged out', `logged out, state ${q.get('state')}`);
    if (url.pathname === '/hang') return undefined; // never answers (driver timeout check)
    return page(res, 404, 'RP 404', 'not found');
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      console.error('rp error', err);
      if (!res.headersSent) page(res, 500, 'RP 500', String(err));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      base = `http://127.0.0.1:${server.address().port}`;
      resolve({ base, server, events, clients, sessions });
    });
  });
}

// ---------------------------------------------------------------------------
// The browser, through the driver protocol.

function startDriver() {
  const child = spawn(process.execPath, [DRIVER_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  child.stderr.on('data', (d) => { driverErr += d; });
  const rl = readline.createInterface({ input: child.stdout });
  const waiting = new Map();
  const lines = [];
  let nextId = 1;
  let onReady;
  const ready = new Promise((resolve, reject) => {
    onReady = resolve;
    child.once('exit', (code) => reject(new Error(`driver exited with ${code}: ${driverErr}`)));
  });
  rl.on('line', (line) => {
    lines.push(line);
    const msg = JSON.parse(line);
    if (msg.ready) return onReady(msg);
    const w = waiting.get(msg.id);
    if (!w) throw new Error(`reply to unknown id: ${line}`);
    waiting.delete(msg.id);
    w(msg);
  });
  const raw = (op) => new Promise((resolve) => {
    const id = nextId++;
    waiting.set(id, resolve);
    child.stdin.write(`${JSON.stringify({ id, ...op })}\n`);
  });
  const call = async (op) => {
    const r = await raw(op);
    if (!r.ok) fail(`driver op ${op.op} ${op.url ?? op.page ?? ''}`, r.error);
    return r;
  };
  return { child, ready, raw, call, lines };
}

// ---------------------------------------------------------------------------

async function main() {
  // IdP
  const ready = await startIdp();
  const idp = { ...ready, caPem: fs.readFileSync(ready.ca) };
  idp.discovery = (await idpRequest(idp, 'GET', `${idp.issuer}/.well-known/openid-configuration`)).json;
  const D = idp.discovery;
  console.log(`idp: ${idp.issuer} (admin ${idp.admin})`);
  check('discovery: end_session_endpoint, userinfo, RFC 9207 iss parameter, S256, code + refresh_token grants',
    D.end_session_endpoint === `${idp.issuer}/session/end` && D.userinfo_endpoint === `${idp.issuer}/me`
      && D.authorization_response_iss_parameter_supported === true
      && D.code_challenge_methods_supported?.includes('S256')
      && D.grant_types_supported.includes('authorization_code') && D.grant_types_supported.includes('refresh_token')
      && D.scopes_supported.includes('email') && D.claims_supported.includes('email'), D);

  // RP and its clients
  const rp = await startRp(idp);
  console.log(`rp: ${rp.base}`);
  const spec = (client_id, extra = {}) => ({
    client_id,
    client_secret: `${client_id}-secret-0123456789`,
    redirect_uris: [`${rp.base}/callback`],
    post_logout_redirect_uris: [`${rp.base}/logged-out`],
    ...extra,
  });
  const reg = [
    ['rp', spec('smoke-rp', { access_token_ttl: 120 })],
    ['tamper', spec('smoke-tamper', { id_token_tamper: 'nonce' })],
    ['pkce', spec('smoke-pkce', { require_pkce: true, token_endpoint_auth_method: 'client_secret_post' })],
  ];
  for (const [name, s] of reg) {
    const r = await admin(idp, 'POST', '/clients', s);
    check(`POST /clients registers ${s.client_id}`, r.status === 201 && r.json.client_id === s.client_id
      && r.json.metadata?.grant_types?.join() === 'authorization_code,refresh_token', r);
    rp.clients[name] = { client_id: s.client_id, client_secret: s.client_secret };
  }
  const bad = await admin(idp, 'POST', '/clients', { client_id: 'x', client_secret: 's', redirect_uris: ['not a url'] });
  check('POST /clients refuses bad metadata (400)', bad.status === 400, bad);
  const again = await admin(idp, 'POST', '/clients', reg[0][1]);
  check('POST /clients again replaces the client (200)', again.status === 200, again);
  const list = await admin(idp, 'GET', '/clients');
  check('GET /clients lists the three', list.json.clients.length === 3, list);

  // bearer behaviour still there after rebuilding the provider
  const cc = await admin(idp, 'GET', '/token?client=jwt-client&scope=read&resource=https://api.test');
  check('client_credentials JWT still works after the rebuilds', cc.status === 200 && cc.json.access_token.split('.').length === 3, cc);

  // browser
  const drv = startDriver();
  const readyLine = await drv.ready;
  check('driver: first stdout line is {"ready":true,...}', readyLine.ready === true && drv.lines.length === 1, readyLine);
  const profile = /profile (\S+)/.exec(driverErr)?.[1];

  const stats = async () => (await admin(idp, 'GET', '/stats')).json;
  await admin(idp, 'POST', '/stats/reset');

  // 1. first visit: redirected to the IdP login form
  const original = `${rp.base}/app/deep/path?x=1&y=two%20words&z=%C3%A9`;
  let r = await drv.call({ op: 'open', page: 'a', url: original });
  check('open: unauthenticated RP URL ends on the IdP login form',
    r.url.startsWith(`${idp.issuer}/interaction/`) && r.status === 200 && /Sign in/.test(r.text) && r.title === 'Sign in', r);
  check('open: chain is RP -> IdP /auth -> /interaction', r.chain.length === 3 && r.chain[0] === original
    && r.chain[1].startsWith(`${idp.issuer}/auth?`) && r.chain[2].startsWith(`${idp.issuer}/interaction/`), r.chain);
  let s = await stats();
  check('stats: 1 authorization, 1 login_form, per client', s.authorization === 1 && s.login_form === 1
    && s.by_client['smoke-rp']?.login_form === 1, s);

  // 2. wrong password
  r = await drv.call({ op: 'login', page: 'a', username: 'alice', password: 'nope' });
  check('login with a wrong password: the form again with an error', r.login_error === 'Invalid login or password.'
    && r.url.startsWith(`${idp.issuer}/interaction/`) && /Invalid login/.test(r.text), r);

  // 3. login
  const t0 = Date.now();
  r = await drv.call({ op: 'login', page: 'a', username: 'alice', password: 'alice-password' });
  check(`login alice lands on the original URL, query kept (${Date.now() - t0} ms)`, r.url === original && r.status === 200
    && r.text.includes('hello alice at /app/deep/path?x=1&y=two%20words&z=%C3%A9') && !r.login_error, r);
  check('login: chain IdP login POST -> /auth resume -> RP callback -> original URL', r.chain.length === 4
    && r.chain[0].endsWith('/login') && r.chain[1].startsWith(`${idp.issuer}/auth/`)
    && r.chain[2].startsWith(`${rp.base}/callback?`) && r.chain[3] === original, r.chain);
  let ev = rp.events.at(-1);
  check('callback: code, state and iss (RFC 9207) in the authorization response', ev.query.code && ev.query.state
    && ev.query.iss === idp.issuer, ev.query);
  check('callback: the Secure SameSite=Lax cookie set on http://127.0.0.1 comes back through the IdP redirect, the Strict one does not',
    ev.cookie.includes(`rp_flow_lax=${ev.query.state}`) && !ev.cookie.includes('rp_flow_strict='), ev.cookie);
  check('ID token: valid signature, nonce matches, sub/email/name claims', ev.idToken?.payload.nonce === ev.expectedNonce
    && ev.idToken.payload.sub === 'alice' && ev.idToken.payload.email === 'alice@example.test' && ev.idToken.payload.name === 'Alice', ev.idToken);
  check('token response: opaque access token, refresh token without offline_access, per-client TTL 120',
    ev.token.json.access_token.split('.').length === 1 && typeof ev.token.json.refresh_token === 'string'
      && ev.token.json.expires_in === 120 && ev.token.json.token_type === 'Bearer', ev.token.json);
  s = await stats();
  check('stats: still 2 login_form renders, 1 code exchange', s.login_form === 2 && s.token_authorization_code === 1
    && s.authorization === 1, s);

  // 4. cookies
  let c = (await drv.call({ op: 'cookies' })).cookies;
  const rpCookie = c.find((x) => x.name === 'rp_session');
  check('cookies: rp_session (HttpOnly, Lax, host 127.0.0.1) and the IdP session cookie', rpCookie?.httpOnly === true
    && rpCookie.sameSite === 'Lax' && rpCookie.domain === '127.0.0.1' && c.some((x) => x.name === '_session' && x.domain === 'localhost'), c);

  // 5. SSO: a new authorization on a second page goes straight through
  r = await drv.call({ op: 'open', page: 'b', url: `${rp.base}/app/second?fresh=1` });
  check('second page, new authorization: no login form (IdP SSO), lands on its URL', r.url === `${rp.base}/app/second?fresh=1`
    && r.text.includes('hello alice at /app/second?fresh=1') && r.chain.some((u) => u.startsWith(`${rp.base}/callback?`)), r);
  s = await stats();
  check('stats: no extra login_form, 2 authorizations, 2 code exchanges', s.login_form === 2 && s.authorization === 2
    && s.token_authorization_code === 2, s);

  // 6. userinfo with the opaque access token
  r = await drv.call({ op: 'fetch', page: 'a', url: `${rp.base}/userinfo` });
  const ui = JSON.parse(r.body);
  check('userinfo with the opaque access token (no resource): sub, email, name', r.status === 200 && ui.status === 200
    && ui.json.sub === 'alice' && ui.json.email === 'alice@example.test' && ui.json.name === 'Alice', ui);
  s = await stats();
  check('stats: 1 userinfo, attributed to the client', s.userinfo === 1 && s.by_client['smoke-rp'].userinfo === 1, s);

  // 7. fetch op: script request with redirect manual gives an opaque redirect
  r = await drv.call({ op: 'fetch', page: 'a', url: `${rp.base}/app/x?fresh=1`, headers: { 'x-requested-with': 'XMLHttpRequest' } });
  check('fetch: a redirect answer is an opaqueredirect with status 0', r.status === 0 && r.type === 'opaqueredirect', r);
  r = await drv.call({ op: 'fetch', page: 'a', url: `${rp.base}/session` });
  check('fetch: credentials included (rp_session sent), headers reported', r.status === 200 && JSON.parse(r.body).sub === 'alice'
    && r.headers['content-type'] === 'application/json' && r.type === 'basic', r);

  // 8. refresh rotation
  r = await drv.call({ op: 'fetch', page: 'a', url: `${rp.base}/refresh` });
  const rf = JSON.parse(r.body);
  check('refresh: new access and refresh tokens (rotated)', rf.first.status === 200 && rf.first.json.refresh_token
    && rf.first.json.refresh_token !== rf.old && rf.first.json.access_token && rf.first.json.id_token, rf.first);
  check('refresh: the old refresh token is refused after use (invalid_grant)', rf.replay.status === 400
    && rf.replay.json.error === 'invalid_grant', rf.replay);
  s = await stats();
  check('stats: 2 refresh_token grants counted', s.token_refresh_token === 2 && s.by_client['smoke-rp'].token_refresh_token === 2, s);

  // 9. eval
  r = await drv.call({ op: 'eval', page: 'a', js: 'location.pathname + "|" + document.title' });
  check('eval returns the value', r.value === '/app/deep/path|RP app', r);

  // ops on one page sent without waiting run in order
  const [o1, o2] = await Promise.all([
    drv.raw({ op: 'open', page: 'a', url: `${rp.base}/logged-out?state=order` }),
    drv.raw({ op: 'eval', page: 'a', js: 'location.search' }),
  ]);
  check('two ops on one page sent at once run one after the other', o1.ok && o2.ok && o2.value === '?state=order', [o1, o2]);

  // 10. two logins at once on two pages (fresh browser state)
  await drv.call({ op: 'clear_cookies' });
  c = (await drv.call({ op: 'cookies' })).cookies;
  check('clear_cookies empties the jar', c.length === 0, c);
  await admin(idp, 'POST', '/stats/reset');
  const u1 = `${rp.base}/app/one?p=1`;
  const u2 = `${rp.base}/app/two?p=2`;
  r = await drv.call({ op: 'parallel', ops: [{ op: 'open', page: 'c', url: u1 }, { op: 'open', page: 'd', url: u2 }] });
  check('parallel open on two pages: both show the login form', r.results.length === 2
    && r.results.every((x) => x.ok && x.url.startsWith(`${idp.issuer}/interaction/`)), r);
  r = await drv.call({ op: 'parallel', ops: [
    { op: 'login', page: 'c', username: 'alice', password: 'alice-password' },
    { op: 'login', page: 'd', username: 'alice', password: 'alice-password' },
  ] });
  check('parallel login on two pages: both land on their own original URL', r.results[0].ok && r.results[1].ok
    && r.results[0].url === u1 && r.results[1].url === u2
    && r.results[0].text.includes('hello alice at /app/one?p=1') && r.results[1].text.includes('hello alice at /app/two?p=2'), r);
  s = await stats();
  check('stats: 2 login forms, 2 code exchanges', s.login_form === 2 && s.token_authorization_code === 2, s);

  // 11. errors of the driver
  r = await drv.raw({ op: 'login', page: 'c', username: 'alice', password: 'x' });
  check('login on a page without the form: error "no login form on <url>"', r.ok === false && r.error === `no login form on ${u1}`, r);
  r = await drv.raw({ op: 'frobnicate' });
  check('unknown op: error reply', r.ok === false && /unknown op/.test(r.error), r);
  const h0 = Date.now();
  r = await drv.raw({ op: 'open', page: 'h', url: `${rp.base}/hang`, timeout_ms: 1500 });
  check(`a hanging op answers with a timeout error (${Date.now() - h0} ms)`, r.ok === false && /timed out after 1500 ms/.test(r.error), r);
  await drv.call({ op: 'close', page: 'h' });

  // 12. add_cookies: the RP session moved into a fresh page works
  const saved = (await drv.call({ op: 'cookies' })).cookies;
  await drv.call({ op: 'clear_cookies' });
  r = await drv.call({ op: 'fetch', page: 'c', url: `${rp.base}/session` });
  check('without cookies the RP has no session', r.status === 401, r);
  await drv.call({ op: 'add_cookies', cookies: saved.filter((x) => x.name === 'rp_session') });
  r = await drv.call({ op: 'fetch', page: 'c', url: `${rp.base}/session` });
  check('add_cookies restores the session', r.status === 200, r);
  await drv.call({ op: 'add_cookies', cookies: saved });

  // 13. ID token nonce tamper
  r = await drv.call({ op: 'open', page: 'c', url: `${rp.base}/app/t?client=tamper&fresh=1` });
  ev = rp.events.at(-1);
  check('id_token_tamper nonce: validly signed ID token with another nonce, same kid', r.status === 400 && /nonce mismatch/.test(r.text)
    && ev.nonceMismatch === true && ev.idToken.payload.nonce !== ev.expectedNonce && ev.idToken.payload.nonce.startsWith('tampered-')
    && ev.idToken.header.kid === 'rs-1' && !ev.idTokenError, { r, ev });

  // 14. PKCE required
  r = await drv.call({ op: 'open', page: 'c', url: `${rp.base}/app/p?client=pkce&nopkce=1&fresh=1` });
  check('require_pkce: a request without PKCE is refused (invalid_request back at the callback)', r.status === 400
    && /authorization error: invalid_request/.test(r.text) && /requires PKCE/.test(r.text), r);
  r = await drv.call({ op: 'open', page: 'c', url: `${rp.base}/app/p?client=pkce&fresh=1` });
  check('require_pkce: the same client with PKCE (client_secret_post) logs in', r.status === 200
    && r.text.includes('hello alice at /app/p?client=pkce&fresh=1'), r);

  // 15. revocation by the client itself
  await drv.call({ op: 'open', page: 'c', url: `${rp.base}/app/rev?fresh=1` });
  r = await drv.call({ op: 'fetch', page: 'c', url: `${rp.base}/revoke` });
  const rv = JSON.parse(r.body);
  check('the client revokes its own access and refresh tokens; both are dead afterwards', rv.revoke_access === 200 && rv.revoke_refresh === 200
    && rv.userinfo.status === 401 && rv.refresh.status === 400 && rv.refresh.json.error === 'invalid_grant', rv);
  s = await stats();
  check('stats: 2 revocations, per client', s.revocation === 2 && s.by_client['smoke-rp'].revocation === 2
, s);

  // 16. RP-initiated logout
  await drv.call({ op: 'open', page: 'c', url: `${rp.base}/app/lo?fresh=1` });
  await admin(idp, 'POST', '/stats/reset');
  r = await drv.call({ op: 'open', page: 'c', url: `${rp.base}/logout` });
  check('logout: end_session auto-confirms and lands on post_logout_redirect_uri with state', r.url === `${rp.base}/logged-out?state=bye`
    && r.status === 200 && r.chain.some((u) => u.startsWith(`${idp.issuer}/session/end?`))
    && r.chain.some((u) => u === `${idp.issuer}/session/end/confirm`), r);
  s = await stats();
  check('stats: 1 end_session', s.end_session === 1, s);
  c = (await drv.call({ op: 'cookies' })).cookies;
  check('logout: the IdP session cookie is gone', !c.some((x) => x.name === '_session' && x.domain === 'localhost'), c);
  r = await drv.call({ op: 'open', page: 'c', url: `${rp.base}/app/after?fresh=1` });
  check('after logout the next authorization shows the login form again', r.url.startsWith(`${idp.issuer}/interaction/`)
    && /Sign in/.test(r.text), r);
  r = await drv.call({ op: 'login', page: 'c', username: 'bob', password: 'bob-password' });
  check('bob logs in', r.url === `${rp.base}/app/after?fresh=1` && r.text.includes('hello bob'), r);
  s = await stats();
  check('stats: login_form 1 after logout, per client', s.login_form === 1
    && s.by_client['smoke-rp'].authorization === 1 && s.by_client['smoke-rp'].login_form === 1, s);

  // 17. stdin closes -> the driver exits and removes its profile
  const exited = new Promise((resolve) => drv.child.once('exit', (code) => resolve(code)));
  drv.child.stdin.end();
  const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('timeout'), 8000))]);
  check('driver exits 0 when stdin closes and removes its profile dir', code === 0 && profile && !fs.existsSync(profile), { code, profile });

  rp.server.close();
  console.log(`${passed} passed, 0 failed (${((Date.now() - T0) / 1000).toFixed(1)} s)`);
  cleanup();
  process.exit(0);
}

main().catch((err) => fail('unexpected error', String(err?.stack ?? err)));
