#!/usr/bin/env node
// Real OpenID Provider for the gateway end-to-end tests.
//
//   node e2e/idp/idp.mjs --port 0 --admin-port 0 --tls-dir <dir>
//
// Serves oidc-provider (panva, certified OP) over HTTPS on 127.0.0.1 with a
// throwaway CA, plus a plain-HTTP admin API on 127.0.0.1 for the tests.
// stdout carries exactly one line of JSON once ready:
//   {"issuer":"https://localhost:N","port":N,"admin":"http://127.0.0.1:M","ca":"/abs/ca.pem"}
// Everything else (including oidc-provider's own notices) goes to stderr.
// See README.md next to this file.

import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import * as jose from 'jose';
import Provider, { errors } from 'oidc-provider';

// ---------------------------------------------------------------------------
// stdout is reserved for the single readiness line. oidc-provider prints its
// notices with console.info, so route every console method to stderr.
const writeStdout = process.stdout.write.bind(process.stdout);
for (const m of ['log', 'info', 'debug']) console[m] = (...a) => console.error(...a);
const log = (...a) => console.error('[idp]', ...a);

// ---------------------------------------------------------------------------
// Command line.
const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'admin-port': { type: 'string', default: '0' },
    'tls-dir': { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    'exit-with-stdin': { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
  strict: true,
});
const HERE = path.dirname(fileURLToPath(import.meta.url));
const TLS_DIR = path.resolve(args['tls-dir'] ?? path.join(HERE, 'tls'));
const HOST = args.host;
const QUIET = args.quiet;

function parsePort(v, name) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    console.error(`invalid --${name}: ${v}`);
    process.exit(2);
  }
  return n;
}
const PORT = parsePort(args.port, 'port');
const ADMIN_PORT = parsePort(args['admin-port'], 'admin-port');

// ---------------------------------------------------------------------------
// 1. TLS material (openssl CLI): throwaway CA + server certificate for
//    localhost / 127.0.0.1, EC P-256, valid 2 days.

function openssl(argv, cwd) {
  try {
    execFileSync('openssl', argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const detail = err.stderr ? err.stderr.toString() : String(err);
    throw new Error(`openssl ${argv[0]} failed: ${detail}`);
  }
}

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function certUsable(file) {
  try {
    const cert = new crypto.X509Certificate(fs.readFileSync(file));
    // keep at least one hour of validity in hand
    return Date.parse(cert.validTo) - Date.now() > 3600 * 1000;
  } catch {
    return false;
  }
}

function generateServerCert(dir) {
  const ext = [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = serverAuth',
    'subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1',
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'server.ext'), ext);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'server-key.pem'], dir);
  openssl(['req', '-new', '-key', 'server-key.pem', '-subj', '/CN=localhost', '-out', 'server.csr'], dir);
  openssl([
    'x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem',
    '-set_serial', `0x${crypto.randomBytes(12).toString('hex')}`,
    '-days', '2', '-sha256', '-extfile', 'server.ext', '-out', 'server.pem',
  ], dir);
  fs.rmSync(path.join(dir, 'server.csr'), { force: true });
  fs.rmSync(path.join(dir, 'server.ext'), { force: true });
}

function generateCa(dir) {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ca-key.pem'], dir);
  openssl([
    'req', '-x509', '-new', '-key', 'ca-key.pem', '-sha256', '-days', '2',
    '-subj', '/CN=oidc-gateway e2e throwaway CA',
    '-set_serial', `0x${crypto.randomBytes(12).toString('hex')}`,
    '-addext', 'basicConstraints = critical, CA:TRUE',
    '-addext', 'keyUsage = critical, keyCertSign, cRLSign',
    '-addext', 'subjectKeyIdentifier = hash',
    '-out', 'ca.pem',
  ], dir);
}

