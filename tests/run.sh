#!/usr/bin/env bash
# Runs every test: the C unit suites in build/tests, then each integration
# script in tests/integration (each starts and stops its own private stack).
# Ends with one line: "N passed, N failed".
#   tests/run.sh [PATTERN]   only suites/scripts whose name contains PATTERN
# SAN=1 runs the sanitizer build (make asan).
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$TOP/build${SAN:+-asan}
export CC_BUILD=$BUILD
export CC_TEST_RESULTS; CC_TEST_RESULTS=$(mktemp /tmp/cc-results.XXXXXX)
pattern=${1:-}
# the sanitizer runtime reports leaks at exit; keep going on errors so a
# test reports the failure instead of hanging
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	case $(basename "$t") in *"$pattern"*) ;; *) continue ;; esac
	summary=$CC_TEST_RESULTS.summary
	: > "$summary"
	before=$(wc -l < "$CC_TEST_RESULTS")
	timeout 300 "$t" | while IFS= read -r line; do
		case $line in
		"ok - "*) echo "$line"; echo ok >> "$CC_TEST_RESULTS" ;;
		"FAIL - "*) echo "$line"; echo fail >> "$CC_TEST_RESULTS" ;;
		*" passed, "*" failed") echo "$line" > "$summary" ;;
		*) echo "$line" ;;
		esac
	done
	rc=${PIPESTATUS[0]}
	# a suite that crashed, hung or exited without its summary line failed,
	# whatever it printed before (a SIGSEGV at start printed nothing)
	after=$(wc -l < "$CC_TEST_RESULTS")
	if [ ! -s "$summary" ] || { [ "$rc" != 0 ] && ! tail -n $((after - before)) "$CC_TEST_RESULTS" | grep -q fail; }; then
		echo "FAIL - $(basename "$t"): exited with $rc$([ -s "$summary" ] || echo ", no summary line")"
		echo fail >> "$CC_TEST_RESULTS"
	fi
	rm -f "$summary"
done

for s in "$TOP"/tests/integration/*.sh; do
	case $(basename "$s") in *"$pattern"*) ;; *) continue ;; esac
	before=$(wc -l < "$CC_TEST_RESULTS")
	echo "# $(basename "$s")"
	timeout 900 bash "$s"
	rc=$?
	after=$(wc -l < "$CC_TEST_RESULTS")
	if [ "$rc" != 0 ] && ! grep -q fail <(tail -n $((after - before)) "$CC_TEST_RESULTS"); then
		echo "FAIL - $(basename "$s" .sh): exited with $rc"
		echo fail >> "$CC_TEST_RESULTS"
	fi
done

passed=$(grep -c '^ok$' "$CC_TEST_RESULTS")
failed=$(grep -c '^fail$' "$CC_TEST_RESULTS")
rm -f "$CC_TEST_RESULTS"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
