"""The in-memory vector index: similarity, threshold, expiry, bounds."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.cache.semantic.memory_index import MemoryVectorIndex
from gateway.cache.semantic.vectors import unit_vector

pytestmark = pytest.mark.unit

DIMENSIONS = 32


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def random_unit(seed: int) -> np.ndarray:
    return unit_vector(np.random.default_rng(seed).standard_normal(DIMENSIONS))


def at_similarity(base: np.ndarray, similarity: float, seed: int = 99) -> np.ndarray:
    """A unit vector whose cosine similarity with ``base`` is ``similarity``."""
    noise = random_unit(seed)
    orthogonal = unit_vector(noise - (noise @ base) * base)
    return unit_vector(similarity * base + np.sqrt(1 - similarity**2) * orthogonal)


@pytest.fixture
def clock():
    return Clock()


def index(clock, *, per_bucket=8, max_bytes=1 << 20) -> MemoryVectorIndex:
    return MemoryVectorIndex(per_bucket=per_bucket, max_bytes=max_bytes, clock=clock)


def test_the_most_similar_entry_at_or_above_the_threshold_is_found(clock):
    vectors = index(clock)
    question = random_unit(1)
    vectors.add_now("b", "close", at_similarity(question, 0.97), clock.now + 60)
    vectors.add_now("b", "closer", at_similarity(question, 0.99, seed=7), clock.now + 60)
    vectors.add_now("b", "far", random_unit(2), clock.now + 60)
    match = vectors.search_now("b", question, 0.95)
    assert match.key == "closer"
    assert match.score == pytest.approx(0.99, abs=1e-5)
    assert vectors.search_now("b", question, 0.995) is None


def test_a_score_equal_to_the_threshold_is_a_hit(clock):
    vectors = index(clock)
    question = random_unit(1)
    stored = at_similarity(question, 0.9)
    vectors.add_now("b", "k", stored, clock.now + 60)
    score = float(stored @ question)
    assert vectors.search_now("b", question, score).key == "k"


def test_buckets_are_never_mixed(clock):
    vectors = index(clock)
    question = random_unit(1)
    vectors.add_now("model-a", "k", question, clock.now + 60)
    assert vectors.search_now("model-b", question, 0.5) is None


def test_an_expired_entry_is_never_found(clock):
    vectors = index(clock)
    question = random_unit(1)
    vectors.add_now("b", "k", question, clock.now + 60)
    clock.now += 60
    assert vectors.search_now("b", question, 0.5) is None


def test_storing_a_key_again_replaces_its_vector(clock):
    vectors = index(clock)
    old, new = random_unit(1), random_unit(2)
    vectors.add_now("b", "k", old, clock.now + 60)
    vectors.add_now("b", "k", new, clock.now + 60)
    assert len(vectors) == 1
    assert vectors.search_now("b", old, 0.9) is None
    assert vectors.search_now("b", new, 0.9).key == "k"


def test_a_full_bucket_drops_its_least_recently_used_entry(clock):
    vectors = index(clock, per_bucket=3)
    units = [random_unit(seed) for seed in range(4)]
    for number in range(3):
        vectors.add_now("b", f"k{number}", units[number], clock.now + 60)
    assert vectors.search_now("b", units[0], 0.9).key == "k0"  # k0 used: k1 is now the oldest
    vectors.add_now("b", "k3", units[3], clock.now + 60)
    assert len(vectors) == 3
    assert vectors.search_now("b", units[1], 0.9) is None
    for number in (0, 2, 3):
        assert vectors.search_now("b", units[number], 0.9).key == f"k{number}"


def test_a_full_bucket_reclaims_expired_entries_before_live_ones(clock):
    vectors = index(clock, per_bucket=3)
    units = [random_unit(seed) for seed in range(4)]
    vectors.add_now("b", "k0", units[0], clock.now + 60)
    vectors.add_now("b", "short", units[1], clock.now + 5)
    vectors.add_now("b", "k2", units[2], clock.now + 60)
    clock.now += 10
    vectors.add_now("b", "k3", units[3], clock.now + 60)
    for number in (0, 2, 3):
        assert vectors.search_now("b", units[number], 0.9).key == f"k{number}"


def test_removed_entries_are_not_found_and_their_room_is_reused(clock):
    vectors = index(clock, per_bucket=2)
    units = [random_unit(seed) for seed in range(3)]
    vectors.add_now("b", "k0", units[0], clock.now + 60)
    vectors.add_now("b", "k1", units[1], clock.now + 60)
    vectors.remove_now("b", "k0")
    assert vectors.search_now("b", units[0], 0.9) is None
    vectors.add_now("b", "k2", units[2], clock.now + 60)
    assert [vectors.search_now("b", units[n], 0.9).key for n in (1, 2)] == ["k1", "k2"]


def test_the_least_recently_used_bucket_goes_when_the_vectors_pass_their_bytes(clock):
    one_bucket = index(clock, per_bucket=8)
    one_bucket.add_now("probe", "k", random_unit(0), clock.now + 60)
    vectors = index(clock, per_bucket=8, max_bytes=one_bucket.nbytes * 2)
    for name in ("a", "b"):
        vectors.add_now(name, "k", random_unit(1), clock.now + 60)
    vectors.search_now("a", random_unit(1), 0.9)  # a used: b is the least recent
    vectors.add_now("c", "k", random_unit(1), clock.now + 60)
    assert vectors.nbytes <= vectors.max_bytes
    assert vectors.search_now("b", random_unit(1), 0.9) is None
    assert vectors.search_now("a", random_unit(1), 0.9).key == "k"
    assert vectors.search_now("c", random_unit(1), 0.9).key == "k"


def test_a_bucket_grows_up_to_its_bound_and_no_further(clock):
    vectors = index(clock, per_bucket=20)
    units = [random_unit(seed) for seed in range(25)]
    for number, unit in enumerate(units):
        vectors.add_now("b", f"k{number}", unit, clock.now + 60)
    assert len(vectors) == 20
    for number in range(5, 25):
        assert vectors.search_now("b", units[number], 0.99).key == f"k{number}"


def test_vectors_of_other_dimensions_replace_the_bucket(clock):
    vectors = index(clock)
    vectors.add_now("b", "old", random_unit(1), clock.now + 60)
    shorter = unit_vector(np.ones(8))
    assert vectors.search_now("b", shorter, 0.5) is None
    vectors.add_now("b", "new", shorter, clock.now + 60)
    assert vectors.search_now("b", shorter, 0.99).key == "new"
    assert len(vectors) == 1


@pytest.mark.parametrize("values", [[], [0.0, 0.0], [1.0, float("nan")], [[1.0], [2.0]], ["a"]])
def test_unusable_vectors_are_refused(values):
    assert unit_vector(values) is None


def test_unit_vectors_have_length_one():
    assert float(np.linalg.norm(unit_vector([3.0, 4.0]))) == pytest.approx(1.0)


def test_storing_a_key_again_makes_it_recently_used(clock):
    vectors = index(clock, per_bucket=2)
    units = [random_unit(seed) for seed in range(3)]
    vectors.add_now("b", "k0", units[0], clock.now + 60)
    vectors.add_now("b", "k1", units[1], clock.now + 60)
    vectors.add_now("b", "k0", units[0], clock.now + 60)
    vectors.add_now("b", "k2", units[2], clock.now + 60)
    assert vectors.search_now("b", units[1], 0.9) is None
    assert vectors.search_now("b", units[0], 0.9).key == "k0"


def test_storing_into_a_bucket_makes_it_recently_used(clock):
    one_bucket = index(clock, per_bucket=8)
    one_bucket.add_now("probe", "k", random_unit(0), clock.now + 60)
    vectors = index(clock, per_bucket=8, max_bytes=one_bucket.nbytes * 2)
    vectors.add_now("a", "k", random_unit(1), clock.now + 60)
    vectors.add_now("b", "k", random_unit(1), clock.now + 60)
    vectors.add_now("a", "k2", random_unit(2), clock.now + 60)  # a stored into: b is the least recent
    vectors.add_now("c", "k", random_unit(1), clock.now + 60)
    assert vectors.search_now("b", random_unit(1), 0.9) is None
    assert vectors.search_now("a", random_unit(2), 0.9).key == "k2"


def test_a_second_bucket_past_the_bytes_pushes_out_the_first(clock):
    one_bucket = index(clock, per_bucket=8)
    one_bucket.add_now("probe", "k", random_unit(0), clock.now + 60)
    vectors = index(clock, per_bucket=8, max_bytes=one_bucket.nbytes)
    vectors.add_now("a", "k", random_unit(1), clock.now + 60)
    vectors.add_now("b", "k", random_unit(1), clock.now + 60)
    assert vectors.nbytes <= vectors.max_bytes
    assert vectors.search_now("a", random_unit(1), 0.9) is None
    assert vectors.search_now("b", random_unit(1), 0.9).key == "k"
