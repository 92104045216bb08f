#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script).
#
# It prepares what the tests need, on this machine, with nothing installed by hand:
#   - PostgreSQL on 127.0.0.1:5432 (trust auth): checked, started if it is installed but down;
#     every PostgreSQL test creates its own database named with this run's prefix, and every
#     database with that prefix is dropped when the script exits;
#   - a Python venv with moto (the AWS KMS endpoint for aws-sdk-kms), an OpenAPI validator, the
#     infra checks' kubernetes-validate and python-hcl2, pyHanko (the CAdES judge) and pkilint
#     (the PKI's linter);
#     Debian's promtool for the alerts;
#   - Debian's Chromium, playwright-core and axe-core (npm) for the portal's browser tests;
#   - Debian's HAProxy, the load balancer in front of three nodes in the cluster test;
#   - schemathesis (pinned, in the same venv), run by the API tests against `fincert serve`;
#   - Debian's SoftHSM2 and OpenSC, the PKCS#11 HSM stand-in of the pkcs11 KMS backend's tests;
#   - then the Rust suite (one test binary for the API tests) and the spec check;
#   - last, a bounded smoke run of every cargo-fuzz target (fuzz/, cargo-fuzz into the cache).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fincert/target}"
CACHE="${TEST_FINCERT_CACHE:-$HOME/.cache/fincert}"
export TEST_FINCERT_PG_ADMIN_URL="${TEST_FINCERT_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export TEST_FINCERT_DB_PREFIX="fincert_t$(date +%s)_$$"
mkdir -p "$CACHE"

log() { printf '\n== %s\n' "$*"; }

# --- PostgreSQL -------------------------------------------------------------------------
pg_ok() { psql "$TEST_FINCERT_PG_ADMIN_URL" -Atqc 'select 1' >/dev/null 2>&1; }
if ! pg_ok; then
  log "PostgreSQL is not answering; trying to start the local cluster"
  if ls /etc/postgresql >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_ok && break; sleep 1; done
  pg_ok || { echo "PostgreSQL unreachable at $TEST_FINCERT_PG_ADMIN_URL" >&2; exit 1; }
fi

drop_test_databases() {
  psql "$TEST_FINCERT_PG_ADMIN_URL" -Atqc \
    "select datname from pg_database where datname like '${TEST_FINCERT_DB_PREFIX}%'" 2>/dev/null |
    while read -r db; do
      [ -n "$db" ] && psql "$TEST_FINCERT_PG_ADMIN_URL" -qc "drop database if exists \"$db\" with (force)" >/dev/null 2>&1 || true
    done
}

PIDS=()
cleanup() {
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  drop_test_databases
}
trap cleanup EXIT

# --- Python tools: moto (KMS stand-in) and the OpenAPI validator ------------------------------
VENV="$CACHE/venv"
if [ ! -x "$VENV/bin/moto_server" ] || [ ! -x "$VENV/bin/openapi-spec-validator" ]; then
  log "installing moto and openapi-spec-validator into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5.1,<6' 'openapi-spec-validator>=0.7,<1'
fi

# The infra checks' judges (tests/api/infra): kubernetes-validate (Kubernetes schemas, offline)
# and python-hcl2 (Terraform's syntax) in the same venv, and Debian's promtool, unpacked from
# the prometheus package into the cache rather than installed (no service is set up or started).
if ! "$VENV/bin/python" -c 'import hcl2, kubernetes_validate' 2>/dev/null; then
  log "installing kubernetes-validate and python-hcl2 into $VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'kubernetes-validate==1.37.0' 'python-hcl2==8.1.4'
fi
# The CAdES judge (tests/api/signing/cades_validate.py): pyHanko's CMS validation, offline.
if ! "$VENV/bin/python" -c 'import pyhanko.sign.validation.ades, pyhanko_certvalidator' 2>/dev/null; then
  log "installing pyhanko into $VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'pyhanko==0.38.0' 'pyhanko-certvalidator==0.33.0'
fi
# DigiCert's pkilint: the RFC 5280 / RFC 6960 linters that judge every certificate, CRL, ARL
# and OCSP answer the CA makes (tests/api/pki/lint.rs runs lint_pkix_cert, lint_crl,
# lint_ocsp_response and lint_pkix_signer_signee_cert_chain from this venv).
if ! "$VENV/bin/python" -c 'import pkilint' 2>/dev/null || [ ! -x "$VENV/bin/lint_pkix_cert" ]; then
  log "installing pkilint into $VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'pkilint==0.13.3'
