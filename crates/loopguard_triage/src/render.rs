//! A fresh item document: front matter and every section, generated text between markers.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use loopguard_core::Diagnostic;
use loopguard_core::diagnostic::Confidence;

use crate::document::{begin_marker, end_marker, yaml_string, yaml_token};
use crate::group::{Item, Language, PriorityReason, RootCause, context_rank, short_name};
use crate::md::{capitalize, code, count, join_and, sentence};

/// Front matter keys loopguard writes, in the order of a fresh file.
pub const FRONT_KEYS: [&str; 8] = [
    "status",
    "priority",
    "issue_id",
    "tags",
    "dependencies",
    "loopguard_id",
    "loopguard_priority",
    "loopguard_findings",
];

/// Callers listed in the Problem Statement before "and N more".
const MAX_LISTED_CALLERS: usize = 5;

/// The generated front matter line (with `\n`) of `key` for `item`.
pub fn front_line(item: &Item<'_>, key: &str) -> String {
    let value = match key {
        "status" => "pending".to_string(),
        "priority" | "loopguard_priority" => item.priority.priority.to_string(),
        "issue_id" | "loopguard_id" => yaml_string(&item.id),
        "tags" => flow_list(&tags(item)),
        "dependencies" => "[]".to_string(),
        "loopguard_findings" => flow_list(
            &item
                .fingerprints
                .iter()
                .map(|f| yaml_string(f))
                .collect::<Vec<_>>(),
        ),
        _ => String::new(),
    };
    format!("{key}: {value}\n")
}

pub fn flow_list(tokens: &[String]) -> String {
    format!("[{}]", tokens.join(", "))
}

/// `loopguard`, the rule code and name, and the contexts (YAML tokens).
pub fn tags(item: &Item<'_>) -> Vec<String> {
    let mut tags = vec!["loopguard".to_string(), yaml_token(item.code())];
    if let Some(rule) = item.rule {
        tags.push(yaml_token(rule.name));
    }
    tags.extend(item.contexts().into_iter().map(yaml_token));
    tags
}

pub fn title(item: &Item<'_>) -> String {
    let category = capitalize(category(item));
    let contexts: Vec<String> = item.contexts().into_iter().map(context_phrase).collect();
    let from = join_and(&contexts);
    let apis: Vec<String> = item.apis().into_iter().map(code).collect();
    match &item.cause {
        RootCause::Helper { function, .. } => format!(
            "{category} ({}) reached from {from} via {}",
            apis.join(", "),
            code(&short_name(function))
        ),
        RootCause::Api { api, .. } => format!("{category} ({}) in {from}", code(api)),
        RootCause::Guard { function, call, .. } => {
            format!(
                "{category}: {} in {}",
                code(call),
                code(&short_name(function))
            )
        }
        RootCause::Endpoint { function, .. } => format!(
            "Async {} {} never awaits but does blocking work",
            item.contexts().first().copied().unwrap_or("endpoint"),
            code(&short_name(function))
        ),
    }
}

/// The whole document of a new item.
pub fn document(item: &Item<'_>, today: &str) -> String {
    let mut out = String::from("---\n");
    for key in FRONT_KEYS {
        out.push_str(&front_line(item, key));
    }
    out.push_str("---\n\n");
    block(&mut out, "title", &format!("# {}\n", title(item)));
    section(&mut out, "Problem Statement", "problem", &problem(item));
    section(&mut out, "Findings", "findings", &findings(item));
    section(
        &mut out,
        "Proposed Solutions",
        "solutions",
        &solutions(item),
    );
    section(
        &mut out,
        "Recommended Action",
        "recommended",
        &recommended(item),
    );
    section(&mut out, "Technical Details", "details", &details(item));
    section(
        &mut out,
        "Acceptance Criteria",
        "acceptance",
        &acceptance(item),
    );
    // The Work Log belongs to people: written once, never regenerated.
    let _ = write!(
        out,
        "\n## Work Log\n\n### {today} - Detected by loopguard\n- {} in {} ({} {}); priority {}\n",
        count(item.findings.len(), "finding", "findings"),
        count(item.finding_paths().len(), "file", "files"),
        item.code(),
        item.rule.map(|r| r.name).unwrap_or("unknown rule"),
        item.priority.priority,
    );
    section(&mut out, "Notes", "notes", &notes(item));
    out
}

