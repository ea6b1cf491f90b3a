{{ license_header }}//! Conversion between {{ kind }} {{ spoke_version }} (this version, a spoke) and
//! {{ version }} (the hub). The API server stores {{ version }} and calls the
//! conversion webhook to serve {{ spoke_version }}.
//!
//! Every field is mapped by name in a struct literal, so adding a field to
//! either version is a compile error here until it is mapped. A field one
//! version lacks must be kept somewhere (usually an annotation) for objects
//! to survive the round trip the tests check.

use super::{{ kind }} as Spoke;
use {{ hub_module }}::{self as hub_version, {{ kind }} as Hub};

impl From<Spoke> for Hub {
    fn from(spoke: Spoke) -> Self {
        // TODO(user): map each field of the spec and status.
        let spec = hub_version::{{ kind }}Spec {
            replicas: spoke.spec.replicas,
        };
        let mut hub = Hub::new("", spec);
        hub.metadata = spoke.metadata;
        hub.status = spoke.status.map(|status| hub_version::{{ kind }}Status {
            observed_generation: status.observed_generation,
            conditions: status.conditions,
        });
        hub
    }
}

impl From<Hub> for Spoke {
    fn from(hub: Hub) -> Self {
        // TODO(user): map each field of the spec and status.
        let spec = super::{{ kind }}Spec {
            replicas: hub.spec.replicas,
        };
        let mut spoke = Spoke::new("", spec);
        spoke.metadata = hub.metadata;
        spoke.status = hub.status.map(|status| super::{{ kind }}Status {
            observed_generation: status.observed_generation,
            conditions: status.conditions,
        });
        spoke
    }
}
