#!/bin/sh
# The engine on models of the size users run: Qwen2.5-Coder-1.5B and -7B
# shapes with random weights, Q4_K_M (benches/make_models.sh makes them in
# .bench/models-real; never committed). Their answers are noise; their
# speed and memory are real. Prints figures; asserts nothing:
#   - our engine beside llama.cpp's llama-bench on the same file and thread
#     count: prefill and decode tok/s and their ratio (goal >= 0.95);
#   - peak RSS with the review context (n_ctx 8192) against weights + KV
#     cache + 300 MiB;
#   - three reviewers sharing the 1.5B model: alone, in sequence, decoded
#     together (goal <= 1.4x one reviewer), and the same on the bundled
#     SmolLM2 for comparison.
#
#   benches/real_size.sh [--threads N] [--reps N]
#
# --reps: speed rounds on the 1.5B model (default 3; the 7B model gets one,
# with 32 decoded tokens: each of its rounds takes minutes on 2 cores).
# Takes about 15 minutes on 2 cores once the models exist (making them
# takes about 10 more, once). Run it alone: everything else on the machine
# shows in the figures.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
threads=$(nproc 2>/dev/null || echo 2)
reps=3
while [ $# -gt 0 ]; do
    case "$1" in
        --threads) threads=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: $0 [--threads N] [--reps N]" >&2; exit 2 ;;
    esac
done

dir=$root/.bench/models-real
"$root/benches/make_models.sh" all >/dev/null
# A models directory of their own: its manifest names them, with the
# context a review of 2048-token chunks allocates.
tmp=$(mktemp "$dir/manifest.toml.XXXXXX")
for size in 1.5b 7b; do
    cat >>"$tmp" <<TOML
[[model]]
name = "qwen2.5-coder-$size-random"
file = "qwen2.5-coder-$size-random.Q4_K_M.gguf"
source = "benches/make_models.sh (random weights)"
chat_template = "auto"
n_ctx = 8192

TOML
done
mv -f "$tmp" "$dir/manifest.toml"
# Every model is found (by the binary, as a review finds it) before the
# first measurement: the bundled SmolLM2 from the usual models directory,
# which needs no manifest.toml of its own.
"$root/benches/engine_bench.sh" --dry-run --models-dir "$dir" \
    --models "qwen2.5-coder-1.5b-random qwen2.5-coder-7b-random"
"$root/benches/engine_bench.sh" --dry-run --models smollm2-135m

echo "######## Qwen2.5-Coder-1.5B shape, random weights, Q4_K_M"
"$root/benches/engine_bench.sh" --threads "$threads" --reps "$reps" --tg 128 \
    --models-dir "$dir" --models qwen2.5-coder-1.5b-random --extras rss,together
echo "######## Qwen2.5-Coder-7B shape, random weights, Q4_K_M"
"$root/benches/engine_bench.sh" --threads "$threads" --reps 1 --tg 32 \
    --models-dir "$dir" --models qwen2.5-coder-7b-random --extras rss
echo "######## bundled SmolLM2-135M, for comparison (reviewers together)"
"$root/benches/engine_bench.sh" --threads "$threads" --reps 1 --tg 128 \
    --models smollm2-135m --extras together
