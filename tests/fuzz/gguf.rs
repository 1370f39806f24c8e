//! GGUF headers: a model file from a store is untrusted. Our reader must
//! turn any header into `Ok` or `Error::Model`, never a panic; and a header
//! llama.cpp would abort on (it asserts on some values instead of failing)
//! must be refused before llama.cpp sees it: exit 4, not a signal.
//!
//! The mutations start from the bundled SmolLM2 file's real header; files
//! are the header followed by a sparse hole of the original size, so no
//! weights are copied for the in-process properties.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use git_deep_review::engine::gguf_meta::{build_test_gguf, read_gguf_info};
use git_deep_review::Error;
use proptest::prelude::*;

use crate::common;
use crate::fuzz;

/// A GGUF file taken apart: metadata as raw typed values, the tensor table
/// as raw bytes, the data section untouched. Only what the mutations need.
#[derive(Clone, Debug)]
struct Gguf {
    version: u32,
    n_tensors: u64,
    kvs: Vec<(String, u32, Vec<u8>)>,
    tensors: Vec<Vec<u8>>,
}

fn u32_at(b: &[u8], p: usize) -> u32 {
    u32::from_le_bytes(b[p..p + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], p: usize) -> u64 {
    u64::from_le_bytes(b[p..p + 8].try_into().unwrap())
}

/// The end of a value of type `ty` at `p` (trusted input: the real file).
fn value_end(b: &[u8], ty: u32, p: usize) -> usize {
    match ty {
        0 | 1 | 7 => p + 1,
        2 | 3 => p + 2,
        4..=6 => p + 4,
        10..=12 => p + 8,
        8 => p + 8 + u64_at(b, p) as usize,
        9 => {
            let (elem, n) = (u32_at(b, p), u64_at(b, p + 4));
            (0..n).fold(p + 12, |q, _| value_end(b, elem, q))
        }
        _ => panic!("type {ty} in the real file"),
    }
}

impl Gguf {
    /// Parses `b`; returns the model and where the data section starts.
    fn parse(b: &[u8]) -> (Gguf, usize) {
        assert_eq!(&b[..4], b"GGUF");
        let (version, n_tensors, n_kv) = (u32_at(b, 4), u64_at(b, 8), u64_at(b, 16));
        let mut p = 24;
        let mut kvs = Vec::new();
        for _ in 0..n_kv {
            let len = u64_at(b, p) as usize;
            let key = String::from_utf8(b[p + 8..p + 8 + len].to_vec()).unwrap();
            p += 8 + len;
            let ty = u32_at(b, p);
            let end = value_end(b, ty, p + 4);
            kvs.push((key, ty, b[p + 4..end].to_vec()));
            p = end;
        }
        let mut tensors = Vec::new();
        for _ in 0..n_tensors {
            let start = p;
            p += 8 + u64_at(b, p) as usize;
            let dims = u32_at(b, p) as usize;
            p += 4 + 8 * dims + 4 + 8;
            tensors.push(b[start..p].to_vec());
        }
        let g = Gguf {
            version,
            n_tensors,
            kvs,
            tensors,
        };
        (g, p.div_ceil(32) * 32)
    }

    /// The header bytes, padded to the (default) alignment of 32.
    fn header(&self) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.n_tensors.to_le_bytes());
        out.extend_from_slice(&(self.kvs.len() as u64).to_le_bytes());
        for (k, ty, v) in &self.kvs {
            out.extend_from_slice(&(k.len() as u64).to_le_bytes());
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(&ty.to_le_bytes());
            out.extend_from_slice(v);
        }
        for t in &self.tensors {
            out.extend_from_slice(t);
        }
        out.resize(out.len().div_ceil(32) * 32, 0);
        out
    }

    fn set(&mut self, key: &str, ty: u32, raw: Vec<u8>) {
        match self.kvs.iter_mut().find(|(k, _, _)| k == key) {
            Some(kv) => (kv.1, kv.2) = (ty, raw),
            None => self.kvs.push((key.to_string(), ty, raw)),
        }
    }

    fn set_u32(&mut self, key: &str, v: u32) {
        self.set(key, 4, v.to_le_bytes().to_vec());
    }

    fn set_str(&mut self, key: &str, v: &str) {
        let mut raw = (v.len() as u64).to_le_bytes().to_vec();
        raw.extend_from_slice(v.as_bytes());
        self.set(key, 8, raw);
    }

    /// The vocabulary's tokens.
    fn tokens(&self) -> Vec<Vec<u8>> {
        let (_, _, raw) = self
            .kvs
            .iter()
            .find(|(k, _, _)| k == "tokenizer.ggml.tokens")
            .unwrap();
        let n = u64_at(raw, 4);
        let mut p = 12;
        (0..n)
            .map(|_| {
                let len = u64_at(raw, p) as usize;
                p += 8 + len;
                raw[p - len..p].to_vec()
            })
            .collect()
    }

    fn set_tokens(&mut self, tokens: &[Vec<u8>]) {
        let mut raw = 8u32.to_le_bytes().to_vec();
        raw.extend_from_slice(&(tokens.len() as u64).to_le_bytes());
        for t in tokens {
            raw.extend_from_slice(&(t.len() as u64).to_le_bytes());
            raw.extend_from_slice(t);
        }
        self.set("tokenizer.ggml.tokens", 9, raw);
    }
}

