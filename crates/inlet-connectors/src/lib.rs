//! inlet's sources: one shared HTTP scaffold and a connector per SaaS API.
