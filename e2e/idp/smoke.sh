#!/usr/bin/env bash
# Smoke test for the e2e IdP: starts it, exercises discovery, JWKS, the admin
# API, introspection and revocation with curl, then stops it with SIGTERM.
# Exits non-zero on the first failure.  Needs: node, npm (first run), curl,
# openssl.  Usage: bash e2e/idp/smoke.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

if [ ! -d node_modules/oidc-provider ] || [ ! -d node_modules/jose ]; then
  echo "smoke: installing dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

WORK="$(mktemp -d)"
IDP_PID=""
cleanup() {
  if [ -n "$IDP_PID" ] && kill -0 "$IDP_PID" 2>/dev/null; then
    kill -TERM "$IDP_PID" 2>/dev/null || true
    wait "$IDP_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PASSED=0
FAILED=0
ok()   { PASSED=$((PASSED + 1)); echo "ok   - $*"; }
fail() {
  FAILED=$((FAILED + 1)); echo "FAIL - $*"
  echo "---- idp stderr (tail) ----"; tail -n 30 "$WORK/idp.err" || true
  echo "$PASSED passed, $FAILED failed"
  exit 1
}

# js 'EXPR' args...: evaluates EXPR with IN = parsed JSON from stdin, A = args;
# "stmt; stmt; expr" is allowed (the part after the last ';' is the result).
js() {
  node -e '
    const src = process.argv[1], A = process.argv.slice(2);
    const i = src.lastIndexOf(";");
    const body = i < 0 ? "return (" + src + ");" : src.slice(0, i + 1) + " return (" + src.slice(i + 1) + ");";
    const f = new Function("IN", "A", "b64", "hdr", "pl", "now", body);
    let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => {
      const IN = s.trim() ? JSON.parse(s) : null;
      const b64 = (x) => JSON.parse(Buffer.from(x, "base64url").toString());
      const hdr = (t) => b64(t.split(".")[0]), pl = (t) => b64(t.split(".")[1]);
      const r = f(IN, A, b64, hdr, pl, Math.floor(Date.now() / 1000));
      process.stdout.write(typeof r === "string" ? r : JSON.stringify(r));
    });' "$@"
}
# check DESCRIPTION JSON EXPR [args]: EXPR must evaluate to true
check() {
  local desc="$1" json="$2" expr="$3"; shift 3
  local r
  r="$(printf '%s' "$json" | js "$expr" "$@" 2>&1)" || fail "$desc (js error: $r)"
  [ "$r" = "true" ] && ok "$desc" || fail "$desc: got $(printf '%s' "$json" | head -c 600)"
}

# ---------------------------------------------------------------- start
node idp.mjs --port 0 --admin-port 0 --tls-dir "$WORK/tls" >"$WORK/idp.out" 2>"$WORK/idp.err" &
IDP_PID=$!
for _ in $(seq 1 150); do
  [ -s "$WORK/idp.out" ] && break
  kill -0 "$IDP_PID" 2>/dev/null || fail "idp exited during startup"
  sleep 0.1
done
[ -s "$WORK/idp.out" ] || fail "idp did not print its ready line within 15 s"
READY="$(cat "$WORK/idp.out")"
echo "ready line: $READY"
check "stdout is exactly one JSON line with issuer/port/admin/ca" "$READY" \
  'Object.keys(IN).sort().join() === "admin,ca,issuer,port" && IN.issuer === "https://localhost:" + IN.port && /^http:\/\/127\.0\.0\.1:\d+$/.test(IN.admin) && IN.ca.startsWith("/")'
[ "$(wc -l <"$WORK/idp.out")" -eq 1 ] || fail "stdout has more than one line"

ISS="$(printf '%s' "$READY" | js 'IN.issuer')"
ADM="$(printf '%s' "$READY" | js 'IN.admin')"
CA="$(printf '%s' "$READY" | js 'IN.ca')"
C=(curl -sS --fail-with-body --max-time 10)
CS=("${C[@]}" --cacert "$CA")

# ---------------------------------------------------------------- TLS
openssl verify -CAfile "$CA" "$WORK/tls/server.pem" >/dev/null 2>&1 && ok "server cert verifies against ca.pem" || fail "openssl verify"
openssl x509 -in "$WORK/tls/server.pem" -noout -ext subjectAltName 2>/dev/null | grep -q 'DNS:localhost, IP Address:127.0.0.1' \
  && ok "server cert SAN has localhost and 127.0.0.1" || fail "server cert SAN"
