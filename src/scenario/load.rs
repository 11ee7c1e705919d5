//! Reading scenario files: paths and folders to files, bytes to [`ScenarioFile`]s, and those
//! merged and checked into one [`World`] (README.md, "Commands and options"; README.md, "Scenarios").
//!
//! One path for every load, a single file or a folder of 100,000 patients ([`check`]): files are
//! parsed on every core and checked in order as they arrive by [`validate::build_world`], in one
//! pass that never gives up. Every problem found is returned, each at `FILE:LINE:COLUMN`, sorted
//! by file then position: every unknown field and wrongly typed value (see [`super::shape`]), and
//! every semantic problem (identifiers, dates, duplicates, cross references) of every file. Only
//! a YAML syntax error stops the reading of its file, and is then that file's one error.
//!
//! A file that is one JSON object is read by the JSON parser first, which is fast but does not
//! know where values were written; when such a file has a problem, the pass is run again with it
//! read by the YAML parser, to say where.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::World;
pub(crate) use super::error::ScenarioError;
use super::file::ScenarioFile;
use super::shape;
use super::validate::{self, Documents};

/// Scenario files larger than this are refused before parsing: a 10,000-patient file is below
/// it, and it bounds the memory a wrong path (a disk image, a log) can make us use.
pub(crate) const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// How much YAML one scenario file may hold. The node budget (every mapping, sequence and scalar
/// counts one) stops an alias bomb or a wrong file early; a generated patient takes about 250
/// nodes, so the default admits a single file of about 20,000 patients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParseLimits {
    /// The `scenario_max_yaml_nodes` setting.
    pub max_yaml_nodes: usize,
}

/// The default of the `scenario_max_yaml_nodes` setting.
pub(crate) const DEFAULT_MAX_YAML_NODES: usize = crate::config::DEFAULT_MAX_YAML_NODES;

impl ParseLimits {
    /// The limits `config` sets.
    pub(crate) fn of(config: &crate::config::Config) -> Self {
        Self {
            max_yaml_nodes: config.scenario_max_yaml_nodes,
        }
    }
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            max_yaml_nodes: DEFAULT_MAX_YAML_NODES,
        }
    }
}

/// Loads and merges scenario files or folders of `*.yaml`/`*.yml`/`*.json` into one world.
///
/// A folder contributes its `*.yaml`, `*.yml` and `*.json` files (not those of sub-folders) in
/// name order;
/// a folder without any is an error. Relative dates are resolved against `start_day`. Practices,
/// practitioners and patients of all files are merged (a duplicate key in any two files is an
/// error); the world's `name` and `description` are the first that any file gives.
pub fn load_paths(paths: &[PathBuf], start_day: NaiveDate) -> Result<World, Vec<ScenarioError>> {
    load_paths_with(paths, start_day, ParseLimits::default())
}

/// As [`load_paths`], with the parser limits of the configuration.
pub(crate) fn load_paths_with(
    paths: &[PathBuf],
    start_day: NaiveDate,
    limits: ParseLimits,
) -> Result<World, Vec<ScenarioError>> {
    let mut problems = Vec::new();
    if paths.is_empty() {
        problems.push(ScenarioError {
            file: "<no scenario>".to_owned(),
            line: 1,
            column: 1,
            message: "no scenario file or folder was given".to_owned(),
        });
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for path in paths {
        expand(path, &mut files, &mut problems);
    }
    // The same file given twice (directly and through its folder) is read once, not reported as
    // duplicating itself.
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));

    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let documents: Vec<Documents> = files
        .iter()
        .map(|f| Documents::Folder(base_dir(f)))
        .collect();
    check(
        &names,
        &documents,
        start_day,
        problems,
        |i, positions| match read_limited(&files[i]) {
            Ok(bytes) => parse_file(&names[i], &bytes, limits, positions),
            Err(message) => Read::failed(&names[i], message),
        },
    )
}

