//! trailhound-sigma: a Sigma 2 engine for CloudTrail.
//!
//! Rules are parsed from YAML ([`rule::parse_file`], collections with `action: global`,
//! `reset` and `repeat`), compiled into matchers ([`RuleSet::compile`]) with an eventName
//! routing index, and evaluated with correlation state on event time ([`Evaluator`]).
//! [`lint`] checks rules against the CloudTrail record schema.
//!
//! ```
//! use trailhound_core::{Event, Origin};
//! use trailhound_sigma::{Evaluator, Hit, RuleSet, SigmaConfig};
//!
//! let rule = r#"
//! title: CloudTrail logging stopped
//! id: 00000000-0000-4000-8000-000000000001
//! logsource: {product: aws, service: cloudtrail}
//! detection:
//!   selection:
//!     eventSource: cloudtrail.amazonaws.com
//!     eventName: [StopLogging, DeleteTrail]
//!   condition: selection
//! level: high
//! "#;
//! let set = RuleSet::from_texts([("stop.yml", rule)], &SigmaConfig::default()).unwrap();
//! assert_eq!(set.event_names(), Some(vec!["DeleteTrail".to_owned(), "StopLogging".to_owned()]));
//! let mut eval = Evaluator::new(set);
//! let raw = r#"{"eventTime":"2026-01-02T03:04:05Z","eventSource":"cloudtrail.amazonaws.com",
//!   "eventName":"StopLogging","eventID":"e1"}"#;
//! let event = Event::from_json(raw, Origin::new("inline", 0)).unwrap();
//! let mut hits = Vec::new();
//! eval.observe(&event, &mut hits);
//! assert!(matches!(&hits[0], Hit::Rule { rule, .. } if rule.doc.title == "CloudTrail logging stopped"));
//! ```

pub mod condition;
pub mod correlation;
pub mod detection;
pub mod error;
pub mod evaluator;
pub mod field;
pub mod lint;
pub mod rule;
pub mod ruleset;
pub mod template;
pub mod wildcard;
pub mod yaml;

pub use correlation::{CorrelationDef, CorrelationHit, CorrelationType};
pub use detection::CompileOptions;
pub use error::{Error, Loc, Result};
pub use evaluator::{Evaluator, Hit};
pub use lint::{DiagSeverity, Diagnostic, lint_sources};
pub use rule::{DocKind, SigmaDoc, parse_file};
pub use ruleset::{
    CompiledRule, RuleSet, RuleSource, SigmaConfig, attack_ids, level_severity, read_dirs,
};
