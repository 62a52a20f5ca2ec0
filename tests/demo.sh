#!/usr/bin/env bash
# The demo: a small agency's Clockify imported into Runn, end to end, on this machine.
# Run by `make demo` under tests/with-moto.sh (DynamoDB, KMS and SQS on 127.0.0.1), with
# both simulators as processes and the `runn-clockify` command line driving the same code
# as the scheduler and worker functions. Runn's backend is played by `runn-backend`: signed
# requests to the real api function binary under `cargo lambda watch`. For the webhooks
# (near real time) the api is reached through `apigw-standin` too, and the real worker
# function takes over from the command line, fed from the queues by `sqs-poller`.
set -euo pipefail
bin=${CARGO_TARGET_DIR:-target}/debug
rc="$bin/runn-clockify"
work=$(mktemp -d -t runn-clockify-demo.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

url_of() { # the address a process printed on its first line
  for _ in $(seq 1 100); do
    if url=$(grep -o 'http://[^ ]*' "$1" 2>/dev/null | head -1) && [ -n "$url" ]; then
      echo "$url"; return 0
    fi
    sleep 0.1
  done
  echo "$1 did not start; its log:" >&2; cat "$1" "$1.log" >&2; return 1
}

# A function binary as Lambda runs it: under its own `cargo lambda watch` (the runtime API
# emulator). $1 the binary, $2 its log, the rest its environment (NAME=value) on top of
# ours. Sets `invoke`, the emulator's Invoke API of the function.
start_function() {
  local name=$1 log=$2 port; shift 2
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "${CARGO_LAMBDA:-cargo-lambda}" lambda watch --only-lambda-apis -A 127.0.0.1 -P "$port" \
    >"$log.watch" 2>&1 & pids+=($!)
  for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
    sleep 0.1
  done
  env AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$port/.rt" AWS_LAMBDA_FUNCTION_NAME=_ \
    AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 RUST_LOG=warn "$@" \
    "$bin/$name" >"$log" 2>&1 & pids+=($!)
  invoke="http://127.0.0.1:$port/2015-03-31/functions/_/invocations"
}

"$bin/clockify-sim" --demo >"$work/clockify" 2>"$work/clockify.log" & pids+=($!)
"$bin/runn-sim" --token TEST_demo-runn-token >"$work/runn" 2>"$work/runn.log" & pids+=($!)
clockify=$(url_of "$work/clockify")
runn=$(url_of "$work/runn")

step "Local AWS (moto at $AWS_ENDPOINT_URL): the table, the key, the job and webhook queues with their dead-letter queues"
setup=$("$rc" setup --prefix demo)
echo "$setup"
eval "$setup"
# The webhook queue is the functions': the api function queues onto it (Save & Run's
# registration of the webhooks, a delivery's changes), the worker function of the
# near-real-time chapter works it. Until then `runn-clockify work` plays the worker for
# the job queue alone, so the registrations wait for a worker that knows the public URL.
hook_queue=$HOOK_QUEUE_URL
unset HOOK_QUEUE_URL

step "The api function (what API Gateway invokes) under cargo lambda watch, on moto"
start_function api "$work/api.log" HOOK_QUEUE_URL="$hook_queue"
api_invoke=$invoke
echo "  POST $api_invoke"
backend() { "$bin/runn-backend" --invoke "$api_invoke" "$@"; }

integration() { # the Integrations page's form: $1 the Clockify key, $2 actuals on or off
  cat <<EOF
{
  "runn_account": "Northwind Agency",
  "runn_host": {"kind": "custom", "url": "$runn"},
  "runn_token": "TEST_demo-runn-token",
  "clockify_host": {"kind": "server", "url": "$clockify"},
  "clockify_workspace": "65b1c0ffee0000000000a001",
  "clockify_api_key": "$1",
  "switches": {"clients_and_projects": true, "people": true, "actuals": $2},
  "time_zone": "Europe/London"
}
EOF
}

step "Northwind Agency fills in Runn's Integrations page with a mistyped Clockify key: Save & Run"
integration demo-clockify-api-kye false >"$work/form.json"
backend PUT /accounts/northwind/integration "@$work/form.json"

step "With a regular member's key: saved, with a warning (only their own time is visible)"
integration demo-member-key-0002 false >"$work/form.json"
backend PUT /accounts/northwind/integration "@$work/form.json"

step "With the admin's key, while that import is still queued: saved; a follow-up run with the new key is queued"
integration demo-clockify-api-key false >"$work/form.json"
backend PUT /accounts/northwind/integration "@$work/form.json"
"$rc" account list

step "Before the first import runs, an operator's dry run: what it would create and skip (nothing is written)"
"$rc" sync northwind --dry-run

step "The worker picks up the queued imports"
RUST_LOG=${RUST_LOG:-warn} "$rc" work

step "Runn shows the status (GET /accounts/northwind/status): the people still on \"Unknown\""
backend --fields enabled,pending_run,people_on_unknown_role_count,people_on_unknown_role \
  GET /accounts/northwind/status
"$rc" status northwind --runs 1

step "What Runn holds now"
"$rc" show northwind

step "Someone presses \"Import from Clockify\" on Runn's People page, twice: one job"
backend POST /accounts/northwind/imports '{"kinds": ["people"]}'
backend POST /accounts/northwind/imports '{"kinds": ["people"]}'
"$rc" work
run=$(backend --fields runs GET /accounts/northwind/status | tail -n +2 | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["run_id"])')
backend --fields run_id,pending GET "/accounts/northwind/runs/$run"

step "The next day: the schedule runs again, and nothing is created twice"
"$rc" schedule
"$rc" work
"$rc" status northwind --runs 1
"$rc" show northwind

# Plays Runn's and Clockify's users: HTTP calls to the simulators, as their apps make them.
sim() {
  python3 - "$@" <<'PY'
import json, sys, urllib.request, datetime
runn, clockify, action = sys.argv[1].rstrip("/") + "/", sys.argv[2].rstrip("/") + "/", sys.argv[3]
RH = {"Authorization": "Bearer TEST_demo-runn-token", "Accept-Version": "1.0.0", "Content-Type": "application/json"}
CH = {"X-Api-Key": "demo-clockify-api-key", "Content-Type": "application/json"}
WS = "65b1c0ffee0000000000a001"
def call(url, headers, method="GET", body=None):
    req = urllib.request.Request(url, method=method, headers=headers,
                                 data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req) as r:
        text = r.read()
        return json.loads(text) if text else None
def runn_list(path):
    out, cursor = [], None
    while True:
        sep = "&" if "?" in path else "?"
        page = call(f"{runn}{path}{sep}limit=200" + (f"&cursor={cursor}" if cursor else ""), RH)
        out += page["values"]
        cursor = page.get("nextCursor")
        if not cursor:
            return out
if action == "roles":
    role = call(f"{runn}roles/", RH, "POST", {"name": "Consultant"})
    for c in runn_list("contracts/?sortBy=id"):
        call(f"{runn}contracts/{c['id']}", RH, "PATCH", {"roleId": role["id"]})
    print(f"  Everyone now has the role Consultant (role {role['id']}).")
elif action == "plan":
    today = datetime.date.today()
    monday = today - datetime.timedelta(days=today.weekday() + 7)
    people = {p["email"]: p for p in runn_list("people/")}
    projects = {p["name"]: p for p in runn_list("projects/")}
    ana, tps = people["ana@agency.example"], projects["Initech TPS Reports"]
    role = [c for c in runn_list("contracts/?sortBy=id") if c["personId"] == ana["id"]][0]["roleId"]
    call(f"{runn}assignments/", RH, "POST", {"personId": ana["id"], "projectId": tps["id"], "roleId": role,
         "startDate": str(monday), "endDate": str(monday + datetime.timedelta(days=6)), "minutesPerDay": 240})
    print(f"  Ana García is planned on Initech TPS Reports, 4 h a day, the week of {monday}.")
elif action == "existing":
    # An agency already on Runn: people, a client and projects typed in by hand, some
    # spelled otherwise, two of one name, and references of another integration.
    role = call(f"{runn}roles/", RH, "POST", {"name": "Designer"})["id"]
    def person(first, last, email=None, refs=()):
        call(f"{runn}people/", RH, "POST", {"firstName": first, "lastName": last, "roleId": role,
             **({"email": email} if email else {}), "references": list(refs)})
    person("Ana", "Garcia", "ANA@Agency.example", [{"referenceName": "Harvest", "externalId": "h-17"}])
    person("Emilie", "Nguyen")
    person("James", "O'Neil"); person("James", "O'Neil")
    acme = call(f"{runn}clients/", RH, "POST", {"name": "ACME corporation",
                "references": [{"referenceName": "Harvest", "externalId": "hc-1"}]})["id"]
    other = call(f"{runn}clients/", RH, "POST", {"name": "Globex Inc."})["id"]
    call(f"{runn}projects/", RH, "POST", {"name": "acme website redesign", "clientId": acme})
    call(f"{runn}projects/", RH, "POST", {"name": "Globex data platform", "clientId": other})
    print("  Runn holds Ana Garcia (ANA@Agency.example, a Harvest reference), Emilie Nguyen, two James O'Neil,")
    print("  ACME corporation (a Harvest reference) with acme website redesign, and Globex Inc. with Globex data platform.")
elif action == "check":
    # No Clockify record in Runn twice, and every other integration's reference kept.
    seen, harvest = {}, 0
    for kind in ("clients/", "projects/?includeArchived=true", "people/"):
        for r in runn_list(kind):
            for ref in r["references"]:
                if ref["referenceName"] == "Clockify":
                    key = (kind, ref["externalId"])
                    assert key not in seen, f"{key} is in Runn twice"
                    seen[key] = r["id"]
                harvest += ref["referenceName"] == "Harvest"
    assert harvest == 2, f"{harvest} Harvest references left"
    print(f"  {len(seen)} records carry a Clockify id, none twice; both Harvest references are intact.")
elif action == "delete":
    user = "u0000000000000000000u001"
    entries = call(f"{clockify}api/v1/workspaces/{WS}/user/{user}/time-entries?page-size=50", CH)
    e = [x for x in entries if x["description"] == "Client work"][2]
    call(f"{clockify}api/v1/workspaces/{WS}/time-entries/{e['id']}", CH, "DELETE")
    print(f"  Deleted Ana García's entry of {e['timeInterval']['start']} ({e['timeInterval']['start'][:10]}).")
elif action == "delivery":
    d = call(f"{clockify}__sim/delivery", CH, "PUT", {"delay_ms": 3000, "jitter_ms": 1000, "seed": 16})
    print(f"  Clockify delivers each change {d['delay_ms'] / 1000:g} to {(d['delay_ms'] + d['jitter_ms']) / 1000:g} s after it happens.")
elif action in ("log", "move", "remove"):
    # Ana García's two hours on Initech TPS Reports, in her own zone (Madrid), ended a few
    # minutes ago (or yesterday morning, before 02:05): logged, moved a day back, deleted.
    from zoneinfo import ZoneInfo
    state, madrid, two = sys.argv[4], ZoneInfo("Europe/Madrid"), datetime.timedelta(hours=2)
    fmt = lambda t: t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    def body(start):
        return {"start": fmt(start), "end": fmt(start + two), "projectId": "p0000000000000000000p004",
                "billable": True, "description": "Release notes"}
    if action == "log":
        end = datetime.datetime.now(madrid).replace(second=0, microsecond=0) - datetime.timedelta(minutes=5)
        start = end - two
        if start.date() != end.date():
            start = datetime.datetime.combine(start.date(), datetime.time(9), madrid)
        e = call(f"{clockify}api/v1/workspaces/{WS}/user/u0000000000000000000u001/time-entries", CH, "POST", body(start))
        open(state, "w").write(f"{e['id']} {start.isoformat()}")
        print(f"  Ana García logs 2:00 on Initech TPS Reports: {start:%Y-%m-%d %H:%M}–{start + two:%H:%M} (Madrid).")
    else:
        eid, start = open(state).read().split()
        start = datetime.datetime.fromisoformat(start)
        if action == "move":
            start -= datetime.timedelta(days=1)
            call(f"{clockify}api/v1/workspaces/{WS}/time-entries/{eid}", CH, "PUT", body(start))
            open(state, "w").write(f"{eid} {start.isoformat()}")
            print(f"  She moves it to the day before: {start:%Y-%m-%d %H:%M}–{start + two:%H:%M}.")
        else:
            call(f"{clockify}api/v1/workspaces/{WS}/time-entries/{eid}", CH, "DELETE")
            print(f"  She deletes it.")
elif action == "deliveries":
    log = call(f"{clockify}__sim/deliveries", CH)
    for d in log["deliveries"]:
        at, sent = (datetime.datetime.fromisoformat(d[k].replace("Z", "+00:00")) for k in ("at", "sent_at"))
        print(f"  {d['event']:<20} delivered {(sent - at).total_seconds():.1f} s after the change, answered {d['status']}")
PY
}

step "Timesheets: actuals cannot be switched on while people are on \"Unknown\""
integration demo-clockify-api-key true >"$work/form.json"
backend PUT /accounts/northwind/integration "@$work/form.json"

step "A Runn user gives everyone a real role; Save & Run with actuals on"
sim "$runn/" "$clockify/" roles
backend PUT /accounts/northwind/integration "@$work/form.json"

step "The worker runs the import Save & Run queued, then the next daily run: the timesheets are actuals"
"$rc" schedule
"$rc" work
"$rc" status northwind --runs 2

step "The weekly autofill: 0 hours where someone was planned but logged nothing"
sim "$runn/" "$clockify/" plan
"$rc" autofill northwind

step "Clockify's hours beside Runn's, per person and project"
"$rc" hours northwind

step "Someone deletes a time entry in Clockify; Runn's \"Preview\" shows what the next run would do (nothing written)"
sim "$runn/" "$clockify/" delete
backend --fields run_id,queued POST /accounts/northwind/previews '{"kinds": ["actuals"]}'
"$rc" work
"$rc" status northwind --runs 1

step "The next day, Runn follows"
"$rc" schedule
"$rc" work
"$rc" status northwind --runs 1
"$rc" hours northwind

# Ana García's row of `hours` for a day (0:00 beside 0:00 when she has none there).
ana_on() {
  local row
  row=$("$rc" hours northwind --from "$1" --to "$1" | grep -E '^ +Ana García +Initech TPS Reports ' || true)
  printf '    %s  Ana García · Initech TPS Reports   Clockify %5s   Runn %5s\n' "$1" \
    $(if [ -n "$row" ]; then echo "$row" | awk '{print $(NF-2), $(NF-1)}'; else echo 0:00 0:00; fi)
}

# When the latest change a webhook brought in was brought in (the status Runn reads).
last_change() {
  backend --fields webhooks GET /accounts/northwind/status | tail -n +2 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["webhooks"]["last_change_at"] or "-")'
}

