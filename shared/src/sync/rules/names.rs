//! Splitting a Clockify display name into Runn's required first and last names.

/// What stands in for a last name when Clockify has a single word (Runn requires one).
pub const NO_LAST_NAME: &str = "-";

/// First word → first name, the rest → last name ("Anne van der Berg" → "Anne",
/// "van der Berg"). Whitespace of any kind is collapsed; a one-word name gets
/// [`NO_LAST_NAME`]; an empty name falls back to the email's local part.
pub fn split_name(full: &str, email: Option<&str>) -> (String, String) {
    let words: Vec<&str> = full.split_whitespace().collect();
    match words.as_slice() {
        [] => {
            let local = email
                .and_then(|e| e.split('@').next())
                .map(str::trim)
                .filter(|l| !l.is_empty());
            (
                local.unwrap_or("Unnamed").to_owned(),
                NO_LAST_NAME.to_owned(),
            )
        }
        [one] => ((*one).to_owned(), NO_LAST_NAME.to_owned()),
        [first, rest @ ..] => ((*first).to_owned(), rest.join(" ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_as_a_person_would_expect() {
        let s = |n: &str| split_name(n, Some("ana.b@example.com"));
        assert_eq!(s("Ana Brown"), ("Ana".into(), "Brown".into()));
        assert_eq!(
            s("  Émilie \t  Nguyễn  "),
            ("Émilie".into(), "Nguyễn".into())
        );
        assert_eq!(
            s("Anne van der Berg"),
            ("Anne".into(), "van der Berg".into())
        );
        assert_eq!(s("Łukasz"), ("Łukasz".into(), "-".into()));
        assert_eq!(s("   "), ("ana.b".into(), "-".into()));
        assert_eq!(split_name("", None), ("Unnamed".into(), "-".into()));
        // Non-breaking and ideographic spaces are spaces too.
        assert_eq!(s("Mei\u{00a0}Zhang"), ("Mei".into(), "Zhang".into()));
        assert_eq!(s("Hana\u{3000}Sato"), ("Hana".into(), "Sato".into()));
    }
}
