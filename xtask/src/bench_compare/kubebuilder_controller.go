// The MyApp controller of kubeforge's example
// (examples/myapp-operator/manager/src/controller/my_app.rs) written for
// controller-runtime, so `cargo xtask bench compare` runs the same logic on
// both sides. Part of the benchmark harness, not of kubeforge: it is written
// over the Kubebuilder scaffold's internal/controller/myapp_controller.go.
//
// One reconcile, in the example's order: the finalizer is added first (and
// the reconcile ends there, as kube-runtime's finalizer helper does: the
// update triggers the next one); then the Deployment, the Service and the
// registry ConfigMap are read from the manager's cache (as the example reads
// its caches) and server-side applied only if they differ from what the MyApp asks for, each write recorded as an
// events.k8s.io Event; then the status is derived from the Deployment and
// server-side applied if it changed.

package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	myappv1 "example.com/kbbench/api/v1"
)

const (
	fieldManager = "myapp-myapp-controller"
	finalizer    = "apps.example.com/registry"
	managedBy    = "myapp-operator"
	portName     = "http"
	resync       = 300 * time.Second
)

// MyAppReconciler reconciles a MyApp object
type MyAppReconciler struct {
	client.Client
	Scheme            *runtime.Scheme
	Recorder          recorder.EventRecorder
	RegistryNamespace string
}

// +kubebuilder:rbac:groups=apps.example.com,resources=myapps,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=apps.example.com,resources=myapps/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apps.example.com,resources=myapps/finalizers,verbs=update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;patch;delete

// Reconcile brings the world in line with one MyApp.
func (r *MyAppReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	app := &myappv1.MyApp{}
	if err := r.Get(ctx, req.NamespacedName, app); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !app.DeletionTimestamp.IsZero() {
		if !controllerutil.ContainsFinalizer(app, finalizer) {
			return ctrl.Result{}, nil
		}
		err := r.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Name: registryName(app), Namespace: r.RegistryNamespace,
		}})
		if client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, r.reportFailure(ctx, app, err)
		}
		patch := client.MergeFromWithOptions(app.DeepCopy(), client.MergeFromWithOptimisticLock{})
		controllerutil.RemoveFinalizer(app, finalizer)
		return ctrl.Result{}, r.Patch(ctx, app, patch)
	}
	if !controllerutil.ContainsFinalizer(app, finalizer) {
		patch := client.MergeFromWithOptions(app.DeepCopy(), client.MergeFromWithOptimisticLock{})
		controllerutil.AddFinalizer(app, finalizer)
		if err := r.Patch(ctx, app, patch); err != nil {
			return ctrl.Result{}, r.reportFailure(ctx, app, err)
		}
		return ctrl.Result{}, nil
	}
	if err := r.apply(ctx, app); err != nil {
		return ctrl.Result{}, r.reportFailure(ctx, app, err)
	}
	return ctrl.Result{RequeueAfter: resync}, nil
}

func (r *MyAppReconciler) apply(ctx context.Context, app *myappv1.MyApp) error {
	owner := []any{map[string]any{
		"apiVersion":         "apps.example.com/v1",
		"kind":               "MyApp",
		"name":               app.Name,
		"uid":                string(app.UID),
		"controller":         true,
		"blockOwnerDeletion": true,
	}}
	deployment := &appsv1.Deployment{}
	if err := r.ensure(ctx, app, deployment, "Deployment", desiredDeployment(app, owner)); err != nil {
		return err
	}
	if err := r.ensure(ctx, app, &corev1.Service{}, "Service", desiredService(app, owner)); err != nil {
		return err
	}
	if err := r.ensure(ctx, app, &corev1.ConfigMap{}, "ConfigMap", r.registryEntry(app)); err != nil {
		return err
	}
	next := observe(app, deployment)
	if !equality.Semantic.DeepEqual(app.Status, next) {
		return r.writeStatus(ctx, app, next)
	}
	return nil
}

