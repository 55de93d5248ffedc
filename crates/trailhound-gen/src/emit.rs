//! Collects rendered records of one account-day, and the labels of scenario records.

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::record::{Call, render, time_string};

/// One rendered record.
#[derive(Debug, Clone)]
pub(crate) struct Rendered {
    pub(crate) time: i64,
    pub(crate) seq: u32,
    pub(crate) region: &'static str,
    pub(crate) json: String,
}

/// One labelled scenario event, a line of `labels.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// Scenario name.
    pub scenario: String,
    /// `eventID`.
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// `eventTime`.
    #[serde(rename = "eventTime")]
    pub event_time: String,
    /// `eventName`.
    #[serde(rename = "eventName")]
    pub event_name: String,
    /// `recipientAccountId`.
    pub account: String,
    /// Principal ARN (or the service name).
    pub principal: String,
}

/// Renders calls for one account-day.
pub(crate) struct Emitter {
    pub(crate) rng: ChaCha8Rng,
    buf: String,
    pub(crate) out: Vec<Rendered>,
    pub(crate) labels: Vec<Label>,
}

impl Emitter {
    pub(crate) fn new(rng: ChaCha8Rng) -> Self {
        Emitter {
            rng,
            buf: String::with_capacity(4096),
            out: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// Renders a benign call.
    pub(crate) fn emit(&mut self, call: &Call<'_>, region: &'static str) -> String {
        let id = render(&mut self.buf, call, &mut self.rng);
        let seq = u32::try_from(self.out.len()).unwrap_or(u32::MAX);
        self.out.push(Rendered {
            time: call.time,
            seq,
            region,
            json: self.buf.clone(),
        });
        id
    }

    /// Renders a scenario call and labels it.
    pub(crate) fn emit_labelled(
        &mut self,
        call: &Call<'_>,
        region: &'static str,
        scenario: &str,
        principal: &str,
    ) -> String {
        let id = self.emit(call, region);
        self.labels.push(Label {
            scenario: scenario.to_owned(),
            event_id: id.clone(),
            event_time: time_string(call.time),
            event_name: call.name.to_owned(),
            account: call.account.to_owned(),
            principal: principal.to_owned(),
        });
        id
    }
}
