//! The HTML report (`--format html`, `review.report_formats`) opened in a
//! real headless Chromium, as a reader would: one test function makes every
//! report (a stand-in review with many findings of every severity, several
//! reviewers and hostile file names, commit subjects and model answers; and
//! a review by the bundled models on the real engine), then one run of
//! `tests/tools/html_report.js` (puppeteer-core, one browser start) reports
//! what each rendered page shows, and this file asserts on that:
//!
//! * every finding sits at its file and line in the diff (or, when the
//!   diff does not show its line, under its file below the diff);
//! * the severity and reviewer filters hide exactly the right findings;
//! * with JavaScript disabled every finding is visible (no filters shown);
//! * nothing hostile ran: no dialog, no `alert`, no console error, no CSP
//!   violation, no injected element or `on*` attribute, one script only;
//! * the page makes no request but for its own file.
//!
//! Full-page screenshots go to `target/html-report/` (the path is printed).
//! Chromium (Debian package `chromium`) and puppeteer-core (in
//! `tests/tools/node`) are installed by `./install.sh --test`; without them
//! the test fails and says so.

mod common;

use common::repo::succeeded as ok;
use common::repo::TestRepo;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const HOSTILE_FILE: &str = "<img src=x onerror=alert(1)>.py";
const HOSTILE_SUBJECT: &str = "Add billing <script>alert(\"subject\")</script>";

/// Three stand-in reviewers; the third also reads `prompts/third.md`, whose
/// diff-like lines make it (and only it) report one more finding, so the
/// reviewer filter has findings with different reviewers to tell apart.
const CONFIG: &str = r#"[review]
lead = "standin:marker"
verify = "on"

[[reviewer]]
name = "correctness"
model = "standin:marker"
prompt = "correctness.md"

[[reviewer]]
name = "robustness"
model = "standin:marker"
prompt = "robustness.md"
seed = 7

[[reviewer]]
name = "tests-design"
model = "standin:marker"
prompt = "prompts/third.md"
seed = 9
"#;

/// Lines of `lib/cache.rs` at the base; line 6 carries a marker but is not
/// changed, so only the third reviewer's prompt points at it.
const CACHE_BASE: &str = "pub struct Cache {\n    ttl: u64,\n}\n\nimpl Cache {\n    pub fn stale(&self, age: u64) -> bool { age > self.ttl } // DEEP-REVIEW-PLANT:important\n    pub fn ttl(&self) -> u64 {\n        self.ttl\n    }\n}\n";

fn chromium() -> PathBuf {
    for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(p).is_file() {
            return PathBuf::from(p);
        }
    }
    panic!(
        "Chromium is not installed (looked for /usr/bin/chromium): the HTML report tests open \
         the report in headless Chromium. Run ./install.sh --test (it installs the Debian \
         package `chromium`)"
    );
}

fn tools() -> PathBuf {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools");
    assert!(
        tools.join("node/node_modules/puppeteer-core").is_dir(),
        "puppeteer-core is not installed in {}: run ./install.sh --test",
        tools.join("node").display()
    );
    tools
}

