//! Edits that only move code: when a file's new facts equal its cached facts up to an
//! order-preserving shift of positions (a line inserted above a function, a comment or a
//! docstring edited, a log message reworded), the findings are the cached ones with their
//! positions shifted, and the cross-file analysis need not run again.
//!
//! The shift must keep every comparison the analysis and the filter make between positions
//! (a call inside a `with` block, an await after a lock, a `noqa` on the line of a finding):
//! each endpoint of a span either stays where it was or moves by one byte and line delta,
//! and every endpoint that stays comes before every endpoint that moves, in the old text and
//! in the new one. Anything else (code moved into a block, an edit inside a line with calls
//! after it, a changed call) is not a shift, and the caller runs the analysis.

use loopguard_core::diagnostic::{Diagnostic, Notification};
use loopguard_core::facts::FileFacts;
use loopguard_core::span::Span;
use loopguard_core::suppression::Suppression;
use rustc_hash::FxHashMap;

/// Visits every span of a file's facts in a fixed order.
fn visit_spans(f: &mut FileFacts, visit: &mut dyn FnMut(&mut Span)) {
    for func in &mut f.functions {
        visit(&mut func.span);
        visit(&mut func.name_span);
        for d in &mut func.decorators {
            visit(&mut d.span);
        }
        for a in &mut func.awaits {
            visit(a);
        }
        for c in &mut func.calls {
            visit(&mut c.span);
        }
        for g in &mut func.guards {
            visit(&mut g.span);
            for a in &mut g.awaits {
                visit(a);
            }
        }
        for v in &mut func.attributes {
            visit(&mut v.span);
        }
    }
    for c in &mut f.classes {
        visit(&mut c.span);
        for v in &mut c.fields {
            visit(&mut v.span);
        }
    }
    for g in &mut f.globals {
        visit(&mut g.span);
    }
    for e in &mut f.errors {
        visit(&mut e.span);
    }
}

fn spans_of(f: &FileFacts) -> (FileFacts, Vec<Span>) {
    let mut copy = f.clone();
    let mut out = Vec::new();
    visit_spans(&mut copy, &mut |s| out.push(*s));
    (copy, out)
}

/// One endpoint of a span: byte, line, column.
#[derive(Clone, Copy)]
struct Point {
    byte: u32,
    line: u32,
    col: u32,
}

fn points(s: &Span) -> [Point; 2] {
    [
        Point {
            byte: s.start_byte,
            line: s.start_line,
            col: s.start_col,
        },
        Point {
            byte: s.end_byte,
            line: s.end_line,
            col: s.end_col,
        },
    ]
}

/// How one file's positions moved: old span -> new span, and old line -> new line.
#[derive(Debug)]
pub struct Shift {
    spans: FxHashMap<Span, Span>,
    /// Lines up to `last_kept` stay, lines from `first_moved` move by `line_delta`; lines in
    /// between are ambiguous (the edit is somewhere there).
    last_kept: Option<u32>,
    first_moved: Option<u32>,
    line_delta: i64,
}

impl Shift {
    fn line(&self, line: u32) -> Option<u32> {
        let kept = self.last_kept.is_some_and(|k| line <= k);
        let moved = self.first_moved.is_some_and(|m| line >= m);
        match (kept, moved) {
            (true, false) => Some(line),
            (false, true) => u32::try_from(i64::from(line) + self.line_delta).ok(),
            // Both: nothing moved by a line (delta 0) or an empty edit; neither: ambiguous.
            (true, true) if self.line_delta == 0 => Some(line),
            _ => None,
        }
    }

    /// The new position of a span of the old facts; `None` for a span the facts never had
    /// (then the stored findings cannot be shifted).
    pub fn span(&self, old: &Span) -> Option<Span> {
        self.spans.get(old).copied()
    }
}

