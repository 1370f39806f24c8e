//! Who verifies a finding: `review.verifier` when it is set; otherwise
//! the largest of the reviewers' models, except that a finding raised by
//! one reviewer alone goes to another model when there is one (a model
//! asked to check its own claim tends to agree with itself).

/// A model that may verify, as the pipeline sees it before loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub model: String,
    /// On an inference server (size unknown: ranked above local files,
    /// where teams put the model they trust most).
    pub on_server: bool,
    /// The model file's size in bytes (0: unknown).
    pub size: u64,
    /// A demonstration model (its verdicts would be noise).
    pub demonstration: bool,
}

/// The candidates, largest first (ties keep the configured order), each
/// model once.
pub fn rank(mut candidates: Vec<Candidate>) -> Vec<Candidate> {
    let mut seen = Vec::new();
    candidates.retain(|c| {
        let new = !seen.contains(&c.model);
        seen.push(c.model.clone());
        new
    });
    candidates.sort_by_key(|c| (std::cmp::Reverse(c.on_server), std::cmp::Reverse(c.size)));
    candidates
}

/// Index into `ranked` of the model that verifies a finding whose
/// reviewers ran on `raised_by` (one model per reviewer that raised it).
/// `explicit`: the user named the verifier, which then verifies all.
pub fn choose(ranked: &[Candidate], explicit: bool, raised_by: &[String]) -> usize {
    if explicit || ranked.len() < 2 || raised_by.len() != 1 {
        return 0;
    }
    ranked
        .iter()
        .position(|c| c.model != raised_by[0])
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(model: &str, size: u64, on_server: bool) -> Candidate {
        Candidate {
            model: model.into(),
            on_server,
            size,
            demonstration: false,
        }
    }

    #[test]
    fn the_largest_verifies_but_not_its_own_lone_finding() {
        let ranked = rank(vec![
            c("small", 100, false),
            c("big", 900, false),
            c("small", 100, false),
        ]);
        let names: Vec<&str> = ranked.iter().map(|c| c.model.as_str()).collect();
        assert_eq!(names, ["big", "small"]);
        assert_eq!(choose(&ranked, false, &["small".into()]), 0);
        assert_eq!(
            choose(&ranked, false, &["big".into()]),
            1,
            "another model checks big's lone claim"
        );
        assert_eq!(choose(&ranked, false, &["big".into(), "small".into()]), 0);
        assert_eq!(
            choose(&ranked, true, &["big".into()]),
            0,
            "a named verifier verifies all"
        );
        let served = rank(vec![c("local", 9_000, false), c("team", 0, true)]);
        assert_eq!(served[0].model, "team");
    }
}