/// The stand-in review's repository: a base, then one commit (with a
/// hostile subject) adding code with planted findings of every severity
/// in several files, one of them named like an HTML element.
fn standin_repo() -> TestRepo {
    let r = TestRepo::new();
    r.commit_files(
        "Start the shop",
        &[("README.md", "shop\n"), ("lib/cache.rs", CACHE_BASE)],
    );
    r.write(".deep-review.toml", CONFIG);
    r.write(
        "prompts/third.md",
        "Review the tests and the design.\n\n=== lib/cache.rs (modified, +1 -0) ===\n+ 6 |     pub fn stale(&self, age: u64) -> bool { age > self.ttl } // DEEP-REVIEW-PLANT:important\n",
    );
    r.write(".git/info/exclude", ".deep-review.toml\nprompts/\n");
    let billing = "\
def invoice_total(lines):
    total = 0
    for line in lines:
        total += line.price * line.quantity  # DEEP-REVIEW-PLANT:critical
    return total


def apply_discount(total, percent):
    # percent is 0..100
    return total - total * percent / 100  # DEEP-REVIEW-PLANT:important


def format_money(cents):
    return f\"{cents / 100:.2f}\"  # DEEP-REVIEW-PLANT:suggestion
";
    // The stand-in verifier reads markers in the code it is shown: one file
    // each, so a marker decides only its own finding.
    let refunds = "def refund(order):\n    order.paid = 0  # DEEP-REVIEW-PLANT:critical DEEP-REVIEW-UNSURE\n    return order\n";
    let tax = "def tax(total):\n    return total * 0.2  # DEEP-REVIEW-PLANT:suggestion DEEP-REVIEW-REFUTE\n";
    let hostile = "\
def render(name):
    return \"<b>\" + name + \"</b>\"  # <script>alert(\"answer\")</script> DEEP-REVIEW-PLANT:critical


def banner():
    return \"<img src=x onerror=alert(2)>\"  # DEEP-REVIEW-PLANT:important
";
    let mut cache = CACHE_BASE.replace(
        "    pub fn ttl(&self) -> u64 {\n",
        "    pub fn ttl(&self) -> u64 {\n        // Callers rely on a non-zero ttl. DEEP-REVIEW-PLANT:suggestion\n",
    );
    cache.push_str(
        "\npub fn shared() -> Cache {\n    Cache { ttl: 0 } // DEEP-REVIEW-PLANT:important\n}\n",
    );
    r.commit_files(
        HOSTILE_SUBJECT,
        &[
            ("shop/billing.py", billing),
            ("shop/refunds.py", refunds),
            ("shop/tax.py", tax),
            (&format!("shop/{HOSTILE_FILE}"), hostile),
            ("lib/cache.rs", &cache),
        ],
    );
    r
}

fn out_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/html-report");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the browser script over `pages` once and returns its observations.
fn observe(pages: &[(&str, &Path, bool)]) -> Value {
    let chromium = chromium();
    let tools = tools();
    let dir = out_dir();
    let spec = serde_json::json!({
        "chromium": chromium,
        "outdir": dir,
        "pages": pages.iter().map(|(name, path, viewport_only)| serde_json::json!({
            "name": name, "path": path, "viewport_only": viewport_only
        })).collect::<Vec<_>>(),
    });
    let spec_path = dir.join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let out = Command::new("node")
        .arg(tools.join("html_report.js"))
        .arg(&spec_path)
        .output()
        .expect("node runs (install it with ./install.sh --test)");
    assert!(
        out.status.success(),
        "the browser script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the browser script prints JSON")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn indices(v: &Value) -> BTreeSet<u64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|i| i.as_u64().unwrap())
        .collect()
}

/// What every page must show whatever its content: nothing ran that the
/// page did not bring, nothing was fetched, nothing was injected.
fn assert_inert(name: &str, page: &Value, url: &str) {
    for key in [
        "dialogs",
        "alerts",
        "console_errors",
        "page_errors",
        "csp_violations",
    ] {
        assert_eq!(page[key], serde_json::json!([]), "{name}: {key}");
    }
    assert_eq!(
        strings(&page["requests"]),
        vec![url.to_string()],
        "{name}: requests"
    );
    for view in [page, &page["no_js"]] {
        assert_eq!(
            view["scripts"], 1,
            "{name}: exactly the report's own script"
        );
        assert_eq!(
            view["injected"], 0,
            "{name}: an element came from the content"
        );
        assert_eq!(view["on_attributes"], serde_json::json!([]), "{name}");
    }
}

/// Every finding sits at its file and at a line of its range in the diff,
/// or under its file below the diff; returns how many sit in the diff.
fn assert_placed(name: &str, page: &Value) -> usize {
    let mut in_diff = 0;
    for f in page["findings"].as_array().unwrap() {
        let file = f["file"].as_str().unwrap();
        let (start, end) = (
            f["line_start"].as_u64().unwrap(),
            f["line_end"].as_u64().unwrap(),
        );
        if f["diff_file"].is_null() {
            assert_eq!(f["outside_file"], file, "{name}: {f}");
        } else {
            assert_eq!(f["diff_file"], file, "{name}: {f}");
            let line = f["diff_line"]
                .as_u64()
                .unwrap_or_else(|| panic!("{name}: {f}"));
            assert!((start..=end).contains(&line), "{name}: {f}");
            in_diff += 1;
        }
    }
    in_diff
}

