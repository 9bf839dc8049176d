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
    insta::assert_snapshot!(render(Format::Sarif, &report));
}

#[test]
fn github() {
    let (d, n) = (diagnostics(), notifications());
    let report = report(&d, &n, &source);
    insta::assert_snapshot!(render(Format::Github, &report));
}
