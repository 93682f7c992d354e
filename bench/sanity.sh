#!/usr/bin/env bash
# First sanity figures: wrk against a tiny "ok" target directly and through
# the tunnel (one session, small responses), Bun/Bun and Deno/Deno, in one
# sitting. Loopback only. Usage: bench/sanity.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
BUN=./node_modules/.bin/bun
DENO=./node_modules/deno/deno
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk"; exit 1; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

cat > /tmp/tunnel2-ok-target.ts <<'TS'
Bun.serve({ port: 3901, hostname: "127.0.0.1", fetch: () => new Response("ok") });
TS
$BUN /tmp/tunnel2-ok-target.ts & pids+=($!)
sleep 0.5

run() { # label host port conns
  local out
  out=$(wrk -t2 -c"$4" -d"${secs}s" --latency -H "Host: $2" "http://127.0.0.1:$3/")
  printf "%-22s c=%-5s %10s rps  p50 %-9s p99 %-9s errors %s\n" "$1" "$4" \
    "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
    "$(echo "$out" | awk '$1=="50%" {print $2}')" \
    "$(echo "$out" | awk '$1=="99%" {print $2}')" \
    "$(echo "$out" | awk '/Socket errors|Non-2xx/ {printf "%s ", $0}' | tr -s ' ')"
}

for c in 50 1000; do run "target directly" 127.0.0.1:3901 3901 "$c"; done

for rt in bun deno; do
  if [ "$rt" = bun ]; then
    PORT=3902 HOSTNAME=127.0.0.1 $BUN run src/server.ts 2>/dev/null & pids+=($!)
    sleep 0.8
    $BUN run src/client.ts --server http://127.0.0.1:3902 --session s --token t --to http://127.0.0.1:3901 >/dev/null 2>&1 & pids+=($!)
  else
    PORT=3902 HOSTNAME=127.0.0.1 $DENO run -A --unstable-no-legacy-abort src/server.ts 2>/dev/null & pids+=($!)
    sleep 1.5
    $DENO run -A src/client.ts --server http://127.0.0.1:3902 --session s --token t --to http://127.0.0.1:3901 >/dev/null 2>&1 & pids+=($!)
  fi
  sleep 2
  for c in 50 1000; do run "tunnel2 $rt/$rt" s.localhost:3902 3902 "$c"; done
  cleanup; pids=(); sleep 0.5
  $BUN /tmp/tunnel2-ok-target.ts & pids+=($!); sleep 0.5
done
