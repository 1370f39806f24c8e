#!/usr/bin/env bash
# Benchmark of the git layer's diff extraction against `git diff --patch`.
#
#   benches/diff_bench.sh [REPO RANGE]
#
# Without arguments it builds a sample repository from crate sources in
# ~/.cargo/registry (older versions of a few crates, then their newer
# versions committed in ~300 commits) and benchmarks `v1..v2`. Prints the
# median times and ratios; it asserts nothing (speed is measured, not tested).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/main/target}"
RUNS="${RUNS:-5}"

make_sample_repo() {
    local repo="$1" registry
    registry=$(echo "$HOME"/.cargo/registry/src/*/)
    local pairs=(
        "hashbrown-0.14.5 hashbrown-0.17.2" "bitflags-1.3.2 bitflags-2.13.2"
        "syn-2.0.119 syn-3.0.10" "windows-sys-0.59.0 windows-sys-0.61.2"
        "winnow-0.7.15 winnow-1.0.5"
    )
    rm -rf "$repo" && mkdir -p "$repo"
    export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com
    export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com
    export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
    git -C "$repo" init -q -b main
    for pair in "${pairs[@]}"; do
        set -- $pair
        [ -d "$registry/$1" ] && [ -d "$registry/$2" ] || { echo "missing $registry/$1 or $2" >&2; exit 1; }
        mkdir -p "$repo/${1%-*}" && cp -r "$registry/$1/." "$repo/${1%-*}/"
    done
    git -C "$repo" add -A && git -C "$repo" commit -q -m "v1: older crate versions" && git -C "$repo" tag v1
    # The newer versions, spread over ~300 commits of a few files each.
    local staging="$repo.next"
    rm -rf "$staging" && mkdir -p "$staging"
    for pair in "${pairs[@]}"; do
        set -- $pair
        mkdir -p "$staging/${2%-*}" && cp -r "$registry/$2/." "$staging/${2%-*}/"
    done
    (cd "$staging" && find . -type f | sort) > "$repo.new-files"
    (cd "$repo" && git ls-files | sed 's|^|./|' | sort) > "$repo.old-files"
    local total per n=0
    total=$(wc -l < "$repo.new-files")
    per=$(( (total + 299) / 300 ))
    split -l "$per" "$repo.new-files" "$repo.batch."
    for batch in "$repo".batch.*; do
        while read -r f; do
            mkdir -p "$repo/$(dirname "$f")" && cp "$staging/$f" "$repo/$f"
        done < "$batch"
        n=$((n + 1))
        git -C "$repo" add -A && git -C "$repo" commit -q --allow-empty -m "update batch $n"
    done
    comm -23 "$repo.old-files" "$repo.new-files" | (cd "$repo" && xargs -r git rm -q)
    git -C "$repo" commit -q -m "remove files gone in v2" && git -C "$repo" tag v2
    rm -rf "$staging" "$repo".batch.* "$repo.new-files" "$repo.old-files"
}

if [ $# -ge 2 ]; then
    REPO="$1" RANGE="$2"
else
    REPO="${BENCH_REPO:-/tmp/git-deep-review-bench-repo}" RANGE="v1..v2"
    [ -d "$REPO/.git" ] || make_sample_repo "$REPO"
fi
cargo build --release --example diff_bench -q
"$CARGO_TARGET_DIR/release/examples/diff_bench" "$REPO" "$RANGE" "$RUNS"
