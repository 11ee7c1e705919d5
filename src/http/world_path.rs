//! The path prefix that puts a request in a world (docs/worlds.md).

/// The prefix that puts a request in a world.
pub(crate) const WORLDS_PATH: &str = "/worlds/";

/// True for a world id: 1 to 40 of `a-z`, `0-9` and `-`.
pub(crate) fn is_world_id(id: &str) -> bool {
    (1..=40).contains(&id.len()) && id.bytes().all(id_byte)
}

/// A byte a world id may hold.
fn id_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
}

/// `/worlds/{id}/rest` as (`id`, `/rest`); `/worlds/{id}` as (`id`, ``). `None` for any other
/// path (the default world's). One pass over at most the id's bytes: it runs on every request.
pub(crate) fn world_prefix(path: &str) -> Option<(&str, &str)> {
    let after = path.strip_prefix(WORLDS_PATH)?;
    let mut end = after.len();
    for (at, b) in after.bytes().enumerate().take(41) {
        if b == b'/' {
            end = at;
            break;
        }
        if !id_byte(b) {
            return None;
        }
    }
    let (id, rest) = after.split_at_checked(end)?;
    (1..=40).contains(&id.len()).then_some((id, rest))
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
        assert_eq!(world_prefix("/worlds/a-1/"), Some(("a-1", "/")));
        assert_eq!(world_prefix("/worlds/"), None);
        assert_eq!(
            world_prefix(&format!("/worlds/{}/x", "a".repeat(40))).map(|p| p.1),
            Some("/x")
        );
        assert_eq!(world_prefix(&format!("/worlds/{}/x", "a".repeat(41))), None);
        assert_eq!(world_prefix(&format!("/worlds/{}", "a".repeat(41))), None);
        assert_eq!(world_prefix("/worlds/é/x"), None);
        assert!(is_world_id(&"a".repeat(40)));
        assert!(!is_world_id(&"a".repeat(41)));
    }
}
