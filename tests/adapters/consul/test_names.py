"""The neutral names kept in an entry's Meta: within Consul's limits (64 values of 512
characters, both refused beyond by a real agent), read back exactly, or reported."""

from __future__ import annotations

from adapters.consul._names import names_meta, read_names
from adapters.consul.entries import NAMES_META
from meshspec.api import compile as compile_spec
from tests.adapters.consul.test_agent import FRAGMENTS
from tests.adapters.validator import load_fragment


def _pairs(n: int, width: int) -> list[tuple[str, str]]:
    return [(f"caller-{i}#0", f"rule-{i % 7}-" + "x" * width) for i in range(n)]


def test_few_names_are_written_plainly_and_read_back() -> None:
    pairs = _pairs(10, 10)
    meta = names_meta(pairs)
    assert meta is not None and not meta[NAMES_META].startswith("z:")
    assert read_names(meta) == dict(pairs)


def test_names_beyond_64_values_are_compressed_and_read_back() -> None:
    pairs = _pairs(2000, 40)
    plain = sum(len(f"{a}={b};") for a, b in pairs)
    assert plain > 64 * 512
    meta = names_meta(pairs)
    assert meta is not None
    assert len(meta) <= 62 and all(len(v) <= 512 for v in meta.values())
    assert read_names(meta) == dict(pairs)


def test_names_that_do_not_fit_even_compressed_are_left_out() -> None:
    import random

    rng = random.Random(7)
    pairs = [(f"c{i}#0", "".join(rng.choice("abcdefghij") for _ in range(40))) for i in range(2000)]
    assert names_meta(pairs) is None


def test_a_compile_whose_names_do_not_fit_says_so() -> None:
    import random

    rng = random.Random(11)
    names = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(50))]
    names += [
        "r" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(49))
        for _ in range(1499)
    ]
    spec = load_fragment(
        "\n---\n".join(
            [
                "apiVersion: meshspec.io/v1alpha1\nkind: Mesh\nmetadata: {name: m}",
                *(
                    f"apiVersion: meshspec.io/v1alpha1\nkind: Service\nmetadata: {{name: c{i}}}"
                    for i in range(30)
                ),
                "apiVersion: meshspec.io/v1alpha1\nkind: Service\nmetadata: {name: web}\n"
                "spec:\n  authorization:\n    default: deny\n    rules:\n"
                + "".join(
                    f"      - name: r{name}\n        action: ALLOW\n"
                    f"        from: [{{services: [c{j % 30}]}}]\n"
                    f"        to: {{methods: [GET], paths: [{{prefix: /p{j}}}]}}\n"
                    for j, name in enumerate(names)
                ),
            ]
        )
    )
    result = compile_spec(spec, "consul", ["all"])
    found = [d for d in result.diagnostics if d.code == "MS4017"]
    assert len(found) == 1 and "web" in found[0].message
    (web,) = [r for r in result.resources if r.get("kind") == "service-intentions"]
    assert not any(k.startswith(NAMES_META) for k in web.get("Meta") or {})


def test_the_many_names_fragment_needs_compression() -> None:
    result = compile_spec(load_fragment(FRAGMENTS["many-names"]), "consul", ["all"])
    intentions = [r for r in result.resources if r.get("kind") == "service-intentions"]
    (web,) = [r for r in intentions if r.get("Name") == "web"]
    assert web["Meta"][NAMES_META].startswith("z:")
    assert "MS4017" not in [d.code for d in result.diagnostics]
