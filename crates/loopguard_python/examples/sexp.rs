//! Prints the syntax tree of one Python file (debugging aid).
fn main() {
    let Some(path) = std::env::args().nth(1) else {
        return;
    };
    let src = std::fs::read_to_string(path).unwrap_or_default();
    let mut p = tree_sitter::Parser::new();
    if p.set_language(&tree_sitter_python::LANGUAGE.into())
        .is_err()
    {
        return;
    }
    let Some(t) = p.parse(&src, None) else { return };
    fn pr(n: tree_sitter::Node, src: &str, depth: usize, field: Option<&str>) {
        let txt = if n.child_count() == 0 {
            format!(" {:?}", src.get(n.byte_range()).unwrap_or(""))
        } else {
            String::new()
        };
        println!(
            "{}{}{}{}{} [{}]",
            "  ".repeat(depth),
            field.map(|f| format!("{f}: ")).unwrap_or_default(),
            if n.is_named() {
                n.kind().to_string()
            } else {
                format!("'{}'", n.kind())
            },
            if n.is_missing() { " MISSING" } else { "" },
            txt,
            n.start_position().row + 1
        );
        let mut c = n.walk();
        for (i, ch) in n.children(&mut c).enumerate() {
            pr(ch, src, depth + 1, n.field_name_for_child(i as u32));
        }
    }
    pr(t.root_node(), &src, 0, None);
}