fn block(out: &mut String, name: &str, content: &str) {
    let _ = write!(
        out,
        "{}\n{content}{}\n",
        begin_marker(name),
        end_marker(name)
    );
}

fn section(out: &mut String, heading: &str, name: &str, content: &str) {
    let _ = write!(out, "\n## {heading}\n\n");
    block(out, name, content);
}

fn category(item: &Item<'_>) -> &'static str {
    item.rule.map(|r| r.category).unwrap_or("blocking call")
}

fn context_phrase(context: &str) -> String {
    match context {
        "middleware" => "async middleware".to_string(),
        "dependency" => "an async dependency".to_string(),
        "route" => "an async route".to_string(),
        "callback" => "an event-loop callback".to_string(),
        "async" => "async code".to_string(),
        other => format!("async code ({other})"),
    }
}

fn loc(path: &str, line: u32) -> String {
    code(&format!("{path}:{line}"))
}

fn site(d: &Diagnostic) -> String {
    loc(&d.path, d.span.start_line)
}

/// The hint of the first finding that has one.
fn hint<'d>(item: &Item<'d>) -> Option<&'d str> {
    item.findings.iter().find_map(|d| d.help.as_deref())
}

/// `` `Limit.dispatch` (middleware, `app/mw.py:10`) `` for each async call site.
fn callers(item: &Item<'_>) -> String {
    // Most urgent first: the reader should see the middleware caller before a script's.
    let mut by_urgency: Vec<&Diagnostic> = item.findings.clone();
    by_urgency.sort_by_key(|d| context_rank(&d.context));
    let mut listed: Vec<String> = by_urgency
        .iter()
        .take(MAX_LISTED_CALLERS)
        .map(|d| {
            format!(
                "{} ({}, {})",
                code(&short_name(&d.function)),
                d.context,
                site(d)
            )
        })
        .collect();
    let rest = item.findings.len().saturating_sub(MAX_LISTED_CALLERS);
    if rest > 0 {
        listed.push(format!("{rest} more (see Findings)"));
    }
    join_and(&listed)
}

/// Fenced code blocks of a rule doc section in the item's language.
fn examples(item: &Item<'_>, heading: &str) -> Vec<String> {
    let Some(body) = item.rule.and_then(|r| r.section(heading)) else {
        return Vec::new();
    };
    let lang = match item.language() {
        Language::Python => "python",
        Language::Rust => "rust",
    };
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in body.lines() {
        let fence = line.trim_start().starts_with("```");
        match (&mut current, fence) {
            (None, true) => {
                if line.trim_start().trim_start_matches('`').trim() == lang {
                    current = Some(format!("{line}\n"));
                } else {
                    // A block in another language: skip to its closing fence.
                    current = Some(String::new());
                }
            }
            (Some(block), true) => {
                if !block.is_empty() {
                    block.push_str(line);
                    block.push('\n');
                    out.push(std::mem::take(block));
                }
                current = None;
            }
            (Some(block), false) => {
                if !block.is_empty() {
                    block.push_str(line);
                    block.push('\n');
                }
            }
            (None, false) => {}
        }
    }
    out
}

fn impact(context: &str) -> Option<&'static str> {
    match context {
        "middleware" => Some(
            "Middleware runs on every request: while it blocks, the loop serves no other request.",
        ),
        "dependency" => Some(
            "Dependencies run on every request to the routes that use them: while it blocks, the loop serves no other request.",
        ),
        "route" => Some("While a request to this route blocks, the loop serves no other request."),
        "callback" => {
            Some("Callbacks run on the event-loop thread: nothing else runs until it returns.")
        }
        _ => None,
    }
}

