//! The SZZ history miner on constructed repositories whose introducing and
//! fixing commits are known: exact cases (ids, files, line ranges,
//! provenance), what is skipped and why, the options, and the refusals.

mod common;

use common::repo::TestRepo;
use git_deep_review::check::findings::Severity;
use git_deep_review::eval::history::{mine, MineOptions, Mined, DEFAULT_FIX_PATTERN};
use git_deep_review::eval::{Case, Defect, Source};
use git_deep_review::Error;
use gix::ObjectId;

fn oid(hex: &str) -> ObjectId {
    ObjectId::from_hex(hex.as_bytes()).expect("a full commit id")
}

fn short(r: &TestRepo, id: &str) -> String {
    r.git(&["rev-parse", "--short", id])
}

fn opts() -> MineOptions {
    MineOptions {
        fix_pattern: regex::Regex::new(DEFAULT_FIX_PATTERN).unwrap(),
        max_cases: 100,
        max_fix_commits: 500,
    }
}

/// Mines `range` and checks what every case must satisfy: each defect's
/// lines exist in the file at the case's head, and the base is the head's
/// first parent.
fn mine_checked(r: &TestRepo, range: Option<&str>, opts: &MineOptions) -> Mined {
    let mined = mine(&r.open(), range, opts).expect("mining succeeds");
    for case in &mined.cases {
        let head = case.head.to_string();
        assert_eq!(
            case.base.map(|b| b.to_string()),
            Some(r.rev(&format!("{head}^")))
        );
        for d in &case.defects {
            let text = r.git(&["show", &format!("{head}:{}", d.file)]);
            let lines = text.lines().count() as u32;
            assert!(
                1 <= d.line_start && d.line_start <= d.line_end && d.line_end <= lines,
                "{}: {}:{}-{} is not within the {lines} lines of the file at the head",
                case.id,
                d.file,
                d.line_start,
                d.line_end
            );
        }
    }
    mined
}

fn mine_all(r: &TestRepo) -> Mined {
    mine_checked(r, None, &opts())
}

/// The case the miner should make of introducing commit `intro`, with
/// `defects` as (file, first line, last line, fixes as (id, subject)) and
/// `fixes` for the provenance.
/// Fix commits as (id, subject).
type Fixes<'a> = &'a [(&'a str, &'a str)];

fn case(r: &TestRepo, intro: &str, defects: &[(&str, u32, u32, Fixes)], fixes: Fixes) -> Case {
    let fix_list = |fixes: Fixes, sep: &str, with_fix: bool| {
        fixes
            .iter()
            .map(|(id, subject)| {
                if with_fix {
                    format!("fix {}: {subject}", short(r, id))
                } else {
                    format!("{} ({subject})", short(r, id))
                }
            })
            .collect::<Vec<_>>()
            .join(sep)
    };
    Case {
        id: format!("history-{}", short(r, intro)),
        source: Source::History,
        base: Some(oid(&r.rev(&format!("{intro}^")))),
        head: oid(intro),
        defects: defects
            .iter()
            .map(|(file, start, end, by)| Defect {
                file: file.to_string(),
                line_start: *start,
                line_end: *end,
                severity: Severity::Important,
                description: format!("changed by {}", fix_list(by, "; ", true)),
            })
            .collect(),
        provenance: format!("fixed by {}", fix_list(fixes, "; ", false)),
    }
}

fn skipped(r: &TestRepo, list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(id, why)| (short(r, id), why.to_string()))
        .collect()
}

const ADD: &str = "pub fn add(a: i32, b: i32) -> i32 {\n    a.wrapping_add(b)\n}\n";
const SUB_BUG: &str = "\npub fn sub(a: i32, b: i32) -> i32 {\n    a + b\n}\n";
const SUB_OK: &str = "\npub fn sub(a: i32, b: i32) -> i32 {\n    a - b\n}\n";

#[test]
fn a_simple_bug_is_blamed_on_the_commit_that_introduced_it() {
    let r = TestRepo::new();
    r.commit_files("Initial import", &[("README.md", "calc\n")]);
    r.commit_files("Add add()", &[("calc.rs", ADD)]);
    let b = r.commit_files("Add sub()", &[("calc.rs", &format!("{ADD}{SUB_BUG}"))]);
    let subject = "Fix sub() adding instead of subtracting";
    let f = r.commit_files(subject, &[("calc.rs", &format!("{ADD}{SUB_OK}"))]);

    let mined = mine_all(&r);
    assert_eq!(
        mined.cases,
        vec![case(
            &r,
            &b,
            &[("calc.rs", 6, 6, &[(&f, subject)])],
            &[(&f, subject)]
        )]
    );
    assert_eq!(mined.cases[0].base, Some(oid(&r.rev(&format!("{b}^")))));
    assert_eq!(mined.fix_commits, 1);
    assert_eq!(mined.skipped, vec![]);
}

