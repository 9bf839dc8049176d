//! The `sarif` format: SARIF 2.1.0, valid against the OASIS schema and ready for GitHub code
//! scanning (rule metadata with help, relative URIs under `%SRCROOT%`, partial fingerprints,
//! code flows for call chains, tool notifications for files that could not be analyzed).
//!
//! Serialized from structs so the key order is fixed; nothing time- or machine-dependent is
//! written, so two runs over the same tree give identical files.

use std::collections::BTreeMap;
use std::io;

use loopguard_core::diagnostic::NotificationLevel;
use loopguard_core::rules::{RULES, Rule};
use loopguard_core::{Diagnostic, Notification, Severity, Span};
use serde::Serialize;

use crate::{INFORMATION_URI, Report, chain_summary, fingerprints};

/// The `$schema` written into every log.
pub const SARIF_SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

const SRCROOT: &str = "%SRCROOT%";

/// Key of loopguard's own fingerprint in `partialFingerprints`; the suffix versions the
/// fingerprint algorithm.
const FINGERPRINT_KEY: &str = "loopguard/v1";

/// The documentation page of a rule.
pub fn help_uri(code: &str) -> String {
    format!("{INFORMATION_URI}/blob/main/docs/rules/{code}.md")
}

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_uri_base_ids: Option<BTreeMap<&'static str, ArtifactLocation>>,
    invocations: [Invocation; 1],
    results: Vec<SarifResult<'a>>,
    column_kind: &'static str,
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'static str,
    version: &'a str,
    semantic_version: &'a str,
    information_uri: &'static str,
    rules: Vec<RuleDescriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleDescriptor {
    id: &'static str,
    name: String,
    short_description: Message,
    full_description: Message,
    help: MultiformatMessage,
    help_uri: String,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct Message {
    text: String,
}

#[derive(Serialize)]
struct MultiformatMessage {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties {
    tags: Vec<&'static str>,
    precision: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_index: Option<usize>,
    level: &'static str,
    message: Message,
    locations: [Location; 1],
    partial_fingerprints: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    code_flows: Vec<CodeFlow>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<Location>,
    properties: ResultProperties<'a>,
}

#[derive(Serialize)]
struct ResultProperties<'a> {
    confidence: &'static str,
    function: &'a str,
    api: &'a str,
    context: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Message>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    start_column: u32,
    end_line: u32,
    end_column: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CodeFlow {
    thread_flows: [ThreadFlow; 1],
}

#[derive(Serialize)]
struct ThreadFlow {
    locations: Vec<ThreadFlowLocation>,
}

#[derive(Serialize)]
struct ThreadFlowLocation {
    location: Location,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    tool_execution_notifications: Vec<ToolNotification>,
}

#[derive(Serialize)]
struct ToolNotification {
    level: &'static str,
    message: Message,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location>,
    descriptor: DescriptorReference,
}

#[derive(Serialize)]
struct DescriptorReference {
    id: String,
}

pub(crate) fn write(report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
    let log = build(report);
    serde_json::to_writer_pretty(&mut *out, &log).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

fn build<'a>(report: &'a Report) -> Log<'a> {
    let original_uri_base_ids = report.root_uri.as_ref().map(|root| {
        // A base URI must end with `/`, or resolving `app/x.py` against it drops its last
        // segment.
        let mut uri = root.clone();
        if !uri.ends_with('/') {
            uri.push('/');
        }
        BTreeMap::from([(
            SRCROOT,
            ArtifactLocation {
                uri,
                uri_base_id: None,
            },
        )])
    });
    let results = report
        .diagnostics
        .iter()
        .zip(fingerprints(report.diagnostics))
        .map(|(d, fingerprint)| result(d, fingerprint))
        .collect();
    Log {
        schema: SARIF_SCHEMA_URI,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "loopguard",
                    version: report.tool_version,
                    semantic_version: report.tool_version,
                    information_uri: INFORMATION_URI,
                    rules: RULES.iter().map(rule_descriptor).collect(),
                },
            },
            original_uri_base_ids,
            invocations: [Invocation {
                // Files that could not be read or parsed are reported as notifications; the
                // run itself still completed.
                execution_successful: true,
                tool_execution_notifications: report
                    .notifications
                    .iter()
                    .map(tool_notification)
                    .collect(),
            }],
            results,
            column_kind: "unicodeCodePoints",
        }],
    }
}