function ensureTls(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const f = (n) => path.join(dir, n);
  const complete = () => ['ca.pem', 'ca-key.pem', 'server.pem', 'server-key.pem']
    .every((n) => fs.existsSync(f(n)));

  // Fast path: material present and still valid (reused across IdP runs).
  if (fs.existsSync(f('ca.pem')) && complete() && certUsable(f('ca.pem')) && certUsable(f('server.pem'))) {
    return;
  }

  // Several IdPs may start at once on the same directory: serialise
  // generation with an exclusive lock directory.
  const lock = f('.gen.lock');
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock} (remove it if stale)`);
      sleepSync(50);
    }
  }
  try {
    // Generate into a private scratch dir, then move into place: ca.pem last,
    // since its presence is what marks the material as ready.
    const scratch = fs.mkdtempSync(path.join(dir, '.gen-'));
    try {
      if (!fs.existsSync(f('ca.pem')) || !fs.existsSync(f('ca-key.pem')) || !certUsable(f('ca.pem'))) {
        log(`generating throwaway CA and server certificate in ${dir}`);
        generateCa(scratch);
      } else if (!complete() || !certUsable(f('server.pem'))) {
        log(`generating server certificate in ${dir} (reusing CA)`);
        fs.copyFileSync(f('ca.pem'), path.join(scratch, 'ca.pem'));
        fs.copyFileSync(f('ca-key.pem'), path.join(scratch, 'ca-key.pem'));
      } else {
        return; // another process finished it meanwhile
      }
      generateServerCert(scratch);
      for (const n of ['ca-key.pem', 'server-key.pem']) fs.chmodSync(path.join(scratch, n), 0o600);
      for (const n of ['ca-key.pem', 'server-key.pem', 'server.pem', 'ca.pem']) {
        fs.renameSync(path.join(scratch, n), f(n));
      }
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

ensureTls(TLS_DIR);
const CA_PATH = path.join(TLS_DIR, 'ca.pem');
const CA_PEM = fs.readFileSync(CA_PATH);
const TLS_OPTIONS = {
  key: fs.readFileSync(path.join(TLS_DIR, 'server-key.pem')),
  cert: fs.readFileSync(path.join(TLS_DIR, 'server.pem')),
};

// ---------------------------------------------------------------------------
// Signing keys (generated per run, exported as private JWKs).

function exportPrivateJwk(keyObject, kid, alg) {
  return { ...keyObject.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}
function newRsaKey(kid) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return exportPrivateJwk(privateKey, kid, 'RS256');
}
function newEcKey(kid) {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return exportPrivateJwk(privateKey, kid, 'ES256');
}

// Newest first. oidc-provider signs with the first key of the keystore that
// matches the requested alg, so after /rotate the new ES256 key wins.
let signingKeys = [newRsaKey('rs-1'), newEcKey('es-1')];
let esGeneration = 1;

function currentKeyFor(alg) {
  const kty = alg.startsWith('ES') ? 'EC' : 'RSA';
  return signingKeys.find((k) => k.kty === kty && k.alg === alg);
}

// ---------------------------------------------------------------------------
// Shared in-memory adapter: the storage outlives Provider instances, so
// tokens issued before /rotate still introspect / revoke afterwards.

const store = new Map(); // key -> { value, expiresAt (ms) | Infinity }
let writes = 0;

function storeGet(key) {
  const e = store.get(key);
  if (!e) return undefined;
  if (e.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return e.value;
}
function storeSet(key, value, expiresIn) {
  const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
  store.set(key, { value, expiresAt });
  if (++writes % 500 === 0) {
    const now = Date.now();
    for (const [k, e] of store) if (e.expiresAt <= now) store.delete(k);
  }
}

const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'ClientCredentials',
]);

class SharedMemoryAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    if (this.model === 'Session' && payload.uid) {
      storeSet(`sessionUid:${payload.uid}`, id, expiresIn);
    }
    if (payload.userCode) {
      storeSet(`userCode:${payload.userCode}`, id, expiresIn);
    }
    if (GRANTABLE.has(this.model) && payload.grantId) {
      const gk = `grant:${payload.grantId}`;
      const members = storeGet(gk) ?? [];
      if (!members.includes(key)) members.push(key);
      storeSet(gk, members); // members are cleaned on revokeByGrantId
    }
    storeSet(key, structuredClone(payload), expiresIn);
  }

  async find(id) {
    const v = storeGet(this.key(id));
    return v ? structuredClone(v) : undefined;
  }

  async findByUid(uid) {
    const id = storeGet(`sessionUid:${uid}`);
    return id ? this.find(id) : undefined;
  }

  async findByUserCode(userCode) {
    const id = storeGet(`userCode:${userCode}`);
    return id ? this.find(id) : undefined;
  }

  async consume(id) {
    const e = store.get(this.key(id));
    if (e) e.value.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    const gk = `grant:${grantId}`;
    for (const k of storeGet(gk) ?? []) store.delete(k);
    store.delete(gk);
  }
}

// ---------------------------------------------------------------------------
// Clients and resource servers.

const SCOPES = 'read write admin';
const ACCESS_TOKEN_TTL = 600;

const CLIENT_SECRETS = {
  'jwt-client': 'jwt-client-secret-0123456789',
  'opaque-client': 'opaque-client-secret-0123456789',
  gateway: 'gateway-secret-0123456789',
};

const CLIENTS = [
  {
    client_id: 'jwt-client',
    client_secret: CLIENT_SECRETS['jwt-client'],
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: SCOPES,
  },
  {
    client_id: 'opaque-client',
    client_secret: CLIENT_SECRETS['opaque-client'],
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: SCOPES,
  },
  {
    // The gateway acting as resource server: calls introspection.
    // oidc-provider accepts client_secret_post for a client registered with
    // client_secret_basic (both are "client secret" methods).
    client_id: 'gateway',
    client_secret: CLIENT_SECRETS.gateway,
    grant_types: [],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  },
];

const RESOURCE_SERVERS = {
  'https://api.test': {
    scope: SCOPES,
    audience: 'https://api.test',
    accessTokenTTL: ACCESS_TOKEN_TTL,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'ES256' } },
  },
  'https://rs256.test': {
    scope: SCOPES,
    audience: 'https://rs256.test',
    accessTokenTTL: ACCESS_TOKEN_TTL,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'RS256' } },
  },
  // Opaque (introspectable) token that nevertheless carries an audience.
  'https://opaque.test': {
    scope: SCOPES,
    audience: 'https://opaque.test',
    accessTokenTTL: ACCESS_TOKEN_TTL,
    accessTokenFormat: 'opaque',
  },
};

const ALLOWED_RESOURCES = {
  'jwt-client': new Set(['https://api.test', 'https://rs256.test']),
  'opaque-client': new Set(['https://opaque.test']),
  gateway: new Set(),
};

// Browser (authorization code) clients, registered at runtime by the tests
// with POST /clients (the relying party's port is only known after the IdP
// started). client_id -> normalised spec; the Provider is rebuilt on change.
const WEB_CLIENTS = new Map();
const WEB_SCOPE = 'openid offline_access email profile read write';

function webClientMetadata(spec) {
  return {
    client_id: spec.client_id,
    ...(spec.token_endpoint_auth_method === 'none' ? {} : { client_secret: spec.client_secret }),
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: spec.redirect_uris,
    post_logout_redirect_uris: spec.post_logout_redirect_uris,
    token_endpoint_auth_method: spec.token_endpoint_auth_method,
    scope: WEB_SCOPE,
  };
}

// Users of the login form.
const USERS = {
  alice: { password: 'alice-password', claims: { sub: 'alice', email: 'alice@example.test', email_verified: true, name: 'Alice' } },
  bob: { password: 'bob-password', claims: { sub: 'bob', email: 'bob@example.test', email_verified: true, name: 'Bob' } },
};

// Counters (GET /stats, POST /stats/reset).
const STAT_KINDS = ['authorization', 'login_form', 'token_authorization_code', 'token_refresh_token', 'userinfo', 'end_session', 'revocation'];
function emptyCounts() {
  return Object.fromEntries(STAT_KINDS.map((k) => [k, 0]));
}
let stats = { since: new Date().toISOString(), ...emptyCounts(), by_client: {} };
function count(kind, clientId) {
  stats[kind] += 1;
  if (clientId) {
    stats.by_client[clientId] ??= emptyCounts();
    stats.by_client[clientId][kind] += 1;
  }
}

const COOKIE_KEYS = [crypto.randomBytes(32).toString('base64url')];

function buildConfiguration() {
  return {
    adapter: SharedMemoryAdapter,
    clients: [...structuredClone(CLIENTS), ...[...WEB_CLIENTS.values()].map(webClientMetadata)],
    jwks: { keys: structuredClone(signingKeys) },
    scopes: ['openid', 'offline_access', 'email', 'profile', ...SCOPES.split(' ')],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    // Like most IdPs, put the scope's claims (email, name) in the ID token
    // as well, not only at the userinfo endpoint.
    conformIdTokenClaims: false,
    findAccount: async (_ctx, id) => {
      const user = USERS[id];
      if (!user) return undefined;
      return { accountId: id, claims: async () => structuredClone(user.claims) };
    },
    // Browser clients always get a refresh token from a code exchange (no
    // offline_access / prompt=consent dance), and it rotates on every use.
    issueRefreshToken: async (_ctx, client, source) => client.grantTypeAllowed('refresh_token')
      && (WEB_CLIENTS.has(client.clientId) || source.scopes.has('offline_access')),
    rotateRefreshToken: true,
    pkce: {
      required: (_ctx, client) => client.clientAuthMethod === 'none'
        || WEB_CLIENTS.get(client.clientId)?.require_pkce === true,
    },
    cookies: { keys: COOKIE_KEYS },
    routes: {
      token: '/token',
      introspection: '/token/introspection',
      revocation: '/token/revocation',
      jwks: '/jwks',
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        // The confirm page submits itself (with logout=yes: the whole IdP
        // session ends, not only this client's), so a browser lands on the
        // post_logout_redirect_uri without a click.
        logoutSource: async (ctx, form) => {
          ctx.type = 'html';
          ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Signing out</title></head><body>
<p>Signing out…</p>
${form}
<script>
  var f = document.getElementById('op.logoutForm');
  var i = document.createElement('input');
  i.type = 'hidden'; i.name = 'logout'; i.value = 'yes';
  f.appendChild(i);
  f.submit();
</script>
</body></html>`;
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.type = 'html';
          ctx.body = '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Signed out</title></head><body><p>Signed out.</p></body></html>';
        },
      },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // Any authenticated confidential client (notably "gateway") may
        // introspect any token; public clients only their own.
        allowedPolicy: async (ctx, client, token) => !(
          client.clientAuthMethod === 'none' && token.clientId !== client.clientId
        ),
      },
      revocation: {
        enabled: true,
        // Only the client the token was issued to may revoke it.
        allowedPolicy: async (_ctx, client, token) => {
          if (token.clientId !== client.clientId) {
            if (client.clientAuthMethod === 'none') return false;
            throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
          }
          return true;
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => false,
        getResourceServerInfo: async (_ctx, resourceIndicator, client) => {
          const rs = RESOURCE_SERVERS[resourceIndicator];
          if (!rs || !ALLOWED_RESOURCES[client.clientId]?.has(resourceIndicator)) {
            throw new errors.InvalidTarget(`resource ${resourceIndicator} is not allowed for client ${client.clientId}`);
          }
          return structuredClone(rs);
        },
      },
    },
    ttl: {
      AccessToken: (_ctx, token, client) => token.resourceServer?.accessTokenTTL
        || WEB_CLIENTS.get(client?.clientId)?.access_token_ttl
        || ACCESS_TOKEN_TTL,
      RefreshToken: 24 * 3600,
      ClientCredentials: ACCESS_TOKEN_TTL,
      Grant: 3600,
      Session: 3600,
      Interaction: 600,
      AuthorizationCode: 60,
      IdToken: 600,
    },
    renderError: async (ctx, out) => {
      ctx.type = 'application/json';
      ctx.body = out;
    },
  };
}

