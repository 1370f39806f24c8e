//! Endpoints over https, through the real binary, with a throw-away
//! certificate authority made here with the `openssl` CLI: the fault server
//! (tests/common/fault_server.rs) serves TLS with a certificate that CA
//! signed. A model entry's `ca_file` is honoured; a certificate from a CA
//! nobody trusts, an expired one and one for another host name are each
//! refused at the handshake, with the endpoint, the reason and what to do,
//! before a request (code, key) is sent. Everything stays on loopback.

mod common;

use common::fault_server::{FaultServer, Reply};
use common::repo::TestRepo;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const KEY: &str = "sk-tls-SECRET-7070";
const EMPTY: &str = r#"{"findings":[]}"#;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (the CLI) is needed to make test certificates: apt-get install openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        text(&out.stderr)
    );
}

/// A certificate authority in `dir`: `NAME.pem` and `NAME.key`.
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=git-deep-review test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    dir.join(format!("{name}.pem"))
}

/// A server certificate for `san` (`IP:127.0.0.1`, `DNS:…`) signed by
/// `ca`, valid from `start` to `end` (`YYYYMMDDHHMMSSZ`, or "" for now
/// and two days on): (certificate PEM, key PEM).
fn make_leaf(
    dir: &Path,
    ca: &str,
    name: &str,
    san: &str,
    dates: Option<(&str, &str)>,
) -> (Vec<u8>, Vec<u8>) {
    std::fs::write(
        dir.join(format!("{name}.cnf")),
        format!(
            "[ca]\ndefault_ca = test\n[test]\ndatabase = index-{name}.txt\nnew_certs_dir = .\n\
             serial = serial-{name}\ndefault_md = sha256\npolicy = any\nunique_subject = no\n\
             default_days = 2\n\
             x509_extensions = leaf\n[any]\ncommonName = supplied\n[leaf]\nsubjectAltName = {san}\n\
             basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
             extendedKeyUsage = serverAuth\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join(format!("index-{name}.txt")), "").unwrap();
    std::fs::write(dir.join(format!("serial-{name}")), "1000\n").unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            "/CN=fault-server",
        ],
    );
    let mut args = vec![
        "ca".to_string(),
        "-batch".into(),
        "-notext".into(),
        "-config".into(),
        format!("{name}.cnf"),
        "-cert".into(),
        format!("{ca}.pem"),
        "-keyfile".into(),
        format!("{ca}.key"),
        "-in".into(),
        format!("{name}.csr"),
        "-out".into(),
        format!("{name}.pem"),
    ];
    if let Some((start, end)) = dates {
        args.extend([
            "-startdate".into(),
            start.into(),
            "-enddate".into(),
            end.into(),
        ]);
    }
    openssl(dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
    (
        std::fs::read(dir.join(format!("{name}.pem"))).unwrap(),
        std::fs::read(dir.join(format!("{name}.key"))).unwrap(),
    )
}

/// A review of the last commit by one reviewer on the server entry `team`
/// (`entry` holds its lines), JSON report in the scratch directory.
fn review(repo: &TestRepo, entry: &str) -> (Output, Option<serde_json::Value>) {
    let models = repo.scratch().join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::write(
        models.join("manifest.toml"),
        format!("[[model]]\nname = \"team\"\napi_key_env = \"TEAM_KEY\"\n{entry}\n"),
    )
    .unwrap();
    repo.write(
        ".deep-review.toml",
        "[review]\nlead = \"none\"\nverify = \"off\"\n\n[[reviewer]]\nname = \"remote\"\n\
         model = \"team\"\nprompt = \"correctness.md\"\nseed = 10\nmax_tokens = 200\n",
    );
    let report = repo.scratch().join("report.json");
    let _ = std::fs::remove_file(&report);
    let out = repo
        .deep_review(&[
            "HEAD~1..HEAD",
            "--format",
            "json",
            "-o",
            &report.display().to_string(),
        ])
        .env("GIT_DEEP_REVIEW_MODELS_DIR", &models)
        .env("TEAM_KEY", KEY)
        .output()
        .unwrap();
    let json = std::fs::read_to_string(&report)
        .ok()
        .map(|t| serde_json::from_str(&t).unwrap());
    (out, json)
}

