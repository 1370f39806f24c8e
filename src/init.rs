//! `git deep-review init`: a configuration chosen from the models this
//! machine already has and the memory it has for them.
//!
//! Choosing is a pure function ([`choose`]) over plain records
//! ([`Candidate`]), so the rule is tested without model files; the command
//! gathers the candidates (manifest entries and the model stores) and
//! writes the file ([`write_new`]), never over an existing one unless asked.

use crate::engine::memory::human;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// One model the machine has, as `init` weighs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// What a configuration names it by (`qwen2.5-coder-7b`,
    /// `ollama:qwen2.5-coder:7b`, `hf:ORG/NAME/FILE.gguf`).
    pub reference: String,
    /// Where it was found (`models directory`, `Ollama`...), for the explanation.
    pub origin: String,
    pub file_size: u64,
    /// Parameter count from the GGUF header (0 = unknown).
    pub parameters: u64,
    pub architecture: String,
    /// A bundled model too small to review (the manifest says so).
    pub demonstration: bool,
    /// Why it cannot be used here (no supported chat template, split file...).
    pub unusable: Option<String>,
}

/// The personas every configuration gets, with their seeds: three
/// independent reviews of the same diff, as the report format expects.
pub const PERSONAS: [(&str, u32); 3] = [
    ("correctness", 11),
    ("robustness", 23),
    ("tests-design", 37),
];

/// The context `init` plans for (model references default to it).
pub const PLANNED_CONTEXT: u32 = 8192;

/// Memory kept free for the rest of the machine and the program itself.
const HEADROOM: u64 = 300 * 1024 * 1024;

/// What `init` decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// The model of every reviewer and of the lead.
    pub model: String,
    /// The bundled demonstration models were chosen because nothing
    /// better is here: the file works, but its reviews are no reviews.
    pub fallback: bool,
    /// A few lines saying what was chosen and why.
    pub explanation: Vec<String>,
}

/// Words in a model's reference that mark a model trained for code.
const CODE_MARKERS: [&str; 9] = [
    "coder",
    "codestral",
    "devstral",
    "starcoder",
    "codegemma",
    "codellama",
    "code-llama",
    "granite-code",
    "deepseek-code",
];

/// A model trained for code, by its name.
pub fn is_code_model(reference: &str) -> bool {
    let r = reference.to_ascii_lowercase();
    CODE_MARKERS.iter().any(|m| r.contains(m))
}

/// Memory a model needs to review: its weights plus a KV cache for
/// [`PLANNED_CONTEXT`] tokens, estimated as a quarter of the weights (about
/// right for grouped-query 7B-32B models at 8K; conservative for the rest)
/// and some headroom.
pub fn needed_bytes(c: &Candidate) -> u64 {
    c.file_size + c.file_size / 4 + HEADROOM
}

/// Picks the model for every reviewer: usable, not a demonstration model,
/// fits in `available` memory (unknown = anything fits); code models
/// first, then the largest. Nothing fits: the bundled models, with a
/// warning that says what to do.
pub fn choose(candidates: &[Candidate], available: Option<u64>) -> Choice {
    let fits = |c: &Candidate| available.is_none_or(|a| needed_bytes(c) <= a);
    let mut capable: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.unusable.is_none() && !c.demonstration)
        .collect();
    // Code models first, then more parameters (file size when unknown),
    // then the reference for a stable order.
    capable.sort_by(|a, b| {
        is_code_model(&b.reference)
            .cmp(&is_code_model(&a.reference))
            .then(weight(b).cmp(&weight(a)))
            .then(a.reference.cmp(&b.reference))
    });
    let mem = available.map_or("unknown".to_string(), human);
    let mut explanation = Vec::new();
    let too_big: Vec<&&Candidate> = capable.iter().filter(|c| !fits(c)).collect();
    if let Some(best) = capable.iter().find(|c| fits(c)) {
        let kind = if is_code_model(&best.reference) {
            "a code model"
        } else {
            "no code model fits, so the largest general model"
        };
        explanation.push(format!(
            "Model: {} ({}, {} parameters, {} file, from {}): {kind}.",
            best.reference,
            best.architecture,
            crate::engine::gguf_meta::format_params(best.parameters),
            human(best.file_size),
            best.origin
        ));
        explanation.push(format!(
            "Reviewers: {} on that one model (different seeds); its prompt prefix is shared, \
             so three personas cost little more than one.",
            PERSONAS.map(|p| p.0).join(", ")
        ));
        explanation.push(format!(
            "Memory: about {} for weights and a {PLANNED_CONTEXT}-token context; {mem} available.",
            human(needed_bytes(best))
        ));
        if let Some(big) = too_big.first() {
            explanation.push(format!(
                "Not chosen: {} needs about {}, more than is available.",
                big.reference,
                human(needed_bytes(big))
            ));
        }
        explanation.push(
            "The lead (the report's prose) is the same model; edit the file to change anything."
                .to_string(),
        );
        return Choice {
            model: best.reference.clone(),
            fallback: false,
            explanation,
        };
    }
    explanation.push(
        "warning: no capable model found on this machine (the models directory, Ollama, \
         Hugging Face, LM Studio); using the bundled demonstration models, which are far \
         too small to review code: their reviews are not reviews."
            .to_string(),
    );
    if let Some(big) = too_big.first() {
        explanation.push(format!(
            "{} was found but needs about {}; {mem} is available.",
            big.reference,
            human(needed_bytes(big))
        ));
    }
    explanation.push(
        "Bring one (e.g. a 7B-32B code model GGUF): git deep-review models add PATH, \
         then run git deep-review init --force."
            .to_string(),
    );
    Choice {
        model: String::new(),
        fallback: true,
        explanation,
    }
}

