#!/usr/bin/env bash
# Removes what deploy/install.sh installed, exactly: the files and directories listed in
# <prefix>/.install-manifest. As root:
#
#   deploy/uninstall.sh [--prefix DIR] [--etc DIR] [--purge]
#
#   --prefix DIR  the install's --prefix (default /opt/sauropod)
#   --etc DIR     the install's --etc (default /etc)
#   --purge       also remove the agent's state (config.toml's root and state directories)
#                 and its config file, edited or older than the install; refused while a
#                 container's mounts are still there (remove the pods first: crictl rmp -fa)
#
# The unit is stopped and disabled first when systemd runs the node. Stopping the agent
# never stops containers (KillMode=process): remove the pods before uninstalling. Without
# --purge, /var/lib/sauropod stays, and so does a config file the operator changed.
set -euo pipefail

PREFIX=/opt/sauropod
ETC=/etc
PURGE=no

say() { printf 'sauropod uninstall: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
absolute() {
  case "$1" in
    *[[:space:]]*) die "$2 must not contain spaces: $1" ;;
    /*) printf '%s' "${1%/}" ;;
    *) die "$2 must be an absolute path: $1" ;;
  esac
}

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=$(absolute "${2:-}" --prefix); shift 2 ;;
    --etc) ETC=$(absolute "${2:-}" --etc); shift 2 ;;
    --purge) PURGE=yes; shift ;;
    -h | --help) usage ;;
    *) say "unknown option: $1"; usage ;;
  esac
done

[ "$(id -u)" = 0 ] || die "run me as root"
MANIFEST=$PREFIX/.install-manifest
[ -f "$MANIFEST" ] || die "no install manifest at $MANIFEST: nothing installed with --prefix $PREFIX"
CONFIG=$ETC/sauropod/config.toml
UNIT=$ETC/systemd/system/sauropod.service

# The state directories, read before the config goes: what --purge removes. Only top-level
# keys count (runtime.root is another key), so reading stops at the first [table].
state_dirs() {
  local key value
  for key in root state; do
    value=$(awk -v k="$key" '/^\[/ { exit }
      $0 ~ "^" k " *= *\"" { sub("^" k " *= *\"", ""); sub("\" *$", ""); v = $0 }
      END { print v }' "$CONFIG" 2>/dev/null || true)
    case "$key" in
      root) printf '%s\n' "${value:-/var/lib/sauropod}" ;;
      state) printf '%s\n' "${value:-/run/sauropod}" ;;
    esac
  done
}
mapfile -t STATE_DIRS < <(state_dirs)

if [ "$ETC" = /etc ] && [ -d /run/systemd/system ] && [ -f "$UNIT" ]; then
  say "stopping and disabling sauropod.service (containers keep running)"
  systemctl disable --now sauropod.service || say "could not stop sauropod.service; removing it anyway"
fi

if [ "$PURGE" = yes ]; then
  for dir in "${STATE_DIRS[@]}"; do
    # Container root filesystems and pinned namespaces are mounts: removing files under a
    # live mount would reach into running containers. <state>/ns itself is the agent's
    # propagation mount (a bind onto itself, as /run/netns; network/namespaces.ts),
    # which stays after the last pod: only what is under it counts.
    if awk -v d="$dir" '($5 == d || index($5, d "/") == 1) && $5 != d "/ns" { found = 1 }
      END { exit !found }' /proc/self/mountinfo; then
      die "$dir still has mounts (running pods?): remove the pods first (crictl rmp -fa), then --purge"
    fi
  done
fi

declare -a FILES=() DIRS=()
while read -r kind path sum; do
  case "$kind" in
    file) FILES+=("$path ${sum:-}") ;;
    dir) DIRS+=("$path") ;;
  esac
done <"$MANIFEST"

KEPT=0
for entry in "${FILES[@]}"; do
  path=${entry% *}
  sum=${entry##* }
  [ -e "$path" ] || continue
  if [ "$PURGE" = no ] && [ -n "$sum" ] && [ "$(sha256sum "$path" | cut -d' ' -f1)" != "$sum" ]; then
    say "keeping $path: changed since the install (--purge removes it)"
    KEPT=1
    continue
  fi
  rm -f "$path"
done

# The code tree wholesale (it is ours), then the directories the install made, innermost
# first; a directory that is not empty holds something that is not ours and stays.
for ((i = ${#DIRS[@]} - 1; i >= 0; i--)); do
  dir=${DIRS[i]}
  if [ "$dir" = "$PREFIX" ]; then
    rm -rf "$PREFIX"
  elif [ -d "$dir" ]; then
    rmdir "$dir" 2>/dev/null || say "keeping $dir: not empty"
  fi
done
[ -d "$PREFIX" ] && rm -f "$MANIFEST"

if [ "$ETC" = /etc ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

if [ "$PURGE" = yes ]; then
  # The configuration is sauropod's even when it predates this install's manifest.
  rm -f "$CONFIG"
  rmdir "$ETC/sauropod" 2>/dev/null || true
  for dir in "${STATE_DIRS[@]}"; do
    if [ -d "$dir" ]; then
      while mountpoint -q "$dir/ns"; do umount "$dir/ns" || break; done
      rm -rf "$dir"
      say "purged $dir"
    fi
  done
else
  for dir in "${STATE_DIRS[@]}"; do
    [ -d "$dir" ] && say "kept the agent's state in $dir (--purge removes it)"
  done
fi
[ "$KEPT" = 0 ] || say "some changed files were kept (see above)"
say "done"
