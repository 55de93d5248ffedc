//! trailhound-server.
