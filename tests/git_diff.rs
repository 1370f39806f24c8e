//! Diff extraction compared line by line with `git diff` on the same range,
//! plus statuses, binary detection and the enclosing-block heuristic.

mod common;

use common::repo::TestRepo;
use git_deep_review::git::diff::{DiffOptions, FileDiff, FileStatus, LineKind};
use git_deep_review::git::range::resolve;

/// One hunk of `git diff` output: header numbers and `(marker, text)` lines.
#[derive(Debug, PartialEq)]
struct GitHunk {
    old_start: u32,
    old_lines: u32,
    new_start: u32,
    new_lines: u32,
    lines: Vec<(char, String)>,
}

fn parse_range(s: &str) -> (u32, u32) {
    match s.split_once(',') {
        Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
        None => (s.parse().unwrap(), 1),
    }
}

/// Parses `git diff` output into (path, hunks) per file.
fn parse_git_diff(text: &str) -> Vec<(String, Vec<GitHunk>)> {
    let mut files: Vec<(String, Vec<GitHunk>)> = Vec::new();
    for line in text.split('\n') {
        if let Some(rest) = line.strip_prefix("diff --git a/") {
            let path = rest.rsplit_once(" b/").unwrap().1.to_string();
            files.push((path, Vec::new()));
        } else if line.starts_with("@@ ") {
            let parts: Vec<&str> = line.split(' ').collect();
            let (os, ol) = parse_range(&parts[1][1..]);
            let (ns, nl) = parse_range(&parts[2][1..]);
            files.last_mut().unwrap().1.push(GitHunk {
                old_start: os,
                old_lines: ol,
                new_start: ns,
                new_lines: nl,
                lines: Vec::new(),
            });
        } else if let Some(hunk) = files.last_mut().and_then(|f| f.1.last_mut()) {
            let mut chars = line.chars();
            if let Some(c @ ('+' | '-' | ' ')) = chars.next() {
                let text = chars.as_str().trim_end_matches('\r').to_string();
                hunk.lines.push((c, text));
            }
        }
    }
    files
}

/// Our hunks in the same shape, after checking each line's numbers are
/// consecutive from the hunk header (what `git diff` implies).
fn ours_as_git(file: &FileDiff) -> Vec<GitHunk> {
    file.hunks
        .iter()
        .map(|h| {
            let mut old = if h.old_lines == 0 {
                h.old_start + 1
            } else {
                h.old_start
            };
            let mut new = if h.new_lines == 0 {
                h.new_start + 1
            } else {
                h.new_start
            };
            let lines = h
                .lines
                .iter()
                .map(|l| {
                    let marker = match l.kind {
                        LineKind::Context => ' ',
                        LineKind::Added => '+',
                        LineKind::Removed => '-',
                    };
                    if marker != '+' {
                        assert_eq!(l.old_line, Some(old), "{}: old line of {l:?}", file.path);
                        old += 1;
                    } else {
                        assert_eq!(l.old_line, None);
                    }
                    if marker != '-' {
                        assert_eq!(l.new_line, Some(new), "{}: new line of {l:?}", file.path);
                        new += 1;
                    } else {
                        assert_eq!(l.new_line, None);
                    }
                    (marker, l.text.clone())
                })
                .collect();
            GitHunk {
                old_start: h.old_start,
                old_lines: h.old_lines,
                new_start: h.new_start,
                new_lines: h.new_lines,
                lines,
            }
        })
        .collect()
}

/// Asserts our diff of `spec` equals `git diff -U<context>` file by file.
fn assert_matches_git(r: &TestRepo, spec: &str, context: u32) {
    let repo = r.open();
    let range = resolve(&repo, Some(spec)).unwrap();
    let opts = DiffOptions {
        context_lines: context,
        ..DiffOptions::default()
    };
    let ours = range.diff(&repo, &opts).unwrap();
    let base = range.base.unwrap().to_string();
    let out = r.git_output(&[
        "diff",
        &format!("-U{context}"),
        "--no-color",
        "--no-ext-diff",
        &base,
        &range.head.to_string(),
    ]);
    let theirs = parse_git_diff(&String::from_utf8_lossy(&out.stdout));
    let mut ours_by_path: Vec<(String, Vec<GitHunk>)> = ours
        .iter()
        .map(|f| (f.path.clone(), ours_as_git(f)))
        .collect();
    ours_by_path.sort_by(|a, b| a.0.cmp(&b.0));
    let mut theirs = theirs;
    theirs.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        ours_by_path.len(),
        theirs.len(),
        "file lists differ: ours {:?}",
        ours_by_path.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (o, t) in ours_by_path.iter().zip(&theirs) {
        assert_eq!(o.0, t.0);
        assert_eq!(o.1, t.1, "hunks of {} differ with -U{context}", o.0);
    }
}

