#!/usr/bin/env bash
# sudo /opt/hearth/bin/hearth-admin COMMAND …   (install.sh puts it there)
# Runs a hearth CLI command (keys, workspaces, plans, usage, endpoints, models) the way the
# service runs: as the hearth user, with /etc/hearth/config.yaml (the CLI's default config) and
# the server secret handed over as the same systemd credential the unit loads. Run as another
# user, or without the credential, a command could not make keys the daemon accepts: the secret
# file is root's alone.
set -eu
NODE=/usr/bin/node
[ "$(id -u)" -eq 0 ] || { echo "hearth-admin: run as root (sudo): the server secret is readable by root only" >&2; exit 1; }
exec systemd-run --quiet --pipe --wait --collect --service-type=exec \
  --uid=hearth --gid=hearth --working-directory=/var/lib/hearth \
  -p LoadCredential=server-secret:/etc/hearth/server-secret -p UMask=0077 \
  "$NODE" /opt/hearth/bin/hearth.js "$@"
