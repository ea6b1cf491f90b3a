{{ license_header }}//! The {{ project_name }} operator's controllers. A library, so the tests in
//! tests/ can run them against a real API server; main.rs wires them into
//! the manager.

pub mod controller;
// +kubeforge:scaffold:modules
