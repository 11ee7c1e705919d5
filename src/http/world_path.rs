//! The path prefix that puts a request in a world (docs/worlds.md).

/// The prefix that puts a request in a world.
pub(crate) const WORLDS_PATH: &str = "/worlds/";

/// True for a world id: 1 to 40 of `a-z`, `0-9` and `-`.
pub(crate) fn is_world_id(id: &str) -> bool {
    (1..=40).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `/worlds/{id}/rest` as (`id`, `/rest`); `/worlds/{id}` as (`id`, ``). `None` for any other
/// path (the default world's).
pub(crate) fn world_prefix(path: &str) -> Option<(&str, &str)> {
    let after = path.strip_prefix(WORLDS_PATH)?;
    let (id, rest) = match after.find('/') {
        Some(at) => after.split_at(at),
        None => (after, ""),
    };
    is_world_id(id).then_some((id, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_world_prefix_is_split_off() {
        assert_eq!(
            world_prefix("/worlds/team-a/personal-demographics/FHIR/R4/Patient/1"),
            Some(("team-a", "/personal-demographics/FHIR/R4/Patient/1"))
        );
        assert_eq!(world_prefix("/worlds/team-a"), Some(("team-a", "")));
        assert_eq!(world_prefix("/worlds/Team/x"), None);
        assert_eq!(world_prefix("/worlds//x"), None);
        assert_eq!(world_prefix("/personal-demographics/FHIR/R4"), None);
        assert!(is_world_id(&"a".repeat(40)));
        assert!(!is_world_id(&"a".repeat(41)));
    }
}
