//! How an apply shows its progress: a bar per step with the plugin call in
//! flight on a terminal, plain lines otherwise (both on stderr), or JSON event
//! lines on stdout for machines (`--format json`).

use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use failback_runtime::StepEnd;
use failback_runtime::{Event, Progress};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::Format;

/// The progress renderer for `format` and the current stderr.
pub fn for_format(format: Format) -> Box<dyn Progress> {
    match format {
        Format::Json => Box::new(JsonLines),
        Format::Text if std::io::stderr().is_terminal() => Box::new(Bars { bar: None }),
        Format::Text => Box::new(Lines::default()),
    }
}

/// One JSON object per event on stdout.
struct JsonLines;

impl Progress for JsonLines {
    fn event(&mut self, event: &Event) {
        if let Ok(line) = serde_json::to_string(event) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
    }
}

fn end_word(end: StepEnd) -> &'static str {
    match end {
        StepEnd::Done => "done",
        StepEnd::Journaled => "done earlier (journal)",
        StepEnd::AlreadyHeld => "already held (verified on resume)",
    }
}

/// Plain lines on stderr: one per step as it ends.
#[derive(Default)]
struct Lines {
    current: Option<String>,
}

impl Progress for Lines {
    fn event(&mut self, event: &Event) {
        match event {
            Event::Run { run, planned } => {
                eprintln!("run {run}: {planned} planned steps");
            }
            Event::Step {
                index,
                id,
                action,
                target,
                position,
                planned,
            } => {
                self.current = Some(format!(
                    "[{position}/{planned}] step {index} {id} {action} {}",
                    target.as_deref().unwrap_or("-")
                ));
            }
            Event::StepEnd { end, .. } => {
                if let Some(line) = self.current.take() {
                    eprintln!("{line}: {}", end_word(*end));
                }
            }
            Event::Observe { .. } | Event::Call { .. } => {}
        }
    }
}

/// A spinner per step on a terminal, showing the call in flight; each is left
/// as a finished line.
struct Bars {
    bar: Option<(ProgressBar, String)>,
}

impl Progress for Bars {
    fn event(&mut self, event: &Event) {
        match event {
            Event::Run { run, planned } => {
                eprintln!("run {run}: {planned} planned steps");
            }
            Event::Step {
                index,
                id,
                action,
                target,
                position,
                planned,
            } => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                let prefix = format!(
                    "[{position}/{planned}] step {index} {id} {action} {}",
                    target.as_deref().unwrap_or("-")
                );
                bar.set_prefix(prefix.clone());
                bar.enable_steady_tick(Duration::from_millis(80));
                self.bar = Some((bar, prefix));
            }
            Event::Observe { when, .. } => {
                if let Some((bar, _)) = &self.bar {
                    bar.set_message(format!("observing ({when})"));
                }
            }
            Event::Call {
                plugin,
                function,
                argument,
                ..
            } => {
                if let Some((bar, _)) = &self.bar {
                    bar.set_message(format!("{plugin}: {function} {argument}"));
                }
            }
            Event::StepEnd { end, .. } => {
                if let Some((bar, prefix)) = self.bar.take() {
                    bar.finish_and_clear();
                    eprintln!("  {prefix}: {}", end_word(*end));
                }
            }
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        if let Some((bar, prefix)) = self.bar.take() {
            bar.finish_and_clear();
            eprintln!("  {prefix}: stopped");
        }
    }
}
