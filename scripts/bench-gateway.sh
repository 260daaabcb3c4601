#!/usr/bin/env bash
# Load benchmark on loopback: wrk against (1) the upstream directly, (2) nginx as a plain reverse
# proxy, (3) gateway-monoio with a bearer JWT route on the cached path (one valid token), and
# (4) gateway-monoio verifying every request (a stream of distinct tokens, cache bypassed), and
# (5) gateway-monoio on a browser-login route with a valid session cookie (two chunks, about
# 3 KiB: opened, decrypted and turned into X-Access-Token / X-ID-Token on every request).
# Every target gets the same request (a GET with the same `Authorization: Bearer` header), so the
# upstream parses the same client headers; what the gateway adds (X-Access-Token, X-Userinfo,
# X-Forwarded-*) is counted against the gateway. Rounds are interleaved so drift of this shared
# VM hits every target alike. Bounded in time.
#
#   scripts/bench-gateway.sh [ROUNDS=3] [SECONDS=10] [CONNECTIONS=64]
#
# Prints a markdown table (median of the rounds) and the gateway's RSS. Fails (non-zero exit)
# when a token of the uncached stream is refused before measuring, or when wrk reports any
# non-2xx/3xx answer: a figure for 401s or 502s is not a figure for the gateway.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECS=${2:-10}
CONNS=${3:-64}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -f "$work/nginx.pid" ] && nginx -c "$work/nginx.conf" -p "$work" -s stop 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cargo build --release -q -p gateway-monoio -p gateway-smol -p oidc-benches --bins
./target/release/mint "$work" 1000 >/dev/null
ISSUER="https://login.example.com/7d1c0b2e-5f4a-4c11-9e3b-2a8f6d0c4b19/v2.0"

# nginx: port 18081 is the upstream (a fixed 200 body), port 18082 a plain reverse proxy to it.
cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    upstream backend { server 127.0.0.1:18081; keepalive 64; }
    server {
        listen 127.0.0.1:18081;
        location / { return 200 '{"ok":true}\n'; }
    }
    server {
        listen 127.0.0.1:18082;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work"
sleep 0.5

PEM=$(sed 's/^/          /' "$work/public.pem")
cat > "$work/gateway.yaml" <<YAML
gateway:
  listen: 127.0.0.1:18083
  workers: 2
  access_log: off
routes:
  - id: cached
    uri: /cached
    plugins:
      openid-connect:
        client_id: bench
        client_secret: bench-secret-0123
        discovery: https://idp.invalid/.well-known/openid-configuration
        bearer_only: true
        public_key: |
$PEM
        claim_validator: {issuer: {valid_issuers: ["$ISSUER"]}}
    upstream: {nodes: {"127.0.0.1:18081": 1}}
  - id: uncached
    uri: /uncached
    plugins:
      openid-connect:
        client_id: bench
        client_secret: bench-secret-0123
        discovery: https://idp.invalid/.well-known/openid-configuration
        bearer_only: true
        jwt_verification_cache_ignore: true
        public_key: |
$PEM
        claim_validator: {issuer: {valid_issuers: ["$ISSUER"]}}
    upstream: {nodes: {"127.0.0.1:18081": 1}}
  - id: session
    uris: [/session, /session/callback]
    plugins:
      openid-connect:
        client_id: bench
        client_secret: bench-secret-0123
        discovery: https://idp.invalid/.well-known/openid-configuration
        redirect_uri: http://127.0.0.1:18083/session/callback
        session:
          secret: bench-session-secret-0123456789ab
          idling_timeout: 0
          rolling_timeout: 0
          absolute_timeout: 86400
    upstream: {nodes: {"127.0.0.1:18081": 1}}
YAML
# gateway-smol serves the same routes on port 18084.
sed 's/127.0.0.1:18083/127.0.0.1:18084/' "$work/gateway.yaml" > "$work/gateway-smol.yaml"
# A leftover gateway on the port would share it through SO_REUSEPORT and skew every figure.
for port in 18083 18084; do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
        echo "something already listens on 127.0.0.1:$port; stop it first" >&2
        exit 1
    fi
done
./target/release/gateway-monoio --config "$work/gateway.yaml" 2>"$work/gateway.err" &
gw=$!
pids+=("$gw")
./target/release/gateway-smol --config "$work/gateway-smol.yaml" 2>"$work/gateway-smol.err" &
pids+=("$!")
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:18083/ && break; sleep 0.1; done
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:18084/ && break; sleep 0.1; done
TOKEN=$(head -1 "$work/tokens.txt")
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18083/cached || true)
[ "$code" = 200 ] || { echo "gateway check failed: $code"; cat "$work/gateway.err"; exit 1; }
SESSION=$(cat "$work/session-cookie.txt")
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $SESSION" http://127.0.0.1:18083/session || true)
[ "$code" = 200 ] || { echo "session check failed: $code"; cat "$work/gateway.err"; exit 1; }
rss_idle=$(ps -o rss= -p "$gw")

