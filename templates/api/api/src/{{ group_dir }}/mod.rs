{{ license_header }}//! The {{ api_group }} API group.

// +kubeforge:scaffold:versions
