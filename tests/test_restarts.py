"""The supervisor's restart policy: at once after a healthy run, then backoff, then give up."""

from __future__ import annotations

from gateway.process.restarts import CAP_SECONDS, MAX_FAILED_STARTS, STABLE_AFTER_SECONDS, RestartPolicy


def test_a_worker_that_ran_well_is_restarted_at_once():
    policy = RestartPolicy()
    assert policy.after_death(0, ran_for=STABLE_AFTER_SECONDS + 1, was_listening=True) == 0
    assert policy.after_death(0, ran_for=STABLE_AFTER_SECONDS + 1, was_listening=True) == 0


def test_a_worker_crashing_again_and_again_backs_off_up_to_the_cap():
    policy = RestartPolicy()
    delays = [policy.after_death(0, ran_for=1, was_listening=True) for _ in range(12)]
    assert delays[:4] == [0, 0.5, 1, 2]
    assert delays == sorted(delays) and delays[-1] == CAP_SECONDS
    assert policy.after_death(1, ran_for=1, was_listening=True) == 0  # slots are apart


def test_workers_that_never_listen_make_the_supervisor_give_up():
    policy = RestartPolicy()
    delays = [policy.after_death(0, ran_for=0.1, was_listening=False) for _ in range(MAX_FAILED_STARTS)]
    assert delays[:-1] == [0, 0.5, 1, 2][: MAX_FAILED_STARTS - 1] and delays[-1] is None
