{{ license_header }}//! The operator's controllers, one module each. `kubeforge create api` adds
//! them here and wires them into main.rs.

pub mod {{ controller_module }};
// +kubeforge:scaffold:controllers
