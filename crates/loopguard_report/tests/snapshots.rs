//! Snapshots of every format on the same hand-built report.

mod common;

use common::*;
use loopguard_report::Format;

#[test]
fn pretty() {
    let (d, n) = (diagnostics(), notifications());
    let mut report = report(&d, &n, &source);
    report.statistics = true;
    report.fixed_baseline_entries = Some(2);
    insta::assert_snapshot!(render(Format::Pretty { color: false }, &report));
}

#[test]
fn pretty_without_sources() {
    let (d, n) = (diagnostics(), notifications());
    let report = report(&d, &n, &no_source);
    insta::assert_snapshot!(render(Format::Pretty { color: false }, &report));
}

#[test]
fn json() {
    let (d, n) = (diagnostics(), notifications());
    let mut report = report(&d, &n, &source);
    report.fixed_baseline_entries = Some(2);
    insta::assert_snapshot!(render(Format::Json, &report));
}

#[test]
fn sarif() {
    let (d, n) = (diagnostics(), notifications());
    let mut report = report(&d, &n, &source);
    report.root_uri = Some("file:///home/dev/project".to_string());
    let mut sarif: serde_json::Value =
        serde_json::from_str(&render(Format::Sarif, &report)).expect("SARIF is JSON");
    // The rule pages are embedded whole; check them here and keep them out of the snapshot,
    // so editing docs/rules/ does not churn it.
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array_mut()
        .expect("rules");
    for rule in rules.iter_mut() {
        let code = rule["id"].as_str().unwrap_or_default().to_string();
        let doc = loopguard_core::rules::by_code(&code)
            .expect("known rule")
            .doc;
        assert_eq!(rule["help"]["markdown"].as_str(), Some(doc), "{code}");
        let page = serde_json::json!(format!("<docs/rules/{code}.md>"));
        rule["help"]["markdown"] = page.clone();
        rule["help"]["text"] = page.clone();
        rule["fullDescription"]["text"] = page;
    }
    insta::assert_snapshot!(serde_json::to_string_pretty(&sarif).unwrap_or_default());
}

#[test]
fn github() {
    let (d, n) = (diagnostics(), notifications());
    let report = report(&d, &n, &source);
    insta::assert_snapshot!(render(Format::Github, &report));
}