/// The filters hide exactly the findings they should: unticking a
/// severity hides that severity, unticking a reviewer hides the findings
/// no other ticked reviewer raised.
fn assert_filters(name: &str, page: &Value) {
    let findings = page["findings"].as_array().unwrap();
    for (sev, shown) in page["filters"]["severity"].as_object().unwrap() {
        let want: BTreeSet<u64> = findings
            .iter()
            .filter(|f| f["severity"] != sev.as_str())
            .map(|f| f["index"].as_u64().unwrap())
            .collect();
        assert_eq!(indices(shown), want, "{name}: without {sev}");
    }
    for (who, shown) in page["filters"]["reviewer"].as_object().unwrap() {
        let want: BTreeSet<u64> = findings
            .iter()
            .filter(|f| strings(&f["reviewers"]).iter().any(|r| r != who))
            .map(|f| f["index"].as_u64().unwrap())
            .collect();
        assert_eq!(indices(shown), want, "{name}: without reviewer {who}");
    }
    // Without scripts: all there, all visible, no dead controls.
    let plain = &page["no_js"];
    assert_eq!(
        plain["findings"].as_array().unwrap().len(),
        findings.len(),
        "{name}"
    );
    assert!(
        plain["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["visible"] == true),
        "{name}: a finding is hidden without JavaScript"
    );
    assert_eq!(plain["filters_visible"], false, "{name}");
    assert_eq!(plain["files_open"], true, "{name}");
    assert_eq!(
        page["filters_visible"], true,
        "{name}: the script shows the filters"
    );
}

fn report_json(r: &TestRepo) -> Value {
    let out = r
        .deep_review(&["HEAD~1..HEAD", "--format", "json", "-o", "-"])
        .output()
        .unwrap();
    ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn html_reports_render_every_finding_at_its_line_filter_and_run_nothing_hostile() {
    let dir = out_dir();
    // 1. The stand-in review, written with -o.
    let r = standin_repo();
    let standin = dir.join("standin.html");
    let out = r
        .deep_review(&[
            "HEAD~1..HEAD",
            "--format",
            "html",
            "-o",
            standin.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    ok(&out);
    let json = report_json(&r);
    // The JSON is unchanged by the HTML report's data: no diff in it.
    assert!(json.get("diff").is_none());

    // 2. The same review saved in the report directory, as Markdown and
    //    HTML (review.report_formats through git config).
    r.git(&["config", "deep-review.reportFormats", "markdown,html"]);
    let out = r.deep_review(&["HEAD~1..HEAD"]).output().unwrap();
    let text = ok(&out);
    let md = PathBuf::from(
        text.lines()
            .find_map(|l| l.strip_prefix("Report: "))
            .unwrap_or_else(|| panic!("no report path in: {text}")),
    );
    assert_eq!(md.extension().unwrap(), "md");
    let saved_html = md.with_extension("html");
    let saved_json = md.with_extension("json");
    assert!(saved_html.is_file(), "no HTML beside {}", md.display());
    assert!(saved_json.is_file(), "no JSON beside {}", md.display());
    // A value that is no format list is refused with the key's name.
    r.git(&["config", "deep-review.reportFormats", "pdf"]);
    let bad = r.deep_review(&["HEAD~1..HEAD"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("reportFormats"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    // 3. A review by the bundled models on the real engine.
    let real_repo = TestRepo::python_average();
    let real = dir.join("real.html");
    let mut cmd = real_repo.deep_review_offline(&[
        "HEAD~1..HEAD",
        "--format",
        "html",
        "-o",
        real.to_str().unwrap(),
        // One reviewer (the fastest bundled model) keeps the suite's time down.
        "--reviewer",
        "robustness",
    ]);
    let out = TestRepo::with_models(&mut cmd).output().unwrap();
    ok(&out);

    let t = std::time::Instant::now();
    let seen = observe(&[
        ("standin", &standin, false),
        ("saved", &saved_html, false),
        ("real", &real, false),
        ("readme", &standin, true),
    ]);
    eprintln!(
        "browser: {} for {} pages in {} ms",
        seen["chromium"],
        4,
        t.elapsed().as_millis()
    );
    let pages = &seen["pages"];
    for (name, path) in [
        ("standin", &standin),
        ("saved", &saved_html),
        ("real", &real),
    ] {
        let page = &pages[name];
        let url = format!("file://{}", path.display());
        assert_inert(name, page, &url);
        assert_placed(name, page);
        assert_filters(name, page);
        eprintln!(
            "screenshot of the {name} report: {}",
            page["screenshot"].as_str().unwrap()
        );
    }

    // The stand-in page: every consolidated finding of the JSON is there, at
    // its line, the planted lines marked in the diff.
    let page = &pages["standin"];
    let findings = page["findings"].as_array().unwrap();
    let expected = json["findings"].as_array().unwrap();
    assert!(
        expected.len() >= 8,
        "the stand-in review found {}",
        expected.len()
    );
    // The page shows them in diff order, the JSON critical first.
    let key = |f: &Value| {
        (
            f["file"].as_str().unwrap().to_string(),
            f["line_start"].as_u64().unwrap(),
            f["severity"].as_str().unwrap().to_string(),
            f["title"].as_str().unwrap().to_string(),
        )
    };
    let on_page: BTreeSet<_> = findings.iter().map(key).collect();
    let in_json: BTreeSet<_> = expected.iter().map(key).collect();
    assert_eq!(findings.len(), expected.len());
    assert_eq!(on_page, in_json);
    assert!(findings.iter().all(|f| f["has_fix"] == true));
    let in_diff = assert_placed("standin", page);
    assert_eq!(in_diff, findings.len(), "every planted line is in the diff");
    for f in findings {
        let text = f["diff_line_text"].as_str().unwrap();
        assert!(text.contains("DEEP-REVIEW-PLANT:"), "{f}");
    }
    let severities: BTreeSet<&str> = findings
        .iter()
        .map(|f| f["severity"].as_str().unwrap())
        .collect();
    assert_eq!(severities.len(), 3, "every severity: {severities:?}");
    // The reviewers differ between findings (the third's own finding).
    let only_third: Vec<&Value> = findings
        .iter()
        .filter(|f| strings(&f["reviewers"]) == ["tests-design"])
        .collect();
    assert_eq!(only_third.len(), 1, "{findings:?}");
    assert_eq!(only_third[0]["file"], "lib/cache.rs");
    assert_eq!(only_third[0]["line_start"], 6);
    // Verification statuses reached the page; the refuted finding left the list.
    let statuses: BTreeSet<&str> = findings
        .iter()
        .map(|f| f["verification"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains("confirmed") && statuses.contains("uncertain"),
        "{statuses:?}"
    );
    assert!(!findings.iter().any(|f| f["diff_line_text"]
        .as_str()
        .unwrap()
        .contains("DEEP-REVIEW-REFUTE")));
    assert_eq!(strings(&page["refuted"]), vec!["shop/tax.py".to_string()]);
    // The hostile names are shown as text, not markup.
    assert!(strings(&page["files"]).contains(&format!("shop/{HOSTILE_FILE}")));
    assert_eq!(
        strings(&page["subjects"]),
        vec![HOSTILE_SUBJECT.to_string()]
    );
    assert!(
        page["raw_text"]
            .as_str()
            .unwrap()
            .contains("<script>alert(\\\"answer\\\")</script>")
            || page["raw_text"]
                .as_str()
                .unwrap()
                .contains("<script>alert(\"answer\")</script>"),
        "the model answer quoting <script> is shown as text"
    );
    assert!(page["raw_reviews"].as_u64().unwrap() >= 3);
    assert!(
        page["context_items"].as_u64().unwrap() > 0,
        "the context is listed"
    );

    // The real review: a real page with a verdict; its findings (if the
    // tiny models made any that survived) are at their lines.
    let real_page = &pages["real"];
    assert!(real_page["verdict"].as_str().is_some_and(|v| !v.is_empty()));
    assert_eq!(strings(&real_page["files"]), vec!["stats.py".to_string()]);
    eprintln!("HTML reports and screenshots in {}", dir.display());
}
