//! Salesforce (REST API and Bulk API 2.0): the pieces that do not depend on the source seam
//! yet, so they can be reviewed and tested on their own: how describe becomes typed columns
//! ([`schema`]), the SOQL of keyset paging on `(SystemModstamp, Id)` ([`soql`]), Bulk API
//! 2.0 CSV ([`csv`]) and a sync's share of the org's daily API allocation ([`allowance`]).
//! Not wired into the binary and not registered as a source.

pub mod allowance;
pub mod csv;
pub mod schema;
pub mod soql;
