//! The Rust API for changing a portal and reading its truth (what a correct full sync
//! holds), shared by [`FakeHubSpot`] and the control API.

use serde_json::{json, Value};

use super::catalog::{default_kind, kind_of};
use super::clock::now_ms;
use super::properties::PropertyDef;
use super::render::{render, Wanted};
use super::values::Gen;
use super::{mutate, object, parse_id, FakeHubSpot, HubSpotError, Shared};

impl Shared {
    pub(crate) fn create(&self, t: &str, fields: Value) -> Result<String, HubSpotError> {
        let kind = self.kind(t)?;
        let id = mutate::create(&mut self.write(), kind, &object(fields)?, now_ms())?;
        Ok(id.to_string())
    }

    /// Applies the same properties to several records in one millisecond (as a workflow
    /// or import does); returns that millisecond.
    pub(crate) fn update_together(
        &self,
        t: &str,
        ids: &[String],
        fields: Value,
    ) -> Result<i64, HubSpotError> {
        let kind = self.kind(t)?;
        let fields = object(fields)?;
        let ids = ids
            .iter()
            .map(|id| parse_id(id))
            .collect::<Result<Vec<_>, _>>()?;
        let mut store = self.write();
        let now = now_ms();
        for id in ids {
            mutate::update(&mut store, kind, id, &fields, now)?;
        }
        Ok(now)
    }

    pub(crate) fn archive(&self, t: &str, id: &str) -> Result<(), HubSpotError> {
        let kind = self.kind(t)?;
        mutate::archive(&mut self.write(), kind, parse_id(id)?, now_ms())
    }

    pub(crate) fn restore(&self, t: &str, id: &str) -> Result<(), HubSpotError> {
        let kind = self.kind(t)?;
        mutate::restore(&mut self.write(), kind, parse_id(id)?, now_ms())
    }

    pub(crate) fn merge(&self, t: &str, primary: &str, absorbed: &str) -> Result<(), HubSpotError> {
        let kind = self.kind(t)?;
        mutate::merge(
            &mut self.write(),
            kind,
            parse_id(primary)?,
            parse_id(absorbed)?,
            now_ms(),
        )
    }

    pub(crate) fn gdpr_delete(&self, id: &str) -> Result<(), HubSpotError> {
        mutate::gdpr_delete(&mut self.write(), parse_id(id)?, now_ms())
    }

    pub(crate) fn associate(
        &self,
        from: &str,
        a: &str,
        to: &str,
        b: &str,
        type_id: Option<u32>,
    ) -> Result<bool, HubSpotError> {
        let (f, t) = (self.kind(from)?, self.kind(to)?);
        let mut store = self.write();
        let (fname, tname) = (store.types[f].name.clone(), store.types[t].name.clone());
        let kind = match type_id {
            Some(id) => kind_of(&fname, &tname, id),
            None => default_kind(&fname, &tname),
        }
        .ok_or_else(|| {
            HubSpotError::Invalid(format!("{fname} and {tname} have no such association type"))
        })?;
        mutate::associate(&mut store, f, parse_id(a)?, t, parse_id(b)?, &kind)
    }

    pub(crate) fn dissociate(
        &self,
        from: &str,
        a: &str,
        to: &str,
        b: &str,
    ) -> Result<bool, HubSpotError> {
        let (f, t) = (self.kind(from)?, self.kind(to)?);
        mutate::dissociate(&mut self.write(), f, parse_id(a)?, t, parse_id(b)?)
    }

    pub(crate) fn add_property(
        &self,
        t: &str,
        name: &str,
        kind: &str,
        field_type: &str,
        options: &[(String, String)],
    ) -> Result<(), HubSpotError> {
        let k = self.kind(t)?;
        let mut def = PropertyDef::new(name, name, kind, field_type, Gen::Unset);
        def.options = options.to_vec();
        mutate::add_property(&mut self.write(), k, def, now_ms())
    }

    pub(crate) fn change_property_type(
        &self,
        t: &str,
        name: &str,
        kind: &str,
        field_type: &str,
    ) -> Result<(), HubSpotError> {
        let k = self.kind(t)?;
        mutate::change_property_type(&mut self.write(), k, name, kind, field_type, now_ms())
    }

    fn render_all(&self, t: &str, archived: bool) -> Result<Vec<Value>, HubSpotError> {
        let kind = self.kind(t)?;
        let store = self.read();
        Ok(store.records[kind]
            .values()
            .filter(|r| r.archived_at.is_some() == archived)
            .map(|r| Value::Object(render(&store, kind, r, &Wanted::All, &[])))
            .collect())
    }

    pub(crate) fn objects(&self, t: &str) -> Result<Vec<Value>, HubSpotError> {
        self.render_all(t, false)
    }

    pub(crate) fn archived(&self, t: &str) -> Result<Vec<Value>, HubSpotError> {
        self.render_all(t, true)
    }

    pub(crate) fn associations(&self, from: &str, to: &str) -> Result<Vec<Value>, HubSpotError> {
        let (f, t) = (self.kind(from)?, self.kind(to)?);
        let store = self.read();
        let (fname, tname) = (&store.types[f].name, &store.types[t].name);
        let mut rows = Vec::new();
        for id in store.records[f]
            .keys()
            .filter(|id| store.live(f, **id).is_some())
        {
            for (other, types) in store.links_of(f, *id, t) {
                for type_id in types {
                    let spec = kind_of(fname, tname, type_id);
                    rows.push(json!({
                        "fromId": id.to_string(),
                        "toId": other.to_string(),
                        "typeId": type_id,
                        "category": spec.map_or("HUBSPOT_DEFINED", |k| k.category),
                        "label": spec.and_then(|k| k.label),
                    }));
                }
            }
        }
        Ok(rows)
    }

