//! HubSpot (CRM v3, associations v4): the pieces that do not depend on the source seam yet,
//! so they can be reviewed and tested on their own: how properties become typed columns
//! ([`schema`]) and how modified-date search windows are planned around search's
//! 10,000-result cap and indexing lag ([`window`]). Not wired into the binary.

pub mod schema;
pub mod time;
pub mod window;
