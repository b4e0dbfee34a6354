"""The anchor of the scenario suite.

`pytest harness` collects this file through the plugin (harness/plugin.py),
which turns every scenario under --scenarios DIR (default scenarios/) into
one test item per adapter.  It holds no tests itself.
"""
