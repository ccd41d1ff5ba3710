//! Upload ids: UUIDv7 (48 bits of milliseconds, 74 random bits), so they are unique
//! across restarts, unguessable, and sort by time in a folder listing.
//!
//! The id names the upload's folder and appears in its URLs; the pool's numeric job id
//! never leaves the server (it restarts at 1 with every process).

/// A new upload id, in the canonical lowercase hyphenated form.
pub fn new_upload_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

/// Whether `s` is an upload id in exactly the canonical form [`new_upload_id`] writes
/// (so one upload has one URL and no other string can name a folder).
pub fn is_upload_id(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok_and(|u| u.hyphenated().to_string() == s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_canonical_and_checked() {
        let a = new_upload_id();
        let b = new_upload_id();
        assert_ne!(a, b);
        assert!(is_upload_id(&a));
        assert!(!is_upload_id(&a.to_uppercase()));
        assert!(!is_upload_id(&a.replace('-', "")));
        assert!(!is_upload_id("1"));
        assert!(!is_upload_id("../../etc/passwd"));
    }
}
