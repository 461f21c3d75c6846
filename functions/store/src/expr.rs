//! Conditions, sort-key conditions and updates: one small language that both adapters speak.
//! The embedded adapter evaluates it; the DynamoDB adapter renders it to expressions.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::table::Item;

/// A write condition, evaluated against the item as stored before the write.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// `attribute_not_exists(PK)`: the item does not exist (a create).
    NotExists,
    /// `attribute_exists(PK)`: the item exists.
    Exists,
    AttrExists(String),
    AttrNotExists(String),
    Eq(String, Value),
    Ne(String, Value),
    Lt(String, Value),
    Le(String, Value),
    Gt(String, Value),
    Ge(String, Value),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
}

impl Cond {
    pub fn eq(attr: &str, v: impl Into<Value>) -> Self {
        Cond::Eq(attr.to_owned(), v.into())
    }

    /// Evaluates against the current item (`None` when it does not exist), DynamoDB-style:
    /// comparisons between different types, or with a missing attribute, are false.
    pub fn eval(&self, item: Option<&Item>) -> bool {
        let get = |a: &str| item.and_then(|i| i.get(a));
        let cmp =
            |a: &str, v: &Value, ok: fn(Ordering) -> bool| get(a).and_then(|x| compare(x, v)).map(ok).unwrap_or(false);
        match self {
            Cond::NotExists => item.is_none(),
            Cond::Exists => item.is_some(),
            Cond::AttrExists(a) => get(a).is_some(),
            Cond::AttrNotExists(a) => get(a).is_none(),
            Cond::Eq(a, v) => get(a) == Some(v),
            Cond::Ne(a, v) => get(a) != Some(v),
            Cond::Lt(a, v) => cmp(a, v, Ordering::is_lt),
            Cond::Le(a, v) => cmp(a, v, Ordering::is_le),
            Cond::Gt(a, v) => cmp(a, v, Ordering::is_gt),
            Cond::Ge(a, v) => cmp(a, v, Ordering::is_ge),
            Cond::And(cs) => cs.iter().all(|c| c.eval(item)),
            Cond::Or(cs) => cs.iter().any(|c| c.eval(item)),
            Cond::Not(c) => !c.eval(item),
        }
    }
}

/// Numbers compare numerically, strings by their UTF-8 bytes (as DynamoDB does); other pairs do not compare.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
        },
        (Value::String(x), Value::String(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        _ => None,
    }
}

/// A condition on the sort key of a query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SkCond {
    #[default]
    Any,
    Eq(String),
    BeginsWith(String),
    Between(String, String),
    Lt(String),
    Le(String),
    Gt(String),
    Ge(String),
}

