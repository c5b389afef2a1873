#!/usr/bin/env bash
# Build the vdvs Docker managed plugin: OUT_DIR/config.json + OUT_DIR/rootfs, ready for
#   docker plugin create vsphere OUT_DIR
#   docker plugin set vsphere VDVS_BROKER=broker.example:7643 bundle.source=/etc/vdvs/bundle
#   docker plugin enable vsphere
# or, with --push, push it to a registry, from where Docker hosts install it:
#   docker plugin install --grant-all-permissions --alias vsphere REGISTRY/vdvs/vsphere:TAG \
#     VDVS_BROKER=broker.example:7643 VDVS_BUNDLE_B64="$(tar -C BUNDLE_DIR -cz ca.pem vm.pem vm.key | base64 -w0)"
# The rootfs is self-contained (~135 MB, ~5 s): this host's Python and its standard library, vdvs
# and its runtime dependencies from the environment vdvs is installed in, mount/blkid/mkfs.*, and
# the shared libraries they need. Nothing is downloaded. See docs/deploy.md.
#
# Usage: packaging/build-managed-plugin.sh [--version X] [--push REGISTRY/NAME:TAG] [OUT_DIR]
#   --version X  the version the plugin reports (written into the build's copy of proto/version.py;
#                the tree is not touched) [default: the tree's VERSION]
#   --push REF   create the plugin as REF in the Docker engine of DOCKER_HOST, push it, and remove it
#                from that engine again (OUT_DIR optional: a temporary one is used and removed)
# Env:   VDVS_PYTHON  the Python of the environment vdvs is installed in (default: .venv/bin/python
#                     of this checkout, else python3)
#        DOCKER       the docker CLI to push with (default: docker)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
usage="usage: $0 [--version X] [--push REGISTRY/NAME:TAG] [OUT_DIR]"
VERSION_ARG=()
PUSH=""
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; VERSION_ARG=(--version "$2"); shift 2 ;;
    --push) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; PUSH="$2"; shift 2 ;;
    -h|--help) echo "$usage"; exit 0 ;;
    -*) echo "unknown option $1; $usage" >&2; exit 2 ;;
    *) [ -z "$OUT" ] || { echo "$usage" >&2; exit 2; }; OUT="$1"; shift ;;
  esac
done
if [ ${#VERSION_ARG[@]} -gt 0 ] && ! [[ "${VERSION_ARG[1]}" =~ ^[0-9][0-9A-Za-z.+-]{0,63}$ ]]; then
  echo "--version '${VERSION_ARG[1]}': give a version such as 0.2.0 or 0.2.0.dev1" >&2
  exit 2
fi
if [ -n "$PUSH" ]; then
  # REGISTRY/NAME:TAG with an explicit registry host (a dot, a colon or localhost before the first slash)
  [[ "$PUSH" =~ ^([a-z0-9.-]+(:[0-9]+)?)/[a-z0-9._/-]+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] &&
    [[ "${BASH_REMATCH[1]}" == *[.:]* || "${BASH_REMATCH[1]}" == localhost* ]] ||
    { echo "--push $PUSH: give REGISTRY/NAME:TAG, e.g. registry.example:5000/vdvs/vsphere:0.2.0" >&2; exit 2; }
fi
TEMP_OUT=""
if [ -z "$OUT" ]; then
  [ -n "$PUSH" ] || { echo "$usage" >&2; exit 2; }
  TEMP_OUT="$(mktemp -d -t vdvs-plugin-XXXXXX)"
  OUT="$TEMP_OUT"
fi
DOCKER="${DOCKER:-docker}"
PY="${VDVS_PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x "$HERE/../.venv/bin/python" ]; then PY="$HERE/../.venv/bin/python"; else PY=python3; fi
fi
"$PY" -c 'import vdvs.cli.main' 2>/dev/null || { echo "vdvs is not installed for $PY (set VDVS_PYTHON)" >&2; exit 1; }

cleanup() {
  if [ -n "$PUSH" ]; then "$DOCKER" plugin rm -f "$PUSH" >/dev/null 2>&1 || true; fi
  if [ -n "$TEMP_OUT" ]; then rm -rf "$TEMP_OUT"; fi
}
trap cleanup EXIT

rm -rf "$OUT/rootfs"
mkdir -p "$OUT"
cp "$HERE/managed-plugin/config.json" "$OUT/config.json"
"$PY" "$HERE/managed-plugin/assemble_rootfs.py" "${VERSION_ARG[@]}" "$OUT/rootfs"

# Self-check (root only: chroot): the entrypoint and the commands it runs start inside the rootfs.
if [ "$(id -u)" -eq 0 ]; then
  timeout 60 chroot "$OUT/rootfs" /opt/vdvs/bin/vdvs plugin --help >/dev/null
  for tool in /usr/bin/mount /usr/bin/umount /usr/sbin/blkid /usr/sbin/mkfs.ext4; do
    timeout 30 chroot "$OUT/rootfs" "$tool" -V >/dev/null 2>&1 || { echo "$tool does not run in the rootfs" >&2; exit 1; }
  done
fi
if [ -z "$PUSH" ]; then
  echo "managed plugin in $OUT ($(du -sh "$OUT/rootfs" | cut -f1)): docker plugin create vsphere $OUT" >&2
  exit 0
fi

# Push: the engine packs the plugin (config + rootfs layer) and uploads it; a plugin of that name
# already in this engine is an error (it would be pushed instead of this build).
if "$DOCKER" plugin inspect "$PUSH" >/dev/null 2>&1; then
  PUSH_KEEP="$PUSH"; PUSH=""
  echo "plugin $PUSH_KEEP already exists in this Docker engine: remove it (docker plugin rm) or push another tag" >&2
  exit 1
fi
timeout 900 "$DOCKER" plugin create "$PUSH" "$OUT" >/dev/null
if ! timeout 900 "$DOCKER" plugin push "$PUSH" >"$OUT/push.log" 2>&1; then
  echo "docker plugin push $PUSH failed: $(tail -n 1 "$OUT/push.log")" >&2
  exit 1
fi
echo "pushed $PUSH ($(du -sh "$OUT/rootfs" | cut -f1) rootfs): docker plugin install --grant-all-permissions --alias vsphere $PUSH VDVS_BROKER=... VDVS_BUNDLE_B64=..." >&2