fn numbered(n: usize, prefix: &str) -> String {
    (1..=n).map(|i| format!("{prefix} line {i}\n")).collect()
}

/// A base and head commit with every shape of text change.
fn text_changes_repo() -> (TestRepo, String) {
    let r = TestRepo::new();
    let multi = numbered(60, "multi");
    let moved: String = (1..=30)
        .map(|i| format!("fn body_{i}() {{ call({i}); }}\n"))
        .collect();
    let base = r.commit_files(
        "base",
        &[
            ("multi.rs", &multi),
            ("start_end.txt", &numbered(10, "se")),
            ("noeol.txt", "first\nsecond\nlast without newline"),
            ("gone.txt", &numbered(5, "gone")),
            ("old/name.rs", &moved),
            ("crlf.txt", "one\r\ntwo\r\nthree\r\nfour\r\n"),
            ("shrink.txt", &numbered(20, "shrink")),
        ],
    );
    let multi_new = multi
        .replace("multi line 5\n", "multi line five\n")
        .replace("multi line 9\n", "multi line nine\nextra after nine\n")
        .replace("multi line 30\n", "")
        .replace("multi line 55\n", "multi line fifty-five\n");
    let start_end = format!("new first\n{}new last\n", numbered(10, "se"));
    r.write("multi.rs", multi_new);
    r.write("start_end.txt", start_end);
    r.write(
        "noeol.txt",
        "first\nsecond changed\nlast without newline, edited",
    );
    r.remove("gone.txt");
    r.remove("old/name.rs");
    r.write("new/name.rs", moved.replace("call(7)", "call(70)"));
    r.write("crlf.txt", "one\r\ntwo changed\r\nthree\r\nfour\r\n");
    r.write(
        "shrink.txt",
        numbered(20, "shrink").replace("shrink line 10\nshrink line 11\n", ""),
    );
    r.write("added.txt", numbered(4, "added"));
    r.commit("head");
    (r, base)
}

#[test]
fn hunks_match_git_diff_for_every_shape_of_change() {
    let (r, base) = text_changes_repo();
    for context in [3, 0, 1, 5] {
        assert_matches_git(&r, &format!("{base}..HEAD"), context);
    }
}

#[test]
fn statuses_and_counts_of_text_changes() {
    let (r, base) = text_changes_repo();
    let repo = r.open();
    let range = resolve(&repo, Some(&format!("{base}..HEAD"))).unwrap();
    let files = range.diff(&repo, &DiffOptions::default()).unwrap();
    let find = |p: &str| {
        files
            .iter()
            .find(|f| f.path == p)
            .unwrap_or_else(|| panic!("{p} missing"))
    };
    assert_eq!(find("added.txt").status, FileStatus::Added);
    assert_eq!(find("added.txt").additions, 4);
    assert_eq!(find("gone.txt").status, FileStatus::Deleted);
    assert_eq!(find("gone.txt").deletions, 5);
    match &find("new/name.rs").status {
        FileStatus::Renamed { from, similarity } => {
            assert_eq!(from, "old/name.rs");
            assert!(*similarity >= 50 && *similarity < 100, "{similarity}");
        }
        other => panic!("expected a rename, got {other:?}"),
    }
    assert_eq!(find("noeol.txt").status, FileStatus::Modified);
    let last = find("noeol.txt").hunks[0].lines.last().unwrap();
    assert_eq!(last.text, "last without newline, edited");
    assert_eq!(
        find("crlf.txt").hunks[0]
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Added)
            .count(),
        1
    );
    assert_eq!(find("multi.rs").language.as_deref(), Some("rust"));
    // Lines 5 and 9 are within 2×3 context lines: one hunk, as in git.
    assert_eq!(find("multi.rs").hunks.len(), 3);
    // Shortstat agrees with git.
    let numstat = r.git(&["diff", "--numstat", &base, "HEAD"]);
    let adds: u32 = numstat
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().parse::<u32>().unwrap())
        .sum();
    assert_eq!(files.iter().map(|f| f.additions).sum::<u32>(), adds);
}

