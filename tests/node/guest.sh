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
# RUN_DIR/out gets junit.xml, phases (name and time of each step) and node (what this node
# is); run.ts prints the summary from them. Exit code: deno test's.
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
  echo "cpus=$(nproc) mem=$(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)"
  echo "deno=$(deno --version | head -1)"
} >"$OUT/node"
sed 's/^/node: /' "$OUT/node"

rc=0
# --no-check: the static tier type-checks on the host; here it would cost minutes.
deno test -A --no-check --cached-only --no-prompt --junit-path="$OUT/junit.xml" \
  "$@" tests/node/ || rc=$?
phase tests
if [ "$rc" -gt 128 ]; then
  echo "guest: deno test died of signal $((rc - 128)); the report is lost, see its output above" >&2
fi
exit "$rc"