/// Loads one scenario given as text. `name` is used in error messages, and its folder is where
/// documents' `file:` paths are looked up (the current folder when it has none).
pub fn load_str(name: &str, text: &str, start_day: NaiveDate) -> Result<World, Vec<ScenarioError>> {
    load_bytes(name, text.as_bytes(), start_day)
}

/// As [`load_str`], for bytes that may not be UTF-8 (the error then says where it breaks).
pub(crate) fn load_bytes(
    name: &str,
    bytes: &[u8],
    start_day: NaiveDate,
) -> Result<World, Vec<ScenarioError>> {
    let documents = Documents::Folder(base_dir(Path::new(name)));
    load_one(name, bytes, documents, start_day)
}

/// Loads a scenario built into the binary, whose documents' `file:` paths name `documents`.
pub(crate) fn load_embedded(
    name: &str,
    bytes: &[u8],
    documents: &'static [(&'static str, &'static [u8])],
    start_day: NaiveDate,
) -> Result<World, Vec<ScenarioError>> {
    load_one(name, bytes, Documents::Embedded(documents), start_day)
}

fn load_one(
    name: &str,
    bytes: &[u8],
    documents: Documents,
    start_day: NaiveDate,
) -> Result<World, Vec<ScenarioError>> {
    let names = [name.to_owned()];
    check(
        &names,
        &[documents],
        start_day,
        Vec::new(),
        |_, positions| parse_file(name, bytes, ParseLimits::default(), positions),
    )
}

/// One file as the checking pass receives it.
struct Read {
    /// What it holds; `None` when it could not be read or parsed at all.
    file: Option<ScenarioFile>,
    /// Why not, or the problems of its shape (unknown fields, wrongly typed values).
    problems: Vec<ScenarioError>,
    /// Whether its values carry their line and column (false when the JSON parser read it).
    positions: bool,
}

impl Read {
    fn failed(name: &str, message: String) -> Self {
        Self {
            file: None,
            problems: vec![ScenarioError {
                file: name.to_owned(),
                line: 1,
                column: 1,
                message,
            }],
            positions: true,
        }
    }
}

/// One file's bytes parsed: by the JSON parser when it is a JSON object the scenario types
/// accept and `positions` are not asked for (fast, see [`parse_json`]), else by the YAML parser,
/// which knows where every value was written and says where the file is wrong.
fn parse_file(name: &str, bytes: &[u8], limits: ParseLimits, positions: bool) -> Read {
    if !positions && let Some(file) = parse_json(bytes) {
        return Read {
            file: Some(file),
            problems: Vec::new(),
            positions: false,
        };
    }
    match parse(name, bytes, limits) {
        Ok((file, problems)) => Read {
            file: Some(file),
            problems,
            positions: true,
        },
        Err(problem) => Read {
            file: None,
            problems: vec![problem],
            positions: true,
        },
    }
}

/// Checks the files `read` gives (by index, in order) into one world: the one path of every
/// load. `before` holds the problems met before any file was read (a path that does not exist):
/// what it would define is unknown, so references to unknown entries are then not reported.
///
/// The fast parser first, the positional one only to point at problems: files are first read
/// JSON-first, so a generated world loads at the JSON parser's speed. When that pass ends with
/// problems in a file read without positions (or naming a place in one), the same pass runs
/// again with those files read by the YAML parser, and its problems, each at its line and
/// column, are the answer.
fn check(
    names: &[String],
    documents: &[Documents],
    start_day: NaiveDate,
    before: Vec<ScenarioError>,
    read: impl Fn(usize, bool) -> Read + Sync,
) -> Result<World, Vec<ScenarioError>> {
    let mut positional = vec![false; names.len()];
    let blind = match pass(
        names,
        documents,
        start_day,
        before.clone(),
        &positional,
        &read,
    ) {
        Ok(world) => return Ok(world),
        Err((problems, blind)) if blind.is_empty() => return Err(problems),
        Err((_, blind)) => blind,
    };
    for i in blind {
        positional[i] = true;
    }
    pass(names, documents, start_day, before, &positional, &read).map_err(|(problems, _)| problems)
}

