//! GGUF files as the file-based stores (hub snapshots, the flat llama.cpp
//! cache, LM Studio) hold them: which names are GGUFs, split parts and
//! vision projectors, and the [`Found`] entries a set of files gives.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::types::{Found, StoreKind};

pub(super) const MMPROJ_REASON: &str = "a vision projector (mmproj), not a language model";

pub(super) fn is_gguf_name(name: &str) -> bool {
    name.len() > 5 && name.to_ascii_lowercase().ends_with(".gguf")
}

pub(super) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `(prefix, part, total)` of a llama-gguf-split name
/// (`PREFIX-00001-of-00003.gguf`); `None` for ordinary files and for a
/// "split" into one part, which llama.cpp loads like any GGUF.
fn split_part(file_name: &str) -> Option<(&str, u32, u32)> {
    let stem = &file_name[..file_name.len().checked_sub(5)?];
    let (before, total) = stem.rsplit_once("-of-")?;
    let (prefix, part) = before.rsplit_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(part) || !digits(total) {
        return None;
    }
    let (part, total) = (part.parse().ok()?, total.parse().ok()?);
    (total > 1).then_some((prefix, part, total))
}

pub(super) fn split_reason(parts: u64) -> String {
    format!("split GGUF ({parts} parts): not supported; merge it with llama-gguf-split --merge")
}

fn is_mmproj(file_name: &str) -> bool {
    file_name.to_ascii_lowercase().contains("mmproj")
}

/// A GGUF file met in a file-based store (hub snapshot, flat cache, LM Studio).
pub(super) struct FileHit {
    /// The name relative to the repository / model folder (for the
    /// reference and for grouping the parts of a split file).
    pub(super) rel: String,
    pub(super) path: PathBuf,
    pub(super) size: u64,
    pub(super) sha256: Option<String>,
}

/// Found entries for a set of files: split parts are folded into one
/// unusable entry (the lowest part present), vision projectors are marked
/// unusable. `reference` turns a file's `rel` into its reference.
pub(super) fn files_to_found(
    kind: StoreKind,
    hits: Vec<FileHit>,
    reference: &dyn Fn(&str) -> String,
) -> Vec<Found> {
    // (folder + prefix, total) -> (lowest part, its hit, summed size).
    let mut splits: BTreeMap<(String, u32), (u32, FileHit, u64)> = BTreeMap::new();
    let mut out = Vec::new();
    for hit in hits {
        let file_name = hit.rel.rsplit('/').next().unwrap_or(&hit.rel);
        if let Some((prefix, part, total)) = split_part(file_name) {
            let dir = &hit.rel[..hit.rel.len() - file_name.len()];
            let key = (format!("{dir}{prefix}"), total);
            match splits.get_mut(&key) {
                Some(group) => {
                    group.2 += hit.size;
                    if part < group.0 {
                        group.0 = part;
                        group.1 = hit;
                    }
                }
                None => {
                    let size = hit.size;
                    splits.insert(key, (part, hit, size));
                }
            }
            continue;
        }
        let unusable = is_mmproj(file_name).then(|| MMPROJ_REASON.to_string());
        out.push(Found {
            reference: reference(&hit.rel),
            kind,
            path: hit.path,
            sha256: hit.sha256,
            size: hit.size,
            template: None,
            unusable,
        });
    }
    for ((_, total), (_, hit, size)) in splits {
        out.push(Found {
            reference: reference(&hit.rel),
            kind,
            path: hit.path,
            sha256: hit.sha256,
            size,
            template: None,
            unusable: Some(split_reason(u64::from(total))),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_names_are_parsed() {
        assert_eq!(split_part("m-00002-of-00003.gguf"), Some(("m", 2, 3)));
        assert_eq!(split_part("m-00001-of-00001.gguf"), None);
        assert_eq!(split_part("m-q4_k_m.gguf"), None);
        assert_eq!(split_part("m-x-of-3.gguf"), None);
    }
}
