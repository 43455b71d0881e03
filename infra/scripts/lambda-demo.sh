#!/usr/bin/env bash
# Prepares real work for the functions under `cargo lambda watch` (see the README): starts
# (or installs) Postgres and Redis, uses its own database (promo_lambda, so a running
# `run.sh` does not pick the demo's broadcast up first), then runs `promo lambda-demo`,
# which starts the fakes, creates a shopper, a receipt upload and a broadcast, and writes
# .local/lambda/env plus the SQS events for `cargo lambda invoke`.
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh

ensure_rust
ensure_postgres
ensure_redis
ensure_local_secrets
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/promo_lambda}
database=${DATABASE_URL##*/}
ensure_database "${database%%\?*}"
exec cargo run -p promo -- lambda-demo "$@"
