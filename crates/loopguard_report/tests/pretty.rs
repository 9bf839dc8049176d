//! Behaviour of the pretty format beyond the snapshot.

mod common;

use common::*;
use loopguard_report::Format;

#[test]
fn no_findings_passes() {
    let report = report(&[], &[], &source);
    assert_eq!(
        render(Format::Pretty { color: false }, &report),
        "All checks passed! (4 files)\n"
    );
}

#[test]
fn a_stale_span_falls_back_to_the_plain_form() {
    // The file changed since analysis: the finding's line no longer exists.
    let mut d = diagnostics();
    d[1].span.start_line = 999;
    d[1].span.start_byte = 99_999;
    d[1].span.end_byte = 99_999;
    let report = report(&d[1..2], &[], &source);
    let text = render(Format::Pretty { color: false }, &report);
    assert!(
        text.starts_with("app/routes.py:999:12: LG301 blocking HTTP call `requests.get`"),
        "{text}"
    );
    assert!(text.contains("\n  help: use httpx.AsyncClient"), "{text}");
}

#[test]
fn inconsistent_byte_offsets_are_recomputed_from_lines() {
    let mut d = diagnostics();
    // Offsets pointing somewhere else entirely; line/column are right.
    d[1].span.start_byte = 0;
    d[1].span.end_byte = 6;
    let report = report(&d[1..2], &[], &source);
    let text = render(Format::Pretty { color: false }, &report);
    assert!(text.contains("[app/routes.py:6:12]"), "{text}");
}

#[test]
fn color_adds_ansi_escapes_only_when_asked() {
    let d = diagnostics();
    let report = report(&d, &[], &source);
    assert!(render(Format::Pretty { color: true }, &report).contains("\x1b["));
    assert!(!render(Format::Pretty { color: false }, &report).contains("\x1b["));
}

#[test]
fn singular_summary() {
    let d = diagnostics();
    let mut report = report(&d[..1], &[], &source);
    report.files_checked = 1;
    let text = render(Format::Pretty { color: false }, &report);
    assert!(
        text.ends_with("Found 1 finding (1 error, 0 warnings) in 1 file.\n"),
        "{text}"
    );
}
