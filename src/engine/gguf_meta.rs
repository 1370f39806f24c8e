//! A small, defensive GGUF header reader.
//!
//! Two jobs: `git deep-review models` shows what a file is (architecture,
//! quantisation, parameters, trained context, chat template) without loading
//! it, and every file is validated here *before* llama.cpp sees it, because a
//! truncated or corrupt file must be an error, never a crash. Every length
//! read from the file is bounded by the file's size, so a hostile header
//! cannot make us allocate or loop without limit.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::error::{Error, Result};

/// What the header says about a model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GgufInfo {
    pub version: u32,
    pub architecture: String,
    pub name: Option<String>,
    /// Quantisation, e.g. `Q4_K_M` (from `general.file_type`, else the most common tensor type).
    pub quantisation: String,
    pub parameters: u64,
    /// `<arch>.context_length`.
    pub trained_context: Option<u64>,
    pub has_chat_template: bool,
    /// The chat template text (`tokenizer.chat_template`), when it is short
    /// enough to keep: `models` and the engine detect its family and
    /// whether it opens a thinking block from it.
    pub chat_template: Option<String>,
    /// `split.count`: the file is one part of a split GGUF (more than 1).
    pub split_count: Option<u64>,
    pub tensor_count: u64,
    pub file_size: u64,
}

const MAGIC: &[u8; 4] = b"GGUF";
/// Strings longer than this are skipped, not kept (chat templates are a few KB).
const KEEP_STRING_MAX: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Int(i128),
    Float(f64),
    Bool(bool),
    Str(String),
    /// A long string we did not keep.
    LongStr,
    /// An array of integers short enough to keep (per-layer counts).
    IntArray(Vec<i128>),
    Array,
}

/// Integer arrays up to this length are kept (per-layer hyperparameters
/// are at most `LLAMA_MAX_LAYERS` long); longer ones are skipped.
const KEEP_INT_ARRAY_MAX: u64 = 4096;

/// A token of a vocabulary longer than this is a corrupt file, not a
/// token (real vocabularies' longest are a few hundred bytes).
const MAX_TOKEN_BYTES: u64 = 1 << 16;

/// llama.cpp's `LLAMA_MAX_LAYERS` and `LLAMA_MAX_EXPERTS`: it asserts
/// (aborts the process) on models beyond them.
const LLAMA_MAX_LAYERS: i128 = 512;
const LLAMA_MAX_EXPERTS: i128 = 1024;

struct Reader<R: Read> {
    r: R,
    pos: u64,
    size: u64,
    path: String,
}

impl<R: Read> Reader<R> {
    fn corrupt(&self, what: &str) -> Error {
        Error::Model(format!(
            "{} is not a valid GGUF model file ({what} at byte {}); the file is corrupt or truncated: \
             delete it and fetch it again (./install.sh or models/fetch.sh)",
            self.path, self.pos
        ))
    }

    /// Metadata that parses but that llama.cpp would abort on (it asserts
    /// on some values instead of returning an error).
    fn invalid(&self, what: &str) -> Error {
        Error::Model(format!(
            "{} is not a usable GGUF model file: {what}. llama.cpp would abort on it, so it is not \
             loaded; the file is damaged or was crafted: delete it and fetch it again",
            self.path
        ))
    }

