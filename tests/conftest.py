pytest_plugins = ["pytester", "tests.fixtures.realservers"]
