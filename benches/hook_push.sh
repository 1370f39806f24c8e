#!/bin/sh
# Measures what the pre-push hook costs, with the real models:
#  1. a push with the hook when every chunk is already cached, against the
#     same push without the hook (--no-verify), side by side (hyperfine);
#  2. an incremental review after one small commit on top of a reviewed
#     branch, against a full (cold-cache) review of the same branch.
#
# Usage: benches/hook_push.sh [path/to/git-deep-review]
# Needs: git, hyperfine, the models (GIT_DEEP_REVIEW_MODELS_DIR, default
# /work/models-dev). Prints figures; asserts nothing.
set -eu

BIN=${1:-${CARGO_TARGET_DIR:-target}/release/git-deep-review}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
export GIT_DEEP_REVIEW_MODELS_DIR=${GIT_DEEP_REVIEW_MODELS_DIR:-/work/models-dev}
RUNS=${RUNS:-10}
command -v hyperfine >/dev/null || { echo "hyperfine is needed (apt-get install hyperfine)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
# Keep the developer's own git and deep-review settings out of the figures.
export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"
git config --global user.name bench
git config --global user.email bench@example.com
git config --global init.defaultBranch main

git init -q --bare "$tmp/remote.git"
git clone -q "$tmp/remote.git" "$tmp/work" 2>/dev/null
cd "$tmp/work"

# A small codebase: four C files, each its own chunk.
gen() { # gen FILE NAME EXTRA
    cat > "$1" <<C
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* $2: parse a decimal count from a user-supplied string. */
int $2_parse(const char *s, int *out) {
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0') {
        return -1;
    }
    *out = (int)v;
    return 0;
}

char *$2_copy(const char *src) {
    size_t n = strlen(src);
    char *dst = malloc(n + 1);
    memcpy(dst, src, n + 1);
    return dst;
}
$3
C
}
for f in alpha beta gamma delta; do gen "$f.c" "$f" ""; done
git add . && git commit -qm "base" && git push -q origin main 2>/dev/null
base=$(git rev-parse HEAD)

for f in alpha beta gamma delta; do
    gen "$f.c" "$f" "
int ${f}_sum(const int *xs, int n) {
    int total = 0;
    for (int i = 0; i <= n; i++) {
        total += xs[i];
    }
    return total;
}"
    git commit -qam "$f: add ${f}_sum"
done
printf '[review]\nchunk_tokens = 256\n' > .deep-review.toml

now() { date +%s.%N; }
echo "== full review of $(git rev-list --count "$base..HEAD") commits, cold cache (binary: $BIN)"
"$BIN" cache clear >/dev/null
t0=$(now); "$BIN" -q "$base..HEAD" -o "$tmp/full.md" || true; t1=$(now)
full=$(echo "$t1 - $t0" | bc)
echo "full review (cold cache): ${full} s"

echo "== incremental review after one small commit on top of the reviewed branch"
sed -i 's/total += xs\[i\];/total += xs[i] * 2;/' gamma.c
git commit -qam "gamma: double"
t0=$(now); "$BIN" -q "$base..HEAD" -o "$tmp/incr.md" || true; t1=$(now)
incr=$(echo "$t1 - $t0" | bc)
echo "incremental review (1 small commit): ${incr} s; ratio incremental/full = $(echo "scale=3; $incr / $full" | bc)"
grep -i "cache" "$tmp/incr.md" | head -3 || true

echo "== push of the branch: hook with everything cached vs no hook"
"$BIN" hook install >/dev/null
# The first hooked push reviews and fills the cache; allow it whatever the models say.
git push -q --no-verify origin main 2>/dev/null
git -C "$tmp/remote.git" update-ref refs/heads/main "$base"
git push -q origin main 2>/dev/null || true
hyperfine --runs "$RUNS" --warmup 1 -i --export-json "$tmp/push.json" \
    --prepare "git -C '$tmp/remote.git' update-ref refs/heads/main $base" \
    --command-name "push with hook (all cached)" "git push -q origin main" \
    --command-name "push --no-verify (no hook)" "git push -q --no-verify origin main"
python3 - "$tmp/push.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
hook = r["push with hook (all cached)"]["mean"] * 1000
bare = r["push --no-verify (no hook)"]["mean"] * 1000
print(f"hook adds {hook - bare:.1f} ms to a push ({hook:.1f} ms vs {bare:.1f} ms; ratio {hook / bare:.2f}x; goal: at most 50 ms added)")
PY
"$BIN" -q "$base..HEAD" -o "$tmp/cached.md" || true
echo "the cached review's report says: $(grep -m1 'Models loaded' "$tmp/cached.md" || echo 'no Models loaded line')"
