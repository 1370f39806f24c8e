//! The engine router and the stand-in backend, without any model files.

use git_deep_review::check::findings::RawReview;
use git_deep_review::engine::{
    Backend, Engine, EngineOptions, Progress, Prompt, Request, Sampling,
};

fn req(user: &str) -> Request {
    Request {
        prompt: Prompt {
            system: "Review.".into(),
            user: user.into(),
        },
        sampling: Sampling::default(),
        grammar: String::new(),
        schema: None,
    }
}

#[test]
fn standin_models_need_no_model_files_or_llama_cpp() {
    // A models directory that does not exist: stand-ins must not care.
    let mut e = Engine::new(EngineOptions::default())
        .with_test_backend(Box::new(git_deep_review::standin::StandinBackend::new()));
    let diff = "=== a.rs (added, +1 -0) ===\n+ 1 | boom(); // DEEP-REVIEW-PLANT:important\n";
    let out = e.generate("standin:marker", &[req(diff)]);
    let r: RawReview = serde_json::from_str(&out[0].as_ref().unwrap().text).unwrap();
    assert_eq!(r.findings.len(), 1);
    assert_eq!(
        (r.findings[0].file.as_str(), r.findings[0].line),
        ("a.rs", 1)
    );
    assert_eq!(r.findings[0].severity, "important");
    assert!(e.generate("standin:fail", &[req(diff)])[0].is_err());
    assert_eq!(e.count_tokens("standin:empty", "abcdefgh").unwrap(), 2);
    e.set_progress_labels("chunk 1/1", &["r".into()]);
    // Without a test backend, a stand-in name is refused, never answered.
    let mut plain = Engine::new(EngineOptions::default());
    let err = plain
        .generate("standin:empty", &[req(diff)])
        .remove(0)
        .unwrap_err();
    assert!(err.to_string().contains("test backend"), "{err}");
}

#[test]
fn progress_is_silent_when_stderr_is_not_a_terminal_or_quiet() {
    // Under the test harness stderr is captured (not a terminal).
    assert!(!Progress::auto(true).is_enabled());
    assert!(!Progress::disabled().is_enabled());
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        assert!(!Progress::auto(false).is_enabled());
    }
}