/// The bundled SmolLM2 file's header (up to its data section), its model,
/// and the file's size.
fn smol() -> &'static (Vec<u8>, Gguf, u64) {
    static SMOL: OnceLock<(Vec<u8>, Gguf, u64)> = OnceLock::new();
    SMOL.get_or_init(|| {
        let path = common::models::dir().join(common::models::SMOL_FILE);
        let size = std::fs::metadata(&path).unwrap().len();
        let mut head = vec![0u8; 4 << 20];
        let mut f = std::fs::File::open(&path).unwrap();
        std::io::Read::read_exact(&mut f, &mut head).unwrap();
        let (g, data_start) = Gguf::parse(&head);
        head.truncate(data_start);
        (head, g, size)
    })
}

/// Writes `header` followed by a hole up to `size` bytes (sparse: instant).
fn write_sparse(path: &Path, header: &[u8], size: u64) {
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(header).unwrap();
    f.set_len(size.max(header.len() as u64)).unwrap();
}

/// A file that keeps the real data section after a rewritten header (the
/// tensors' offsets are relative to the data section, so they still hold).
fn write_with_data(path: &Path, g: &Gguf) {
    let src = common::models::dir().join(common::models::SMOL_FILE);
    let (head, _, _) = smol();
    let mut input = std::fs::File::open(src).unwrap();
    std::io::Seek::seek(&mut input, std::io::SeekFrom::Start(head.len() as u64)).unwrap();
    let mut out = std::fs::File::create(path).unwrap();
    out.write_all(&g.header()).unwrap();
    std::io::copy(&mut input, &mut out).unwrap();
}

/// Our reader's verdict on `bytes`: `Ok` or a model error naming the file;
/// anything else (another error kind, a panic) fails the property.
fn read_is_ok_or_model_error(dir: &Path, bytes: &[u8], size: u64) -> Result<bool, TestCaseError> {
    let path = dir.join("m.gguf");
    write_sparse(&path, bytes, size);
    match read_gguf_info(&path) {
        Ok(info) => {
            prop_assert!(!info.architecture.is_empty());
            prop_assert!(info.tensor_count > 0);
            prop_assert_eq!(info.file_size, size.max(bytes.len() as u64));
            Ok(true)
        }
        Err(Error::Model(msg)) => {
            prop_assert!(msg.contains(&path.display().to_string()), "{}", msg);
            Ok(false)
        }
        Err(other) => Err(TestCaseError::fail(format!("not a model error: {other:?}"))),
    }
}

/// Values that break length and count checks.
fn interesting_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(31),
        Just(32),
        Just(513),
        Just(u32::MAX as u64),
        Just(u32::MAX as u64 + 1),
        Just(i64::MAX as u64),
        Just(i64::MAX as u64 + 1),
        Just(u64::MAX),
        any::<u64>(),
    ]
}

