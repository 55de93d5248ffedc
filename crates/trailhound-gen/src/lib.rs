//! trailhound-gen.