    pub(crate) fn properties(&self, t: &str) -> Result<Vec<Value>, HubSpotError> {
        let kind = self.kind(t)?;
        Ok(self.read().properties[kind]
            .iter()
            .map(PropertyDef::to_json)
            .collect())
    }
}

impl FakeHubSpot {
    /// Creates a record with exactly `properties` (a JSON object of name → value); returns
    /// its id. Values are validated as HubSpot does (numbers, dates at midnight UTC,
    /// enumeration options).
    pub fn create(&self, object_type: &str, properties: Value) -> Result<String, HubSpotError> {
        self.shared().create(object_type, properties)
    }

    /// Sets `properties` on one record; its modified date becomes now.
    pub fn update(
        &self,
        object_type: &str,
        id: &str,
        properties: Value,
    ) -> Result<(), HubSpotError> {
        self.shared()
            .update_together(object_type, &[id.to_string()], properties)
            .map(|_| ())
    }

    /// Sets `properties` on every record in `ids` within one millisecond (which it returns):
    /// many changes sharing a modified date, as bulk edits make.
    pub fn update_together(
        &self,
        object_type: &str,
        ids: &[String],
        properties: Value,
    ) -> Result<i64, HubSpotError> {
        self.shared().update_together(object_type, ids, properties)
    }

    /// Moves a record to the recycling bin (`DELETE /crm/v3/objects/{type}/{id}`).
    pub fn archive(&self, object_type: &str, id: &str) -> Result<(), HubSpotError> {
        self.shared().archive(object_type, id)
    }

    /// Brings an archived record back, same id, modified now.
    pub fn restore(&self, object_type: &str, id: &str) -> Result<(), HubSpotError> {
        self.shared().restore(object_type, id)
    }

    /// Merges `absorbed` into `primary` (contacts, companies, deals, tickets).
    pub fn merge(
        &self,
        object_type: &str,
        primary: &str,
        absorbed: &str,
    ) -> Result<(), HubSpotError> {
        self.shared().merge(object_type, primary, absorbed)
    }

    /// Permanently deletes a contact (no archive trace).
    pub fn gdpr_delete(&self, contact_id: &str) -> Result<(), HubSpotError> {
        self.shared().gdpr_delete(contact_id)
    }

    /// Associates two records (`type_id` `None` = the pair's unlabeled type); false when
    /// that association already existed. Neither record's modified date changes.
    pub fn associate(
        &self,
        from: &str,
        from_id: &str,
        to: &str,
        to_id: &str,
        type_id: Option<u32>,
    ) -> Result<bool, HubSpotError> {
        self.shared().associate(from, from_id, to, to_id, type_id)
    }

    /// Removes every association between two records; false when there was none.
    pub fn dissociate(
        &self,
        from: &str,
        from_id: &str,
        to: &str,
        to_id: &str,
    ) -> Result<bool, HubSpotError> {
        self.shared().dissociate(from, from_id, to, to_id)
    }

    /// A new property appears on a type (no record has a value yet).
    pub fn add_property(
        &self,
        object_type: &str,
        name: &str,
        kind: &str,
        field_type: &str,
        options: &[(&str, &str)],
    ) -> Result<(), HubSpotError> {
        let options: Vec<(String, String)> = options
            .iter()
            .map(|(v, l)| (v.to_string(), l.to_string()))
            .collect();
        self.shared()
            .add_property(object_type, name, kind, field_type, &options)
    }

    /// A property's type changes (e.g. `number` → `string`).
    pub fn change_property_type(
        &self,
        object_type: &str,
        name: &str,
        kind: &str,
        field_type: &str,
    ) -> Result<(), HubSpotError> {
        self.shared()
            .change_property_type(object_type, name, kind, field_type)
    }

    /// The truth: every live record of a type with every property, in id order.
    pub fn objects(&self, object_type: &str) -> Result<Vec<Value>, HubSpotError> {
        self.shared().objects(object_type)
    }

    /// Every archived record of a type (what `archived=true` lists).
    pub fn archived(&self, object_type: &str) -> Result<Vec<Value>, HubSpotError> {
        self.shared().archived(object_type)
    }

    /// The truth of associations from one type to another between live records:
    /// `{fromId, toId, typeId, category, label}` rows.
    pub fn associations(&self, from: &str, to: &str) -> Result<Vec<Value>, HubSpotError> {
        self.shared().associations(from, to)
    }

    /// The properties API's answer for a type.
    pub fn properties(&self, object_type: &str) -> Result<Vec<Value>, HubSpotError> {
        self.shared().properties(object_type)
    }

    /// The truth of owners: every owner as the owners API answers for it.
    pub fn owners(&self) -> Vec<Value> {
        let store = self.shared().read();
        (0..store.owners.len())
            .map(|i| super::meta::owner_json(&store, i))
            .collect()
    }

    /// The truth of a type's pipelines, each with its stages, as the pipelines API answers.
    pub fn pipelines(&self, object_type: &str) -> Result<Vec<Value>, HubSpotError> {
        let kind = self.shared().kind(object_type)?;
        let body = super::meta::pipelines(&self.shared().read(), kind);
        Ok(body["results"].as_array().cloned().unwrap_or_default())
    }
}
