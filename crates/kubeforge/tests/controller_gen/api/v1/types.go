// Package v1 holds the Go types equivalent to kubeforge's Embedding golden kind.
// +kubebuilder:object:generate=false
// +groupName=apps.example.com
package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// EmbeddingSpec embeds Kubernetes types.
type EmbeddingSpec struct {
	// template is the pod template.
	Template corev1.PodTemplateSpec `json:"template"`
	// port is a number or a name.
	Port intstr.IntOrString `json:"port"`
	// maxUnavailable is a count or a percentage.
	// +optional
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
}

// EmbeddingStatus holds conditions.
type EmbeddingStatus struct {
	// conditions of the embedding.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Embedding embeds Kubernetes types.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
type Embedding struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the embedding.
	// +required
	Spec EmbeddingSpec `json:"spec"`
	// status of the embedding.
	// +optional
	Status EmbeddingStatus `json:"status,omitzero"`
}