if curl -sS --max-time 5 -o /dev/null "$ISS/jwks" 2>/dev/null; then fail "https without --cacert unexpectedly trusted"; else ok "https is rejected without the CA"; fi
"${CS[@]}" -o /dev/null "https://127.0.0.1:${ISS##*:}/jwks" && ok "https by IP 127.0.0.1 verifies" || fail "https by IP"

# ---------------------------------------------------------------- health, discovery, JWKS
H="$("${C[@]}" "$ADM/health")" || fail "GET /health"
check "GET /health" "$H" 'IN.status === "ok"'

D="$("${CS[@]}" "$ISS/.well-known/openid-configuration")" || fail "discovery"
check "discovery issuer/jwks_uri/introspection/revocation" "$D" \
  'IN.issuer === A[0] && IN.jwks_uri === A[0] + "/jwks" && IN.introspection_endpoint === A[0] + "/token/introspection" && IN.revocation_endpoint === A[0] + "/token/revocation" && IN.token_endpoint === A[0] + "/token" && IN.grant_types_supported.includes("client_credentials")' "$ISS"

J="$("${CS[@]}" "$ISS/jwks")" || fail "jwks"
check "JWKS has 2 public keys rs-1 (RS256) and es-1 (ES256)" "$J" \
  'IN.keys.length === 2 && IN.keys.map(k => k.kid + ":" + k.alg).sort().join() === "es-1:ES256,rs-1:RS256" && IN.keys.every(k => !k.d)'

# verify a JWT against a JWKS with jose: prints "ok" or the jose error code
verify() { # token jwks issuer audience
  node --input-type=module -e '
    import * as jose from "jose";
    const [token, jwks, iss, aud] = process.argv.slice(1);
    try {
      await jose.jwtVerify(token, jose.createLocalJWKSet(JSON.parse(jwks)), { issuer: iss, audience: aud, typ: "at+jwt" });
      console.log("ok");
    } catch (e) { console.log(e.code || e.message); }' "$1" "$2" "$3" "$4"
}

# ---------------------------------------------------------------- JWT access tokens
T="$("${C[@]}" "$ADM/token?client=jwt-client&scope=read&resource=https://api.test")" || fail "admin /token (api.test)"
AT="$(printf '%s' "$T" | js 'IN.access_token')"
check "api.test token header: ES256, typ at+jwt, kid es-1" "$T" \
  'const h = hdr(IN.access_token); h.alg === "ES256" && h.typ === "at+jwt" && h.kid === "es-1"'
check "api.test token payload: iss, aud, scope, exp = iat + 600" "$T" \
  'const p = pl(IN.access_token); p.iss === A[0] && p.aud === "https://api.test" && p.scope === "read" && p.exp > now && p.exp - p.iat === 600 && p.client_id === "jwt-client" && IN.expires_in === 600' "$ISS"
[ "$(verify "$AT" "$J" "$ISS" https://api.test)" = ok ] && ok "api.test token verifies against the JWKS" || fail "api.test token signature"

T2="$("${C[@]}" "$ADM/token?client=jwt-client&scope=read%20write&resource=https://rs256.test")" || fail "admin /token (rs256.test)"
check "rs256.test token: RS256 kid rs-1 aud https://rs256.test scope 'read write'" "$T2" \
  'const h = hdr(IN.access_token), p = pl(IN.access_token); h.alg === "RS256" && h.kid === "rs-1" && h.typ === "at+jwt" && p.aud === "https://rs256.test" && p.scope === "read write"'
[ "$(verify "$(printf '%s' "$T2" | js 'IN.access_token')" "$J" "$ISS" https://rs256.test)" = ok ] && ok "rs256.test token verifies" || fail "rs256.test token signature"

E="$(curl -sS --max-time 10 "$ADM/token?client=jwt-client&scope=read&resource=https://unknown.test")"
check "unknown resource is refused (invalid_target)" "$E" 'IN.error === "invalid_target"'

# ---------------------------------------------------------------- opaque, introspection, revocation
O="$("${C[@]}" "$ADM/token?client=opaque-client&scope=read%20write")" || fail "admin /token (opaque)"
OT="$(printf '%s' "$O" | js 'IN.access_token')"
check "opaque token is not a JWT" "$O" 'IN.access_token.split(".").length === 1 && IN.scope === "read write"'

I="$("${CS[@]}" -u gateway:gateway-secret-0123456789 -d "token=$OT" "$ISS/token/introspection")" || fail "introspection (basic)"
check "introspection (client_secret_basic): active, client_id, scope, iss" "$I" \
  'IN.active === true && IN.client_id === "opaque-client" && IN.scope === "read write" && IN.iss === A[0] && IN.exp > now' "$ISS"
