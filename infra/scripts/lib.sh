#!/usr/bin/env bash
# Shared helpers of run.sh and test.sh: make sure the local services are up, installing
# them from the distribution's packages when they are missing and we are allowed to.

PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_PORT=6379
MOTO_PORT=${MOTO_PORT:-9324}

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

can_install() {
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1
}

apt_install() {
    can_install || die "please install: $* (e.g. sudo apt-get install -y $*)"
    say "installing $* from the distribution's packages"
    if [ -z "${APT_UPDATED:-}" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_up() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT"
    else
        (exec 3<>"/dev/tcp/$PG_HOST/$PG_PORT") 2>/dev/null
    fi
}

ensure_postgres() {
    pg_up && return 0
    if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
        apt_install postgresql
        trust_local_postgres=1
    fi
    say "starting PostgreSQL"
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    [ -n "$version" ] || die "PostgreSQL is installed but has no cluster in /etc/postgresql"
    if [ -n "${trust_local_postgres:-}" ]; then
        # A cluster we just installed: let the local postgres user in without a password,
        # as on the development machines (never do this on a shared server).
        local hba="/etc/postgresql/$version/main/pg_hba.conf"
        sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    fi
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
        || pg_ctlcluster "$version" main start
    for _ in $(seq 1 50); do pg_up && return 0; sleep 0.2; done
    die "PostgreSQL did not start on $PG_HOST:$PG_PORT"
}

redis_up() {
    if command -v redis-cli >/dev/null 2>&1; then
        [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null
    fi
}

ensure_redis() {
    redis_up && return 0
    command -v redis-server >/dev/null 2>&1 || apt_install redis-server
    say "starting Redis"
    mkdir -p /tmp/promo-redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
        --appendonly no --dir /tmp/promo-redis --logfile /tmp/promo-redis/redis.log
    for _ in $(seq 1 50); do redis_up && return 0; sleep 0.1; done
    die "Redis did not start on 127.0.0.1:$REDIS_PORT"
}

psql_admin() {
    command -v psql >/dev/null 2>&1 || apt_install postgresql-client
    psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres "$@"
}

ensure_database() {
    local name=$1
    if [ -z "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'")" ]; then
        say "creating database $name"
        psql_admin -c "CREATE DATABASE \"$name\""
    fi
}

moto_up() {
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$MOTO_PORT/" 2>/dev/null
}

ensure_moto() {
    moto_up && return 0
    if ! command -v moto_server >/dev/null 2>&1; then
        command -v pip3 >/dev/null 2>&1 || command -v pip >/dev/null 2>&1 || apt_install python3-pip
        say "installing the SQS emulator (moto[server])"
        local pip
        pip=$(command -v pip3 || command -v pip)
        "$pip" install -q 'moto[server]' 2>/dev/null \
            || "$pip" install -q --break-system-packages 'moto[server]'
        hash -r
    fi
    say "starting the SQS emulator on 127.0.0.1:$MOTO_PORT"
    mkdir -p .local
    nohup moto_server -H 127.0.0.1 -p "$MOTO_PORT" >.local/moto.log 2>&1 &
    for _ in $(seq 1 100); do moto_up && return 0; sleep 0.2; done
    die "the SQS emulator did not start (see .local/moto.log)"
}

ensure_rust() {
    command -v cargo >/dev/null 2>&1 && return 0
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH" && return 0
    die "Rust is not installed: see https://rustup.rs"
}

# Secrets for local runs, generated once and kept in .local/secrets.env (git-ignored), or
# in PROMO_SECRETS_FILE (the smoke test keeps its own). Says on every start where the panel
# password is kept; the password itself is shown only once, at a terminal, never in a log.
ensure_local_secrets() {
    local file=${PROMO_SECRETS_FILE:-.local/secrets.env}
    mkdir -p "$(dirname "$file")"
    if [ ! -f "$file" ]; then
        say "generating local secrets in $file"
        local password
        password=$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | cut -c1-16)
        (
            umask 077
            cat >"$file" <<SECRETS
PHONE_ENCRYPTION_KEY='$(head -c 32 /dev/urandom | base64)'
PRIZE_DATA_KEY='$(head -c 32 /dev/urandom | base64)'
ADMIN_SECRET_KEY='$(head -c 48 /dev/urandom | base64 | tr -d '/+=')'
WEBHOOK_SECRET='$(head -c 24 /dev/urandom | base64 | tr -d '/+=')'
ADMIN_PANEL_PASSWORD='$password'
SECRETS
        )
        if [ -t 2 ]; then
            say "panel login: admin / $password"
        fi
    fi
    # Keys added after a file was written are appended, never the existing ones changed.
    if ! grep -q '^PRIZE_DATA_KEY=' "$file"; then
        (umask 077; echo "PRIZE_DATA_KEY='$(head -c 32 /dev/urandom | base64)'" >>"$file")
    fi
    # Values are quoted so that `cargo lambda watch --env-file` can read the file too: its
    # parser refuses a bare `=` inside a value, and a base64 key ends in one. Files written
    # before the quoting are quoted in place.
    if grep -qE "^[A-Z_][A-Z0-9_]*=[^'\"].*=" "$file"; then
        sed -i -E "/^[A-Z_][A-Z0-9_]*=[^'\"]/{/'/!s/^([A-Z_][A-Z0-9_]*)=(.*)$/\1='\2'/}" "$file"
    fi
    set -a
    # shellcheck disable=SC1090
    . "$file"
    set +a
    say "panel login: ${ADMIN_PANEL_USER:-admin}, password: ADMIN_PANEL_PASSWORD in $file"
}

# The operators' panel bundle in admin-ui/dist, built when missing or stale (a second or
# so when up to date). Options go to build-ui.sh (--dev, --force).
ensure_panel_bundle() {
    infra/scripts/build-ui.sh "$@"
}

# Headless Chromium and its WebDriver for the browser tests (core/tests/browser).
ensure_chromium() {
    # The emoji font: the bot's texts and buttons are full of emoji, and without it the
    # screenshots show empty boxes where a shopper's phone shows pictures.
    if command -v chromedriver >/dev/null 2>&1 \
        && { [ -x /usr/lib/chromium/chromium ] || command -v chromium >/dev/null 2>&1; } \
        && { ! can_install || [ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]; }; then
        return 0
    fi
    apt_install chromium chromium-driver fonts-noto-color-emoji
}

# wasm-opt shrinks the panel's bundle by a third. Optional: without a working one
# (npm's binaryen; Debian's v108 writes broken modules) build-ui.sh leaves the bundle
# unoptimised. Installed from npm when npm is there and we may install.
ensure_wasm_opt() {
    local version
    version=$(wasm-opt --version 2>/dev/null | sed -n 's/.*version \([0-9][0-9]*\).*/\1/p')
    [ "${version:-0}" -ge 110 ] && return 0
    if command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        say "installing wasm-opt (npm package binaryen) to shrink the panel's bundle"
        npm install -g --silent binaryen >/dev/null 2>&1 \
            || say "npm could not install binaryen: the panel's bundle stays unoptimised"
    fi
}