// ---------------------------------------------------------------------------
// HTTPS server for the provider; the handler is swapped on /rotate.

let provider;
let providerHandler = (_req, res) => {
  res.writeHead(503, { 'content-type': 'application/json' });
  res.end('{"error":"starting"}');
};

const openSockets = new Set();
function trackSockets(server) {
  server.on('connection', (s) => {
    openSockets.add(s);
    s.on('close', () => openSockets.delete(s));
  });
  return server;
}

const httpsServer = trackSockets(https.createServer(TLS_OPTIONS, (req, res) => providerHandler(req, res)));
const adminServer = trackSockets(http.createServer((req, res) => {
  handleAdmin(req, res).catch((err) => {
    log('admin error:', err);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: String(err?.message ?? err) });
    else res.end();
  });
}));
let ipv6Server;

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

let issuer;

function makeProvider() {
  const p = new Provider(issuer, buildConfiguration());
  if (!QUIET) {
    p.on('server_error', (_ctx, err) => log('server_error:', err));
    p.on('grant.success', (ctx) => log(`grant.success client=${ctx.oidc.client?.clientId}`));
    p.on('grant.error', (ctx, err) => log(`grant.error client=${ctx.oidc.client?.clientId}: ${err.message} ${err.error_description ?? ''}`));
    p.on('introspection.error', (_ctx, err) => log(`introspection.error: ${err.message} ${err.error_description ?? ''}`));
    p.on('revocation.error', (_ctx, err) => log(`revocation.error: ${err.message} ${err.error_description ?? ''}`));
  } else {
    p.on('server_error', (_ctx, err) => log('server_error:', err));
  }
  installMiddleware(p);
  return p;
}