/// The shift from `old` to `new` facts of one file, if the new facts are the old ones with
/// positions shifted (see the module docs).
pub fn shift(old: &FileFacts, new: &FileFacts) -> Option<Shift> {
    let (mut old_copy, old_spans) = spans_of(old);
    let (_, new_spans) = spans_of(new);
    if old_spans.len() != new_spans.len() {
        return None;
    }
    let mut delta: Option<(i64, i64)> = None;
    // Old coordinates: the largest kept and smallest moved endpoint (bytes, lines).
    let mut max_kept: Option<(u32, u32)> = None;
    let mut min_moved: Option<(u32, u32)> = None;
    for (o, n) in old_spans.iter().zip(&new_spans) {
        for (po, pn) in points(o).into_iter().zip(points(n)) {
            if po.col != pn.col {
                return None;
            }
            let d = (
                i64::from(pn.byte) - i64::from(po.byte),
                i64::from(pn.line) - i64::from(po.line),
            );
            if d == (0, 0) {
                let m = max_kept.get_or_insert((po.byte, po.line));
                *m = (m.0.max(po.byte), m.1.max(po.line));
                continue;
            }
            if *delta.get_or_insert(d) != d {
                return None;
            }
            let m = min_moved.get_or_insert((po.byte, po.line));
            *m = (m.0.min(po.byte), m.1.min(po.line));
        }
    }
    let (byte_delta, line_delta) = delta.unwrap_or((0, 0));
    if let (Some((kb, kl)), Some((mb, ml))) = (max_kept, min_moved) {
        // Kept before moved, in the old text and in the new one.
        if kb >= mb || i64::from(kb) >= i64::from(mb) + byte_delta {
            return None;
        }
        if kl > ml || i64::from(kl) > i64::from(ml) + line_delta {
            return None;
        }
    }
    // Everything but positions must be equal.
    let mut next = new_spans.iter();
    visit_spans(&mut old_copy, &mut |s| {
        if let Some(n) = next.next() {
            *s = *n;
        }
    });
    // Suppressions are compared below, by line; everything else must match here.
    old_copy.suppressions.clone_from(&new.suppressions);
    if old_copy != *new {
        return None;
    }
    let mut spans = FxHashMap::default();
    for (o, n) in old_spans.into_iter().zip(new_spans) {
        // Two equal old spans always map to equal new ones (same endpoints, same delta).
        spans.insert(o, n);
    }
    let shift = Shift {
        spans,
        last_kept: max_kept.map(|(_, l)| l),
        first_moved: min_moved.map(|(_, l)| l),
        line_delta,
    };
    // `noqa` comments must move with the code around them.
    if shift.spans.is_empty() {
        // No positions to tell where the edit is (and no finding can be in this file).
        return (old.suppressions == new.suppressions).then_some(shift);
    }
    let moved: Option<Vec<Suppression>> = old
        .suppressions
        .iter()
        .map(|s| {
            Some(Suppression {
                line: shift.line(s.line)?,
                codes: s.codes.clone(),
            })
        })
        .collect();
    (moved? == new.suppressions).then_some(shift)
}