/// One checking pass over every file, parsed on every core and checked in order as they arrive
/// ([`super::parallel::in_order`]: memory holds a few parsed files at a time). `positional[i]`
/// asks for file `i` to be read by the YAML parser. The world, or every problem sorted by file
/// and position with the files read without positions that the problems are in or point at.
fn pass(
    names: &[String],
    documents: &[Documents],
    start_day: NaiveDate,
    before: Vec<ScenarioError>,
    positional: &[bool],
    read: &(impl Fn(usize, bool) -> Read + Sync),
) -> Result<World, (Vec<ScenarioError>, Vec<usize>)> {
    let complete = before.is_empty();
    let indices: Vec<usize> = (0..names.len()).collect();
    // As many parsed files may wait to be checked as there are cores parsing them.
    let window = super::parallel::cores();
    super::parallel::in_order(
        &indices,
        window,
        |&i| read(i, positional[i]),
        |parsed| {
            let mut problems = before;
            let mut blind = vec![false; names.len()];
            let mut sources = parsed.enumerate().map(|(i, r)| {
                let r = r.unwrap_or_else(|| Read::failed(&names[i], parser_failed()));
                problems.extend(r.problems);
                blind[i] = !r.positions;
                Some(validate::Source {
                    name: names[i].clone(),
                    documents: documents[i].clone(),
                    file: r.file?,
                })
            });
            let checked = validate::build_world(names.to_vec(), start_day, complete, &mut sources);
            problems.extend(checked.problems);
            if problems.is_empty() {
                return Ok(checked.world);
            }
            let mut cited = checked.cited;
            for p in &problems {
                cited.extend(names.iter().position(|n| *n == p.file));
            }
            let reread = cited.into_iter().filter(|&i| blind[i]).collect();
            problems.sort_by(|a, b| {
                (a.file.as_str(), a.line, a.column).cmp(&(b.file.as_str(), b.line, b.column))
            });
            Err((problems, reread))
        },
    )
}

/// A parser panic is a bug, reported against the file it happened on.
fn parser_failed() -> String {
    "the YAML parser failed on this file; please report it".to_owned()
}

fn base_dir(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Adds the scenario files `path` stands for.
fn expand(path: &Path, files: &mut Vec<PathBuf>, problems: &mut Vec<ScenarioError>) {
    let at = |message: String| ScenarioError {
        file: path.display().to_string(),
        line: 1,
        column: 1,
        message,
    };
    let metadata = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            problems.push(at(format!("cannot open scenario: {e}")));
            return;
        }
    };
    if metadata.is_file() {
        files.push(path.to_path_buf());
        return;
    }
    if !metadata.is_dir() {
        // A FIFO or a device would block the read or never end.
        problems.push(at("not a regular file or a folder".to_owned()));
        return;
    }
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(at(format!("cannot list scenario folder: {e}")));
            return;
        }
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
        })
        .collect();
    if found.is_empty() {
        problems.push(at(
            "scenario folder contains no *.yaml, *.yml or *.json file".to_owned(),
        ));
        return;
    }
    found.sort();
    files.extend(found);
}

fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read scenario: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read scenario: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "scenario file is larger than {} MiB",
            MAX_FILE_BYTES / 1024 / 1024
        ));
    }
    Ok(bytes)
}

/// A file that is one JSON object (JSON is YAML too), read by the JSON parser: several times
/// faster than the YAML parser, which matters for generated worlds of 100,000 patients. `None`
/// for anything else, or for JSON the scenario types refuse: the YAML parser then reads it and
/// says where it is wrong. The JSON parser's own limits (nesting depth 128, no aliases) and
/// [`MAX_FILE_BYTES`] bound it as the node budget bounds YAML.
pub(crate) fn parse_json(bytes: &[u8]) -> Option<ScenarioFile> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    serde_json::from_slice(bytes).ok()
}

