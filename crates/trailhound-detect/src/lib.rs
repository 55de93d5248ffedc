//! trailhound's detection engine.
//!
//! Every detection technique implements one trait, [`Detector`]: it declares which events it
//! wants ([`Interest`]), sees each of them in event-time order ([`Detector::observe`]), and
//! closes its windows when event time moves on ([`Detector::advance`]). The [`Engine`] routes
//! each event by `eventName` to the detectors that asked for it, so an event touches only its
//! candidates; detectors that need every event are kept in a fallback list.
//!
//! ```
//! use trailhound_core::{Alert, Event, Origin, RuleKind, RuleRef, Severity};
//! use trailhound_detect::{Detector, Engine, Interest};
//!
//! struct StopLogging;
//! impl Detector for StopLogging {
//!     fn id(&self) -> &str { "TH0000" }
//!     fn interest(&self) -> Interest { Interest::event_names(["StopLogging"]) }
//!     fn observe(&mut self, event: &Event, out: &mut Vec<Alert>) {
//!         let rule = RuleRef { id: "TH0000".into(), name: "example".into(),
//!             kind: RuleKind::Builtin, author: None };
//!         out.push(Alert::for_event(rule, Severity::High, "stopped".into(), "why".into(), event));
//!     }
//! }
//! let mut engine = Engine::new(vec![Box::new(StopLogging)]);
//! let raw = r#"{"eventTime":"2026-01-02T03:04:05Z","eventSource":"cloudtrail.amazonaws.com",
//!               "eventName":"StopLogging","eventID":"e1"}"#;
//! let event = Event::from_json(raw, Origin::new("inline", 0)).unwrap();
//! let mut alerts = Vec::new();
//! engine.process(&event, &mut alerts);
//! assert_eq!(alerts.len(), 1);
//! ```

pub mod anomaly;
mod catalogue;
mod detector;
mod engine;
mod error;
pub mod eventbridge;
mod glob;
pub mod intel;
pub mod metric_filter;
pub mod policy;
mod prefilter;
mod resource;
pub mod sigma;
pub mod trap;
pub mod tuning;

pub use catalogue::{
    BuiltinRule, Catalogue, CatalogueEntry, CatalogueFilter, EXTENSION_KEY, RuleDoc,
    attack_tactics, attack_techniques, builtin_detectors, builtin_docs, builtin_rule_files,
    builtin_rules, parse_builtin_rule, tactics_of_techniques,
};
pub use detector::{Detector, Interest};
pub use engine::{AlertKey, DEFAULT_LATENESS_MS, Engine, EngineStats, KeyedAlert, merge_keyed};
pub use error::{Error, Result};