I="$("${CS[@]}" -d client_id=gateway -d client_secret=gateway-secret-0123456789 -d "token=$OT" "$ISS/token/introspection")" || fail "introspection (post)"
check "introspection (client_secret_post): active" "$I" 'IN.active === true'
CODE="$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA" -u gateway:wrong -d "token=$OT" "$ISS/token/introspection")"
[ "$CODE" = 401 ] && ok "introspection with a wrong secret is 401" || fail "introspection wrong secret gave $CODE"

R="$("${C[@]}" -X POST -H 'content-type: application/json' -d "{\"token\":\"$OT\"}" "$ADM/revoke")" || fail "admin /revoke"
check "admin /revoke" "$R" 'IN.revoked === true'
I="$("${CS[@]}" -u gateway:gateway-secret-0123456789 -d "token=$OT" "$ISS/token/introspection")" || fail "introspection after revoke"
check "introspection after revoke: active false" "$I" 'IN.active === false && Object.keys(IN).length === 1'

# ---------------------------------------------------------------- /sign
S="$("${C[@]}" -X POST -d "{\"alg\":\"ES256\",\"claims\":{\"iss\":\"$ISS\",\"aud\":\"https://api.test\",\"sub\":\"x\",\"scope\":\"read\",\"iat\":1000000000,\"exp\":1000000600}}" "$ADM/sign")" || fail "admin /sign"
check "/sign expired ES256: header kid es-1 typ at+jwt, claims verbatim" "$S" \
  'const h = hdr(IN.token), p = pl(IN.token); h.alg === "ES256" && h.kid === "es-1" && h.typ === "at+jwt" && p.exp === 1000000600 && p.iat === 1000000000'
[ "$(verify "$(printf '%s' "$S" | js 'IN.token')" "$J" "$ISS" https://api.test)" = ERR_JWT_EXPIRED ] \
  && ok "/sign expired token: signature valid, rejected only as expired" || fail "/sign expired token verification"
S="$("${C[@]}" -X POST -d '{"alg":"RS256","kid":"nope","typ":"JWT","claims":{"a":1}}' "$ADM/sign")" || fail "admin /sign RS256"
check "/sign RS256 with kid/typ override" "$S" 'const h = hdr(IN.token); h.alg === "RS256" && h.kid === "nope" && h.typ === "JWT" && IN.signing_kid === "rs-1"'

S="$("${C[@]}" -X POST -d "{\"untrusted\":true,\"claims\":{\"iss\":\"$ISS\",\"aud\":\"https://api.test\",\"exp\":4000000000}}" "$ADM/sign")" || fail "admin /sign untrusted"
[ "$(verify "$(printf '%s' "$S" | js 'IN.token')" "$J" "$ISS" https://api.test)" = ERR_JWS_SIGNATURE_VERIFICATION_FAILED ] \
  && ok "/sign untrusted: kid es-1 but signature fails" || fail "/sign untrusted"

# ---------------------------------------------------------------- /rotate
PRE="$("${C[@]}" "$ADM/token?client=opaque-client&scope=read")" || fail "opaque token before rotate"
PRET="$(printf '%s' "$PRE" | js 'IN.access_token')"
RO="$("${C[@]}" -X POST "$ADM/rotate")" || fail "admin /rotate"
check "/rotate returns kid es-2" "$RO" 'IN.kid === "es-2"'
J2="$("${CS[@]}" "$ISS/jwks")" || fail "jwks after rotate"
check "JWKS after rotate: 3 keys, es-2 first" "$J2" 'IN.keys.length === 3 && IN.keys[0].kid === "es-2" && IN.keys.map(k => k.kid).sort().join() === "es-1,es-2,rs-1"'
T3="$("${C[@]}" "$ADM/token?client=jwt-client&scope=admin&resource=https://api.test")" || fail "token after rotate"
check "JWT after rotate is signed with es-2" "$T3" 'hdr(IN.access_token).kid === "es-2" && pl(IN.access_token).scope === "admin"'
[ "$(verify "$(printf '%s' "$T3" | js 'IN.access_token')" "$J2" "$ISS" https://api.test)" = ok ] && ok "es-2 token verifies against the new JWKS" || fail "es-2 token signature"
[ "$(verify "$AT" "$J2" "$ISS" https://api.test)" = ok ] && ok "pre-rotation es-1 token still verifies" || fail "es-1 token after rotate"
I="$("${CS[@]}" -u gateway:gateway-secret-0123456789 -d "token=$PRET" "$ISS/token/introspection")" || fail "introspection after rotate"
check "opaque token issued before rotate still introspects active" "$I" 'IN.active === true'
S="$("${C[@]}" -X POST -d '{"claims":{"a":1}}' "$ADM/sign")" || fail "admin /sign after rotate"
check "/sign ES256 after rotate uses es-2" "$S" 'hdr(IN.token).kid === "es-2"'