// ensure reads the object `desired` describes into `current` and applies
// `desired` only if it is not already a subset of it.
func (r *MyAppReconciler) ensure(ctx context.Context, app *myappv1.MyApp, current client.Object, kind string, desired map[string]any) error {
	metadata := desired["metadata"].(map[string]any)
	key := types.NamespacedName{Namespace: metadata["namespace"].(string), Name: metadata["name"].(string)}
	existed := true
	if err := r.Get(ctx, key, current); err != nil {
		if !apierrors.IsNotFound(err) {
			return err
		}
		existed = false
	}
	if existed {
		actual, err := toMap(current)
		if err != nil {
			return err
		}
		wanted, err := toMap(desired)
		if err != nil {
			return err
		}
		if isSubset(wanted, actual) {
			return nil
		}
	}
	body, err := json.Marshal(desired)
	if err != nil {
		return err
	}
	current.SetName(key.Name)
	current.SetNamespace(key.Namespace)
	if err := r.Patch(ctx, current, client.RawPatch(types.ApplyPatchType, body),
		client.FieldOwner(fieldManager), client.ForceOwnership); err != nil {
		return err
	}
	reason, action := "Created", "Create"
	if existed {
		reason, action = "Updated", "Update"
	}
	r.Recorder.Eventf(app, current, corev1.EventTypeNormal, reason, action,
		"%s %s %s/%s", reason, kind, key.Namespace, key.Name)
	return nil
}

func (r *MyAppReconciler) writeStatus(ctx context.Context, app *myappv1.MyApp, status myappv1.MyAppStatus) error {
	body, err := json.Marshal(map[string]any{
		"apiVersion": "apps.example.com/v1",
		"kind":       "MyApp",
		"metadata":   map[string]any{"name": app.Name, "namespace": app.Namespace},
		"status":     status,
	})
	if err != nil {
		return err
	}
	return r.Status().Patch(ctx, app, client.RawPatch(types.ApplyPatchType, body),
		client.FieldOwner(fieldManager), client.ForceOwnership)
}

// reportFailure records a Warning event and the Degraded condition, and
// returns err for controller-runtime's backoff.
func (r *MyAppReconciler) reportFailure(ctx context.Context, app *myappv1.MyApp, err error) error {
	if apierrors.IsConflict(err) {
		return err
	}
	r.Recorder.Eventf(app, nil, corev1.EventTypeWarning, "ReconcileFailed", "Reconcile", "%s", err.Error())
	next := *app.Status.DeepCopy()
	meta.SetStatusCondition(&next.Conditions, metav1.Condition{
		Type: "Degraded", Status: metav1.ConditionTrue, Reason: "ReconcileFailed",
		Message: err.Error(), ObservedGeneration: app.Generation,
	})
	if !equality.Semantic.DeepEqual(app.Status, next) {
		_ = r.writeStatus(ctx, app, next)
	}
	return err
}

func selectorLabels(app *myappv1.MyApp) map[string]any {
	return map[string]any{"app.kubernetes.io/name": "myapp", "app.kubernetes.io/instance": app.Name}
}

func labels(app *myappv1.MyApp) map[string]any {
	l := selectorLabels(app)
	l["app.kubernetes.io/managed-by"] = managedBy
	return l
}

func desiredDeployment(app *myappv1.MyApp, owner []any) map[string]any {
	return map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata": map[string]any{
			"name": app.Name, "namespace": app.Namespace, "labels": labels(app), "ownerReferences": owner,
		},
		"spec": map[string]any{
			"replicas": app.Spec.Replicas,
			"selector": map[string]any{"matchLabels": selectorLabels(app)},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels(app)},
				"spec": map[string]any{"containers": []any{map[string]any{
					"name":  "app",
					"image": app.Spec.Image,
					"ports": []any{map[string]any{"name": portName, "containerPort": app.Spec.Port, "protocol": "TCP"}},
				}}},
			},
		},
	}
}

func desiredService(app *myappv1.MyApp, owner []any) map[string]any {
	return map[string]any{
		"apiVersion": "v1",
		"kind":       "Service",
		"metadata": map[string]any{
			"name": app.Name, "namespace": app.Namespace, "labels": labels(app), "ownerReferences": owner,
		},
		"spec": map[string]any{
			"selector": selectorLabels(app),
			"ports":    []any{map[string]any{"name": portName, "port": app.Spec.Port, "protocol": "TCP", "targetPort": portName}},
		},
	}
}

