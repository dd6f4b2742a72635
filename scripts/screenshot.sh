#!/bin/sh
# Render a digest's HTML part in headless Chromium, as a mail client would show it.
#
#   scripts/screenshot.sh [digest.html]
#
# Without an argument it renders the sample digest (tests/worker/sample_digest.py, a test fixture).
# Writes docs/digest.png (light) and docs/digest-dark.png (prefers-color-scheme: dark),
# shot in a tall window and trimmed to the digest's height by scripts/png_trim.py.
# Needs Debian's `chromium` package (apt-get install -y chromium).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-"$ROOT/.venv/bin/python"}
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
WIDTH=${WIDTH:-900}
HEIGHT=${HEIGHT:-6000}
OUT_DIR=${OUT_DIR:-"$ROOT/docs"}

if [ -z "$CHROMIUM" ]; then
    echo "screenshot: chromium not found (apt-get install -y chromium)" >&2
    exit 2
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT INT TERM

if [ $# -ge 1 ]; then
    HTML=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
else
    HTML="$WORK/digest.html"
    (cd "$ROOT" && "$PYTHON" -m tests.worker.sample_digest --html "$HTML")
fi
mkdir -p "$OUT_DIR"

shoot() {  # $1 = output png, $2 = extra flag (or empty)
    # --virtual-time-budget lets layout settle; no network is touched (the digest has
    # no external resources and background networking is off).
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
        --user-data-dir="$WORK/profile-$(basename "$1" .png)" \
        --window-size="$WIDTH,$HEIGHT" --virtual-time-budget=2000 \
        ${2:+"$2"} --screenshot="$1" "file://$HTML" >"$WORK/chromium.log" 2>&1 || {
        cat "$WORK/chromium.log" >&2
        exit 1
    }
    "$PYTHON" "$ROOT/scripts/png_trim.py" "$1"  # cut the empty page below the digest
}

shoot "$OUT_DIR/digest.png" ""
# Chromium's --force-dark-mode makes prefers-color-scheme match "dark", which is what
# the digest's dark-mode media query reacts to (Apple Mail, iOS Mail, Outlook.com).
shoot "$OUT_DIR/digest-dark.png" "--force-dark-mode"
