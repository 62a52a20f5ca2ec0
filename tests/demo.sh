#!/usr/bin/env bash
# The demo: a small agency's Clockify imported into Runn, end to end, on this machine.
# Run by `make demo` under tests/with-moto.sh (DynamoDB, KMS and SQS on 127.0.0.1), with
# both simulators as processes and the `runn-clockify` command line driving the same code
# as the scheduler and worker functions.
set -euo pipefail
bin=${CARGO_TARGET_DIR:-target}/debug
rc="$bin/runn-clockify"
work=$(mktemp -d -t runn-clockify-demo.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

url_of() { # the address a simulator printed on its first line
  for _ in $(seq 1 100); do
    if url=$(grep -o 'http://[^ ]*' "$1" 2>/dev/null | head -1) && [ -n "$url" ]; then
      echo "$url"; return 0
    fi
    sleep 0.1
  done
  echo "a simulator did not start; its log:" >&2; cat "$1" "$1.log" >&2; return 1
}

"$bin/clockify-sim" --demo >"$work/clockify" 2>"$work/clockify.log" & pids+=($!)
"$bin/runn-sim" --token TEST_demo-runn-token >"$work/runn" 2>"$work/runn.log" & pids+=($!)
clockify=$(url_of "$work/clockify")
runn=$(url_of "$work/runn")

step "Local AWS (moto at $AWS_ENDPOINT_URL): the table, the key, the job queue and its dead-letter queue"
setup=$("$rc" setup --prefix demo)
echo "$setup"
eval "$setup"

cat >"$work/northwind.json" <<EOF
{
  "id": "northwind",
  "runn_account": "Northwind Agency",
  "runn_host": {"kind": "custom", "url": "$runn"},
  "runn_token": "TEST_demo-runn-token",
  "clockify_host": {"kind": "server", "url": "$clockify"},
  "clockify_workspace": "65b1c0ffee0000000000a001",
  "clockify_api_key": "demo-clockify-api-key",
  "switches": {"clients_and_projects": true, "people": true, "actuals": false},
  "autofill": true,
  "time_zone": "Europe/London"
}
EOF

step "Northwind Agency connects Clockify (simulated at $clockify) to Runn (simulated at $runn)"
"$rc" account put "$work/northwind.json"
"$rc" account list

step "The daily schedule queues one import per account"
"$rc" schedule

step "The worker picks up the queued import"
RUST_LOG=${RUST_LOG:-warn} "$rc" work
"$rc" status northwind --runs 1

step "What Runn holds now"
"$rc" show northwind

step "The next day: the schedule runs again, and nothing is created twice"
"$rc" schedule
"$rc" work
"$rc" status northwind --runs 1
"$rc" show northwind
