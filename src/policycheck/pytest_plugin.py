"""pytest plugin: collects rule fixtures (``*.test.yaml``) as test items."""
