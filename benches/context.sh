#!/bin/sh
# Cost of the context stage (src/context/): the symbol index of the head
# tree, the context pack per chunk, and what the packs add to a review.
# Prints figures and ratios; asserts nothing (but stops loudly when a step
# fails or a figure is missing).
#
#   benches/context.sh
#
# 1. Index, per repository of CONTEXT_BENCH_REPOS (each cloned into a
#    temporary directory first, so no tags cache of yours is touched):
#    `--plan RANGE --format json`, cold (after rm -rf
#    .git/deep-review/context-tags) and warm (second run): context.index
#    {ms, files, lines} -> lines per second, and peak RSS (/usr/bin/time -v).
#    Then the whole --plan wall time, `--context-tokens 0` against the
#    default, with hyperfine (warm tags cache): the difference is the context
#    stage including pack selection; divided by the chunks, its cost per
#    chunk.
# 2. Review, in a throw-away repository (a few hunks in src/inventory.rs,
#    whose callers are in src/orders.rs and src/report.rs): reviewers on one
#    GGUF (default: the Qwen2.5-Coder-1.5B shape with random weights that
#    benches/make_models.sh makes; its answers are noise, its speed is real),
#    `--no-cache`, `--context-tokens 0` against the default budget, runs
#    interleaved. Wall time, prefill and generate time, prompt tokens per
#    reviewer and chunk (report.json appendix). With random weights every
#    answer runs to max_tokens, so generation is the same in both settings
#    and the ratio is that of prefill + overhead at that max_tokens. Goal of
#    the issue: on/off <= 1.3.
#
# Environment (defaults in brackets):
#   CONTEXT_BENCH_BIN        the binary [$CARGO_TARGET_DIR/release/git-deep-review,
#                            CARGO_TARGET_DIR defaulting to target/]; copied
#                            first, so a rebuild during the run changes nothing
#   CONTEXT_BENCH_REPOS      repositories to index, space-separated paths;
#                            "none" skips part 1 [this repository]
#   CONTEXT_BENCH_RANGE      range for --plan in each of them [HEAD~5..HEAD]
#   CONTEXT_BENCH_INDEX_RUNS cold and warm index runs per repository, best
#                            kept [3]
#   CONTEXT_BENCH_PLAN_RUNS  hyperfine runs per --plan command [10]
#   CONTEXT_BENCH_MODEL      GGUF for the review part; "none" skips it
#                            [benches/make_models.sh 1.5b makes one]
#   CONTEXT_BENCH_REVIEWERS  reviewers on that model, 1..3 [1]
#   CONTEXT_BENCH_REPS       review runs per setting [3]
#   CONTEXT_BENCH_MAX_TOKENS max_tokens of each reviewer [256]
#   CONTEXT_BENCH_N_CTX      n_ctx of the model [8192]
#   CONTEXT_BENCH_THREADS    threads of the reviews [the binary's default,
#                            which follows the load: a fixed count on a busy
#                            machine spins in OpenMP barriers, see busy.sh]
#   CONTEXT_BENCH_TIME_BUDGET time_budget of each review [1h; a review cut
#                            short by it has no figures and stops the bench]
#   CONTEXT_BENCH_KEEP       1: keep the temporary directory and say where
#
# Needs python3, hyperfine and /usr/bin/time (Debian/Ubuntu: apt-get install
# hyperfine time). Run it alone: everything else on the machine shows in the
# figures.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "context.sh: error: $*" >&2; exit 1; }
say() { echo "context.sh: $*" >&2; }

case "${1:-}" in
    -h|--help) sed -n '2,54p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) die "no arguments (settings come from the environment; see --help)" ;;
esac