const PARSE: &str = "def parse(s):\n    parts = s.split(\",\")\n    return parts[1:]\n\n\ndef count(s):\n    return len(parse(s))\n";
const PARSE_OK: &str = "def parse(s):\n    parts = s.split(\",\")\n    return parts\n\n\ndef count(s):\n    return len(parse(s))\n";

#[test]
fn a_file_renamed_before_the_fix_is_named_as_it_was_at_the_introducing_commit() {
    let r = TestRepo::new();
    r.commit_files("Initial import", &[("README.md", "parser\n")]);
    let b = r.commit_files("Add the parser", &[("old/parse.py", PARSE)]);
    // Renamed, with a line added on top: the bug moves from line 3 to 4.
    r.remove("old/parse.py");
    r.write("new/parse.py", format!("import sys\n{PARSE}"));
    r.commit("Move the parser to new/");
    let subject = "Fix parse() dropping the first field";
    let f = r.commit_files(
        subject,
        &[("new/parse.py", &format!("import sys\n{PARSE_OK}"))],
    );

    let mined = mine_all(&r);
    assert_eq!(
        mined.cases,
        vec![case(
            &r,
            &b,
            &[("old/parse.py", 3, 3, &[(&f, subject)])],
            &[(&f, subject)]
        )]
    );
    assert_eq!(mined.skipped, vec![]);
}

#[test]
fn a_fix_that_renames_the_file_blames_the_old_path() {
    let r = TestRepo::new();
    r.commit_files("Initial import", &[("README.md", "parser\n")]);
    let b = r.commit_files("Add the parser", &[("parse.py", PARSE)]);
    r.git(&["mv", "parse.py", "fields.py"]);
    r.write("fields.py", PARSE_OK);
    let subject = "Rename the parser and fix the first field";
    let f = r.commit(subject);

    let mined = mine_all(&r);
    assert_eq!(
        mined.cases,
        vec![case(
            &r,
            &b,
            &[("parse.py", 3, 3, &[(&f, subject)])],
            &[(&f, subject)]
        )]
    );
}

#[test]
fn a_whitespace_only_fix_gives_no_case() {
    let r = TestRepo::new();
    r.commit_files("Initial import", &[("README.md", "app\n")]);
    r.commit_files(
        "Add run()",
        &[(
            "app.py",
            "def run(xs):\n    for x in xs:\n        print(x)\n",
        )],
    );
    let f = r.commit_files(
        "Fix indentation",
        &[("app.py", "def run(xs):\n  for x in xs:\n    print(x)\n\n")],
    );

    let mined = mine_all(&r);
    assert_eq!(mined.cases, vec![]);
    assert_eq!(mined.fix_commits, 1);
    assert_eq!(
        mined.skipped,
        skipped(&r, &[(&f, "whitespace/comment-only")])
    );
}

#[test]
fn comments_and_reformatting_in_a_fix_are_not_blamed() {
    let r = TestRepo::new();
    r.commit_files("Initial import", &[("README.md", "geo\n")]);
    let area = "pub fn area(w: u32, h: u32) -> u32 {\n    w + h\n}\n";
    let b1 = r.commit_files("Add area()", &[("geo.rs", &format!("// Area.\n{area}"))]);
    // The comment line now comes from b2.
    r.commit_files(
        "Document area()",
        &[("geo.rs", &format!("// Area of a rectangle.\n{area}"))],
    );
    // One hunk: a comment reworded, the signature re-spaced, the bug fixed.
    let subject = "Fix area() to multiply";
    let f = r.commit_files(
        subject,
        &[(
            "geo.rs",
            "// Area of a w x h rectangle.\npub fn area(w: u32, h: u32)  ->  u32 {\n    w * h\n}\n",
        )],
    );

    let mined = mine_all(&r);
    // Only the bug line: not b2's comment, not b1's re-spaced signature.
    assert_eq!(
        mined.cases,
        vec![case(
            &r,
            &b1,
            &[("geo.rs", 3, 3, &[(&f, subject)])],
            &[(&f, subject)]
        )]
    );
    assert_eq!(mined.skipped, vec![]);
}

