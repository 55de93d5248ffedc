//! trailhound-sigma.
