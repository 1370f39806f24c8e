#!/usr/bin/env bash
# The review step of the CI templates in ci/ (GitHub Actions, GitLab CI,
# Forgejo/Gitea Actions): reviews BASE..HEAD of the repository in the current
# directory with git-deep-review and writes, into DEEP_REVIEW_OUT:
#
#   review.md    the Markdown report        review.json   the JSON report
#   deep-review.sarif                       (when DEEP_REVIEW_FORMATS has sarif)
#   gl-code-quality-report.json             (when DEEP_REVIEW_FORMATS has codequality)
#
# and appends the Markdown report to DEEP_REVIEW_SUMMARY (the job summary).
#
# A review made only by the bundled demonstration models (the models install.sh
# fetches are far too small to review code) is NOT a review. Then this script
# says so loudly in the log and the summary, writes no SARIF or Code Quality
# file (nothing is posted to the merge request as if it were a review) and
# exits 10, unless DEEP_REVIEW_ALLOW_DEMO=1 (to try the template out). Point
# DEEP_REVIEW_MODEL at a capable model instead.
#
# Environment:
#   DEEP_REVIEW_BASE      base commit (required)
#   DEEP_REVIEW_HEAD      head commit (default HEAD)
#   DEEP_REVIEW_MODEL     model for every reviewer: a manifest name, a .gguf path,
#                         hf:/ollama:/lmstudio: reference, or an inference server
#                         URL (http://gpu-box:8080/v1). Empty: the repository's
#                         .deep-review.toml, else the bundled demonstration models.
#   DEEP_REVIEW_FORMATS   machine formats besides markdown and json: "sarif",
#                         "codequality" or both (default: sarif)
#   DEEP_REVIEW_OUT       output directory (default: deep-review-out)
#   DEEP_REVIEW_SUMMARY   file the Markdown summary is appended to (default:
#                         $GITHUB_STEP_SUMMARY when set)
#   DEEP_REVIEW_GATE      1: exit 1 when the gate policy blocks the change
#   DEEP_REVIEW_ALLOW_DEMO  1: a demonstration review passes (still labelled)
#   DEEP_REVIEW_BIN       the binary (default: git-deep-review on PATH)
#
# Exit codes: 0 reviewed; 1 the gate blocks (DEEP_REVIEW_GATE=1); 10 only
# demonstration models reviewed; 4 the model could not be loaded or reached;
# any other: git-deep-review's own exit code (see its README).
set -uo pipefail

bin=${DEEP_REVIEW_BIN:-git-deep-review}
out=${DEEP_REVIEW_OUT:-deep-review-out}
formats=${DEEP_REVIEW_FORMATS:-sarif}
summary=${DEEP_REVIEW_SUMMARY:-${GITHUB_STEP_SUMMARY:-}}
base=${DEEP_REVIEW_BASE:-}
head=${DEEP_REVIEW_HEAD:-HEAD}

# Annotations where the CI reads them (GitHub and Forgejo: workflow
# commands), plain lines elsewhere.
if [ -n "${GITHUB_ACTIONS:-}" ]; then
  error() { echo "::error title=deep-review::$*"; }
else
  error() { printf '\n\033[1;31mERROR: %s\033[0m\n\n' "$*"; }
fi
note() { echo "deep-review: $*" >&2; }
add_summary() {
  [ -n "$summary" ] || return 0
  cat >>"$summary"
}

if [ -z "$base" ]; then
  error "DEEP_REVIEW_BASE is not set: the template passes the pull/merge request's base commit"
  exit 2
fi
command -v "$bin" >/dev/null 2>&1 || {
  error "$bin not found: the install step did not put git-deep-review on PATH"
  exit 2
}
mkdir -p "$out" || exit 5

args=("$base..$head" --quiet)
[ -n "${DEEP_REVIEW_MODEL:-}" ] && args+=(--model "$DEEP_REVIEW_MODEL")
gate=()
[ "${DEEP_REVIEW_GATE:-0}" = 1 ] && gate=(--gate)

# 1. The review, once, as JSON; the other formats come from the cache.
note "reviewing $base..$head${DEEP_REVIEW_MODEL:+ with $DEEP_REVIEW_MODEL}"
"$bin" "${args[@]}" "${gate[@]}" --format json -o "$out/review.json"
code=$?
if [ "$code" -ne 0 ] && [ "$code" -ne 1 ]; then
  case "$code" in
    4) error "no capable model could be loaded or reached (git-deep-review exit 4)${DEEP_REVIEW_MODEL:+: DEEP_REVIEW_MODEL=$DEEP_REVIEW_MODEL}. Nothing was reviewed; see the message above." ;;
    *) error "git-deep-review failed with exit code $code; nothing was reviewed. See the message above." ;;
  esac
  printf '## Deep review: not run\n\ngit-deep-review exited with code %s; nothing was reviewed. See the job log.\n' "$code" | add_summary
  exit "$code"
fi
gate_code=$code

# 2. The Markdown report (from the cache: no model runs again).
"$bin" "${args[@]}" --format markdown -o "$out/review.md" || {
  code=$?
  error "writing the Markdown report failed (exit $code)"
  exit "$code"
}

# A top-level key of the pretty JSON sits on its own line indented by two
# spaces; model text cannot start a line (JSON strings hold no raw newline).
demo=0
grep -Eq '^  "demonstration_only": true,?$' "$out/review.json" && demo=1

if [ "$demo" = 1 ]; then
  msg="Not a review: demonstration models only. This run had no capable model (the bundled 135M/270M models cannot review code). Set DEEP_REVIEW_MODEL to a capable model (a GGUF file, hf:/ollama: reference or an inference server URL) or commit a .deep-review.toml naming one."
  error "$msg"
  {
    printf '## ⚠️ Not a review: demonstration models only\n\n'
    printf '> [!WARNING]\n> %s\n\n' "$msg"
    printf 'No SARIF or Code Quality report was published. The demonstration output follows for reference only.\n\n'
    printf '<details><summary>Demonstration output (not a review)</summary>\n\n'
    head -c 400000 "$out/review.md"
    printf '\n\n</details>\n'
  } | add_summary
  if [ "${DEEP_REVIEW_ALLOW_DEMO:-0}" != 1 ]; then
    exit 10
  fi
  note "DEEP_REVIEW_ALLOW_DEMO=1: the demonstration run passes; no SARIF or Code Quality file is written"
  exit 0
fi

# 3. The machine formats for code scanning / merge requests.
for f in $formats; do
  case "$f" in
    sarif) file="$out/deep-review.sarif" ;;
    codequality) file="$out/gl-code-quality-report.json" ;;
    *) error "unknown format '$f' in DEEP_REVIEW_FORMATS (sarif, codequality)"; exit 2 ;;
  esac
  "$bin" "${args[@]}" --format "$f" -o "$file" || {
    code=$?
    error "writing the $f report failed (exit $code)"
    exit "$code"
  }
done

# 4. The job summary: the report itself, clipped below GitHub's 1 MiB limit.
{
  head -c 900000 "$out/review.md"
  if [ "$(wc -c <"$out/review.md")" -gt 900000 ]; then
    printf '\n\n*(clipped: the whole report is in the job artifacts, %s/review.md)*\n' "$out"
  fi
} | add_summary
note "report: $out/review.md"
exit "$gate_code"
