// The MyApp API of kubeforge's example (examples/myapp-operator/api),
// written the Kubebuilder way; `cargo xtask bench compare` puts it over the
// scaffold's api/v1/myapp_types.go.

package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// MyAppSpec defines the desired state of MyApp.
type MyAppSpec struct {
	// How many pods to run.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=1
	// +optional
	Replicas int32 `json:"replicas"`
	// The container image to run.
	// +kubebuilder:validation:MinLength=1
	// +required
	Image string `json:"image"`
	// The port the application listens on; the Service exposes it.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +kubebuilder:default=8080
	// +optional
	Port int32 `json:"port"`
}

// MyAppStatus defines the observed state of MyApp.
type MyAppStatus struct {
	// +optional
	ReadyReplicas *int32 `json:"readyReplicas,omitempty"`
	// +optional
	ObservedGeneration *int64 `json:"observedGeneration,omitempty"`
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status

// MyApp is the Schema for the myapps API.
type MyApp struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`
	// +required
	Spec MyAppSpec `json:"spec"`
	// +optional
	Status MyAppStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// MyAppList contains a list of MyApp.
type MyAppList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []MyApp `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &MyApp{}, &MyAppList{})
		return nil
	})
}