    /// `tokenizer.ggml.tokens` after its key and type: every token must be
    /// distinct as llama.cpp sees it (a C string, so cut at the first NUL;
    /// an empty token becomes `[EMPTY_<i>]`), or llama.cpp asserts.
    fn vocabulary(&mut self) -> Result<()> {
        let elem = self.u32()?;
        let n = self.u64()?;
        if n > self.size.saturating_sub(self.pos) {
            return Err(self.corrupt("array length runs past the end of the file"));
        }
        if elem != 8 {
            // Not strings: llama.cpp refuses it with an error of its own.
            for _ in 0..n {
                self.value(elem, 1)?;
            }
            return Ok(());
        }
        let mut seen = std::collections::HashSet::with_capacity(n.min(1 << 20) as usize);
        for i in 0..n {
            let len = self.u64()?;
            if len > MAX_TOKEN_BYTES {
                return Err(self.corrupt(&format!("token {i} is {len} bytes long")));
            }
            let mut tok = self.bytes(len)?;
            if let Some(nul) = tok.iter().position(|&b| b == 0) {
                tok.truncate(nul);
            }
            if tok.is_empty() {
                tok = format!("[EMPTY_{i}]").into_bytes();
            }
            if !seen.insert(tok) {
                return Err(self.invalid(&format!(
                    "token {i} of tokenizer.ggml.tokens repeats an earlier token"
                )));
            }
        }
        Ok(())
    }

    fn bytes(&mut self, n: u64) -> Result<Vec<u8>> {
        if n > self.size.saturating_sub(self.pos) {
            return Err(self.corrupt("length runs past the end of the file"));
        }
        let mut buf = vec![0u8; n as usize];
        self.r
            .read_exact(&mut buf)
            .map_err(|_| self.corrupt("unexpected end of file"))?;
        self.pos += n;
        Ok(buf)
    }

