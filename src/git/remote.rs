//! The repository's public address, for reports that name where the code
//! lives (SARIF's `versionControlProvenance`).
//!
//! A remote URL can carry secrets: `https://user:token@host/repo.git`, a
//! `?private_token=` query. What leaves this module never does: the user
//! information, the query and the fragment are dropped, and a URL that is
//! not a network address (a local path, `file://`) gives nothing, since it
//! names no one else's repository and would only show this machine's layout.

/// The public URI of the remote this repository's reviews belong to: the
/// current branch's remote, else `origin`, else the only remote. `None`
/// when there is no such remote or its URL is not a network address.
pub fn repository_uri(repo: &gix::Repository) -> Option<String> {
    let cfg = repo.config_snapshot();
    let names: Vec<String> = repo.remote_names().iter().map(|n| n.to_string()).collect();
    let branch_remote = repo
        .head_name()
        .ok()
        .flatten()
        .and_then(|n| cfg.string(format!("branch.{}.remote", n.shorten()).as_str()))
        .map(|r| r.to_string());
    let pick = branch_remote
        .filter(|r| names.contains(r))
        .or_else(|| names.iter().find(|n| *n == "origin").cloned())
        .or_else(|| (names.len() == 1).then(|| names[0].clone()))?;
    let url = cfg.string(format!("remote.{pick}.url").as_str())?;
    public_uri(&url.to_string())
}

/// `url` without credentials, query or fragment, as an absolute URI:
/// `https://u:p@host/a.git?x#y` → `https://host/a.git`, and git's scp-like
/// `git@host:owner/repo.git` → `ssh://host/owner/repo.git`. `None` for
/// local paths, `file://` and anything unrecognised.
pub fn public_uri(url: &str) -> Option<String> {
    let url = url.trim();
    if url.chars().any(|c| c.is_control() || c == ' ') {
        return None;
    }
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r),
        None => {
            // scp-like: `[user@]host:path`, a colon before any slash.
            let colon = url.find(':')?;
            if url[..colon].contains('/') {
                return None;
            }
            let host = url[..colon].rsplit('@').next()?;
            let path = url[colon + 1..].trim_start_matches('/');
            return Some(format!("ssh://{}{}", valid_host(host)?, encode_path(path)));
        }
    };
    if !matches!(
        scheme.as_str(),
        "http" | "https" | "ssh" | "git" | "git+ssh" | "ssh+git" | "ftp" | "ftps"
    ) {
        return None;
    }
    // Everything after the authority: the path, then `?query#fragment`,
    // which are dropped (tokens are passed there too).
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // The last `@` ends the user information (a password may hold `@`s
    // percent-encoded, or not).
    let hostport = authority.rsplit('@').next()?;
    let path = tail.split(['?', '#']).next().unwrap_or("");
    let (host, port) = split_port(hostport)?;
    let host = valid_host(host)?;
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    Some(format!("{scheme}://{host}{port}{}", encode_path(path)))
}

/// `host[:port]`, with a bracketed IPv6 host kept whole.
fn split_port(s: &str) -> Option<(&str, Option<&str>)> {
    let (host, port) = if s.starts_with('[') {
        let close = s.find(']')?;
        let (h, r) = s.split_at(close + 1);
        (h, r.strip_prefix(':'))
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    match port {
        Some("") => Some((host, None)),
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 5 => Some((host, Some(p))),
        Some(_) => None,
        None => Some((host, None)),
    }
}

/// A host name or bracketed IPv6 address, lowercased; `None` for anything
/// else (an empty host, characters no host has).
fn valid_host(h: &str) -> Option<String> {
    let ok = if let Some(inner) = h.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    };
    ok.then(|| h.to_ascii_lowercase())
}

/// A URL path with every byte outside RFC 3986's unreserved set, `/` and
/// existing `%XX` escapes percent-encoded.
fn encode_path(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = String::with_capacity(b.len() + 1);
    if !path.is_empty() && !path.starts_with('/') {
        out.push('/');
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let escape = c == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit();
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'/') || escape {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::public_uri;

    #[test]
    fn credentials_queries_and_fragments_never_survive() {
        for (url, want) in [
            (
                "https://alice:s3cr3t@github.com/o/r.git",
                Some("https://github.com/o/r.git"),
            ),
            (
                "https://oauth2:glpat-XYZ@gitlab.example.com:8443/g/p.git?private_token=abc#frag",
                Some("https://gitlab.example.com:8443/g/p.git"),
            ),
            ("https://tok@host/x", Some("https://host/x")),
            ("https://a:b@c@host/x", Some("https://host/x")),
            ("HTTPS://Host.Example/x", Some("https://host.example/x")),
            (
                "git@github.com:owner/repo.git",
                Some("ssh://github.com/owner/repo.git"),
            ),
            (
                "ssh://git:pw@host:22/srv/r.git",
                Some("ssh://host:22/srv/r.git"),
            ),
            ("https://[::1]:3000/r.git", Some("https://[::1]:3000/r.git")),
            ("https://host/a b.git", None),
            ("https://host/a%20b#.git", Some("https://host/a%20b")),
            (
                "https://host/ünï.git",
                Some("https://host/%C3%BCn%C3%AF.git"),
            ),
            ("/srv/git/repo.git", None),
            ("../other", None),
            ("file:///srv/git/repo.git", None),
            ("https://ho st/x", None),
            ("https://host:notaport/x", None),
            ("", None),
        ] {
            assert_eq!(public_uri(url).as_deref(), want, "{url}");
            if let Some(u) = public_uri(url) {
                for secret in ["alice", "s3cr3t", "glpat", "abc", "tok", "pw", "frag"] {
                    assert!(!u.contains(secret), "{url} -> {u}");
                }
            }
        }
    }
}
