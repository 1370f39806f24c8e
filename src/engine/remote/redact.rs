//! API keys out of what servers send back.
//!
//! A server receives the key in `Authorization: Bearer KEY` and may echo it
//! (a hostile or buggy proxy, a model prompted with its own request). What
//! it sends becomes findings, thinking, verifier reasons and error
//! messages, which are cached, written to reports and printed; so every
//! text from a server passes through a [`Redactor`] before anything else
//! sees it. The key is searched as is and in the encodings an echo is
//! likely to use: JSON-escaped, URL-encoded, hex, and base64 (standard and
//! URL-safe), including the base64 of the key inside a longer text such as
//! `user:KEY` (HTTP Basic).

/// What a key is replaced with.
pub const REDACTED: &str = "[redacted api key]";

/// Keys shorter than this are not searched for: a three-character "key"
/// would blank out ordinary words of every answer.
const MIN_KEY_CHARS: usize = 4;
/// Shortest base64 fragment searched for (see [`base64_cores`]).
const MIN_FRAGMENT_CHARS: usize = 6;

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Every form of a set of keys to blank out of server text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    /// Longest first, so a form that contains another is replaced whole.
    needles: Vec<String>,
}

impl Redactor {
    /// A redactor for these keys (empty and too short ones are skipped).
    pub fn new<'a>(keys: impl IntoIterator<Item = &'a str>) -> Redactor {
        let mut r = Redactor::default();
        r.extend(keys);
        r
    }

    /// Adds more keys.
    pub fn extend<'a>(&mut self, keys: impl IntoIterator<Item = &'a str>) {
        for key in keys {
            if key.chars().count() >= MIN_KEY_CHARS {
                self.needles.extend(forms(key));
            }
        }
        self.needles
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        self.needles.dedup();
    }

    /// No key to look for.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every form of every key replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for n in &self.needles {
            if out.contains(n.as_str()) {
                out = out.replace(n.as_str(), REDACTED);
            }
        }
        out
    }

    /// Redacts `text` in place.
    pub fn scrub(&self, text: &mut String) {
        if !self.needles.is_empty() {
            *text = self.redact(text);
        }
    }
}

/// The forms of one key an echo may take.
fn forms(key: &str) -> Vec<String> {
    let bytes = key.as_bytes();
    let mut out = vec![key.to_string()];
    if let Ok(quoted) = serde_json::to_string(key) {
        out.push(quoted[1..quoted.len() - 1].to_string());
    }
    out.push(percent_encode(bytes, false));
    out.push(percent_encode(bytes, true));
    out.push(hex::encode(bytes));
    out.push(hex::encode_upper(bytes));
    for alphabet in [STANDARD, URL_SAFE] {
        let whole = base64(bytes, alphabet);
        out.push(whole.trim_end_matches('=').to_string());
        out.push(whole);
        out.extend(base64_cores(bytes, alphabet));
    }
    // JSON may escape the solidus (`\/`), which base64 and keys can hold.
    let escaped: Vec<String> = out
        .iter()
        .filter(|f| f.contains('/'))
        .map(|f| f.replace('/', "\\/"))
        .collect();
    out.extend(escaped);
    out.retain(|f| f.len() >= MIN_KEY_CHARS);
    out
}

/// Percent-encoding of everything but RFC 3986's unreserved characters.
fn percent_encode(bytes: &[u8], lower: bool) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            s.push(b as char);
        } else if lower {
            s.push_str(&format!("%{b:02x}"));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// Base64 with padding.
fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// The part of the base64 of `…KEY…` that depends on the key alone, for
/// each of the three positions the key can start at within a 3-byte group:
/// whatever comes before it (`user:` of HTTP Basic) or after it, these
/// characters are in the encoding. Only the one or two characters that
/// straddle the key's first and last bytes are left.
fn base64_cores(key: &[u8], alphabet: &[u8; 64]) -> Vec<String> {
    let mut out = Vec::new();
    for offset in 0..3usize {
        let mut padded = vec![0u8; offset];
        padded.extend_from_slice(key);
        let encoded = base64(&padded, alphabet);
        // Character i holds bits 6i..6i+6 of `padded`; the key's bits are
        // 8·offset .. 8·(offset + len).
        let first = (8 * offset).div_ceil(6);
        let end = (8 * (offset + key.len())) / 6;
        if end > first && end - first >= MIN_FRAGMENT_CHARS {
            out.push(encoded[first..end].to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-live/SECRET+key=42";

    fn redacted(r: &Redactor, text: &str) -> String {
        let out = r.redact(text);
        assert!(out.contains(REDACTED), "{text} → {out}");
        out
    }

    #[test]
    fn base64_matches_the_standard_encoding() {
        assert_eq!(base64(b"", STANDARD), "");
        assert_eq!(base64(b"f", STANDARD), "Zg==");
        assert_eq!(base64(b"fo", STANDARD), "Zm8=");
        assert_eq!(base64(b"foobar", STANDARD), "Zm9vYmFy");
        assert_eq!(base64(&[0xfb, 0xff], URL_SAFE), "-_8=");
        assert_eq!(base64(&[0xfb, 0xff], STANDARD), "+/8=");
    }

    #[test]
    fn every_common_encoding_of_the_key_is_blanked() {
        let r = Redactor::new([KEY]);
        // As is, and inside an echoed header.
        let out = redacted(&r, &format!("got Authorization: Bearer {KEY}."));
        assert_eq!(out, format!("got Authorization: Bearer {REDACTED}."));
        // JSON-escaped, with and without an escaped solidus.
        let json = serde_json::to_string(&format!("k={KEY}")).unwrap();
        assert!(!redacted(&r, &json).contains("SECRET"));
        assert!(!redacted(&r, &json.replace('/', "\\/")).contains("SECRET"));
        // URL-encoded, either case of hex digits.
        let url = percent_encode(KEY.as_bytes(), false);
        assert!(url.contains("%2F"), "{url}");
        assert!(!redacted(&r, &format!("?key={url}&x=1")).contains("SECRET"));
        let lower = percent_encode(KEY.as_bytes(), true);
        assert!(!redacted(&r, &lower).contains("%2f"), "{lower}");
        // Hex.
        assert!(!redacted(&r, &hex::encode(KEY)).contains(&hex::encode(KEY)));
        // Base64 of the key, and of user:key (any user) in both alphabets,
        // whatever the alignment; only a straddling character may remain.
        for prefix in ["", ":", "u:", "api:", "user:", "Bearer "] {
            for alphabet in [STANDARD, URL_SAFE] {
                let plain = format!("{prefix}{KEY}");
                let enc = base64(plain.as_bytes(), alphabet);
                let out = redacted(&r, &format!("Basic {enc}"));
                let left = out.replace(REDACTED, "").len() - "Basic ".len();
                assert!(left <= 4 * prefix.len().div_ceil(3) + 4, "{enc} → {out}");
            }
        }
    }

    #[test]
    fn short_keys_and_unrelated_text_are_left_alone() {
        let r = Redactor::new(["abc", ""]);
        assert!(r.is_empty());
        assert_eq!(r.redact("abc abc"), "abc abc");
        let r = Redactor::new([KEY]);
        let text = r#"{"findings":[{"title":"off by one","explanation":"len - 1"}]}"#;
        assert_eq!(r.redact(text), text);
    }

    #[test]
    fn several_keys_are_all_blanked() {
        let mut r = Redactor::new(["first-key-0001"]);
        r.extend(["second-key-0002"]);
        let out = r.redact("first-key-0001 and second-key-0002");
        assert_eq!(out, format!("{REDACTED} and {REDACTED}"));
    }
}
