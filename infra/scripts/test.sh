#!/usr/bin/env bash
# Runs every check of the workspace against real services: formatting, clippy, then all
# tests with Postgres, Redis and the SQS emulator (moto) on 127.0.0.1 and the panel in
# headless Chromium (the bundle built first), then the smoke test of
# ./infra/scripts/run.sh itself (infra/scripts/smoke.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh

ensure_rust
ensure_postgres
ensure_redis
ensure_moto
ensure_chromium
ensure_panel_bundle

# Every test creates its own database; drop them after the run (and any an interrupted
# run or a developer's `cargo test` left behind before it). Each DROP DATABASE waits for
# a checkpoint (~1-3 s on a busy machine) and concurrent ones share it, so eight
# sessions drop a thousand leftovers in minutes instead of an hour.
drop_test_databases() {
    psql_admin -tAc "SELECT format('DROP DATABASE IF EXISTS %I;', datname)
                     FROM pg_database WHERE datname LIKE 'promo\_test\_%'" \
        | xargs -r -d '\n' -P 8 -n 1 \
            psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -c
}
drop_test_databases
trap drop_test_databases EXIT

export PROMO_TEST_SQS_ENDPOINT=${PROMO_TEST_SQS_ENDPOINT:-http://127.0.0.1:$MOTO_PORT}

say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy"
cargo clippy --workspace --exclude promo-admin-ui --all-targets --quiet -- -D warnings
# The panel only builds for the browser.
say "clippy -p promo-admin-ui (wasm32)"
cargo clippy --quiet -p promo-admin-ui --target wasm32-unknown-unknown -- -D warnings
# Each function builds promo-core with only its own features (no QR decoder in the
# bridge and the runner, no HTTP server in the SQS functions); a workspace build
# unifies them, so check each one alone.
for function in telegram-webhook receipt-verifier admin-api campaign-runner listen-bridge; do
    say "clippy -p $function (its own features only)"
    cargo clippy --quiet -p "$function" -- -D warnings
done
say "api-types builds for the browser (wasm32)"
rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown
cargo check --quiet -p promo-api-types --target wasm32-unknown-unknown
# The browser tests (core/tests/browser) drive the bundle built above.
say "cargo test"
cargo test --workspace --exclude promo-admin-ui
# The panel's pure helpers (Telegram formatting, placeholders) on the host; its pages are
# tested in the browser above (core/tests/browser).
say "cargo test -p promo-admin-ui --lib"
cargo test --quiet -p promo-admin-ui --lib
# The README's run command as a user types it: starts, answers, stops, starts again.
infra/scripts/smoke.sh