fn problem(item: &Item<'_>) -> String {
    let mut out = String::new();
    let first = item.findings.first().copied();
    let apis: Vec<String> = item.apis().into_iter().map(code).collect();
    let apis = join_and(&apis);
    let category = category(item);
    let sites = count(item.findings.len(), "call site", "call sites");
    match &item.cause {
        RootCause::Helper { function, .. } => {
            let chain = first.map(|d| d.chain.as_slice()).unwrap_or_default();
            let _ = write!(
                out,
                "{} is a sync function; it reaches {apis} ({category})",
                code(&short_name(function))
            );
            if let Some(last) = chain.last() {
                let _ = write!(out, " at {}", loc(&last.path, last.span.start_line));
            }
            out.push('.');
            if chain.len() > 2 {
                let path: Vec<String> = chain
                    .iter()
                    .skip(1)
                    .map(|h| code(&short_name(&h.function)))
                    .chain(std::iter::once(apis.clone()))
                    .collect();
                let _ = write!(out, " The call path is {}.", path.join(" → "));
            }
            if item.findings.len() == 1 {
                let _ = write!(out, " It is called from async code in {}.", callers(item));
            } else {
                let _ = write!(out, " Async code calls it at {sites}: {}.", callers(item));
            }
            let _ = writeln!(
                out,
                " {} the event loop for as long as {apis} blocks.",
                if item.findings.len() == 1 {
                    "The call blocks"
                } else {
                    "Each call blocks"
                }
            );
        }
        RootCause::Api { .. } => {
            if item.findings.len() == 1 {
                let _ = write!(
                    out,
                    "{apis} ({category}) is called directly on the event loop in {}.",
                    callers(item)
                );
            } else {
                let _ = write!(
                    out,
                    "{apis} ({category}) is called directly on the event loop at {sites} in {}: {}.",
                    count(item.finding_paths().len(), "file", "files"),
                    callers(item)
                );
            }
            if item.code() != "LG101" {
                out.push_str(if item.findings.len() == 1 {
                    " The call blocks the event loop until it returns."
                } else {
                    " Each call blocks the event loop until it returns."
                });
            }
            out.push('\n');
        }
        RootCause::Guard { function, call, .. } => {
            for d in &item.findings {
                let awaits: Vec<String> = d
                    .related
                    .iter()
                    .map(|l| loc(&l.path, l.span.start_line))
                    .collect();
                let _ = write!(
                    out,
                    "{} in {} ({}) is held across {}",
                    code(call),
                    code(&short_name(function)),
                    site(d),
                    if awaits.len() <= 1 {
                        "an await".to_string()
                    } else {
                        format!("{} awaits", awaits.len())
                    },
                );
                if !awaits.is_empty() {
                    let _ = write!(out, " at {}", join_and(&awaits));
                }
                out.push_str(".\n");
            }
        }
        RootCause::Endpoint { .. } => {
            for d in &item.findings {
                let message = d.message.trim().trim_end_matches('.');
                let _ = writeln!(out, "At {}, {message}.", site(d));
            }
        }
    }
    if let Some(why) = item.rule.and_then(|r| r.section("Why is this bad?")) {
        let _ = write!(out, "\n**Why this is bad:** {}\n", unwrap_lines(why));
    }
    let guard = matches!(item.cause, RootCause::Guard { .. });
    if !guard && let Some(text) = item.contexts().first().and_then(|c| impact(c)) {
        let _ = write!(out, "\n{text}\n");
    }
    out
}

