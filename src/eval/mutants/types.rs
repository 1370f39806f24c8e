//! What the mutation modules share: the [`Operator`]s, a [`Site`] where
//! one applies, and the [`Mutation`] planting it gives.

use crate::check::findings::Severity;
use serde::Serialize;

/// A kind of planted defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operator {
    FlipComparison,
    OffByOne,
    DropNullCheck,
    DropErrorReturn,
    SwapArguments,
    InvertCondition,
    RemoveRelease,
}

impl Operator {
    /// Every operator, in the order sites of one line are listed.
    pub const ALL: [Operator; 7] = [
        Operator::FlipComparison,
        Operator::OffByOne,
        Operator::DropNullCheck,
        Operator::DropErrorReturn,
        Operator::SwapArguments,
        Operator::InvertCondition,
        Operator::RemoveRelease,
    ];

    /// The kebab-case name (as serialized, and in case ids).
    pub fn name(self) -> &'static str {
        match self {
            Operator::FlipComparison => "flip-comparison",
            Operator::OffByOne => "off-by-one",
            Operator::DropNullCheck => "drop-null-check",
            Operator::DropErrorReturn => "drop-error-return",
            Operator::SwapArguments => "swap-arguments",
            Operator::InvertCondition => "invert-condition",
            Operator::RemoveRelease => "remove-release",
        }
    }

    /// How bad the planted defect is.
    pub fn severity(self) -> Severity {
        // Removing a guard, an error path or a release takes away a whole
        // safety mechanism (a crash on a missing value, a failure that goes
        // on as success, a lock or handle never given back): critical. The
        // others compute a wrong value or take a wrong branch, which is a
        // real bug but stays local to the expression: important.
        match self {
            Operator::DropNullCheck | Operator::DropErrorReturn | Operator::RemoveRelease => {
                Severity::Critical
            }
            Operator::FlipComparison
            | Operator::OffByOne
            | Operator::SwapArguments
            | Operator::InvertCondition => Severity::Important,
        }
    }

    /// What the operator does, for humans.
    pub fn describe(self) -> &'static str {
        match self {
            Operator::FlipComparison => {
                "flips a comparison's boundary or sense (`<` and `<=`, `==` and `!=`)"
            }
            Operator::OffByOne => {
                "removes a `+ 1`/`- 1` bound, or takes one off a length in a comparison or range end"
            }
            Operator::DropNullCheck => {
                "removes a short guard that returns early on nil/None/null/undefined"
            }
            Operator::DropErrorReturn => {
                "drops an error path: Rust `?`, Go `if err != nil` block, Python `raise`, JS `throw`"
            }
            Operator::SwapArguments => {
                "swaps the two arguments of a call when both are the same kind of token"
            }
            Operator::InvertCondition => "negates an `if`/`while` condition",
            Operator::RemoveRelease => {
                "removes a release: `unlock()`, `close()`, `release()`, Rust `drop(x)`, Go `defer`"
            }
        }
    }
}

impl std::fmt::Display for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A place where an operator applies, with the edit it makes: the bytes
/// `start..end` of the original text (which are `original`) become
/// `replacement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub operator: Operator,
    /// 1-based line in the original where the site starts.
    pub line: u32,
    /// Byte offsets of the replaced region in the original text.
    pub start: usize,
    pub end: usize,
    /// The original text of `start..end`.
    pub original: String,
    /// What replaces it (empty for a removal).
    pub replacement: String,
    /// One line for humans, e.g. "flipped `<` to `<=` in `if i < n {`".
    pub description: String,
}

/// One planted defect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutation {
    pub operator: Operator,
    /// The mutated file's whole text.
    pub text: String,
    /// Lines of the MUTATED text that carry the defect (1-based,
    /// inclusive). For a removal, the line now at the removal point
    /// (clamped to the file), so a reviewer pointing at the gap matches.
    pub line_start: u32,
    pub line_end: u32,
    /// One line for humans: "flipped `<` to `<=` in `if i < n {`".
    pub description: String,
}
