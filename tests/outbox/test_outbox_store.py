"""The outbox's repository on SQLite and PostgreSQL: the order per record, parking, leases that one
holder at a time gets, lease take-over after a crash, and the operators' changes with their trail."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.store.outbox import PARKED, OutboxRepository


@pytest.fixture
def repo(any_store) -> OutboxRepository:
    return OutboxRepository(any_store)


def add(repo: OutboxRepository, key: str, due: float = 0.0) -> int:
    return repo.add(operation="updateRecord", vendor="flowize", ordering_key=key, payload="{}", credentials=None,
                    idempotency_key=key, next_attempt_at=due, last_error=None, request_id="rq", actor="gateway",
                    detail="test")


def test_the_earliest_write_of_a_record_holds_back_the_later_ones(repo):
    a1, b1, a2 = add(repo, "record:a"), add(repo, "record:b"), add(repo, "record:a")
    assert repo.get(a2).next_attempt_at == PARKED and repo.get(b1).next_attempt_at == 0.0
    assert sorted(repo.due(10)) == [a1, b1]
    first = repo.claim_next("w:1:x", 60)
    assert first is not None and first.id == a1 and first.state == "delivering"
    assert repo.claim(a2, "w:1:y", 60) is None          # not the head of record:a
    assert repo.delivered(a1, "w:1:x", "ok")
    assert repo.get(a2).next_attempt_at <= time.time()   # due now, in the delivering transaction
    assert {repo.claim_next("w:1:x", 60).id, repo.claim_next("w:1:x", 60).id} == {b1, a2}


def test_only_one_holder_gets_an_entry(repo):
    entry_id = add(repo, "record:race")
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda n: repo.claim(entry_id, f"w:1:{n}", 60), range(8)))
    assert sum(g is not None for g in got) == 1


def test_a_lease_that_ran_out_is_taken_over_and_counted(repo):
    entry_id = add(repo, "record:crash")
    assert repo.claim(entry_id, "w:1:dead", 0.05) is not None
    assert repo.claim(entry_id, "w:2:live", 60) is None        # still held
    time.sleep(0.1)
    taken = repo.claim(entry_id, "w:2:live", 60)
    assert taken is not None and taken.attempts == 1 and taken.lease_owner == "w:2:live"
    assert not repo.delivered(entry_id, "w:1:dead", "late")    # the old holder can no longer write
    assert repo.retry_later(entry_id, "w:2:live", "503", 30)
    assert repo.get(entry_id).state == "pending" and repo.get(entry_id).attempts == 2
    actions = [e.action for e in repo.events(entry_id)]
    assert actions == ["queued", "attempt_failed", "attempt_failed"]


def test_release_dead_frees_the_leases_of_dead_owners(repo):
    entry_id = add(repo, "record:killed")
    assert repo.claim(entry_id, "host:999999:run", 3600) is not None
    assert repo.release_dead(lambda owner: owner.startswith("host:999999")) == 1
    assert repo.claim_next("host:1:new", 60).id == entry_id


def test_a_dead_letter_waits_for_an_operator_and_so_do_the_writes_behind_it(repo):
    first, second = add(repo, "record:d"), add(repo, "record:d")
    assert repo.claim(first, "w:1:x", 60) and repo.dead(first, "w:1:x", "Flowize refused it")
    assert repo.due(10) == [] and repo.next_due_in() is None
    assert repo.drop(first, "api:1") and not repo.drop(first, "api:1")
    assert repo.due(10) == [second]   # dropping the dead head freed the next write, at once
    third = add(repo, "record:e")
    assert repo.claim(third, "w:1:x", 60) and repo.dead(third, "w:1:x", "refused")
    assert repo.retry(third, "cli:ops") and not repo.retry(third, "cli:ops")
    assert repo.get(third).state == "pending" and repo.get(third).attempts == 0
    trail = [(e.action, e.actor) for e in repo.events(third)]
    assert trail == [("queued", "gateway"), ("dead", "w:1:x"), ("retried", "cli:ops")]
    assert repo.counts() == {"dropped": 1, "pending": 2}


def test_unpark_heads_frees_an_entry_parked_behind_nothing(repo):
    a1 = add(repo, "record:p")
    a2 = add(repo, "record:p")
    assert repo.get(a2).next_attempt_at == PARKED
    with repo.store.session() as session:   # as if the head's delivery had not seen a2 being queued
        from sqlalchemy import update

        from gateway.store.models import OutboxEntry
        session.execute(update(OutboxEntry).where(OutboxEntry.id == a1).values(state="delivered"))
    assert repo.due(10) == []
    assert repo.unpark_heads() == 1 and repo.due(10) == [a2]
