//! Range resolution on real throw-away repositories: every range form and
//! every bad input the git layer promises to handle.

mod common;

use common::repo::TestRepo;
use git_deep_review::git::range::{open_repo, read_file_at, resolve, ReviewRange};
use git_deep_review::Error;

/// main: c1 c2; feature (from c2): f1 f2. Returns (repo, [c1, c2, f1, f2]).
fn feature_repo() -> (TestRepo, Vec<String>) {
    let r = TestRepo::new();
    let c1 = r.commit_files("c1: start", &[("a.txt", "one\n")]);
    let c2 = r.commit_files("c2: more", &[("a.txt", "one\ntwo\n")]);
    r.checkout_new("feature");
    let f1 = r.commit_files("f1: add b\n\nWhy b is needed.", &[("b.txt", "b\n")]);
    let f2 = r.commit_files("f2: edit a", &[("a.txt", "one\ntwo\nthree\n")]);
    (r, vec![c1, c2, f1, f2])
}

fn ids(range: &ReviewRange) -> Vec<String> {
    range.commits.iter().map(|c| c.id.to_string()).collect()
}

#[test]
fn two_dot_range_lists_branch_commits_oldest_first() {
    let (r, c) = feature_repo();
    let range = resolve(&r.open(), Some("main..feature")).unwrap();
    assert_eq!(
        range.base.map(|b| b.to_string()).as_deref(),
        Some(c[1].as_str())
    );
    assert_eq!(range.head, c[3]);
    assert_eq!(ids(&range), vec![c[2].clone(), c[3].clone()]);
    assert_eq!(range.branch.as_deref(), Some("feature"));
    let f1 = &range.commits[0];
    assert_eq!(f1.subject, "f1: add b");
    assert_eq!(f1.body, "Why b is needed.");
    assert_eq!(f1.author_name, "Ada Tester");
    assert_eq!(f1.author_email, "ada@example.com");
    assert_eq!(f1.parents, 1);
    assert_eq!(f1.short, r.git(&["rev-parse", "--short", &c[2]]));
    let git_time: i64 = r
        .git(&["log", "-1", "--format=%at", &c[2]])
        .parse()
        .unwrap();
    assert_eq!(f1.time, git_time);
}

#[test]
fn commit_stats_match_git_numstat() {
    let (r, c) = feature_repo();
    let range = resolve(&r.open(), Some("main..feature")).unwrap();
    for (commit, id) in range.commits.iter().zip(&c[2..]) {
        let numstat = r.git(&["show", "--numstat", "--format=", id]);
        let (mut files, mut adds, mut dels) = (0, 0, 0);
        for line in numstat.lines() {
            let mut parts = line.split_whitespace();
            adds += parts.next().unwrap().parse::<u32>().unwrap();
            dels += parts.next().unwrap().parse::<u32>().unwrap();
            files += 1;
        }
        assert_eq!(
            (
                commit.stat.files,
                commit.stat.additions,
                commit.stat.deletions
            ),
            (files, adds, dels)
        );
    }
}

#[test]
fn open_ended_ranges_default_to_head() {
    let (r, c) = feature_repo();
    let repo = r.open();
    let right_open = resolve(&repo, Some("main..")).unwrap();
    assert_eq!(right_open.head, c[3]);
    assert_eq!(right_open.branch.as_deref(), Some("feature"));
    assert_eq!(ids(&right_open), vec![c[2].clone(), c[3].clone()]);

    r.checkout("main");
    let repo = r.open();
    let left_open = resolve(&repo, Some("..feature")).unwrap();
    assert_eq!(
        left_open.base.map(|b| b.to_string()).as_deref(),
        Some(c[1].as_str())
    );
    assert_eq!(left_open.head, c[3]);
}

