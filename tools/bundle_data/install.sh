#!/bin/sh
# Install the course from this bundle, with no network (see README.txt): python3 install.py does the work.
# PYTHON=python3.11 ./install.sh picks the Python; ./install.sh --no-lab installs without opening JupyterLab.
here=$(cd "$(dirname "$0")" && pwd)
exec "${PYTHON:-python3}" "$here/install.py" "$@"
