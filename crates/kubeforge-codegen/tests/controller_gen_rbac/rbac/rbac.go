// Package rbac holds RBAC markers equivalent to kubeforge's rbac_role_name test.
package rbac

// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=list,namespace=infrastructure,roleName=infra-manager
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get,namespace=users,roleName=user-secrets
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get,roleName=a-nodes
// +kubebuilder:rbac:groups="",resources=pods,verbs=get,namespace=users
