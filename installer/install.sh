#!/usr/bin/env bash
# Installs Hearth from this checkout as a systemd service:
#   sudo installer/install.sh            (needs node 20+ and npm on the machine)
# Copies the code to /opt/hearth, installs production dependencies from the lockfile, creates
# the hearth user, /var/lib/hearth (data) and /etc/hearth/config.yaml (from the example, with
# data_dir set), runs `hearth init` as hearth (which prints a new admin token here), then enables
# and starts the service. Re-running it upgrades in place and keeps the data and the config.
# The server secret stays in a file: a system service has no Secret Service session for
# secrets.store: keychain.
set -eu

main() {
  local src prefix=/opt/hearth data=/var/lib/hearth etc=/etc/hearth
  src="$(cd "$(dirname "$0")/.." && pwd)"
  [ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root (sudo)" >&2; exit 1; }
  command -v node >/dev/null || { echo "install.sh: node 20+ is required" >&2; exit 1; }
  node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || { echo "install.sh: node 20+ is required" >&2; exit 1; }

  id hearth >/dev/null 2>&1 || useradd --system --home-dir "$data" --shell /usr/sbin/nologin hearth
  # GPU device nodes are group-owned by video/render on most distributions.
  for g in video render; do getent group "$g" >/dev/null && usermod -aG "$g" hearth; done

  mkdir -p "$prefix" "$data" "$etc"
  cp -a "$src/package.json" "$src/package-lock.json" "$src/tsconfig.json" "$src/bin" "$src/src" "$src/scripts" "$src/openapi" "$src/config.example.yaml" "$src/README.md" "$prefix/"
  (cd "$prefix" && npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev)

  if [ ! -f "$etc/config.yaml" ]; then
    sed "s|^data_dir: .*|data_dir: $data|" "$src/config.example.yaml" > "$etc/config.yaml"
    chmod 0640 "$etc/config.yaml"
    chgrp hearth "$etc/config.yaml"
  fi
  chown -R hearth:hearth "$data"
  chmod 0700 "$data"
  # init before the first start, as the service's user with the service's config: it makes the
  # server secret, the admin token and the database, and prints a new token here, on the
  # installer's terminal. The daemon would make them too, but it never prints the token (its
  # stdout is the journal). On an upgrade it only says where the token is.
  (cd "$data" && runuser -u hearth -- "$(command -v node)" "$prefix/bin/hearth.js" init --config "$etc/config.yaml")

  install -m 0644 "$src/systemd/hearth.service" /etc/systemd/system/hearth.service
  systemctl daemon-reload
  systemctl enable --now hearth.service
  echo "Hearth is running. The admin token is in $data/admin-token (readable by root and hearth)."
  echo "Create a key:  sudo -u hearth node $prefix/bin/hearth.js keys create --workspace NAME --plan paid_chat --config $etc/config.yaml"
}

main "$@"
