#!/usr/bin/env bash
# Cluster benchmark: the same wrk load against one dispatchd and against three clustered on
# loopback; events acknowledged and delivered per second, CPU per event, the cost of forwarding.
#
# Every run starts fresh nodes (fresh data dirs under one temp dir, free ports), makes 64 event
# types with one dispatcher each (one task action, the built-in log sink) through node 1, loads the
# nodes round-robin (one wrk per node, the connections split), and waits until every accepted event
# was delivered. bench/README.md, section "Cluster: one node against three", explains the figures.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/cluster-bench.sh [options]
  --duration=S            load window per run, seconds (default 10)
  --modes=LIST            batch,single (default both): POST /events/v1/batch of 100, or one event
  --nodes=LIST            1,3 (default both)
  --batch-connections=N   connections in total for batch runs (default 12), split over the nodes
  --single-connections=N  connections in total for single runs (default 48), split over the nodes
  --shards=N              dispatch.shards (default 8)
  --types=N               event types, one dispatcher each (default 64)
  --event-bytes=N         size of one event's JSON (default 400)
  --drain-timeout=S       longest wait for the deliveries after the load (default 90)
  --dispatchd=PATH        the binary (default build/apps/dispatchd)
  --node-args='ARGS'      more dispatchd options for every node, split at spaces (e.g.
                          '--scheduler.max-threads=1'; dispatchd --long-help lists CAF's)
  --out=FILE              also append the JSON lines to FILE
  --keep                  keep the temp dir (node logs, wrk output) and print where it is
Prints a progress line on stderr, then a table and one JSON object per run (and per mode the
three-node / one-node ratios) on stdout. Exit 1 when a run failed (a node would not start, events
not delivered within the drain timeout), 2 for a bad option.
EOF
}

duration=10
modes=batch,single
node_counts=1,3
batch_connections=12
single_connections=48
shards=8
types=64
event_bytes=400
drain_timeout=90
dispatchd=build/apps/dispatchd
out_file=
node_args=
keep=0
for arg in "$@"; do
  case $arg in
    --duration=*) duration=${arg#*=} ;;
    --modes=*) modes=${arg#*=} ;;
    --nodes=*) node_counts=${arg#*=} ;;
    --batch-connections=*) batch_connections=${arg#*=} ;;
    --single-connections=*) single_connections=${arg#*=} ;;
    --shards=*) shards=${arg#*=} ;;
    --types=*) types=${arg#*=} ;;
    --event-bytes=*) event_bytes=${arg#*=} ;;
    --drain-timeout=*) drain_timeout=${arg#*=} ;;
    --dispatchd=*) dispatchd=${arg#*=} ;;
    --out=*) out_file=${arg#*=} ;;
    --node-args=*) node_args=${arg#*=} ;;
    --keep) keep=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "cluster-bench: unknown option $arg" >&2; usage >&2; exit 2 ;;
  esac
done
for value in "$duration" "$batch_connections" "$single_connections" "$shards" "$types" \
  "$event_bytes" "$drain_timeout"; do
  [[ $value =~ ^[1-9][0-9]*$ ]] ||
    { echo "cluster-bench: not a positive number: $value" >&2; exit 2; }
done
((types <= 100)) || { echo "cluster-bench: --types at most 100" >&2; exit 2; }
((event_bytes >= 120)) || { echo "cluster-bench: --event-bytes at least 120" >&2; exit 2; }
for tool in wrk curl jq; do
  command -v $tool > /dev/null || { echo "cluster-bench: $tool not found" >&2; exit 2; }
done
[[ -x $dispatchd ]] || { echo "cluster-bench: $dispatchd not found; build it first" >&2; exit 2; }
dispatchd=$(realpath "$dispatchd")

work=$(mktemp -d /tmp/cluster-bench.XXXXXX)
# The cluster secret the nodes prove in their hellos, in a file only we can read.
secret_file=$work/cluster.secret
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$secret_file")
clk_tck=$(getconf CLK_TCK)
node_pids=()   # the dispatchd processes of the current run
wrk_pids=()    # the wrk subshells of the current run
http_ports=()  # node i's HTTP port at index i-1