fn rule_descriptor(rule: &'static Rule) -> RuleDescriptor {
    let what = rule.section("What it does").unwrap_or(rule.summary);
    let why = rule.section("Why is this bad?").unwrap_or_default();
    let help_text = if why.is_empty() {
        what.to_string()
    } else {
        format!("{what}\n\n{why}")
    };
    RuleDescriptor {
        id: rule.code,
        name: pascal_case(rule.name),
        short_description: Message {
            text: sentence(rule.summary),
        },
        full_description: Message {
            text: sentence(what),
        },
        help: MultiformatMessage {
            text: help_text,
            markdown: rule.doc.to_string(),
        },
        help_uri: help_uri(rule.code),
        default_configuration: Configuration {
            level: level(rule.severity),
        },
        properties: RuleProperties {
            tags: tags(rule.code),
            precision: precision(rule.code),
        },
    }
}

/// GitHub shows tags as filters; every rule is about async code stalling its event loop.
fn tags(code: &str) -> Vec<&'static str> {
    let mut tags = vec!["async", "concurrency", "performance"];
    if code.starts_with("LG1") {
        tags.push("event-loop");
    } else if code.starts_with("LG2") {
        tags.push("locking");
    } else if code.starts_with("LG3") {
        tags.push("blocking-io");
    } else if code.starts_with("LG5") {
        tags.push("web-framework");
    }
    tags
}

/// How often a finding of the rule is a true positive (GitHub sorts alerts by it). Catalog
/// matches are precise; RefCell borrows across awaits are only a problem when another task
/// borrows too, and LG501 depends on what the endpoint's helpers really do.
fn precision(code: &str) -> &'static str {
    match code {
        "LG203" | "LG501" => "medium",
        _ => "high",
    }
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// `blocking-http` -> `BlockingHttp`: SARIF's conventional rule `name` style.
fn pascal_case(kebab: &str) -> String {
    kebab
        .split(['-', '_', ' '])
        .flat_map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars))
                .into_iter()
                .flatten()
        })
        .collect()
}

/// SARIF messages are sentences: they end with a period.
fn sentence(text: &str) -> String {
    let text = text.trim_end();
    if text.ends_with(['.', '!', '?']) {
        text.to_string()
    } else {
        format!("{text}.")
    }
}

fn result(d: &Diagnostic, fingerprint: String) -> SarifResult<'_> {
    let rule_index = RULES.iter().position(|r| r.code == d.code);
    let mut text = d.message.clone();
    if let Some(chain) = chain_summary(d) {
        text.push_str(&format!(" ({chain})"));
    }

    let code_flows = if d.chain.is_empty() {
        Vec::new()
    } else {
        let locations = d
            .chain
            .iter()
            .map(|hop| ThreadFlowLocation {
                location: Location {
                    id: None,
                    physical_location: physical_location(&hop.path, &hop.span),
                    message: Some(Message {
                        text: format!("calls {}", hop.call),
                    }),
                },
            })
            .collect();
        vec![CodeFlow {
            thread_flows: [ThreadFlow { locations }],
        }]
    };

    // Chain hops after the reported call site, then the rule's own related labels; ids are
    // unique within the result, as SARIF requires.
    let hop_locations = d.chain.iter().skip(1).map(|hop| {
        (
            physical_location(&hop.path, &hop.span),
            format!("{} calls {}", hop.function, hop.call),
        )
    });
    let label_locations = d.related.iter().map(|label| {
        (
            physical_location(&label.path, &label.span),
            label.message.clone(),
        )
    });
    let related_locations = hop_locations
        .chain(label_locations)
        .enumerate()
        .map(|(i, (physical_location, message))| Location {
            id: Some(i + 1),
            physical_location,
            message: Some(Message {
                text: sentence(&message),
            }),
        })
        .collect();

    SarifResult {
        rule_id: d.code,
        rule_index,
        level: level(d.severity),
        message: Message {
            text: sentence(&text),
        },
        locations: [Location {
            id: None,
            physical_location: physical_location(&d.path, &d.span),
            message: None,
        }],
        partial_fingerprints: BTreeMap::from([(FINGERPRINT_KEY, fingerprint)]),
        code_flows,
        related_locations,
        properties: ResultProperties {
            confidence: d.confidence.as_str(),
            function: &d.function,
            api: &d.api,
            context: &d.context,
        },
    }
}

