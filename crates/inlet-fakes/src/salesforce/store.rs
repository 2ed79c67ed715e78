//! The org's records and every change to them. A record's values sit in its object's field
//! order; datetimes, dates and times are kept as numbers (Unix ms, days, ms of the day) and
//! rendered by [`super::render`]. Every change moves `SystemModstamp` (a user's change also
//! `LastModifiedDate`); deletes go to the Recycle Bin and the delete log that `getDeleted`
//! reads; purges remove them for good.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::clock;
use super::errors::SalesforceError;
use super::schema::{self, Field, Kind, SObject};

#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub values: Vec<Value>,
    /// When it went to the Recycle Bin (`IsDeleted = true`), if it is there.
    pub deleted_ms: Option<i64>,
}

impl Record {
    pub fn get(&self, at: usize) -> &Value {
        self.values.get(at).unwrap_or(&Value::Null)
    }

    pub fn ms(&self, at: usize) -> i64 {
        self.get(at).as_i64().unwrap_or(0)
    }
}

#[derive(Debug)]
pub(crate) struct Table {
    pub object: SObject,
    /// By Id: the order a query without ORDER BY returns.
    pub records: BTreeMap<String, Record>,
    /// `getDeleted`'s log: (id, deletedDate), oldest first.
    pub delete_log: Vec<(String, i64)>,
    /// `earliestDateAvailable`: the log holds nothing older.
    pub log_from_ms: i64,
    /// The number the next new record's id is made from.
    pub next: u64,
}

impl Table {
    pub fn field(&self, name: &str) -> Option<usize> {
        self.object.field(name)
    }

    fn at(&self, name: &str) -> usize {
        self.field(name).unwrap_or(usize::MAX)
    }

    pub fn stamp_at(&self) -> Option<usize> {
        self.field("SystemModstamp")
    }
}

#[derive(Debug)]
pub(crate) struct Store {
    pub tables: Vec<Table>,
    pub history_end_ms: i64,
    pub seed: u64,
    /// The integration user every API change is made as.
    pub api_user: String,
}

/// The 18-character id: a 15-character case-sensitive id and the 3 characters that make
/// it case-insensitive (one per 5 characters, a bit per upper-case letter).
pub(crate) fn make_id(prefix: &str, n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut unique = [b'0'; 9];
    let mut rest = n;
    for slot in unique.iter_mut().rev() {
        *slot = DIGITS[(rest % 62) as usize];
        rest /= 62;
    }
    let mut id = format!("{prefix}Dn0{}", String::from_utf8_lossy(&unique));
    let suffix: String = id
        .as_bytes()
        .chunks(5)
        .map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .filter(|(_, c)| c.is_ascii_uppercase())
                .fold(0usize, |acc, (i, _)| acc | (1 << i));
            char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits])
        })
        .collect();
    id.push_str(&suffix);
    id
}

/// A value as given (REST JSON: datetimes and dates as text) in the form the store keeps.
pub(crate) fn to_stored(field: &Field, value: &Value) -> Result<Value, String> {
    let bad = |what: &str| format!("{}: {value} is not {what}", field.name);
    if value.is_null() {
        return Ok(Value::Null);
    }
    Ok(match field.kind {
        Kind::Datetime => match value {
            Value::String(text) => {
                Value::from(clock::parse_datetime(text).ok_or_else(|| bad("a datetime"))?)
            }
            _ => return Err(bad("a datetime")),
        },
        Kind::Date => match value {
            Value::String(text) => {
                Value::from(clock::parse_date(text).ok_or_else(|| bad("a date"))?)
            }
            _ => return Err(bad("a date")),
        },
        Kind::Time => match value.as_str().and_then(clock::parse_time) {
            Some(ms) => Value::from(ms),
            None => return Err(bad("a time (HH:MM:SS.000Z)")),
        },
        Kind::Boolean => Value::Bool(value.as_bool().ok_or_else(|| bad("true or false"))?),
        Kind::Int => Value::from(value.as_i64().ok_or_else(|| bad("a whole number"))?),
        Kind::Double | Kind::Currency | Kind::Percent => {
            value.as_f64().ok_or_else(|| bad("a number"))?;
            value.clone()
        }
        // Salesforce keeps empty text as null.
        _ => match value {
            Value::String(text) if text.is_empty() => Value::Null,
            Value::String(_) => value.clone(),
            _ => return Err(bad("text")),
        },
    })
}

impl Store {
    pub fn new(seed: u64, history_end_ms: i64) -> Store {
        let tables = schema::standard()
            .into_iter()
            .map(|object| Table {
                object,
                records: BTreeMap::new(),
                delete_log: Vec::new(),
                log_from_ms: history_end_ms - 15 * 86_400_000,
                next: 1,
            })
            .collect();
        let mut store = Store {
            tables,
            history_end_ms,
            seed,
            api_user: String::new(),
        };
        store.api_user = make_id("005", 1);
        store
    }

