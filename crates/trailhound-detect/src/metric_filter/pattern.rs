//! The CloudWatch Logs filter-pattern language, for JSON log events and plain terms.
//!
//! Two shapes are accepted:
//! * JSON patterns, `{ SELECTOR OP VALUE }` joined with `&&` and `||` and grouped with
//!   parentheses: `{ ($.eventName = "ConsoleLogin") && ($.errorMessage = "Failed*") }`.
//!   Selectors are `$.a.b`, `$.a[0].b`; operators `=`, `!=` (strings with `*` wildcards,
//!   `%regex%`, or numbers), `<`, `<=`, `>`, `>=` (numbers); and the unary tests
//!   `IS NULL`, `NOT EXISTS`, `EXISTS`, `IS TRUE`, `IS FALSE`.
//! * Term patterns matched against the record text: `ERROR` (all terms must occur),
//!   `"exact phrase"`, `-term` (must not occur), `?term` (at least one of the `?` terms).
//!   An empty pattern matches every record.
//!
//! Comparisons on a selector that does not resolve to a value are false, `!=` included: only
//! `NOT EXISTS` matches an absent field, as in CloudWatch Logs.

use std::fmt;

use std::borrow::Cow;

use smallvec::SmallVec;
use trailhound_core::field::Hot;
use trailhound_core::{Event, rawjson};

/// The longest filter pattern accepted, in characters: the CloudWatch Logs limit for
/// `PutMetricFilter`'s `filterPattern`.
pub const MAX_PATTERN_CHARS: usize = 1024;

/// The deepest nesting of parentheses accepted in a JSON pattern.
pub const MAX_PATTERN_DEPTH: usize = 32;

/// A filter-pattern syntax error, with the 1-based column it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// 1-based column (in characters) of the offending token.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for PatternError {}

/// One step of a selector path.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// A compiled string test.
#[derive(Debug, Clone)]
pub enum StringTest {
    /// Exact text.
    Exact(String),
    /// A `*` wildcard pattern (split on `*`).
    Wildcard(Vec<String>),
    /// A `%regex%`.
    Regex(regex::Regex),
}

impl StringTest {
    fn matches(&self, text: &str) -> bool {
        match self {
            Self::Exact(s) => s == text,
            Self::Wildcard(parts) => wildcard_match(parts, text),
            Self::Regex(re) => re.is_match(text),
        }
    }
}

/// Matches `text` against `*`-separated `parts` (the text split on `*`).
pub(crate) fn wildcard_match(parts: &[String], text: &str) -> bool {
    match parts {
        [] => text.is_empty(),
        [only] => only == text,
        [first, middle @ .., last] => {
            if text.len() < first.len() + last.len()
                || !text.starts_with(first.as_str())
                || !text.ends_with(last.as_str())
            {
                return false;
            }
            let mut rest = &text[first.len()..text.len() - last.len()];
            for part in middle {
                match rest.find(part.as_str()) {
                    Some(at) => rest = &rest[at + part.len()..],
                    None => return false,
                }
            }
            true
        }
    }
}

/// Compiles a glob with `*` wildcards.
pub(crate) fn wildcard_parts(glob: &str) -> Vec<String> {
    glob.split('*').map(str::to_owned).collect()
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A JSON-pattern expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// `a && b`
    And(Box<Expr>, Box<Expr>),
    /// `a || b`
    Or(Box<Expr>, Box<Expr>),
    /// `$.sel = "text"` / `!=` with a string value.
    Str {
        /// Selector.
        path: Vec<Step>,
        /// True for `!=`.
        negated: bool,
        /// The test.
        test: StringTest,
    },
    /// `$.sel OP number`.
    Num {
        /// Selector.
        path: Vec<Step>,
        /// Operator.
        op: CmpOp,
        /// The number.
        value: f64,
    },
    /// `IS NULL`
    IsNull(Vec<Step>),
    /// `NOT EXISTS` (true) or `EXISTS` (false).
    Exists(Vec<Step>, bool),
    /// `IS TRUE` / `IS FALSE`
    IsBool(Vec<Step>, bool),
}