# Every token of the uncached stream must be accepted before anything is measured (one curl,
# one keep-alive connection, one request per token).
awk 'NR > 1 { print "next" }
     { printf "url = \"http://127.0.0.1:18083/uncached\"\nheader = \"Authorization: Bearer %s\"\noutput = /dev/null\nwrite-out = \"%%{http_code}\\n\"\n", $0 }' \
    "$work/tokens.txt" > "$work/curl-tokens.cfg"
curl -s -K "$work/curl-tokens.cfg" > "$work/token-codes.txt" || true
ntokens=$(grep -c . "$work/tokens.txt")
nok=$(grep -c '^200$' "$work/token-codes.txt" || true)
if [ "$nok" != "$ntokens" ]; then
    echo "uncached token stream: $nok of $ntokens tokens accepted (answers: $(sort "$work/token-codes.txt" | uniq -c | tr -s ' \n' ' '))" >&2
    cat "$work/gateway.err" >&2
    exit 1
fi
echo "uncached token stream: all $ntokens tokens accepted" >&2

cat > "$work/tokens.lua" <<LUA
local tokens = {}
for line in io.lines("$work/tokens.txt") do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i % #tokens + 1
  return wrk.format("GET", "/uncached", { ["Authorization"] = "Bearer " .. tokens[i] })
end
LUA

run() { # name url [wrk args...]
    local name=$1 url=$2; shift 2
    wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$@" "$url" > "$work/$name.out" 2>&1
    # wrk counts every answer as a request; only 2xx/3xx ones measure what this script claims.
    if grep -q 'Non-2xx or 3xx responses' "$work/$name.out"; then
        echo "$name: wrk got non-2xx/3xx answers; the figures would not measure the gateway:" >&2
        cat "$work/$name.out" >&2
        exit 1
    fi
    local rps p50 p99
    rps=$(awk '/Requests\/sec/ {print $2}' "$work/$name.out")
    p50=$(awk '$1=="50%" {print $2}' "$work/$name.out")
    p99=$(awk '$1=="99%" {print $2}' "$work/$name.out")
    [ -n "$rps" ] || { echo "$name: no result from wrk:" >&2; cat "$work/$name.out" >&2; exit 1; }
    echo "$name $rps $p50 $p99" >> "$work/results.txt"
}

for r in $(seq "$ROUNDS"); do
    run direct http://127.0.0.1:18081/ -H "Authorization: Bearer $TOKEN"
    run nginx http://127.0.0.1:18082/ -H "Authorization: Bearer $TOKEN"
    run gw-cached http://127.0.0.1:18083/cached -H "Authorization: Bearer $TOKEN"
    run gw-uncached http://127.0.0.1:18083/uncached -s "$work/tokens.lua"
    run nginx-cookie http://127.0.0.1:18082/ -H "Cookie: $SESSION"
    run gw-session http://127.0.0.1:18083/session -H "Cookie: $SESSION"
    run smol-cached http://127.0.0.1:18084/cached -H "Authorization: Bearer $TOKEN"
    run smol-session http://127.0.0.1:18084/session -H "Cookie: $SESSION"
    echo "round $r done" >&2
done
rss_after=$(ps -o rss= -p "$gw")

python3 - "$work/results.txt" "$rss_idle" "$rss_after" <<'PY'
import statistics, sys
def ms(v):
    v = v.strip()
    for unit, f in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if v.endswith(unit):
            return float(v[: -len(unit)]) * f
    return float(v)
rows = {}
for line in open(sys.argv[1]):
    name, rps, p50, p99 = line.split()
    rows.setdefault(name, []).append((float(rps), ms(p50), ms(p99)))
med = {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k, v in rows.items()}
n = med["nginx"]
print("| target | requests/s | p50 | p99 | rps vs nginx | p99 vs nginx |")
print("|---|--:|--:|--:|--:|--:|")
for k in ("direct", "nginx", "gw-cached", "gw-uncached", "nginx-cookie", "gw-session",
          "smol-cached", "smol-session"):
    r, p50, p99 = med[k]
    print(f"| {k} | {r:,.0f} | {p50:.2f} ms | {p99:.2f} ms | {r / n[0]:.2f}× | {p99 / n[2]:.2f}× |")
print("\nPer round, against nginx in the same round (requests/s ratio, p99 ratio):")
for k, base in (("gw-cached", "nginx"), ("gw-uncached", "nginx"), ("gw-session", "nginx-cookie"),
                ("smol-cached", "gw-cached"), ("smol-session", "gw-session")):
    pairs = [(g[0] / x[0], g[2] / x[2]) for g, x in zip(rows[k], rows[base])]
    print(f"  {k} vs {base}: " + ", ".join(f"{a:.2f}/{b:.2f}" for a, b in pairs))
print(f"\ngateway RSS: {int(sys.argv[2]) / 1024:.1f} MiB idle (after one request), {int(sys.argv[3]) / 1024:.1f} MiB after the run")
PY
