//! Stripe's request encoding: query strings and `application/x-www-form-urlencoded` bodies
//! with bracket syntax (`metadata[plan]=pro`, `expand[]=customer`, `items[0][price]=...`),
//! decoded into JSON; and typing of those string values against an object's fields.

use serde_json::{Map, Value};

/// Decodes `a=1&b[c]=2&d[]=3&e[0][f]=4` into `{"a":"1","b":{"c":"2"},"d":["3"],"e":[{"f":"4"}]}`.
/// Never fails: malformed pairs are kept as literal keys, as a lenient server would.
pub(crate) fn decode(input: &[u8]) -> Map<String, Value> {
    let mut root = Value::Object(Map::new());
    for (key, value) in url::form_urlencoded::parse(input) {
        let segments = split_key(&key);
        if segments[0].is_empty() {
            continue;
        }
        let refs: Vec<&str> = segments.iter().map(String::as_str).collect();
        insert(&mut root, &refs, value.into_owned());
    }
    match arrays_from_indexes(root) {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `items[0][price]` → `["items", "0", "price"]`; `expand[]` → `["expand", ""]`.
fn split_key(key: &str) -> Vec<String> {
    let Some(open) = key.find('[') else {
        return vec![key.to_string()];
    };
    if !key.ends_with(']') || open == 0 {
        return vec![key.to_string()];
    }
    let mut segments = vec![key[..open].to_string()];
    for part in key[open + 1..key.len() - 1].split("][") {
        segments.push(part.to_string());
    }
    segments
}

fn insert(target: &mut Value, segments: &[&str], value: String) {
    let Some((&first, rest)) = segments.split_first() else {
        *target = Value::String(value);
        return;
    };
    if first.is_empty() {
        if !target.is_array() {
            *target = Value::Array(Vec::new());
        }
        if let Value::Array(items) = target {
            let mut item = Value::Null;
            insert(&mut item, rest, value);
            items.push(item);
        }
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        let child = map.entry(first.to_string()).or_insert(Value::Null);
        insert(child, rest, value);
    }
}

/// Objects whose keys are all indexes (`{"0":..,"1":..}`) become arrays in index order.
fn arrays_from_indexes(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let all_indexes = !map.is_empty()
                && map
                    .keys()
                    .all(|k| !k.is_empty() && k.len() < 7 && k.bytes().all(|b| b.is_ascii_digit()));
            if all_indexes {
                let mut items: Vec<(usize, Value)> = map
                    .into_iter()
                    .map(|(k, v)| (k.parse().unwrap_or(usize::MAX), arrays_from_indexes(v)))
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                Value::Array(items.into_iter().map(|(_, v)| v).collect())
            } else {
                Value::Object(
                    map.into_iter()
                        .map(|(k, v)| (k, arrays_from_indexes(v)))
                        .collect(),
                )
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(arrays_from_indexes).collect()),
        other => other,
    }
}

/// Fields that hold numbers even where the generated object has `null` there.
fn numeric_field(key: &str) -> bool {
    key == "created"
        || key == "quantity"
        || key == "date"
        || key.ends_with("amount")
        || key.ends_with("_at")
        || key.ends_with("_end")
        || key.ends_with("_start")
        || key.ends_with("_date")
        || key.starts_with("amount_")
        || key == "percent_off"
        || key == "percentage"
        || key == "trial_period_days"
        || key == "duration_in_months"
        || key == "max_redemptions"
        || key == "redeem_by"
}

/// Types a decoded form value like the field it replaces: `"2000"` becomes 2000 where the
/// object has a number, `"true"` a boolean where it has one, `""` means null (Stripe's way
/// of unsetting). Metadata stays strings.
pub(crate) fn typed(key: &str, template: Option<&Value>, value: Value) -> Value {
    match value {
        Value::String(s) if s.is_empty() && key != "metadata" => Value::Null,
        Value::String(s) => match template {
            Some(Value::Number(n)) if n.is_f64() => s
                .parse::<f64>()
                .map(Value::from)
                .unwrap_or(Value::String(s)),
            Some(Value::Number(_)) => number(s),
            Some(Value::Bool(_)) => match s.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::String(s),
            },
            Some(Value::Null) | None if numeric_field(key) => number(s),
            _ => Value::String(s),
        },
        Value::Object(map) if key == "metadata" => Value::Object(map),
        Value::Object(map) => {
            let inner = template.and_then(Value::as_object);
            Value::Object(
                map.into_iter()
                    .map(|(k, v)| {
                        let t = inner.and_then(|m| m.get(&k));
                        let typed = typed(&k, t, v);
                        (k, typed)
                    })
                    .collect(),
            )
        }
        Value::Array(items) => {
            let first = template.and_then(Value::as_array).and_then(|a| a.first());
            Value::Array(items.into_iter().map(|v| typed(key, first, v)).collect())
        }
        other => other,
    }
}

fn number(s: String) -> Value {
    if let Ok(i) = s.parse::<i64>() {
        Value::from(i)
    } else if let Ok(f) = s.parse::<f64>() {
        Value::from(f)
    } else {
        Value::String(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_bracket_syntax_like_stripe_libraries_send_it() {
        let got = decode(b"limit=3&created[gte]=10&expand[]=data.customer&expand[]=x&items[0][price]=p1&items[1][price]=p2&items[1][quantity]=2&metadata[a%20b]=c&types[0]=customer.created");
        assert_eq!(
            Value::Object(got),
            json!({"limit": "3", "created": {"gte": "10"}, "expand": ["data.customer", "x"],
                   "items": [{"price": "p1"}, {"price": "p2", "quantity": "2"}], "metadata": {"a b": "c"},
                   "types": ["customer.created"]})
        );
    }

    #[test]
    fn malformed_keys_do_not_panic() {
        let got = decode(b"[=1&a[=2&b]=3&c[[x]]=4&=5&%ZZ=6");
        assert!(got.contains_key("[") && got.contains_key("a["));
    }

    #[test]
    fn values_take_the_type_of_the_field_they_replace() {
        let template = json!({"n": 1, "f": 1.5, "b": false, "s": "x", "o": {"n": 2}});
        let t = template.as_object().map(|m| m.get("n"));
        assert_eq!(typed("n", t.flatten(), json!("42")), json!(42));
        assert_eq!(typed("b", Some(&json!(false)), json!("true")), json!(true));
        assert_eq!(typed("f", Some(&json!(1.5)), json!("2.5")), json!(2.5));
        assert_eq!(
            typed("o", template.get("o"), json!({"n": "7"})),
            json!({"n": 7})
        );
        assert_eq!(
            typed("trial_end", Some(&Value::Null), json!("1700000000")),
            json!(1_700_000_000)
        );
        assert_eq!(
            typed("description", Some(&json!("x")), json!("")),
            Value::Null
        );
        assert_eq!(
            typed("metadata", None, json!({"k": "1"})),
            json!({"k": "1"})
        );
    }
}
