#!/usr/bin/env bash
# scripts/api-sweep.sh — sweep sanbao's HTTP API with schemathesis, a property-based
# API tester from PyPI, driven by the service's own OpenAPI document (/openapi.json).
#
# CI runs it after `cargo test --release` (`.ci/run`, issue 23). It installs a pinned
# schemathesis into a virtualenv under the cargo target directory, starts `sanbao
# serve` on the sample city (`sanbao demo`) with one user per role, runs schemathesis
# once per role with every check (`--checks all`), a fixed seed and a bounded number
# of examples, and then reads the service's own request log: requests answered,
# statuses, server errors (must be none), records written (only 201s may write), and
# `sanbao verify`. Exit 0 when all hold and schemathesis found nothing.
#
#   scripts/api-sweep.sh                        # 20 examples per operation, seed 1
#
# `GET /v1/events/stream` is left out: a live stream never ends, so schemathesis
# would wait on each one (tests/http.rs and tests/slow_clients.rs test it).
#   MAX_EXAMPLES=1000 SEED=7 scripts/api-sweep.sh
#
# What the document cannot state is answered with a status the route documents, and
# schemathesis is told so: a schema-valid request may still be refused with 400 (an
# at_seq past the head, 2021-02-30), 404 (an unknown county), 409 (an expected head
# that moved, an idempotency key reused) or 422 (an event that breaks a rule) — the
# `positive_data_acceptance` statuses below; schema-invalid ones must get 400, 404,
# 408, 413, 415 or 422.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
venv=$target/api-sweep-venv
examples=${MAX_EXAMPLES:-20}
seed=${SEED:-1}
checks=all

# The binary `cargo test --release` built (CI runs this script right after it): a
# plain `cargo build --release --bin sanbao` resolves the dependencies' features
# without the dev-dependencies' and so compiled the whole crate again (~4 minutes
# of CI). Run alone, this builds the tests' targets first.
cargo test --release --no-run --quiet --manifest-path "$root/Cargo.toml"
sanbao=$target/release/sanbao
pins=(schemathesis==4.32.5 hypothesis==6.170.17 hypothesis-jsonschema==0.23.1)
if [ ! -x "$venv/bin/st" ] || ! "$venv/bin/st" --version | grep -q '4.32.5'; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}"
fi
st_version=$("$venv/bin/st" --version)

work=$(mktemp -d)
data=$work/data
pid=
pids=()
cleanup() {
  # The schemathesis runs first (an early exit, or ^C, which background jobs of a
  # script ignore), then the server, then their files.
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" || true; wait "$pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

officer=$("$sanbao" --data "$data" token add --name sweep.officer --role officer 2>/dev/null)
scheduler=$("$sanbao" --data "$data" token add --name sweep.scheduler --role scheduler 2>/dev/null)
auditor=$("$sanbao" --data "$data" token add --name sweep.auditor --role auditor 2>/dev/null)
approver=$("$sanbao" --data "$data" token add --name sweep.approver --role approver 2>/dev/null)
"$sanbao" --data "$data" demo >/dev/null
head_before=$("$sanbao" --data "$data" verify --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])')

RUST_LOG=info "$sanbao" --data "$data" serve --listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.log" &
pid=$!
for _ in $(seq 1 600); do
  grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
addr=$(sed -n 's/^listening on http:\/\///p' "$work/serve.out")
[ -n "$addr" ] || { echo "serve did not start"; cat "$work/serve.log"; exit 1; }

cat >"$work/schemathesis.toml" <<'TOML'
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "408", "409", "413", "415", "422"]

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "400", "401", "403", "404", "409", "422"]
TOML

failed=0
# The four roles run side by side (each schemathesis is one Python process on one
# core; run one after the other they took 4m15s on two cores, side by side about
# half), each from its own scratch directory: schemathesis keeps state in
# ./.schemathesis. Their reports are printed afterwards, in this order. Side by side,
# one role's writes may land between another's reads, so a finding replays from the
# seed with the roles run one at a time (or that role alone), not always request for
# request; every status the runs see is still one the document allows.
roles=(officer scheduler approver auditor)
for role in "${roles[@]}"; do
  token=${!role}
  mkdir -p "$work/st-$role"
  (cd "$work/st-$role" && exec "$venv/bin/st" --config-file "$work/schemathesis.toml" run "http://$addr/openapi.json" \
      --header "Authorization: Bearer $token" \
      --checks "$checks" --max-examples "$examples" --seed "$seed" \
      --generation-database none --no-color --output-truncate true \
      --exclude-path /v1/events/stream \
      >"$work/st-$role.txt" 2>&1) &
  pids+=($!)
done
mkdir -p "$target/api-sweep"
for i in "${!roles[@]}"; do
  role=${roles[$i]}
  wait "${pids[$i]}" || failed=1
  pids[$i]=
  echo "== schemathesis as $role (max $examples examples per operation, seed $seed)"
  tail -n 25 "$work/st-$role.txt"
  cp "$work/st-$role.txt" "$target/api-sweep/schemathesis-$role.txt"
done
echo "full schemathesis reports: $target/api-sweep/"

kill -TERM "$pid"; wait "$pid" || true; pid=
verify=$("$sanbao" --data "$data" verify --json)

python3 - "$work/serve.log" "$head_before" "$verify" "$st_version" "$failed" <<'PY'
import json, re, sys
log, head_before, verify, version, failed = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4], int(sys.argv[5])
statuses = {}
for line in open(log, encoding="utf-8", errors="replace"):
    if "answered" in line:
        m = re.search(r"status=(\d{3})", line)
        if m:
            statuses[int(m.group(1))] = statuses.get(int(m.group(1)), 0) + 1
requests = sum(statuses.values())
server_errors = sum(n for s, n in statuses.items() if s >= 500)
written = verify["records"] - head_before
ok = verify["ok"] and server_errors == 0 and (written == 0 or statuses.get(201, 0) > 0) and not failed
print(json.dumps({"schemathesis": version, "requests": requests, "statuses": dict(sorted(statuses.items())),
                  "server_errors": server_errors, "created_201": statuses.get(201, 0), "records_written": written,
                  "verify_ok": verify["ok"], "schemathesis_failures": bool(failed), "ok": ok}))
sys.exit(0 if ok else 1)
PY
