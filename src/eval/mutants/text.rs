//! The text layer: every [`Site`] of a file on the lines of interest
//! ([`sites`]), and the file with one of them planted ([`apply`]).

use std::collections::HashSet;

use super::ctx::Ctx;
use super::lex::Lang;
use super::types::{Mutation, Site};

/// Every site in `text` (a file in `language`, one of the names of
/// [`crate::git::lang::language_for`]: "rust", "python", "go", "javascript",
/// "typescript"; other languages have none) whose first line is in
/// `lines` (1-based lines of interest, e.g. the lines a commit added).
/// Sorted by line, then offset, then operator.
pub fn sites(text: &str, language: &str, lines: &[u32]) -> Vec<Site> {
    let Some(lang) = Lang::from_name(language) else {
        return Vec::new();
    };
    let wanted: HashSet<u32> = lines.iter().copied().collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let ctx = Ctx::new(text, lang);
    let mut out = Vec::new();
    for li in 0..ctx.lines.len() {
        if !wanted.contains(&(li as u32 + 1)) || ctx.blank(li) {
            continue;
        }
        ctx.flip_comparison(li, &mut out);
        ctx.off_by_one(li, &mut out);
        ctx.drop_null_check(li, &mut out);
        ctx.drop_error_return(li, &mut out);
        ctx.swap_arguments(li, &mut out);
        ctx.invert_condition(li, &mut out);
        ctx.remove_release(li, &mut out);
    }
    out.retain(|s| ctx.clean(s.start, s.end));
    out.sort_by_key(|s| (s.line, s.start, s.operator));
    out.dedup_by(|a, b| a.operator == b.operator && a.start == b.start && a.end == b.end);
    out
}

/// `text` with `site` planted; `None` when the site does not belong to
/// this text (its region is not there) or the language has no operators.
pub fn apply(text: &str, language: &str, site: &Site) -> Option<Mutation> {
    Lang::from_name(language)?;
    if site.start > site.end || text.get(site.start..site.end)? != site.original {
        return None;
    }
    let mut out = String::with_capacity(text.len() + site.replacement.len());
    out.push_str(&text[..site.start]);
    out.push_str(&site.replacement);
    out.push_str(&text[site.end..]);
    let (line_start, line_end) = if site.replacement.is_empty() {
        let line = line_at(&out, site.start).min(line_count(&out)).max(1);
        (line, line)
    } else {
        (
            line_at(&out, site.start),
            line_at(&out, site.start + site.replacement.len() - 1),
        )
    };
    Some(Mutation {
        operator: site.operator,
        text: out,
        line_start,
        line_end,
        description: site.description.clone(),
    })
}

/// 1-based line of byte `offset`.
fn line_at(text: &str, offset: usize) -> u32 {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u32
        + 1
}

/// Lines in `text` (a last line without a newline counts).
fn line_count(text: &str) -> u32 {
    crate::eval::cases::count_lines(text.as_bytes()) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::mutants::types::Operator;

    #[test]
    fn crlf_line_endings_are_kept() {
        let text = "if a < b {\r\n    x();\r\n}\r\n";
        let found = sites(text, "rust", &[1]);
        let flip = found
            .iter()
            .find(|s| s.operator == Operator::FlipComparison)
            .unwrap();
        let m = apply(text, "rust", flip).unwrap();
        assert_eq!(m.text, "if a <= b {\r\n    x();\r\n}\r\n");
        assert_eq!((m.line_start, m.line_end), (1, 1));
    }

    #[test]
    fn removal_at_the_end_points_at_the_last_line() {
        let text = "def f(lock):\n    work()\n    lock.release()\n";
        let found = sites(text, "python", &[3]);
        let [site] = &found[..] else {
            panic!("{found:?}")
        };
        let m = apply(text, "python", site).unwrap();
        assert_eq!(m.text, "def f(lock):\n    work()\n");
        assert_eq!((m.line_start, m.line_end), (2, 2));
    }

    #[test]
    fn other_languages_and_no_lines_have_no_sites() {
        assert!(sites("if a < b {}\n", "c", &[1]).is_empty());
        assert!(sites("if a < b {}\n", "rust", &[]).is_empty());
        let site = &sites("if a < b {}\n", "rust", &[1])[0];
        assert!(apply("something else", "rust", site).is_none());
        assert!(apply("if a < b {}\n", "toml", site).is_none());
    }
}
