//! One model as the manifest describes it ([`ModelEntry`]): plain data the
//! manifest, the stores and the hash check share.

use std::path::{Path, PathBuf};

/// How the prompt is laid out for a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatTemplate {
    /// The template stored in the GGUF (`tokenizer.chat_template`).
    Auto,
    /// A llama.cpp built-in template name (`gemma`, `chatml`...) or a full template string.
    Named(String),
    /// Plain completion layout for base models: `system\n\nuser\n\n`.
    Completion,
}

impl ChatTemplate {
    /// Parses `chat_template` as the manifest writes it (absent or `auto`,
    /// `none` / `completion`, or a template name or text).
    pub(crate) fn parse(s: Option<&str>) -> ChatTemplate {
        match s.map(str::trim) {
            None | Some("") | Some("auto") => ChatTemplate::Auto,
            Some("none") | Some("completion") => ChatTemplate::Completion,
            Some(other) => ChatTemplate::Named(other.to_string()),
        }
    }
}

/// One configured model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelEntry {
    pub name: String,
    /// File name relative to the models directory, or an absolute path.
    pub file: String,
    /// Lower-case hex sha256 of the file; empty = not checked (user entries may omit it).
    pub sha256: String,
    /// Expected size in bytes; 0 = not checked.
    pub size: u64,
    pub source: String,
    pub license: String,
    pub chat_template: ChatTemplate,
    /// Context length to allocate.
    pub n_ctx: u32,
    /// A bundled model too small to review code: it shows the pipeline
    /// working, and a review made only by such models says it is no review.
    pub demonstration: bool,
    /// Served by an inference server instead of a file (`file` is then
    /// empty and `n_ctx` 0 unless configured: the server says).
    pub remote: Option<crate::engine::remote::spec::RemoteSpec>,
}

impl ModelEntry {
    /// Where this model's file is expected, given the models directory.
    pub fn path_in(&self, dir: &Path) -> PathBuf {
        let p = Path::new(&self.file);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            dir.join(p)
        }
    }
}

/// The user's home directory (`.` when `HOME` is unset or empty).
pub(crate) fn home() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Fails (exit 4) when `path`, after following symlinks, exists but is not
/// a regular file, saying what it is. Checked before a model file is
/// opened or hashed: opening a FIFO waits for a writer forever, and
/// reading a device such as `/dev/zero` never ends. A path that cannot be
/// read at all passes, so the caller's own "missing file" message (which
/// says how to get the file) still speaks.
pub(crate) fn check_regular_file(path: &Path) -> crate::error::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(md) = std::fs::metadata(path) else {
        return Ok(());
    };
    let t = md.file_type();
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    let via = match std::fs::canonicalize(path) {
        Ok(target) if target != path => format!(" (it resolves to {})", target.display()),
        _ => String::new(),
    };
    Err(crate::error::Error::Model(format!(
        "model file {} is {what}{via}, not a regular file; name a GGUF file",
        path.display()
    )))
}
