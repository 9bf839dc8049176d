//! What checks produce and reporters print.

use serde::{Deserialize, Serialize};

use crate::rules::{RuleCode, Severity};
use crate::span::Span;

/// How sure the analysis is that the finding's call really reaches the blocking API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Every hop was resolved through imports, scopes and declared types.
    Certain,
    /// At least one hop was resolved by name alone (an untyped receiver whose method name
    /// exists on exactly one project class, or a catalog entry matched by method name).
    Likely,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Certain => "certain",
            Confidence::Likely => "likely",
        }
    }
}

/// One hop of a call chain: "in `function` (path:span), calls `call`".
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Hop {
    /// Qualified name of the function the call is in.
    pub function: String,
    pub path: String,
    /// The call site inside `function`.
    pub span: Span,
    /// Source text of the call (`self.db.get_agent`, `requests.get`).
    pub call: String,
}

/// A secondary location (e.g. the `.await` a guard is held across).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Label {
    pub path: String,
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    #[serde(deserialize_with = "deserialize_code")]
    pub code: RuleCode,
    pub severity: Severity,
    pub confidence: Confidence,
    pub message: String,
    /// Project-relative, `/`-separated path.
    pub path: String,
    pub span: Span,
    /// One-line fix hint from the catalog.
    pub help: Option<String>,
    /// Qualified name of the async function (or block) the finding is in.
    pub function: String,
    /// Normalized text of the offending call (fingerprints and baselines use it, so they
    /// survive lines moving).
    pub call: String,
    /// The chain from the async function's call site down to the blocking API call. Empty for
    /// direct findings; otherwise the first hop is the reported call site and the last one is
    /// the blocking API call.
    pub chain: Vec<Hop>,
    /// The blocking API at the end of the chain (`requests.get`, `threading.Lock.__enter__`):
    /// triage groups findings by it or by the first project helper of the chain.
    pub api: String,
    pub related: Vec<Label>,
    /// Where the finding sits, for triage priority: `middleware`, `dependency`, `route`,
    /// `callback` or `async`.
    pub context: String,
}

/// Rule codes are `&'static str`s of the registry; a stored code (cache) is mapped back.
fn deserialize_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RuleCode, D::Error> {
    let s = String::deserialize(d)?;
    crate::rules::by_code(&s)
        .map(|r| r.code)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown rule code `{s}`")))
}

impl Diagnostic {
    /// Sort key: path, position, code, message. Reporters receive diagnostics in this order.
    pub fn sort_key(&self) -> (&str, u32, u32, &str, &str) {
        (
            &self.path,
            self.span.start_line,
            self.span.start_col,
            self.code,
            &self.message,
        )
    }
}

/// Something the user should know that is not a finding: a file that could not be read or
/// parsed, a cache that was rebuilt.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Notification {
    pub level: NotificationLevel,
    /// `read-error`, `not-utf8`, `too-large`, `parse-error`, `cache`, `config`.
    pub kind: String,
    pub path: Option<String>,
    pub span: Option<Span>,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationLevel {
    Error,
    Warning,
    Note,
}

impl NotificationLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationLevel::Error => "error",
            NotificationLevel::Warning => "warning",
            NotificationLevel::Note => "note",
        }
    }
}

/// The fingerprint of one finding: 16 lowercase hex digits of a hash of what identifies it
/// independent of where it sits in the file: rule code, path, enclosing function and the
/// call text without whitespace. Moving lines keeps it; renaming the function or the call
/// changes it. Baselines, SARIF `partialFingerprints` and triage use it.
pub fn fingerprint(d: &Diagnostic) -> String {
    let mut hasher = crate::catalog::Fnv64::default();
    // Fields are NUL-separated so `("ab", "c")` and `("a", "bc")` hash differently.
    for field in [d.code, d.path.as_str(), d.function.as_str()] {
        hasher.write(field.as_bytes());
        hasher.write(&[0]);
    }
    for c in d.call.chars().filter(|c| !c.is_whitespace()) {
        let mut buf = [0u8; 4];
        hasher.write(c.encode_utf8(&mut buf).as_bytes());
    }
    format!("{:016x}", hasher.finish())
}

/// Fingerprints of every finding, in order: the n-th repeat (n >= 2) of a fingerprint gets
/// `<fingerprint>:<n>`, so duplicates in one function stay distinct while a lone finding's
/// fingerprint equals [`fingerprint`].
pub fn fingerprints<'d>(diagnostics: impl IntoIterator<Item = &'d Diagnostic>) -> Vec<String> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    diagnostics
        .into_iter()
        .map(|d| {
            let base = fingerprint(d);
            let count = seen.entry(base.clone()).or_insert(0);
            *count += 1;
            if *count == 1 {
                base
            } else {
                format!("{base}:{count}")
            }
        })
        .collect()
}
