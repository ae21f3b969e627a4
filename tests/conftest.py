pytest_plugins = [
    "pytester",
    "tests.fixtures.realservers",
    "tests.fixtures.istio_live",
    "tests.fixtures.consul_live",
]
