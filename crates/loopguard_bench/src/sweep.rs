//! The no-panic sweep: lower every file of a corpus with loopguard's front end and report
//! each one that panics.
//!
//! A panic inside `lower` is caught (by `catch_unwind` here, or by `loopguard_rust::lower`
//! itself, which turns it into an "internal error" parse error). A crash that cannot be
//! caught (stack overflow, abort) kills the process, so the files are lowered by worker
//! processes ([`run_worker`]) that a supervisor ([`supervise`]) feeds in chunks; a chunk
//! whose worker dies is split until the file that kills it is found.

use std::io::{BufRead, Write};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::Lang;
use crate::corpus::{Input, Skip, read_text};

/// What lowering one file gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Lowered,
    /// The front end panicked; the message if it could be captured.
    Panicked(String),
    Skipped(Skip),
}

/// Marker of a panic that `loopguard_rust::lower` caught itself.
const RUST_INTERNAL_ERROR: &str = "internal error while lowering";

/// Panic messages recorded by the hook [`record_panics`] installs.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Replaces the panic hook with one that records messages instead of printing them (a
/// sweep over thousands of files would otherwise bury its report under backtraces).
pub fn record_panics() {
    std::panic::set_hook(Box::new(|info| {
        let message = if let Some(s) = info.payload().downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "(non-string panic payload)".to_string()
        };
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if let Ok(mut v) = PANICS.lock() {
            v.push(format!("{message} at {at}"));
        }
    }));
}

fn take_panics() -> Vec<String> {
    PANICS
        .lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default()
}

/// Lowers one file; true if the front end panicked.
fn lower_panics(input: &Input, lang: Lang, text: &str) -> bool {
    let lowered = std::panic::catch_unwind(AssertUnwindSafe(|| match lang {
        Lang::Python => loopguard_python::lower(&input.rel, &input.module, input.is_init, text),
        Lang::Rust => loopguard_rust::lower(&input.rel, &input.module, text, input.edition),
    }));
    match lowered {
        Ok(facts) => facts
            .errors
            .iter()
            .any(|e| e.message.contains(RUST_INTERNAL_ERROR)),
        Err(_) => true,
    }
}

/// Lowers `inputs` in parallel (on the current rayon pool); a file that panicked is lowered
/// once more alone so that its panic message can be told apart from the others'.
pub fn lower_all(inputs: &[Input], lang: Lang, max_size: u64) -> Vec<Outcome> {
    let first: Vec<Result<bool, Skip>> = inputs
        .par_iter()
        .map(|input| {
            let text = read_text(&input.abs, max_size)?;
            Ok(lower_panics(input, lang, &text))
        })
        .collect();
    take_panics();
    inputs
        .iter()
        .zip(first)
        .map(|(input, first)| match first {
            Err(skip) => Outcome::Skipped(skip),
            Ok(false) => Outcome::Lowered,
            Ok(true) => {
                let again = read_text(&input.abs, max_size)
                    .map(|text| lower_panics(input, lang, &text))
                    .unwrap_or(true);
                let messages = take_panics();
                let message = if messages.is_empty() {
                    if again {
                        "(no message)".to_string()
                    } else {
                        "(did not panic again when lowered alone)".to_string()
                    }
                } else {
                    messages.join(" | ")
                };
                Outcome::Panicked(message)
            }
        })
        .collect()
}

/// One input as a line of the supervisor-worker protocol (tab-separated; paths with tabs
/// or newlines cannot be sent and are lowered by the supervisor itself).
pub fn encode(input: &Input) -> Option<String> {
    let abs = input.abs.to_str()?;
    let fields = [abs, input.rel.as_str(), input.module.as_str()];
    if fields.iter().any(|f| f.contains(['\t', '\n', '\r'])) {
        return None;
    }
    let edition = input.edition.map(|e| e.to_string()).unwrap_or_default();
    Some(format!(
        "{abs}\t{}\t{}\t{}\t{edition}",
        input.rel,
        input.module,
        u8::from(input.is_init)
    ))
}

pub fn decode(line: &str) -> Option<Input> {
    let mut parts = line.split('\t');
    let abs = PathBuf::from(parts.next()?);
    let rel = parts.next()?.to_string();
    let module = parts.next()?.to_string();
    let is_init = parts.next()? == "1";
    let edition = parts.next()?.parse().ok();
    Some(Input {
        abs,
        rel,
        module,
        is_init,
        edition,
    })
}

