//! The terminology table (`terminology.csv`, built into the binary): for a SNOMED CT concept,
//! the description id and the Read v2 or CTV3 coding real GP system exports send beside it. The
//! file says where every value comes from.

use std::collections::HashMap;
use std::sync::LazyLock;

/// One concept's row. Empty columns are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Term {
    pub snomed: &'static str,
    /// The display real exports send with the concept.
    pub term: &'static str,
    pub description_id: Option<&'static str>,
    /// The term of that description (`descriptionDisplay`), where the exports give it.
    pub description_term: Option<&'static str>,
    pub read_v2: Option<(&'static str, &'static str)>,
    pub ctv3: Option<(&'static str, &'static str)>,
}

const TABLE: &str = include_str!("terminology.csv");

static TERMS: LazyLock<HashMap<&'static str, Term>> = LazyLock::new(|| {
    rows(TABLE)
        .filter_map(Result::ok)
        .map(|t| (t.snomed, t))
        .collect()
});

/// The row of a concept, if the table has one.
pub(crate) fn lookup(snomed: &str) -> Option<&'static Term> {
    TERMS.get(snomed)
}

/// Every row of a table in the `terminology.csv` format: a row, or the line number and what is
/// wrong with it. Comment (`#`) and blank lines are skipped.
pub(crate) fn rows(table: &'static str) -> impl Iterator<Item = Result<Term, (usize, String)>> {
    table.lines().enumerate().filter_map(|(n, line)| {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        Some(row(line).map_err(|e| (n + 1, e)))
    })
}

fn row(line: &'static str) -> Result<Term, String> {
    let f: Vec<&'static str> = line.split(',').collect();
    let [snomed, term, did, dterm, rv, rv_term, ct, ct_term, seen] = f[..] else {
        return Err(format!("{} columns, expected 9", f.len()));
    };
    let opt = |s: &'static str| (!s.is_empty()).then_some(s);
    let pair = |code: &'static str, term: &'static str, what: &str| match (opt(code), opt(term)) {
        (Some(c), Some(t)) => Ok(Some((c, t))),
        (None, None) => Ok(None),
        _ => Err(format!("{what} code and term must be given together")),
    };
    if snomed.is_empty() || !snomed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{snomed}' is not a SNOMED CT concept id"));
    }
    if let Some(id) = opt(did) {
        crate::scenario::validate::supplier::description_id(id)?;
    }
    if !dterm.is_empty() && did.is_empty() {
        return Err("description_term without description_id".to_owned());
    }
    seen.parse::<u32>()
        .map_err(|_| format!("seen '{seen}' is not a count"))?;
    let read_v2 = pair(rv, rv_term, "read_v2")?;
    let ctv3 = pair(ct, ct_term, "ctv3")?;
    if let Some((c, _)) = read_v2 {
        crate::scenario::validate::supplier::read_code_for(c, crate::scenario::Supplier::Emis)?;
    }
    if let Some((c, _)) = ctv3 {
        crate::scenario::validate::supplier::read_code_for(c, crate::scenario::Supplier::Tpp)?;
    }
    Ok(Term {
        snomed,
        term,
        description_id: opt(did),
        description_term: opt(dterm),
        read_v2,
        ctv3,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_of_the_shipped_table_is_well_formed() {
        let bad: Vec<_> = rows(TABLE).filter_map(Result::err).collect();
        assert!(bad.is_empty(), "{bad:?}");
        assert!(TERMS.len() >= 25);
        let weight = lookup("27113001").unwrap();
        assert_eq!(weight.description_id, Some("45352010"));
        assert_eq!(weight.read_v2, Some(("22A..00", "O/E - weight")));
    }

    #[test]
    fn malformed_rows_are_named() {
        let bad: Vec<_> = rows("# c\n123,x\n27113001,W,294881007,,,,,,1\n")
            .filter_map(Result::err)
            .collect();
        assert_eq!(bad.len(), 2);
        assert_eq!(bad[0].0, 2);
        assert!(bad[1].1.contains("description id"), "{bad:?}");
    }
}
