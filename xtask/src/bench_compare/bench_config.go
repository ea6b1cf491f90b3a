// The manager's client limits, set to kubeforge's defaults (50 requests a
// second, bursts of 100) for `cargo xtask bench compare`; the scaffold's
// cmd/main.go calls this instead of ctrl.GetConfigOrDie().
//
// client-go gives every REST client its own token bucket unless the config
// carries one, and controller-runtime makes a REST client per kind (and
// more for the API reader and the event recorder), so QPS and Burst bound
// each kind separately. BENCH_SHARED_RATE_LIMITER=1 shares one bucket
// between them all, as kubeforge's single client does.

package main

import (
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
	ctrl "sigs.k8s.io/controller-runtime"
)

func benchConfig() *rest.Config {
	cfg := ctrl.GetConfigOrDie()
	cfg.QPS = 50
	cfg.Burst = 100
	if os.Getenv("BENCH_SHARED_RATE_LIMITER") == "1" {
		cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(cfg.QPS, cfg.Burst)
	}
	return cfg
}
