#!/bin/sh
# Cost of the verify stage (src/verify/): a review with verification off
# and on, side by side in one run, for 5 and 20 findings, on one GGUF
# (default: the Qwen2.5-Coder-1.5B shape with random weights that
# benches/make_models.sh makes; its answers are noise, its speed is real).
# Prints figures and the ratio; asserts nothing (but stops loudly when a
# step fails or a figure is missing).
#
#   benches/verify.sh
#
# The change: a new 140-line Python file (20 functions, one chunk) in which
# N return lines carry DEEP-REVIEW-PLANT:important (N = 5, then 20; 7 lines
# apart, so no two are consolidated into one). The same diff for every N, so
# the review costs the same and only the verifier's work grows. The
# reviewers: the default three personas on the GGUF (the review whose time
# the verifier adds to; their random answers are almost never grounded,
# and run to max_tokens) and the test suite's stand-in `standin:marker` (enabled
# with GIT_DEEP_REVIEW_TEST_BACKENDS=1, as the tests do), which reports
# exactly the N planted lines, so the verifier checks exactly N findings
# whatever the random model writes. The verifier: the GGUF
# (`--verify on --verifier bench-model`, one pass per finding). Runs are
# `--no-cache`, interleaved off/on.
#
# Figures per N: wall time of the whole process off and on (mean of the
# runs), the verify stage's own time (timings.verify_ms) and its tokens,
# and the ratio verify / review-without-verification. Goal of the issue:
# the verify stage <= 0.3x the review it checks.
#
# Environment (defaults in brackets):
#   VERIFY_BENCH_BIN        the binary [$CARGO_TARGET_DIR/release/git-deep-review,
#                           CARGO_TARGET_DIR defaulting to target/]; copied
#                           first, so a rebuild during the run changes nothing
#   VERIFY_BENCH_MODEL      GGUF [benches/make_models.sh 1.5b makes one]
#   VERIFY_BENCH_FINDINGS   finding counts, space-separated ["5 20"]
#   VERIFY_BENCH_REPS       runs per setting [2]
#   VERIFY_BENCH_REVIEWERS  reviewers on the GGUF, 1..3 [3, as configured by default]
#   VERIFY_BENCH_MAX_TOKENS max_tokens of each GGUF reviewer [512: random
#                           weights never stop early, a real model's answer
#                           with a few findings is about this long]
#   VERIFY_BENCH_N_CTX      n_ctx of the model [8192]
#   VERIFY_BENCH_THREADS    threads [the binary's default, which follows the load]
#   VERIFY_BENCH_KEEP       1: keep the temporary directory and say where
#
# Needs python3. Run it alone: everything else on the machine shows in the
# figures.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "verify.sh: error: $*" >&2; exit 1; }
say() { echo "verify.sh: $*" >&2; }

case "${1:-}" in
    -h|--help) sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) die "no arguments (settings come from the environment; see --help)" ;;
esac

target=${CARGO_TARGET_DIR:-$root/target}
bin_src=${VERIFY_BENCH_BIN:-$target/release/git-deep-review}
model=${VERIFY_BENCH_MODEL:-}
counts=${VERIFY_BENCH_FINDINGS:-5 20}
reps=${VERIFY_BENCH_REPS:-2}
max_tokens=${VERIFY_BENCH_MAX_TOKENS:-512}
n_reviewers=${VERIFY_BENCH_REVIEWERS:-3}
n_ctx=${VERIFY_BENCH_N_CTX:-8192}
threads=${VERIFY_BENCH_THREADS:-}

is_count() { case "$2" in ''|*[!0-9]*) die "$1 must be a positive integer, not '$2'" ;; esac
             [ "$2" -ge 1 ] || die "$1 must be at least 1"; }
for n in $counts; do is_count VERIFY_BENCH_FINDINGS "$n"; done
is_count VERIFY_BENCH_REPS "$reps"
is_count VERIFY_BENCH_MAX_TOKENS "$max_tokens"
is_count VERIFY_BENCH_REVIEWERS "$n_reviewers"
[ "$n_reviewers" -le 3 ] || die "VERIFY_BENCH_REVIEWERS is 1..3 (one per built-in prompt)"
is_count VERIFY_BENCH_N_CTX "$n_ctx"
[ -z "$threads" ] || is_count VERIFY_BENCH_THREADS "$threads"
[ -x "$bin_src" ] || die "$bin_src is missing: cargo build --release (or set VERIFY_BENCH_BIN)"
command -v python3 >/dev/null 2>&1 || die "python3 not found"

work=$(mktemp -d "${TMPDIR:-/tmp}/verify-bench.XXXXXX")
if [ "${VERIFY_BENCH_KEEP:-0}" = 1 ]; then
    trap 'say "kept $work"' EXIT
else
    trap 'rm -rf "$work"' EXIT
fi
trap 'exit 130' INT
trap 'exit 143' TERM
bin=$work/git-deep-review
cp "$bin_src" "$bin"
version=$("$bin" --version) || die "$bin --version failed"

if [ -z "$model" ]; then
    model=$("$root/benches/make_models.sh" 1.5b | tail -n 1) || die "benches/make_models.sh 1.5b failed (see above)"