impl SkCond {
    pub fn matches(&self, sk: &str) -> bool {
        let sk = sk.as_bytes();
        match self {
            SkCond::Any => true,
            SkCond::Eq(v) => sk == v.as_bytes(),
            SkCond::BeginsWith(p) => sk.starts_with(p.as_bytes()),
            SkCond::Between(a, b) => sk >= a.as_bytes() && sk <= b.as_bytes(),
            SkCond::Lt(v) => sk < v.as_bytes(),
            SkCond::Le(v) => sk <= v.as_bytes(),
            SkCond::Gt(v) => sk > v.as_bytes(),
            SkCond::Ge(v) => sk >= v.as_bytes(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOp {
    Set(String, Value),
    /// Sets only when the attribute is absent (`if_not_exists`).
    SetIfAbsent(String, Value),
    Remove(String),
    /// Atomic add to a number attribute; a missing attribute counts as 0.
    Add(String, i64),
}

/// An update of named top-level attributes. Creates the item when it is missing (unless a condition
/// forbids it), as DynamoDB's `UpdateItem` does.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Update {
    pub ops: Vec<UpdateOp>,
}

impl Update {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set(mut self, attr: &str, v: impl Into<Value>) -> Self {
        self.ops.push(UpdateOp::Set(attr.to_owned(), v.into()));
        self
    }
    pub fn set_if_absent(mut self, attr: &str, v: impl Into<Value>) -> Self {
        self.ops.push(UpdateOp::SetIfAbsent(attr.to_owned(), v.into()));
        self
    }
    pub fn remove(mut self, attr: &str) -> Self {
        self.ops.push(UpdateOp::Remove(attr.to_owned()));
        self
    }
    pub fn add(mut self, attr: &str, by: i64) -> Self {
        self.ops.push(UpdateOp::Add(attr.to_owned(), by));
        self
    }

    pub fn attrs(&self) -> impl Iterator<Item = &str> {
        self.ops.iter().map(|op| match op {
            UpdateOp::Set(a, _) | UpdateOp::SetIfAbsent(a, _) | UpdateOp::Remove(a) | UpdateOp::Add(a, _) => a.as_str(),
        })
    }

    /// Applies to an item in place (the embedded adapter's semantics, matching DynamoDB's).
    pub fn apply(&self, item: &mut Item) -> Result<(), String> {
        for op in &self.ops {
            match op {
                UpdateOp::Set(a, v) => {
                    item.insert(a.clone(), v.clone());
                }
                UpdateOp::SetIfAbsent(a, v) => {
                    item.entry(a.clone()).or_insert_with(|| v.clone());
                }
                UpdateOp::Remove(a) => {
                    item.remove(a);
                }
                UpdateOp::Add(a, by) => {
                    let cur = match item.get(a) {
                        None => 0,
                        Some(Value::Number(n)) => {
                            n.as_i64().ok_or_else(|| format!("attribute {a} is not an integer"))?
                        }
                        Some(_) => return Err(format!("attribute {a} is not a number")),
                    };
                    let next = cur.checked_add(*by).ok_or_else(|| format!("attribute {a} overflows"))?;
                    item.insert(a.clone(), Value::from(next));
                }
            }
        }
        Ok(())
    }
}

/// Placeholders for DynamoDB expressions: `#n0` names and `:v0` values.
#[derive(Debug, Default)]
pub struct ExprNames {
    pub names: BTreeMap<String, String>,
    pub values: BTreeMap<String, Value>,
}

impl ExprNames {
    pub fn name(&mut self, attr: &str) -> String {
        if let Some((k, _)) = self.names.iter().find(|(_, v)| v.as_str() == attr) {
            return k.clone();
        }
        let k = format!("#n{}", self.names.len());
        self.names.insert(k.clone(), attr.to_owned());
        k
    }
    pub fn value(&mut self, v: Value) -> String {
        let k = format!(":v{}", self.values.len());
        self.values.insert(k.clone(), v);
        k
    }

    pub fn cond(&mut self, c: &Cond) -> String {
        let bin = |s: &mut Self, a: &str, op: &str, v: &Value| {
            let n = s.name(a);
            let v = s.value(v.clone());
            format!("{n} {op} {v}")
        };
        match c {
            Cond::NotExists => {
                let n = self.name("PK");
                format!("attribute_not_exists({n})")
            }
            Cond::Exists => {
                let n = self.name("PK");
                format!("attribute_exists({n})")
            }
            Cond::AttrExists(a) => format!("attribute_exists({})", self.name(a)),
            Cond::AttrNotExists(a) => format!("attribute_not_exists({})", self.name(a)),
            Cond::Eq(a, v) => bin(self, a, "=", v),
            // DynamoDB's `<>` is true for a missing attribute, as ours is.
            Cond::Ne(a, v) => bin(self, a, "<>", v),
            Cond::Lt(a, v) => bin(self, a, "<", v),
            Cond::Le(a, v) => bin(self, a, "<=", v),
            Cond::Gt(a, v) => bin(self, a, ">", v),
            Cond::Ge(a, v) => bin(self, a, ">=", v),
            Cond::And(cs) | Cond::Or(cs) if cs.is_empty() => {
                // An empty conjunction is true; an empty disjunction false.
                let n = self.name("PK");
                if matches!(c, Cond::And(_)) {
                    format!("(attribute_exists({n}) OR attribute_not_exists({n}))")
                } else {
                    format!("(attribute_exists({n}) AND attribute_not_exists({n}))")
                }
            }
            Cond::And(cs) => {
                let parts: Vec<_> = cs.iter().map(|c| self.cond(c)).collect();
                format!("({})", parts.join(" AND "))
            }
            Cond::Or(cs) => {
                let parts: Vec<_> = cs.iter().map(|c| self.cond(c)).collect();
                format!("({})", parts.join(" OR "))
            }
            Cond::Not(c) => format!("(NOT {})", self.cond(c)),
        }
    }

    pub fn update(&mut self, u: &Update) -> String {
        let mut set = Vec::new();
        let mut remove = Vec::new();
        let mut add = Vec::new();
        for op in &u.ops {
            match op {
                UpdateOp::Set(a, v) => {
                    let (n, v) = (self.name(a), self.value(v.clone()));
                    set.push(format!("{n} = {v}"));
                }
                UpdateOp::SetIfAbsent(a, v) => {
                    let (n, v) = (self.name(a), self.value(v.clone()));
                    set.push(format!("{n} = if_not_exists({n}, {v})"));
                }
                UpdateOp::Remove(a) => remove.push(self.name(a)),
                UpdateOp::Add(a, by) => {
                    let (n, v) = (self.name(a), self.value(Value::from(*by)));
                    add.push(format!("{n} {v}"));
                }
            }
        }
        let mut out = Vec::new();
        if !set.is_empty() {
            out.push(format!("SET {}", set.join(", ")));
        }
        if !remove.is_empty() {
            out.push(format!("REMOVE {}", remove.join(", ")));
        }
        if !add.is_empty() {
            out.push(format!("ADD {}", add.join(", ")));
        }
        out.join(" ")
    }

    pub fn sk(&mut self, attr: &str, c: &SkCond) -> Option<String> {
        if *c == SkCond::Any {
            return None;
        }
        let n = self.name(attr);
        Some(match c {
            SkCond::Any => return None,
            SkCond::Eq(v) => format!("{n} = {}", self.value(v.clone().into())),
            SkCond::BeginsWith(v) => format!("begins_with({n}, {})", self.value(v.clone().into())),
            SkCond::Between(a, b) => {
                let a = self.value(a.clone().into());
                let b = self.value(b.clone().into());
                format!("{n} BETWEEN {a} AND {b}")
            }
            SkCond::Lt(v) => format!("{n} < {}", self.value(v.clone().into())),
            SkCond::Le(v) => format!("{n} <= {}", self.value(v.clone().into())),
            SkCond::Gt(v) => format!("{n} > {}", self.value(v.clone().into())),
            SkCond::Ge(v) => format!("{n} >= {}", self.value(v.clone().into())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(v: Value) -> Item {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn conditions_follow_dynamodb_semantics() {
        let i = item(json!({"PK": "a", "SK": "b", "n": 5, "s": "x"}));
        assert!(Cond::NotExists.eval(None));
        assert!(!Cond::NotExists.eval(Some(&i)));
        assert!(Cond::Gt("n".into(), json!(4)).eval(Some(&i)));
        assert!(
            !Cond::Gt("n".into(), json!("4")).eval(Some(&i)),
            "type mismatch is false"
        );
        assert!(Cond::Ne("missing".into(), json!(1)).eval(Some(&i)));
        assert!(!Cond::Lt("missing".into(), json!(1)).eval(Some(&i)));
        assert!(Cond::And(vec![Cond::Exists, Cond::eq("s", "x")]).eval(Some(&i)));
    }

    #[test]
    fn update_renders_and_applies_the_same_ops() {
        let u = Update::new()
            .set("a", 1)
            .set_if_absent("b", "x")
            .remove("c")
            .add("n", 2);
        let mut names = ExprNames::default();
        assert_eq!(
            names.update(&u),
            "SET #n0 = :v0, #n1 = if_not_exists(#n1, :v1) REMOVE #n2 ADD #n3 :v2"
        );
        let mut i = item(json!({"b": "keep", "c": 1, "n": 40}));
        u.apply(&mut i).unwrap();
        assert_eq!(Value::Object(i), json!({"a": 1, "b": "keep", "n": 42}));
    }

    #[test]
    fn sort_key_conditions_compare_bytes() {
        assert!(SkCond::BeginsWith("RUN#".into()).matches("RUN#01"));
        assert!(!SkCond::BeginsWith("RUN#".into()).matches("RUM#01"));
        assert!(SkCond::Between("a".into(), "c".into()).matches("c"));
        assert!(SkCond::Lt("b".into()).matches("a~"));
    }
}