// ---------------------------------------------------------------------------
// Browser login: the interaction pages, the counters, the ID token tamper.

function htmlEscape(v) {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

function renderLogin(ctx, uid, params, error) {
  count('login_form', params.client_id);
  ctx.status = 200;
  ctx.type = 'html';
  ctx.set('cache-control', 'no-store');
  ctx.body = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign in</title></head>
<body>
<h1>Sign in to the e2e IdP</h1>
<p>client: <span id="client">${htmlEscape(params.client_id)}</span></p>
${error ? `<p id="error" role="alert">${htmlEscape(error)}</p>` : ''}
<form method="post" action="/interaction/${htmlEscape(uid)}/login" autocomplete="off">
  <label>Login <input name="login" id="login" type="text" autofocus></label>
  <label>Password <input name="password" id="password" type="password"></label>
  <button id="submit" type="submit">Sign in</button>
</form>
</body></html>`;
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 64 * 1024) throw Object.assign(new Error('form too large'), { status: 413 });
    chunks.push(c);
  }
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
}

// Grants everything the authorization request asked for, so there is never a
// consent page: the requested scopes, the requested claims, and the scopes of
// any requested resource.
async function autoGrant(p, details, accountId) {
  const { params, prompt } = details;
  let grant;
  if (details.grantId) grant = await p.Grant.find(details.grantId);
  if (!grant || grant.accountId !== accountId) {
    grant = new p.Grant({ accountId, clientId: params.client_id });
  }
  const scope = String(params.scope ?? '').split(' ').filter(Boolean).join(' ');
  if (scope) grant.addOIDCScope(scope);
  const d = prompt?.details ?? {};
  if (d.missingOIDCScope?.length) grant.addOIDCScope(d.missingOIDCScope.join(' '));
  if (d.missingOIDCClaims?.length) grant.addOIDCClaims(d.missingOIDCClaims);
  if (d.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  if (params.claims) {
    try {
      const c = JSON.parse(params.claims);
      const names = [...Object.keys(c.id_token ?? {}), ...Object.keys(c.userinfo ?? {})];
      if (names.length) grant.addOIDCClaims(names);
    } catch { /* oidc-provider validated it already */ }
  }
  return grant.save();
}

async function finishInteraction(ctx, p, result) {
  const url = await p.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.set('cache-control', 'no-store');
  ctx.redirect(url);
}

async function interactionRoute(p, ctx, uid, isLogin) {
  let details;
  try {
    details = await p.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><html><head><title>Interaction error</title></head><body><p id="error">interaction not found or expired: ${htmlEscape(err.message)}</p></body></html>`;
    return;
  }
  if (details.uid !== uid) {
    ctx.status = 400;
    ctx.type = 'text';
    ctx.body = 'interaction mismatch';
    return;
  }
  const { prompt, params } = details;
  if (!isLogin && (ctx.method === 'GET' || ctx.method === 'HEAD')) {
    if (prompt.name === 'login') return renderLogin(ctx, uid, params, null);
    // consent (or any other prompt) for a known account: grant and go on
    const accountId = details.session?.accountId;
    if (!accountId) return renderLogin(ctx, uid, params, null);
    const grantId = await autoGrant(p, details, accountId);
    return finishInteraction(ctx, p, { consent: { grantId } });
  }
  if (isLogin && ctx.method === 'POST') {
    const form = await readForm(ctx.req);
    const user = Object.hasOwn(USERS, form.login ?? '') ? USERS[form.login] : undefined;
    if (!user || user.password !== form.password) {
      if (!QUIET) log(`login failed for ${JSON.stringify(form.login)}`);
      return renderLogin(ctx, uid, params, 'Invalid login or password.');
    }
    const grantId = await autoGrant(p, details, form.login);
    if (!QUIET) log(`login ${form.login} client=${params.client_id}`);
    return finishInteraction(ctx, p, { login: { accountId: form.login }, consent: { grantId } });
  }
  ctx.status = 405;
  ctx.type = 'text';
  ctx.body = 'method not allowed';
}

