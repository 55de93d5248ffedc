//! The condition language: `and`, `or`, `not`, parentheses, `1 of x*`, `all of them`.
//!
//! Precedence, from tightest: `not`, `and`, `or`. Selection names may contain `*` wildcards
//! only after `1 of` / `all of`.

use crate::error::{Error, Result};

/// The deepest nesting of parentheses and `not` a condition may have.
pub const MAX_CONDITION_DEPTH: usize = 64;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// A named selection.
    Ident(String),
    /// `1 of pattern` (`them` is the pattern `*`, which skips `_`-prefixed names).
    OneOf(String),
    /// `all of pattern`.
    AllOf(String),
    /// Negation.
    Not(Box<Cond>),
    /// Conjunction.
    And(Vec<Cond>),
    /// Disjunction.
    Or(Vec<Cond>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    Not,
    One,
    All,
    Of,
    Word(String),
    Pipe,
}

fn tokenize(text: &str) -> Result<Vec<Tok>> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' {
            out.push(Tok::Open);
            chars.next();
        } else if c == ')' {
            out.push(Tok::Close);
            chars.next();
        } else if c == '|' {
            out.push(Tok::Pipe);
            chars.next();
        } else if c.is_alphanumeric() || c == '_' || c == '*' || c == '-' || c == '.' {
            let mut end = i;
            while let Some(&(j, d)) = chars.peek() {
                if d.is_alphanumeric() || d == '_' || d == '*' || d == '-' || d == '.' {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            let word = &text[i..end];
            out.push(match word.to_ascii_lowercase().as_str() {
                "and" => Tok::And,
                "or" => Tok::Or,
                "not" => Tok::Not,
                "1" | "any" => Tok::One,
                "all" => Tok::All,
                "of" => Tok::Of,
                _ => Tok::Word(word.to_owned()),
            });
        } else {
            return Err(Error::Condition {
                condition: text.to_owned(),
                message: format!("unexpected character {c:?} at offset {i}"),
            });
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    text: &'a str,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, message: impl Into<String>) -> Error {
        Error::Condition {
            condition: self.text.to_owned(),
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn or(&mut self) -> Result<Cond> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cond::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Cond> {
        let mut parts = vec![self.unary()?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cond::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Cond> {
        self.depth += 1;
        if self.depth > MAX_CONDITION_DEPTH {
            return Err(self.err(format!("nested deeper than {MAX_CONDITION_DEPTH} levels")));
        }
        let result = self.unary_inner();
        self.depth -= 1;
        result
    }

    fn unary_inner(&mut self) -> Result<Cond> {
        let tok = self.peek().cloned();
        match tok {
            Some(Tok::Not) => {
                self.pos += 1;
                Ok(Cond::Not(Box::new(self.unary()?)))
            }
            Some(Tok::Open) => {
                self.pos += 1;
                let inner = self.or()?;
                if self.peek() != Some(&Tok::Close) {
                    return Err(self.err("missing closing parenthesis"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(quant @ (Tok::One | Tok::All)) => {
                self.pos += 1;
                if self.peek() != Some(&Tok::Of) {
                    return Err(self.err("expected `of` after `1`/`all`"));
                }
                self.pos += 1;
                let Some(Tok::Word(pattern)) = self.peek().cloned() else {
                    return Err(self.err("expected a selection pattern or `them` after `of`"));
                };
                self.pos += 1;
                let pattern = if pattern.eq_ignore_ascii_case("them") { "*".to_owned() } else { pattern };
                Ok(if quant == Tok::One { Cond::OneOf(pattern) } else { Cond::AllOf(pattern) })
            }
            Some(Tok::Word(word)) => {
                self.pos += 1;
                if word.contains('*') {
                    return Err(self.err(format!(
                        "wildcard selection {word:?} needs `1 of` or `all of`"
                    )));
                }
                Ok(Cond::Ident(word))
            }
            Some(Tok::Pipe) => Err(self.err(
                "legacy aggregation (`| count()`, `| near`) is not Sigma 2: write a correlation rule",
            )),
            Some(other) => Err(self.err(format!("unexpected {other:?}"))),
            None => Err(self.err("unexpected end of condition")),
        }
    }
}

/// Parses a condition expression.
///
/// # Errors
/// [`Error::Condition`] for a syntax error, a legacy aggregation or nesting deeper than
/// [`MAX_CONDITION_DEPTH`].
pub fn parse(text: &str) -> Result<Cond> {
    if text.contains('|') {
        return Err(Error::Condition {
            condition: text.chars().take(200).collect(),
            message: "legacy aggregation (`| count()`, `| near`) is not Sigma 2: write a correlation rule".into(),
        });
    }
    let toks = tokenize(text)?;
    if toks.len() > 4096 {
        return Err(Error::Condition {
            condition: text.chars().take(80).collect(),
            message: "condition is too long".into(),
        });
    }
    let mut parser = Parser {
        toks,
        pos: 0,
        text,
        depth: 0,
    };
    let cond = parser.or()?;
    if parser.pos != parser.toks.len() {
        if parser.peek() == Some(&Tok::Pipe) {
            return Err(parser.err(
                "legacy aggregation (`| count()`, `| near`) is not Sigma 2: write a correlation rule",
            ));
        }
        return Err(parser.err(format!(
            "unexpected {:?} after the expression",
            parser.peek()
        )));
    }
    Ok(cond)
}

/// Whether a selection name matches a `1 of`/`all of` pattern (only `*` is special).
#[must_use]
pub fn name_matches(pattern: &str, name: &str) -> bool {
    if pattern == "*" {
        return !name.starts_with('_');
    }
    crate::wildcard::glob_star(pattern, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Cond {
        Cond::Ident(s.into())
    }

    #[test]
    fn precedence_not_and_or() {
        assert_eq!(
            parse("a or b and not c").unwrap(),
            Cond::Or(vec![
                id("a"),
                Cond::And(vec![id("b"), Cond::Not(Box::new(id("c")))])
            ])
        );
        assert_eq!(
            parse("not a and b").unwrap(),
            Cond::And(vec![Cond::Not(Box::new(id("a"))), id("b")])
        );
        assert_eq!(
            parse("(a or b) and c").unwrap(),
            Cond::And(vec![Cond::Or(vec![id("a"), id("b")]), id("c")])
        );
    }

    #[test]
    fn quantifiers() {
        assert_eq!(parse("1 of sel_*").unwrap(), Cond::OneOf("sel_*".into()));
        assert_eq!(parse("all of them").unwrap(), Cond::AllOf("*".into()));
        assert_eq!(
            parse("sel and not 1 of filter*").unwrap(),
            Cond::And(vec![
                id("sel"),
                Cond::Not(Box::new(Cond::OneOf("filter*".into())))
            ])
        );
        assert!(name_matches("filter_*", "filter_main_x"));
        assert!(!name_matches("*", "_hidden"));
    }

    #[test]
    fn errors() {
        for bad in [
            "",
            "a and",
            "(a",
            "a b",
            "sel*",
            "sel | count() > 5",
            "1 of",
            "a $ b",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(
            parse(&deep)
                .unwrap_err()
                .to_string()
                .contains("nested deeper")
        );
        let nots = format!("{}a", "not ".repeat(100));
        assert!(parse(&nots).is_err());
    }
}
