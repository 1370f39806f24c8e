//! Planted bugs (`eval --mutants N`): one known defect written into a real
//! change; and decoys (`eval --decoys M`): one edit that keeps the
//! behaviour, so that any finding on it is a false positive (the kinds and
//! their rules are in the `decoys` module). Two layers:
//!
//! 1. **Text** ([`sites`], [`apply`]): where a mutation [`Operator`] applies
//!    in one file, and the file with exactly one site changed (every other
//!    byte, line endings included, is the original's).
//! 2. **Objects** ([`plant`]): hunks that recent first-parent commits added
//!    are searched for sites; a seeded choice of them becomes new blob, tree
//!    and commit objects (never a ref, the index or a work-tree file), each
//!    a [`Case`](crate::eval::case::Case) with one
//!    [`Defect`](crate::eval::case::Defect).
//!
//! # Operators, by rule (Rust, Python, Go, JavaScript and TypeScript)
//!
//! * [`Operator::FlipComparison`]: `<`↔`<=`, `>`↔`>=`, `==`↔`!=`
//!   (`===`↔`!==` in JS/TS). The operator must have a space on each side
//!   (` < `): that is what tells `a < b` from `Vec<u8>`, `Option<T>`, and
//!   whole-run matching keeps `<<`, `->`, `=>`, `<-`, `<=>` out.
//! * [`Operator::OffByOne`], two rules: (a) an integer bound ` + 1` / ` - 1`
//!   (spaces around the operator, a literal `1`, an operand before it, and
//!   nothing binding tighter after it) is removed: `xs[n - 1]` → `xs[n]`;
//!   (b) a length — `x.len()` (Rust), `len(x)` (Go, Python), `x.length`
//!   (JS/TS) — that is the right operand of `<`, `<=`, `>`, `>=`, the end of
//!   a Rust range (`..`, `..=`) or the only argument of Python's `range()`
//!   gets ` - 1`: `i < len(xs)` → `i < len(xs) - 1`. Rule (a) needs the
//!   spaces, so gofmt's tight `xs[n-1]` is not taken.
//! * [`Operator::DropNullCheck`]: a guard whose condition is exactly one
//!   null test — Go `x == nil`, Rust `x.is_none()` / `x.is_null()`, Python
//!   `x is None` / `x == None`, JS/TS `x == null` / `x === undefined` (`!x`
//!   is not taken: too often a boolean) — and whose body is at most 4 lines
//!   and ends in `return`/`continue`/`break`/`raise`/`throw`/`panic`, with
//!   no `else`, is removed whole.
//! * [`Operator::DropErrorReturn`]: Rust: one `?` operator is removed; Go:
//!   a plain `if err != nil { … return … }` block (a short body as above;
//!   not the `if err := f(); err != nil` form, whose removal would drop the
//!   call too); Python: a `raise` statement; JS/TS: a `throw` statement.
//! * [`Operator::SwapArguments`]: a call with exactly two arguments that
//!   are both plain identifiers, both decimal integer literals or both
//!   string literals has them swapped. Without types, "the same kind of
//!   token" stands in for "the same type", so the swap still compiles in
//!   the usual case; for the same reason built-in type names, `self`,
//!   `this`, `true`, `None`... are not plain identifiers here, and a
//!   capitalized one (a type or constant) is only swapped with another.
//!   Definitions (`fn`, `def`, `function`, `func`, `class`, JS methods
//!   `name(a, b) {`), patterns (`Point(x, y) =`, `=>`), Rust attributes and
//!   keyword "calls" (`if (a, b)`) are not sites.
//! * [`Operator::InvertCondition`]: `if cond {` → `if !(cond) {` (Rust,
//!   Go; Rust `while` too; not `if let`), `if (cond)` → `if (!(cond))`
//!   (JS/TS, and `while`), `if cond:` → `if not (cond):` (Python, `elif`
//!   and `while` too); the condition must be on one line.
//! * [`Operator::RemoveRelease`]: a line that is only `x.unlock()`,
//!   `x.close()`, `x.release()` (Go's `Unlock`/`RUnlock`/`Close`/`Release`
//!   too; `await` allowed in JS and Python), Rust `drop(x);`, or a
//!   one-line Go `defer …` is removed.
//!
//! A removed Python statement that was the only one of its block becomes
//! `pass` at the same indentation, so the file still parses; a removed JS
//! statement that was the body of a brace-less `if`/`else`/loop is not a
//! site. Every site's edit keeps brackets balanced and never starts or ends
//! inside a string or comment.
//!
//! # Limits of the scanner
//!
//! Comments (`//`, `/* */` nested in Rust, `#` in Python) and string
//! literals (`"…"`, `'…'`, Python triple quotes, Rust raw strings `r#"…"#`
//! and char literals, Go raw strings and JS template literals in
//! backticks) are found by one pass over the file with no parser: code in
//! `${…}` of a template literal and in f-string braces counts as string,
//! a JS regex literal is told from a division by the token before the `/`
//! (an operator, an opening bracket, or a keyword like `return`), and a
//! Rust byte string's `b` prefix counts as code. A misread literal mostly
//! hides sites; rarely, it could put one inside a JS regex.
//!
//! # Layout
//!
//! `types` (the operators, sites and mutations every part shares), `lex`
//! (classifying bytes as code, comment or string), `ctx` (one file,
//! scanned, and the queries the operators use), `operators` (the seven
//! operators), `text` (the text layer: [`sites`], [`apply`]), `decoys`
//! (the four decoy kinds and their text layer: [`decoy_sites`],
//! [`apply_decoy`]), `choose` (the seeded choice of sites) and `objects`
//! (the object layer: [`plant`], [`plant_decoys`]). This file only
//! declares them and re-exports the public items.

mod choose;
mod ctx;
mod decoys;
mod lex;
mod objects;
mod operators;
mod text;
mod types;

pub use decoys::{apply as apply_decoy, sites as decoy_sites, Decoy, DecoyKind, DecoySite};
pub use objects::{
    is_test_path, plant, plant_decoys, with_scratch_objects, DecoyCase, MutantCase, MutantOptions,
    ScratchObjects, DEFAULT_MAX_CHANGED_LINES, DEFAULT_RECENT_COMMITS,
};
pub use text::{apply, sites};
pub use types::{Mutation, Operator, Site};
