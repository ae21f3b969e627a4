pytest_plugins = ["tests.fixtures.realservers"]