/// Joins the hard-wrapped lines of each paragraph (the rule pages wrap at ~95 columns);
/// text with code fences is kept as is.
fn unwrap_lines(text: &str) -> String {
    if text.contains("```") {
        return text.to_string();
    }
    text.split("\n\n")
        .map(|p| p.lines().map(str::trim).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn findings(item: &Item<'_>) -> String {
    let mut out = String::new();
    for d in &item.findings {
        let mut what = d.context.clone();
        if d.confidence == Confidence::Likely {
            what.push_str(", confidence likely");
        }
        let detail = match &item.cause {
            RootCause::Endpoint { .. } => d.message.clone(),
            _ => code(&d.call),
        };
        let _ = writeln!(
            out,
            "- {} in {} ({what}): {detail}",
            site(d),
            code(&d.function)
        );
        // The bullet itself is hop 0 (the async call site); nest the rest.
        let hops = d.chain.len();
        for (i, hop) in d.chain.iter().enumerate().skip(1) {
            let _ = write!(
                out,
                "  - {} in {}: {}",
                loc(&hop.path, hop.span.start_line),
                code(&hop.function),
                code(&hop.call)
            );
            if i + 1 == hops {
                let _ = write!(out, " (blocks: {})", code(&d.api));
            }
            out.push('\n');
        }
        for label in &d.related {
            let _ = writeln!(
                out,
                "  - {}: {}",
                loc(&label.path, label.span.start_line),
                label.message
            );
        }
    }
    out
}

struct Solution {
    title: String,
    body: String,
    pros: String,
    cons: String,
    effort: &'static str,
    risk: &'static str,
}

/// "the call site", "both call sites", "all 5 call sites".
fn all_sites(n: usize) -> String {
    match n {
        1 => "the call site".to_string(),
        2 => "both call sites".to_string(),
        n => format!("all {n} call sites"),
    }
}

fn small_or_medium(n: usize) -> &'static str {
    if n <= 3 { "Small" } else { "Medium" }
}

/// Async functions with route/dependency context: what Option 3 would declare `def`.
fn endpoints(item: &Item<'_>) -> Vec<String> {
    let set: BTreeSet<String> = item
        .findings
        .iter()
        .filter(|d| matches!(d.context.as_str(), "route" | "dependency"))
        .map(|d| short_name(&d.function))
        .collect();
    set.into_iter().collect()
}

fn solutions_list(item: &Item<'_>) -> Vec<Solution> {
    let n = item.findings.len();
    let lang = item.language();
    let hint_text = hint(item)
        .map(sentence)
        .unwrap_or_else(|| format!("See `loopguard rule {}`.", item.code()));
    // A nested loop must be awaited instead, a guard released, an endpoint is LG501's own
    // option, and a sleep on a worker thread is still a sleep.
    let offloadable = !matches!(item.code(), "LG101" | "LG202" | "LG203" | "LG305" | "LG501");
    let mut out = Vec::new();
    match &item.cause {
        RootCause::Helper { function, .. } => {
            let helper = code(&short_name(function));
            let at = item
                .findings
                .first()
                .and_then(|d| d.chain.last())
                .map(|h| format!("At {}: ", loc(&h.path, h.span.start_line)))
                .unwrap_or_default();
            let depth = item.findings.first().map(|d| d.chain.len()).unwrap_or(0);
            out.push(Solution {
                title: format!("Make {helper} non-blocking (Recommended)"),
                body: format!(
                    "{at}{hint_text} If that makes {helper} async, `await` it at {}.",
                    all_sites(n)
                ),
                pros: format!(
                    "Fixes the root cause once for {}; no worker thread per call",
                    all_sites(n)
                ),
                cons: format!(
                    "If {helper} becomes async, every caller must await it, including sync callers outside this report"
                ),
                effort: if n <= 3 && depth <= 2 { "Small" } else { "Medium" },
                risk: if n <= 3 { "Low" } else { "Medium" },
            });
            if offloadable {
                let body = format!(
                    "Keep {helper} sync and call it as {} at each async call site.",
                    offload_call(lang, &short_name(function))
                );
                let pros = format!("{helper} and its sync callers stay unchanged");
                out.push(offload(lang, &helper, body, pros, n));
            }
        }
        RootCause::Api { api, .. } => {
            let api_code = code(api);
            out.push(Solution {
                title: format!("Use a non-blocking alternative to {api_code} (Recommended)"),
                body: hint_text,
                pros:
                    "The loop keeps serving other tasks while the operation waits; no worker thread"
                        .to_string(),
                cons: format!(
                    "Changes {}; an async replacement may need a new dependency",
                    all_sites(n)
                ),
                effort: small_or_medium(n),
                risk: "Low",
            });
            if offloadable {
                let body = if item.code() == "LG201" {
                    format!(
                        "Move each critical section into a sync function and run it with {}.",
                        offload_call(lang, "critical_section")
                    )
                } else {
                    let call = item
                        .findings
                        .first()
                        .map(|d| d.call.as_str())
                        .unwrap_or(api);
                    format!("Wrap each call: {}.", offload_call(lang, call))
                };
                let pros = "No new dependency; a one-line change per call site".to_string();
                out.push(offload(lang, &api_code, body, pros, n));
            }
        }
        RootCause::Guard { call, function, .. } => {
            out.push(Solution {
                title: format!("Do not hold {} across an await (Recommended)", code(call)),
                body: hint_text,
                pros: "Other tasks can run, and take the lock, while this one is suspended"
                    .to_string(),
                cons: format!(
                    "{} may need restructuring when the awaited work needs the protected state",
                    code(&short_name(function))
                ),
                effort: "Small",
                risk: "Low",
            });
        }
        RootCause::Endpoint { function, .. } => {
            let name = code(&short_name(function));
            out.push(Solution {
                title: format!("Declare {name} with `def` (Recommended)"),
                body: hint_text,
                pros: "One keyword; FastAPI runs `def` endpoints and dependencies in its threadpool".to_string(),
                cons: "The threadpool is bounded (40 threads by default), so slow calls still queue under load".to_string(),
                effort: "Small",
                risk: "Low",
            });
            out.push(Solution {
                title: format!("Keep {name} `async def` and offload the blocking work"),
                body: format!(
                    "Wrap each blocking call in {}.",
                    code("await asyncio.to_thread(...)")
                ),
                pros: format!("{name} can keep awaiting other coroutines later"),
                cons: "More verbose; every new blocking call must be wrapped too".to_string(),
                effort: "Small",
                risk: "Low",
            });
        }
    }
    let endpoints = endpoints(item);
    let helper_or_api = matches!(item.cause, RootCause::Helper { .. } | RootCause::Api { .. });
    if lang == Language::Python && offloadable && helper_or_api && !endpoints.is_empty() {
        let names: Vec<String> = endpoints.iter().map(|e| code(e)).collect();
        let names = join_and(&names);
        let uncovered: Vec<&str> = item
            .findings
            .iter()
            .filter(|d| !matches!(d.context.as_str(), "route" | "dependency"))
            .map(|d| d.context.as_str())
            .collect();
        let mut body = format!(
            "FastAPI runs `def` endpoints and dependencies in its threadpool: declare {names} `def` instead of `async def`."
        );
        if !uncovered.is_empty() {
            let contexts: BTreeSet<&str> = uncovered.iter().copied().collect();
            let mut contexts: Vec<&str> = contexts.into_iter().collect();
            contexts.sort_by_key(|c| context_rank(c));
            let contexts: Vec<String> = contexts.into_iter().map(str::to_string).collect();
            let sites = if uncovered.len() == 1 {
                "the call site".to_string()
            } else {
                format!("the {} call sites", uncovered.len())
            };
            let _ = write!(
                body,
                " It does not cover {sites} in {}.",
                join_and(&contexts)
            );
        }
        out.push(Solution {
            title: format!("Declare {names} with `def`"),
            body,
            pros: "One keyword per endpoint; the framework moves the whole call off the loop".to_string(),
            cons: format!(
                "Only possible if {names} awaits nothing; the threadpool is bounded (40 threads by default)"
            ),
            effort: "Small",
            risk: "Medium",
        });
    }
    out
}

fn offload_call(lang: Language, target: &str) -> String {
    match lang {
        Language::Python => code(&format!("await asyncio.to_thread({target}, ...)")),
        Language::Rust => code(&format!(
            "tokio::task::spawn_blocking(move || {target}(...)).await"
        )),
    }
}

fn offload(lang: Language, what: &str, body: String, pros: String, n: usize) -> Solution {
    let cons = match lang {
        Language::Python => {
            "Each call takes a thread from the default executor (min(32, CPUs + 4) threads); the work itself is no faster"
        }
        Language::Rust => {
            "Each call takes a thread from the blocking pool; captured values must be `Send + 'static`"
        }
    };
    Solution {
        title: format!("Run {what} on a worker thread"),
        body,
        pros,
        cons: cons.to_string(),
        effort: small_or_medium(n),
        risk: "Low",
    }
}

fn solutions(item: &Item<'_>) -> String {
    let mut out = String::new();
    let examples = examples(item, "Use instead");
    for (i, s) in solutions_list(item).iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = write!(
            out,
            "### Option {}: {}\n\n{}\n\n- **Pros**: {}\n- **Cons**: {}\n- **Effort**: {}\n- **Risk**: {}\n",
            i + 1,
            s.title,
            s.body,
            s.pros,
            s.cons,
            s.effort,
            s.risk
        );
        if i == 0 && !examples.is_empty() {
            let _ = write!(
                out,
                "\nExample (`loopguard rule {}`):\n\n{}",
                item.code(),
                examples.join("\n")
            );
        }
    }
    out
}

