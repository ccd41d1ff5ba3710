//! Strict JSON reading for everything a door hands the engine as JSON: recipes, pool
//! configurations, settings and limits.
//!
//! `serde_json` on its own is lenient in three ways that the schemas do not document:
//! it stops after the first JSON value (so `{...} {...}` or `{...}garbage` reads as the
//! first value), it accepts a struct in positional form (`["thumb", 320]` for an
//! object), and `null` reads as an absent optional field. Here:
//! - [`parse`] requires the end of input after the value (whitespace aside);
//! - [`object`] and [`objects`] (used through `deserialize_with`, and by [`parse`] for
//!   the top level) accept a struct only as a JSON object;
//! - [`present`] refuses `null` for an optional recipe field (omit the field instead).
//!
//! Duplicate keys and unknown fields are refused by the structs' own `serde` derive
//! (`deny_unknown_fields`). Errors name the path of the problem, e.g.
//! `outputs[0]: invalid type: sequence, expected an object`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A struct `T` that must be written as a JSON object.
struct ObjectOnly<T>(T);

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ObjectVisitor(PhantomData))
            .map(ObjectOnly)
    }
}

/// `deserialize_with` for a struct field: the value must be an object.
pub(crate) fn object<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    ObjectOnly::<T>::deserialize(d).map(|o| o.0)
}

/// `deserialize_with` for an optional struct field (absent or `null`: `None`): when
/// given, the value must be an object.
pub(crate) fn optional_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<ObjectOnly<T>>::deserialize(d).map(|o| o.map(|o| o.0))
}

/// `deserialize_with` for a list of structs: each item must be an object.
pub(crate) fn objects<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct ListVisitor<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of objects")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            // Bounded by the input's length: no size hint is trusted.
            let mut out = Vec::new();
            while let Some(ObjectOnly(item)) = seq.next_element::<ObjectOnly<T>>()? {
                out.push(item);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(ListVisitor(PhantomData))
}

/// `deserialize_with` for an optional recipe field: absent means the default, and an
/// explicit `null` is refused (the schema has no `null`).
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// Parses `json` as one object of type `T` and nothing after it. The error is a
/// message that names the path of the problem (`outputs[1].quality: ...`), or says
/// what follows the value.
pub(crate) fn parse<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    let de = &mut serde_json::Deserializer::from_str(json);
    let value: ObjectOnly<T> = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        }
    })?;
    de.end().map_err(|e| {
        format!(
            "unexpected data after the JSON value (line {} column {}); send exactly one object",
            e.line(),
            e.column()
        )
    })?;
    Ok(value.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        a: u32,
        #[serde(default, deserialize_with = "present")]
        b: Option<u32>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[serde(deserialize_with = "objects")]
        items: Vec<Inner>,
        #[serde(default, deserialize_with = "optional_object")]
        one: Option<Inner>,
    }

    #[test]
    fn objects_parse_and_everything_else_is_refused() {
        let ok: Outer = parse(r#" {"items":[{"a":1},{"a":2,"b":3}],"one":{"a":4}} "#).unwrap();
        assert_eq!(ok.items[1], Inner { a: 2, b: Some(3) });
        assert_eq!(ok.one, Some(Inner { a: 4, b: None }));
        for (json, needle) in [
            (r#"{"items":[]} {"items":[]}"#, "unexpected data after"),
            (r#"{"items":[]}x"#, "unexpected data after"),
            (r#"[[{"a":1}]]"#, "expected an object"),
            (
                r#"{"items":[[1]]}"#,
                "items[0]: invalid type: sequence, expected an object",
            ),
            (r#"{"items":[],"one":[1]}"#, "one: invalid type"),
            (r#"{"items":[{"a":1,"a":2}]}"#, "duplicate field"),
            (
                r#"{"items":[{"a":1,"b":null}]}"#,
                "items[0].b: invalid type: null",
            ),
            (r#"{"items":{"a":1}}"#, "expected an array of objects"),
        ] {
            let e = parse::<Outer>(json).unwrap_err();
            assert!(e.contains(needle), "{json}: {e}");
        }
        // null for an optional object is the default
        let ok: Outer = parse(r#"{"items":[],"one":null}"#).unwrap();
        assert_eq!(ok.one, None);
    }
}