/// A parsed filter pattern.
#[derive(Debug, Clone)]
pub enum FilterPattern {
    /// Matches everything (empty pattern, or `" "`).
    All,
    /// A JSON pattern.
    Json(Expr),
    /// A term pattern.
    Terms {
        /// Terms that must all occur.
        required: Vec<String>,
        /// Terms that must not occur.
        excluded: Vec<String>,
        /// Terms of which at least one must occur (when any).
        any: Vec<String>,
    },
}

impl FilterPattern {
    /// Parses a pattern.
    ///
    /// # Errors
    /// [`PatternError`] with the column of the first bad token.
    pub fn parse(text: &str) -> Result<FilterPattern, PatternError> {
        let chars: Vec<char> = text.chars().collect();
        if chars.len() > MAX_PATTERN_CHARS {
            // CloudWatch Logs refuses longer patterns too; the cap also bounds the nesting of
            // the parsed expression, so parsing and matching cannot exhaust the stack.
            return Err(PatternError {
                column: MAX_PATTERN_CHARS + 1,
                message: format!(
                    "pattern is longer than {MAX_PATTERN_CHARS} characters (the CloudWatch Logs limit)"
                ),
            });
        }
        let mut p = Parser {
            chars,
            pos: 0,
            depth: 0,
        };
        p.skip_ws();
        if p.at_end() {
            return Ok(FilterPattern::All);
        }
        match p.peek() {
            Some('{') => {
                p.pos += 1;
                let expr = p.parse_or()?;
                p.skip_ws();
                p.expect('}', "expected `}` or `&&`/`||`")?;
                p.skip_ws();
                if !p.at_end() {
                    return Err(p.error("unexpected text after `}`"));
                }
                Ok(FilterPattern::Json(expr))
            }
            Some('[') => Err(p.error(
                "space-delimited patterns (`[a, b]`) do not apply to CloudTrail records; use a JSON pattern `{ $.field = \"value\" }`",
            )),
            _ => p.parse_terms(),
        }
    }

    /// True when the record, given as its JSON text, matches. Fields are read from the text
    /// in place ([`rawjson`]), without building the record's tree.
    #[must_use]
    pub fn matches(&self, record: &str) -> bool {
        self.matches_in(record, Root::Text(record.trim_start()))
    }

    /// [`FilterPattern::matches`] for an event, whose top-level values it finds without a
    /// skim of the record.
    #[must_use]
    pub fn matches_event(&self, event: &Event) -> bool {
        match self {
            // The record's text only for the terms that read it: a JSON pattern on typed
            // fields never touches it (the first touch of a record on the detection thread
            // is a cache miss).
            Self::Json(expr) => eval(expr, Root::Event(event)),
            _ => self.matches_in(event.raw(), Root::Event(event)),
        }
    }

    fn matches_in(&self, record: &str, root: Root<'_>) -> bool {
        match self {
            Self::All => true,
            Self::Json(expr) => eval(expr, root),
            Self::Terms {
                required,
                excluded,
                any,
            } => {
                required.iter().all(|t| record.contains(t.as_str()))
                    && !excluded.iter().any(|t| record.contains(t.as_str()))
                    && (any.is_empty() || any.iter().any(|t| record.contains(t.as_str())))
            }
        }
    }

    /// True when [`FilterPattern::matches_event`] rules most records out on typed fields
    /// (`$.errorCode`, `$.eventName`, `$.userIdentity.type`…) without reading the record's
    /// text: a substring prefilter over the text would cost more than it saves.
    #[must_use]
    pub fn rules_out_on_typed_fields(&self) -> bool {
        matches!(self, Self::Json(expr) if typed_test_required(expr))
    }

