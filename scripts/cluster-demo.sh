#!/usr/bin/env bash
# Starts a three-node dispatchd cluster on loopback (HTTP 8081-8083, cluster 7401-7403, data under
# ./var/cluster-demo/node{1,2,3}), prints what to try with curl, and stops all three on Ctrl-C.
set -euo pipefail

dispatchd=${1:-build/apps/dispatchd}
shift || true
root=./var/cluster-demo
shards=${SHARDS:-4}

if [[ ! -x $dispatchd ]]; then
  echo "cluster-demo: $dispatchd not found; build first (make build)" >&2
  exit 1
fi

# The secret every node proves it knows in its hello: made once, kept with the demo's data, read
# by the nodes from the file (a secret on the command line would show in `ps`).
mkdir -p "$root"
secret_file=$(realpath "$root")/cluster.secret
if [[ ! -s $secret_file ]]; then
  (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$secret_file")
fi

declare -A http_port=([1]=8081 [2]=8082 [3]=8083)
declare -A cluster_port=([1]=7401 [2]=7402 [3]=7403)
pids=()

# Stops every node of the demo: the three started here and any started again with start.sh (each
# writes its pid to node<N>/dispatchd.pid); a pid is signalled only while it is still a dispatchd.
stop_all() {
  trap - INT TERM EXIT
  local n pid stopping=()
  for n in 1 2 3; do
    pid=$(cat "$root/node$n/dispatchd.pid" 2>/dev/null || true)
    [[ -n $pid ]] && grep -q dispatchd "/proc/$pid/cmdline" 2>/dev/null && stopping+=("$pid")
  done
  if ((${#stopping[@]})); then
    echo
    echo "cluster-demo: stopping nodes (pids ${stopping[*]})"
    kill -TERM "${stopping[@]}" 2>/dev/null || true
    for pid in "${stopping[@]}"; do
      while kill -0 "$pid" 2>/dev/null && grep -q dispatchd "/proc/$pid/cmdline" 2>/dev/null; do
        sleep 0.1
      done
    done
  fi
}
trap stop_all INT TERM EXIT

peers_of() {
  local self=$1 list="" n
  for n in 1 2 3; do
    [[ $n == "$self" ]] && continue
    list+="${list:+,}\"$n@127.0.0.1:${cluster_port[$n]}\""
  done
  echo "[$list]"
}

# Each node's command line goes to node<N>/start.sh too, so that a node killed by hand can be
# started again (with the same data) while the others run.
for n in 1 2 3; do
  mkdir -p "$root/node$n"
  args=(
    "$(realpath "$dispatchd")"
    --dispatch.data-dir="$(realpath "$root/node$n")/data"
    --dispatch.shards="$shards"
    --dispatch.http.host=127.0.0.1
    --dispatch.http.port="${http_port[$n]}"
    --dispatch.cluster.node="$n"
    --dispatch.cluster.listen="127.0.0.1:${cluster_port[$n]}"
    --dispatch.cluster.peers="$(peers_of "$n")"
    --dispatch.cluster.secret-file="$secret_file"
    "$@"
  )
  printf '#!/usr/bin/env bash\n# Starts node %s of the cluster demo again (log appended).\n' "$n" \
    > "$root/node$n/start.sh"
  printf 'echo $$ > %q\nexec' "$(realpath "$root/node$n")/dispatchd.pid" >> "$root/node$n/start.sh"
  printf ' %q' "${args[@]}" >> "$root/node$n/start.sh"
  printf ' >> %q 2>&1\n' "$(realpath "$root/node$n")/dispatchd.log" >> "$root/node$n/start.sh"
  chmod +x "$root/node$n/start.sh"
  "${args[@]}" > "$root/node$n/dispatchd.log" 2>&1 &
  pids+=($!)
  echo $! > "$root/node$n/dispatchd.pid"
done

# Ready once every node logged "ready" (it does so after its cluster join check passed).
for n in 1 2 3; do
  for _ in $(seq 1 300); do
    grep -q '\bready$' "$root/node$n/dispatchd.log" 2>/dev/null && break
    if ! kill -0 "${pids[$((n - 1))]}" 2>/dev/null; then
      echo "cluster-demo: node $n stopped; its log ($root/node$n/dispatchd.log):" >&2
      cat "$root/node$n/dispatchd.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  grep -q '\bready$' "$root/node$n/dispatchd.log" ||
    { echo "cluster-demo: node $n is not ready after 30 s" >&2; exit 1; }
done

cat <<EOF
Three dispatchd nodes are running (logs: $root/node{1,2,3}/dispatchd.log):
  node 1  http://127.0.0.1:8081  cluster 127.0.0.1:7401  (the coordinator: lowest id)
  node 2  http://127.0.0.1:8082  cluster 127.0.0.1:7402
  node 3  http://127.0.0.1:8083  cluster 127.0.0.1:7403

Try, in another terminal:
  # The cluster as node 2 sees it: the coordinator, its peers, the shards each owns.
  curl -s localhost:8082/cluster/v1/

  # A dispatcher created through node 3 (forwarded to the coordinator), read back on node 1.
  curl -s --json '{"eventType":"user_created","name":"welcome",
    "actions":[{"type":"task","functionName":"provision-account"}]}' localhost:8083/dispatchers/v1/
  curl -s 'localhost:8081/dispatchers/v1/?select(name,eventType)'

  # Events published on any node; the node owning the event type's shard delivers them
  # (here to its built-in log: look on each node).
  for i in 1 2 3 4 5 6; do
    curl -s --json '{"type":"user_created","content":{"n":'\$i'}}' \\
      localhost:808\$(( i % 3 + 1 ))/events/v1/
  done
  for p in 8081 8082 8083; do curl -s "localhost:\$p/tasks/v1/?select(id)" ; echo; done

  # Freeze node 3: after the peer timeout (3 s) nodes 1 and 2 report it down, and events for
  # its shards queue on them (forwardDepth); they flow once it is thawed.
  node3=\$(cat $root/node3/dispatchd.pid)
  kill -STOP \$node3; sleep 5; curl -s localhost:8081/cluster/v1/
  curl -s localhost:8081/metrics | grep dispatch_cluster
  kill -CONT \$node3

  # Or kill it and start it again on the same data (its pid file is updated):
  kill -KILL \$node3; $root/node3/start.sh &

  # Kill the coordinator (node 1): dispatcher writes through nodes 2 and 3 answer 503 until
  # it is back ($root/node1/start.sh &); events keep flowing.
  kill -KILL \$(cat $root/node1/dispatchd.pid)
  curl -s --json '{"eventType":"while_down"}' localhost:8082/dispatchers/v1/

Ctrl-C stops the nodes (also those started again with start.sh).
EOF

# Runs until Ctrl-C (the trap stops the nodes) or until every node stopped.
while true; do
  wait "${pids[@]}" 2>/dev/null || true
  alive=0
  for n in 1 2 3; do
    pid=$(cat "$root/node$n/dispatchd.pid" 2>/dev/null || true)
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && alive=1
  done
  ((alive)) || break
  sleep 1
done
