#!/bin/sh
# Open the course in JupyterLab, offline, with this bundle's caches (after ./install.sh).
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$here/course.env" ] || { echo "lab.sh: not installed yet: run ./install.sh first" >&2; exit 1; }
. "$here/course.env"
[ "$(id -u)" = 0 ] && set -- --allow-root "$@"
cd "$here/course" && exec "$here/venv/bin/jupyter" lab notebooks/ "$@"