/// Parser limits: generous for any hand-written or generated scenario, small enough that an
/// alias bomb or a pathological nesting fails fast instead of eating memory or stack. Every
/// limit on aliases scales with `scenario_max_yaml_nodes`, so that one setting governs them and
/// a refusal can name it ([`budget_message`]).
fn parser_options(limits: ParseLimits) -> serde_saphyr::Options {
    let aliases = alias_limit(limits);
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_YAML_DEPTH,
            max_documents: 2,
            max_nodes: limits.max_yaml_nodes,
            // Every node is one event, plus one end event per mapping and sequence.
            max_events: limits.max_yaml_nodes.saturating_mul(2),
            max_aliases: aliases,
            max_anchors: aliases,
            max_total_scalar_bytes: MAX_FILE_BYTES as usize,
            max_merge_keys: aliases,
            max_recorded_anchor_events: replay_limit(limits),
            // Many aliases of one anchor (shared defaults merged into every patient) are
            // normal in a scenario; the replay limits below stop a bomb.
            enforce_alias_anchor_ratio: false,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: replay_limit(limits),
            max_replay_stack_depth: MAX_ALIAS_NESTING,
            max_alias_expansions_per_anchor: aliases,
        },
    }
}

/// Nesting no scenario comes near (a patient's record is about 8 deep).
const MAX_YAML_DEPTH: usize = 32;
/// Aliases whose anchored part holds aliases, nested this deep at most.
const MAX_ALIAS_NESTING: usize = 16;

/// Aliases, anchors and merge keys a file may use: one per 500 nodes (10,000 by default).
fn alias_limit(limits: ParseLimits) -> usize {
    (limits.max_yaml_nodes / 500).max(100)
}

/// Nodes aliases may bring back in all: a fifth of the node budget (1,000,000 by default).
fn replay_limit(limits: ParseLimits) -> usize {
    (limits.max_yaml_nodes / 5).max(1_000)
}

/// Parses one file's bytes. When serde-saphyr refuses it, the file is read again to find every
/// unknown field and wrongly typed value: those problems come with what is left of the file once
/// the entries holding them are removed, so its other problems can be checked too. A syntax error
/// or a file over the node budget is the one error returned.
fn parse(
    name: &str,
    bytes: &[u8],
    limits: ParseLimits,
) -> Result<(ScenarioFile, Vec<ScenarioError>), ScenarioError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_column(bytes, e.valid_up_to());
        ScenarioError {
            file: name.to_owned(),
            line,
            column,
            message: "scenario file is not valid UTF-8".to_owned(),
        }
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first =
        match serde_saphyr::from_str_with_options::<ScenarioFile>(text, parser_options(limits)) {
            Ok(file) => return Ok((file, Vec::new())),
            Err(e) => {
                let (line, column) = match e.location() {
                    Some(l) if l.line() > 0 => (l.line(), l.column().max(1)),
                    _ => (1, 1),
                };
                let budget = budget_message(&e, limits);
                let error = ScenarioError {
                    file: name.to_owned(),
                    line,
                    column,
                    message: budget.clone().unwrap_or_else(|| yaml_message(&e)),
                };
                if budget.is_some() {
                    // Too big to read again: the budget's message says what to do.
                    return Err(error);
                }
                error
            }
        };
    let Some((file, found)) = shape::every_problem(text) else {
        return Err(first);
    };
    if found.is_empty() {
        // The second reading accepts what the parser refused (a limit, a YAML subtlety): the
        // parser's error stands alone.
        return Err(first);
    }
    // The parser's words for the problem it stopped at; the second reading's for the others.
    let mut problems = vec![first];
    for p in found {
        if !problems
            .iter()
            .any(|e| (e.line, e.column) == (p.line, p.column))
        {
            problems.push(ScenarioError {
                file: name.to_owned(),
                line: p.line,
                column: p.column,
                message: p.message,
            });
        }
    }
    Ok((file, problems))
}

