// Package v1 holds the Go types equivalent to the kinds of
// kubeforge's tests/type_markers.rs: type-level one-of markers, list types
// on named slice types, CEL rules and external docs on the root kind, and a
// skipped version.
// +kubebuilder:object:generate=false
// +groupName=markers.example.com
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ChoiceSpec picks one of several alternatives.
// The markers are deliberately out of order: controller-gen writes XValidation
// rules first, then AtMostOneOf, ExactlyOneOf and AtLeastOneOf, each in
// source order.
// +kubebuilder:validation:AtLeastOneOf=email;phone
// +kubebuilder:validation:ExactlyOneOf=http;grpc
// +kubebuilder:validation:XValidation:rule="self.replicas >= 0",message="replicas is not negative"
// +kubebuilder:validation:AtMostOneOf=configMapRef;secretRef
// +kubebuilder:validation:ExactlyOneOf=tcp;udp
type ChoiceSpec struct {
	// http endpoint.
	// +optional
	HTTP *Endpoint `json:"http,omitempty"`
	// grpc endpoint.
	// +optional
	GRPC *Endpoint `json:"grpc,omitempty"`
	// configMapRef names a ConfigMap.
	// +optional
	ConfigMapRef *string `json:"configMapRef,omitempty"`
	// secretRef names a Secret.
	// +optional
	SecretRef *string `json:"secretRef,omitempty"`
	// email to notify.
	// +optional
	Email *string `json:"email,omitempty"`
	// phone to call.
	// +optional
	Phone *string `json:"phone,omitempty"`
	// tcp port.
	// +optional
	TCP *int32 `json:"tcp,omitempty"`
	// udp port.
	// +optional
	UDP *int32 `json:"udp,omitempty"`
	// replicas to run.
	Replicas int32 `json:"replicas"`
	// ports, merged by name and protocol.
	// +optional
	Ports Ports `json:"ports,omitempty"`
	// tags, each at most once.
	// +optional
	Tags Tags `json:"tags,omitempty"`
	// args, replaced as a whole.
	// +optional
	Args Args `json:"args,omitempty"`
}

// Endpoint is reached by host name or by IP address, not both.
// +kubebuilder:validation:AtMostOneOf=host;ip
type Endpoint struct {
	// host name.
	// +optional
	Host *string `json:"host,omitempty"`
	// ip address.
	// +optional
	IP *string `json:"ip,omitempty"`
	// port number.
	Port int32 `json:"port"`
}

// Ports is a list of ports keyed by name and protocol.
// +listType=map
// +listMapKey=name
// +listMapKey=protocol
type Ports []Port

// Port is one named port.
type Port struct {
	// name of the port.
	Name string `json:"name"`
	// protocol of the port.
	Protocol string `json:"protocol"`
	// number of the port.
	Number int32 `json:"number"`
}

// Tags is a set of strings.
// +listType=set
type Tags []string

// Args is an atomic list of strings.
// +listType=atomic
type Args []string

// Choice picks one of several alternatives.
// +kubebuilder:object:root=true
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 20",message="name is at most 20 characters"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.http) || self.metadata.name.startsWith('web-')",message="an http choice is named web-*",reason=FieldValueForbidden,fieldPath=".spec.http"
// +kubebuilder:externalDocs:url="https://example.com/choice",description="About choices"
type Choice struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the choice.
	// +required
	Spec ChoiceSpec `json:"spec"`
}

// ShapeSpec is version v1 of a shape.
type ShapeSpec struct {
	// sides of the shape.
	Sides int32 `json:"sides"`
}

// Shape has two versions; v2 is skipped.
// +kubebuilder:object:root=true
type Shape struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the shape.
	// +required
	Spec ShapeSpec `json:"spec"`
}

// GhostSpec is never written.
type GhostSpec struct {
	// name of the ghost.
	Name string `json:"name"`
}

// Ghost has only a skipped version, so it has no CRD at all.
// +kubebuilder:object:root=true
// +kubebuilder:skipversion
type Ghost struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the ghost.
	// +required
	Spec GhostSpec `json:"spec"`
}
