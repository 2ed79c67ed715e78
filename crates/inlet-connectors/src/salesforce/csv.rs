//! Bulk API 2.0 query results: CSV with a header row, every value in double quotes (a
//! quote inside doubled, line breaks kept inside), a null as an empty unquoted field.
//! An empty *quoted* field is an empty string, kept apart from null, although Salesforce
//! stores empty text as null and so never writes one. Lines end in LF or CRLF.
//!
//! Results are read as they arrive ([`Reader`]): bytes go in as the network hands them
//! over, whole records come out, and only the unread tail (at most one record and one
//! network piece) is held, so a chunk of any size is read in bounded memory.

/// A chunk of results: the header and its rows, `None` for a null.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub header: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// One record's values, `None` for a null.
pub type Values = Vec<Option<String>>;

/// CSV read piece by piece: [`Reader::feed`] what arrived, take [`Reader::record`]s until
/// it asks for more, [`Reader::end`] when nothing more will come.
#[derive(Debug)]
pub struct Reader {
    delimiter: u8,
    buf: Vec<u8>,
    /// Bytes of `buf` already read as records.
    at: usize,
    /// Bytes read as records since the start.
    read: u64,
    /// The line the next record starts on, for errors.
    line: usize,
    ended: bool,
}

impl Reader {
    /// A reader of values separated by `delimiter` (an ASCII character, as every Bulk
    /// delimiter is).
    pub fn new(delimiter: u8) -> Reader {
        Reader {
            delimiter,
            buf: Vec::new(),
            at: 0,
            read: 0,
            line: 1,
            ended: false,
        }
    }

    /// Takes the next piece of the text.
    pub fn feed(&mut self, bytes: &[u8]) {
        // What is read is dropped first, so the buffer holds only what is not.
        self.buf.drain(..self.at);
        self.at = 0;
        self.buf.extend_from_slice(bytes);
    }

    /// Nothing more will come: the tail is read as the last record.
    pub fn end(&mut self) {
        self.ended = true;
    }

    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Bytes held that are not read as records yet.
    pub fn held(&self) -> usize {
        self.buf.len() - self.at
    }

    /// Bytes read as records since the start.
    pub fn read(&self) -> u64 {
        self.read
    }

    /// The next whole record; `None` when the rest has not arrived yet (or, after
    /// [`Reader::end`], when there is no more). An error in plain words for malformed text
    /// (an unclosed quote, text after a closing quote).
    pub fn record(&mut self) -> Result<Option<Values>, String> {
        let rest = &self.buf[self.at..];
        if rest.is_empty() {
            return Ok(None);
        }
        let (d, ended) = (self.delimiter, self.ended);
        let mut values = Vec::new();
        let mut i = 0;
        let mut lines = 0;
        loop {
            // One value.
            let value = if rest[i..].first() == Some(&b'"') {
                i += 1;
                let mut value = Vec::new();
                loop {
                    let Some(q) = rest[i..].iter().position(|&c| c == b'"') else {
                        if ended {
                            let line = self.line + lines;
                            return Err(format!("line {line}: a quoted value is not closed"));
                        }
                        return Ok(None);
                    };
                    lines += rest[i..i + q].iter().filter(|&&c| c == b'\n').count();
                    value.extend_from_slice(&rest[i..i + q]);
                    i += q + 1;
                    match rest.get(i) {
                        // A doubled quote is one quote inside the value.
                        Some(b'"') => {
                            value.push(b'"');
                            i += 1;
                        }
                        // Either the closing quote or the first of a pair: wait and see.
                        None if !ended => return Ok(None),
                        _ => break,
                    }
                }
                Some(text(value))
            } else {
                let start = i;
                let len = rest[i..]
                    .iter()
                    .position(|&c| c == d || c == b'\n' || c == b'\r');
                match len {
                    Some(len) => i += len,
                    None if ended => i = rest.len(),
                    None => return Ok(None),
                }
                (i > start).then(|| text(rest[start..i].to_vec()))
            };
            values.push(value);
            match rest.get(i) {
                Some(&c) if c == d => i += 1,
                Some(b'\n') => {
                    i += 1;
                    lines += 1;
                    break;
                }
                Some(b'\r') if rest.get(i + 1) == Some(&b'\n') => {
                    i += 2;
                    lines += 1;
                    break;
                }
                Some(b'\r') if i + 1 == rest.len() && !ended => return Ok(None),
                None if ended => break,
                None => return Ok(None),
                Some(&c) => {
                    let line = self.line + lines;
                    return Err(format!(
                        "line {line}: {:?} after a closing quote",
                        c as char
                    ));
                }
            }
        }
        self.at += i;
        self.read += i as u64;
        self.line += lines;
        Ok(Some(values))
    }
}

