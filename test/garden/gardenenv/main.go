// Command gardenenv runs a real garden API for the canary controller's tests and demo: etcd and
// kube-apiserver as child processes (controller-runtime envtest) plus gardener-apiserver in-process,
// registered through APIService aggregation by Gardener's own test environment.
//
// It writes an admin kubeconfig, prints exactly one line "ready <kubeconfig>" on stdout once every
// Gardener API group is served, and stops everything it started on SIGINT/SIGTERM (or, with
// --exit-on-stdin-close, when its parent goes away, even by SIGKILL). etcd and kube-apiserver die with it even
// when it is killed with SIGKILL (see pdeathsig.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	gardenerenvtest "github.com/gardener/gardener/test/envtest"
)

type options struct {
	kubeconfig              string
	pidfile                 string
	assets                  string
	disableAdmissionPlugins string
	startTimeout            time.Duration
	stopTimeout             time.Duration
	exitOnStdinClose        bool
	verbose                 bool
	controllers             string
	seedMonitorPeriod       time.Duration
	seedSyncPeriod          time.Duration
}

func init() {
	// The main goroutine stays on the main thread for the whole life of the process. envtest forks etcd and
	// kube-apiserver from the goroutine that calls Start (ours), and a parent-death signal fires when the
	// *thread* that forked a child ends, not the process: pinning the fork to the main thread makes "parent
	// thread died" mean "gardenenv died". See childWrapper.
	runtime.LockOSThread()
}

func main() {
	if wrapped, ok := childWrapper(); ok {
		execWrapped(wrapped)
		return
	}
	opts := options{}
	// Our own flag set: controller-runtime registers a global --kubeconfig flag on flag.CommandLine.
	fs := flag.NewFlagSet("gardenenv", flag.ExitOnError)
	fs.StringVar(&opts.kubeconfig, "kubeconfig", "", "path to write the admin kubeconfig to (required)")
	fs.StringVar(&opts.pidfile, "pidfile", "", "optional path to write this process's and its children's PIDs to, one per line")
	fs.StringVar(&opts.assets, "assets", "", "directory holding the etcd and kube-apiserver binaries (default: this binary's directory)")
	fs.StringVar(&opts.disableAdmissionPlugins, "disable-admission-plugins", "",
		"comma-separated gardener-apiserver admission plugins to disable (default: none, all of Gardener's default plugins run)")
	fs.DurationVar(&opts.startTimeout, "start-timeout", 4*time.Minute, "how long each control-plane component may take to become healthy")
	fs.DurationVar(&opts.stopTimeout, "stop-timeout", time.Minute, "how long each component may take to stop before it is killed")
	fs.BoolVar(&opts.exitOnStdinClose, "exit-on-stdin-close", false, "stop when stdin reaches EOF (the parent process died)")
	fs.StringVar(&opts.controllers, "controllers", "all",
		"gardener-controller-manager controllers to run in-process: comma-separated of "+strings.Join(knownControllers, ",")+", or all, or none")
	fs.DurationVar(&opts.seedMonitorPeriod, "seed-monitor-period", 40*time.Second,
		"seedlifecycle: how long a seed's gardenlet Lease may go unrenewed before GardenletReady turns Unknown (Gardener's default: 40s)")
	fs.DurationVar(&opts.seedSyncPeriod, "seed-sync-period", 10*time.Second, "seedlifecycle: how often each seed's Lease is checked (Gardener's default: 10s)")
	fs.BoolVar(&opts.verbose, "v", false, "attach control-plane output and verbose logs to stderr")
	_ = fs.Parse(os.Args[1:])

	log := newLogger(opts.verbose)
	logf.SetLogger(log)
	klog.SetLogger(log)

	if err := run(log, opts); err != nil {
		log.Error(err, "gardenenv failed")
		os.Exit(1)
	}
}

func newLogger(verbose bool) logr.Logger {
	verbosity := 0
	if verbose {
		verbosity = 1
	}
	return funcr.NewJSON(func(obj string) { fmt.Fprintln(os.Stderr, obj) }, funcr.Options{Verbosity: verbosity, LogTimestamp: true})
}

