//! Which modules a file's facts name: the next files to parse.

use loopguard_core::facts::{Callee, FileFacts, TypeRef};

/// Calls `f` with every qualified path the facts mention (callees, types, bases, aliases).
pub fn for_each_path(facts: &FileFacts, f: &mut dyn FnMut(&str)) {
    for a in &facts.aliases {
        f(&a.target);
    }
    for g in &facts.globals {
        type_paths(&g.ty, f);
    }
    for c in &facts.classes {
        for b in &c.bases {
            f(b);
        }
        for v in &c.fields {
            type_paths(&v.ty, f);
        }
    }
    for func in &facts.functions {
        for d in &func.decorators {
            callee_paths(&d.callee, f);
        }
        for p in &func.params {
            if let Some(t) = &p.annotation {
                type_paths(t, f);
            }
            for c in p.default_call.iter().chain(&p.default_args) {
                callee_paths(c, f);
            }
        }
        if let Some(t) = &func.returns {
            type_paths(t, f);
        }
        for a in &func.attributes {
            type_paths(&a.ty, f);
        }
        for c in &func.calls {
            callee_paths(&c.callee, f);
            for a in &c.callable_args {
                callee_paths(a, f);
            }
        }
    }
}

fn callee_paths(c: &Callee, f: &mut dyn FnMut(&str)) {
    match c {
        Callee::Path(p) => f(p),
        Callee::Method { receiver, .. } => type_paths(receiver, f),
        Callee::Super { class, .. } => f(class),
        Callee::UnknownMethod { .. } => {}
    }
}

fn type_paths(t: &TypeRef, f: &mut dyn FnMut(&str)) {
    match t {
        TypeRef::Named(p) | TypeRef::Global(p) => f(p),
        TypeRef::Returned(c) => callee_paths(c, f),
        TypeRef::Field { owner, .. } => type_paths(owner, f),
    }
}

/// Every prefix of `path` at a separator, longest first, including the path itself:
/// `a.b.c` -> `a.b.c`, `a.b`, `a`.
pub fn module_prefixes<'p>(path: &'p str, sep: &'p str) -> impl Iterator<Item = &'p str> + 'p {
    let mut end = Some(path.len());
    std::iter::from_fn(move || {
        let e = end?;
        let prefix = &path[..e];
        end = prefix.rfind(sep);
        Some(prefix)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        let v: Vec<_> = module_prefixes("a.b.c", ".").collect();
        assert_eq!(v, vec!["a.b.c", "a.b", "a"]);
        let v: Vec<_> = module_prefixes("k::db::Pool", "::").collect();
        assert_eq!(v, vec!["k::db::Pool", "k::db", "k"]);
    }
}