fn outcome_line(rel: &str, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Lowered => format!("ok\t{rel}"),
        Outcome::Skipped(skip) => format!("skip\t{rel}\t{skip:?}"),
        Outcome::Panicked(m) => format!("panic\t{rel}\t{}", m.replace(['\t', '\n', '\r'], " ")),
    }
}

/// The worker: reads encoded inputs from `input`, lowers them, writes one outcome line per
/// file to `out`.
pub fn run_worker(
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    lang: Lang,
    max_size: u64,
) -> std::io::Result<()> {
    let mut inputs = Vec::new();
    for line in input.lines() {
        if let Some(i) = decode(&line?) {
            inputs.push(i);
        }
    }
    record_panics();
    let outcomes = lower_all(&inputs, lang, max_size);
    for (i, o) in inputs.iter().zip(&outcomes) {
        writeln!(out, "{}", outcome_line(&i.rel, o))?;
    }
    out.flush()
}

/// The sweep's findings.
#[derive(Debug, Default)]
pub struct Report {
    pub files: usize,
    pub lowered: usize,
    pub skipped: usize,
    /// (file, panic message)
    pub panics: Vec<(String, String)>,
    /// (file, how its worker died)
    pub crashes: Vec<(String, String)>,
}

impl Report {
    pub fn clean(&self) -> bool {
        self.panics.is_empty() && self.crashes.is_empty()
    }
}

/// Runs the sweep over `inputs` with worker processes `worker_cmd` (which must run
/// [`run_worker`]), `chunk` files per worker.
pub fn supervise(
    worker_cmd: &dyn Fn() -> Command,
    inputs: &[Input],
    lang: Lang,
    max_size: u64,
    chunk: usize,
) -> Report {
    let mut report = Report {
        files: inputs.len(),
        ..Report::default()
    };
    let (sendable, local): (Vec<&Input>, Vec<&Input>) =
        inputs.iter().partition(|i| encode(i).is_some());
    if !local.is_empty() {
        record_panics();
        let owned: Vec<Input> = local.into_iter().cloned().collect();
        for (i, o) in owned.iter().zip(lower_all(&owned, lang, max_size)) {
            tally(&mut report, &i.rel, o);
        }
    }
    let mut queue: Vec<Vec<&Input>> = sendable
        .chunks(chunk.max(1))
        .map(<[&Input]>::to_vec)
        .rev()
        .collect();
    while let Some(batch) = queue.pop() {
        let (outcomes, died) = run_batch(worker_cmd, &batch);
        let mut rest = Vec::new();
        for input in batch {
            match outcomes.iter().find(|(rel, _)| *rel == input.rel) {
                Some((_, o)) => tally(&mut report, &input.rel, o.clone()),
                None => rest.push(input),
            }
        }
        if rest.is_empty() {
            continue;
        }
        let how = died.unwrap_or_else(|| "worker gave no answer".to_string());
        if rest.len() == 1 {
            report.crashes.push((rest[0].rel.clone(), how));
        } else {
            // Split the unanswered files and try each half on its own.
            let half = rest.len() / 2;
            let (a, b) = rest.split_at(half);
            queue.push(b.to_vec());
            queue.push(a.to_vec());
        }
    }
    report.panics.sort();
    report.crashes.sort();
    report
}

fn tally(report: &mut Report, rel: &str, outcome: Outcome) {
    match outcome {
        Outcome::Lowered => report.lowered += 1,
        Outcome::Skipped(_) => report.skipped += 1,
        Outcome::Panicked(m) => report.panics.push((rel.to_string(), m)),
    }
}

/// Runs one worker over `batch`: its outcome lines, and how it died if it did.
fn run_batch(
    worker_cmd: &dyn Fn() -> Command,
    batch: &[&Input],
) -> (Vec<(String, Outcome)>, Option<String>) {
    let mut cmd = worker_cmd();
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return (Vec::new(), Some(format!("cannot start a worker: {e}"))),
    };
    let payload: String = batch
        .iter()
        .filter_map(|i| encode(i))
        .map(|l| l + "\n")
        .collect();
    // Written from a thread so that a worker that answers before reading all its input
    // cannot deadlock us.
    let writer = child.stdin.take().map(|mut stdin| {
        std::thread::spawn(move || {
            let _ = stdin.write_all(payload.as_bytes());
        })
    });
    let output = child.wait_with_output();
    if let Some(w) = writer {
        let _ = w.join();
    }
    let output = match output {
        Ok(o) => o,
        Err(e) => return (Vec::new(), Some(format!("worker failed: {e}"))),
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let outcomes = text.lines().filter_map(parse_outcome_line).collect();
    let died = (!output.status.success()).then(|| format!("worker exited with {}", output.status));
    (outcomes, died)
}

