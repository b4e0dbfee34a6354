"""mailjig's conformance harness: the pytest plugin, adapters and report."""