    pub fn table(&self, name: &str) -> Result<usize, SalesforceError> {
        self.tables
            .iter()
            .position(|t| t.object.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| SalesforceError::UnknownObject(name.to_string()))
    }

    pub fn new_id(&mut self, t: usize) -> String {
        let table = &mut self.tables[t];
        let id = make_id(table.object.prefix, table.next);
        table.next += 1;
        id
    }

    fn fields_of(
        &self,
        t: usize,
        fields: &Map<String, Value>,
    ) -> Result<Vec<(usize, Value)>, SalesforceError> {
        let object = &self.tables[t].object;
        fields
            .iter()
            .map(|(name, value)| {
                let at = object.field(name).ok_or_else(|| {
                    SalesforceError::Invalid(format!("No such column '{name}' on sobject of type {}", object.name))
                })?;
                let field = &object.fields[at];
                if field.system || field.calculated() || field.kind.is_compound() {
                    return Err(SalesforceError::Invalid(format!(
                        "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your Organization.",
                        field.name
                    )));
                }
                Ok((at, to_stored(field, value).map_err(SalesforceError::Invalid)?))
            })
            .collect()
    }

    /// Inserts a record with `values` (already stored form) at `at_ms`, created by `by`.
    pub fn insert(
        &mut self,
        t: usize,
        mut values: Vec<Value>,
        at_ms: i64,
        deleted_ms: Option<i64>,
    ) -> String {
        let id = self.new_id(t);
        let table = &mut self.tables[t];
        values.resize(table.object.fields.len(), Value::Null);
        values[0] = Value::String(id.clone());
        for (name, value) in [
            ("CreatedDate", Value::from(at_ms)),
            ("LastModifiedDate", Value::from(at_ms)),
            ("SystemModstamp", Value::from(at_ms)),
        ] {
            if let Some(at) = table.field(name) {
                if values[at].is_null() {
                    values[at] = value;
                }
            }
        }
        for name in ["CreatedById", "LastModifiedById", "OwnerId"] {
            if let Some(at) = table.field(name) {
                if values[at].is_null() {
                    values[at] = Value::String(self.api_user.clone());
                }
            }
        }
        if let Some(ms) = deleted_ms {
            table.delete_log.push((id.clone(), ms));
        }
        table
            .records
            .insert(id.clone(), Record { values, deleted_ms });
        id
    }

    pub fn create(
        &mut self,
        t: usize,
        fields: &Map<String, Value>,
    ) -> Result<String, SalesforceError> {
        let given = self.fields_of(t, fields)?;
        let mut values = vec![Value::Null; self.tables[t].object.fields.len()];
        for (at, value) in given {
            values[at] = value;
        }
        Ok(self.insert(t, values, clock::now_ms(), None))
    }

    fn record(&mut self, t: usize, id: &str) -> Result<&mut Record, SalesforceError> {
        let object = self.tables[t].object.name.clone();
        self.tables[t]
            .records
            .get_mut(id)
            .ok_or_else(|| SalesforceError::NotFound {
                object,
                id: id.to_string(),
            })
    }

    /// A user's update of `ids`, all in the same second; `fields` may be empty (a save
    /// that changes nothing still moves the stamps).
    pub fn update(
        &mut self,
        t: usize,
        ids: &[String],
        fields: &Map<String, Value>,
    ) -> Result<i64, SalesforceError> {
        let given = self.fields_of(t, fields)?;
        let now = clock::now_ms();
        let stamps: Vec<usize> = ["LastModifiedDate", "SystemModstamp"]
            .iter()
            .filter_map(|n| self.tables[t].field(n))
            .collect();
        let by = self.tables[t].field("LastModifiedById");
        let user = self.api_user.clone();
        for id in ids {
            let record = self.record(t, id)?;
            if record.deleted_ms.is_some() {
                return Err(SalesforceError::Invalid(format!("entity is deleted: {id}")));
            }
            for (at, value) in &given {
                record.values[*at] = value.clone();
            }
            for at in &stamps {
                record.values[*at] = Value::from(now);
            }
            if let Some(at) = by {
                record.values[at] = Value::String(user.clone());
            }
        }
        Ok(now)
    }

    /// A change only the system makes (a trigger, a recalculation): `SystemModstamp`
    /// moves, `LastModifiedDate` does not.
    pub fn touch(&mut self, t: usize, id: &str) -> Result<i64, SalesforceError> {
        let now = clock::now_ms();
        let at = self.tables[t].stamp_at();
        let record = self.record(t, id)?;
        if let Some(at) = at {
            record.values[at] = Value::from(now);
        }
        Ok(now)
    }

