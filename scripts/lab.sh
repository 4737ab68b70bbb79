#!/usr/bin/env bash
# The lab: Meridian with real VMs on this machine. One network namespace per zone stands in for a
# hypervisor host of that zone, with a host agent (meridian-agent) in it; one control plane on the
# host runs with `--driver agents`; the agents reach it, and it reaches them, over a bridge.
#
#   scripts/lab.sh up [--zones lon1,hkg1] [--hosts 1] [--port 3000] [--no-build]
#   scripts/lab.sh down
#   scripts/lab.sh status
#   scripts/lab.sh start-agent HOST | start-server    (again, after a crash or a kill)
#   scripts/lab.sh cut ZONE ZONE | heal ZONE ZONE      (a backbone edge: its links down / up)
# Staff cut links too (the capacity page): the lab's controller (`meridian-lab links`) applies them.
# --hosts is per zone; a zone's first host is named by the zone (lon1), the others ZONE.N (lon1.2).
# Every command also takes --dir DIR (default /tmp/mlab), --name NAME (default mlab) and --net
# A.B.C (default 10.254.0): two labs with other names, directories and nets do not meet (the
# tests run theirs so, beside yours).
#
# Run as root (namespaces, bridges, taps). `up` builds the server and the agent (debug) unless
# --no-build (then MERIDIAN_BIN and MERIDIAN_AGENT_BIN, or target/debug, must hold them) and the
# guest image (.cache/guest/image, from Debian packages). Everything it makes is named NAME*, or
# lives under DIR; `down` removes all of it: processes (server, agents, QEMUs), namespaces (with
# the VMs' taps and bridges), the host bridge and the directory. The server takes its other
# settings from MERIDIAN_* variables (e.g. MERIDIAN_RECONCILE_SECS).
#
# Each lab host offers 8 vCPUs, 16 GiB and 200 GiB whatever the machine has: guests touch little of
# their memory and disks are sparse, so a few VMs of the small sizes fit one machine's real means.
#
# The backbone (see backbone_up below): a router per catalogue zone, OSPF over delayed edges; lab
# hosts reach each other over it at 10.200.<zone index>.(10+k). The host bridge is management only.
# The lab's internet (internet_up): namespace NAME-inet at 198.51.100.254, where breakout leads.
#
# Addresses: the host bridge NAME0 is NET.1/24; the nth host's namespace NAME-<host> is NET.(10+n)
# on it, its agent listening on port 7100. The server listens on 0.0.0.0:PORT (the agents reach it at
# NET.1; a browser on this machine at http://127.0.0.1:PORT).
set -euo pipefail
cd "$(dirname "$0")/.."

command=${1:-}
shift || true
zones=lon1,hkg1
port=3000
dir=/tmp/mlab
name=mlab
net=10.254.0
build=1
hosts=1
host_arg=
edge_arg=()
if [ "$command" = start-agent ]; then host_arg=${1:?start-agent needs a host}; shift; fi
if [ "$command" = cut ] || [ "$command" = heal ]; then
  edge_arg=("${1:?$command needs two zones}" "${2:?$command needs two zones}"); shift 2
fi
while [ $# -gt 0 ]; do
  case $1 in
    --zones) zones=$2; shift 2 ;;
    --hosts) hosts=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --net) net=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "lab.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

say() { printf 'lab: %s\n' "$*" >&2; }
server_bin=${MERIDIAN_BIN:-$PWD/target/debug/meridian}
agent_bin=${MERIDIAN_AGENT_BIN:-$PWD/target/debug/meridian-agent}
lab_bin=${MERIDIAN_LAB_BIN:-$(dirname "$agent_bin")/meridian-lab}
image=${MERIDIAN_GUEST_IMAGE:-$PWD/.cache/guest/image}

# Whether process $1 runs (a zombie does not: where nothing reaps orphans, as in some containers,
# a killed server stays one).
alive() {
  local state
  state=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) && [ -n "$state" ] && [ "$state" != Z ]
}

# Kills the process in pidfile $1 (TERM, then KILL after $2 seconds), if it still runs.
stop_pid() {
  local file=$1 grace=$2 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq $((grace * 10))); do alive "$pid" || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

