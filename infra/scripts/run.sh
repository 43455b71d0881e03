#!/usr/bin/env bash
# Runs the whole platform locally in one process. Starts (or installs) Postgres and
# Redis when needed, builds the panel when it is missing or stale (admin-ui/dist, served
# at / through PANEL_DIR), migrates, then serves. Without BOT_TOKEN it runs in sandbox mode.
# Environment: DATABASE_URL (its database is created when missing), BIND_ADDR, and any
# setting of the README; PROMO_SECRETS_FILE replaces .local/secrets.env.
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh

ensure_rust
ensure_postgres
ensure_redis
ensure_local_secrets
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/promo}
database=${DATABASE_URL##*/}
ensure_database "${database%%\?*}"
ensure_panel_bundle
export PANEL_DIR=${PANEL_DIR:-$PWD/admin-ui/dist}
say "starting promo serve (the first build of a fresh clone takes a few minutes)"
exec cargo run -p promo -- serve
