#!/usr/bin/env bash
# Smoke test of the README's commands as a user types them: `./infra/scripts/run.sh`
# starts, answers /health and /start in the sandbox, serves the panel at /, stops on
# SIGINT, starts again on the same database and still answers /start (a restarted
# sandbox used to be ignored) and the README's panel sign-in,
# stops on SIGTERM; `cargo run -p promo -- migrate` works with the local secrets.
#
# It keeps to itself: its own database (promo_smoke), secrets file, bot slug and port
# (BIND_ADDR=127.0.0.1:0, the banner says which), and a clean environment, so a
# developer's own database, secrets or BOT_TOKEN are never touched or used.
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh

ensure_rust
ensure_postgres
ensure_redis

SMOKE_DB=promo_smoke
SMOKE_SLUG=smoke
SMOKE_CHAT=990001
work=$(mktemp -d)
group=

redis_forget() {
    command -v redis-cli >/dev/null 2>&1 || return 0
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --scan --pattern "promo:$SMOKE_SLUG:*" \
        | xargs -r redis-cli -h 127.0.0.1 -p "$REDIS_PORT" del >/dev/null
}

cleanup() {
    if [ -n "$group" ]; then kill -KILL -- "-$group" 2>/dev/null || true; fi
    psql_admin -c "DROP DATABASE IF EXISTS $SMOKE_DB WITH (FORCE)" >/dev/null 2>&1 || true
    redis_forget || true
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    printf 'smoke: %s\n' "$*" >&2
    for log in "$work"/run*.log; do
        [ -f "$log" ] || continue
        printf -- '--- %s\n' "$log" >&2
        tail -n 40 "$log" >&2
    done
    exit 1
}

# What a fresh login shell would have, plus the smoke's own settings.
clean_env=(env -i PATH="$PATH" HOME="$HOME" LANG=C.UTF-8
    ${CARGO_HOME:+CARGO_HOME="$CARGO_HOME"} ${RUSTUP_HOME:+RUSTUP_HOME="$RUSTUP_HOME"}
    ${CARGO_TARGET_DIR:+CARGO_TARGET_DIR="$CARGO_TARGET_DIR"}
    DATABASE_URL="postgres://postgres@$PG_HOST:$PG_PORT/$SMOKE_DB"
    BOT_SLUG="$SMOKE_SLUG" BIND_ADDR=127.0.0.1:0 RUST_LOG=warn
    PROMO_SECRETS_FILE="$work/secrets.env")
own_group=$(ps -o pgid= -p $$ | tr -d ' ')

# Starts run.sh in its own process group (so stopping it reaches cargo and promo alike)
# and waits for the banner; sets `group` and `base`.
start() {
    local log=$work/run$1.log
    # Started directly (no function or subshell in between), so $! is setsid's process,
    # which becomes the leader of the new group.
    "${clean_env[@]}" setsid bash infra/scripts/run.sh >"$log" 2>&1 &
    local pid=$!
    base=
    # A fresh clone builds the workspace first; when it is built this takes seconds.
    for _ in $(seq 1 6000); do
        base=$(sed -n 's#^ *health: *\(http://[^ ]*\)/health$#\1#p' "$log" | head -n 1)
        [ -n "$base" ] && break
        kill -0 "$pid" 2>/dev/null || fail "run.sh #$1 exited before serving"
        sleep 0.1
    done
    [ -n "$base" ] || fail "run.sh #$1 printed no address"
    group=$(ps -o pgid= -p "$pid" | tr -d ' ')
    if [ -z "$group" ] || [ "$group" = "$own_group" ]; then
        group=
        fail "run.sh #$1 did not get a process group of its own"
    fi
}

stop() {
    local signal=$1
    kill "-$signal" -- "-$group" 2>/dev/null || true
    for _ in $(seq 1 100); do
        if ! pgrep -g "$group" >/dev/null 2>&1; then
            group=
            return 0
        fi
        sleep 0.1
    done
    fail "processes of run.sh still alive 10 s after SIG$signal: $(pgrep -a -g "$group")"
}