#[test]
fn comment_only_and_add_only_fixes_are_skipped() {
    let r = TestRepo::new();
    r.commit_files("Initial import", &[("README.md", "lib\n")]);
    r.commit_files(
        "Add the library",
        &[(
            "lib.rs",
            "/* The library.\n * Adds.\n */\npub fn one() -> u32 {\n    1\n}\n",
        )],
    );
    let comments = r.commit_files(
        "Fix typos in the docs",
        &[(
            "lib.rs",
            "/* The library,\n * which adds.\n */\npub fn one() -> u32 {\n    1\n}\n",
        )],
    );
    let adds = r.commit_files(
        "Fix: add the missing two()",
        &[(
            "lib.rs",
            "/* The library,\n * which adds.\n */\npub fn one() -> u32 {\n    1\n}\n\npub fn two() -> u32 {\n    2\n}\n",
        )],
    );
    let new_file = r.commit_files("Fixes #4: a test", &[("tests.rs", "#[test]\nfn t() {}\n")]);

    let mined = mine_all(&r);
    assert_eq!(mined.cases, vec![]);
    assert_eq!(mined.fix_commits, 3);
    assert_eq!(
        mined.skipped,
        skipped(
            &r,
            &[
                (&new_file, "only adds lines"),
                (&adds, "only adds lines"),
                (&comments, "whitespace/comment-only"),
            ]
        )
    );
}

#[test]
fn a_fix_of_lines_from_two_commits_makes_two_cases() {
    let r = TestRepo::new();
    r.commit_files("Initial import", &[("README.md", "limits\n")]);
    let max = "int max_len(void) {\n    return 10;\n}\n";
    let min = "\nint min_len(void) {\n    return -1;\n}\n";
    let b1 = r.commit_files("Add max_len()", &[("limits.c", max)]);
    let b2 = r.commit_files("Add min_len()", &[("limits.c", &format!("{max}{min}"))]);
    let subject = "Fix both limits";
    let f = r.commit_files(
        subject,
        &[(
            "limits.c",
            "int max_len(void) {\n    return 100;\n}\n\nint min_len(void) {\n    return 0;\n}\n",
        )],
    );

    let mined = mine_all(&r);
    assert_eq!(
        mined.cases,
        vec![
            case(
                &r,
                &b2,
                &[("limits.c", 6, 6, &[(&f, subject)])],
                &[(&f, subject)]
            ),
            case(
                &r,
                &b1,
                &[("limits.c", 2, 2, &[(&f, subject)])],
                &[(&f, subject)]
            ),
        ]
    );
}

#[test]
fn two_fixes_of_one_commit_make_one_case_with_both() {
    let r = TestRepo::new();
    r.commit_files("Initial import", &[("README.md", "cfg\n")]);
    let b = r.commit_files(
        "Add the settings",
        &[(
            "settings.py",
            "TIMEOUT = 0\nRETRIES = -1\nNAME = \"x\"\nPORT = 80800\nHOST = \"localhost\"\n",
        )],
    );
    let s1 = "Fix the timeout";
    let f1 = r.commit_files(
        s1,
        &[(
            "settings.py",
            "TIMEOUT = 30\nRETRIES = -1\nNAME = \"x\"\nPORT = 80800\nHOST = \"localhost\"\n",
        )],
    );
    let s2 = "Fix the retries and the port\n\nPORT had a digit too many.";
    let f2 = r.commit_files(
        s2,
        &[(
            "settings.py",
            "TIMEOUT = 30\nRETRIES = 3\nNAME = \"x\"\nPORT = 8080\nHOST = \"localhost\"\n",
        )],
    );
    let s2 = "Fix the retries and the port";

    let mined = mine_all(&r);
    assert_eq!(
        mined.cases,
        vec![case(
            &r,
            &b,
            &[
                // Lines 1 and 2 merge into one range, changed by both fixes.
                ("settings.py", 1, 2, &[(&f2, s2), (&f1, s1)]),
                ("settings.py", 4, 4, &[(&f2, s2)]),
            ],
            &[(&f2, s2), (&f1, s1)],
        )]
    );
    assert_eq!(mined.fix_commits, 2);
}

