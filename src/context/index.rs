//! The head tree → a symbol index: every indexed file's tags, and who
//! defines and who uses each name. Tags are cached per blob (keyed by the
//! blob id, the parser and [`TAGS_VERSION`]), so a second review of a large
//! repository parses only the blobs that changed.

use super::tags::{self, Def, FileTags, TAGS_VERSION};
use super::tree::{self, Skip, TreeFile};
use crate::cache::{Cache, CacheKey};
use crate::error::{Error, Result};
use gix::ObjectId;
use rayon::prelude::*;
use std::collections::HashMap;

/// One indexed file.
#[derive(Debug, Clone)]
pub struct IndexedFile {
    pub path: String,
    pub blob: ObjectId,
    pub tags: FileTags,
    /// A test file (by its path), whose uses of a changed symbol are tests of it.
    pub test: bool,
}

/// Where a definition is: (file index, def index in that file).
pub type DefId = (usize, usize);

/// The index of one tree.
#[derive(Debug, Default)]
pub struct SymbolIndex {
    pub files: Vec<IndexedFile>,
    pub by_path: HashMap<String, usize>,
    /// Definitions by name.
    pub defs: HashMap<String, Vec<DefId>>,
    /// Uses by name: (file index, line).
    pub uses: HashMap<String, Vec<(usize, u32)>>,
    pub skipped: Vec<Skip>,
    /// Files whose tags came from the cache, and files parsed now.
    pub cached: usize,
    pub parsed: usize,
}

/// Files read and parsed per batch: bounds the text held in memory at once.
const BATCH: usize = 256;

impl SymbolIndex {
    /// Indexes `commit`'s tree (see [`tree::list`] for what is left out).
    pub fn build(
        repo: &gix::Repository,
        commit: ObjectId,
        ignore: &[String],
        cache: Option<&Cache>,
    ) -> Result<SymbolIndex> {
        let (listed, mut skipped) = tree::list(repo, commit, ignore)?;
        let mut index = SymbolIndex::default();
        for batch in listed.chunks(BATCH) {
            let mut todo: Vec<(&TreeFile, String)> = Vec::new();
            for f in batch {
                let key = tags_key(f);
                if let Some(tags) = cache
                    .and_then(|c| c.get(&key))
                    .and_then(|t| serde_json::from_str::<CachedTags>(&t).ok())
                {
                    match tags {
                        CachedTags::Tags(t) => {
                            index.cached += 1;
                            index.push(f, t);
                        }
                        CachedTags::Skip(reason) => skipped.push(Skip {
                            path: f.path.clone(),
                            reason,
                        }),
                    }
                    continue;
                }
                let blob = repo.find_blob(f.blob).map_err(|e| {
                    Error::Git(format!("cannot read `{}` ({}): {e}", f.path, f.blob))
                })?;
                let text = match tree::text_of(&blob.data) {
                    Ok(text) => text,
                    Err(reason) => {
                        put(cache, f, &CachedTags::Skip(reason.clone()));
                        skipped.push(Skip {
                            path: f.path.clone(),
                            reason,
                        });
                        continue;
                    }
                };
                todo.push((f, text));
            }
            let tagged: Vec<FileTags> = todo
                .par_iter()
                .map(|(f, text)| tags::tag(&f.path, text))
                .collect();
            for ((f, _), t) in todo.into_iter().zip(tagged) {
                put(cache, f, &CachedTags::Tags(t.clone()));
                index.parsed += 1;
                index.push(f, t);
            }
        }
        skipped.sort_by(|a, b| a.path.cmp(&b.path));
        index.skipped = skipped;
        Ok(index)
    }

    fn push(&mut self, f: &TreeFile, tags: FileTags) {
        let i = self.files.len();
        for (d, def) in tags.defs.iter().enumerate() {
            self.defs.entry(def.name.clone()).or_default().push((i, d));
        }
        for r in &tags.refs {
            self.uses
                .entry(r.name.clone())
                .or_default()
                .push((i, r.line));
        }
        self.by_path.insert(f.path.clone(), i);
        self.files.push(IndexedFile {
            path: f.path.clone(),
            blob: f.blob,
            test: crate::git::lang::is_test_path(&f.path),
            tags,
        });
    }

    /// The definition `id` points at.
    pub fn def(&self, id: DefId) -> &Def {
        &self.files[id.0].tags.defs[id.1]
    }

    /// The innermost definition of `file` that spans `line`, preferring code
    /// that runs (a function or method) over the type around it.
    pub fn enclosing(&self, file: usize, line: u32) -> Option<DefId> {
        let defs = &self.files[file].tags.defs;
        defs.iter()
            .enumerate()
            .filter(|(_, d)| d.start <= line && line <= d.end)
            .min_by_key(|(_, d)| (!d.kind.is_callable(), d.end - d.start))
            .map(|(i, _)| (file, i))
    }

    /// Total lines indexed (for the benchmark's lines per second).
    pub fn lines(&self) -> u64 {
        self.files.iter().map(|f| f.tags.lines as u64).sum()
    }
}

/// What the cache keeps for a blob: its tags, or why it is not indexed.
#[derive(serde::Serialize, serde::Deserialize)]
enum CachedTags {
    Tags(FileTags),
    Skip(String),
}

fn tags_key(f: &TreeFile) -> CacheKey {
    CacheKey::new(&[
        b"context tags",
        TAGS_VERSION.to_string().as_bytes(),
        tags::parser_for(&f.path).as_bytes(),
        // The parser depends on the extension, the blob on nothing else.
        f.path.rsplit('.').next().unwrap_or("").as_bytes(),
        f.blob.as_bytes(),
    ])
}

fn put(cache: Option<&Cache>, f: &TreeFile, tags: &CachedTags) {
    if let (Some(c), Ok(text)) = (cache, serde_json::to_string(tags)) {
        // A cache that cannot be written only costs time next run.
        let _ = c.put(&tags_key(f), &text);
    }
}
