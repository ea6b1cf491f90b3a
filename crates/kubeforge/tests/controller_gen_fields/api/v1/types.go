// Package v1 holds the Go types equivalent to the FieldMarker kind of
// kubeforge's tests/field_markers.rs: controller-gen's items:*, Type,
// Schemaless, example, title and externalDocs markers.
// +kubebuilder:object:generate=false
// +groupName=apps.example.com
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// FieldMarkerSpec uses the field markers.
// +kubebuilder:externalDocs:url="https://example.com/fieldmarker"
type FieldMarkerSpec struct {
	// ports are port numbers.
	// +kubebuilder:validation:items:Minimum=1
	// +kubebuilder:validation:items:Maximum=65535
	Ports []int32 `json:"ports"`

	// names are DNS labels.
	// +kubebuilder:validation:MaxItems=5
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Names []string `json:"names,omitempty"`

	// weights are percentages above zero, in steps of five.
	// +kubebuilder:validation:items:Minimum=0
	// +kubebuilder:validation:items:ExclusiveMinimum=true
	// +kubebuilder:validation:items:Maximum=100
	// +kubebuilder:validation:items:MultipleOf=5
	// +optional
	Weights []int32 `json:"weights,omitempty"`

	// access lists permissions.
	// +kubebuilder:validation:items:Enum=Read;Write
	// +optional
	Access []string `json:"access,omitempty"`

	// hosts are host names.
	// +kubebuilder:validation:items:Format=hostname
	// +optional
	Hosts []string `json:"hosts,omitempty"`

	// selectors are label sets.
	// +kubebuilder:validation:items:MinProperties=1
	// +kubebuilder:validation:items:MaxProperties=3
	// +optional
	Selectors []map[string]string `json:"selectors,omitempty"`

	// matrix is a list of rows.
	// +kubebuilder:validation:items:MinItems=1
	// +kubebuilder:validation:items:MaxItems=3
	// +optional
	Matrix [][]int32 `json:"matrix,omitempty"`

	// steps are commands.
	// +kubebuilder:validation:items:XValidation:rule="!self.startsWith('-')",message="a step is not a flag"
	// +optional
	Steps []string `json:"steps,omitempty"`

	// backends are where traffic goes.
	// +kubebuilder:validation:items:XValidation:rule="self.weight <= 100",message="weight is a percentage"
	// +optional
	Backends []Backend `json:"backends,omitempty"`

	// objects are whole Kubernetes objects.
	// +kubebuilder:validation:items:XEmbeddedResource
	// +optional
	Objects []runtime.RawExtension `json:"objects,omitempty"`

	// percent is any number from 0 to 100.
	// +kubebuilder:validation:Type=number
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	Percent int32 `json:"percent,omitempty"`

	// raw is any JSON object.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Raw *runtime.RawExtension `json:"raw,omitempty"`

	// template is a whole Kubernetes object.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:EmbeddedResource
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Template runtime.RawExtension `json:"template,omitempty"`

	// tree is recursive, which only a schemaless field can hold.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Tree *Node `json:"tree,omitempty"`

	// replicas is how many.
	// +kubebuilder:example=3
	// +kubebuilder:title=Replicas
	Replicas int32 `json:"replicas"`

	// image is what runs.
	// +kubebuilder:example="nginx:1.27"
	// +kubebuilder:externalDocs:url="https://kubernetes.io/docs/concepts/containers/images/",description="Container images"
	// +optional
	Image string `json:"image,omitempty"`

	// args are its arguments.
	// +kubebuilder:example={"--verbose","--port=80"}
	// +optional
	Args []string `json:"args,omitempty"`

	// labels are labels.
	// +kubebuilder:example={app: web}
	// +kubebuilder:title="Pod labels"
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
}

// Backend is a weighted service.
// +kubebuilder:externalDocs:url="https://example.com/backends",description="Backends"
type Backend struct {
	// name of the service.
	Name string `json:"name"`
	// weight of the service.
	Weight int32 `json:"weight"`
}

// Node is a tree.
type Node struct {
	// children of the node.
	// +optional
	Children []Node `json:"children,omitempty"`
}

// FieldMarker uses the field markers.
// +kubebuilder:object:root=true
type FieldMarker struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the kind.
	// +required
	Spec FieldMarkerSpec `json:"spec"`
}
