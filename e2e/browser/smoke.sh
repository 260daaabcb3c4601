#!/usr/bin/env bash
# Browser smoke test without the gateway: the e2e IdP, a tiny relying party
# (smoke.mjs) and headless Chromium driven through driver.mjs's protocol.
# Exits non-zero on the first failure. Needs node, Debian chromium (or
# CHROMIUM=/path), openssl. Usage: bash e2e/browser/smoke.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -d "$HERE/node_modules/playwright-core" ]; then
  echo "smoke: installing e2e/browser dependencies (npm ci)" >&2
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
if [ ! -d "$HERE/../idp/node_modules/oidc-provider" ]; then
  echo "smoke: installing e2e/idp dependencies (npm ci)" >&2
  (cd "$HERE/../idp" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
if [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null; then
  echo "smoke: chromium not found (apt-get install chromium, or set CHROMIUM)" >&2
  exit 1
fi
exec node "$HERE/smoke.mjs"