/// A YAML limit reached, in the sandbox's words, naming the setting that governs it (the
/// parser's own words name only its internal fields).
fn budget_message(error: &serde_saphyr::Error, limits: ParseLimits) -> Option<String> {
    use serde_saphyr::budget::BudgetBreach;
    let mut inner = error;
    while let serde_saphyr::Error::AliasError { error, .. }
    | serde_saphyr::Error::WithSnippet { error, .. } = inner
    {
        inner = error;
    }
    let raise = "or raise scenario_max_yaml_nodes (SANDBOX_SCENARIO_MAX_YAML_NODES)";
    let aliases = || {
        format!(
            "this file uses aliases (*name) or merge keys (<<) more than {} times, the limit that \
             scenario_max_yaml_nodes ({}) sets at one per 500 nodes; write the repeated parts out \
             or split the file, {raise}",
            alias_limit(limits),
            limits.max_yaml_nodes
        )
    };
    let replayed = || {
        format!(
            "the aliases in this file stand for more than {} YAML nodes in all, the limit that \
             scenario_max_yaml_nodes ({}) sets at a fifth of it; write the repeated parts out \
             or split the file, {raise}",
            replay_limit(limits),
            limits.max_yaml_nodes
        )
    };
    match inner {
        serde_saphyr::Error::Budget { breach, .. } => match breach {
            BudgetBreach::Nodes { .. } | BudgetBreach::Events { .. } => Some(format!(
                "this file holds more than {} YAML nodes (mappings, lists and values), the \
                 scenario_max_yaml_nodes setting; split its patients over several files in one \
                 folder (give the folder as the scenario; `spine-sandbox generate` writes 2,000 \
                 patients a file) {raise}",
                limits.max_yaml_nodes
            )),
            BudgetBreach::Aliases { .. }
            | BudgetBreach::Anchors { .. }
            | BudgetBreach::MergeKeys { .. }
            | BudgetBreach::AliasAnchorRatio { .. } => Some(aliases()),
            BudgetBreach::RecordedAnchorEvents { .. }
            | BudgetBreach::RecordedAnchorBytes { .. } => Some(replayed()),
            BudgetBreach::Depth { .. } => Some(format!(
                "this file nests mappings and lists more than {MAX_YAML_DEPTH} deep, far more than \
                 a scenario needs (a patient's record is about 8): check the indentation here"
            )),
            _ => None,
        },
        serde_saphyr::Error::AliasExpansionLimitExceeded { .. } => Some(aliases()),
        serde_saphyr::Error::AliasReplayLimitExceeded { .. }
        | serde_saphyr::Error::AliasReplayCounterOverflow { .. } => Some(replayed()),
        serde_saphyr::Error::AliasReplayStackDepthExceeded { .. } => Some(format!(
            "aliases here stand for parts that hold aliases, nested more than {MAX_ALIAS_NESTING} \
             deep (a fixed limit against alias bombs); write some of the parts out"
        )),
        _ => None,
    }
}

/// The parser's own words for a problem, without its location (we print ours) or snippet.
fn yaml_message(error: &serde_saphyr::Error) -> String {
    use serde_saphyr::MessageFormatter as _;
    let mut inner = error;
    while let serde_saphyr::Error::AliasError { error, .. }
    | serde_saphyr::Error::WithSnippet { error, .. } = inner
    {
        inner = error;
    }
    let raw = serde_saphyr::UserMessageFormatter.format_message(inner);
    // One problem per line: control characters in a quoted key or value must not break that.
    let mut message = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_control() {
            let _ = write!(message, "{}", c.escape_debug());
        } else {
            message.push(c);
        }
    }
    message
}

