//! Stable finding fingerprints for JSON `fingerprint` and SARIF `partialFingerprints`.
//!
//! The algorithm lives in `loopguard_core` so baselines (engine) and reports compute the very
//! same value; it is re-exported here. The tests pin the properties the output formats
//! document: a fingerprint hashes the rule code, the path, the enclosing function and the call
//! text, so adding lines above a finding keeps it; renaming the function or the call changes
//! it.

pub use loopguard_core::diagnostic::{fingerprint, fingerprints};

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