/// Shifts the positions the stored findings have in `path`; `false` if one of them is not
/// a position of the old facts (then nothing may be reused).
pub fn apply(
    path: &str,
    shift: &Shift,
    diagnostics: &mut [Diagnostic],
    notifications: &mut [Notification],
) -> bool {
    let mut ok = true;
    let mut move_span = |p: &str, s: &mut Span| {
        if p == path {
            match shift.span(s) {
                Some(n) => *s = n,
                None => ok = false,
            }
        }
    };
    for d in diagnostics.iter_mut() {
        move_span(&d.path, &mut d.span);
        for h in &mut d.chain {
            move_span(&h.path, &mut h.span);
        }
        for l in &mut d.related {
            move_span(&l.path, &mut l.span);
        }
    }
    for n in notifications.iter_mut() {
        if let (Some(p), Some(s)) = (&n.path, &mut n.span) {
            move_span(p, s);
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(src: &str) -> FileFacts {
        let mut f = loopguard_python::lower("m.py", "m", false, src);
        f.suppressions = loopguard_core::suppression::scan(src);
        f
    }

    const BASE: &str = "import threading\nimport time\n\nlock = threading.Lock()\n\n\
                        async def handler():\n    with lock:\n        time.sleep(1)\n    \
                        await other()\n    time.sleep(2)  # noqa: LG301\n";

    #[test]
    fn a_line_inserted_above_is_a_shift() {
        let edited = BASE.replace("import time\n", "import time\n\n# a comment\n");
        let old = facts(BASE);
        let new = facts(&edited);
        let s = shift(&old, &new).expect("a shift");
        let call = &old.functions[0].calls[0];
        let moved = s.span(&call.span).expect("known span");
        assert_eq!(moved.start_line, call.span.start_line + 2);
        assert_eq!(moved.start_byte, call.span.start_byte + 13);
    }

    #[test]
    fn unchanged_text_is_the_identity() {
        let f = facts(BASE);
        let s = shift(&f, &f).expect("identity");
        let span = f.functions[0].span;
        assert_eq!(s.span(&span), Some(span));
    }

    #[test]
    fn a_call_moved_out_of_a_with_block_is_not_a_shift() {
        // Same calls, same order, but `time.sleep(1)` is no longer under the lock.
        let edited = BASE.replace(
            "        time.sleep(1)\n",
            "        pass\n    time.sleep(1)\n",
        );
        assert!(shift(&facts(BASE), &facts(&edited)).is_none());
    }

    #[test]
    fn a_new_call_is_not_a_shift() {
        let edited = BASE.replace("await other()\n", "await other()\n    time.sleep(3)\n");
        assert!(shift(&facts(BASE), &facts(&edited)).is_none());
    }

    #[test]
    fn an_edit_inside_a_line_before_a_call_is_not_a_shift() {
        // Columns of the call after the edit change on its line.
        let edited = BASE.replace("        time.sleep(1)", "        x = 1; time.sleep(1)");
        assert!(shift(&facts(BASE), &facts(&edited)).is_none());
    }

    #[test]
    fn a_removed_noqa_is_not_a_shift() {
        let edited = BASE.replace("  # noqa: LG301", "");
        assert!(shift(&facts(BASE), &facts(&edited)).is_none());
    }

    #[test]
    fn a_noqa_moves_with_its_line() {
        let edited = BASE.replace("async def", "# note\nasync def");
        let (old, new) = (facts(BASE), facts(&edited));
        assert_eq!(new.suppressions[0].line, old.suppressions[0].line + 1);
        assert!(shift(&old, &new).is_some());
    }

    fn diagnostic(path: &str, span: Span) -> Diagnostic {
        Diagnostic {
            code: "LG301",
            severity: loopguard_core::rules::Severity::Error,
            confidence: loopguard_core::diagnostic::Confidence::Certain,
            message: String::new(),
            path: path.into(),
            span,
            help: None,
            function: String::new(),
            call: String::new(),
            chain: Vec::new(),
            api: String::new(),
            related: Vec::new(),
            context: String::new(),
        }
    }

    #[test]
    fn findings_outside_the_old_spans_are_not_shifted() {
        let old = facts(BASE);
        let s = shift(&old, &old).expect("identity");
        let stray = Span {
            start_line: 99,
            ..Span::default()
        };
        let mut d = [diagnostic("m.py", stray)];
        assert!(!apply("m.py", &s, &mut d, &mut []));
        let mut other = [diagnostic("other.py", stray)];
        assert!(apply("m.py", &s, &mut other, &mut []));
        let call = old.functions[0].calls[0].span;
        let mut known = [diagnostic("m.py", call)];
        assert!(apply("m.py", &s, &mut known, &mut []));
        assert_eq!(known[0].span, call);
    }
}