function countRequest(ctx) {
  const { path } = ctx;
  const clientId = ctx.oidc?.client?.clientId
    ?? ctx.oidc?.entities?.AccessToken?.clientId
    ?? ctx.oidc?.params?.client_id ?? ctx.query?.client_id ?? undefined;
  if (path === '/auth') count('authorization', clientId);
  else if (path === '/me') count('userinfo', clientId);
  else if (path === '/session/end') count('end_session', clientId);
  else if (path === '/token/revocation') count('revocation', clientId);
  else if (path === '/token' && ctx.method === 'POST') {
    const gt = ctx.oidc?.params?.grant_type ?? ctx.oidc?.body?.grant_type;
    if (gt === 'authorization_code') count('token_authorization_code', clientId);
    else if (gt === 'refresh_token') count('token_refresh_token', clientId);
  }
}

// id_token_tamper "nonce": the ID token from the token endpoint gets another
// nonce, re-signed with the same (current) key and the same header.
async function tamperIdToken(idToken) {
  const [h, pl] = idToken.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url').toString());
  const payload = JSON.parse(Buffer.from(pl, 'base64url').toString());
  payload.nonce = `tampered-${crypto.randomBytes(8).toString('hex')}`;
  const jwk = signingKeys.find((k) => k.kid === header.kid) ?? currentKeyFor(header.alg);
  const key = await jose.importJWK(jwk, header.alg);
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader(header)
    .sign(key);
}

