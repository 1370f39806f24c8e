//! The plain data every store module shares: which store ([`StoreKind`]),
//! where ([`StoreRoot`]), what was found ([`Found`], [`Scan`]) and the
//! environment the stores are found from ([`StoreEnv`]).

use std::ffi::OsString;
use std::path::PathBuf;

/// Which tool's store a model was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StoreKind {
    /// Ollama's models directory (manifests and blobs).
    Ollama,
    /// The Hugging Face hub cache (also where current llama.cpp `-hf` downloads go).
    HuggingFace,
    /// llama.cpp's own cache directory (`$LLAMA_CACHE`, `~/.cache/llama.cpp`).
    LlamaCppCache,
    /// LM Studio's models folder.
    LmStudio,
}

impl StoreKind {
    /// The store's name as users know it, for listings and messages.
    pub fn label(self) -> &'static str {
        match self {
            StoreKind::Ollama => "Ollama",
            StoreKind::HuggingFace => "Hugging Face cache",
            StoreKind::LlamaCppCache => "llama.cpp cache",
            StoreKind::LmStudio => "LM Studio",
        }
    }
}

/// Where to look: one root of one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRoot {
    /// The store's layout (decides how
    /// [`scan`](crate::engine::stores::scan) reads `dir`).
    pub kind: StoreKind,
    /// The store's top directory (Ollama's `models`, the hub cache's `hub`...).
    pub dir: PathBuf,
}

/// One GGUF found in a store.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// How to name it: `ollama:NAME:TAG`, `hf:ORG/NAME/FILE.gguf`,
    /// `lmstudio:PUBLISHER/MODEL/FILE.gguf`, or the absolute path of a file
    /// in a flat llama.cpp cache.
    /// [`resolve`](crate::engine::stores::resolve) of it gives this entry
    /// back.
    pub reference: String,
    /// The store it is in.
    pub kind: StoreKind,
    /// The file llama.cpp should open (the Ollama blob or the snapshot
    /// file; symlinks are fine). For an Ollama manifest with no model blob
    /// to point at (tensor layers only) it is the manifest itself.
    pub path: PathBuf,
    /// Lower-case hex SHA-256 of the content, when the store's layout tells
    /// it without reading the file (Ollama and hub blob names).
    pub sha256: Option<String>,
    /// Size in bytes (0 if unknown or missing; the sum of the parts for a
    /// split GGUF).
    pub size: u64,
    /// The blob of the Ollama template layer, if any: some Ollama GGUFs carry
    /// no chat template of their own and the caller may infer one from it.
    pub template: Option<PathBuf>,
    /// Why it cannot be used; such entries are listed but never run.
    pub unusable: Option<String>,
}

/// What scanning one root found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scan {
    /// The models, sorted by reference.
    pub found: Vec<Found>,
    /// What could not be read, each naming the path and what is wrong.
    pub problems: Vec<String>,
}

/// The environment the stores are found from (so tests never touch the real HOME).
pub struct StoreEnv<'a> {
    /// Reads an environment variable (empty values count as unset).
    pub var: &'a dyn Fn(&str) -> Option<OsString>,
    /// The user's home directory.
    pub home: PathBuf,
}

/// The process environment, for [`StoreEnv::from_process`] (a function item,
/// so a `'static` reference to it needs no allocation).
fn process_var(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

impl StoreEnv<'_> {
    /// The real environment: `std::env::var_os` and `$HOME`.
    pub fn from_process() -> StoreEnv<'static> {
        StoreEnv {
            var: &process_var,
            home: crate::engine::entry::home(),
        }
    }

    /// A variable's value; set-but-empty is treated as unset, as the tools
    /// themselves do (`OLLAMA_MODELS=` means the default directory).
    fn get(&self, name: &str) -> Option<OsString> {
        (self.var)(name).filter(|v| !v.is_empty())
    }

    pub(super) fn path_var(&self, name: &str) -> Option<PathBuf> {
        self.get(name).map(PathBuf::from)
    }

    /// `(NAME not set)` / `(NAME=value)` notes for error messages, so the
    /// user sees which variables decided where we looked.
    pub(super) fn notes(&self, names: &[&str]) -> String {
        names
            .iter()
            .map(|n| match self.get(n) {
                Some(v) => format!("{n}={}", PathBuf::from(v).display()),
                None => format!("{n} not set"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}