#[test]
fn code_moved_to_another_file_is_not_blamed_on_the_move() {
    let r = TestRepo::new();
    r.commit_files("Initial import", &[("README.md", "util\n")]);
    let clamp = "def clamp(x, lo, hi):\n    return max(lo, min(x, lo))\n";
    let double = "def double(x):\n    return x * 2\n";
    r.commit_files(
        "Add helpers",
        &[("util.py", &format!("{clamp}\n\n{double}"))],
    );
    // Cut clamp() from util.py and paste it into its own module, with a
    // new (wrong) constant of the move's own.
    let m = r.commit_files(
        "Move clamp() to its own module",
        &[
            ("util.py", double),
            ("clamp.py", &format!("{clamp}\n\nLIMIT = 10\n")),
        ],
    );
    let subject = "Fix clamp()'s upper bound and LIMIT";
    let f = r.commit_files(
        subject,
        &[(
            "clamp.py",
            "def clamp(x, lo, hi):\n    return max(lo, min(x, hi))\n\n\nLIMIT = 100\n",
        )],
    );

    let mined = mine_all(&r);
    // The move is blamed for LIMIT only; the moved bug's true origin is
    // beyond what blame without move detection can see, so no case.
    assert_eq!(
        mined.cases,
        vec![case(
            &r,
            &m,
            &[("clamp.py", 5, 5, &[(&f, subject)])],
            &[(&f, subject)]
        )]
    );
}

#[test]
fn code_moved_within_a_file_and_fixed_gives_no_case_for_the_move() {
    let r = TestRepo::new();
    r.commit_files("Initial import", &[("README.md", "app\n")]);
    let main = "def main():\n    args = parse()\n    config = load(args)\n    result = run(config)\n    report(result)\n    return 0\n";
    let helper = "def half(x):\n    return x // 3\n";
    r.commit_files(
        "Add main() and half()",
        &[("app.py", &format!("{main}\n\n{helper}"))],
    );
    let m = r.commit_files(
        "Move half() above main()",
        &[("app.py", &format!("{helper}\n\n{main}"))],
    );
    r.commit_files(
        "Fix half()",
        &[(
            "app.py",
            &format!("def half(x):\n    return x // 2\n\n\n{main}"),
        )],
    );

    let mined = mine_all(&r);
    assert_eq!(mined.cases, vec![]);
    assert_eq!(mined.skipped, skipped(&r, &[(&m, "moved code")]));
}

#[test]
fn lines_of_the_root_commit_give_no_case_and_a_root_is_no_fix() {
    let r = TestRepo::new();
    // Matches the pattern, but a root commit has nothing before it to fix.
    let root = r.commit_files(
        "Initial import from the bug tracker",
        &[("calc.rs", &format!("{ADD}{SUB_BUG}"))],
    );
    r.commit_files("Fix sub()", &[("calc.rs", &format!("{ADD}{SUB_OK}"))]);

    let mined = mine_all(&r);
    assert_eq!(mined.cases, vec![]);
    assert_eq!(mined.fix_commits, 1);
    assert_eq!(
        mined.skipped,
        skipped(&r, &[(&root, "introduced by a root commit")])
    );
}

/// README, then b1 b2 b3 each adding a buggy function in a file of its own.
fn three_bugs(r: &TestRepo) -> Vec<String> {
    r.commit_files("Initial import", &[("README.md", "three\n")]);
    (1..=3)
        .map(|i| {
            r.commit_files(
                &format!("Add f{i}()"),
                &[(
                    &format!("f{i}.js") as &str,
                    &format!("function f{i}() {{\n  return {i}0;\n}}\n") as &str,
                )],
            )
        })
        .collect()
}

fn fix_bug(r: &TestRepo, i: usize, subject: &str) -> String {
    r.commit_files(
        subject,
        &[(
            &format!("f{i}.js") as &str,
            &format!("function f{i}() {{\n  return {i};\n}}\n") as &str,
        )],
    )
}

#[test]
fn max_cases_keeps_the_newest_introducing_commits() {
    let r = TestRepo::new();
    let b = three_bugs(&r);
    let subject = "Fix the three constants";
    for i in 1..=3 {
        r.write(
            &format!("f{i}.js"),
            format!("function f{i}() {{\n  return {i};\n}}\n"),
        );
    }
    let f = r.commit(subject);
    let expect = |i: usize| {
        let file = format!("f{i}.js");
        let fix: &[(&str, &str)] = &[(&f, subject)];
        case(&r, &b[i - 1], &[(&file, 2, 2, fix)], fix)
    };

    assert_eq!(mine_all(&r).cases, vec![expect(3), expect(2), expect(1)]);
    let two = MineOptions {
        max_cases: 2,
        ..opts()
    };
    let mined = mine_checked(&r, None, &two);
    assert_eq!(mined.cases, vec![expect(3), expect(2)]);
    assert_eq!(mined.fix_commits, 1);
}