fn parse_outcome_line(line: &str) -> Option<(String, Outcome)> {
    let mut parts = line.splitn(3, '\t');
    let kind = parts.next()?;
    let rel = parts.next()?.to_string();
    let outcome = match kind {
        "ok" => Outcome::Lowered,
        "skip" => Outcome::Skipped(match parts.next()? {
            "NotUtf8" => Skip::NotUtf8,
            "TooLarge" => Skip::TooLarge,
            _ => Skip::Unreadable,
        }),
        "panic" => Outcome::Panicked(parts.next().unwrap_or("").to_string()),
        _ => return None,
    };
    Some((rel, outcome))
}

/// The worker command for this executable: the same binary with `args`.
pub fn self_command(args: Vec<String>) -> impl Fn() -> Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| Path::new("loopguard-parse-floor").into());
    move || {
        let mut c = Command::new(&exe);
        c.args(&args);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(dir: &Path, rel: &str, text: &[u8]) -> Input {
        let abs = dir.join(rel);
        std::fs::write(&abs, text).unwrap();
        Input {
            abs,
            rel: rel.to_string(),
            module: rel
                .trim_end_matches(".py")
                .trim_end_matches(".rs")
                .to_string(),
            is_init: false,
            edition: Some(2021),
        }
    }

    #[test]
    fn protocol_round_trips() {
        let i = Input {
            abs: "/x/a b.py".into(),
            rel: "a b.py".into(),
            module: "a b".into(),
            is_init: true,
            edition: None,
        };
        assert_eq!(decode(&encode(&i).unwrap()), Some(i.clone()));
        let tabbed = Input {
            rel: "a\tb.py".into(),
            ..i
        };
        assert_eq!(encode(&tabbed), None);
        let line = outcome_line("x.rs", &Outcome::Panicked("boom\nhere".into()));
        assert_eq!(
            parse_outcome_line(&line),
            Some(("x.rs".into(), Outcome::Panicked("boom here".into())))
        );
    }

    #[test]
    fn worker_lowers_and_skips() {
        let dir = tempfile::tempdir().unwrap();
        let inputs = [
            input(
                dir.path(),
                "a.rs",
                b"async fn f() { std::fs::read(\"x\"); }",
            ),
            input(dir.path(), "b.rs", b"fn broken( {"),
            input(dir.path(), "c.rs", b"\xff\xfe"),
        ];
        let stdin: String = inputs.iter().map(|i| encode(i).unwrap() + "\n").collect();
        let mut out = Vec::new();
        run_worker(&mut stdin.as_bytes(), &mut out, Lang::Rust, 1 << 20).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out, "ok\ta.rs\nok\tb.rs\nskip\tc.rs\tNotUtf8\n");
    }

    #[test]
    fn supervisor_finds_the_file_that_kills_its_worker() {
        let dir = tempfile::tempdir().unwrap();
        let inputs: Vec<Input> = (0..5)
            .map(|n| input(dir.path(), &format!("m{n}.py"), b"x = 1\n"))
            .collect();
        // A fake worker that dies as soon as it is given m3.py, after answering for the
        // files before it.
        let script = "while IFS=$(printf '\\t') read -r abs rel rest; do \
                      [ \"$rel\" = m3.py ] && exit 9; printf 'ok\\t%s\\n' \"$rel\"; done";
        let cmd = || {
            let mut c = Command::new("sh");
            c.args(["-c", script]);
            c
        };
        let report = supervise(&cmd, &inputs, Lang::Python, 1 << 20, 4);
        assert_eq!(report.lowered, 4);
        assert_eq!(report.crashes.len(), 1);
        assert_eq!(report.crashes[0].0, "m3.py");
        assert!(report.crashes[0].1.contains("exit"));
        assert!(!report.clean());
    }
}