/// Bytes as text: whole values are whole characters, as every delimiter, quote and line
/// break is ASCII; anything not UTF-8 is replaced rather than refused.
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Parses one whole chunk; an error in plain words for a malformed one (an unclosed quote,
/// text after a closing quote, a row of the wrong width).
pub fn parse(text: &str, delimiter: char) -> Result<Chunk, String> {
    let delimiter = u8::try_from(delimiter)
        .map_err(|_| format!("the delimiter {delimiter:?} is not an ASCII character"))?;
    let mut reader = Reader::new(delimiter);
    reader.feed(text.as_bytes());
    reader.end();
    let header: Vec<String> = reader
        .record()?
        .ok_or("the results have no header row")?
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    let mut rows = Vec::new();
    while let Some(row) = reader.record()? {
        if row.len() != header.len() {
            return Err(width(rows.len() + 1, row.len(), header.len()));
        }
        rows.push(row);
    }
    Ok(Chunk { header, rows })
}

/// A row of the wrong width, in plain words.
pub fn width(row: usize, values: usize, columns: usize) -> String {
    format!("row {row} has {values} values for {columns} columns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_multi_line_values_and_empty_versus_null_are_read_as_written() {
        let text = "\"Id\",\"Description\",\"Amount\"\n\"001A\",\"said \"\"hi\"\", left\nsecond line\",\"12.5\"\n\"001B\",,\"\"\n";
        let chunk = parse(text, ',').expect("parse");
        assert_eq!(chunk.header, vec!["Id", "Description", "Amount"]);
        assert_eq!(
            chunk.rows,
            vec![
                vec![
                    Some("001A".into()),
                    Some("said \"hi\", left\nsecond line".into()),
                    Some("12.5".into())
                ],
                vec![Some("001B".into()), None, Some(String::new())],
            ]
        );
        let crlf = parse("\"Id\"^\"N\"\r\n\"1\"^\"a\"\r\n", '^').expect("caret, crlf");
        assert_eq!(crlf.rows, vec![vec![Some("1".into()), Some("a".into())]]);
        assert!(parse("\"Id\"\n\"open", ',')
            .expect_err("malformed")
            .contains("not closed"));
        assert!(parse("\"Id\",\"N\"\n\"1\"\n", ',')
            .expect_err("malformed")
            .contains("1 values for 2"));
        assert!(parse("\"Id\"x\n", ',').is_err());
        let last_quoted = parse("\"A\",\"B\",\"C\"\n\"1\",,\"x\ny\"\n", ',').expect("parse");
        assert_eq!(
            last_quoted.rows,
            vec![vec![Some("1".into()), None, Some("x\ny".into())]]
        );
    }

    #[test]
    fn text_fed_in_pieces_of_any_size_reads_as_the_whole_and_only_the_unread_tail_is_held() {
        let text = "\"Id\",\"Description\",\"Amount\"\r\n\"001A\",\"said \"\"hi\"\", left\r\nsecond ë\",\"12.5\"\r\n\"001B\",,\"\"\r\n\"001C\",\"\"\"\",\"7\"";
        let whole = parse(text, ',').expect("whole");
        for piece in [1, 2, 3, 7, 64] {
            let mut reader = Reader::new(b',');
            let mut records = Vec::new();
            let mut most_held = 0;
            for bytes in text.as_bytes().chunks(piece) {
                reader.feed(bytes);
                most_held = most_held.max(reader.held());
                while let Some(record) = reader.record().expect("well formed") {
                    records.push(record);
                }
            }
            reader.end();
            while let Some(record) = reader.record().expect("well formed") {
                records.push(record);
            }
            let header: Vec<String> = records[0]
                .iter()
                .map(|v| v.clone().unwrap_or_default())
                .collect();
            assert_eq!(header, whole.header, "pieces of {piece}");
            assert_eq!(records[1..], whole.rows[..], "pieces of {piece}");
            assert_eq!(reader.read(), text.len() as u64);
            // The longest record is 46 bytes: never more than it and one piece is held.
            assert!(
                most_held <= 46 + piece,
                "pieces of {piece}: {most_held} held"
            );
        }
        let mut open = Reader::new(b',');
        open.feed(b"\"1\",\"never closed");
        assert_eq!(open.record(), Ok(None), "waits for the rest");
        open.end();
        assert!(open.record().expect_err("malformed").contains("not closed"));
    }
}