    /// Text of which at least one must occur in the record's JSON text for the pattern to
    /// match: a cheap pre-filter before the record's fields are read.
    #[must_use]
    pub fn required_text(&self) -> Option<Vec<String>> {
        match self {
            Self::Json(expr) => needles(expr),
            Self::Terms { required, .. } => required.first().map(|t| vec![t.clone()]),
            Self::All => None,
        }
    }

    /// The eventNames a record must have to match, when the pattern pins them (for routing).
    #[must_use]
    pub fn required_event_names(&self) -> Option<Vec<String>> {
        match self {
            Self::Json(expr) => required_names(expr),
            _ => None,
        }
    }
}

/// Text that must occur in a record's JSON for the expression to match: at least one of the
/// returned strings. `None` when no such text is known.
fn needles(expr: &Expr) -> Option<Vec<String>> {
    let safe = |t: &str| {
        (t.len() >= 3
            && t.chars().all(|c| {
                c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' && c != '/'
            }))
        .then(|| t.to_owned())
    };
    match expr {
        Expr::Str {
            negated: false,
            test: StringTest::Exact(text),
            ..
        } => safe(text).map(|t| vec![t]),
        Expr::Str {
            negated: false,
            test: StringTest::Wildcard(parts),
            ..
        } => parts
            .iter()
            .filter_map(|p| safe(p))
            .max_by_key(String::len)
            .map(|t| vec![t]),
        Expr::And(a, b) => match (needles(a), needles(b)) {
            (Some(x), Some(y)) => Some(if y.len() < x.len() { y } else { x }),
            (Some(x), None) | (None, Some(x)) => Some(x),
            (None, None) => None,
        },
        Expr::Or(a, b) => {
            let mut x = needles(a)?;
            x.extend(needles(b)?);
            Some(x)
        }
        _ => None,
    }
}

fn required_names(expr: &Expr) -> Option<Vec<String>> {
    match expr {
        Expr::Str {
            path,
            negated: false,
            test: StringTest::Exact(name),
        } if matches!(path.as_slice(), [Step::Key(k)] if k == "eventName") => {
            Some(vec![name.clone()])
        }
        Expr::And(a, b) => match (required_names(a), required_names(b)) {
            (Some(x), Some(y)) => Some(x.into_iter().filter(|n| y.contains(n)).collect()),
            (Some(x), None) | (None, Some(x)) => Some(x),
            (None, None) => None,
        },
        Expr::Or(a, b) => {
            let mut x = required_names(a)?;
            for name in required_names(b)? {
                if !x.contains(&name) {
                    x.push(name);
                }
            }
            Some(x)
        }
        _ => None,
    }
}

/// Where a pattern's paths start: a record's text, or an event.
#[derive(Clone, Copy)]
pub(super) enum Root<'a> {
    Text(&'a str),
    Event(&'a Event),
}

/// The text of the value at `path` in the record.
pub(super) fn resolve<'a>(root: Root<'a>, path: &[Step]) -> Option<&'a str> {
    let (mut node, path) = match (root, path.split_first()) {
        (Root::Event(event), Some((Step::Key(k), rest))) => (event.member(k)?, rest),
        (Root::Event(event), _) => (event.raw().trim_start(), path),
        (Root::Text(text), _) => (text, path),
    };
    for step in path {
        node = match step {
            Step::Key(k) => rawjson::member(node, k)?,
            Step::Index(i) => rawjson::elements(node).nth(*i)?,
        };
    }
    Some(node)
}

/// A number's value as `serde_json::Value::as_f64` reads it.
pub(super) fn number(text: &str) -> Option<f64> {
    if matches!(text.as_bytes().first(), Some(b'-' | b'0'..=b'9')) {
        serde_json::from_str::<f64>(text).ok()
    } else {
        None
    }
}

/// The hot field a selector of plain keys names (see [`Hot`]).
fn hot_of(path: &[Step]) -> Option<Hot> {
    let mut keys: SmallVec<[&str; 4]> = SmallVec::new();
    for step in path {
        match step {
            Step::Key(key) => keys.push(key),
            _ => return None,
        }
    }
    Hot::of_path(&keys)
}