    fn skip(&mut self, n: u64) -> Result<()> {
        if n > self.size.saturating_sub(self.pos) {
            return Err(self.corrupt("length runs past the end of the file"));
        }
        let copied = std::io::copy(&mut (&mut self.r).take(n), &mut std::io::sink())
            .map_err(|_| self.corrupt("read error"))?;
        if copied != n {
            return Err(self.corrupt("unexpected end of file"));
        }
        self.pos += n;
        Ok(())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let v = self.bytes(N as u64)?;
        let mut a = [0u8; N];
        a.copy_from_slice(&v);
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Reads a string; keeps it only when short enough to be metadata we show.
    fn string(&mut self) -> Result<Option<String>> {
        let len = self.u64()?;
        if len > KEEP_STRING_MAX {
            self.skip(len)?;
            return Ok(None);
        }
        let b = self.bytes(len)?;
        Ok(Some(String::from_utf8_lossy(&b).into_owned()))
    }

    fn value(&mut self, ty: u32, depth: u32) -> Result<Value> {
        Ok(match ty {
            0 => Value::Int(self.array::<1>()?[0] as i128),
            1 => Value::Int(self.array::<1>()?[0] as i8 as i128),
            2 => Value::Int(u16::from_le_bytes(self.array()?) as i128),
            3 => Value::Int(i16::from_le_bytes(self.array()?) as i128),
            4 => Value::Int(self.u32()? as i128),
            5 => Value::Int(i32::from_le_bytes(self.array()?) as i128),
            6 => Value::Float(f32::from_le_bytes(self.array()?) as f64),
            7 => Value::Bool(self.array::<1>()?[0] != 0),
            8 => match self.string()? {
                Some(s) => Value::Str(s),
                None => Value::LongStr,
            },
            9 => {
                if depth > 2 {
                    return Err(self.corrupt("arrays nested too deeply"));
                }
                let elem = self.u32()?;
                let n = self.u64()?;
                // Every element takes at least one byte: a count beyond the
                // remaining bytes is a lie, caught before looping.
                if n > self.size.saturating_sub(self.pos) {
                    return Err(self.corrupt("array length runs past the end of the file"));
                }
                match fixed_size(elem) {
                    Some(_) if is_int(elem) && n <= KEEP_INT_ARRAY_MAX => {
                        let mut kept = Vec::with_capacity(n as usize);
                        for _ in 0..n {
                            if let Value::Int(i) = self.value(elem, depth + 1)? {
                                kept.push(i);
                            }
                        }
                        return Ok(Value::IntArray(kept));
                    }
                    Some(sz) => self.skip(
                        n.checked_mul(sz)
                            .ok_or_else(|| self.corrupt("array too large"))?,
                    )?,
                    None => {
                        for _ in 0..n {
                            self.value(elem, depth + 1)?;
                        }
                    }
                }
                Value::Array
            }
            10 => Value::Int(self.u64()? as i128),
            11 => Value::Int(i64::from_le_bytes(self.array()?) as i128),
            12 => Value::Float(f64::from_le_bytes(self.array()?)),
            _ => return Err(self.corrupt(&format!("unknown metadata value type {ty}"))),
        })
    }
}

/// Integer metadata value types (bool and floats are not).
fn is_int(ty: u32) -> bool {
    matches!(ty, 0..=5 | 10 | 11)
}

fn fixed_size(ty: u32) -> Option<u64> {
    match ty {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

/// (name, elements per block, bytes per block) of ggml tensor types.
fn tensor_type(ty: u32) -> Option<(&'static str, u64, u64)> {
    Some(match ty {
        0 => ("F32", 1, 4),
        1 => ("F16", 1, 2),
        2 => ("Q4_0", 32, 18),
        3 => ("Q4_1", 32, 20),
        6 => ("Q5_0", 32, 22),
        7 => ("Q5_1", 32, 24),
        8 => ("Q8_0", 32, 34),
        9 => ("Q8_1", 32, 36),
        10 => ("Q2_K", 256, 84),
        11 => ("Q3_K", 256, 110),
        12 => ("Q4_K", 256, 144),
        13 => ("Q5_K", 256, 176),
        14 => ("Q6_K", 256, 210),
        15 => ("Q8_K", 256, 292),
        16 => ("IQ2_XXS", 256, 66),
        17 => ("IQ2_XS", 256, 74),
        18 => ("IQ3_XXS", 256, 98),
        19 => ("IQ1_S", 256, 50),
        20 => ("IQ4_NL", 32, 18),
        21 => ("IQ3_S", 256, 110),
        22 => ("IQ2_S", 256, 82),
        23 => ("IQ4_XS", 256, 136),
        24 => ("I8", 1, 1),
        25 => ("I16", 1, 2),
        26 => ("I32", 1, 4),
        27 => ("I64", 1, 8),
        28 => ("F64", 1, 8),
        29 => ("IQ1_M", 256, 56),
        30 => ("BF16", 1, 2),
        34 => ("TQ1_0", 256, 54),
        35 => ("TQ2_0", 256, 66),
        39 => ("MXFP4", 32, 17),
        40 => ("NVFP4", 64, 36),
        41 => ("Q1_0", 128, 18),
        42 => ("Q2_0", 64, 18),
        _ => return None,
    })
}

fn file_type_name(ft: i128) -> Option<&'static str> {
    Some(match ft {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        _ => return None,
    })
}

/// Reads and validates the GGUF header of `path`: magic, version, metadata,
/// tensor table, and that every tensor's data lies inside the file.
pub fn read_gguf_info(path: &Path) -> Result<GgufInfo> {
    super::entry::check_regular_file(path)?;
    let file = File::open(path)
        .map_err(|e| Error::Model(format!("cannot open model file {}: {e}", path.display())))?;
    let size = file
        .metadata()
        .map_err(|e| Error::Model(format!("cannot stat model file {}: {e}", path.display())))?
        .len();
    let mut r = Reader {
        r: BufReader::with_capacity(1 << 16, file),
        pos: 0,
        size,
        path: path.display().to_string(),
    };
    if size < 24 {
        return Err(r.corrupt("file too short for a GGUF header"));
    }
    if &r.array::<4>()? != MAGIC {
        return Err(r.corrupt("missing GGUF magic"));
    }
    let version = r.u32()?;
    if !(2..=3).contains(&version) {
        return Err(r.corrupt(&format!("unsupported GGUF version {version}")));
    }
    let n_tensors = r.u64()?;
    let n_kv = r.u64()?;
    // Each KV takes at least 13 bytes and each tensor info at least 24.
    if n_kv > size / 13 || n_tensors > size / 24 {
        return Err(r.corrupt("impossible metadata or tensor count"));
    }

    let mut info = GgufInfo {
        version,
        file_size: size,
        tensor_count: n_tensors,
        ..Default::default()
    };
    let mut kv: Vec<(String, Value)> = Vec::new();
    for _ in 0..n_kv {
        let key = r
            .string()?
            .ok_or_else(|| r.corrupt("metadata key too long"))?;
        let ty = r.u32()?;
        if key == "tokenizer.ggml.tokens" && ty == 9 {
            r.vocabulary()?;
            continue;
        }
        let v = r.value(ty, 0)?;
        if key == "tokenizer.chat_template" {
            info.has_chat_template =
                matches!(v, Value::Str(ref s) if !s.is_empty()) || v == Value::LongStr;
            if let Value::Str(ref s) = v {
                info.chat_template = Some(s.clone()).filter(|s| !s.is_empty());
            }
        }
        if !key.starts_with("tokenizer.") {
            kv.push((key, v));
        }
    }
    let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v);
    info.architecture = match get("general.architecture") {
        Some(Value::Str(s)) if !s.is_empty() => s.clone(),
        _ => return Err(r.corrupt("no general.architecture in metadata")),
    };
    info.name = match get("general.name") {
        Some(Value::Str(s)) => Some(s.clone()),
        _ => None,
    };
    info.split_count = match get("split.count") {
        Some(Value::Int(n)) if *n > 0 => u64::try_from(*n).ok(),
        _ => None,
    };
    info.trained_context = match get(&format!("{}.context_length", info.architecture)) {
        Some(Value::Int(n)) if *n > 0 => u64::try_from(*n).ok(),
        _ => None,
    };
    check_hparams(&info.architecture, &kv, &r)?;
    let alignment = match get("general.alignment") {
        Some(Value::Int(a)) if *a > 0 && (*a as u64).is_power_of_two() => *a as u64,
        Some(_) => return Err(r.corrupt("bad general.alignment")),
        None => 32,
    };

    let mut params: u64 = 0;
    let mut type_bytes: Vec<(u32, u64)> = Vec::new();
    let mut extents: Vec<(u64, u64)> = Vec::with_capacity(n_tensors.min(1 << 16) as usize);
    for _ in 0..n_tensors {
        r.string()?
            .ok_or_else(|| r.corrupt("tensor name too long"))?;
        let n_dims = r.u32()?;
        if n_dims == 0 || n_dims > 4 {
            return Err(r.corrupt(&format!("tensor with {n_dims} dimensions")));
        }
        let mut elems: u64 = 1;
        let mut first_dim = 0;
        for i in 0..n_dims {
            let d = r.u64()?;
            // ggml keeps dimensions as int64_t, and their product too.
            if d > i64::MAX as u64 {
                return Err(r.corrupt("negative tensor dimension"));
            }
            if i == 0 {
                first_dim = d;
            }
            elems = elems
                .checked_mul(d)
                .ok_or_else(|| r.corrupt("tensor too large"))?;
        }
        if elems > i64::MAX as u64 {
            return Err(r.corrupt("tensor too large"));
        }
        let ty = r.u32()?;
        let offset = r.u64()?;
        if offset % alignment != 0 {
            return Err(r.corrupt("misaligned tensor offset"));
        }
        params = params.saturating_add(elems);
        let nbytes = match tensor_type(ty) {
            Some((_, blck, bsz)) => {
                // ggml cuts rows into blocks: the first dimension must be
                // whole blocks, not just the element count.
                if !first_dim.is_multiple_of(blck) || !elems.is_multiple_of(blck) {
                    return Err(r.corrupt("tensor size is not a whole number of blocks"));
                }
                (elems / blck)
                    .checked_mul(bsz)
                    .ok_or_else(|| r.corrupt("tensor too large"))?
            }
            None => return Err(r.corrupt(&format!("unknown tensor type {ty}"))),
        };
        match type_bytes.iter_mut().find(|(t, _)| *t == ty) {
            Some(e) => e.1 = e.1.saturating_add(nbytes),
            None => type_bytes.push((ty, nbytes)),
        }
        extents.push((offset, nbytes));
    }
    let data_start = r.pos.div_ceil(alignment) * alignment;
    for (offset, nbytes) in extents {
        let end = data_start
            .checked_add(offset)
            .and_then(|x| x.checked_add(nbytes))
            .ok_or_else(|| r.corrupt("tensor offset overflows"))?;
        if end > size {
            r.pos = size;
            return Err(r.corrupt(&format!(
                "tensor data ends at byte {end} but the file has only {size} bytes"
            )));
        }
    }
    if n_tensors == 0 {
        return Err(r.corrupt("no tensors"));
    }

    info.parameters = match get("general.parameter_count") {
        Some(Value::Int(n)) if *n > 0 => u64::try_from(*n).unwrap_or(params),
        _ => params,
    };
    let from_ftype = match get("general.file_type") {
        Some(Value::Int(ft)) => file_type_name(*ft),
        _ => None,
    };
    info.quantisation = match from_ftype {
        Some(n) => n.to_string(),
        None => type_bytes
            .iter()
            .max_by_key(|(_, b)| *b)
            .and_then(|(t, _)| tensor_type(*t))
            .map(|(n, _, _)| n.to_string())
            .unwrap_or_else(|| "unknown".into()),
    };
    Ok(info)
}

/// The hyperparameters llama.cpp checks with assertions (which abort the
/// whole process) rather than errors, checked here first. Only values of an
/// integer type are judged: a value of another type llama.cpp refuses with
/// an error of its own.
fn check_hparams<R: Read>(arch: &str, kv: &[(String, Value)], r: &Reader<R>) -> Result<()> {
    let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v);
    let int = |k: &str| match get(&format!("{arch}.{k}")) {
        Some(Value::Int(n)) => Some(*n),
        _ => None,
    };
    let bad = |what: String| Err(r.invalid(&what));
    let layers = int("block_count");
    if let Some(n) = layers {
        if !(1..=LLAMA_MAX_LAYERS).contains(&n) {
            return bad(format!(
                "{arch}.block_count is {n} (1 to {LLAMA_MAX_LAYERS})"
            ));
        }
    }
    let layers_max = layers.unwrap_or(LLAMA_MAX_LAYERS);
    for k in [
        "nextn_predict_layers",
        "posnet.block_count",
        "convnext.block_count",
    ] {
        if let Some(n) = int(k).filter(|&n| n > layers_max) {
            return bad(format!(
                "{arch}.{k} is {n}, more than the {layers_max} layers"
            ));
        }
    }
    let experts = int("expert_count").unwrap_or(0);
    if experts > LLAMA_MAX_EXPERTS {
        return bad(format!(
            "{arch}.expert_count is {experts} (at most {LLAMA_MAX_EXPERTS})"
        ));
    }
    let used = match get(&format!("{arch}.expert_used_count")) {
        Some(Value::Int(n)) => *n,
        Some(Value::IntArray(a)) => a.iter().copied().max().unwrap_or(0),
        _ => 0,
    };
    let groups = int("expert_group_count").unwrap_or(0);
    let group_used = int("expert_group_used_count").unwrap_or(0);
    let ok = if experts > 0 {
        used > 0
            && used <= experts
            && groups < experts
            && (groups <= 1 || (experts % groups == 0 && group_used > 0 && group_used < groups))
    } else {
        used == 0 && groups == 0
    };
    if !ok {
        return bad(format!(
            "inconsistent experts: {arch}.expert_count {experts}, expert_used_count {used}, \
             expert_group_count {groups}, expert_group_used_count {group_used}"
        ));
    }
    match get(&format!("{arch}.rope.scaling.type")) {
        Some(Value::Str(s)) if !["none", "linear", "yarn", "longrope"].contains(&s.as_str()) => {
            bad(format!(
                "unknown {arch}.rope.scaling.type {:?}",
                crate::text::sanitize_text(s, 40, false)
            ))
        }
        Some(Value::LongStr) => bad(format!("unknown {arch}.rope.scaling.type")),
        _ => Ok(()),
    }
}

