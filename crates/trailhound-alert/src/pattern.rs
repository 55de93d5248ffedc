//! Glob patterns (`*` any run of characters, `?` one character) for suppression conditions,
//! routing and chain stages. Matching is case-sensitive except for the lowercase-only values
//! (severity, kind), which are compared as written.

/// Whether `text` matches `pattern`, where `*` matches any run (also empty) and `?` one
/// character.
#[must_use]
pub fn glob_match(pattern: &str, text: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return pattern == text;
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Whether any of `patterns` matches `text`.
#[must_use]
pub fn any_match(patterns: &[String], text: &str) -> bool {
    patterns.iter().any(|p| glob_match(p, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("TH1*", "TH1001"));
        assert!(glob_match("*", ""));
        assert!(glob_match(
            "arn:aws:sts::*:assumed-role/backup-*",
            "arn:aws:sts::123456789012:assumed-role/backup-job/i-1"
        ));
        assert!(!glob_match("TH1*", "TH2001"));
        assert!(glob_match("TH?001", "TH3001"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
    }
}
