"""Quality test: the 40 everyday parent queries find the expected entries in the top three.

Runs the benchmark's index (shipped entries, fixtures and 10,000 generated local entries). It is a
relevance check, not a timing test: latency is measured by bench/resources.py only.
"""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from bot.resources import ResourceIndex

BENCH = Path(__file__).resolve().parents[2] / "bench" / "resources.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kindred_bench_resources", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench()


@pytest.fixture(scope="module")
def index(bench: ModuleType) -> ResourceIndex:
    return ResourceIndex(bench.build_entries())


def test_relevance_file_has_forty_main_queries(bench: ModuleType) -> None:
    cases = bench.load_relevance_cases()
    assert len(cases) == 40
    spanish = [c for c in cases if c.language == "es"]
    assert len(spanish) >= 10


def test_expected_entries_exist(bench: ModuleType, index: ResourceIndex) -> None:
    known = {r.id for r in index.resources}
    for split in ("main", "holdout"):
        for case in bench.load_relevance_cases(split=split):
            assert set(case.expected) <= known, case.query


def test_at_least_ninety_percent_of_expected_entries_are_in_the_top_three(
    bench: ModuleType, index: ResourceIndex
) -> None:
    share, misses = bench.relevance(index, bench.load_relevance_cases())
    assert share >= 0.9, [(case.query, top) for case, top in misses]
