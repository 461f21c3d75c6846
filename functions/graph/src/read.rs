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
        if !per_object.is_empty() {
            self.read_per_object(family, &mut objects, per_object).await?;
        }
        self.read_settings(family, &mut objects).await?;
        Ok(objects)
    }

    async fn read_per_object(
        &self,
        family: &Family,
        objects: &mut [Value],
        per_object: Vec<(usize, String)>,
    ) -> Result<(), GraphError> {
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
        Ok(())
    }

    /// Reads what the object's own GET leaves out — settings catalog and intent `settings`, ADMX
    /// `definitionValues` with their `presentationValues` — into each object, under the same name.
    /// A restore writes them back; without them a policy would come back empty.
    pub async fn read_settings(&self, family: &Family, objects: &mut [Value]) -> Result<(), GraphError> {
        let Some(settings) = family.settings else {
            return Ok(());
        };
        let requests: Vec<BatchRequest> = objects
            .iter()
            .enumerate()
            // Already expanded by the list: nothing to read.
            .filter(|(_, o)| !o.get(settings.path).is_some_and(Value::is_array))
            .filter_map(|(i, o)| {
                let id = o.get("id")?.as_str()?;
                let mut url = format!("{}/{id}/{}", family.collection, settings.path);
                if !settings.query.is_empty() {
                    url = format!("{url}?{}", settings.query);
                }
                Some(BatchRequest::get(i.to_string(), url))
            })
            .collect();
        if requests.is_empty() {
            return Ok(());
        }
        for answer in self.batch(family.version, requests).await? {
            let item = answer.result?;
            if let Some(object) = answer.id.parse::<usize>().ok().and_then(|i| objects.get_mut(i))
                && let Some(map) = object.as_object_mut()
            {
                let value = item.body.get("value").cloned().unwrap_or(Value::Array(vec![]));
                map.insert(settings.path.into(), value);
            }
        }
        let Some((child, query)) = settings.per_child else {
            return Ok(());
        };
        // ADMX: each definition value's presentation values, one batch item per value.
        let mut requests = Vec::new();
        for (i, o) in objects.iter().enumerate() {
            let Some(id) = o.get("id").and_then(Value::as_str) else {
                continue;
            };
            for (j, v) in o[settings.path].as_array().into_iter().flatten().enumerate() {
                let Some(vid) = v.get("id").and_then(Value::as_str) else {
                    continue;
                };
                let url = format!("{}/{id}/{}/{vid}/{child}?{query}", family.collection, settings.path);
                requests.push(BatchRequest::get(format!("{i}.{j}"), url));
            }
        }
        if requests.is_empty() {
            return Ok(());
        }
        for answer in self.batch(family.version, requests).await? {
            let item = answer.result?;
            let Some((i, j)) = answer.id.split_once('.') else {
                continue;
            };
            let (Ok(i), Ok(j)) = (i.parse::<usize>(), j.parse::<usize>()) else {
                continue;
            };
            if let Some(v) = objects.get_mut(i).and_then(|o| o[settings.path].get_mut(j))
                && let Some(map) = v.as_object_mut()
            {
                let value = item.body.get("value").cloned().unwrap_or(Value::Array(vec![]));
                map.insert(child.into(), value);
            }
        }
        Ok(())
    }
}
