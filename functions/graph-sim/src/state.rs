//! The simulator's world: tenants with their objects, app registrations, grants, faults and counters.
//! One mutex guards it; handlers never hold it across an await.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde_json::{Map, Value, json};

use crate::audit::{Actor, AuditLog, Change, Op};
use crate::auth::Signer;
use crate::config::{
    AppSpec, ConsentBehavior, GLOBAL_ADMINISTRATOR, INTUNE_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR, SimConfig,
    SimUser, Stats, TenantInfo, TenantSpec,
};
use crate::families::{FAMILIES, Family, FamilyDef};
use crate::faults::{FaultState, Faults};
use crate::rng::{Rng, is_guid, mix};
use crate::seed;

/// Shown instead of an encrypted OMA-URI value; the plain value comes from `getOmaSettingPlainTextValue`.
pub(crate) const MASK: &str = "********";

#[derive(Clone, Debug)]
pub(crate) struct Obj {
    pub id: String,
    /// Structural properties, `id` and `@odata.type` included.
    pub props: Map<String, Value>,
    /// Navigation collections: `assignments`, `settings`, `scheduledActionsForRule`, `apps`.
    pub navs: BTreeMap<String, Vec<Value>>,
    /// `secretReferenceValueId` → plain value of encrypted OMA settings.
    pub secrets: BTreeMap<String, String>,
}

impl Obj {
    pub(crate) fn new(id: String, props: Map<String, Value>) -> Self {
        Obj {
            id,
            props,
            navs: BTreeMap::new(),
            secrets: BTreeMap::new(),
        }
    }

    /// Stores settings catalog settings with Graph's ids `"0"`, `"1"`, ….
    pub(crate) fn set_settings(&mut self, settings: Vec<Value>) {
        let settings = settings
            .into_iter()
            .enumerate()
            .map(|(i, mut s)| {
                if let Value::Object(m) = &mut s {
                    m.remove("settingInstance@odata.type");
                    let inst = m.remove("settingInstance");
                    m.insert("id".into(), json!(i.to_string()));
                    if let Some(inst) = inst {
                        m.insert("settingInstance".into(), inst);
                    }
                    m.entry("@odata.type")
                        .or_insert(json!("#microsoft.graph.deviceManagementConfigurationSetting"));
                }
                seal_secret_values(&mut s);
                s
            })
            .collect();
        self.navs.insert("settings".into(), settings);
    }

    /// Moves the values of encrypted OMA settings into `secrets` and masks them.
    pub(crate) fn protect_oma_settings(&mut self) {
        let Some(Value::Array(settings)) = self.props.get_mut("omaSettings") else {
            return;
        };
        for s in settings {
            let Value::Object(m) = s else { continue };
            if m.get("isEncrypted") != Some(&Value::Bool(true)) {
                continue;
            }
            let value = m.get("value").and_then(Value::as_str).unwrap_or_default().to_string();
            if value == MASK {
                continue;
            }
            let sref = match m.get("secretReferenceValueId").and_then(Value::as_str) {
                Some(s) if !s.is_empty() && !self.secrets.contains_key(s) => s.to_string(),
                _ => crate::rng::guid_from(mix(self.secrets.len() as u64 ^ 0xA5), mix(value.len() as u64 ^ 0x5A)),
            };
            self.secrets.insert(sref.clone(), value);
            m.insert("secretReferenceValueId".into(), json!(sref));
            m.insert("value".into(), json!(MASK));
        }
    }

    pub(crate) fn assignments(&self) -> &[Value] {
        self.navs.get("assignments").map(Vec::as_slice).unwrap_or_default()
    }
}