    /// To the Recycle Bin: `IsDeleted`, a new `SystemModstamp`, an entry in the delete log.
    pub fn delete(&mut self, t: usize, id: &str) -> Result<(), SalesforceError> {
        if !self.tables[t].object.deletable {
            return Err(SalesforceError::Invalid(format!(
                "{} records cannot be deleted",
                self.tables[t].object.name
            )));
        }
        let now = clock::now_ms();
        let at = self.tables[t].stamp_at();
        let record = self.record(t, id)?;
        if record.deleted_ms.is_some() {
            return Err(SalesforceError::Invalid(format!("entity is deleted: {id}")));
        }
        record.deleted_ms = Some(now);
        if let Some(at) = at {
            record.values[at] = Value::from(now);
        }
        self.tables[t].delete_log.push((id.to_string(), now));
        Ok(())
    }

    /// Back from the Recycle Bin (and out of the delete log).
    pub fn undelete(&mut self, t: usize, id: &str) -> Result<(), SalesforceError> {
        let now = clock::now_ms();
        let at = self.tables[t].stamp_at();
        let master = self.tables[t].field("MasterRecordId");
        let record = self.record(t, id)?;
        if record.deleted_ms.take().is_none() {
            return Err(SalesforceError::Invalid(format!(
                "{id} is not in the Recycle Bin"
            )));
        }
        if let Some(at) = at {
            record.values[at] = Value::from(now);
        }
        if let Some(at) = master {
            record.values[at] = Value::Null;
        }
        self.tables[t].delete_log.retain(|(logged, _)| logged != id);
        Ok(())
    }

    /// Empties the record out of the Recycle Bin: no query finds it again; the delete log
    /// still has it (until that is purged too).
    pub fn purge(&mut self, t: usize, id: &str) -> Result<(), SalesforceError> {
        let record = self.record(t, id)?;
        if record.deleted_ms.is_none() {
            return Err(SalesforceError::Invalid(format!(
                "{id} is not in the Recycle Bin (delete it first)"
            )));
        }
        self.tables[t].records.remove(id);
        Ok(())
    }

    /// Drops delete-log entries older than `before_ms` (Salesforce trims a large log early):
    /// `earliestDateAvailable` moves to `before_ms`.
    pub fn trim_delete_log(&mut self, t: usize, before_ms: i64) {
        let table = &mut self.tables[t];
        table.delete_log.retain(|(_, ms)| *ms >= before_ms);
        table.log_from_ms = table.log_from_ms.max(before_ms);
    }

    /// Merges `losers` into `survivor`: the losers are deleted with `MasterRecordId`
    /// pointing at the survivor, which is updated.
    pub fn merge(
        &mut self,
        t: usize,
        survivor: &str,
        losers: &[String],
    ) -> Result<(), SalesforceError> {
        if !self.tables[t].object.mergeable {
            return Err(SalesforceError::Invalid(format!(
                "{} records cannot be merged",
                self.tables[t].object.name
            )));
        }
        let master = self.tables[t].at("MasterRecordId");
        self.update(t, &[survivor.to_string()], &Map::new())?;
        for loser in losers {
            if loser == survivor {
                return Err(SalesforceError::Invalid(
                    "a record cannot be merged into itself".into(),
                ));
            }
            self.delete(t, loser)?;
            self.record(t, loser)?.values[master] = Value::String(survivor.to_string());
        }
        Ok(())
    }

    /// A custom field deleted (or hidden from the integration user by field-level security,
    /// which the API shows the same way): describe no longer lists it and a query naming it
    /// is refused with `INVALID_FIELD`.
    pub fn remove_field(&mut self, t: usize, name: &str) -> Result<(), SalesforceError> {
        let table = &mut self.tables[t];
        let at = table.field(name).filter(|&i| {
            let f = &table.object.fields[i];
            f.custom && f.compound.is_none() && !f.kind.is_compound() && f.formula.is_none()
        });
        let Some(at) = at else {
            return Err(SalesforceError::Invalid(format!(
                "{name} cannot be removed from {} (only a custom field that is not a formula or \
                 part of a compound can)",
                table.object.name
            )));
        };
        table.object.fields.remove(at);
        for record in table.records.values_mut().filter(|r| r.values.len() > at) {
            record.values.remove(at);
        }
        Ok(())
    }

    /// A new custom field (`name` must end in `__c`), null on every existing record.
    pub fn add_field(&mut self, t: usize, name: &str, kind: Kind) -> Result<(), SalesforceError> {
        let table = &mut self.tables[t];
        if !name.ends_with("__c") || table.field(name).is_some() || kind.is_compound() {
            return Err(SalesforceError::Invalid(format!(
                "{name} cannot be added to {} (custom field names end in __c and must be new)",
                table.object.name
            )));
        }
        table.object.fields.push(Field::new(name, kind));
        let len = table.object.fields.len();
        for record in table.records.values_mut() {
            record.values.resize(len, Value::Null);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_case_insensitive_suffix_salesforce_computes() {
        // 001Dn000000001A: only `D` is upper case, in the first chunk of five (bit 3).
        let id = make_id("001", 1);
        assert_eq!(&id[..15], "001Dn0000000001");
        assert_eq!(&id[15..], "IAA");
        assert!(
            make_id("001", 61) < make_id("001", 62),
            "ids sort in creation order"
        );
    }
}
