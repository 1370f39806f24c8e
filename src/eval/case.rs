//! A case of `eval` as plain data: where it came from ([`Source`]), the
//! change to review and the known defects ([`Defect`]) it should reveal.

use crate::check::findings::Severity;
use gix::ObjectId;
use serde::Serialize;

/// Where a case came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A cases file written by hand (`--cases`).
    File,
    /// A commit that a later fix commit repaired (`--from-history`).
    History,
    /// A planted bug (`--mutants`).
    Mutant,
    /// A planted edit that keeps the behaviour (`--decoys`): no defect,
    /// so every finding on it is a false positive.
    Decoy,
}

/// One known defect of a case: lines of `file` as it is at the case's head
/// (1-based, inclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Defect {
    pub file: String,
    pub line_start: u32,
    pub line_end: u32,
    pub severity: Severity,
    pub description: String,
}

/// One labelled change: review `base..head`, expect `defects`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Case {
    /// Stable and unique within one eval (`history-1a2b3c4`, `mutant-3`, a
    /// cases file's own name).
    pub id: String,
    pub source: Source,
    /// `None`: the empty tree (a root commit).
    #[serde(serialize_with = "hex_opt")]
    pub base: Option<ObjectId>,
    #[serde(serialize_with = "hex")]
    pub head: ObjectId,
    pub defects: Vec<Defect>,
    /// Where the labels come from, for a human: the fix commit(s), the
    /// mutation operator or decoy kind and site, or the cases file.
    pub provenance: String,
}

fn hex<S: serde::Serializer>(id: &ObjectId, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&id.to_string())
}

fn hex_opt<S: serde::Serializer>(
    id: &Option<ObjectId>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.serialize_str(&id.to_string()),
        None => s.serialize_none(),
    }
}
