#!/bin/bash
# The guest half of the real-node tier: runs inside node-vm's guest as root, with no network,
# started by run.ts, which shares the checkout at the same path, stages Deno in
# .cache/node-vm/bin/, and packs the checkout (checkout.tar) and a warmed Deno cache
# (deno.tar) into RUN_DIR, a directory of the share.
#
#   tests/node/guest.sh RUN_DIR [deno test args...]
#
# Reading many files over 9p under emulation is slow (an agent start: 23 s from the share,
# 3.7 s from the guest's disk), so the tests run from a copy on the guest's disk mounted
# over the checkout's path (the paths, and so the Deno cache's keys, stay the same); only
# .cache/ (test images, reports) stays on the share. Deno goes where the agent's permission
# set expects Deno.execPath(): /usr/lib/node_modules/deno/deno.
#
# RUN_DIR/out gets junit/<file>.xml and log/<file>.log per test file, unfinished (files that
# ran out of time or died), diag/ (the guest's state then), phases (name and time of each
# step) and node (what this node is); run.ts prints the summary from them. Exit code: 0 when
# every file passed. NODE_TIER_BUDGET (s, all files) and NODE_TIER_FILE_LIMIT (s, one file)
# bound the run.
set -euo pipefail
RUN_DIR=$(cd "${1:?usage: guest.sh RUN_DIR [deno test args...]}" && pwd -P)
shift
OUT=$RUN_DIR/out
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SHARE=/var/tmp/sauropod-share
COPY=/var/tmp/sauropod-checkout
export DENO_DIR=/var/tmp/sauropod-deno DENO_NO_UPDATE_CHECK=1 NO_COLOR=1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mkdir -p "$OUT"
phase() { printf '%s %s\n' "$1" "$(date +%s.%N)" >>"$OUT/phases"; }
phase guest-start

# The share stays reachable at $SHARE once the copy hides it (private: the bind over $ROOT
# must not propagate to it).
mkdir -p "$SHARE" "$COPY" "$DENO_DIR"
mount --bind "$ROOT" "$SHARE"
mount --make-private "$SHARE"
tar -C "$COPY" -xf "$RUN_DIR/checkout.tar"
ln -s "$SHARE/.cache" "$COPY/.cache"
tar -C "$DENO_DIR" -xf "$RUN_DIR/deno.tar"
install -D -m 0755 "$SHARE/.cache/node-vm/bin/deno" /usr/lib/node_modules/deno/deno
ln -sf /usr/lib/node_modules/deno/deno /usr/bin/deno
mount --bind "$COPY" "$ROOT"
cd "$ROOT"
phase copied

{
  echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "kernel=$(uname -r)"
  echo "pid1=$(cat /proc/1/comm), $(systemctl --version | head -1)"
  echo "cgroup=$(stat -fc %T /sys/fs/cgroup) controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
  echo "runtimes=$(runc --version | head -1); $(crun --version | head -1)"
  echo "apparmor=$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null || echo absent)," \
    "$(wc -l </sys/kernel/security/apparmor/profiles 2>/dev/null || echo no) profiles loaded," \
    "$(apparmor_parser --version 2>/dev/null | head -1 || echo no parser)"
  echo "criu=$(criu --version 2>/dev/null | head -1 || echo absent)"
  echo "cpus=$(nproc) mem=$(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)"
  echo "deno=$(deno --version | head -1)"
} >"$OUT/node"
sed 's/^/node: /' "$OUT/node"

# One deno test per file, each under a time limit: a hang then costs one file its limit, not
# the whole VM its timeout, and every other file still reports. A file that runs out of time
# is recorded in $OUT/unfinished (file, limit, why), with the guest's state in diag/.
BUDGET=${NODE_TIER_BUDGET:-600}
FILE_LIMIT=${NODE_TIER_FILE_LIMIT:-300}
deadline=$((SECONDS + BUDGET))
mkdir -p "$OUT/junit" "$OUT/log" "$OUT/diag"

diagnose() {
  {
    echo "== processes"
    ps -N --ppid 2 -o pid,ppid,stat,etimes,args --forest | cut -c1-200
    echo "== failed units"
    systemctl list-units --failed --no-pager --plain || true
    echo "== journal (last 40 lines)"
    journalctl -n 40 --no-pager -o short-monotonic || true
  } >"$OUT/diag/$1.txt" 2>&1
  echo "guest: $2; the guest's state then (also in .cache/node-vm/last/diag/$1.txt):" >&2
  sed 's/^/guest: /' "$OUT/diag/$1.txt" >&2
}

rc=0
for file in tests/node/*_test.ts; do
  name=$(basename "$file" .ts)
  left=$((deadline - SECONDS))
  if ((left < 30)); then
    echo "./$file $BUDGET not-started" >>"$OUT/unfinished"
    rc=1
    continue
  fi
  limit=$((left < FILE_LIMIT ? left : FILE_LIMIT))
  # --no-check: the static tier type-checks on the host; here it would cost minutes.
  # The output goes to a file that is followed, not through a pipe: a process the tests
  # left behind could hold a pipe open past the time limit.
  log=$OUT/log/$name.log
  timeout -k 10 "$limit" deno test -A --no-check --cached-only --no-prompt \
    --junit-path="$OUT/junit/$name.xml" "$@" "$file" >"$log" 2>&1 &
  tpid=$!
  tail -n +1 -s 0.2 --pid="$tpid" -f "$log" &
  frc=0
  wait "$tpid" || frc=$?
  wait
  phase "$name"
  if ((frc == 124 || frc == 137)); then
    echo "./$file $limit timed-out" >>"$OUT/unfinished"
    diagnose "$name" "$file ran out of its $limit s"
  elif ((frc > 128)); then
    echo "./$file $limit signal-$((frc - 128))" >>"$OUT/unfinished"
    diagnose "$name" "deno test of $file died of signal $((frc - 128))"
  fi
  ((frc == 0)) || rc=1
done
exit "$rc"