fi
# schemathesis: the API contract's judge (tests/api/schemathesis.rs runs it against a real
# `fincert serve` with a holder's and an institution's tokens).
if [ ! -x "$VENV/bin/schemathesis" ] || ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q ' 4\.32\.5$'; then
  log "installing schemathesis into $VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'schemathesis==4.32.5'
fi
export TEST_FINCERT_VENV="$VENV"
PROMETHEUS="$CACHE/prometheus"
if [ ! -x "$PROMETHEUS/usr/bin/promtool" ]; then
  log "unpacking promtool (Debian package prometheus) into $PROMETHEUS"
  rm -rf "$PROMETHEUS.download" && mkdir -p "$PROMETHEUS.download"
  (cd "$PROMETHEUS.download" && { apt-get download prometheus >/dev/null 2>&1 ||
    { SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"; $SUDO apt-get update -qq && apt-get download prometheus >/dev/null; }; })
  dpkg-deb -x "$PROMETHEUS.download"/prometheus_*.deb "$PROMETHEUS"
  rm -rf "$PROMETHEUS.download"
fi
export TEST_FINCERT_PROMTOOL="$PROMETHEUS/usr/bin/promtool"

log "starting moto (AWS KMS stand-in) on a loopback port"
MOTO_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$CACHE/moto.log" 2>&1 &
PIDS+=($!)
export TEST_FINCERT_MOTO_URL="http://127.0.0.1:$MOTO_PORT"
export TEST_FINCERT_MOTO_BIN="$VENV/bin/moto_server"
for _ in $(seq 1 60); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $MOTO_PORT), 1)" 2>/dev/null && break
  sleep 0.5
done
python3 -c "import socket; socket.create_connection(('127.0.0.1', $MOTO_PORT), 1)" ||
  { echo "moto did not start; see $CACHE/moto.log" >&2; exit 1; }

# --- Browser: Debian's Chromium and playwright-core (drives it for the portal tests) -----------
if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/nanum ]; then
  log "installing Chromium and a Korean font (Debian packages chromium, fonts-nanum)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends chromium fonts-nanum >/dev/null 2>&1 ||
    { $SUDO apt-get update -qq && $SUDO apt-get install -y --no-install-recommends chromium fonts-nanum >/dev/null; }
fi
export TEST_FINCERT_CHROMIUM=/usr/bin/chromium
NPM_PREFIX="$CACHE/npm"
if [ ! -f "$NPM_PREFIX/node_modules/playwright-core/package.json" ]; then
  log "installing playwright-core into $NPM_PREFIX"
  mkdir -p "$NPM_PREFIX"
  npm install --silent --no-audit --no-fund --prefix "$NPM_PREFIX" 'playwright-core@1.64.1' >/dev/null
fi
# axe-core (Deque's accessibility engine): the browser test injects axe.min.js into each page
# state and requires 0 WCAG 2.2 AA violations. Pinned; reinstalled when the version differs.
AXE_VERSION=4.14.1
if ! grep -q "\"version\": \"$AXE_VERSION\"" "$NPM_PREFIX/node_modules/axe-core/package.json" 2>/dev/null; then
  log "installing axe-core $AXE_VERSION into $NPM_PREFIX"
  mkdir -p "$NPM_PREFIX"
  npm install --silent --no-audit --no-fund --prefix "$NPM_PREFIX" "axe-core@$AXE_VERSION" >/dev/null
fi
export TEST_FINCERT_PLAYWRIGHT="$NPM_PREFIX/node_modules/playwright-core"
export TEST_FINCERT_AXE="$NPM_PREFIX/node_modules/axe-core/axe.min.js"
export TEST_FINCERT_SCREENSHOTS="${TEST_FINCERT_SCREENSHOTS:-$CACHE/screenshots}"

# --- Load balancer: Debian's HAProxy, in front of three `fincert serve` processes -------------
# The cluster test writes its own configuration (loopback ports of its run) and runs HAProxy in
# the foreground; the package's own service is not used.
if [ ! -x /usr/sbin/haproxy ]; then
  log "installing HAProxy (Debian package haproxy)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends haproxy >/dev/null 2>&1 ||
    { $SUDO apt-get update -qq && $SUDO apt-get install -y --no-install-recommends haproxy >/dev/null; }