#[test]
fn renames_can_be_turned_off() {
    let (r, base) = text_changes_repo();
    let repo = r.open();
    let range = resolve(&repo, Some(&format!("{base}..HEAD"))).unwrap();
    let opts = DiffOptions {
        renames: false,
        ..DiffOptions::default()
    };
    let files = range.diff(&repo, &opts).unwrap();
    let status = |p: &str| files.iter().find(|f| f.path == p).map(|f| f.status.clone());
    assert_eq!(status("old/name.rs"), Some(FileStatus::Deleted));
    assert_eq!(status("new/name.rs"), Some(FileStatus::Added));
}

/// Deterministic pseudo-random edits of a long file, checked against git.
#[test]
fn many_random_edits_match_git_diff() {
    let r = TestRepo::new();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let words = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "}",
        "{",
        "",
        "return x;",
        "    let y = 1;",
    ];
    let base_lines: Vec<String> = (0..400)
        .map(|i| format!("{} {}", words[next(9) as usize], i % 37))
        .collect();
    let base = r.commit_files("base", &[("f.txt", &(base_lines.join("\n") + "\n"))]);
    let mut head_lines = Vec::new();
    for line in &base_lines {
        match next(12) {
            0 => {}
            1 => head_lines.push(format!("changed {}", next(50))),
            2 => {
                head_lines.push(line.clone());
                head_lines.push(words[next(9) as usize].to_string());
            }
            _ => head_lines.push(line.clone()),
        }
    }
    r.write("f.txt", head_lines.join("\n") + "\n");
    r.commit("head");
    for context in [3, 1] {
        assert_matches_git(&r, &format!("{base}..HEAD"), context);
    }
}

#[test]
fn text_to_binary_change_is_binary_without_hunks() {
    let r = TestRepo::new();
    let base = r.commit_files("base", &[("data.bin", "plain text\n"), ("img.png", "x")]);
    r.write("data.bin", b"now\0binary\n".as_slice());
    r.write("img.png", [0x89u8, b'P', b'N', b'G', 0, 0, 1]);
    r.commit("binary");
    let repo = r.open();
    let range = resolve(&repo, Some(&format!("{base}..HEAD"))).unwrap();
    let files = range.diff(&repo, &DiffOptions::default()).unwrap();
    assert_eq!(files.len(), 2);
    for f in &files {
        assert!(f.binary, "{} should be binary", f.path);
        assert!(f.hunks.is_empty());
        assert_eq!(f.status, FileStatus::Modified);
    }
}

#[test]
fn submodule_mode_and_type_changes() {
    let r = TestRepo::new();
    let c1 = r.commit_files(
        "c1",
        &[
            ("run.sh", "echo hi\n"),
            ("target.txt", "t\n"),
            ("link", "plain\n"),
        ],
    );
    let c2 = r.commit_files("c2", &[("other.txt", "o\n")]);
    r.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{c1},sub"),
    ]);
    r.git(&["commit", "-q", "--no-gpg-sign", "-m", "add submodule"]);
    let base = r.rev("HEAD");
    r.git(&["update-index", "--cacheinfo", &format!("160000,{c2},sub")]);
    r.git(&["update-index", "--chmod=+x", "run.sh"]);
    r.remove("link");
    std::os::unix::fs::symlink("target.txt", r.path.join("link")).unwrap();
    r.git(&["add", "link"]);
    r.git(&[
        "commit",
        "-q",
        "--no-gpg-sign",
        "-m",
        "move submodule, chmod, symlink",
    ]);
    let repo = r.open();
    let range = resolve(&repo, Some(&format!("{base}..HEAD"))).unwrap();
    let files = range.diff(&repo, &DiffOptions::default()).unwrap();
    let status = |p: &str| {
        files
            .iter()
            .find(|f| f.path == p)
            .map(|f| f.status.clone())
            .unwrap()
    };
    assert_eq!(
        status("sub"),
        FileStatus::Submodule {
            old: Some(c1.clone()),
            new: Some(c2.clone())
        }
    );
    assert_eq!(
        status("run.sh"),
        FileStatus::ModeChange {
            old_mode: "100644".into(),
            new_mode: "100755".into()
        }
    );
    assert_eq!(status("link"), FileStatus::TypeChange);
    assert_eq!(files.len(), 3);
}