fn toml_path(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

#[test]
fn a_private_ca_named_by_ca_file_is_trusted() {
    let repo = TestRepo::python_average();
    let pki = tempfile::tempdir().unwrap();
    let ca = make_ca(pki.path(), "ca");
    let (cert, key) = make_leaf(pki.path(), "ca", "good", "IP:127.0.0.1,DNS:localhost", None);
    let fault = FaultServer::start_tls(vec![Reply::Answer(EMPTY.into())], &cert, &key);
    fault.require_key(KEY);
    let (out, report) = review(
        &repo,
        &format!(
            "endpoint = \"{}\"\nca_file = {}",
            fault.base_url(),
            toml_path(&ca)
        ),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(fault.base_url().starts_with("https://"));
    let report = report.unwrap();
    assert_eq!(report["code_sent_to"][0], fault.base_url().as_str());
    let handshakes = fault.handshakes();
    assert!(
        !handshakes.is_empty() && handshakes.iter().all(Result::is_ok),
        "{handshakes:?}"
    );
    let completion = fault
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/chat/completions"))
        .expect("the review went over TLS");
    assert_eq!(
        completion.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
}

#[test]
fn untrusted_certificates_are_refused_before_anything_is_sent() {
    let pki = tempfile::tempdir().unwrap();
    let dir = pki.path();
    let ca = make_ca(dir, "ca");
    let other_ca = make_ca(dir, "other-ca");
    let good = make_leaf(dir, "ca", "good", "IP:127.0.0.1", None);
    let expired = make_leaf(
        dir,
        "ca",
        "expired",
        "IP:127.0.0.1",
        Some(("20200101000000Z", "20200102000000Z")),
    );
    let elsewhere = make_leaf(dir, "ca", "elsewhere", "DNS:gpu-box.example", None);
    type Case<'a> = (
        &'a str,
        &'a (Vec<u8>, Vec<u8>),
        Option<&'a Path>,
        &'a [&'a str],
    );
    let cases: Vec<Case> = vec![
        (
            "a CA nobody trusts",
            &good,
            None,
            &["certificate authority", "set ca_file"],
        ),
        (
            "a CA other than ca_file's",
            &good,
            Some(&other_ca),
            &["neither in ca_file", "set ca_file"],
        ),
        (
            "an expired certificate",
            &expired,
            Some(&ca),
            &["expired on 2020-01-02", "renew"],
        ),
        (
            "a certificate for another host",
            &elsewhere,
            Some(&ca),
            &[
                "not valid for the host name \"127.0.0.1\"",
                "(it names gpu-box.example)",
            ],
        ),
    ];
    for (what, (cert, key), ca_file, says) in cases {
        let repo = TestRepo::python_average();
        let fault = FaultServer::start_tls(vec![Reply::Answer(EMPTY.into())], cert, key);
        let mut entry = format!("endpoint = \"{}\"\n", fault.base_url());
        if let Some(ca) = ca_file {
            entry.push_str(&format!("ca_file = {}\n", toml_path(ca)));
        }
        let (out, report) = review(&repo, &entry);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{what}: {stderr}");
        assert!(report.is_none(), "{what}: nothing could review");
        for s in ["TLS", "nothing was sent", "model `team`", &fault.base_url()]
            .iter()
            .chain(says)
        {
            assert!(stderr.contains(s), "{what}: no {s:?} in: {stderr}");
        }
        assert!(!stderr.contains(KEY), "{what}: {stderr}");
        // The handshake was tried and failed; no request got through it.
        let handshakes = fault.handshakes();
        assert!(
            !handshakes.is_empty() && handshakes.iter().all(Result::is_err),
            "{what}: {handshakes:?}"
        );
        assert!(
            fault.requests().is_empty(),
            "{what}: the server received {:?}",
            fault.requests()
        );
    }
}