#[test]
fn three_dot_range_starts_at_merge_base() {
    let (r, c) = feature_repo();
    r.checkout("main");
    let m3 = r.commit_files("c3: main moves on", &[("main-only.txt", "x\n")]);
    let repo = r.open();
    let range = resolve(&repo, Some("main...feature")).unwrap();
    assert_eq!(
        range.base.map(|b| b.to_string()).as_deref(),
        Some(c[1].as_str())
    );
    assert_eq!(ids(&range), vec![c[2].clone(), c[3].clone()]);
    assert!(!ids(&range).contains(&m3));
    // Diverged two-dot: same commits, and the base is the merge base so
    // main's new file is not shown as deleted by the branch.
    let two = resolve(&repo, Some("main..feature")).unwrap();
    assert_eq!(two.base, range.base);
}

#[test]
fn single_commit_is_compared_with_its_first_parent() {
    let (r, c) = feature_repo();
    let range = resolve(&r.open(), Some(&c[2][..10])).unwrap();
    assert_eq!(
        range.base.map(|b| b.to_string()).as_deref(),
        Some(c[1].as_str())
    );
    assert_eq!(range.head, c[2]);
    assert_eq!(ids(&range), vec![c[2].clone()]);
}

#[test]
fn root_commit_is_compared_with_the_empty_tree() {
    let (r, c) = feature_repo();
    let range = resolve(&r.open(), Some(&c[0])).unwrap();
    assert_eq!(range.base, None);
    assert_eq!(ids(&range), vec![c[0].clone()]);
    assert_eq!(range.commits[0].parents, 0);
    assert_eq!(range.commits[0].stat.files, 1);
    assert_eq!(range.commits[0].stat.additions, 1);
}

#[test]
fn tags_work_as_range_ends() {
    let (r, c) = feature_repo();
    r.git(&["tag", "-a", "-m", "release", "v1", &c[1]]);
    let range = resolve(&r.open(), Some("v1..HEAD")).unwrap();
    assert_eq!(
        range.base.map(|b| b.to_string()).as_deref(),
        Some(c[1].as_str())
    );
    assert_eq!(range.commits.len(), 2);
}

#[test]
fn empty_range_has_no_commits() {
    let (r, c) = feature_repo();
    let range = resolve(&r.open(), Some("HEAD..HEAD")).unwrap();
    assert!(range.commits.is_empty());
    assert_eq!(range.head, c[3]);
    // Head behind base: nothing of the head is missing from the base.
    let behind = resolve(&r.open(), Some("feature..main")).unwrap();
    assert!(behind.commits.is_empty());
}

#[test]
fn range_of_only_a_merge_commit_still_resolves() {
    let r = TestRepo::new();
    r.commit_files("c1", &[("a.txt", "a\n")]);
    r.checkout_new("side");
    let s1 = r.commit_files("s1", &[("s.txt", "s\n")]);
    r.checkout("main");
    let m = r.merge("side", "Merge branch 'side'");
    let repo = r.open();
    let only_merge = resolve(&repo, Some(&format!("{s1}..{m}"))).unwrap();
    assert_eq!(ids(&only_merge), vec![m.clone()]);
    assert_eq!(only_merge.commits[0].parents, 2);
    let merge_itself = resolve(&repo, Some(&m)).unwrap();
    assert_eq!(
        merge_itself.base.map(|b| b.to_string()).as_deref(),
        Some(r.rev(&format!("{m}^1")).as_str())
    );
    assert_eq!(merge_itself.commits[0].stat.files, 1);
}

#[test]
fn parents_come_before_children_across_merges() {
    let r = TestRepo::new();
    let base = r.commit_files("base", &[("a.txt", "a\n")]);
    r.checkout_new("feature");
    r.commit_files("f1", &[("f.txt", "1\n")]);
    r.checkout_new("topic");
    r.commit_files("t1", &[("t.txt", "1\n")]);
    r.checkout("feature");
    r.commit_files("f2", &[("f.txt", "2\n")]);
    r.merge("topic", "merge topic");
    r.commit_files("f3", &[("f.txt", "3\n")]);
    let range = resolve(&r.open(), Some(&format!("{base}.."))).unwrap();
    let order = ids(&range);
    assert_eq!(order.len(), 5);
    for (i, id) in order.iter().enumerate() {
        let parents = r.git(&["rev-list", "--parents", "-n1", id]);
        for parent in parents.split_whitespace().skip(1) {
            if let Some(p) = order.iter().position(|x| x == parent) {
                assert!(p < i, "parent {parent} listed after child {id}");
            }
        }
    }
    assert_eq!(range.commits.last().unwrap().subject, "f3");
}

