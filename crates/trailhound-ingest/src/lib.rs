//! trailhound-ingest.