talk() {
    local round=$1 health messages
    health=$(curl -sf --max-time 5 "$base/health") || fail "GET /health failed (round $round)"
    case $health in *'"status":"ok"'*) ;; *) fail "unhealthy: $health" ;; esac
    curl -sf --max-time 10 -H 'content-type: application/json' \
        -d "{\"user_id\": $SMOKE_CHAT, \"text\": \"/start\"}" \
        "$base/sandbox/api/send" >/dev/null || fail "POST /sandbox/api/send failed (round $round)"
    for _ in $(seq 1 50); do
        messages=$(curl -sf --max-time 5 "$base/sandbox/api/messages?chat_id=$SMOKE_CHAT") || true
        case $messages in *'"from":"bot"'*) return 0 ;; esac
        sleep 0.1
    done
    fail "the bot did not answer /start (round $round): $messages"
}

# The README's panel sign-in, as typed there: the bootstrap user's password from the
# secrets file, the session cookie kept by curl, the dashboard read with it.
panel() {
    local password answer
    password=$(sed -n "s/^ADMIN_PANEL_PASSWORD='\(.*\)'$/\1/p" "$work/secrets.env")
    [ -n "$password" ] || fail "no ADMIN_PANEL_PASSWORD in the secrets file"
    answer=$(curl -s --max-time 10 -c "$work/cookies" -H 'content-type: application/json' \
        -d "{\"login\":\"admin\",\"password\":\"$password\"}" "$base/api/auth/login") \
        || fail "POST /api/auth/login failed"
    case $answer in *'"csrf_token"'*) ;; *) fail "panel sign-in refused: $answer" ;; esac
    answer=$(curl -sf --max-time 10 -b "$work/cookies" "$base/api/dashboard") \
        || fail "GET /api/dashboard with the session failed"
    case $answer in *'"registered"'*) ;; *) fail "unexpected dashboard: $answer" ;; esac
    # The test chat: /start as the operator's test shopper, answered with the welcome.
    local csrf
    csrf=$(curl -sf --max-time 10 -b "$work/cookies" "$base/api/auth/session" \
        | sed -n 's/.*"csrf_token":"\([^"]*\)".*/\1/p')
    [ -n "$csrf" ] || fail "GET /api/auth/session gave no CSRF token"
    answer=$(curl -sf --max-time 10 -b "$work/cookies" -H "X-CSRF-Token: $csrf" \
        -H 'content-type: application/json' -d '{"text":"/start"}' \
        "$base/api/test-chat/messages") || fail "POST /api/test-chat/messages failed"
    case $answer in *'"from":"bot"'*) ;; *) fail "the test chat got no reply: $answer" ;; esac
}

# The panel at / (run.sh builds it and sets PANEL_DIR): the bundle's own index.html,
# and its wasm with the type browsers insist on for streaming compilation.
panel_page() {
    curl -sf --max-time 10 -o "$work/index.html" "$base/" || fail "GET / failed"
    cmp -s "$work/index.html" admin-ui/dist/index.html \
        || fail "GET / is not the panel's index.html: $(head -c 300 "$work/index.html")"
    local type
    type=$(curl -sf --max-time 10 -o /dev/null -w '%{content_type}' \
        "$base/pkg/promo_admin_ui_bg.wasm") || fail "GET /pkg/promo_admin_ui_bg.wasm failed"
    [ "$type" = application/wasm ] || fail "the panel's wasm is served as '$type'"
}

started_at=$(date +%s%N)
psql_admin -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $SMOKE_DB WITH (FORCE)" >/dev/null
redis_forget

say "smoke: ./infra/scripts/run.sh, /start in the sandbox, Ctrl+C"
start 1
talk 1
panel_page
stop INT

say "smoke: run.sh again on the same database, /start, SIGTERM"
start 2
talk 2
panel
stop TERM

# The generated secrets must read the same in a shell and in `cargo lambda --env-file`,
# whose parser refuses a bare `=` inside a value: every value is quoted.
if grep -vqE "^[A-Z_][A-Z0-9_]*='[^']*'$" "$work/secrets.env"; then
    fail "secrets file has an unquoted line: $(grep -vE "^[A-Z_][A-Z0-9_]*='[^']*'$" "$work/secrets.env" | cut -d= -f1)"
fi

say "smoke: cargo run -p promo -- migrate, with the local secrets"
out=$("${clean_env[@]}" bash -c 'set -a; . "$PROMO_SECRETS_FILE"; set +a; cargo run -q -p promo -- migrate' 2>&1) \
    || fail "cargo run -p promo -- migrate failed: $out"
case $out in *"up to date"*) ;; *) fail "migrate said: $out" ;; esac

say "smoke: passed in $(( ($(date +%s%N) - started_at) / 1000000 )) ms"