target=${CARGO_TARGET_DIR:-$root/target}
bin_src=${CONTEXT_BENCH_BIN:-$target/release/git-deep-review}
repos=${CONTEXT_BENCH_REPOS:-$root}
range=${CONTEXT_BENCH_RANGE:-HEAD~5..HEAD}
index_runs=${CONTEXT_BENCH_INDEX_RUNS:-3}
plan_runs=${CONTEXT_BENCH_PLAN_RUNS:-10}
model=${CONTEXT_BENCH_MODEL:-}
n_reviewers=${CONTEXT_BENCH_REVIEWERS:-1}
reps=${CONTEXT_BENCH_REPS:-3}
max_tokens=${CONTEXT_BENCH_MAX_TOKENS:-256}
n_ctx=${CONTEXT_BENCH_N_CTX:-8192}
threads=${CONTEXT_BENCH_THREADS:-}
time_budget=${CONTEXT_BENCH_TIME_BUDGET:-1h}

is_count() { case "$2" in ''|*[!0-9]*) die "$1 must be a positive integer, not '$2'" ;; esac
             [ "$2" -ge 1 ] || die "$1 must be at least 1"; }
is_count CONTEXT_BENCH_INDEX_RUNS "$index_runs"
is_count CONTEXT_BENCH_PLAN_RUNS "$plan_runs"
is_count CONTEXT_BENCH_REVIEWERS "$n_reviewers"
is_count CONTEXT_BENCH_REPS "$reps"
is_count CONTEXT_BENCH_MAX_TOKENS "$max_tokens"
is_count CONTEXT_BENCH_N_CTX "$n_ctx"
[ -z "$threads" ] || is_count CONTEXT_BENCH_THREADS "$threads"
[ "$n_reviewers" -le 3 ] || die "CONTEXT_BENCH_REVIEWERS is 1..3 (one per built-in prompt)"

[ -x "$bin_src" ] || die "$bin_src is missing: cargo build --release (or set CONTEXT_BENCH_BIN)"
command -v python3 >/dev/null 2>&1 || die "python3 not found"
command -v hyperfine >/dev/null 2>&1 || die "hyperfine not found (apt-get install hyperfine, or cargo install hyperfine)"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"

work=$(mktemp -d "${TMPDIR:-/tmp}/context-bench.XXXXXX")
if [ "${CONTEXT_BENCH_KEEP:-0}" = 1 ]; then
    trap 'say "kept $work"' EXIT
else
    trap 'rm -rf "$work"' EXIT
fi
trap 'exit 130' INT TERM
bin=$work/git-deep-review
cp "$bin_src" "$bin"
version=$("$bin" --version) || die "$bin --version failed"

