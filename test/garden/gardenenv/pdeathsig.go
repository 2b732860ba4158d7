package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// envtest starts etcd and kube-apiserver with exec.Cmd and a fixed SysProcAttr (Setpgid only, see
// controller-runtime pkg/internal/testing/process), in process groups of their own: nothing kills them when
// gardenenv dies by SIGKILL. controller-runtime offers no hook to add Pdeathsig, so gardenenv points envtest
// (TEST_ASSET_ETCD, TEST_ASSET_KUBE_APISERVER) at symlinks to itself named etcd and kube-apiserver. Run under
// such a name, gardenenv is a wrapper: it sets PR_SET_PDEATHSIG=SIGKILL and execs the real binary in the same
// process (the signal survives execve), so the PID envtest sees, and records, is the real etcd.

const (
	envRealAssets = "GARDENENV_REAL_ASSETS" // directory of the real binaries, set for the wrapper
	envParentPID  = "GARDENENV_PARENT_PID"  // gardenenv's PID, to detect a parent that died before prctl
)

var wrappedBinaries = []string{"etcd", "kube-apiserver"}

// childWrapper reports whether this process runs as the wrapper, and which real binary it wraps.
func childWrapper() (string, bool) {
	dir, ok := os.LookupEnv(envRealAssets)
	if !ok {
		return "", false
	}
	name := filepath.Base(os.Args[0])
	for _, b := range wrappedBinaries {
		if name == b {
			return filepath.Join(dir, b), true
		}
	}
	return "", false
}

func execWrapped(real string) {
	parent := os.Getenv(envParentPID)
	if err := dieWithParent(syscall.SIGKILL); err != nil {
		fmt.Fprintf(os.Stderr, "gardenenv wrapper: %v\n", err)
		os.Exit(1)
	}
	if strconv.Itoa(os.Getppid()) != parent {
		os.Exit(1) // gardenenv died between fork and prctl
	}
	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		switch {
		case hasPrefix(kv, envRealAssets+"="), hasPrefix(kv, envParentPID+"="),
			hasPrefix(kv, "TEST_ASSET_ETCD="), hasPrefix(kv, "TEST_ASSET_KUBE_APISERVER="):
			continue
		}
		env = append(env, kv)
	}
	// argv[0] is the real path, so /proc/<pid>/cmdline names the real binary (the launcher checks it).
	err := syscall.Exec(real, append([]string{real}, os.Args[1:]...), env)
	fmt.Fprintf(os.Stderr, "gardenenv wrapper: exec %s: %v\n", real, err)
	os.Exit(1)
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// dieWithParent asks the kernel to send sig to this process when the thread that forked it ends, and fails if
// the parent is already gone (we were reparented before the request took effect).
func dieWithParent(sig syscall.Signal) error {
	before := os.Getppid()
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(sig), 0); errno != 0 {
		return fmt.Errorf("prctl(PR_SET_PDEATHSIG): %w", errno)
	}
	if before == 1 || os.Getppid() != before {
		return fmt.Errorf("parent process already gone")
	}
	return nil
}

// installChildWrappers creates the wrapper symlinks and points envtest at them. KUBEBUILDER_ASSETS must name
// the real binaries' directory (configureAssets runs first). The symlinks live in a directory per gardenenv
// binary that is shared and never removed, so that a gardenenv killed by SIGKILL leaves nothing new behind.
func installChildWrappers() error {
	real := os.Getenv("KUBEBUILDER_ASSETS")
	self, err := os.Executable()
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(self))
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("gardenenv-wrap-%d-%x", os.Getuid(), sum[:6]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, b := range wrappedBinaries {
		link := filepath.Join(dir, b)
		if target, err := os.Readlink(link); err == nil && target == self {
			continue
		}
		// create under a unique name and rename over: concurrent gardenenvs never see a missing link
		tmp := fmt.Sprintf("%s.%d", link, os.Getpid())
		_ = os.Remove(tmp)
		if err := os.Symlink(self, tmp); err != nil {
			return err
		}
		if err := os.Rename(tmp, link); err != nil {
			return err
		}
	}
	for k, v := range map[string]string{
		envRealAssets:               real,
		envParentPID:                strconv.Itoa(os.Getpid()),
		"TEST_ASSET_ETCD":           filepath.Join(dir, "etcd"),
		"TEST_ASSET_KUBE_APISERVER": filepath.Join(dir, "kube-apiserver"),
	} {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}
