"""Envoy facts: retry_on lists, path options in Envoy's order, header lines."""

from __future__ import annotations

import pytest

from adapters.kit import envoy
from meshspec.spec import RetryOn


def test_a_retry_on_list_splits_into_neutral_conditions_numbers_and_the_rest() -> None:
    read = envoy.read_retry_on(" 5xx,unavailable,503,reset,5xx,, retriable-status-codes")
    assert read.conditions == (RetryOn.SERVER_ERROR, RetryOn.RESET)
    assert read.numbers == (503,)
    assert read.others == ("unavailable", "retriable-status-codes")


def test_every_neutral_condition_has_its_envoy_name_and_back() -> None:
    assert set(envoy.RETRY_ON_OF) == set(RetryOn)
    for cond, name in envoy.RETRY_ON_OF.items():
        assert envoy.RETRY_ON_NAMES[name] is cond
        assert name in envoy.RETRY_ON_ALL


@pytest.mark.parametrize(
    ("options", "path", "seen"),
    [
        (envoy.PathOptions(), "/a/../b%2Fc", "/a/../b%2Fc"),
        (envoy.PathOptions(normalize_path=True), "/a/./b/../c", "/a/c"),
        (envoy.PathOptions(normalize_path=True), "/a%2Fb\\c%7e", "/a%2Fb/c~"),
        (envoy.PathOptions(normalize_path=True), "/a//b", "/a//b"),
        (envoy.PathOptions(normalize_path=True, merge_slashes=True), "/a//../b", "/a/b"),
        (envoy.PathOptions(True, True, True), "/a%2F..%2Fb", "/b"),
        (envoy.PathOptions(normalize_path=True), "/a/..", "/"),
    ],
)
def test_path_options_apply_in_envoys_order(
    options: envoy.PathOptions, path: str, seen: str
) -> None:
    assert envoy.apply_path_options(path, options) == seen


def test_a_query_keeps_its_repeats_and_envoy_reads_the_first() -> None:
    query = envoy.parse_query("a=1&b=%20x&a=2&&c")
    assert query == (("a", "1"), ("b", " x"), ("a", "2"), ("c", ""))
    assert envoy.first_query_value(query, "a") == "1"
    assert envoy.first_query_value(query, "z") is None


def test_repeated_headers_are_lines_and_one_joined_value() -> None:
    headers = {"X-Env": [" a ", "b\t"], "x-env": "c", "Host": "h"}
    assert envoy.header_lines(headers) == {"x-env": ("a", "b", "c"), "host": ("h",)}
    assert envoy.header_values(headers) == {"x-env": "a,b,c", "host": "h"}