down() {
  # Tenant routers the agents made (named m<first 8 hex of the host id>-<network>).
  local id
  for id in $(cat "$dir"/*/host-id 2>/dev/null); do
    for ns in $(ip netns list | awk '{print $1}' | grep "^m${id:0:8}-" || true); do
      ip netns del "$ns"
      say "removed tenant router $ns"
    done
  done
  # The lab's namespaces: every NAME-* one (a lab whose directory is gone leaves them too).
  for ns in $(ip netns list | awk '{print $1}' | grep "^$name-" || true); do
    # Every process in it: the agent and its QEMUs (started detached, so not the agent's children).
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns"
    say "removed namespace $ns"
  done
  if [ -d "$dir" ]; then
    stop_pid "$dir/backbone.pid" 5
    stop_pid "$dir/links.pid" 5
    stop_pid "$dir/server.pid" 10
    rm -rf "$dir"
    say "removed $dir"
  fi
  ip link del "${name}0" 2>/dev/null && say "removed bridge ${name}0" || true
}

status() {
  [ -f "$dir/server.pid" ] && alive "$(cat "$dir/server.pid")" \
    && echo "server: running (pid $(cat "$dir/server.pid")), http://127.0.0.1:$(cat "$dir/port")" \
    || echo "server: not running"
  for ns in $(ip netns list | awk '{print $1}' | grep "^$name-" || true); do
    echo "$ns: $(ip netns pids "$ns" | wc -l) processes"
  done
}

# The address of host $1's namespace (its place in the lab's host list, kept in DIR/hosts).
host_address() {
  local n=0 host
  while read -r host; do
    n=$((n + 1))
    [ "$host" = "$1" ] && { echo "$net.$((10 + n))"; return; }
  done < "$dir/hosts"
  echo "lab.sh: $1 is not one of this lab's hosts ($(paste -sd, "$dir/hosts"))" >&2
  exit 1
}

# Starts host $1's agent in its namespace, unless it runs. A host is named by its zone (the zone's
# first host) or ZONE.N (its Nth). Detached (setsid): it outlives this script; `down` finds it by
# its namespace.
start_agent() {
  local host=$1 zone=${1%%.*} ns=$name-$1 address
  address=$(host_address "$host")
  local underlay
  underlay=$(backbone_address "$host")
  for pid in $(ip netns pids "$ns"); do
    if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--state-dir $dir/$host "; then
      say "host $host: agent runs already (pid $pid)"
      return
    fi
  done
  # nsenter, not `ip netns exec`: the agent keeps the machine's mount namespace, so the tenant
  # router namespaces it names (ip netns add) are seen by everyone, `lab.sh down` included.
  setsid nsenter --net="/run/netns/$ns" "$agent_bin" \
    --zone "$zone" --name "$host-lab" --state-dir "$dir/$host" --image-dir "$image" \
    --listen "$address:7100" --control "http://$net.1:$(cat "$dir/port")" --token-file "$dir/$host/token" \
    --vcpus 8 --memory-mib 16384 --disk-gib 200 --accelerator-cache "$dir/accelerator.json" \
    --underlay "$underlay" --public-bridge mext --public-gateway 198.51.100.254/24 \
    >> "$dir/$host/agent.log" 2>&1 < /dev/null &
  say "host $host: namespace $ns, agent at http://$address:7100 (log $dir/$host/agent.log)"
}

# Starts the server, unless it runs.
start_server() {
  local port
  port=$(cat "$dir/port")
  if [ -f "$dir/server.pid" ] && alive "$(cat "$dir/server.pid")"; then
    say "server runs already (pid $(cat "$dir/server.pid"))"
    return
  fi
  setsid "$server_bin" --driver agents --listen "0.0.0.0:$port" --public-url "http://127.0.0.1:$port" \
    --data-dir "$dir/server" >> "$dir/server.log" 2>&1 < /dev/null &
  echo $! > "$dir/server.pid"
  say "server: http://127.0.0.1:$port (log $dir/server.log)"
}

# The backbone's controller: `meridian-lab links` takes down the links staff cut (the staff
# capacity page) and brings them back when restored.
start_links() {
  if [ -f "$dir/links.pid" ] && alive "$(cat "$dir/links.pid")"; then return; fi
  (umask 077; "$server_bin" agent-token --data-dir "$dir/server" --log warn --backbone > "$dir/backbone-token")
  setsid "$lab_bin" links "http://127.0.0.1:$(cat "$dir/port")" "$dir/backbone-token" "$name" \
    >> "$dir/links.log" 2>&1 < /dev/null &
  echo $! > "$dir/links.pid"
}

# The lab's backbone: a router namespace NAME-bb-<zone> for every zone of the catalogue, joined
# along the catalogue's backbone edges by `meridian-lab delay` (a pair of taps per edge carrying
# frames after the edge's modelled one-way delay: this kernel has no netem). Each router runs
# bird2's OSPF, an edge's cost its delay, so the network itself chooses and changes its paths. Zone
# n's routers serve 10.200.n.0/24 on a bridge `zone`; a lab host's namespace reaches it over a veth
# `backbone` at 10.200.n.(10+k). Edge i's ends are 172.31.i.1 and .2 (/30).
zone_index() { awk -v z="$1" '$2 == z {print $1}' "$dir/catalogue"; }

backbone_up() {
  command -v bird >/dev/null || { echo "lab.sh: bird2 is missing (apt-get install bird2)" >&2; exit 1; }
  "$lab_bin" zones > "$dir/catalogue"
  "$lab_bin" edges > "$dir/edges"
  local index zone
  while read -r index zone <&3; do
    ns=$name-bb-$zone
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
    ip -n "$ns" link add zone type bridge
    ip -n "$ns" addr add "10.200.$index.1/24" dev zone
    ip -n "$ns" link set zone up
  done 3< "$dir/catalogue"
  local i a b us cost
  while read -r i a b us cost <&3; do
    echo "${name}e${i}a $name-bb-$a ${name}e${i}b $name-bb-$b $us"
  done 3< "$dir/edges" > "$dir/backbone.spec"
  rm -f "$dir/backbone.ready"
  setsid "$lab_bin" delay "$dir/backbone.spec" "$dir/backbone.ready" > "$dir/backbone.log" 2>&1 < /dev/null &
  echo $! > "$dir/backbone.pid"
  for _ in $(seq 100); do [ -f "$dir/backbone.ready" ] && break; sleep 0.1; done
  [ -f "$dir/backbone.ready" ] || { echo "lab.sh: the backbone's delay did not start; see $dir/backbone.log" >&2; exit 1; }
  while read -r i a b us cost <&3; do
    ip -n "$name-bb-$a" addr add "172.31.$i.1/30" dev "${name}e${i}a"
    ip -n "$name-bb-$b" addr add "172.31.$i.2/30" dev "${name}e${i}b"
  done 3< "$dir/edges"
  while read -r index zone <&3; do
    {
      echo "router id 10.200.$index.1;"
      echo "log \"$dir/bird-$zone.log\" all;"
      echo "protocol device { scan time 1; }"
      echo "protocol kernel { ipv4 { export where source = RTS_OSPF; }; }"
      echo "protocol ospf v2 backbone {"
      echo "  ipv4 { import all; export none; };"
      echo "  area 0 {"
      echo "    interface \"zone\" { stub yes; };"
      while read -r i a b us cost; do
        if [ "$a" = "$zone" ]; then tap=${name}e${i}a; elif [ "$b" = "$zone" ]; then tap=${name}e${i}b; else continue; fi
        echo "    interface \"$tap\" { type ptp; cost $cost; hello 1; dead count 3; };"
      done < "$dir/edges"
      echo "  };"
      echo "}"
    } > "$dir/bird-$zone.conf"
    ip netns exec "$name-bb-$zone" bird -c "$dir/bird-$zone.conf" -s "$dir/bird-$zone.ctl" -P "$dir/bird-$zone.pid"
  done 3< "$dir/catalogue"
  say "backbone: $(wc -l < "$dir/catalogue") routers, $(wc -l < "$dir/edges") edges (OSPF; delays in $dir/edges)"
}

# Host $1's address on the backbone: 10.200.<zone index>.(10+k) for the zone's kth host.
backbone_address() {
  local host=$1 zone=${1%%.*} k=1
  [ "$host" != "$zone" ] && k=${host#*.}
  echo "10.200.$(zone_index "$zone").$((10 + k))"
}

# Joins host $1's namespace to its zone's router.
backbone_attach() {
  local host=$1 zone=${1%%.*} index
  index=$(zone_index "$zone")
  ip link add "${name}b-$host" type veth peer name backbone netns "$name-$host"
  ip link set "${name}b-$host" netns "$name-bb-$zone"
  ip -n "$name-bb-$zone" link set "${name}b-$host" master zone up
  ip -n "$name-$host" addr add "$(backbone_address "$host")/24" dev backbone
  ip -n "$name-$host" link set backbone up
  ip -n "$name-$host" route add 10.200.0.0/16 via "10.200.$index.1"
}

# The lab's internet: namespace NAME-inet, a bridge `world` with 198.51.100.254/24 (TEST-NET-2, a
# documentation range: zone n's public addresses are .(15n+1)-(15n+14)). Every host joins it by a
# veth `internet` on its bridge `mext`, where its tenant routers' `ext` ports plug in.
internet_up() {
  ip netns add "$name-inet"
  ip -n "$name-inet" link set lo up
  ip -n "$name-inet" link add world type bridge
  ip -n "$name-inet" addr add 198.51.100.254/24 dev world
  ip -n "$name-inet" link set world up
}

internet_attach() {
  local host=$1
  ip -n "$name-$host" link add mext type bridge
  ip -n "$name-$host" link set mext up
  ip link add "${name}i-$host" type veth peer name internet netns "$name-$host"
  ip link set "${name}i-$host" netns "$name-inet"
  ip -n "$name-inet" link set "${name}i-$host" master world up
  ip -n "$name-$host" link set internet master mext up
}

# Waits until every lab zone's router has a route to every other lab zone's.
backbone_converged() {
  local deadline=$((SECONDS + 90)) from to
  for from in "${zone_list[@]}"; do
    for to in "${zone_list[@]}"; do
      [ "$from" = "$to" ] && continue
      until ip -n "$name-bb-$from" route show "10.200.$(zone_index "$to").0/24" | grep -q via; do
        if [ $SECONDS -gt $deadline ]; then
          echo "lab.sh: OSPF found no route from $from to $to within 90 s; see $dir/bird-$from.log" >&2
          exit 1
        fi
        sleep 0.5
      done
    done
  done
  say "backbone: OSPF routes between ${zones//,/, }"
}

# Cuts (link down at both ends) or heals the backbone edge between zones $2 and $3.
edge_set() {
  local state=$1 i a b us cost found=
  while read -r i a b us cost; do
    if { [ "$a" = "$2" ] && [ "$b" = "$3" ]; } || { [ "$a" = "$3" ] && [ "$b" = "$2" ]; }; then
      ip -n "$name-bb-$a" link set "${name}e${i}a" "$state"
      ip -n "$name-bb-$b" link set "${name}e${i}b" "$state"
      found=1
    fi
  done < "$dir/edges"
  [ -n "$found" ] || { echo "lab.sh: no backbone edge joins $2 and $3" >&2; exit 1; }
  say "edge $2-$3: link $state"
}

up() {
  [ "$(id -u)" = 0 ] || { echo "lab.sh up: run as root (namespaces, bridges, taps)" >&2; exit 1; }
  if ip link show "${name}0" >/dev/null 2>&1 || [ -e "$dir" ]; then
    echo "lab.sh up: a lab named $name or in $dir exists already (scripts/lab.sh down removes it)" >&2
    exit 1
  fi
  if [ "$build" = 1 ]; then
    say "building the server and the agent"
    cargo build --quiet -p meridian --bin meridian -p meridian-agent --bin meridian-agent --bin meridian-lab
  fi
  for bin in "$server_bin" "$agent_bin" "$lab_bin"; do
    [ -x "$bin" ] || { echo "lab.sh up: $bin is missing (build it, or drop --no-build)" >&2; exit 1; }
  done
  scripts/guest-image.sh "$image" >&2

  mkdir -p "$dir/server"
  echo "$port" > "$dir/port"
  local zone host n
  IFS=, read -ra zone_list <<< "$zones"
  for zone in "${zone_list[@]}"; do
    echo "$zone"
    for n in $(seq 2 "$hosts"); do echo "$zone.$n"; done
  done > "$dir/hosts"
  ip link add "${name}0" type bridge
  ip addr add "$net.1/24" dev "${name}0"
  ip link set "${name}0" up
  backbone_up
  internet_up

  # The loop reads its list on fd 3: nothing inside can eat it from standard input.
  while read -r host <&3; do
    ns=$name-$host
    mkdir -p "$dir/$host"
    [ -f "$dir/$host/host-id" ] || cat /proc/sys/kernel/random/uuid > "$dir/$host/host-id"
    (umask 077; "$server_bin" agent-token --data-dir "$dir/server" --log warn \
      --host-id "$(cat "$dir/$host/host-id")" > "$dir/$host/token")
    ip netns add "$ns"
    ip link add "${name}v-$host" type veth peer name uplink netns "$ns"
    ip link set "${name}v-$host" master "${name}0" up
    ip -n "$ns" addr add "$(host_address "$host")/24" dev uplink
    ip -n "$ns" link set uplink up
    ip -n "$ns" link set lo up
    backbone_attach "$host"
    internet_attach "$host"
    start_agent "$host"
  done 3< "$dir/hosts"
  start_server
  start_links

  # Up when every agent's host registered with the server.
  local deadline=$((SECONDS + 120)) id
  while read -r host; do
    id=$(cat "$dir/$host/host-id")
    until grep -q "host agent registered.*$id" "$dir/server.log" 2>/dev/null; do
      if [ $SECONDS -gt $deadline ]; then
        echo "lab.sh up: the agent of $host did not register within 120 s; see $dir/$host/agent.log" >&2
        exit 1
      fi
      sleep 0.5
    done
    say "host $host: $id registered"
  done < "$dir/hosts"
  backbone_converged
  say "up: zones $zones"
}

case $command in
  up) up ;;
  down) down ;;
  status) status ;;
  start-agent) start_agent "$host_arg" ;;
  cut) edge_set down "${edge_arg[@]}" ;;
  heal) edge_set up "${edge_arg[@]}" ;;
  start-server) start_server ;;
  *) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