/// 1-based line and character column of byte `offset`.
fn line_column(bytes: &[u8], offset: usize) -> (u64, u64) {
    let before = &bytes[..offset.min(bytes.len())];
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|b| **b == b'\n').count() as u64 + 1;
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count() as u64
        + 1;
    (line, column)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn start() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 15).unwrap()
    }

    fn errors(text: &str) -> Vec<String> {
        load_str("t.yaml", text, start())
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("load-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn every_shipped_scenario_loads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut checked = 0;
        for entry in std::fs::read_dir(&root).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let world = load_paths(std::slice::from_ref(&path), start())
                .unwrap_or_else(|e| panic!("{}: {}", path.display(), e[0]));
            assert!(!world.patients.is_empty(), "{}", path.display());
            checked += 1;
        }
        assert!(checked >= 2);
    }

    #[test]
    fn a_reference_to_a_later_file_is_found() {
        let dir = temp_dir("forward");
        std::fs::write(
            dir.join("a.yaml"),
            "patients:\n  - nhs_number: \"9434765919\"\n    name: { given: [Ann], family: Lee }\n    gender: female\n    birth_date: 1980-01-01\n    registered_with: B82617\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("b.yaml"),
            "practices:\n  - ods: B82617\n    name: The Practice\n    asid: \"918999198738\"\n",
        )
        .unwrap();
        // Files between them, more than the parsers' window.
        for n in 0..12 {
            std::fs::write(dir.join(format!("a{n:02}.yaml")), "description: filler\n").unwrap();
        }
        let world = load_paths(std::slice::from_ref(&dir), start()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(world.patients.len(), 1);
        assert_eq!(world.practices.len(), 1);
    }

    #[test]
    fn a_json_file_with_a_problem_is_reported_at_its_line_and_column() {
        let dir = temp_dir("json-problem");
        std::fs::write(
            dir.join("world.json"),
            "{\n\"practices\": [\n  {\"ods\": \"B82617\", \"name\": \"P\", \"asid\": \"12\"}\n]\n}\n",
        )
        .unwrap();
        let errors = load_paths(std::slice::from_ref(&dir), start()).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert!(shown[0].contains("world.json:3:42:"), "{shown:?}");
        assert!(shown[0].contains("ASID '12'"), "{shown:?}");
    }

    #[test]
    fn only_a_json_object_takes_the_json_parser() {
        assert!(parse_json(b"  {\"name\": \"x\"}").is_some());
        assert!(parse_json(b"name: x\n").is_none());
        // JSON the scenario types refuse is left to the YAML parser, which says where.
        assert!(parse_json(b"{\"nmae\": \"x\"}").is_none());
        assert!(parse_json(b"[1]").is_none());
    }

    #[test]
    fn syntax_errors_carry_their_position() {
        let errs = errors("practices:\n  - ods: B82617\n    name: x\n   bad: [\n");
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("t.yaml:4:4: "), "{errs:?}");
    }

    #[test]
    fn unknown_fields_are_errors_at_the_key() {
        let errs = errors(
            "practices:\n  - ods: B82617\n    nmae: x\n    name: y\n    asid: \"918999198738\"\n",
        );
        assert_eq!(
            errs,
            [
                "t.yaml:3:5: unknown field `nmae`, expected one of ods, name, asid, party_key, \
              provider, interactions, address, telecom, supplier, branches, external_provider, quirks, \
              structured_enabled, disabled_areas"
            ]
        );
    }

    #[test]
    fn invalid_utf8_is_located() {
        let errs = load_bytes("t.yaml", b"name: ok\nde: \xff\n", start()).unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            "t.yaml:2:5: scenario file is not valid UTF-8"
        );
    }

    #[test]
    fn an_empty_file_is_an_empty_world() {
        let world = load_str("t.yaml", "# nothing yet\n", start()).unwrap();
        assert!(world.practices.is_empty() && world.patients.is_empty());
    }

    #[test]
    fn two_documents_in_one_file_are_refused() {
        let errs = errors("name: a\n---\nname: b\n");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with("t.yaml:3:1: "), "{errs:?}");
    }

    #[test]
    fn alias_bombs_fail_fast() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            let _ = writeln!(
                text,
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]"
            );
        }
        assert!(load_str("t.yaml", &text, start()).is_err());
        // In the sandbox's words, naming the setting.
        let limits = ParseLimits::default();
        let e =
            serde_saphyr::from_str_with_options::<serde_json::Value>(&text, parser_options(limits))
                .unwrap_err();
        let message = budget_message(&e, limits).unwrap_or_else(|| panic!("{e:?}"));
        assert!(message.contains("scenario_max_yaml_nodes"), "{message}");
        assert!(message.contains("aliases"), "{message}");
    }

    #[test]
    fn one_anchor_merged_into_many_entries_is_read() {
        // Shared defaults merged into every entry: many aliases of one anchor, no bomb.
        let mut text = String::from("defaults: &d {a: 1, b: 2}\nitems:\n");
        for i in 0..2_000 {
            let _ = writeln!(text, "  - {{<<: *d, c: {i}}}");
        }
        type Doc = std::collections::BTreeMap<String, serde_json::Value>;
        let doc: Doc =
            serde_saphyr::from_str_with_options(&text, parser_options(ParseLimits::default()))
                .unwrap();
        assert_eq!(doc["items"].as_array().map(Vec::len), Some(2_000));
        // Past the limit the setting that governs it is named.
        let small = ParseLimits {
            max_yaml_nodes: 100_000,
        };
        let e =
            serde_saphyr::from_str_with_options::<Doc>(&text, parser_options(small)).unwrap_err();
        let message = budget_message(&e, small).unwrap();
        assert!(message.contains("more than 200 times"), "{message}");
        assert!(
            message.contains("SANDBOX_SCENARIO_MAX_YAML_NODES"),
            "{message}"
        );
    }

    #[test]
    fn deep_nesting_fails_without_overflowing_the_stack() {
        let text = format!("name: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
        assert!(load_str("t.yaml", &text, start()).is_err());
    }

    #[test]
    fn missing_paths_and_empty_folders_are_errors() {
        let dir = std::env::temp_dir().join(format!("scenario-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.yaml");
        let errs = load_paths(&[dir.clone(), missing.clone()], start()).unwrap_err();
        let _ = std::fs::remove_dir(&dir);
        assert_eq!(errs.len(), 2);
        assert!(
            errs.iter()
                .any(|e| e.file == dir.display().to_string() && e.message.contains("no *.yaml"))
        );
        assert!(errs.iter().any(|e| e.file == missing.display().to_string()
            && e.message.starts_with("cannot open scenario")));
    }

    #[test]
    fn devices_are_not_read() {
        let errs = load_paths(&[PathBuf::from("/dev/null")], start()).unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            "/dev/null:1:1: not a regular file or a folder"
        );
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column(b"ab\nc\xc3\xa9d", 6), (2, 3));
        assert_eq!(line_column(b"abc", 0), (1, 1));
    }

    proptest! {
        #[test]
        fn loading_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = load_bytes("t.yaml", &bytes, start());
        }

        #[test]
        fn loading_arbitrary_text_never_panics(text in "\\PC{0,300}") {
            let _ = load_str("t.yaml", &text, start());
        }

        #[test]
        fn loading_yaml_shaped_text_never_panics(
            text in "(practices|patients|record|ods|asid|nhs_number|problems|id|related|date|[a-z]{1,4}|-|:| |\n|\\[|\\]|\\{|\\}|,|&a|\\*a|\"|[0-9]{1,12}|[+-][0-9]{1,3}[ymwd]){0,80}"
        ) {
            let _ = load_str("t.yaml", &text, start());
        }
    }
}
