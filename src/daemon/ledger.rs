//! The firewall backends' ledger (ban/owner.rs) kept in state.db's
//! `firewall_objects`: an object is on record before it is made, off record after it
//! is removed. The only daemon code that writes that table.

use crate::ban::{Ledger, Object};
use crate::state::{ObjectLog, StateError, Store};
use std::collections::BTreeSet;

pub(crate) struct StateLedger {
    log: ObjectLog,
    made: BTreeSet<Object>,
    trusts_looks: bool,
}

impl StateLedger {
    /// The record of `backend`'s objects. An empty record trusts looks: a first start,
    /// an upgrade from a banjo that kept none, a state file that was lost.
    pub(crate) fn open(store: &Store, backend: &str) -> Result<StateLedger, StateError> {
        let log = store.object_log(backend)?;
        let rows = log.load().map_err(|source| StateError::Sqlite {
            what: "reading firewall objects",
            path: store.path().to_path_buf(),
            source,
        })?;
        let made: BTreeSet<Object> = rows
            .iter()
            .filter_map(|(kind, name)| Object::from_parts(kind, name))
            .collect();
        Ok(StateLedger {
            log,
            trusts_looks: made.is_empty() || store.objects_new(),
            made,
        })
    }
}

impl Ledger for StateLedger {
    fn made(&self, obj: &Object) -> bool {
        self.made.contains(obj)
    }

    fn record(&mut self, obj: &Object) -> Result<(), String> {
        if self.made.contains(obj) {
            return Ok(());
        }
        let (kind, name) = obj.parts();
        self.log.insert(kind, name).map_err(|e| e.to_string())?;
        self.made.insert(obj.clone());
        Ok(())
    }

    fn forget(&mut self, obj: &Object) {
        if !self.made.remove(obj) {
            return;
        }
        let (kind, name) = obj.parts();
        if let Err(e) = self.log.delete(kind, name) {
            // A stale row only makes banjo look for an object that is not there.
            tracing::warn!("forgetting {obj} in the state file: {e}");
        }
    }

    fn trusts_looks(&self) -> bool {
        self.trusts_looks
    }
}
