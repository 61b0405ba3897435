#!/usr/bin/env bash
# Installs sauropod on a node from a checkout of its repository. As root:
#
#   deploy/install.sh [--prefix DIR] [--etc DIR] [--bindir DIR] [--skip-packages] [--no-enable]
#
#   --prefix DIR     where the code goes (default /opt/sauropod); the checkout is copied,
#                    its npm modules and Deno's cache filled, so the agent never fetches
#                    code when it starts
#   --etc DIR        configuration root (default /etc): sauropod/config.toml, the systemd
#                    unit, cni/net.d, crictl.yaml; another root installs side by side (tests)
#   --bindir DIR     where the `sauropod` command goes (default /usr/local/bin)
#   --skip-packages  do not install Debian packages or Deno, only check for them
#   --no-enable      do not enable and start the unit even when systemd runs the node
#
# It installs the Debian packages the agent runs (runc, util-linux, CNI plugins, iptables,
# iproute2, kmod, and apparmor where the kernel has AppArmor on), Deno $DENO_VERSION from
# npm, the code, the config file (every key documented with its default; an existing one is
# kept), the default CNI network (only when the node has none: an operator's network is never
# replaced), /etc/crictl.yaml (only when absent) and the systemd unit; enables the unit when
# systemd is PID 1; and ends with `sauropod check`. Everything it creates is listed in
# <prefix>/.install-manifest, which deploy/uninstall.sh reads to remove exactly that. Running
# it again upgrades in place.
set -euo pipefail

DENO_VERSION=2.9.6
PACKAGES=(runc util-linux mount containernetworking-plugins iptables iproute2 procps kmod)
# Where the kernel has AppArmor on, the agent loads its default profile with apparmor_parser.
if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; then
  PACKAGES+=(apparmor)
fi
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

PREFIX=/opt/sauropod
ETC=/etc
BINDIR=/usr/local/bin
PACKAGES_STEP=install
ENABLE=yes

say() { printf 'sauropod install: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
usage() { sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
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
    --bindir) BINDIR=$(absolute "${2:-}" --bindir); shift 2 ;;
    --skip-packages) PACKAGES_STEP=check; shift ;;
    --no-enable) ENABLE=no; shift ;;
    -h | --help) usage ;;
    *) say "unknown option: $1"; usage ;;
  esac
done

