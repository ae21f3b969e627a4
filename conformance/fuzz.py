"""Differential fuzzing: random specs and requests, every model against the oracle.

Hypothesis generates a small mesh (a client and a two-version service with
random routes, mTLS modes and authorization) and one request; each model
target compiles the spec and answers; any difference from the oracle's
Verdict is a disagreement. Hypothesis then shrinks it, so what is printed is
a minimal spec and request that reproduce it. Runs are driven by the seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.reporting import with_reporter

from conformance.targets.base import Target
from conformance.targets.model import ModelTarget, accepted_losses
from meshspec.adapter import Adapter, CompileOptions, Topology, Verdict
from meshspec.codecs import dump_yaml
from meshspec.features import Feature
from meshspec.loader import load_texts
from meshspec.semantics import Decision, Request, decide
from meshspec.spec import MtlsMode, Spec

API = "meshspec.io/v1alpha1"
PATH_VALUES = ("/", "/a", "/a/b", "/ab", "/api", "/api/v1")
REQUEST_PATHS = (
    "/",
    "/a",
    "/a/",
    "/a/b",
    "/ab",
    "/api",
    "/api/v1",
    "/apix",
    "/A",
    "/a?q=1",
    "/api?q=2&q=1",
)
#: request targets a mesh may canonicalise differently by default (Istio's default
#: normalisation keeps `//` and `%2F`); the path-normalization cases cover them one by
#: one, and fuzzing includes them only when asked
ADVERSARIAL_PATHS = ("//a", "/x/../a", "/a%2Fb", "/%61", "/a#f", "/a\\b", "/a%zz")
MODES = ("STRICT", "PERMISSIVE", "DISABLE")

Scenario = tuple[list[dict[str, Any]], Request]


def _path_match() -> st.SearchStrategy[dict[str, str] | None]:
    return st.one_of(
        st.none(),
        st.builds(lambda v: {"exact": v}, st.sampled_from(PATH_VALUES)),
        st.builds(lambda v: {"prefix": v}, st.sampled_from(PATH_VALUES)),
        st.builds(lambda v: {"regex": v}, st.sampled_from(("/a.*", "/api/[a-z0-9]+", "/[ab]"))),
    )


def _header_match() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.just({"name": "x-a", "exact": "1"}),
        st.just({"name": "x-a", "prefix": "1"}),
        st.just({"name": "x-a", "present": True}),
        st.just({"name": "x-b", "regex": "[0-9]+"}),
    )


@st.composite
def _match(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    path = draw(_path_match())
    if path is not None:
        out["path"] = path
    method = draw(st.sampled_from((None, "GET", "POST")))
    if method is not None:
        out["method"] = method
    headers = draw(st.lists(_header_match(), max_size=1))
    if headers:
        out["headers"] = headers
    if draw(st.booleans()) and not out:
        out["queryParams"] = [{"name": "q", "exact": "1"}]
    return out or {"path": {"prefix": "/"}}


@st.composite
def _route(draw: st.DrawFn, index: int) -> dict[str, Any]:
    route: dict[str, Any] = {"name": f"r{index}"}
    matches = draw(st.lists(_match(), max_size=2))
    if matches:
        route["matches"] = matches
    backends = draw(
        st.lists(
            st.fixed_dictionaries(
                {"version": st.sampled_from(("v1", "v2")), "weight": st.integers(0, 3)}
            ),
            max_size=2,
        )
    )
    if backends:
        if not any(b["weight"] for b in backends):
            backends[0]["weight"] = 1
        route["backends"] = backends
    timeout = draw(st.sampled_from((None, "0s", "3s")))
    if timeout is not None:
        route["timeout"] = timeout
    attempts = draw(st.sampled_from((None, 0, 2)))
    if attempts is not None:
        route["retries"] = {"attempts": attempts}
    return route


def _source() -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(
        (
            {"services": ["client"]},
            {"namespaces": ["default"]},
            {"authenticated": True},
            {"unauthenticated": True},
        )
    )


@st.composite
def _rule(draw: st.DrawFn, index: int) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "name": f"rule{index}",
        "action": draw(st.sampled_from(("ALLOW", "DENY"))),
    }
    sources = draw(st.lists(_source(), max_size=1))
    if sources:
        rule["from"] = sources
    to = draw(
        st.sampled_from(
            (
                None,
                {"methods": ["GET"]},
                {"paths": [{"prefix": "/a"}]},
                {"paths": [{"exact": "/api"}]},
            )
        )
    )
    if to is not None:
        rule["to"] = to
    return rule


@st.composite
def scenarios(draw: st.DrawFn, adversarial: bool = False) -> Scenario:
    """A small spec (as documents) and one request against it."""
    echo: dict[str, Any] = {
        "ports": [{"port": 80, "name": "http"}, {"port": 8080, "name": "http-alt"}],
        "versions": [{"name": "v1"}, {"name": "v2"}],
    }
    n_routes = draw(st.integers(0, 3))
    routes = [draw(_route(i)) for i in range(n_routes)]
    if routes:
        echo["routes"] = routes
    mode = draw(st.sampled_from((None, *MODES)))
    port_mode = draw(st.sampled_from((None, *MODES)))
    if mode is not None or port_mode is not None:
        mtls: dict[str, Any] = {}
        if mode is not None:
            mtls["mode"] = mode
        if port_mode is not None:
            mtls["ports"] = {8080: port_mode}
        echo["mtls"] = mtls
    if draw(st.booleans()):
        n_rules = draw(st.integers(0, 3))
        echo["authorization"] = {
            "default": draw(st.sampled_from(("allow", "deny"))),
            "rules": [draw(_rule(i)) for i in range(n_rules)],
        }
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": API,
            "kind": "Mesh",
            "metadata": {"name": "mesh"},
            "spec": {"mtls": {"mode": draw(st.sampled_from(MODES))}},
        },
        {"apiVersion": API, "kind": "Service", "metadata": {"name": "client"}},
        {"apiVersion": API, "kind": "Service", "metadata": {"name": "echo"}, "spec": echo},
    ]
    headers = draw(
        st.dictionaries(
            st.sampled_from(("x-a", "x-b")), st.sampled_from(("1", "12", "z")), max_size=2
        )
    )
    request = Request(
        destination=draw(st.sampled_from(("echo", "Echo.default.svc.cluster.local."))),
        target=draw(st.sampled_from(REQUEST_PATHS + (ADVERSARIAL_PATHS if adversarial else ()))),
        method=draw(st.sampled_from(("GET", "POST"))),
        headers=headers,
        port=draw(st.sampled_from((None, 80, 8080))),
        source=draw(st.sampled_from(("client", None))),
    )
    return docs, request


@dataclass
class Disagreement:
    target: str
    spec_yaml: str
    request: Request
    differences: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        r = self.request
        lines = [
            f"fuzz: {self.target} disagrees with the oracle on this spec and request:",
            self.spec_yaml.rstrip(),
            f"request: from={r.source or '(outside the mesh)'} to={r.destination} port={r.port} "
            f"{r.method} {r.target!r} headers={dict(r.headers)}",
        ]
        for name, (oracle, model) in sorted(self.differences.items()):
            lines.append(f"  {name}: oracle {oracle!r}, {self.target} {model!r}")
        return "\n".join(lines)


class _Found(Exception):
    def __init__(self, disagreement: Disagreement) -> None:
        super().__init__(disagreement.render())
        self.disagreement = disagreement


def _load(docs: list[dict[str, Any]]) -> tuple[Spec, str] | None:
    text = dump_yaml(docs)
    loaded = load_texts([("fuzz.yaml", text)])
    return (loaded.spec, text) if loaded.ok and loaded.spec is not None else None


def compare(
    target: ModelTarget, docs: list[dict[str, Any]], request: Request
) -> Disagreement | None:
    """None when the target's model agrees with the oracle (or cannot compile the spec)."""
    loaded = _load(docs)
    if loaded is None:
        return None
    spec, text = loaded
    adapter = target.adapter
    compiled = adapter.compile(spec, CompileOptions(allow_lossy=accepted_losses(adapter)))
    if any(d.severity == "error" for d in compiled.diagnostics):
        return None
    decision = decide(spec, request)
    if exercised(spec, request, decision) - adapter.features:
        return None  # the target does not claim what this request needs
    expected = Verdict.of(decision)
    try:
        got = adapter.model(compiled.resources, Topology.of(spec)).decide(request)
    except Exception as exc:  # a model crash is a disagreement too
        return Disagreement(target.name, text, request, {"exception": ("(answer)", repr(exc))})
    names = adapter.neutral_names(compiled.resources)
    # an empty neutral name: no neutral route decided (as the conformance sessions read it)
    got = replace(got, route=None if got.route is None else names.get(got.route, got.route) or None)
    fields = ["outcome", "status", "backends", "authz", "mtls", "transport", "timeout", "retries"]
    # the fields its compile's findings announce as different are not compared
    excused = adapter.known_differences(compiled.diagnostics, spec, request)
    if excused is None:
        return None
    held = [*held_to(adapter, fields), "route"]
    diffs = expected.differences(got, [f for f in held if f not in excused])
    return Disagreement(target.name, text, request, diffs) if diffs else None


