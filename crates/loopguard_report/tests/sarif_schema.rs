//! The SARIF output validates against the official SARIF 2.1.0 schema (vendored in
//! tests/data, from the OASIS SARIF TC), with and without findings.

mod common;

use common::*;
use loopguard_report::{Format, Report};
use serde_json::Value;

fn schema() -> Value {
    let text = include_str!("data/sarif-schema-2.1.0.json");
    serde_json::from_str(text).unwrap()
}

fn assert_valid(sarif: &str) -> Value {
    let instance: Value = serde_json::from_str(sarif).unwrap();
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema errors:\n{}", errors.join("\n"));
    instance
}

#[test]
fn the_schema_rejects_an_invalid_log() {
    // Guards against a validator that accepts everything (wrong draft, no format checks).
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let missing_runs = serde_json::json!({"version": "2.1.0"});
    assert!(!validator.is_valid(&missing_runs));
    let bad_region = serde_json::json!({
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{
            "message": {"text": "m."},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": "a.py"},
                "region": {"startLine": 0}
            }}]
        }]}]
    });
    assert!(!validator.is_valid(&bad_region));
    let bad_schema_uri = serde_json::json!({
        "$schema": "not a uri",
        "version": "2.1.0",
        "runs": []
    });
    assert!(!validator.is_valid(&bad_schema_uri), "formats are checked");
}

#[test]
fn findings_with_chains_related_labels_and_notifications_validate() {
    let (d, n) = (diagnostics(), notifications());
    let mut report = report(&d, &n, &source);
    report.root_uri = Some("file:///home/dev/my%20project".to_string());
    let sarif = render(Format::Sarif, &report);
    if let Some(path) = std::env::var_os("LOOPGUARD_SARIF_SAMPLE") {
        // For scripts/sarif-multitool.sh: `LOOPGUARD_SARIF_SAMPLE=/tmp/x.sarif cargo test`.
        std::fs::write(path, &sarif).unwrap();
    }
    let log = assert_valid(&sarif);
    let run = &log["runs"][0];
    assert_eq!(
        run["originalUriBaseIds"]["%SRCROOT%"]["uri"],
        "file:///home/dev/my%20project/"
    );
    assert_eq!(run["results"].as_array().unwrap().len(), 3);
    let chained = &run["results"][2];
    assert_eq!(chained["ruleId"], "LG302");
    let flow = &chained["codeFlows"][0]["threadFlows"][0]["locations"];
    assert_eq!(flow.as_array().unwrap().len(), 3);
    assert_eq!(
        flow[2]["location"]["physicalLocation"]["artifactLocation"]["uri"],
        "app/db.py"
    );
    assert_eq!(chained["relatedLocations"].as_array().unwrap().len(), 2);
    let notification = &run["invocations"][0]["toolExecutionNotifications"][0];
    assert_eq!(notification["descriptor"]["id"], "parse-error");
}

#[test]
fn an_empty_run_validates_and_still_describes_every_rule() {
    let report = report(&[], &[], &no_source);
    let log = assert_valid(&render(Format::Sarif, &report));
    let run = &log["runs"][0];
    assert_eq!(run["results"], serde_json::json!([]));
    assert!(run.get("originalUriBaseIds").is_none());
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), loopguard_core::rules::RULES.len());
    for (rule, descriptor) in loopguard_core::rules::RULES.iter().zip(rules) {
        assert_eq!(descriptor["id"], rule.code);
        assert_eq!(descriptor["help"]["markdown"], rule.doc);
    }
}

#[test]
fn rule_indexes_point_at_their_rules() {
    let (d, n) = (diagnostics(), notifications());
    let report: Report = report(&d, &n, &source);
    let log: Value = serde_json::from_str(&render(Format::Sarif, &report)).unwrap();
    let run = &log["runs"][0];
    for result in run["results"].as_array().unwrap() {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            run["tool"]["driver"]["rules"][index]["id"],
            result["ruleId"]
        );
    }
}

#[test]
fn output_is_deterministic() {
    let (d, n) = (diagnostics(), notifications());
    let report = report(&d, &n, &source);
    assert_eq!(
        render(Format::Sarif, &report),
        render(Format::Sarif, &report)
    );
}
