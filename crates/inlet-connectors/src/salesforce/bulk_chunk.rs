//! One chunk of a Bulk query job's results, read from its answer a page at a time.
//!
//! A chunk holds up to the `maxRecords` asked for (Salesforce may send fewer), and even a
//! few thousand wide rows made into records take far more memory than their CSV. So a
//! chunk is never held whole: its body is parsed as it arrives ([`super::csv::Reader`])
//! and handed on in pages of at most [`PAGE_VALUES`] values (rows times columns) or about
//! [`PAGE_BYTES`] of CSV, whichever comes first; the rest waits in the network until the
//! next page is asked for. What one chunk holds is thus bounded by a page, whatever the
//! chunk's size, the object's, or how wide its rows are.
//!
//! After a crash the chunk is asked for again at the same locator (its rows and their
//! order are fixed while the job exists) and the rows already written are skipped.

use futures_util::StreamExt;
use inlet_core::Record;

use super::bulk_rows::Shape;
use super::csv::{self, Values};
use super::table::ObjectTable;
use crate::http::Body;

/// The most values (rows times columns) in a page. A record costs a couple of hundred
/// bytes a value even when empty (its column name, a JSON value, a map entry), and a page
/// is in memory several times over: pages being read (one per job), queued for the writer
/// (the engine's read-ahead) and being written. 25,000 values (about 550 Accounts of 45
/// columns) keep all of them under 50 MB at 100,000 Accounts; 2,000-row pages held 120 MB
/// (BENCHMARKS.md, Salesforce).
pub const PAGE_VALUES: usize = 25_000;

/// A page ends once this much CSV is read, however few its values (long text).
pub const PAGE_BYTES: u64 = 1 << 20;

/// A chunk whose answer is open.
pub struct OpenChunk {
    /// The chunk's own locator (`None`: the first chunk).
    pub locator: Option<String>,
    /// The locator of the chunk after it (`None`: it is the last).
    pub next: Option<String>,
    /// Rows of it read so far.
    pub rows: u64,
    body: Body,
    csv: csv::Reader,
    shape: Option<Shape>,
    /// A row read ahead to learn whether the chunk has more.
    ahead: Option<Values>,
}

/// Why a chunk could not be read: its answer was cut off, or is not well-formed CSV.
#[derive(Debug, PartialEq, Eq)]
pub enum Unread {
    Cut(String),
    Malformed(String),
}

impl OpenChunk {
    pub fn new(locator: Option<String>, next: Option<String>, body: Body) -> OpenChunk {
        OpenChunk {
            locator,
            next,
            rows: 0,
            body,
            csv: csv::Reader::new(b','),
            shape: None,
            ahead: None,
        }
    }

    /// Reads past the first `rows` rows: those already written from an earlier reading.
    pub async fn skip(&mut self, table: &ObjectTable, rows: u64) -> Result<(), Unread> {
        while self.rows < rows {
            if self.row(table).await?.is_none() {
                let said = format!("it has {} rows, {rows} were read before", self.rows);
                return Err(Unread::Malformed(said));
            }
        }
        Ok(())
    }

    /// The next page's records, and whether the chunk is read to its end with them.
    pub async fn page(&mut self, table: &ObjectTable) -> Result<(Vec<Record>, bool), Unread> {
        let mut records = Vec::new();
        let from = self.csv.read();
        while records.len() < self.page_rows() && self.csv.read() - from < PAGE_BYTES {
            let Some(row) = self.row(table).await? else {
                return Ok((records, true));
            };
            let Some(shape) = &self.shape else {
                return Err(Unread::Malformed("no header row".into()));
            };
            let record = shape.record(table, row, self.rows);
            records.push(record.map_err(Unread::Malformed)?);
        }
        // One row ahead, so the page that ends the chunk says so (not an empty page after).
        self.ahead = self.next_row().await?;
        let ended = self.ahead.is_none();
        Ok((records, ended))
    }

    /// The most rows in a page: [`PAGE_VALUES`] by the chunk's width, at least one.
    fn page_rows(&self) -> usize {
        let width = self.shape.as_ref().map_or(1, Shape::width).max(1);
        (PAGE_VALUES / width).max(1)
    }

