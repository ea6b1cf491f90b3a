// Package v2 holds version v2 of the Shape kind, which controller-gen skips.
// +kubebuilder:object:generate=false
// +groupName=markers.example.com
package v2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ShapeSpec is version v2 of a shape.
type ShapeSpec struct {
	// corners of the shape.
	Corners int32 `json:"corners"`
}

// Shape has two versions; this one is skipped.
// +kubebuilder:object:root=true
// +kubebuilder:skipversion
type Shape struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the shape.
	// +required
	Spec ShapeSpec `json:"spec"`
}
