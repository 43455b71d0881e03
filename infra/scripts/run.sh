#!/usr/bin/env bash
# Runs the whole platform locally in one process. Starts (or installs) Postgres and
# Redis when needed, migrates, then serves. Without BOT_TOKEN it runs in sandbox mode.
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh

ensure_rust
ensure_postgres
ensure_redis
ensure_local_secrets
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/promo}
ensure_database "${DATABASE_URL##*/}"
exec cargo run --quiet -p promo -- serve
