"""Both stores: join tokens are kept hashed, their uses are taken atomically (of N joins racing for one
use, one wins), expired, used-up and wrong ones are refused, and renewed certificates are revoked
when their grace has passed."""

from __future__ import annotations

import threading
import time

import pytest

from tests.stores.conftest import Stores
from vdvs.tenancy import join_tokens
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import CertRecord, VmGroup
from vdvs.tenancy.store import ConfigStore

G1 = VmGroup("33333333-3333-3333-3333-333333333333", "g1", "", "")
THREADS = 12
JOIN_TIMEOUT_S = 60


def make(store: ConfigStore, uses: int = 1, ttl_s: float = 3600) -> tuple[join_tokens.NewToken, str]:
    made = join_tokens.new_token(G1.id, uses, ttl_s, time.time(), "root")
    store.add_join_token(made.token)
    return made, join_tokens.parse_token(made.text)[1]


def test_a_token_is_stored_hashed_listed_and_removed(stores: Stores, store: ConfigStore) -> None:
    store.create_vmgroup(G1)
    made, hashed = make(store, uses=3)
    secret = made.text.split(".", 1)[1]
    rows = stores.raw("SELECT * FROM join_tokens")
    assert len(rows) == 1 and not any(secret in str(value) for value in rows[0])
    assert made.token.secret_sha256 == hashed
    assert store.join_tokens() == [made.token]
    assert store.remove_join_token(made.token.id) == made.token
    assert store.join_tokens() == [] and store.remove_join_token(made.token.id) is None


def test_uses_run_out_and_a_wrong_secret_or_an_expired_token_is_refused(store: ConfigStore) -> None:
    store.create_vmgroup(G1)
    made, hashed = make(store, uses=2)
    assert store.take_join_token_use(made.token.id, hashed).uses_left == 1
    assert store.take_join_token_use(made.token.id, hashed).uses_left == 0
    with pytest.raises(VdvsError) as used_up:
        store.take_join_token_use(made.token.id, hashed)
    assert used_up.value.err is Err.JOIN_TOKEN_USED_UP
    other, _ = make(store)
    with pytest.raises(VdvsError) as wrong:
        store.take_join_token_use(other.token.id, join_tokens.secret_hash("guessed"))
    assert wrong.value.err is Err.JOIN_TOKEN_UNKNOWN  # a wrong secret reads as no token at all
    expired, expired_hash = make(store, ttl_s=1)
    with pytest.raises(VdvsError) as late:
        store.take_join_token_use(expired.token.id, expired_hash, now=time.time() + 2)
    assert late.value.err is Err.JOIN_TOKEN_EXPIRED
    assert store.join_token(other.token.id) == other.token  # refusals took nothing


@pytest.mark.parametrize("uses", [1, 3])
def test_racing_joins_take_exactly_the_uses_a_token_has(stores: Stores, store: ConfigStore, uses: int) -> None:
    store.create_vmgroup(G1)
    made, hashed = make(store, uses=uses)
    connections = [stores.open() for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    won: list[int] = []
    refused: list[Err] = []
    lock = threading.Lock()

    def join(s: ConfigStore) -> None:
        barrier.wait(timeout=30)
        try:
            left = s.take_join_token_use(made.token.id, hashed).uses_left
            with lock:
                won.append(left)
        except VdvsError as exc:
            with lock:
                refused.append(exc.err)

    threads = [threading.Thread(target=join, args=(c,)) for c in connections]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=JOIN_TIMEOUT_S)
    assert not any(t.is_alive() for t in threads), "a join hung"
    assert sorted(won) == list(range(uses))
    assert refused == [Err.JOIN_TOKEN_USED_UP] * (THREADS - uses)
    assert stores.open().join_token(made.token.id).uses_left == 0  # type: ignore[union-attr]


def test_a_renewed_certificate_is_revoked_when_its_grace_has_passed(store: ConfigStore) -> None:
    vm = "42130001-0000-0000-0000-000000000001"
    store.add_cert(CertRecord("0a", vm, "vm1", "2030-01-01T00:00:00+00:00", False), "2024-01-01")
    store.add_cert(CertRecord("0b", vm, "vm1", "2031-01-01T00:00:00+00:00", False), "2025-01-01")
    now = time.time()
    store.revoke_cert_at("0a", now + 60)
    generation = store.generation
    assert store.revoke_due_certs(now) == []
    assert store.revoke_due_certs(now + 61) == ["0a"]
    assert store.generation > generation  # brokers drop their cached identities
    assert [(c.serial, c.revoked) for c in store.certs_of_vm(vm)] == [("0a", True), ("0b", False)]
    assert store.revoke_due_certs(now + 120) == []