fi
[ -f "$model" ] || die "VERIFY_BENCH_MODEL $model: no such file"
[ "$(head -c 4 "$model")" = GGUF ] || die "$model is not a GGUF file"
case "$model" in /*) ;; *) model=$(pwd)/$model ;; esac

mkdir -p "$work/models"
cat >"$work/models/manifest.toml" <<TOML
[[model]]
name = "bench-model"
file = "$model"
source = "benches/verify.sh (VERIFY_BENCH_MODEL)"
chat_template = "auto"
n_ctx = $n_ctx
TOML
export GIT_DEEP_REVIEW_MODELS_DIR="$work/models"
# The stand-in reviewer that plants exactly N findings is a test backend.
export GIT_DEEP_REVIEW_TEST_BACKENDS=1

echo "verify.sh: $version ($bin_src), $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model $model (n_ctx $n_ctx); $n_reviewers reviewers on it, max_tokens $max_tokens; threads ${threads:-default (follows the load)}; $reps runs per setting, interleaved"

: >"$work/runs.tsv"
for n in $counts; do
    rv=$work/repo-$n
    mkdir -p "$rv"
    cd "$rv"
    git init -q -b main .
    git config user.name bench
    git config user.email bench@localhost
    echo "# inventory" >README.md
    git add README.md && git commit -qm base
    # A file of functions; every planted function's return line carries the marker.
    python3 - "$n" <<'PY' >inventory.py
import sys
n = int(sys.argv[1])
for i in range(max(n, 20)):
    mark = "  # DEEP-REVIEW-PLANT:important" if i < n else ""
    print(f"def stock_{i}(items, sku):")
    print(f"    found = [x for x in items if x.sku == sku]")
    print(f"    return sum(x.units for x in found) - {i}{mark}")
    print()
    print()
    print()
    print()
PY
    git add inventory.py && git commit -qm "inventory: stock per sku"
    {
        echo "[review]"
        [ -z "$threads" ] || echo "threads = $threads"
        cat <<TOML
lead = "none"
time_budget = "2h"

[[reviewer]]
name = "planter"
model = "standin:marker"
prompt = "robustness.md"
TOML
        k=0
        for name in correctness robustness tests-design; do
            [ $k -lt "$n_reviewers" ] || break
            k=$((k + 1))
            cat <<TOML

[[reviewer]]
name = "$name"
model = "bench-model"
prompt = "$name.md"
max_tokens = $max_tokens
think = "off"
TOML
        done
    } >.deep-review.toml
    echo ".deep-review.toml" >>.git/info/exclude
    "$bin" config >"$work/config-$n.txt" 2>&1 || { cat "$work/config-$n.txt" >&2; die "the configuration is refused (see above)"; }
    r=1
    while [ $r -le "$reps" ]; do
        for setting in off on; do
            say "$n findings: run $r/$reps, verify $setting"
            out=$work/run-$n-$setting-$r
            start=$(date +%s%N)
            "$bin" HEAD~1..HEAD --no-cache --quiet --format json -o "$out.json" \
                --verify "$setting" --verifier bench-model 2>"$out.err" \
                || { cat "$out.err" >&2; die "review ($n findings, verify $setting, run $r) failed"; }
            end=$(date +%s%N)
            printf '%s\t%s\t%s\t%s\n' "$n" "$setting" "$r" "$(((end - start) / 1000000))" >>"$work/runs.tsv"
        done
        r=$((r + 1))
    done
done

python3 - "$work" <<'PY' || die "cannot summarise (see above)"
import json, statistics as st, sys
work = sys.argv[1]
rows = [l.rstrip("\n").split("\t") for l in open(f"{work}/runs.tsv")]
by = {}
for n, setting, r, wall in rows:
    rep = json.load(open(f"{work}/run-{n}-{setting}-{r}.json"))
    by.setdefault((int(n), setting), []).append((int(wall), rep))
print()
print(f"{'findings':>8} {'wall off ms':>11} {'wall on ms':>10} {'verify ms':>9} {'review in on-run ms':>19} "
      f"{'verify/off':>10} {'verify/review':>13} {'checked':>7} {'prompt tok':>10} {'gen tok':>7}")
for n in sorted({k[0] for k in by}):
    off, on = by.get((n, "off"), []), by.get((n, "on"), [])
    if not off or not on:
        continue
    wall_off = st.mean(w for w, _ in off)
    wall_on = st.mean(w for w, _ in on)
    verify = [r["verification"] for _, r in on]
    for v in verify:
        if v.get("skipped"):
            sys.exit(f"verification did not run: {v['skipped']}")
    verify_ms = st.mean(r["timings"]["verify_ms"] for _, r in on)
    # The review the verifier checks, measured twice: the run without
    # verification, and the same run with it less the verify stage.
    review_on = wall_on - verify_ms
    checked = st.mean(v["checked"] for v in verify)
    ptok = st.mean(v["prompt_tokens"] for v in verify)
    gtok = st.mean(v["generated_tokens"] for v in verify)
    print(f"{n:>8} {wall_off:>11.0f} {wall_on:>10.0f} {verify_ms:>9.0f} {review_on:>19.0f} "
          f"{verify_ms / wall_off:>9.2f}x {verify_ms / review_on:>12.2f}x {checked:>7.0f} {ptok:>10.0f} {gtok:>7.0f}")
print()
print("wall = the whole process; verify ms = timings.verify_ms (the model is already loaded by the review);")
print("verify/off = verify ms / wall of the run without verification; verify/review = verify ms / (wall on - verify ms).")
PY