func registryName(app *myappv1.MyApp) string {
	return app.Namespace + "." + app.Name
}

func (r *MyAppReconciler) registryEntry(app *myappv1.MyApp) map[string]any {
	return map[string]any{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata": map[string]any{
			"name": registryName(app), "namespace": r.RegistryNamespace,
			"labels": map[string]any{"app.kubernetes.io/managed-by": managedBy},
		},
		"data": map[string]any{
			"namespace": app.Namespace, "name": app.Name, "image": app.Spec.Image,
			"port": fmt.Sprint(app.Spec.Port),
		},
	}
}

// observe derives the status from the Deployment, as the example's status.rs.
func observe(app *myappv1.MyApp, d *appsv1.Deployment) myappv1.MyAppStatus {
	generation := app.Generation
	desired := app.Spec.Replicas
	ready, updated, total := d.Status.ReadyReplicas, d.Status.UpdatedReplicas, d.Status.Replicas
	caughtUp := d.Generation > 0 && d.Status.ObservedGeneration >= d.Generation
	rolledOut := caughtUp && updated >= desired && ready >= desired && total <= desired
	var stalled *appsv1.DeploymentCondition
	for i := range d.Status.Conditions {
		c := &d.Status.Conditions[i]
		if (c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded") ||
			(c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue) {
			stalled = c
			break
		}
	}
	next := *app.Status.DeepCopy()
	next.ReadyReplicas = nil
	if ready > 0 {
		next.ReadyReplicas = &ready
	}
	next.ObservedGeneration = &generation
	set := func(t string, ok bool, reason, message string) {
		status := metav1.ConditionFalse
		if ok {
			status = metav1.ConditionTrue
		}
		meta.SetStatusCondition(&next.Conditions, metav1.Condition{
			Type: t, Status: status, Reason: reason, Message: message, ObservedGeneration: generation,
		})
	}
	counts := fmt.Sprintf("%d/%d replicas ready", ready, desired)
	if ready >= desired {
		set("Available", true, "ReplicasReady", counts)
	} else {
		set("Available", false, "ReplicasNotReady", counts)
	}
	switch {
	case rolledOut:
		set("Progressing", false, "RolloutComplete", "")
	case stalled != nil:
		set("Progressing", false, "RolloutStalled", "")
	default:
		set("Progressing", true, "RollingOut", fmt.Sprintf("%d/%d replicas updated, %d ready", updated, desired, ready))
	}
	if stalled != nil {
		set("Degraded", true, stalled.Reason, stalled.Message)
	} else {
		set("Degraded", false, "AsExpected", "")
	}
	return next
}

func toMap(v any) (map[string]any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(raw, &out)
}

// isSubset: every field of desired is in actual with the same value; lists
// must have the same length, item by item.
func isSubset(desired, actual any) bool {
	switch d := desired.(type) {
	case map[string]any:
		a, ok := actual.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range d {
			av, found := a[k]
			if !found || !isSubset(v, av) {
				return false
			}
		}
		return true
	case []any:
		a, ok := actual.([]any)
		if !ok || len(a) != len(d) {
			return false
		}
		for i := range d {
			if !isSubset(d[i], a[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(desired, actual)
	}
}

// registryOwner maps a registry entry to the MyApp it records.
func registryOwner(_ context.Context, object client.Object) []reconcile.Request {
	entry, ok := object.(*corev1.ConfigMap)
	if !ok || entry.Labels["app.kubernetes.io/managed-by"] != managedBy {
		return nil
	}
	namespace, name := entry.Data["namespace"], entry.Data["name"]
	if namespace == "" || name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: namespace, Name: name}}}
}

// SetupWithManager sets up the controller with the Manager.
func (r *MyAppReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.Recorder = mgr.GetEventRecorder("myapp-controller")
	r.RegistryNamespace = "default"
	if ns := strings.TrimSpace(os.Getenv("POD_NAMESPACE")); ns != "" {
		r.RegistryNamespace = ns
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&myappv1.MyApp{}).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		// A registry entry names its MyApp in its data (owner references
		// cannot cross namespaces), as the example's registry_owner reads it.
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(registryOwner)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Named("myapp").
		Complete(r)
}
