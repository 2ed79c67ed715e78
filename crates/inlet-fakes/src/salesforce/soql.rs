//! The SOQL a sync uses, parsed and run against the store: a select list of plain field
//! names, `FROM` one object, `WHERE` with `=`, `!=`, `<`, `<=`, `>`, `>=`, `IN`, `NOT IN`,
//! `AND`, `OR`, `NOT` and parentheses over datetime, date, number, boolean, text and id
//! literals (datetimes unquoted, text in single quotes), `ORDER BY` several fields with
//! `ASC`/`DESC` and `NULLS FIRST`/`LAST`, and `LIMIT`. Anything else (relationship fields,
//! subqueries, `FIELDS()`, aggregates, date literals such as `LAST_N_DAYS`) is refused with
//! a message that says what the fake does not support.

use std::cmp::Ordering;

use serde_json::Value;

use super::clock;
use super::errors::ApiError;
use super::render;
use super::schema::{Kind, SObject};
use super::store::{Record, Store};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    /// Unix ms.
    DateTime(i64),
    /// Days since 1970-01-01.
    Date(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    Compare(usize, Op, Literal),
    In(usize, Vec<Literal>, bool),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Query {
    pub table: usize,
    pub columns: Vec<usize>,
    pub filter: Option<Cond>,
    /// (field, descending, nulls last)
    pub order: Vec<(usize, bool, bool)>,
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Symbol(&'static str),
}

fn tokens(soql: &str) -> Result<Vec<Token>, ApiError> {
    let chars: Vec<char> = soql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(ApiError::malformed(
                            "unexpected end of query: a quoted string is not closed",
                        ))
                    }
                    Some('\\') => {
                        let escaped = chars.get(i + 1).copied().unwrap_or('\\');
                        text.push(match escaped {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            other => other,
                        });
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        text.push(other);
                        i += 1;
                    }
                }
            }
            out.push(Token::Text(text));
        } else if let Some(symbol) = ["!=", "<>", "<=", ">=", "=", "<", ">", "(", ")", ","]
            .into_iter()
            .find(|s| chars[i..].starts_with(&s.chars().collect::<Vec<_>>()))
        {
            out.push(Token::Symbol(if symbol == "<>" { "!=" } else { symbol }));
            i += symbol.len();
        } else if c.is_alphanumeric() || c == '_' || c == '-' || c == '.' {
            let start = i;
            let word_char =
                |c: char| c.is_alphanumeric() || matches!(c, '_' | '.' | ':' | '+' | '-');
            while i < chars.len() && word_char(chars[i]) {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else {
            return Err(ApiError::malformed(format!(
                "unexpected character '{c}' in the query"
            )));
        }
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    object: &'a SObject,
}

fn no_column(name: &str, object: &str) -> ApiError {
    ApiError::invalid_field(format!(
        "No such column '{name}' on entity '{object}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
    ))
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn keyword(&mut self, word: &str) -> bool {
        match self.peek() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case(word) => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    fn symbol(&mut self, symbol: &'static str) -> bool {
        if self.peek() == Some(&Token::Symbol(symbol)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, what: &str, ok: bool) -> Result<(), ApiError> {
        if ok {
            Ok(())
        } else {
            Err(ApiError::malformed(format!(
                "expecting {what} at {}",
                self.here()
            )))
        }
    }

    fn here(&self) -> String {
        match self.peek() {
            None => "the end of the query".into(),
            Some(Token::Word(w)) => format!("'{w}'"),
            Some(Token::Text(t)) => format!("'{t}'"),
            Some(Token::Symbol(s)) => format!("'{s}'"),
        }
    }

    fn field(&mut self) -> Result<usize, ApiError> {
        let Some(Token::Word(name)) = self.peek().cloned() else {
            return Err(ApiError::malformed(format!(
                "expecting a field name at {}",
                self.here()
            )));
        };
        self.at += 1;
        if name.contains('.') {
            return Err(ApiError::malformed(format!(
                "relationship fields such as {name} are not supported by this fake; select the reference id instead"
            )));
        }
        if self.peek() == Some(&Token::Symbol("(")) {
            return Err(ApiError::malformed(format!(
                "{name}() is not supported by this fake (no FIELDS(), aggregates or functions)"
            )));
        }
        self.object
            .field(&name)
            .ok_or_else(|| no_column(&name, &self.object.name))
    }

    fn literal(&mut self, field: usize) -> Result<Literal, ApiError> {
        let f = &self.object.fields[field];
        let token = self.peek().cloned();
        self.at += 1;
        let wrong = |what: &str| {
            ApiError::invalid_field(format!(
                "value of filter criterion for field '{}' must be of type {what}",
                f.name
            ))
        };
        let literal = match token {
            None => {
                return Err(ApiError::malformed(
                    "expecting a value at the end of the query",
                ))
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Literal::Null,
            Some(Token::Text(text)) => {
                if !f.kind.is_text() && !matches!(f.kind, Kind::AnyType) {
                    let kind = f.kind.soap_type().trim_start_matches("xsd:");
                    return Err(wrong(&format!(
                        "{kind} and should not be enclosed in quotes"
                    )));
                }
                Literal::Text(text)
            }
            Some(Token::Word(w)) => match f.kind {
                Kind::Boolean if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
                Kind::Boolean if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
                Kind::Boolean => return Err(wrong("boolean")),
                Kind::Datetime => Literal::DateTime(
                    clock::parse_datetime(&w)
                        .ok_or_else(|| wrong("dateTime and should not be enclosed in quotes"))?,
                ),
                Kind::Date => Literal::Date(
                    clock::parse_date(&w)
                        .ok_or_else(|| wrong("date and should not be enclosed in quotes"))?,
                ),
                Kind::Int | Kind::Double | Kind::Currency | Kind::Percent => {
                    Literal::Number(w.parse().map_err(|_| wrong("number"))?)
                }
                _ => return Err(wrong("string and should be enclosed in quotes")),
            },
            Some(Token::Symbol(s)) => {
                return Err(ApiError::malformed(format!(
                    "unexpected '{s}' where a value belongs"
                )))
            }
        };
        Ok(literal)
    }

    fn or(&mut self) -> Result<Cond, ApiError> {
        let mut parts = vec![self.and()?];
        while self.keyword("OR") {
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cond::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Cond, ApiError> {
        let mut parts = vec![self.unary()?];
        while self.keyword("AND") {
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cond::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Cond, ApiError> {
        if self.keyword("NOT") {
            return Ok(Cond::Not(Box::new(self.unary()?)));
        }
        if self.symbol("(") {
            let inner = self.or()?;
            let closed = self.symbol(")");
            self.expect("')'", closed)?;
            return Ok(inner);
        }
        let field = self.field()?;
        let f = &self.object.fields[field];
        if f.kind.is_compound() || f.kind == Kind::Base64 {
            return Err(ApiError::invalid_field(format!(
                "field '{}' can not be filtered in a query call",
                f.name
            )));
        }
        let negated = self.keyword("NOT");
        if self.keyword("IN") {
            let open = self.symbol("(");
            self.expect("'('", open)?;
            let mut values = vec![self.literal(field)?];
            while self.symbol(",") {
                values.push(self.literal(field)?);
            }
            let closed = self.symbol(")");
            self.expect("')'", closed)?;
            return Ok(Cond::In(field, values, negated));
        }
        self.expect("IN", !negated)?;
        let op = match self.peek() {
            Some(Token::Symbol("=")) => Op::Eq,
            Some(Token::Symbol("!=")) => Op::Ne,
            Some(Token::Symbol("<")) => Op::Lt,
            Some(Token::Symbol("<=")) => Op::Le,
            Some(Token::Symbol(">")) => Op::Gt,
            Some(Token::Symbol(">=")) => Op::Ge,
            _ => {
                return Err(ApiError::malformed(format!(
                    "expecting a comparison operator at {}",
                    self.here()
                )))
            }
        };
        self.at += 1;
        let literal = self.literal(field)?;
        Ok(Cond::Compare(field, op, literal))
    }
}

/// Parses `soql` against the store's schema.
pub(crate) fn parse(store: &Store, soql: &str) -> Result<Query, ApiError> {
    let tokens = tokens(soql)?;
    // The object comes after FROM; find it first, since fields are resolved against it.
    let from = tokens
        .iter()
        .position(|t| matches!(t, Token::Word(w) if w.eq_ignore_ascii_case("FROM")))
        .ok_or_else(|| ApiError::malformed("unexpected end of query: expecting FROM"))?;
    let object = match tokens.get(from + 1) {
        Some(Token::Word(name)) => name.clone(),
        _ => return Err(ApiError::malformed("expecting an object name after FROM")),
    };
    let table = store.table(&object).map_err(|_| {
        ApiError::new(
            400,
            "INVALID_TYPE",
            format!("sObject type '{object}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."),
        )
    })?;
    let mut parser = Parser {
        tokens,
        at: 0,
        object: &store.tables[table].object,
    };
    let select = parser.keyword("SELECT");
    parser.expect("SELECT", select)?;
    let mut columns = vec![parser.field()?];
    while parser.symbol(",") {
        columns.push(parser.field()?);
    }
    let from_here = parser.keyword("FROM");
    parser.expect("FROM", from_here)?;
    parser.at += 1;
    let filter = if parser.keyword("WHERE") {
        Some(parser.or()?)
    } else {
        None
    };
    let mut order = Vec::new();
    if parser.keyword("ORDER") {
        let by = parser.keyword("BY");
        parser.expect("BY", by)?;
        loop {
            let field = parser.field()?;
            let descending = parser.keyword("DESC");
            if !descending {
                parser.keyword("ASC");
            }
            let mut nulls_last = descending;
            if parser.keyword("NULLS") {
                nulls_last = if parser.keyword("LAST") {
                    true
                } else {
                    let first = parser.keyword("FIRST");
                    parser.expect("FIRST or LAST", first)?;
                    false
                };
            }
            order.push((field, descending, nulls_last));
            if !parser.symbol(",") {
                break;
            }
        }
    }
    let mut limit = None;
    if parser.keyword("LIMIT") {
        match parser.peek().cloned() {
            Some(Token::Word(n)) if n.parse::<usize>().is_ok() => {
                limit = n.parse().ok();
                parser.at += 1;
            }
            _ => {
                return Err(ApiError::malformed(format!(
                    "expecting a whole number after LIMIT at {}",
                    parser.here()
                )))
            }
        }
    }
    if parser.peek().is_some() {
        return Err(ApiError::malformed(format!(
            "unexpected token: {} (this fake supports SELECT fields FROM object [WHERE] [ORDER BY] [LIMIT])",
            parser.here()
        )));
    }
    Ok(Query {
        table,
        columns,
        filter,
        order,
        limit,
    })
}

/// A field's value reduced to something comparable.
#[derive(Debug, Clone, PartialEq)]
enum Key {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
}

fn key(store: &Store, t: usize, record: &Record, at: usize) -> Key {
    let field = &store.tables[t].object.fields[at];
    let plain = !field.calculated() && field.name != "IsDeleted";
    match field.kind {
        Kind::Datetime | Kind::Date | Kind::Time if plain => record
            .get(at)
            .as_i64()
            .map_or(Key::Null, |n| Key::Number(n as f64)),
        _ => match render::value(store, t, record, at) {
            Value::Null => Key::Null,
            Value::Bool(b) => Key::Bool(b),
            Value::Number(n) => Key::Number(n.as_f64().unwrap_or(0.0)),
            Value::String(s) if matches!(field.kind, Kind::Id | Kind::Reference) => {
                Key::Text(s.chars().take(15).collect())
            }
            Value::String(s) => Key::Text(s.to_lowercase()),
            other => Key::Text(other.to_string()),
        },
    }
}

fn literal_key(field_kind: Kind, literal: &Literal) -> Key {
    match literal {
        Literal::Null => Key::Null,
        Literal::Bool(b) => Key::Bool(*b),
        Literal::Number(n) => Key::Number(*n),
        Literal::DateTime(ms) => Key::Number(*ms as f64),
        Literal::Date(days) => Key::Number(*days as f64),
        Literal::Text(s) if matches!(field_kind, Kind::Id | Kind::Reference) => {
            Key::Text(s.chars().take(15).collect())
        }
        Literal::Text(s) => Key::Text(s.to_lowercase()),
    }
}

fn compare(a: &Key, b: &Key) -> Option<Ordering> {
    match (a, b) {
        (Key::Bool(a), Key::Bool(b)) => Some(a.cmp(b)),
        (Key::Number(a), Key::Number(b)) => a.partial_cmp(b),
        (Key::Text(a), Key::Text(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

fn matches(store: &Store, t: usize, record: &Record, cond: &Cond) -> bool {
    match cond {
        Cond::And(parts) => parts.iter().all(|c| matches(store, t, record, c)),
        Cond::Or(parts) => parts.iter().any(|c| matches(store, t, record, c)),
        Cond::Not(inner) => !matches(store, t, record, inner),
        Cond::In(at, values, negated) => {
            let kind = store.tables[t].object.fields[*at].kind;
            let value = key(store, t, record, *at);
            values.iter().any(|l| literal_key(kind, l) == value) != *negated
        }
        Cond::Compare(at, op, literal) => {
            let kind = store.tables[t].object.fields[*at].kind;
            let (value, wanted) = (key(store, t, record, *at), literal_key(kind, literal));
            match op {
                Op::Eq => value == wanted,
                Op::Ne => value != wanted,
                _ => match compare(&value, &wanted) {
                    None => false,
                    Some(ordering) => match op {
                        Op::Lt => ordering.is_lt(),
                        Op::Le => ordering.is_le(),
                        Op::Gt => ordering.is_gt(),
                        _ => ordering.is_ge(),
                    },
                },
            }
        }
    }
}

/// The ids `query` selects, in its order: live records only, or with `all` (queryAll) the
/// Recycle Bin's and merged-away ones too.
pub(crate) fn run(store: &Store, query: &Query, all: bool) -> Vec<String> {
    let t = query.table;
    let selected = store.tables[t].records.values().filter(|record| {
        (all || record.deleted_ms.is_none())
            && query
                .filter
                .as_ref()
                .is_none_or(|c| matches(store, t, record, c))
    });
    if query.order.is_empty() {
        return selected
            .take(query.limit.unwrap_or(usize::MAX))
            .map(|r| r.get(0).as_str().unwrap_or_default().to_string())
            .collect();
    }
    let mut keyed: Vec<(Vec<Key>, &Record)> = selected
        .map(|r| {
            (
                query
                    .order
                    .iter()
                    .map(|(at, _, _)| key(store, t, r, *at))
                    .collect(),
                r,
            )
        })
        .collect();
    keyed.sort_by(|(a, _), (b, _)| {
        for (i, (_, descending, nulls_last)) in query.order.iter().enumerate() {
            let ordering = match (&a[i], &b[i]) {
                (Key::Null, Key::Null) => Ordering::Equal,
                (Key::Null, _) => {
                    if *nulls_last {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                (_, Key::Null) => {
                    if *nulls_last {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (x, y) => {
                    let o = compare(x, y).unwrap_or(Ordering::Equal);
                    if *descending {
                        o.reverse()
                    } else {
                        o
                    }
                }
            };
            if ordering.is_ne() {
                return ordering;
            }
        }
        Ordering::Equal
    });
    keyed
        .into_iter()
        .take(query.limit.unwrap_or(usize::MAX))
        .map(|(_, r)| r.get(0).as_str().unwrap_or_default().to_string())
        .collect()
}
