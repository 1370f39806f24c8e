//! Stage 9: the checked review → one [`ReviewReport`], rendered as
//! Markdown ([`markdown`]), JSON ([`json`]), SARIF ([`sarif`]), one HTML
//! page ([`html`]) or a short
//! terminal summary ([`terminal`]).
//!
//! The report only assembles and renders: the pipeline hands over plain
//! data ([`ReportInput`]: the plan, file contents at head, the
//! [`Checked`] result of stages 5–8) and [`assemble`] adds excerpts, the
//! retro, the appendix and deterministic prose for every section. The lead
//! model's prose, when usable, replaces that prose through
//! [`ReviewReport::apply_lead_prose`].
//!
//! Where things are: [`model`] (the plain data), [`assemble`] (the checked
//! review → report), one module per format, [`write`] (where it goes).

pub mod assemble;
pub mod codequality;
pub mod escape;
pub mod fallback;
pub mod html;
pub mod json;
pub mod markdown;
pub mod model;
pub mod recommend;
pub mod sarif;
pub mod terminal;
pub mod write;

pub use assemble::assemble;
pub use model::*;
pub use write::{default_report_path, write_atomic};

/// Renders the report in `format`.
pub fn render(report: &ReviewReport, format: Format) -> String {
    match format {
        Format::Markdown => markdown::render(report),
        Format::Json => json::render(report),
        Format::Sarif => sarif::render(report),
        Format::Codequality => codequality::render(report),
        Format::Html => html::render(report),
    }
}