# Waits, without any run or sync, until a webhook run has brought a change in after
# `seen` and Runn holds what Clockify holds on each day given (`hours` exits 0), then
# says how long it took from the change ($1, epoch seconds): over a minute fails.
follows() {
  local t0=$1 at took same brought=0; shift
  while [ $(( $(date +%s) - t0 )) -le 90 ]; do
    if [ $brought = 0 ]; then
      at=$(last_change)
      [ "$at" != "$seen" ] && seen=$at brought=1
    fi
    if [ $brought = 1 ]; then
      same=1
      for day in "$@"; do "$rc" hours northwind --from "$day" --to "$day" >/dev/null 2>&1 || same=0; done
      if [ $same = 1 ]; then
        took=$(( $(date +%s) - t0 ))
        echo "  Runn follows ${took} s after the change:"
        for day in "$@"; do ana_on "$day"; done
        if [ "$took" -gt 60 ]; then echo "  That is over a minute." >&2; exit 1; fi
        return 0
      fi
    fi
    sleep 0.2
  done
  echo "  Runn did not follow within 90 s; the worker's log ends:" >&2
  tail -5 "$work/worker.log" >&2
  exit 1
}

day_of() { cut -d' ' -f2 "$work/entry" | cut -c1-10; }

step "Near real time: the api function behind an API Gateway stand-in (the public URL Clockify delivers to), the worker function fed from both queues"
chapter=${#pids[@]}
"$bin/apigw-standin" --invoke "$api_invoke" >"$work/standin" 2>"$work/standin.log" & pids+=($!)
public=$(url_of "$work/standin")
start_function worker "$work/worker.log" QUEUE_URL="$QUEUE_URL" HOOK_QUEUE_URL="$hook_queue" \
  PUBLIC_API_URL="$public" RUST_LOG=info
"$bin/sqs-poller" --queue "$QUEUE_URL" --queue "$hook_queue" --invoke "$invoke" \
  >"$work/poller" 2>"$work/poller.log" & poller=$!; pids+=($!)
echo "  apigw-standin $public (PUBLIC_API_URL) -> the api function"
echo "  sqs-poller: demo-jobs and demo-hooks -> the worker function, POST $invoke"

step "The worker registers the webhooks Save & Run queued, at PUBLIC_API_URL/webhooks/clockify/northwind"
for i in $(seq 1 60); do
  [ -n "$("$rc" webhooks northwind --list | grep 'this integration' || true)" ] && break
  [ "$i" = 60 ] && { echo "  No webhooks registered within a minute; the worker's log ends:" >&2; tail -5 "$work/worker.log" >&2; exit 1; }
  sleep 1
done
"$rc" webhooks northwind --list

step "Ana García logs time in Clockify; nothing else runs (no daily run, no sync): the webhook brings it into Runn"
sim "$runn/" "$clockify/" delivery
seen=$(last_change)
sim "$runn/" "$clockify/" log "$work/entry"
follows "$(date +%s)" "$(day_of)"

step "She moves the entry to the day before, then deletes it: Runn follows each time"
today=$(day_of)
sim "$runn/" "$clockify/" move "$work/entry"
follows "$(date +%s)" "$(day_of)" "$today"
sim "$runn/" "$clockify/" remove "$work/entry"
follows "$(date +%s)" "$(day_of)"

step "What Runn's status says of the webhooks (GET /accounts/northwind/status), and Clockify's deliveries"
backend --fields webhooks GET /accounts/northwind/status
sim "$runn/" "$clockify/" deliveries
# The chapter's processes stop here (the poller first, so no job is cut off halfway): the
# next chapter plays the worker with `runn-clockify work` again.
kill -TERM "$poller"
wait "$poller" 2>/dev/null || true
kill "${pids[@]:chapter}" 2>/dev/null || true
wait "${pids[@]:chapter}" 2>/dev/null || true
grep stopped "$work/poller" | sed 's/^/  /'
pids=("${pids[@]:0:chapter}")

step "An existing Runn customer: Contoso's Runn already holds its people, clients and projects"
"$bin/runn-sim" --token TEST_demo-runn-token >"$work/runn2" 2>"$work/runn2.log" & pids+=($!)
runn2=$(url_of "$work/runn2")
sim "$runn2/" "$clockify/" existing
integration demo-clockify-api-key false | sed -e "s|$runn|$runn2|" -e 's/Northwind Agency/Contoso/' >"$work/contoso.json"
backend --fields run_id,queued PUT /accounts/contoso/integration "@$work/contoso.json"

step "The first import creates what is new, and holds back what looks like it is in Runn already"
"$rc" work
"$rc" status contoso --runs 1

step "The suggestions, for review (runn-clockify link contoso --out links.json)"
"$rc" link contoso --out "$work/links.json"

step "A person reviews the file: the Globex project is rejected (it is not Runn's Globex data platform)"
python3 - "$work/links.json" <<'PY'
import sys
path = sys.argv[1]
lines = open(path).read().splitlines()
kept = [l for l in lines if not ('"kind":"project"' in l and '"confidence":"likely"' in l)]
assert len(kept) == len(lines) - 1, "one likely project line"
open(path, "w").write("\n".join(kept) + "\n")
print(f"  {len(lines) - 1} suggestions; 1 line deleted.")
PY
"$rc" link contoso --apply "$work/links.json" --dry-run

step "Applied: the links are written, the rejection recorded; the next import creates what was rejected"
"$rc" link contoso --apply "$work/links.json"
"$rc" sync contoso --only clients,people
sim "$runn2/" "$clockify/" check

step "Applying the same file again writes nothing"
"$rc" link contoso --apply "$work/links.json"

step "Removing what the integration imported: the dry run (runn-clockify remove contoso)"
"$rc" remove contoso