#[test]
fn non_utf8_names_and_content_are_lossy_not_fatal() {
    use std::os::unix::ffi::OsStrExt;
    let r = TestRepo::new();
    let base = r.commit_files("base", &[("keep.txt", "k\n")]);
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::write(r.path.join(name), b"na\xefve line\nsecond\n").unwrap();
    r.write("latin1.txt", b"gr\xfc\xdfe\n".as_slice());
    r.commit("latin-1");
    let repo = r.open();
    let range = resolve(&repo, Some(&format!("{base}..HEAD"))).unwrap();
    let files = range.diff(&repo, &DiffOptions::default()).unwrap();
    assert_eq!(files.len(), 2);
    let cafe = files.iter().find(|f| f.path.starts_with("caf")).unwrap();
    assert!(cafe.path.contains('\u{fffd}'), "{}", cafe.path);
    assert_eq!(cafe.hunks[0].lines[0].text, "na\u{fffd}ve line");
    assert!(!cafe.binary);
}

#[test]
fn enclosing_function_for_rust_and_python() {
    let r = TestRepo::new();
    let rust = "\
struct S;

impl S {
    fn first(&self) -> u32 {
        1
    }

    pub fn second(
        &self,
        x: u32,
    ) -> u32 {
        let s = \"}\";
        let c = '}';
        // a } in a comment
        x + 1
    }
}

fn top() {}
";
    let py = "\
import os


class Thing:
    def method(self, x):
        if x:
            return 1
        return 2


def free():
    return 3
";
    let base = r.commit_files(
        "base",
        &[
            ("lib.rs", rust),
            ("mod.py", py),
            ("notes.md", "# t\n\ntext\n"),
        ],
    );
    r.write("lib.rs", rust.replace("x + 1", "x + 2"));
    r.write("mod.py", py.replace("return 2", "return 22"));
    r.write("notes.md", "# t\n\nchanged\n");
    r.commit("edit");
    let repo = r.open();
    let range = resolve(&repo, Some(&format!("{base}..HEAD"))).unwrap();
    let files = range.diff(&repo, &DiffOptions::default()).unwrap();
    let enclosing = |p: &str| {
        files.iter().find(|f| f.path == p).unwrap().hunks[0]
            .enclosing
            .clone()
    };
    let rs = enclosing("lib.rs").expect("rust enclosing");
    assert_eq!(rs.signature, "pub fn second(");
    assert_eq!((rs.start_line, rs.end_line), (8, 16));
    let pyenc = enclosing("mod.py").expect("python enclosing");
    assert_eq!(pyenc.signature, "def method(self, x):");
    assert_eq!((pyenc.start_line, pyenc.end_line), (5, 8));
    assert_eq!(enclosing("notes.md"), None);
    let off = DiffOptions {
        enclosing: false,
        ..DiffOptions::default()
    };
    let plain = range.diff(&repo, &off).unwrap();
    assert!(plain
        .iter()
        .all(|f| f.hunks.iter().all(|h| h.enclosing.is_none())));
}

#[test]
fn enclosing_heuristic_across_brace_languages() {
    use git_deep_review::git::lang::{enclosing_braces, language_for};
    let go = "package x\n\nfunc (s *Server) Handle(w http.ResponseWriter) {\n\tif ok {\n\t\tw.Write(nil)\n\t}\n}\n";
    let lines: Vec<&str> = go.lines().collect();
    let e = enclosing_braces(&lines, 4).unwrap();
    assert_eq!((e.start_line, e.end_line), (3, 7));
    assert!(e.signature.starts_with("func (s *Server) Handle"));

    let js = "const a = 1;\nexport const handler = async (req) => {\n  const s = \"{\";\n  return s;\n};\n";
    let lines: Vec<&str> = js.lines().collect();
    let e = enclosing_braces(&lines, 3).unwrap();
    assert_eq!((e.start_line, e.end_line), (2, 5));

    let c = "static int add(int a, int b)\n{\n    /* } */\n    return a + b;\n}\n";
    let lines: Vec<&str> = c.lines().collect();
    let e = enclosing_braces(&lines, 3).unwrap();
    assert_eq!(
        (e.start_line, e.end_line, e.signature.as_str()),
        (1, 5, "static int add(int a, int b)")
    );

    // Control blocks are not definitions; a top-level change has none.
    let rs = "if x {\n    y();\n}\nlet z = 1;\n";
    let lines: Vec<&str> = rs.lines().collect();
    assert_eq!(enclosing_braces(&lines, 1), None);
    assert_eq!(enclosing_braces(&lines, 3), None);

    assert_eq!(language_for("src/a.tsx"), Some("typescript"));
    assert_eq!(language_for("pkg/Makefile"), Some("makefile"));
    assert_eq!(language_for("README"), None);
}