fn recommended(item: &Item<'_>) -> String {
    let n = item.findings.len();
    match &item.cause {
        RootCause::Helper { function, .. } => {
            let helper = code(&short_name(function));
            let mut text = format!("Option 1: fix the blocking call in {helper}.");
            if !matches!(item.code(), "LG101") {
                let _ = write!(
                    text,
                    " If {helper} must stay sync for other callers, use Option 2 at the {}.",
                    count(n, "async call site", "async call sites")
                );
            }
            text.push('\n');
            text
        }
        RootCause::Api { .. } if n > 1 => format!("Option 1 at all {n} call sites.\n"),
        RootCause::Endpoint { function, .. } => {
            format!("Option 1: declare {} `def`.\n", code(&short_name(function)))
        }
        _ => "Option 1.\n".to_string(),
    }
}

fn details(item: &Item<'_>) -> String {
    let mut out = String::from("- **Affected files**:\n");
    for path in item.affected_paths() {
        let _ = writeln!(out, "  - {}", code(path));
    }
    out.push_str("- **Related components**:\n");
    for context in item.contexts() {
        let functions: BTreeSet<&str> = item
            .findings
            .iter()
            .filter(|d| d.context == context)
            .map(|d| d.function.as_str())
            .collect();
        let functions: Vec<String> = functions.into_iter().map(code).collect();
        let _ = writeln!(out, "  - {context}: {}", functions.join(", "));
    }
    let helpers: BTreeSet<&str> = item
        .findings
        .iter()
        .flat_map(|d| d.chain.iter().skip(1).map(|h| h.function.as_str()))
        .collect();
    if !helpers.is_empty() {
        let helpers: Vec<String> = helpers.into_iter().map(code).collect();
        let _ = writeln!(out, "  - sync helpers: {}", helpers.join(", "));
    }
    let apis: Vec<String> = item.apis().into_iter().map(code).collect();
    let label = match item.cause {
        RootCause::Guard { .. } => "Guard",
        RootCause::Endpoint { .. } => "Endpoint",
        _ => "Blocking API",
    };
    let _ = writeln!(out, "- **{label}**: {}", apis.join(", "));
    let _ = writeln!(
        out,
        "- **Rule**: {} ({}), `loopguard rule {}`",
        item.code(),
        item.rule.map(|r| r.name).unwrap_or("unknown"),
        item.code()
    );
    let likely = likely_count(item);
    let confidence = if likely == 0 {
        "certain".to_string()
    } else if likely == item.findings.len() {
        "likely (a hop was resolved by name only)".to_string()
    } else {
        format!(
            "{} certain, {likely} likely (a hop was resolved by name only)",
            item.findings.len() - likely
        )
    };
    let _ = writeln!(out, "- **Confidence**: {confidence}");
    out
}

