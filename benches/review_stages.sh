#!/bin/sh
# Wall-clock time of a default review of a ~300-line diff, split per stage
# (plan, load, prefill, generate, consolidate, render), and the ungrounded
# findings per reviewer. Prints figures; asserts nothing.
#
#   benches/review_stages.sh [path/to/git-deep-review]
#
# The diff: a real ~300-line Rust source file from the cargo registry
# (semver's parse.rs or the first .rs file of 250–350 lines found), added on
# top of a one-file base commit. Models come from $GIT_DEEP_REVIEW_MODELS_DIR.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/target/release/git-deep-review}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
src=$(find "$HOME/.cargo/registry/src" -name '*.rs' -size +6k -size -14k 2>/dev/null |
      while read -r f; do n=$(wc -l < "$f"); [ "$n" -ge 250 ] && [ "$n" -le 350 ] && { echo "$f"; break; }; done)
[ -n "$src" ] || { echo "no 250-350 line .rs file found under ~/.cargo/registry/src" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
git init -q -b main .
echo "// base" > lib.rs
git add . && git -c user.name=bench -c user.email=bench@localhost commit -qm base
cp "$src" module.rs
git add . && git -c user.name=bench -c user.email=bench@localhost commit -qm "Add module.rs"
echo "diff: $(git diff --numstat HEAD~1 | awk '{print $1}') added lines from $src"
start=$(date +%s%N)
"$bin" HEAD~1..HEAD --no-cache --quiet --format json -o report.json
end=$(date +%s%N)
echo "wall clock: $(( (end - start) / 1000000 )) ms (whole process)"
python3 - <<'PY'
import json
r = json.load(open("report.json"))
t = r["timings"]
print("stages (ms): " + ", ".join(f"{k[:-3]} {v}" for k, v in t.items()))
print(f"chunks: {r['cache']['total_chunks']} reviewer-chunk runs")
for x in r["retro"]:
    print(f"  {x['name']:14} {x['model']:14} {x['duration_ms']/1000:6.1f} s  "
          f"ungrounded {x['ungrounded']}  rejected {x['rejected']}  "
          f"grounded {x['critical'] + x['important'] + x['suggestion']}  error: {x['error']}")
PY