/// True when a record can be ruled out on typed fields alone: some test that must hold for
/// a match is a string test of a field read exactly from the typed event ([`Hot::exact`]:
/// evaluation tries the left side of `&&` first, and such a test fails without reading the
/// record's text).
fn typed_test_required(expr: &Expr) -> bool {
    match expr {
        Expr::And(a, b) => typed_test_required(a) || typed_test_required(b),
        Expr::Or(a, b) => typed_test_required(a) && typed_test_required(b),
        Expr::Str { path, .. } => hot_of(path).is_some_and(Hot::is_exact),
        _ => false,
    }
}

fn eval(expr: &Expr, record: Root<'_>) -> bool {
    match expr {
        Expr::And(a, b) => eval(a, record) && eval(b, record),
        Expr::Or(a, b) => eval(a, record) || eval(b, record),
        Expr::Str {
            path,
            negated,
            test,
        } => {
            // A typed field, when the event's typed fields say all there is to know.
            if let Root::Event(event) = record
                && let Some(value) = hot_of(path).and_then(|hot| hot.exact(event))
            {
                return value.is_some_and(|text| test.matches(text) != *negated);
            }
            let Some(value) = resolve(record, path) else {
                return false;
            };
            let text = match value.as_bytes().first() {
                Some(b'"') => match rawjson::string(value) {
                    Some(text) => text,
                    None => return false,
                },
                Some(b't' | b'f') => Cow::Borrowed(value),
                Some(b'-' | b'0'..=b'9') => {
                    match serde_json::from_str::<serde_json::Number>(value) {
                        Ok(n) => Cow::Owned(n.to_string()),
                        Err(_) => return false,
                    }
                }
                _ => return false,
            };
            test.matches(&text) != *negated
        }
        Expr::Num { path, op, value } => {
            let Some(n) = resolve(record, path).and_then(number) else {
                return false;
            };
            match op {
                CmpOp::Eq => n == *value,
                CmpOp::Ne => n != *value,
                CmpOp::Lt => n < *value,
                CmpOp::Le => n <= *value,
                CmpOp::Gt => n > *value,
                CmpOp::Ge => n >= *value,
            }
        }
        Expr::IsNull(path) => resolve(record, path) == Some("null"),
        Expr::Exists(path, not) => resolve(record, path).is_none() == *not,
        Expr::IsBool(path, want) => {
            resolve(record, path) == Some(if *want { "true" } else { "false" })
        }
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    /// Open parentheses around the current position.
    depth: usize,
}

impl Parser {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }
    fn error(&self, message: &str) -> PatternError {
        PatternError {
            column: self.pos + 1,
            message: message.to_owned(),
        }
    }
    fn error_at(&self, pos: usize, message: &str) -> PatternError {
        PatternError {
            column: pos + 1,
            message: message.to_owned(),
        }
    }
    fn expect(&mut self, c: char, message: &str) -> Result<(), PatternError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(message))
        }
    }
    fn starts_with(&self, s: &str) -> bool {
        s.chars()
            .enumerate()
            .all(|(i, c)| self.peek_at(i) == Some(c))
    }
    fn starts_with_keyword(&self, s: &str) -> bool {
        s.chars()
            .enumerate()
            .all(|(i, c)| self.peek_at(i).is_some_and(|p| p.eq_ignore_ascii_case(&c)))
            && !self
                .peek_at(s.len())
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
    }

    fn parse_or(&mut self) -> Result<Expr, PatternError> {
        let mut left = self.parse_and()?;
        loop {
            self.skip_ws();
            if self.starts_with("||") {
                self.pos += 2;
                let right = self.parse_and()?;
                left = Expr::Or(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn parse_and(&mut self) -> Result<Expr, PatternError> {
        let mut left = self.parse_primary()?;
        loop {
            self.skip_ws();
            if self.starts_with("&&") {
                self.pos += 2;
                let right = self.parse_primary()?;
                left = Expr::And(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn parse_primary(&mut self) -> Result<Expr, PatternError> {
        self.skip_ws();
        match self.peek() {
            Some('(') => {
                if self.depth >= MAX_PATTERN_DEPTH {
                    return Err(self.error(&format!(
                        "parentheses nested deeper than {MAX_PATTERN_DEPTH} levels"
                    )));
                }
                self.pos += 1;
                self.depth += 1;
                let inner = self.parse_or()?;
                self.depth -= 1;
                self.skip_ws();
                self.expect(')', "expected `)`")?;
                Ok(inner)
            }
            Some('$') => self.parse_comparison(),
            None => {
                Err(self
                    .error("unexpected end of pattern: expected a selector such as `$.eventName`"))
            }
            Some(_) => Err(self.error("expected a selector such as `$.eventName` or `(`")),
        }
    }

    fn parse_selector(&mut self) -> Result<Vec<Step>, PatternError> {
        let start = self.pos;
        self.expect('$', "expected `$`")?;
        let mut steps = Vec::new();
        loop {
            match self.peek() {
                Some('.') => {
                    self.pos += 1;
                    let key_start = self.pos;
                    while self
                        .peek()
                        .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '@' | ':'))
                    {
                        self.pos += 1;
                    }
                    if self.pos == key_start {
                        return Err(self.error("expected a field name after `.`"));
                    }
                    steps.push(Step::Key(self.chars[key_start..self.pos].iter().collect()));
                }
                Some('[') => {
                    self.pos += 1;
                    let num_start = self.pos;
                    while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        self.pos += 1;
                    }
                    if self.pos == num_start {
                        return Err(self.error("expected an array index such as `[0]`"));
                    }
                    let text: String = self.chars[num_start..self.pos].iter().collect();
                    let index = text
                        .parse()
                        .map_err(|_| self.error_at(num_start, "array index too large"))?;
                    self.expect(']', "expected `]`")?;
                    steps.push(Step::Index(index));
                }
                _ => break,
            }
        }
        if steps.is_empty() {
            return Err(self.error_at(start, "a selector needs a field: `$.field`"));
        }
        Ok(steps)
    }

    fn parse_comparison(&mut self) -> Result<Expr, PatternError> {
        let path = self.parse_selector()?;
        self.skip_ws();
        if self.starts_with_keyword("IS") {
            let at = self.pos;
            self.pos += 2;
            self.skip_ws();
            for (word, make) in [("NULL", 0u8), ("TRUE", 1), ("FALSE", 2)] {
                if self.starts_with_keyword(word) {
                    self.pos += word.len();
                    return Ok(match make {
                        0 => Expr::IsNull(path),
                        1 => Expr::IsBool(path, true),
                        _ => Expr::IsBool(path, false),
                    });
                }
            }
            let _ = at;
            return Err(self.error("expected NULL, TRUE or FALSE after IS"));
        }
        if self.starts_with_keyword("NOT") {
            self.pos += 3;
            self.skip_ws();
            if self.starts_with_keyword("EXISTS") {
                self.pos += 6;
                return Ok(Expr::Exists(path, true));
            }
            return Err(self.error("expected EXISTS after NOT"));
        }
        if self.starts_with_keyword("EXISTS") {
            self.pos += 6;
            return Ok(Expr::Exists(path, false));
        }
        let op_pos = self.pos;
        let op = if self.starts_with("!=") {
            self.pos += 2;
            CmpOp::Ne
        } else if self.starts_with("<=") {
            self.pos += 2;
            CmpOp::Le
        } else if self.starts_with(">=") {
            self.pos += 2;
            CmpOp::Ge
        } else if self.starts_with("=") {
            self.pos += 1;
            CmpOp::Eq
        } else if self.starts_with("<") {
            self.pos += 1;
            CmpOp::Lt
        } else if self.starts_with(">") {
            self.pos += 1;
            CmpOp::Gt
        } else {
            return Err(self.error(
                "expected an operator: =, !=, <, <=, >, >=, IS NULL, IS TRUE, IS FALSE, NOT EXISTS",
            ));
        };
        self.skip_ws();
        let value_pos = self.pos;
        match self.peek() {
            Some('"') => {
                let text = self.parse_quoted()?;
                self.string_expr(path, op, op_pos, &text, value_pos)
            }
            Some('%') => {
                self.pos += 1;
                let start = self.pos;
                while self.peek().is_some_and(|c| c != '%') {
                    self.pos += 1;
                }
                if self.at_end() {
                    return Err(self.error_at(
                        value_pos,
                        "unterminated regular expression: expected closing `%`",
                    ));
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                self.pos += 1;
                if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    return Err(self.error_at(op_pos, "a regular expression needs `=` or `!=`"));
                }
                let re = regex::RegexBuilder::new(&text)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| {
                        self.error_at(value_pos, &format!("invalid regular expression: {e}"))
                    })?;
                Ok(Expr::Str {
                    path,
                    negated: op == CmpOp::Ne,
                    test: StringTest::Regex(re),
                })
            }
            Some(c) if !matches!(c, ')' | '}' | '&' | '|') && !c.is_whitespace() => {
                let start = self.pos;
                while self.peek().is_some_and(|c| {
                    !c.is_whitespace() && !matches!(c, ')' | '}' | '&' | '|' | '"')
                }) {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                if let Ok(number) = text.parse::<f64>() {
                    return Ok(Expr::Num {
                        path,
                        op,
                        value: number,
                    });
                }
                self.string_expr(path, op, op_pos, &text, value_pos)
            }
            _ => Err(self.error("expected a value: a \"string\", a number or a %regex%")),
        }
    }

    fn string_expr(
        &self,
        path: Vec<Step>,
        op: CmpOp,
        op_pos: usize,
        text: &str,
        _value_pos: usize,
    ) -> Result<Expr, PatternError> {
        let negated = match op {
            CmpOp::Eq => false,
            CmpOp::Ne => true,
            _ => {
                return Err(self.error_at(
                    op_pos,
                    "<, <=, > and >= compare numbers; use = or != for strings",
                ));
            }
        };
        let test = if text.contains('*') {
            StringTest::Wildcard(wildcard_parts(text))
        } else {
            StringTest::Exact(text.to_owned())
        };
        Ok(Expr::Str {
            path,
            negated,
            test,
        })
    }

    fn parse_quoted(&mut self) -> Result<String, PatternError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(self.error_at(start, "unterminated string: expected closing `\"`"));
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c) => {
                            out.push(c);
                            self.pos += 1;
                        }
                        None => {
                            return Err(
                                self.error_at(start, "unterminated string: expected closing `\"`")
                            );
                        }
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn parse_terms(&mut self) -> Result<FilterPattern, PatternError> {
        let mut required = Vec::new();
        let mut excluded = Vec::new();
        let mut any = Vec::new();
        loop {
            self.skip_ws();
            let Some(c) = self.peek() else { break };
            let kind = match c {
                '-' => {
                    self.pos += 1;
                    1
                }
                '?' => {
                    self.pos += 1;
                    2
                }
                _ => 0,
            };
            let term_pos = self.pos;
            let term = match self.peek() {
                Some('"') => self.parse_quoted()?,
                Some(c) if !c.is_whitespace() => {
                    let start = self.pos;
                    while self.peek().is_some_and(|c| !c.is_whitespace()) {
                        if matches!(self.peek(), Some('{' | '}' | '(' | ')' | '[' | ']' | '"')) {
                            return Err(self.error(
                                "unexpected character in a term: quote the term, or start a JSON pattern with `{`",
                            ));
                        }
                        self.pos += 1;
                    }
                    self.chars[start..self.pos].iter().collect()
                }
                _ => return Err(self.error_at(term_pos, "expected a term after `-` or `?`")),
            };
            if term.is_empty() {
                return Err(self.error_at(term_pos, "empty term"));
            }
            match kind {
                1 => excluded.push(term),
                2 => any.push(term),
                _ => required.push(term),
            }
        }
        if required.is_empty() && any.is_empty() && excluded.is_empty() {
            return Ok(FilterPattern::All);
        }
        Ok(FilterPattern::Terms {
            required,
            excluded,
            any,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_fields_and_the_text_agree() {
        let event = |body: &str| {
            let raw = format!(
                r#"{{"eventTime":"2026-01-01T00:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances"{body}}}"#
            );
            Event::from_json(raw, trailhound_core::Origin::new("t", 0)).unwrap()
        };
        let denied = FilterPattern::parse(r#"{ $.errorCode = "AccessDenied*" }"#).unwrap();
        let odd = FilterPattern::parse(r#"{ $.errorCode = "true" }"#).unwrap();
        let absent = FilterPattern::parse(r#"{ $.errorCode != "x" }"#).unwrap();
        assert!(denied.rules_out_on_typed_fields());
        assert!(
            !FilterPattern::parse("{ $.a = 1 }")
                .unwrap()
                .rules_out_on_typed_fields()
        );
        assert!(
            FilterPattern::parse(
                r#"{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS }"#
            )
            .unwrap()
            .rules_out_on_typed_fields()
        );
        assert!(
            !FilterPattern::parse(r#"{ $.eventName = "A" || $.a = "b" }"#)
                .unwrap()
                .rules_out_on_typed_fields()
        );
        for (body, want) in [
            (r#","errorCode":"AccessDenied""#, [true, false, true]),
            (
                r#","errorCode":"Client.UnauthorizedOperation""#,
                [false, false, true],
            ),
            ("", [false, false, false]),
            (r#","errorCode":null"#, [false, false, false]),
            // Not a string: read from the text, as a string of its JSON.
            (r#","errorCode":true"#, [false, true, true]),
        ] {
            let e = event(body);
            let got = [
                denied.matches_event(&e),
                odd.matches_event(&e),
                absent.matches_event(&e),
            ];
            assert_eq!(got, want, "{body}");
            let text = [
                denied.matches(e.raw()),
                odd.matches(e.raw()),
                absent.matches(e.raw()),
            ];
            assert_eq!(text, want, "{body} (text)");
        }
    }

    // Regression (fuzz target metric_filter_pattern): deeply nested parentheses and long
    // `||` chains recursed once per level while parsing, matching and dropping the
    // expression, and overflowed the stack.
    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!(
            "{{ {}$.a = 1{} }}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        let err = FilterPattern::parse(&deep).unwrap_err();
        assert_eq!(err.column, MAX_PATTERN_CHARS + 1);
        assert!(err.message.contains("longer than 1024"), "{err}");

        let chain = format!("{{ {} }}", vec!["$.a = 1"; 50_000].join(" || "));
        assert!(FilterPattern::parse(&chain).is_err());
    }

    #[test]
    fn nesting_is_bounded_and_the_limits_still_parse() {
        let nested =
            |depth: usize| format!("{{ {}$.a = 1{} }}", "(".repeat(depth), ")".repeat(depth));
        let deepest = FilterPattern::parse(&nested(MAX_PATTERN_DEPTH)).unwrap();
        assert!(deepest.matches("{\"a\":1}"));
        let err = FilterPattern::parse(&nested(MAX_PATTERN_DEPTH + 1)).unwrap_err();
        assert!(err.message.contains("nested deeper than 32"), "{err}");
        assert_eq!(err.column, MAX_PATTERN_DEPTH + 3);

        // The longest `||` chain the length cap allows parses, matches and drops.
        let terms = (MAX_PATTERN_CHARS - 4) / 13;
        let chain = format!("{{ {} }}", vec!["$.a = \"x\""; terms].join(" || "));
        assert!(chain.chars().count() <= MAX_PATTERN_CHARS);
        let pattern = FilterPattern::parse(&chain).unwrap();
        assert!(!pattern.matches("{\"a\":1}"));
    }
}
