//! Compiling a `detection:` section into matchers, and evaluating it on events.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use base64::Engine as _;
use ipnet::IpNet;
use trailhound_core::{Event, Timestamp};

use crate::condition::{self, Cond};
use crate::error::{Error, Loc, Result};
use crate::field::{FieldPath, Hot, Values};
use crate::wildcard::{self, Piece};
use crate::yaml::{Node, Value};

/// The largest compiled program a `re` pattern may produce (bytes).
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// The largest lazy-DFA cache a `re` pattern may use (bytes).
pub const REGEX_DFA_SIZE_LIMIT: usize = 2 << 20;

/// Options that affect compilation.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// Values for `%name%` placeholders of the `expand` modifier.
    pub placeholders: BTreeMap<String, Vec<String>>,
}

/// Every modifier the engine knows.
pub const MODIFIERS: &[&str] = &[
    "contains",
    "startswith",
    "endswith",
    "all",
    "base64",
    "base64offset",
    "utf16le",
    "utf16be",
    "utf16",
    "wide",
    "windash",
    "re",
    "i",
    "m",
    "s",
    "cidr",
    "exists",
    "expand",
    "fieldref",
    "gt",
    "gte",
    "lt",
    "lte",
    "cased",
    "neq",
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "year",
];

/// A string pattern, lowercased unless cased.
#[derive(Debug, Clone)]
pub enum StrPat {
    /// Whole value.
    Exact(String),
    /// Value starts with.
    Prefix(String),
    /// Value ends with.
    Suffix(String),
    /// Value contains.
    Contains(String),
    /// General wildcard pattern.
    Glob(Vec<Piece>),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==` (time parts)
    Eq,
    /// `gt`
    Gt,
    /// `gte`
    Gte,
    /// `lt`
    Lt,
    /// `lte`
    Lte,
}

/// The part of a timestamp a time modifier extracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePart {
    /// Minute of the hour.
    Minute,
    /// Hour of the day (UTC).
    Hour,
    /// Day of the month.
    Day,
    /// ISO 8601 week of the year.
    Week,
    /// Month 1–12.
    Month,
    /// Year.
    Year,
}

/// One test of a field's values.
#[derive(Debug, Clone)]
pub enum Test {
    /// A string pattern.
    Str {
        /// The pattern.
        pat: StrPat,
        /// Case-sensitive.
        cased: bool,
    },
    /// A regular expression.
    Re(Box<Re>),
    /// An address in a network.
    Cidr(IpNet),
    /// A numeric comparison, optionally on a part of a timestamp.
    Num {
        /// The time part, for time modifiers.
        part: Option<TimePart>,
        /// The operator.
        op: CmpOp,
        /// The operand.
        value: f64,
    },
    /// The field is null or missing.
    Null,
    /// The field exists (true) or not (false).
    Exists(bool),
    /// Compare with another field of the same event.
    FieldRef {
        /// The other field.
        other: FieldPath,
        /// How: exact, prefix, suffix or contains.
        pos: Pos,
        /// Case-sensitive.
        cased: bool,
    },
}

/// Where a field reference must occur.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pos {
    /// Equal.
    Exact,
    /// Prefix.
    Prefix,
    /// Suffix.
    Suffix,
    /// Anywhere.
    Contains,
}

/// A field with its tests.
#[derive(Debug, Clone)]
pub struct Item {
    /// The field as written (without modifiers).
    pub field: String,
    /// The modifiers as written.
    pub modifiers: Vec<String>,
    /// Where the field is read.
    pub path: FieldPath,
    /// The tests (OR, or AND with `all`).
    pub tests: Vec<Test>,
    /// `all`: every test must hold.
    pub all: bool,
    /// `neq`: no test may hold.
    pub neq: bool,
    /// The values as written, for explanations.
    pub shown: Vec<String>,
    /// Where it is.
    pub loc: Loc,
}

/// A named selection.
#[derive(Debug, Clone)]
pub enum Selection {
    /// A list of maps: any map whose items all hold.
    Maps(Vec<Vec<Item>>),
    /// Keywords: any (or all) found in the record text.
    Keywords(Item),
}

/// A compiled boolean expression over selections.
#[derive(Debug, Clone)]
pub enum Expr {
    /// A selection by index.
    Sel(usize),
    /// Negation.
    Not(Box<Expr>),
    /// All hold.
    And(Vec<Expr>),
    /// Any holds.
    Or(Vec<Expr>),
}

/// A compiled `detection:` section.
#[derive(Debug, Clone)]
pub struct Detection {
    /// Named selections, in file order.
    pub selections: Vec<(String, Selection)>,
    /// The conditions (a list means any of them).
    pub conditions: Vec<Expr>,
    /// The condition text(s) as written.
    pub condition_text: Vec<String>,
}

fn lower(s: &str, cased: bool) -> String {
    if cased {
        s.to_owned()
    } else {
        s.to_lowercase()
    }
}

fn ci_bytes_contains(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    if needle.len() > hay.len() {
        return false;
    }
    let first = needle[0];
    hay.windows(needle.len())
        .any(|w| w[0].eq_ignore_ascii_case(&first) && w.eq_ignore_ascii_case(needle))
}

impl StrPat {
    fn is_match(&self, value: &str, cased: bool) -> bool {
        if cased {
            return match self {
                StrPat::Exact(p) => value == p,
                StrPat::Prefix(p) => value.starts_with(p.as_str()),
                StrPat::Suffix(p) => value.ends_with(p.as_str()),
                StrPat::Contains(p) => value.contains(p.as_str()),
                StrPat::Glob(p) => wildcard::matches(p, value),
            };
        }
        let ascii = value.is_ascii();
        match self {
            StrPat::Exact(p) if ascii => value.eq_ignore_ascii_case(p),
            StrPat::Prefix(p) if ascii => {
                value.len() >= p.len()
                    && value.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            }
            StrPat::Suffix(p) if ascii => {
                value.len() >= p.len()
                    && value.as_bytes()[value.len() - p.len()..].eq_ignore_ascii_case(p.as_bytes())
            }
            StrPat::Contains(p) if ascii => ci_bytes_contains(value.as_bytes(), p.as_bytes()),
            _ => self.is_match(&value.to_lowercase(), true),
        }
    }
}

/// A compiled `|re` value, with a literal that every match contains when the expression has
/// one at its top level: a vectorised substring search rules most values out before the
/// regex runs (`.+:assumed-role/aws:.+` is tested on the ARN of every role-session call).
#[derive(Debug, Clone)]
pub struct Re {
    regex: regex::Regex,
    literal: Option<memchr::memmem::Finder<'static>>,
}

impl Re {
    fn new(regex: regex::Regex, case_insensitive: bool) -> Self {
        let literal = required_literal(regex.as_str(), case_insensitive)
            .map(|l| memchr::memmem::Finder::new(l.as_bytes()).into_owned());
        Re { regex, literal }
    }

    /// The expression's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }

    /// True when the expression matches somewhere in `text`.
    #[must_use]
    pub fn is_match(&self, text: &str) -> bool {
        self.literal
            .as_ref()
            .is_none_or(|l| l.find(text.as_bytes()).is_some())
            && self.regex.is_match(text)
    }
}

/// The longest literal of the expression's top-level sequence: every match contains it. None
/// when the expression has no such literal (or is case-insensitive, where literals become
/// classes).
fn required_literal(pattern: &str, case_insensitive: bool) -> Option<String> {
    use regex_syntax::hir::HirKind;
    if case_insensitive {
        return None;
    }
    let hir = regex_syntax::ParserBuilder::new()
        .nest_limit(100)
        .build()
        .parse(pattern)
        .ok()?;
    fn unwrap(mut node: &regex_syntax::hir::Hir) -> &regex_syntax::hir::Hir {
        while let HirKind::Capture(capture) = node.kind() {
            node = &capture.sub;
        }
        node
    }
    let literal = |h: &regex_syntax::hir::Hir| match unwrap(h).kind() {
        HirKind::Literal(l) => std::str::from_utf8(&l.0).ok().map(str::to_owned),
        _ => None,
    };
    let node = unwrap(&hir);
    match node.kind() {
        HirKind::Concat(parts) => parts.iter().filter_map(literal).max_by_key(String::len),
        _ => literal(node),
    }
    .filter(|l| !l.is_empty())
}

impl Test {
    fn holds(&self, values: &Values<'_>, event: &Event) -> bool {
        match self {
            Test::Null => values.is_empty(),
            Test::Exists(want) => values.is_empty() != *want,
            Test::Str { pat, cased } => values.iter().any(|v| pat.is_match(v, *cased)),
            Test::Re(re) => values.iter().any(|v| re.is_match(v)),
            Test::Cidr(net) => values.iter().any(|v| {
                v.trim()
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| net.contains(&ip))
            }),
            Test::Num { part, op, value } => values.iter().any(|v| {
                let n = match part {
                    None => v.trim().parse::<f64>().ok(),
                    Some(part) => Timestamp::parse(v.trim()).ok().map(|t| time_part(t, *part)),
                };
                n.is_some_and(|n| match op {
                    CmpOp::Eq => n == *value,
                    CmpOp::Gt => n > *value,
                    CmpOp::Gte => n >= *value,
                    CmpOp::Lt => n < *value,
                    CmpOp::Lte => n <= *value,
                })
            }),
            Test::FieldRef { other, pos, cased } => {
                let mut others = Values::new();
                other.values(event, &mut others);
                values.iter().any(|v| {
                    others.iter().any(|o| {
                        let (v, o) = if *cased {
                            (
                                std::borrow::Cow::Borrowed(&**v),
                                std::borrow::Cow::Borrowed(&**o),
                            )
                        } else {
                            (v.to_lowercase().into(), o.to_lowercase().into())
                        };
                        match pos {
                            Pos::Exact => v == o,
                            Pos::Prefix => v.starts_with(&*o),
                            Pos::Suffix => v.ends_with(&*o),
                            Pos::Contains => v.contains(&*o),
                        }
                    })
                })
            }
        }
    }
}

/// The value of a time part of `t` (UTC).
#[must_use]
pub fn time_part(t: Timestamp, part: TimePart) -> f64 {
    let (year, month, day, hour, minute, _, _) = t.parts();
    let n: i64 = match part {
        TimePart::Minute => i64::from(minute),
        TimePart::Hour => i64::from(hour),
        TimePart::Day => i64::from(day),
        TimePart::Month => i64::from(month),
        TimePart::Year => year,
        TimePart::Week => iso_week(t),
    };
    n as f64
}

fn iso_week(t: Timestamp) -> i64 {
    // ISO week: the week (Mon–Sun) containing the Thursday of this week.
    let day = t.day_number();
    let weekday = i64::from(t.weekday());
    let thursday = Timestamp::from_millis((day - weekday + 3) * 86_400_000);
    let (year, ..) = thursday.parts();
    let jan1 = Timestamp::from_parts(year, 1, 1, 0, 0, 0).map_or(0, Timestamp::day_number);
    (thursday.day_number() - jan1) / 7 + 1
}

impl Item {
    /// Whether the item holds for `event`.
    #[must_use]
    pub fn holds(&self, event: &Event) -> bool {
        let mut values = Values::new();
        self.path.values(event, &mut values);
        let result = if self.all {
            self.tests.iter().all(|t| t.holds(&values, event))
        } else {
            self.tests.iter().any(|t| t.holds(&values, event))
        };
        if self.neq { !result } else { result }
    }

    /// The item in words: `eventName is StopLogging`.
    #[must_use]
    pub fn describe(&self) -> String {
        let field = if self.field.is_empty() {
            "the record"
        } else {
            self.field.as_str()
        };
        let verb = verb(&self.modifiers);
        let joiner = if self.all { " and " } else { " or " };
        let values = self.shown.join(joiner);
        if self.neq {
            format!("{field} is not {values}")
        } else {
            format!("{field} {verb} {values}")
        }
    }
}

fn verb(modifiers: &[String]) -> &'static str {
    let has = |m: &str| modifiers.iter().any(|x| x == m);
    if has("exists") {
        "exists:"
    } else if has("re") {
        "matches regex"
    } else if has("cidr") {
        "is in"
    } else if has("gt") {
        "is greater than"
    } else if has("gte") {
        "is at least"
    } else if has("lt") {
        "is less than"
    } else if has("lte") {
        "is at most"
    } else if has("fieldref") {
        "equals field"
    } else if has("contains") {
        "contains"
    } else if has("startswith") {
        "starts with"
    } else if has("endswith") {
        "ends with"
    } else {
        "is"
    }
}

impl Selection {
    /// Whether the selection holds for `event`.
    #[must_use]
    pub fn holds(&self, event: &Event) -> bool {
        match self {
            Selection::Maps(maps) => maps
                .iter()
                .any(|items| items.iter().all(|i| i.holds(event))),
            Selection::Keywords(item) => item.holds(event),
        }
    }

    /// The selection in words.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Selection::Maps(maps) => {
                let parts: Vec<String> = maps
                    .iter()
                    .map(|items| {
                        items
                            .iter()
                            .map(Item::describe)
                            .collect::<Vec<_>>()
                            .join(" and ")
                    })
                    .collect();
                if parts.len() == 1 {
                    parts.into_iter().next().unwrap_or_default()
                } else {
                    format!("({})", parts.join(") or ("))
                }
            }
            Selection::Keywords(item) => item.describe(),
        }
    }
}

impl Detection {
    /// Whether any condition holds for `event`.
    #[must_use]
    pub fn matches(&self, event: &Event) -> bool {
        self.conditions.iter().any(|c| self.eval(c, event))
    }

    fn eval(&self, expr: &Expr, event: &Event) -> bool {
        match expr {
            Expr::Sel(i) => self.selections.get(*i).is_some_and(|(_, s)| s.holds(event)),
            Expr::Not(inner) => !self.eval(inner, event),
            Expr::And(parts) => parts.iter().all(|p| self.eval(p, event)),
            Expr::Or(parts) => parts.iter().any(|p| self.eval(p, event)),
        }
    }

    /// The condition in plain words, each selection spelled out.
    #[must_use]
    pub fn describe(&self) -> String {
        self.conditions
            .iter()
            .map(|c| self.describe_expr(c, true))
            .collect::<Vec<_>>()
            .join("; or ")
    }

    fn describe_expr(&self, expr: &Expr, top: bool) -> String {
        match expr {
            Expr::Sel(i) => self
                .selections
                .get(*i)
                .map(|(_, s)| s.describe())
                .unwrap_or_default(),
            Expr::Not(inner) => format!("not ({})", self.describe_expr(inner, true)),
            Expr::And(parts) => {
                let s = parts
                    .iter()
                    .map(|p| self.describe_expr(p, false))
                    .collect::<Vec<_>>()
                    .join(" and ");
                if top { s } else { format!("({s})") }
            }
            Expr::Or(parts) => {
                let s = parts
                    .iter()
                    .map(|p| self.describe_expr(p, false))
                    .collect::<Vec<_>>()
                    .join(" or ");
                if top { s } else { format!("({s})") }
            }
        }
    }

    /// The literal values a field must take for any condition to hold (`None`: not
    /// constrained to a literal set). Empty means the detection can never match.
    #[must_use]
    pub fn required_literals(&self, hot: Hot) -> Option<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        for c in &self.conditions {
            out.extend(self.required(c, hot)?);
        }
        Some(out)
    }

    fn required(&self, expr: &Expr, hot: Hot) -> Option<BTreeSet<String>> {
        match expr {
            Expr::Sel(i) => match self.selections.get(*i).map(|(_, s)| s) {
                Some(Selection::Maps(maps)) => {
                    let mut out = BTreeSet::new();
                    for items in maps {
                        let mut set: Option<BTreeSet<String>> = None;
                        for item in items {
                            if let Some(lits) = item_literals(item, hot) {
                                set = Some(match set {
                                    None => lits,
                                    Some(prev) => prev.intersection(&lits).cloned().collect(),
                                });
                            }
                        }
                        out.extend(set?);
                    }
                    Some(out)
                }
                _ => None,
            },
            Expr::Not(_) => None,
            Expr::And(parts) => {
                let mut acc: Option<BTreeSet<String>> = None;
                for p in parts {
                    if let Some(s) = self.required(p, hot) {
                        acc = Some(match acc {
                            None => s,
                            Some(prev) => prev.intersection(&s).cloned().collect(),
                        });
                    }
                }
                acc
            }
            Expr::Or(parts) => {
                let mut out = BTreeSet::new();
                for p in parts {
                    out.extend(self.required(p, hot)?);
                }
                Some(out)
            }
        }
    }
}

/// The literal values an item pins a hot field to, as CloudTrail writes them. Values without
/// an upper-case letter are not taken (case-insensitive matching could reach other spellings).
fn item_literals(item: &Item, hot: Hot) -> Option<BTreeSet<String>> {
    if item.path != FieldPath::Hot(hot) || item.neq || item.all && item.tests.len() > 1 {
        return None;
    }
    let mut out = BTreeSet::new();
    for (test, shown) in item.tests.iter().zip(&item.shown) {
        match test {
            Test::Str {
                pat: StrPat::Exact(_),
                cased,
            } => {
                let literal = shown.clone();
                if !*cased
                    && hot == Hot::EventName
                    && !literal.chars().any(|c| c.is_ascii_uppercase())
                {
                    return None;
                }
                out.insert(literal);
            }
            _ => return None,
        }
    }
    Some(out)
}

struct Mods {
    list: Vec<String>,
}

impl Mods {
    fn has(&self, m: &str) -> bool {
        self.list.iter().any(|x| x == m)
    }
}

/// Compiles a `detection:` node.
///
/// # Errors
/// [`Error::Rule`] (through `err`) for an unknown modifier, a bad value, a bad regex, an
/// unknown selection in the condition, or a condition syntax error.
pub fn compile(
    node: &Node,
    options: &CompileOptions,
    err: &dyn Fn(Loc, String) -> Error,
) -> Result<Detection> {
    let Value::Map(entries) = &node.value else {
        return Err(err(node.loc, "detection must be a mapping".into()));
    };
    let mut selections = Vec::new();
    let mut condition_nodes = None;
    for (key, value) in entries {
        if key.text == "condition" {
            condition_nodes = Some(value);
            continue;
        }
        if key.text == "timeframe" {
            return Err(err(
                key.loc,
                "timeframe is legacy aggregation syntax: write a correlation rule".into(),
            ));
        }
        selections.push((key.text.clone(), compile_selection(value, options, err)?));
    }
    let Some(cond_node) = condition_nodes else {
        return Err(err(node.loc, "detection has no condition".into()));
    };
    let texts: Vec<(String, Loc)> = match &cond_node.value {
        Value::Str(s) => vec![(s.clone(), cond_node.loc)],
        Value::Seq(items) => items
            .iter()
            .map(|n| {
                n.as_str()
                    .map(|s| (s.to_owned(), n.loc))
                    .ok_or_else(|| err(n.loc, "condition must be text".into()))
            })
            .collect::<Result<_>>()?,
        _ => return Err(err(cond_node.loc, "condition must be text".into())),
    };
    let names: Vec<&str> = selections
        .iter()
        .map(|(n, _): &(String, Selection)| n.as_str())
        .collect();
    let mut conditions = Vec::new();
    for (text, loc) in &texts {
        let cond = condition::parse(text).map_err(|e| err(*loc, e.to_string()))?;
        conditions.push(resolve(&cond, &names).map_err(|m| err(*loc, m))?);
    }
    Ok(Detection {
        selections,
        conditions,
        condition_text: texts.into_iter().map(|(t, _)| t).collect(),
    })
}

/// Resolves selection names of a condition against the detection's selections.
pub(crate) fn resolve(cond: &Cond, names: &[&str]) -> std::result::Result<Expr, String> {
    let matching = |pattern: &str| -> std::result::Result<Vec<Expr>, String> {
        let hits: Vec<Expr> = names
            .iter()
            .enumerate()
            .filter(|(_, n)| condition::name_matches(pattern, n))
            .map(|(i, _)| Expr::Sel(i))
            .collect();
        if hits.is_empty() {
            Err(format!(
                "condition refers to {pattern:?}, which matches no selection"
            ))
        } else {
            Ok(hits)
        }
    };
    Ok(match cond {
        Cond::Ident(name) => match names.iter().position(|n| n == name) {
            Some(i) => Expr::Sel(i),
            None => return Err(format!("condition refers to unknown selection {name:?}")),
        },
        Cond::OneOf(p) => Expr::Or(matching(p)?),
        Cond::AllOf(p) => Expr::And(matching(p)?),
        Cond::Not(inner) => Expr::Not(Box::new(resolve(inner, names)?)),
        Cond::And(parts) => Expr::And(
            parts
                .iter()
                .map(|p| resolve(p, names))
                .collect::<std::result::Result<_, _>>()?,
        ),
        Cond::Or(parts) => Expr::Or(
            parts
                .iter()
                .map(|p| resolve(p, names))
                .collect::<std::result::Result<_, _>>()?,
        ),
    })
}

fn compile_selection(
    node: &Node,
    options: &CompileOptions,
    err: &dyn Fn(Loc, String) -> Error,
) -> Result<Selection> {
    match &node.value {
        Value::Map(entries) => Ok(Selection::Maps(vec![compile_map(entries, options, err)?])),
        Value::Seq(items)
            if items.iter().all(|n| matches!(n.value, Value::Map(_))) && !items.is_empty() =>
        {
            let mut maps = Vec::new();
            for n in items {
                if let Value::Map(entries) = &n.value {
                    maps.push(compile_map(entries, options, err)?);
                }
            }
            Ok(Selection::Maps(maps))
        }
        Value::Seq(items) => {
            let values: Vec<&Node> = items.iter().collect();
            Ok(Selection::Keywords(compile_item(
                "",
                &[],
                &values,
                node.loc,
                options,
                err,
            )?))
        }
        _ => Ok(Selection::Keywords(compile_item(
            "",
            &[],
            &[node],
            node.loc,
            options,
            err,
        )?)),
    }
}

fn compile_map(
    entries: &[(crate::yaml::Key, Node)],
    options: &CompileOptions,
    err: &dyn Fn(Loc, String) -> Error,
) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    for (key, value) in entries {
        let mut parts = key.text.split('|');
        let field = parts.next().unwrap_or("").to_owned();
        let mods: Vec<String> = parts.map(str::to_owned).collect();
        let values: Vec<&Node> = match &value.value {
            Value::Seq(items) => items.iter().collect(),
            _ => vec![value],
        };
        items.push(compile_item(&field, &mods, &values, key.loc, options, err)?);
    }
    Ok(items)
}

#[allow(clippy::too_many_lines)]
fn compile_item(
    field: &str,
    modifiers: &[String],
    values: &[&Node],
    loc: Loc,
    options: &CompileOptions,
    err: &dyn Fn(Loc, String) -> Error,
) -> Result<Item> {
    for m in modifiers {
        if !MODIFIERS.contains(&m.as_str()) {
            return Err(err(loc, format!("unknown modifier {m:?}")));
        }
    }
    let mods = Mods {
        list: modifiers.to_vec(),
    };
    let path = FieldPath::parse(field);
    let cased = mods.has("cased");
    let mut tests = Vec::new();
    let mut shown = Vec::new();
    let keyword = field.is_empty();
    for value in values {
        shown.push(value.scalar_text().unwrap_or_else(|| "null".into()));
        if let Value::Null = value.value {
            tests.push(Test::Null);
            continue;
        }
        let Some(text) = value.scalar_text() else {
            return Err(err(
                value.loc,
                "a field value must be a scalar or a list of scalars".into(),
            ));
        };
        if mods.has("exists") {
            let want = match &value.value {
                Value::Bool(b) => *b,
                _ => return Err(err(value.loc, "exists takes true or false".into())),
            };
            tests.push(Test::Exists(want));
            continue;
        }
        let time_part = [
            ("minute", TimePart::Minute),
            ("hour", TimePart::Hour),
            ("day", TimePart::Day),
            ("week", TimePart::Week),
            ("month", TimePart::Month),
            ("year", TimePart::Year),
        ]
        .into_iter()
        .find(|(m, _)| mods.has(m))
        .map(|(_, p)| p);
        let cmp = [
            ("gt", CmpOp::Gt),
            ("gte", CmpOp::Gte),
            ("lt", CmpOp::Lt),
            ("lte", CmpOp::Lte),
        ]
        .into_iter()
        .find(|(m, _)| mods.has(m))
        .map(|(_, o)| o);
        if time_part.is_some() || cmp.is_some() {
            let Ok(n) = text.trim().parse::<f64>() else {
                return Err(err(value.loc, format!("{text:?} is not a number")));
            };
            tests.push(Test::Num {
                part: time_part,
                op: cmp.unwrap_or(CmpOp::Eq),
                value: n,
            });
            continue;
        }
        if mods.has("re") {
            let mut b = regex::RegexBuilder::new(&text);
            b.case_insensitive(mods.has("i"))
                .multi_line(mods.has("m"))
                .dot_matches_new_line(mods.has("s"))
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
                .nest_limit(100);
            let re = b.build().map_err(|e| {
                let first = e
                    .to_string()
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                err(
                    value.loc,
                    format!("bad regular expression {text:?}: {first}"),
                )
            })?;
            tests.push(Test::Re(Box::new(Re::new(re, mods.has("i")))));
            continue;
        }
        if mods.has("cidr") {
            let net = text
                .trim()
                .parse::<IpNet>()
                .or_else(|_| text.trim().parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| err(value.loc, format!("{text:?} is not a CIDR network")))?;
            tests.push(Test::Cidr(net));
            continue;
        }
        if mods.has("fieldref") {
            let pos = if mods.has("contains") {
                Pos::Contains
            } else if mods.has("startswith") {
                Pos::Prefix
            } else if mods.has("endswith") {
                Pos::Suffix
            } else {
                Pos::Exact
            };
            tests.push(Test::FieldRef {
                other: FieldPath::parse(&text),
                pos,
                cased,
            });
            continue;
        }
        // String values: expand placeholders, then apply encodings in order.
        let mut variants: Vec<String> = vec![text.clone()];
        if mods.has("expand") {
            variants = expand(&text, options).map_err(|m| err(value.loc, m))?;
        }
        let mut encoded = false;
        for m in modifiers {
            match m.as_str() {
                "windash" => variants = variants.iter().flat_map(|v| windash(v)).collect(),
                "wide" | "utf16le" | "utf16be" | "utf16" | "base64" | "base64offset" => {
                    encoded = true;
                }
                _ => {}
            }
        }
        let mut pieces_list: Vec<(Vec<Piece>, bool)> = Vec::new();
        if encoded {
            for v in &variants {
                let literal: String = wildcard::pieces(v)
                    .into_iter()
                    .map(|p| match p {
                        Piece::Lit(s) => s,
                        Piece::Star => "*".into(),
                        Piece::One => "?".into(),
                    })
                    .collect();
                let mut bytes: Vec<Vec<u8>> = vec![literal.into_bytes()];
                let mut as_text: Option<Vec<String>> = None;
                let mut is_b64 = false;
                for m in modifiers {
                    match m.as_str() {
                        "wide" | "utf16le" => {
                            bytes = bytes.iter().map(|b| utf16(b, false, false)).collect()
                        }
                        "utf16be" => bytes = bytes.iter().map(|b| utf16(b, true, false)).collect(),
                        "utf16" => bytes = bytes.iter().map(|b| utf16(b, false, true)).collect(),
                        "base64" => {
                            as_text = Some(
                                bytes
                                    .iter()
                                    .map(|b| base64::engine::general_purpose::STANDARD.encode(b))
                                    .collect(),
                            );
                            is_b64 = true;
                        }
                        "base64offset" => {
                            as_text = Some(bytes.iter().flat_map(|b| base64_offsets(b)).collect());
                            is_b64 = true;
                        }
                        _ => {}
                    }
                }
                let texts = as_text.unwrap_or_else(|| {
                    bytes
                        .iter()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .collect()
                });
                for t in texts {
                    pieces_list.push((vec![Piece::Lit(t)], is_b64));
                }
            }
        } else {
            for v in &variants {
                pieces_list.push((wildcard::pieces(v), false));
            }
        }
        for (mut pieces, force_cased) in pieces_list {
            if mods.has("contains") || keyword {
                pieces.insert(0, Piece::Star);
                pieces.push(Piece::Star);
            } else if mods.has("startswith") {
                pieces.push(Piece::Star);
            } else if mods.has("endswith") {
                pieces.insert(0, Piece::Star);
            }
            let c = cased || force_cased;
            pieces.dedup_by(|a, b| *a == Piece::Star && *b == Piece::Star);
            tests.push(Test::Str {
                pat: to_pat(pieces, c),
                cased: c,
            });
        }
    }
    if tests.is_empty() {
        return Err(err(loc, format!("field {field:?} has no values")));
    }
    Ok(Item {
        field: field.to_owned(),
        modifiers: modifiers.to_vec(),
        path,
        tests,
        all: mods.has("all"),
        neq: mods.has("neq"),
        shown,
        loc,
    })
}

fn to_pat(pieces: Vec<Piece>, cased: bool) -> StrPat {
    let lit = |p: &Piece| match p {
        Piece::Lit(s) => Some(lower(s, cased)),
        _ => None,
    };
    match pieces.as_slice() {
        [] => StrPat::Exact(String::new()),
        [Piece::Star] => StrPat::Glob(vec![Piece::Star]),
        [a @ Piece::Lit(_)] => StrPat::Exact(lit(a).unwrap_or_default()),
        [a @ Piece::Lit(_), Piece::Star] => StrPat::Prefix(lit(a).unwrap_or_default()),
        [Piece::Star, a @ Piece::Lit(_)] => StrPat::Suffix(lit(a).unwrap_or_default()),
        [Piece::Star, a @ Piece::Lit(_), Piece::Star] => {
            StrPat::Contains(lit(a).unwrap_or_default())
        }
        _ => StrPat::Glob(
            pieces
                .into_iter()
                .map(|p| match p {
                    Piece::Lit(s) => Piece::Lit(lower(&s, cased)),
                    other => other,
                })
                .collect(),
        ),
    }
}

fn utf16(bytes: &[u8], big_endian: bool, bom: bool) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(&[0xFF, 0xFE]);
    }
    for unit in text.encode_utf16() {
        if big_endian {
            out.extend_from_slice(&unit.to_be_bytes());
        } else {
            out.extend_from_slice(&unit.to_le_bytes());
        }
    }
    out
}

/// The three base64 forms of `bytes` at offsets 0, 1 and 2 of a larger encoded string, with
/// the characters that depend on unknown neighbours trimmed (Sigma's `base64offset`).
fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    (0..3)
        .map(|i| {
            let mut padded = vec![b' '; i];
            padded.extend_from_slice(bytes);
            let enc = base64::engine::general_purpose::STANDARD.encode(&padded);
            let end = match (bytes.len() + i) % 3 {
                0 => enc.len(),
                1 => enc.len().saturating_sub(3),
                _ => enc.len().saturating_sub(2),
            };
            enc.get(START[i]..end.max(START[i]))
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

/// Windows dash variants of every `-` or `/` that starts a word.
fn windash(value: &str) -> Vec<String> {
    const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    let chars: Vec<char> = value.chars().collect();
    let positions: Vec<usize> = chars
        .iter()
        .enumerate()
        .filter(|(i, c)| (**c == '-' || **c == '/') && (*i == 0 || chars[i - 1].is_whitespace()))
        .map(|(i, _)| i)
        .collect();
    if positions.is_empty() {
        return vec![value.to_owned()];
    }
    // Every flag gets the same dash, as Sigma generates them (5 variants, not 5^n).
    DASHES
        .iter()
        .map(|d| {
            let mut c = chars.clone();
            for &p in &positions {
                c[p] = *d;
            }
            c.into_iter().collect()
        })
        .collect()
}

fn expand(text: &str, options: &CompileOptions) -> std::result::Result<Vec<String>, String> {
    let mut out = vec![String::new()];
    let mut rest = text;
    while let Some(start) = rest.find('%') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('%') else { break };
        let name = &after[..end];
        let Some(values) = options.placeholders.get(name) else {
            return Err(format!(
                "placeholder %{name}% has no value (set it in the sigma placeholders configuration)"
            ));
        };
        let prefix = &rest[..start];
        out = out
            .iter()
            .flat_map(|o| values.iter().map(move |v| format!("{o}{prefix}{v}")))
            .collect();
        rest = &after[end + 1..];
    }
    for o in &mut out {
        o.push_str(rest);
    }
    Ok(out)
}

/// The placeholders (`%name%`) a text refers to.
#[must_use]
pub fn placeholders_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('%') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('%') else { break };
        out.push(after[..end].to_owned());
        rest = &after[end + 1..];
    }
    out
}

/// A compact, stable text form of a compiled detection (for snapshots and `--explain`).
#[must_use]
pub fn debug_form(d: &Detection) -> String {
    let mut s = String::new();
    for (name, sel) in &d.selections {
        let _ = writeln!(s, "{name}:");
        match sel {
            Selection::Maps(maps) => {
                for (i, items) in maps.iter().enumerate() {
                    let _ = writeln!(s, "  map {i}:");
                    for item in items {
                        let _ = writeln!(s, "    {}", item_debug(item));
                    }
                }
            }
            Selection::Keywords(item) => {
                let _ = writeln!(s, "  keywords: {}", item_debug(item));
            }
        }
    }
    for c in &d.conditions {
        let _ = writeln!(s, "condition: {}", expr_debug(c, d));
    }
    s
}

fn item_debug(item: &Item) -> String {
    let path = match &item.path {
        FieldPath::Hot(h) => format!("hot:{h:?}"),
        FieldPath::Json(p) => format!("json:{}", p.join(".")),
        FieldPath::Raw => "raw".into(),
    };
    let tests: Vec<String> = item.tests.iter().map(test_debug).collect();
    let mode = match (item.all, item.neq) {
        (_, true) => "none of",
        (true, false) => "all of",
        (false, false) => "any of",
    };
    format!("{path} {mode} [{}]", tests.join(", "))
}

fn test_debug(t: &Test) -> String {
    match t {
        Test::Str { pat, cased } => {
            let c = if *cased { "cased " } else { "" };
            match pat {
                StrPat::Exact(p) => format!("{c}eq {p:?}"),
                StrPat::Prefix(p) => format!("{c}prefix {p:?}"),
                StrPat::Suffix(p) => format!("{c}suffix {p:?}"),
                StrPat::Contains(p) => format!("{c}contains {p:?}"),
                StrPat::Glob(p) => format!("{c}glob {p:?}"),
            }
        }
        Test::Re(r) => format!("re {:?}", r.as_str()),
        Test::Cidr(n) => format!("cidr {n}"),
        Test::Num { part, op, value } => format!("{part:?} {op:?} {value}"),
        Test::Null => "null".into(),
        Test::Exists(b) => format!("exists {b}"),
        Test::FieldRef { other, pos, cased } => format!("fieldref {other:?} {pos:?} cased={cased}"),
    }
}

fn expr_debug(e: &Expr, d: &Detection) -> String {
    match e {
        Expr::Sel(i) => d
            .selections
            .get(*i)
            .map(|(n, _)| n.clone())
            .unwrap_or_default(),
        Expr::Not(x) => format!("not {}", expr_debug(x, d)),
        Expr::And(p) => format!(
            "({})",
            p.iter()
                .map(|x| expr_debug(x, d))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
        Expr::Or(p) => format!(
            "({})",
            p.iter()
                .map(|x| expr_debug(x, d))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_prefilter_literal_is_required_by_every_match() {
        assert_eq!(
            required_literal(".+:assumed-role/aws:.+", false).as_deref(),
            Some(":assumed-role/aws:")
        );
        assert_eq!(
            required_literal("^(arn:aws:iam::)[0-9]+", false).as_deref(),
            Some("arn:aws:iam::")
        );
        for none in ["abc|def", "(abc)+", "a?", "[ab]+", ".*"] {
            assert_eq!(required_literal(none, false), None, "{none}");
        }
        assert_eq!(required_literal("(?i)abc", false), None);
        assert_eq!(required_literal("abc", true), None);
        let re = Re::new(regex::Regex::new(".+:assumed-role/aws:.+").unwrap(), false);
        assert!(re.is_match("arn:aws:sts::1:assumed-role/aws:ec2-instance/i-1"));
        assert!(!re.is_match("arn:aws:sts::1:assumed-role/app/i-1"));
    }
}
