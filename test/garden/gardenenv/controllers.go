package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	controllerconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gardener/gardener/pkg/api/indexer"
	controllermanagerconfigv1alpha1 "github.com/gardener/gardener/pkg/apis/config/controllermanager/v1alpha1"
	gardencorev1beta1 "github.com/gardener/gardener/pkg/apis/core/v1beta1"
	"github.com/gardener/gardener/pkg/client/kubernetes"
	"github.com/gardener/gardener/pkg/controllermanager/controller/controllerdeployment/controllerdeployment"
	"github.com/gardener/gardener/pkg/controllermanager/controller/controllerregistration"
	"github.com/gardener/gardener/pkg/controllermanager/controller/gardenletlifecycle"
)

// The gardener-controller-manager controllers gardenenv can run in-process, from the same Gardener release as
// gardener-apiserver, wired as cmd/gardener-controller-manager/app and pkg/controllermanager/controller/add.go
// wire them (field indexes, configuration defaults).
const (
	// controllerRegistration: pkg/controllermanager/controller/controllerregistration (ControllerInstallations per
	// seed from ControllerRegistrations, their finalizers, the extension ClusterRoles).
	controllerRegistration = "controllerregistration"
	// controllerDeployment: pkg/controllermanager/controller/controllerdeployment/controllerdeployment (its
	// finalizer keeps a deleted ControllerDeployment while a ControllerRegistration names it; without it a
	// registration could outlive its deployment, and gardener-apiserver then refuses every update of it, the
	// removal of the controllerregistration finalizer included).
	controllerDeployment = "controllerdeployment"
	// seedLifecycle: pkg/controllermanager/controller/gardenletlifecycle (a seed whose gardenlet stops renewing its
	// Lease in gardener-system-seed-lease gets GardenletReady=Unknown, its shoots' conditions later too).
	seedLifecycle = "seedlifecycle"
)

var knownControllers = []string{controllerRegistration, controllerDeployment, seedLifecycle}

// parseControllers reads --controllers: a comma-separated subset of knownControllers, "all" or "none".
func parseControllers(s string) ([]string, error) {
	switch strings.TrimSpace(s) {
	case "all":
		return knownControllers, nil
	case "", "none":
		return nil, nil
	}
	var out []string
	for _, c := range strings.Split(s, ",") {
		c = strings.TrimSpace(c)
		if !slices.Contains(knownControllers, c) {
			return nil, fmt.Errorf("unknown controller %q in --controllers (known: %s, all, none)", c, strings.Join(knownControllers, ","))
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

type controllerOptions struct {
	enabled           []string
	seedMonitorPeriod time.Duration
	seedSyncPeriod    time.Duration
}

// startControllers starts a controller-runtime manager with the enabled controllers and returns once its caches
// are synced. The manager stops when ctx ends; the returned channel is closed when it has stopped.
func startControllers(ctx context.Context, log logr.Logger, cfg *rest.Config, opts controllerOptions) (<-chan struct{}, error) {
	done := make(chan struct{})
	if len(opts.enabled) == 0 {
		close(done)
		return done, nil
	}
	mgr, err := manager.New(cfg, manager.Options{
		Scheme:                 kubernetes.GardenScheme,
		Logger:                 log.WithName("controller-manager"),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		LeaderElection:         false,
		Controller:             controllerconfig.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	// the field indexes gardener-controller-manager adds (cmd/gardener-controller-manager/app/app.go) that these
	// controllers list by
	for _, fn := range []func(context.Context, client.FieldIndexer) error{
		indexer.AddShootSeedName,
		indexer.AddShootStatusSeedName,
		indexer.AddBackupBucketSeedName,
		indexer.AddBackupBucketShootRefName,
		indexer.AddBackupBucketShootRefNamespace,
		indexer.AddBackupEntrySeedName,
		indexer.AddBackupEntryShootRefName,
		indexer.AddBackupEntryShootRefNamespace,
		indexer.AddControllerInstallationSeedRefName,
		indexer.AddControllerInstallationShootRefName,
		indexer.AddControllerInstallationShootRefNamespace,
		indexer.AddControllerInstallationRegistrationRefName,
	} {
		if err := fn(ctx, mgr.GetFieldIndexer()); err != nil {
			return nil, fmt.Errorf("adding field index: %w", err)
		}
	}

	if slices.Contains(opts.enabled, controllerRegistration) {
		cmCfg := controllermanagerconfigv1alpha1.ControllerManagerConfiguration{
			Controllers: controllermanagerconfigv1alpha1.ControllerManagerControllerConfiguration{
				ControllerRegistration: &controllermanagerconfigv1alpha1.ControllerRegistrationControllerConfiguration{ConcurrentSyncs: ptr.To(5)},
			},
		}
		if err := controllerregistration.AddToManager(mgr, cmCfg); err != nil {
			return nil, fmt.Errorf("adding %s controllers: %w", controllerRegistration, err)
		}
	}
	if slices.Contains(opts.enabled, controllerDeployment) {
		if err := (&controllerdeployment.Reconciler{
			Config: controllermanagerconfigv1alpha1.ControllerDeploymentControllerConfiguration{ConcurrentSyncs: ptr.To(5)},
		}).AddToManager(mgr); err != nil {
			return nil, fmt.Errorf("adding %s controller: %w", controllerDeployment, err)
		}
	}
	if slices.Contains(opts.enabled, seedLifecycle) {
		seedCfg := controllermanagerconfigv1alpha1.SeedControllerConfiguration{
			ConcurrentSyncs:    ptr.To(5),
			SyncPeriod:         &metav1.Duration{Duration: opts.seedSyncPeriod},
			MonitorPeriod:      &metav1.Duration{Duration: opts.seedMonitorPeriod},
			ShootMonitorPeriod: &metav1.Duration{Duration: 5 * opts.seedMonitorPeriod}, // Gardener's default ratio
		}
		if err := (&gardenletlifecycle.Reconciler{
			Config:         seedCfg,
			LeaseNamespace: gardencorev1beta1.GardenerSeedLeaseNamespace,
		}).AddToManager(mgr); err != nil {
			return nil, fmt.Errorf("adding %s controller: %w", seedLifecycle, err)
		}
	}

	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			log.Error(err, "controller manager stopped")
		}
	}()
	syncCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if !mgr.GetCache().WaitForCacheSync(syncCtx) {
		return nil, fmt.Errorf("controller caches did not sync")
	}
	log.Info("controllers running", "controllers", strings.Join(opts.enabled, ","))
	return done, nil
}
