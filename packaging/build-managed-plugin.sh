#!/usr/bin/env bash
# Build the vdvs Docker managed plugin: OUT_DIR/config.json + OUT_DIR/rootfs, ready for
#   docker plugin create vsphere OUT_DIR
#   docker plugin set vsphere VDVS_BROKER=broker.example:7643 bundle.source=/etc/vdvs/bundle
#   docker plugin enable vsphere
# The rootfs is self-contained (~135 MB, ~5 s): this host's Python and its standard library, vdvs
# and its runtime dependencies from the environment vdvs is installed in, mount/blkid/mkfs.*, and
# the shared libraries they need. Nothing is downloaded. See docs/deploy.md.
#
# Usage: packaging/build-managed-plugin.sh OUT_DIR
# Env:   VDVS_PYTHON  the Python of the environment vdvs is installed in (default: .venv/bin/python
#                     of this checkout, else python3)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${1:?usage: $0 OUT_DIR}"
PY="${VDVS_PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x "$HERE/../.venv/bin/python" ]; then PY="$HERE/../.venv/bin/python"; else PY=python3; fi
fi
"$PY" -c 'import vdvs.cli.main' 2>/dev/null || { echo "vdvs is not installed for $PY (set VDVS_PYTHON)" >&2; exit 1; }

rm -rf "$OUT/rootfs"
mkdir -p "$OUT"
cp "$HERE/managed-plugin/config.json" "$OUT/config.json"
"$PY" "$HERE/managed-plugin/assemble_rootfs.py" "$OUT/rootfs"

# Self-check (root only: chroot): the entrypoint and the commands it runs start inside the rootfs.
if [ "$(id -u)" -eq 0 ]; then
  timeout 60 chroot "$OUT/rootfs" /opt/vdvs/bin/vdvs plugin --help >/dev/null
  for tool in /usr/bin/mount /usr/bin/umount /usr/sbin/blkid /usr/sbin/mkfs.ext4; do
    timeout 30 chroot "$OUT/rootfs" "$tool" -V >/dev/null 2>&1 || { echo "$tool does not run in the rootfs" >&2; exit 1; }
  done
fi
echo "managed plugin in $OUT ($(du -sh "$OUT/rootfs" | cut -f1)): docker plugin create vsphere $OUT" >&2
