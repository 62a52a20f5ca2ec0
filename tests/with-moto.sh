#!/usr/bin/env bash
# Runs a command with moto (DynamoDB, SQS) serving on a free port of 127.0.0.1, and
# AWS_ENDPOINT_URL pointing at it; stops moto afterwards, whatever the command's outcome.
# Usage: tests/with-moto.sh PATH/TO/moto_server COMMAND [ARGS...]
set -euo pipefail
moto=$1; shift
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp -t moto.XXXXXX.log)
"$moto" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then
    break
  fi
  if ! kill -0 $pid 2>/dev/null; then echo "moto failed to start:"; cat "$log"; exit 1; fi
  sleep 0.2
done
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
echo "moto serving on $AWS_ENDPOINT_URL"
"$@"
