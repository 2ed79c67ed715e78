//! Bulk API 2.0 query results: CSV with a header row, every value in double quotes (a
//! quote inside doubled, line breaks kept inside), a null as an empty unquoted field.
//! An empty *quoted* field is an empty string, kept apart from null, although Salesforce
//! stores empty text as null and so never writes one. Lines end in LF or CRLF.

/// A chunk of results: the header and its rows, `None` for a null.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub header: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// Parses one chunk; an error in plain words for a malformed one (an unclosed quote, text
/// after a closing quote, a row of the wrong width).
pub fn parse(text: &str, delimiter: char) -> Result<Chunk, String> {
    let mut records: Vec<Vec<Option<String>>> = Vec::new();
    let mut record: Vec<Option<String>> = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    loop {
        // One field.
        let value = if chars.peek() == Some(&'"') {
            chars.next();
            let mut value = String::new();
            loop {
                match chars.next() {
                    None => return Err(format!("line {line}: a quoted value is not closed")),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        value.push('"');
                    }
                    Some('"') => break,
                    Some(c) => {
                        if c == '\n' {
                            line += 1;
                        }
                        value.push(c);
                    }
                }
            }
            Some(value)
        } else {
            let mut value = String::new();
            while let Some(&c) = chars.peek() {
                if c == delimiter || c == '\n' || c == '\r' {
                    break;
                }
                value.push(c);
                chars.next();
            }
            (!value.is_empty()).then_some(value)
        };
        record.push(value);
        match chars.next() {
            Some(c) if c == delimiter => {}
            Some('\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                records.push(std::mem::take(&mut record));
                line += 1;
            }
            Some('\n') => {
                records.push(std::mem::take(&mut record));
                line += 1;
            }
            None => {
                if record != [None] {
                    records.push(record);
                }
                break;
            }
            Some(c) => return Err(format!("line {line}: {c:?} after a closing quote")),
        }
        if chars.peek().is_none() {
            break;
        }
    }
    let mut records = records.into_iter();
    let header: Vec<String> = records
        .next()
        .ok_or("the results have no header row")?
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    let rows: Vec<Vec<Option<String>>> = records.collect();
    if let Some((i, row)) = rows
        .iter()
        .enumerate()
        .find(|(_, r)| r.len() != header.len())
    {
        return Err(format!(
            "row {} has {} values for {} columns",
            i + 1,
            row.len(),
            header.len()
        ));
    }
    Ok(Chunk { header, rows })
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
}
