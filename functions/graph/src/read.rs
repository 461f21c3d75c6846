//! Full reads of a policy family, for backups: every object with its assignments, by the cheapest
//! route Graph offers — the list with `$expand=assignments` where it can, else `$batch` (20 per
//! call, failed items retried one by one) for the assignments, or for the whole object when the
//! list leaves content out (scripts).

use serde_json::Value;

use crate::families::{AssignmentsRead, Family};
use crate::{BatchRequest, GraphError, TenantClient};

impl TenantClient {
    /// Every object of `family`, complete, or an error: never a list missing an object or an
    /// object missing its assignments.
    pub async fn read_family(&self, family: &Family) -> Result<Vec<Value>, GraphError> {
        let mut objects = self.list_all(&family.full_list_query()).await?;
        let per_object: Vec<(usize, String)> = objects
            .iter()
            .enumerate()
            .filter_map(|(i, o)| {
                let url = if family.refetch_items {
                    family.refetch_batch_url(o.get("id")?.as_str()?)
                } else if family.assignments == AssignmentsRead::Batch {
                    family.object_assignments_batch_url(o)?
                } else {
                    return None;
                };
                Some((i, url))
            })
            .collect();
        if per_object.is_empty() {
            return Ok(objects);
        }
        let requests = per_object
            .iter()
            .map(|(i, url)| BatchRequest::get(i.to_string(), url.clone()))
            .collect();
        for answer in self.batch(family.version, requests).await? {
            let item = answer.result?;
            let Some(object) = answer.id.parse::<usize>().ok().and_then(|i| objects.get_mut(i)) else {
                continue;
            };
            if family.refetch_items {
                let mut body = item.body;
                if let Some(map) = body.as_object_mut() {
                    map.remove("@odata.context");
                }
                *object = body;
            } else if let Some(map) = object.as_object_mut() {
                let value = item.body.get("value").cloned().unwrap_or(Value::Array(vec![]));
                map.insert("assignments".into(), value);
            }
        }
        Ok(objects)
    }
}