fn tool_notification(n: &Notification) -> ToolNotification {
    let locations = n
        .path
        .as_ref()
        .map(|path| Location {
            id: None,
            physical_location: PhysicalLocation {
                artifact_location: artifact_location(path),
                region: n.span.as_ref().map(region),
            },
            message: None,
        })
        .into_iter()
        .collect();
    ToolNotification {
        level: match n.level {
            NotificationLevel::Error => "error",
            NotificationLevel::Warning => "warning",
            NotificationLevel::Note => "note",
        },
        message: Message {
            text: sentence(&n.message),
        },
        locations,
        descriptor: DescriptorReference { id: n.kind.clone() },
    }
}

fn physical_location(path: &str, span: &Span) -> PhysicalLocation {
    PhysicalLocation {
        artifact_location: artifact_location(path),
        region: Some(region(span)),
    }
}

/// Project-relative paths become URIs relative to `%SRCROOT%`; an absolute path (a file
/// outside the project) becomes a `file:` URI of its own.
fn artifact_location(path: &str) -> ArtifactLocation {
    let path = path.replace('\\', "/");
    let is_windows_absolute = path.as_bytes().get(1) == Some(&b':')
        && path.as_bytes().first().is_some_and(u8::is_ascii_alphabetic);
    if path.starts_with('/') {
        ArtifactLocation {
            uri: format!("file://{}", percent_encode_path(&path)),
            uri_base_id: None,
        }
    } else if is_windows_absolute {
        ArtifactLocation {
            uri: format!("file:///{}", percent_encode_path(&path)),
            uri_base_id: None,
        }
    } else {
        ArtifactLocation {
            uri: percent_encode_path(path.trim_start_matches("./")),
            uri_base_id: Some(SRCROOT),
        }
    }
}

/// Percent-encodes everything but unreserved characters, `/` and a drive letter's `:`, so
/// any file name gives a valid URI reference.
fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for (i, byte) in path.bytes().enumerate() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/')
            || (byte == b':' && i == 1);
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A region that satisfies SARIF's constraints (1-based, end not before start) even when a
/// span is unknown (all zero).
fn region(span: &Span) -> Region {
    let start_line = span.start_line.max(1);
    let start_column = span.start_col.max(1);
    let end_line = span.end_line.max(start_line);
    let mut end_column = span.end_col.max(1);
    if end_line == start_line && end_column < start_column {
        end_column = start_column;
    }
    Region {
        start_line,
        start_column,
        end_line,
        end_column,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal_case_names() {
        assert_eq!(pascal_case("blocking-http"), "BlockingHttp");
        assert_eq!(
            pascal_case("sync-work-in-async-endpoint"),
            "SyncWorkInAsyncEndpoint"
        );
        assert_eq!(pascal_case(""), "");
    }

    #[test]
    fn sentences_end_with_a_period() {
        assert_eq!(sentence("blocking call"), "blocking call.");
        assert_eq!(sentence("done. "), "done.");
        assert_eq!(sentence("really?"), "really?");
    }

    #[test]
    fn uris_are_relative_to_srcroot_and_encoded() {
        let loc = artifact_location("app/my file#1.py");
        assert_eq!(loc.uri, "app/my%20file%231.py");
        assert_eq!(loc.uri_base_id, Some(SRCROOT));
        let loc = artifact_location("./app/x.py");
        assert_eq!(loc.uri, "app/x.py");
        let loc = artifact_location("/abs/ü.py");
        assert_eq!(loc.uri, "file:///abs/%C3%BC.py");
        assert_eq!(loc.uri_base_id, None);
        let loc = artifact_location("C:\\src\\x.py");
        assert_eq!(loc.uri, "file:///C:/src/x.py");
    }

    #[test]
    fn regions_are_always_valid() {
        let r = region(&Span::default());
        assert_eq!(
            (r.start_line, r.start_column, r.end_line, r.end_column),
            (1, 1, 1, 1)
        );
        let backwards = Span {
            start_line: 4,
            start_col: 9,
            end_line: 2,
            end_col: 3,
            ..Span::default()
        };
        let r = region(&backwards);
        assert_eq!(
            (r.start_line, r.start_column, r.end_line, r.end_column),
            (4, 9, 4, 9)
        );
    }

    #[test]
    fn every_rule_is_described_with_help() {
        for (i, rule) in RULES.iter().enumerate() {
            let descriptor = rule_descriptor(rule);
            assert_eq!(descriptor.id, rule.code);
            assert!(!descriptor.help.markdown.is_empty());
            assert!(descriptor.help_uri.ends_with(&format!("{}.md", rule.code)));
            assert_eq!(RULES.iter().position(|r| r.code == rule.code), Some(i));
        }
    }
}
