#!/usr/bin/env bash
# Installs Hearth from this checkout as a systemd service, upgrades it, or removes it.
#
#   sudo installer/install.sh                  install, or upgrade in place (keeps data and config)
#   sudo installer/install.sh --uninstall      remove the service and the code; keep data and config
#   sudo installer/install.sh --uninstall --purge    … and the data, the config and the hearth user
#
# Options:
#   --listen HOST:PORT   the address of a new config (default: config.example.yaml's)
#   --root DIR           install under DIR, as packagers use DESTDIR: /opt/hearth, /etc/hearth,
#                        /var/lib/hearth and /etc/systemd/system become DIR/opt/hearth, … while the
#                        files still name the real paths. No user is made, nothing is started, no
#                        systemctl, and every file belongs to whoever runs this (the owners the
#                        real install gives are listed below); for packaging and for the tests.
#   --node-modules DIR   link DIR as the install's node_modules (a checkout's, after npm ci)
#                        instead of running npm ci, which needs the network; DIR is used as it is,
#                        nothing is pruned from it.
#
# Layout and owners (real install):
#   /opt/hearth                     code, built here (npm ci, build, then dev dependencies pruned); root
#   /etc/hearth/config.yaml         root:hearth 0640, made once from config.example.yaml, then kept
#   /etc/hearth/server-secret       root:root 0600: the HMAC key of every API key, given to the
#                                   service as the systemd credential server-secret
#   /var/lib/hearth                 hearth:hearth 0700: database, models, admin token
#   /etc/systemd/system/hearth.service   root 0644
#   /opt/hearth/bin/hearth-admin    runs a hearth CLI command as the service would (root only)
# An upgrade builds the new code beside the old one and swaps them only once the build has
# worked; the daemon migrates the database when it starts.
set -euo pipefail
umask 022

src="$(cd "$(dirname "$0")/.." && pwd)"
prog=install.sh

die() {
  echo "$prog: $*" >&2
  exit 1
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

root=''
node_modules=''
listen=''
uninstall=0
purge=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || die "--root needs a folder"; root="$2"; shift 2 ;;
    --root=*) root="${1#*=}"; shift ;;
    --node-modules) [ $# -ge 2 ] || die "--node-modules needs a folder"; node_modules="$2"; shift 2 ;;
    --node-modules=*) node_modules="${1#*=}"; shift ;;
    --listen) [ $# -ge 2 ] || die "--listen needs HOST:PORT"; listen="$2"; shift 2 ;;
    --listen=*) listen="${1#*=}"; shift ;;
    --uninstall) uninstall=1; shift ;;
    --purge) purge=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ "$purge" -eq 0 ] || [ "$uninstall" -eq 1 ] || die "--purge goes with --uninstall"
if [ "$uninstall" -eq 1 ] && { [ -n "$node_modules" ] || [ -n "$listen" ]; }; then
  die "--uninstall takes only --root and --purge"
fi

# The real paths, as the unit, the config and the messages name them; $root prefixes them on disk.
PREFIX=/opt/hearth
ETC=/etc/hearth
DATA=/var/lib/hearth
UNIT_DIR=/etc/systemd/system
if [ -n "$root" ]; then
  mkdir -p "$root" || die "cannot make --root $root"
  root="$(cd "$root" && pwd)"
  [ "$root" != / ] || root=''
fi
prefix="$root$PREFIX"
etc="$root$ETC"
data="$root$DATA"
unit="$root$UNIT_DIR/hearth.service"
staged="$prefix.new"
previous="$prefix.old"

if [ -n "$root" ]; then
  # No service user under a staging root: the files are this user's.
  owner="$(id -un)"
  group="$(id -gn)"
  systemd=0
else
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo), or give --root DIR to install into a folder"
  owner=hearth
  group=hearth
  systemd=1
  command -v systemctl >/dev/null || die "systemctl not found: this installer sets Hearth up as a systemd service (use --root DIR to only lay the files out)"
fi