[ "$(id -u)" = 0 ] || die "run me as root: the agent runs as root (mounts, namespaces, cgroups)"
[ -f "$SRC/main.ts" ] && [ -f "$SRC/deno.json" ] || die "$SRC is not a sauropod checkout"
case "$PREFIX" in "$SRC" | "$SRC"/*) die "--prefix $PREFIX is inside the checkout $SRC" ;; esac

CONFIG_DIR=$ETC/sauropod
CONFIG=$CONFIG_DIR/config.toml
UNIT=$ETC/systemd/system/sauropod.service
CNI_DIR=$ETC/cni/net.d
CRICTL=$ETC/crictl.yaml
WRAPPER=$BINDIR/sauropod
MANIFEST=$PREFIX/.install-manifest

# --- the manifest: what this install created, so uninstall removes exactly that ----------
# Entries are "dir <path>" or "file <path> <sha256 as installed>": uninstall keeps a file
# whose content changed since, so the checksum is the one of what was put there.
declare -a CREATED=()
if [ -f "$MANIFEST" ]; then
  # An upgrade: keep what the earlier install created and is still there.
  while read -r kind path sum; do
    [ -n "$path" ] && { [ -e "$path" ] || [ -L "$path" ]; } && CREATED+=("$kind $path${sum:+ $sum}")
  done <"$MANIFEST"
fi
# Records an entry, replacing an earlier one for the same path.
record() {
  local i e rest
  for i in "${!CREATED[@]}"; do
    e=${CREATED[i]}
    rest=${e#* }
    [ "${rest%% *}" = "$2" ] && { CREATED[i]="$*"; return 0; }
  done
  CREATED+=("$*")
}
# mkdir -p that records each directory it had to create, outermost first.
make_dir() {
  local dir=$1 missing=()
  while [ ! -d "$dir" ]; do missing=("$dir" "${missing[@]}"); dir=$(dirname "$dir"); done
  for dir in "${missing[@]}"; do mkdir -m 0755 "$dir"; record dir "$dir"; done
}
write_manifest() {
  printf '%s\n' "${CREATED[@]}" >"$MANIFEST.tmp"
  mv "$MANIFEST.tmp" "$MANIFEST"
}
# Installs $1 as $2 (mode $3) and records it.
put() {
  make_dir "$(dirname "$2")"
  install -m "$3" "$1" "$2.sauropod-tmp"
  mv "$2.sauropod-tmp" "$2"
  record file "$2" "$(sha256sum "$2" | cut -d' ' -f1)"
}

# --- 1. Debian packages and Deno ------------------------------------------------------------
missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}
mapfile -t MISSING < <(missing_packages "${PACKAGES[@]}")
if [ ${#MISSING[@]} -gt 0 ]; then
  [ "$PACKAGES_STEP" = install ] || die "missing Debian packages: ${MISSING[*]} (apt-get install -y ${MISSING[*]})"
  say "installing Debian packages: ${MISSING[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${MISSING[@]}" >/dev/null ||
    die "apt-get install ${MISSING[*]} failed"
else
  say "Debian packages present: ${PACKAGES[*]}"
fi

deno_ok() { command -v deno >/dev/null && deno --version 2>/dev/null | head -1 | grep -q "^deno $DENO_VERSION "; }
if ! deno_ok; then
  [ "$PACKAGES_STEP" = install ] || die "Deno $DENO_VERSION is missing (npm install -g deno@$DENO_VERSION)"
  if ! command -v npm >/dev/null; then
    say "installing npm to fetch Deno"
    apt-get install -y -qq --no-install-recommends npm >/dev/null || die "apt-get install npm failed"
  fi
  say "installing Deno $DENO_VERSION from npm"
  npm install -g --allow-scripts=deno "deno@$DENO_VERSION" >/dev/null 2>&1 ||
    npm install -g "deno@$DENO_VERSION" >/dev/null 2>&1 || die "npm install -g deno@$DENO_VERSION failed"
  hash -r
  deno_ok || die "deno on PATH is not $DENO_VERSION: $(command -v deno)"
fi
DENO=$(command -v deno)
say "Deno $DENO_VERSION: $DENO"

# --- 2. the code, its modules and Deno's cache, staged then swapped in ----------------------
CODE=(main.ts version.ts deno.json deno.lock README.md app cri runtime shim cgroups ffi config
  errors log streaming deploy tools/config_doc.ts api image lib lsm network oci store checkpoint
  metrics)
STAGE=$PREFIX.sauropod-new
rm -rf "$STAGE"
make_dir "$(dirname "$PREFIX")"
mkdir -m 0755 "$STAGE"
(cd "$SRC" && tar -cf - --exclude='*_test.ts' --exclude=testdata --exclude='*.sock' "${CODE[@]}") |
  (cd "$STAGE" && tar -xf -)
[ -d "$PREFIX/.deno" ] && mv "$PREFIX/.deno" "$STAGE/.deno"
say "fetching npm modules into $PREFIX"
(cd "$STAGE" && DENO_DIR="$STAGE/.deno" "$DENO" install --frozen --quiet >/dev/null 2>&1) ||
  (cd "$STAGE" && DENO_DIR="$STAGE/.deno" "$DENO" install --frozen) || die "deno install failed in $STAGE"
(cd "$STAGE" && DENO_DIR="$STAGE/.deno" "$DENO" cache --quiet main.ts) || die "deno cache failed"
# The agent bundles the shim at every start with `deno bundle`, whose esbuild comes from npm:
# fetch it now, so an offline node bundles too.
(cd "$STAGE" && DENO_DIR="$STAGE/.deno" "$DENO" bundle --quiet --no-config --no-lock --platform deno \
  shim/server/main.ts -o "$STAGE/.deno/shim-warm.js" >/dev/null 2>&1 && rm -f "$STAGE/.deno/shim-warm.js") ||
  echo "sauropod: warning: cannot prepare the shim bundler (shims will load main.ts)" >&2
if [ -d "$PREFIX" ]; then
  # Running shims keep the modules they loaded; new ones start from the new tree.
  mv "$PREFIX" "$PREFIX.sauropod-old"
  mv "$STAGE" "$PREFIX"
  rm -rf "$PREFIX.sauropod-old"
else
  mv "$STAGE" "$PREFIX"
  record dir "$PREFIX"
fi
chmod 0755 "$PREFIX"

# --- 3. the command ---------------------------------------------------------------------------
TMP=$(mktemp)
trap 'rm -f "$TMP"' EXIT
cat >"$TMP" <<EOF
#!/bin/sh
# sauropod, installed by deploy/install.sh: the agent's CLI, started under deno.json's
# launcher set; serve and check re-exec under the permissions their config calls for.
export DENO_DIR=$PREFIX/.deno DENO_NO_UPDATE_CHECK=1
exec $DENO run -P=agent --config=$PREFIX/deno.json --cached-only --no-prompt --quiet $PREFIX/main.ts "\$@"
EOF
put "$TMP" "$WRAPPER" 0755

# --- 4. the config file: kept when present ----------------------------------------------------
if [ -e "$CONFIG" ]; then
  say "keeping $CONFIG"
else
  SETS=()
  [ "$ETC" = /etc ] || SETS=(--set "cni.conf_dir=$CNI_DIR")
  DENO_DIR=$PREFIX/.deno "$DENO" run --cached-only --quiet --no-prompt --allow-read="$PREFIX" \
    "$PREFIX/tools/config_doc.ts" "${SETS[@]}" >"$TMP" || die "cannot render $CONFIG"
  put "$TMP" "$CONFIG" 0644
  say "wrote $CONFIG (every key documented, at its default)"
fi

# --- 5. the default CNI network, only on a node without one; 6. crictl's config, only when
# absent. deploy/defaults.ts holds both rules (./run start follows them too); it prints the
# path of what it wrote, which the manifest then lists.
# Runs `defaults.ts STEP ARGS…` allowed to write only in the directory $1 (where the file and
# its temporary sibling go).
defaults() {
  local dir=$1
  shift
  DENO_DIR=$PREFIX/.deno "$DENO" run --cached-only --quiet --no-prompt --allow-read="$PREFIX,$ETC" \
    --allow-write="$dir" "$PREFIX/deploy/defaults.ts" "$@" || die "deploy/defaults.ts $1 failed"
}
make_dir "$CNI_DIR"
WROTE=$(defaults "$CNI_DIR" network "$CNI_DIR")
[ -z "$WROTE" ] || record file "$WROTE" "$(sha256sum "$WROTE" | cut -d' ' -f1)"
WROTE=$(defaults "$(dirname "$CRICTL")" crictl "$CRICTL")
[ -z "$WROTE" ] || record file "$WROTE" "$(sha256sum "$WROTE" | cut -d' ' -f1)"

# --- 7. the unit ------------------------------------------------------------------------------
sed -e "s#/usr/bin/deno run#$DENO run#" \
  -e "s#/opt/sauropod#$PREFIX#g" \
  -e "s#/etc/sauropod/config.toml#$CONFIG#" \
  "$SRC/deploy/sauropod.service" >"$TMP"
put "$TMP" "$UNIT" 0644

write_manifest

if [ "$ENABLE" = yes ] && [ "$ETC" = /etc ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable sauropod.service
  # A restart of the unit leaves containers running (KillMode=process).
  systemctl restart sauropod.service
  say "enabled and started sauropod.service"
elif [ ! -d /run/systemd/system ]; then
  say "systemd is not running this node (PID 1 is $(cat /proc/1/comm 2>/dev/null || echo '?')):" \
    "the unit is installed but not enabled; start the agent with: $WRAPPER serve"
else
  say "unit installed as $UNIT, not enabled (enable with: systemctl enable --now sauropod)"
fi

# --- 8. preflight -----------------------------------------------------------------------------
say "running: $WRAPPER check --config $CONFIG"
"$WRAPPER" check --config "$CONFIG"
