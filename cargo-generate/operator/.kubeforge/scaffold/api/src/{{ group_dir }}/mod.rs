{{ license_header }}//! The {{ api_group }} API group.

pub mod {{ version }};
// +kubeforge:scaffold:versions
