//! What the verify stage decides, as plain data: a verdict per
//! consolidated finding ([`Verification`]) and a summary of the stage
//! ([`VerificationSummary`]). The gate and the report read these; nothing
//! here runs a model.

use serde::{Deserialize, Serialize};

/// The verifier's answer on one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerifyStatus {
    /// The code shown has the defect as described.
    Confirmed,
    /// The code shown does not have it (a false positive).
    Refuted,
    /// The verifier could not tell, or the verification failed.
    Uncertain,
}

impl VerifyStatus {
    /// The word the verifier answers with (and the report shows).
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyStatus::Confirmed => "confirmed",
            VerifyStatus::Refuted => "refuted",
            VerifyStatus::Uncertain => "uncertain",
        }
    }

    /// Every status, in the order the answer's grammar lists them.
    pub const ALL: [VerifyStatus; 3] = [
        VerifyStatus::Confirmed,
        VerifyStatus::Refuted,
        VerifyStatus::Uncertain,
    ];

    /// Parses the answer's word.
    pub fn parse(s: &str) -> Option<VerifyStatus> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// One verifier pass on one finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// The answer; `None` when the pass failed (see `error`).
    pub status: Option<VerifyStatus>,
    /// The verifier's reason (cleaned, bounded).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Why the pass produced no usable answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What verification made of one consolidated finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// The majority of the passes; `uncertain` on a tie or a failure.
    pub status: VerifyStatus,
    /// The reason of the first pass that answered with `status`.
    pub reason: String,
    /// The model that verified.
    pub model: String,
    /// Every pass, in order.
    pub votes: Vec<Vote>,
    /// Set when no pass answered: why (the finding stays, uncertain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

impl Verification {
    /// The majority of `votes` (a failed pass counts as `uncertain`): a
    /// status needs more than half of the passes, else `uncertain`. A
    /// verification whose every pass failed is `uncertain`, with the
    /// first failure as its reason, so it never removes a finding.
    pub fn tally(model: &str, votes: Vec<Vote>) -> Verification {
        let n = votes.len();
        let count = |s: VerifyStatus| votes.iter().filter(|v| v.status == Some(s)).count();
        let status = [VerifyStatus::Confirmed, VerifyStatus::Refuted]
            .into_iter()
            .find(|&s| 2 * count(s) > n)
            .unwrap_or(VerifyStatus::Uncertain);
        let failed = votes.iter().all(|v| v.status.is_none()).then(|| {
            votes
                .iter()
                .find_map(|v| v.error.clone())
                .unwrap_or_else(|| "no pass ran".to_string())
        });
        let reason = votes
            .iter()
            .find(|v| v.status == Some(status))
            .map(|v| v.reason.clone())
            .or_else(|| failed.clone())
            .unwrap_or_else(|| "the passes disagreed".to_string());
        Verification {
            status,
            reason,
            model: model.to_string(),
            votes,
            failed,
        }
    }
}

/// The verify stage as a whole, for the report and the JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationSummary {
    /// `on` or `auto`, as configured.
    pub mode: String,
    /// The models that verified, in order of use.
    pub models: Vec<String>,
    /// Passes per finding.
    pub votes: usize,
    /// Consolidated findings sent to verification.
    pub checked: usize,
    pub confirmed: usize,
    pub refuted: usize,
    pub uncertain: usize,
    /// Findings whose verification failed (counted among `uncertain`).
    pub failed: usize,
    /// Passes answered from the cache.
    pub from_cache: usize,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub duration_ms: u64,
    /// Why the stage did not run, when it did not (`auto` with only
    /// demonstration models, no verifier model usable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl VerificationSummary {
    /// The stage in one line of prose, for the report's "Verification" row
    /// (Markdown and HTML alike). `quote` escapes the text that comes from
    /// outside (model names, the reason the stage was skipped) for the
    /// format the line goes into.
    pub fn describe(&self, quote: impl Fn(&str) -> String) -> String {
        if self.checked == 0 {
            return "no finding to verify".to_string();
        }
        if let Some(why) = &self.skipped {
            return format!("not verified: {}", quote(why));
        }
        let models: Vec<String> = self.models.iter().map(|m| quote(m)).collect();
        let mut s = format!(
            "{} finding{} checked by {}",
            self.checked,
            if self.checked == 1 { "" } else { "s" },
            models.join(", ")
        );
        if self.votes > 1 {
            s += &format!(" ({} passes each)", self.votes);
        }
        s += &format!(
            ": {} confirmed, {} refuted, {} uncertain",
            self.confirmed, self.refuted, self.uncertain
        );
        if self.failed > 0 {
            s += &format!(" ({} of them because the verification failed)", self.failed);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(s: Option<VerifyStatus>) -> Vote {
        Vote {
            status: s,
            reason: s
                .map(|s| format!("because {}", s.as_str()))
                .unwrap_or_default(),
            error: s.is_none().then(|| "timed out".to_string()),
        }
    }

    #[test]
    fn the_majority_decides_and_a_tie_or_failure_is_uncertain() {
        use VerifyStatus::*;
        let t = |v: &[Option<VerifyStatus>]| {
            Verification::tally("m", v.iter().map(|&s| vote(s)).collect())
        };
        assert_eq!(t(&[Some(Refuted)]).status, Refuted);
        assert_eq!(t(&[Some(Confirmed)]).status, Confirmed);
        assert_eq!(
            t(&[Some(Refuted), Some(Refuted), Some(Confirmed)]).status,
            Refuted
        );
        assert_eq!(
            t(&[Some(Refuted), Some(Confirmed), Some(Uncertain)]).status,
            Uncertain
        );
        // A failed pass is no vote to refute: one refutation of three is not enough.
        assert_eq!(t(&[Some(Refuted), None, None]).status, Uncertain);
        let all_failed = t(&[None]);
        assert_eq!(all_failed.status, Uncertain);
        assert_eq!(all_failed.failed.as_deref(), Some("timed out"));
        let r = t(&[Some(Confirmed), Some(Refuted), Some(Refuted)]);
        assert_eq!(r.reason, "because refuted");
        assert!(r.failed.is_none());
    }
}
