#!/usr/bin/env bash
# A longer schemathesis run against a real daemon's /openapi.json, authenticated as admin.
#
#   bench/fuzz.sh [--max-time SECONDS] [--json] [-- EXTRA SCHEMATHESIS OPTIONS]
#
# Starts `python -m printd serve` on a fresh temporary state dir and a free loopback port (two
# simulated printers at a high time scale), runs every phase schemathesis has (examples, coverage,
# fuzzing, stateful) with every check for --max-time seconds (default 150), then prints a table of
# what it found (bench/fuzz_report.py; --json for JSON). The reports, with a curl line to reproduce
# each failure, stay in test-artifacts/fuzz-<time>/ (or $REPORT_DIR).
#
# /api/v1/events is left out: it is an endless SSE stream that no request timeout can end cleanly.
# Exit status: 0 when nothing but documentation gaps was found, 1 on defects (5xx, a response that
# breaks the schema, auth not enforced, schema-violating input accepted), 2 when the run itself failed.
# Environment: PYTHON (default: the repo's .venv, else python3), SCHEMATHESIS (default: beside PYTHON),
# FUZZ_SEED (default 1).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON="$(command -v python3)"; fi
fi
SCHEMATHESIS="${SCHEMATHESIS:-$(dirname "$PYTHON")/schemathesis}"
MAX_TIME=150
JSON=""
EXTRA=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --max-time) MAX_TIME="$2"; shift 2 ;;
        --json) JSON="--json"; shift ;;
        --) shift; EXTRA=("$@"); break ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed -e 's/^# \{0,1\}//' -e '/^set -e/d'; exit 0 ;;
        *) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ -x "$SCHEMATHESIS" ]] || { echo "fuzz.sh: schemathesis not found at $SCHEMATHESIS (set SCHEMATHESIS)" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/printd-fuzz-XXXXXX")"
REPORT_DIR="${REPORT_DIR:-$ROOT/test-artifacts/fuzz-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$REPORT_DIR"
DAEMON_PID=""
cleanup() {
    if [[ -n "$DAEMON_PID" ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -TERM "$DAEMON_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$DAEMON_PID" 2>/dev/null || true
    fi
    cp -f "$WORK/printd.log" "$REPORT_DIR/printd.log" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat > "$WORK/printd.toml" <<'TOML'
[station]
poll_interval_s = 0.2

[stock]
seed = { "ktp-el" = 1000, "kia" = 200 }

[printers.card1]
driver = "mock"
time_scale = 200.0
hopper_capacity = 400

[printers.card2]
driver = "mock"
time_scale = 200.0
hopper_capacity = 400
TOML

PYTHONPATH="$ROOT" "$PYTHON" -m printd serve --config "$WORK/printd.toml" --state-dir "$WORK/state" \
    --listen "127.0.0.1:$PORT" > "$WORK/printd.log" 2>&1 &
DAEMON_PID=$!
URL="http://127.0.0.1:$PORT"
if ! "$PYTHON" - "$URL" "$DAEMON_PID" <<'PY'
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("printd exited before it was ready")
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.05)
sys.exit("printd not ready within 60 s")
PY
then
    echo "fuzz.sh: the daemon did not start; its log:" >&2
    cat "$WORK/printd.log" >&2
    exit 2
fi
TOKEN="$(sed -n 's/^admin=//p' "$WORK/state/initial-tokens.txt")"

echo "fuzz.sh: schemathesis against $URL for ${MAX_TIME} s; reports in $REPORT_DIR" >&2
set +e
"$SCHEMATHESIS" run "$URL/openapi.json" \
    --header "Authorization: Bearer $TOKEN" \
    --checks all \
    --max-time "$MAX_TIME" \
    --exclude-path /api/v1/events \
    --request-timeout 10 \
    --seed "${FUZZ_SEED:-1}" \
    --no-color \
    --report json,junit --report-dir "$REPORT_DIR" \
    "${EXTRA[@]}" > "$REPORT_DIR/schemathesis.txt" 2>&1
ST_STATUS=$?
set -e
if ! ls "$REPORT_DIR"/json-* >/dev/null 2>&1; then
    echo "fuzz.sh: schemathesis wrote no report (exit $ST_STATUS); its output:" >&2
    tail -40 "$REPORT_DIR/schemathesis.txt" >&2
    exit 2
fi
if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
    echo "fuzz.sh: the daemon died during the run; see $REPORT_DIR/printd.log" >&2
    exit 1
fi
cd "$ROOT"
"$PYTHON" bench/fuzz_report.py "$REPORT_DIR" $JSON