fn likely_count(item: &Item<'_>) -> usize {
    item.findings
        .iter()
        .filter(|d| d.confidence == Confidence::Likely)
        .count()
}

fn acceptance(item: &Item<'_>) -> String {
    let mut out = String::new();
    match &item.cause {
        RootCause::Helper { function, .. } => {
            let _ = writeln!(
                out,
                "- [ ] {} no longer blocks the event loop when called from async code",
                code(&short_name(function))
            );
        }
        RootCause::Api { api, .. } => {
            let _ = writeln!(
                out,
                "- [ ] No call site runs {} on the event loop",
                code(api)
            );
        }
        RootCause::Guard { call, function, .. } => {
            let _ = writeln!(
                out,
                "- [ ] {} is released before every await in {}",
                code(call),
                code(&short_name(function))
            );
        }
        RootCause::Endpoint { function, .. } => {
            let _ = writeln!(
                out,
                "- [ ] {} is declared `def`, or its blocking work is offloaded",
                code(&short_name(function))
            );
        }
    }
    let scope = match &item.cause {
        RootCause::Helper { .. } | RootCause::Api { .. } => "for these call sites".to_string(),
        RootCause::Guard { function, .. } => format!("in {}", code(&short_name(function))),
        RootCause::Endpoint { function, .. } => format!("for {}", code(&short_name(function))),
    };
    let _ = writeln!(
        out,
        "- [ ] `loopguard check` reports no {} {scope}",
        item.code()
    );
    out.push_str("- [ ] Tests pass\n");
    out
}

