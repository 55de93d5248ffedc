//! The string dictionary: every repeated string of the typed event columns (source, region,
//! account, principal, key, session, IP, user agent, error…) is stored once in `dict` and
//! referenced by its integer id, which keeps event rows around 50 bytes.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::Connection;

use crate::{Result, sql};

/// The dictionary held in memory: id → string and string → id.
#[derive(Debug, Default)]
pub(crate) struct Dict {
    strings: Vec<Option<Arc<str>>>,
    /// foldhash: every append looks up about a dozen strings per event here, and SipHash was
    /// a measurable part of the append.
    ids: HashMap<Arc<str>, i64, foldhash::fast::RandomState>,
    /// Ids handed out by [`Dict::intern`] and not yet written to the database.
    pending: Vec<i64>,
}

impl Dict {
    /// Loads the whole dictionary.
    pub(crate) fn load(conn: &Connection) -> Result<Dict> {
        let mut dict = Dict::default();
        let mut stmt = conn
            .prepare("SELECT id, s FROM dict")
            .map_err(sql("reading the dictionary"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(sql("reading the dictionary"))?;
        for row in rows {
            let (id, s) = row.map_err(sql("reading a dictionary entry"))?;
            dict.learn(id, &s);
        }
        Ok(dict)
    }

    /// Learns the entries another writer committed since this dictionary was loaded; called
    /// at the start of a write transaction, so no id is handed out twice.
    pub(crate) fn refresh(&mut self, conn: &Connection) -> Result<()> {
        let mut stmt = conn
            .prepare_cached("SELECT id, s FROM dict WHERE id > ?1")
            .map_err(sql("reading the dictionary"))?;
        let rows = stmt
            .query_map([self.strings.len() as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(sql("reading the dictionary"))?;
        for row in rows {
            let (id, s) = row.map_err(sql("reading a dictionary entry"))?;
            self.learn(id, &s);
        }
        Ok(())
    }

    /// The string of `id`.
    pub(crate) fn get(&self, id: i64) -> Option<&Arc<str>> {
        let index = usize::try_from(id.checked_sub(1)?).ok()?;
        self.strings.get(index)?.as_ref()
    }

    /// The id of `s`, if known.
    pub(crate) fn id(&self, s: &str) -> Option<i64> {
        self.ids.get(s).copied()
    }

    /// Records a stored entry.
    pub(crate) fn learn(&mut self, id: i64, s: &str) {
        let Some(index) = id.checked_sub(1).and_then(|i| usize::try_from(i).ok()) else {
            return;
        };
        if self.strings.len() <= index {
            self.strings.resize(index + 1, None);
        }
        let s: Arc<str> = Arc::from(s);
        self.ids.insert(Arc::clone(&s), id);
        self.strings[index] = Some(s);
    }

    /// The id of `s`, assigning a new one (written by [`Dict::flush`]) when unknown.
    pub(crate) fn intern(&mut self, s: &str) -> i64 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = self.strings.len() as i64 + 1;
        let s: Arc<str> = Arc::from(s);
        self.ids.insert(Arc::clone(&s), id);
        self.strings.push(Some(s));
        self.pending.push(id);
        id
    }

    /// [`Dict::intern`] for an optional, non-empty string.
    pub(crate) fn intern_opt(&mut self, s: Option<&str>) -> Option<i64> {
        s.filter(|s| !s.is_empty()).map(|s| self.intern(s))
    }

    /// Writes the new entries inside the caller's transaction.
    pub(crate) fn flush(&mut self, conn: &Connection) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut insert = conn
            .prepare_cached("INSERT INTO dict (id, s) VALUES (?1, ?2)")
            .map_err(sql("preparing the dictionary insert"))?;
        for id in &self.pending {
            if let Some(s) = self.get(*id) {
                insert
                    .execute(rusqlite::params![id, s.as_ref()])
                    .map_err(sql("storing a dictionary entry"))?;
            }
        }
        self.pending.clear();
        Ok(())
    }

    /// Forgets the entries of a transaction that was rolled back.
    pub(crate) fn rollback(&mut self, committed_len: usize) {
        for s in self
            .strings
            .drain(committed_len.min(self.strings.len())..)
            .flatten()
        {
            self.ids.remove(&s);
        }
        self.pending.clear();
    }

    /// The number of id slots (the next id is this plus one).
    pub(crate) fn len(&self) -> usize {
        self.strings.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intern_learn_and_rollback() {
        let mut dict = Dict::default();
        let a = dict.intern("a");
        assert_eq!(dict.intern("a"), a);
        let committed = dict.len();
        let b = dict.intern("b");
        assert_eq!(dict.get(b).map(|s| s.as_ref()), Some("b"));
        dict.rollback(committed);
        assert_eq!(dict.id("b"), None);
        assert_eq!(dict.id("a"), Some(a));
        dict.learn(5, "e");
        assert_eq!(dict.get(5).map(|s| s.as_ref()), Some("e"));
        assert_eq!(dict.get(4), None);
        assert_eq!(dict.intern("f"), 6);
    }
}
