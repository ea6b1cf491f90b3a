{{ license_header }}//! Version {{ version }} of the {{ api_group }} API group.

mod {{ kind_snake }};
pub use {{ kind_snake }}::*;
// +kubeforge:scaffold:kinds