fn weight(c: &Candidate) -> u64 {
    if c.parameters > 0 {
        c.parameters
    } else {
        c.file_size
    }
}

/// The configuration file for `choice`, with the explanation as comments.
/// A fallback writes the built-in reviewers explicitly, so the file shows
/// what runs and where to put a capable model.
pub fn render(choice: &Choice) -> String {
    let mut out = String::from(
        "# Written by `git deep-review init` from the models found on this machine.\n\
         # `git deep-review config` shows every key; `git deep-review models` lists the models.\n",
    );
    for line in &choice.explanation {
        out.push_str(&format!("# {line}\n"));
    }
    let models: Vec<&str> = if choice.fallback {
        vec!["smollm2-135m", "gemma3-270m", "smollm2-135m"]
    } else {
        vec![choice.model.as_str(); PERSONAS.len()]
    };
    for ((persona, seed), model) in PERSONAS.iter().zip(models) {
        out.push_str(&format!(
            "\n[[reviewer]]\nname = \"{persona}\"\nmodel = {}\nprompt = \"{persona}.md\"\nseed = {seed}\n",
            toml_string(model)
        ));
    }
    let lead = if choice.fallback {
        crate::config::DEFAULT_LEAD
    } else {
        choice.model.as_str()
    };
    out.push_str(&format!("\n[review]\nlead = {}\n", toml_string(lead)));
    out
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Writes `text` to `path` as a new file. An existing file is an error
/// (exit 2) unless `force`, and even then it is first kept under a free
/// backup name (`<path>.bak`, else `<path>.bak.1`, `.bak.2`…: an earlier
/// backup is never replaced), which is returned. The text goes to a
/// temporary file beside `path` that is renamed into place, so an
/// interrupted write never leaves half a configuration.
pub fn write_new(path: &Path, text: &str, force: bool) -> Result<Option<PathBuf>> {
    let exists = path.symlink_metadata().is_ok();
    if exists && !force {
        return Err(Error::Usage(format!(
            "{} already exists; not overwriting it. Compare with `git deep-review init --stdout`, \
             or replace it with `git deep-review init --force` (the old file is kept as {}.bak, \
             or .bak.N when that is taken)",
            path.display(),
            path.display()
        )));
    }
    let kept = if exists {
        Some(keep_backup(path)?)
    } else {
        None
    };
    crate::engine::catalog::write_atomic(path, text)?;
    Ok(kept)
}

/// Keeps the file at `path` under the first free name of `<path>.bak`,
/// `<path>.bak.1`… and returns it. The backup is a hard link to the old
/// file (the new one is renamed over `path`, so the link keeps the old
/// bytes and mode); a link, unlike a copy or a rename, fails instead of
/// replacing a backup that appeared since the name was chosen. File
/// systems without hard links get a copy made with `create_new`, which
/// fails the same way.
fn keep_backup(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for n in 0..1000 {
        let bak = path.with_file_name(match n {
            0 => format!("{name}.bak"),
            n => format!("{name}.bak.{n}"),
        });
        if bak.symlink_metadata().is_ok() {
            continue;
        }
        let kept = match std::fs::hard_link(path, &bak) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(_) => copy_new(path, &bak),
        };
        match kept {
            Ok(()) => return Ok(bak),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::io(
                    format!("keeping the old file as {}", bak.display()),
                    e,
                ))
            }
        }
    }
    Err(Error::Usage(format!(
        "{p}.bak .. {p}.bak.999 are all taken; move some of them away, then run init --force again",
        p = path.display()
    )))
}

