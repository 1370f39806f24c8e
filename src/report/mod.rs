//! Stage 7: consolidated review → Markdown / JSON / SARIF / terminal summary (owner: review, issue 4).
