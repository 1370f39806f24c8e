#!/bin/sh
# A review on a busy machine: the same review idle and beside CPU-bound
# neighbours (as many `while :; do :; done` processes as BUSY, default 2,
# started by the bench), for each way of choosing threads and waiting:
#   today's fixed count (all cores, OpenMP's default spinning wait),
#   all cores with OMP_WAIT_POLICY=passive, all cores with GOMP_SPINCOUNT=1000,
#   one thread, and the default: threads following the load.
# Then decode speed on an idle machine, default against a fixed all-core
# count (the default must not cost idle speed). Prints figures; asserts
# nothing. Every review runs with --no-cache on the bundled models.
#
#   benches/busy.sh [path/to/git-deep-review]
#
# Environment: GIT_DEEP_REVIEW_MODELS_DIR (the bundled models), BUSY,
# RUNS (reviews per cell, median; default 1). Run it alone.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-${CARGO_TARGET_DIR:-$root/target}/release/git-deep-review}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
BUSY=${BUSY:-2}
RUNS=${RUNS:-1}
cores=$(nproc 2>/dev/null || echo 2)
export GIT_DEEP_REVIEW_MODELS_DIR=${GIT_DEEP_REVIEW_MODELS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/git-deep-review/models}
models_dir=$GIT_DEEP_REVIEW_MODELS_DIR

tmp=$(mktemp -d)
spinners=""
cleanup() { [ -z "$spinners" ] || kill $spinners 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" GIT_CONFIG_NOSYSTEM=1
export GIT_DEEP_REVIEW_MODELS_DIR=$models_dir
mkdir -p "$HOME"
git config --global user.name bench
git config --global user.email bench@example.com
git init -q "$tmp/work"
cd "$tmp/work"
cat > stats.py <<'PY'
def total(xs):
    return sum(xs)
PY
git add . && git commit -qm base
cat > stats.py <<'PY'
def total(xs):
    return sum(xs)


def average(xs):
    return total(xs) / len(xs)


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2 + 1]
PY
git commit -qam "average and median"

busy_on() {
    spinners=""
    i=0
    while [ "$i" -lt "$BUSY" ]; do
        sh -c 'while :; do :; done' &
        spinners="$spinners $!"
        i=$((i + 1))
    done
    sleep 0.5
}
busy_off() { kill $spinners 2>/dev/null || true; wait 2>/dev/null || true; spinners=""; }

# review ENV ARGS -> median seconds of RUNS reviews
review() {
    e=$1; shift
    n=0; all=""
    while [ "$n" -lt "$RUNS" ]; do
        t0=$(date +%s.%N)
        env $e "$BIN" -q --no-cache "$@" HEAD~1..HEAD -o "$tmp/r.md" >/dev/null 2>&1 || true
        t1=$(date +%s.%N)
        all="$all $(echo "$t1 - $t0" | bc)"
        n=$((n + 1))
    done
    echo "$all" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[n++] = $1 } END { printf "%.1f", v[int(n/2)] }'
}

echo "== $cores cores, $BUSY busy neighbours, $RUNS review(s) per cell (binary: $BIN)"
printf '%-44s %9s %9s %7s\n' "threads / waiting" "idle s" "busy s" "busy/idle"
base_idle=""
for opt in \
    "fixed $cores threads (before), OpenMP default|X=1|--threads $cores" \
    "fixed $cores threads, OMP_WAIT_POLICY=passive|OMP_WAIT_POLICY=passive|--threads $cores" \
    "fixed $cores threads, GOMP_SPINCOUNT=1000|GOMP_SPINCOUNT=1000|--threads $cores" \
    "fixed 1 thread|X=1|--threads 1" \
    "follows the load (default)|X=1|"; do
    label=${opt%%|*}; rest=${opt#*|}; e=${rest%%|*}; args=${rest#*|}
    # shellcheck disable=SC2086
    idle=$(review "$e" $args)
    busy_on
    # shellcheck disable=SC2086
    busy=$(review "$e" $args)
    busy_off
    printf '%-44s %9s %9s %7s\n' "$label" "$idle" "$busy" "$(echo "scale=2; $busy / $idle" | bc)"
done

echo "== decode on an idle machine: default (follows the load) vs fixed $cores threads (engine_bench, smollm2-135m)"
eb=${CARGO_TARGET_DIR:-$root/target}/release/examples/engine_bench
[ -x "$eb" ] || (cd "$root" && cargo build --release --quiet --example engine_bench)
for round in 1 2 3; do
    a=$("$eb" smollm2-135m --only pp --pp 512 --tg 128 --reps 3 2>/dev/null | awk '$1 == "tg_tps" { print $2 }')
    b=$("$eb" smollm2-135m --only pp --pp 512 --tg 128 --reps 3 --threads "$cores" 2>/dev/null | awk '$1 == "tg_tps" { print $2 }')
    echo "round $round: default $a tok/s, fixed $b tok/s, ratio $(echo "scale=3; $a / $b" | bc)"
done