/// Copies `from` to `to`, which must not exist yet, with its permissions.
fn copy_new(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut src = std::fs::File::open(from)?;
    let mut dst = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)?;
    std::io::copy(&mut src, &mut dst)?;
    dst.set_permissions(src.metadata()?.permissions())?;
    dst.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GB: u64 = 1_000_000_000;

    fn cand(reference: &str, size: u64, params: u64) -> Candidate {
        Candidate {
            reference: reference.into(),
            origin: "Ollama".into(),
            file_size: size,
            parameters: params,
            architecture: "qwen2".into(),
            demonstration: false,
            unusable: None,
        }
    }

    #[test]
    fn prefers_a_code_model_that_fits_over_a_bigger_general_one() {
        let c = vec![
            cand("ollama:llama3.2:3b", 2 * GB, 3 * GB),
            cand("ollama:qwen2.5-coder:7b", 4 * GB, 7 * GB),
            cand("ollama:qwen2.5-coder:32b", 20 * GB, 32 * GB),
        ];
        let ch = choose(&c, Some(16 * GB));
        assert!(!ch.fallback);
        assert_eq!(ch.model, "ollama:qwen2.5-coder:7b");
        let text = ch.explanation.join("\n");
        assert!(text.contains("a code model"), "{text}");
        assert!(text.contains("qwen2.5-coder:32b needs about"), "{text}");
        // With memory to spare the larger code model wins.
        assert_eq!(choose(&c, Some(64 * GB)).model, "ollama:qwen2.5-coder:32b");
        // No code model fits: the largest general model that does.
        let small = choose(&c, Some(4 * GB));
        assert_eq!(small.model, "ollama:llama3.2:3b");
        assert!(
            small.explanation[0].contains("no code model fits"),
            "{:?}",
            small.explanation
        );
    }

    #[test]
    fn unusable_and_demonstration_models_are_never_chosen() {
        let mut demo = cand("smollm2-135m", 98_000_000, 135_000_000);
        demo.demonstration = true;
        let mut split = cand(
            "hf:Qwen/Qwen2.5-Coder-32B/q4-00001-of-00003.gguf",
            8 * GB,
            0,
        );
        split.unusable = Some("split GGUF".into());
        let ch = choose(&[demo, split], Some(64 * GB));
        assert!(ch.fallback);
        assert!(
            ch.explanation[0].starts_with("warning:"),
            "{:?}",
            ch.explanation
        );
        let toml = render(&ch);
        assert!(toml.contains("model = \"smollm2-135m\""), "{toml}");
        assert!(toml.contains("# warning: no capable model"), "{toml}");
    }

    #[test]
    fn the_file_parses_and_names_the_model_for_every_reviewer_and_the_lead() {
        let ch = choose(&[cand("ollama:qwen2.5-coder:7b", 4 * GB, 7 * GB)], None);
        let text = render(&ch);
        let v: toml::Value = toml::from_str(&text).unwrap();
        let reviewers = v["reviewer"].as_array().unwrap();
        assert_eq!(reviewers.len(), 3);
        for r in reviewers {
            assert_eq!(r["model"].as_str(), Some("ollama:qwen2.5-coder:7b"));
        }
        assert_eq!(
            v["review"]["lead"].as_str(),
            Some("ollama:qwen2.5-coder:7b")
        );
    }

    #[test]
    fn never_overwrites_without_force_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".deep-review.toml");
        std::fs::write(&p, "# mine\n").unwrap();
        let err = write_new(&p, "new\n", false).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::EXIT_USAGE, "{err}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "# mine\n");
        let bak = write_new(&p, "new\n", true).unwrap().unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new\n");
        assert_eq!(bak, dir.path().join(".deep-review.toml.bak"));
        assert_eq!(std::fs::read_to_string(&bak).unwrap(), "# mine\n");
        // A second --force keeps the first backup and numbers the next.
        let bak1 = write_new(&p, "newer\n", true).unwrap().unwrap();
        assert_eq!(bak1, dir.path().join(".deep-review.toml.bak.1"));
        assert_eq!(std::fs::read_to_string(&bak).unwrap(), "# mine\n");
        assert_eq!(std::fs::read_to_string(&bak1).unwrap(), "new\n");
    }
}
