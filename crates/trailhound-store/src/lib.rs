//! trailhound-store.
