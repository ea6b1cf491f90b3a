{{ license_header }}//! The {{ project_name }} operator's API: one module per API group, one per
//! version inside it, one file per kind. Each kind is a Spec struct marked
//! `#[kubeforge::crd(...)]`; `kubeforge manifests` turns every such type in
//! this crate into config/crd/bases/, wherever in the crate it is defined.

pub mod {{ group_module }};
// +kubeforge:scaffold:groups