#: the Verdict fields a family of features governs: a target claiming none of them (a
#: target with no mTLS or no authorization) is not held to those fields
FIELD_FEATURES: dict[str, frozenset[Feature]] = {
    "authz": frozenset(
        {Feature.AUTHZ_ALLOW, Feature.AUTHZ_DENY, Feature.AUTHZ_DEFAULT_DENY, Feature.AUTHZ_L7}
    ),
    "mtls": frozenset(
        {Feature.MTLS_STRICT, Feature.MTLS_PERMISSIVE, Feature.MTLS_DISABLE, Feature.MTLS_PORT}
    ),
    "transport": frozenset(
        {Feature.MTLS_STRICT, Feature.MTLS_PERMISSIVE, Feature.MTLS_DISABLE, Feature.MTLS_PORT}
    ),
    "retries": frozenset({Feature.RETRIES}),
}


def held_to(adapter: Adapter, fields: Sequence[str]) -> list[str]:
    return [f for f in fields if f not in FIELD_FEATURES or FIELD_FEATURES[f] & adapter.features]


def exercised(spec: Spec, request: Request, decision: Decision) -> set[Feature]:
    """The features one request needs of a target, as the conformance cases name them: a
    target that lacks one is not asked (the case would be not supported)."""
    out: set[Feature] = set()
    modes = {b.mtls for b in decision.backends}
    if MtlsMode.DISABLE in modes:
        out.add(Feature.MTLS_DISABLE)
    if request.source is None and MtlsMode.STRICT in modes:
        out.add(Feature.MTLS_STRICT)
    if request.source is None and MtlsMode.PERMISSIVE in modes:
        out.add(Feature.MTLS_PERMISSIVE)
    if decision.retries.attempts:
        out.add(Feature.RETRIES)
    if any(not isinstance(v, str) for v in request.headers.values()):
        out.add(Feature.HEADERS_REPEATED)
    for svc in spec:
        for route in svc.spec.routes:
            if any(m.path is not None and m.path.regex is not None for m in route.matches):
                out.add(Feature.ROUTING_PATH_REGEX)
        authz = svc.spec.authorization
        if authz is not None:
            out.add(Feature.AUTHZ_ALLOW)
            if any(r.action == "DENY" for r in authz.rules):
                out.add(Feature.AUTHZ_DENY)
    return out


def find_disagreement(
    target: ModelTarget, examples: int, seed: int, adversarial: bool = False
) -> Disagreement | None:
    """The minimal disagreement hypothesis finds in `examples` tries, or None."""

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.generate, Phase.shrink),
        report_multiple_bugs=False,
        print_blob=False,
    )
    @hypothesis_seed(seed)
    @given(scenarios(adversarial))
    def probe(scenario: Scenario) -> None:
        docs, request = scenario
        assume(_load(docs) is not None)
        found = compare(target, docs, request)
        if found is not None:
            raise _Found(found)

    with with_reporter(lambda _message: None):
        try:
            probe()
        except _Found as exc:
            return exc.disagreement
    return None


def model_targets(targets: Sequence[Target]) -> list[ModelTarget]:
    return [t for t in targets if isinstance(t, ModelTarget)]


def fuzz_models(
    targets: Sequence[ModelTarget], examples: int, seed: int, adversarial: bool = False
) -> list[Disagreement]:
    found = []
    for target in targets:
        target.check_available()
        d = find_disagreement(target, examples, seed, adversarial)
        if d is not None:
            found.append(d)
    return found