#[derive(Clone, Debug)]
enum Edit {
    Byte(usize, u8),
    U32(usize, u32),
    U64(usize, u64),
}

/// Edits at positions biased to where the structure is: the first
/// metadata (counts, keys, hyperparameters) and the tensor table.
fn edits(header_len: usize, tensors_at: usize) -> impl Strategy<Value = Vec<Edit>> {
    let pos = prop_oneof![0..2048usize, tensors_at..header_len, 0..header_len,];
    let edit =
        (pos, any::<u8>(), any::<u32>(), interesting_u64(), 0..3u8).prop_map(|(p, b, w, q, k)| {
            match k {
                0 => Edit::Byte(p, b),
                1 => Edit::U32(p, w),
                _ => Edit::U64(p, q),
            }
        });
    prop::collection::vec(edit, 1..6)
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let (p, v): (usize, Vec<u8>) = match e {
            Edit::Byte(p, b) => (*p, vec![*b]),
            Edit::U32(p, w) => (*p, w.to_le_bytes().to_vec()),
            Edit::U64(p, q) => (*p, q.to_le_bytes().to_vec()),
        };
        let end = (p + v.len()).min(bytes.len());
        bytes[p..end].copy_from_slice(&v[..end - p]);
    }
    bytes
}

#[test]
fn gguf_byte_mutations_of_a_real_header_are_ok_or_model_errors() {
    let (head, g, size) = smol();
    let tensors_at = head.len() - g.tensors.iter().map(Vec::len).sum::<usize>() - 32;
    let dir = tempfile::tempdir().unwrap();
    fuzz(
        "gguf bytes",
        48,
        (
            edits(head.len(), tensors_at),
            prop::option::of(0..head.len()),
        ),
        |(edits, cut)| {
            let mut bytes = apply(head.clone(), &edits);
            // A cut header keeps its full size: a hole stands for the rest.
            if let Some(cut) = cut {
                bytes.truncate(cut);
            }
            read_is_ok_or_model_error(dir.path(), &bytes, *size).map(|_| ())
        },
    );
}

/// Hyperparameter keys llama.cpp asserts on, and other keys it reads.
const KEYS: &[&str] = &[
    "llama.block_count",
    "llama.nextn_predict_layers",
    "llama.expert_count",
    "llama.expert_used_count",
    "llama.expert_group_count",
    "llama.expert_group_used_count",
    "llama.posnet.block_count",
    "llama.rope.scaling.type",
    "llama.context_length",
    "general.alignment",
    "general.architecture",
    "general.file_type",
    "split.count",
    "tokenizer.chat_template",
];

#[derive(Clone, Debug)]
enum Structured {
    /// Key (from `KEYS`), GGUF type (0..=13, 13 unknown), raw value bytes.
    Set(usize, u32, Vec<u8>),
    SetU32(usize, u32),
    Remove(usize),
    /// Token `i` becomes a copy of token `j`, optionally with a NUL and more after it.
    DupToken(usize, usize, bool),
    /// A tensor-table entry: one of its u32/u64 fields (by byte offset from its end) set.
    TensorField(usize, u8, u64),
    Version(u32),
}

fn structured() -> impl Strategy<Value = Vec<Structured>> {
    let k = 0..KEYS.len();
    let one = prop_oneof![
        (
            k.clone(),
            0..14u32,
            prop::collection::vec(any::<u8>(), 0..24)
        )
            .prop_map(|(k, t, v)| Structured::Set(k, t, v)),
        (
            k.clone(),
            prop_oneof![0..4u32, 500..520u32, 1020..1030u32, any::<u32>()]
        )
            .prop_map(|(k, v)| Structured::SetU32(k, v)),
        k.prop_map(Structured::Remove),
        (0..49152usize, 0..49152usize, any::<bool>())
            .prop_map(|(i, j, n)| Structured::DupToken(i, j, n)),
        (0..272usize, 0..4u8, interesting_u64())
            .prop_map(|(t, f, v)| Structured::TensorField(t, f, v)),
        prop_oneof![Just(1u32), Just(2), Just(4), any::<u32>()].prop_map(Structured::Version),
    ];
    prop::collection::vec(one, 1..4)
}