function installMiddleware(p) {
  // counters (outermost: sees the outcome of everything below)
  p.use(async (ctx, next) => {
    try {
      await next();
    } finally {
      try { countRequest(ctx); } catch (err) { log('stats error:', err); }
    }
  });
  // ID token tamper
  p.use(async (ctx, next) => {
    await next();
    if (ctx.path !== '/token' || ctx.method !== 'POST' || ctx.status !== 200) return;
    const body = ctx.body;
    if (!body || typeof body !== 'object' || typeof body.id_token !== 'string') return;
    const clientId = ctx.oidc?.client?.clientId;
    if (WEB_CLIENTS.get(clientId)?.id_token_tamper === 'nonce') {
      body.id_token = await tamperIdToken(body.id_token);
      if (!QUIET) log(`tampered the nonce of the ID token for ${clientId}`);
    }
  });
  // login interaction pages
  p.use(async (ctx, next) => {
    const m = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec(ctx.path);
    if (!m) return next();
    return interactionRoute(p, ctx, m[1], Boolean(m[2]));
  });
}

function installProvider(p) {
  provider = p;
  providerHandler = p.callback();
}

// ---------------------------------------------------------------------------
// Talking to our own provider over real HTTPS (CA-verified, SNI localhost).

function httpsCall(method, pathname, { form, auth } = {}) {
  const body = form ? new URLSearchParams(form).toString() : undefined;
  const headers = { accept: 'application/json' };
  if (body !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    headers['content-length'] = Buffer.byteLength(body);
  }
  if (auth) {
    const enc = (s) => encodeURIComponent(s); // RFC 6749 2.3.1
    headers.authorization = `Basic ${Buffer.from(`${enc(auth[0])}:${enc(auth[1])}`).toString('base64')}`;
  }
  const url = new URL(pathname, issuer);
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1',
      port: url.port,
      servername: 'localhost',
      path: url.pathname + url.search,
      method,
      headers: { ...headers, host: url.host },
      ca: CA_PEM,
      agent: false,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = text ? JSON.parse(text) : {}; } catch { json = { raw: text }; }
        resolve({ status: res.statusCode, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('request to provider timed out')));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// ---------------------------------------------------------------------------
// Admin API.

function sendJson(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 1 << 20) throw Object.assign(new Error('body too large'), { status: 413 });
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw Object.assign(new Error('body is not valid JSON'), { status: 400 });
  }
}

function b64urlJson(obj) {
  return Buffer.from(JSON.stringify(obj)).toString('base64url');
}

async function adminToken(url, res) {
  const q = url.searchParams;
  const resource = q.get('resource') || undefined;
  const clientId = q.get('client') || (resource && resource !== 'https://opaque.test' ? 'jwt-client' : 'opaque-client');
  const secret = q.get('client_secret') ?? CLIENT_SECRETS[clientId];
  if (secret === undefined) return sendJson(res, 400, { error: 'unknown_client', error_description: `unknown client ${clientId}` });
  const form = { grant_type: 'client_credentials' };
  if (q.get('scope')) form.scope = q.get('scope');
  if (resource) form.resource = resource;
  const r = await httpsCall('POST', '/token', { form, auth: [clientId, secret] });
  return sendJson(res, r.status, r.json);
}

async function adminSign(req, res) {
  const body = await readJson(req);
  const { claims, alg = 'ES256' } = body;
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) {
    return sendJson(res, 400, { error: 'invalid_request', error_description: '"claims" must be a JSON object' });
  }
  // typ: default "at+jwt"; null -> no typ header.
  const typ = body.typ === undefined ? 'at+jwt' : body.typ;

  if (alg === 'none') {
    const header = { alg: 'none', ...(typ !== null ? { typ } : {}), ...(body.kid ? { kid: body.kid } : {}) };
    const token = `${b64urlJson(header)}.${b64urlJson(claims)}.`;
    return sendJson(res, 200, { token, header });
  }
  if (alg !== 'ES256' && alg !== 'RS256') {
    return sendJson(res, 400, { error: 'invalid_request', error_description: 'alg must be ES256, RS256 or none' });
  }

  let jwk = currentKeyFor(alg);
  if (body.untrusted) {
    // Correctly formed, but signed by a fresh key the IdP never published;
    // the header still names the current kid, so only the signature is wrong.
    jwk = alg === 'ES256' ? newEcKey(jwk.kid) : newRsaKey(jwk.kid);
  }
  const key = await jose.importJWK(jwk, alg);
  // kid: default the signing key's kid; a string overrides; null omits it.
  const kid = body.kid === undefined ? jwk.kid : body.kid;
  const header = { alg, ...(typ !== null ? { typ } : {}), ...(kid !== null ? { kid } : {}) };
  const token = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader(header)
    .sign(key);
  return sendJson(res, 200, { token, header, signing_kid: body.untrusted ? null : jwk.kid });
}

