from __future__ import annotations

import pytest

from printd.queue.models import (
    FINAL,
    TRANSITIONS,
    IllegalTransition,
    JobState,
    check_transition,
    mask_nik,
    new_job_id,
)


def test_every_state_has_transitions_and_canceled_is_terminal() -> None:
    assert set(TRANSITIONS) == set(JobState)
    assert TRANSITIONS[JobState.CANCELED] == frozenset()
    assert JobState.IN_DOUBT not in FINAL


@pytest.mark.parametrize("current,new", [(JobState.QUEUED, JobState.PRINTED), (JobState.CANCELED, JobState.QUEUED),
                                         (JobState.HELD, JobState.PRINTING), (JobState.PRINTED, JobState.PRINTING)])
def test_illegal_transitions_raise(current: JobState, new: JobState) -> None:
    with pytest.raises(IllegalTransition) as exc:
        check_transition(current, new)
    assert current.value in exc.value.message and exc.value.status == 409


def test_in_doubt_is_never_requeued_without_a_decision_path() -> None:
    # in_doubt may only be settled: printed, back to queue (not fed / spoiled) or failed / canceled
    assert TRANSITIONS[JobState.IN_DOUBT] == {JobState.PRINTED, JobState.QUEUED, JobState.FAILED, JobState.CANCELED}


def test_mask_nik_and_ids() -> None:
    assert mask_nik("3274011203900001") == "3274********0001"
    a, b = new_job_id(), new_job_id()
    assert a.startswith("j_") and len(a) == 28 and a != b