fn apply_structured(g: &Gguf, edits: &[Structured]) -> Gguf {
    let mut g = g.clone();
    for e in edits {
        match e {
            Structured::Set(k, t, v) => g.set(KEYS[*k], *t, v.clone()),
            Structured::SetU32(k, v) => g.set_u32(KEYS[*k], *v),
            Structured::Remove(k) => g.kvs.retain(|(key, _, _)| key != KEYS[*k]),
            Structured::DupToken(i, j, nul) => {
                let mut toks = g.tokens();
                let (i, j) = (i % toks.len(), j % toks.len());
                let mut t = toks[j].clone();
                if *nul {
                    t.extend_from_slice(b"\0tail");
                }
                toks[i] = t;
                g.set_tokens(&toks);
            }
            Structured::TensorField(t, f, v) => {
                let count = g.tensors.len();
                let t = &mut g.tensors[t % count];
                let n = t.len();
                // From the end: offset (u64), type (u32), last dimension (u64).
                match f {
                    0 => t[n - 8..].copy_from_slice(&v.to_le_bytes()),
                    1 => t[n - 12..n - 8].copy_from_slice(&(*v as u32).to_le_bytes()),
                    _ => t[n - 20..n - 12].copy_from_slice(&v.to_le_bytes()),
                }
            }
            Structured::Version(v) => g.version = *v,
        }
    }
    g
}

#[test]
fn gguf_structured_mutations_are_ok_or_model_errors() {
    let (_, g, size) = smol();
    let dir = tempfile::tempdir().unwrap();
    fuzz("gguf structured", 48, structured(), |edits| {
        let bytes = apply_structured(g, &edits).header();
        let accepted = read_is_ok_or_model_error(dir.path(), &bytes, *size)?;
        // What llama.cpp asserts on can never pass our reader.
        if accepted {
            let m = apply_structured(g, &edits);
            for (k, ty, v) in &m.kvs {
                if k == "llama.block_count" && *ty == 4 {
                    let n = u32::from_le_bytes(v[..4].try_into().unwrap());
                    prop_assert!((1..=512).contains(&n), "block_count {} accepted", n);
                }
            }
            let toks = m.tokens();
            let cut: std::collections::HashSet<&[u8]> = toks
                .iter()
                .map(|t| &t[..t.iter().position(|&b| b == 0).unwrap_or(t.len())])
                .collect();
            prop_assert_eq!(cut.len(), toks.len(), "duplicate tokens accepted");
        }
        Ok(())
    });
}

#[test]
fn gguf_arbitrary_bytes_after_a_valid_start_are_ok_or_model_errors() {
    let valid = build_test_gguf(
        &[("general.architecture", "llama")],
        &[("llama.block_count", 2)],
        &[("a", 64)],
    );
    let dir = tempfile::tempdir().unwrap();
    fuzz(
        "gguf arbitrary",
        256,
        (
            0..valid.len(),
            prop::collection::vec(any::<u8>(), 0..512),
            any::<bool>(),
        ),
        |(keep, tail, sparse)| {
            let mut bytes = valid[..keep].to_vec();
            bytes.extend_from_slice(&tail);
            let size = if sparse { 1 << 20 } else { 0 };
            read_is_ok_or_model_error(dir.path(), &bytes, size).map(|_| ())
        },
    );
}

#[test]
fn gguf_rewriting_the_real_header_changes_nothing() {
    let (head, g, size) = smol();
    assert_eq!(&g.header(), head, "the test's GGUF writer is faithful");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    write_sparse(&path, &g.header(), *size);
    let ours = read_gguf_info(&path).unwrap();
    let real = read_gguf_info(&common::models::dir().join(common::models::SMOL_FILE)).unwrap();
    assert_eq!(ours, real);
    assert_eq!(real.architecture, "llama");
}

