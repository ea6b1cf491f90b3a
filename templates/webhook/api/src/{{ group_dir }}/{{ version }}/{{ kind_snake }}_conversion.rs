{% if conversion %}{{ license_header }}//! {{ kind }} {{ version }} is the hub of its conversion webhook: the storage
//! version, which every other version converts to and from.

kubeforge::conversion_hub!(super::{{ kind }});
{% endif %}