//! Parsing and running snippets in the languages `eval` plants mutants
//! and decoys in: Rust with `syn`, Python with `ast.parse`, JavaScript
//! with `node --check`, Go with `gofmt -e` (when installed); and running
//! Rust, Python, JavaScript and Go programs for their output.

use std::io::Write;
use std::process::{Command, Stdio};

/// Whether `text` parses as `lang`; `Err` carries the parser's complaint.
pub fn parses(lang: &str, text: &str) -> Result<(), String> {
    match lang {
        "rust" => syn::parse_file(text).map(|_| ()).map_err(|e| e.to_string()),
        "python" => run_with_stdin(
            Command::new("python3").args(["-c", "import ast,sys; ast.parse(sys.stdin.read())"]),
            text,
        ),
        "javascript" => {
            let dir = tempfile::tempdir().expect("temp dir");
            let file = dir.path().join("mutant.js");
            std::fs::write(&file, text).expect("write the mutant");
            let out = Command::new("node")
                .arg("--check")
                .arg(&file)
                .output()
                .expect("run node --check (node must be installed)");
            if out.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&out.stderr).into_owned())
            }
        }
        "go" => {
            let found = Command::new("gofmt")
                .arg("-h")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok();
            if !found {
                // `./install.sh --test` installs it; CI must not skip silently.
                assert!(
                    std::env::var_os("CI").is_none(),
                    "gofmt is not on PATH (apt-get install golang-go)"
                );
                println!("note: gofmt is not on PATH; the Go mutant was not parsed");
                return Ok(());
            }
            run_with_stdin(Command::new("gofmt").arg("-e"), text)
        }
        other => panic!("no parser for {other}"),
    }
}

fn run_with_stdin(cmd: &mut Command, input: &str) -> Result<(), String> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the parser");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("feed the parser");
    let out = child.wait_with_output().expect("wait for the parser");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Whether `tool arg` runs.
fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// What the program `text` in `lang` prints (`rust`, `python`,
/// `javascript`, `go` — `None` when Go is not installed, outside CI);
/// `Err` with its complaint when it does not build or fails.
pub fn output_of(lang: &str, text: &str) -> Option<Result<String, String>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = match lang {
        "python" => {
            let file = dir.path().join("main.py");
            std::fs::write(&file, text).expect("write the program");
            let mut c = Command::new("python3");
            c.arg(file);
            c
        }
        "javascript" => {
            let file = dir.path().join("main.js");
            std::fs::write(&file, text).expect("write the program");
            let mut c = Command::new("node");
            c.arg(file);
            c
        }
        "rust" => {
            let file = dir.path().join("main.rs");
            let bin = dir.path().join("main");
            std::fs::write(&file, text).expect("write the program");
            let built = Command::new("rustc")
                .args(["--edition", "2021", "-A", "warnings", "-o"])
                .arg(&bin)
                .arg(&file)
                .output()
                .expect("run rustc");
            if !built.status.success() {
                return Some(Err(String::from_utf8_lossy(&built.stderr).into_owned()));
            }
            Command::new(bin)
        }
        "go" => {
            if !have("go", "version") {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "go is not on PATH (apt-get install golang-go)"
                );
                return None;
            }
            let file = dir.path().join("main.go");
            std::fs::write(&file, text).expect("write the program");
            let mut c = Command::new("go");
            c.arg("run").arg(file).current_dir(dir.path());
            c
        }
        other => panic!("cannot run {other}"),
    };
    let out = cmd.output().expect("run the program");
    Some(if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    })
}