#[test]
fn max_fix_commits_examines_the_newest_fixes() {
    let r = TestRepo::new();
    let b = three_bugs(&r);
    let s1 = "Fix f1()";
    let f1 = fix_bug(&r, 1, s1);
    let s2 = "Fix f2()";
    let f2 = fix_bug(&r, 2, s2);

    let one = MineOptions {
        max_fix_commits: 1,
        ..opts()
    };
    let mined = mine_checked(&r, None, &one);
    assert_eq!(mined.fix_commits, 1);
    assert_eq!(
        mined.cases,
        vec![case(
            &r,
            &b[1],
            &[("f2.js", 2, 2, &[(&f2, s2)])],
            &[(&f2, s2)]
        )]
    );
    let all = mine_all(&r);
    assert_eq!(all.fix_commits, 2);
    assert_eq!(
        all.cases,
        vec![
            case(&r, &b[1], &[("f2.js", 2, 2, &[(&f2, s2)])], &[(&f2, s2)]),
            case(&r, &b[0], &[("f1.js", 2, 2, &[(&f1, s1)])], &[(&f1, s1)]),
        ]
    );
}

#[test]
fn a_range_limits_which_commits_may_be_fixes() {
    let r = TestRepo::new();
    let b = three_bugs(&r);
    let s1 = "Fix f1()";
    let f1 = fix_bug(&r, 1, s1);
    let s2 = "Fix f2()";
    let f2 = fix_bug(&r, 2, s2);
    r.commit_files("Add notes", &[("NOTES.md", "notes\n")]);

    // The introducing commits may lie before the range.
    let mined = mine_checked(&r, Some(&format!("{f1}..HEAD")), &opts());
    assert_eq!(mined.fix_commits, 1);
    assert_eq!(
        mined.cases,
        vec![case(
            &r,
            &b[1],
            &[("f2.js", 2, 2, &[(&f2, s2)])],
            &[(&f2, s2)]
        )]
    );

    // A single revision means its history, as `git log REV`.
    let mined = mine_checked(&r, Some(&f1), &opts());
    assert_eq!(mined.fix_commits, 1);
    assert_eq!(
        mined.cases,
        vec![case(
            &r,
            &b[0],
            &[("f1.js", 2, 2, &[(&f1, s1)])],
            &[(&f1, s1)]
        )]
    );
    assert_eq!(mine_checked(&r, Some("HEAD"), &opts()).cases.len(), 2);

    // No fix in the range: nothing, and no error.
    let none = mine_checked(&r, Some("HEAD~1..HEAD"), &opts());
    assert_eq!(none, Mined::default());
}

#[test]
fn subjects_that_do_not_match_are_not_fixes_but_a_fixes_trailer_is() {
    let r = TestRepo::new();
    r.commit_files("Initial import", &[("README.md", "calc\n")]);
    let b = r.commit_files("Add sub()", &[("calc.rs", &format!("{ADD}{SUB_BUG}"))]);
    r.commit_files(
        "Prefix the debug output",
        &[("calc.rs", &format!("// calc\n{ADD}{SUB_BUG}"))],
    );
    r.commit_files(
        "Change the bugle call",
        &[("calc.rs", &format!("// calc.\n{ADD}{SUB_BUG}"))],
    );
    assert_eq!(mine_all(&r), Mined::default());

    let subject = "Subtract in sub()";
    let f = r.commit_files(
        &format!("{subject}\n\nIt added.\n\nFixes: #12"),
        &[("calc.rs", &format!("// calc.\n{ADD}{SUB_OK}"))],
    );
    let mined = mine_all(&r);
    assert_eq!(
        mined.cases,
        vec![case(
            &r,
            &b,
            &[("calc.rs", 6, 6, &[(&f, subject)])],
            &[(&f, subject)]
        )]
    );
}