async function adminRevoke(req, res) {
  const { token } = await readJson(req);
  if (typeof token !== 'string' || !token) {
    return sendJson(res, 400, { error: 'invalid_request', error_description: '"token" must be a non-empty string' });
  }
  if (token.split('.').length === 3) {
    return sendJson(res, 400, {
      error: 'unsupported_token_type',
      error_description: 'JWT access tokens are self-contained and not stored by the provider; they cannot be revoked',
    });
  }
  // Find the owning client so the real revocation endpoint can be called
  // with that client's credentials (oidc-provider only lets the owner revoke).
  let owner;
  for (const model of ['ClientCredentials', 'AccessToken', 'RefreshToken']) {
    const t = await provider[model].find(token, { ignoreExpiration: true });
    if (t) {
      owner = t.clientId;
      break;
    }
  }
  if (!owner) return sendJson(res, 404, { error: 'not_found', error_description: 'token unknown to the provider' });
  const secret = CLIENT_SECRETS[owner];
  const r = await httpsCall('POST', '/token/revocation', secret === undefined
    ? { form: { token, client_id: owner } } // public client (auth method none)
    : { form: { token }, auth: [owner, secret] });
  if (r.status !== 200) return sendJson(res, 502, { error: 'revocation_failed', status: r.status, response: r.json });
  return sendJson(res, 200, { revoked: true, client_id: owner });
}

function adminRotate(res) {
  esGeneration += 1;
  const kid = `es-${esGeneration}`;
  const next = [newEcKey(kid), ...signingKeys];
  const previous = signingKeys;
  signingKeys = next;
  try {
    installProvider(makeProvider());
  } catch (err) {
    signingKeys = previous;
    esGeneration -= 1;
    throw err;
  }
  log(`rotated: JWKS now ${signingKeys.map((k) => k.kid).join(', ')}`);
  return sendJson(res, 200, { kid, kids: signingKeys.map((k) => k.kid) });
}

const AUTH_METHODS = new Set(['client_secret_basic', 'client_secret_post', 'none']);

async function adminClients(req, res) {
  const b = await readJson(req);
  const bad = (msg) => sendJson(res, 400, { error: 'invalid_client_metadata', error_description: msg });
  const isUriList = (v) => Array.isArray(v) && v.every((u) => typeof u === 'string' && URL.canParse(u));
  if (typeof b.client_id !== 'string' || !/^[A-Za-z0-9._~-]+$/.test(b.client_id)) return bad('"client_id" must be a non-empty token');
  if (Object.hasOwn(CLIENT_SECRETS, b.client_id) && !WEB_CLIENTS.has(b.client_id)) return bad(`"${b.client_id}" is a built-in client`);
  const method = b.token_endpoint_auth_method ?? 'client_secret_basic';
  if (!AUTH_METHODS.has(method)) return bad(`token_endpoint_auth_method must be one of ${[...AUTH_METHODS].join(', ')}`);
  if (method !== 'none' && (typeof b.client_secret !== 'string' || b.client_secret.length < 1)) return bad('"client_secret" is required');
  if (!isUriList(b.redirect_uris) || b.redirect_uris.length === 0) return bad('"redirect_uris" must be a non-empty list of URLs');
  const post = b.post_logout_redirect_uris ?? [];
  if (!isUriList(post)) return bad('"post_logout_redirect_uris" must be a list of URLs');
  const ttl = b.access_token_ttl ?? ACCESS_TOKEN_TTL;
  if (!Number.isInteger(ttl) || ttl < 1) return bad('"access_token_ttl" must be a positive integer (seconds)');
  const tamper = b.id_token_tamper ?? null;
  if (tamper !== null && tamper !== 'nonce') return bad('"id_token_tamper" must be null or "nonce"');
  const spec = {
    client_id: b.client_id,
    client_secret: method === 'none' ? undefined : b.client_secret,
    redirect_uris: b.redirect_uris,
    post_logout_redirect_uris: post,
    token_endpoint_auth_method: method,
    require_pkce: b.require_pkce === true,
    access_token_ttl: ttl,
    id_token_tamper: tamper,
  };
  const previous = WEB_CLIENTS.get(spec.client_id);
  WEB_CLIENTS.set(spec.client_id, spec);
  let next;
  let client;
  try {
    // static clients are validated when first loaded: load it before swapping
    next = makeProvider();
    client = await next.Client.find(spec.client_id);
    if (!client) throw new Error('client did not load');
  } catch (err) {
    if (previous) WEB_CLIENTS.set(spec.client_id, previous);
    else WEB_CLIENTS.delete(spec.client_id);
    return bad(`${err?.message ?? err}${err?.error_description ? `: ${err.error_description}` : ''}`);
  }
  installProvider(next);
  if (spec.client_secret !== undefined) CLIENT_SECRETS[spec.client_id] = spec.client_secret;
  else delete CLIENT_SECRETS[spec.client_id];
  ALLOWED_RESOURCES[spec.client_id] = new Set();
  log(`registered client ${spec.client_id} (${method}${spec.require_pkce ? ', pkce required' : ''}${tamper ? `, tamper ${tamper}` : ''}) redirect_uris ${spec.redirect_uris.join(' ')}`);
  return sendJson(res, previous ? 200 : 201, { ...spec, metadata: client.metadata() });
}