# The model first: making it is the only slow set-up step, and a failure
# there should come before minutes of measurements.
if [ "$model" != none ]; then
    if [ -z "$model" ]; then
        model=$("$root/benches/make_models.sh" 1.5b | tail -n 1) || die "benches/make_models.sh 1.5b failed (see above)"
    fi
    [ -f "$model" ] || die "CONTEXT_BENCH_MODEL $model: no such file"
    [ "$(head -c 4 "$model")" = GGUF ] || die "$model is not a GGUF file"
    case "$model" in /*) ;; *) model=$(pwd)/$model ;; esac
fi

echo "context.sh: $version ($bin_src), $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "range $range; index runs $index_runs (best kept); hyperfine runs $plan_runs"

# --- 1. index and --plan ---------------------------------------------------------
# One line per repository in $work/index.tsv and $work/plan.tsv.
: >"$work/index.tsv"
: >"$work/plan.tsv"
# plan_json OUT [ARGS...]: --plan RANGE --format json into OUT, with
# /usr/bin/time -v's report beside it (OUT.time); dies on failure.
plan_json() {
    out=$1; shift
    /usr/bin/time -v -o "$out.time" "$bin" "$range" --plan --format json --quiet "$@" >"$out" 2>"$out.err" \
        || { cat "$out.err" >&2; die "$bin $range --plan failed in $(pwd)"; }
}
[ "$repos" != none ] || repos=""
i=0
for repo in $repos; do
    i=$((i + 1))
    [ -d "$repo" ] || die "CONTEXT_BENCH_REPOS: $repo is not a directory"
    name=$(basename "$(cd "$repo" && git rev-parse --show-toplevel 2>/dev/null || echo "$repo")")
    dir=$work/repo$i
    say "cloning $repo into $dir"
    git clone -q "$repo" "$dir" || die "git clone $repo failed"
    (cd "$dir" && git rev-parse -q --verify "${range%%..*}^{commit}" >/dev/null) \
        || die "$repo: the range $range does not resolve (history too short? set CONTEXT_BENCH_RANGE)"
    say "$name: indexing $index_runs x cold, $index_runs x warm"
    (
        cd "$dir"
        n=1
        while [ $n -le "$index_runs" ]; do
            rm -rf .git/deep-review/context-tags
            plan_json "$work/cold-$i-$n.json"
            plan_json "$work/warm-$i-$n.json"
            n=$((n + 1))
        done
    )
    python3 - "$work" "$i" "$index_runs" "$name" >>"$work/index.tsv" <<'PY' || die "$name: cannot read the plans (see above)"
import json, re, sys
work, i, runs, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def one(kind, n):
    base = f"{work}/{kind}-{i}-{n}.json"
    p = json.load(open(base))
    c = p["context"]
    if not c["enabled"]:
        sys.exit(f"context.sh: {base}: the context stage is off (git config deep-review.context?)")
    t = open(base + ".time").read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", t)
    wall = ((int(m.group(1) or 0) * 60 + int(m.group(2))) * 60 + float(m.group(3))) * 1000
    return c["index"], rss, wall, len(p["chunks"])
cold = [one("cold", n) for n in range(1, runs + 1)]
warm = [one("warm", n) for n in range(1, runs + 1)]
for x in cold:
    if x[0]["parsed"] < x[0]["files"] - x[0]["cached"] or x[0]["parsed"] == 0:
        sys.exit(f"context.sh: {name}: a cold run parsed {x[0]['parsed']} of {x[0]['files']} files")
for x in warm:
    if x[0]["parsed"] != 0:
        sys.exit(f"context.sh: {name}: a warm run parsed {x[0]['parsed']} files (cache not used?)")
c = min(cold, key=lambda x: x[0]["ms"])
w = min(warm, key=lambda x: x[0]["ms"])
ix = c[0]
print("\t".join(str(v) for v in [
    name, ix["files"], ix["lines"], ix["parsed"], ix["ms"], w[0]["ms"],
    max(x[1] for x in cold), max(x[1] for x in warm),
    round(min(x[2] for x in cold)), round(min(x[2] for x in warm)), c[3]]))
PY
    (
        cd "$dir"
        # The tags cache is warm here (the last run above).
        plan_json "$work/packs-$i.json"
        say "$name: --plan wall time, --context-tokens 0 against the default (hyperfine)"
        hyperfine -N --style none --warmup 2 --runs "$plan_runs" \
            --export-json "$work/hyperfine-$i.json" \
            "$bin $range --plan --format json --quiet --context-tokens 0" \
            "$bin $range --plan --format json --quiet" >"$work/hyperfine-$i.log" 2>&1 \
            || { cat "$work/hyperfine-$i.log" >&2; die "$name: hyperfine failed"; }
    )
    python3 - "$work" "$i" "$name" >>"$work/plan.tsv" <<'PY' || die "$name: cannot read hyperfine's results"
import json, sys
work, i, name = sys.argv[1], sys.argv[2], sys.argv[3]
h = json.load(open(f"{work}/hyperfine-{i}.json"))["results"]
off, on = h[0], h[1]
p = json.load(open(f"{work}/packs-{i}.json"))
packs = p["context"]["packs"]
chunks = len(p["chunks"])
items = sum(len(x["items"]) for x in packs)
tokens = sum(x["tokens"] for x in packs)
budget = max((x["budget"] for x in packs), default=0)
print("\t".join(str(v) for v in [
    name, chunks, off["mean"] * 1000, off["stddev"] * 1000, on["mean"] * 1000, on["stddev"] * 1000,
    items, tokens, budget]))
PY
done

# --- 2. review with and without context ----------------------------------------------
if [ "$model" != none ]; then
    rv=$work/review
    mkdir -p "$rv/src" "$work/models"
    cat >"$work/models/manifest.toml" <<TOML
[[model]]
name = "bench-model"
file = "$model"
source = "benches/context.sh (CONTEXT_BENCH_MODEL)"
chat_template = "auto"
n_ctx = $n_ctx
TOML
    export GIT_DEEP_REVIEW_MODELS_DIR="$work/models"
    cd "$rv"
    git init -q -b main .
    git config user.name bench
    git config user.email bench@localhost
    cat >Cargo.toml <<'EOF'
[package]
name = "warehouse"
version = "0.1.0"
edition = "2021"
EOF
    cat >src/lib.rs <<'EOF'
pub mod inventory;
pub mod orders;
pub mod report;
EOF
    cat >src/inventory.rs <<'EOF'
//! Stock levels and reservations of one warehouse.
use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub sku: String,
    pub quantity: u32,
    pub unit_price_cents: u64,
}

#[derive(Debug, PartialEq)]
pub enum StockError {
    UnknownSku(String),
    Insufficient { sku: String, wanted: u32, available: u32 },
}

impl fmt::Display for StockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StockError::UnknownSku(sku) => write!(f, "unknown SKU {sku}"),
            StockError::Insufficient { sku, wanted, available } => {
                write!(f, "{sku}: wanted {wanted}, only {available} available")
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct Inventory {
    items: HashMap<String, Item>,
    reserved: HashMap<String, u32>,
}

impl Inventory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds stock; a new SKU starts at the given price, a known one keeps its price.
    pub fn add(&mut self, sku: &str, quantity: u32, unit_price_cents: u64) {
        let item = self.items.entry(sku.to_string()).or_insert_with(|| Item {
            sku: sku.to_string(),
            quantity: 0,
            unit_price_cents,
        });
        item.quantity = item.quantity.saturating_add(quantity);
    }

    /// Units on the shelf that no order has reserved yet.
    pub fn available(&self, sku: &str) -> u32 {
        let on_hand = self.items.get(sku).map_or(0, |i| i.quantity);
        on_hand.saturating_sub(self.reserved.get(sku).copied().unwrap_or(0))
    }

    pub fn reserve(&mut self, sku: &str, quantity: u32) -> Result<(), StockError> {
        if !self.items.contains_key(sku) {
            return Err(StockError::UnknownSku(sku.to_string()));
        }
        let available = self.available(sku);
        if quantity > available {
            return Err(StockError::Insufficient { sku: sku.to_string(), wanted: quantity, available });
        }
        *self.reserved.entry(sku.to_string()).or_insert(0) += quantity;
        Ok(())
    }

    pub fn release(&mut self, sku: &str, quantity: u32) {
        if let Some(r) = self.reserved.get_mut(sku) {
            *r = r.saturating_sub(quantity);
        }
    }

    /// Ships reserved units; returns the value shipped, in cents.
    pub fn ship(&mut self, sku: &str, quantity: u32) -> Result<u64, StockError> {
        let reserved = self.reserved.get(sku).copied().unwrap_or(0);
        if quantity > reserved {
            return Err(StockError::Insufficient { sku: sku.to_string(), wanted: quantity, available: reserved });
        }
        let item = self.items.get_mut(sku).ok_or_else(|| StockError::UnknownSku(sku.to_string()))?;
        item.quantity -= quantity;
        self.reserved.insert(sku.to_string(), reserved - quantity);
        Ok(u64::from(quantity).saturating_mul(item.unit_price_cents))
    }

    pub fn total_value(&self) -> u64 {
        self.items.values().map(|i| u64::from(i.quantity).saturating_mul(i.unit_price_cents)).sum()
    }

    pub fn skus(&self) -> impl Iterator<Item = &Item> {
        self.items.values()
    }
}
EOF
    cat >src/orders.rs <<'EOF'
//! Orders: reserve every line, then ship them together.
use crate::inventory::{Inventory, StockError};

#[derive(Debug, Clone)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: u32,
}

#[derive(Debug)]
pub struct Order {
    pub id: u64,
    pub lines: Vec<OrderLine>,
}

/// Reserves every line of the order, or none of them.
pub fn reserve_order(inv: &mut Inventory, order: &Order) -> Result<(), StockError> {
    for (n, line) in order.lines.iter().enumerate() {
        if let Err(e) = inv.reserve(&line.sku, line.quantity) {
            for done in &order.lines[..n] {
                inv.release(&done.sku, done.quantity);
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Ships a reserved order; returns its value in cents.
pub fn ship_order(inv: &mut Inventory, order: &Order) -> Result<u64, StockError> {
    let mut total = 0u64;
    for line in &order.lines {
        total = total.saturating_add(inv.ship(&line.sku, line.quantity)?);
    }
    Ok(total)
}

pub fn cancel_order(inv: &mut Inventory, order: &Order) {
    for line in &order.lines {
        inv.release(&line.sku, line.quantity);
    }
}
EOF
    cat >src/report.rs <<'EOF'
//! A plain-text stock report.
use crate::inventory::Inventory;

pub fn low_stock(inv: &Inventory, threshold: u32) -> Vec<String> {
    let mut low: Vec<String> = inv
        .skus()
        .filter(|i| inv.available(&i.sku) < threshold)
        .map(|i| i.sku.clone())
        .collect();
    low.sort();
    low
}

pub fn render(inv: &Inventory) -> String {
    let mut out = String::new();
    let mut items: Vec<_> = inv.skus().collect();
    items.sort_by(|a, b| a.sku.cmp(&b.sku));
    for i in items {
        out.push_str(&format!("{:<12} {:>6} {:>6}\n", i.sku, i.quantity, inv.available(&i.sku)));
    }
    out.push_str(&format!("total value: {} cents\n", inv.total_value()));
    out
}
EOF
    git add -A && git commit -qm "warehouse: inventory, orders and report"
    # The change: three hunks in inventory.rs (a reservation that may now
    # exceed stock, a ship without the underflow guard, a new restock
    # method) and one in orders.rs.
    python3 - <<'PY' || die "cannot write the change"
import re
p = "src/inventory.rs"
s = open(p).read()
def sub(old, new):
    global s
    if old not in s:
        raise SystemExit(f"context.sh: the change no longer applies: {old!r}")
    s = s.replace(old, new, 1)
sub("""        let available = self.available(sku);
        if quantity > available {""",
"""        let available = self.available(sku);
        // Back orders: allow reserving up to one unit more than is on the shelf.
        if quantity > available + 1 {""")
sub("""        let item = self.items.get_mut(sku).ok_or_else(|| StockError::UnknownSku(sku.to_string()))?;
        item.quantity -= quantity;
        self.reserved.insert(sku.to_string(), reserved - quantity);
        Ok(u64::from(quantity).saturating_mul(item.unit_price_cents))""",
"""        let item = self.items.get_mut(sku).ok_or_else(|| StockError::UnknownSku(sku.to_string()))?;
        item.quantity -= quantity;
        if reserved == quantity {
            self.reserved.remove(sku);
        } else {
            self.reserved.insert(sku.to_string(), reserved - quantity);
        }
        Ok(quantity as u64 * item.unit_price_cents)""")
sub("""    pub fn total_value(&self) -> u64 {""",
"""    /// Restocks a SKU at a new price; reservations are kept.
    pub fn restock(&mut self, sku: &str, quantity: u32, unit_price_cents: u64) {
        self.add(sku, quantity, unit_price_cents);
        if let Some(item) = self.items.get_mut(sku) {
            item.unit_price_cents = unit_price_cents;
        }
    }

    pub fn total_value(&self) -> u64 {""")
open(p, "w").write(s)
p = "src/orders.rs"
s = open(p).read()
sub("""    let mut total = 0u64;
    for line in &order.lines {
        total = total.saturating_add(inv.ship(&line.sku, line.quantity)?);
    }""",
"""    let mut total = 0u64;
    for line in &order.lines {
        total += inv.ship(&line.sku, line.quantity)?;
    }""")
open(p, "w").write(s)
PY
    git commit -qam "inventory: back orders, restock at a new price"
    # The reviewers: untracked (and excluded), so not part of the change.
    {
        for name in correctness robustness tests-design; do
            [ "$n_reviewers" -gt 0 ] || break
            n_reviewers=$((n_reviewers - 1))
            cat <<TOML
[[reviewer]]
name = "$name"
model = "bench-model"
prompt = "$name.md"
max_tokens = $max_tokens
think = "off"

TOML
        done
        cat <<TOML
[review]
lead = "none"
time_budget = "$time_budget"
TOML
        [ -z "$threads" ] || echo "threads = $threads"

    } >.deep-review.toml
    echo ".deep-review.toml" >>.git/info/exclude
    "$bin" config >"$work/config.txt" 2>&1 || { cat "$work/config.txt" >&2; die "the review configuration is refused (see above)"; }
    "$bin" HEAD~1..HEAD --plan --format json --quiet >"$work/review-plan.json" \
        || die "--plan failed in the review repository"
    echo "review: $(git diff --shortstat HEAD~1 | sed 's/^ //'); model $model (n_ctx $n_ctx); threads ${threads:-default (follows the load)}; max_tokens $max_tokens; $reps runs per setting, interleaved"
    n=1
    while [ $n -le "$reps" ]; do
        for setting in off on; do
            case $setting in off) extra="--context-tokens 0" ;; on) extra="" ;; esac
            say "review run $n/$reps, context $setting"
            start=$(date +%s%N)
            # shellcheck disable=SC2086
            "$bin" HEAD~1..HEAD --no-cache --quiet --format json -o "$work/review-$setting-$n.json" $extra \
                2>"$work/review-$setting-$n.err" \
                || { cat "$work/review-$setting-$n.err" >&2; die "review run $n ($setting) failed"; }
            end=$(date +%s%N)
            echo $(((end - start) / 1000000)) >"$work/review-$setting-$n.wall"
        done
        n=$((n + 1))
    done
fi

# --- figures ---------------------------------------------------------------------------
python3 - "$work" "$reps" "$model" <<'PY' || die "cannot summarise (see above)"
import json, os, statistics as st, sys
work, reps, model = sys.argv[1], int(sys.argv[2]), sys.argv[3]
mib = lambda kb: kb / 1024

print()
print("## 1. symbol index of the head tree (best of the runs; RSS: highest)")
print(f"{'repository':14} {'files':>6} {'lines':>8} {'cold ms':>8} {'warm ms':>8} {'cold/warm':>9} "
      f"{'lines/s cold':>12} {'RSS cold MiB':>12} {'RSS warm MiB':>12} {'wall cold ms':>12} {'wall warm ms':>12}")
for row in open(f"{work}/index.tsv"):
    name, files, lines, parsed, cold, warm, rc, rw, wc, ww, chunks = row.rstrip("\n").split("\t")
    files, lines, cold, warm = int(files), int(lines), int(cold), int(warm)
    ratio = f"{cold / warm:.1f}x" if warm else "inf"
    lps = f"{lines / cold * 1000:,.0f}" if cold else "-"
    print(f"{name:14} {files:>6} {lines:>8} {cold:>8} {warm:>8} {ratio:>9} {lps:>12} "
          f"{mib(int(rc)):>12.1f} {mib(int(rw)):>12.1f} {wc:>12} {ww:>12}")

print()
print("## --plan wall time (hyperfine mean ± sd, warm tags cache)")
print(f"{'repository':14} {'chunks':>6} {'off ms':>14} {'on ms':>14} {'on/off':>7} {'ms/chunk':>9} "
      f"{'pack items':>10} {'pack tokens':>11} {'budget':>6}")
for row in open(f"{work}/plan.tsv"):
    name, chunks, off, offsd, on, onsd, items, tokens, budget = row.rstrip("\n").split("\t")
    chunks, off, offsd, on, onsd = int(chunks), float(off), float(offsd), float(on), float(onsd)
    per = (on - off) / chunks if chunks else float("nan")
    print(f"{name:14} {chunks:>6} {off:>7.1f} ± {offsd:<4.1f} {on:>7.1f} ± {onsd:<4.1f} {on / off:>6.2f}x "
          f"{per:>9.1f} {items:>10} {tokens:>11} {budget:>6}")

if model == "none":
    print()
    print("## 2. review: skipped (CONTEXT_BENCH_MODEL=none)")
    sys.exit(0)

plan = json.load(open(f"{work}/review-plan.json"))
packs = plan["context"]["packs"]
print()
print(f"## 2. review on {os.path.basename(model)}: {len(plan['chunks'])} chunk(s), context pack "
      f"{sum(len(p['items']) for p in packs)} items, ~{sum(p['tokens'] for p in packs)} tokens "
      f"(estimated; budget {max((p['budget'] for p in packs), default=0)})")
res = {}
for setting in ("off", "on"):
    runs = []
    for n in range(1, reps + 1):
        r = json.load(open(f"{work}/review-{setting}-{n}.json"))
        wall = int(open(f"{work}/review-{setting}-{n}.wall").read())
        if r.get("not_reviewed"):
            sys.exit(f"context.sh: review {setting} run {n}: not reviewed: {r['not_reviewed'][0]['reason']} "
                     "(raise CONTEXT_BENCH_TIME_BUDGET, or run on a quieter machine)")
        errs = [x["error"] for x in r["retro"] if x.get("error")]
        errs += [c["error"] for a in r["appendix"] for c in a["chunks"] if c.get("error")]
        if errs:
            sys.exit(f"context.sh: review {setting} run {n}: reviewer error: {errs[0]}")
        chunks = [c for a in r["appendix"] for c in a["chunks"]]
        if not chunks or any(c.get("from_cache") for c in chunks):
            sys.exit(f"context.sh: review {setting} run {n}: no chunk ran (or one came from the cache)")
        t = r["timings"]
        runs.append(dict(
            wall=wall, load=t["load_ms"], prefill=t["prefill_ms"], generate=t["generate_ms"],
            prompt=sum(c["prompt_tokens"] for c in chunks), shared=sum(c["shared_tokens"] for c in chunks),
            generated=sum(c["generated_tokens"] for c in chunks), runs=len(chunks)))
    res[setting] = runs

med = lambda runs, k: st.median(x[k] for x in runs)
print(f"{'context':8} {'wall s (median, min-max)':>26} {'load ms':>8} {'prefill ms':>10} {'generate ms':>11} "
      f"{'prompt tok':>10} {'shared':>6} {'generated':>9} {'prompt tok/s':>12}")
for setting, runs in res.items():
    walls = [x["wall"] / 1000 for x in runs]
    pf = med(runs, "prefill")
    tps = med(runs, "prompt") / pf * 1000 if pf else float("nan")
    print(f"{setting:8} {st.median(walls):>10.1f} ({min(walls):.1f}-{max(walls):.1f}){'':>6} "
          f"{med(runs, 'load'):>8.0f} {pf:>10.0f} {med(runs, 'generate'):>11.0f} "
          f"{med(runs, 'prompt'):>10.0f} {med(runs, 'shared'):>6.0f} {med(runs, 'generated'):>9.0f} {tps:>12.1f}")
off, on = res["off"], res["on"]
print(f"(prompt/shared/generated tokens: summed over {off[0]['runs']} reviewer-chunk run(s) per review)")
for x in off + on:
    x["fixed"] = x["wall"] - x["generate"]
print("(shared: prompt tokens of the prefix the reviewers share, prefilled once per review; "
      "prompt tok/s: prompt tokens / prefill time)")
print(f"ratio on/off: wall {med(on, 'wall') / med(off, 'wall'):.2f}x (goal <= 1.3x), "
      f"wall without generation {med(on, 'fixed') / med(off, 'fixed'):.2f}x, "
      f"prefill {med(on, 'prefill') / med(off, 'prefill'):.2f}x, "
      f"prompt tokens {med(on, 'prompt') / med(off, 'prompt'):.2f}x "
      f"(+{med(on, 'prompt') - med(off, 'prompt'):.0f})")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