    /// Bytes of the answer held, not yet read as rows.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.csv.held()
    }

    /// The next row (the header first read into the shape), counted; `None` after the last.
    async fn row(&mut self, table: &ObjectTable) -> Result<Option<Values>, Unread> {
        if self.shape.is_none() {
            let header = self.next_row().await?;
            let header = header.ok_or_else(|| Unread::Malformed("no header row".into()))?;
            let header = header.into_iter().map(Option::unwrap_or_default).collect();
            self.shape = Some(Shape::new(table, header));
        }
        let row = match self.ahead.take() {
            Some(row) => Some(row),
            None => self.next_row().await?,
        };
        let Some(row) = row else { return Ok(None) };
        self.rows += 1;
        let width = self.shape.as_ref().map_or(0, Shape::width);
        if row.len() != width {
            return Err(Unread::Malformed(csv::width(
                self.rows as usize,
                row.len(),
                width,
            )));
        }
        Ok(Some(row))
    }

    /// The next CSV record, waiting for more of the body while it is cut between pieces.
    async fn next_row(&mut self) -> Result<Option<Values>, Unread> {
        loop {
            if let Some(record) = self.csv.record().map_err(Unread::Malformed)? {
                return Ok(Some(record));
            }
            if self.csv.ended() {
                return Ok(None);
            }
            match self.body.next().await {
                Some(Ok(bytes)) => self.csv.feed(&bytes),
                Some(Err(cut)) => return Err(Unread::Cut(cut)),
                None => self.csv.end(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::salesforce::schema;
    use bytes::Bytes;
    use inlet_core::Change;
    use serde_json::json;

    fn table() -> ObjectTable {
        let describe = json!({"fields": [
            {"name": "Id", "type": "id"},
            {"name": "Description", "type": "textarea"},
            {"name": "Seats__c", "type": "int"},
            {"name": "SystemModstamp", "type": "datetime"},
        ]});
        ObjectTable::new("Invoice__c", schema::columns(&describe).expect("columns"))
    }

    /// A chunk of `rows` rows with `text` as each description, as a body arriving in
    /// pieces of 1,000 bytes; the pieces are made as they are taken, as the network would.
    fn chunk(rows: usize, text: &'static str) -> Body {
        let header = "\"Id\",\"Description\",\"Seats__c\",\"SystemModstamp\"\n".to_string();
        let lines = (1..=rows).map(move |n| {
            format!("\"a00{n:015}\",\"{text}\",\"{n}\",\"2024-05-20T20:49:32.000Z\"\n")
        });
        let bytes = std::iter::once(header)
            .chain(lines)
            .flat_map(String::into_bytes);
        let mut bytes = bytes.peekable();
        Box::pin(futures_util::stream::iter(std::iter::from_fn(move || {
            bytes.peek()?;
            Some(Ok(Bytes::from(
                bytes.by_ref().take(1_000).collect::<Vec<u8>>(),
            )))
        })))
    }

    fn seats(record: &Record) -> i64 {
        let Change::Upsert(row) = &record.change else {
            panic!("an upsert")
        };
        row["seats__c"].as_i64().expect("seats")
    }

    #[tokio::test]
    async fn a_large_chunk_is_read_in_pages_of_bounded_size_holding_little_of_its_body() {
        let table = table();
        let mut open = OpenChunk::new(None, None, chunk(25_000, "short"));
        let (mut seen, mut pages) = (0, 0);
        loop {
            let (records, ended) = open.page(&table).await.expect("page");
            pages += 1;
            assert!(
                records.len() <= PAGE_VALUES / 4,
                "{} records",
                records.len()
            );
            assert!(open.held() <= 2_000, "{} bytes held", open.held());
            for record in &records {
                seen += 1;
                assert_eq!(seats(record), seen, "every row once, in order");
            }
            if ended {
                break;
            }
        }
        // 6,250 rows of 4 values a page.
        assert_eq!((seen, pages), (25_000, 4), "no empty page at the end");
        // Wide rows: a page ends on its bytes long before its row count.
        let wide = "x".repeat(100_000).leak();
        let mut open = OpenChunk::new(None, None, chunk(100, wide));
        let (records, ended) = open.page(&table).await.expect("page");
        assert!(!ended);
        // Rows of 100,055 bytes: the page ends with the row that passes 1 MiB.
        assert_eq!(records.len() as u64, PAGE_BYTES / 100_055 + 1);
    }

    #[tokio::test]
    async fn a_chunk_read_again_goes_on_after_the_rows_already_read() {
        let table = table();
        let mut first = OpenChunk::new(None, None, chunk(15_000, "a"));
        let (records, _) = first.page(&table).await.expect("page");
        let mut again = OpenChunk::new(None, None, chunk(15_000, "a"));
        again.skip(&table, first.rows).await.expect("skip");
        let (after, _) = again.page(&table).await.expect("page");
        let (after_first, _) = first.page(&table).await.expect("page");
        assert_eq!(records.len(), PAGE_VALUES / 4);
        assert_eq!(after, after_first);
        assert_eq!(seats(&after[0]), (PAGE_VALUES / 4) as i64 + 1);
        let mut short = OpenChunk::new(None, None, chunk(10, "a"));
        assert_eq!(
            short.skip(&table, 11).await,
            Err(Unread::Malformed(
                "it has 10 rows, 11 were read before".into()
            ))
        );
    }
}
