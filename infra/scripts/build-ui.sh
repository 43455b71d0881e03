#!/usr/bin/env bash
# Builds the operators' panel (admin-ui, Leptos compiled to wasm) into admin-ui/dist/:
# the static files, pkg/promo_admin_ui.js and pkg/promo_admin_ui_bg.wasm. Installs what
# it needs (the wasm32 target, the wasm-bindgen CLI of Cargo.lock's version) and does
# nothing when the sources have not changed since the last build (dist/.stamp).
#
#   infra/scripts/build-ui.sh           build when stale (release profile ui-release)
#   infra/scripts/build-ui.sh --force   build even when up to date
#   infra/scripts/build-ui.sh --dev     debug profile, no wasm-opt: quick iteration
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh

force=
mode=release
for arg in "$@"; do
    case $arg in
        --force) force=1 ;;
        --dev) mode=dev ;;
        -h | --help) sed -n '2,9s/^# \{0,1\}//p' infra/scripts/build-ui.sh; exit 0 ;;
        *) die "unknown option $arg (try --help)" ;;
    esac
done

ui=admin-ui
dist=$ui/dist
target_dir=${CARGO_TARGET_DIR:-target}
started_at=$(date +%s%N)

# One build at a time (the run command, the test command and a developer may start one
# together): a second waits, then usually finds the bundle up to date.
mkdir -p "$target_dir"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$target_dir/.build-ui.lock"
    if ! flock -n 9; then
        say "waiting for another build of the panel to finish"
        flock 9
    fi
fi

# One build at a time: two at once (two test runs, a test run and a developer) would
# share the staging folder and could leave dist/ half written while tests read it.
mkdir -p "$target_dir"
exec 9>"$target_dir/.build-ui.lock"
if ! flock -n 9; then
    say "another panel build is running; waiting for it"
    flock 9
fi

# Everything the bundle is made from. The workspace manifest is in because the
# ui-release profile lives there; the mode is in so that a --dev bundle is never taken
# for a release one.
inputs_hash() {
    local paths=() path
    for path in "$ui/Cargo.toml" "$ui/src" "$ui/static" api-types/Cargo.toml api-types/src \
        Cargo.lock Cargo.toml .cargo/config.toml infra/scripts/build-ui.sh; do
        [ -e "$path" ] && paths+=("$path")
    done
    {
        printf 'mode %s\n' "$mode"
        find "${paths[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    } | sha256sum | cut -d' ' -f1
}

stamp=$(inputs_hash)
if [ -z "$force" ] && [ -f "$dist/.stamp" ] && [ "$(cat "$dist/.stamp")" = "$stamp" ] \
    && [ -f "$dist/index.html" ] && [ -f "$dist/pkg/promo_admin_ui_bg.wasm" ]; then
    say "panel bundle is up to date ($dist)"
    exit 0
fi

[ -f "$ui/static/index.html" ] || die "$ui/static/index.html is missing: nothing to bundle"

ensure_rust
[ "$mode" = dev ] || ensure_wasm_opt
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    say "adding the Rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
fi

# Resolves a manifest changed since the last build into Cargo.lock now, so the version
# read below and the stamp are the ones the build uses.
cargo metadata --quiet --format-version 1 >/dev/null
stamp=$(inputs_hash)

# The CLI must be the exact version of the wasm-bindgen crate the app links, or it
# refuses the module ("rust Wasm file schema version" mismatch).
bindgen_version=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$bindgen_version" ] || die "Cargo.lock has no wasm-bindgen package: does $ui depend on it?"
installed=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$installed" != "$bindgen_version" ]; then
    say "installing wasm-bindgen-cli $bindgen_version (was: ${installed:-none}); takes about 2 minutes"
    # Without --locked: the CLI's own lock file pins a dependency that no longer builds.
    cargo install --quiet wasm-bindgen-cli --version "$bindgen_version"
    hash -r
    installed=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
    [ "$installed" = "$bindgen_version" ] \
        || die "wasm-bindgen $bindgen_version was installed but \`wasm-bindgen --version\` says ${installed:-nothing}: is ~/.cargo/bin on PATH?"
fi

if [ "$mode" = dev ]; then
    profile=dev
    profile_dir=debug
else
    profile=ui-release
    profile_dir=ui-release
fi
say "building the panel (cargo build -p promo-admin-ui --target wasm32-unknown-unknown --profile $profile)"
build_started=$(date +%s%N)
cargo build --quiet -p promo-admin-ui --target wasm32-unknown-unknown --profile "$profile"
cargo_ms=$(( ($(date +%s%N) - build_started) / 1000000 ))
wasm=$target_dir/wasm32-unknown-unknown/$profile_dir/promo_admin_ui.wasm
[ -f "$wasm" ] || die "cargo built no $wasm (is promo-admin-ui's bin named promo_admin_ui?)"

# Built next to dist/ and swapped in at the end, so a server reading dist/ meanwhile
# never sees half a bundle.
next=$(mktemp -d "$target_dir/promo-admin-ui-dist.XXXXXX")
trap 'rm -rf "$next"' EXIT
mkdir -p "$next/pkg"
cp -R "$ui/static/." "$next/"
# It warns that the stripped module has no target_features section: harmless here, the
# glue it writes differs from an unstripped build's only in the exports' names.
wasm-bindgen --target web --no-typescript --out-dir "$next/pkg" "$wasm"

if [ "$mode" = dev ]; then
    say "--dev: wasm-opt skipped"
elif ! command -v wasm-opt >/dev/null 2>&1; then
    say "wasm-opt not found: bundle left unoptimised (npm install -g binaryen gives a working one)"
else
    opt_version=$(wasm-opt --version 2>/dev/null | sed -n 's/.*version \([0-9][0-9]*\).*/\1/p')
    if [ "${opt_version:-0}" -lt 110 ]; then
        # Debian's binaryen (v108) writes a module the browser refuses.
        say "wasm-opt ${opt_version:-?} is older than v110: bundle left unoptimised (npm install -g binaryen gives a working one)"
    else
        opt_started=$(date +%s%N)
        bg=$next/pkg/promo_admin_ui_bg.wasm
        # The profile strips the module's target_features section (strip = true: half
        # the size when wasm-opt is absent), so wasm-opt is told the two features rustc
        # uses that it does not assume; its validation fails without them. Never
        # --all-features: it lets wasm-opt emit features browsers refuse.
        wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int "$bg" -o "$bg.opt"
        mv "$bg.opt" "$bg"
        say "wasm-opt -Oz (v$opt_version) took $(( ($(date +%s%N) - opt_started) / 1000000 )) ms"
    fi
fi

printf '%s\n' "$stamp" >"$next/.stamp"
chmod 755 "$next"
old=$next.old
if [ -d "$dist" ]; then mv "$dist" "$old"; fi
mv "$next" "$dist"
rm -rf "$old"
trap - EXIT

size_line() {
    local file=$1
    printf '  %-26s %8d bytes raw, %8d bytes gzip\n' "${file#"$dist"/}" \
        "$(wc -c <"$file")" "$(gzip -9c "$file" | wc -c)" >&2
}
say "panel bundle in $dist ($mode; cargo ${cargo_ms} ms, total $(( ($(date +%s%N) - started_at) / 1000000 )) ms):"
size_line "$dist/pkg/promo_admin_ui_bg.wasm"
size_line "$dist/pkg/promo_admin_ui.js"
