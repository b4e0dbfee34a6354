#!/bin/sh
# Run the pytest suites: ci/run-pytest.sh PYTHON
# The suites: client/tests/cli (the mj command), fakeservers/tests (mjfake
# end to end, the format document) and harness/tests, those that exist.
# Runs on 2 workers with xdist.
set -u
py=${1:-/usr/bin/python3}
dirs=""
for d in client/tests/cli fakeservers/tests harness/tests; do
    [ -d "$d" ] && dirs="$dirs $d"
done
if [ -z "$dirs" ]; then
    echo "pytest: no suites yet"
    exit 0
fi
# shellcheck disable=SC2086
exec "$py" -m pytest -q -p no:cacheprovider -n 2 $dirs