/// Headers llama.cpp aborts on (`GGML_ASSERT`), each a one-field change of
/// the real SmolLM2 header. Found by reading llama.cpp's loader and by the
/// structured property above; kept as regression cases.
fn crafted() -> Vec<(&'static str, Gguf, &'static str)> {
    let (_, g, _) = smol();
    let with = |f: &dyn Fn(&mut Gguf)| {
        let mut g = g.clone();
        f(&mut g);
        g
    };
    let dup = |nul: bool| {
        with(&|g: &mut Gguf| {
            let mut toks = g.tokens();
            toks[300] = toks[200].clone();
            if nul {
                toks[300].extend_from_slice(b"\0x");
            }
            g.set_tokens(&toks);
        })
    };
    vec![
        (
            "no-layers",
            with(&|g| g.set_u32("llama.block_count", 0)),
            "block_count",
        ),
        (
            "too-many-layers",
            with(&|g| g.set_u32("llama.block_count", 100_000)),
            "block_count",
        ),
        (
            "nextn-over-layers",
            with(&|g| g.set_u32("llama.nextn_predict_layers", 31)),
            "nextn_predict_layers",
        ),
        (
            "experts-none-used",
            with(&|g| g.set_u32("llama.expert_count", 8)),
            "experts",
        ),
        (
            "experts-used-without-experts",
            with(&|g| g.set_u32("llama.expert_used_count", 2)),
            "experts",
        ),
        (
            "bogus-rope-scaling",
            with(&|g| g.set_str("llama.rope.scaling.type", "bogus")),
            "rope.scaling.type",
        ),
        ("duplicate-token", dup(false), "repeats an earlier token"),
        (
            "token-equal-up-to-nul",
            dup(true),
            "repeats an earlier token",
        ),
        (
            "unknown-tensor-type",
            with(&|g| {
                let t = &mut g.tensors[0];
                let n = t.len();
                t[n - 12..n - 8].copy_from_slice(&31u32.to_le_bytes());
            }),
            "unknown tensor type",
        ),
    ]
}

#[test]
fn gguf_crafted_headers_llama_cpp_aborts_on_are_refused_by_our_reader() {
    let (_, _, size) = smol();
    let dir = tempfile::tempdir().unwrap();
    for (name, g, says) in crafted() {
        let path = dir.path().join(format!("{name}.gguf"));
        write_sparse(&path, &g.header(), *size);
        match read_gguf_info(&path) {
            Err(Error::Model(msg)) => assert!(msg.contains(says), "{name}: {msg}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// The binary under test: this build's, or `DEEP_REVIEW_FUZZ_BIN` (to run
/// the same crafted files against another build, e.g. before a fix).
fn bin() -> PathBuf {
    std::env::var_os("DEEP_REVIEW_FUZZ_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(common::repo::BIN))
}

#[test]
fn gguf_crafted_headers_through_the_real_binary_exit_4_not_abort() {
    let repo = common::repo::TestRepo::new();
    repo.commit_files("one", &[("a.py", "a = 1\n")]);
    repo.commit_files("two", &[("a.py", "a = 2\n")]);
    let dir = tempfile::tempdir().unwrap();
    // Each crafted file differs from the working model by one field (the
    // unchanged rewrite is byte-identical: see the test above).
    for (name, g, says) in crafted() {
        let path = dir.path().join(format!("{name}.gguf"));
        write_with_data(&path, &g);
        let mut cmd = repo.deep_review(&["HEAD~1..HEAD", "--model"]);
        cmd.arg(&path).args(["--format", "json", "-o", "-"]);
        common::repo::TestRepo::with_models(&mut cmd);
        // The same command line and environment, run by `bin()`.
        let out = std::process::Command::new(bin())
            .args(cmd.get_args())
            .env_clear()
            .envs(
                cmd.get_envs()
                    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
            )
            .current_dir(cmd.get_current_dir().unwrap())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.signal(),
            None,
            "{name}: killed by a signal (llama.cpp aborted): {stderr}"
        );
        assert_eq!(out.status.code(), Some(4), "{name}: {stderr}");
        assert!(
            stderr.contains(says) && stderr.contains(&format!("{name}.gguf")),
            "{name}: {stderr}"
        );
        std::fs::remove_file(&path).unwrap();
    }
}
