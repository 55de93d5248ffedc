//! Sigma wildcard strings: `*` (any run), `?` (one character), and the escapes `\*`, `\?`,
//! `\\`. A backslash before any other character is a literal backslash.

/// One piece of a wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal text.
    Lit(String),
    /// `*`.
    Star,
    /// `?`.
    One,
}

/// Splits a Sigma string into literal text and wildcards, resolving escapes.
#[must_use]
pub fn pieces(text: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&n @ ('*' | '?' | '\\')) => {
                    lit.push(n);
                    chars.next();
                }
                _ => lit.push('\\'),
            },
            '*' | '?' => {
                if !lit.is_empty() {
                    out.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                if c == '*' {
                    if out.last() != Some(&Piece::Star) {
                        out.push(Piece::Star);
                    }
                } else {
                    out.push(Piece::One);
                }
            }
            _ => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    out
}

/// Escapes a literal so that [`pieces`] reads it back unchanged.
#[must_use]
pub fn escape(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    for c in literal.chars() {
        if matches!(c, '*' | '?' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Matches `value` against wildcard pieces (exact, case as given). Linear backtracking over
/// the last star: O(len(value) × len(pattern)) in the worst case, never exponential.
#[must_use]
pub fn matches(pattern: &[Piece], value: &str) -> bool {
    let p: Vec<Unit> = pattern
        .iter()
        .flat_map(|piece| match piece {
            Piece::Lit(s) => s.chars().map(Unit::Char).collect::<Vec<_>>(),
            Piece::Star => vec![Unit::Star],
            Piece::One => vec![Unit::One],
        })
        .collect();
    let v: Vec<char> = value.chars().collect();
    let (mut pi, mut vi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        match p.get(pi) {
            Some(Unit::Char(c)) if *c == v[vi] => {
                pi += 1;
                vi += 1;
            }
            Some(Unit::One) => {
                pi += 1;
                vi += 1;
            }
            Some(Unit::Star) => {
                star = Some((pi, vi));
                pi += 1;
            }
            _ => match star {
                Some((sp, sv)) => {
                    pi = sp + 1;
                    vi = sv + 1;
                    star = Some((sp, sv + 1));
                }
                None => return false,
            },
        }
    }
    while p.get(pi) == Some(&Unit::Star) {
        pi += 1;
    }
    pi == p.len()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Char(char),
    Star,
    One,
}

/// `*`-only glob (selection-name patterns of `1 of x*`).
#[must_use]
pub fn glob_star(pattern: &str, name: &str) -> bool {
    let pieces: Vec<Piece> = pattern
        .split('*')
        .enumerate()
        .flat_map(|(i, part)| {
            let mut v = Vec::new();
            if i > 0 {
                v.push(Piece::Star);
            }
            if !part.is_empty() {
                v.push(Piece::Lit(part.to_owned()));
            }
            v
        })
        .collect();
    matches(&pieces, name)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(pieces(r"a\*b"), vec![Piece::Lit("a*b".into())]);
        assert_eq!(pieces(r"a\\*"), vec![Piece::Lit(r"a\".into()), Piece::Star]);
        assert_eq!(
            pieces(r"C:\Windows"),
            vec![Piece::Lit(r"C:\Windows".into())]
        );
        assert_eq!(pieces(r"a\?"), vec![Piece::Lit("a?".into())]);
        assert_eq!(pieces("**a"), vec![Piece::Star, Piece::Lit("a".into())]);
        assert!(matches(&pieces("a?c"), "abc"));
        assert!(!matches(&pieces("a?c"), "ac"));
        assert!(matches(&pieces("*"), ""));
        assert!(matches(&pieces(r"x\*"), "x*"));
        assert!(!matches(&pieces(r"x\*"), "xy"));
    }

    fn reference(pattern: &[Piece], value: &str) -> bool {
        let mut re = String::from("(?s)^");
        for piece in pattern {
            match piece {
                Piece::Lit(s) => re.push_str(&regex::escape(s)),
                Piece::Star => re.push_str(".*"),
                Piece::One => re.push('.'),
            }
        }
        re.push('$');
        regex::Regex::new(&re).unwrap().is_match(value)
    }

    proptest! {
        #[test]
        fn agrees_with_regex(pattern in r"[ab*?\\]{0,8}", value in "[ab*?\\\\]{0,10}") {
            let p = pieces(&pattern);
            prop_assert_eq!(matches(&p, &value), reference(&p, &value));
        }

        #[test]
        fn escaped_literal_matches_itself(literal in "[a-c*?\\\\ ]{0,12}") {
            let p = pieces(&escape(&literal));
            prop_assert!(p.iter().all(|x| matches!(x, Piece::Lit(_))));
            prop_assert!(matches(&p, &literal));
        }
    }
}