pub fn priority_reason(reason: &PriorityReason) -> String {
    let base = match reason.context.as_str() {
        "middleware" => "reached from middleware, which runs on every request",
        "dependency" => "reached from a dependency, which runs on every request to its routes",
        "route" => "reached from a route handler",
        "callback" => "reached from an event-loop callback",
        _ => "reached from async code",
    };
    let mut text = format!("{}: {base}", reason.priority);
    if reason.overridden {
        let _ = write!(text, " (set by `triage-priority.{}`)", reason.context);
    }
    if let Some(why) = reason.lowered {
        let _ = write!(text, ", lowered one level for {why}");
    }
    text
}

fn notes(item: &Item<'_>) -> String {
    let mut out = format!("- Priority {}.\n", priority_reason(&item.priority));
    let likely = likely_count(item);
    if likely > 0 {
        let _ = writeln!(
            out,
            "- {} of {} confidence `likely`: a hop was resolved by name only; check the call path before changing code.",
            likely,
            count(item.findings.len(), "finding has", "findings have")
        );
    }
    out.push_str(
        "- loopguard rewrites the text between `loopguard:begin` and `loopguard:end` markers on every run; write your notes outside them.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::{PriorityRule, items};
    use crate::test_support::*;

    #[test]
    fn titles_name_the_root_cause() {
        let diags = vec![
            chained(
                "LG201",
                "app/mw.py",
                10,
                "app.mw.Limit.dispatch",
                "middleware",
            ),
            direct_finding("LG301", "app/a.py", 3, "app.a.f", "requests.get", "route"),
            direct_finding(
                "LG501",
                "app/r.py",
                3,
                "app.r.items",
                "app.r.items",
                "route",
            ),
        ];
        let items = items(&diags, &PriorityRule::default());
        let titles: Vec<String> = items.iter().map(title).collect();
        assert_eq!(
            titles,
            vec![
                "Blocking lock acquisition (`threading.Lock.__enter__`) reached from async middleware via `_check_in_memory_rate_limit`",
                "Blocking HTTP call (`requests.get`) in an async route",
                "Async route `items` never awaits but does blocking work",
            ]
        );
    }

    #[test]
    fn option_three_only_for_python_routes_and_dependencies() {
        let option3 = |path: &str, context: &str| {
            let diags = vec![direct_finding(
                "LG301",
                path,
                3,
                "app.a.f",
                "requests.get",
                context,
            )];
            let items = items(&diags, &PriorityRule::default());
            solutions(&items[0]).contains("### Option 3: Declare `f` with `def`")
        };
        assert!(option3("app/a.py", "route"));
        assert!(option3("app/a.py", "dependency"));
        assert!(!option3("app/a.py", "middleware"));
        assert!(!option3("src/a.rs", "route"));
    }

    #[test]
    fn offload_matches_the_language() {
        let diags = vec![
            direct_finding("LG303", "src/a.rs", 3, "c::a::f", "std::fs::read", "async"),
            direct_finding("LG303", "a.py", 3, "a.f", "builtins.open", "async"),
            direct_finding("LG305", "a.py", 3, "a.f", "time.sleep", "async"),
        ];
        let items = items(&diags, &PriorityRule::default());
        let solutions_of =
            |needle: &str| solutions(items.iter().find(|i| i.id.contains(needle)).unwrap());
        let rust = solutions_of("std-fs-read");
        let py = solutions_of("builtins-open");
        assert!(rust.contains("tokio::task::spawn_blocking(move || std::fs::read(...)).await"));
        assert!(
            py.contains("`await asyncio.to_thread(builtins.open, ...)`"),
            "{py}"
        );
        assert!(!py.contains("```rust"));
        // A sleep on a worker thread is still a sleep.
        assert!(!solutions_of("time-sleep").contains("### Option 2"));
    }

    #[test]
    fn nested_loops_and_guards_get_no_offload_option() {
        let mut guard = direct_finding("LG202", "a.py", 3, "a.C.f", "self._lock", "route");
        guard.call = "self._lock".into();
        let diags = vec![
            direct_finding("LG101", "a.py", 3, "a.f", "asyncio.run", "route"),
            guard,
        ];
        for item in items(&diags, &PriorityRule::default()) {
            let text = solutions(&item);
            assert!(text.contains("### Option 1"), "{text}");
            assert!(!text.contains("### Option 2"), "{}: {text}", item.id);
        }
    }
}
