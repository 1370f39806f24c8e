//! `git -c key=value`: git hands its command-line configuration to a
//! subcommand in `GIT_CONFIG_PARAMETERS`, which gitoxide does not read, so
//! it is parsed here and given to gitoxide as command-line overrides.
//!
//! The format is git's (`config.c`, `parse_config_env_list`): items
//! separated by whitespace, each either `'key'='value'` (git 2.31 and
//! later), `'key'=` (a key with no value: an implicit true), or the older
//! `'key=value'` / `'key'`; every part single-quoted as `sq_quote_buf`
//! writes it, where `'` becomes `'\''` and `!` becomes `'\!'`.

use crate::error::{Error, Result};

/// The variable git sets for its subcommands.
pub const VAR: &str = "GIT_CONFIG_PARAMETERS";

/// The `key=value` (or bare `key`) items of `GIT_CONFIG_PARAMETERS`, in
/// order, as gitoxide's `cli_overrides` takes them; none when it is unset.
pub fn from_env() -> Result<Vec<String>> {
    match std::env::var_os(VAR) {
        None => Ok(Vec::new()),
        Some(v) => {
            let v = v
                .into_string()
                .map_err(|_| bogus("it is not valid UTF-8"))?;
            parse(&v)
        }
    }
}

fn bogus(why: &str) -> Error {
    Error::Usage(format!(
        "{VAR} (the configuration `git -c` passes on) cannot be read: {why}"
    ))
}

/// Parses git's format (see the module docs). A key that is not
/// `section.name` is refused, as git refuses it.
pub fn parse(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let (key, after) =
            dequote_step(rest).ok_or_else(|| bogus(&format!("bad quoting at {rest:?}")))?;
        let (item, after) = if let Some(after) = after.strip_prefix('=') {
            if after.starts_with('\'') {
                let (value, after) = dequote_step(after)
                    .ok_or_else(|| bogus(&format!("bad quoting at {after:?}")))?;
                if !after.is_empty() && !after.starts_with(char::is_whitespace) {
                    return Err(bogus(&format!("bad quoting at {after:?}")));
                }
                (format!("{key}={value}"), after)
            } else if after.is_empty() || after.starts_with(char::is_whitespace) {
                // `'key'=`: `-c key` with no `=`, a boolean true.
                (key, after)
            } else {
                return Err(bogus(&format!("bad quoting at {after:?}")));
            }
        } else if after.is_empty() || after.starts_with(char::is_whitespace) {
            // Old style: `'key=value'`, or `'key'` alone.
            (key, after)
        } else {
            return Err(bogus(&format!("bad quoting at {after:?}")));
        };
        let name = item.split_once('=').map_or(item.as_str(), |(k, _)| k);
        match name.split_once('.') {
            Some((section, rest)) if !section.is_empty() && !rest.is_empty() => {}
            _ => return Err(bogus(&format!("{name:?} is not a `section.name` key"))),
        }
        out.push(item);
        rest = after.trim_start();
    }
    Ok(out)
}

/// git's `sq_dequote_step`: one single-quoted word at the start of `s`
/// (with `'\''` and `'\!'` inside it), and what follows it.
fn dequote_step(s: &str) -> Option<(String, &str)> {
    let mut chars = s.strip_prefix('\'')?.char_indices();
    let body = &s[1..];
    let mut word = String::new();
    while let Some((i, c)) = chars.next() {
        if c != '\'' {
            word.push(c);
            continue;
        }
        // Out of the quotes: `\'` or `\!` followed by a quote resumes them.
        let after = &body[i + 1..];
        let mut peek = after.chars();
        if let (Some('\\'), Some(e @ ('\'' | '!')), Some('\'')) =
            (peek.next(), peek.next(), peek.next())
        {
            word.push(e);
            // Skip the backslash, the escaped character and the quote.
            chars.nth(2);
            continue;
        }
        return Some((word, after));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn new_and_old_styles_implicit_booleans_and_escapes() {
        let got = parse(
            "'deep-review.gate'='false' 'deep-review.offline'= 'core.x=1' 'a.b' \
             'deep-review.ignore'='it'\\''s a=b/**' 'x.y'='wow'\\!''",
        )
        .unwrap();
        assert_eq!(
            got,
            [
                "deep-review.gate=false",
                "deep-review.offline",
                "core.x=1",
                "a.b",
                "deep-review.ignore=it's a=b/**",
                "x.y=wow!",
            ]
        );
        assert_eq!(parse("").unwrap(), Vec::<String>::new());
        assert_eq!(parse("  ").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn bad_quoting_and_keys_are_errors_not_panics() {
        for bad in [
            "deep-review.gate=false",
            "'unterminated",
            "'a.b'x",
            "'a.b'='c'd",
            "'nodot'='1'",
            "'.x'='1'",
            "'é.x'='\\",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
