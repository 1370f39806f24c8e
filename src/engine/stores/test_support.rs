//! Fixtures the stores' unit tests share: small GGUFs, files and
//! content-addressed blobs written into a temporary directory.

use std::path::Path;

use super::types::{Found, Scan, StoreKind, StoreRoot};
use crate::engine::gguf_meta::build_test_gguf;
use crate::engine::verify::sha256_file;

/// Small valid GGUF bytes; `name` makes the contents (and so the
/// digests) differ between models.
pub(super) fn gguf(name: &str) -> Vec<u8> {
    build_test_gguf(
        &[("general.architecture", "llama"), ("general.name", name)],
        &[],
        &[("t", 32)],
    )
}

pub(super) fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Writes `bytes` as a content-addressed blob named by `name_of(hex)`
/// in `dir`, returning the true SHA-256.
pub(super) fn blob(dir: &Path, bytes: &[u8], name_of: impl Fn(&str) -> String) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let tmp = dir.join("tmp-blob");
    std::fs::write(&tmp, bytes).unwrap();
    let hex = sha256_file(&tmp).unwrap();
    std::fs::rename(&tmp, dir.join(name_of(&hex))).unwrap();
    hex
}

pub(super) fn ollama_root(dir: &Path) -> StoreRoot {
    StoreRoot {
        kind: StoreKind::Ollama,
        dir: dir.to_path_buf(),
    }
}

pub(super) fn by_ref<'a>(scan: &'a Scan, reference: &str) -> &'a Found {
    scan.found
        .iter()
        .find(|f| f.reference == reference)
        .unwrap_or_else(|| panic!("no {reference} in {:#?}", scan.found))
}