# Stops what this script started, by pid: wrk first, then the nodes (TERM, KILL after 10 s).
stop_nodes() {
  local pid
  ((${#node_pids[@]})) || return 0
  kill -TERM "${node_pids[@]}" 2> /dev/null || true
  for pid in "${node_pids[@]}"; do
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2> /dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
  done
  node_pids=()
}

stop_load() {
  local pid
  for pid in "${wrk_pids[@]}"; do
    pkill -TERM -P "$pid" 2> /dev/null || true # the wrk child of that subshell only
    kill -TERM "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
  done
  wrk_pids=()
}

cleanup() {
  trap - EXIT INT TERM
  stop_load
  stop_nodes
  if ((keep)); then
    echo "cluster-bench: logs kept in $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'echo >&2; echo "cluster-bench: interrupted" >&2; cleanup; exit 130' INT TERM

progress() { printf '\r\033[K%s' "$*" >&2; }

# A TCP port nobody listens on or connects from now (ss), not handed out before in this run.
declare -A ports_taken=()
free_port() {
  local port used
  used=$(ss -Htan | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u)
  while true; do
    port=$((20000 + RANDOM % 40000))
    [[ -n ${ports_taken[$port]:-} ]] && continue
    grep -qx "$port" <<< "$used" && continue
    ports_taken[$port]=1
    echo "$port"
    return
  done
}

# Starts `count` nodes (a plain dispatchd for 1, a cluster for more), waits until each logged
# "ready" and, in a cluster, until every node sees every peer up. Fills node_pids and http_ports.
start_nodes() {
  local count=$1 dir=$2 n m peers args port
  local -a cluster_ports=()
  http_ports=()
  for ((n = 1; n <= count; n++)); do cluster_ports[n]=$(free_port); done
  for ((n = 1; n <= count; n++)); do
    mkdir -p "$dir/node$n"
    args=(--dispatch.data-dir="$dir/node$n/data" --dispatch.http.host=127.0.0.1
      --dispatch.http.port=0 --dispatch.shards="$shards" --dispatch.sync=true)
    [[ -n $node_args ]] && read -r -a extra <<< "$node_args" && args+=("${extra[@]}")
    if ((count > 1)); then
      peers=
      for ((m = 1; m <= count; m++)); do
        ((m == n)) || peers+="${peers:+,}\"$m@127.0.0.1:${cluster_ports[m]}\""
      done
      args+=(--dispatch.cluster.node="$n" --dispatch.cluster.listen="127.0.0.1:${cluster_ports[n]}"
        --dispatch.cluster.peers="[$peers]" --dispatch.cluster.secret-file="$secret_file")
    fi
    "$dispatchd" "${args[@]}" > "$dir/node$n/dispatchd.log" 2>&1 &
    node_pids+=($!)
  done
  for ((n = 1; n <= count; n++)); do
    for _ in $(seq 1 300); do
      grep -q 'dispatchd: ready$' "$dir/node$n/dispatchd.log" && break
      kill -0 "${node_pids[n - 1]}" 2> /dev/null || break
      sleep 0.1
    done
    if ! grep -q 'dispatchd: ready$' "$dir/node$n/dispatchd.log"; then
      echo >&2
      echo "cluster-bench: node $n did not get ready; its log:" >&2
      tail -n 30 "$dir/node$n/dispatchd.log" >&2
      return 1
    fi
    port=$(grep -o 'http: listening on 127\.0\.0\.1:[0-9]*' "$dir/node$n/dispatchd.log" | head -n 1)
    http_ports+=("${port##*:}")
  done
  ((count > 1)) || return 0
  for _ in $(seq 1 300); do
    local all_up=1
    for port in "${http_ports[@]}"; do
      curl -sf "http://127.0.0.1:$port/cluster/v1/" |
        jq -e '[.peers[] | select(.state != "up")] | length == 0' > /dev/null || all_up=0
    done
    ((all_up)) && return 0
    sleep 0.1
  done
  echo "cluster-bench: the peers did not all come up" >&2
  return 1
}

# One dispatcher with one task action per event type, made through node 1; in a cluster, waits
# until every node applied the coordinator's log up to the last change.
create_dispatchers() {
  local t status version port body
  for ((t = 0; t < types; t++)); do
    body=$(printf '{"eventType":"bench.t%02d","actions":[{"type":"task","functionName":"bench"}]}' "$t")
    status=$(curl -s -o /dev/null -w '%{http_code}' -XPOST -H 'Content-Type: application/json' \
      "http://127.0.0.1:${http_ports[0]}/dispatchers/v1/" -d "$body")
    [[ $status == 2* ]] ||
      { echo "cluster-bench: creating dispatcher $t: HTTP $status" >&2; return 1; }
  done
  ((${#http_ports[@]} > 1)) || return 0
  version=$(curl -sf "http://127.0.0.1:${http_ports[0]}/cluster/v1/" | jq .logVersion)
  for _ in $(seq 1 300); do
    local behind=0
    for port in "${http_ports[@]}"; do
      (($(curl -sf "http://127.0.0.1:$port/cluster/v1/" | jq .logVersion) >= version)) || behind=1
    done
    ((behind)) || return 0
    sleep 0.1
  done
  echo "cluster-bench: the dispatchers did not reach every node" >&2
  return 1
}

# Sums over the nodes' /metrics: accepted delivered forward_queue forwarded rejected backlog
# (events accepted by the engines, deliveries delivered, events waiting for their owner, events
# forwarded and retired, events rejected by the engines, inbox + pending + in flight).
metrics_sum() {
  local port
  for port in "${http_ports[@]}"; do
    curl -sf --max-time 10 "http://127.0.0.1:$port/metrics" || echo "unreachable 1"
  done | awk '
    /^dispatch_events_total\{result="accepted"\}/ { acc += $2 }
    /^dispatch_events_total\{result="rejected"\}/ { rej += $2 }
    /^dispatch_delivery_outcomes_total\{outcome="delivered"\}/ { del += $2 }
    /^dispatch_cluster_forward_queue/ { q += $2 }
    /^dispatch_cluster_events_total\{direction="forwarded"\}/ { fwd += $2 }
    /^dispatch_queue_depth/ { backlog += $2 }
    /^unreachable/ { bad = 1 }
    END {
      if (bad) print "unreachable"
      else printf "%.0f %.0f %.0f %.0f %.0f %.0f\n", acc, del, q, fwd, rej, backlog
    }'
}

# utime + stime of each given pid, in clock ticks, separated by spaces.
cpu_ticks() {
  local pid stat rest list=
  for pid in "$@"; do
    stat=$(< "/proc/$pid/stat")
    rest=${stat##*) } # after the command name: field 3 onwards
    read -r -a f <<< "$rest"
    list+="${list:+ }$((f[11] + f[12]))"
  done
  echo "$list"
}

# CPU seconds per node between two cpu_ticks readings, as a JSON array.
cpu_by_node() {
  awk -v a="$1" -v b="$2" -v tck="$clk_tck" 'BEGIN {
    n = split(a, x, " "); split(b, y, " ")
    for (i = 1; i <= n; i++) printf "%s%.2f", (i > 1 ? "," : "["), (y[i] - x[i]) / tck
    print "]" }'
}

# Sum of a cpu_ticks reading.
ticks_sum() {
  awk -v a="$1" 'BEGIN { n = split(a, x, " "); for (i = 1; i <= n; i++) s += x[i]; print s }'
}

# Events accepted by each node's engine (its own and those forwarded to it), as a JSON array.
accepted_by_node() {
  local port list=
  for port in "${http_ports[@]}"; do
    list+="${list:+,}$(curl -sf --max-time 10 "http://127.0.0.1:$port/metrics" |
      awk '/^dispatch_events_total\{result="accepted"\}/ { print $2 }')"
  done
  echo "[$list]"
}

# Shards each node owns (1 node: all), as a JSON array.
shards_by_node() {
  local port list=
  ((${#http_ports[@]} > 1)) || { echo "[$shards]"; return; }
  for port in "${http_ports[@]}"; do
    list+="${list:+,}$(curl -sf "http://127.0.0.1:$port/cluster/v1/" | jq .shardsOwned)"
  done
  echo "[$list]"
}

# The machine's busy and total jiffies (all cores), from /proc/stat.
machine_ticks() {
  awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8; print busy, busy + $5 + $6 }' /proc/stat
}

loadavg() { cut -d' ' -f1 /proc/loadavg; }

# The wrk script for a mode: a request is one event (single) or a batch of 100 (batch); event
# types go round-robin over bench.t00 .. bench.tNN; the bodies are made once, in init. A batch's
# 200 answer lists a rejected entry as {index, code, ...}: those are counted.
write_lua() {
  local mode=$1 file=$2 per_request=1 path=/events/v1/
  [[ $mode == batch ]] && { per_request=100; path=/events/v1/batch; }
  cat > "$file" <<LUA
-- Written by bench/cluster-bench.sh: $mode publishes of $per_request event(s), $types types.
local per_request, types, event_bytes = $per_request, $types, $event_bytes
local requests, counter = {}, 0
rejected = 0 -- global: done() reads it with thread:get
local threads = {}

local function event(t)
  local head = string.format(
    '{"type":"bench.t%02d","content":{"order":12345,"customer":"c-%04d","note":"', t, t)
  local tail = '"}}'
  return head .. string.rep("x", event_bytes - #head - #tail) .. tail
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local headers = { ["Content-Type"] = "application/json" }
  for k = 0, types - 1 do
    local body
    if per_request == 1 then
      body = event(k)
    else
      local parts = {}
      for i = 0, per_request - 1 do parts[#parts + 1] = event((k * per_request + i) % types) end
      body = "[" .. table.concat(parts, ",") .. "]"
    end
    requests[k + 1] = wrk.format("POST", "$path", headers, body)
  end
end

function request()
  counter = counter + 1
  return requests[counter % types + 1]
end
LUA
  if [[ $mode == batch ]]; then
    cat >> "$file" <<'LUA'

function response(status, headers, body)
  if status == 200 then
    local _, n = string.gsub(body, '"code":', '')
    rejected = rejected + n
  end
end
LUA
  fi
  cat >> "$file" <<'LUA'

function done(summary, latency, requests)
  local rejected_entries = 0
  for _, thread in ipairs(threads) do
    rejected_entries = rejected_entries + (thread:get("rejected") or 0)
  end
  local e = summary.errors
  io.write(string.format("WRK requests=%d duration_us=%d status=%d connect=%d read=%d write=%d "
    .. "timeout=%d rejected_entries=%d p50_us=%d p99_us=%d\n", summary.requests, summary.duration,
    e.status, e.connect, e.read, e.write, e.timeout, rejected_entries,
    latency:percentile(50), latency:percentile(99)))
end
LUA
}

# A field of the WRK line in a wrk output file.
wrk_field() { grep -o "\b$2=[0-9]*" "$1" | head -n 1 | cut -d= -f2; }

# Children CPU seconds (user + system) from the `times` line a wrk subshell appended.
wrk_cpu() {
  tail -n 1 "$1" | awk '{
    for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); s += a[1] * 60 + a[2] }
    printf "%.2f", s }'
}

calc() { awk "BEGIN { printf \"$1\", $2 }"; }

failed=0
declare -A result=() # "<nodes>/<mode>/<field>" -> value
json_lines=()
table_lines=()

# Keeps a JSON line for the end, and appends it to --out at once (a run cut short keeps the rest).
add_json() {
  json_lines+=("$1")
  if [[ -n $out_file ]]; then printf '%s\n' "$1" >> "$out_file"; fi
}

# One run: fresh nodes, dispatchers, the load, the drain; records the figures.
run_once() {
  local count=$1 mode=$2 dir="$work/$1-$2" label="$1 node(s), $2"
  local total_connections=$single_connections per_request=1
  [[ $mode == batch ]] && { total_connections=$batch_connections; per_request=100; }
  mkdir -p "$dir"
  progress "$label: starting the nodes"
  start_nodes "$count" "$dir" || { failed=1; stop_nodes; return 0; }
  progress "$label: creating $types dispatchers"
  create_dispatchers || { failed=1; stop_nodes; return 0; }
  write_lua "$mode" "$dir/load.lua"

  local load_start cpu0 machine0 load_start_avg n c
  load_start_avg=$(loadavg)
  cpu0=$(cpu_ticks "${node_pids[@]}")
  machine0=$(machine_ticks)
  load_start=$EPOCHREALTIME
  for ((n = 0; n < count; n++)); do
    # Connections split over the nodes; the first nodes take the remainder.
    c=$((total_connections / count + (n < total_connections % count ? 1 : 0)))
    (wrk -t1 -c"$c" -d"${duration}s" --timeout 30s -s "$dir/load.lua" \
      "http://127.0.0.1:${http_ports[n]}/" > "$dir/wrk$((n + 1)).out" 2>&1
      times >> "$dir/wrk$((n + 1)).out") &
    wrk_pids+=($!)
  done

  local m=(0 0 0 0 0 0) now running pid
  while true; do
    running=0
    for pid in "${wrk_pids[@]}"; do kill -0 "$pid" 2> /dev/null && running=1; done
    ((running)) || break
    sleep 1
    read -r -a m <<< "$(metrics_sum)"
    now=$(calc '%.0f' "$EPOCHREALTIME - $load_start")
    progress "$label: load ${now}/${duration} s, accepted ${m[0]}, delivered ${m[1]}," \
      "forward queue ${m[2]:-?}"
  done
  for pid in "${wrk_pids[@]}"; do wait "$pid" 2> /dev/null || true; done
  wrk_pids=()
  local load_end cpu_load machine1
  load_end=$EPOCHREALTIME
  cpu_load=$(cpu_ticks "${node_pids[@]}")
  machine1=$(machine_ticks)

  # Drained: no forward queue, every accepted event delivered, twice in a row with the same count
  # (the nodes are read one after another, so one reading can miss an event between two of them).
  local drained_at= last_accepted=-1 deadline
  deadline=$(calc '%.3f' "$EPOCHREALTIME + $drain_timeout")
  while true; do
    read -r -a m <<< "$(metrics_sum)"
    now=$EPOCHREALTIME
    if [[ ${m[0]} != unreachable ]] && ((m[2] == 0 && m[5] == 0 && m[1] >= m[0] && m[0] > 0)); then
      if ((m[0] == last_accepted)); then
        break
      fi
      last_accepted=${m[0]}
      drained_at=$now
    else
      last_accepted=-1
      drained_at=
    fi
    if (($(calc '%d' "($now > $deadline)"))); then
      echo >&2
      echo "cluster-bench: $label: not drained after ${drain_timeout} s (accepted ${m[0]}," \
        "delivered ${m[1]}, forward queue ${m[2]:-?}, backlog ${m[5]:-?})" >&2
      failed=1
      drained_at=
      break
    fi
    progress "$label: draining, accepted ${m[0]}, delivered ${m[1]}, forward queue ${m[2]:-?}"
    sleep 0.2
  done
  local cpu1 load_end_avg node_cpu node_events node_shards
  cpu1=$(cpu_ticks "${node_pids[@]}")
  load_end_avg=$(loadavg)
  node_cpu=$(cpu_by_node "$cpu0" "$cpu1")
  node_events=$(accepted_by_node)
  node_shards=$(shards_by_node)
  stop_nodes
  progress ""

  # The figures.
  local requests=0 status_errors=0 socket_errors=0 rejected_entries=0 duration_us=0 wrk_cpu_s=0
  local p50=0 p99=0 f x
  for ((n = 1; n <= count; n++)); do
    f="$dir/wrk$n.out"
    if ! grep -q '^WRK ' "$f"; then
      echo "cluster-bench: $label: wrk $n gave no summary:" >&2
      cat "$f" >&2
      failed=1
      return 0
    fi
    requests=$((requests + $(wrk_field "$f" requests)))
    status_errors=$((status_errors + $(wrk_field "$f" status)))
    for x in connect read write timeout; do
      socket_errors=$((socket_errors + $(wrk_field "$f" $x)))
    done
    rejected_entries=$((rejected_entries + $(wrk_field "$f" rejected_entries)))
    duration_us=$((duration_us + $(wrk_field "$f" duration_us)))
    wrk_cpu_s=$(calc '%.2f' "$wrk_cpu_s + $(wrk_cpu "$f")")
    # Latency: the worst node's percentile.
    x=$(wrk_field "$f" p50_us); ((x > p50)) && p50=$x
    x=$(wrk_field "$f" p99_us); ((x > p99)) && p99=$x
  done
  local acked=$(((requests - status_errors) * per_request - rejected_entries))
  local window events=${m[0]} delivered=${m[1]} forwarded=${m[3]} engine_rejected=${m[4]}
  window=$(calc '%.3f' "$duration_us / $count / 1000000")
  local acked_per_s e2e delivered_per_s cpu_s cpu_load_s cpu_per_m busy
  acked_per_s=$(calc '%.0f' "$acked / $window")
  cpu_s=$(calc '%.2f' "($(ticks_sum "$cpu1") - $(ticks_sum "$cpu0")) / $clk_tck")
  cpu_load_s=$(calc '%.2f' "($(ticks_sum "$cpu_load") - $(ticks_sum "$cpu0")) / $clk_tck")
  cpu_per_m=$(calc '%.1f' "$cpu_s / $events * 1000000")
  read -r b0 t0 <<< "$machine0"
  read -r b1 t1 <<< "$machine1"
  busy=$(calc '%.2f' "($b1 - $b0) / ($t1 - $t0)")
  if [[ -n $drained_at ]]; then
    e2e=$(calc '%.2f' "$drained_at - $load_start")
    delivered_per_s=$(calc '%.0f' "$delivered / $e2e")
  else
    e2e=null
    delivered_per_s=null
  fi
  ((count > 1)) || forwarded=0

  local key="$count/$mode"
  result[$key/acked_per_s]=$acked_per_s
  result[$key/delivered_per_s]=$delivered_per_s
  result[$key/cpu_per_m]=$cpu_per_m
  result[$key/cpu_s]=$cpu_s
  result[$key/events]=$events
  result[$key/forwarded]=$forwarded
  table_lines+=("$(printf '%-6s %5s %5s %9s %8s %7s %9s %8s %9s %8s %6s %5s %5s' "$mode" "$count" \
    "$total_connections" "$acked_per_s" "$events" "$e2e" "$delivered_per_s" "$cpu_per_m" \
    "$forwarded" "$(calc '%.1f' "$p99 / 1000")" "$wrk_cpu_s" "$busy" "$load_start_avg")")
  add_json "$(printf '{"kind":"run","nodes":%d,"mode":"%s","events_per_request":%d,"connections":%d,"duration_s":%s,"shards":%d,"types":%d,"event_bytes":%d,"sync":true,"requests":%d,"status_errors":%d,"socket_errors":%d,"rejected_entries":%d,"acked":%d,"acked_per_s":%s,"events":%d,"engine_rejected":%d,"delivered":%d,"end_to_end_s":%s,"delivered_per_s":%s,"forwarded":%d,"cpu_s":%s,"cpu_s_load_window":%s,"cpu_s_per_million_events":%s,"wrk_cpu_s":%s,"machine_busy":%s,"request_p50_ms":%s,"request_p99_ms":%s,"loadavg_1m_start":%s,"loadavg_1m_end":%s,"shards_by_node":%s,"events_by_node":%s,"cpu_s_by_node":%s,"node_args":"%s"}' \
    "$count" "$mode" "$per_request" "$total_connections" "$window" "$shards" "$types" \
    "$event_bytes" "$requests" "$status_errors" "$socket_errors" "$rejected_entries" "$acked" \
    "$acked_per_s" "$events" "$engine_rejected" "$delivered" "$e2e" "$delivered_per_s" \
    "$forwarded" "$cpu_s" "$cpu_load_s" "$cpu_per_m" "$wrk_cpu_s" "$busy" \
    "$(calc '%.2f' "$p50 / 1000")" "$(calc '%.2f' "$p99 / 1000")" "$load_start_avg" \
    "$load_end_avg" "$node_shards" "$node_events" "$node_cpu" "$node_args")"
  if ((events < acked)); then
    echo "cluster-bench: $label: $acked events acknowledged but only $events reached an engine" >&2
    failed=1
  fi
}

IFS=, read -r -a mode_list <<< "$modes"
IFS=, read -r -a count_list <<< "$node_counts"
for mode in "${mode_list[@]}"; do
  [[ $mode == batch || $mode == single ]] || { echo "cluster-bench: bad mode $mode" >&2; exit 2; }
done
for count in "${count_list[@]}"; do
  [[ $count =~ ^[1-9]$ ]] || { echo "cluster-bench: bad node count $count" >&2; exit 2; }
done

echo "cluster-bench: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)," \
  "${duration} s per run, shards $shards, sync on, $types types," \
  "${event_bytes}-byte events${node_args:+, nodes with $node_args}" >&2
# Modes outside, node counts inside: the two runs compared are minutes apart at most.
for mode in "${mode_list[@]}"; do
  for count in "${count_list[@]}"; do
    run_once "$count" "$mode"
  done
done
progress ""

printf '%-6s %5s %5s %9s %8s %7s %9s %8s %9s %8s %6s %5s %5s\n' mode nodes conns acked/s events \
  e2e_s deliv/s cpu_s/M forwarded p99_ms wrk_s busy load
printf '%s\n' "${table_lines[@]}"

# Three-node (or the largest count) against one node, per mode. Forwarding cost: the CPU the
# cluster spent beyond what one node spends on the same number of events, per forwarded event.
largest=${count_list[-1]}
if [[ -n ${result[1/${mode_list[0]}/events]:-} ]] && ((largest > 1)); then
  echo
  printf '%-6s %14s %16s %14s %22s\n' mode "acked/s ${largest}/1" "deliv/s ${largest}/1" \
    "cpu/event ${largest}/1" "forward cost us/event"
  for mode in "${mode_list[@]}"; do
    one=1/$mode
    many=$largest/$mode
    [[ -n ${result[$one/events]:-} && -n ${result[$many/events]:-} ]] || continue
    acked_ratio=$(calc '%.2f' "${result[$many/acked_per_s]} / ${result[$one/acked_per_s]}")
    if [[ ${result[$many/delivered_per_s]} != null && ${result[$one/delivered_per_s]} != null ]]
    then
      delivered_ratio=$(calc '%.2f' \
        "${result[$many/delivered_per_s]} / ${result[$one/delivered_per_s]}")
    else
      delivered_ratio=null
    fi
    cpu_ratio=$(calc '%.2f' "${result[$many/cpu_per_m]} / ${result[$one/cpu_per_m]}")
    if ((result[$many/forwarded] > 0)); then
      forward_cost=$(calc '%.0f' "(${result[$many/cpu_per_m]} - ${result[$one/cpu_per_m]}) \
        * ${result[$many/events]} / ${result[$many/forwarded]}")
    else
      forward_cost=null
    fi
    printf '%-6s %14s %16s %14s %22s\n' "$mode" "$acked_ratio" "$delivered_ratio" "$cpu_ratio" \
      "$forward_cost"
    add_json "$(printf '{"kind":"ratio","mode":"%s","nodes":%d,"acked_per_s_ratio":%s,"delivered_per_s_ratio":%s,"cpu_per_event_ratio":%s,"forward_cpu_us_per_event":%s}' \
      "$mode" "$largest" "$acked_ratio" "$delivered_ratio" "$cpu_ratio" "$forward_cost")"
  done
fi
echo
printf '%s\n' "${json_lines[@]}"
exit "$failed"