/// Graph keeps a settings-catalog secret to itself: a `…SecretSettingValue` written `notEncrypted`
/// is stored and returned as an opaque token with `valueState: encryptedValueToken`; a token
/// written back (a restore of what was read) is kept as it is.
fn seal_secret_values(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let secret = m
                .get("@odata.type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with("SecretSettingValue"));
            if secret && m.get("valueState").and_then(Value::as_str) != Some("encryptedValueToken") {
                let plain = m.get("value").and_then(Value::as_str).unwrap_or_default().to_owned();
                let token = format!(
                    "{:016x}{:016x}",
                    crate::rng::hash_parts(0x5EC1, &[&plain]),
                    crate::rng::hash_parts(0x5EC2, &[&plain])
                );
                m.insert("value".into(), json!(token));
                m.insert("valueState".into(), json!("encryptedValueToken"));
            }
            m.values_mut().for_each(seal_secret_values);
        }
        Value::Array(items) => items.iter_mut().for_each(seal_secret_values),
        _ => {}
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Grant {
    pub roles: Vec<String>,
    /// Object id of the app's service principal in the tenant (the token's `oid`).
    pub sp_id: String,
}

pub(crate) struct Tenant {
    pub info: TenantInfo,
    pub consent: ConsentBehavior,
    /// Keyed by lower-case client id.
    pub grants: BTreeMap<String, Grant>,
    pub faults: Faults,
    pub fault_state: FaultState,
    pub stats: Stats,
    /// When `stats` were last reset: the origin of `Stats::admitted_per_second`.
    pub stats_since: std::time::Instant,
    /// Graph requests of the tenant being answered now.
    pub in_flight: u64,
    /// Bumped when [`Faults::hold_until_in_flight`] opens: held answers wait for it.
    pub gate: tokio::sync::watch::Sender<u64>,
    pub data: BTreeMap<Family, Vec<Obj>>,
    pub rng: Rng,
    /// Who can sign in at the authorize endpoint.
    pub users: Vec<SimUser>,
    /// The tenant's ID-token signing key, made on first use (RSA generation is slow).
    pub id_signer: Option<std::sync::Arc<Signer>>,
    /// The Intune audit log (`deviceManagement/auditEvents`).
    pub audit: AuditLog,
}

impl Tenant {
    pub(crate) fn id_signer(&mut self) -> std::sync::Arc<Signer> {
        self.id_signer
            .get_or_insert_with(|| std::sync::Arc::new(Signer::generate()))
            .clone()
    }

    pub(crate) fn user(&self, key_or_id: &str) -> Option<&SimUser> {
        self.users.iter().find(|u| {
            u.key == key_or_id
                || u.id.eq_ignore_ascii_case(key_or_id)
                || u.user_principal_name.eq_ignore_ascii_case(key_or_id)
        })
    }
    /// Appends an audit event for a change to one object (visible after `SimConfig::audit_delay_ms`).
    pub(crate) fn audit(&mut self, delay_ms: u64, change: Change<'_>) {
        let id = self.info.id.clone();
        self.audit
            .record(&id, std::time::Duration::from_millis(delay_ms), change);
    }

    /// The administrator behind a portal change: `key` names a user of the tenant (key, id or UPN)
    /// or another UPN (a guest admin); none is the tenant's first user, its Global Administrator.
    pub(crate) fn portal_actor(&self, key: Option<&str>) -> Result<Actor, String> {
        let key = key.map(str::trim).filter(|k| !k.is_empty());
        if let Some(u) = key.map_or(self.users.first(), |k| self.user(k)) {
            return Ok(Actor::portal_user(u.user_principal_name.clone(), Some(u.id.clone())));
        }
        match key {
            Some(upn) if upn.contains('@') => Ok(Actor::portal_user(upn.to_string(), None)),
            Some(k) => Err(format!("actor '{k}' is neither a user of the tenant nor a UPN")),
            None => Err("the tenant has no users".into()),
        }
    }

    /// An admin creating an object in the portal (no Graph request is counted); returns its id.
    pub(crate) fn portal_create(
        &mut self,
        def: &'static FamilyDef,
        mut props: Map<String, Value>,
        actor: Actor,
        delay_ms: u64,
    ) -> String {
        let id = self.rng.guid();
        props.insert("id".into(), Value::String(id.clone()));
        let obj = Obj::new(id.clone(), props);
        self.portal_audit(def, Op::Create, None, Some(&obj), actor, delay_ms);
        self.objects_mut(def.family).push(obj);
        id
    }

    /// An admin setting top-level properties in the portal. False if there is no such object.
    pub(crate) fn portal_patch(
        &mut self,
        def: &'static FamilyDef,
        id: &str,
        props: Map<String, Value>,
        actor: Actor,
        delay_ms: u64,
    ) -> bool {
        let Some(obj) = self.find_mut(def.family, id) else {
            return false;
        };
        let before = obj.clone();
        // A navigation (`assignments`, …) given as an array replaces that collection, as editing
        // the assignments in the portal does; everything else is a property.
        for (k, v) in props {
            match v {
                Value::Array(items) if def.navs.contains(&k.as_str()) => {
                    obj.navs.insert(k, items);
                }
                v => {
                    obj.props.insert(k, v);
                }
            }
        }
        let after = obj.clone();
        self.portal_audit(def, Op::Patch, Some(&before), Some(&after), actor, delay_ms);
        true
    }

    /// An admin deleting an object in the portal. False if there is no such object.
    pub(crate) fn portal_delete(&mut self, def: &'static FamilyDef, id: &str, actor: Actor, delay_ms: u64) -> bool {
        let Some(before) = self.find(def.family, id).cloned() else {
            return false;
        };
        self.remove(def.family, &before.id);
        self.portal_audit(def, Op::Delete, Some(&before), None, actor, delay_ms);
        true
    }

    /// The audit event of a portal change; the portal's request has no `client-request-id` of ours,
    /// so the correlation id is made up (unique per tenant).
    fn portal_audit(
        &mut self,
        def: &'static FamilyDef,
        op: Op,
        before: Option<&Obj>,
        after: Option<&Obj>,
        actor: Actor,
        delay_ms: u64,
    ) {
        let Some(resource_id) = after.or(before).map(|o| o.id.clone()) else {
            return;
        };
        let n = self.audit.seq().to_string();
        let correlation_id = crate::rng::guid_from(
            crate::rng::hash_parts(0xC0, &[&self.info.id, &n]),
            crate::rng::hash_parts(0xC1, &[&self.info.id, &n]),
        );
        let change = Change {
            def,
            op,
            action: None,
            resource_id: &resource_id,
            before,
            after,
            actor,
            correlation_id: &correlation_id,
        };
        self.audit(delay_ms, change);
    }

    pub(crate) fn objects(&self, family: Family) -> &[Obj] {
        self.data.get(&family).map(Vec::as_slice).unwrap_or_default()
    }

    pub(crate) fn objects_mut(&mut self, family: Family) -> &mut Vec<Obj> {
        self.data.entry(family).or_default()
    }

    /// Removes an object; true if it existed.
    pub(crate) fn remove(&mut self, family: Family, id: &str) -> bool {
        let list = self.objects_mut(family);
        let before = list.len();
        list.retain(|o| o.id != id);
        list.len() != before
    }

    pub(crate) fn find(&self, family: Family, id: &str) -> Option<&Obj> {
        self.objects(family).iter().find(|o| o.id.eq_ignore_ascii_case(id))
    }

    pub(crate) fn find_mut(&mut self, family: Family, id: &str) -> Option<&mut Obj> {
        self.objects_mut(family)
            .iter_mut()
            .find(|o| o.id.eq_ignore_ascii_case(id))
    }

    pub(crate) fn snapshot_stats(&self) -> Stats {
        let mut s = self.stats.clone();
        for d in FAMILIES.iter().filter(|d| d.stored) {
            let objs = self.objects(d.family);
            s.objects.insert(d.name.to_string(), objs.len());
            if d.assign.is_some() {
                s.assignments
                    .insert(d.name.to_string(), objs.iter().map(|o| o.assignments().len()).sum());
            }
        }
        s
    }

    pub(crate) fn reset_stats(&mut self) {
        self.stats = Stats::default();
        self.stats_since = std::time::Instant::now();
    }

    /// A Graph request arrived (`path` under the version, with its query): counted in flight and
    /// recorded. Returns its arrival, for [`Tenant::answered`].
    pub(crate) fn arrived(&mut self, method: &str, path: &str) -> Arrival {
        let at = std::time::Instant::now();
        let unix_ms = unix_ms();
        self.stats.first_arrival_unix_ms.get_or_insert(unix_ms);
        let index = (self.stats.recorded.len() < crate::config::RECORD_LIMIT).then(|| {
            self.stats.recorded.push(crate::config::Recorded {
                method: method.to_owned(),
                path: path.to_owned(),
                arrived_us: at.saturating_duration_since(self.stats_since).as_micros() as u64,
                answered_us: None,
                in_flight_at_arrival: self.in_flight,
            });
            self.stats.recorded.len() - 1
        });
        self.in_flight += 1;
        self.stats.in_flight_max = self.stats.in_flight_max.max(self.in_flight);
        Arrival {
            at,
            index,
            since: self.stats_since,
        }
    }

    /// With [`Faults::hold_until_in_flight`] set and not yet reached, what an answer must wait for;
    /// reaching it opens the gate for every held answer.
    pub(crate) fn gate(&mut self) -> Option<tokio::sync::watch::Receiver<u64>> {
        let n = self.faults.hold_until_in_flight?;
        if self.fault_state.gate_open {
            return None;
        }
        if self.in_flight >= n {
            self.fault_state.gate_open = true;
            self.gate.send_modify(|g| *g += 1);
            return None;
        }
        Some(self.gate.subscribe())
    }

    /// The answer to a request that [`Tenant::arrived`] is going out.
    pub(crate) fn answered(&mut self, arrival: Arrival) {
        self.in_flight = self.in_flight.saturating_sub(1);
        // A reset in between starts the figures afresh: this request belongs to the old ones.
        if arrival.since != self.stats_since {
            return;
        }
        let now = std::time::Instant::now();
        self.stats.in_flight_us += now.saturating_duration_since(arrival.at).as_micros() as u64;
        self.stats.last_answer_unix_ms = Some(unix_ms());
        if let Some(r) = arrival.index.and_then(|i| self.stats.recorded.get_mut(i)) {
            r.answered_us = Some(now.saturating_duration_since(self.stats_since).as_micros() as u64);
        }
    }

    /// A request or batch item the rate limiter let through.
    pub(crate) fn count_admitted(&mut self, (service, scale): (&str, u32)) {
        let since = self.stats_since.elapsed();
        *self.stats.admitted_per_second.entry(since.as_secs()).or_insert(0) += 1;
        self.stats.last_admitted_ms = since.as_millis() as u64;
        let s = self.stats.admitted_by_service.entry(service.to_owned()).or_default();
        s.scale = scale;
        s.total += 1;
        *s.per_second.entry(since.as_secs()).or_insert(0) += 1;
        s.last_ms = since.as_millis() as u64;
    }

    pub(crate) fn count_request(&mut self, method: &str, route: &str) {
        self.stats.graph_requests += 1;
        *self.stats.requests.entry(format!("{method} {route}")).or_insert(0) += 1;
    }
}

/// Where a request stands in [`Tenant::arrived`]'s figures.
pub(crate) struct Arrival {
    at: std::time::Instant,
    index: Option<usize>,
    since: std::time::Instant,
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(crate) struct World {
    pub tenants: Vec<Tenant>,
    /// Keyed by lower-case client id.
    pub apps: BTreeMap<String, AppSpec>,
    /// Authorization codes issued by the authorize endpoint, by code.
    pub codes: BTreeMap<String, crate::login::PendingCode>,
}

impl World {
    /// A tenant by id (GUID) or verified domain, case-insensitive.
    pub(crate) fn tenant_index(&self, key: &str) -> Option<usize> {
        self.tenants.iter().position(|t| {
            t.info.id.eq_ignore_ascii_case(key) || t.info.domains.iter().any(|d| d.eq_ignore_ascii_case(key))
        })
    }

    pub(crate) fn tenant(&self, key: &str) -> Option<&Tenant> {
        self.tenant_index(key).map(|i| &self.tenants[i])
    }

    pub(crate) fn tenant_mut(&mut self, key: &str) -> Option<&mut Tenant> {
        self.tenant_index(key).map(|i| &mut self.tenants[i])
    }
}

pub(crate) struct Shared {
    pub config: SimConfig,
    pub base_url: String,
    pub signer: &'static Signer,
    /// Distinguishes this simulator's tokens from another one's in the same process (same key).
    pub instance: String,
    seq: AtomicU64,
    world: Mutex<World>,
}

/// Every tenant's users: one per administrator role the product cares about, and a plain user.
fn default_users(seed: u64, domain: &str) -> Vec<SimUser> {
    [
        ("global-admin", "admin", "Megan Bowen", vec![GLOBAL_ADMINISTRATOR]),
        (
            "intune-admin",
            "intune.admin",
            "Isaiah Langer",
            vec![INTUNE_ADMINISTRATOR],
        ),
        (
            "privileged-role-admin",
            "roles.admin",
            "Patti Fernandez",
            vec![PRIVILEGED_ROLE_ADMINISTRATOR],
        ),
        ("user", "adele.vance", "Adele Vance", vec![]),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (key, local, name, roles))| SimUser {
        key: key.into(),
        id: crate::rng::guid_from(
            mix(seed ^ (0x5EED_0000 + i as u64)),
            mix(seed.rotate_left(17) ^ i as u64),
        ),
        user_principal_name: format!("{local}@{domain}"),
        display_name: name.into(),
        roles: roles.into_iter().map(str::to_string).collect(),
    })
    .collect()
}

const ORG_NAMES: &[&str] = &[
    "Contoso",
    "Fabrikam",
    "Northwind",
    "Tailspin",
    "Woodgrove",
    "Adatum",
    "Litware",
    "Proseware",
    "Wingtip",
    "Lamna",
];

impl Shared {
    pub(crate) fn new(config: SimConfig, base_url: String) -> Self {
        static INSTANCES: AtomicU64 = AtomicU64::new(0);
        let n = INSTANCES.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Shared {
            instance: format!("{:016x}", mix(nanos ^ mix(n) ^ u64::from(std::process::id()))),
            config,
            base_url,
            signer: Signer::global(),
            seq: AtomicU64::new(0),
            world: Mutex::new(World {
                tenants: Vec::new(),
                apps: BTreeMap::new(),
                codes: BTreeMap::new(),
            }),
        }
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn add_tenant(&self, spec: TenantSpec) -> Result<TenantInfo, String> {
        let mut w = self.world();
        let ordinal = w.tenants.len() as u64;
        let seed = spec.seed.unwrap_or_else(|| mix(self.config.seed ^ mix(ordinal + 1)));
        let mut rng = Rng::new(seed);
        let id = match spec.id {
            Some(id) if is_guid(&id) => id.to_ascii_lowercase(),
            Some(id) => return Err(format!("tenant id '{id}' is not a GUID")),
            None => rng.guid(),
        };
        if w.tenant_index(&id).is_some() {
            return Err(format!("tenant '{id}' exists"));
        }
        let base_name = ORG_NAMES[(ordinal as usize) % ORG_NAMES.len()];
        let display_name = spec.display_name.unwrap_or_else(|| {
            if ordinal < ORG_NAMES.len() as u64 {
                format!("{base_name} Ltd")
            } else {
                format!("{base_name} {} Ltd", ordinal / ORG_NAMES.len() as u64 + 1)
            }
        });
        let short: String = display_name
            .split_whitespace()
            .next()
            .unwrap_or("tenant")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        let mut domains = spec.domains;
        if domains.is_empty() {
            domains.push(format!(
                "{short}{}.example",
                if ordinal == 0 {
                    String::new()
                } else {
                    ordinal.to_string()
                }
            ));
        }
        if !domains.iter().any(|d| d.ends_with(".onmicrosoft.com")) {
            domains.push(format!("{short}{:04x}.onmicrosoft.com", rng.next_u64() & 0xFFFF));
        }
        for d in &domains {
            if w.tenant_index(d).is_some() {
                return Err(format!("domain '{d}' is already verified by another tenant"));
            }
        }
        let users = default_users(seed, &domains[0]);
        let n = spec.policies_per_family.unwrap_or(self.config.policies_per_family);
        let data = seed::seed_tenant(rng.next_u64(), n, &short);
        let info = TenantInfo {
            id,
            display_name,
            domains,
        };
        w.tenants.push(Tenant {
            info: info.clone(),
            consent: spec.consent,
            grants: BTreeMap::new(),
            faults: self.config.initial_faults.clone(),
            fault_state: FaultState::default(),
            stats: Stats::default(),
            stats_since: std::time::Instant::now(),
            in_flight: 0,
            gate: tokio::sync::watch::channel(0).0,
            data,
            rng,
            users,
            id_signer: None,
            audit: AuditLog::default(),
        });
        Ok(info)
    }

    pub(crate) fn register_app(&self, mut spec: AppSpec) {
        spec.client_id = spec.client_id.to_ascii_lowercase();
        self.world().apps.insert(spec.client_id.clone(), spec);
    }

    pub(crate) fn grant(&self, tenant: &str, client_id: &str, roles: Vec<String>) -> Result<(), String> {
        let mut w = self.world();
        let t = w
            .tenant_mut(tenant)
            .ok_or_else(|| format!("unknown tenant '{tenant}'"))?;
        let key = client_id.to_ascii_lowercase();
        let sp_id = match t.grants.get(&key) {
            Some(g) => g.sp_id.clone(),
            None => t.rng.guid(),
        };
        t.grants.insert(key, Grant { roles, sp_id });
        Ok(())
    }

    pub(crate) fn revoke(&self, tenant: &str, client_id: &str) -> Result<(), String> {
        let mut w = self.world();
        let t = w
            .tenant_mut(tenant)
            .ok_or_else(|| format!("unknown tenant '{tenant}'"))?;
        t.grants.remove(&client_id.to_ascii_lowercase());
        Ok(())
    }

    pub(crate) fn with_tenant<R>(&self, tenant: &str, f: impl FnOnce(&mut Tenant) -> R) -> Result<R, String> {
        let mut w = self.world();
        let t = w
            .tenant_mut(tenant)
            .ok_or_else(|| format!("unknown tenant '{tenant}'"))?;
        Ok(f(t))
    }

    /// A request id: GUID-shaped, unique per simulator.
    pub(crate) fn next_request_id(&self) -> String {
        let s = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let x = self.config.seed.wrapping_add(s.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        crate::rng::guid_from(
            mix(x ^ 0x2545_F491_4F6C_DD1D),
            mix(x.rotate_left(29) ^ 0x1656_67B1_9E37_79F9),
        )
    }
}
