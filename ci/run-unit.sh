#!/bin/sh
# Run cmocka unit-test binaries: ci/run-unit.sh "ENV=..." TEST...
# With MJ_VALGRIND=1 in ENV each test runs under valgrind, and any leak or
# memory error fails it.  Prints each binary's cmocka summary and a total.
set -u
envs=$1
shift
passed=0
failed=0
failed_names=""
for t in "$@"; do
    echo "== $(basename "$t")"
    case "$envs" in
        *MJ_VALGRIND=1*)
            # shellcheck disable=SC2086
            env $envs valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
                --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
                --trace-children=no "$t"
            ;;
        *)
            # shellcheck disable=SC2086
            env $envs "$t"
            ;;
    esac
    rc=$?
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_names="$failed_names $(basename "$t")(exit $rc)"
    fi
done
echo "unit test binaries: $passed passed, $failed failed"
if [ $failed -ne 0 ]; then
    echo "failed:$failed_names" >&2
    exit 1
fi