/// A clone of `origin` (bare) in which `feature` is checked out.
fn clone_with_origin() -> (TestRepo, TestRepo, String) {
    let upstream = TestRepo::new();
    let c1 = upstream.commit_files("c1", &[("a.txt", "a\n")]);
    let clone_path = upstream.scratch().join("clone");
    upstream.git(&[
        "clone",
        "-q",
        upstream.path.to_str().unwrap(),
        clone_path.to_str().unwrap(),
    ]);
    let clone = TestRepo::at(&clone_path);
    (upstream, clone, c1)
}

#[test]
fn default_range_uses_the_upstream() {
    let (_up, clone, c1) = clone_with_origin();
    clone.git(&["checkout", "-q", "-b", "feature", "--track", "origin/main"]);
    let f1 = clone.commit_files("f1", &[("f.txt", "f\n")]);
    let range = resolve(&clone.open(), None).unwrap();
    assert_eq!(range.spec, "origin/main..HEAD");
    assert_eq!(
        range.base.map(|b| b.to_string()).as_deref(),
        Some(c1.as_str())
    );
    assert_eq!(ids(&range), vec![f1]);
    assert_eq!(range.branch.as_deref(), Some("feature"));
}

#[test]
fn default_range_falls_back_to_the_remote_default_branch() {
    let (_up, clone, c1) = clone_with_origin();
    clone.checkout_new("no-upstream");
    let f1 = clone.commit_files("f1", &[("f.txt", "f\n")]);
    let range = resolve(&clone.open(), None).unwrap();
    assert!(range.spec.starts_with("origin/"), "{}", range.spec);
    assert_eq!(
        range.base.map(|b| b.to_string()).as_deref(),
        Some(c1.as_str())
    );
    assert_eq!(ids(&range), vec![f1]);
}

fn usage_message(result: Result<ReviewRange, Error>) -> String {
    match result {
        Err(Error::Usage(msg)) => msg,
        other => panic!("expected a usage error, got {other:?}"),
    }
}

fn git_message<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    match result {
        Err(Error::Git(msg)) => msg,
        other => panic!("expected a git error, got {other:?}"),
    }
}

#[test]
fn no_upstream_and_no_remote_says_what_to_type() {
    let (r, _) = feature_repo();
    let msg = usage_message(resolve(&r.open(), None));
    assert!(
        msg.contains("no upstream configured for branch feature"),
        "{msg}"
    );
    assert!(msg.contains("git deep-review origin/main.."), "{msg}");
}

#[test]
fn detached_head_without_upstream_is_a_clear_error() {
    let (r, c) = feature_repo();
    r.checkout(&c[2]);
    let msg = usage_message(resolve(&r.open(), None));
    assert!(msg.contains("detached"), "{msg}");
    assert!(msg.contains("git deep-review"), "{msg}");
    // Naming the range still works while detached, without a branch name.
    let range = resolve(&r.open(), Some("main..")).unwrap();
    assert_eq!(range.branch, None);
    assert_eq!(range.commits.len(), 1);
}

#[test]
fn unknown_revision_is_a_usage_error_naming_it() {
    let (r, _) = feature_repo();
    let repo = r.open();
    for spec in ["nope..HEAD", "main..nope", "nope", "nope...main"] {
        let msg = usage_message(resolve(&repo, Some(spec)));
        assert!(msg.contains("unknown revision `nope`"), "{spec}: {msg}");
    }
}

