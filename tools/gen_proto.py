#!/usr/bin/env python3
"""Regenerate the committed gRPC code in proto/ from the .proto files.

Compiled with the virtual include path ``-I vdvs/proto=proto`` so the generated
modules import each other as ``from vdvs.proto import x_pb2``.

    python tools/gen_proto.py           # rewrite proto/*_pb2*.py(i)
    python tools/gen_proto.py --check   # exit 1 if the committed code is stale
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def generate(out_dir: Path) -> list[Path]:
    """Compile every proto/*.proto into out_dir; return the generated files."""
    import grpc_tools
    from grpc_tools import protoc

    include = Path(grpc_tools.__file__).parent / "_proto"
    sources = sorted(p.name for p in PROTO_DIR.glob("*.proto"))
    args = [
        "protoc",
        f"-I{include}",
        f"-Ivdvs/proto={PROTO_DIR}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *[f"vdvs/proto/{name}" for name in sources],
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted((out_dir / "vdvs" / "proto").iterdir())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare, do not write")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = {p.name: p for p in generate(Path(tmp))}
        committed = {p.name: p for p in PROTO_DIR.iterdir() if p.name.endswith(GENERATED_SUFFIXES)}
        stale = sorted(
            name
            for name in fresh.keys() | committed.keys()
            if name not in fresh
            or name not in committed
            or not filecmp.cmp(fresh[name], committed[name], shallow=False)
        )
        if opts.check:
            for name in stale:
                print(f"stale generated file: proto/{name}", file=sys.stderr)
            return 1 if stale else 0
        for name in stale:
            if name in fresh:
                (PROTO_DIR / name).write_bytes(fresh[name].read_bytes())
            else:
                (PROTO_DIR / name).unlink()
        print(f"regenerated {len(stale)} file(s)" if stale else "generated code is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
