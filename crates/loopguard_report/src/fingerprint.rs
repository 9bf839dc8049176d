//! Stable finding fingerprints for baselines and SARIF `partialFingerprints`.
//!
//! A fingerprint hashes what identifies a finding independent of where it sits in the file:
//! the rule code, the path, the enclosing function and the call text. Adding lines above a
//! finding therefore keeps its fingerprint; renaming the function or the call changes it.

use std::collections::HashMap;

use loopguard_core::Diagnostic;
use loopguard_core::catalog::Fnv64;

/// The fingerprint of one finding: 16 lowercase hex digits.
///
/// Two findings of the same rule calling the same text in the same function share it; use
/// [`fingerprints`] to tell such duplicates apart.
pub fn fingerprint(d: &Diagnostic) -> String {
    let mut hasher = Fnv64::default();
    // Fields are NUL-separated so `("ab", "c")` and `("a", "bc")` hash differently.
    for field in [d.code, d.path.as_str(), d.function.as_str()] {
        hasher.write(field.as_bytes());
        hasher.write(&[0]);
    }
    // Whitespace inside the call text (a call split over lines, reformatting) is not part of
    // its identity.
    for c in d.call.chars().filter(|c| !c.is_whitespace()) {
        let mut buf = [0u8; 4];
        hasher.write(c.encode_utf8(&mut buf).as_bytes());
    }
    format!("{:016x}", hasher.finish())
}

/// Fingerprints of every finding of `diagnostics`, in order.
///
/// The first finding with a given [`fingerprint`] gets it as is; the n-th repeat (n >= 2)
/// gets `<fingerprint>:<n>`, counted in the given (sorted) order, so duplicates in one
/// function stay distinct while a lone finding's fingerprint equals [`fingerprint`].
pub fn fingerprints(diagnostics: &[Diagnostic]) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    diagnostics
        .iter()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    #[test]
    fn fingerprint_survives_moving_lines_and_reformatting() {
        let a = diagnostic("LG301", "app/routes.py", "requests.get");
        let mut moved = a.clone();
        moved.span = span(40, 1, 13);
        moved.message = "different wording".to_string();
        let mut reformatted = a.clone();
        reformatted.call = "requests .\n    get".to_string();
        assert_eq!(fingerprint(&a), fingerprint(&moved));
        assert_eq!(fingerprint(&a), fingerprint(&reformatted));
        assert_eq!(fingerprint(&a).len(), 16);
        assert!(fingerprint(&a).chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn fingerprint_depends_on_code_path_function_and_call() {
        let a = diagnostic("LG301", "app/routes.py", "requests.get");
        let mut other_code = a.clone();
        other_code.code = "LG302";
        let mut other_path = a.clone();
        other_path.path = "app/other.py".to_string();
        let mut other_function = a.clone();
        other_function.function = "app.routes.other".to_string();
        let mut other_call = a.clone();
        other_call.call = "requests.post".to_string();
        for other in [other_code, other_path, other_function, other_call] {
            assert_ne!(fingerprint(&a), fingerprint(&other));
        }
    }

    #[test]
    fn repeated_fingerprints_get_occurrence_indexes() {
        let a = diagnostic("LG301", "app/routes.py", "requests.get");
        let b = diagnostic("LG301", "app/routes.py", "requests.post");
        let all = fingerprints(&[a.clone(), b.clone(), a.clone(), a.clone()]);
        let base = fingerprint(&a);
        assert_eq!(
            all,
            vec![
                base.clone(),
                fingerprint(&b),
                format!("{base}:2"),
                format!("{base}:3")
            ]
        );
    }
}
