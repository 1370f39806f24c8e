#!/bin/sh
# The fuzz suite (tests/fuzz/) run long: every property with many more
# cases than the normal test run, one property at a time, each printing
# the cases it ran and its failures; then a summary table. A failure shows
# the shrunk input; fix it and keep it as a named regression test there.
#
#   benches/fuzz.sh                  # FUZZ_CASES cases per property
#   FUZZ_CASES=100000 benches/fuzz.sh
#
# Environment (defaults in brackets):
#   FUZZ_CASES                   cases per property [20000]; the GGUF header
#                                properties write a 1.8 MB header per case,
#                                so they get FUZZ_CASES / 20
#   GIT_DEEP_REVIEW_MODELS_DIR   the bundled models (the GGUF properties
#                                mutate SmolLM2's real header) [required]
#
# Builds the `fuzz` test target in release (the profile the tests share, so
# llama.cpp is not rebuilt).
set -eu
cd "$(dirname "$0")/.."
: "${GIT_DEEP_REVIEW_MODELS_DIR:?set it to the bundled models directory (models/fetch.sh --dest DIR)}"
export GIT_DEEP_REVIEW_MODELS_DIR
cases=${FUZZ_CASES:-20000}
gguf_cases=$((cases / 20))
[ "$gguf_cases" -gt 0 ] || gguf_cases=1

cargo test --release --test fuzz --no-run >/dev/null 2>&1 || {
	cargo test --release --test fuzz --no-run
	exit 1
}

tests=$(cargo test --release --test fuzz -- --list 2>/dev/null | sed -n 's/: test$//p')
log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=0
started=$(date +%s)
for t in $tests; do
	n=$cases
	case $t in gguf::*) n=$gguf_cases ;; esac
	t0=$(date +%s)
	if DEEP_REVIEW_FUZZ_CASES=$n cargo test --release --test fuzz -q -- --exact "$t" --nocapture \
		>"$log.out" 2>&1; then
		status=ok
	else
		status=FAILED
		failed=$((failed + 1))
		sed -n '/minimal failing input/,/^$/p; /panicked at/,+3p' "$log.out" | head -40
	fi
	grep '^fuzz: ' "$log.out" | sed "s/\$/ ($(($(date +%s) - t0)) s)/" >>"$log" || true
	echo "$t: $status" >>"$log"
done
rm -f "$log.out"
echo "== fuzz summary: $(($(date +%s) - started)) s, $failed failing test(s)"
cat "$log"
[ "$failed" -eq 0 ]
