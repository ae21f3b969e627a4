"""The per-request steps every reading of a request shares: port choice, host names,
rolling backends into one outcome, retriable statuses and failures."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshspec.semantics import (
    PER_TRY_TIMEOUT,
    BackendResult,
    Outcome,
    RetryPolicy,
    choose_port,
    host_parts,
    retriable_failure,
    retriable_status,
    roll_up,
)
from meshspec.spec import RetryOn


@pytest.mark.parametrize(
    ("ports", "requested", "chosen"),
    [
        ([(80, "http"), (81, "http")], 81, 81),
        ([(80, "http"), (81, "http")], None, 80),
        ([(80, "http"), (81, "http")], 99, 80),
        ([(5432, "tcp"), (9090, "grpc")], None, 9090),
        ([(5432, "tcp"), (6379, "tcp")], None, 5432),
        ([(5432, "tcp"), (9090, "grpc")], 5432, 5432),
    ],
)
def test_the_requested_port_else_the_first_http_one(
    ports: list[tuple[int, str]], requested: int | None, chosen: int
) -> None:
    assert choose_port(ports, requested) == chosen


@pytest.mark.parametrize(
    ("host", "parts"),
    [
        ("web", ("web", None)),
        ("web.shop", ("web", "shop")),
        ("web.shop.svc", ("web", "shop")),
        ("web.shop.svc.cluster", ("web", "shop")),
        ("web.shop.svc.cluster.local", ("web", "shop")),
        ("web.shop.svc.example.org", None),
        ("web.shop.example", None),
        ("web.shop.svc.cluster.local.evil", None),
    ],
)
def test_a_host_names_a_service_only_in_the_cluster_domain(
    host: str, parts: tuple[str, str | None] | None
) -> None:
    assert host_parts(host) == parts


def test_a_mesh_may_read_suffixes_its_own_way() -> None:
    assert host_parts("web.shop.svc.example.org", lambda rest: rest[0] == "svc") == ("web", "shop")


def result(
    refused: bool = False, allowed: bool | None = True, defined: bool = True
) -> BackendResult:
    return BackendResult(refused, None if refused else allowed, defined)


@pytest.mark.parametrize(
    ("backends", "outcome", "status"),
    [
        ([result(), result()], Outcome.FORWARDED, None),
        ([result(refused=True), result(refused=True)], Outcome.MTLS_REFUSED, None),
        ([result(allowed=False), result(allowed=False)], Outcome.DENIED, 403),
        ([result(), result(allowed=False)], Outcome.PARTIALLY_DENIED, None),
        ([result(), result(refused=True)], Outcome.PARTIALLY_DENIED, None),
        ([result(refused=True), result(allowed=False)], Outcome.PARTIALLY_DENIED, None),
        ([result(defined=False), result(defined=False)], Outcome.UNAVAILABLE, 503),
        ([result(), result(defined=False)], Outcome.PARTIALLY_DENIED, None),
        ([], Outcome.UNAVAILABLE, 503),
    ],
)
def test_backends_roll_up_into_one_outcome(
    backends: list[BackendResult], outcome: Outcome, status: int | None
) -> None:
    assert roll_up(backends) == (outcome, status)


@given(st.lists(st.builds(result, st.booleans(), st.booleans(), st.booleans()), min_size=1))
def test_an_outcome_is_forwarded_only_when_every_backend_takes_the_request(
    backends: list[BackendResult],
) -> None:
    outcome, _ = roll_up(backends)
    takes = all(b.allowed is True and b.defined and not b.refused for b in backends)
    assert (outcome is Outcome.FORWARDED) == takes
    assert roll_up(backends) == roll_up(backends[::-1])  # order never matters


@pytest.mark.parametrize(
    ("on", "codes", "status", "retried"),
    [
        ((RetryOn.SERVER_ERROR,), (), 500, True),
        ((RetryOn.SERVER_ERROR,), (), 429, False),
        ((RetryOn.GATEWAY_ERROR,), (), 503, True),
        ((RetryOn.GATEWAY_ERROR,), (), 500, False),
        ((RetryOn.RESET, RetryOn.CONNECT_FAILURE), (), 503, False),
        ((), (429,), 429, True),
    ],
)
def test_retriable_statuses(
    on: tuple[RetryOn, ...], codes: tuple[int, ...], status: int, retried: bool
) -> None:
    assert retriable_status(RetryPolicy(2, None, on, codes), status) is retried


@pytest.mark.parametrize(
    ("on", "failure", "retried"),
    [
        ((RetryOn.CONNECT_FAILURE,), "connect-failure", True),
        ((RetryOn.CONNECT_FAILURE,), "reset", False),
        ((RetryOn.REFUSED_STREAM,), "refused-stream", True),
        ((RetryOn.RESET,), PER_TRY_TIMEOUT, True),
        ((RetryOn.GATEWAY_ERROR,), "connect-failure", True),
        ((RetryOn.SERVER_ERROR,), "reset", True),
        ((RetryOn.REFUSED_STREAM,), PER_TRY_TIMEOUT, False),
    ],
)
def test_retriable_failures(on: tuple[RetryOn, ...], failure: str, retried: bool) -> None:
    assert retriable_failure(RetryPolicy(2, None, on), failure) is retried
