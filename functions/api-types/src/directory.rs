//! The environment's directory as operators read it: groups by display name (issue 19 item 2),
//! for the restore's group mapping and for assignments shown by name.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// One Entra group of the environment's tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DirectoryGroup {
    pub id: String,
    pub display_name: String,
}

/// `GET …/environments/{env}/directory/groups?search=` (display names starting with it, at most
/// 25, by name) or `?ids=` (those groups; ids the tenant does not have are in `missing`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DirectoryGroupList {
    pub items: Vec<DirectoryGroup>,
    pub missing: Vec<String>,
}