#[test]
fn not_a_repository_is_a_git_error() {
    let dir = tempfile::tempdir().unwrap();
    let msg = git_message(open_repo(dir.path()));
    assert!(msg.contains("not a git repository"), "{msg}");
    assert!(msg.contains("git init"), "{msg}");
}

#[test]
fn bare_repository_resolves_ranges() {
    let (r, c) = feature_repo();
    let bare_path = r.scratch().join("bare.git");
    r.git(&[
        "clone",
        "-q",
        "--bare",
        r.path.to_str().unwrap(),
        bare_path.to_str().unwrap(),
    ]);
    let repo = open_repo(&bare_path).unwrap();
    let range = resolve(&repo, Some("main..feature")).unwrap();
    assert_eq!(ids(&range), vec![c[2].clone(), c[3].clone()]);
    let bare = TestRepo::bare();
    bare.git(&["fetch", "-q", r.path.to_str().unwrap(), "feature:feature"]);
    assert!(resolve(&bare.open(), Some("feature~1..feature")).is_ok());
}

#[test]
fn shallow_clone_with_missing_base_says_how_to_deepen() {
    let r = TestRepo::new();
    let c1 = r.commit_files("c1", &[("a.txt", "1\n")]);
    r.commit_files("c2", &[("a.txt", "2\n")]);
    r.commit_files("c3", &[("a.txt", "3\n")]);
    let shallow = r.shallow_clone(1);
    let repo = open_repo(&shallow.path).unwrap();
    for spec in ["HEAD~1..HEAD", &format!("{c1}..HEAD"), "HEAD"] {
        let msg = git_message(resolve(&repo, Some(spec)));
        assert!(msg.contains("shallow"), "{spec}: {msg}");
        assert!(msg.contains("git fetch --deepen"), "{spec}: {msg}");
        assert!(msg.contains("--unshallow"), "{spec}: {msg}");
    }
}

#[test]
fn non_utf8_commit_message_is_read_lossily() {
    let r = TestRepo::new();
    r.write("a.txt", "a\n");
    let msg_file = r.scratch().join("msg");
    std::fs::write(&msg_file, b"caf\xe9 subject\n\nbody \xff\n").unwrap();
    r.git(&["add", "-A"]);
    r.git(&[
        "-c",
        "i18n.commitEncoding=latin1",
        "commit",
        "-q",
        "-F",
        msg_file.to_str().unwrap(),
    ]);
    let range = resolve(&r.open(), Some("HEAD")).unwrap();
    assert!(
        range.commits[0].subject.starts_with("caf"),
        "{}",
        range.commits[0].subject
    );
    assert!(range.commits[0].subject.ends_with(" subject"));
    assert!(range.commits[0].body.starts_with("body"));
}

#[test]
fn read_file_at_returns_blob_content_or_none() {
    let (r, c) = feature_repo();
    r.commit_files("dir", &[("dir/x.txt", "x\n")]);
    let repo = r.open();
    let id = |hex: &str| gix::ObjectId::from_hex(hex.as_bytes()).unwrap();
    let head = id(&r.rev("HEAD"));
    assert_eq!(
        read_file_at(&repo, id(&c[1]), "a.txt").unwrap(),
        Some(b"one\ntwo\n".to_vec())
    );
    assert_eq!(
        read_file_at(&repo, id(&c[3]), "a.txt").unwrap(),
        Some(b"one\ntwo\nthree\n".to_vec())
    );
    assert_eq!(read_file_at(&repo, id(&c[1]), "b.txt").unwrap(), None);
    assert_eq!(read_file_at(&repo, head, "dir").unwrap(), None);
    assert_eq!(
        read_file_at(&repo, head, "dir/x.txt").unwrap(),
        Some(b"x\n".to_vec())
    );
    // An id that is not in the repository is a git error, not a panic.
    assert!(matches!(
        read_file_at(&repo, gix::ObjectId::null(gix::hash::Kind::Sha1), "a.txt"),
        Err(Error::Git(_))
    ));
}
