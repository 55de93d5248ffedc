use trailhound_core::{Alert, Event, SmallStr, Timestamp};

use crate::Result;

/// Which events a detector wants to see.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Interest {
    /// The exact `eventName`s; `None` means every event.
    pub event_names: Option<Vec<SmallStr>>,
}

impl Interest {
    /// Every event (anomaly detectors, rules without a literal eventName).
    #[must_use]
    pub fn all() -> Self {
        Interest { event_names: None }
    }

    /// Only these event names.
    #[must_use]
    pub fn event_names<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Interest {
            event_names: Some(
                names
                    .into_iter()
                    .map(|n| SmallStr::new(n.as_ref()))
                    .collect(),
            ),
        }
    }
}

/// One detection technique (a Sigma rule set, a native rule, an anomaly model…).
///
/// Detectors are synchronous and push-based. They see events in event-time order (as far as
/// the input allows) and never read the wall clock, so replaying logs gives the same alerts
/// as live ingestion.
pub trait Detector: Send {
    /// A stable id for logs, state files and stats (a rule id or a family name).
    fn id(&self) -> &str;

    /// Which events to route here; asked once, when the engine is built.
    fn interest(&self) -> Interest;

    /// Sees one event; pushes any alerts it raises.
    fn observe(&mut self, event: &Event, out: &mut Vec<Alert>);

    /// True for detectors that learn baselines over the whole stream (the anomaly family):
    /// per-event work that is state updates rather than matching. Callers of
    /// [`crate::Engine::partition`] use it to balance threads.
    fn learns_baselines(&self) -> bool {
        false
    }

    /// Event time has reached `watermark`: close windows that end before it. Called with
    /// [`Timestamp::MAX`] at the end of input.
    fn advance(&mut self, _watermark: Timestamp, _out: &mut Vec<Alert>) {}

    /// The detector's learned state, for `--state` files and daemon checkpoints. `None` for
    /// stateless detectors.
    fn save_state(&self) -> Option<serde_json::Value> {
        None
    }

    /// Restores state saved by [`Detector::save_state`].
    ///
    /// # Errors
    /// When the state is not of this detector's format or version.
    fn load_state(&mut self, _state: serde_json::Value) -> Result<()> {
        Ok(())
    }
}
