//! Compiling a program, once per chain: VRL's standard library (built without the functions
//! that reach outside the process) and the step's own functions, with compile errors
//! located in the program.

use ::vrl::compiler::state::ExternalEnv;
use ::vrl::compiler::{CompileConfig, Function, Program};
use ::vrl::diagnostic::{Diagnostic, DiagnosticList, Formatter, Label, Note};
use ::vrl::value::kind::Collection;
use ::vrl::value::Kind;

use super::Origin;

/// A program that does not compile.
#[derive(Debug, Clone)]
pub struct CompileError {
    /// One line: where (file:line:column, or the line and column of `source`) and what.
    pub message: String,
    /// What to do about it.
    pub hint: String,
    /// VRL's full diagnostic, with the program's lines under the error.
    pub diagnostic: String,
}

/// Compiles `text` with VRL's standard library and `own` functions. The event (`.`) and
/// the metadata (`%`) are typed as objects, as they are. Warnings are logged, with their
/// place.
pub fn compile(
    text: &str,
    origin: &Origin,
    own: Vec<Box<dyn Function>>,
) -> Result<Program, CompileError> {
    let mut functions = ::vrl::stdlib::all();
    functions.extend(own);
    let object = Kind::object(Collection::any());
    let external = ExternalEnv::new_with_kind(object.clone(), object);
    match ::vrl::compiler::compile_with_external(
        text,
        &functions,
        &external,
        CompileConfig::default(),
    ) {
        Ok(compiled) => {
            for warning in compiled.warnings.iter() {
                let (line, column) = place(text, warning);
                tracing::warn!(
                    at = %origin.at(line, column),
                    "VRL program: {}",
                    summary(warning)
                );
            }
            Ok(compiled.program)
        }
        Err(diagnostics) => Err(error(text, origin, diagnostics)),
    }
}

/// The first error of `diagnostics`, located, with VRL's whole report beside it.
fn error(text: &str, origin: &Origin, diagnostics: DiagnosticList) -> CompileError {
    let errors: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.is_error() || d.is_bug())
        .collect();
    let mut message = match errors.first() {
        Some(first) => {
            let (line, column) = place(text, first);
            format!(
                "the program does not compile at {}: {}",
                origin.at(line, column),
                summary(first)
            )
        }
        // A list without errors is not returned as a failure; say so if it ever is.
        None => "the program does not compile".to_string(),
    };
    if errors.len() > 1 {
        message.push_str(&format!(" (and {} more errors)", errors.len() - 1));
    }
    let hints: Vec<String> = errors
        .first()
        .map(|first| {
            first
                .notes
                .iter()
                .filter_map(|note| match note {
                    Note::Hint(hint) => Some(hint.clone()),
                    Note::SeeCodeDocs(_) => Some(note.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let mut hint = if hints.is_empty() {
        "fix the program there".to_string()
    } else {
        hints.join("; ")
    };
    hint.push_str(
        "; `sluice vrl test --program FILE --event EVENT.json` shows VRL's full diagnostic",
    );
    CompileError {
        message,
        hint,
        diagnostic: Formatter::new(text, diagnostics).to_string(),
    }
}

/// `message (what the primary label says) [E103]`: the diagnostic in one line.
fn summary(diagnostic: &Diagnostic) -> String {
    let mut text = diagnostic.message.clone();
    if let Some(label) = primary(diagnostic)
        .filter(|label| !label.message.is_empty() && label.message != diagnostic.message)
    {
        text.push_str(&format!(" ({})", label.message));
    }
    if diagnostic.code != 0 {
        text.push_str(&format!(" [E{:03}]", diagnostic.code));
    }
    text
}

fn primary(diagnostic: &Diagnostic) -> Option<&Label> {
    diagnostic
        .labels
        .iter()
        .find(|label| label.primary)
        .or_else(|| diagnostic.labels.first())
}

/// The 1-based line and column (in characters) where the diagnostic's primary label starts.
fn place(text: &str, diagnostic: &Diagnostic) -> (usize, usize) {
    let offset = primary(diagnostic).map_or(0, |label| label.span.start());
    line_column(text, offset)
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    // A span never splits a character, but a bad one must not make this panic.
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