fi
export TEST_FINCERT_HAPROXY=/usr/sbin/haproxy

# --- HSM: Debian's SoftHSM2 (the PKCS#11 module the pkcs11 KMS backend is tested against) and
# OpenSC's pkcs11-tool. Each HSM test makes a token directory and SOFTHSM2_CONF file of its own
# (`softhsm2-util --init-token`), so no token is shared between tests or runs.
if [ ! -e /usr/lib/softhsm/libsofthsm2.so ] || [ ! -x /usr/bin/softhsm2-util ] || [ ! -x /usr/bin/pkcs11-tool ]; then
  log "installing SoftHSM2 and OpenSC (Debian packages softhsm2, opensc)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends softhsm2 opensc >/dev/null 2>&1 ||
    { $SUDO apt-get update -qq && $SUDO apt-get install -y --no-install-recommends softhsm2 opensc >/dev/null; }
fi
export TEST_FINCERT_SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so

log "validating openapi.yaml (OpenAPI 3.1)"
"$VENV/bin/openapi-spec-validator" openapi.yaml

# --- Rust -------------------------------------------------------------------------------------
log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (library and binaries: no unwrap/expect/panic outside tests)"
cargo clippy --workspace --lib --bins --locked -- -D warnings
log "cargo clippy (tests and benchmarks)"
cargo clippy --workspace --tests --benches --locked -- -D warnings

log "cargo test (SQLite and PostgreSQL)"
RESULTS="$CACHE/test-output.$$"
set +e
cargo test --workspace --locked 2>&1 | tee "$RESULTS"
status=${PIPESTATUS[0]}
set -e
read -r passed failed < <(awk '/^test result:/ {
    for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i }
  } END { print p + 0, f + 0 }' "$RESULTS")
rm -f "$RESULTS"
echo
echo "summary: ${passed:-0} passed, ${failed:-0} failed"
if [ "$status" -ne 0 ] || [ "${passed:-0}" -eq 0 ]; then
  exit 1
fi

# --- Fuzzing: a bounded smoke run of every cargo-fuzz target -----------------------------------
# cargo-fuzz (pinned) into the cache; the targets are built with coverage instrumentation only
# (`-s none`: fincert forbids `unsafe`; no nightly needed) into a target directory of their own,
# then each runs for FUZZ_SECONDS on its seeds plus a corpus kept in the cache (so later runs
# start where earlier ones stopped). A crash, a leak of time past -timeout or a failed property
# fails the run and leaves the input in $CACHE/fuzz-artifacts/<target>/. README "Fuzzing".
FUZZ_ROOT="$CACHE/cargo-fuzz"
FUZZ_SECONDS="${TEST_FINCERT_FUZZ_SECONDS:-20}"
if [ ! -x "$FUZZ_ROOT/bin/cargo-fuzz" ]; then
  log "installing cargo-fuzz into $FUZZ_ROOT"
  cargo install --quiet --locked --root "$FUZZ_ROOT" cargo-fuzz@0.13.2
fi
log "fuzz smoke run (${FUZZ_SECONDS} s per target)"
(cd fuzz && "$FUZZ_ROOT/bin/cargo-fuzz" build -s none --target-dir "$CACHE/fuzz-target")
fuzz_failed=0
for target in $(cd fuzz && "$FUZZ_ROOT/bin/cargo-fuzz" list); do
  corpus="$CACHE/fuzz-corpus/$target"
  artifacts="$CACHE/fuzz-artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  out="$CACHE/fuzz-$target.log"
  if (cd fuzz && "$FUZZ_ROOT/bin/cargo-fuzz" run -s none --target-dir "$CACHE/fuzz-target" "$target" \
      "$corpus" "seeds/$target" -- -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$artifacts/") >"$out" 2>&1; then
    echo "fuzz $target: $(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$out" | tail -n1)"
  else
    echo "fuzz $target: FAILED (log $out, inputs in $artifacts)"
    tail -n 40 "$out"
    fuzz_failed=1
  fi
done
[ "$fuzz_failed" -eq 0 ] || exit 1