func run(log logr.Logger, opts options) error {
	if opts.kubeconfig == "" {
		return errors.New("--kubeconfig is required")
	}
	kubeconfig, err := filepath.Abs(opts.kubeconfig)
	if err != nil {
		return err
	}
	if err := configureAssets(opts.assets); err != nil {
		return err
	}
	controllers, err := parseControllers(opts.controllers)
	if err != nil {
		return err
	}

	// A launcher that died leaves our stdout pipe without a reader: a write there must not kill us by SIGPIPE in
	// the middle of the clean stop. Ignored, the write just fails.
	signal.Ignore(syscall.SIGPIPE)
	sigCtx, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stopSignals()
	// stdin EOF cancels this context only: the signal handlers must stay registered until we return, or the
	// parent-death SIGTERM that follows the EOF takes its default action and kills us mid-stop (seen: "stdin
	// closed, stopping", then nothing, the kubeconfig left behind).
	ctx, stop := context.WithCancel(sigCtx)
	defer stop()
	if opts.exitOnStdinClose {
		// Two ways to notice that the launcher died, even by SIGKILL: the kernel sends us SIGTERM (a
		// parent-death signal, handled like any SIGTERM: a clean stop), and stdin reaches EOF.
		if err := dieWithParent(syscall.SIGTERM); err != nil {
			return err
		}
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			log.Info("stdin closed, stopping")
			stop()
		}()
	}

	// etcd and kube-apiserver are started through a wrapper (this binary under their names) that sets a
	// parent-death signal before it execs them, so that they are killed when gardenenv dies, even by SIGKILL.
	if err := installChildWrappers(); err != nil {
		return fmt.Errorf("preparing control-plane wrappers: %w", err)
	}

	started := time.Now()
	controlPlane := &envtest.Environment{
		ControlPlaneStartTimeout: opts.startTimeout,
		ControlPlaneStopTimeout:  opts.stopTimeout,
		AttachControlPlaneOutput: opts.verbose,
	}
	garden := &gardenerenvtest.GardenerTestEnvironment{
		Environment: controlPlane,
		GardenerAPIServer: &gardenerenvtest.GardenerAPIServer{
			Args:         []string{"--disable-admission-plugins=" + opts.disableAdmissionPlugins},
			StartTimeout: opts.startTimeout,
			StopTimeout:  opts.stopTimeout,
		},
	}
	if opts.verbose {
		garden.GardenerAPIServer.Err = os.Stderr
	}

	log.Info("starting garden", "kubeconfig", kubeconfig, "disabledAdmissionPlugins", opts.disableAdmissionPlugins)
	// Stop runs even when Start failed half-way, so that a started etcd never outlives us.
	defer func() {
		stopStarted := time.Now()
		if err := garden.Stop(); err != nil {
			log.Error(err, "stopping garden")
		}
		_ = os.Remove(kubeconfig)
		if opts.pidfile != "" {
			_ = os.Remove(opts.pidfile)
		}
		log.Info("garden stopped", "duration", time.Since(stopStarted).String())
	}()

	if _, err := garden.Start(); err != nil {
		return fmt.Errorf("starting garden: %w", err)
	}
	if ctx.Err() != nil {
		return nil
	}

	admin, err := controlPlane.ControlPlane.AddUser(envtest.User{Name: "garden-admin", Groups: []string{"system:masters"}},
		&rest.Config{QPS: 1000, Burst: 2000})
	if err != nil {
		return fmt.Errorf("adding admin user: %w", err)
	}
	kubeconfigBytes, err := admin.KubeConfig()
	if err != nil {
		return fmt.Errorf("rendering admin kubeconfig: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(kubeconfig), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(kubeconfig, kubeconfigBytes, 0o600); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	// The controllers stop before the control plane does (deferred calls run last-in first-out).
	ctrlCtx, stopControllers := context.WithCancel(ctx)
	cmConfig := rest.CopyConfig(admin.Config())
	cmConfig.UserAgent = "gardener-controller-manager" // what managedFields name as the writer
	controllersDone, err := startControllers(ctrlCtx, log, cmConfig, controllerOptions{
		enabled: controllers, seedMonitorPeriod: opts.seedMonitorPeriod, seedSyncPeriod: opts.seedSyncPeriod,
	})
	if err != nil {
		stopControllers()
		return fmt.Errorf("starting controllers: %w", err)
	}
	defer func() {
		stopControllers()
		<-controllersDone
	}()

	if opts.pidfile != "" {
		if err := writePIDFile(opts.pidfile); err != nil {
			return fmt.Errorf("writing pidfile: %w", err)
		}
	}

	log.Info("garden ready", "kubeconfig", kubeconfig, "controllers", strings.Join(controllers, ","), "startup", time.Since(started).Round(time.Millisecond).String())
	fmt.Printf("ready %s\n", kubeconfig)

	<-ctx.Done()
	log.Info("stopping garden")
	return nil
}

// configureAssets points envtest at the etcd and kube-apiserver binaries. By default they sit next to this
// binary in the build cache.
func configureAssets(dir string) error {
	if dir == "" {
		if os.Getenv("KUBEBUILDER_ASSETS") != "" {
			return nil
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		dir = filepath.Dir(self)
	}
	for _, name := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("control-plane binary %s not found in %s (build it with test/garden/build.mjs): %w", name, dir, err)
		}
	}
	return os.Setenv("KUBEBUILDER_ASSETS", dir)
}

// writePIDFile records this process and its direct children (etcd, kube-apiserver). envtest starts them in
// their own process groups, so whoever cleans up after a crash needs their PIDs.
func writePIDFile(path string) error {
	self := os.Getpid()
	pids := []string{strconv.Itoa(self)}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the parenthesised command name: state, ppid, ...
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) > 1 && fields[1] == strconv.Itoa(self) {
			pids = append(pids, strconv.Itoa(pid))
		}
	}
	return os.WriteFile(path, []byte(strings.Join(pids, "\n")+"\n"), 0o600)
}
