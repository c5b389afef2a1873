"""Hostile input on the plugin socket: 10,000 generated requests (hypothesis) against a real plugin
and broker. Bad JSON, wrong types, unknown endpoints and methods, path-traversal names, NUL
bytes, 1 MB names, bodies over the limit, hostile options. Every answer is a clear ``Err``
(JSON, Docker's plugin content type, no internal error), nothing appears outside the mount root
or ``dockvols/``, and the plugin still serves a normal request afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testkit.system import cleanup_host
from tests.reliability.served import Served
from vdvs.plugin.protocol import MAX_BODY, ROUTES

CONTENT_TYPE = "application/vnd.docker.plugins.v1.2+json"
EXAMPLES = int(os.environ.get("VDVS_FUZZ_EXAMPLES", "10000"))
MARK = f"fz{secrets.token_hex(4)}"  # in every traversal name, so an escape is found by name
BIG_NAME = "a" * 1_000_000
HUGE_BODY = b'{"Name": "' + b"x" * (MAX_BODY + 10) + b'"}'
HOSTILE_NAMES = [
    f"../{MARK}",
    f"../../{MARK}",
    f"../../../../../../../../tmp/{MARK}",
    f"/tmp/{MARK}",
    f"..\\{MARK}",
    f"{MARK}/../../x",
    "..",
    ".",
    f"{MARK}\x00x",
    "\x00",
    f"{MARK}@../..",
    f"{MARK}@local1/../../x",
    f"{MARK}@",
    "@",
    "a@b@c",
    "x" * 101,
    "v-123456",
    BIG_NAME,
    f"{MARK}\n\r\t",
    "\ud800",  # a lone surrogate: valid JSON escape, not encodable as UTF-8
    f"{MARK}%2e%2e%2f",
]
names = st.one_of(st.sampled_from(HOSTILE_NAMES), st.text(max_size=40), st.just(f"{MARK}ok"))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
option_values = st.one_of(
    st.sampled_from(
        ["1mb", "8mb", "-1mb", "0mb", "99999999999999999999tb", "1.5gb", "thin", "ext4", "xfs", "../../bin/sh"]
    ),
    st.sampled_from(["read-only", "persistent", f"../{MARK}", "ext4; touch /tmp/" + MARK, "\x00"]),
    st.text(max_size=20),
    json_values,
)
option_keys = st.sampled_from(["size", "fstype", "diskformat", "access", "attach-as", "clone-from", "vsan-policy-name"])
options = st.one_of(
    st.none(), st.dictionaries(option_keys | st.text(max_size=10), option_values, max_size=4), json_values
)
fields = st.fixed_dictionaries(
    {},
    optional={"Name": names | json_values, "Opts": options, "ID": st.text(max_size=70) | json_values},
)
bodies = st.one_of(
    fields.map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.sampled_from([b"", b"{", b"null", b"[]", b'{"Name": null}', b'{"Name": "\\u0000"}', b"\xff\xfe", HUGE_BODY]),
)
ODD_PATHS = ["/", "/VolumeDriver.Nope", "/../../etc/passwd", "/Plugin.Activate/x", f"/{MARK}", "/%00"]
known_paths = st.sampled_from(sorted(ROUTES) * 4 + ODD_PATHS)
random_paths = st.text(alphabet="/abcXYZ.%-_", max_size=30).map(lambda s: "/" + s)
endpoints = st.integers(0, 9).flatmap(lambda roll: random_paths if roll == 0 else known_paths)
methods = st.sampled_from(["POST"] * 8 + ["GET", "PUT", "DELETE"])


def all_paths(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*")}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if os.geteuid() != 0:
        pytest.skip("needs root: a generated Create + Mount attaches and mounts")
    root = Path(tmp_path_factory.mktemp("fz", numbered=True))
    served = Served(root)
    served.start()
    try:
        yield served
    finally:
        served.stop()
        cleanup_host(root)


def test_hostile_requests_get_clear_errs(served: Served) -> None:
    assert served.config is not None
    root = served.root
    allowed = (str(served.config.mount_root), *(str(p / "dockvols") for p in root.joinpath("datastores").iterdir()))
    before = all_paths(root)
    tmp_before, top_before = set(os.listdir("/tmp")), set(os.listdir("/"))
    seen: Counter[str] = Counter()
    problems: list[str] = []

    def check(method: str, path: str, body: bytes) -> None:
        answer = served.post(path, body, method, {"Content-Type": "application/json"})
        seen[f"{answer.status}"] += 1
        assert answer.content_type.split(";")[0] == CONTENT_TYPE, (method, path, body[:200], answer)
        reply: Any = answer.json()
        assert isinstance(reply, dict), reply
        err = reply.get("Err", "")
        assert isinstance(err, str)
        if answer.status == 200:
            assert err == "", reply
        else:
            assert answer.status in (404, 405, 413, 500), answer
            assert err.strip(), reply
            if "internal error in vdvs plugin" in err or "Traceback" in err:
                problems.append(f"{method} {path} {body[:120]!r}: {err[:300]}")

    # every hostile name on every verb, once, before the generated ones
    for route in sorted(ROUTES):
        for name in HOSTILE_NAMES:
            check("POST", route, json.dumps({"Name": name, "ID": name, "Opts": {"clone-from": name}}).encode())

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(method=methods, path=endpoints, body=bodies)
    def one(method: str, path: str, body: bytes) -> None:
        check(method, path, body)

    one()
    print(f"fuzz: {EXAMPLES} examples, answers by status {dict(seen)}, unclear: {len(problems)}")
    # nothing outside the mount root and dockvols/ (besides the broker's and plugin's own files)
    new = sorted(p for p in all_paths(root) - before if not p.startswith(allowed) and "/.vdvs-tmp" not in p)
    own = {str(root / "pstate"), str(root / "pstate" / "mounts.json")}
    assert [p for p in new if p not in own and not p.endswith(("-wal", "-shm", ".tmp"))] == []
    assert MARK not in "".join(set(os.listdir("/tmp")) - tmp_before)
    assert MARK not in "".join(set(os.listdir("/")) - top_before)
    assert not any(MARK in p for p in all_paths(root) if not p.startswith(allowed)), "a traversal name escaped"
    # malformed HTTP framing: no crash (aiohttp answers 400 itself)
    for raw in (b"GARBAGE\r\n\r\n", b"POST /VolumeDriver.List HTTP/1.1\r\nContent-Length: -5\r\n\r\n", b"\x00" * 64):
        served.raw(raw)
    # still serving: a normal lifecycle through the same socket
    name = f"{MARK}-after"
    for verb, body in [
        ("Create", {"Name": name, "Opts": {"size": "8mb"}}),
        ("Get", {"Name": name}),
        ("Remove", {"Name": name}),
    ]:
        answer = served.post(f"/VolumeDriver.{verb}", json.dumps(body).encode())
        assert (answer.status, answer.json().get("Err", "")) == (200, ""), (verb, answer)
    assert problems == [], f"{len(problems)} unclear answers:\n" + "\n".join(problems[:20])
