//! Findings: the workspace's hub (filters, bulk triage, CSV) and one finding's detail with its
//! history and the triage moves its status allows. One file per page.

mod detail;
mod exceptions;
mod hub;

pub use detail::FindingPage;
pub use exceptions::ExceptionsPage;
pub use hub::{FindingsPage, FindingsQuery, findings_path};
