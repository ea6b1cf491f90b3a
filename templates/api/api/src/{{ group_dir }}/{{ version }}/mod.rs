{{ license_header }}//! Version {{ version }} of the {{ api_group }} API group.

// +kubeforge:scaffold:kinds
