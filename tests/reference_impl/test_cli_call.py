"""The pieces of `meshspec call` and `meshspec up` that need no running mesh."""

from __future__ import annotations

import pytest

from meshspec.loader import load_texts
from reference_impl.calls import CallError, Reply, Tally, outbound_port, split_url
from reference_impl.runner import plan

STATE = {
    "instances": [
        {"service": "shop/web", "outboundPort": 4001},
        {"service": "shop/cart", "outboundPort": 4002},
    ]
}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://cart/", ("cart", "/")),
        ("http://cart", ("cart", "/")),
        ("cart/items?id=3", ("cart", "/items?id=3")),
        ("http://cart.shop:80/a/b", ("cart.shop:80", "/a/b")),
    ],
)
def test_split_url(url: str, expected: tuple[str, str]) -> None:
    assert split_url(url) == expected


@pytest.mark.parametrize("url", ["https://cart/", "http:///x", "ftp://cart/"])
def test_split_url_refuses(url: str) -> None:
    with pytest.raises(CallError):
        split_url(url)


@pytest.mark.parametrize(("sender", "port"), [("web", 4001), ("shop/cart", 4002)])
def test_outbound_port_by_name_or_key(sender: str, port: int) -> None:
    assert outbound_port(STATE, sender) == port


def test_outbound_port_names_what_runs() -> None:
    with pytest.raises(CallError, match="shop/cart, shop/web"):
        outbound_port(STATE, "nope")


def test_tally_counts_statuses_and_the_answering_version() -> None:
    tally = Tally()
    tally.add(Reply(200, [], b'{"version": "v1"}'))
    tally.add(Reply(200, [], b'{"version": "v2"}'))
    tally.add(Reply(200, [], b'{"version": "v1"}'))
    tally.add(Reply(503, [], b"no healthy upstream"))
    assert tally.to_json() == {
        "requests": 4,
        "by_status": {"200": 3, "503": 1},
        "by_version": {"v1": 2, "v2": 1},
    }


def test_plan_gives_each_instance_distinct_ports_and_keeps_own_apps() -> None:
    spec = load_texts(
        [
            (
                "m.yaml",
                "apiVersion: meshspec.io/v1alpha1\nkind: Service\n"
                "metadata: {name: cart, namespace: shop}\n"
                "spec: {versions: [{name: v1}, {name: v2}]}\n---\n"
                "apiVersion: meshspec.io/v1alpha1\nkind: Service\n"
                "metadata: {name: web, namespace: shop}\n",
            )
        ]
    ).spec
    assert spec is not None
    instances = plan(spec, 2, {"shop/web": 8080})
    assert [(i.service, i.version, i.instance) for i in instances] == [
        ("shop/cart", "v1", "cart-v1-0"),
        ("shop/cart", "v1", "cart-v1-1"),
        ("shop/cart", "v2", "cart-v2-0"),
        ("shop/cart", "v2", "cart-v2-1"),
        ("shop/web", None, "web-default-0"),
        ("shop/web", None, "web-default-1"),
    ]
    ports = [p for i in instances for p in (i.inbound_port, i.outbound_port, i.admin_port)]
    ports += [i.app_port for i in instances if i.echo]
    assert len(set(ports)) == len(ports)
    assert [(i.app_port, i.echo) for i in instances if i.service == "shop/web"] == [
        (8080, False),
        (8080, False),
    ]