uninstall_hearth() {
  if [ "$systemd" -eq 1 ]; then
    systemctl disable --now hearth.service 2>/dev/null || true
  fi
  rm -f "$unit"
  [ "$systemd" -eq 0 ] || systemctl daemon-reload
  # rm -r does not follow links: a --node-modules link goes, its target stays.
  rm -rf "$prefix" "$staged" "$previous"
  if [ "$purge" -eq 1 ]; then
    rm -rf "$data" "$etc"
    if [ "$systemd" -eq 1 ] && id hearth >/dev/null 2>&1; then userdel hearth || true; fi
    echo "Hearth removed: service, code, data ($DATA), config and server secret ($ETC)."
  else
    echo "Hearth removed: service and code. Kept: the data in $DATA and the config and server secret in $ETC"
    echo "(install again to use them, or remove them with --uninstall --purge)."
  fi
}

if [ "$uninstall" -eq 1 ]; then
  uninstall_hearth
  exit 0
fi

# --- checks, before anything is changed ---------------------------------------------------

# The Node the package asks for (package.json's engines.node, ">=N"), read without node: the node
# on PATH is what is being checked.
need_major="$(sed -n 's/^ *"node": *">= *\([0-9][0-9]*\).*/\1/p' "$src/package.json" | head -n 1)"
[ -n "$need_major" ] || die "cannot read engines.node from $src/package.json"
node_bin="$(command -v node || true)"
[ -n "$node_bin" ] || die "node not found on PATH: Hearth needs Node.js $need_major or newer (https://nodejs.org, or your distribution's nodejs package)"
node_version="$("$node_bin" --version 2>/dev/null || true)"
node_major="$(printf '%s' "$node_version" | sed -n 's/^v\([0-9][0-9]*\)\..*/\1/p')"
[ -n "$node_major" ] || die "$node_bin --version printed '$node_version', not a Node.js version: Hearth needs Node.js $need_major or newer"
[ "$node_major" -ge "$need_major" ] || die "$node_bin is Node.js $node_version; Hearth needs $need_major or newer: upgrade Node.js, or put a newer node first on PATH"
node_bin="$(readlink -f "$node_bin")"
if [ "$systemd" -eq 1 ]; then
  case "$node_bin" in
    /home/* | /root/* | /run/user/*) die "node is $node_bin, in a home directory the service cannot read (ProtectHome=): install Node.js system-wide (e.g. /usr/bin/node, /usr/local/bin/node)" ;;
  esac
fi

if [ -n "$node_modules" ]; then
  [ -d "$node_modules" ] || die "--node-modules $node_modules is not a folder"
  node_modules="$(readlink -f "$node_modules")"
else
  command -v npm >/dev/null || die "npm not found on PATH: it installs Hearth's dependencies (it comes with Node.js)"
fi

if [ -e "$data" ]; then
  data_owner="$(stat -c %U "$data")"
  [ "$data_owner" = "$owner" ] || die "the data dir $data belongs to $data_owner, not $owner: if it is Hearth's, chown -R $owner:$group $data; else move it away"
fi

upgrade=0
[ -e "$prefix/package.json" ] && upgrade=1
if [ -n "$listen" ]; then
  [ ! -e "$etc/config.yaml" ] || die "--listen sets the address of a new config; $etc/config.yaml exists: edit its listen instead"
  # Only the characters of HOST:PORT; the config check below parses it as the daemon will.
  case "$listen" in *[!A-Za-z0-9.:\[\]-]*) die "--listen $listen is not HOST:PORT such as 127.0.0.1:8080" ;; esac
fi

# --- the code, built beside the running one -----------------------------------------------

rm -rf "$staged"
mkdir -p "$staged"
cp -R "$src/package.json" "$src/package-lock.json" "$src/tsconfig.json" "$src/bin" "$src/src" "$src/scripts" \
  "$src/openapi" "$src/config.example.yaml" "$src/README.md" "$staged/"
install -m 0755 "$src/installer/hearth-admin.sh" "$staged/bin/hearth-admin"
sed -i "s|^NODE=.*|NODE=$node_bin|" "$staged/bin/hearth-admin"
if [ -n "$node_modules" ]; then
  ln -s "$node_modules" "$staged/node_modules"
  (cd "$staged" && npm run --silent build >/dev/null) || die "the build failed in $staged (the installed version, if any, is untouched)"
else
  # npm ci builds too (the package's prepare script); then the build tools go.
  (cd "$staged" && npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund) ||
    die "npm ci failed in $staged (the installed version, if any, is untouched)"
fi
[ "$systemd" -eq 0 ] || chown -R root:root "$staged"

# --- the config, checked with the code that will read it ----------------------------------

etc_existed=0
[ ! -d "$etc" ] || etc_existed=1
mkdir -p "$etc"
chmod 0750 "$etc"
[ "$systemd" -eq 0 ] || chown root:"$group" "$etc"
new_config=0
if [ ! -e "$etc/config.yaml" ]; then
  new_config=1
  edits=(-e "s|^data_dir: .*|data_dir: $DATA|")
  [ -z "$listen" ] || edits+=(-e "s|^listen: .*|listen: $listen|")
  sed "${edits[@]}" "$src/config.example.yaml" >"$etc/config.yaml.new"
  mv "$etc/config.yaml.new" "$etc/config.yaml"
fi
chmod 0640 "$etc/config.yaml"
[ "$systemd" -eq 0 ] || chown root:"$group" "$etc/config.yaml"

service_active=0
[ "$systemd" -eq 0 ] || ! systemctl is-active --quiet hearth.service || service_active=1
# Loads the config as the daemon will (a typo stops here, not at start), prints the URL clients
# use, and, unless the running service holds it, checks that the listen address is free.
check="$(cd "$staged" && "$node_bin" --input-type=module - "$staged" "$etc/config.yaml" "$service_active" <<'JS'
const [stagedDir, configFile, serviceActive] = process.argv.slice(2);
const { loadConfig } = await import(`${stagedDir}/dist/src/config/load.js`);
const { formatHostPort } = await import(`${stagedDir}/dist/src/config/host-port.js`);
const net = await import('node:net');
let config;
try {
  config = loadConfig({ file: configFile, env: {}, defaultFile: null });
} catch (err) {
  console.log(`fail ${configFile}: ${String(err.message).replace(/\n+/g, '; ')}`);
  process.exit(0);
}
const { host, port } = config.listen;
const listen = formatHostPort(config.listen);
const shown = host === '0.0.0.0' || host === '::' ? { host: 'THIS-HOST', port } : config.listen;
console.log(`url ${config.publicBaseUrl || `http://${formatHostPort(shown)}`}`);
if (serviceActive === '1') process.exit(0);
const server = net.createServer();
server.once('error', (err) => {
  const why = err.code === 'EADDRINUSE' ? 'is in use by another process (ss -ltnp shows which)'
    : err.code === 'EADDRNOTAVAIL' ? 'is not an address of this machine'
    : err.code === 'EACCES' ? 'needs a privilege the service does not have (a port below 1024)'
    : `cannot be listened on (${err.code})`;
  console.log(`fail listen ${listen} in ${configFile} ${why}: stop that process or change listen`);
});
server.listen({ host, port, exclusive: true }, () => server.close());
JS
)" || die "could not check the config with node ($node_bin)"
problem="$(printf '%s\n' "$check" | sed -n 's/^fail //p')"
if [ -n "$problem" ]; then
  [ "$new_config" -eq 0 ] || rm -f "$etc/config.yaml"
  [ "$etc_existed" -eq 1 ] || rmdir "$etc"
  rm -rf "$staged"
  die "$problem"
fi
url="$(printf '%s\n' "$check" | sed -n 's/^url //p')"

# --- the service user, the server secret, the data dir --------------------------------------

if [ "$systemd" -eq 1 ]; then
  id hearth >/dev/null 2>&1 || useradd --system --user-group --home-dir "$DATA" --shell /usr/sbin/nologin hearth
  # GPU device nodes are group-owned by video/render on most distributions.
  for g in video render; do
    if getent group "$g" >/dev/null; then usermod -aG "$g" hearth; fi
  done
fi

secret="$etc/server-secret"
moved_secret=0
if [ ! -s "$secret" ]; then
  (
    umask 077
    if [ -s "$data/server-secret" ]; then
      # An install from before credentials: the secret moves out of the service's reach.
      cp "$data/server-secret" "$secret.new"
    else
      od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$secret.new"
      echo >>"$secret.new"
    fi
  )
  [ ! -s "$data/server-secret" ] || moved_secret=1
  mv "$secret.new" "$secret"
fi
chmod 0600 "$secret"
[ "$systemd" -eq 0 ] || chown root:root "$secret"

mkdir -p "$data"
chmod 0700 "$data"
init_output=''
if [ ! -e "$data/hearth.db" ]; then
  # A new data dir: init makes the admin token and the database, and prints the token on this
  # terminal (the daemon never prints it: its stdout is the journal). It runs with the secret as
  # the service will get it; as root, so it can read it; the data dir is given to hearth below.
  init_output="$(cd "$data" && CREDENTIALS_DIRECTORY="$etc" "$node_bin" "$staged/bin/hearth.js" init --config "$etc/config.yaml" --data-dir "$data")" ||
    die "hearth init failed on $data"
fi
[ "$moved_secret" -eq 0 ] || rm -f "$data/server-secret"
[ "$systemd" -eq 0 ] || chown -R "$owner:$group" "$data"

# --- swap in the new code and the unit, then (re)start ----------------------------------------

[ "$service_active" -eq 0 ] || systemctl stop hearth.service
rm -rf "$previous"
[ ! -e "$prefix" ] || mv "$prefix" "$previous"
mv "$staged" "$prefix"
# The staged build ran in $staged; nothing in it names that path, so the move is safe.
mkdir -p "$root$UNIT_DIR"
sed "s|^ExecStart=/usr/bin/node |ExecStart=$node_bin |" "$src/systemd/hearth.service" >"$unit.new"
chmod 0644 "$unit.new"
mv "$unit.new" "$unit"
if [ "$systemd" -eq 1 ]; then
  systemctl daemon-reload
  systemctl enable --quiet hearth.service
  systemctl restart hearth.service
fi
rm -rf "$previous"

# --- what next -----------------------------------------------------------------------------

version="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$prefix/package.json" | head -n 1)"
echo
if [ -n "$init_output" ]; then
  printf '%s\n\n' "$init_output"
fi
if [ "$upgrade" -eq 1 ]; then
  echo "Hearth upgraded to $version; the data in $DATA and the config in $ETC/config.yaml were kept."
else
  echo "Hearth $version installed."
fi
[ "$moved_secret" -eq 0 ] || echo "The server secret moved from $DATA/server-secret to $ETC/server-secret (root only); the service gets it as a credential."
if [ "$systemd" -eq 1 ]; then
  echo "The service is started (systemctl status hearth; logs: journalctl -u hearth -f);"
  echo "on an upgrade it migrates the database as it starts."
else
  echo "Laid out under $root (--root): nothing was started. As root on the target:"
  echo "  useradd --system --user-group --home-dir $DATA hearth; chown -R hearth:hearth $DATA"
  echo "  chown root:hearth $ETC $ETC/config.yaml; systemctl daemon-reload; systemctl enable --now hearth"
fi
cat <<EOF

Next steps:
  Admin token:   sudo cat $DATA/admin-token
  Console:       $url/admin/   (sign in with the admin token)
  API reference: $url/docs/
  Create a key:  in the console (Keys), or
                 sudo $PREFIX/bin/hearth-admin keys create --workspace NAME --plan paid_chat
  Config:        $ETC/config.yaml (then: sudo systemctl restart hearth)
EOF