# ---------------------------------------------------------------- browser login support (see e2e/browser/smoke.sh for the flows)
check "discovery: end_session_endpoint, userinfo, RFC 9207 iss, code + refresh grants" "$D" \
  'IN.end_session_endpoint === A[0] + "/session/end" && IN.userinfo_endpoint === A[0] + "/me" && IN.authorization_response_iss_parameter_supported === true && IN.grant_types_supported.includes("authorization_code") && IN.grant_types_supported.includes("refresh_token") && IN.scopes_supported.includes("email")' "$ISS"
CL="$("${C[@]}" -X POST -d '{"client_id":"web","client_secret":"web-secret","redirect_uris":["http://127.0.0.1:9/cb"],"post_logout_redirect_uris":["http://127.0.0.1:9/bye"],"require_pkce":true,"access_token_ttl":60}' "$ADM/clients")" || fail "admin POST /clients"
check "POST /clients: code + refresh_token client with the spec's defaults" "$CL" \
  'IN.client_id === "web" && IN.token_endpoint_auth_method === "client_secret_basic" && IN.require_pkce === true && IN.access_token_ttl === 60 && IN.id_token_tamper === null && IN.metadata.grant_types.join() === "authorization_code,refresh_token" && IN.metadata.response_types.join() === "code"'
CODE="$(curl -sS -o /dev/null -w '%{http_code}' -X POST -d '{"client_id":"bad","client_secret":"s","redirect_uris":[]}' "$ADM/clients")"
[ "$CODE" = 400 ] && ok "POST /clients without redirect_uris is 400" || fail "POST /clients bad spec gave $CODE"
CL="$("${C[@]}" "$ADM/clients")" || fail "admin GET /clients"
check "GET /clients lists it" "$CL" 'IN.clients.length === 1 && IN.clients[0].client_id === "web"'
LOC="$(curl -sS -o /dev/null -w '%{redirect_url}' --cacert "$CA" "$ISS/auth?client_id=web&response_type=code&scope=openid&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&state=s1")"
case "$LOC" in
  http://127.0.0.1:9/cb\?error=invalid_request*PKCE*iss=*) ok "require_pkce: authorization without PKCE is refused at the redirect_uri (with iss)";;
  *) fail "authorization without PKCE redirected to: $LOC";;
esac
LOC="$(curl -sS -o /dev/null -w '%{redirect_url}' --cacert "$CA" "$ISS/auth?client_id=web&response_type=code&scope=openid&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&state=s2&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256")"
case "$LOC" in
  "$ISS"/interaction/*) ok "authorization with PKCE goes to the login interaction";;
  *) fail "authorization with PKCE redirected to: $LOC";;
esac
ST="$("${C[@]}" "$ADM/stats")" || fail "admin GET /stats"
check "GET /stats counts authorizations, per client" "$ST" 'IN.authorization === 2 && IN.by_client.web.authorization === 2 && IN.login_form === 0 && "token_refresh_token" in IN'
ST="$("${C[@]}" -X POST "$ADM/stats/reset")" || fail "admin POST /stats/reset"
check "POST /stats/reset zeroes the counters" "$ST" 'IN.authorization === 0 && Object.keys(IN.by_client).length === 0'
T4="$("${C[@]}" "$ADM/token?client=jwt-client&scope=read&resource=https://api.test")" || fail "token after client registration"
check "client_credentials still works after the provider was rebuilt for /clients" "$T4" 'hdr(IN.access_token).kid === "es-2"'

# ---------------------------------------------------------------- SIGTERM
kill -TERM "$IDP_PID"
RC=0
for _ in $(seq 1 50); do kill -0 "$IDP_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$IDP_PID" 2>/dev/null; then fail "idp still running 5 s after SIGTERM"; fi
wait "$IDP_PID" || RC=$?
IDP_PID=""
[ "$RC" = 0 ] && ok "exits 0 on SIGTERM" || fail "exit status $RC after SIGTERM"

echo "$PASSED passed, $FAILED failed"
