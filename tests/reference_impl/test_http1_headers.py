"""What the HTTP/1 parser sorts out while it reads a head: the headers a proxy forwards and
whether any header is one only the mesh sets. Both are checked against the plain reading
of the same headers (a message the parser did not make), for arbitrary heads."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl.proxy.http1 import HttpError, HttpMessage, MessageReader, encode_response

TOKEN = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-",
    min_size=1,
    max_size=12,
)
NAMES = st.one_of(
    TOKEN,
    st.sampled_from(
        [
            "Connection",
            "connection",
            "Keep-Alive",
            "TE",
            "X-Meshspec-Route",
            "x-meshspec-timeout",
            "X-MESHSPEC-",
            "x-meshspecx",
            "X-Forwarded-Client-Cert",
            "x-forwarded-client-certs",
            "x-forwarded-client",
            "Upgrade-Insecure-Requests",
            "Transfer-Encodingx",
            # spelled as in the parser's table of common names, and not
            "Host",
            "HOST",
            "Content-Type",
            "content-TYPE",
            "X-Request-Id",
            "x-request-id",
            "Proxy-Connection",
            "Te",
            "te",
            "Trailer",
            "X-Forwarded-For",
        ]
    ),
)
VALUES = st.one_of(
    st.text(alphabet="abcdefghij ,-", max_size=12),
    st.sampled_from(["keep-alive", "close", "Keep-Alive", "x-secret", "X-Secret, close"]),
)


def _parsed(lines: list[tuple[str, str]]) -> HttpMessage:
    reader = MessageReader(None, responses=True)
    # `encode_response` adds the content-length framing; the body is empty
    reader.feed(encode_response(200, tuple(lines)))
    message = reader.pop()
    assert message is not None
    return message


def _set_by_the_mesh(name: str) -> bool:
    lowered = name.lower()
    return lowered == "x-forwarded-client-cert" or lowered.startswith("x-meshspec-")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(NAMES, VALUES), max_size=8))
def test_what_the_parser_sorts_out_is_the_plain_reading(lines: list[tuple[str, str]]) -> None:
    parsed = _parsed(lines)
    plain = HttpMessage(headers=list(parsed.headers))  # no `forward`: read the slow way
    assert parsed.end_to_end_headers() == plain.end_to_end_headers()
    assert parsed.mesh_named == any(_set_by_the_mesh(name) for name, _ in parsed.headers)


def test_connection_names_a_header_that_is_then_not_forwarded() -> None:
    parsed = _parsed([("Connection", "X-Secret"), ("x-secret", "1"), ("x-kept", "2")])
    assert dict(parsed.end_to_end_headers()) == {"x-kept": "2"}
    parsed = _parsed([("Connection", "keep-alive"), ("Connection", "x-secret"), ("x-secret", "1")])
    assert parsed.end_to_end_headers() == ()


def test_mesh_names_in_any_case_are_flagged() -> None:
    assert _parsed([("X-MeshSpec-Route", "admin")]).mesh_named
    assert _parsed([("X-FORWARDED-CLIENT-CERT", "URI=spiffe://x")]).mesh_named
    assert not _parsed([("x-meshspecroute", "a"), ("x-forwarded-client", "b")]).mesh_named
    assert HttpMessage().mesh_named  # a message made elsewhere is looked at, not trusted


@pytest.mark.parametrize(
    "hosts",
    [["Host", "host"], ["HOST", "Host"], ["host", "hOsT"], ["Host", "Host"]],
)
def test_a_second_host_in_any_spelling_is_refused(hosts: list[str]) -> None:
    head = "".join(f"{name}: a\r\n" for name in hosts)
    with pytest.raises(HttpError) as refused:
        MessageReader(None).feed(f"GET / HTTP/1.1\r\n{head}\r\n".encode())
    assert refused.value.status == 400


@pytest.mark.parametrize("host", ["Host", "host", "HOST", "hOsT"])
def test_one_host_in_any_spelling_is_read(host: str) -> None:
    reader = MessageReader(None)
    reader.feed(f"GET / HTTP/1.1\r\n{host}: a \r\nX-Request-Id: 7\r\n\r\n".encode())
    request = reader.pop()
    assert request is not None
    assert request.headers == [(host, "a"), ("X-Request-Id", "7")]
    assert request.end_to_end_headers() == ((host, "a"), ("X-Request-Id", "7"))
