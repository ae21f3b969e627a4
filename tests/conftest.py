pytest_plugins = ["pytester", "tests.fixtures.realservers", "tests.fixtures.istio_live"]
