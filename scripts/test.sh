#!/usr/bin/env bash
# The project's test command (see README.md). Installs what a fresh machine lacks, then runs
# every check; exits non-zero if any fails.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain and system packages"
cargo --version
for tool in cargo-fmt cargo-clippy; do
    command -v "$tool" >/dev/null || { echo "missing $tool (rustup component)"; exit 1; }
done
# The end-to-end tests run a real OpenID Provider (node oidc-provider) whose TLS certificates
# are made with the openssl CLI. The browser tests drive Debian's headless Chromium through
# playwright-core (e2e/browser), which must never download browsers of its own.
missing=()
command -v node >/dev/null || missing+=(nodejs npm)
command -v openssl >/dev/null || missing+=(openssl)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -qq && apt-get install -y -qq "${missing[@]}"
fi
node --version

step "e2e identity provider: npm ci (from the lock file)"
(cd e2e/idp && npm ci --no-audit --no-fund --loglevel=error)

step "e2e browser driver: npm ci (playwright-core, no browser download)"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
(cd e2e/browser && npm ci --no-audit --no-fund --loglevel=error)
chromium --version

step "format"
cargo fmt --all --check

step "clippy (workspace, all targets)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "no_std: oidc-core links into a #![no_std] staticlib with its own panic handler"
# A `std` anywhere in oidc-core's normal dependency tree would bring std's panic handler and
# fail this build with E0152 (duplicate lang item `panic_impl`).
(cd no-std-check && cargo build --quiet)
echo "no_std build: ok"

step "no_std: the check detects a std dependency"
log=$(mktemp)
if (cd no-std-check && cargo build --quiet --features prove-detection) >"$log" 2>&1; then
    echo "the no_std check built with a std-only dependency: it proves nothing"
    exit 1
fi
if ! grep -q 'E0152' "$log"; then
    echo "the std-dependency build failed for another reason:"
    cat "$log"
    exit 1
fi
echo "std dependency detected (E0152): ok"
rm -f "$log"

step "fuzz targets compile"
cargo check --manifest-path fuzz/Cargo.toml --quiet

step "docs (oidc-core, oidc-proxy, oidc-monoio, oidc-smol; warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc -p oidc-core -p oidc-proxy -p oidc-monoio -p oidc-smol --no-deps --quiet

step "tests (workspace; the end-to-end suite runs gateway-monoio)"
# The glommio embedding example needs 512 KiB of locked memory (io_uring buffers); raise the
# soft limit when the hard one allows. Below it, its test fails and says how to raise it.
soft=$(ulimit -l)
if [ "$soft" != unlimited ] && [ "$soft" -lt 512 ]; then
    ulimit -l 512 2>/dev/null || echo "warning: RLIMIT_MEMLOCK is ${soft} KiB; the glommio test will fail"
fi
cargo build -p gateway-monoio --locked
cargo test --workspace --locked

step "end-to-end suite again, on gateway-smol"
cargo build -p gateway-smol --locked
OIDC_E2E_GATEWAY=gateway-smol cargo test -p oidc-e2e --locked
