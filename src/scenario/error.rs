//! The one kind of problem a scenario can have, wherever it is found.

/// One problem in the scenarios, at the position the user's editor shows (1-based line and
/// column, counted in characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ScenarioError {
    /// The path as given to the loader (or the folder it was given joined with the file name).
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
}