/// Human-readable parameter count: `135M`, `7.6B`.
pub fn format_params(n: u64) -> String {
    if n >= 1_000_000_000 {
        format!("{:.1}B", n as f64 / 1e9)
    } else if n >= 1_000_000 {
        format!("{}M", (n as f64 / 1e6).round() as u64)
    } else {
        format!("{}K", (n as f64 / 1e3).round() as u64)
    }
}

/// Builds a minimal GGUF file in memory: given metadata strings/u32s and
/// F32 tensors of the given element counts. Used by tests to craft bad
/// inputs (bogus architecture, truncation) without shipping binary fixtures.
#[doc(hidden)]
pub fn build_test_gguf(
    strings: &[(&str, &str)],
    u32s: &[(&str, u32)],
    tensors: &[(&str, u64)],
) -> Vec<u8> {
    fn s(out: &mut Vec<u8>, x: &str) {
        out.extend_from_slice(&(x.len() as u64).to_le_bytes());
        out.extend_from_slice(x.as_bytes());
    }
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    out.extend_from_slice(&((strings.len() + u32s.len()) as u64).to_le_bytes());
    for (k, v) in strings {
        s(&mut out, k);
        out.extend_from_slice(&8u32.to_le_bytes());
        s(&mut out, v);
    }
    for (k, v) in u32s {
        s(&mut out, k);
        out.extend_from_slice(&4u32.to_le_bytes());
        out.extend_from_slice(&v.to_le_bytes());
    }
    let mut offset = 0u64;
    for (name, n) in tensors {
        s(&mut out, name);
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        offset += (n * 4).div_ceil(32) * 32;
    }
    while out.len() % 32 != 0 {
        out.push(0);
    }
    out.resize(out.len() + offset as usize, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), bytes).unwrap();
        f
    }

    #[test]
    fn reads_a_crafted_header() {
        let g = build_test_gguf(
            &[
                ("general.architecture", "llama"),
                ("general.name", "tiny"),
                ("tokenizer.chat_template", "{{x}}"),
            ],
            &[("llama.context_length", 2048)],
            &[("a", 64), ("b", 36)],
        );
        let f = write(&g);
        let info = read_gguf_info(f.path()).unwrap();
        assert_eq!(info.architecture, "llama");
        assert_eq!(info.name.as_deref(), Some("tiny"));
        assert_eq!(info.trained_context, Some(2048));
        assert_eq!(info.parameters, 100);
        assert_eq!(info.quantisation, "F32");
        assert!(info.has_chat_template);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let g = build_test_gguf(&[("general.architecture", "llama")], &[], &[("a", 64)]);
        for cut in 0..g.len() {
            let f = write(&g[..cut]);
            let err = read_gguf_info(f.path()).unwrap_err();
            assert!(matches!(err, Error::Model(_)), "cut {cut}: {err}");
        }
        assert!(read_gguf_info(write(&g).path()).is_ok());
    }

    #[test]
    fn garbage_and_lying_lengths_are_errors() {
        assert!(read_gguf_info(write(b"not a gguf file at all, no magic here").path()).is_err());
        let mut g = build_test_gguf(&[("general.architecture", "llama")], &[], &[("a", 64)]);
        // Key length of the first KV → huge.
        g[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
        let err = read_gguf_info(write(&g).path()).unwrap_err().to_string();
        assert!(err.contains("corrupt or truncated"), "{err}");
        let mut g = build_test_gguf(&[], &[], &[("a", 64)]);
        g.truncate(g.len());
        assert!(read_gguf_info(write(&g).path())
            .unwrap_err()
            .to_string()
            .contains("architecture"));
    }

    #[test]
    fn formats_parameter_counts() {
        assert_eq!(format_params(134_515_008), "135M");
        assert_eq!(format_params(7_615_616_512), "7.6B");
    }
}