async function handleAdmin(req, res) {
  const url = new URL(req.url, 'http://admin');
  const route = `${req.method} ${url.pathname}`;
  if (!QUIET) log(`admin ${req.method} ${url.pathname}${url.search}`);
  try {
    switch (route) {
      case 'GET /health':
        return sendJson(res, 200, { status: 'ok', issuer, kids: signingKeys.map((k) => k.kid) });
      case 'GET /token':
      case 'POST /token':
        return await adminToken(url, res);
      case 'POST /sign':
        return await adminSign(req, res);
      case 'POST /revoke':
        return await adminRevoke(req, res);
      case 'POST /rotate':
        return adminRotate(res);
      case 'POST /clients':
        return await adminClients(req, res);
      case 'GET /clients':
        return sendJson(res, 200, { clients: [...WEB_CLIENTS.values()] });
      case 'GET /stats':
        return sendJson(res, 200, stats);
      case 'POST /stats/reset':
        stats = { since: new Date().toISOString(), ...emptyCounts(), by_client: {} };
        return sendJson(res, 200, stats);
      default:
        return sendJson(res, 404, { error: 'not_found', error_description: `no admin route ${route}` });
    }
  } catch (err) {
    if (err.status) return sendJson(res, err.status, { error: 'invalid_request', error_description: err.message });
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Startup and shutdown.

let shuttingDown = false;
function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  log(`${signal}: shutting down`);
  const servers = [httpsServer, adminServer, ipv6Server].filter(Boolean);
  let pending = servers.length;
  const done = () => {
    if (--pending <= 0) {
      log('stopped');
      process.exit(0);
    }
  };
  for (const s of servers) {
    s.close(done);
    s.closeAllConnections?.();
  }
  for (const sock of openSockets) sock.destroy();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGHUP', () => shutdown('SIGHUP'));

async function main() {
  const port = await listen(httpsServer, PORT, HOST);
  issuer = `https://localhost:${port}`;
  installProvider(makeProvider());

  // "localhost" may resolve to ::1 first on some machines: best effort,
  // serve the same port there too.
  if (HOST === '127.0.0.1') {
    const s6 = trackSockets(https.createServer(TLS_OPTIONS, (req, res) => providerHandler(req, res)));
    try {
      await listen(s6, port, '::1');
      ipv6Server = s6;
    } catch (err) {
      log(`not serving on [::1]:${port} (${err.code ?? err.message}); 127.0.0.1 only`);
    }
  }

  const adminPort = await listen(adminServer, ADMIN_PORT, '127.0.0.1');

  if (args['exit-with-stdin']) {
    process.stdin.on('end', () => shutdown('stdin closed'));
    process.stdin.on('error', () => shutdown('stdin error'));
    process.stdin.resume();
  }

  log(`ready: issuer ${issuer}, admin http://127.0.0.1:${adminPort}, kids ${signingKeys.map((k) => k.kid).join(', ')}`);
  writeStdout(`${JSON.stringify({
    issuer,
    port,
    admin: `http://127.0.0.1:${adminPort}`,
    ca: CA_PATH,
  })}\n`);
}

main().catch((err) => {
  console.error('[idp] fatal:', err);
  process.exit(1);
});
