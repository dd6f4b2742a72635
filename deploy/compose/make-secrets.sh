#!/bin/sh
# The docker compose trial's secret files (deploy/compose.yaml, docs/DEPLOY.md):
# writes a random database password to deploy/compose/secrets/db-password (or to
# the folder given as $1) unless one is there, and makes it what peerpulse accepts
# for the image's uid 10001: owned by root, group 10001, mode 0440 (the rule
# PostgreSQL has for its SSL key, and what a Kubernetes Secret volume with fsGroup
# looks like). Compose without swarm bind-mounts the file as it is on this machine.
# Needs root for the chown (runs it through sudo when not root). Exit 0 when done.
set -eu
dir=${1:-$(dirname "$0")/secrets}
file=$dir/db-password
umask 077
mkdir -p "$dir"
if [ ! -s "$file" ]; then
    head -c 24 /dev/urandom | base64 | tr -d '\n/+=' > "$file.new"
    mv "$file.new" "$file"
fi
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
as_root chmod 0440 "$file"
as_root chown 0:10001 "$file"
echo "$file: root:10001 0440"
