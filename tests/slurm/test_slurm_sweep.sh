#!/usr/bin/env bash
# A real Slurm test of scripts/slurm/submit-sweep: starts a private single-node cluster on
# localhost (munged as the munge user, slurmctld and slurmd as root from a generated
# slurm.conf on unused ports), submits a small sweep as a job array with a dependent
# merge job, waits for it, and checks the merged results are byte-identical to the same
# sweep run and merged locally. Everything it starts is stopped by process id on exit;
# every wait has a deadline.
#
#   tests/slurm/test_slurm_sweep.sh IMCSIM_BINARY
#
# Needs root (slurmd) and Debian's slurm-wlm and munge, which it installs when missing.
# Exit 77 (skipped) only when not root.
set -euo pipefail

imcsim="$(realpath "${1:?usage: $0 IMCSIM_BINARY}")"
root="$(cd "$(dirname "$0")/../.." && pwd)"
start_time=$SECONDS
log() { echo "slurm-test [$((SECONDS - start_time))s]: $*"; }
fail() { echo "slurm-test: FAIL: $*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
  echo "slurm-test: skipped: slurmd needs root (CI runs as root)"
  exit 77
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  log "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  timeout 240 apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null ||
    { timeout 120 apt-get update -qq && timeout 240 apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null; }
fi

T="$(mktemp -d /tmp/imcsim-slurm.XXXXXX)"
chmod 755 "$T"
export SLURM_CONF="$T/slurm.conf"
pids=()

# Every process started here (the daemons, the slurmstepd and job processes slurmd starts,
# the submitted jobs) carries IMCSIM_SLURM_TEST=$T in its environment; this shell does
# not. That finds them by process id, and nothing else on the machine.
mark="IMCSIM_SLURM_TEST=$T"
our_processes() {
  local p
  for p in /proc/[0-9]*; do
    if tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qxF "$mark"; then
      echo "${p#/proc/}"
    fi
  done 2>/dev/null
}

cleanup() {
  local rc=$? pid left
  set +e
  if [ -n "${ctl_pid:-}" ] && kill -0 "$ctl_pid" 2>/dev/null; then
    timeout 10 scancel --quiet --user=root >/dev/null 2>&1
    for _ in $(seq 1 50); do
      [ -z "$(timeout 5 squeue -h 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  # slurmstepd and job processes end on their own once their daemons are gone.
  for _ in $(seq 1 50); do
    [ -z "$(our_processes)" ] && break
    sleep 0.2
  done
  for pid in $(our_processes); do kill -KILL "$pid" 2>/dev/null; done
  sleep 0.5
  left=$(our_processes | tr '\n' ' ')
  if [ -n "$left" ]; then
    echo "slurm-test: FAIL: processes left behind: $left" >&2
    rc=1
  fi
  if [ $rc -ne 0 ]; then
    for f in "$T"/*.log "$T"/cluster/slurm/logs/*.log; do
      [ -f "$f" ] && { echo "---- $f"; tail -n 30 "$f"; }
    done
  fi
  rm -rf "$T"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what="$2"
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "timed out waiting for $what"
    sleep 0.5
  done
}

# ---- munge, as the munge user, on a private socket and key
mkdir -p "$T/munge"
mungekey --create --keyfile="$T/munge/munge.key" --force
chown -R munge:munge "$T/munge"
chmod 700 "$T/munge"
env "$mark" setpriv --reuid=munge --regid=munge --init-groups \
  munged --foreground --force --socket="$T/munge/munge.sock" --key-file="$T/munge/munge.key" \
  --pid-file="$T/munge/munged.pid" --log-file="$T/munge/munged.log" \
  --seed-file="$T/munge/munged.seed" &
pids+=($!)
wait_for 20 "munged" sh -c "munge -n -S '$T/munge/munge.sock' | unmunge -S '$T/munge/munge.sock'"
log "munged up (pid ${pids[0]})"

# ---- slurm.conf: one node (this machine), private ports, state and spool
host="$(hostname -s)"
cpus="$(nproc)"
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
port=$(( 20000 + ($$ % 5000) * 2 ))
mkdir -p "$T/state" "$T/spool"
cat >"$SLURM_CONF" <<EOF
ClusterName=imcsimtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$T/munge/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
SlurmdParameters=config_overrides
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

env "$mark" slurmctld -D -c -f "$SLURM_CONF" >"$T/slurmctld.out" 2>&1 &
ctl_pid=$!
pids+=($ctl_pid)
env "$mark" slurmd -D -f "$SLURM_CONF" >"$T/slurmd.out" 2>&1 &
pids+=($!)
wait_for 60 "node $host to be idle" sh -c "timeout 5 sinfo -h -N -o %T | grep -qx idle"
log "cluster up: slurmctld $ctl_pid, slurmd ${pids[2]}, node $host ($cpus CPUs, ${mem_mb} MB)"

# ---- the same sweep, locally and on the cluster
exp="$T/exp.yaml"
cat >"$exp" <<EOF
name: slurm-test
workload: resnet20
arch: $root/configs/arch/paper-128.yaml
mappers: [im2col, sdk, vwsdk]
sweep:
  axes:
    workload: [resnet20, wrn16_4]
    arch.rows: [64, 128, 256]
    arch.cols: [64, 128, 256]
    arch.adc_bits: {from: 6, to: 8}
  zip: [[arch.rows, arch.cols]]
  exclude:
    - {workload: wrn16_4, arch.rows: 64, arch.adc_bits: 6}
EOF
"$imcsim" sweep "$exp" -q -j 2 -o "$T/local"
"$imcsim" merge "$T/local" -o "$T/local"

ids=$(timeout 30 env "$mark" "$root/scripts/slurm/submit-sweep" "$exp" -n 3 -j 1 -o "$T/cluster" --imcsim "$imcsim")
array_job=$(sed -n 's/^array_job=//p' <<<"$ids")
merge_job=$(sed -n 's/^merge_job=//p' <<<"$ids")
[ -n "$array_job" ] && [ -n "$merge_job" ] || fail "submit-sweep printed no job ids: $ids"
log "submitted array job $array_job and merge job $merge_job"

job_state() { timeout 5 scontrol show job "$1" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1; }
deadline=$((SECONDS + 150))
while :; do
  state=$(job_state "$merge_job" || true)
  case "$state" in
    COMPLETED) break ;;
    FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE)
      fail "merge job $merge_job ended $state" ;;
  esac
  [ $SECONDS -lt $deadline ] || fail "timed out waiting for merge job $merge_job (state ${state:-?})"
  sleep 1
done
log "merge job $merge_job completed"

# Every shard ran as its own array task and wrote its own folder.
tasks=$(timeout 5 scontrol show job "$array_job" | grep -c 'JobState=COMPLETED' || true)
[ "$tasks" -eq 3 ] || fail "expected 3 completed array tasks, got $tasks"
for k in 0 1 2; do
  grep -q "\"index\": $k" "$T/cluster/shards/$k/sweep.json" || fail "shard $k folder missing"
done
for f in results.csv results.json layers.csv; do
  cmp "$T/local/$f" "$T/cluster/$f" || fail "$f of the cluster run differs from the local run"
done
rows=$(($(wc -l <"$T/cluster/results.csv") - 1))
[ "$rows" -eq $((17 * 3)) ] || fail "expected 17 points x 3 mappers = 51 result rows, got $rows"
log "PASS: cluster results ($rows rows) equal the local run"