#[test]
fn a_custom_fix_pattern_replaces_the_default() {
    let r = TestRepo::new();
    r.commit_files("Initial import", &[("README.md", "calc\n")]);
    let b = r.commit_files("Add sub()", &[("calc.rs", &format!("{ADD}{SUB_BUG}"))]);
    let subject = "hotfix: subtract in sub()";
    let f = r.commit_files(subject, &[("calc.rs", &format!("{ADD}{SUB_OK}"))]);

    assert_eq!(
        mine_all(&r),
        Mined::default(),
        "the default pattern ignores `hotfix`"
    );
    let custom = MineOptions {
        fix_pattern: regex::Regex::new(r"^hotfix:").unwrap(),
        ..opts()
    };
    let mined = mine_checked(&r, None, &custom);
    assert_eq!(
        mined.cases,
        vec![case(
            &r,
            &b,
            &[("calc.rs", 6, 6, &[(&f, subject)])],
            &[(&f, subject)]
        )]
    );
}

#[test]
fn a_merge_is_no_fix_but_the_fix_it_brings_is() {
    let r = TestRepo::new();
    r.commit_files("Initial import", &[("README.md", "calc\n")]);
    let b = r.commit_files("Add sub()", &[("calc.rs", &format!("{ADD}{SUB_BUG}"))]);
    r.checkout_new("fix-sub");
    let subject = "Fix sub()";
    let f = r.commit_files(subject, &[("calc.rs", &format!("{ADD}{SUB_OK}"))]);
    r.checkout("main");
    r.commit_files("Add notes", &[("NOTES.md", "notes\n")]);
    let merge = r.merge("fix-sub", "Merge branch 'fix-sub'");

    let mined = mine_all(&r);
    assert_eq!(mined.fix_commits, 2);
    assert_eq!(mined.skipped, skipped(&r, &[(&merge, "merge")]));
    assert_eq!(
        mined.cases,
        vec![case(
            &r,
            &b,
            &[("calc.rs", 6, 6, &[(&f, subject)])],
            &[(&f, subject)]
        )]
    );
}

#[test]
fn a_shallow_clone_is_refused() {
    let r = TestRepo::new();
    r.commit_files("Initial import", &[("README.md", "calc\n")]);
    r.commit_files("Add sub()", &[("calc.rs", &format!("{ADD}{SUB_BUG}"))]);
    r.commit_files("Fix sub()", &[("calc.rs", &format!("{ADD}{SUB_OK}"))]);
    let clone = r.shallow_clone(2);

    let err = mine(&clone.open(), None, &opts()).unwrap_err();
    assert!(matches!(err, Error::Git(_)), "{err:?}");
    assert_eq!(err.exit_code(), 3);
    let msg = err.to_string();
    assert!(
        msg.contains("shallow clone") && msg.contains("git fetch --unshallow"),
        "{msg}"
    );
}

#[test]
fn an_empty_repository_says_what_to_do() {
    let r = TestRepo::new();
    let err = mine(&r.open(), None, &opts()).unwrap_err();
    assert!(matches!(err, Error::Git(_)), "{err:?}");
    assert_eq!(err.exit_code(), 3);
    let msg = err.to_string();
    assert!(
        msg.contains("no commits yet") && msg.contains("commit something first"),
        "{msg}"
    );
}

#[test]
fn mining_touches_no_ref_or_file_and_repeats_exactly() {
    let r = TestRepo::new();
    let b = three_bugs(&r);
    fix_bug(&r, 1, "Fix f1()");
    fix_bug(&r, 3, "Fix f3()");
    r.checkout_new("topic");
    fix_bug(&r, 2, "Fix f2()");
    r.tag("v1");
    r.checkout("main");
    r.write("f1.js", "// work in progress\n");
    r.write("untracked.txt", "scratch\n");
    let state = || {
        (
            r.git(&["show-ref", "--head"]),
            r.git(&["status", "--porcelain", "--untracked-files=all"]),
            r.git(&["stash", "list"]),
            r.git(&["count-objects", "-v"]),
        )
    };
    let before = state();

    let first = mine_all(&r);
    let second = mine_checked(&r, None, &opts());
    assert_eq!(first, second);
    let ids: Vec<String> = first.cases.iter().map(|c| c.id.clone()).collect();
    assert_eq!(
        ids,
        vec![
            format!("history-{}", short(&r, &b[2])),
            format!("history-{}", short(&r, &b[0]))
        ]
    );
    let topic = mine_checked(&r, Some("main..topic"), &opts());
    assert_eq!(topic.cases.len(), 1);
    assert_eq!(topic.cases[0].head, oid(&b[1]));

    assert_eq!(state(), before);
    assert_eq!(
        std::fs::read_to_string(r.path.join("f1.js")).unwrap(),
        "// work in progress\n"
    );
}
