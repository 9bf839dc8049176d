//! Shared vocabulary of loopguard.
//!
//! Front ends (`loopguard_python`, `loopguard_rust`) lower source files to [`facts`];
//! `loopguard_analysis` turns facts into [`diagnostic::Diagnostic`]s using the [`catalog`];
//! reporters print diagnostics. Nothing here parses source code or prints findings.

pub mod catalog;
pub mod config;
pub mod diagnostic;
pub mod facts;
pub mod rules;
pub mod span;
pub mod suppression;

pub use catalog::Catalog;
pub use config::Config;
pub use diagnostic::{Diagnostic, Hop, Notification};
pub use facts::FileFacts;
pub use rules::{Rule, RuleCode, Severity};
pub use span::Span;
